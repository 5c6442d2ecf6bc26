//! The engine: plans cycles, sizes them, gates them on risk, and reconciles
//! every open cycle step by step over the store. It knows nothing of screens:
//! it takes `Command`s and publishes `Snapshot`s. Time and the world come in
//! through the `Clock` and the venue traits, so paper, devnet and tests run
//! the same code.

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
pub mod ledger;
pub mod limits;
mod loop_send;
pub mod notice;
mod operator;
mod planner;
pub mod pulse;
pub mod quotes;
mod reconciler;
pub mod risk;
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
pub use view::{needs_attention, open_intent, step_views};

use crate::config::Config;
use crate::model::time::SECOND;
use crate::model::{
    Chain, Clock, Controls, Cycle, CycleId, LedgerEntry, LedgerKind, StepRecord, StepStatus,
    Timestamp, TokenId,
};
use crate::store::{Store, StoreError, StoreReader};
use crate::strategy::cross_chain_loop::Valuation;
use crate::venue::{FeeSchedule, LoopVenue, NoLoop, VenueError, VenueHealth};
use ledger::PnlBook;
use quotes::QuoteCache;
use rust_decimal::Decimal;
use snapshot::{BalanceRow, CycleCounts, CycleView, OpportunityView, StepView};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
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

/// What a loop call answers in a run without the loop (never reached while
/// the loop is off; a store with open loop cycles fails recovery with it).
pub(crate) fn no_loop() -> VenueError {
    VenueError::Rejected(
        "this run has no cross-chain loop venue (the loop is off in this mode)".into(),
    )
}

