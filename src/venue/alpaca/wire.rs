//! The Broker API's JSON, read strictly: an order (`id`, `client_order_id`,
//! `symbol`, `side`, `qty`, `filled_qty`, `filled_avg_price`, `status`,
//! `created_at`, `filled_at`), a position (`symbol`, `qty`, `side`), the
//! market clock (`is_open`, `next_open`, `next_close`) and the account's
//! `status`. Quantities and prices come as decimal strings (or numbers);
//! a field that is missing, of the wrong shape or out of range is named in
//! the error, never guessed.

use crate::model::Timestamp;
use crate::venue::broker::{BrokerPosition, MarketHours, OrderSide, OrderState, PlacedOrder};
use crate::venue::schwab::clock_text::parse_time;
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name)
        .filter(|x| !x.is_null())
        .ok_or_else(|| format!("no `{name}`"))
}

fn text<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    field(v, name)?
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("`{name}` is not a non-empty string"))
}

/// A decimal given as a string ("12.5") or a JSON number.
fn decimal(v: &Value, name: &str) -> Result<Decimal, String> {
    let parsed = match field(v, name)? {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    };
    parsed.ok_or_else(|| format!("`{name}` is not a decimal"))
}

fn optional_decimal(v: &Value, name: &str) -> Result<Option<Decimal>, String> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => decimal(v, name).map(Some),
    }
}

fn time(v: &Value, name: &str) -> Result<Timestamp, String> {
    let t = text(v, name)?;
    parse_time(t).ok_or_else(|| format!("`{name}` {t:?} is not an RFC 3339 time"))
}

/// Whole, non-negative shares.
fn whole(d: Decimal, name: &str) -> Result<u64, String> {
    if d.is_sign_negative() || !d.fract().is_zero() {
        return Err(format!("`{name}` {d} is not a whole number of shares"));
    }
    u64::try_from(d).map_err(|_| format!("`{name}` {d} is too large"))
}

/// The client order id the broker echoes (ours).
pub fn client_order_id(v: &Value) -> Result<String, String> {
    text(v, "client_order_id").map(str::to_string)
}

/// An order, as the hedge sees it.
pub fn order(v: &Value) -> Result<PlacedOrder, String> {
    let side = match text(v, "side")? {
        "buy" => OrderSide::Buy,
        "sell" => OrderSide::Sell,
        other => return Err(format!("`side` {other:?} is neither buy nor sell")),
    };
    let shares = whole(decimal(v, "qty")?, "qty")?;
    let filled = match optional_decimal(v, "filled_qty")? {
        Some(d) => whole(d, "filled_qty")?,
        None => 0,
    };
    if filled > shares {
        return Err(format!("`filled_qty` {filled} is over `qty` {shares}"));
    }
    let status = text(v, "status")?;
    let state = match status {
        "new"
        | "pending_new"
        | "accepted"
        | "accepted_for_bidding"
        | "partially_filled"
        | "calculated"
        | "pending_cancel"
        | "pending_replace"
        | "done_for_day"
        | "stopped"
        | "suspended"
        | "held" => OrderState::Working {
            filled_shares: filled,
        },
        "filled" => {
            if filled != shares {
                return Err(format!("filled with `filled_qty` {filled} of {shares}"));
            }
            let average_price = decimal(v, "filled_avg_price")?;
            if average_price <= Decimal::ZERO {
                return Err(format!("`filled_avg_price` {average_price} is not a price"));
            }
            OrderState::Filled {
                shares,
                average_price,
                filled_at: time(v, "filled_at")?,
            }
        }
        "canceled" | "expired" | "rejected" => OrderState::Rejected {
            reason: status.to_string(),
            filled_shares: filled,
        },
        other => return Err(format!("`status` {other:?} is not one the hedge knows")),
    };
    Ok(PlacedOrder {
        order_id: text(v, "id")?.to_string(),
        symbol: text(v, "symbol")?.to_string(),
        side,
        shares,
        entered_at: time(v, "created_at")?,
        state,
    })
}

