//! The Schwab adapter against the fake Schwab (feature `fakes`): login and
//! token rotation, refresh before expiry, 401 and 429 handling, the 7-day
//! login, orders placed exactly once whatever the network does, fills,
//! rejections, market hours, and secrets that never leak; then the hedge
//! keeper through every fault of the place path, listing lag, and the
//! operator's retry and drop (`schwab_hedge`).

mod schwab_hedge;
mod schwab_login;

use arbkeep::fakes::schwab::{
    FakeSchwab, Fault, FaultRoute, FillLeg, OrderReply, OrderScript, PlaceFault,
    REJECT_BUYING_POWER,
};
use arbkeep::model::time::{DAY, MINUTE, SECOND};
use arbkeep::model::{Clock, ManualClock, Timestamp};
use arbkeep::store::InstanceLock;
use arbkeep::venue::VenueError;
use arbkeep::venue::broker::{Broker, LoginExpiry, OrderRequest, OrderSide, OrderState};
use arbkeep::venue::schwab::clock_text::parse_time;
use arbkeep::venue::schwab::{
    EncryptionKey, LOGIN_LIFETIME, SchwabBroker, SchwabConfig, SchwabError, VAULT_FILE,
    login_interactive, run_auth_command,
};
use rust_decimal::Decimal;
use schwab_login::*;
use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const OTHER_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn at(text: &str) -> Timestamp {
    parse_time(text).unwrap()
}

/// Monday 2024-07-01 10:00 in New York: the market is open.
fn monday_open() -> Timestamp {
    at("2024-07-01T14:00:00Z")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

struct World {
    clock: Arc<ManualClock>,
    fake: FakeSchwab,
    dir: tempfile::TempDir,
    broker: SchwabBroker,
}

async fn world_with(start: Timestamp, tune: impl FnOnce(&mut SchwabConfig)) -> World {
    let clock = Arc::new(ManualClock::new(start));
    let fake = FakeSchwab::start(clock.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = fake.config();
    tune(&mut config);
    log_in(&fake, &config, dir.path(), clock.clone()).await;
    let broker = SchwabBroker::open(
        config,
        dir.path(),
        FakeSchwab::secrets(&key()),
        clock.clone(),
    )
    .unwrap();
    World {
        clock,
        fake,
        dir,
        broker,
    }
}

async fn world() -> World {
    world_with(monday_open(), |_| {}).await
}

fn request(w: &World, symbol: &str, side: OrderSide, shares: u64) -> OrderRequest {
    OrderRequest {
        client_id: format!("h{}", w.clock.now()),
        symbol: symbol.into(),
        side,
        shares: Decimal::from(shares),
        committed_at: w.clock.now(),
    }
}

#[tokio::test]
async fn login_exchanges_the_code_and_refreshes_rotate_every_refresh_token() {
    let clock = Arc::new(ManualClock::new(monday_open()));
    let fake = FakeSchwab::start(clock.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = fake.config();
    let printed = log_in(&fake, &config, dir.path(), clock.clone()).await;
    assert!(printed.contains("account …741 found"), "{printed}");
    assert!(
        printed.contains("2024-07-08 14:00:00"),
        "the login's end is shown: {printed}"
    );
    assert_eq!(fake.grants(), ["authorization_code"]);
    // The token request carried Basic app credentials and a form body.
    let token_call = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/oauth/token")
        .unwrap();
    assert!(token_call.basic && !token_call.bearer);
    assert_eq!(
        token_call.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );

    let broker = SchwabBroker::open(
        config,
        dir.path(),
        FakeSchwab::secrets(&key()),
        clock.clone(),
    )
    .unwrap();
    let first = broker.vault().load().unwrap().unwrap();
    assert_eq!(
        first.refresh_token.expose(),
        fake.current_refresh_token().unwrap()
    );
    assert_eq!(
        broker.login_deadline(),
        Some(monday_open() + LOGIN_LIFETIME)
    );

    // 24 minutes in: the access token has 6 minutes left, no refresh yet.
    clock.advance(24 * MINUTE);
    broker.positions().await.unwrap();
    assert_eq!(fake.grants().len(), 1);
    // 26 minutes in: fewer than 5 minutes left, refreshed before expiry.
    clock.advance(2 * MINUTE);
    broker.positions().await.unwrap();
    assert_eq!(fake.grants(), ["authorization_code", "refresh_token"]);
    let second = broker.vault().load().unwrap().unwrap();
    assert_ne!(second.refresh_token, first.refresh_token, "rotated");
    assert_eq!(
        second.refresh_token.expose(),
        fake.current_refresh_token().unwrap(),
        "the rotated token is stored"
    );
    assert_eq!(
        second.authorized_at, first.authorized_at,
        "the 7 days count from the login"
    );
    assert_eq!(second.refreshes, 1);

    // Every later rotation is stored too, or the next refresh would fail.
    for n in 2..=5u64 {
        clock.advance(26 * MINUTE);
        broker.positions().await.unwrap();
        let t = broker.vault().load().unwrap().unwrap();
        assert_eq!(t.refreshes, n);
        assert_eq!(
            t.refresh_token.expose(),
            fake.current_refresh_token().unwrap()
        );
    }
    // No call ever met a 401: each refresh came before the expiry.
    assert!(fake.requests().iter().all(|r| r.status != Some(401)));
}

#[tokio::test]
async fn a_401_refreshes_once_then_the_read_is_repeated() {
    let w = world().await;
    w.broker.positions().await.unwrap();
    w.fake.revoke_access_tokens();
    w.fake.set_position("SPY", dec("10"));
    let positions = w.broker.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].quantity, dec("10"));
    assert_eq!(w.fake.grants(), ["authorization_code", "refresh_token"]);
    let statuses: Vec<Option<u16>> = w
        .fake
        .requests()
        .iter()
        .filter(|r| r.query == "fields=positions")
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        [Some(200), Some(401), Some(200)],
        "one refused, one repeated"
    );
}

