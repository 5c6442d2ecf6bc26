//! The reconciler (docs/architecture.md §2, R1–R2): for each open cycle, the next
//! required action. A step's intent is committed before it is sent and its
//! receipt after, in the same transaction as the ledger lines and the new
//! state; a step found with an intent and no outcome is settled by looking,
//! never by sending blindly. At most K money-moving actions per pass.

use super::CrossChainLoop;
use super::economics::{self as strategy, Valuation};
use super::send::{Refusal, StepIntent, StepSend};
use crate::engine::journal::{self, AfterWindow, Looked, Sent};
use crate::engine::{EngineError, KeeperContext, Phase};
use crate::model::{
    Cycle, CycleId, CycleState, Intent, IntentId, LedgerEntry, NextAction, StepKind, StepRecord,
    StepStatus, Timestamp,
};
use crate::venue::{LoopVenue, VenueError};
use rust_decimal::Decimal;
use std::sync::Mutex;

/// A line of the ledger for `cycle`.
pub(super) fn line(
    at: Timestamp,
    cycle: Option<CycleId>,
    m: &strategy::Movement,
    tx_hash: Option<String>,
) -> LedgerEntry {
    LedgerEntry {
        seq: 0,
        at,
        kind: m.kind,
        cycle,
        chain: Some(m.chain),
        token: Some(m.token),
        delta: m.delta,
        value_vcred: m.value_vcred,
        tx_hash,
        note: m.note.clone(),
        operator: false,
    }
}

impl<V: LoopVenue> CrossChainLoop<V> {
    /// The venue action behind `step` of `cycle`, with the configured slippage bound.
    pub(super) async fn action_for(
        &self,
        cycle: &Cycle,
        step: StepKind,
        now: Timestamp,
    ) -> Result<crate::model::Action, VenueError> {
        let slippage = self.config.cross_chain_loop.slippage_bps;
        let venue = self.venue.as_ref();
        strategy::action_for(venue, cycle, step, now, slippage).await
    }

    pub(super) async fn reconcile(
        &mut self,
        cx: &KeeperContext<'_>,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let mut actions = 0;
        // Opening swaps first: their edge decays while they wait; the other
        // steps take fresh quotes and lose nothing by waiting a pass.
        let mut ids: Vec<CycleId> = self.cycles.keys().copied().collect();
        ids.sort_by_key(|id| {
            (
                self.cycles.get(id).map(|c| c.state) != Some(CycleState::Detected),
                *id,
            )
        });
        for id in ids {
            if actions >= self.config.engine.max_actions_per_tick {
                break;
            }
            let Some(cycle) = self.cycles.get(&id) else {
                continue;
            };
            if !cycle.is_open() || cycle.not_before.is_some_and(|t| t > now) {
                continue;
            }
            match cycle.state.next_action(cycle.route) {
                NextAction::Step(step) => {
                    if self.may_send(cx, cycle) && self.run_step(cx, id, step, now).await? {
                        actions += 1;
                    }
                }
                NextAction::Await(wait) => self.check_wait(cx, id, wait, now).await?,
                NextAction::Complete => self.complete(cx, id, now)?,
                NextAction::Nothing => {}
            }
        }
        Ok(())
    }

    /// Pause-all, pause-token and recovery hold every send.
    pub(super) fn may_send(&self, cx: &KeeperContext<'_>, cycle: &Cycle) -> bool {
        cx.phase != Phase::Recovering && !cx.gate.token_paused(cycle.token)
    }

    pub(super) fn valuation(&self) -> Valuation {
        // Before the first price read, costs are valued at zero rather than
        // guessed; the ledger still records every wei.
        self.valuation.clone().unwrap_or(Valuation {
            eth_usdc: Decimal::ZERO,
            vcred_per_usdc: Decimal::ONE,
        })
    }

