//! Property tests of Schwab's JSON readers (`wire`) and time text
//! (`clock_text`) against hostile answers: arbitrary JSON values, and real
//! answers (an order, an order list, positions, account numbers, market
//! hours, token and error bodies) with their leaves replaced by arbitrary
//! values — huge, negative, fractional, of the wrong type. Nothing may
//! panic; an order that cannot be read is an error that says why.
//!
//! Bounded and seeded: `PROPTEST_CASES` sets the cases per property (512
//! by default), `PROPTEST_RNG_SEED` the seed.

use super::clock_text::{parse_date, parse_time};
use super::wire::{
    AccountNumberHash, TokenResponse, day_hours, decimal, error_text, fill_average, order_identity,
    placed_order, positions,
};
use crate::venue::broker::OrderState;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5C_4A_B0);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Numbers at and past every edge a decimal has, as JSON numbers and as text.
fn edgy_number() -> impl Strategy<Value = Value> {
    let texts = prop::sample::select(vec![
        "0",
        "-0",
        "1",
        "-1",
        "0.000000000000000000000000000001",
        "79228162514264337593543950335",
        "79228162514264337593543950336",
        "-79228162514264337593543950335",
        "7.9228162514264337593543950335e28",
        "1e28",
        "1e29",
        "1e300",
        "-1e300",
        "1e-300",
        "1.5e-7",
        "18446744073709551615",
        "18446744073709551616",
        "9223372036854775808",
        "123456789012345678901234567890.123456789",
        "22.7299",
    ]);
    prop_oneof![
        texts
            .clone()
            .prop_filter_map("a JSON number", |t| serde_json::from_str::<Value>(t).ok()),
        texts.prop_map(|t| Value::String(t.to_string())),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "-?[0-9]{0,32}(\\.[0-9]{0,32})?(e-?[0-9]{1,4})?".prop_map(Value::String),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    let words = prop::sample::select(vec![
        "FILLED",
        "EXECUTION",
        "FILL",
        "CANCELED",
        "REJECTED",
        "WORKING",
        "BUY",
        "SELL",
        "SELL_SHORT",
        "",
        "2025-08-29T17:15:17+0000",
        "2024-07-01T09:30:00-04:00",
        "9999-12-31T23:59:59.999-23:59",
        "0000-01-01T00:00:00Z",
        "2025-13-40T99:99:99Z",
        "2025-08-29T17:15:17+",
        "2025-08-29T17:15:17.",
        "<HTML>",
    ]);
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        edgy_number(),
        words.prop_map(|w| Value::String(w.to_string())),
        ".{0,24}".prop_map(Value::String),
    ]
}

const KEYS: &[&str] = &[
    "orderId",
    "orderLegCollection",
    "instrument",
    "symbol",
    "instruction",
    "quantity",
    "filledQuantity",
    "status",
    "statusDescription",
    "enteredTime",
    "closeTime",
    "orderActivityCollection",
    "activityType",
    "executionType",
    "executionLegs",
    "price",
    "time",
    "securitiesAccount",
    "positions",
    "longQuantity",
    "shortQuantity",
    "equity",
    "EQ",
    "isOpen",
    "sessionHours",
    "regularMarket",
    "start",
    "end",
    "message",
    "errors",
    "error",
    "error_description",
    "detail",
    "title",
    "accountNumber",
    "hashValue",
    "access_token",
    "refresh_token",
    "expires_in",
];