#[tokio::test]
async fn a_401_on_an_order_post_refreshes_but_never_resends() {
    let w = world().await;
    w.broker.account_hash().await.unwrap();
    w.fake.revoke_access_tokens();
    let req = request(&w, "SPY", OrderSide::Buy, 1);
    let e = w.broker.place(&req).await.unwrap_err();
    assert!(matches!(e, VenueError::Transient(_)), "{e:?}");
    assert_eq!(w.fake.order_posts(), 1);
    assert!(w.fake.orders().is_empty());
    assert_eq!(
        w.fake.grants().last().map(String::as_str),
        Some("refresh_token")
    );
    // The caller places again with the refreshed token.
    w.broker.place(&req).await.unwrap();
    assert_eq!(w.fake.orders().len(), 1);
}

#[tokio::test]
async fn the_login_dies_after_seven_days_with_a_clear_message_and_a_health_fault() {
    let w = world().await;
    let deadline = w.broker.login_deadline().unwrap();
    assert_eq!(deadline, monday_open() + 7 * DAY);
    // Keep refreshing every 25 minutes for a day: the deadline never moves.
    for _ in 0..4 {
        w.clock.advance(25 * MINUTE);
        w.broker.keep_fresh().await.unwrap();
    }
    assert_eq!(w.broker.login_deadline(), Some(deadline));
    let h = w.broker.health().await;
    assert!(h[0].ok, "{h:?}");
    assert!(
        h[0].detail.starts_with("login expires in 6d"),
        "{}",
        h[0].detail
    );

    // A day before: one TokenExpiry notice, and only one.
    w.clock.set(deadline - DAY - 1);
    assert_eq!(w.broker.login_expiring(), None);
    w.clock.set(deadline - DAY);
    assert_eq!(
        w.broker.login_expiring(),
        Some(LoginExpiry {
            venue: "schwab".into(),
            expires_at: deadline
        })
    );
    assert_eq!(w.broker.login_expiring(), None);
    assert!(
        w.broker.health().await[0]
            .detail
            .contains("run `arbkeep auth schwab` soon")
    );

    w.clock.set(deadline);
    let e = w.broker.positions().await.unwrap_err();
    match &e {
        VenueError::Transient(m) => assert!(m.contains("run `arbkeep auth schwab`"), "{m}"),
        other => panic!("{other:?}"),
    }
    let h = w.broker.health().await;
    assert!(!h[0].ok);
    assert!(
        h[0].detail.contains("expired") && h[0].detail.contains("arbkeep auth schwab"),
        "{}",
        h[0].detail
    );
}

