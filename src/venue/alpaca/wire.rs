//! The Broker API's JSON, read strictly: an order (`id`, `client_order_id`,
//! `symbol`, `side`, `qty`, `filled_qty`, `filled_avg_price`, `status`,
//! `created_at`, `filled_at`), a position (`symbol`, `qty`, `side`,
//! `qty_available`), the market clock (`is_open`, `next_open`,
//! `next_close`), a calendar day (`date`, `open`, `close`, `session_open`,
//! `session_close`, New York times), the account's `status`, `cash` and
//! `non_marginable_buying_power`; and the order bodies sent (a market
//! order, or an extended-hours day limit order with its price bound). Quantities and prices come as decimal strings (or numbers);
//! a field that is missing, of the wrong shape or out of range is named in
//! the error, never guessed.

use crate::model::Timestamp;
use crate::venue::broker::{
    BrokerPosition, Funds, MarketHours, OrderRequest, OrderSide, OrderState, PlacedOrder,
};
use crate::venue::schwab::clock_text::{new_york_instant, parse_date, parse_time};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};
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

/// A quantity of shares: not negative (fractional where the account
/// trades them).
fn quantity(d: Decimal, name: &str) -> Result<Decimal, String> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(format!("`{name}` {d} is negative"));
    }
    Ok(d.normalize())
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
    let shares = quantity(decimal(v, "qty")?, "qty")?;
    let filled = match optional_decimal(v, "filled_qty")? {
        Some(d) => quantity(d, "filled_qty")?,
        None => Decimal::ZERO,
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
        extended: false,
    })
}

/// The account's status (`ACTIVE` trades).
pub fn account_status(v: &Value) -> Result<String, String> {
    text(v, "status").map(str::to_string)
}

/// What the account can trade with now: the lower of `cash` and
/// `non_marginable_buying_power` (settled cash, no margin: both must be
/// there), and each long position's `qty_available` (shares not held by
/// open orders); a short position has none to sell.
pub fn funds(account: &Value, positions: &Value) -> Result<Funds, String> {
    let cash = decimal(account, "cash")?;
    let non_margin = decimal(account, "non_marginable_buying_power")?;
    let mut out = Funds {
        buying_power: cash.min(non_margin).max(Decimal::ZERO),
        ..Funds::default()
    };
    let list = positions.as_array().ok_or("the positions are not a list")?;
    for (i, p) in list.iter().enumerate() {
        let at = |e: String| format!("position {i}: {e}");
        let symbol = text(p, "symbol").map_err(at)?.to_string();
        let available = decimal(p, "qty_available").map_err(at)?;
        let short = p.get("side").and_then(Value::as_str) == Some("short");
        if !short && available > Decimal::ZERO {
            out.sellable.insert(symbol, available);
        }
    }
    Ok(out)
}

/// A trading session as the calendar and the clock tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    Regular,
    /// Pre-market or after-hours, until this instant.
    Extended {
        until: Timestamp,
    },
    Closed,
}

fn new_york_time(v: &Value, name: &str, day: i64) -> Result<Timestamp, String> {
    let t = text(v, name)?;
    let digits: String = t.chars().filter(|c| *c != ':').collect();
    let parsed = (digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| {
        (
            digits[..2].parse::<u64>().ok(),
            digits[2..].parse::<u64>().ok(),
        )
    });
    match parsed {
        Some((Some(h), Some(m))) if h <= 24 && m < 60 => Ok(new_york_instant(day, h, m)),
        _ => Err(format!("`{name}` {t:?} is not a New York time (HH:MM)")),
    }
}

/// The session at `now` from the clock's `is_open` and the calendar's
/// entries (the one for `now`'s New York date, if any): extended between
/// `session_open` and `open`, and between `close` and `session_close`.
pub fn session(
    is_open: bool,
    calendar: &Value,
    today: i64,
    now: Timestamp,
) -> Result<Session, String> {
    if is_open {
        return Ok(Session::Regular);
    }
    let days = calendar.as_array().ok_or("the calendar is not a list")?;
    for d in days {
        let date = text(d, "date")?;
        if parse_date(date) != Some(today) {
            continue;
        }
        let start = new_york_time(d, "session_open", today)?;
        let open = new_york_time(d, "open", today)?;
        let close = new_york_time(d, "close", today)?;
        let end = new_york_time(d, "session_close", today)?;
        if !(start <= open && open <= close && close <= end) {
            return Err(format!("calendar {date}: sessions out of order"));
        }
        if now >= start && now < open {
            return Ok(Session::Extended { until: open });
        }
        if now >= close && now < end {
            return Ok(Session::Extended { until: end });
        }
    }
    Ok(Session::Closed)
}

