//! The watchdog over a real engine. Liveness: its pass hangs on a venue —
//! one alarm while it hangs (not one per look), on the snapshot as well as
//! in the notices, and one "cleared" when passes complete again. Failing:
//! its passes complete but every one fails — one `failing` alarm (and no
//! liveness alarm), one "cleared" once a pass succeeds. Tokio's paused
//! clock drives it: no wall-time sleeps.

use crate::engine_stop::over_a_stalling_keeper;
use arbkeep::config::Config;
use arbkeep::engine::alarm::AlarmKind;
use arbkeep::engine::stall::{FailSwitch, FailingKeeper};
use arbkeep::engine::{Engine, EngineOptions, Mode, Notice};
use arbkeep::model::SystemClock;
use arbkeep::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

async fn next_alarm(rx: &mut broadcast::Receiver<Notice>) -> Notice {
    loop {
        match rx.recv().await.expect("notices flow") {
            n @ (Notice::Alarm { .. } | Notice::AlarmCleared { .. }) => return n,
            _ => continue,
        }
    }
}

/// `notice` raises (not a reminder) the engine's `kind` alarm, saying each of `says`.
fn assert_raised(notice: &Notice, kind: AlarmKind, says: &[&str]) {
    let Notice::Alarm {
        alarm,
        subject,
        message,
        repeat,
    } = notice
    else {
        panic!("expected the {kind} alarm, got {notice:?}");
    };
    assert_eq!((*alarm, subject.as_str(), *repeat), (kind, "engine", 0));
    for words in says {
        assert!(message.contains(words), "{words:?} in {message}");
    }
}

/// The snapshot (the status bar, `status --json`) shows the `kind` alarm.
fn assert_shown(handle: &arbkeep::engine::EngineHandle, kind: AlarmKind) {
    let shown = handle.latest();
    assert!(
        shown.alarms.iter().any(|a| a.kind == kind),
        "the console sees the {kind} alarm: {:?}",
        shown.alarms
    );
}

fn assert_cleared(notice: &Notice, kind: AlarmKind) {
    assert!(
        matches!(notice, Notice::AlarmCleared { alarm, .. } if *alarm == kind),
        "{notice:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_pass_raises_one_liveness_alarm_then_its_recovery() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, handle, log) = over_a_stalling_keeper(tmp.path(), 1, |config| {
        config.engine.liveness_after_ms = 60_000;
        config.alerts.realert_after_ms = 3_600_000;
    });
    log.release(5);
    let pulse = engine.pulse();
    let mut notices = handle.notices.subscribe();
    tokio::spawn(engine.watchdog().run());
    let (_stop, stopped) = watch::channel(false);
    let task = tokio::spawn(engine.run(stopped));

    // Five passes complete, the sixth hangs in its send.
    log.wait_for(6).await;
    let passes = pulse.passes();
    assert!(passes >= 5, "recovery and passes beat the pulse: {passes}");

    let raised = tokio::time::timeout(Duration::from_secs(120), next_alarm(&mut notices))
        .await
        .expect("an alarm within two liveness windows");
    assert_raised(
        &raised,
        AlarmKind::Liveness,
        &["no engine pass has completed for"],
    );
    assert_shown(&handle, AlarmKind::Liveness);
    assert_eq!(pulse.passes(), passes, "still hung");

    // Thirty more minutes of hanging: no second alarm (re-alert is hourly).
    let quiet = tokio::time::timeout(Duration::from_secs(1_800), next_alarm(&mut notices)).await;
    assert!(quiet.is_err(), "told once, not once per look: {quiet:?}");

    // The venue answers again: passes complete, the alarm clears once.
    log.release(1_000);
    let cleared = tokio::time::timeout(Duration::from_secs(60), next_alarm(&mut notices))
        .await
        .expect("cleared once a pass completes");
    assert_cleared(&cleared, AlarmKind::Liveness);
    assert!(pulse.passes() > passes);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        handle.latest().alarms.is_empty(),
        "the next snapshot is clear"
    );
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn passes_that_all_fail_raise_one_failing_alarm_then_its_recovery() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), Mode::Paper).unwrap();
    let mut config = Config::default();
    config.engine.reconcile_interval_ms = 1_000;
    config.engine.liveness_after_ms = 60_000;
    config.alerts.realert_after_ms = 3_600_000;
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, handle) = Engine::new(config, options, Arc::new(SystemClock), store);
    let switch = FailSwitch::failing();
    engine.add_keeper(Box::new(FailingKeeper {
        switch: switch.clone(),
    }));
    let pulse = engine.pulse();
    let mut notices = handle.notices.subscribe();
    tokio::spawn(engine.watchdog().run());
    let (_stop, stopped) = watch::channel(false);
    let task = tokio::spawn(engine.run(stopped));

    switch.wait_for(3).await;
    assert!(pulse.passes() >= 2, "passes complete: {}", pulse.passes());
    assert_eq!(pulse.failed_passes(), pulse.passes(), "and every one fails");

    // The first alarm is `failing`, not liveness: passes do complete.
    let raised = tokio::time::timeout(Duration::from_secs(120), next_alarm(&mut notices))
        .await
        .expect("an alarm within two windows");
    // The last error is named too.
    assert_raised(
        &raised,
        AlarmKind::Failing,
        &[
            "no engine pass has succeeded for",
            "keeper failing",
            "venue is down",
        ],
    );
    assert_shown(&handle, AlarmKind::Failing);

    // Ten more minutes of failing passes: no second alarm (re-alert is hourly).
    let quiet = tokio::time::timeout(Duration::from_secs(600), next_alarm(&mut notices)).await;
    assert!(quiet.is_err(), "told once, not once per look: {quiet:?}");

    // The venue is back: the next pass succeeds, the alarm clears once.
    switch.set_failing(false);
    let cleared = tokio::time::timeout(Duration::from_secs(60), next_alarm(&mut notices))
        .await
        .expect("cleared once a pass succeeds");
    assert_cleared(&cleared, AlarmKind::Failing);
    assert!(pulse.failing().is_none());
    let quiet = tokio::time::timeout(Duration::from_secs(60), next_alarm(&mut notices)).await;
    assert!(quiet.is_err(), "cleared once: {quiet:?}");
    assert!(
        handle.latest().alarms.is_empty(),
        "the next snapshot is clear"
    );
    task.abort();
}
