//! Operator commands against the paper engine: manual approval with an
//! edited size, reject, pause per token, fail then force-resume, mark done
//! with a real transaction, skip. Every override lands in the audit trail and
//! the wallet still equals the ledger afterwards.

use crate::common;
use crate::common::OpenCycles;

use arbkeep::config::{Approval, Config};
use arbkeep::engine::snapshot::OpportunityState;
use arbkeep::engine::{Command, Resolution};
use arbkeep::model::time::MINUTE;
use arbkeep::model::{CycleState, Intent, IntentId, LedgerKind, StepKind, TokenId};
use arbkeep::strategy::cross_chain_loop::action_for;
use arbkeep::venue::LoopVenue;
use common::*;

fn audit_notes(p: &Paper) -> Vec<String> {
    let entries = p.engine.store().read().unwrap().ledger(0).unwrap();
    entries
        .into_iter()
        .filter(|e| e.operator && matches!(e.kind, LedgerKind::Operator | LedgerKind::Control))
        .map(|e| e.note)
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn manual_approval_waits_and_opens_at_the_operators_size() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.risk.approval = Approval::Manual;
    let mut p = paper(tmp.path(), 7, config, false, None).await;
    let found = p
        .run_until(48 * 60, MINUTE, |e| {
            e.snapshot_for_tests()
                .opportunities
                .iter()
                .any(|o| o.state == OpportunityState::AwaitingApproval)
        })
        .await;
    assert!(found, "an opportunity waits for approval");
    assert_eq!(
        p.engine.open_cycles().count(),
        0,
        "nothing starts without approval"
    );
    let waiting = p
        .engine
        .snapshot_for_tests()
        .opportunities
        .into_iter()
        .find(|o| o.state == OpportunityState::AwaitingApproval)
        .unwrap();

    let size = 1_234 * TokenId::Vcred.one();
    let answer = p
        .command(Command::Approve {
            opportunity: waiting.id,
            size_vcred: Some(size),
        })
        .await
        .unwrap();
    assert!(answer.contains("approved at 1234 VCRED"), "{answer}");
    let cycle = p
        .engine
        .open_cycles()
        .next()
        .expect("a cycle opened")
        .clone();
    assert_eq!(cycle.vcred_in, size);
    assert_eq!(cycle.token, waiting.token);

    // Approving it again, or rejecting an unknown one, is refused with a reason.
    let again = p
        .command(Command::Approve {
            opportunity: waiting.id,
            size_vcred: None,
        })
        .await;
    assert!(again.unwrap_err().contains("awaits approval"));
    assert!(
        p.command(Command::Reject {
            opportunity: 999_999
        })
        .await
        .is_err()
    );
    assert!(
        audit_notes(&p)
            .iter()
            .any(|n| n.contains("approve opportunity"))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_paused_token_starts_nothing_and_its_cycles_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = paper(tmp.path(), 7, Config::default(), false, None).await;
    for token in TokenId::LOOP {
        p.command(Command::PauseToken { token }).await.unwrap();
    }
    p.run(24 * 60, MINUTE).await;
    assert_eq!(
        p.engine.open_cycles().count(),
        0,
        "paused tokens start no cycle"
    );
    let snap = p.engine.snapshot_for_tests();
    assert_eq!(snap.paused_tokens.len(), TokenId::LOOP.len());
    assert!(
        snap.opportunities
            .iter()
            .all(|o| o.state != OpportunityState::Auto)
    );
    p.command(Command::ResumeToken {
        token: TokenId::Eth,
    })
    .await
    .unwrap();
    let started = p
        .run_until(48 * 60, MINUTE, |e| e.open_cycles().count() > 0)
        .await;
    assert!(started, "a resumed token trades again");
    assert!(p.engine.open_cycles().all(|c| c.token == TokenId::Eth));
}

#[tokio::test(flavor = "current_thread")]
async fn fail_then_force_resumes_where_it_stopped_and_the_books_balance() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = paper(tmp.path(), 7, Config::default(), false, None).await;
    assert!(
        p.run_until(48 * 60, MINUTE, |e| e.open_cycles().any(|c| c.state
            == CycleState::HemiSwapDone
            || c.state == CycleState::BridgeOutSent))
            .await,
        "a cycle got past its opening swap"
    );
    let id = p
        .engine
        .open_cycles()
        .find(|c| c.state != CycleState::Detected)
        .unwrap()
        .id;
    let before = p.engine.open_cycles().find(|c| c.id == id).unwrap().state;
    p.command(Command::Fail {
        cycle: id,
        reason: "checking the bridge by hand".into(),
    })
    .await
    .unwrap();
    let failed = p
        .engine
        .open_cycles()
        .find(|c| c.id == id)
        .expect("a failed cycle holding money stays in view")
        .clone();
    assert_eq!(failed.state, CycleState::Failed);
    assert_eq!(failed.failure.as_ref().unwrap().in_state, before);
    assert!(failed.failure.as_ref().unwrap().by_operator);
    // While failed, nothing moves it.
    p.run(60, MINUTE).await;
    assert_eq!(
        p.engine.open_cycles().find(|c| c.id == id).unwrap().state,
        CycleState::Failed
    );

    p.command(Command::Force { cycle: id }).await.unwrap();
    let done = p
        .run_until(3 * 24 * 60, MINUTE, |e| e.open_cycles().all(|c| c.id != id))
        .await;
    assert!(done, "the resumed cycle finished");
    let c = p.engine.store().read().unwrap().cycle(id).unwrap().unwrap();
    assert_eq!(c.state, CycleState::Completed);
    assert!(c.operator_touched);
    let notes = audit_notes(&p);
    assert!(notes.iter().any(|n| n.contains(&format!("fail {id}"))));
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&format!("force the next step of {id}")))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn mark_done_books_the_operators_transaction_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.engine.max_open_cycles = 1;
    let mut p = paper(tmp.path(), 7, config, false, None).await;
    assert!(
        p.run_until(48 * 60, MINUTE, |e| e
            .open_cycles()
            .any(|c| c.state == CycleState::HemiSwapDone))
            .await,
        "a cycle is ready to bridge"
    );
    let cycle = p
        .engine
        .open_cycles()
        .find(|c| c.state == CycleState::HemiSwapDone)
        .unwrap()
        .clone();
    // Hold the engine, then send the bridge transaction "by hand" (another tool).
    p.command(Command::Pause).await.unwrap();
    let action = action_for(
        p.world.as_ref(),
        &cycle,
        StepKind::BridgeOut,
        p.clock_now(),
        50,
    )
    .await
    .unwrap();
    let manual = Intent::new(
        IntentId {
            cycle: cycle.id,
            step: StepKind::BridgeOut,
            attempt: 99,
        },
        action,
        p.clock_now(),
    );
    let receipt = p.world.execute(&manual).await.unwrap();

    // A hash that does not exist is refused; the real one is booked.
    let bogus = format!("0x{}", "ab".repeat(32));
    assert!(
        p.command(Command::MarkDone {
            cycle: cycle.id,
            tx_hash: bogus
        })
        .await
        .unwrap_err()
        .contains("no receipt")
    );
    p.command(Command::MarkDone {
        cycle: cycle.id,
        tx_hash: receipt.tx_hash.clone(),
    })
    .await
    .unwrap();
    let now = p
        .engine
        .open_cycles()
        .find(|c| c.id == cycle.id)
        .unwrap()
        .clone();
    assert_eq!(now.state, CycleState::BridgeOutSent);
    assert!(now.bridge_out.is_some());
    p.command(Command::Resume).await.unwrap();
    assert!(
        p.run_until(3 * 24 * 60, MINUTE, |e| e
            .open_cycles()
            .all(|c| c.id != cycle.id))
            .await
    );
    let world = (*p.world).clone();
    drop(p);
    assert_books_balance(tmp.path(), &world);
}

