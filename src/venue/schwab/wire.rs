//! Schwab's JSON, read leniently (reference §2, §4.11–4.14): quantities are
//! JSON floats read exactly as decimals through their text, ids may be
//! numbers or strings, statuses are an open set, the market-hours inner key
//! is `EQ` on open days and `equity` on closed ones, error bodies come in
//! several shapes or are not JSON at all.

use super::clock_text::parse_time;
use crate::model::Timestamp;
use crate::venue::broker::{BrokerPosition, Funds, OrderSide, OrderState, PlacedOrder};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt;
use std::str::FromStr;

/// The token endpoint's answer (§1.5). Debug never shows the tokens.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Present on every real answer; kept optional so a missing one keeps the old.
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenResponse(expires_in: {:?})", self.expires_in)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountNumberHash {
    pub account_number: String,
    pub hash_value: String,
}

/// The canonical whole-share MARKET DAY order (§2.3); nothing else is sent.
pub fn market_order(symbol: &str, side: OrderSide, shares: u64) -> Value {
    json!({
        "orderType": "MARKET",
        "session": "NORMAL",
        "duration": "DAY",
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [{
            "instruction": instruction(side),
            "quantity": shares,
            "instrument": { "symbol": symbol, "assetType": "EQUITY" }
        }]
    })
}

pub fn instruction(side: OrderSide) -> &'static str {
    match side {
        OrderSide::Buy => "BUY",
        OrderSide::Sell => "SELL",
    }
}

/// A JSON number or numeric string as an exact decimal.
pub fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => {
            let text = n.to_string();
            Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .ok()
        }
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

fn whole(v: &Value) -> u64 {
    decimal(v)
        .and_then(|d| u64::try_from(d.trunc()).ok())
        .unwrap_or(0)
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The order's id, symbol and side, whatever else it says.
pub fn order_identity(v: &Value) -> Option<(String, String, OrderSide, u64)> {
    let id = id_text(&v["orderId"])?;
    let leg = v["orderLegCollection"].get(0)?;
    let symbol = leg["instrument"]["symbol"].as_str()?.to_string();
    let side = match leg["instruction"].as_str()? {
        "BUY" | "BUY_TO_COVER" | "BUY_TO_OPEN" | "BUY_TO_CLOSE" => OrderSide::Buy,
        "SELL" | "SELL_SHORT" | "SELL_TO_OPEN" | "SELL_TO_CLOSE" => OrderSide::Sell,
        _ => return None,
    };
    let shares = whole(if v["quantity"].is_null() {
        &leg["quantity"]
    } else {
        &v["quantity"]
    });
    Some((id, symbol, side, shares))
}

/// Average price over `EXECUTION`/`FILL` legs only: a `CANCELED` activity
/// carries a price-0 leg that must not be averaged in (§2.4, §4.10).
/// Rounded to 6 places, half away from zero. `Ok(None)` when no FILL leg has
/// a quantity; an error for a negative quantity or price, or sums too large
/// for a decimal (never a panic, whatever the numbers).
pub fn fill_average(v: &Value) -> Result<Option<(Decimal, Option<Timestamp>)>, String> {
    let mut qty = Decimal::ZERO;
    let mut notional = Decimal::ZERO;
    let mut last = None;
    for activity in v["orderActivityCollection"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if activity["activityType"].as_str() != Some("EXECUTION")
            || activity["executionType"].as_str() != Some("FILL")
        {
            continue;
        }
        for leg in activity["executionLegs"].as_array().into_iter().flatten() {
            let (Some(q), Some(p)) = (decimal(&leg["quantity"]), decimal(&leg["price"])) else {
                continue;
            };
            if q.is_sign_negative() || p.is_sign_negative() {
                return Err(format!("a FILL leg of {q} shares at {p}: negative"));
            }
            let too_large = || format!("FILL legs too large to add up ({q} shares at {p})");
            qty = qty.checked_add(q).ok_or_else(too_large)?;
            notional = q
                .checked_mul(p)
                .and_then(|n| notional.checked_add(n))
                .ok_or_else(too_large)?;
            if let Some(t) = leg["time"].as_str().and_then(parse_time) {
                last = Some(last.map_or(t, |l: Timestamp| l.max(t)));
            }
        }
    }
    if qty.is_zero() {
        return Ok(None);
    }
    let average = notional
        .checked_div(qty)
        .ok_or_else(|| format!("average of {notional} over {qty} shares does not fit"))?;
    Ok(Some((
        average.round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero),
        last,
    )))
}

