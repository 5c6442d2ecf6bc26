//! What the hedge shows: per-symbol position rows for the Positions panel,
//! the `HedgeView` (recent trades, executions with the trades each one
//! offsets, alerts) that crosses the control API inside the `Snapshot`, and
//! every open hedge as an open intent (`snapshot.intents`) saying what
//! arbkeep is doing about it.

use super::book::{ExecState, Execution, Position, Trade, TradeState};
use super::decode::OnchainSide;
use super::pipeline::Records;
use crate::engine::intent::{IntentState, OpenIntentView, resolve_hint};
use crate::engine::snapshot::PositionRow;
use crate::model::Timestamp;
use crate::model::time::format_time;
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
    pub shares: u64,
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
}

fn trade_row(t: &Trade) -> TradeRow {
    TradeRow {
        id: t.id,
        event: t.key.to_string(),
        block: t.block_number,
        symbol: t.symbol.clone(),
        token_symbol: t.token_symbol.clone(),
        side: t.side,
        shares: t.shares,
        price: t.price,
        unallocated: t.unallocated,
        seen_at: t.seen_at,
        state: match t.state {
            TradeState::Live => "live".into(),
            TradeState::Reversed { .. } => "reversed".into(),
            TradeState::ReorgedAfterHedge { .. } => "REORG after hedge".into(),
        },
    }
}

fn execution_row(e: &Execution) -> ExecutionRow {
    let (order_id, average_price, note) = match &e.state {
        ExecState::Pending => (None, None, e.last_error.clone().unwrap_or_default()),
        ExecState::OutcomeUnknown {
            look_until, reason, ..
        } => (
            None,
            None,
            match &e.last_error {
                Some(note) => format!("{reason}; {note}"),
                None => format!("{reason}; looking until {} UTC", format_time(*look_until)),
            },
        ),
        ExecState::Submitted { order_id } => (Some(order_id.clone()), None, String::new()),
        ExecState::Filled {
            order_id,
            shares,
            average_price,
            ..
        } => (
            Some(order_id.clone()),
            Some(*average_price),
            if *shares < e.request.shares {
                format!("filled {shares} of {}", e.request.shares)
            } else {
                String::new()
            },
        ),
        ExecState::Failed {
            reason,
            order_id,
            returned,
            ..
        } => (
            order_id.clone(),
            None,
            format!("{reason}; {returned} back to net"),
        ),
    };
    ExecutionRow {
        id: e.id,
        symbol: e.request.symbol.clone(),
        side: e.request.side,
        shares: e.request.shares,
        state: e.state.label().into(),
        order_id,
        average_price,
        created_at: e.created_at,
        links: e.links.iter().map(|l| (l.trade, l.shares)).collect(),
        note,
    }
}

pub fn position_row(p: &Position, venue: &str, market_open: Option<bool>) -> PositionRow {
    let note = if p.pending.is_some() {
        format!("hedge h{} in flight", p.pending.unwrap_or(0))
    } else if p.net().abs() >= Decimal::ONE {
        match market_open {
            Some(false) => "market closed: queued".into(),
            _ => "to hedge".into(),
        }
    } else {
        String::new()
    };
    PositionRow {
        venue: venue.to_string(),
        symbol: p.symbol.clone(),
        net: p.net().normalize(),
        long: p.long.normalize(),
        short: p.short.normalize(),
        pending_hedge: p.pending.map(|_| Decimal::from(p.pending_shares)),
        exposure_since: p.exposed_since,
        note,
    }
}

pub fn hedge_view(
    records: &Records,
    broker: &str,
    market_open: Option<bool>,
    next_change: Option<Timestamp>,
) -> HedgeView {
    HedgeView {
        broker: broker.to_string(),
        market_open,
        next_market_change: next_change,
        watermark: records.watermark,
        trade_count: records.trade_count,
        trades: records.trades.iter().map(trade_row).collect(),
        executions: records.executions.iter().map(execution_row).collect(),
        alerts: records
            .alerts
            .iter()
            .map(|a| format!("{} {}", crate::model::time::format_time(a.at), a.message))
            .collect(),
    }
}

fn side_word(side: OrderSide) -> &'static str {
    match side {
        OrderSide::Buy => "BUY",
        OrderSide::Sell => "SELL",
    }
}

/// Every open hedge as an open intent: what it sends, where it stands, and
/// what arbkeep is doing about it at `now`.
pub fn open_intents(
    records: &Records,
    broker: &str,
    replace_after_window: bool,
    now: Timestamp,
) -> Vec<OpenIntentView> {
    records
        .executions
        .iter()
        .filter(|e| e.state.is_open())
        .map(|e| {
            let mut awaits_operator = false;
            let (state, doing) = match &e.state {
                ExecState::Pending if e.may_place() => (
                    IntentState::Committed,
                    match &e.last_error {
                        Some(err) => format!(
                            "not sent ({err}); placing it again at {broker} when sending is allowed"
                        ),
                        None => format!(
                            "committed; placing it at {broker} when the market is open and sending is allowed"
                        ),
                    },
                ),
                ExecState::Pending => (
                    IntentState::OutcomeUnknown,
                    format!("a send may have left unanswered; looking for it at {broker}"),
                ),
                ExecState::OutcomeUnknown {
                    look_until, reason, ..
                } => {
                    let looking = if now < *look_until {
                        format!(
                            "order not listed yet; looking for it at {broker} until {} UTC (listing window)",
                            format_time(*look_until)
                        )
                    } else if replace_after_window {
                        format!(
                            "not listed at {broker} after the listing window; placing it again when sending is allowed (replace_after_window)"
                        )
                    } else {
                        awaits_operator = true;
                        format!(
                            "not listed at {broker} after the listing window; still looking, nothing placed again until the operator resolves it"
                        )
                    };
                    let looking = match &e.last_error {
                        Some(note) if note.starts_with("cannot look") => {
                            format!("{looking}; {note}")
                        }
                        _ => looking,
                    };
                    (IntentState::OutcomeUnknown, format!("{looking} — {reason}"))
                }
                ExecState::Submitted { order_id } => (
                    IntentState::Sent,
                    format!("working at {broker}, order {order_id}"),
                ),
                ExecState::Filled { .. } | ExecState::Failed { .. } => {
                    (IntentState::Sent, String::new())
                }
            };
            let id = format!("h{}", e.id);
            OpenIntentView {
                resolve: resolve_hint(&id),
                id,
                strategy: "equity_hedge".into(),
                what: format!(
                    "{} {} {} at {broker}",
                    side_word(e.request.side),
                    e.request.shares,
                    e.request.symbol
                ),
                state,
                since: e.created_at,
                doing,
                awaits_operator,
            }
        })
        .collect()
}