#[tokio::test(flavor = "current_thread")]
async fn skip_moves_past_a_wait_without_booking_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = paper(tmp.path(), 7, Config::default(), false, None).await;
    assert!(
        p.run_until(48 * 60, MINUTE, |e| e
            .open_cycles()
            .any(|c| c.state == CycleState::BridgeOutSent))
            .await
    );
    let id = p
        .engine
        .open_cycles()
        .find(|c| c.state == CycleState::BridgeOutSent)
        .unwrap()
        .id;
    let lines_before = p.engine.store().read().unwrap().ledger(0).unwrap().len();
    let answer = p.command(Command::Skip { cycle: id }).await.unwrap();
    assert!(answer.contains("without acting"), "{answer}");
    let c = p.engine.open_cycles().find(|c| c.id == id).unwrap();
    assert!(matches!(
        c.state,
        CycleState::OnEthereum | CycleState::BridgeOutProveRequired
    ));
    let lines_after = p.engine.store().read().unwrap().ledger(0).unwrap();
    // Exactly one new line: the audit of the skip, which moves no money.
    assert_eq!(lines_after.len(), lines_before + 1);
    let last = lines_after.last().unwrap();
    assert_eq!(last.kind, LedgerKind::Operator);
    assert_eq!(last.delta, 0);
}

