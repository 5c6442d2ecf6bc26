//! The fake's accounts and calendar: positions and cash that follow the
//! fills (what working buys would cost held out of the funds available),
//! the accounts' JSON, and the market's regular session per New York day
//! (weekends and set holidays closed, or open around the clock).

use super::{State, message, respond};
use crate::fakes::http::{Outcome, Response};
use crate::model::Timestamp;
use crate::venue::broker::OrderSide;
use crate::venue::schwab::clock_text::{
    format_date, format_new_york_time, new_york_day, new_york_instant, parse_date, weekday,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;

impl State {
    pub(super) fn positions_of(&self, number: &str) -> BTreeMap<String, Decimal> {
        let now = self.now();
        let mut out: BTreeMap<String, Decimal> = self
            .base_positions
            .iter()
            .filter(|((n, _), _)| n == number)
            .map(|((_, s), q)| (s.clone(), *q))
            .collect();
        for o in self.orders.values().filter(|o| o.account_number == number) {
            let filled = Decimal::from(o.view(now).filled());
            let delta = match o.side {
                OrderSide::Buy => filled,
                OrderSide::Sell => -filled,
            };
            *out.entry(o.symbol.clone()).or_default() += delta;
        }
        out.retain(|_, q| !q.is_zero());
        out
    }

    /// (cash after the fills, cash less what working buys would cost).
    pub(super) fn cash_of(&self, number: &str) -> (Decimal, Decimal) {
        let now = self.now();
        let (mut cash, mut held) = (self.base_cash, Decimal::ZERO);
        for o in self.orders.values().filter(|o| o.account_number == number) {
            let view = o.view(now);
            for (shares, price, _) in &view.fills {
                let paid = Decimal::from(*shares) * *price;
                match o.side {
                    OrderSide::Buy => cash -= paid,
                    OrderSide::Sell => cash += paid,
                }
            }
            let working = !matches!(view.status, "FILLED" | "CANCELED" | "REJECTED" | "EXPIRED");
            if working && o.side == OrderSide::Buy {
                let price = self
                    .prices
                    .get(&o.symbol)
                    .copied()
                    .unwrap_or(Decimal::from(100));
                held += Decimal::from(o.shares.saturating_sub(view.filled())) * price;
            }
        }
        (cash, cash - held)
    }

    pub(super) fn account_json(&self, number: &str, with_positions: bool) -> Value {
        let (cash, available) = self.cash_of(number);
        let mut account = json!({
            "type": "MARGIN", "accountNumber": number, "roundTrips": 0, "isDayTrader": false,
            "isClosingOnlyRestricted": false, "pfcbFlag": false,
            "currentBalances": {"availableFunds": number_of(available),
                "availableFundsNonMarginableTrade": number_of(available),
                "buyingPower": number_of(available * Decimal::from(2)),
                "buyingPowerNonMarginableTrade": number_of(available),
                "cashBalance": number_of(cash), "liquidationValue": number_of(cash),
                "equity": number_of(cash)}
        });
        if with_positions {
            let positions: Vec<Value> = self
                .positions_of(number)
                .into_iter()
                .map(|(symbol, q)| {
                    let (long, short) = if q.is_sign_negative() { (Decimal::ZERO, -q) } else { (q, Decimal::ZERO) };
                    json!({
                        "shortQuantity": number_of(short), "longQuantity": number_of(long),
                        "settledLongQuantity": number_of(long), "settledShortQuantity": number_of(short),
                        "averagePrice": 100.0, "marketValue": 0.0,
                        "instrument": {"assetType": "EQUITY", "cusip": "000000000", "symbol": symbol}
                    })
                })
                .collect();
            account["positions"] = Value::Array(positions);
        }
        json!({ "securitiesAccount": account, "aggregatedBalance": {"currentLiquidationValue": 100000.0, "liquidationValue": 100000.0} })
    }

    pub(super) fn open_day(&self, day: i64) -> bool {
        self.around_the_clock || (!matches!(weekday(day), 0 | 6) && !self.holidays.contains(&day))
    }

    /// The regular session of an open `day`: start and end instants.
    pub(super) fn regular(&self, day: i64) -> (Timestamp, Timestamp) {
        if self.around_the_clock {
            (new_york_instant(day, 0, 0), new_york_instant(day + 1, 0, 0))
        } else {
            (new_york_instant(day, 9, 30), new_york_instant(day, 16, 0))
        }
    }

    pub(super) fn open_at(&self, at: Timestamp) -> bool {
        let day = new_york_day(at);
        let (start, end) = self.regular(day);
        self.open_day(day) && at >= start && at < end
    }

    pub(super) fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        let today = new_york_day(at);
        (today..today + 15)
            .filter(|d| self.open_day(*d))
            .map(|d| self.regular(d).0)
            .find(|open| *open > at)
    }

    pub(super) fn hours(&self, date: Option<String>) -> Outcome {
        let day = match date {
            Some(d) => match parse_date(&d) {
                Some(day) => day,
                None => return message(400, "date must be YYYY-MM-DD"),
            },
            None => new_york_day(self.now()),
        };
        let date = format_date(day);
        let body = if self.open_day(day) {
            let t = |h, m| format_new_york_time(new_york_instant(day, h, m));
            let (start, end) = self.regular(day);
            let (start, end) = (format_new_york_time(start), format_new_york_time(end));
            json!({"equity": {"EQ": {
                "category": "NULL", "date": date, "exchange": "NULL", "isOpen": true,
                "marketType": "EQUITY", "product": "EQ", "productName": "equity",
                "sessionHours": {
                    "preMarket": [{"start": t(7, 0), "end": t(9, 30)}],
                    "regularMarket": [{"start": start, "end": end}],
                    "postMarket": [{"start": t(16, 0), "end": t(20, 0)}]
                }
            }}})
        } else {
            json!({"equity": {"equity": {"date": date, "marketType": "EQUITY", "product": "equity", "isOpen": false}}})
        };
        respond(Response::json(200, &body))
    }
}

fn number_of(d: Decimal) -> Value {
    let text = if d.fract().is_zero() {
        format!("{}.0", d.trunc())
    } else {
        d.normalize().to_string()
    };
    text.parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or(Value::Null)
}
