//! The kill switch over every strategy: money stranded in a loop cycle
//! passes the day's drawdown limit and every strategy stops sending — the
//! loop, the equity hedge at its broker and the Stellar keeper — counted at
//! the paper venues; the trip is on the snapshot, told by notice, stored,
//! and refuses a resume until the limit is raised (SIGHUP's reload). A
//! balance over its cap trips it before anything is sent, and a restart
//! keeps it tripped.

use crate::common::OpenCycles;
use crate::common::{Paper, paper, paper_with_keepers, past_its_opening_swap};

use arbkeep::config::{BalanceCap, Config};
use arbkeep::engine::limits::Limits;
use arbkeep::engine::{Command, Notice};
use arbkeep::model::time::MINUTE;
use arbkeep::model::{CycleState, ManualClock};
use arbkeep::strategy::equity_hedge::PaperHedge;
use arbkeep::strategy::equity_hedge::paper_broker::PaperBroker;
use arbkeep::strategy::stellar_arb::store as kstore;
use arbkeep::venue::faults::FaultDice;
use arbkeep::venue::sim::PAPER_EPOCH;
use rust_decimal::Decimal;
use std::path::Path;
use std::sync::Arc;

/// The loop, the paper hedge and the paper Stellar keeper on one engine.
struct All {
    p: Paper,
    broker: Arc<PaperBroker>,
}

async fn all_three(dir: &Path, config: Config) -> All {
    let mut broker = None;
    let (hedge_config, stellar_config) = (config.equity_hedge.clone(), config.stellar_arb.clone());
    let clock = Arc::new(ManualClock::new(PAPER_EPOCH));
    let p = paper_with_keepers(dir, 11, config, false, clock, |clock| {
        let hedge = PaperHedge::open(&hedge_config, dir, 11, clock).unwrap();
        broker = Some(hedge.broker.clone());
        let (stellar, _ws) = arbkeep::strategy::stellar_arb::wiring::paper(
            &stellar_config,
            dir,
            11,
            FaultDice::off(),
        )
        .unwrap();
        vec![Box::new(hedge.keeper), stellar]
    })
    .await;
    All {
        p,
        broker: broker.unwrap(),
    }
}

impl All {
    /// Sends counted at each paper venue: loop transactions, broker orders,
    /// Stellar transactions settled plus those still open.
    fn sends(&self) -> (u32, u64, usize) {
        let loop_sends = self.p.world.execution_counts().values().sum();
        let read = self.p.engine.store().read().unwrap();
        let stellar = kstore::results(&read).unwrap().len() + kstore::intents(&read).unwrap().len();
        (loop_sends, self.broker.places(), stellar)
    }
}

