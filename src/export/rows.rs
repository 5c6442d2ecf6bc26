//! Each exported record as one row: the columns of each kind, and cells of
//! exact text. Amounts held as base units are written as exact decimals by
//! the token's decimals (`delta` also stays in base units, so sums are
//! exact integers); prices, P&L and shares are the store's exact decimals;
//! times are RFC 3339 UTC to the millisecond.

use super::records::{Records, What};
use crate::model::money::{format_delta, format_units};
use crate::model::time::format_rfc3339;
use crate::model::{Cycle, LedgerEntry, TokenId};
use crate::strategy::equity_hedge::book::{ExecState, Execution, Trade, TradeState};
use serde::Serialize;

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Int(u64),
    Bool(bool),
    /// No value (CSV: an empty field; JSON: null).
    Empty,
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    fn opt(s: Option<impl Into<String>>) -> Cell {
        s.map_or(Cell::Empty, Cell::text)
    }
}

const LEDGER: &[&str] = &[
    "seq",
    "at",
    "kind",
    "cycle",
    "chain",
    "token",
    "delta",
    "amount",
    "decimals",
    "value_vcred",
    "tx_hash",
    "operator",
    "note",
];

const CYCLES: &[&str] = &[
    "cycle",
    "token",
    "route",
    "state",
    "created_at",
    "completed_at",
    "vcred_in",
    "vcred_out",
    "profit_vcred",
    "gas_vcred",
    "bridge_fees_vcred",
    "expected_profit_vcred",
    "closed_because",
];

const TRADES: &[&str] = &[
    "trade",
    "seen_at",
    "chain_id",
    "block",
    "tx_hash",
    "log_index",
    "kind",
    "symbol",
    "token_symbol",
    "side",
    "shares",
    "usdc",
    "price",
    "unallocated",
    "state",
];

const HEDGES: &[&str] = &[
    "hedge",
    "created_at",
    "updated_at",
    "symbol",
    "side",
    "shares",
    "state",
    "order_id",
    "filled_shares",
    "average_price",
    "filled_at",
    "reason",
    "trades",
    "attempts",
];

/// The header of each kind, in the order of its cells.
pub fn columns(what: What) -> &'static [&'static str] {
    match what {
        What::Ledger => LEDGER,
        What::Cycles => CYCLES,
        What::Trades => TRADES,
        What::Hedges => HEDGES,
    }
}

/// The rows of a page, one per record, cells in [`columns`] order.
pub fn rows(records: &Records) -> Vec<Vec<Cell>> {
    match records {
        Records::Ledger(v) => v.iter().map(ledger_row).collect(),
        Records::Cycles(v) => v.iter().map(cycle_row).collect(),
        Records::Trades(v) => v.iter().map(trade_row).collect(),
        Records::Hedges(v) => v.iter().map(hedge_row).collect(),
    }
}

/// A unit enum's name as its serde form (`swap_in`, `bought`).
fn serde_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn time(at: u64) -> Cell {
    Cell::Text(format_rfc3339(at))
}

fn vcred(units: u128) -> Cell {
    Cell::Text(format_units(units, TokenId::Vcred.decimals()))
}

fn ledger_row(e: &LedgerEntry) -> Vec<Cell> {
    vec![
        Cell::Int(e.seq),
        time(e.at),
        Cell::Text(serde_name(&e.kind)),
        Cell::opt(e.cycle.map(|c| c.to_string())),
        Cell::opt(e.chain.map(|c| c.name())),
        Cell::opt(e.token.map(|t| t.symbol())),
        Cell::Text(e.delta.to_string()),
        Cell::opt(e.token.map(|t| format_delta(e.delta, t.decimals()))),
        e.token
            .map_or(Cell::Empty, |t| Cell::Int(u64::from(t.decimals()))),
        Cell::Text(e.value_vcred.to_string()),
        Cell::opt(e.tx_hash.clone()),
        Cell::Bool(e.operator),
        Cell::text(e.note.clone()),
    ]
}

