//! Liquidity pools end to end, against the loopback fakes: a cycle
//! XLM →book AQUA →pool EURC →book XLM — profitable only through the pool —
//! is detected from books and the pool Horizon serves, shown per leg,
//! published with its legs, executed by the keeper as one path payment, and
//! the account's XLM change equals what the keeper's Stellar ledger booked;
//! the pool's reserves moved by exactly the hop's trade.

use crate::support;

use arbkeep::engine::{Keeper, KeeperContext, Phase, SendGate};
use arbkeep::fakes::stellar::{StellarFake, aqua, detector, endpoints, issuer, reflector};
use arbkeep::model::Mode;
use arbkeep::store::Store;
use arbkeep::strategy::stellar_arb::store as kstore;
use arbkeep::strategy::stellar_arb::{StellarArbConfig, StellarArbKeeper, StellarShared};
use arbkeep::venue::stellar::network::NetworkVenue;
use arbkeep::venue::stellar::pool::LiquidityPool;
use arbkeep::venue::stellar::sim::{FRIENDBOT_AMOUNT, SimLedger};
use arbkeep::venue::stellar::{
    AccountKey, Keypair, ONE, Offer, Price, StellarAsset, StellarVenue, SupportedAsset,
    TESTNET_PASSPHRASE,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

fn eurc() -> StellarAsset {
    StellarAsset::Credit {
        code: "EURC".into(),
        issuer: issuer().public(),
    }
}

/// XLM $0.10, AQUA $0.001, EURC $1. The books sit at the oracle (no cycle
/// through books alone pays); the AQUA/EURC pool sells EURC 2 % cheap.
fn pool_world() -> SimLedger {
    let mut l = SimLedger::new(TESTNET_PASSPHRASE, detector(), reflector());
    l.create_account(issuer().public(), 100 * ONE);
    l.supported = ["AQUA", "EURC"]
        .iter()
        .map(|c| SupportedAsset {
            code: (*c).into(),
            issuer: issuer().public().to_string(),
        })
        .collect();
    l.oracle.insert("XLM".into(), 10_000_000_000_000);
    l.oracle.insert("AQUA".into(), 100_000_000_000);
    l.oracle.insert("EURC".into(), 100_000_000_000_000);
    let offer = |amount: i64, n: i32, d: i32| Offer {
        amount,
        price: Price { n, d },
    };
    // XLM → AQUA: 100 AQUA per XLM (offers sell AQUA at 1/100 XLM).
    l.set_book(
        aqua(),
        StellarAsset::Native,
        vec![offer(10_000_000 * ONE, 1, 100)],
    );
    // AQUA → XLM: 101 AQUA per XLM (a spread: the 2-hop cycle loses).
    l.set_book(
        StellarAsset::Native,
        aqua(),
        vec![offer(100_000 * ONE, 101, 1)],
    );
    // AQUA → EURC by the book: 1000 AQUA per EURC, at the oracle.
    l.set_book(eurc(), aqua(), vec![offer(100_000 * ONE, 1_000, 1)]);
    // EURC → XLM: 10 XLM per EURC (offers sell XLM at 1/10 EURC).
    l.set_book(
        StellarAsset::Native,
        eurc(),
        vec![offer(100_000 * ONE, 1, 10)],
    );
    // XLM → EURC: 10.1 XLM per EURC.
    l.set_book(
        eurc(),
        StellarAsset::Native,
        vec![offer(100_000 * ONE, 101, 10)],
    );
    l.set_pool(
        LiquidityPool::new(
            &aqua(),
            &eurc(),
            100_000_000 * ONE,
            102_000 * ONE,
            1_000 * ONE,
        )
        .expect("pool"),
    );
    l
}

fn config() -> StellarArbConfig {
    support::stellar_keeper::testnet_config(1, vec![aqua(), eurc()])
}

#[tokio::test]
async fn a_cycle_through_a_pool_is_detected_executed_and_booked_exactly() {
    let fake = StellarFake::start(pool_world()).await;
    let pool_before = fake.with(|l| l.pool(&aqua(), &eurc())).expect("pool");
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    // The network client reads the fake's pool exactly.
    assert_eq!(
        venue.liquidity_pool(&eurc(), &aqua()).await.expect("read"),
        Some(pool_before.clone())
    );
    assert_eq!(
        venue
            .liquidity_pool(&StellarAsset::Native, &aqua())
            .await
            .expect("read"),
        None
    );
    let shared = StellarShared::new(venue.clone(), true);
    let mut events = shared.subscribe();
    let mut keeper =
        StellarArbKeeper::new(config(), shared.clone(), &Keypair::from_seed([0x44; 32]))
            .with_polling(5, Duration::from_millis(5));
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path(), Mode::Paper).expect("store");
    let gate = SendGate::default();
    let (notices, _) = broadcast::channel(16);
    let cx = |now| KeeperContext {
        store: &store,
        now,
        phase: Phase::Running,
        gate: &gate,
        notices: &notices,
    };
    keeper.recover(&cx(1)).await.expect("recover");
    keeper.tick(&cx(2)).await.expect("tick");

    // Shown per leg.
    let view = keeper.view();
    let top = view.opportunities.first().expect("an opportunity");
    assert_eq!(top.path, "XLM →book AQUA →pool EURC →book XLM", "{view:?}");
    assert!(top.expected > top.send + top.fee, "{top:?}");

    // Executed once, successfully, and booked exactly.
    let results = kstore::results(&store.read().expect("read")).expect("results");
    let cycles: Vec<_> = results.iter().filter(|e| e.kind == "cycle").collect();
    assert_eq!(cycles.len(), 1, "{results:?}");
    assert_eq!(cycles[0].result, "tx_success", "{results:?}");
    assert!(cycles[0].delta > 0, "profit {}", cycles[0].delta);
    // The route the network's result reports, and what arrived, against
    // the prediction: the same hops, the same amount to the stroop.
    let predicted = cycles[0].predicted.clone().expect("a prediction");
    assert_eq!(predicted.route, "XLM →book AQUA →pool EURC →book XLM");
    assert_eq!(cycles[0].route, predicted.route);
    assert_eq!(cycles[0].delivered, Some(predicted.delivered));
    let row = &keeper.view().executions[0];
    assert_eq!(
        (row.route.as_str(), row.delivered, row.predicted.as_ref()),
        (
            predicted.route.as_str(),
            Some(predicted.delivered),
            Some(&predicted)
        )
    );
    let id = AccountKey::parse(&keeper.account_ids()[0]).expect("id");
    let now = fake
        .with(|l| l.accounts.get(&id).map(|a| a.xlm))
        .expect("account");
    let lines = kstore::ledger(&store.read().expect("read")).expect("ledger");
    let booked: i64 = lines
        .iter()
        .filter(|l| l.account == id.to_string())
        .map(|l| l.delta)
        .sum();
    assert_eq!(now - FRIENDBOT_AMOUNT, booked);

    // The pool took the AQUA → EURC hop: its AQUA reserve grew by what was
    // sent in and its EURC reserve fell by what the formula pays.
    let pool_after = fake.with(|l| l.pool(&aqua(), &eurc())).expect("pool");
    let aqua_in = if pool_after.asset_a == aqua() {
        pool_after.reserve_a - pool_before.reserve_a
    } else {
        pool_after.reserve_b - pool_before.reserve_b
    };
    assert!(aqua_in > 0, "{pool_before:?} → {pool_after:?}");
    let paid = pool_before.quote(&aqua(), aqua_in).expect("quote");
    let eurc_out = if pool_after.asset_a == eurc() {
        pool_before.reserve_a - pool_after.reserve_a
    } else {
        pool_before.reserve_b - pool_after.reserve_b
    };
    assert_eq!(eurc_out, paid);

    // The WebSocket opportunity carries its legs; the result, the route
    // taken against the one predicted.
    let mut legs = None;
    let mut result = None;
    while let Ok(e) = events.try_recv() {
        if let Some(l) = e.pointer("/opportunity/legs") {
            legs.get_or_insert(l.clone());
        }
        if let Some(r) = e
            .get("result")
            .filter(|r| r["hash"] == cycles[0].hash.as_str())
        {
            result.get_or_insert(r.clone());
        }
    }
    let result = result.expect("the cycle's result published");
    assert_eq!(result["route"], serde_json::json!(predicted.route));
    assert_eq!(
        result["predicted"]["route"],
        serde_json::json!(predicted.route)
    );
    assert_eq!(result["delivered"], serde_json::json!(predicted.delivered));
    assert_eq!(
        legs.expect("an opportunity published"),
        serde_json::json!([
            {"from": "XLM", "to": "AQUA", "via": "book"},
            {"from": "AQUA", "to": "EURC", "via": "pool"},
            {"from": "EURC", "to": "XLM", "via": "book"},
        ])
    );
}

