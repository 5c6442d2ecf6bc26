//! Ledger closes heard as they happen: the Stellar keeper, run by the real
//! engine with passes a minute apart, scans and sends on a ledger close
//! heard on Horizon's stream (the loopback fake's SSE `/ledgers`) without
//! waiting for a pass; a stream gone silent falls back to polling
//! getLatestLedger and every new ledger is still scanned at once; a cut or
//! malformed stream is dropped, polled over, and followed again.

use arbkeep::config::Config;
use arbkeep::engine::{Engine, EngineHandle, EngineOptions, Mode};
use arbkeep::fakes::stellar::{StellarFake, StreamFault, aqua, endpoints, world};
use arbkeep::model::SystemClock;
use arbkeep::store::Store;
use arbkeep::strategy::stellar_arb::{StellarArbConfig, StellarArbKeeper, StellarShared};
use arbkeep::venue::stellar::network::NetworkVenue;
use arbkeep::venue::stellar::stream::{FeedSettings, FeedSource, LedgerFeed};
use arbkeep::venue::stellar::{Keypair, ONE, Offer, Price, StellarAsset, StellarVenue};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub fn keeper_config() -> StellarArbConfig {
    let mut c = crate::support::stellar_keeper::testnet_config(1, vec![aqua()]);
    // Never due by time: only a new ledger starts a scan.
    c.scan_interval_ms = 3_600_000;
    c
}

/// The test world with the XLM → AQUA side priced so no cycle pays.
pub fn flat_world() -> arbkeep::venue::stellar::sim::SimLedger {
    let mut l = world();
    l.set_book(aqua(), StellarAsset::Native, flat_aqua());
    l
}

fn flat_aqua() -> Vec<Offer> {
    vec![Offer {
        amount: 100_000 * ONE,
        price: Price { n: 1, d: 99 },
    }]
}

/// Someone mispriced AQUA: 102 per XLM for the first 10 000.
pub fn mispriced_aqua() -> Vec<Offer> {
    vec![
        Offer {
            amount: 10_000 * ONE,
            price: Price { n: 1, d: 102 },
        },
        Offer {
            amount: 100_000 * ONE,
            price: Price { n: 1, d: 99 },
        },
    ]
}

pub struct Running {
    pub handle: EngineHandle,
    pub pulse: Arc<arbkeep::engine::Pulse>,
    pub stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<Result<(), arbkeep::engine::EngineError>>,
    _dir: tempfile::TempDir,
}

/// The real engine, passes `pass_ms` apart, driving the Stellar keeper
/// against the fake with `settings` for its ledger feed.
pub fn run_engine(fake: &StellarFake, settings: FeedSettings, pass_ms: u64) -> Running {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path(), Mode::Paper).expect("store");
    let mut config = Config::default();
    config.engine.reconcile_interval_ms = pass_ms;
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, handle) = Engine::new(config, options, Arc::new(SystemClock), store);
    let venue: Arc<dyn StellarVenue> = Arc::new(NetworkVenue::new(endpoints(fake)).expect("venue"));
    let feed = LedgerFeed::horizon(&fake.horizon_url(), venue.clone(), settings).expect("feed");
    let shared = StellarShared::new(venue, true);
    let keeper = StellarArbKeeper::new(keeper_config(), shared, &Keypair::from_seed([0x33; 32]))
        .with_polling(20, Duration::from_millis(5))
        .with_ledger_feed(feed);
    engine.add_keeper(Box::new(keeper));
    let pulse = engine.pulse();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(engine.run(stopped));
    Running {
        handle,
        pulse,
        stop,
        task,
        _dir: dir,
    }
}

