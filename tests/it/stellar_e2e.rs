//! End to end against the loopback fakes of Stellar RPC, Horizon and
//! Friendbot: accounts funded, trustlines set, a cycle detected and executed
//! with the balance change equal to the keeper's Stellar ledger; a book that
//! moves between detection and execution fails with op_under_dest_min and
//! costs only the fee; and the clients' calls against the fakes. Hostile
//! peers: every fault on the send path (drop before or after acting, 5xx,
//! 429, malformed, truncated, silent) and seeded faults on every call leave
//! the send OUTCOME UNKNOWN on screen and settle it once, by looking, with
//! no second envelope and the books equal to the ledger; bad books, oversized
//! answers and stale oracle prices are refused; a Stellar failure during
//! recovery degrades the keeper instead of stopping the engine; the operator
//! resolves open sends (`Command::Resolve`).

use crate::support;

use arbkeep::engine::{Keeper, Notice, SendGate};
use arbkeep::fakes::stellar::{StellarFake, aqua, detector, endpoints, issuer, reflector, world};
use arbkeep::model::{Controls, Mode};
use arbkeep::strategy::stellar_arb::keeper::{EXPIRY_MARGIN_SECS, TX_VALIDITY_SECS};
use arbkeep::strategy::stellar_arb::store as kstore;
use arbkeep::strategy::stellar_arb::{Network, StellarArbConfig, StellarArbKeeper, StellarShared};
use arbkeep::venue::VenueError;
use arbkeep::venue::stellar::horizon::{HorizonClient, HorizonError, PathQuote};
use arbkeep::venue::stellar::network::{Endpoints, NetworkVenue};
use arbkeep::venue::stellar::rpc::RpcClient;
use arbkeep::venue::stellar::sim::{FRIENDBOT_AMOUNT, SimLedger};
use arbkeep::venue::stellar::tx::{self, Header};
use arbkeep::venue::stellar::{
    AccountKey, AccountState, Keypair, LedgerWindow, NetworkInfo, ONE, Offer, OrderBook,
    PUBLIC_PASSPHRASE, Price, Prices, SendStatus, StellarAsset, StellarVenue, SupportedAsset,
    TESTNET_PASSPHRASE, TxStatus,
};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use support::stellar_keeper::Harness;
use tokio::sync::broadcast;

fn config() -> StellarArbConfig {
    support::stellar_keeper::testnet_config(2, vec![aqua()])
}

/// The Stellar notices sent so far, as (kind, message).
fn stellar_notices(rx: &mut broadcast::Receiver<Notice>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Ok(n) = rx.try_recv() {
        if let Notice::Stellar { kind, message } = n {
            out.push((kind, message));
        }
    }
    out
}

fn master() -> Keypair {
    Keypair::from_seed([0x33; 32])
}

#[tokio::test]
async fn accounts_funded_trustlines_set_cycle_executed_and_ledger_matches_balance() {
    let fake = StellarFake::start(world()).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let shared = StellarShared::new(venue.clone(), true);
    let mut events = shared.subscribe();
    let mut keeper = StellarArbKeeper::new(config(), shared.clone(), &master())
        .with_polling(5, Duration::from_millis(5));
    let h = Harness::new();
    let mut notices = h.notices.subscribe();
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");

    let ids: Vec<AccountKey> = keeper
        .account_ids()
        .iter()
        .map(|s| AccountKey::parse(s).expect("id"))
        .collect();
    for id in &ids {
        let a = fake.with(|l| l.account(*id)).expect("funded");
        assert!(a.trusts(&aqua()), "trustline set");
    }
    let results = kstore::results(&h.store.read().expect("read")).expect("results");
    let cycles: Vec<_> = results.iter().filter(|e| e.kind == "cycle").collect();
    assert_eq!(cycles.len(), 1, "{results:?}");
    assert_eq!(cycles[0].result, "tx_success");
    assert!(cycles[0].delta > 0, "profit {}", cycles[0].delta);
    assert!(
        kstore::intents(&h.store.read().expect("read"))
            .expect("intents")
            .is_empty()
    );

    // Every account's XLM moved exactly by its ledger lines.
    let lines = kstore::ledger(&h.store.read().expect("read")).expect("ledger");
    for id in &ids {
        let now = fake
            .with(|l| l.accounts.get(id).map(|a| a.xlm))
            .expect("account");
        let booked: i64 = lines
            .iter()
            .filter(|l| l.account == id.to_string())
            .map(|l| l.delta)
            .sum();
        assert_eq!(now - FRIENDBOT_AMOUNT, booked, "account {id}");
    }
    // Every transaction the keeper signed carries a maxTime.
    let bounds: Vec<u64> = fake.with(|l| {
        l.txs
            .values()
            .map(|t| match tx::decode_envelope(&t.envelope) {
                Ok(stellar_xdr::TransactionEnvelope::Tx(v)) => match v.tx.cond {
                    stellar_xdr::Preconditions::Time(tb) => tb.max_time.0,
                    _ => 0,
                },
                _ => 0,
            })
            .collect()
    });
    assert!(
        !bounds.is_empty() && bounds.iter().all(|&m| m > 0),
        "{bounds:?}"
    );
    let view = keeper.view();
    assert_eq!(view.accounts.len(), 2);
    assert!(
        view.oracle
            .iter()
            .any(|o| o.symbol == "AQUA" && o.price == "0.001")
    );
    assert!(view.executions.iter().any(|e| e.result == "tx_success"));

    // The engine's notices (what webhooks carry) name the executed cycle.
    let told = stellar_notices(&mut notices);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, "cycle_executed");
    assert!(
        told[0].1.contains("XLM → AQUA → XLM") && told[0].1.contains(&cycles[0].hash),
        "{told:?}"
    );
    let hook = arbkeep::notify::payload(
        arbkeep::notify::WebhookFormat::Generic,
        &Notice::Stellar {
            kind: told[0].0.clone(),
            message: told[0].1.clone(),
        },
    );
    assert!(
        hook["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("stellar cycle_executed: ")),
        "{hook}"
    );

    // The WebSocket stream saw an opportunity and a result.
    let mut kinds = Vec::new();
    while let Ok(e) = events.try_recv() {
        kinds.extend(e.as_object().into_iter().flat_map(|o| o.keys().cloned()));
    }
    assert!(
        kinds.contains(&"opportunity".to_string()) && kinds.contains(&"result".to_string()),
        "{kinds:?}"
    );
}

/// Forwards to the real client, but moves the book just before sending.
struct MovingBook {
    inner: NetworkVenue,
    ledger: Arc<std::sync::Mutex<SimLedger>>,
}

impl StellarVenue for MovingBook {
    fn liquidity_pool<'a>(
        &'a self,
        a: &'a StellarAsset,
        b: &'a StellarAsset,
    ) -> BoxFuture<'a, Result<Option<arbkeep::venue::stellar::pool::LiquidityPool>, VenueError>>
    {
        self.inner.liquidity_pool(a, b)
    }
    fn network(&self) -> BoxFuture<'_, Result<NetworkInfo, VenueError>> {
        self.inner.network()
    }
    fn latest_ledger(&self) -> BoxFuture<'_, Result<u32, VenueError>> {
        self.inner.latest_ledger()
    }
    fn ledger_window(&self) -> BoxFuture<'_, Result<LedgerWindow, VenueError>> {
        self.inner.ledger_window()
    }
    fn account(&self, id: AccountKey) -> BoxFuture<'_, Result<Option<AccountState>, VenueError>> {
        self.inner.account(id)
    }
    fn order_book<'a>(
        &'a self,
        s: &'a StellarAsset,
        b: &'a StellarAsset,
    ) -> BoxFuture<'a, Result<OrderBook, VenueError>> {
        self.inner.order_book(s, b)
    }
    fn oracle_prices<'a>(&'a self, s: &'a [String]) -> BoxFuture<'a, Result<Prices, VenueError>> {
        self.inner.oracle_prices(s)
    }
    fn fee_stats(&self) -> BoxFuture<'_, Result<arbkeep::venue::stellar::FeeStats, VenueError>> {
        self.inner.fee_stats()
    }
    fn supported_assets(&self) -> BoxFuture<'_, Result<Vec<SupportedAsset>, VenueError>> {
        self.inner.supported_assets()
    }
    fn fund(&self, id: AccountKey) -> BoxFuture<'_, Result<bool, VenueError>> {
        self.inner.fund(id)
    }
    fn send<'a>(&'a self, envelope: &'a str) -> BoxFuture<'a, Result<SendStatus, VenueError>> {
        let is_cycle = matches!(
            tx::decode_envelope(envelope),
            Ok(stellar_xdr::TransactionEnvelope::Tx(ref v)) if matches!(v.tx.operations[0].body, stellar_xdr::OperationBody::PathPaymentStrictSend(_))
        );
        if is_cycle {
            // Someone else took the cheap AQUA first.
            self.ledger.lock().expect("ledger").set_book(
                aqua(),
                StellarAsset::Native,
                vec![Offer {
                    amount: 100_000 * ONE,
                    price: Price { n: 1, d: 99 },
                }],
            );
        }
        self.inner.send(envelope)
    }
    fn transaction<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<TxStatus, VenueError>> {
        self.inner.transaction(hash)
    }
    fn strict_send_paths<'a>(
        &'a self,
        source: &'a StellarAsset,
        amount: i64,
        destinations: &'a [StellarAsset],
    ) -> BoxFuture<'a, Result<Vec<PathQuote>, VenueError>> {
        self.inner.strict_send_paths(source, amount, destinations)
    }
}

