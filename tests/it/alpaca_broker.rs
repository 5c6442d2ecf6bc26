//! The Alpaca Broker API adapter against the stateful loopback fake: an
//! order placed and filled, positions and the clock read; every way a POST
//! can go wrong classified as the journal needs it — and, for every fault
//! where the fake acted, the order is found by its client order id and was
//! POSTed once; refusals (buying power, a bad symbol) are refusals; the
//! credentials appear in no error.

use arbkeep::fakes::alpaca::{FAKE_KEY, FAKE_SECRET, FakeAlpaca, PlaceFault};
use arbkeep::model::{Clock, ManualClock};
use arbkeep::venue::VenueError;
use arbkeep::venue::alpaca::{AlpacaBroker, AlpacaConfig};
use arbkeep::venue::broker::{Broker, OrderRequest, OrderSide, OrderState};
use arbkeep::venue::schwab::clock_text::parse_time;
use rust_decimal::Decimal;
use std::sync::Arc;

async fn fake() -> (FakeAlpaca, AlpacaBroker) {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        parse_time("2024-07-01T14:00:00Z").expect("time"),
    ));
    let fake = FakeAlpaca::start(clock.clone()).await.expect("fake");
    fake.set_price("AAPL", Decimal::from(200));
    let broker = AlpacaBroker::open(fake.config(), FakeAlpaca::secrets(), clock).expect("broker");
    (fake, broker)
}

fn request(id: &str, side: OrderSide, shares: u64) -> OrderRequest {
    OrderRequest {
        client_id: id.into(),
        symbol: "AAPL".into(),
        side,
        shares: Decimal::from(shares),
        committed_at: 0,
    }
}

fn no_secrets(e: &VenueError) {
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains(FAKE_KEY) && !text.contains(FAKE_SECRET),
        "{text}"
    );
}

#[tokio::test]
async fn an_order_fills_and_the_account_reads_back() {
    let (fake, broker) = fake().await;
    let placed = broker
        .place(&request("hedge-1", OrderSide::Sell, 2))
        .await
        .expect("placed");
    assert!(
        matches!(placed.state, OrderState::Filled { shares, .. } if shares.eq(&Decimal::from(2u64))),
        "{placed:?}"
    );
    let again = broker.order(&placed.order_id).await.expect("status");
    assert_eq!(again.order_id, placed.order_id);
    let found = broker
        .find(&request("hedge-1", OrderSide::Sell, 2), &[])
        .await
        .expect("find");
    assert_eq!(found.map(|o| o.order_id), Some(placed.order_id.clone()));
    let none = broker
        .find(&request("hedge-2", OrderSide::Sell, 2), &[])
        .await
        .expect("find");
    assert!(none.is_none(), "not placed: not listed");
    let positions = broker.positions().await.expect("positions");
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].quantity, Decimal::from(-2));
    let hours = broker.market_hours().await.expect("clock");
    assert!(hours.open_now && hours.next_change.is_some());
    let health = broker.health().await;
    assert!(health[0].ok, "{health:?}");
    // Closed: the order waits, then fills at the open.
    fake.set_open(false);
    let waiting = broker
        .place(&request("hedge-3", OrderSide::Buy, 1))
        .await
        .expect("placed");
    assert_eq!(
        waiting.state,
        OrderState::Working {
            filled_shares: Decimal::ZERO
        }
    );
    fake.set_open(true);
    assert!(matches!(
        broker.order(&waiting.order_id).await.expect("status").state,
        OrderState::Filled { .. }
    ));
    assert_eq!(
        fake.posts().values().sum::<u32>(),
        2,
        "hedge-1 and hedge-3, once each"
    );
}

