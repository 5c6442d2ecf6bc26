//! Shared test fixtures: a paper engine over a manual clock, driven pass by
//! pass, and the invariants every money test checks.
#![allow(dead_code)]

use arbkeep::config::Config;
use arbkeep::engine::{Engine, EngineHandle, EngineOptions, Mode};
use arbkeep::model::{Chain, Clock, ManualClock, TokenId};
use arbkeep::store::{ReadOnlyStore, Store};
use arbkeep::strategy::cross_chain_loop::CrossChainLoop;
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub const WORLD_FILE: &str = "paper-world.redb";

pub struct Paper {
    pub clock: Arc<ManualClock>,
    pub world: Arc<SimWorld>,
    pub engine: Engine,
    pub handle: EngineHandle,
}

/// The loop's open cycles (and failed ones still holding money), as the
/// engine publishes them: the loop is a strategy like the others, so a
/// test sees its cycles where a front end does.
pub trait OpenCycles {
    fn open_cycles(&self) -> std::vec::IntoIter<arbkeep::model::Cycle>;
}

impl OpenCycles for Engine {
    fn open_cycles(&self) -> std::vec::IntoIter<arbkeep::model::Cycle> {
        let mut seen = std::collections::BTreeSet::new();
        self.snapshot_for_tests()
            .cycles
            .into_iter()
            .map(|v| v.cycle)
            .filter(|c| {
                arbkeep::strategy::cross_chain_loop::needs_attention(c) && seen.insert(c.id)
            })
            .collect::<Vec<_>>()
            .into_iter()
    }
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
    paper_with_keepers(dir, seed, config, drain, clock, |_| Vec::new()).await
}

/// The same, with the strategies `keepers` builds (on the engine's clock)
/// beside the loop.
pub async fn paper_with_keepers(
    dir: &Path,
    seed: u64,
    config: Config,
    drain: bool,
    clock: Arc<ManualClock>,
    keepers: impl FnOnce(Arc<dyn Clock>) -> Vec<Box<dyn arbkeep::engine::Keeper>>,
) -> Paper {
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
    let keepers = keepers(dyn_clock.clone());
    let cross_chain_loop = CrossChainLoop::new(config.clone(), world.clone());
    let (mut engine, handle) = Engine::new(config, options, dyn_clock, store);
    engine.add_keeper(Box::new(cross_chain_loop));
    for keeper in keepers {
        engine.add_keeper(keeper);
    }
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
    arbkeep::strategy::cross_chain_loop::ledger::ledger_balances(&entries)
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

/// An open cycle past its opening swap: it holds X (or X in flight), not VCRED.
pub fn past_its_opening_swap(engine: &Engine) -> Option<arbkeep::model::CycleId> {
    engine
        .open_cycles()
        .find(|c| {
            matches!(
                c.state,
                arbkeep::model::CycleState::HemiSwapDone
                    | arbkeep::model::CycleState::BridgeOutSent
            )
        })
        .map(|c| c.id)
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
        done: impl Fn(&Engine) -> bool,
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

/// Sends per logical step — one cycle's one step, every attempt number
/// together — from the world's per-intent counts (`c3/eth_swap/0` and
/// `c3/eth_swap/1` both count for `c3/eth_swap`). A step sent again under a
/// new attempt number is still the same money sent twice.
pub fn sends_per_step(counts: &BTreeMap<String, u32>) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for (intent, n) in counts {
        let step = match intent.rsplit_once('/') {
            Some((step, attempt)) if attempt.parse::<u32>().is_ok() => step,
            _ => panic!("intent id {intent:?} is not cycle/step/attempt"),
        };
        *out.entry(step.to_string()).or_insert(0) += n;
    }
    out
}

/// The steps sent more than once across all their attempts, with the
/// per-attempt counts, for the failure message.
pub fn steps_sent_twice(counts: &BTreeMap<String, u32>) -> Vec<String> {
    sends_per_step(counts)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(step, n)| {
            let attempts: Vec<String> = counts
                .iter()
                .filter(|(id, _)| id.rsplit_once('/').is_some_and(|(s, _)| s == step))
                .map(|(id, k)| format!("{id}: {k}"))
                .collect();
            format!("{step} was sent {n} times ({})", attempts.join(", "))
        })
        .collect()
}

/// No step was sent twice, under the same attempt number or another: every
/// step the store records as done was sent exactly once over all its
/// attempts, and every other step at most once.
pub fn assert_sent_once(reader: &arbkeep::store::Reader, world: &SimWorld) {
    use arbkeep::model::StepStatus;
    let counts = world.execution_counts();
    let twice = steps_sent_twice(&counts);
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    let per_step = sends_per_step(&counts);
    let mut done = 0;
    for cycle in reader.cycles().expect("cycles") {
        for step in reader.steps(cycle.id).expect("steps") {
            if let StepStatus::Done { .. } = step.status {
                done += 1;
                let key = format!("{}/{}", step.intent.id.cycle, step.intent.id.step);
                assert_eq!(
                    per_step.get(&key),
                    Some(&1),
                    "done step {key} (attempt {}) was sent {:?} times over all attempts",
                    step.intent.id.attempt,
                    per_step.get(&key)
                );
            }
        }
    }
    assert!(done > 0, "some step was done");
}

/// An engine with the cross-chain loop over `venue` as its first strategy,
/// as `src/app/` assembles paper and devnet runs.
pub fn engine_with_loop<V: arbkeep::venue::LoopVenue + 'static>(
    config: Config,
    options: EngineOptions,
    venue: Arc<V>,
    clock: Arc<dyn Clock>,
    store: Store,
) -> (Engine, EngineHandle) {
    let cross_chain_loop = CrossChainLoop::new(config.clone(), venue);
    let (mut engine, handle) = Engine::new(config, options, clock, store);
    engine.add_keeper(Box::new(cross_chain_loop));
    (engine, handle)
}
