//! The equity hedge keeper against the fake Schwab when Schwab is unkind:
//! every fault of the place path (before and after acting), listing lag
//! longer than one pass, seeded faults on every POST, and the operator's
//! settle, retry and drop. Each run goes through the listing window and
//! checks: exactly one order POST at the fake per hedge, no fill skipped,
//! the fake's position equal to the hedge's books, OUTCOME UNKNOWN in
//! `snapshot.intents` while unknown, and filled once listed.

mod rig;

use super::{World, dec, monday_open, world_with};
use arbkeep::engine::{IntentState, Resolution};
use arbkeep::fakes::schwab::{Fault, FaultRoute, OrderReply, PlaceFault};
use arbkeep::model::time::{MINUTE, SECOND};
use arbkeep::strategy::equity_hedge::HedgePolicy;
use arbkeep::strategy::equity_hedge::book::ExecState;
use rig::{Desk, PASS, WINDOW, bought};
use rust_decimal::Decimal;
use std::time::Duration;

async fn desk(policy: HedgePolicy) -> Desk {
    // Short request timeouts: a POST answered late times out (the peer acted).
    let World {
        clock,
        fake,
        dir,
        broker,
    } = world_with(monday_open(), |c| c.request_timeout_ms = 1_000).await;
    Desk::new(clock, fake, broker, dir, policy)
}

/// Every fault of the place path, and an answer that comes too late.
fn place_faults() -> Vec<PlaceFault> {
    let mut all = PlaceFault::all();
    all.push(PlaceFault::After(OrderReply::Delay(Duration::from_millis(
        2_000,
    ))));
    all
}

#[tokio::test]
async fn the_peer_acted_and_the_answer_never_came_while_the_listing_lags_longer_than_a_pass() {
    let mut d = desk(HedgePolicy::default()).await;
    // The order is taken, the answer is lost, and the orders list leaves it
    // out for 2 minutes and 5 list calls: several passes see "absent".
    d.fake.set_listing_lag(2 * MINUTE, 5);
    d.fake.next_order_reply(OrderReply::DropAfterAccept);
    d.feed.push(bought("tAAPL", 10, "1.5"));
    d.pass().await;
    assert_eq!(d.fake.order_posts(), 1);
    let mut unknown_passes = 0;
    for _ in 0..30 {
        if let Some((state, doing)) = d.intent("h1") {
            assert_eq!(state, IntentState::OutcomeUnknown, "{doing}");
            assert!(doing.contains("looking for it at schwab until"), "{doing}");
            assert!(matches!(d.state(1), ExecState::OutcomeUnknown { .. }));
            unknown_passes += 1;
        }
        d.clock.advance(PASS);
        d.pass().await;
        assert_eq!(d.fake.order_posts(), 1, "never POSTed again");
    }
    assert!(unknown_passes >= 4, "unknown over {unknown_passes} passes");
    assert!(
        matches!(d.state(1), ExecState::Filled { shares, .. } if shares.eq(&Decimal::from(1u64))),
        "{:?}",
        d.state(1)
    );
    assert_eq!(d.intent("h1"), None, "settled: no longer an open intent");
    assert_eq!(d.fake.orders().len(), 1);
    assert_eq!(d.at_broker("AAPL").await, Decimal::from(-1));
    assert_eq!(d.hedged("AAPL"), d.at_broker("AAPL").await);
    assert_eq!(d.net("AAPL"), dec("0.5"));
}