/// One order in the broker's words (§2.4): FILLED is done; REJECTED,
/// CANCELED, EXPIRED and REPLACED did not (fully) happen; every other status,
/// known or new, is still working.
pub fn placed_order(v: &Value) -> Result<PlacedOrder, String> {
    let (order_id, symbol, side, shares) =
        order_identity(v).ok_or_else(|| "an order without id, symbol or side".to_string())?;
    let shares = Decimal::from(shares);
    let entered_at = v["enteredTime"].as_str().and_then(parse_time).unwrap_or(0);
    let filled_shares = Decimal::from(whole(&v["filledQuantity"]));
    let status = v["status"].as_str().unwrap_or("UNKNOWN");
    let state = match status {
        "FILLED" => {
            let (average_price, leg_time) = fill_average(v)
                .map_err(|e| format!("order {order_id}: {e}"))?
                .ok_or_else(|| format!("order {order_id} is FILLED without FILL executions"))?;
            let filled_at = v["closeTime"]
                .as_str()
                .and_then(parse_time)
                .or(leg_time)
                .unwrap_or(entered_at);
            OrderState::Filled {
                shares: if filled_shares > Decimal::ZERO {
                    filled_shares
                } else {
                    shares
                },
                average_price,
                filled_at,
            }
        }
        "REJECTED" | "CANCELED" | "EXPIRED" | "REPLACED" => OrderState::Rejected {
            reason: match v["statusDescription"].as_str() {
                Some(d) if !d.is_empty() => format!("{status}: {d}"),
                _ => status.to_string(),
            },
            filled_shares,
        },
        _ => OrderState::Working { filled_shares },
    };
    Ok(PlacedOrder {
        order_id,
        symbol,
        side,
        shares,
        entered_at,
        state,
    })
}

/// Net positions (`longQuantity - shortQuantity`) of one `securitiesAccount`.
/// An account without a `positions` list holds none (Schwab leaves it out);
/// a list that is not one, or a position without a symbol or with a
/// quantity that cannot be read, is an error naming it — never dropped or
/// read as zero, for a position we cannot see may be the one that matters.
pub fn positions(v: &Value) -> Result<Vec<BrokerPosition>, String> {
    let account = if v["securitiesAccount"].is_object() {
        &v["securitiesAccount"]
    } else {
        v
    };
    if !account.is_object() {
        return Err("the account answer is not an object".into());
    }
    let list = match &account["positions"] {
        Value::Null => return Ok(Vec::new()),
        Value::Array(list) => list,
        _ => return Err("the account's positions are not a list".into()),
    };
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let symbol = p["instrument"]["symbol"]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("position {i} has no instrument symbol"))?;
            let quantity = |field: &str| {
                decimal(&p[field]).ok_or_else(|| match &p[field] {
                    Value::Null => format!("position {i} ({symbol}) has no {field}"),
                    _ => format!("position {i} ({symbol}) has an unreadable {field}"),
                })
            };
            let long = quantity("longQuantity")?;
            let short = quantity("shortQuantity")?;
            // Saturating: a quantity past 7.9e28 is absurd, and shown as such
            // rather than panicking.
            Ok(BrokerPosition {
                symbol: symbol.to_string(),
                quantity: long.saturating_sub(short).normalize(),
            })
        })
        .collect()
}

/// What one `securitiesAccount` (with `fields=positions`) can trade with
/// now: settled cash without margin, and each long holding. A balance it
/// needs that is missing or unreadable is an error naming it.
pub fn funds(v: &Value) -> Result<Funds, String> {
    let account = if v["securitiesAccount"].is_object() {
        &v["securitiesAccount"]
    } else {
        v
    };
    let balances = &account["currentBalances"];
    if !balances.is_object() {
        return Err("the account has no currentBalances".into());
    }
    let balance = |field: &str| {
        decimal(&balances[field]).ok_or_else(|| match &balances[field] {
            Value::Null => format!("currentBalances has no {field}"),
            _ => format!("currentBalances.{field} is unreadable"),
        })
    };
    let cash = match account["type"].as_str() {
        Some("CASH") => balance("cashAvailableForTrading")?,
        Some("MARGIN") => {
            let no_margin = balance("availableFundsNonMarginableTrade")?;
            match decimal(&balances["cashBalance"]) {
                Some(c) => no_margin.min(c),
                None => no_margin,
            }
        }
        other => return Err(format!("account type {other:?} is neither CASH nor MARGIN")),
    };
    let mut out = Funds {
        buying_power: cash.max(Decimal::ZERO),
        ..Funds::default()
    };
    for p in positions(v)? {
        if p.quantity > Decimal::ZERO {
            out.sellable.insert(p.symbol, p.quantity);
        }
    }
    Ok(out)
}

/// One day of equity market hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayHours {
    pub is_open: bool,
    /// The regular session, on an open day.
    pub regular: Option<(Timestamp, Timestamp)>,
}

/// `{"equity":{"EQ":{…}}}` on open days, `{"equity":{"equity":{…}}}` on
/// closed ones: take the single inner value whatever its key (§2.8).
pub fn day_hours(v: &Value) -> Result<DayHours, String> {
    let inner = v["equity"]
        .as_object()
        .and_then(|m| m.values().next())
        .ok_or_else(|| "market hours without an equity entry".to_string())?;
    let is_open = inner["isOpen"].as_bool().unwrap_or(false);
    let regular = inner["sessionHours"]["regularMarket"].get(0).and_then(|s| {
        Some((
            parse_time(s["start"].as_str()?)?,
            parse_time(s["end"].as_str()?)?,
        ))
    });
    Ok(DayHours {
        is_open: is_open && regular.is_some(),
        regular,
    })
}