impl Running {
    /// Wait (up to `within`) until the Stellar view satisfies `ok`.
    pub async fn until(
        &self,
        within: Duration,
        ok: impl Fn(&arbkeep::strategy::stellar_arb::StellarView) -> bool,
    ) -> arbkeep::strategy::stellar_arb::StellarView {
        let end = Instant::now() + within;
        loop {
            if let Some(v) = self.handle.latest().stellar.clone()
                && ok(&v)
            {
                return v;
            }
            assert!(
                Instant::now() < end,
                "not reached in {within:?}: {:?}",
                self.handle.latest().stellar
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

/// Wait (up to `within`) until the fake has seen a cycle submitted.
async fn first_cycle(fake: &StellarFake, within: Duration) -> Option<Instant> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if let Some((_, at)) = fake.submissions().cycle_arrivals.first() {
            return Some(*at);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

const MINUTE_MS: u64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keeper_sends_on_a_ledger_close_heard_on_the_stream_without_waiting_for_a_pass() {
    let fake = StellarFake::start(flat_world()).await;
    let settings = FeedSettings {
        silence: Duration::from_secs(60),
        poll_every: Duration::from_millis(50),
        stream_retry: Duration::from_secs(60),
    };
    let run = run_engine(&fake, settings, MINUTE_MS);
    // The first pass (at once) funds the account, sets the trustline and
    // scans: nothing pays.
    let first = run
        .until(Duration::from_secs(20), |v| v.status.starts_with("running"))
        .await;
    assert!(fake.submissions().cycles.is_empty());
    assert!(fake.streams_opened() >= 1);
    let passes = run.pulse.passes();

    fake.with(|l| l.set_book(aqua(), StellarAsset::Native, mispriced_aqua()));
    let closed = Instant::now();
    let seq = fake.close_ledger();
    let sent = first_cycle(&fake, Duration::from_secs(10))
        .await
        .expect("the cycle was sent on the ledger close");
    assert!(
        sent.duration_since(closed) < Duration::from_secs(10),
        "reacted in {:?}",
        sent.duration_since(closed)
    );
    assert_eq!(
        run.pulse.passes(),
        passes,
        "no pass ran: it was the early turn"
    );
    // The send closes a fake ledger too: the keeper may be past `seq`.
    let v = run.until(Duration::from_secs(5), |v| v.ledger >= seq).await;
    assert_eq!(v.ledger_source, "stream");
    assert!(seq > first.ledger);
    assert!(fake.ledgers_sent().iter().any(|(s, _)| *s == seq));
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_stream_falls_back_to_polling_and_every_new_ledger_is_still_scanned() {
    let fake = StellarFake::start(flat_world()).await;
    fake.mute_stream(true);
    let settings = FeedSettings {
        silence: Duration::from_millis(300),
        poll_every: Duration::from_millis(50),
        stream_retry: Duration::from_secs(60),
    };
    let run = run_engine(&fake, settings, MINUTE_MS);
    run.until(Duration::from_secs(20), |v| {
        v.status.starts_with("running") && v.ledger_source.starts_with("polling")
    })
    .await;
    let passes = run.pulse.passes();
    for _ in 0..3 {
        let seq = fake.close_ledger();
        let v = run.until(Duration::from_secs(5), |v| v.ledger == seq).await;
        assert!(
            v.ledger_source.contains("no ledger for 300 ms"),
            "{}",
            v.ledger_source
        );
    }
    fake.with(|l| l.set_book(aqua(), StellarAsset::Native, mispriced_aqua()));
    fake.close_ledger();
    assert!(
        first_cycle(&fake, Duration::from_secs(10)).await.is_some(),
        "sent on a ledger found by polling"
    );
    assert_eq!(run.pulse.passes(), passes, "each scan was an early turn");
    assert!(fake.ledgers_sent().is_empty(), "the stream said nothing");
    run.stop().await;
}

async fn wait_for(fault: StreamFault, ok: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !ok() {
        assert!(Instant::now() < end, "{fault:?}: not in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_cut_or_malformed_stream_is_dropped_polled_over_and_followed_again() {
    for fault in [StreamFault::Malformed, StreamFault::Cut] {
        let fake = StellarFake::start(world()).await;
        let venue: Arc<dyn StellarVenue> =
            Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
        let settings = FeedSettings {
            silence: Duration::from_secs(30),
            poll_every: Duration::from_millis(20),
            stream_retry: Duration::from_millis(300),
        };
        let mut feed = LedgerFeed::horizon(&fake.horizon_url(), venue, settings).expect("feed");
        feed.start();
        let wake = feed.wake();
        let heard = |seq: u32, source: FeedSource| {
            let h = feed.heard();
            h.close.is_some_and(|c| c.sequence == seq) && h.source == source
        };
        wait_for(fault, || fake.streams_opened() == 1).await;
        let first = fake.close_ledger();
        wait_for(fault, || heard(first, FeedSource::Stream)).await;
        tokio::time::timeout(Duration::from_secs(1), wake.notified())
            .await
            .expect("woken on the close");

        fake.stream_fault(fault);
        let second = fake.close_ledger();
        // Not heard on the stream: found by polling instead.
        wait_for(fault, || heard(second, FeedSource::Polling)).await;
        let h = feed.heard();
        assert_eq!(h.fallbacks, 1, "{fault:?}");
        let why = h.fault.expect("why");
        match fault {
            StreamFault::Malformed => assert!(why.starts_with("malformed event"), "{why}"),
            _ => assert!(why.contains("ended") || why.contains("cut"), "{why}"),
        }
        // The stream is tried again and followed.
        wait_for(fault, || fake.streams_opened() == 2).await;
        let third = fake.close_ledger();
        wait_for(fault, || heard(third, FeedSource::Stream)).await;
        assert!(
            !fake.ledgers_sent().iter().any(|(s, _)| *s == second),
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn a_stream_refused_at_connection_is_polled_over_then_followed() {
    use arbkeep::fakes::stellar::{Fault, Rule};
    let fake = StellarFake::start(world()).await;
    fake.fault(Rule::new(
        "/ledgers",
        Fault::Status {
            status: 503,
            after: false,
            retry_after: None,
        },
        1,
    ));
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let settings = FeedSettings {
        silence: Duration::from_secs(30),
        poll_every: Duration::from_millis(20),
        stream_retry: Duration::from_millis(300),
    };
    let mut feed = LedgerFeed::horizon(&fake.horizon_url(), venue, settings).expect("feed");
    feed.start();
    let fault = StreamFault::Cut;
    // The refusal: polling, with the reason.
    wait_for(fault, || feed.heard().source == FeedSource::Polling).await;
    let why = feed.heard().fault.expect("why");
    assert!(why.contains("HTTP 503"), "{why}");
    let polled = fake.close_ledger();
    wait_for(fault, || {
        feed.latest().is_some_and(|c| c.sequence == polled)
    })
    .await;
    // Then the stream, once it answers.
    wait_for(fault, || fake.streams_opened() == 1).await;
    let streamed = fake.close_ledger();
    wait_for(fault, || {
        let h = feed.heard();
        h.source == FeedSource::Stream && h.close.is_some_and(|c| c.sequence == streamed)
    })
    .await;
    let close = feed.latest().expect("close");
    assert!(close.closed_at.is_some(), "the stream gives the close time");
}