#[tokio::test]
async fn every_place_fault_posts_once_per_hedge_and_settles_by_looking_through_the_window() {
    for fault in place_faults() {
        let mut d = desk(HedgePolicy::default()).await;
        d.fake.set_listing_lag(90 * SECOND, 3);
        let acted = matches!(fault, PlaceFault::After(_));
        match fault.clone() {
            PlaceFault::Before(f) => d.fake.fail_next(FaultRoute::PlaceOrder, f),
            PlaceFault::After(r) => d.fake.next_order_reply(r),
        }
        d.feed.push(bought("tAAPL", 10, "1.5"));
        d.pass().await;
        let (state, doing) = d.intent("h1").expect("listed while unknown");
        assert_eq!(state, IntentState::OutcomeUnknown, "{fault:?}: {doing}");
        // A second fill while h1 is unknown: recorded, not hedged (one in
        // flight per symbol), never skipped.
        d.feed.push(bought("tAAPL", 11, "1.0"));
        d.run_for(WINDOW + 2 * MINUTE, PASS).await;
        assert_eq!(
            d.hedge.records().trade_count,
            2,
            "{fault:?}: no fill skipped"
        );
        if acted {
            assert!(
                matches!(d.state(1), ExecState::Filled { shares, .. } if shares.eq(&Decimal::from(1u64))),
                "{fault:?}: {:?}",
                d.state(1)
            );
            // h1 filled, then h2 hedged the next whole share: two POSTs, two hedges.
            assert_eq!(d.fake.order_posts(), 2, "{fault:?}: one POST per hedge");
            assert_eq!(d.at_broker("AAPL").await, Decimal::from(-2), "{fault:?}");
        } else {
            // Nothing was placed: still unknown after the window, waiting
            // for the operator, nothing POSTed again.
            let (state, doing) = d.intent("h1").expect("still open");
            assert_eq!(state, IntentState::OutcomeUnknown, "{fault:?}");
            assert!(
                doing.contains("after the listing window"),
                "{fault:?}: {doing}"
            );
            assert!(
                d.snapshot()
                    .intents
                    .iter()
                    .any(|i| i.id == "h1" && i.awaits_operator),
                "{fault:?}: listed as awaiting the operator (a drain does not wait for it)"
            );
            assert_eq!(d.fake.order_posts(), 1, "{fault:?}: one POST");
            assert_eq!(d.at_broker("AAPL").await, Decimal::ZERO, "{fault:?}");
        }
        assert_eq!(d.hedged("AAPL"), d.at_broker("AAPL").await, "{fault:?}");
        let total = d.net("AAPL")
            + d.hedge.records().positions[0].hedged_shares
            + d.hedge.records().positions[0].pending_shares;
        assert_eq!(total, dec("2.5"), "{fault:?}: every share accounted for");
    }
}

#[tokio::test]
async fn the_operators_retry_after_the_window_places_exactly_one_more_order_and_drop_gives_the_shares_back()
 {
    let mut d = desk(HedgePolicy::default()).await;
    d.fake.set_listing_lag(MINUTE, 2);
    // h1: refused with a 503 before anything was recorded; its outcome is unknown.
    d.fake.fail_next(FaultRoute::PlaceOrder, Fault::Status(503));
    d.feed.push(bought("tAAPL", 10, "1.5"));
    d.pass().await;
    // h2: the connection drops before Schwab acts.
    d.fake.fail_next(FaultRoute::PlaceOrder, Fault::Drop);
    d.feed.push(bought("NVDA0x", 11, "2.25"));
    d.pass().await;
    assert_eq!(d.fake.order_posts(), 2);
    // Retry is for an unknown outcome only, and only of an open hedge.
    assert!(d.resolve("h9", Resolution::Retry, None).await.is_err());
    d.run_for(WINDOW + MINUTE, PASS).await;
    assert_eq!(d.fake.order_posts(), 2, "nothing placed again by itself");
    // The operator checked: h1 was not placed. Retry: exactly one more POST.
    let answer = d.resolve("h1", Resolution::Retry, None).await.unwrap();
    assert!(answer.contains("placed again"), "{answer}");
    assert_eq!(d.fake.order_posts(), 3);
    d.run_for(3 * MINUTE, PASS).await;
    assert!(
        matches!(d.state(1), ExecState::Filled { shares, .. } if shares.eq(&Decimal::from(1u64))),
        "{:?}",
        d.state(1)
    );
    assert_eq!(d.fake.order_posts(), 3);
    assert_eq!(d.at_broker("AAPL").await, Decimal::from(-1));
    assert_eq!(d.hedged("AAPL"), Decimal::from(-1));
    // A filled hedge is not open any more.
    assert!(d.resolve("h1", Resolution::Retry, None).await.is_err());
    // Drop h2: it was not placed; its 2 shares go back to NVDA's net.
    assert_eq!(d.net("NVDA"), dec("0.25"));
    let answer = d.resolve("h2", Resolution::Drop, None).await.unwrap();
    assert!(answer.contains("2 NVDA back to net"), "{answer}");
    assert_eq!(d.net("NVDA"), dec("2.25"));
    assert!(
        matches!(d.state(2), ExecState::Failed { returned, .. } if returned.eq(&Decimal::from(2u64)))
    );
    assert_eq!(d.intent("h2"), None);
    assert_eq!(d.fake.order_posts(), 3, "drop sends nothing");
    let alerts = &d.hedge.records().alerts;
    assert!(
        alerts.iter().any(|a| a.message.contains("operator retry")),
        "{alerts:?}"
    );
    assert!(
        alerts.iter().any(|a| a.message.contains("operator drop")),
        "{alerts:?}"
    );
}