/// The peer acted and the answer never came (or came broken): Unknown,
/// then found by its client order id — POSTed once. Not taken (429, 503
/// before acting): Unknown too (a POST is never retried by the adapter),
/// and the look proves it absent.
#[tokio::test]
async fn every_lost_or_broken_answer_is_unknown_and_settled_by_looking() {
    let (fake, broker) = fake().await;
    let faults = [
        PlaceFault::ActThenDrop,
        PlaceFault::ActThen(500),
        PlaceFault::ActThen(504),
        PlaceFault::ActThenMalformed,
        PlaceFault::ActThenTruncated,
        PlaceFault::Before(429),
        PlaceFault::Before(503),
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        let id = format!("hedge-{}", 10 + i);
        let r = request(&id, OrderSide::Sell, 1);
        fake.fail_next_place(fault);
        let e = broker.place(&r).await.expect_err("no definite answer");
        assert!(matches!(e, VenueError::Unknown(_)), "{fault:?}: {e:?}");
        no_secrets(&e);
        let found = broker.find(&r, &[]).await.expect("look");
        assert_eq!(found.is_some(), fault.acts(), "{fault:?}: {found:?}");
        assert_eq!(fake.posts().get(&id), Some(&1), "{fault:?}: sent once");
    }
    // The same id again (an adapter that re-POSTs would do this): the
    // broker refuses a duplicate, which is read as "it exists", never as
    // a refusal.
    let e = broker
        .place(&request("hedge-10", OrderSide::Sell, 1))
        .await
        .expect_err("duplicate");
    assert!(matches!(e, VenueError::Unknown(_)), "{e:?}");
    assert_eq!(
        fake.orders().len(),
        5,
        "only the faults that acted made orders"
    );
}

#[tokio::test]
async fn refusals_are_refusals_and_bad_answers_are_named() {
    let (fake, broker) = fake().await;
    fake.set_cash("10");
    let e = broker
        .place(&request("hedge-1", OrderSide::Buy, 1))
        .await
        .expect_err("no buying power");
    assert!(
        matches!(&e, VenueError::Rejected(m) if m.contains("insufficient buying power")),
        "{e:?}"
    );
    let mut r = request("hedge-2", OrderSide::Sell, 1);
    r.symbol = "NOPE".into();
    let e = broker.place(&r).await.expect_err("unknown asset");
    assert!(matches!(e, VenueError::Rejected(_)), "{e:?}");
    assert!(fake.orders().is_empty());
    // A lookup that lags: "not listed" (the journal keeps looking over
    // its window), then found.
    let placed = broker
        .place(&request("hedge-3", OrderSide::Sell, 1))
        .await
        .expect("placed");
    fake.set_lookup_lag(1);
    let r = request("hedge-3", OrderSide::Sell, 1);
    assert!(broker.find(&r, &[]).await.expect("look").is_none());
    assert_eq!(
        broker
            .find(&r, &[])
            .await
            .expect("look")
            .map(|o| o.order_id),
        Some(placed.order_id.clone())
    );
    // The order found for our id must be the one asked for.
    let wrong = request("hedge-3", OrderSide::Sell, 5);
    assert!(broker.find(&wrong, &[]).await.is_err());
    // Wrong credentials: an error that shows neither.
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(0));
    let mut secrets = FakeAlpaca::secrets();
    secrets.secret = arbkeep::config::Secret::new("wrong-secret-0000".into());
    let stranger = AlpacaBroker::open(fake.config(), secrets, clock).expect("broker");
    let e = stranger.positions().await.expect_err("401");
    assert!(!e.to_string().contains("wrong-secret-0000"), "{e}");
    no_secrets(&e);
    // Config errors name the key.
    let e = AlpacaBroker::open(
        AlpacaConfig {
            account_id: String::new(),
            ..fake.config()
        },
        FakeAlpaca::secrets(),
        Arc::new(ManualClock::new(0)),
    )
    .unwrap_err();
    assert!(e.to_string().contains("alpaca.account_id"), "{e}");
    let e = AlpacaBroker::open(
        AlpacaConfig {
            base_url: "http://broker.example".into(),
            ..fake.config()
        },
        FakeAlpaca::secrets(),
        Arc::new(ManualClock::new(0)),
    )
    .unwrap_err();
    assert!(e.to_string().contains("alpaca.base_url"), "{e}");
}