#[tokio::test]
async fn a_book_that_moves_before_execution_fails_under_dest_min_and_costs_only_the_fee() {
    let fake = StellarFake::start(world()).await;
    let venue: Arc<dyn StellarVenue> = Arc::new(MovingBook {
        inner: NetworkVenue::new(endpoints(&fake)).expect("venue"),
        ledger: fake.ledger.clone(),
    });
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    let h = Harness::new();
    let mut notices = h.notices.subscribe();
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");

    let results = kstore::results(&h.store.read().expect("read")).expect("results");
    let cycles: Vec<_> = results.iter().filter(|e| e.kind == "cycle").collect();
    assert_eq!(cycles.len(), 1, "dropped, not retried: {results:?}");
    assert_eq!(cycles[0].result, "op_under_dest_min");
    assert_eq!(cycles[0].delta, -100, "only the fee");
    // Told with its decoded reason.
    let told = stellar_notices(&mut notices);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, "execution_failed");
    assert!(
        told[0].1.contains("op_under_dest_min") && told[0].1.contains("book moved"),
        "{told:?}"
    );
    for id in keeper.account_ids() {
        let key = AccountKey::parse(&id).expect("id");
        let now = fake
            .with(|l| l.accounts.get(&key).map(|a| a.xlm))
            .expect("account");
        assert_eq!(now - FRIENDBOT_AMOUNT, h.booked(&id));
        let aqua_left = fake.with(|l| {
            l.accounts
                .get(&key)
                .and_then(|a| a.lines.get(&aqua()).map(|x| x.0))
        });
        assert_eq!(aqua_left, Some(0), "nothing stranded mid-path");
    }
}

/// What a previous run left: account 0 funded, a cycle signed (valid until
/// the latest close + 120 s, as the keeper signs) and its intent recorded,
/// then it died — before sending, unless `send` says otherwise.
async fn left_intent(fake: &StellarFake, venue: &dyn StellarVenue, h: &Harness) -> kstore::Intent {
    let key = arbkeep::strategy::stellar_arb::trading_key(&master(), 0);
    assert!(venue.fund(key.public()).await.expect("fund"));
    let seq = venue
        .account(key.public())
        .await
        .expect("acct")
        .expect("exists")
        .sequence
        + 1;
    let signed_close = fake.with(|l| l.close_time);
    let max_time = signed_close + TX_VALIDITY_SECS;
    let t = tx::cyclic_path_payment(
        Header {
            source: key.public(),
            seq,
            fee: 100,
            max_time,
        },
        &StellarAsset::Native,
        10 * ONE,
        &[aqua()],
        10 * ONE + 200,
    )
    .expect("tx");
    let signed = tx::sign(
        t,
        &key,
        &arbkeep::venue::stellar::network_id(TESTNET_PASSPHRASE),
    )
    .expect("sign");
    let intent = kstore::Intent {
        hash: signed.hash_hex(),
        account: key.public().to_string(),
        sequence: seq,
        kind: "cycle".into(),
        envelope: signed.envelope.clone(),
        send: 10 * ONE,
        dest_min: 10 * ONE + 200,
        dest: None,
        max_time,
        signed_close,
        created_ms: 0,
        label: "XLM → AQUA → XLM".into(),
        bump: None,
        predicted: None,
    };
    h.store
        .write(|w| {
            kstore::ensure_tables(w)?;
            kstore::put_intent(w, &intent)
        })
        .expect("intent");
    intent
}

fn account_seq(fake: &StellarFake, account: &str) -> Option<i64> {
    let id = AccountKey::parse(account).expect("id");
    fake.with(|l| l.accounts.get(&id).map(|a| a.seq))
}

#[tokio::test]
async fn recovery_resends_the_same_envelope_and_settles_it() {
    let fake = StellarFake::start(world()).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let h = Harness::new();
    let intent = left_intent(&fake, venue.as_ref(), &h).await;
    // Still before its maxTime: the same envelope goes again.
    fake.with(|l| l.close_time = intent.max_time - 5);

    let shared = StellarShared::new(venue, false);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    keeper.recover(&h.cx(1)).await.expect("recover");
    let r = kstore::results(&h.store.read().expect("read")).expect("results");
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].hash, intent.hash,
        "the same transaction, not a re-signed one"
    );
    assert_eq!(r[0].result, "tx_success");
    assert!(
        kstore::intents(&h.store.read().expect("read"))
            .expect("open")
            .is_empty()
    );
    // Applied exactly once: the account's sequence is the intent's.
    assert_eq!(account_seq(&fake, &intent.account), Some(intent.sequence));
}

#[tokio::test]
async fn recovery_writes_off_a_transaction_past_its_max_time_and_books_nothing() {
    let fake = StellarFake::start(world()).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let h = Harness::new();
    let intent = left_intent(&fake, venue.as_ref(), &h).await;
    let seq0 = account_seq(&fake, &intent.account);
    fake.with(|l| l.close_time = intent.max_time + EXPIRY_MARGIN_SECS + 1);

    let shared = StellarShared::new(venue, false);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    keeper.recover(&h.cx(1)).await.expect("recover");
    let read = h.store.read().expect("read");
    let r = kstore::results(&read).expect("results");
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].hash.as_str(), r[0].result.as_str(), r[0].delta),
        (intent.hash.as_str(), "expired unsent", 0)
    );
    assert!(kstore::intents(&read).expect("open").is_empty());
    assert!(
        kstore::ledger(&read).expect("ledger").is_empty(),
        "nothing booked"
    );
    assert_eq!(account_seq(&fake, &intent.account), seq0, "never sent");
    assert!(fake.with(|l| !l.txs.contains_key(&intent.hash)));
}

#[tokio::test]
async fn a_resend_refused_too_late_waits_out_the_margin_then_expires() {
    let fake = StellarFake::start(world()).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let h = Harness::new();
    let intent = left_intent(&fake, venue.as_ref(), &h).await;
    let seq0 = account_seq(&fake, &intent.account);
    // Past maxTime, within the margin: the network refuses the resend
    // (tx_too_late), but a lagging node's word is not enough to write it off.
    fake.with(|l| l.close_time = intent.max_time + 10);

    let shared = StellarShared::new(venue, false);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    keeper.recover(&h.cx(1)).await.expect("recover");
    {
        let read = h.store.read().expect("read");
        assert_eq!(kstore::intents(&read).expect("open").len(), 1, "still open");
        assert!(kstore::results(&read).expect("results").is_empty());
    }
    assert!(
        fake.with(|l| !l.txs.contains_key(&intent.hash)),
        "refused: tx_too_late"
    );
    // Open intent: the next pass sends nothing new.
    keeper.tick(&h.cx(2)).await.expect("tick");
    assert_eq!(
        fake.with(|l| l.txs.len()),
        0,
        "nothing sent while one is open"
    );

    fake.with(|l| l.close_time = intent.max_time + EXPIRY_MARGIN_SECS + 1);
    keeper.tick(&h.cx(3)).await.expect("tick");
    let read = h.store.read().expect("read");
    let r = kstore::results(&read).expect("results");
    let it = r.iter().find(|e| e.hash == intent.hash).expect("settled");
    assert_eq!((it.result.as_str(), it.delta), ("expired unsent", 0));
    assert_eq!(
        account_seq(&fake, &intent.account).map(|s| s >= seq0.unwrap_or(0)),
        Some(true)
    );
    assert!(fake.with(|l| !l.txs.contains_key(&intent.hash)));
}