// ---- The command desk: answers while a venue hangs (hostile peers, defect 5) ----

mod desk {
    use arbkeep::config::Config;
    use arbkeep::engine::stall::{SendLog, StallingKeeper};
    use arbkeep::engine::{Command, Engine, EngineHandle, EngineOptions, Phase};
    use arbkeep::model::{LedgerKind, Mode, SystemClock, TokenId};
    use arbkeep::store::{Store, StoreReader};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::watch;

    /// Fails the test, rather than hanging it, when an answer never comes.
    const NEVER: Duration = Duration::from_secs(20);

    struct Running {
        handle: EngineHandle,
        log: Arc<SendLog>,
        stop: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
        reader: StoreReader,
        _dir: tempfile::TempDir,
    }

    /// The stored pause flag and the audit notes.
    fn stored(r: &Running) -> (bool, Vec<String>) {
        let read = r.reader.read().unwrap();
        let notes = read
            .ledger(0)
            .unwrap()
            .into_iter()
            .filter(|e| e.operator && matches!(e.kind, LedgerKind::Operator | LedgerKind::Control))
            .map(|e| e.note)
            .collect();
        (read.controls().unwrap().paused, notes)
    }

    fn start(per_pass: usize) -> Running {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.engine.reconcile_interval_ms = 20;
        config.engine.answer_within_ms = 200;
        let store = Store::open(tmp.path(), Mode::Paper).unwrap();
        let options = EngineOptions {
            mode: Mode::Paper,
            speed_milli: None,
            drain: false,
        };
        let (mut engine, handle) = Engine::new(config, options, Arc::new(SystemClock), store);
        let reader = engine.reader();
        let log = SendLog::new();
        engine.add_keeper(Box::new(StallingKeeper {
            log: log.clone(),
            per_pass,
        }));
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(async move {
            engine.run(shutdown).await.unwrap();
        });
        Running {
            handle,
            log,
            stop,
            task,
            reader,
            _dir: tmp,
        }
    }

    async fn answer(r: &Running, command: Command) -> Result<String, String> {
        tokio::time::timeout(NEVER, r.handle.send(command, "test"))
            .await
            .expect("the engine answers while the venue call hangs")
    }

    #[tokio::test]
    async fn pause_is_answered_while_a_venue_call_hangs_and_holds_the_next_send() {
        let r = start(3);
        // The keeper is inside its first send; the call never returns by itself.
        r.log.wait_for(1).await;
        let paused = answer(&r, Command::Pause).await.unwrap();
        assert!(paused.starts_with("paused"), "{paused}");
        assert!(r.handle.latest().paused, "the snapshot says PAUSED at once");
        assert_eq!(r.handle.latest().phase, Phase::Paused);
        // The call returns: the keeper's next send boundary sees the pause.
        r.log.release(1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(r.log.sends(), 1, "no send after the pause");
        // The pause was applied through the engine's path too: stored and audited.
        let read = stored(&r);
        assert!(read.0, "the stored controls say paused");
        assert!(
            read.1.iter().any(|n| n.contains("pause all execution")),
            "audited: {:?}",
            read.1
        );
        // Resume: sending starts again.
        answer(&r, Command::Resume).await.unwrap();
        r.log.wait_for(2).await;
        r.log.release(100);
        let _ = r.stop.send(true);
        let _ = tokio::time::timeout(NEVER, r.task).await;
    }

    #[tokio::test]
    async fn other_commands_are_accepted_within_the_answer_time_and_applied_after_the_call() {
        let r = start(1);
        r.log.wait_for(1).await;
        let answer_now = answer(
            &r,
            Command::Resolve {
                id: "nope".into(),
                resolution: arbkeep::engine::Resolution::Drop,
                reason: "test".into(),
                evidence: None,
            },
        )
        .await
        .unwrap();
        assert!(answer_now.starts_with("accepted"), "{answer_now}");
        let token = answer(
            &r,
            Command::PauseToken {
                token: TokenId::Eth,
            },
        )
        .await
        .unwrap();
        assert!(token.contains("ETH paused"), "{token}");
        r.log.release(100);
        // After the call returns, the engine applies it and audits the refusal.
        let mut audited = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let (_, notes) = stored(&r);
            if notes
                .iter()
                .any(|n| n.contains("drop intent nope") && n.contains("refused"))
            {
                audited = true;
                break;
            }
        }
        assert!(audited, "the deferred command was applied and audited");
        let _ = r.stop.send(true);
        let _ = tokio::time::timeout(NEVER, r.task).await;
    }
}

