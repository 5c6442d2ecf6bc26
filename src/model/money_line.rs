//! One line of money moved, in the same shape for every strategy: which
//! strategy, when, at which venue, which asset (venue-qualified: USDC on
//! Hemi and USDC at a broker are different holdings), by how much (exact,
//! in the asset's own units), and what it refers to (a transaction hash, an
//! order id). Each strategy keeps its own records; this is the one view of
//! them all (`arbkeep ledger --all`), so totals per strategy and asset are
//! one sum.

use crate::model::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyLine {
    pub at: Timestamp,
    /// "cross_chain_loop", "equity_hedge", "stellar_arb".
    pub strategy: String,
    /// Where the asset is held: "hemi", "ethereum", "raindex", "broker",
    /// "stellar".
    pub venue: String,
    /// "VCRED", "AAPL", "USD", "XLM", "AQUA:GBNZ…".
    pub asset: String,
    /// Signed, in units of the asset (not base units).
    pub delta: Decimal,
    /// The transaction hash, order id or cycle it belongs to.
    pub reference: String,
    pub note: String,
}

/// Σ delta per (strategy, venue, asset), in that order.
pub fn totals(lines: &[MoneyLine]) -> Vec<((String, String, String), Decimal)> {
    let mut sums: std::collections::BTreeMap<(String, String, String), Decimal> =
        std::collections::BTreeMap::new();
    for l in lines {
        let key = (l.strategy.clone(), l.venue.clone(), l.asset.clone());
        let sum = sums.entry(key).or_default();
        *sum = sum.saturating_add(l.delta);
    }
    sums.into_iter().collect()
}
