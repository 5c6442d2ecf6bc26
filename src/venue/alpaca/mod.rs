//! Alpaca Broker API: the equity hedge's broker as st0x trades today. One
//! trading account of the broker's (`account_id`), addressed under
//! `/v1/trading/accounts/{account_id}/…` with HTTP Basic auth (API key and
//! secret, from the environment only). Orders carry our `client_order_id`,
//! so an order whose answer was lost is found by that id, exactly
//! (`wire` decodes the answers, `broker` is the [`Broker`] adapter, `fake`
//! the stateful loopback server the tests trade against).
//!
//! [`Broker`]: crate::venue::broker::Broker

pub mod broker;
#[cfg(any(test, feature = "fakes"))]
pub mod fake;
pub mod wire;

pub use broker::AlpacaBroker;

use crate::config::Secret;
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
}

impl Default for AlpacaConfig {
    fn default() -> Self {
        Self {
            base_url: SANDBOX_URL.into(),
            account_id: String::new(),
            timeout_ms: 10_000,
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
