//! The paper world end to end: with a fixed seed, cycles complete on both
//! bridge routes through every state of seed §9.2; the wallet equals the
//! ledger exactly; P&L equals the ledger; no intent is executed twice; and
//! the same seed gives the same ledger.

use crate::common;
use crate::common::OpenCycles;

use arbkeep::config::Config;
use arbkeep::model::time::{HOUR, MINUTE};
use arbkeep::model::{CycleState, LedgerEntry, LedgerKind, Route};
use arbkeep::store::ReadOnlyStore;
use arbkeep::strategy::cross_chain_loop::ledger::{PnlBook, cycle_pnl_from_ledger};
use common::*;
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::path::Path;

/// Trade for `hours` of simulated time, then drain every open cycle (a
/// restart of the engine on the same store, which also exercises recovery).
async fn trade_then_drain(dir: &Path, seed: u64, hours: u64) -> arbkeep::venue::sim::SimWorld {
    let step = MINUTE;
    let mut p = paper(dir, seed, Config::default(), false, None).await;
    p.run((hours * HOUR / step) as usize, step).await;
    let clock = p.clock.clone();
    drop(p);
    let mut d = paper(dir, seed, Config::default(), true, Some(clock)).await;
    for _ in 0..(72 * HOUR / step) {
        if d.engine.open_cycles().all(|c| !c.is_open()) {
            break;
        }
        d.run(1, step).await;
    }
    assert!(
        d.engine.open_cycles().all(|c| !c.is_open()),
        "every cycle closes once drained"
    );
    (*d.world).clone()
}

fn ledger(dir: &Path) -> Vec<LedgerEntry> {
    ReadOnlyStore::open(dir)
        .unwrap()
        .read()
        .unwrap()
        .ledger(0)
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn cycles_complete_on_both_routes_and_the_ledger_explains_every_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = trade_then_drain(dir, 7, 48).await;

    let store = ReadOnlyStore::open(dir).unwrap();
    let cycles = store.read().unwrap().cycles().unwrap();
    let completed: Vec<_> = cycles
        .iter()
        .filter(|c| c.state == CycleState::Completed)
        .collect();
    let by_route = |r: Route| completed.iter().filter(|c| c.route == r).count();
    assert!(
        by_route(Route::Stargate) >= 3,
        "stargate cycles completed: {}",
        by_route(Route::Stargate)
    );
    assert!(
        by_route(Route::HemiTunnel) >= 2,
        "tunnel cycles completed: {}",
        by_route(Route::HemiTunnel)
    );
    for c in &cycles {
        assert!(
            c.state == CycleState::Completed || c.failure.is_some() || c.refusal.is_some(),
            "{} ended in {} without a stated reason",
            c.id,
            c.state
        );
    }

    // Every canonical state but the unhappy ends was visited, in the right order per route.
    let visited: BTreeSet<CycleState> = completed
        .iter()
        .flat_map(|c| c.history.iter().map(|(s, _)| *s))
        .collect();
    for s in CycleState::ALL
        .into_iter()
        .filter(|s| !matches!(s, CycleState::Failed | CycleState::NotStarted))
    {
        assert!(visited.contains(&s), "no cycle went through {s}");
    }
    for c in &completed {
        let path: Vec<CycleState> = c.history.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            path,
            CycleState::path(c.route),
            "{} took an unexpected path",
            c.id
        );
    }

    // The wallet equals the ledger, exactly, per chain and token.
    assert_eq!(nonzero(ledger_balances(dir)), world_balances(&world));

    // Starting balances plus the ledger's deltas equal the ending balances.
    let entries = ledger(dir);
    let mut expected: std::collections::BTreeMap<_, i128> = world
        .genesis_balances()
        .into_iter()
        .map(|(c, t, a)| ((c, t), i128::try_from(a).unwrap()))
        .collect();
    for e in entries
        .iter()
        .filter(|e| e.kind.moves_money() && e.kind != LedgerKind::Opening)
    {
        *expected
            .entry((e.chain.unwrap(), e.token.unwrap()))
            .or_default() += e.delta;
    }
    assert_eq!(nonzero(expected), world_balances(&world));

    // P&L equals the ledger: per cycle, and in total.
    let mut total = Decimal::ZERO;
    for c in &completed {
        let booked = c.result.as_ref().unwrap().profit_vcred;
        assert_eq!(
            cycle_pnl_from_ledger(&entries, c.id),
            booked,
            "{} P&L differs from its ledger lines",
            c.id
        );
        let closed: Vec<_> = entries
            .iter()
            .filter(|e| e.kind == LedgerKind::CycleClosed && e.cycle == Some(c.id))
            .collect();
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].value_vcred, booked);
        total += booked;
    }
    assert_eq!(PnlBook::from_cycles(&cycles).lifetime().profit_vcred, total);
    assert_eq!(
        PnlBook::from_cycles(&cycles).lifetime().cycles,
        completed.len() as u64
    );

    // No intent was sent twice.
    assert_sent_once(&store.read().unwrap(), &world);
}

