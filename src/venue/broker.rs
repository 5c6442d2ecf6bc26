//! A stock broker as the equity hedge sees it: market orders for whole
//! shares (or fractional ones where the broker takes them), their status, positions, market hours and the funds the account can
//! trade with now (the pre-trade checks' read). Schwab and the paper broker
//! implement it alike. Brokers have no idempotency key, so `place` is never
//! retried by an adapter after an unknown outcome: the caller settles by
//! looking (`find`) first, over the broker's listing lag, with a margin for
//! the broker's clock, never claiming an order another hedge holds.

use super::{VenueError, VenueHealth};
use crate::model::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;

/// `find` counts orders entered up to this long before the request was
/// committed: the broker's clock is not ours.
pub const CLOCK_SKEW_MARGIN: Timestamp = 2 * crate::model::time::MINUTE;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderSide {
    Buy,
    Sell,
}

/// One market order, as committed before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Our own id for the order (the hedge's id); brokers without client ids
    /// never see it, it only keys our records.
    pub client_id: String,
    pub symbol: String,
    pub side: OrderSide,
    /// Shares, more than 0: whole unless the broker takes fractional
    /// quantities ([`Broker::fractional`]). Stored as text; a record written
    /// when it was a whole number still reads.
    #[serde(deserialize_with = "crate::model::decimal_or_integer")]
    pub shares: Decimal,
    /// When the request was committed: `find` matches orders placed after it.
    pub committed_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OrderState {
    /// Accepted, not (fully) filled yet; held while the market is closed.
    Working {
        #[serde(deserialize_with = "crate::model::decimal_or_integer")]
        filled_shares: Decimal,
    },
    /// Filled; the average price is over FILL executions only.
    Filled {
        #[serde(deserialize_with = "crate::model::decimal_or_integer")]
        shares: Decimal,
        average_price: Decimal,
        filled_at: Timestamp,
    },
    /// Definitely not executed (rejected, cancelled, expired), with the broker's reason.
    Rejected {
        reason: String,
        #[serde(deserialize_with = "crate::model::decimal_or_integer")]
        filled_shares: Decimal,
    },
}

impl OrderRequest {
    /// The shares as a whole number of at least 1, `None` when they are
    /// fractional (or 0): what a broker without fractional orders takes.
    pub fn whole_shares(&self) -> Option<u64> {
        (self.shares.fract().is_zero() && self.shares >= Decimal::ONE)
            .then(|| u64::try_from(self.shares).ok())
            .flatten()
    }
}

/// An order the broker knows, by its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedOrder {
    pub order_id: String,
    pub symbol: String,
    pub side: OrderSide,
    #[serde(deserialize_with = "crate::model::decimal_or_integer")]
    pub shares: Decimal,
    pub entered_at: Timestamp,
    pub state: OrderState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketHours {
    pub open_now: bool,
    /// Next open or close boundary, when known.
    pub next_change: Option<Timestamp>,
    /// Open for an extended (pre-market or after-hours) session only, where
    /// a fractional order is not sent.
    #[serde(default)]
    pub extended: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerPosition {
    pub symbol: String,
    /// Signed whole or fractional shares (short is negative).
    pub quantity: Decimal,
}

/// What the account can trade with now, exactly (never f64): the cash a
/// buy may spend without margin, and the shares each symbol may sell.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Funds {
    /// Cash a buy may spend now: settled cash, no margin (the lower of the
    /// broker's cash and non-margin buying power where it states both).
    pub buying_power: Decimal,
    /// Shares of each symbol that may be sold now (long holdings not held
    /// by open orders).
    pub sellable: BTreeMap<String, Decimal>,
    /// Shares a symbol not in `sellable` may sell: none at a real broker;
    /// the paper account's opening inventory of every symbol.
    #[serde(default)]
    pub sellable_otherwise: Decimal,
}

impl Funds {
    /// Shares of `symbol` that may be sold now (never below 0).
    pub fn sellable(&self, symbol: &str) -> Decimal {
        self.sellable
            .get(symbol)
            .copied()
            .unwrap_or(self.sellable_otherwise)
            .max(Decimal::ZERO)
    }
}

/// How an order is to be sent besides its request: the price it should
/// not stray far from (the onchain fill's), for brokers that bound an
/// order by it (Alpaca's extended-hours limit orders).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderTerms {
    pub reference_price: Option<Decimal>,
}

pub trait Broker: Send + Sync + 'static {
    /// Place a market order. `Rejected`: the broker refused it (nothing
    /// exists). `Transient`: it never reached the broker (nothing exists).
    /// `Unknown` whenever the broker may have acted (a timeout, a lost or
    /// unreadable answer, a 5xx or 429 after forwarding, a 2xx without an
    /// order id): the caller must `find` before anything else.
    fn place(
        &self,
        order: &OrderRequest,
    ) -> impl Future<Output = Result<PlacedOrder, VenueError>> + Send;

    /// `place` with `terms` (a broker that has no use for them ignores
    /// them). The same outcomes as `place`.
    fn place_with(
        &self,
        order: &OrderRequest,
        terms: &OrderTerms,
    ) -> impl Future<Output = Result<PlacedOrder, VenueError>> + Send {
        let _ = terms;
        self.place(order)
    }

    /// What the account can trade with now (a read: a failure is
    /// `Transient`, never a refusal).
    fn funds(&self) -> impl Future<Output = Result<Funds, VenueError>> + Send;

    /// Look, never send: an order entered since `order.committed_at` (less
    /// `CLOCK_SKEW_MARGIN`) that matches symbol, side and shares and is not
    /// one of `taken` (ids other hedges hold), if any; the earliest entered
    /// after the commit first. `Ok(None)` only when the listing proves no
    /// such order is listed; a matching order that cannot be read is an
    /// error, never "absent".
    fn find(
        &self,
        order: &OrderRequest,
        taken: &[String],
    ) -> impl Future<Output = Result<Option<PlacedOrder>, VenueError>> + Send;

    /// The order's current state.
    fn order(&self, order_id: &str)
    -> impl Future<Output = Result<PlacedOrder, VenueError>> + Send;

    fn positions(&self) -> impl Future<Output = Result<Vec<BrokerPosition>, VenueError>> + Send;

    fn market_hours(&self) -> impl Future<Output = Result<MarketHours, VenueError>> + Send;

    /// The broker takes fractional quantities (Alpaca with `fractional` on);
    /// otherwise every order is for whole shares.
    fn fractional(&self) -> bool {
        false
    }

    /// Health lines, including credential expiry (e.g. Schwab's 7-day refresh token).
    fn health(&self) -> impl Future<Output = Vec<VenueHealth>> + Send;

    /// Once per login, from a day before it dies (Schwab's 7-day refresh
    /// token): the keeper tells the operator. Brokers whose logins do not
    /// expire say `None`.
    fn login_expiring(&self) -> Option<LoginExpiry> {
        None
    }
}

/// A broker login that dies soon: the operator must log in again before
/// `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginExpiry {
    pub venue: String,
    pub expires_at: Timestamp,
}