#[tokio::test]
async fn applied_beyond_the_rpc_history_with_its_sequence_used_halts_instead_of_guessing() {
    let fake = StellarFake::start(world()).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let h = Harness::new();
    let intent = left_intent(&fake, venue.as_ref(), &h).await;
    // It did go out and apply; then the RPC's ~7-day window moved past it.
    assert_eq!(
        venue.send(&intent.envelope).await.expect("send"),
        SendStatus::Pending
    );
    fake.with(|l| {
        l.forget_history();
        l.close_time = intent.max_time + 7 * 86_400;
    });
    let txs_before = fake.with(|l| l.txs.len());

    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");
    let read = h.store.read().expect("read");
    // Judged by sequence alone it would read "not applied" and its money
    // would go unbooked; by time it cannot be decided, so it stays open.
    assert_eq!(kstore::intents(&read).expect("open").len(), 1);
    assert!(kstore::results(&read).expect("results").is_empty());
    let status = &keeper.view().status;
    assert!(
        status.contains("halted") && status.contains(&intent.hash),
        "{status}"
    );
    assert_eq!(fake.with(|l| l.txs.len()), txs_before, "nothing sent");
}

#[tokio::test]
async fn clients_against_the_fakes() {
    let fake = StellarFake::start(world()).await;
    let rpc = RpcClient::new(&fake.rpc_url(), Duration::from_secs(5)).expect("rpc");
    let horizon = HorizonClient::new(&fake.horizon_url(), Duration::from_secs(5)).expect("horizon");
    assert_eq!(rpc.get_health().await.expect("health").status, "healthy");
    assert_eq!(
        rpc.get_network().await.expect("network").passphrase,
        TESTNET_PASSPHRASE
    );
    let l0 = rpc.get_latest_ledger().await.expect("ledger");

    let kp = Keypair::from_seed([0x44; 32]);
    assert!(
        arbkeep::venue::stellar::horizon::friendbot(
            &fake.friendbot_url(),
            kp.public(),
            Duration::from_secs(5)
        )
        .await
        .expect("fund")
    );
    assert!(
        !arbkeep::venue::stellar::horizon::friendbot(
            &fake.friendbot_url(),
            kp.public(),
            Duration::from_secs(5)
        )
        .await
        .expect("again")
    );
    assert!(rpc.get_latest_ledger().await.expect("ledger") > l0);
    let by_rpc = rpc
        .get_account(kp.public(), &[aqua()])
        .await
        .expect("rpc account")
        .expect("exists");
    let by_horizon = horizon
        .account(kp.public())
        .await
        .expect("horizon account")
        .expect("exists");
    assert_eq!(by_rpc.sequence, by_horizon.sequence);
    assert_eq!(by_rpc.balances, by_horizon.balances);
    assert!(
        horizon
            .account(Keypair::from_seed([0x45; 32]).public())
            .await
            .expect("404")
            .is_none()
    );

    // Contracts by simulation.
    let v = NetworkVenue::new(endpoints(&fake)).expect("venue");
    assert_eq!(v.supported_assets().await.expect("assets")[0].code, "AQUA");
    let yes = v
        .view(
            detector(),
            "is_asset_supported",
            arbkeep::venue::stellar::contracts::is_asset_supported_args("AQUA").expect("args"),
        )
        .await
        .expect("view");
    assert_eq!(
        arbkeep::venue::stellar::contracts::decode_bool(&yes),
        Ok(true)
    );
    let prices = v
        .oracle_prices(&["AQUA".into(), "BTC".into()])
        .await
        .expect("prices");
    assert_eq!(prices[0].1.as_ref().map(|p| p.price), Some(100_000_000_000));
    assert_eq!(prices[1].1, None);
    // BytesN<32> converts; the detector's setter is a no-op returning Void.
    let set = v
        .view(
            detector(),
            "set_reflector_contract_id",
            arbkeep::venue::stellar::contracts::set_reflector_args(reflector().0).expect("args"),
        )
        .await;
    assert_eq!(set.ok(), Some(stellar_xdr::ScVal::Void));
    assert!(
        rpc.get_events(1, &[reflector().to_string()])
            .await
            .expect("events")
            .is_empty()
    );

    // Paths never return a cycle.
    let paths = horizon
        .strict_send_paths(
            &StellarAsset::Native,
            10 * ONE,
            &[aqua(), StellarAsset::Native],
        )
        .await
        .expect("paths");
    assert!(!paths.is_empty());
    assert!(paths.iter().all(|p| p.destination != StellarAsset::Native));
    let book = horizon
        .order_book(&aqua(), &StellarAsset::Native, 20)
        .await
        .expect("book");
    assert_eq!(book.offers[0].price, Price { n: 1, d: 102 });

    // Horizon submission: a success, then a replay of a stale sequence.
    let seq = by_horizon.sequence + 1;
    let net = arbkeep::venue::stellar::network_id(TESTNET_PASSPHRASE);
    let t = tx::change_trust(
        Header {
            source: kp.public(),
            seq,
            fee: 100,
            max_time: 0,
        },
        &aqua(),
        tx::TRUST_LIMIT,
    )
    .expect("tx");
    let ok = horizon
        .submit(&tx::sign(t, &kp, &net).expect("sign").envelope)
        .await
        .expect("submit");
    assert!(ok.outcome.succeeded());
    let stale = tx::change_trust(
        Header {
            source: kp.public(),
            seq,
            fee: 100,
            max_time: 0,
        },
        &aqua(),
        tx::TRUST_LIMIT - 1,
    )
    .expect("tx");
    match horizon
        .submit(&tx::sign(stale, &kp, &net).expect("sign").envelope)
        .await
    {
        Err(HorizonError::TxFailed(o)) => assert_eq!(o.main_code(), "tx_bad_seq"),
        other => panic!("expected tx_bad_seq, got {other:?}"),
    }
    // Wrong passphrase: tx_bad_auth; low fee: tx_insufficient_fee.
    let wrong =
        arbkeep::venue::stellar::network_id("Public Global Stellar Network ; September 2015");
    let t = tx::payment(
        Header {
            source: kp.public(),
            seq: seq + 1,
            fee: 100,
            max_time: 0,
        },
        issuer().public(),
        &StellarAsset::Native,
        ONE,
    )
    .expect("tx");
    let (_, s) = rpc
        .send_transaction(&tx::sign(t.clone(), &kp, &wrong).expect("sign").envelope)
        .await
        .expect("send");
    assert!(
        matches!(s, SendStatus::Error(ref o) if o.main_code() == "tx_bad_auth"),
        "{s:?}"
    );
    let mut cheap = t.clone();
    cheap.fee = 10;
    let (_, s) = rpc
        .send_transaction(&tx::sign(cheap, &kp, &net).expect("sign").envelope)
        .await
        .expect("send");
    assert!(
        matches!(s, SendStatus::Error(ref o) if o.main_code() == "tx_insufficient_fee"),
        "{s:?}"
    );
    // Soroban without its transaction data is malformed at admission.
    let inv = tx::invoke(
        Header {
            source: kp.public(),
            seq: seq + 1,
            fee: 100,
            max_time: 0,
        },
        detector(),
        "get_supported_assets",
        vec![],
    )
    .expect("tx");
    let (_, s) = rpc
        .send_transaction(&tx::sign(inv, &kp, &net).expect("sign").envelope)
        .await
        .expect("send");
    assert!(
        matches!(s, SendStatus::Error(ref o) if o.main_code() == "tx_malformed"),
        "{s:?}"
    );
    // A good one: PENDING, then NOT_FOUND once, then SUCCESS.
    let signed = tx::sign(t, &kp, &net).expect("sign");
    let (hash, s) = rpc.send_transaction(&signed.envelope).await.expect("send");
    assert_eq!(
        (hash.as_str(), s),
        (signed.hash_hex().as_str(), SendStatus::Pending)
    );
    assert_eq!(
        rpc.get_transaction(&hash).await.expect("poll"),
        TxStatus::NotFound
    );
    assert!(matches!(
        rpc.get_transaction(&hash).await.expect("poll"),
        TxStatus::Success { .. }
    ));
    let (_, again) = rpc.send_transaction(&signed.envelope).await.expect("send");
    assert_eq!(again, SendStatus::Duplicate);
    // Underfunded and too few offers come back as real op codes.
    let big = tx::cyclic_path_payment(
        Header {
            source: kp.public(),
            seq: seq + 2,
            fee: 100,
            max_time: 0,
        },
        &StellarAsset::Native,
        1_000_000 * ONE,
        &[aqua()],
        1,
    )
    .expect("tx");
    let (h2, _) = rpc
        .send_transaction(&tx::sign(big, &kp, &net).expect("sign").envelope)
        .await
        .expect("send");
    let _ = rpc.get_transaction(&h2).await;
    match rpc.get_transaction(&h2).await.expect("poll") {
        TxStatus::Failed { outcome, .. } => assert_eq!(outcome.main_code(), "op_underfunded"),
        other => panic!("{other:?}"),
    }
}

