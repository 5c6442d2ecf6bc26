//! The engine: runs the strategies (`Keeper`s: the cross-chain loop, the
//! equity hedge, the Stellar arbitrage) pass by pass, and owns what they
//! share — the store's write path, the intent journal, commands and their
//! audit trail, the snapshot, the clock, notices and the kill switch. It
//! knows no strategy and no venue by name, and nothing of screens: it takes
//! `Command`s and publishes `Snapshot`s. Time comes in through the `Clock`,
//! so paper, devnet and tests run the same code.

pub mod alarm;
pub mod command;
mod desk;
pub mod extension;
pub mod gate;
mod guard;
pub mod intent;
pub mod journal;
pub mod keeper;
pub mod kill;
pub mod limits;
pub mod notice;
mod operator;
pub mod pulse;
pub mod quotes;
pub mod sizing;
pub mod snapshot;
#[cfg(any(test, feature = "fakes"))]
pub mod stall;
mod view;
mod wake;
pub mod watchdog;

pub use command::{Command, CommandEnvelope};
pub use gate::SendGate;
pub use intent::{IntentState, OpenIntentView, Resolution, resolve_hint};
pub use keeper::{Keeper, KeeperContext};
pub use notice::Notice;
pub use pulse::Pulse;
pub use snapshot::{Mode, Phase, Snapshot};

use crate::config::Config;
use crate::model::time::SECOND;
use crate::model::{Clock, Controls, LedgerEntry};
use crate::store::{Store, StoreError, StoreReader};
use crate::venue::VenueError;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// What a front end holds: a way to send commands and the latest snapshot.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    pub commands: mpsc::Sender<CommandEnvelope>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Subscribe for notices (webhooks); a slow listener only loses old notices.
    pub notices: broadcast::Sender<Notice>,
}

impl EngineHandle {
    /// Send a command and wait for the engine's answer.
    pub async fn send(&self, command: Command, operator: &str) -> Result<String, String> {
        let (reply, answer) = oneshot::channel();
        let envelope = CommandEnvelope {
            command,
            operator: operator.to_string(),
            reply,
        };
        self.commands
            .send(envelope)
            .await
            .map_err(|_| "the engine has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the engine stopped before answering".to_string())?
    }

    pub fn latest(&self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }
}

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("venue: {0}")]
    Venue(#[from] VenueError),
}

/// How this engine was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    pub mode: Mode,
    /// Simulated clock speed ×1000 (paper mode), for the status bar.
    pub speed_milli: Option<u64>,
    /// Finish open cycles, start none, and stop when none is left.
    pub drain: bool,
}

pub struct Engine {
    config: Config,
    options: EngineOptions,
    clock: Arc<dyn Clock>,
    store: Arc<Store>,
    phase: Phase,
    controls: Controls,
    /// The controls as send boundaries see them now (flipped mid-pass by the desk).
    gate: Arc<SendGate>,
    snapshot_tx: Arc<watch::Sender<Arc<Snapshot>>>,
    commands_rx: mpsc::Receiver<CommandEnvelope>,
    notices: broadcast::Sender<Notice>,
    seq: u64,
    /// The strategies, driven by the same passes in the order they were added.
    keepers: Vec<KeeperSlot>,
    /// Passes completed, their durations and the last one's end (`pulse`).
    pulse: Arc<Pulse>,
    /// The watchdog's raised alarms, put in every snapshot.
    alarms: watchdog::RaisedAlarms,
    /// The kill switch's figures as last assessed (`guard`).
    day_risk: kill::DayRisk,
}

/// A keeper and whether its recovery has succeeded: one strategy's failed
/// recovery holds that strategy only, and is tried again each pass.
struct KeeperSlot {
    keeper: Box<dyn Keeper>,
    recovered: bool,
    /// Why its last recovery failed, for the venue panel.
    failure: Option<String>,
    /// Why its last tick failed (`None`: it did not), for the pulse.
    tick_error: Option<String>,
}