#[tokio::test]
async fn settle_with_evidence_books_that_order_after_checking_it_and_refuses_one_held_elsewhere() {
    let mut d = desk(HedgePolicy::default()).await;
    // h1 fills normally.
    d.feed.push(bought("tAAPL", 10, "1.2"));
    d.pass().await;
    d.pass().await;
    assert!(
        matches!(d.state(1), ExecState::Filled { .. }),
        "{:?}",
        d.state(1)
    );
    let h1_order = d.fake.orders()[0].id.clone();
    // h2's answer is lost and the listing lags for ever (within the test).
    d.fake.set_listing_lag(60 * MINUTE, 1000);
    d.fake.next_order_reply(OrderReply::DropAfterAccept);
    d.clock.advance(2 * MINUTE);
    d.feed.push(bought("tAAPL", 11, "1.0"));
    d.pass().await;
    assert!(matches!(d.state(2), ExecState::OutcomeUnknown { .. }));
    let h2_order = d.fake.orders()[1].id.clone();
    // h1's order is not h2's to take.
    let e = d
        .resolve("h2", Resolution::Settle, Some(&h1_order))
        .await
        .unwrap_err();
    assert!(e.contains("already held"), "{e}");
    let answer = d
        .resolve("h2", Resolution::Settle, Some(&h2_order))
        .await
        .unwrap();
    assert!(answer.contains("filled"), "{answer}");
    assert!(matches!(&d.state(2), ExecState::Filled { order_id, .. } if *order_id == h2_order));
    assert_eq!(d.fake.order_posts(), 2);
    assert_eq!(d.at_broker("AAPL").await, d.hedged("AAPL"));
}

#[tokio::test]
async fn replace_after_window_places_again_by_itself_once_audited() {
    let mut d = desk(HedgePolicy {
        replace_after_window: true,
        ..HedgePolicy::default()
    })
    .await;
    d.fake.fail_next(FaultRoute::PlaceOrder, Fault::Status(502));
    let mut notices = d.notices.subscribe();
    d.feed.push(bought("tAAPL", 10, "1.5"));
    d.pass().await;
    d.run_for(WINDOW - MINUTE, PASS).await;
    assert_eq!(d.fake.order_posts(), 1, "not inside the window");
    d.run_for(3 * MINUTE, PASS).await;
    assert_eq!(d.fake.order_posts(), 2, "once after it");
    assert!(
        matches!(d.state(1), ExecState::Filled { shares, .. } if shares.eq(&Decimal::from(1u64)))
    );
    d.run_for(WINDOW, PASS).await;
    assert_eq!(d.fake.order_posts(), 2);
    assert!(
        d.hedge
            .records()
            .alerts
            .iter()
            .any(|a| a.message.contains("replace_after_window"))
    );
    let mut told = false;
    while let Ok(n) = notices.try_recv() {
        told |= n.headline().contains("replace_after_window");
    }
    assert!(told, "notified");
}

