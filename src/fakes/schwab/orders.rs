//! The fake's orders: what a test scripted for each, and what Schwab would
//! say about it at a given moment (statuses, FILL and CANCELED activities,
//! `PENDING_ACTIVATION` while the market is closed), in the real JSON shape.

use crate::model::Timestamp;
use crate::venue::broker::OrderSide;
use crate::venue::schwab::clock_text::format_order_time;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;

/// One execution of a scripted fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillLeg {
    pub shares: u64,
    pub price: Decimal,
    /// After the order became active (entered, or the next open).
    pub after_ms: u64,
}

/// How the next order placed will behave (§6.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderScript {
    /// FILLED at once, at `price`.
    FillNow { price: Decimal },
    /// WORKING, then FILLED `after_ms` later.
    FillAfter { after_ms: u64, price: Decimal },
    /// WORKING with growing `filledQuantity`; FILLED when the legs cover the order.
    Partial { legs: Vec<FillLeg> },
    /// Partial fills, then CANCELED (a price-0 CANCELED leg for the rest).
    PartialThenCancel {
        legs: Vec<FillLeg>,
        cancel_after_ms: u64,
    },
    /// QUEUED, then REJECTED with `reason` as `statusDescription`.
    RejectAfter { after_ms: u64, reason: String },
    /// WORKING for ever.
    Hold,
}

/// The real async rejection texts (§2.4).
pub const REJECT_BUYING_POWER: &str =
    "You do not have enough available cash/buying power for this order.";

#[derive(Debug, Clone)]
pub struct FakeOrder {
    pub id: u64,
    pub account_number: String,
    pub symbol: String,
    pub side: OrderSide,
    pub shares: u64,
    pub entered_at: Timestamp,
    /// When it starts executing: entered, or the next open; `None` = no
    /// open in sight.
    pub active_from: Option<Timestamp>,
    pub script: OrderScript,
    /// Set by DELETE.
    pub canceled_at: Option<Timestamp>,
    /// Listing lag: the orders list leaves it out before this instant …
    pub listed_from: Timestamp,
    /// … and from this many more list calls.
    pub hidden_lists: u32,
    /// Shown FILLED with no executions and an unreadable `enteredTime` (a
    /// shape the client cannot read).
    pub garbled: bool,
}

/// What an order looks like at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    pub status: &'static str,
    /// (shares, price, at) of each FILL.
    pub fills: Vec<(u64, Decimal, Timestamp)>,
    pub close: Option<(Timestamp, Option<String>)>,
    pub canceled_at: Option<Timestamp>,
}

impl OrderView {
    pub fn filled(&self) -> u64 {
        self.fills.iter().map(|f| f.0).sum()
    }
}

impl FakeOrder {
    pub fn view(&self, now: Timestamp) -> OrderView {
        let mut v = OrderView {
            status: "PENDING_ACTIVATION",
            fills: Vec::new(),
            close: None,
            canceled_at: None,
        };
        let cancel_by_user = self.canceled_at.filter(|c| *c <= now);
        let Some(start) = self.active_from.filter(|s| *s <= now) else {
            if let Some(c) = cancel_by_user {
                v.status = "CANCELED";
                v.close = Some((c, None));
                v.canceled_at = Some(c);
            }
            return v;
        };
        let legs: Vec<FillLeg> = match &self.script {
            OrderScript::FillNow { price } => vec![FillLeg {
                shares: self.shares,
                price: *price,
                after_ms: 0,
            }],
            OrderScript::FillAfter { after_ms, price } => vec![FillLeg {
                shares: self.shares,
                price: *price,
                after_ms: *after_ms,
            }],
            OrderScript::Partial { legs } | OrderScript::PartialThenCancel { legs, .. } => {
                legs.clone()
            }
            OrderScript::RejectAfter { .. } | OrderScript::Hold => Vec::new(),
        };
        let scripted_cancel = match &self.script {
            OrderScript::PartialThenCancel {
                cancel_after_ms, ..
            } => Some(start + cancel_after_ms),
            _ => None,
        };
        let cancel = [cancel_by_user, scripted_cancel.filter(|c| *c <= now)]
            .into_iter()
            .flatten()
            .min();
        let mut filled = 0;
        for leg in legs {
            let at = start + leg.after_ms;
            if at > now || cancel.is_some_and(|c| at > c) || filled >= self.shares {
                continue;
            }
            let shares = leg.shares.min(self.shares - filled);
            filled += shares;
            v.fills.push((shares, leg.price, at));
        }
        if filled >= self.shares {
            v.status = "FILLED";
            v.close = v.fills.last().map(|f| (f.2, None));
            return v;
        }
        if let Some(c) = cancel {
            v.status = "CANCELED";
            v.close = Some((c, None));
            v.canceled_at = Some(c);
            return v;
        }
        if let OrderScript::RejectAfter { after_ms, reason } = &self.script {
            if start + after_ms <= now {
                v.status = "REJECTED";
                v.close = Some((start + after_ms, Some(reason.clone())));
            } else {
                v.status = "QUEUED";
            }
            return v;
        }
        v.status = "WORKING";
        v
    }

