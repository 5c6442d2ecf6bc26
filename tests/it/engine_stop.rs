//! Stopping (SIGTERM in the binary): no new send starts once a stop is
//! asked, the pass in progress gets `engine.stop_grace` to finish, and an
//! engine whose pass hangs on a venue still stops after the grace. Tokio's
//! paused clock drives it.

use arbkeep::config::Config;
use arbkeep::engine::stall::{SendLog, StallingKeeper};
use arbkeep::engine::{Engine, EngineHandle, EngineOptions, Phase};
use arbkeep::model::{Mode, SystemClock};
use arbkeep::store::Store;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// An engine (no loop, a pass every second) over one keeper whose sends
/// hang until `SendLog::release`; `tune` adjusts the config first.
pub(crate) fn over_a_stalling_keeper(
    dir: &Path,
    per_pass: usize,
    tune: impl FnOnce(&mut Config),
) -> (Engine, EngineHandle, Arc<SendLog>) {
    let store = Store::open(dir, Mode::Paper).unwrap();
    let mut config = Config::default();
    config.engine.reconcile_interval_ms = 1_000;
    tune(&mut config);
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, handle) = Engine::new(config, options, Arc::new(SystemClock), store);
    let log = SendLog::new();
    engine.add_keeper(Box::new(StallingKeeper {
        log: log.clone(),
        per_pass,
    }));
    (engine, handle, log)
}

fn stopping_in_10s(config: &mut Config) {
    config.engine.stop_grace_ms = 10_000;
}

#[tokio::test(start_paused = true)]
async fn a_stop_holds_every_send_and_ends_a_hung_pass_after_the_grace() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, handle, log) = over_a_stalling_keeper(tmp.path(), 5, stopping_in_10s);
    log.release(2);
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(engine.run(stopped));
    // Two sends answered, the third hangs in its venue call.
    log.wait_for(3).await;
    let asked = tokio::time::Instant::now();
    stop.send(true).unwrap();
    // The hung call returns within the grace: the pass may finish, but its
    // fourth and fifth send boundaries hold.
    tokio::time::sleep(Duration::from_secs(2)).await;
    log.release(100);
    let ended = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the engine stops")
        .expect("the task ends");
    assert!(ended.is_ok(), "{ended:?}");
    assert_eq!(log.sends(), 3, "no send started after the stop was asked");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "finished within the grace"
    );
    assert_eq!(handle.latest().phase, Phase::Stopped);
    assert!(!handle.latest().paused, "a stop is not stored as a pause");
}

#[tokio::test(start_paused = true)]
async fn a_pass_that_never_returns_is_dropped_after_the_grace() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, handle, log) = over_a_stalling_keeper(tmp.path(), 1, stopping_in_10s);
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(engine.run(stopped));
    log.wait_for(1).await;
    let asked = tokio::time::Instant::now();
    stop.send(true).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("the engine stops although its venue never answers")
        .expect("the task ends");
    assert!(ended.is_ok(), "{ended:?}");
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(11),
        "after the grace, not before: {took:?}"
    );
    assert_eq!(log.sends(), 1);
    assert_eq!(handle.latest().phase, Phase::Stopped);
}