#[tokio::test]
async fn schwab_refusing_the_refresh_token_early_says_run_auth() {
    let w = world().await;
    // Schwab's 7 days "may be sooner": the lineage dies after 2 days here.
    w.fake.set_refresh_lifetime(2 * DAY);
    w.clock.advance(2 * DAY);
    let e = w.broker.positions().await.unwrap_err();
    let VenueError::Transient(m) = &e else {
        panic!("{e:?}")
    };
    assert!(
        m.contains("refused the refresh token") && m.contains("run `arbkeep auth schwab`"),
        "{m}"
    );
    let h = w.broker.health().await;
    assert!(!h[0].ok);
    assert!(
        h[0].detail.contains("refused the refresh token"),
        "{}",
        h[0].detail
    );
}

#[tokio::test]
async fn a_429_backs_off_for_retry_after_then_the_read_succeeds() {
    let w = world().await;
    w.broker.positions().await.unwrap();
    w.fake.fail_next(
        FaultRoute::Read,
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
    );
    let started = Instant::now();
    w.broker.positions().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured: {:?}",
        started.elapsed()
    );
    let statuses: Vec<Option<u16>> = w
        .fake
        .requests()
        .iter()
        .filter(|r| r.query == "fields=positions")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(200), Some(429), Some(200)]);
}

#[tokio::test]
async fn a_429_on_an_order_post_is_unknown_and_not_resent() {
    let w = world().await;
    w.fake.fail_next(
        FaultRoute::PlaceOrder,
        Fault::TooManyRequests { retry_after: None },
    );
    let req = request(&w, "SPY", OrderSide::Buy, 2);
    assert!(matches!(
        w.broker.place(&req).await,
        Err(VenueError::Unknown(_))
    ));
    assert_eq!(w.fake.order_posts(), 1);
    assert_eq!(
        w.broker.find(&req, &[]).await.unwrap(),
        None,
        "nothing was created"
    );
}

#[tokio::test]
async fn an_order_gets_its_id_from_location_and_fills() {
    let w = world().await;
    w.fake.set_price("SPY", dec("545.12"));
    let req = request(&w, "SPY", OrderSide::Buy, 3);
    let placed = w.broker.place(&req).await.unwrap();
    let orders = w.fake.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(placed.order_id, orders[0].id);
    assert_eq!(placed.order_id.len(), 13);
    assert_eq!(
        orders[0].account_number,
        arbkeep::fakes::schwab::FAKE_ACCOUNT,
        "by number, not index"
    );
    let post = w
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/orders"))
        .unwrap();
    assert!(post.bearer);
    assert_eq!(post.content_type.as_deref(), Some("application/json"));
    let now = w.broker.order(&placed.order_id).await.unwrap();
    assert_eq!(
        now.state,
        OrderState::Filled {
            shares: Decimal::from(3u64),
            average_price: dec("545.12"),
            filled_at: w.clock.now() - w.clock.now() % SECOND
        }
    );
    let positions = w.broker.positions().await.unwrap();
    assert_eq!(positions[0].symbol, "SPY");
    assert_eq!(positions[0].quantity, dec("3"));
}

#[tokio::test]
async fn a_missing_location_is_settled_by_find() {
    let w = world().await;
    w.fake.next_order_reply(OrderReply::NoLocation);
    w.clock.advance(400); // committed mid-second: enteredTime shows whole seconds
    let req = request(&w, "AAPL", OrderSide::Sell, 5);
    // Accepted without an id: the outcome is unknown until it is found.
    let e = w.broker.place(&req).await.unwrap_err();
    assert!(matches!(e, VenueError::Unknown(_)), "{e:?}");
    let placed = w.broker.find(&req, &[]).await.unwrap().expect("listed");
    let orders = w.fake.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(placed.order_id, orders[0].id);
    assert_eq!(w.fake.order_posts(), 1);
}

