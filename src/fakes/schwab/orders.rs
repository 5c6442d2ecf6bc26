//! The fake's orders: what a test scripted for each, and what Schwab would
//! say about it at a given moment (statuses, FILL and CANCELED activities,
//! `PENDING_ACTIVATION` while the market is closed), in the real JSON shape.

use super::faults::{Fault, OrderReply, fault_outcome};
use super::{State, message, respond};
use crate::fakes::faults::ListingLag;
use crate::fakes::http::{Outcome, Request, Response};
use crate::model::Timestamp;
use crate::model::time::{DAY, SECOND};
use crate::venue::broker::OrderSide;
use crate::venue::schwab::clock_text::{format_order_time, parse_time};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeSet;
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
    /// Listing lag: the orders list leaves it out before this instant and
    /// from this many more list calls.
    pub listing: ListingLag,
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

impl State {
    pub(super) fn place(&mut self, r: &Request, number: &str, hash: &str) -> Outcome {
        let reply = self.next_replies.pop_front().unwrap_or(OrderReply::Created);
        let Ok(body) = serde_json::from_slice::<Value>(&r.body) else {
            return message(
                400,
                "A validation error occurred while processing the request.",
            );
        };
        if !body["requestedDestination"].is_null() {
            return message(400, "requestedDestination is not allowed");
        }
        let leg = &body["orderLegCollection"][0];
        let symbol = leg["instrument"]["symbol"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let side = match leg["instruction"].as_str() {
            Some("BUY") | Some("BUY_TO_COVER") => OrderSide::Buy,
            Some("SELL") | Some("SELL_SHORT") => OrderSide::Sell,
            _ => return message(400, "orderLegCollection[0].instruction is invalid"),
        };
        let Some(shares) = leg["quantity"].as_u64().filter(|q| *q > 0) else {
            return message(400, "quantity must be a whole number of shares above 0");
        };
        if symbol.is_empty()
            || body["orderType"].as_str() != Some("MARKET")
            || body["duration"].as_str() != Some("DAY")
            || body["session"].as_str() != Some("NORMAL")
            || body["orderStrategyType"].as_str() != Some("SINGLE")
        {
            return message(
                400,
                "only SINGLE MARKET DAY NORMAL equity orders are supported by the fake",
            );
        }
        let now = self.now();
        let active_from = if self.open_at(now) {
            Some(now)
        } else {
            self.next_open(now)
        };
        let script = self
            .next_scripts
            .pop_front()
            .unwrap_or_else(|| OrderScript::FillNow {
                price: self
                    .prices
                    .get(&symbol)
                    .copied()
                    .unwrap_or(Decimal::from(100)),
            });
        let id = self.next_id();
        self.orders.insert(
            id,
            FakeOrder {
                id,
                account_number: number.to_string(),
                symbol,
                side,
                shares,
                entered_at: now,
                active_from,
                script,
                canceled_at: None,
                listing: ListingLag {
                    until: now + self.listing_lag.0,
                    looks: self.listing_lag.1,
                },
                garbled: false,
            },
        );
        let location = format!("{}/trader/v1/accounts/{hash}/orders/{id}", self.base_url);
        match reply {
            OrderReply::Created => respond(Response::new(201).with_header("Location", location)),
            OrderReply::NoLocation => respond(Response::new(201)),
            OrderReply::DropAfterAccept => Outcome::Drop,
            OrderReply::ErrorAfterAccept(status) => message(status, "Internal error"),
            OrderReply::Delay(d) => Outcome::Respond {
                response: Response::new(201).with_header("Location", location),
                delay: Some(d),
            },
            OrderReply::TooManyAfterAccept { retry_after } => {
                fault_outcome(Fault::TooManyRequests { retry_after })
            }
            OrderReply::TruncatedAfterAccept => {
                let mut r = Response::json(201, &json!({"note": "accepted; answer cut halfway"}))
                    .with_header("Location", location);
                r.truncated = true;
                respond(r)
            }
        }
    }

    pub(super) fn list(
        &mut self,
        number: &str,
        from: Option<String>,
        to: Option<String>,
        status: Option<String>,
    ) -> Outcome {
        let (Some(from), Some(to)) = (
            from.as_deref().and_then(parse_time),
            to.as_deref().and_then(parse_time),
        ) else {
            return message(
                400,
                "fromEnteredTime and toEnteredTime are required (yyyy-MM-dd'T'HH:mm:ss.SSSZ)",
            );
        };
        let now = self.now();
        if from + 60 * DAY < now {
            return message(400, "fromEnteredTime must be within 60 days");
        }
        // Listing lag: an order placed a moment ago is not listed yet (this
        // call counts towards the list calls it is hidden from).
        let mut hidden = BTreeSet::new();
        for o in self.orders.values_mut() {
            if o.account_number == number && o.listing.hides(now) {
                hidden.insert(o.id);
            }
        }
        // Schwab keeps whole seconds of enteredTime.
        let mut list: Vec<&FakeOrder> = self
            .orders
            .values()
            .filter(|o| o.account_number == number && !hidden.contains(&o.id))
            .filter(|o| {
                let entered = o.entered_at - o.entered_at % SECOND;
                entered >= from && entered <= to
            })
            .filter(|o| status.as_deref().is_none_or(|s| o.view(now).status == s))
            .collect();
        list.sort_by(|a, b| b.entered_at.cmp(&a.entered_at).then(b.id.cmp(&a.id)));
        let body: Vec<Value> = list.iter().map(|o| o.json(now)).collect();
        respond(Response::json(200, &Value::Array(body)))
    }

    pub(super) fn cancel(&mut self, number: &str, id: &str) -> Outcome {
        let now = self.now();
        let Some(o) = id.parse::<u64>().ok().and_then(|i| self.orders.get_mut(&i)) else {
            return message(404, "Order not found");
        };
        if o.account_number != number {
            return message(404, "Order not found");
        }
        if matches!(
            o.view(now).status,
            "FILLED" | "CANCELED" | "REJECTED" | "EXPIRED"
        ) {
            return message(400, "Order is not cancelable");
        }
        o.canceled_at = Some(now);
        respond(Response::new(200))
    }
}
