//! The hedge's money lines in the shape every strategy shares
//! (`model::MoneyLine`), derived from its records: each onchain fill moves
//! the tokenized equity and USDC in our Raindex vaults (the owner's side),
//! each filled hedge moves shares and dollars at the broker. A fill a reorg
//! took back moved nothing and is left out.

use super::book::{ExecState, Execution, Trade, TradeState};
use crate::model::{MoneyLine, OnchainSide};
use crate::venue::broker::OrderSide;
use rust_decimal::Decimal;

/// Where onchain fills settle.
pub const ONCHAIN: &str = "raindex";
/// Where hedges settle (the configured broker: Alpaca, Schwab or paper).
pub const BROKER: &str = "broker";

pub fn money_lines(trades: &[Trade], executions: &[Execution]) -> Vec<MoneyLine> {
    let mut out = Vec::new();
    let line = |at, venue: &str, asset: &str, delta, reference: String, note: String| MoneyLine {
        at,
        strategy: "equity_hedge".to_string(),
        venue: venue.to_string(),
        asset: asset.to_string(),
        delta,
        reference,
        note,
    };
    for t in trades.iter().filter(|t| t.state == TradeState::Live) {
        // Bought: the owner's order received the equity and paid USDC.
        let sign = match t.side {
            OnchainSide::Bought => Decimal::ONE,
            OnchainSide::Sold => Decimal::NEGATIVE_ONE,
        };
        let event = format!("{}#{}", t.key.tx_hash, t.key.log_index);
        let note = format!("t{} onchain {:?} {} at {}", t.id, t.side, t.symbol, t.price);
        out.push(line(
            t.seen_at,
            ONCHAIN,
            &t.token_symbol,
            sign * t.shares,
            event.clone(),
            note.clone(),
        ));
        out.push(line(
            t.seen_at,
            ONCHAIN,
            "USDC",
            -sign * t.usdc,
            event,
            note,
        ));
    }
    for e in executions {
        let ExecState::Filled {
            order_id,
            shares,
            average_price,
            filled_at,
        } = &e.state
        else {
            continue;
        };
        let sign = match e.request.side {
            OrderSide::Buy => Decimal::ONE,
            OrderSide::Sell => Decimal::NEGATIVE_ONE,
        };
        let note = format!(
            "h{} hedge {:?} {} at {average_price}",
            e.id,
            e.request.side,
            e.symbol()
        );
        let dollars = shares.saturating_mul(*average_price);
        out.push(line(
            *filled_at,
            BROKER,
            e.symbol(),
            sign * *shares,
            order_id.clone(),
            note.clone(),
        ));
        out.push(line(
            *filled_at,
            BROKER,
            "USD",
            -sign * dollars,
            order_id.clone(),
            note,
        ));
    }
    out
}