// ---- One strategy's fault stops no other (hostile peers, defect 6) ----

mod isolation {
    use arbkeep::config::Config;
    use arbkeep::engine::stall::{SendLog, StallingKeeper};
    use arbkeep::engine::{Engine, EngineError, EngineOptions, Keeper, KeeperContext, Snapshot};
    use arbkeep::model::{Mode, SystemClock};
    use arbkeep::store::Store;
    use arbkeep::venue::VenueError;
    use futures_util::future::BoxFuture;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A strategy whose venue fails during recovery the first `failures` times.
    struct FailsToRecover {
        failures: u32,
        recovers: Arc<AtomicU32>,
        ticks: Arc<AtomicU32>,
    }

    impl Keeper for FailsToRecover {
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn recover<'a>(
            &'a mut self,
            _cx: &'a KeeperContext<'a>,
        ) -> BoxFuture<'a, Result<(), EngineError>> {
            Box::pin(async move {
                let n = self.recovers.fetch_add(1, Ordering::SeqCst);
                if n < self.failures {
                    Err(VenueError::Transient("rpc: 503 during recovery".into()).into())
                } else {
                    Ok(())
                }
            })
        }
        fn tick<'a>(
            &'a mut self,
            _cx: &'a KeeperContext<'a>,
        ) -> BoxFuture<'a, Result<(), EngineError>> {
            self.ticks.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
        fn render(&self, _snapshot: &mut Snapshot) {}
    }

    #[tokio::test]
    async fn a_keeper_failing_recovery_holds_only_itself_and_recovers_later() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), Mode::Paper).unwrap();
        let options = EngineOptions {
            mode: Mode::Paper,
            speed_milli: None,
            drain: false,
        };
        let (mut engine, _handle) =
            Engine::new(Config::default(), options, Arc::new(SystemClock), store);
        let (recovers, ticks) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        engine.add_keeper(Box::new(FailsToRecover {
            failures: 2,
            recovers: recovers.clone(),
            ticks: ticks.clone(),
        }));
        let log = SendLog::new();
        log.release(100);
        engine.add_keeper(Box::new(StallingKeeper {
            log: log.clone(),
            per_pass: 1,
        }));
        engine
            .recover()
            .await
            .expect("the engine recovers although one keeper did not");
        let flaky = |s: &Snapshot| {
            s.venues
                .iter()
                .find(|v| v.name == "flaky")
                .map(|v| (v.ok, v.detail.clone()))
        };
        let (ok, detail) = flaky(&engine.snapshot_for_tests()).expect("shown");
        assert!(
            !ok && detail.contains("NOT RECOVERED") && detail.contains("503"),
            "{detail}"
        );
        engine.tick().await.unwrap();
        assert_eq!(log.sends(), 1, "the other strategy trades");
        assert_eq!(
            ticks.load(Ordering::SeqCst),
            0,
            "the unrecovered one sends nothing"
        );
        engine.tick().await.unwrap();
        assert_eq!(
            recovers.load(Ordering::SeqCst),
            3,
            "recovery tried again each pass"
        );
        assert_eq!(ticks.load(Ordering::SeqCst), 1, "recovered, then it runs");
        assert!(flaky(&engine.snapshot_for_tests()).is_none());
        assert_eq!(log.sends(), 2, "and the other one went on meanwhile");
    }
}