/// A pool answer that cannot be read drops the pool from the scan, with a
/// note on screen: the hop is judged on its book alone (what the network
/// pays is then at least the prediction), so the pool-only cycle is not
/// found and nothing is sent.
#[tokio::test]
async fn an_unreadable_pool_is_dropped_from_the_scan_with_a_note() {
    let fake = StellarFake::start(pool_world()).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let shared = StellarShared::new(venue.clone(), true);
    let mut keeper =
        StellarArbKeeper::new(config(), shared.clone(), &Keypair::from_seed([0x45; 32]))
            .with_polling(5, Duration::from_millis(5));
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path(), Mode::Paper).expect("store");
    let gate = SendGate::default();
    let (notices, _) = broadcast::channel(16);
    let cx = |now| KeeperContext {
        store: &store,
        now,
        phase: Phase::Running,
        gate: &gate,
        notices: &notices,
    };
    keeper.recover(&cx(1)).await.expect("recover");
    fake.faults
        .lock()
        .expect("faults")
        .rules
        .push(arbkeep::fakes::stellar::Rule::new(
            "/liquidity_pools",
            arbkeep::fakes::stellar::Fault::Malformed,
            u32::MAX,
        ));
    keeper.tick(&cx(2)).await.expect("tick");
    let view = keeper.view();
    assert!(
        view.status.contains("pool AQUA/EURC dropped"),
        "{}",
        view.status
    );
    assert!(
        view.opportunities.iter().all(|o| !o.path.contains("pool")),
        "{view:?}"
    );
    let results = kstore::results(&store.read().expect("read")).expect("results");
    assert!(results.iter().all(|e| e.kind != "cycle"), "{results:?}");
}

