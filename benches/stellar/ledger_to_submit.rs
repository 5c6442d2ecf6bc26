//! Ledger close → transaction submitted, end to end through the real
//! pieces: the loopback fake (`arbkeep::fakes::stellar`) closes a
//! ledger and sends it on its SSE `/ledgers` stream; the keeper's
//! `LedgerFeed` hears it and wakes the real engine (passes a minute apart,
//! so no pass helps), whose early turn scans (accounts, books, oracle by
//! simulation), cross-checks with Horizon's path finding, records the
//! intent, signs and sends; the fake timestamps the event it sent and the
//! envelope's arrival. Milliseconds, one per close.

use arbkeep::config::Config;
use arbkeep::engine::{Engine, EngineOptions, Mode};
use arbkeep::fakes::stellar::{StellarFake, aqua, detector, reflector, world};
use arbkeep::model::SystemClock;
use arbkeep::store::Store;
use arbkeep::strategy::stellar_arb::{StellarArbConfig, StellarArbKeeper, StellarShared};
use arbkeep::venue::stellar::network::{Endpoints, NetworkVenue};
use arbkeep::venue::stellar::stream::{FeedSettings, LedgerFeed};
use arbkeep::venue::stellar::{Keypair, ONE, Offer, Price, StellarAsset, StellarVenue};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn book(mispriced: bool) -> Vec<Offer> {
    let mut offers = vec![Offer {
        amount: 100_000 * ONE,
        price: Price { n: 1, d: 99 },
    }];
    if mispriced {
        offers.insert(
            0,
            Offer {
                amount: 10_000 * ONE,
                price: Price { n: 1, d: 102 },
            },
        );
    }
    offers
}

async fn wait(what: &str, within: Duration, ok: impl Fn() -> bool) {
    let end = Instant::now() + within;
    while !ok() {
        assert!(
            Instant::now() < end,
            "bench: {what} not reached in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `closes` measurements, ms.
pub async fn measure(closes: usize) -> Vec<f64> {
    let mut l = world();
    l.set_book(aqua(), StellarAsset::Native, book(false));
    let fake = StellarFake::start(l).await;
    let endpoints = Endpoints {
        horizon_url: fake.horizon_url(),
        rpc_url: fake.rpc_url(),
        friendbot_url: Some(fake.friendbot_url()),
        detector: detector(),
        reflector: reflector(),
        timeout: Duration::from_secs(5),
    };
    let venue: Arc<dyn StellarVenue> = Arc::new(NetworkVenue::new(endpoints).expect("venue"));
    let settings = FeedSettings {
        silence: Duration::from_secs(120),
        poll_every: Duration::from_millis(50),
        stream_retry: Duration::from_secs(120),
    };
    let feed = LedgerFeed::horizon(&fake.horizon_url(), venue.clone(), settings).expect("feed");
    let mut config = StellarArbConfig::testnet_defaults();
    config.enabled = true;
    config.num_accounts = 1;
    config.assets = vec![aqua()];
    config.detector_contract = detector().to_string();
    config.reflector_contract = reflector().to_string();
    config.scan_interval_ms = 3_600_000;
    let keeper = StellarArbKeeper::new(
        config,
        StellarShared::new(venue, true),
        &Keypair::from_seed([0x33; 32]),
    )
    .with_polling(50, Duration::from_millis(2))
    .with_ledger_feed(feed);
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path(), Mode::Paper).expect("store");
    let mut engine_config = Config::default();
    engine_config.engine.reconcile_interval_ms = 60_000;
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, handle) = Engine::new(engine_config, options, Arc::new(SystemClock), store);
    engine.add_keeper(Box::new(keeper));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(engine.run(stopped));
    wait("the keeper set up", Duration::from_secs(30), || {
        handle
            .latest()
            .stellar
            .as_ref()
            .is_some_and(|v| v.status.starts_with("running"))
    })
    .await;
    let mut out = Vec::with_capacity(closes);
    for _ in 0..closes {
        let before = fake.submissions().cycle_arrivals.len();
        fake.with(|l| {
            l.set_book(aqua(), StellarAsset::Native, book(true));
            // Each cycle buys XLM here: kept as deep as at the start.
            l.set_book(
                StellarAsset::Native,
                aqua(),
                vec![Offer {
                    amount: 1_000 * ONE,
                    price: Price { n: 201, d: 2 },
                }],
            );
        });
        let seq = fake.close_ledger();
        wait("a cycle submitted", Duration::from_secs(30), || {
            fake.submissions().cycle_arrivals.len() > before
        })
        .await;
        // No more edge until the next close; its send settles meanwhile.
        fake.with(|l| l.set_book(aqua(), StellarAsset::Native, book(false)));
        let (hash, arrived) = fake.submissions().cycle_arrivals[before].clone();
        let sent = fake
            .ledgers_sent()
            .iter()
            .find(|(s, _)| *s == seq)
            .map(|(_, at)| *at)
            .expect("the close was sent on the stream");
        out.push(arrived.saturating_duration_since(sent).as_secs_f64() * 1e3);
        // Settled and shown (newest first) before the next close.
        wait("the send settled", Duration::from_secs(30), || {
            let s = handle.latest();
            s.intents.is_empty()
                && s.stellar
                    .as_ref()
                    .and_then(|v| v.executions.first())
                    .is_some_and(|e| e.hash == hash)
        })
        .await;
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    out
}