impl Engine {
    /// An engine with no strategy yet: add each with `add_keeper`.
    pub fn new(
        config: Config,
        options: EngineOptions,
        clock: Arc<dyn Clock>,
        store: Store,
    ) -> (Engine, EngineHandle) {
        let now = clock.now();
        let (snapshot_tx, snapshots) = watch::channel(Arc::new(Snapshot::empty(options.mode, now)));
        let (commands, commands_rx) = mpsc::channel(64);
        let (notices, _) = broadcast::channel(256);
        let handle = EngineHandle {
            commands,
            snapshots,
            notices: notices.clone(),
        };
        let snapshot_tx = Arc::new(snapshot_tx);
        let engine = Engine {
            config,
            options,
            clock,
            store: Arc::new(store),
            phase: Phase::Recovering,
            controls: Controls::default(),
            gate: Arc::new(SendGate::default()),
            snapshot_tx,
            commands_rx,
            notices,
            seq: 0,
            keepers: Vec::new(),
            pulse: Arc::new(Pulse::new()),
            alarms: watchdog::RaisedAlarms::default(),
            day_risk: kill::DayRisk::default(),
        };
        (engine, handle)
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// A watchdog over this engine (spawn its `run` beside `run`): it
    /// raises the liveness and low-balance alarms the engine cannot raise
    /// about itself while a pass hangs.
    pub fn watchdog(&self) -> watchdog::Watchdog {
        let rules =
            watchdog::WatchdogRules::new(self.config.engine.liveness_after_ms, &self.config.alerts);
        watchdog::Watchdog::new(
            rules,
            self.pulse.clone(),
            self.snapshot_tx.clone(),
            self.notices.clone(),
            self.alarms.clone(),
        )
    }

    /// Drive a strategy with this engine (before `run` or `recover`).
    pub fn add_keeper(&mut self, keeper: Box<dyn Keeper>) {
        self.keepers.push(KeeperSlot {
            keeper,
            recovered: false,
            failure: None,
            tick_error: None,
        });
    }

    /// Recover (at boot) or tick every keeper with a context of this moment.
    /// A keeper whose recovery failed sends nothing: its recovery is tried
    /// again on the next pass, and the others go on (one strategy's fault
    /// stops no other).
    async fn each_keeper(&mut self, recover: bool) -> Result<(), EngineError> {
        let mut keepers = std::mem::take(&mut self.keepers);
        let now = self.clock.now();
        for i in 0..keepers.len() {
            let slot = &mut keepers[i];
            let cx = KeeperContext {
                store: &self.store,
                now,
                phase: self.phase,
                gate: &self.gate,
                notices: &self.notices,
            };
            let name = slot.keeper.name();
            slot.tick_error = None;
            if recover || !slot.recovered {
                match slot.keeper.recover(&cx).await {
                    Ok(()) => {
                        if slot.failure.take().is_some() {
                            tracing::info!(keeper = name, "keeper recovered");
                        }
                        slot.recovered = true;
                    }
                    Err(e) => {
                        tracing::error!(keeper = name, error = %e, "keeper recovery failed; it sends nothing and retries next pass");
                        slot.recovered = false;
                        slot.failure = Some(e.to_string());
                        continue;
                    }
                }
                if recover {
                    continue;
                }
            }
            if let Err(e) = slot.keeper.tick(&cx).await {
                // One keeper's bad pass must not stop the others.
                tracing::error!(keeper = name, error = %e, "keeper pass failed");
                slot.tick_error = Some(format!("keeper {name}: {e}"));
            }
            // What this keeper booked may trip the switch before the next sends.
            self.guard_with(&keepers);
        }
        self.keepers = keepers;
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This engine's pulse (passes, their durations, the last one's end),
    /// for readers in this process: the metrics endpoint, a watchdog.
    pub fn pulse(&self) -> Arc<Pulse> {
        self.pulse.clone()
    }

    /// Reads of the store for front ends in this process.
    pub fn reader(&self) -> StoreReader {
        StoreReader::new(self.store.clone())
    }

    /// The snapshot the engine would publish now (tests read it directly).
    pub fn snapshot_for_tests(&self) -> Snapshot {
        self.full_snapshot()
    }

    /// Boot is recovery (docs/architecture.md §2, R7): load the controls,
    /// let every strategy settle its intents that have no outcome by
    /// looking, and only then allow sending. A strategy whose recovery
    /// fails sends nothing and is tried again each pass; the others go on.
    pub async fn recover(&mut self) -> Result<(), EngineError> {
        let started = std::time::Instant::now();
        self.phase = Phase::Recovering;
        self.publish();
        let controls = self.store.read()?.controls()?;
        self.gate.set(&controls);
        self.controls = controls;
        self.each_keeper(true).await?;
        self.guard();
        tracing::info!(
            strategies = self.keepers.len(),
            not_recovered = self.keepers.iter().filter(|k| !k.recovered).count(),
            ms = started.elapsed().as_millis() as u64,
            "recovery done"
        );
        self.phase = self.steady_phase();
        self.publish();
        Ok(())
    }

    fn steady_phase(&self) -> Phase {
        if self.options.drain {
            Phase::Draining
        } else if self.controls.paused {
            Phase::Paused
        } else {
            Phase::Running
        }
    }

    /// One pass: every strategy's step in turn, the kill switch assessed
    /// before and after each, then publish; its end, duration and outcome
    /// go to the pulse (failed: the pass, or a keeper's recovery or tick,
    /// returned an error).
    pub async fn tick(&mut self) -> Result<(), EngineError> {
        let started = std::time::Instant::now();
        let passed = self.pass().await;
        let error = match &passed {
            Err(e) => Some(e.to_string()),
            Ok(()) => self.keepers.iter().find_map(|k| {
                k.tick_error.clone().or_else(|| {
                    k.failure
                        .as_ref()
                        .map(|why| format!("keeper {} not recovered: {why}", k.keeper.name()))
                })
            }),
        };
        self.pulse.record(started.elapsed(), error.as_deref());
        passed
    }

    async fn pass(&mut self) -> Result<(), EngineError> {
        // Before anything of this pass is sent, and after each strategy's part.
        self.guard();
        self.each_keeper(false).await?;
        self.publish();
        Ok(())
    }

    /// Wall time between passes: the reconcile interval, scaled to the clock.
    pub fn pass_interval(&self) -> Duration {
        let sim_ms = self.config.engine.reconcile_interval_ms;
        let wall_ms = match self.options.speed_milli {
            Some(speed) if speed > 0 => sim_ms.saturating_mul(1000) / speed,
            _ => sim_ms,
        };
        Duration::from_millis(wall_ms.clamp(20, 60 * SECOND))
    }

    /// Run until `shutdown` turns true (or, draining, until nothing is open).
    /// Commands are answered while recovery or a pass waits on a venue
    /// (`desk`): a pause holds the next send at once.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), EngineError> {
        let (_, idle) = mpsc::channel(1);
        let mut commands = std::mem::replace(&mut self.commands_rx, idle);
        let desk = desk::Desk {
            gate: self.gate.clone(),
            store: self.store.clone(),
            snapshots: self.snapshot_tx.clone(),
            answer_within: Duration::from_millis(self.config.engine.answer_within_ms),
        };
        let gate = self.gate.clone();
        let grace = Duration::from_millis(self.config.engine.stop_grace_ms);
        let recovery = desk.serve_while(self.recover(), &mut commands);
        let Some((recovered, later)) = finish_or_stop(recovery, &mut shutdown, &gate, grace).await
        else {
            self.stopped();
            return Ok(());
        };
        self.apply_deferred(later).await;
        recovered?;
        let mut pass = tokio::time::interval(self.pass_interval());
        pass.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first_pass = true;
        let wakes = self.wakes();
        loop {
            tokio::select! {
                i = wakes.next() => {
                    // A keeper asked for an early turn; commands are still answered.
                    let work = desk.serve_while(self.wake_turn(i), &mut commands);
                    let Some((result, later)) = finish_or_stop(work, &mut shutdown, &gate, grace).await
                    else {
                        break;
                    };
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "early keeper turn failed");
                    }
                    self.apply_deferred(later).await;
                    if (self.options.drain && self.drained()) || *shutdown.borrow() {
                        break;
                    }
                }
                _ = pass.tick() => {
                    let started = std::time::Instant::now();
                    let work = desk.serve_while(self.tick(), &mut commands);
                    let Some((result, later)) = finish_or_stop(work, &mut shutdown, &gate, grace).await
                    else {
                        break;
                    };
                    if let Err(e) = &result {
                        // A failed pass is reported and retried; the engine does not die.
                        tracing::error!(error = %e, "reconcile pass failed");
                    }
                    if std::mem::take(&mut first_pass) {
                        // Recovered and acting on the venues: the end of a restart.
                        tracing::info!(
                            phase = self.phase.label(),
                            ok = result.is_ok(),
                            ms = started.elapsed().as_millis() as u64,
                            "first pass done"
                        );
                    }
                    self.apply_deferred(later).await;
                    if self.options.drain && self.drained() {
                        break;
                    }
                    if *shutdown.borrow() {
                        break;
                    }
                }
                Some(envelope) = commands.recv() => {
                    let answer = self.apply(&envelope.command, &envelope.operator).await;
                    let _ = envelope.reply.send(answer);
                    self.publish();
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        self.stopped();
        Ok(())
    }

    fn stopped(&mut self) {
        self.phase = Phase::Stopped;
        self.publish();
        tracing::info!("engine stopped");
    }

    /// Draining is done when no cycle is open and no strategy holds a send
    /// that left and is not settled (its answer awaited, or its outcome
    /// unknown and being looked for) unless it awaits the operator. What
    /// may stay open (committed and never sent, left to the operator) is
    /// found by the next start, and named in the log.
    fn drained(&self) -> bool {
        let snapshot = self.full_snapshot();
        if snapshot.cycles.iter().any(|c| c.is_open()) {
            return false;
        }
        let open = snapshot.intents;
        if open.iter().any(|i| {
            matches!(i.state, IntentState::Sent | IntentState::OutcomeUnknown) && !i.awaits_operator
        }) {
            return false;
        }
        let left: Vec<String> = open
            .iter()
            .map(|i| format!("{} {}", i.id, i.state.label()))
            .collect();
        tracing::info!(left = ?left, "drained: no open cycle and no send left unsettled");
        true
    }

    /// Apply the commands the desk took during a pass, in arrival order.
    async fn apply_deferred(&mut self, later: Vec<desk::Deferred>) {
        if later.is_empty() {
            return;
        }
        for d in later {
            let answer = self.apply(&d.command, &d.operator).await;
            match d.reply {
                Some(reply) => {
                    let _ = reply.send(answer);
                }
                None => {
                    if let Err(e) = answer {
                        tracing::warn!(command = %d.command, error = %e, "a command answered early failed when applied");
                    }
                }
            }
        }
        self.publish();
    }

    /// Apply every queued command now (tests drive the engine without `run`).
    pub async fn drain_commands(&mut self) {
        while let Ok(envelope) = self.commands_rx.try_recv() {
            let answer = self.apply(&envelope.command, &envelope.operator).await;
            let _ = envelope.reply.send(answer);
        }
        self.publish();
    }

    /// The engine's own ledger lines (the audit trail of commands) go to
    /// the money log too.
    fn after_ledger(&mut self, written: &[LedgerEntry]) {
        for e in written {
            crate::logging::money(e);
        }
    }

    fn notify(&self, notice: Notice) {
        tracing::info!(notice = %notice.headline(), "notice");
        // No receiver is fine: notices are best effort, the ledger is the record.
        let _ = self.notices.send(notice);
    }
}

/// Run `work` (a pass or recovery) to its end unless a stop is asked
/// meanwhile: then every send boundary holds at once, the work has `grace`
/// to reach its end, and is dropped after that (`None`). Dropping it at an
/// await is safe: every send's intent is in the store before it leaves, and
/// the next boot settles whatever answer was still awaited by looking.
async fn finish_or_stop<F: std::future::Future>(
    work: F,
    shutdown: &mut watch::Receiver<bool>,
    gate: &SendGate,
    grace: Duration,
) -> Option<F::Output> {
    tokio::pin!(work);
    if !*shutdown.borrow() {
        tokio::select! {
            out = &mut work => return Some(out),
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
    }
    gate.hold_for_stop();
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "stopping: no new send; the pass in progress may finish"
    );
    match tokio::time::timeout(grace, work).await {
        Ok(out) => Some(out),
        Err(_) => {
            tracing::warn!(
                "stopping: the pass did not finish within the grace; what it awaited is settled at the next start"
            );
            None
        }
    }
}
