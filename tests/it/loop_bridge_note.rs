//! A bridge transfer's in-flight note (a second source such as the
//! LayerZero Scan API) reaches the operator through the loop: on the
//! cycle's last-error line and its next-action words; a note of trouble
//! flags the cycle stuck; a note never moves money — the cycle waits until
//! the venue says Arrived, and a note gone is cleared from the screen.

use crate::common::{OpenCycles, Paper, WORLD_FILE, engine_with_loop};
use arbkeep::config::Config;
use arbkeep::engine::{Engine, EngineOptions};
use arbkeep::model::time::MINUTE;
use arbkeep::model::{
    BridgeTicket, Chain, Clock, CycleId, CycleState, Intent, IntentId, ManualClock, Mode, Receipt,
    Route, TokenId, Units,
};
use arbkeep::store::Store;
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use arbkeep::venue::{
    Abandonment, BridgeStatus, FeeSchedule, LoopVenue, NOTE_TROUBLE, VenueError, VenueHealth,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The paper world, its Stargate transfers in flight carrying `note`, and
/// their arrival held back while `hold` (the chain not showing it yet).
struct Noted {
    world: Arc<SimWorld>,
    note: Mutex<Option<String>>,
    hold: AtomicBool,
}

impl LoopVenue for Noted {
    async fn quote(&self, c: Chain, i: TokenId, o: TokenId, a: Units) -> Result<Units, VenueError> {
        self.world.quote(c, i, o, a).await
    }
    async fn fees(&self) -> Result<FeeSchedule, VenueError> {
        self.world.fees().await
    }
    async fn balance(&self, c: Chain, t: TokenId) -> Result<Units, VenueError> {
        self.world.balance(c, t).await
    }
    async fn execute(&self, intent: &Intent) -> Result<Receipt, VenueError> {
        self.world.execute(intent).await
    }
    async fn settle(&self, intent: IntentId) -> Result<Option<Receipt>, VenueError> {
        self.world.settle(intent).await
    }
    async fn abandon(&self, intent: IntentId) -> Result<Abandonment, VenueError> {
        self.world.abandon(intent).await
    }
    async fn receipt(&self, c: Chain, tx: &str) -> Result<Option<Receipt>, VenueError> {
        self.world.receipt(c, tx).await
    }
    async fn bridge_status(&self, t: &BridgeTicket) -> Result<BridgeStatus, VenueError> {
        let status = self.world.bridge_status(t).await?;
        if t.route != Route::Stargate {
            return Ok(status);
        }
        let note = self.note.lock().unwrap().clone();
        Ok(match status {
            BridgeStatus::InFlight { ready_at, .. } => BridgeStatus::InFlight { ready_at, note },
            BridgeStatus::Arrived { .. } if self.hold.load(Ordering::SeqCst) => {
                BridgeStatus::InFlight {
                    ready_at: None,
                    note,
                }
            }
            other => other,
        })
    }
    async fn health(&self) -> Vec<VenueHealth> {
        self.world.health().await
    }
}

fn waiting(e: &Engine) -> Option<CycleId> {
    e.open_cycles()
        .find(|c| c.state == CycleState::BridgeOutSent && c.route == Route::Stargate)
        .map(|c| c.id)
}

fn view(e: &Engine, id: CycleId) -> arbkeep::engine::snapshot::CycleView {
    e.snapshot_for_tests()
        .cycles
        .into_iter()
        .find(|v| v.cycle.id == id)
        .expect("the cycle is on screen")
}

#[tokio::test(flavor = "current_thread")]
async fn an_in_flight_note_is_shown_trouble_flags_the_cycle_and_only_the_arrival_moves_it() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(PAPER_EPOCH));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let world =
        Arc::new(SimWorld::open(&tmp.path().join(WORLD_FILE), 7, dyn_clock.clone()).unwrap());
    let venue = Arc::new(Noted {
        world: world.clone(),
        note: Mutex::new(Some("LayerZero Scan: CONFIRMING".into())),
        hold: AtomicBool::new(true),
    });
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain: false,
    };
    let store = Store::open(tmp.path(), Mode::Paper).unwrap();
    let (mut engine, handle) =
        engine_with_loop(Config::default(), options, venue.clone(), dyn_clock, store);
    engine.recover().await.expect("recovery");
    let mut p = Paper {
        clock,
        world,
        engine,
        handle,
    };

    // A Stargate transfer in flight: the note on its lines.
    let shown = |e: &Engine| {
        waiting(e).is_some_and(|id| {
            view(e, id).cycle.last_error.as_deref() == Some("in flight: LayerZero Scan: CONFIRMING")
        })
    };
    assert!(p.run_until(48 * 60, MINUTE, shown).await, "noted in flight");
    let id = waiting(&p.engine).unwrap();
    let v = view(&p.engine, id);
    assert!(
        v.next.ends_with("— LayerZero Scan: CONFIRMING"),
        "{}",
        v.next
    );
    assert!(!v.stuck);
    let holding = v.cycle.holding.clone();
    assert!(holding.in_flight);

    // Trouble: the cycle is flagged stuck, its words say so; still in flight.
    let trouble = format!("{NOTE_TROUBLE} — LayerZero Scan: PAYLOAD_STORED: retry it");
    *venue.note.lock().unwrap() = Some(trouble.clone());
    let flagged = |e: &Engine| view(e, id).stuck;
    assert!(p.run_until(60, MINUTE, flagged).await, "flagged stuck");
    let v = view(&p.engine, id);
    assert_eq!(v.cycle.state, CycleState::BridgeOutSent, "nothing moved");
    assert_eq!(v.cycle.holding, holding, "nothing credited");
    assert!(v.next.contains(&trouble), "{}", v.next);
    assert_eq!(
        v.cycle.last_error.as_deref(),
        Some(format!("in flight: {trouble}").as_str())
    );

    // The note gone: cleared, no longer stuck.
    *venue.note.lock().unwrap() = None;
    let cleared = |e: &Engine| view(e, id).cycle.last_error.is_none();
    assert!(p.run_until(60, MINUTE, cleared).await, "cleared");
    let v = view(&p.engine, id);
    assert!(!v.stuck && !v.next.contains("LayerZero"), "{}", v.next);
    assert_eq!(v.cycle.state, CycleState::BridgeOutSent);

    // The arrival, and only it, moves the cycle on.
    venue.hold.store(false, Ordering::SeqCst);
    let moved = |e: &Engine| view(e, id).cycle.state != CycleState::BridgeOutSent;
    assert!(p.run_until(60, MINUTE, moved).await, "arrived");
    let v = view(&p.engine, id);
    assert!(!v.cycle.holding.in_flight);
    assert_eq!(v.cycle.holding.chain, Chain::Ethereum);
    assert!(v.cycle.last_error.is_none());
}
