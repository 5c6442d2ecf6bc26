//! The hedge's size and exposure guards: a need above `max_order_shares`
//! goes in orders of that size, one after another; a symbol past
//! `max_exposure_shares` is not hedged but alarmed about, once, and
//! resumes once back under the limit; the same over all symbols together
//! with `max_total_exposure_shares`.

use super::*;
use crate::strategy::equity_hedge::keeper::HedgePolicy;
use crate::strategy::equity_hedge::pipeline::HedgeLimits;

fn limited(r: &mut Rig, max_order_shares: u64, max_exposure_shares: u64) {
    limited_in_all(r, max_order_shares, max_exposure_shares, None);
}

fn limited_in_all(
    r: &mut Rig,
    max_order_shares: u64,
    max_exposure_shares: u64,
    max_total_exposure_shares: Option<u64>,
) {
    r.hedge = keeper(r.broker.clone(), r.logs.clone(), r.tokens.clone()).with_policy(HedgePolicy {
        limits: HedgeLimits {
            max_order_shares,
            max_exposure_shares,
            max_total_exposure_shares,
            ..HedgeLimits::default()
        },
        ..HedgePolicy::default()
    });
}

#[tokio::test(flavor = "current_thread")]
async fn a_large_need_is_hedged_in_orders_of_at_most_max_order_shares() {
    let mut r = Rig::new(OPEN);
    limited(&mut r, 2, 100);
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "5.5"))], 10);
    for _ in 0..4 {
        r.pass().await;
    }
    let shares: Vec<Decimal> = r
        .broker
        .orders()
        .unwrap()
        .iter()
        .map(|o| o.shares)
        .collect();
    assert_eq!(
        shares,
        vec![d("2"), d("2"), d("1")],
        "5 whole shares in orders of 2 at most"
    );
    assert_eq!(r.position("AAPL").net(), d("0.5"));
}

#[tokio::test(flavor = "current_thread")]
async fn exposure_past_the_limit_holds_the_symbol_with_one_alarm_until_it_is_back_under() {
    let mut r = Rig::new(OPEN);
    limited(&mut r, 1_000, 5);
    let mut rx = r.notices.subscribe();
    r.logs.push(vec![added(fill(10, "0xa1", 0, true, "7"))], 10);
    for _ in 0..3 {
        r.pass().await;
    }
    assert_eq!(r.broker.places(), 0, "nothing sent past the limit");
    let alarms: Vec<String> = r
        .hedge
        .records()
        .alerts
        .iter()
        .map(|a| a.message.clone())
        .filter(|m| m.contains("max_exposure_shares"))
        .collect();
    assert_eq!(alarms.len(), 1, "told once, not every pass: {alarms:?}");
    assert!(
        alarms[0].contains("hedging AAPL held: 7 shares uncovered"),
        "{alarms:?}"
    );
    let mut told = 0;
    while let Ok(n) = rx.try_recv() {
        if format!("{n:?}").contains("max_exposure_shares") {
            told += 1;
        }
    }
    assert_eq!(told, 1, "one notice (webhooks carry it)");
    assert!(r.position("AAPL").held.is_some());
    // Sold onchain back to 4: under the limit, hedged again.
    r.logs
        .push(vec![added(fill(11, "0xa2", 0, false, "3"))], 11);
    r.pass().await;
    let orders = r.broker.orders().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(
        (orders[0].side, orders[0].shares),
        (OrderSide::Sell, d("4"))
    );
    assert!(r.position("AAPL").held.is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn exposure_over_all_symbols_past_the_total_limit_holds_the_next_decision() {
    let mut r = Rig::new(OPEN);
    limited_in_all(&mut r, 1_000, 100, Some(5));
    // Under the total: each fill is hedged as it comes (3, then 2 of 2.5).
    r.logs.push(
        vec![
            added(fill(10, "0xa1", 0, true, "3")),
            added(fill_of("NVDA0x", 10, "0xa2", 0, true, "2.5")),
        ],
        10,
    );
    r.pass().await;
    assert_eq!(r.broker.places(), 2, "never over 5 in all: both hedged");
    // Over it: 4 AAPL and 2.5 NVDA come while the market is closed; when
    // it opens, 6.5 are uncovered in all.
    let mut r = Rig::new(CLOSED);
    limited_in_all(&mut r, 1_000, 100, Some(5));
    let mut rx = r.notices.subscribe();
    r.logs.push(
        vec![
            added(fill(10, "0xa1", 0, true, "4")),
            added(fill_of("NVDA0x", 10, "0xa2", 0, true, "2.5")),
        ],
        10,
    );
    r.pass().await;
    r.clock.advance(17 * HOUR);
    for _ in 0..3 {
        r.pass().await;
    }
    assert_eq!(
        r.broker.places(),
        0,
        "6.5 uncovered in all, over 5: nothing sent"
    );
    let alarms: Vec<String> = r
        .hedge
        .records()
        .alerts
        .iter()
        .map(|a| a.message.clone())
        .filter(|m| m.contains("max_total_exposure_shares 5"))
        .collect();
    assert_eq!(alarms.len(), 2, "once per held symbol: {alarms:?}");
    assert!(
        alarms
            .iter()
            .any(|m| m.contains("6.5 shares uncovered over all symbols")),
        "{alarms:?}"
    );
    let told = std::iter::from_fn(|| rx.try_recv().ok())
        .filter(|n| format!("{n:?}").contains("max_total_exposure_shares"))
        .count();
    assert_eq!(told, 2, "one notice per held symbol");
    // NVDA sold back onchain: 4 in all, under 5 — AAPL is hedged.
    r.logs.push(
        vec![added(fill_of("NVDA0x", 11, "0xa3", 0, false, "2.5"))],
        11,
    );
    r.pass().await;
    let orders = r.broker.orders().unwrap();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(
        (orders[0].symbol.as_str(), orders[0].shares),
        ("AAPL", d("4"))
    );
}