#[tokio::test]
async fn a_dropped_answer_after_accept_is_unknown_and_find_finds_exactly_one() {
    let w = world().await;
    // An older order of the same shape must not be taken for ours.
    let old = request(&w, "NVDA", OrderSide::Buy, 4);
    w.broker.place(&old).await.unwrap();
    w.clock.advance(5 * SECOND);

    w.fake.next_order_reply(OrderReply::DropAfterAccept);
    let req = request(&w, "NVDA", OrderSide::Buy, 4);
    let e = w.broker.place(&req).await.unwrap_err();
    assert!(matches!(e, VenueError::Unknown(_)), "{e:?}");
    let found = w
        .broker
        .find(&req, &[])
        .await
        .unwrap()
        .expect("the accepted order is found");
    let orders = w.fake.orders();
    assert_eq!(orders.len(), 2);
    assert_eq!(found.order_id, orders[1].id);
    assert_eq!(found.shares, Decimal::from(4u64));
    assert!(
        matches!(found.state, OrderState::Filled { shares, .. } if shares.eq(&Decimal::from(4u64)))
    );
    assert_eq!(w.fake.order_posts(), 2, "nothing placed twice");
}

#[tokio::test]
async fn a_5xx_on_an_order_post_is_unknown_and_never_reposted() {
    let w = world().await;
    // Accepted, then a 503.
    w.fake.next_order_reply(OrderReply::ErrorAfterAccept(503));
    let req = request(&w, "TSLA", OrderSide::Sell, 1);
    assert!(matches!(
        w.broker.place(&req).await,
        Err(VenueError::Unknown(_))
    ));
    assert_eq!(w.fake.order_posts(), 1, "exactly one POST");
    assert!(w.broker.find(&req, &[]).await.unwrap().is_some());

    // Refused with a 500 before anything was recorded.
    w.clock.advance(MINUTE);
    w.fake.fail_next(FaultRoute::PlaceOrder, Fault::Status(500));
    let req = request(&w, "TSLA", OrderSide::Sell, 7);
    assert!(matches!(
        w.broker.place(&req).await,
        Err(VenueError::Unknown(_))
    ));
    assert_eq!(w.fake.order_posts(), 2);
    assert_eq!(w.broker.find(&req, &[]).await.unwrap(), None);
    assert_eq!(w.fake.orders().len(), 1);
}

#[tokio::test]
async fn a_timed_out_order_post_is_unknown_and_never_reposted() {
    let w = world_with(monday_open(), |c| c.request_timeout_ms = 300).await;
    w.fake
        .next_order_reply(OrderReply::Delay(Duration::from_millis(1500)));
    let req = request(&w, "IAU", OrderSide::Buy, 2);
    let e = w.broker.place(&req).await.unwrap_err();
    assert!(matches!(e, VenueError::Unknown(_)), "{e:?}");
    assert_eq!(w.fake.order_posts(), 1);
    assert!(w.broker.find(&req, &[]).await.unwrap().is_some());
}

#[tokio::test]
async fn partial_and_late_fills_average_over_fill_legs() {
    let w = world().await;
    w.fake.script_next_order(OrderScript::Partial {
        legs: vec![
            FillLeg {
                shares: 3,
                price: dec("10.00"),
                after_ms: 0,
            },
            FillLeg {
                shares: 1,
                price: dec("10.40"),
                after_ms: 2 * SECOND,
            },
            FillLeg {
                shares: 1,
                price: dec("10.60"),
                after_ms: 9 * SECOND,
            },
        ],
    });
    let placed = w
        .broker
        .place(&request(&w, "PPLT", OrderSide::Buy, 5))
        .await
        .unwrap();
    let start = w.clock.now();
    assert_eq!(
        w.broker.order(&placed.order_id).await.unwrap().state,
        OrderState::Working {
            filled_shares: Decimal::from(3u64)
        }
    );
    w.clock.advance(2 * SECOND);
    assert_eq!(
        w.broker.order(&placed.order_id).await.unwrap().state,
        OrderState::Working {
            filled_shares: Decimal::from(4u64)
        }
    );
    w.clock.advance(7 * SECOND);
    // (3·10.00 + 10.40 + 10.60) / 5 = 10.20
    assert_eq!(
        w.broker.order(&placed.order_id).await.unwrap().state,
        OrderState::Filled {
            shares: Decimal::from(5u64),
            average_price: dec("10.2"),
            filled_at: start + 9 * SECOND
        }
    );

    w.fake.script_next_order(OrderScript::FillAfter {
        after_ms: MINUTE,
        price: dec("31.07"),
    });
    let late = w
        .broker
        .place(&request(&w, "SIVR", OrderSide::Sell, 2))
        .await
        .unwrap();
    assert_eq!(
        w.broker.order(&late.order_id).await.unwrap().state,
        OrderState::Working {
            filled_shares: Decimal::from(0u64)
        }
    );
    w.clock.advance(MINUTE);
    assert!(matches!(
        w.broker.order(&late.order_id).await.unwrap().state,
        OrderState::Filled { shares, average_price, .. } if shares == Decimal::from(2u64) && average_price == dec("31.07")
    ));

    // Partly filled then cancelled: the CANCELED leg (price 0) is not a fill.
    w.fake.script_next_order(OrderScript::PartialThenCancel {
        legs: vec![FillLeg {
            shares: 2,
            price: dec("50"),
            after_ms: 0,
        }],
        cancel_after_ms: SECOND,
    });
    let cut = w
        .broker
        .place(&request(&w, "GLD", OrderSide::Buy, 6))
        .await
        .unwrap();
    w.clock.advance(SECOND);
    assert_eq!(
        w.broker.order(&cut.order_id).await.unwrap().state,
        OrderState::Rejected {
            reason: "CANCELED".into(),
            filled_shares: Decimal::from(2u64)
        }
    );
    let gld = w
        .broker
        .positions()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.symbol == "GLD")
        .unwrap();
    assert_eq!(gld.quantity, dec("2"));
}

