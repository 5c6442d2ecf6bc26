//! The risk gate against the paper engine: a cycle that failed while still
//! holding money is not over. Until the operator resolves it, it counts
//! toward the open-cycle cap (overall and per token), and the VCRED it went
//! in with counts as lost toward the daily loss limit.

use crate::common;
use crate::common::OpenCycles;

use arbkeep::config::Config;
use arbkeep::engine::Command;
use arbkeep::engine::snapshot::OpportunityState;
use arbkeep::model::time::MINUTE;
use arbkeep::model::{CycleId, CycleState};
use common::*;

/// Trade until a cycle is past its opening swap, then fail it by hand: it
/// holds X (or X in flight), not VCRED. Returns its id.
async fn strand_one(p: &mut Paper) -> CycleId {
    assert!(
        p.run_until(48 * 60, MINUTE, |e| past_its_opening_swap(e).is_some())
            .await,
        "a cycle got past its opening swap"
    );
    let id = past_its_opening_swap(&p.engine).unwrap();
    p.command(Command::Fail {
        cycle: id,
        reason: "stuck bridge, checking by hand".into(),
    })
    .await
    .unwrap();
    let failed = p.engine.open_cycles().find(|c| c.id == id).unwrap();
    assert_eq!(failed.state, CycleState::Failed);
    assert!(failed.holding.amount > 0, "it still holds money");
    id
}

/// Run `minutes` passes of a minute; every refusal shown on the way.
async fn run_collecting_refusals(p: &mut Paper, minutes: usize) -> Vec<String> {
    let mut notes = std::collections::BTreeSet::new();
    for _ in 0..minutes {
        p.run(1, MINUTE).await;
        for o in p.engine.snapshot_for_tests().opportunities {
            if o.state == OpportunityState::Refused {
                notes.insert(o.note);
            }
        }
    }
    notes.into_iter().collect()
}

/// Cycles other than `id` that exist now (open or stranded).
fn others(p: &Paper, id: CycleId) -> usize {
    p.engine.open_cycles().filter(|c| c.id != id).count()
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_cycle_holding_money_counts_toward_the_open_cycle_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.engine.max_open_cycles = 1;
    // The loss limit is checked first: out of the way here.
    config.risk.daily_loss_limit_vcred = rust_decimal::Decimal::from(1_000_000);
    let mut p = paper(tmp.path(), 7, config, false, None).await;
    let id = strand_one(&mut p).await;

    // A day of opportunities: none may start while the failed cycle holds money.
    let notes = run_collecting_refusals(&mut p, 24 * 60).await;
    assert_eq!(others(&p, id), 0, "no new cycle next to a stranded one");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("1 cycles open (1 failed, holding money) (max 1)")),
        "the refusal says why: {notes:?}"
    );

    // Resolved (force resumes it and it completes): the cap is free again.
    p.command(Command::Force { cycle: id }).await.unwrap();
    assert!(
        p.run_until(3 * 24 * 60, MINUTE, |e| e.open_cycles().all(|c| c.id != id))
            .await,
        "the resumed cycle finished"
    );
    assert!(
        p.run_until(24 * 60, MINUTE, |e| e.open_cycles().count() > 0)
            .await,
        "a new cycle starts once the stranded one is resolved"
    );
    let world = p.world.clone();
    drop(p);
    assert_books_balance(tmp.path(), &world);
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_cycle_holding_money_counts_toward_the_tokens_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.cross_chain_loop.max_cycles_per_token = 1;
    config.risk.daily_loss_limit_vcred = rust_decimal::Decimal::from(1_000_000);
    let mut p = paper(tmp.path(), 7, config, false, None).await;
    let id = strand_one(&mut p).await;
    let token = p.engine.open_cycles().find(|c| c.id == id).unwrap().token;

    let notes = run_collecting_refusals(&mut p, 24 * 60).await;
    assert!(
        p.engine
            .open_cycles()
            .all(|c| c.id == id || c.token != token),
        "no new {token} cycle next to a stranded one"
    );
    assert!(
        notes.iter().any(|n| n.contains(&format!(
            "1 {token} cycles open (1 failed, holding money) (max 1)"
        ))),
        "the refusal says why: {notes:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_vcred_a_failed_cycle_went_in_with_counts_toward_the_loss_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    // Below any cycle's size: one stranded cycle is past the limit.
    config.risk.daily_loss_limit_vcred = rust_decimal::Decimal::from(50);
    config.cross_chain_loop.min_swap_vcred = 100 * arbkeep::model::TokenId::Vcred.one();
    let mut p = paper(tmp.path(), 7, config, false, None).await;
    let id = strand_one(&mut p).await;
    let vcred_in = p
        .engine
        .open_cycles()
        .find(|c| c.id == id)
        .unwrap()
        .vcred_in;
    assert!(vcred_in >= 100 * arbkeep::model::TokenId::Vcred.one());
    // Whatever else was open finishes; nothing new may start.
    let open_before: Vec<CycleId> = p
        .engine
        .open_cycles()
        .filter(|c| c.id != id)
        .map(|c| c.id)
        .collect();
    let notes = run_collecting_refusals(&mut p, 24 * 60).await;
    assert!(
        p.engine
            .open_cycles()
            .all(|c| c.id == id || open_before.contains(&c.id)),
        "no new cycle while the stranded VCRED is past the loss limit"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("daily loss limit: today")
                && n.contains("VCRED stranded in failed cycles")),
        "the refusal says why: {notes:?}"
    );
}