/// PUBLIC: no Friendbot. The master account (the key in the environment)
/// must exist; the fake runs on the public passphrase.
fn public_world(master_xlm: i64) -> SimLedger {
    let mut l = world();
    l.passphrase = PUBLIC_PASSPHRASE.into();
    l.create_account(master().public(), master_xlm);
    l
}

fn public_config() -> StellarArbConfig {
    let mut c = config();
    c.network = Network::Public;
    c.passphrase = PUBLIC_PASSPHRASE.into();
    c.friendbot_url = None;
    c.account_starting_xlm = 500 * ONE;
    c
}

fn public_endpoints(f: &StellarFake) -> Endpoints {
    Endpoints {
        friendbot_url: None,
        ..endpoints(f)
    }
}

#[tokio::test]
async fn public_accounts_are_created_by_the_master_and_booked_on_both_sides() {
    let fake = StellarFake::start(public_world(2_000 * ONE)).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(public_endpoints(&fake)).expect("venue"));
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(public_config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    let h = Harness::new();
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");

    let read = h.store.read().expect("read");
    let results = kstore::results(&read).expect("results");
    let created: Vec<_> = results
        .iter()
        .filter(|e| e.kind == "create_account")
        .collect();
    assert_eq!(created.len(), 2, "{results:?}");
    assert!(created.iter().all(|e| e.result == "tx_success"
        && e.account == master().public().to_string()
        && e.delta == -500 * ONE - 100));
    assert!(kstore::intents(&read).expect("open").is_empty());
    let ids: Vec<AccountKey> = keeper
        .account_ids()
        .iter()
        .map(|s| AccountKey::parse(s).expect("id"))
        .collect();
    for id in &ids {
        let a = fake
            .with(|l| l.account(*id))
            .expect("created by the master");
        assert!(a.trusts(&aqua()), "trustline set");
    }
    // The funded world works: a cycle ran from a created account.
    assert!(
        results
            .iter()
            .any(|e| e.kind == "cycle" && e.result == "tx_success"),
        "{results:?}"
    );
    // Every balance moved exactly by its ledger lines: the master's from
    // its 2 000 XLM, the trading accounts' from nothing.
    let lines = kstore::ledger(&read).expect("ledger");
    let booked = |id: &AccountKey| -> i64 {
        lines
            .iter()
            .filter(|l| l.account == id.to_string())
            .map(|l| l.delta)
            .sum()
    };
    let xlm = |id: &AccountKey| {
        fake.with(|l| l.accounts.get(id).map(|a| a.xlm))
            .expect("account")
    };
    assert_eq!(
        xlm(&master().public()) - 2_000 * ONE,
        booked(&master().public())
    );
    assert_eq!(xlm(&master().public()), 2_000 * ONE - 2 * (500 * ONE + 100));
    for id in &ids {
        assert_eq!(xlm(id), booked(id), "account {id}");
    }
}

#[tokio::test]
async fn public_master_short_of_xlm_sends_nothing_until_topped_up() {
    // 10 XLM: 1 is its minimum balance, 500 per account is far beyond it.
    let fake = StellarFake::start(public_world(10 * ONE)).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(public_endpoints(&fake)).expect("venue"));
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(public_config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    let h = Harness::new();
    let mut notices = h.notices.subscribe();
    keeper.recover(&h.cx(1)).await.expect("recover");
    let seq0 = fake.with(|l| l.accounts.get(&master().public()).map(|a| a.seq));
    keeper.tick(&h.cx(2)).await.expect("tick");
    keeper.tick(&h.cx(3)).await.expect("tick");
    // Told once, not once per pass.
    let told = stellar_notices(&mut notices);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, "funding_failed");
    assert!(
        told[0].1.contains(&master().public().to_string()),
        "{told:?}"
    );

    assert!(
        keeper.view().status.contains("funding") && keeper.view().status.contains("master"),
        "{}",
        keeper.view().status
    );
    let read = h.store.read().expect("read");
    assert!(kstore::intents(&read).expect("open").is_empty());
    assert!(kstore::results(&read).expect("results").is_empty());
    assert_eq!(
        fake.with(|l| l.accounts.get(&master().public()).map(|a| a.seq)),
        seq0,
        "nothing was sent"
    );
    drop(read);

    // Topped up: the next pass creates both accounts.
    fake.with(|l| {
        if let Some(a) = l.accounts.get_mut(&master().public()) {
            a.xlm += 2_000 * ONE;
        }
    });
    keeper.tick(&h.cx(4)).await.expect("tick");
    for id in keeper.account_ids() {
        let id = AccountKey::parse(&id).expect("id");
        assert!(fake.with(|l| l.account(id)).is_some(), "created {id}");
    }
}

#[tokio::test]
async fn paused_the_master_creates_nothing() {
    let fake = StellarFake::start(public_world(2_000 * ONE)).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(public_endpoints(&fake)).expect("venue"));
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(public_config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    let h = Harness::new();
    h.gate.set(&Controls {
        paused: true,
        ..Controls::default()
    });
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");
    assert_eq!(fake.with(|l| l.sends), 0, "nothing sent while paused");
    assert!(keeper.view().status.contains("paused"));
    h.gate.set(&Controls::default());
    keeper.tick(&h.cx(3)).await.expect("tick");
    assert!(fake.with(|l| l.sends) > 0);
}

// ---- hostile peers: faults on the send path ------------------------------

fn endpoints_timeout(f: &StellarFake, timeout: Duration) -> Endpoints {
    Endpoints {
        timeout,
        ..endpoints(f)
    }
}

/// The open Stellar sends as the engine's snapshot lists them.
fn listed_intents(keeper: &StellarArbKeeper) -> Vec<arbkeep::engine::OpenIntentView> {
    let mut snap = arbkeep::engine::Snapshot::empty(Mode::Paper, 0);
    keeper.render(&mut snap);
    snap.intents
}

/// Every trading account's XLM equals what its ledger lines say.
fn assert_books_match(fake: &StellarFake, h: &Harness, keeper: &StellarArbKeeper, what: &str) {
    let lines = kstore::ledger(&h.store.read().expect("read")).expect("ledger");
    for id in keeper.account_ids() {
        let key = AccountKey::parse(&id).expect("id");
        let booked: i64 = lines
            .iter()
            .filter(|l| l.account == id)
            .map(|l| l.delta)
            .sum();
        // Not funded yet: nothing may be booked on it.
        let now = fake
            .with(|l| l.accounts.get(&key).map(|a| a.xlm))
            .unwrap_or(FRIENDBOT_AMOUNT);
        assert_eq!(now - FRIENDBOT_AMOUNT, booked, "{what}: account {id}");
    }
}

/// At the fake: at most one cycle envelope ever, no (account, sequence)
/// with two different envelopes, and at most one cycle applied.
fn assert_sent_once(fake: &StellarFake, what: &str) {
    let subs = fake.submissions();
    assert!(
        subs.cycles.len() <= 1,
        "{what}: a second cycle envelope is a double send: {:?}",
        subs.cycles
    );
    for ((account, seq), hashes) in &subs.by_seq {
        assert_eq!(
            hashes.len(),
            1,
            "{what}: two envelopes for {account} sequence {seq}: {hashes:?}"
        );
    }
    assert!(fake.applied_cycles().len() <= 1, "{what}: applied twice");
}

