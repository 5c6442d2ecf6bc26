//! The equity hedge's part of the `Snapshot`, as the front ends read it:
//! the onchain fills (trades), the broker orders that offset them
//! (executions), the hedge's alerts and its exposure window. Plain data the
//! hedge fills in (`strategy::equity_hedge::view`); no secrets.

use crate::model::{OnchainSide, Timestamp};
use crate::venue::broker::OrderSide;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeRow {
    pub id: u64,
    /// `0xabcdef12…#3`
    pub event: String,
    pub block: u64,
    pub symbol: String,
    pub token_symbol: String,
    pub side: OnchainSide,
    pub shares: Decimal,
    pub price: Decimal,
    pub unallocated: Decimal,
    pub seen_at: Timestamp,
    /// "live", "reversed", "REORG after hedge".
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRow {
    pub id: u64,
    pub symbol: String,
    pub side: OrderSide,
    pub shares: Decimal,
    /// "pending", "outcome unknown", "working", "filled", "failed".
    pub state: String,
    pub order_id: Option<String>,
    pub average_price: Option<Decimal>,
    pub created_at: Timestamp,
    /// The trades it offsets, oldest first: (trade id, shares).
    pub links: Vec<(u64, Decimal)>,
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HedgeView {
    pub broker: String,
    pub market_open: Option<bool>,
    pub next_market_change: Option<Timestamp>,
    /// Last block fully processed.
    pub watermark: Option<u64>,
    pub trade_count: u64,
    /// Newest first.
    pub trades: Vec<TradeRow>,
    /// Open ones and the most recent closed ones, newest first.
    pub executions: Vec<ExecutionRow>,
    /// Newest first.
    pub alerts: Vec<String>,
    /// How long the recent filled hedges left exposure open.
    #[serde(default)]
    pub exposure: Option<ExposureWindow>,
}

/// The exposure window over the recent filled hedges: from the detection
/// of the earliest fill a hedge offsets to its order leaving for the
/// broker, and to its fill there; median and p99 (nearest rank), ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureWindow {
    pub hedges: usize,
    pub to_order_median_ms: u64,
    pub to_order_p99_ms: u64,
    pub to_fill_median_ms: u64,
    pub to_fill_p99_ms: u64,
}