/// A cycle whose opening swap is refused before anything is sent (its
/// simulation returns less than the slippage bound allows) closes NOT
/// STARTED with its reason: it holds nothing, is no failure for the
/// operator, and counts toward neither the cap nor the loss limit.
#[tokio::test(flavor = "current_thread")]
async fn a_cycle_refused_before_anything_was_sent_closes_not_started() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.risk.approval = arbkeep::config::Approval::Manual;
    config.engine.max_open_cycles = 1;
    // Below any cycle's size: one cycle counted as lost would be past it.
    config.risk.daily_loss_limit_vcred = rust_decimal::Decimal::from(50);
    config.cross_chain_loop.min_swap_vcred = 100 * arbkeep::model::TokenId::Vcred.one();
    // The tightest bound: any move against us between approval and send refuses it.
    config.cross_chain_loop.slippage_bps = 1;
    let mut p = paper(tmp.path(), 7, config, false, None).await;
    let awaiting = |e: &arbkeep::engine::Engine| {
        e.snapshot_for_tests()
            .opportunities
            .into_iter()
            .find(|o| o.state == OpportunityState::AwaitingApproval)
    };
    assert!(
        p.run_until(48 * 60, MINUTE, |e| awaiting(e).is_some())
            .await,
        "an opportunity waits for approval"
    );
    let o = awaiting(&p.engine).unwrap();
    p.command(Command::Approve {
        opportunity: o.id,
        size_vcred: None,
    })
    .await
    .unwrap();
    let id = p.engine.open_cycles().next().unwrap().id;
    // Held before its opening swap while the market moves on, then let go.
    p.command(Command::Pause).await.unwrap();
    p.run(12 * 60, MINUTE).await;
    p.command(Command::Resume).await.unwrap();
    assert!(
        p.run_until(60, MINUTE, |e| e.open_cycles().all(|c| c.id != id))
            .await,
        "the refused cycle closed"
    );
    let snapshot = p.engine.snapshot_for_tests();
    let closed = snapshot
        .cycles
        .iter()
        .find(|v| v.cycle.id == id)
        .expect("the closed cycle is listed");
    assert_eq!(closed.cycle.state, CycleState::NotStarted);
    let reason = closed.cycle.refusal.clone().unwrap_or_default();
    assert!(reason.contains("slippage"), "its reason: {reason:?}");
    assert_eq!(closed.cycle.holding.amount, 0, "it holds nothing");
    assert!(closed.cycle.failure.is_none(), "no failure to resolve");
    assert!(!closed.half_done, "nothing half-done about it");
    assert!(
        closed.next.starts_with("NOT STARTED (closed)"),
        "{}",
        closed.next
    );
    assert_eq!(snapshot.counts.not_started, 1);
    assert_eq!(snapshot.counts.failed, 0);

    // Neither the cap (max 1 open) nor the loss limit (50 VCRED) holds the next one.
    assert!(
        p.run_until(24 * 60, MINUTE, |e| awaiting(e).is_some())
            .await,
        "another opportunity waits for approval"
    );
    let o = awaiting(&p.engine).unwrap();
    let answer = p
        .command(Command::Approve {
            opportunity: o.id,
            size_vcred: None,
        })
        .await;
    assert!(answer.is_ok(), "a new cycle may start: {answer:?}");
    let world = p.world.clone();
    drop(p);
    assert_books_balance(tmp.path(), &world);
}
