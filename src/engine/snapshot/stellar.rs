//! The Stellar arbitrage's part of the `Snapshot`, as the front ends read
//! it: accounts with balances and trustlines, oracle prices, live cycles
//! with their edge against fees, and executions with their result. Plain
//! data the keeper fills in (`strategy::stellar_arb::view`); no secrets.

use serde::{Deserialize, Serialize};

/// Amounts in this view are stroops: a Stellar amount has 7 places.
pub const AMOUNT_PLACES: u8 = 7;

/// A stroop amount as Stellar shows it, with all 7 places.
pub fn format_amount(stroops: i64) -> String {
    crate::model::money::format_fixed(i128::from(stroops), AMOUNT_PLACES)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StellarView {
    pub network: String,
    pub ledger: u32,
    /// Executing (after `start_engine` or autostart).
    pub started: bool,
    /// Why nothing is being executed, if so.
    pub status: String,
    pub accounts: Vec<AccountRow>,
    pub oracle: Vec<OracleRow>,
    pub opportunities: Vec<OpportunityRow>,
    pub executions: Vec<ExecutionRow>,
    /// Where ledger closes come from: "stream", "polling (why)", "paper";
    /// empty when the keeper runs on the engine's passes only.
    #[serde(default)]
    pub ledger_source: String,
    /// Cycles dropped because Horizon's path finding disagreed with the
    /// keeper's prediction by more than `path_check_tolerance_bps`.
    #[serde(default)]
    pub path_check_drops: u64,
    /// Fee bumps sent for transactions a surge held (since start).
    #[serde(default)]
    pub fee_bumps: u64,
    /// The inclusion fee bid now and why: "100 stroops/op (quiet)",
    /// "850 stroops/op (surge p90)", "… (capped; …)".
    #[serde(default)]
    pub fee: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    pub id: String,
    /// XLM in stroops.
    pub xlm: i64,
    /// (code, balance in stroops)
    pub lines: Vec<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleRow {
    pub symbol: String,
    /// Decimal text, e.g. "0.1200".
    pub price: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpportunityRow {
    pub path: String,
    pub send: i64,
    pub expected: i64,
    pub fee: i64,
    pub edge_bps: i64,
    pub oracle_ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRow {
    pub hash: String,
    pub path: String,
    pub send: i64,
    pub delta: i64,
    pub result: String,
    /// What was predicted when it was sent (cycles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<Prediction>,
    /// What arrived, and the route the network reports it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub route: String,
}

/// What the keeper expected a path payment to deliver, and by which route
/// (`XLM →book AQUA →pool XLM`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prediction {
    pub delivered: i64,
    pub route: String,
}
