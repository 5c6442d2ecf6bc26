//! Stellar: what the `stellar_arb` keeper needs from the network, behind one
//! trait ([`StellarVenue`]) that the real clients ([`network::NetworkVenue`]:
//! Stellar RPC + Horizon + Friendbot over reqwest) and the paper world
//! ([`paper::PaperStellar`]) implement alike.
//!
//! Encoding and signing (`keys`, `asset`, `tx`) use `stellar-xdr` and ring;
//! result codes are decoded in `codes`; contracts (the detector and the
//! Reflector oracle) are read by simulation in `contracts`. The simulated
//! ledger in `sim` (accounts, trustlines, order books, signature, sequence and
//! passphrase checks, real result codes) backs the paper venue and the
//! loopback fakes of `crate::fakes::stellar`.

pub mod asset;
pub mod codes;
pub mod contracts;
pub mod fee_bump;
pub mod fee_stats;
pub mod horizon;
pub mod horizon_pools;
pub mod keys;
pub mod market;
pub mod network;
pub mod paper;
pub mod paper_pools;
pub mod paths;
pub mod pool;
pub mod rpc;
pub mod sim;
pub mod sim_bump;
mod sim_pools;
pub mod sim_surge;
pub mod sse;
pub mod stream;
pub mod tx;

pub use asset::{ONE, StellarAsset, format_amount, parse_amount};
pub use codes::{Handling, TxOutcome};
pub use fee_stats::FeeStats;
pub use keys::{AccountKey, ContractKey, Keypair, network_id};

use super::VenueError;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub const TESTNET_PASSPHRASE: &str = "Test SDF Network ; September 2015";
pub const PUBLIC_PASSPHRASE: &str = "Public Global Stellar Network ; September 2015";
/// Base reserve: 0.5 XLM per entry, 2 for the account itself.
pub const BASE_RESERVE: i64 = ONE / 2;

/// An account as the keeper needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub id: AccountKey,
    /// The last used sequence; the next transaction uses `sequence + 1`.
    pub sequence: i64,
    pub subentries: u32,
    pub balances: Vec<Balance>,
}

impl AccountState {
    pub fn balance(&self, asset: &StellarAsset) -> Option<&Balance> {
        self.balances.iter().find(|b| &b.asset == asset)
    }

    /// `(2 + subentries) × base reserve`.
    pub fn min_balance(&self) -> i64 {
        (2 + i64::from(self.subentries)).saturating_mul(BASE_RESERVE)
    }

    /// XLM that can leave without breaking the reserve.
    pub fn spendable_xlm(&self) -> i64 {
        let b = self.balance(&StellarAsset::Native);
        let (amount, selling) = b
            .map(|b| (b.amount, b.selling_liabilities))
            .unwrap_or((0, 0));
        // Saturating: the figures come from outside and may be absurd.
        amount
            .saturating_sub(self.min_balance())
            .saturating_sub(selling.max(0))
            .max(0)
    }

    pub fn trusts(&self, asset: &StellarAsset) -> bool {
        asset.is_native() || self.balance(asset).is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub asset: StellarAsset,
    pub amount: i64,
    /// Trustline limit; `None` for XLM.
    pub limit: Option<i64>,
    pub selling_liabilities: i64,
}

impl Serialize for AccountKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for AccountKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AccountKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A price as Stellar keeps it: `n/d` units of `buying` per unit of `selling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    pub n: i32,
    pub d: i32,
}

/// One resting offer: sells `amount` of the book's `selling` asset at `price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub amount: i64,
    pub price: Price,
}

/// All offers selling `selling` for `buying`, best (cheapest) first: what a
/// conversion `buying → selling` crosses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBook {
    pub selling: StellarAsset,
    pub buying: StellarAsset,
    pub offers: Vec<Offer>,
}

/// A Reflector (SEP-40) price: `price / 10^decimals` units of the base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OraclePrice {
    pub symbol: String,
    pub price: i128,
    pub decimals: u32,
    pub timestamp: u64,
}