// ---- Overrides never race the step in flight (hostile peers, defect 4) ----

mod overrides {
    use super::*;
    use arbkeep::model::{StepRecord, StepStatus};

    /// A paper engine paused with a cycle whose opening swap is committed
    /// and has no outcome — as after "the peer acted and the answer never
    /// came" (`acted`) or "nothing was sent" (not `acted`).
    async fn in_flight(dir: &std::path::Path, acted: bool) -> (Paper, Intent) {
        let mut config = Config::default();
        config.risk.approval = Approval::Manual;
        let mut p = paper(dir, 7, config, false, None).await;
        assert!(
            p.run_until(48 * 60, MINUTE, |e| e
                .snapshot_for_tests()
                .opportunities
                .iter()
                .any(|o| o.state == OpportunityState::AwaitingApproval))
                .await
        );
        let o = p
            .engine
            .snapshot_for_tests()
            .opportunities
            .into_iter()
            .find(|o| o.state == OpportunityState::AwaitingApproval)
            .unwrap();
        p.command(Command::Approve {
            opportunity: o.id,
            size_vcred: None,
        })
        .await
        .unwrap();
        p.command(Command::Pause).await.unwrap();
        let cycle = p.engine.open_cycles().next().unwrap().clone();
        assert_eq!(cycle.state, CycleState::Detected);
        let action = action_for(
            p.world.as_ref(),
            &cycle,
            StepKind::HemiSwap,
            p.clock_now(),
            50,
        )
        .await
        .unwrap();
        let intent = Intent::new(
            IntentId {
                cycle: cycle.id,
                step: StepKind::HemiSwap,
                attempt: cycle.attempt,
            },
            action,
            p.clock_now(),
        );
        let record = StepRecord {
            intent: intent.clone(),
            status: StepStatus::Intended,
            committed_at: p.clock_now(),
            finished_at: None,
        };
        p.engine.store().write(|w| w.put_step(&record)).unwrap();
        if acted {
            p.world.execute(&intent).await.unwrap();
        }
        (p, intent)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn skip_of_a_step_that_was_in_fact_done_books_it_and_refuses_the_skip() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut p, intent) = in_flight(tmp.path(), true).await;
        let id = intent.id.cycle;
        let refused = p.command(Command::Skip { cycle: id }).await.unwrap_err();
        assert!(refused.contains("was in fact done"), "{refused}");
        let c = p.engine.open_cycles().find(|c| c.id == id).unwrap().clone();
        assert_eq!(
            c.state,
            CycleState::HemiSwapDone,
            "booked as done, not skipped"
        );
        let step = p
            .engine
            .store()
            .read()
            .unwrap()
            .step(intent.id)
            .unwrap()
            .unwrap();
        assert!(
            matches!(step.status, StepStatus::Done { .. }),
            "{:?}",
            step.status
        );
        resume_until_closed(&mut p, id).await;
        assert_eq!(acted(&p, intent.id), 1);
        assert_balanced(p, tmp.path());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn fail_abandons_the_unsent_intent_in_flight_so_it_can_never_go_out() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut p, intent) = in_flight(tmp.path(), false).await;
        let id = intent.id.cycle;
        let failed = p
            .command(Command::Fail {
                cycle: id,
                reason: "looking by hand".into(),
            })
            .await
            .unwrap();
        assert!(failed.contains("never sent and never will be"), "{failed}");
        let step = p
            .engine
            .store()
            .read()
            .unwrap()
            .step(intent.id)
            .unwrap()
            .unwrap();
        assert!(
            matches!(&step.status, StepStatus::Operator { action, .. } if action == "abandoned unsent"),
            "{:?}",
            step.status
        );
        // Whoever still holds the old intent cannot carry it out.
        assert!(p.world.execute(&intent).await.is_err());
        // Nothing was held yet: the cycle closes, and the engine trades on.
        assert!(p.engine.open_cycles().all(|c| c.id != id));
        p.command(Command::Resume).await.unwrap();
        p.run(6 * 60, MINUTE).await;
        assert_eq!(acted(&p, intent.id), 0);
        assert_balanced(p, tmp.path());
    }

    // ---- `arbkeep resolve` on a cycle's step: the same verb as any strategy's ----

    fn resolve(id: arbkeep::model::CycleId, resolution: Resolution, reason: &str) -> Command {
        Command::Resolve {
            id: id.to_string(),
            resolution,
            reason: reason.into(),
            evidence: None,
        }
    }

    /// Sends of `intent` that acted at the paper venue.
    fn acted(p: &Paper, intent: IntentId) -> u32 {
        let counts = p.world.execution_counts();
        counts.get(&intent.to_string()).copied().unwrap_or(0)
    }

    /// Resume and run until cycle `id` has closed.
    async fn resume_until_closed(p: &mut Paper, id: arbkeep::model::CycleId) {
        p.command(Command::Resume).await.unwrap();
        assert!(
            p.run_until(3 * 24 * 60, MINUTE, |e| e.open_cycles().all(|c| c.id != id))
                .await,
            "{id} closed"
        );
    }

    /// Stop the engine; the paper wallet must equal the ledger.
    fn assert_balanced(p: Paper, dir: &std::path::Path) {
        let world = (*p.world).clone();
        drop(p);
        assert_books_balance(dir, &world);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn resolve_retry_sends_an_unsent_step_once_under_the_next_attempt() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut p, intent) = in_flight(tmp.path(), false).await;
        let id = intent.id.cycle;
        let said = p
            .command(resolve(
                id,
                Resolution::Retry,
                "checked the explorer: absent",
            ))
            .await
            .unwrap();
        assert!(said.contains("new attempt"), "{said}");
        assert!(said.contains("never sent and never will be"), "{said}");
        // The first attempt can never go out any more.
        assert!(p.world.execute(&intent).await.is_err());
        resume_until_closed(&mut p, id).await;
        let counts = p.world.execution_counts();
        let next = IntentId {
            attempt: intent.id.attempt + 1,
            ..intent.id
        };
        assert_eq!(counts.get(&intent.id.to_string()).copied().unwrap_or(0), 0);
        assert_eq!(
            counts.get(&next.to_string()).copied(),
            Some(1),
            "{counts:?}"
        );
        assert!(
            audit_notes(&p)
                .iter()
                .any(|n| n.contains("retry intent") && n.contains("checked the explorer")),
            "{:?}",
            audit_notes(&p)
        );
        assert_balanced(p, tmp.path());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn resolve_retry_of_a_step_the_peer_did_books_it_and_sends_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut p, intent) = in_flight(tmp.path(), true).await;
        let id = intent.id.cycle;
        let refused = p
            .command(resolve(id, Resolution::Retry, "looks absent"))
            .await
            .unwrap_err();
        assert!(refused.contains("was in fact done"), "{refused}");
        resume_until_closed(&mut p, id).await;
        let next = IntentId {
            attempt: intent.id.attempt + 1,
            ..intent.id
        };
        assert_eq!(acted(&p, intent.id), 1);
        assert_eq!(acted(&p, next), 0);
        assert_balanced(p, tmp.path());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn resolve_settle_looks_again_and_books_what_the_peer_did() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut p, intent) = in_flight(tmp.path(), true).await;
        let id = intent.id.cycle;
        let said = p
            .command(resolve(
                id,
                Resolution::Settle,
                "the swap shows on the explorer",
            ))
            .await
            .unwrap();
        assert!(said.contains("was done: booked"), "{said}");
        let c = p.engine.open_cycles().find(|c| c.id == id).unwrap().clone();
        assert_eq!(c.state, CycleState::HemiSwapDone);
        assert_balanced(p, tmp.path());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn resolve_settle_of_an_unsent_step_books_nothing_and_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut p, intent) = in_flight(tmp.path(), false).await;
        let id = intent.id.cycle;
        let said = p
            .command(resolve(id, Resolution::Settle, "is it there?"))
            .await
            .unwrap();
        assert!(said.contains("not seen as done yet"), "{said}");
        let c = p.engine.open_cycles().find(|c| c.id == id).unwrap().clone();
        assert_eq!(c.state, CycleState::Detected, "nothing booked");
        assert_eq!(acted(&p, intent.id), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn resolve_drop_abandons_the_step_and_closes_the_cycle_with_the_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut p, intent) = in_flight(tmp.path(), false).await;
        let id = intent.id.cycle;
        let refused = p
            .command(resolve(id, Resolution::Drop, "  "))
            .await
            .unwrap_err();
        assert!(refused.contains("--reason"), "{refused}");
        let said = p
            .command(resolve(id, Resolution::Drop, "venue delisted the pool"))
            .await
            .unwrap();
        assert!(said.contains("dropped"), "{said}");
        assert!(p.world.execute(&intent).await.is_err());
        assert!(p.engine.open_cycles().all(|c| c.id != id));
        assert_balanced(p, tmp.path());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn resolve_of_an_id_nobody_lists_is_refused_with_the_open_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut p, intent) = in_flight(tmp.path(), false).await;
        let refused = p
            .command(Command::Resolve {
                id: "h99".into(),
                resolution: Resolution::Drop,
                reason: "typo".into(),
                evidence: None,
            })
            .await
            .unwrap_err();
        assert!(refused.contains("no strategy holds"), "{refused}");
        assert!(
            refused.contains("open now:"),
            "names the open ones: {refused}"
        );
        // And nothing was touched: the cycle's step is still in flight.
        assert!(p.engine.open_cycles().any(|c| c.id == intent.id.cycle));
    }
}

