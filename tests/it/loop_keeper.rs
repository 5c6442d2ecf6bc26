//! The cross-chain loop is one strategy among others: when its venue cannot
//! answer at boot, its recovery fails, it sends nothing and says so on its
//! Venues line, while the other strategies recover and trade; once its
//! venue answers, it recovers on the next pass and plans again.

use crate::common::{OpenCycles, WORLD_FILE};
use arbkeep::config::Config;
use arbkeep::engine::stall::{SendLog, StallingKeeper};
use arbkeep::engine::{Engine, EngineOptions, Phase};
use arbkeep::model::time::MINUTE;
use arbkeep::model::{
    BridgeTicket, Chain, Clock, Intent, IntentId, ManualClock, Mode, Receipt, TokenId, Units,
};
use arbkeep::store::Store;
use arbkeep::strategy::cross_chain_loop::CrossChainLoop;
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use arbkeep::venue::{Abandonment, BridgeStatus, FeeSchedule, LoopVenue, VenueError, VenueHealth};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The paper world behind a switch: while `down`, every read fails as a
/// node that does not answer would.
struct Unreachable {
    world: Arc<SimWorld>,
    down: AtomicBool,
}

impl Unreachable {
    fn check(&self) -> Result<(), VenueError> {
        if self.down.load(Ordering::SeqCst) {
            Err(VenueError::Transient("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

impl LoopVenue for Unreachable {
    async fn quote(&self, c: Chain, i: TokenId, o: TokenId, a: Units) -> Result<Units, VenueError> {
        self.check()?;
        self.world.quote(c, i, o, a).await
    }
    async fn fees(&self) -> Result<FeeSchedule, VenueError> {
        self.check()?;
        self.world.fees().await
    }
    async fn balance(&self, c: Chain, t: TokenId) -> Result<Units, VenueError> {
        self.check()?;
        self.world.balance(c, t).await
    }
    async fn execute(&self, intent: &Intent) -> Result<Receipt, VenueError> {
        self.check()?;
        self.world.execute(intent).await
    }
    async fn settle(&self, intent: IntentId) -> Result<Option<Receipt>, VenueError> {
        self.check()?;
        self.world.settle(intent).await
    }
    async fn abandon(&self, intent: IntentId) -> Result<Abandonment, VenueError> {
        self.check()?;
        self.world.abandon(intent).await
    }
    async fn receipt(&self, c: Chain, tx: &str) -> Result<Option<Receipt>, VenueError> {
        self.check()?;
        self.world.receipt(c, tx).await
    }
    async fn bridge_status(&self, t: &BridgeTicket) -> Result<BridgeStatus, VenueError> {
        self.check()?;
        self.world.bridge_status(t).await
    }
    async fn health(&self) -> Vec<VenueHealth> {
        self.world.health().await
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_loop_that_cannot_recover_holds_only_itself_and_recovers_when_its_venue_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(PAPER_EPOCH));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let world =
        Arc::new(SimWorld::open(&tmp.path().join(WORLD_FILE), 7, dyn_clock.clone()).unwrap());
    let venue = Arc::new(Unreachable {
        world,
        down: AtomicBool::new(true),
    });
    let config = Config::default();
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain: false,
    };
    let store = Store::open(tmp.path(), Mode::Paper).unwrap();
    let (mut engine, _handle) = Engine::new(config.clone(), options, dyn_clock, store);
    engine.add_keeper(Box::new(CrossChainLoop::new(config, venue.clone())));
    let log = SendLog::new();
    log.release(1_000);
    engine.add_keeper(Box::new(StallingKeeper {
        log: log.clone(),
        per_pass: 1,
    }));

    // Boot: the loop cannot read its wallet for the opening ledger.
    engine
        .recover()
        .await
        .expect("the engine recovers without the loop");
    assert_eq!(engine.phase(), Phase::Running);
    let loop_line = |e: &Engine| {
        e.snapshot_for_tests()
            .venues
            .into_iter()
            .find(|v| v.name == "cross_chain_loop")
    };
    let held = loop_line(&engine).expect("the loop's line on the Venues panel");
    assert!(
        !held.ok && held.detail.contains("NOT RECOVERED"),
        "{held:?}"
    );
    assert!(held.detail.contains("connection refused"), "{held:?}");

    // The other strategy trades on every pass; the loop sends nothing.
    for _ in 0..5 {
        clock.advance(MINUTE);
        engine.tick().await.ok();
    }
    assert_eq!(log.sends(), 5, "the other strategy sent once a pass");
    assert_eq!(engine.open_cycles().count(), 0);
    assert!(
        loop_line(&engine).is_some(),
        "still held while the venue is down"
    );
    assert!(
        engine.snapshot_for_tests().balances.is_empty(),
        "no balance read while down"
    );

    // The venue answers: the next pass recovers the loop, which then plans.
    venue.down.store(false, Ordering::SeqCst);
    clock.advance(MINUTE);
    engine.tick().await.expect("a clean pass");
    assert!(
        loop_line(&engine).is_none(),
        "recovered: the NOT RECOVERED line is gone"
    );
    let mut opened = false;
    for _ in 0..48 * 60 {
        clock.advance(MINUTE);
        engine.tick().await.expect("pass");
        if engine.open_cycles().count() > 0 {
            opened = true;
            break;
        }
    }
    assert!(opened, "the recovered loop opens cycles again");
    assert!(log.sends() > 5, "the other strategy kept trading");
}