#[tokio::test]
async fn every_fault_on_the_cycle_send_is_outcome_unknown_then_settled_once_by_looking() {
    use arbkeep::fakes::stellar::{Fault, Rule};
    let faults = [
        Fault::DropBefore,
        Fault::ActThenDrop,
        Fault::Status {
            status: 502,
            after: false,
            retry_after: None,
        },
        Fault::Status {
            status: 503,
            after: true,
            retry_after: None,
        },
        Fault::Status {
            status: 429,
            after: false,
            retry_after: Some(1),
        },
        Fault::Status {
            status: 429,
            after: true,
            retry_after: None,
        },
        Fault::Malformed,
        Fault::Truncated,
        Fault::Silent { ms: 1_500 },
    ];
    for fault in faults {
        let what = format!("{fault:?}");
        let fake = StellarFake::start(world()).await;
        fake.fault(Rule::cycle_send(fault.clone()));
        let venue: Arc<dyn StellarVenue> = Arc::new(
            NetworkVenue::new(endpoints_timeout(&fake, Duration::from_millis(700))).expect("venue"),
        );
        let shared = StellarShared::new(venue, true);
        let mut keeper = StellarArbKeeper::new(config(), shared, &master())
            .with_polling(3, Duration::from_millis(5));
        let h = Harness::new();
        keeper.recover(&h.cx(1)).await.expect("recover");
        keeper.tick(&h.cx(2)).await.expect("tick");
        assert_eq!(fake.fired().len(), 1, "{what}: the fault fired");
        // The answer is lost: nothing booked, the intent open and shown.
        let open = kstore::intents(&h.store.read().expect("read")).expect("open");
        assert_eq!(open.len(), 1, "{what}: the cycle stays open: {open:?}");
        assert_eq!(open[0].kind, "cycle", "{what}");
        let listed = listed_intents(&keeper);
        assert!(
            listed
                .iter()
                .any(|i| i.state == arbkeep::engine::IntentState::OutcomeUnknown
                    && i.what.contains(&open[0].hash)
                    && i.doing.contains("getTransaction")
                    && i.resolve.starts_with("arbkeep resolve s:")),
            "{what}: {listed:?}"
        );
        assert_eq!(
            fake.applied_cycles().len(),
            usize::from(fault.acts()),
            "{what}"
        );
        // Nothing booked for it while its outcome is unknown.
        assert!(
            kstore::results(&h.store.read().expect("read"))
                .expect("results")
                .iter()
                .all(|e| e.kind != "cycle"),
            "{what}"
        );

        // Settled by looking: found (or resent as the same envelope).
        for now in 3..8 {
            keeper.tick(&h.cx(now)).await.expect("tick");
        }
        let read = h.store.read().expect("read");
        assert!(kstore::intents(&read).expect("open").is_empty(), "{what}");
        let cycles: Vec<_> = kstore::results(&read)
            .expect("results")
            .into_iter()
            .filter(|e| e.kind == "cycle")
            .collect();
        assert_eq!(cycles.len(), 1, "{what}: booked once: {cycles:?}");
        assert_eq!(cycles[0].hash, open[0].hash, "{what}: the same transaction");
        assert_eq!(cycles[0].result, "tx_success", "{what}");
        assert_eq!(fake.applied_cycles(), vec![open[0].hash.clone()], "{what}");
        drop(read);
        assert_sent_once(&fake, &what);
        assert_books_match(&fake, &h, &keeper, &what);
        assert!(listed_intents(&keeper).is_empty(), "{what}");
    }
}

#[tokio::test]
async fn seeded_faults_on_every_call_never_double_send_and_the_books_match() {
    use arbkeep::fakes::stellar::Fault;
    for seed in [7_u64, 11, 2026] {
        let what = format!("seed {seed}");
        let fake = StellarFake::start(world()).await;
        fake.seeded(
            seed,
            300,
            &[
                "sendTransaction",
                "getTransaction",
                "getHealth",
                "getLatestLedger",
            ],
            vec![
                Fault::DropBefore,
                Fault::ActThenDrop,
                Fault::Status {
                    status: 502,
                    after: true,
                    retry_after: None,
                },
                Fault::Malformed,
                Fault::Truncated,
            ],
        );
        fake.faults.lock().expect("faults").ledger_lag = 3;
        fake.with(|l| l.hide_polls = 3);
        let venue: Arc<dyn StellarVenue> = Arc::new(
            NetworkVenue::new(endpoints_timeout(&fake, Duration::from_millis(700))).expect("venue"),
        );
        let shared = StellarShared::new(venue, true);
        let mut keeper = StellarArbKeeper::new(config(), shared, &master())
            .with_polling(2, Duration::from_millis(5));
        let h = Harness::new();
        keeper.recover(&h.cx(1)).await.expect("recover");
        for now in 2..14 {
            keeper.tick(&h.cx(now)).await.expect("tick");
            assert_sent_once(&fake, &what);
            // Whatever is open is listed; with nothing open, the books
            // equal the ledger (an open send's money is booked when it
            // settles).
            let open = kstore::intents(&h.store.read().expect("read")).expect("open");
            assert_eq!(listed_intents(&keeper).len(), open.len(), "{what}");
            assert!(
                open.len() <= 1,
                "{what}: nothing new while one is open: {open:?}"
            );
            if open.is_empty() {
                assert_books_match(&fake, &h, &keeper, &what);
            }
        }
        fake.heal();
        for now in 14..20 {
            keeper.tick(&h.cx(now)).await.expect("tick");
        }
        let read = h.store.read().expect("read");
        assert!(kstore::intents(&read).expect("open").is_empty(), "{what}");
        let results = kstore::results(&read).expect("results");
        for hash in fake.with(|l| l.txs.keys().cloned().collect::<Vec<_>>()) {
            assert_eq!(
                results.iter().filter(|e| e.hash == hash).count(),
                1,
                "{what}: applied {hash} settled once"
            );
        }
        drop(read);
        assert_sent_once(&fake, &what);
        assert_books_match(&fake, &h, &keeper, &what);
        assert!(!fake.fired().is_empty(), "{what}: faults fired");
        assert_eq!(fake.applied_cycles().len(), 1, "{what}: the cycle ran once");
    }
}

#[tokio::test]
async fn a_stellar_fault_during_recovery_degrades_the_keeper_instead_of_stopping_the_engine() {
    use arbkeep::fakes::stellar::{Fault, Rule};
    let fake = StellarFake::start(world()).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let h = Harness::new();
    // A cycle signed and recorded by a previous run, still valid.
    let intent = left_intent(&fake, venue.as_ref(), &h).await;
    fake.with(|l| l.close_time = intent.max_time - 60);
    fake.fault(Rule::new(
        "getHealth",
        Fault::Status {
            status: 503,
            after: false,
            retry_after: None,
        },
        2,
    ));
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    keeper
        .recover(&h.cx(1_000))
        .await
        .expect("a Stellar fault does not stop the engine");
    let mut snap = arbkeep::engine::Snapshot::empty(Mode::Paper, 0);
    keeper.render(&mut snap);
    let health = snap
        .venues
        .iter()
        .find(|v| v.name == "stellar")
        .expect("stellar on the venue panel");
    assert!(
        !health.ok && health.detail.contains("DEGRADED"),
        "{health:?}"
    );
    assert!(
        keeper.view().status.contains("DEGRADED"),
        "{}",
        keeper.view().status
    );
    assert_eq!(snap.intents.len(), 1, "the open cycle is listed");
    // Before the backoff has passed: not even a look.
    let sends = fake.with(|l| l.sends);
    keeper.tick(&h.cx(1_500)).await.expect("tick");
    // The next attempt fails too (the second 503): still nothing sent.
    keeper.tick(&h.cx(2_100)).await.expect("tick");
    assert_eq!(fake.with(|l| l.sends), sends, "nothing sent while degraded");
    assert!(
        kstore::results(&h.store.read().expect("read"))
            .expect("r")
            .is_empty()
    );
    // The node is back: recovery finishes, the open cycle is settled, the
    // accounts are set up and the keeper trades.
    for now in [10_000, 10_001, 10_002] {
        keeper.tick(&h.cx(now)).await.expect("tick");
    }
    let read = h.store.read().expect("read");
    let results = kstore::results(&read).expect("results");
    let settled = results
        .iter()
        .find(|e| e.hash == intent.hash)
        .expect("settled");
    assert_eq!(settled.result, "tx_success");
    assert!(kstore::intents(&read).expect("open").is_empty());
    assert!(
        results
            .iter()
            .any(|e| e.kind == "change_trust" && e.result == "tx_success"),
        "{results:?}"
    );
    let mut snap = arbkeep::engine::Snapshot::empty(Mode::Paper, 0);
    keeper.render(&mut snap);
    assert!(
        snap.venues.iter().any(|v| v.name == "stellar" && v.ok),
        "{:?}",
        snap.venues
    );
}