/// The kill switch's limits with this drawdown limit, as a reload carries them.
fn reload(drawdown_usd: Option<&str>) -> Command {
    let mut config = Config::default();
    config.risk.daily_drawdown_usd = drawdown_usd.map(|v| v.parse().unwrap());
    Command::Reload {
        limits: Limits::of(&config),
        in_place: Vec::new(),
        restart: Vec::new(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn stranded_loop_money_past_the_drawdown_limit_stops_every_strategy_until_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.stellar_arb.enabled = true;
    // The loop's own loss limit out of the way: the kill switch is tested.
    config.risk.daily_loss_limit_vcred = Decimal::from(1_000_000);
    let mut a = all_three(tmp.path(), config).await;

    // Warm up until every strategy has sent, and a loop cycle holds money
    // past its opening swap.
    let mut warmed = false;
    for _ in 0..(4 * 24 * 12) {
        a.p.run(1, 5 * MINUTE).await;
        let (l, b, s) = a.sends();
        if l > 0 && b > 0 && s > 0 && past_its_opening_swap(&a.p.engine).is_some() {
            warmed = true;
            break;
        }
    }
    assert!(warmed, "every strategy sent something: {:?}", a.sends());
    let stranded = past_its_opening_swap(&a.p.engine).unwrap();
    a.p.command(Command::Fail {
        cycle: stranded,
        reason: "stuck bridge, checking by hand".into(),
    })
    .await
    .unwrap();

    // The limit arrives by reload (as SIGHUP brings it): it trips at once.
    let mut notices = a.p.handle.notices.subscribe();
    let answer = a.p.command(reload(Some("10"))).await.unwrap();
    assert!(
        answer.contains("risk.daily_drawdown_usd off → 10"),
        "{answer}"
    );
    let snap = a.p.engine.snapshot_for_tests();
    let trip = snap.kill_switch.clone().expect("tripped");
    assert!(snap.paused, "everything paused");
    assert!(
        trip.reason.contains("daily drawdown") && trip.reason.contains("cross_chain_loop -"),
        "the reason names the drawdown and the strategy: {}",
        trip.reason
    );
    assert!(snap.risk_today.drawdown_usd > Decimal::from(10));
    let told: Vec<Notice> = std::iter::from_fn(|| notices.try_recv().ok()).collect();
    assert_eq!(
        told.iter()
            .filter(|n| matches!(n, Notice::KillSwitch { .. }))
            .count(),
        1,
        "told once: {told:?}"
    );
    let stored = a.p.engine.store().read().unwrap().controls().unwrap();
    assert_eq!(stored.tripped.as_ref(), Some(&trip), "stored");

    // Two days of passes, through market hours and ledgers: nothing is sent
    // by any strategy, and the switch is told about no more than once.
    let before = a.sends();
    let cycles_before: Vec<_> = a.p.engine.open_cycles().map(|c| c.id).collect();
    a.p.run(2 * 24 * 12, 5 * MINUTE).await;
    assert_eq!(a.sends(), before, "loop, broker and Stellar sends held");
    assert!(
        a.p.engine
            .open_cycles()
            .all(|c| cycles_before.contains(&c.id)),
        "no cycle started"
    );
    let told: Vec<Notice> = std::iter::from_fn(|| notices.try_recv().ok()).collect();
    assert!(
        !told.iter().any(|n| matches!(n, Notice::KillSwitch { .. })),
        "a trip is told once, not every pass"
    );

    // The stranded money still counts: a resume is refused and says how.
    let refused = a.p.command(Command::Resume).await.unwrap_err();
    assert!(refused.contains("the kill switch holds"), "{refused}");
    assert!(a.p.engine.snapshot_for_tests().kill_switch.is_some());

    // The operator raises the limit (reload), then resumes: sends go on.
    a.p.command(reload(Some("1000000"))).await.unwrap();
    let answer = a.p.command(Command::Resume).await.unwrap();
    assert!(answer.contains("kill switch is reset"), "{answer}");
    let snap = a.p.engine.snapshot_for_tests();
    assert!(snap.kill_switch.is_none() && !snap.paused);
    // Up to a few days: the broker trades in market hours only.
    let mut after = a.sends();
    for _ in 0..(5 * 24 * 12) {
        if after.0 > before.0 && after.1 > before.1 && after.2 > before.2 {
            break;
        }
        a.p.run(1, 5 * MINUTE).await;
        after = a.sends();
    }
    assert!(
        after.0 > before.0 && after.1 > before.1 && after.2 > before.2,
        "every strategy sends again: {before:?} → {after:?}"
    );
    // The stranded cycle was never the switch's to touch.
    assert!(
        a.p.engine
            .open_cycles()
            .any(|c| c.id == stranded && c.state == CycleState::Failed)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_balance_over_its_cap_trips_before_any_send_and_a_restart_keeps_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.risk.caps = vec![BalanceCap {
        venue: "hemi".into(),
        asset: "VCRED".into(),
        max: Decimal::from(1),
    }];
    let mut p: Paper = paper(tmp.path(), 7, config.clone(), false, None).await;
    p.run(1, MINUTE).await;
    let snap = p.engine.snapshot_for_tests();
    let trip = snap
        .kill_switch
        .expect("the opening VCRED is over a cap of 1");
    assert!(
        trip.reason.starts_with("hemi VCRED holds ")
            && trip.reason.contains("risk.caps.\"hemi.VCRED\""),
        "{}",
        trip.reason
    );
    p.run(6 * 60, MINUTE).await;
    assert!(
        p.world.execution_counts().is_empty(),
        "nothing sent: {:?}",
        p.world.execution_counts()
    );
    assert_eq!(p.engine.open_cycles().count(), 0, "no cycle started");
    drop(p);

    // A restart keeps the trip: paused from the first moment, same reason.
    let mut p = paper(tmp.path(), 7, config.clone(), false, None).await;
    let snap = p.engine.snapshot_for_tests();
    assert!(snap.paused, "paused at boot");
    assert_eq!(snap.kill_switch.as_ref(), Some(&trip));
    let refused = p.command(Command::Resume).await.unwrap_err();
    assert!(refused.contains("risk.caps"), "{refused}");

    // Caps lifted by reload: the resume is taken and cycles start.
    let mut lifted = config.clone();
    lifted.risk.caps.clear();
    let answer = p
        .command(Command::Reload {
            limits: Limits::of(&lifted),
            in_place: Vec::new(),
            restart: Vec::new(),
        })
        .await
        .unwrap();
    assert!(answer.contains("risk.caps hemi.VCRED=1 → "), "{answer}");
    p.command(Command::Resume).await.unwrap();
    assert!(
        p.run_until(24 * 60, MINUTE, |e| e.open_cycles().count() > 0)
            .await,
        "trading again"
    );
}