/// A readable reason from any of Schwab's error bodies (§3).
pub fn error_text(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return if text.is_empty() {
            "empty body".into()
        } else if text.starts_with('<') {
            "an HTML page (gateway)".into()
        } else {
            text.chars().take(200).collect()
        };
    };
    let said = |s: &str| !s.trim().is_empty();
    if let Some(m) = v["message"].as_str().filter(|m| said(m)) {
        return m.to_string();
    }
    if let Some(errors) = v["errors"].as_array().filter(|e| !e.is_empty()) {
        let parts: Vec<String> = errors
            .iter()
            .map(|e| match e {
                Value::String(s) if said(s) => s.clone(),
                other => other["detail"]
                    .as_str()
                    .filter(|s| said(s))
                    .or(other["title"].as_str().filter(|s| said(s)))
                    .unwrap_or("error")
                    .to_string(),
            })
            .collect();
        return parts.join("; ");
    }
    match (
        v["error"].as_str().filter(|s| said(s)),
        v["error_description"].as_str().filter(|s| said(s)),
    ) {
        (Some(e), Some(d)) => format!("{e}: {d}"),
        (Some(e), None) => e.to_string(),
        _ => "an unrecognised error body".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_filled_order_parses() {
        let v: Value = serde_json::from_str(r#"{
          "session":"NORMAL","duration":"DAY","orderType":"MARKET","quantity":1.0,"filledQuantity":1.0,
          "remainingQuantity":0.0,"orderLegCollection":[{"orderLegType":"EQUITY","legId":1,
          "instrument":{"assetType":"EQUITY","cusip":"36467W109","symbol":"GME","instrumentId":4430271},
          "instruction":"BUY","positionEffect":"OPENING","quantity":1.0}],"orderStrategyType":"SINGLE",
          "orderId":1004055538153,"cancelable":false,"editable":false,"status":"FILLED",
          "enteredTime":"2025-08-29T17:15:17+0000","closeTime":"2025-08-29T17:15:18+0000",
          "tag":"TA_x","accountNumber":49359741,"orderActivityCollection":[{"activityType":"EXECUTION",
          "activityId":102102029816,"executionType":"FILL","quantity":1.0,"orderRemainingQuantity":0.0,
          "executionLegs":[{"legId":1,"quantity":1.0,"mismarkedQuantity":0.0,"price":22.7299,
          "time":"2025-08-29T17:15:18+0000","instrumentId":4430271}]}]}"#).unwrap();
        let o = placed_order(&v).unwrap();
        assert_eq!(o.order_id, "1004055538153");
        assert_eq!(o.symbol, "GME");
        assert_eq!(o.shares, Decimal::from(1u64));
        match o.state {
            OrderState::Filled {
                shares,
                average_price,
                ..
            } => {
                assert_eq!(shares, Decimal::from(1u64));
                assert_eq!(average_price, Decimal::from_str("22.7299").unwrap());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn canceled_legs_are_not_averaged() {
        let v = json!({"orderActivityCollection": [
            {"activityType":"EXECUTION","executionType":"FILL","executionLegs":[{"quantity":2.0,"price":10.5}]},
            {"activityType":"EXECUTION","executionType":"CANCELED","executionLegs":[{"quantity":3.0,"price":0.0}]}
        ]});
        assert_eq!(
            fill_average(&v).unwrap().unwrap().0,
            Decimal::from_str("10.5").unwrap()
        );
    }

    #[test]
    fn closed_day_shape_parses() {
        let v: Value = serde_json::from_str(
            r#"{ "equity": { "equity": { "date": "2024-05-18", "marketType": "EQUITY", "product": "equity", "isOpen": false } } }"#,
        ).unwrap();
        assert_eq!(
            day_hours(&v).unwrap(),
            DayHours {
                is_open: false,
                regular: None
            }
        );
    }

    #[test]
    fn error_bodies_of_every_shape() {
        assert_eq!(
            error_text(br#"{"message":"Invalid account number"}"#),
            "Invalid account number"
        );
        assert_eq!(
            error_text(br#"{"errors":[{"id":"x","status":401,"title":"Unauthorized","detail":"Client not authorized"}]}"#),
            "Client not authorized"
        );
        assert_eq!(
            error_text(b"<HTML>Access Denied</HTML>"),
            "an HTML page (gateway)"
        );
        // Found by the property tests: an empty message said nothing.
        assert_eq!(
            error_text(br#"{"message":"","error":"invalid_grant"}"#),
            "invalid_grant"
        );
        assert_eq!(
            error_text(br#"{"message":" "}"#),
            "an unrecognised error body"
        );
        assert_eq!(
            error_text(br#"{"errors":[]}"#),
            "an unrecognised error body"
        );
        assert_eq!(error_text(br#"{"errors":[""]}"#), "error");
    }
}
