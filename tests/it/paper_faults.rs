//! The paper venues' send faults, scripted, on each strategy: a send
//! refused before acting is sent again; one that acted and then lost its
//! answer (reset, 502, timeout) is settled by looking — exactly one act at
//! the paper venue, booked once, the books equal to the venue.

use crate::common;

use arbkeep::config::Config;
use arbkeep::engine::{EngineOptions, IntentState, Mode};
use arbkeep::model::time::{HOUR, MINUTE};
use arbkeep::model::{Clock, ManualClock, StepStatus};
use arbkeep::store::{ReadOnlyStore, Store};
use arbkeep::strategy::equity_hedge::PaperHedge;
use arbkeep::venue::faults::SendFault;
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use common::*;
use std::sync::Arc;

const AFTER_ACTING: [SendFault; 3] = [
    SendFault::LoseReply,
    SendFault::ServerErrorAfter,
    SendFault::TimeoutAfter,
];

#[tokio::test(flavor = "current_thread")]
async fn loop_sends_that_lose_their_answer_are_settled_by_looking_and_sent_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut p = paper(dir, 3, Config::default(), false, None).await;
    let script = [Some(SendFault::RefuseBefore)]
        .into_iter()
        .chain(AFTER_ACTING.map(Some))
        .chain([None, Some(SendFault::LoseReply)]);
    p.world.faults().script(script);
    p.run((12 * HOUR / MINUTE) as usize, MINUTE).await;
    assert_eq!(p.world.faults().scripted_left(), 0, "every fault fired");
    let world = p.world.clone();
    drop(p);

    let counts = world.execution_counts();
    let twice = steps_sent_twice(&counts);
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    // Every send that acted at the world is booked as done: none was left
    // unknown, none was sent again.
    let store = ReadOnlyStore::open(dir).unwrap();
    let reader = store.read().unwrap();
    assert_sent_once(&reader, &world);
    let mut acted = 0;
    for (id, execution) in world.executions().unwrap() {
        if execution.receipt.is_none() {
            continue;
        }
        acted += 1;
        let found = reader.cycles().unwrap().into_iter().find_map(|c| {
            reader
                .steps(c.id)
                .unwrap()
                .into_iter()
                .find(|s| s.intent.id.to_string() == id)
        });
        let step = found.unwrap_or_else(|| panic!("{id} acted but is not in the store"));
        assert!(
            matches!(step.status, StepStatus::Done { .. }),
            "{id} acted but is {:?}",
            step.status
        );
    }
    assert!(acted >= 5, "the faulted sends and more acted: {acted}");
    drop(reader);
    drop(store);
    assert_books_balance(dir, &world);
}

#[tokio::test(flavor = "current_thread")]
async fn a_hedge_order_whose_answer_is_lost_is_found_at_the_broker_not_placed_again() {
    for fault in AFTER_ACTING {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let clock = Arc::new(ManualClock::new(PAPER_EPOCH));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let mut config = Config::default();
        config.cross_chain_loop.enabled = false;
        let world = Arc::new(SimWorld::open(&dir.join(WORLD_FILE), 5, dyn_clock.clone()).unwrap());
        let hedge = PaperHedge::open(&config.equity_hedge, dir, 5, dyn_clock.clone()).unwrap();
        let broker = hedge.broker.clone();
        broker
            .faults()
            .script([Some(SendFault::RefuseBefore), Some(fault)]);
        let store = Store::open(dir, Mode::Paper).unwrap();
        let options = EngineOptions {
            mode: Mode::Paper,
            speed_milli: None,
            drain: false,
        };
        let (mut engine, _handle) =
            crate::common::engine_with_loop(config, options, world, dyn_clock, store);
        engine.add_keeper(Box::new(hedge.keeper));
        engine.recover().await.unwrap();
        // Thursday: hedges are placed while the market is open.
        for _ in 0..(24 * HOUR / (5 * MINUTE)) {
            clock.advance(5 * MINUTE);
            engine.tick().await.unwrap();
        }
        assert_eq!(broker.faults().scripted_left(), 0, "{fault:?} fired");
        let taken = broker.taken_per_client_id().unwrap();
        assert!(taken.len() >= 2, "{fault:?}: orders {taken:?}");
        assert!(
            taken.values().all(|n| *n == 1),
            "{fault:?}: a hedge placed twice: {taken:?}"
        );
        // The order whose answer was lost was found and booked: no hedge
        // is left open in the snapshot.
        let snap = engine.snapshot_for_tests();
        let open: Vec<_> = snap
            .intents
            .iter()
            .filter(|i| i.strategy == "equity_hedge" && i.state == IntentState::OutcomeUnknown)
            .map(|i| format!("{} {}", i.id, i.state.label()))
            .collect();
        assert!(open.is_empty(), "{fault:?}: still open: {open:?}");
    }
}
