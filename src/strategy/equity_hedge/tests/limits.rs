//! The hedge's size and exposure guards: a need above `max_order_shares`
//! goes in orders of that size, one after another; a symbol past
//! `max_exposure_shares` is not hedged but alarmed about, once, and
//! resumes once back under the limit.

use super::*;
use crate::strategy::equity_hedge::keeper::HedgePolicy;
use crate::strategy::equity_hedge::pipeline::HedgeLimits;

fn limited(r: &mut Rig, max_order_shares: u64, max_exposure_shares: u64) {
    r.hedge = keeper(r.broker.clone(), r.logs.clone(), r.tokens.clone()).with_policy(HedgePolicy {
        limits: HedgeLimits {
            max_order_shares,
            max_exposure_shares,
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
    let shares: Vec<u64> = r
        .broker
        .orders()
        .unwrap()
        .iter()
        .map(|o| o.shares)
        .collect();
    assert_eq!(
        shares,
        vec![2, 2, 1],
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
    assert_eq!((orders[0].side, orders[0].shares), (OrderSide::Sell, 4));
    assert!(r.position("AAPL").held.is_none());
}