/// Any JSON value, its object keys mostly the ones the readers look for.
fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => ".{0,8}",
    ];
    leaf().prop_recursive(5, 96, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn real_order() -> Value {
    json!({
      "session":"NORMAL","duration":"DAY","orderType":"MARKET","quantity":1.0,"filledQuantity":1.0,
      "remainingQuantity":0.0,"orderLegCollection":[{"orderLegType":"EQUITY","legId":1,
      "instrument":{"assetType":"EQUITY","cusip":"36467W109","symbol":"GME","instrumentId":4430271},
      "instruction":"BUY","positionEffect":"OPENING","quantity":1.0}],"orderStrategyType":"SINGLE",
      "orderId":1004055538153_u64,"cancelable":false,"editable":false,"status":"FILLED",
      "enteredTime":"2025-08-29T17:15:17+0000","closeTime":"2025-08-29T17:15:18+0000",
      "tag":"TA_x","accountNumber":49359741,"orderActivityCollection":[{"activityType":"EXECUTION",
      "activityId":102102029816_u64,"executionType":"FILL","quantity":1.0,"orderRemainingQuantity":0.0,
      "executionLegs":[{"legId":1,"quantity":0.4,"mismarkedQuantity":0.0,"price":22.7299,
      "time":"2025-08-29T17:15:18+0000","instrumentId":4430271},
      {"legId":1,"quantity":0.6,"price":22.73,"time":"2025-08-29T17:15:18.250+0000"}]},
      {"activityType":"EXECUTION","executionType":"CANCELED","quantity":2.0,
      "executionLegs":[{"legId":1,"quantity":2.0,"price":0.0,"time":"2025-08-29T17:15:19+0000"}]}]
    })
}

fn real_samples() -> Vec<Value> {
    let mut working = real_order();
    working["status"] = json!("WORKING");
    let mut rejected = real_order();
    rejected["status"] = json!("REJECTED");
    rejected["statusDescription"] = json!("buying power");
    vec![
        real_order(),
        json!([real_order(), working.clone(), rejected.clone()]),
        working,
        rejected,
        json!({"securitiesAccount":{"type":"MARGIN","accountNumber":"49359741","positions":[
            {"shortQuantity":0.0,"averagePrice":22.73,"longQuantity":3.0,
             "instrument":{"assetType":"EQUITY","symbol":"GME"},"marketValue":68.19},
            {"shortQuantity":2.0,"longQuantity":0.0,"instrument":{"symbol":"AAPL"}}]}}),
        json!([{"accountNumber":"12345678","hashValue":"ABC"},
               {"accountNumber":"49359741","hashValue":"E9F2"}]),
        json!({"equity":{"EQ":{"date":"2024-07-01","marketType":"EQUITY","isOpen":true,
            "sessionHours":{"preMarket":[{"start":"2024-07-01T07:00:00-04:00","end":"2024-07-01T09:30:00-04:00"}],
            "regularMarket":[{"start":"2024-07-01T09:30:00-04:00","end":"2024-07-01T16:00:00-04:00"}]}}}}),
        json!({"equity":{"equity":{"date":"2024-05-18","marketType":"EQUITY","isOpen":false}}}),
        json!({"access_token":"a","refresh_token":"r","expires_in":1800,"token_type":"Bearer"}),
        json!({"errors":[{"id":"x","status":401,"title":"Unauthorized","detail":"Client not authorized"}]}),
        json!({"error":"invalid_grant","error_description":"expired"}),
    ]
}

/// Every path to a leaf (or to an object/array, which may be replaced whole).
fn paths(v: &Value, here: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(here.clone());
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                here.push(PathStep::Index(i));
                paths(item, here, out);
                here.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                here.push(PathStep::Key(k.clone()));
                paths(item, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at_path<'a>(v: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut here = v;
    for step in path {
        here = match step {
            PathStep::Key(k) => here.get_mut(k.as_str())?,
            PathStep::Index(i) => here.get_mut(*i)?,
        };
    }
    Some(here)
}

/// A real sample with up to four of its values replaced.
fn mutated_sample() -> impl Strategy<Value = Value> {
    let samples = real_samples();
    (
        0..samples.len(),
        prop::collection::vec((any::<prop::sample::Index>(), json()), 1..5),
    )
        .prop_map(move |(which, edits)| {
            let mut v = samples[which].clone();
            for (index, replacement) in edits {
                let mut all = Vec::new();
                paths(&v, &mut Vec::new(), &mut all);
                let path = all[index.index(all.len())].clone();
                if let Some(slot) = at_path(&mut v, &path) {
                    *slot = replacement;
                }
            }
            v
        })
}

/// The readers that do arithmetic, on one value.
fn read_numbers(v: &Value) {
    let one_or_list: Vec<&Value> = match v.as_array() {
        Some(items) => items.iter().collect(),
        None => vec![v],
    };
    for o in one_or_list {
        if let Err(e) = placed_order(o) {
            assert!(!e.is_empty(), "an error says why");
        }
    }
    let _ = positions(v);
    let _ = day_hours(v);
}

/// Every reader, on one value: none may panic, and what they return holds.
fn read_everything(v: &Value) {
    let one_or_list: Vec<&Value> = match v.as_array() {
        Some(items) => items.iter().collect(),
        None => vec![v],
    };
    for o in one_or_list {
        let _ = order_identity(o);
        match fill_average(o) {
            Ok(Some((average, _))) => assert!(!average.is_sign_negative() || average.is_zero()),
            Ok(None) => {}
            Err(e) => assert!(!e.is_empty()),
        }
        match placed_order(o) {
            Ok(p) => {
                assert!(!p.order_id.is_empty());
                if let OrderState::Filled { average_price, .. } = p.state {
                    assert!(average_price >= Decimal::ZERO, "{average_price}");
                }
            }
            Err(e) => assert!(!e.is_empty(), "an error says why"),
        }
        let _ = serde_json::from_value::<AccountNumberHash>(o.clone());
    }
    let _ = serde_json::from_value::<Vec<AccountNumberHash>>(v.clone());
    let _ = serde_json::from_value::<TokenResponse>(v.clone());
    let _ = positions(v);
    match day_hours(v) {
        Ok(h) => assert!(!h.is_open || h.regular.is_some()),
        Err(e) => assert!(e.contains("market hours")),
    }
    let text = v.to_string();
    assert!(!error_text(text.as_bytes()).is_empty());
    let _ = decimal(v);
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn arbitrary_json_never_panics_a_reader(v in json()) {
        read_everything(&v);
    }

    #[test]
    fn mutated_real_answers_never_panic_a_reader(v in mutated_sample()) {
        read_everything(&v);
    }

}

proptest! {
    #![proptest_config(config(24))]

    /// Every value of every real answer, in turn, given the same hostile
    /// number (as a number or as text); then two at once.
    #[test]
    fn every_value_takes_a_hostile_number(n in edgy_number(), m in edgy_number()) {
        // The order, the list and the positions: where the numbers are.
        for sample in real_samples().into_iter().take(5) {
            let mut all = Vec::new();
            paths(&sample, &mut Vec::new(), &mut all);
            for (i, path) in all.iter().enumerate() {
                let mut v = sample.clone();
                if let Some(slot) = at_path(&mut v, path) {
                    *slot = n.clone();
                }
                read_numbers(&v);
                // And its neighbour too: sums and products of two legs.
                if let Some(next) = all.get(i + 1)
                    && let Some(slot) = at_path(&mut v, next)
                {
                    *slot = m.clone();
                    read_numbers(&v);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_give_an_error_text(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = error_text(&body);
        prop_assert!(!text.is_empty());
        prop_assert!(text.chars().count() <= 200 || serde_json::from_slice::<Value>(&body).is_ok());
    }

    #[test]
    fn time_text_never_panics(text in prop_oneof![
        ".{0,40}",
        "[0-9+-]{4}-[0-9]{2}-[0-9]{2}T[0-9+-]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9:]{0,6}|.{0,3})",
    ]) {
        let _ = parse_time(&text);
        let _ = parse_date(text.get(..10).unwrap_or(&text));
    }
}

#[test]
fn an_overflowing_fill_is_an_error_not_a_panic() {
    // Found by `every_value_takes_a_hostile_number`: a FILL leg of 7.9e28
    // shares at 22.73 overflowed the notional (`q * p`) and panicked.
    let mut v = real_order();
    v["orderActivityCollection"][0]["executionLegs"][0]["quantity"] =
        json!("79228162514264337593543950335");
    let e = placed_order(&v).expect_err("refused");
    assert!(e.contains("too large"), "{e}");
    // Two legs whose sum of quantities overflows.
    v["orderActivityCollection"][0]["executionLegs"][0]["price"] = json!(0);
    v["orderActivityCollection"][0]["executionLegs"][1]["quantity"] =
        json!("79228162514264337593543950335");
    let e = placed_order(&v).expect_err("refused");
    assert!(e.contains("too large"), "{e}");
    // A negative leg is nonsense, not an average.
    let mut v = real_order();
    v["orderActivityCollection"][0]["executionLegs"][1]["quantity"] = json!(-0.6);
    let e = placed_order(&v).expect_err("refused");
    assert!(e.contains("negative"), "{e}");
}

#[test]
fn an_overflowing_position_is_saturated_not_a_panic() {
    let v = json!({"securitiesAccount":{"positions":[{"instrument":{"symbol":"GME"},
        "longQuantity":"79228162514264337593543950335",
        "shortQuantity":"-79228162514264337593543950335"}]}});
    let p = positions(&v).expect("read");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].quantity, Decimal::MAX);
}

#[test]
fn a_position_that_cannot_be_read_is_an_error_naming_it_not_dropped_or_zero() {
    let good = json!({"instrument":{"symbol":"AAPL"},"longQuantity":3.0,"shortQuantity":0.0});
    let account = |positions: Value| json!({"securitiesAccount":{"positions":positions}});
    assert_eq!(
        positions(&account(json!([good.clone()]))).expect("read")[0].quantity,
        Decimal::from(3)
    );
    // No list at all: an account without positions.
    assert_eq!(positions(&json!({"securitiesAccount":{}})), Ok(Vec::new()));
    let cases = [
        (
            json!([good.clone(), {"instrument":{"assetType":"EQUITY"},"longQuantity":2.0,"shortQuantity":0.0}]),
            "position 1 has no instrument symbol",
        ),
        (
            json!([{"instrument":{"symbol":"TSLA"},"longQuantity":"lots","shortQuantity":0.0}]),
            "position 0 (TSLA) has an unreadable longQuantity",
        ),
        (
            json!([{"instrument":{"symbol":"TSLA"},"longQuantity":1.0}]),
            "position 0 (TSLA) has no shortQuantity",
        ),
    ];
    for (list, why) in cases {
        assert_eq!(positions(&account(list)), Err(why.to_string()));
    }
    assert!(positions(&account(json!({"AAPL": 3}))).is_err());
    assert!(positions(&json!("positions")).is_err());
}