/// All positions; a short one has a negative quantity.
pub fn positions(v: &Value) -> Result<Vec<BrokerPosition>, String> {
    let list = v.as_array().ok_or("the positions are not a list")?;
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let at = |e: String| format!("position {i}: {e}");
            let qty = decimal(p, "qty").map_err(at)?;
            let quantity = match p.get("side").and_then(Value::as_str) {
                Some("short") if qty.is_sign_positive() => -qty,
                _ => qty,
            };
            Ok(BrokerPosition {
                symbol: text(p, "symbol").map_err(at)?.to_string(),
                quantity,
            })
        })
        .collect()
}

/// The market clock: open now, and the next close (open) or open (closed).
pub fn clock(v: &Value) -> Result<MarketHours, String> {
    let open_now = field(v, "is_open")?
        .as_bool()
        .ok_or("`is_open` is not a boolean")?;
    let next = if open_now { "next_close" } else { "next_open" };
    Ok(MarketHours {
        open_now,
        next_change: Some(time(v, next)?),
    })
}

/// The account's status (`ACTIVE` trades).
pub fn account_status(v: &Value) -> Result<String, String> {
    text(v, "status").map(str::to_string)
}

/// The message of an error body (`{"code": …, "message": …}`).
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("message").and_then(Value::as_str).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filled() -> Value {
        json!({"id": "61e69015-8549-4bfd-b9c3-01e75843f47d", "client_order_id": "hedge-7",
            "symbol": "AAPL", "side": "sell", "qty": "2", "filled_qty": "2",
            "filled_avg_price": "200.125", "status": "filled", "type": "market",
            "created_at": "2024-07-01T14:00:01.123456Z", "filled_at": "2024-07-01T14:00:02Z"})
    }

    #[test]
    fn an_order_reads_as_the_hedge_needs_it() {
        let o = order(&filled()).unwrap();
        assert_eq!(
            (o.symbol.as_str(), o.side, o.shares),
            ("AAPL", OrderSide::Sell, 2)
        );
        assert!(matches!(
            o.state,
            OrderState::Filled { shares: 2, average_price, .. } if average_price == Decimal::new(200125, 3)
        ));
        let mut working = filled();
        working["status"] = json!("partially_filled");
        working["filled_qty"] = json!(1);
        assert_eq!(
            order(&working).unwrap().state,
            OrderState::Working { filled_shares: 1 }
        );
        let mut rejected = filled();
        rejected["status"] = json!("rejected");
        rejected["filled_qty"] = json!("0");
        assert!(matches!(
            order(&rejected).unwrap().state,
            OrderState::Rejected { .. }
        ));
    }

    #[test]
    fn a_bad_field_is_named_never_guessed() {
        for (name, bad, says) in [
            ("qty", json!("1.5"), "qty"),
            ("qty", json!(-1), "qty"),
            ("side", json!("short"), "side"),
            ("status", json!("teleported"), "status"),
            ("created_at", json!("yesterday"), "created_at"),
            ("filled_qty", json!("3"), "filled_qty"),
            ("filled_avg_price", json!("0"), "filled_avg_price"),
            ("id", json!(""), "id"),
        ] {
            let mut v = filled();
            v[name] = bad;
            let e = order(&v).unwrap_err();
            assert!(e.contains(says), "{name}: {e}");
        }
        assert!(positions(&json!({"not": "a list"})).is_err());
        let p = positions(&json!([{"symbol": "TSLA", "qty": "5", "side": "short"},
            {"symbol": "AAPL", "qty": "1.5", "side": "long"}]))
        .unwrap();
        assert_eq!(p[0].quantity, Decimal::from(-5));
        assert_eq!(p[1].quantity, Decimal::new(15, 1));
        let c = clock(
            &json!({"is_open": false, "next_open": "2024-07-01T09:30:00-04:00",
            "next_close": "2024-07-01T16:00:00-04:00"}),
        )
        .unwrap();
        assert!(!c.open_now);
        assert_eq!(c.next_change, parse_time("2024-07-01T13:30:00Z"));
    }
}