/// A pool answer refused for now (503) fails the scan like a book would —
/// the keeper shows Stellar unreachable and sends nothing on a half-read
/// market; once Horizon answers again the
/// pool's cycle is found and executed once.
#[tokio::test]
async fn a_transient_pool_failure_sends_nothing_until_the_pool_is_read() {
    let fake = StellarFake::start(pool_world()).await;
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let shared = StellarShared::new(venue.clone(), true);
    let mut keeper =
        StellarArbKeeper::new(config(), shared.clone(), &Keypair::from_seed([0x46; 32]))
            .with_polling(5, Duration::from_millis(5));
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path(), Mode::Paper).expect("store");
    let gate = SendGate::default();
    let (notices, _) = broadcast::channel(16);
    let cx = |now| KeeperContext {
        store: &store,
        now,
        phase: Phase::Running,
        gate: &gate,
        notices: &notices,
    };
    keeper.recover(&cx(1)).await.expect("recover");
    fake.faults
        .lock()
        .expect("faults")
        .rules
        .push(arbkeep::fakes::stellar::Rule::new(
            "/liquidity_pools",
            arbkeep::fakes::stellar::Fault::Status {
                status: 503,
                after: false,
                retry_after: None,
            },
            u32::MAX,
        ));
    keeper.tick(&cx(2)).await.expect("tick");
    let status = keeper.view().status.clone();
    assert!(
        status.contains("Stellar unreachable") && status.contains("503"),
        "{status}"
    );
    let cycles = |store: &Store| {
        kstore::results(&store.read().expect("read"))
            .expect("results")
            .into_iter()
            .filter(|e| e.kind == "cycle")
            .count()
    };
    assert_eq!(cycles(&store), 0);
    fake.faults.lock().expect("faults").rules.clear();
    keeper.tick(&cx(3)).await.expect("tick");
    assert_eq!(cycles(&store), 1);
}