#[tokio::test]
async fn a_stale_oracle_price_is_refused_with_the_reason_on_screen() {
    let mut w = world();
    // Reflector's last update is an hour before the latest close.
    w.oracle_age = 3_600;
    let fake = StellarFake::start(w).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    let h = Harness::new();
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");
    let cycles = |h: &Harness| {
        kstore::results(&h.store.read().expect("read"))
            .expect("results")
            .into_iter()
            .filter(|e| e.kind == "cycle")
            .count()
    };
    assert_eq!(cycles(&h), 0, "nothing traded on a stale price");
    assert_eq!(fake.submissions().cycles.len(), 0);
    let aqua_row = keeper
        .view()
        .oracle
        .iter()
        .find(|o| o.symbol == "AQUA")
        .cloned()
        .expect("row");
    assert!(aqua_row.price.contains("stale"), "{aqua_row:?}");
    assert!(
        keeper.view().status.contains("stale") && keeper.view().status.contains("oracle_max_age"),
        "{}",
        keeper.view().status
    );
    // A fresh price: the cycle runs.
    fake.with(|l| {
        l.oracle_age = 0;
        l.close_ledger();
    });
    keeper.tick(&h.cx(3)).await.expect("tick");
    assert_eq!(cycles(&h), 1);
}

#[tokio::test]
async fn a_book_with_zero_negative_or_huge_figures_is_dropped_not_the_process() {
    use arbkeep::venue::stellar::sim::SimBook;
    let mut w = world();
    // Bypass set_book's own checks: a hostile Horizon serves these.
    for b in w.books.iter_mut() {
        if b.selling == aqua() {
            b.offers.insert(
                0,
                Offer {
                    amount: 5 * ONE,
                    price: Price { n: 0, d: 1 },
                },
            );
            b.offers.insert(
                1,
                Offer {
                    amount: 5 * ONE,
                    price: Price { n: 1, d: 0 },
                },
            );
            b.offers.insert(
                2,
                Offer {
                    amount: -5 * ONE,
                    price: Price { n: 1, d: 102 },
                },
            );
        }
    }
    w.books.push(SimBook {
        selling: StellarAsset::Native,
        buying: StellarAsset::Native,
        offers: vec![Offer {
            amount: i64::MAX,
            price: Price { n: i32::MAX, d: 1 },
        }],
    });
    let fake = StellarFake::start(w).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let book = venue
        .order_book(&aqua(), &StellarAsset::Native)
        .await
        .expect("the book, without its bad offers");
    assert!(
        book.offers
            .iter()
            .all(|o| o.amount > 0 && o.price.n > 0 && o.price.d > 0),
        "{book:?}"
    );
    assert_eq!(book.offers[0].price, Price { n: 1, d: 102 });
    // The keeper scans and trades over what is left, without a panic.
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    let h = Harness::new();
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");
    assert!(!keeper.view().opportunities.is_empty());
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_is_refused_saying_so() {
    use arbkeep::fakes::stellar::{Fault, Rule};
    let fake = StellarFake::start(world()).await;
    fake.fault(Rule::new(
        "getLatestLedger",
        Fault::Huge {
            bytes: 5 * 1024 * 1024,
        },
        1,
    ));
    fake.fault(Rule::new(
        "/order_book",
        Fault::Huge {
            bytes: 5 * 1024 * 1024,
        },
        1,
    ));
    let rpc = RpcClient::new(&fake.rpc_url(), Duration::from_secs(5)).expect("rpc");
    let e = rpc.get_latest_ledger().await.expect_err("capped");
    assert!(e.to_string().contains("4194304-byte cap"), "{e}");
    assert!(
        e.to_string().contains("getLatestLedger"),
        "names the call: {e}"
    );
    let horizon = HorizonClient::new(&fake.horizon_url(), Duration::from_secs(5)).expect("h");
    let e = horizon
        .order_book(&aqua(), &StellarAsset::Native, 20)
        .await
        .expect_err("capped");
    assert!(e.to_string().contains("4194304-byte cap"), "{e}");
    // The next answers are normal.
    assert!(rpc.get_latest_ledger().await.is_ok());
}

#[tokio::test]
async fn the_operator_drops_the_halted_intent_and_the_keeper_runs_again() {
    let fake = StellarFake::start(world()).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let h = Harness::new();
    let intent = left_intent(&fake, venue.as_ref(), &h).await;
    // Its sequence is used by another transaction, and the RPC's history
    // no longer reaches back: it cannot be decided by looking.
    let key = arbkeep::strategy::stellar_arb::trading_key(&master(), 0);
    let other = tx::payment(
        Header {
            source: key.public(),
            seq: intent.sequence,
            fee: 100,
            max_time: 0,
        },
        issuer().public(),
        &StellarAsset::Native,
        ONE,
    )
    .expect("tx");
    let signed = tx::sign(
        other,
        &key,
        &arbkeep::venue::stellar::network_id(TESTNET_PASSPHRASE),
    )
    .expect("sign");
    venue.send(&signed.envelope).await.expect("send");
    fake.with(|l| {
        l.forget_history();
        l.close_time = intent.max_time + 7 * 86_400;
    });
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    let mut notices = h.notices.subscribe();
    keeper.recover(&h.cx(1)).await.expect("recover");
    let listed = listed_intents(&keeper);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, arbkeep::engine::IntentState::Halted);
    assert!(
        listed[0].doing.contains("HALTED") && listed[0].doing.contains(&intent.hash),
        "{listed:?}"
    );
    let id = listed[0].id.clone();
    assert_eq!(id, format!("s:{}", &intent.hash[..12]));
    // An id of another strategy is left to others.
    let other_cmd = arbkeep::engine::Command::Resolve {
        id: "h12".into(),
        resolution: arbkeep::engine::Resolution::Drop,
        reason: "x".into(),
        evidence: None,
    };
    assert!(keeper.command(&other_cmd, &h.cx(2)).is_none());
    // Retry cannot prove it dead: refused, still halted.
    let retry = arbkeep::engine::Command::Resolve {
        id: id.clone(),
        resolution: arbkeep::engine::Resolution::Retry,
        reason: "try".into(),
        evidence: None,
    };
    let r = keeper.command(&retry, &h.cx(2)).expect("ours").await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(
        kstore::intents(&h.store.read().expect("read"))
            .expect("o")
            .len(),
        1
    );
    // The operator checked an explorer: it never applied.
    let drop_cmd = arbkeep::engine::Command::Resolve {
        id: id.clone(),
        resolution: arbkeep::engine::Resolution::Drop,
        reason: "stellar.expert shows the payment, not the cycle".into(),
        evidence: None,
    };
    let r = keeper
        .command(&drop_cmd, &h.cx(3))
        .expect("ours")
        .await
        .expect("dropped");
    assert!(r.contains("dropped"), "{r}");
    let read = h.store.read().expect("read");
    assert!(kstore::intents(&read).expect("open").is_empty());
    let rec = kstore::resolutions(&read).expect("resolutions");
    assert_eq!(rec.len(), 2, "both decisions recorded: {rec:?}");
    assert_eq!(rec[1].resolution, "drop");
    assert_eq!(rec[1].hash, intent.hash);
    let r = kstore::results(&read).expect("results");
    let it = r
        .iter()
        .find(|e| e.hash == intent.hash)
        .expect("written off");
    assert_eq!(it.delta, 0, "nothing booked");
    drop(read);
    assert!(
        stellar_notices(&mut notices)
            .iter()
            .any(|(k, m)| k == "intent_resolved" && m.contains(&id))
    );
    assert!(listed_intents(&keeper).is_empty());
    // Un-halted: the next pass sets up the accounts and trades.
    fake.with(|l| l.close_ledger());
    keeper.tick(&h.cx(4)).await.expect("tick");
    assert!(
        !keeper.view().status.contains("halted"),
        "{}",
        keeper.view().status
    );
    assert!(fake.applied_cycles().len() == 1, "{:?}", fake.submissions());
}

