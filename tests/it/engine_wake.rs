//! A keeper's wake signal (`Keeper::wake`): the engine gives it an early
//! turn between passes, with passes a minute apart; commands are answered
//! while that turn waits on a venue; a keeper with no signal only runs on
//! the passes.

use arbkeep::config::Config;
use arbkeep::engine::{
    Command, Engine, EngineError, EngineOptions, Keeper, KeeperContext, Mode, Snapshot,
};
use arbkeep::model::SystemClock;
use arbkeep::store::Store;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

#[derive(Default)]
struct Counts {
    ticks: AtomicU32,
    woken: AtomicU32,
}

/// Counts its turns; an early turn waits for `release` (a venue call hanging).
struct Waking {
    counts: Arc<Counts>,
    wake: Option<Arc<Notify>>,
    release: Arc<Notify>,
}

impl Keeper for Waking {
    fn name(&self) -> &'static str {
        "waking"
    }
    fn recover<'a>(
        &'a mut self,
        _: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async { Ok(()) })
    }
    fn tick<'a>(&'a mut self, _: &'a KeeperContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        self.counts.ticks.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
    fn render(&self, _: &mut Snapshot) {}
    fn wake(&self) -> Option<Arc<Notify>> {
        self.wake.clone()
    }
    fn woken<'a>(&'a mut self, _: &'a KeeperContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        self.counts.woken.fetch_add(1, Ordering::SeqCst);
        let release = self.release.clone();
        Box::pin(async move {
            release.notified().await;
            Ok(())
        })
    }
}

async fn until(what: &str, ok: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !ok() {
        assert!(Instant::now() < end, "{what}: not in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_wake_gives_the_keeper_an_early_turn_and_commands_are_answered_during_it() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path(), Mode::Paper).expect("store");
    let mut config = Config::default();
    config.engine.reconcile_interval_ms = 60_000;
    config.engine.answer_within_ms = 200;
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, handle) = Engine::new(config, options, Arc::new(SystemClock), store);
    let counts = Arc::new(Counts::default());
    let quiet = Arc::new(Counts::default());
    let wake = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    engine.add_keeper(Box::new(Waking {
        counts: counts.clone(),
        wake: Some(wake.clone()),
        release: release.clone(),
    }));
    // No signal: never woken.
    engine.add_keeper(Box::new(Waking {
        counts: quiet.clone(),
        wake: None,
        release: release.clone(),
    }));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(engine.run(stopped));
    until("the first pass", || {
        counts.ticks.load(Ordering::SeqCst) == 1
    })
    .await;

    wake.notify_one();
    until("the early turn", || {
        counts.woken.load(Ordering::SeqCst) == 1
    })
    .await;
    // The turn hangs on its "venue"; the desk still answers.
    let asked = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(3), handle.send(Command::Pause, "test"))
        .await
        .expect("answered while the early turn waits");
    assert!(answer.is_ok(), "{answer:?}");
    assert!(asked.elapsed() < Duration::from_secs(2));
    release.notify_one();
    until("the pause applied", || handle.latest().paused).await;

    // A second wake is a second turn; no pass ran meanwhile.
    wake.notify_one();
    until("the second early turn", || {
        counts.woken.load(Ordering::SeqCst) == 2
    })
    .await;
    release.notify_one();
    assert_eq!(counts.ticks.load(Ordering::SeqCst), 1, "no extra pass");
    assert_eq!(quiet.woken.load(Ordering::SeqCst), 0);
    assert_eq!(quiet.ticks.load(Ordering::SeqCst), 1);
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}