#[tokio::test(flavor = "current_thread")]
async fn the_same_seed_gives_the_same_ledger() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    trade_then_drain(a.path(), 11, 12).await;
    trade_then_drain(b.path(), 11, 12).await;
    let strip = |v: Vec<LedgerEntry>| -> Vec<String> {
        v.into_iter()
            .map(|e| {
                format!(
                    "{:?} {:?} {:?} {:?} {} {:?} {}",
                    e.kind, e.cycle, e.chain, e.token, e.delta, e.tx_hash, e.at
                )
            })
            .collect()
    };
    let la = strip(ledger(a.path()));
    assert!(la.len() > 10, "the run traded");
    assert_eq!(la, strip(ledger(b.path())));
}

/// `assert_sent_once` can fail: the same step of the same cycle sent a second
/// time under a new attempt number (each intent id then counts once) is
/// caught, and so is a plain double send.
#[tokio::test(flavor = "current_thread")]
async fn a_step_sent_again_under_a_new_attempt_number_is_caught() {
    use arbkeep::model::{
        Action, Chain, Clock, CycleId, Intent, IntentId, ManualClock, StepKind, TokenId,
    };
    use arbkeep::venue::LoopVenue;
    use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
    use std::sync::Arc;

    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(PAPER_EPOCH));
    let world = SimWorld::open(&tmp.path().join(WORLD_FILE), 7, clock.clone()).unwrap();
    let action = Action::Swap {
        chain: Chain::Hemi,
        token_in: TokenId::Vcred,
        token_out: TokenId::Wbtc,
        amount_in: 100 * TokenId::Vcred.one(),
        min_out: 1,
        deadline: clock.now() + HOUR,
    };
    let intent = |attempt| {
        let id = IntentId {
            cycle: CycleId(1),
            step: StepKind::HemiSwap,
            attempt,
        };
        Intent::new(id, action.clone(), clock.now())
    };
    world.execute(&intent(0)).await.expect("first send");
    let once = world.execution_counts();
    assert!(steps_sent_twice(&once).is_empty(), "{once:?}");
    assert_eq!(sends_per_step(&once).get("c1/hemi_swap"), Some(&1));

    world.execute(&intent(1)).await.expect("the world takes it");
    let twice = world.execution_counts();
    // Per intent id, nothing looks wrong: this is what the old check missed.
    assert!(twice.values().all(|n| *n == 1), "{twice:?}");
    let caught = steps_sent_twice(&twice);
    assert_eq!(caught.len(), 1, "{caught:?}");
    assert!(
        caught[0].starts_with("c1/hemi_swap was sent 2 times"),
        "{caught:?}"
    );

    // The same intent id sent twice is caught as well.
    let _ = world.execute(&intent(1)).await;
    assert_eq!(
        sends_per_step(&world.execution_counts()).get("c1/hemi_swap"),
        Some(&3)
    );
}