    /// Carry out `step` of cycle `id`. Returns whether a send was attempted.
    pub(super) async fn run_step(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        step: StepKind,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        let Some(cycle) = self.cycles.get(&id).cloned() else {
            return Ok(false);
        };
        let intent_id = IntentId {
            cycle: id,
            step,
            attempt: cycle.attempt,
        };
        let existing = cx.store.read()?.step(intent_id)?;
        match existing {
            Some(record) if record.status == StepStatus::Intended => {
                // Committed earlier and never settled: look before anything
                // else; what the venue does not show as done goes again as
                // the same intent (the venue makes that idempotent).
                let looked = self
                    .through_journal(cx, id, record.intent, true, |cx, path, step| {
                        Box::pin(journal::look(cx, path, step, 0, AfterWindow::SendAgain))
                    })
                    .await?;
                Ok(match looked {
                    Looked::Done => true,
                    Looked::SentAgain(sent) => sent != Sent::Held,
                    Looked::Absent | Looked::Looking | Looked::Operator => false,
                })
            }
            Some(record) => {
                // An outcome exists for this attempt but the cycle did not move:
                // only possible if a write was lost; take the next attempt.
                tracing::warn!(cycle = %id, %step, status = ?record.status, "step has an outcome; moving to the next attempt");
                self.update(cx, id, now, |c| c.attempt += 1)?;
                Ok(false)
            }
            None => {
                if step == StepKind::HemiSwap && self.no_other_step(cx, id, None)? {
                    match self.preflight(&cycle).await {
                        Ok(None) => {}
                        Ok(Some(refusal)) => {
                            return self.close_not_started(cx, id, refusal, now).map(|_| false);
                        }
                        Err(e) => {
                            let e = match e {
                                // A read that failed is no refusal: try again.
                                VenueError::Rejected(why) | VenueError::Unknown(why) => {
                                    VenueError::Transient(format!("pre-flight: {why}"))
                                }
                                other => other,
                            };
                            return self.step_error(cx, id, step, None, e, false).map(|_| false);
                        }
                    }
                }
                let action = match self.action_for(&cycle, step, now).await {
                    Ok(a) => a,
                    Err(e) => {
                        let never_sent = step == StepKind::HemiSwap
                            && matches!(e, VenueError::Rejected(_))
                            && self.no_other_step(cx, id, None)?;
                        return self
                            .step_error(cx, id, step, None, e, never_sent)
                            .map(|_| false);
                    }
                };
                // The quotes above may have taken a while: a pause that came
                // meanwhile holds the send (nothing is committed yet).
                if !self.may_send(cx, &cycle) {
                    return Ok(false);
                }
                let intent = Intent::new(intent_id, action, now);
                let sent = self
                    .through_journal(cx, id, intent, false, |cx, path, step| {
                        Box::pin(journal::send(cx, path, step))
                    })
                    .await?;
                Ok(sent != Sent::Held)
            }
        }
    }

    /// Run one journal call for a step's intent: the loop venue's send
    /// path, the step's record, and the context the journal reads (the
    /// gate, the clock) — the same protocol every strategy's sends use.
    async fn through_journal<T>(
        &mut self,
        cx: &KeeperContext<'_>,
        cycle: CycleId,
        intent: Intent,
        committed: bool,
        call: impl for<'c> FnOnce(
            &'c KeeperContext<'c>,
            &'c StepSend<'c, V>,
            &'c mut StepIntent<'c, V>,
        )
            -> futures_util::future::BoxFuture<'c, Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let venue = self.venue.clone();
        // The same context, at the journal's one lifetime.
        let cx = KeeperContext {
            store: cx.store,
            now: cx.now,
            phase: cx.phase,
            gate: cx.gate,
            notices: cx.notices,
        };
        let path_intent = intent.clone();
        let refusal = Mutex::new(Refusal::default());
        let path = StepSend {
            venue: venue.as_ref(),
            intent: &path_intent,
            refusal: &refusal,
        };
        let mut record = StepIntent {
            keeper: self,
            cycle,
            intent,
            committed,
            refusal: &refusal,
        };
        call(&cx, &path, &mut record).await
    }

    /// Settle an intent that has no outcome by asking the venue; never
    /// sends. Returns true when it turned out to be done (and is now booked).
    pub(super) async fn settle(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        record: &StepRecord,
    ) -> Result<bool, EngineError> {
        let looked = self
            .through_journal(cx, id, record.intent.clone(), true, |cx, path, step| {
                Box::pin(journal::look(
                    cx,
                    path,
                    step,
                    u64::MAX,
                    AfterWindow::Operator,
                ))
            })
            .await?;
        Ok(looked == Looked::Done)
    }
}

/// Marker for a step whose outcome the venue could not yet tell us.
pub(super) const UNSETTLED: &str = "outcome unknown: waiting to settle by looking";