    /// The order as `GET …/orders/{id}` shows it (§2.4).
    pub fn json(&self, now: Timestamp) -> Value {
        let view = self.view(now);
        let filled = view.filled();
        let terminal = matches!(view.status, "FILLED" | "CANCELED" | "REJECTED" | "EXPIRED");
        let mut activities: Vec<Value> = view
            .fills
            .iter()
            .enumerate()
            .map(|(i, (shares, price, at))| {
                let remaining: u64 =
                    self.shares - view.fills[..=i].iter().map(|f| f.0).sum::<u64>();
                json!({
                    "activityType": "EXECUTION",
                    "activityId": 102_102_029_816u64 + self.id % 1000 * 10 + i as u64,
                    "executionType": "FILL",
                    "quantity": float(*shares),
                    "orderRemainingQuantity": float(remaining),
                    "executionLegs": [{
                        "legId": 1, "quantity": float(*shares), "mismarkedQuantity": 0.0,
                        "price": price_number(*price), "time": format_order_time(*at),
                        "instrumentId": instrument_id(&self.symbol)
                    }]
                })
            })
            .collect();
        if let Some(c) = view.canceled_at {
            let rest = self.shares - filled;
            activities.push(json!({
                "activityType": "EXECUTION",
                "activityId": 102_102_039_816u64 + self.id % 1000,
                "executionType": "CANCELED",
                "quantity": float(rest),
                "orderRemainingQuantity": 0.0,
                "executionLegs": [{
                    "legId": 1, "quantity": float(rest), "mismarkedQuantity": 0.0,
                    "price": 0.0, "time": format_order_time(c),
                    "instrumentId": instrument_id(&self.symbol)
                }]
            }));
        }
        let account: u64 = self.account_number.parse().unwrap_or(0);
        let mut o = json!({
            "session": "NORMAL", "duration": "DAY", "orderType": "MARKET",
            "complexOrderStrategyType": "NONE",
            "quantity": float(self.shares),
            "filledQuantity": float(filled),
            "remainingQuantity": float(if terminal { 0 } else { self.shares - filled }),
            "requestedDestination": "AUTO", "destinationLinkName": "HRTF",
            "orderLegCollection": [{
                "orderLegType": "EQUITY", "legId": 1,
                "instrument": {
                    "assetType": "EQUITY", "cusip": "000000000",
                    "symbol": self.symbol, "instrumentId": instrument_id(&self.symbol)
                },
                "instruction": match self.side { OrderSide::Buy => "BUY", OrderSide::Sell => "SELL" },
                "positionEffect": "OPENING",
                "quantity": float(self.shares)
            }],
            "orderStrategyType": "SINGLE",
            "orderId": self.id,
            "cancelable": !terminal,
            "editable": !terminal,
            "status": view.status,
            "enteredTime": format_order_time(self.entered_at),
            "tag": "TA_fakeschwab1751890824",
            "accountNumber": account
        });
        if let Some((at, description)) = &view.close {
            o["closeTime"] = json!(format_order_time(*at));
            if let Some(d) = description {
                o["statusDescription"] = json!(d);
            }
        }
        if !activities.is_empty() {
            o["orderActivityCollection"] = Value::Array(activities);
        }
        if self.garbled {
            o["status"] = json!("FILLED");
            o["enteredTime"] = json!("Mon, 1 Jul 2024 10:00");
            if let Some(m) = o.as_object_mut() {
                m.remove("orderActivityCollection");
            }
        }
        o
    }
}

/// Quantities are JSON floats (`1.0`) in every answer.
fn float(n: u64) -> Value {
    serde_json::Number::from_str(&format!("{n}.0"))
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A price as a JSON number written from its exact decimal text.
fn price_number(p: Decimal) -> Value {
    serde_json::Number::from_str(&p.normalize().to_string())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn instrument_id(symbol: &str) -> u64 {
    symbol.bytes().fold(4_430_000u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b)) % 10_000_000
    })
}
