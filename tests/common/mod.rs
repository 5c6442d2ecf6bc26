//! Shared test fixtures: a paper engine over a manual clock, driven pass by
//! pass, and the invariants every money test checks.
#![allow(dead_code)]

use arbkeep::config::Config;
use arbkeep::engine::{Engine, EngineHandle, EngineOptions, Mode};
use arbkeep::model::{Chain, Clock, ManualClock, TokenId};
use arbkeep::store::{ReadOnlyStore, Store};
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub const WORLD_FILE: &str = "paper-world.redb";

pub struct Paper {
    pub clock: Arc<ManualClock>,
    pub world: Arc<SimWorld>,
    pub engine: Engine<SimWorld>,
    pub handle: EngineHandle,
}

/// A paper engine on `dir`, recovered and ready to tick.
pub async fn paper(
    dir: &Path,
    seed: u64,
    config: Config,
    drain: bool,
    clock: Option<Arc<ManualClock>>,
) -> Paper {
    let clock = clock.unwrap_or_else(|| Arc::new(ManualClock::new(PAPER_EPOCH)));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let world = Arc::new(
        SimWorld::open(&dir.join(WORLD_FILE), seed, dyn_clock.clone()).expect("world opens"),
    );
    let store = Store::open(dir, Mode::Paper).expect("store opens");
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain,
    };
    let (mut engine, handle) = Engine::new(config, options, world.clone(), dyn_clock, store);
    engine.recover().await.expect("recovery");
    Paper {
        clock,
        world,
        engine,
        handle,
    }
}

impl Paper {
    /// Advance the clock by `step_ms` and run one pass, `n` times.
    pub async fn run(&mut self, n: usize, step_ms: u64) {
        for _ in 0..n {
            self.clock.advance(step_ms);
            self.engine.tick().await.expect("pass");
        }
    }
}

/// Σ ledger deltas per (chain, token), read from the store.
pub fn ledger_balances(dir: &Path) -> BTreeMap<(Chain, TokenId), i128> {
    let store = ReadOnlyStore::open(dir).expect("store");
    let entries = store.read().expect("read").ledger(0).expect("ledger");
    arbkeep::engine::ledger::ledger_balances(&entries)
}

/// The world's balances in the same shape, zero balances left out.
pub fn world_balances(world: &SimWorld) -> BTreeMap<(Chain, TokenId), i128> {
    world
        .balances()
        .into_iter()
        .filter(|(_, _, amount)| *amount > 0)
        .map(|(c, t, a)| ((c, t), i128::try_from(a).expect("fits")))
        .collect()
}

pub fn nonzero(m: BTreeMap<(Chain, TokenId), i128>) -> BTreeMap<(Chain, TokenId), i128> {
    m.into_iter().filter(|(_, v)| *v != 0).collect()
}

impl Paper {
    /// Send a command as an operator would and let the engine answer it.
    pub async fn command(&mut self, command: arbkeep::engine::Command) -> Result<String, String> {
        let handle = self.handle.clone();
        let task = tokio::spawn(async move { handle.send(command, "test").await });
        while !task.is_finished() {
            tokio::task::yield_now().await;
            self.engine.drain_commands().await;
        }
        task.await.expect("command task")
    }

    pub fn clock_now(&self) -> arbkeep::model::Timestamp {
        self.clock.now()
    }

    /// Run passes until `done` holds (at most `n` passes of `step_ms`).
    pub async fn run_until(
        &mut self,
        n: usize,
        step_ms: u64,
        done: impl Fn(&Engine<SimWorld>) -> bool,
    ) -> bool {
        for _ in 0..n {
            if done(&self.engine) {
                return true;
            }
            self.run(1, step_ms).await;
        }
        done(&self.engine)
    }
}

/// The wallet equals the ledger, to the base unit.
pub fn assert_books_balance(dir: &Path, world: &SimWorld) {
    assert_eq!(
        nonzero(ledger_balances(dir)),
        world_balances(world),
        "wallet differs from the ledger"
    );
}

/// No intent was sent twice: every step the store records as done was sent
/// exactly once, and every other intent at most once.
pub fn assert_sent_once(reader: &arbkeep::store::Reader, world: &SimWorld) {
    use arbkeep::model::StepStatus;
    let counts = world.execution_counts();
    for (intent, n) in &counts {
        assert!(*n <= 1, "intent {intent} was sent {n} times");
    }
    let mut done = 0;
    for cycle in reader.cycles().expect("cycles") {
        for step in reader.steps(cycle.id).expect("steps") {
            if let StepStatus::Done { .. } = step.status {
                done += 1;
                let key = step.intent.id.to_string();
                assert_eq!(
                    counts.get(&key),
                    Some(&1),
                    "done step {key} was sent {:?} times",
                    counts.get(&key)
                );
            }
        }
    }
    assert!(done > 0, "some step was done");
}