#[tokio::test]
async fn paused_mid_pass_the_cycle_is_not_sent() {
    // The gate closes while the pass waits on the network, just before the
    // cycle would be sent: checked at the last moment, nothing leaves.
    struct PauseOnBook {
        inner: NetworkVenue,
        gate: Arc<SendGate>,
        armed: std::sync::atomic::AtomicBool,
    }
    impl StellarVenue for PauseOnBook {
        fn liquidity_pool<'a>(
            &'a self,
            a: &'a StellarAsset,
            b: &'a StellarAsset,
        ) -> BoxFuture<'a, Result<Option<arbkeep::venue::stellar::pool::LiquidityPool>, VenueError>>
        {
            self.inner.liquidity_pool(a, b)
        }
        fn network(&self) -> BoxFuture<'_, Result<NetworkInfo, VenueError>> {
            self.inner.network()
        }
        fn latest_ledger(&self) -> BoxFuture<'_, Result<u32, VenueError>> {
            self.inner.latest_ledger()
        }
        fn ledger_window(&self) -> BoxFuture<'_, Result<LedgerWindow, VenueError>> {
            self.inner.ledger_window()
        }
        fn account(
            &self,
            id: AccountKey,
        ) -> BoxFuture<'_, Result<Option<AccountState>, VenueError>> {
            // The operator pauses while the pass reads balances to execute.
            if self.armed.load(std::sync::atomic::Ordering::SeqCst) {
                self.gate.set(&Controls {
                    paused: true,
                    ..Controls::default()
                });
            }
            self.inner.account(id)
        }
        fn order_book<'a>(
            &'a self,
            s: &'a StellarAsset,
            b: &'a StellarAsset,
        ) -> BoxFuture<'a, Result<OrderBook, VenueError>> {
            self.inner.order_book(s, b)
        }
        fn oracle_prices<'a>(
            &'a self,
            s: &'a [String],
        ) -> BoxFuture<'a, Result<Prices, VenueError>> {
            // Detection is next: arm the pause for the execution's reads.
            self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
            self.inner.oracle_prices(s)
        }
        fn supported_assets(&self) -> BoxFuture<'_, Result<Vec<SupportedAsset>, VenueError>> {
            self.inner.supported_assets()
        }
        fn fee_stats(
            &self,
        ) -> BoxFuture<'_, Result<arbkeep::venue::stellar::FeeStats, VenueError>> {
            self.inner.fee_stats()
        }
        fn fund(&self, id: AccountKey) -> BoxFuture<'_, Result<bool, VenueError>> {
            self.inner.fund(id)
        }
        fn send<'a>(&'a self, e: &'a str) -> BoxFuture<'a, Result<SendStatus, VenueError>> {
            self.inner.send(e)
        }
        fn transaction<'a>(&'a self, h: &'a str) -> BoxFuture<'a, Result<TxStatus, VenueError>> {
            self.inner.transaction(h)
        }
        fn strict_send_paths<'a>(
            &'a self,
            source: &'a StellarAsset,
            amount: i64,
            destinations: &'a [StellarAsset],
        ) -> BoxFuture<'a, Result<Vec<PathQuote>, VenueError>> {
            self.inner.strict_send_paths(source, amount, destinations)
        }
    }
    let fake = StellarFake::start(world()).await;
    let h = Harness::new();
    let venue: Arc<dyn StellarVenue> = Arc::new(PauseOnBook {
        inner: NetworkVenue::new(endpoints(&fake)).expect("venue"),
        gate: h.gate.clone(),
        armed: std::sync::atomic::AtomicBool::new(false),
    });
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");
    assert_eq!(
        fake.submissions().cycles.len(),
        0,
        "no cycle sent after the pause"
    );
    assert!(
        kstore::intents(&h.store.read().expect("read"))
            .expect("o")
            .is_empty()
    );
}

/// A TESTNET keeper (Friendbot funding) over `fake`, polling fast.
fn testnet_keeper(fake: &StellarFake) -> StellarArbKeeper {
    let venue: Arc<dyn StellarVenue> = Arc::new(NetworkVenue::new(endpoints(fake)).expect("venue"));
    let shared = StellarShared::new(venue, true);
    StellarArbKeeper::new(config(), shared, &master()).with_polling(5, Duration::from_millis(5))
}

/// Friendbot creates the account and its answer is lost — the connection
/// dropped, a 502 or 503 from its gateway, a 429 after acting — through the
/// journal: OUTCOME UNKNOWN, settled by looking at the account, booked
/// once. (A 200 is Friendbot's whole answer: its body is never read.)
#[tokio::test]
async fn a_lost_friendbot_answer_is_settled_by_looking_at_the_account() {
    use arbkeep::fakes::stellar::{Fault, Rule};
    for fault in [
        Fault::ActThenDrop,
        Fault::Status {
            status: 503,
            after: true,
            retry_after: None,
        },
        Fault::Status {
            status: 502,
            after: true,
            retry_after: None,
        },
        Fault::Status {
            status: 429,
            after: true,
            retry_after: Some(1),
        },
    ] {
        let fake = StellarFake::start(world()).await;
        fake.fault(Rule::new("/friendbot", fault.clone(), 1));
        let mut keeper = testnet_keeper(&fake);
        let h = Harness::new();
        keeper.recover(&h.cx(1)).await.expect("recover");
        keeper.tick(&h.cx(2)).await.expect("tick");
        let open = kstore::intents(&h.store.read().expect("read")).expect("open");
        assert_eq!(open.len(), 1, "{fault:?}: {open:?}");
        assert_eq!(open[0].kind, "friendbot");
        let listed = listed_intents(&keeper);
        assert!(
            listed
                .iter()
                .any(|i| i.state == arbkeep::engine::IntentState::OutcomeUnknown
                    && i.what.contains("Friendbot")),
            "{fault:?}: {listed:?}"
        );
        // Looking finds the account: funded, and the keeper goes on to trade.
        keeper.tick(&h.cx(3)).await.expect("tick");
        keeper.tick(&h.cx(4)).await.expect("tick");
        let read = h.store.read().expect("read");
        assert!(
            kstore::intents(&read).expect("open").is_empty(),
            "{fault:?}"
        );
        let results = kstore::results(&read).expect("results");
        assert!(
            results
                .iter()
                .any(|e| e.kind == "friendbot" && e.result.starts_with("funded (seen")),
            "{fault:?}: {results:?}"
        );
        drop(read);
        assert_eq!(fake.applied_cycles().len(), 1, "{fault:?}");
        assert_books_match(&fake, &h, &keeper, "friendbot");
    }
}

/// Friendbot refuses (a 400 before acting): the funding closes as refused
/// with the reason, nothing is created, nothing is left open, and the next
/// pass asks again.
#[tokio::test]
async fn a_friendbot_refusal_closes_the_funding_and_the_next_pass_asks_again() {
    use arbkeep::fakes::stellar::{Fault, Rule};
    let fake = StellarFake::start(world()).await;
    fake.fault(Rule::new(
        "/friendbot",
        Fault::Status {
            status: 400,
            after: false,
            retry_after: None,
        },
        1,
    ));
    let mut keeper = testnet_keeper(&fake);
    let h = Harness::new();
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");
    let read = h.store.read().expect("read");
    assert!(kstore::intents(&read).expect("open").is_empty());
    let results = kstore::results(&read).expect("results");
    assert!(
        results
            .iter()
            .any(|e| e.kind == "friendbot" && e.result.starts_with("refused")),
        "{results:?}"
    );
    drop(read);
    assert!(
        keeper.view().status.contains("Friendbot could not fund"),
        "{}",
        keeper.view().status
    );
    keeper.tick(&h.cx(3)).await.expect("tick");
    keeper.tick(&h.cx(4)).await.expect("tick");
    let read = h.store.read().expect("read");
    let results = kstore::results(&read).expect("results");
    assert!(
        results
            .iter()
            .any(|e| e.kind == "friendbot" && e.result == "funded"),
        "asked again and funded: {results:?}"
    );
    drop(read);
    assert_eq!(fake.applied_cycles().len(), 1);
    assert_books_match(&fake, &h, &keeper, "friendbot refused once");
}