// ---- A drain leaves no send unsettled (hostile peers) ----

mod drain {
    use arbkeep::config::Config;
    use arbkeep::engine::{
        Engine, EngineError, EngineOptions, IntentState, Keeper, KeeperContext, OpenIntentView,
        Snapshot,
    };
    use arbkeep::model::{Mode, SystemClock};
    use arbkeep::store::Store;
    use futures_util::future::BoxFuture;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;
    use tokio::sync::watch;

    /// A strategy holding one send of unknown outcome that its looks settle
    /// on the `settles_on`-th pass, and one left to the operator for good.
    struct Unsettled {
        ticks: Arc<AtomicU32>,
        settles_on: u32,
    }

    fn intent(id: &str, state: IntentState, awaits_operator: bool) -> OpenIntentView {
        OpenIntentView {
            id: id.into(),
            strategy: "unsettled".into(),
            what: "a send".into(),
            state,
            since: 0,
            doing: "looking".into(),
            resolve: format!("arbkeep resolve {id} settle|drop|retry --reason …"),
            awaits_operator,
        }
    }

    impl Keeper for Unsettled {
        fn name(&self) -> &'static str {
            "unsettled"
        }
        fn recover<'a>(
            &'a mut self,
            _cx: &'a KeeperContext<'a>,
        ) -> BoxFuture<'a, Result<(), EngineError>> {
            Box::pin(async { Ok(()) })
        }
        fn tick<'a>(
            &'a mut self,
            _cx: &'a KeeperContext<'a>,
        ) -> BoxFuture<'a, Result<(), EngineError>> {
            self.ticks.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
        fn render(&self, snapshot: &mut Snapshot) {
            if self.ticks.load(Ordering::SeqCst) < self.settles_on {
                snapshot
                    .intents
                    .push(intent("u1", IntentState::OutcomeUnknown, false));
            }
            snapshot
                .intents
                .push(intent("u2", IntentState::OutcomeUnknown, true));
        }
    }

    #[tokio::test]
    async fn a_drain_waits_for_unknown_outcomes_but_not_for_the_operators() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), Mode::Paper).unwrap();
        let options = EngineOptions {
            mode: Mode::Paper,
            speed_milli: None,
            drain: true,
        };
        let mut config = Config::default();
        config.engine.reconcile_interval_ms = 20;
        let (mut engine, _handle) = Engine::new(config, options, Arc::new(SystemClock), store);
        let ticks = Arc::new(AtomicU32::new(0));
        engine.add_keeper(Box::new(Unsettled {
            ticks: ticks.clone(),
            settles_on: 5,
        }));
        let (_stop, shutdown) = watch::channel(false);
        tokio::time::timeout(Duration::from_secs(30), engine.run(shutdown))
            .await
            .expect("the drain ends by itself")
            .expect("runs");
        assert_eq!(
            ticks.load(Ordering::SeqCst),
            5,
            "drained on the pass that settled u1, with u2 left to the operator"
        );
    }
}