fn cycle_row(c: &Cycle) -> Vec<Cell> {
    let r = c.result.as_ref();
    let (gas, bridge) = match r {
        Some(r) => (r.gas_vcred, r.bridge_fees_vcred),
        None => (c.costs.gas_vcred, c.costs.bridge_fees_vcred),
    };
    let closed_because = c
        .failure
        .as_ref()
        .map(|f| f.reason.clone())
        .or_else(|| c.refusal.clone());
    vec![
        Cell::Text(c.id.to_string()),
        Cell::text(c.token.symbol()),
        Cell::text(c.route.name()),
        Cell::text(c.state.name()),
        time(c.created_at),
        r.map_or(Cell::Empty, |r| time(r.completed_at)),
        vcred(c.vcred_in),
        r.map_or(Cell::Empty, |r| vcred(r.vcred_out)),
        Cell::opt(r.map(|r| r.profit_vcred.to_string())),
        Cell::Text(gas.to_string()),
        Cell::Text(bridge.to_string()),
        Cell::Text(c.expected_profit_vcred.to_string()),
        Cell::opt(closed_because),
    ]
}

fn trade_row(t: &Trade) -> Vec<Cell> {
    let state = match t.state {
        TradeState::Live => "live",
        TradeState::Reversed { .. } => "reversed",
        TradeState::ReorgedAfterHedge { .. } => "reorged_after_hedge",
    };
    vec![
        Cell::Int(t.id),
        time(t.seen_at),
        Cell::Int(t.key.chain_id),
        Cell::Int(t.block_number),
        Cell::text(t.key.tx_hash.clone()),
        Cell::Int(t.key.log_index),
        Cell::Text(serde_name(&t.kind)),
        Cell::text(t.symbol.clone()),
        Cell::text(t.token_symbol.clone()),
        Cell::Text(serde_name(&t.side)),
        Cell::Text(t.shares.to_string()),
        Cell::Text(t.usdc.to_string()),
        Cell::Text(t.price.to_string()),
        Cell::Text(t.unallocated.to_string()),
        Cell::text(state),
    ]
}

fn hedge_row(e: &Execution) -> Vec<Cell> {
    let (state, filled, price, filled_at, reason) = match &e.state {
        ExecState::Pending => ("pending", None, None, None, None),
        ExecState::OutcomeUnknown { reason, .. } => {
            ("outcome_unknown", None, None, None, Some(reason.clone()))
        }
        ExecState::Submitted { .. } => ("submitted", None, None, None, None),
        ExecState::Filled {
            shares,
            average_price,
            filled_at,
            ..
        } => (
            "filled",
            Some(*shares),
            Some(average_price.to_string()),
            Some(*filled_at),
            None,
        ),
        ExecState::Failed {
            reason,
            filled_shares,
            ..
        } => (
            "failed",
            Some(*filled_shares),
            None,
            None,
            Some(reason.clone()),
        ),
    };
    let trades: Vec<String> = e
        .links
        .iter()
        .map(|l| format!("{}:{}", l.trade, l.shares))
        .collect();
    vec![
        Cell::Text(format!("h{}", e.id)),
        time(e.created_at),
        time(e.updated_at),
        Cell::text(e.symbol()),
        Cell::Text(serde_name(&e.side())),
        Cell::Text(e.request.shares.normalize().to_string()),
        Cell::text(state),
        Cell::opt(e.order_id()),
        filled.map_or(Cell::Empty, |f| Cell::Text(f.normalize().to_string())),
        Cell::opt(price),
        filled_at.map_or(Cell::Empty, time),
        Cell::opt(reason),
        Cell::Text(trades.join(" ")),
        Cell::Int(u64::from(e.attempts)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Chain, CycleId, LedgerKind};
    use rust_decimal::Decimal;

    #[test]
    fn a_ledger_row_has_exact_amounts_and_one_cell_per_column() {
        let e = LedgerEntry {
            seq: 7,
            at: 1_767_225_600_000,
            kind: LedgerKind::SwapIn,
            cycle: Some(CycleId(3)),
            chain: Some(Chain::Hemi),
            token: Some(TokenId::Vcred),
            delta: -1_000_000_000_000_000_001,
            value_vcred: "-1000000000000.000001".parse::<Decimal>().unwrap(),
            tx_hash: Some("0xab".into()),
            note: "swap, \"quoted\"".into(),
            operator: false,
        };
        let row = ledger_row(&e);
        assert_eq!(row.len(), columns(What::Ledger).len());
        assert_eq!(row[1], Cell::text("2026-01-01T00:00:00.000Z"));
        assert_eq!(row[2], Cell::text("swap_in"));
        assert_eq!(row[6], Cell::text("-1000000000000000001"));
        assert_eq!(row[7], Cell::text("-1000000000000.000001"));
        assert_eq!(row[9], Cell::text("-1000000000000.000001"));
    }
}