#[tokio::test]
async fn a_create_account_answered_503_after_applying_is_booked_once_on_both_sides() {
    use arbkeep::fakes::stellar::{Fault, Rule};
    let fake = StellarFake::start(public_world(2_000 * ONE)).await;
    // The first send is the master's CreateAccount.
    fake.fault(Rule::new(
        "sendTransaction",
        Fault::Status {
            status: 503,
            after: true,
            retry_after: None,
        },
        1,
    ));
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(public_endpoints(&fake)).expect("venue"));
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(public_config(), shared, &master())
        .with_polling(5, Duration::from_millis(5));
    let h = Harness::new();
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");
    let open = kstore::intents(&h.store.read().expect("read")).expect("open");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].kind, "create_account");
    for now in 3..7 {
        keeper.tick(&h.cx(now)).await.expect("tick");
    }
    let read = h.store.read().expect("read");
    assert!(kstore::intents(&read).expect("open").is_empty());
    let results = kstore::results(&read).expect("results");
    let created: Vec<_> = results
        .iter()
        .filter(|e| e.kind == "create_account")
        .collect();
    assert_eq!(created.len(), 2, "{results:?}");
    assert!(created.iter().all(|e| e.result == "tx_success"));
    let lines = kstore::ledger(&read).expect("ledger");
    let booked = |id: &AccountKey| -> i64 {
        lines
            .iter()
            .filter(|l| l.account == id.to_string())
            .map(|l| l.delta)
            .sum()
    };
    let xlm = |id: &AccountKey| {
        fake.with(|l| l.accounts.get(id).map(|a| a.xlm))
            .expect("account")
    };
    assert_eq!(
        xlm(&master().public()) - 2_000 * ONE,
        booked(&master().public())
    );
    assert_eq!(xlm(&master().public()), 2_000 * ONE - 2 * (500 * ONE + 100));
    for id in keeper.account_ids() {
        let id = AccountKey::parse(&id).expect("id");
        assert_eq!(xlm(&id), booked(&id), "account {id}");
    }
    let subs = fake.submissions();
    for ((account, seq), hashes) in &subs.by_seq {
        assert_eq!(hashes.len(), 1, "{account} {seq}: {hashes:?}");
    }
}

#[tokio::test]
async fn a_horizon_submission_answered_502_after_applying_is_an_unknown_outcome() {
    use arbkeep::fakes::stellar::{Fault, Rule};
    let fake = StellarFake::start(world()).await;
    let kp = Keypair::from_seed([0x46; 32]);
    fake.with(|l| l.friendbot(kp.public()));
    let horizon = HorizonClient::new(&fake.horizon_url(), Duration::from_secs(5)).expect("h");
    let seq = horizon
        .account(kp.public())
        .await
        .expect("account")
        .expect("exists")
        .sequence;
    let t = tx::change_trust(
        Header {
            source: kp.public(),
            seq: seq + 1,
            fee: 100,
            max_time: 0,
        },
        &aqua(),
        tx::TRUST_LIMIT,
    )
    .expect("tx");
    let signed = tx::sign(
        t,
        &kp,
        &arbkeep::venue::stellar::network_id(TESTNET_PASSPHRASE),
    )
    .expect("sign");
    for fault in [
        Fault::Status {
            status: 502,
            after: true,
            retry_after: None,
        },
        Fault::Malformed,
        Fault::Truncated,
    ] {
        fake.fault(Rule::new("/transactions", fault.clone(), 1));
        let e = horizon
            .submit(&signed.envelope)
            .await
            .expect_err("no answer");
        assert!(
            matches!(VenueError::from(e), VenueError::Unknown(_)),
            "{fault:?}"
        );
    }
    // It applied the first time; the same envelope returns its result.
    assert!(
        horizon
            .submit(&signed.envelope)
            .await
            .expect("again")
            .outcome
            .succeeded()
    );
}

#[tokio::test]
async fn operator_evidence_is_checked_and_a_drop_of_a_send_that_applied_is_refused() {
    use arbkeep::fakes::stellar::{Fault, Rule};
    let fake = StellarFake::start(world()).await;
    fake.fault(Rule::cycle_send(Fault::ActThenDrop));
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let shared = StellarShared::new(venue, true);
    let mut keeper = StellarArbKeeper::new(config(), shared, &master())
        .with_polling(2, Duration::from_millis(5));
    let h = Harness::new();
    keeper.recover(&h.cx(1)).await.expect("recover");
    keeper.tick(&h.cx(2)).await.expect("tick");
    // The cycle applied, its answer lost, and the node's listing lags far
    // behind.
    let cycle = fake.applied_cycles();
    assert_eq!(cycle.len(), 1);
    fake.with(|l| {
        if let Some(t) = l.txs.get_mut(&cycle[0]) {
            t.hidden_polls = 1_000;
        }
    });
    let listed = listed_intents(&keeper);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let id = listed[0].id.clone();
    let hash = kstore::intents(&h.store.read().expect("read")).expect("o")[0]
        .hash
        .clone();
    let resolve = |resolution, evidence: Option<&str>| arbkeep::engine::Command::Resolve {
        id: id.clone(),
        resolution,
        reason: "checked on stellar.expert".into(),
        evidence: evidence.map(String::from),
    };
    // Evidence naming another transaction is refused.
    let wrong = resolve(arbkeep::engine::Resolution::Settle, Some(&"ab".repeat(32)));
    let r = keeper.command(&wrong, &h.cx(3)).expect("ours").await;
    assert!(r.is_err_and(|e| e.contains("not this send")));
    // The right hash, but getTransaction cannot confirm it yet: nothing is
    // booked on the operator's word alone.
    let unconfirmed = resolve(arbkeep::engine::Resolution::Settle, Some(&hash));
    let r = keeper.command(&unconfirmed, &h.cx(3)).expect("ours").await;
    assert!(r.is_err_and(|e| e.contains("cannot be checked")));
    assert_eq!(
        kstore::intents(&h.store.read().expect("read"))
            .expect("o")
            .len(),
        1
    );
    // A drop of a send that applied would lose its money: once the listing
    // catches up, drop is refused and the result is booked instead.
    for t in fake.with(|l| l.txs.keys().cloned().collect::<Vec<_>>()) {
        fake.with(|l| {
            if let Some(x) = l.txs.get_mut(&t) {
                x.hidden_polls = 0;
            }
        });
    }
    let drop_cmd = resolve(arbkeep::engine::Resolution::Drop, None);
    let r = keeper.command(&drop_cmd, &h.cx(4)).expect("ours").await;
    assert!(
        r.is_err_and(|e| e.contains("not dropped")),
        "applied: not dropped"
    );
    let read = h.store.read().expect("read");
    assert!(kstore::intents(&read).expect("open").is_empty());
    let results = kstore::results(&read).expect("results");
    let it = results.iter().find(|e| e.hash == hash).expect("booked");
    assert_eq!(it.result, "tx_success");
    assert_eq!(kstore::resolutions(&read).expect("r").len(), 3);
    drop(read);
    assert_books_match(&fake, &h, &keeper, "settled by the operator's look");
    // And a settle by evidence of a send no longer open is refused.
    let again = resolve(arbkeep::engine::Resolution::Settle, Some(&hash));
    let r = keeper.command(&again, &h.cx(5)).expect("ours").await;
    assert!(r.is_err_and(|e| e.contains("no open Stellar send")));
}

#[tokio::test]
async fn start_engine_is_a_command_the_keeper_answers_and_it_starts_once() {
    let fake = StellarFake::start(world()).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    // autostart off: the keeper waits for the operator.
    let shared = StellarShared::new(venue, false);
    let mut keeper = StellarArbKeeper::new(config(), shared.clone(), &master());
    let h = Harness::new();
    let cx = h.cx(1);
    let start = |strategy: &str| arbkeep::engine::Command::Start {
        strategy: strategy.into(),
    };
    assert!(
        keeper.command(&start("equity_hedge"), &cx).is_none(),
        "another strategy's start is not this keeper's"
    );
    assert!(!shared.started());
    let first = keeper
        .command(&start("stellar_arb"), &cx)
        .expect("taken")
        .await;
    assert_eq!(first.as_deref(), Ok("Arbitrage engine started"));
    assert!(shared.started());
    let again = keeper
        .command(&start("stellar_arb"), &cx)
        .expect("taken")
        .await;
    assert_eq!(again.as_deref(), Ok("Arbitrage engine already running"));
}