/// What the detector contract's `get_supported_assets` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportedAsset {
    pub code: String,
    pub issuer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub passphrase: String,
    pub protocol_version: u32,
    pub friendbot_url: Option<String>,
}

/// `sendTransaction`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SendStatus {
    Pending,
    Duplicate,
    TryAgainLater,
    /// Refused at admission (bad seq, fee, auth …); nothing was applied.
    Error(TxOutcome),
}

/// `getTransaction`'s answer: there is no PENDING, a tx not yet applied
/// reads as `NotFound`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxStatus {
    NotFound,
    Success { ledger: u32, outcome: TxOutcome },
    Failed { ledger: u32, outcome: TxOutcome },
}

/// The ledgers the RPC server knows (getHealth): what recovery needs to
/// decide whether a transaction it cannot find can still apply. Close times
/// are unix seconds, the clock a transaction's `maxTime` is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerWindow {
    pub latest: u32,
    pub latest_close: u64,
    /// getTransaction answers NOT_FOUND for anything older (~7 days).
    pub oldest: u32,
    pub oldest_close: u64,
}

/// The oracle's answer per symbol (`None`: unknown or stale).
pub type Prices = Vec<(String, Option<OraclePrice>)>;

/// Everything the keeper asks of Stellar. Errors say their kind (docs/architecture.md §2, R4).
pub trait StellarVenue: Send + Sync {
    fn network(&self) -> BoxFuture<'_, Result<NetworkInfo, VenueError>>;
    fn latest_ledger(&self) -> BoxFuture<'_, Result<u32, VenueError>>;
    /// The latest and oldest ledgers getTransaction can answer for.
    fn ledger_window(&self) -> BoxFuture<'_, Result<LedgerWindow, VenueError>>;
    /// `None`: the account does not exist (yet).
    fn account(&self, id: AccountKey) -> BoxFuture<'_, Result<Option<AccountState>, VenueError>>;
    fn order_book<'a>(
        &'a self,
        selling: &'a StellarAsset,
        buying: &'a StellarAsset,
    ) -> BoxFuture<'a, Result<OrderBook, VenueError>>;
    /// The oracle's latest price per symbol; `None` when unknown or stale.
    fn oracle_prices<'a>(
        &'a self,
        symbols: &'a [String],
    ) -> BoxFuture<'a, Result<Prices, VenueError>>;
    fn supported_assets(&self) -> BoxFuture<'_, Result<Vec<SupportedAsset>, VenueError>>;
    /// Friendbot (testnet) or the paper faucet. `Ok(false)`: already funded.
    fn fund(&self, id: AccountKey) -> BoxFuture<'_, Result<bool, VenueError>>;
    fn send<'a>(&'a self, envelope: &'a str) -> BoxFuture<'a, Result<SendStatus, VenueError>>;
    fn transaction<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<TxStatus, VenueError>>;
    /// Recent classic inclusion fees (RPC getFeeStats, Horizon as fallback).
    fn fee_stats(&self) -> BoxFuture<'_, Result<FeeStats, VenueError>>;
    /// Horizon's strict-send path finding: what `amount` of `source`
    /// becomes in each of `destinations`, by the routes Horizon finds (never
    /// a cycle), best first per destination.
    fn strict_send_paths<'a>(
        &'a self,
        source: &'a StellarAsset,
        amount: i64,
        destinations: &'a [StellarAsset],
    ) -> BoxFuture<'a, Result<Vec<horizon::PathQuote>, VenueError>>;
    /// The constant-product pool of the pair (either order); `None` when
    /// the pair has none.
    fn liquidity_pool<'a>(
        &'a self,
        a: &'a StellarAsset,
        b: &'a StellarAsset,
    ) -> BoxFuture<'a, Result<Option<pool::LiquidityPool>, VenueError>>;
}