/// An extended-hours limit price: `reference` moved by `bps` against us (a
/// buy's up, a sell's down) and rounded to the cent towards the reference,
/// so the order never pays more (buy) or takes less (sell) than the bound.
pub fn limit_price(reference: Decimal, side: OrderSide, bps: u32) -> Result<Decimal, String> {
    if reference <= Decimal::ZERO {
        return Err(format!("reference price {reference} is not a price"));
    }
    let step = Decimal::from(bps)
        .checked_div(Decimal::from(10_000))
        .ok_or("slippage does not fit")?;
    let factor = match side {
        OrderSide::Buy => Decimal::ONE.checked_add(step),
        OrderSide::Sell => Decimal::ONE.checked_sub(step),
    }
    .ok_or("slippage does not fit")?;
    let bound = reference
        .checked_mul(factor)
        .ok_or_else(|| format!("reference price {reference} too large"))?;
    let rounding = match side {
        OrderSide::Buy => RoundingStrategy::ToZero,
        OrderSide::Sell => RoundingStrategy::AwayFromZero,
    };
    let price = bound.round_dp_with_strategy(2, rounding);
    if price <= Decimal::ZERO {
        return Err(format!("limit price {price} is not a price"));
    }
    Ok(price)
}

fn side_text(side: OrderSide) -> &'static str {
    match side {
        OrderSide::Buy => "buy",
        OrderSide::Sell => "sell",
    }
}

/// A market DAY order for the request's whole shares.
pub fn market_order(order: &OrderRequest) -> Value {
    json!({
        "symbol": order.symbol,
        "qty": order.shares.normalize().to_string(),
        "side": side_text(order.side),
        "type": "market",
        "time_in_force": "day",
        "client_order_id": order.client_id,
    })
}

/// An extended-hours order: limit, DAY, `extended_hours: true`.
pub fn extended_hours_order(order: &OrderRequest, limit: Decimal) -> Value {
    json!({
        "symbol": order.symbol,
        "qty": order.shares.normalize().to_string(),
        "side": side_text(order.side),
        "type": "limit",
        "time_in_force": "day",
        "limit_price": limit.to_string(),
        "extended_hours": true,
        "client_order_id": order.client_id,
    })
}