/// Faults drawn from seeds over many POSTs: whatever was drawn, each
/// client order id reached the fake once, and an order exists exactly
/// when the fault acted (or there was none).
#[tokio::test]
async fn seeded_faults_never_send_twice() {
    for seed in [1u64, 7, 42] {
        let (fake, broker) = fake().await;
        fake.place_faults_from_seed(seed, 2);
        for i in 0..30 {
            let r = request(&format!("hedge-{i}"), OrderSide::Sell, 1);
            let placed = broker.place(&r).await;
            let found = broker.find(&r, &[]).await.expect("look");
            match placed {
                Ok(o) => assert_eq!(found.map(|f| f.order_id), Some(o.order_id)),
                Err(VenueError::Unknown(_)) => {}
                Err(e) => panic!("seed {seed}: {e:?}"),
            }
        }
        assert!(!fake.drawn_faults().is_empty(), "seed {seed} drew faults");
        assert!(fake.posts().values().all(|n| *n == 1), "seed {seed}");
        let not_taken = fake.drawn_faults().iter().filter(|f| !f.acts()).count();
        assert_eq!(fake.orders().len(), 30 - not_taken, "seed {seed}");
    }
}

/// 08:00 in New York on a Monday: the pre-market session.
async fn pre_market(extended_hours: bool) -> (FakeAlpaca, AlpacaBroker) {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        parse_time("2024-07-01T12:00:00Z").expect("time"),
    ));
    let fake = FakeAlpaca::start(clock.clone()).await.expect("fake");
    fake.set_price("AAPL", Decimal::from(200));
    fake.set_open(false);
    let config = AlpacaConfig {
        extended_hours,
        ..fake.config()
    };
    let broker = AlpacaBroker::open(config, FakeAlpaca::secrets(), clock).expect("broker");
    (fake, broker)
}

#[tokio::test]
async fn extended_hours_hedge_with_bounded_limit_orders_and_a_lost_answer_is_found_not_resent() {
    use arbkeep::venue::broker::OrderTerms;
    let (fake, broker) = pre_market(true).await;
    let hours = broker.market_hours().await.expect("clock");
    assert!(hours.open_now, "the pre-market session counts as open");
    assert_eq!(
        hours.next_change,
        Some(parse_time("2024-07-01T13:30:00Z").expect("time")),
        "until the regular open"
    );
    let at_200 = OrderTerms {
        reference_price: Some(Decimal::from(200)),
    };
    // No reference price: no limit to bound it by, nothing sent.
    let e = broker
        .place_with(
            &request("hedge-1", OrderSide::Sell, 2),
            &OrderTerms::default(),
        )
        .await
        .expect_err("no limit");
    assert!(matches!(e, VenueError::Transient(_)), "{e:?}");
    assert_eq!(fake.posts().get("hedge-1"), None, "not sent");
    // A sell: limit 0.5 % under the reference; the price allows it.
    let sold = broker
        .place_with(&request("hedge-2", OrderSide::Sell, 2), &at_200)
        .await
        .expect("placed");
    assert!(
        matches!(sold.state, OrderState::Filled { shares, .. } if shares.eq(&Decimal::from(2u64))),
        "{sold:?}"
    );
    let o = &fake.orders()[0];
    assert_eq!(
        (o.kind.as_str(), o.limit_price, o.extended_hours),
        ("limit", Some(Decimal::new(19900, 2)), true)
    );
    // A buy whose answer is lost after the fake took it: unknown, found
    // by its id, POSTed once; the price ran past its limit (201): it waits.
    fake.move_price("AAPL", Decimal::from(202));
    let r = request("hedge-3", OrderSide::Buy, 1);
    fake.fail_next_place(PlaceFault::ActThenDrop);
    let e = broker.place_with(&r, &at_200).await.expect_err("lost");
    assert!(matches!(e, VenueError::Unknown(_)), "{e:?}");
    let found = broker.find(&r, &[]).await.expect("look").expect("listed");
    assert!(
        matches!(found.state, OrderState::Working { filled_shares } if filled_shares.eq(&Decimal::from(0u64))),
        "{found:?}"
    );
    assert_eq!(fake.posts().get("hedge-3"), Some(&1), "sent once");
    let o = &fake.orders()[1];
    assert_eq!(
        (o.limit_price, o.status.as_str()),
        (Some(Decimal::new(20100, 2)), "accepted")
    );
    // Without extended hours the same instant is closed: a market order
    // that waits for the open.
    let (fake, broker) = pre_market(false).await;
    assert!(!broker.market_hours().await.expect("clock").open_now);
    broker
        .place_with(&request("hedge-4", OrderSide::Sell, 1), &at_200)
        .await
        .expect("placed");
    assert_eq!(fake.orders()[0].kind, "market");
}
