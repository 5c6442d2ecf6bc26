//! Alpaca Broker API: the equity hedge's broker as st0x trades today. One
//! trading account of the broker's (`account_id`), addressed under
//! `/v1/trading/accounts/{account_id}/…` with HTTP Basic auth (API key and
//! secret, from the environment only). Orders carry our `client_order_id`,
//! so an order whose answer was lost is found by that id, exactly
//! (`wire` decodes the answers, `broker` is the [`Broker`] adapter; the
//! stateful loopback server the tests trade against is `crate::fakes::alpaca`). Market orders in
//! the regular session; with `extended_hours` on, day limit orders bounded
//! by `extended_hours_slippage_bps` around the hedge's reference price in
//! the pre-market and after-hours sessions (Alpaca takes only limit orders
//! there). Funds for the pre-trade checks: the lower of `cash` and
//! `non_marginable_buying_power`, and each position's `qty_available`.
//!
//! [`Broker`]: crate::venue::broker::Broker

pub mod broker;
pub mod wire;

pub use broker::AlpacaBroker;

use crate::model::Secret;
use thiserror::Error;

pub const VENUE: &str = "alpaca";
/// The sandbox; production is `https://broker-api.alpaca.markets`.
pub const SANDBOX_URL: &str = "https://broker-api.sandbox.alpaca.markets";
pub const KEY_ENV: &str = "ALPACA_BROKER_API_KEY";
pub const SECRET_ENV: &str = "ALPACA_BROKER_API_SECRET";

/// `[alpaca]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlpacaConfig {
    pub base_url: String,
    /// The trading account's id (a UUID) at the broker.
    pub account_id: String,
    pub timeout_ms: u64,
    /// The account may trade fractional shares (`alpaca.fractional`): a
    /// fractional quantity is refused here before it is sent otherwise.
    pub fractional: bool,
    /// Hedge in the pre-market and after-hours sessions with limit orders
    /// (`alpaca.extended_hours`).
    pub extended_hours: bool,
    /// How far an extended-hours limit price may stray from the reference
    /// price, in basis points (`alpaca.extended_hours_slippage_bps`).
    pub extended_hours_slippage_bps: u32,
}

/// The default and the bounds of `alpaca.extended_hours_slippage_bps`.
pub const DEFAULT_SLIPPAGE_BPS: u32 = 50;
pub const MAX_SLIPPAGE_BPS: u32 = 1_000;

impl Default for AlpacaConfig {
    fn default() -> Self {
        Self {
            base_url: SANDBOX_URL.into(),
            account_id: String::new(),
            timeout_ms: 10_000,
            fractional: false,
            extended_hours: false,
            extended_hours_slippage_bps: DEFAULT_SLIPPAGE_BPS,
        }
    }
}

/// The API key and secret, from the environment only.
#[derive(Debug, Clone)]
pub struct AlpacaSecrets {
    pub key: Secret,
    pub secret: Secret,
}

impl AlpacaSecrets {
    /// `ALPACA_BROKER_API_KEY`, `ALPACA_BROKER_API_SECRET`.
    pub fn from_env() -> Result<Self, AlpacaError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, AlpacaError> {
        let need = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| AlpacaError::Env(name.to_string()))
        };
        Ok(Self {
            key: need(KEY_ENV)?,
            secret: need(SECRET_ENV)?,
        })
    }
}

#[derive(Debug, Error)]
pub enum AlpacaError {
    #[error("{0} is not set: the Alpaca Broker API credentials come from the environment")]
    Env(String),
    #[error("alpaca.{key}: {problem}")]
    Config { key: &'static str, problem: String },
    #[error("alpaca: the HTTP client cannot be built: {0}")]
    Client(String),
}
