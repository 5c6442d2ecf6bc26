//! What the hedge shows: per-symbol position rows for the Positions panel,
//! the `HedgeView` (recent trades, executions with the trades each one
//! offsets, alerts) that crosses the control API inside the `Snapshot`, and
//! every open hedge as an open intent (`snapshot.intents`) saying what
//! arbkeep is doing about it.

pub use crate::engine::snapshot::hedge::{ExecutionRow, ExposureWindow, HedgeView, TradeRow};

use super::book::{ExecState, Execution, Position, Trade, TradeState};
use super::pipeline::Records;
use crate::engine::intent::{IntentState, OpenIntentView, resolve_hint};
use crate::engine::snapshot::PositionRow;
use crate::model::Timestamp;
use crate::model::time::format_time;
use crate::venue::broker::OrderSide;
use rust_decimal::Decimal;

/// The `p`-th percentile (nearest rank) of sorted `v`.
fn rank(v: &[u64], p: usize) -> u64 {
    let i = (v.len() * p).div_ceil(100).clamp(1, v.len().max(1)) - 1;
    v.get(i).copied().unwrap_or(0)
}

/// The window over `executions`' filled hedges that carry both ends.
pub fn exposure_window(executions: &[Execution]) -> Option<ExposureWindow> {
    let mut to_order = Vec::new();
    let mut to_fill = Vec::new();
    for e in executions {
        if let (ExecState::Filled { filled_at, .. }, Some(detected), Some(sent)) =
            (&e.state, e.detected_at, e.sent_at)
        {
            to_order.push(sent.saturating_sub(detected));
            to_fill.push(filled_at.saturating_sub(detected));
        }
    }
    if to_order.is_empty() {
        return None;
    }
    to_order.sort_unstable();
    to_fill.sort_unstable();
    Some(ExposureWindow {
        hedges: to_order.len(),
        to_order_median_ms: rank(&to_order, 50),
        to_order_p99_ms: rank(&to_order, 99),
        to_fill_median_ms: rank(&to_fill, 50),
        to_fill_p99_ms: rank(&to_fill, 99),
    })
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

/// `pending` is the symbol's open hedge, when the records hold it: a hedge
/// the pre-trade check refused says so instead of "in flight".
pub fn position_row(
    p: &Position,
    pending: Option<&Execution>,
    venue: &str,
    market_open: Option<bool>,
) -> PositionRow {
    let refused = pending
        .filter(|e| Some(e.id) == p.pending)
        .and_then(|e| e.last_error.as_deref())
        .filter(|n| n.starts_with(super::pretrade::REFUSED));
    let note = if let Some(why) = refused {
        format!("h{} not sent: {why}", p.pending.unwrap_or(0))
    } else if p.pending.is_some() {
        format!("hedge h{} in flight", p.pending.unwrap_or(0))
    } else if p.net().abs() >= Decimal::ONE && !p.paused {
        match market_open {
            Some(false) => "market closed: queued".into(),
            _ => "to hedge".into(),
        }
    } else {
        String::new()
    };
    // The broker's side: what it holds against what the books say.
    let broker = match (p.broker_seen, p.broker_baseline, &p.gated) {
        (_, _, Some(_)) => "STOPPED: broker diverges (resolve p:…)".to_string(),
        (Some(seen), Some(base), None) => {
            let books = base + p.broker_net;
            if seen == books {
                format!("broker {} = books", seen.normalize())
            } else if p.diverging_polls == 0 {
                format!(
                    "broker {} (books {}, in flight)",
                    seen.normalize(),
                    books.normalize()
                )
            } else {
                format!(
                    "broker {} ≠ books {} ({} checks)",
                    seen.normalize(),
                    books.normalize(),
                    p.diverging_polls
                )
            }
        }
        _ => String::new(),
    };
    let paused = if p.paused {
        "PAUSED by the operator (t resumes)".to_string()
    } else {
        String::new()
    };
    let note = [paused, note, broker]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    PositionRow {
        venue: venue.to_string(),
        symbol: p.symbol.clone(),
        net: p.net().normalize(),
        long: p.long.normalize(),
        short: p.short.normalize(),
        pending_hedge: p.pending.map(|_| p.pending_shares),
        exposure_since: p.exposed_since,
        note,
        paused: p.paused,
        hedge: p.pending.map(|h| format!("h{h}")),
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
        exposure: exposure_window(&records.executions),
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

/// Every symbol whose hedging a divergence from the broker stopped: an
/// open item for the operator (`arbkeep resolve p:SYMBOL settle`).
pub fn gated_intents(records: &Records, broker: &str) -> Vec<OpenIntentView> {
    records
        .positions
        .iter()
        .filter_map(|p| {
            let why = p.gated.clone()?;
            let id = format!("p:{}", p.symbol);
            Some(OpenIntentView {
                resolve: resolve_hint(&id),
                id,
                strategy: "equity_hedge".into(),
                what: format!("{} position at {broker} diverges from the books", p.symbol),
                state: IntentState::Halted,
                since: p.last_fill_at.unwrap_or_default(),
                doing: why,
                awaits_operator: true,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::broker::OrderRequest;

    fn filled(detected: u64, sent: u64, filled_at: u64) -> Execution {
        Execution {
            id: 1,
            request: OrderRequest {
                client_id: "h1".into(),
                symbol: "AAPL".into(),
                side: OrderSide::Sell,
                shares: Decimal::from(1u64),
                committed_at: sent,
            },
            state: ExecState::Filled {
                order_id: "o".into(),
                shares: Decimal::from(1u64),
                average_price: Decimal::ONE,
                filled_at,
            },
            links: Vec::new(),
            created_at: sent,
            updated_at: filled_at,
            attempts: 0,
            last_error: None,
            sending: Some(false),
            posts: 1,
            detected_at: Some(detected),
            sent_at: Some(sent),
        }
    }

    #[test]
    fn the_exposure_window_is_median_and_p99_of_filled_hedges() {
        // Ten hedges: orders 10..=100 ms after detection, fills 1 s later.
        let mut list: Vec<Execution> = (1..=10)
            .map(|i| filled(1_000, 1_000 + 10 * i, 2_000 + 10 * i))
            .collect();
        // Not filled, or from before the window's fields: not counted.
        let mut open = filled(0, 5, 9);
        open.state = ExecState::Pending;
        let mut old = filled(0, 5, 9);
        old.detected_at = None;
        list.extend([open, old]);
        let w = exposure_window(&list).unwrap();
        assert_eq!(w.hedges, 10);
        assert_eq!((w.to_order_median_ms, w.to_order_p99_ms), (50, 100));
        assert_eq!((w.to_fill_median_ms, w.to_fill_p99_ms), (1_050, 1_100));
        assert_eq!(exposure_window(&[]), None);
    }
}