impl Engine<NoLoop> {
    /// An engine for the keepers only: no loop venue, the loop off.
    pub fn without_loop(
        mut config: Config,
        options: EngineOptions,
        clock: Arc<dyn Clock>,
        store: Store,
    ) -> (Engine<NoLoop>, EngineHandle) {
        config.cross_chain_loop.enabled = false;
        Self::build(config, options, None, clock, store)
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

pub struct Engine<V: LoopVenue> {
    config: Config,
    options: EngineOptions,
    /// The cross-chain loop's venue; `None` when this run has no loop.
    venue: Option<Arc<V>>,
    clock: Arc<dyn Clock>,
    store: Arc<Store>,
    phase: Phase,
    controls: Controls,
    /// The controls as send boundaries see them now (flipped mid-pass by the desk).
    gate: Arc<SendGate>,
    /// Open cycles, and failed ones still holding money, by id.
    cycles: BTreeMap<CycleId, Cycle>,
    /// Steps of the cycles above, for the timeline.
    steps: HashMap<CycleId, Vec<StepView>>,
    /// Recently closed cycles, newest last.
    closed: VecDeque<CycleView>,
    counts: CycleCounts,
    book: PnlBook,
    /// Balances as the ledger explains them.
    ledger_balances: BTreeMap<(Chain, TokenId), i128>,
    balances: Vec<BalanceRow>,
    valuation: Option<Valuation>,
    fees: Option<FeeSchedule>,
    /// Bridge stages expected at these times, for countdowns and polling.
    ready_at: HashMap<CycleId, Timestamp>,
    opportunities: BTreeMap<TokenId, OpportunityView>,
    next_opportunity: u64,
    quote_cache: QuoteCache,
    health: Vec<VenueHealth>,
    stuck_notified: HashSet<CycleId>,
    snapshot_tx: Arc<watch::Sender<Arc<Snapshot>>>,
    commands_rx: mpsc::Receiver<CommandEnvelope>,
    notices: broadcast::Sender<Notice>,
    seq: u64,
    /// Strategies beside the loop, driven by the same passes.
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

impl<V: LoopVenue> Engine<V> {
    pub fn new(
        config: Config,
        options: EngineOptions,
        venue: Arc<V>,
        clock: Arc<dyn Clock>,
        store: Store,
    ) -> (Engine<V>, EngineHandle) {
        Self::build(config, options, Some(venue), clock, store)
    }

    fn build(
        config: Config,
        options: EngineOptions,
        venue: Option<Arc<V>>,
        clock: Arc<dyn Clock>,
        store: Store,
    ) -> (Engine<V>, EngineHandle) {
        let now = clock.now();
        let (snapshot_tx, snapshots) = watch::channel(Arc::new(Snapshot::empty(options.mode, now)));
        let (commands, commands_rx) = mpsc::channel(64);
        let (notices, _) = broadcast::channel(256);
        let quote_cache = QuoteCache::new(config.cross_chain_loop.quote_cache_ttl_ms, 4_096);
        let handle = EngineHandle {
            commands,
            snapshots,
            notices: notices.clone(),
        };
        let snapshot_tx = Arc::new(snapshot_tx);
        let engine = Engine {
            config,
            options,
            venue,
            clock,
            store: Arc::new(store),
            phase: Phase::Recovering,
            controls: Controls::default(),
            gate: Arc::new(SendGate::default()),
            cycles: BTreeMap::new(),
            steps: HashMap::new(),
            closed: VecDeque::new(),
            counts: CycleCounts::default(),
            book: PnlBook::default(),
            ledger_balances: BTreeMap::new(),
            balances: Vec::new(),
            valuation: None,
            fees: None,
            ready_at: HashMap::new(),
            opportunities: BTreeMap::new(),
            next_opportunity: 1,
            quote_cache,
            health: Vec::new(),
            stuck_notified: HashSet::new(),
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

    /// Drive another strategy with this engine (before `run` or `recover`).
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

    /// Open cycles (and failed ones still holding money).
    pub fn open_cycles(&self) -> impl Iterator<Item = &Cycle> {
        self.cycles.values()
    }

    /// Boot is recovery (docs/architecture.md §2, R7): load the store, settle every intent that has
    /// no outcome by looking, check balances against the ledger, and only
    /// then allow sending.
    pub async fn recover(&mut self) -> Result<(), EngineError> {
        let started = std::time::Instant::now();
        self.phase = Phase::Recovering;
        self.publish();
        let now = self.clock.now();
        let (cycles, (balances, ledger_lines), controls) = {
            let r = self.store.read()?;
            (r.cycles()?, r.ledger_balances()?, r.controls()?)
        };
        self.gate.set(&controls);
        self.controls = controls;
        self.book = PnlBook::from_cycles(&cycles);
        self.ledger_balances = balances;
        // Only the most recent closed cycles are shown: the older ones are
        // counted, not made into views that would be dropped at once.
        let closed = cycles.iter().filter(|c| !view::needs_attention(c)).count();
        let mut unshown = closed.saturating_sub(self.config.engine.history_in_snapshot);
        for c in cycles {
            match c.state {
                crate::model::CycleState::Completed => self.counts.completed += 1,
                crate::model::CycleState::Failed => self.counts.failed += 1,
                crate::model::CycleState::NotStarted => self.counts.not_started += 1,
                _ => self.counts.open += 1,
            }
            if view::needs_attention(&c) {
                let steps = view::step_views(&self.store.read()?.steps(c.id)?);
                self.steps.insert(c.id, steps);
                self.cycles.insert(c.id, c);
            } else if unshown > 0 {
                unshown -= 1;
            } else {
                self.remember_closed(c, Vec::new(), now);
            }
        }
        if ledger_lines == 0 {
            self.open_ledger(now).await?;
        }
        // Settle every committed intent that has no outcome.
        let ids: Vec<CycleId> = self.cycles.keys().copied().collect();
        let mut settled = 0;
        for id in ids {
            let pending = self.pending_intent(id)?;
            if let Some(step) = pending
                && self.settle(id, &step).await?
            {
                settled += 1;
            }
        }
        self.refresh_world(now).await;
        self.check_balances();
        self.each_keeper(true).await?;
        self.guard();
        tracing::info!(
            open = self.cycles.len(),
            settled,
            completed = self.counts.completed,
            failed = self.counts.failed,
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

    /// The ledger's first lines: the wallet as found.
    async fn open_ledger(&mut self, now: Timestamp) -> Result<(), EngineError> {
        let Some(venue) = self.venue.clone() else {
            return Ok(());
        };
        let mut lines = Vec::new();
        for chain in Chain::ALL {
            for token in TokenId::ALL.into_iter().filter(|t| t.exists_on(chain)) {
                let amount = venue.balance(chain, token).await?;
                if amount > 0 {
                    lines.push(LedgerEntry {
                        seq: 0,
                        at: now,
                        kind: LedgerKind::Opening,
                        cycle: None,
                        chain: Some(chain),
                        token: Some(token),
                        delta: i128::try_from(amount).unwrap_or(i128::MAX),
                        value_vcred: Decimal::ZERO,
                        tx_hash: None,
                        note: "opening balance".into(),
                        operator: false,
                    });
                }
            }
        }
        let written = self.store.write(|w| w.append_all(lines))?;
        self.after_ledger(&written);
        Ok(())
    }

    /// The step of `cycle` that has an intent and no outcome, if any.
    fn pending_intent(&self, cycle: CycleId) -> Result<Option<StepRecord>, EngineError> {
        Ok(self
            .store
            .read()?
            .steps(cycle)?
            .into_iter()
            .find(|s| s.status == StepStatus::Intended))
    }

    /// Wallet vs ledger, per chain and token. A difference is shown, never hidden.
    fn check_balances(&mut self) {
        let mut differences = Vec::new();
        for row in &self.balances {
            let ledger = self
                .ledger_balances
                .get(&(row.chain, row.token))
                .copied()
                .unwrap_or(0);
            let wallet = i128::try_from(row.amount).unwrap_or(i128::MAX);
            if ledger != wallet && !self.in_flight_to(row.chain, row.token) {
                differences.push(format!(
                    "{} {}: wallet {wallet} ledger {ledger}",
                    row.chain, row.token
                ));
            }
        }
        if differences.is_empty() {
            self.set_health("ledger", true, "wallet balances equal the ledger".into());
        } else {
            tracing::warn!(differences = %differences.join("; "), "wallet differs from the ledger");
            self.set_health(
                "ledger",
                false,
                format!(
                    "{} differences: {}",
                    differences.len(),
                    differences.join("; ")
                ),
            );
        }
    }

    fn in_flight_to(&self, chain: Chain, token: TokenId) -> bool {
        self.cycles
            .values()
            .any(|c| c.holding.in_flight && c.holding.chain == chain && c.holding.token == token)
    }

    fn set_health(&mut self, name: &str, ok: bool, detail: String) {
        let now = self.clock.now();
        let line = VenueHealth {
            name: name.to_string(),
            ok,
            head: None,
            latency_ms: None,
            last_seen: Some(now),
            detail,
        };
        match self.health.iter_mut().find(|h| h.name == name) {
            Some(h) => *h = line,
            None => self.health.push(line),
        }
    }

    /// Prices, fees, balances and venue health, read once per pass.
    async fn refresh_world(&mut self, now: Timestamp) {
        let Some(venue) = self.venue.clone() else {
            return;
        };
        match Valuation::read(venue.as_ref()).await {
            Ok((valuation, fees)) => {
                self.valuation = Some(valuation);
                self.fees = Some(fees);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read prices and fees; planning waits"),
        }
        let mut balances = Vec::new();
        for chain in Chain::ALL {
            for token in TokenId::ALL.into_iter().filter(|t| t.exists_on(chain)) {
                match venue.balance(chain, token).await {
                    Ok(amount) => balances.push(BalanceRow {
                        chain,
                        token,
                        amount,
                    }),
                    Err(e) => {
                        tracing::warn!(%chain, %token, error = %e, "balance unavailable");
                        if let Some(old) = self
                            .balances
                            .iter()
                            .find(|b| b.chain == chain && b.token == token)
                        {
                            balances.push(old.clone());
                        }
                    }
                }
            }
        }
        self.balances = balances;
        let mut health = venue.health().await;
        health.retain(|h| {
            !self
                .health
                .iter()
                .any(|mine| mine.name == h.name && mine.name == "ledger")
        });
        let ledger_line = self.health.iter().find(|h| h.name == "ledger").cloned();
        self.health = health;
        if let Some(l) = ledger_line {
            self.health.push(l);
        }
        self.quote_cache.evict_expired(now);
    }

    /// One pass: refresh, plan, reconcile at most K actions, publish; its
    /// end, duration and outcome go to the pulse (failed: the pass, or a
    /// keeper's recovery or tick, returned an error).
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
        let now = self.clock.now();
        self.refresh_world(now).await;
        // Before anything of this pass is sent, and after each strategy's part.
        self.guard();
        if self.phase != Phase::Recovering {
            self.plan(now).await?;
        }
        self.reconcile(now).await?;
        self.guard();
        self.each_keeper(false).await?;
        self.flag_stuck(now);
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
        if self.cycles.values().any(|c| c.is_open()) {
            return false;
        }
        let open = self.full_snapshot().intents;
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

    /// Append ledger lines' effects to memory and the money log.
    fn after_ledger(&mut self, written: &[LedgerEntry]) {
        for e in written {
            ledger::apply(&mut self.ledger_balances, e);
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