/// Whether a quantity may be sent: whole, or fractional on an account that
/// allows it; never zero or negative.
pub fn check_qty(qty: Decimal, fractional: bool) -> Result<(), String> {
    if qty <= Decimal::ZERO {
        return Err(format!("qty {qty} must be above 0"));
    }
    if !qty.fract().is_zero() && !fractional {
        return Err(format!(
            "qty {qty} is fractional and the account does not allow fractional orders (alpaca.fractional)"
        ));
    }
    Ok(())
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
            ("AAPL", OrderSide::Sell, Decimal::from(2u64))
        );
        assert!(matches!(
            o.state,
            OrderState::Filled { shares, average_price, .. } if shares.eq(&Decimal::from(2u64)) && average_price == Decimal::new(200125, 3)
        ));
        let mut working = filled();
        working["status"] = json!("partially_filled");
        working["filled_qty"] = json!(1);
        assert_eq!(
            order(&working).unwrap().state,
            OrderState::Working {
                filled_shares: Decimal::from(1u64)
            }
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

    #[test]
    fn funds_are_the_lower_cash_and_the_available_shares() {
        let account = json!({"status": "ACTIVE", "cash": "1000.50",
            "non_marginable_buying_power": "800.25", "buying_power": "4000"});
        let positions = json!([
            {"symbol": "AAPL", "qty": "10", "qty_available": "7", "side": "long"},
            {"symbol": "TSLA", "qty": "5", "qty_available": "5", "side": "short"}]);
        let f = funds(&account, &positions).unwrap();
        assert_eq!(f.buying_power, Decimal::new(80025, 2));
        assert_eq!(f.sellable("AAPL"), Decimal::from(7));
        assert_eq!(f.sellable("TSLA"), Decimal::ZERO);
        assert_eq!(f.sellable("MSFT"), Decimal::ZERO);
        let mut no_nm = account.clone();
        no_nm
            .as_object_mut()
            .unwrap()
            .remove("non_marginable_buying_power");
        assert!(
            funds(&no_nm, &positions)
                .unwrap_err()
                .contains("non_marginable")
        );
        let cut = json!([{"symbol": "AAPL", "qty": "10", "side": "long"}]);
        assert!(funds(&account, &cut).unwrap_err().contains("qty_available"));
    }

    #[test]
    fn limit_prices_are_bounded_towards_the_reference() {
        let r = Decimal::new(200_125, 3); // 200.125
        // Buy: 200.125 × 1.005 = 201.125625 → down to 201.12 (never above the bound).
        assert_eq!(
            limit_price(r, OrderSide::Buy, 50).unwrap(),
            Decimal::new(20112, 2)
        );
        // Sell: 200.125 × 0.995 = 199.124375 → up to 199.13 (never below).
        assert_eq!(
            limit_price(r, OrderSide::Sell, 50).unwrap(),
            Decimal::new(19913, 2)
        );
        assert_eq!(
            limit_price(Decimal::from(100), OrderSide::Buy, 1000).unwrap(),
            Decimal::from(110)
        );
        assert!(limit_price(Decimal::ZERO, OrderSide::Buy, 50).is_err());
        assert!(limit_price(Decimal::MAX, OrderSide::Buy, 50).is_err());
    }

    #[test]
    fn sessions_come_from_the_clock_and_the_calendar() {
        // 2024-07-01 (a Monday), EDT: 04:00 = 08:00Z, 09:30 = 13:30Z, 16:00 = 20:00Z, 20:00 = 00:00Z.
        let day = parse_date("2024-07-01").unwrap();
        let cal = json!([{"date": "2024-07-01", "open": "09:30", "close": "16:00",
            "session_open": "0400", "session_close": "2000"}]);
        let at = |t: &str| parse_time(t).unwrap();
        assert_eq!(
            session(false, &cal, day, at("2024-07-01T12:00:00Z")).unwrap(),
            Session::Extended {
                until: at("2024-07-01T13:30:00Z")
            }
        );
        assert_eq!(
            session(false, &cal, day, at("2024-07-01T21:00:00Z")).unwrap(),
            Session::Extended {
                until: at("2024-07-02T00:00:00Z")
            }
        );
        assert_eq!(
            session(false, &cal, day, at("2024-07-01T07:59:00Z")).unwrap(),
            Session::Closed
        );
        assert_eq!(
            session(true, &cal, day, at("2024-07-01T14:00:00Z")).unwrap(),
            Session::Regular
        );
        // A holiday: no entry for the day.
        assert_eq!(
            session(false, &json!([]), day, at("2024-07-01T12:00:00Z")).unwrap(),
            Session::Closed
        );
        let bad = json!([{"date": "2024-07-01", "open": "9.30", "close": "16:00",
            "session_open": "0400", "session_close": "2000"}]);
        assert!(
            session(false, &bad, day, at("2024-07-01T12:00:00Z"))
                .unwrap_err()
                .contains("open")
        );
    }

    #[test]
    fn bodies_carry_what_alpaca_requires() {
        let req = OrderRequest {
            client_id: "hedge-1".into(),
            symbol: "AAPL".into(),
            side: OrderSide::Buy,
            shares: Decimal::from(3u64),
            committed_at: 0,
        };
        let m = market_order(&req);
        assert_eq!(
            (m["type"].as_str(), m["qty"].as_str()),
            (Some("market"), Some("3"))
        );
        assert!(m.get("extended_hours").is_none());
        let l = extended_hours_order(&req, Decimal::new(20112, 2));
        assert_eq!(
            (
                l["type"].as_str(),
                l["time_in_force"].as_str(),
                l["limit_price"].as_str()
            ),
            (Some("limit"), Some("day"), Some("201.12"))
        );
        assert_eq!(l["extended_hours"], json!(true));
        assert!(
            check_qty(Decimal::new(15, 1), false)
                .unwrap_err()
                .contains("fractional")
        );
        assert!(check_qty(Decimal::new(15, 1), true).is_ok());
        assert!(check_qty(Decimal::ZERO, true).is_err());
        assert!(check_qty(Decimal::from(2), false).is_ok());
    }
}