#[tokio::test]
async fn an_order_rejected_later_says_why() {
    let w = world().await;
    w.fake.script_next_order(OrderScript::RejectAfter {
        after_ms: 3 * SECOND,
        reason: REJECT_BUYING_POWER.into(),
    });
    let placed = w
        .broker
        .place(&request(&w, "GME", OrderSide::Buy, 1000))
        .await
        .unwrap();
    assert_eq!(
        w.broker.order(&placed.order_id).await.unwrap().state,
        OrderState::Working {
            filled_shares: Decimal::from(0u64)
        }
    );
    w.clock.advance(3 * SECOND);
    match w.broker.order(&placed.order_id).await.unwrap().state {
        OrderState::Rejected {
            reason,
            filled_shares,
        } if filled_shares.is_zero() => {
            assert_eq!(reason, format!("REJECTED: {REJECT_BUYING_POWER}"))
        }
        other => panic!("{other:?}"),
    }
    // An id Schwab does not list is not proof of anything (it may lag):
    // transient, so a caller never takes it for a rejection.
    assert!(matches!(
        w.broker.order("1000000000001").await,
        Err(VenueError::Transient(_))
    ));
    assert!(matches!(
        w.broker.order("12ab").await,
        Err(VenueError::Rejected(_))
    ));
}

#[tokio::test]
async fn market_hours_follow_the_markets_endpoint_and_closed_markets_hold_orders() {
    // Open: until 16:00 New York (20:00 UTC in July).
    let w = world().await;
    let h = w.broker.market_hours().await.unwrap();
    assert!(h.open_now);
    assert_eq!(h.next_change, Some(at("2024-07-01T20:00:00Z")));

    // Saturday: the closed-day shape; the next open is Monday 09:30 (13:30 UTC).
    let w = world_with(at("2024-07-06T15:00:00Z"), |_| {}).await;
    let h = w.broker.market_hours().await.unwrap();
    assert!(!h.open_now);
    assert_eq!(h.next_change, Some(at("2024-07-08T13:30:00Z")));
    let placed = w
        .broker
        .place(&request(&w, "SPY", OrderSide::Buy, 1))
        .await
        .unwrap();
    assert_eq!(w.fake.orders()[0].status, "PENDING_ACTIVATION");
    assert_eq!(
        w.broker.order(&placed.order_id).await.unwrap().state,
        OrderState::Working {
            filled_shares: Decimal::from(0u64)
        }
    );
    w.clock.set(at("2024-07-08T13:30:00Z"));
    assert!(matches!(
        w.broker.order(&placed.order_id).await.unwrap().state,
        OrderState::Filled { .. }
    ));

    // A holiday (Thursday 4 July) is closed too; Friday opens.
    let clock = Arc::new(ManualClock::new(at("2024-07-04T15:00:00Z")));
    let fake = FakeSchwab::start(clock.clone()).await.unwrap();
    fake.set_holiday("2024-07-04");
    let dir = tempfile::tempdir().unwrap();
    log_in(&fake, &fake.config(), dir.path(), clock.clone()).await;
    let broker = SchwabBroker::open(
        fake.config(),
        dir.path(),
        FakeSchwab::secrets(&key()),
        clock.clone(),
    )
    .unwrap();
    let h = broker.market_hours().await.unwrap();
    assert!(!h.open_now);
    assert_eq!(h.next_change, Some(at("2024-07-05T13:30:00Z")));
    // Before the open on a trading day.
    clock.set(at("2024-07-05T12:00:00Z"));
    let h = broker.market_hours().await.unwrap();
    assert_eq!(
        (h.open_now, h.next_change),
        (false, Some(at("2024-07-05T13:30:00Z")))
    );
}