/// Placed again by itself only as a first send is: the pre-trade check
/// runs first, and a refusal leaves it unknown and looked for, not sent.
#[tokio::test]
async fn replace_after_window_checks_the_shares_before_placing_again() {
    let mut d = desk(HedgePolicy {
        replace_after_window: true,
        ..HedgePolicy::default()
    })
    .await;
    d.fake.fail_next(FaultRoute::PlaceOrder, Fault::Status(502));
    d.feed.push(bought("tAAPL", 10, "1.5"));
    d.pass().await;
    assert_eq!(d.fake.order_posts(), 1);
    // The shares left the account meanwhile: nothing to sell.
    d.fake.set_position("AAPL", Decimal::ZERO);
    d.run_for(WINDOW + 3 * MINUTE, PASS).await;
    assert_eq!(
        d.fake.order_posts(),
        1,
        "refused by the check: not placed again"
    );
    assert!(
        matches!(d.state(1), ExecState::OutcomeUnknown { .. }),
        "{:?}",
        d.state(1)
    );
    assert!(
        d.hedge
            .records()
            .alerts
            .iter()
            .any(|a| a.message.contains("pre-trade check refused")),
        "{:?}",
        d.hedge.records().alerts
    );
    // The shares are back: placed again once, and filled.
    d.fake.set_position("AAPL", Decimal::from(1_000));
    d.run_for(10 * MINUTE, PASS).await;
    assert_eq!(d.fake.order_posts(), 2, "placed again once");
    assert!(
        matches!(d.state(1), ExecState::Filled { shares, .. } if shares.eq(&Decimal::from(1u64))),
        "{:?}",
        d.state(1)
    );
}

#[tokio::test]
async fn seeded_faults_on_every_post_never_double_place_and_the_books_match_the_broker() {
    let mut d = desk(HedgePolicy {
        replace_after_window: true,
        ..HedgePolicy::default()
    })
    .await;
    d.fake.place_faults_from_seed(0x5eed, 2);
    d.fake.set_listing_lag(45 * SECOND, 2);
    for block in 10..22 {
        d.feed.push(bought("tAAPL", block, "1.0"));
        d.run_for(2 * MINUTE, PASS).await;
    }
    d.run_for(3 * WINDOW, PASS).await;
    let drawn = d.fake.drawn_faults();
    let before = drawn
        .iter()
        .filter(|f| matches!(f, PlaceFault::Before(_)))
        .count();
    let hedges = d.hedge.records().executions.len();
    let posts = d.fake.order_posts();
    // One POST per hedge, plus one per re-place after a fault that did not act.
    assert!(
        posts <= hedges + before,
        "{posts} POSTs, {hedges} hedges, {drawn:?}"
    );
    let at_fake: u64 = d.fake.orders().iter().map(|o| o.filled).sum();
    assert_eq!(
        Decimal::from(at_fake),
        d.hedge.records().positions[0].hedged_shares,
        "{drawn:?}"
    );
    assert_eq!(d.hedged("AAPL"), d.at_broker("AAPL").await, "{drawn:?}");
    assert_eq!(d.hedge.records().trade_count, 12, "no fill skipped");
    assert_eq!(d.net("AAPL"), Decimal::ZERO, "{drawn:?}");
}

/// The hedge keeper tells the operator, once, a day before the Schwab login
/// dies (the `token_expiry` webhook and the console's notice).
#[tokio::test]
async fn the_keeper_tells_once_a_day_before_the_schwab_login_dies() {
    use arbkeep::engine::Notice;
    use arbkeep::model::time::DAY;
    let mut d = desk(HedgePolicy::default()).await;
    let deadline = d.broker.login_deadline().expect("logged in");
    let mut notices = d.notices.subscribe();
    let expiry = |rx: &mut tokio::sync::broadcast::Receiver<Notice>| {
        let mut seen = Vec::new();
        while let Ok(n) = rx.try_recv() {
            if let Notice::TokenExpiry { venue, expires_at } = n {
                seen.push((venue, expires_at));
            }
        }
        seen
    };
    d.pass().await;
    assert!(expiry(&mut notices).is_empty(), "a week ahead: nothing yet");
    d.clock.set(deadline - DAY);
    d.pass().await;
    d.pass().await;
    assert_eq!(
        expiry(&mut notices),
        vec![("schwab".to_string(), deadline)],
        "told once"
    );
}