#[tokio::test]
async fn a_wrong_key_and_a_tampered_record_fail_clearly() {
    let w = world().await;
    let config = w.broker.config().clone();
    let dir = w.dir.path().to_path_buf();
    drop(w.broker);
    let wrong = EncryptionKey::from_hex(OTHER_KEY).unwrap();
    let e = SchwabBroker::open(
        config.clone(),
        &dir,
        FakeSchwab::secrets(&wrong),
        w.clock.clone(),
    )
    .unwrap_err();
    assert!(matches!(e, SchwabError::WrongKey(_)), "{e:?}");
    assert!(
        e.to_string().contains("ENCRYPTION_KEY is not the key"),
        "{e}"
    );

    // Flip one bit of the sealed tokens.
    {
        use redb::ReadableTable;
        let db = redb::Database::create(dir.join(VAULT_FILE)).unwrap();
        let table: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("schwab_tokens");
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(table).unwrap();
            let mut sealed = t.get("tokens").unwrap().unwrap().value().to_vec();
            let mid = sealed.len() / 2;
            sealed[mid] ^= 0x01;
            t.insert("tokens", sealed.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let e =
        SchwabBroker::open(config, &dir, FakeSchwab::secrets(&key()), w.clock.clone()).unwrap_err();
    assert!(matches!(e, SchwabError::Tampered(_)), "{e:?}");
    assert!(e.to_string().contains("altered"), "{e}");
}

#[tokio::test]
async fn the_vault_file_never_holds_a_token_in_plain_text() {
    let w = world().await;
    for _ in 0..3 {
        w.clock.advance(26 * MINUTE);
        w.broker.positions().await.unwrap();
    }
    let path = w.dir.path().join(VAULT_FILE);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let bytes = std::fs::read(&path).unwrap();
    let issued = w.fake.issued_tokens();
    assert!(
        issued.len() >= 9,
        "code + 4 access + 4 refresh: {}",
        issued.len()
    );
    for token in issued {
        for needle in [token.as_str(), token.split('.').next_back().unwrap()] {
            assert!(
                !bytes
                    .windows(needle.len())
                    .any(|win| win == needle.as_bytes()),
                "the vault holds a token in plain text"
            );
        }
    }
    for (what, secret) in [
        ("app secret", arbkeep::fakes::schwab::FAKE_APP_SECRET),
        ("app key", arbkeep::fakes::schwab::FAKE_APP_KEY),
    ] {
        assert!(
            !bytes
                .windows(secret.len())
                .any(|win| win == secret.as_bytes()),
            "the vault holds the {what} in plain text"
        );
    }
}

#[tokio::test]
async fn auth_refuses_while_an_engine_holds_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let _engine = InstanceLock::acquire(dir.path()).unwrap();
    let e = run_auth_command(&SchwabConfig::default(), dir.path())
        .await
        .unwrap_err();
    assert!(matches!(e, SchwabError::EngineRunning { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("stop it before `arbkeep auth schwab`"),
        "{e}"
    );
}

/// A tracing writer into memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_log_line_or_error_carries_a_secret() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    // Global, not scoped: tracing caches each call site's interest across
    // threads, so a scoped subscriber can miss events another test's thread
    // registered first. Other tests' lines land here too, which only widens
    // the check.
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");

    let w = world().await;
    let mut errors = Vec::new();
    w.clock.advance(26 * MINUTE);
    w.broker.positions().await.unwrap();
    w.fake.revoke_access_tokens();
    w.broker.positions().await.unwrap();
    w.fake.next_order_reply(OrderReply::DropAfterAccept);
    let req = request(&w, "SPY", OrderSide::Buy, 1);
    errors.push(format!("{:?}", w.broker.place(&req).await.unwrap_err()));
    w.fake.fail_next(FaultRoute::Token, Fault::Html(403));
    w.clock.advance(26 * MINUTE);
    errors.push(format!("{:?}", w.broker.positions().await.unwrap_err()));
    w.fake.set_refresh_lifetime(DAY);
    w.clock.advance(DAY);
    let refused = w.broker.positions().await.unwrap_err();
    errors.push(format!("{refused:?} {refused}"));
    errors.push(format!("{:?}", w.broker.vault().load().unwrap()));
    for h in w.broker.health().await {
        errors.push(format!("{h:?}"));
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("schwab: tokens refreshed"),
        "the capture works: {logs}"
    );
    assert!(logs.contains("schwab: 401, refreshing"), "{logs}");
    let mut secrets = w.fake.issued_tokens();
    secrets.push(arbkeep::fakes::schwab::FAKE_APP_SECRET.into());
    secrets.push(arbkeep::fakes::schwab::FAKE_APP_KEY.into());
    secrets.push(KEY.into());
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret reached the log");
        for e in &errors {
            assert!(!e.contains(s.as_str()), "a secret reached an error: {e}");
        }
    }
}

#[tokio::test]
async fn a_code_pasted_after_thirty_seconds_is_refused_clearly() {
    let clock = Arc::new(ManualClock::new(monday_open()));
    let fake = FakeSchwab::start(clock.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::default();
    let mut person = Person {
        screen: screen.clone(),
        fake: &fake,
        pasted: None,
        dawdle: Some((clock.clone(), 31 * SECOND)),
    };
    let e = login_interactive(
        &fake.config(),
        FakeSchwab::secrets(&key()),
        dir.path(),
        clock.clone(),
        &mut person,
        &mut screen.clone(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, SchwabError::CodeRefused(_)), "{e:?}");
    assert!(e.to_string().contains("paste within 30 s"), "{e}");
    assert!(fake.grants().is_empty());
    // Nothing was stored: the adapter says to log in.
    let broker = SchwabBroker::open(
        fake.config(),
        dir.path(),
        FakeSchwab::secrets(&key()),
        clock,
    )
    .unwrap();
    let h = broker.health().await;
    assert!(!h[0].ok);
    assert!(
        h[0].detail
            .starts_with("not logged in: run `arbkeep auth schwab`"),
        "{}",
        h[0].detail
    );
}

#[tokio::test]
async fn an_answer_over_the_body_cap_is_an_error_that_says_so() {
    let w = world().await;
    let five_mib = 5 * 1024 * 1024;
    // Declared over the cap: refused before the body is read.
    w.fake.fail_next(
        FaultRoute::Read,
        Fault::Oversized {
            bytes: five_mib,
            declared: true,
        },
    );
    let e = w.broker.positions().await.unwrap_err();
    assert!(matches!(e, VenueError::Transient(_)), "{e:?}");
    assert!(e.to_string().contains("4194304-byte cap"), "{e}");
    // No length, streamed until the connection closes: stopped at the cap.
    w.fake.fail_next(
        FaultRoute::Read,
        Fault::Oversized {
            bytes: five_mib,
            declared: false,
        },
    );
    let e = w.broker.positions().await.unwrap_err();
    assert!(matches!(e, VenueError::Transient(_)), "{e:?}");
    assert!(
        e.to_string().contains("larger than the 4194304-byte cap"),
        "{e}"
    );
    // The next answer is read as usual.
    w.broker.positions().await.unwrap();

    // An order POST answered with an oversized body may have placed the
    // order: unknown, looked for, never posted again by the adapter.
    w.fake.fail_next(
        FaultRoute::PlaceOrder,
        Fault::Oversized {
            bytes: five_mib,
            declared: false,
        },
    );
    let req = request(&w, "SPY", OrderSide::Buy, 1);
    let e = w.broker.place(&req).await.unwrap_err();
    assert!(matches!(e, VenueError::Unknown(_)), "{e:?}");
    assert!(e.to_string().contains("cap"), "{e}");
    assert_eq!(w.fake.order_posts(), 1, "exactly one POST");

    // The token endpoint too: a refresh answered with 5 MiB fails clearly.
    w.fake.fail_next(
        FaultRoute::Token,
        Fault::Oversized {
            bytes: five_mib,
            declared: true,
        },
    );
    w.clock.advance(26 * MINUTE);
    let e = w.broker.positions().await.unwrap_err();
    assert!(e.to_string().contains("cap"), "{e}");
    w.broker.positions().await.unwrap();
}

// ---- find: the clock-skew margin, orders other hedges hold, unreadable matches

#[tokio::test]
async fn find_counts_orders_a_little_before_the_commit_skips_held_ids_and_never_calls_a_garbled_match_absent()
 {
    let w = world().await;
    let placed = w
        .broker
        .place(&request(&w, "AAPL", OrderSide::Sell, 2))
        .await
        .unwrap();
    // Our clock is 90 s ahead of Schwab's: the order looks entered before
    // the commit, and still counts.
    let mut req = request(&w, "AAPL", OrderSide::Sell, 2);
    req.committed_at += 90 * SECOND;
    let found = w
        .broker
        .find(&req, &[])
        .await
        .unwrap()
        .expect("inside the margin");
    assert_eq!(found.order_id, placed.order_id);
    // Held by another hedge: not ours to claim.
    assert_eq!(
        w.broker
            .find(&req, std::slice::from_ref(&placed.order_id))
            .await
            .unwrap(),
        None
    );
    // Beyond the margin: too old to be this hedge's.
    req.committed_at += 2 * MINUTE;
    assert_eq!(w.broker.find(&req, &[]).await.unwrap(), None);
    // A matching order the client cannot read is an error, never "absent".
    w.fake.garble_order(&placed.order_id);
    let req = request(&w, "AAPL", OrderSide::Sell, 2);
    let e = w.broker.find(&req, &[]).await.unwrap_err();
    assert!(e.to_string().contains(&placed.order_id), "{e}");
    // A listing that is not JSON, or cut halfway, is an error too.
    w.fake.fail_next(FaultRoute::Read, Fault::Malformed(200));
    assert!(w.broker.find(&req, &[]).await.is_err());
    w.fake.fail_next(FaultRoute::Read, Fault::Truncated(200));
    assert!(w.broker.find(&req, &[]).await.is_err());
}

#[tokio::test]
async fn every_place_fault_that_may_have_acted_is_unknown_and_a_refusal_is_rejected() {
    let w = world().await;
    for (n, fault) in PlaceFault::all().into_iter().enumerate() {
        match fault.clone() {
            PlaceFault::Before(f) => w.fake.fail_next(FaultRoute::PlaceOrder, f),
            PlaceFault::After(r) => w.fake.next_order_reply(r),
        }
        let req = request(&w, "SPY", OrderSide::Buy, 1 + n as u64);
        let e = w.broker.place(&req).await.unwrap_err();
        assert!(matches!(e, VenueError::Unknown(_)), "{fault:?}: {e:?}");
        assert_eq!(w.fake.order_posts(), n + 1, "{fault:?}: one POST");
    }
    // A definite refusal: 400 with Schwab's error body.
    w.fake.fail_next(FaultRoute::PlaceOrder, Fault::Status(400));
    let e = w
        .broker
        .place(&request(&w, "SPY", OrderSide::Buy, 1))
        .await
        .unwrap_err();
    assert!(matches!(e, VenueError::Rejected(_)), "{e:?}");
    // A gateway page, or a 400 whose body cannot be read, is no proof that
    // nothing was placed.
    for fault in [
        Fault::Html(403),
        Fault::Malformed(400),
        Fault::Truncated(400),
    ] {
        w.fake.fail_next(FaultRoute::PlaceOrder, fault.clone());
        let e = w
            .broker
            .place(&request(&w, "SPY", OrderSide::Buy, 1))
            .await
            .unwrap_err();
        assert!(matches!(e, VenueError::Unknown(_)), "{fault:?}: {e:?}");
    }
}
