//! The reconciler (docs/architecture.md §2, R1–R2): for each open cycle, the next
//! required action. A step's intent is committed before it is sent and its
//! receipt after, in the same transaction as the ledger lines and the new
//! state; a step found with an intent and no outcome is settled by looking,
//! never by sending blindly. At most K money-moving actions per pass.

use super::CrossChainLoop;
use super::economics::{self as strategy, Valuation};
use super::send::{Refusal, StepIntent, StepSend};
use super::view::{self, step_views};
use crate::engine::journal::{self, AfterWindow, Looked, Sent};
use crate::engine::{EngineError, KeeperContext, Notice, Phase};
use crate::model::{
    Cycle, CycleId, CycleResult, CycleState, Failure, Holding, Intent, IntentId, LedgerEntry,
    LedgerKind, NextAction, Receipt, StepKind, StepRecord, StepStatus, Timestamp, TokenId, Wait,
};
use crate::venue::{BridgeStatus, LoopVenue, VenueError};
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

    fn valuation(&self) -> Valuation {
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

    /// Book a receipt: step done, ledger lines, new holding and state — one transaction.
    pub(super) fn finish_step(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        intent: &Intent,
        receipt: Receipt,
        now: Timestamp,
        settled: bool,
    ) -> Result<(), EngineError> {
        let Some(mut cycle) = self.cycles.get(&id).cloned() else {
            return Ok(());
        };
        let step = intent.id.step;
        let valuation = self.valuation();
        let (moves, holding) =
            strategy::movements(&cycle, step, &intent.action, &receipt, &valuation);
        let lines: Vec<LedgerEntry> = moves
            .iter()
            .map(|m| {
                line(
                    receipt.at.max(intent.created_at),
                    Some(id),
                    m,
                    Some(receipt.tx_hash.clone()),
                )
            })
            .collect();
        for m in &moves {
            match m.kind {
                LedgerKind::Gas => {
                    cycle.costs.gas_wei += m.delta.unsigned_abs();
                    cycle.costs.gas_vcred -= m.value_vcred;
                }
                LedgerKind::BridgeFee => cycle.costs.bridge_fees_vcred -= m.value_vcred,
                _ => {}
            }
        }
        if let Some(ticket) = &receipt.ticket {
            match step {
                StepKind::BridgeOut => cycle.bridge_out = Some(ticket.clone()),
                StepKind::BridgeBack => cycle.bridge_back = Some(ticket.clone()),
                _ => {}
            }
        }
        cycle.holding = holding;
        cycle.attempt = 0;
        cycle.not_before = None;
        cycle.last_error = None;
        cycle.enter(CycleState::after_step(step), now);
        let record = StepRecord {
            intent: intent.clone(),
            status: StepStatus::Done {
                receipt: receipt.clone(),
            },
            committed_at: intent.created_at,
            finished_at: Some(now),
        };
        self.book(cx, &record, &cycle, lines)?;
        self.replace_step_view(id, &record);
        tracing::info!(cycle = %id, %step, tx = %receipt.tx_hash, settled, state = %cycle.state, "step done");
        self.cycles.insert(id, cycle);
        self.notify(
            cx,
            Notice::TxConfirmed {
                cycle: id,
                step,
                tx_hash: receipt.tx_hash,
            },
        );
        Ok(())
    }

    /// Does the store hold no step of cycle `id` but `current` (the
    /// opening swap's intent just refused, if it got that far)? With the
    /// venue's proof that `current` itself was never sent (the loop's send
    /// path asks it), no step of the cycle was ever sent.
    pub(super) fn no_other_step(
        &self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        current: Option<IntentId>,
    ) -> Result<bool, EngineError> {
        let steps = cx.store.read()?.steps(id)?;
        Ok(steps.iter().all(|r| Some(r.intent.id) == current))
    }

    /// A step's outcome, its cycle and its ledger lines: one write.
    fn book(
        &mut self,
        cx: &KeeperContext<'_>,
        record: &StepRecord,
        cycle: &Cycle,
        lines: Vec<LedgerEntry>,
    ) -> Result<(), EngineError> {
        let written = cx.store.write(|w| {
            w.put_step(record)?;
            w.put_cycle(cycle)?;
            w.append_all(lines)
        })?;
        self.after_ledger(&written);
        Ok(())
    }

    /// A step was refused or reverted, having paid `gas` wei: the step fails
    /// with its reason and the gas is booked on its own ledger line; then
    /// the cycle moves on as for any refusal (`never_sent`: proven that no
    /// step of the cycle was ever sent).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step_failed(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        step: StepKind,
        intent: &Intent,
        reason: String,
        gas: crate::model::Units,
        now: Timestamp,
        never_sent: bool,
    ) -> Result<(), EngineError> {
        let record = StepRecord {
            intent: intent.clone(),
            status: StepStatus::Failed {
                reason: format!("{step} rejected: {reason}"),
            },
            committed_at: intent.created_at,
            finished_at: Some(now),
        };
        let note = format!("gas for {step}, which failed: {reason}");
        self.close_step(cx, id, &record, gas, note, now)?;
        self.step_error(
            cx,
            id,
            step,
            Some(intent),
            VenueError::Rejected(reason),
            never_sent,
        )
    }

    /// Close a step that did not happen as asked (failed, or ended by the
    /// operator) and book the `gas` wei its mined transactions paid (a
    /// reverted call, a cancel, an approve before them) on its own ledger
    /// line: step, cycle costs and line in one write.
    pub(super) fn close_step(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        record: &StepRecord,
        gas: crate::model::Units,
        note: String,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let cycle = self.cycles.get(&id).cloned();
        let (Some(mut cycle), true) = (cycle, gas > 0) else {
            cx.store.write(|w| w.put_step(record))?;
            return Ok(());
        };
        let valuation = self.valuation();
        let m = strategy::gas_movement(record.intent.action.chain(), gas, &valuation, note);
        cycle.costs.gas_wei += gas;
        cycle.costs.gas_vcred -= m.value_vcred;
        let at = now.max(record.intent.created_at);
        self.book(cx, record, &cycle, vec![line(at, Some(id), &m, None)])?;
        self.cycles.insert(id, cycle);
        tracing::warn!(cycle = %id, step = %record.intent.id.step, gas_wei = gas, "a step that did not happen paid gas; booked");
        Ok(())
    }

    /// A step did not happen (or may not have): decide what the cycle does
    /// next. `never_sent`: no step of the cycle was ever sent, proven.
    pub(super) fn step_error(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        step: StepKind,
        intent: Option<&Intent>,
        error: VenueError,
        never_sent: bool,
    ) -> Result<(), EngineError> {
        let now = cx.now;
        let backoff = self.config.engine.retry_backoff_ms;
        match &error {
            // Not sent, or not known: the intent stays; next pass settles it first.
            VenueError::Transient(reason) | VenueError::Unknown(reason) => {
                tracing::warn!(cycle = %id, %step, %error, "step will be retried after settling");
                let reason = reason.clone();
                self.update(cx, id, now, |c| {
                    c.last_error = Some(format!("{step}: {reason}"));
                    c.not_before = Some(now + backoff);
                })
            }
            VenueError::Rejected(reason) => {
                let reason = format!("{step} rejected: {reason}");
                tracing::warn!(cycle = %id, %step, %reason, "step rejected");
                let attempts = self.config.engine.step_attempts;
                if let Some(intent) = intent {
                    let record = StepRecord {
                        intent: intent.clone(),
                        status: StepStatus::Failed {
                            reason: reason.clone(),
                        },
                        committed_at: intent.created_at,
                        finished_at: Some(now),
                    };
                    cx.store.write(|w| w.put_step(&record))?;
                    self.replace_step_view(id, &record);
                }
                let Some(cycle) = self.cycles.get(&id) else {
                    return Ok(());
                };
                // The opening swap is not chased: its edge has gone, and nothing moved.
                if step == StepKind::HemiSwap && never_sent {
                    self.close_not_started(cx, id, reason, now)
                } else if step == StepKind::HemiSwap || cycle.attempt + 1 >= attempts {
                    self.fail(cx, id, reason, now, false)
                } else {
                    self.update(cx, id, now, |c| {
                        c.attempt += 1;
                        c.last_error = Some(reason);
                        c.not_before = Some(now + backoff);
                    })
                }
            }
        }
    }

    /// Poll whatever the cycle waits for; move on when it has happened.
    async fn check_wait(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        wait: Wait,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if self.ready_at.get(&id).is_some_and(|t| *t > now) {
            return Ok(());
        }
        let Some(cycle) = self.cycles.get(&id) else {
            return Ok(());
        };
        let ticket = match wait {
            Wait::ArrivalOnHemi => cycle.bridge_back.clone(),
            _ => cycle.bridge_out.clone(),
        };
        let Some(ticket) = ticket else {
            return self.fail(
                cx,
                id,
                format!("waiting for {} without a bridge ticket", wait.describe()),
                now,
                false,
            );
        };
        let status = match self.venue.bridge_status(&ticket).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(cycle = %id, error = %e, "bridge status unavailable");
                return self.update(cx, id, now, |c| {
                    c.last_error = Some(format!("bridge status: {e}"))
                });
            }
        };
        match (wait, status) {
            (
                Wait::ArrivalOnEthereum | Wait::ArrivalOnHemi,
                BridgeStatus::Arrived {
                    amount,
                    tx_hash,
                    at,
                },
            ) => {
                let m = strategy::Movement {
                    kind: LedgerKind::BridgeCredit,
                    chain: ticket.to,
                    token: ticket.token,
                    delta: i128::try_from(amount).unwrap_or(i128::MAX),
                    value_vcred: Decimal::ZERO,
                    note: format!(
                        "{} arrived on {} via {}",
                        ticket.token, ticket.to, ticket.route
                    ),
                };
                let entry = line(at.max(ticket.sent_at), Some(id), &m, Some(tx_hash));
                let Some(mut cycle) = self.cycles.get(&id).cloned() else {
                    return Ok(());
                };
                cycle.holding = Holding {
                    chain: ticket.to,
                    token: ticket.token,
                    amount,
                    in_flight: false,
                };
                cycle.last_error = None;
                cycle.enter(CycleState::after_wait(wait), now);
                let written = cx.store.write(|w| {
                    w.put_cycle(&cycle)?;
                    w.append(entry)
                })?;
                self.after_ledger(std::slice::from_ref(&written));
                self.ready_at.remove(&id);
                tracing::info!(cycle = %id, state = %cycle.state, "bridge arrival");
                self.cycles.insert(id, cycle);
            }
            (Wait::ProveReady, BridgeStatus::ProveReady)
            | (Wait::FinalizeReady, BridgeStatus::FinalizeReady) => {
                let token = ticket.token;
                self.ready_at.remove(&id);
                self.update(cx, id, now, |c| {
                    c.last_error = None;
                    c.enter(CycleState::after_wait(wait), now);
                })?;
                let stage = if wait == Wait::ProveReady {
                    "prove"
                } else {
                    "finalize"
                };
                self.notify(
                    cx,
                    Notice::BridgeStageReady {
                        cycle: id,
                        token,
                        stage: stage.into(),
                    },
                );
            }
            (_, BridgeStatus::InFlight { ready_at: Some(t) })
            | (_, BridgeStatus::Proved { finalize_at: t }) => {
                self.ready_at.insert(id, t);
            }
            (_, BridgeStatus::InFlight { ready_at: None }) => {}
            (wait, other) => {
                // The bridge is further along than we thought (an operator acted
                // elsewhere): say so and let the operator decide.
                let reason = format!(
                    "bridge reports {other:?} while waiting for {}",
                    wait.describe()
                );
                self.update(cx, id, now, |c| c.last_error = Some(reason))?;
            }
        }
        Ok(())
    }

    /// Book the cycle's P&L and close it.
    pub(super) fn complete(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let Some(mut cycle) = self.cycles.get(&id).cloned() else {
            return Ok(());
        };
        let vcred_out = if cycle.holding.token == TokenId::Vcred {
            cycle.holding.amount
        } else {
            0
        };
        let profit = strategy::vcred_dec(vcred_out)
            - strategy::vcred_dec(cycle.vcred_in)
            - cycle.costs.gas_vcred
            - cycle.costs.bridge_fees_vcred;
        cycle.result = Some(CycleResult {
            vcred_out,
            profit_vcred: profit,
            gas_vcred: cycle.costs.gas_vcred,
            bridge_fees_vcred: cycle.costs.bridge_fees_vcred,
            completed_at: now,
        });
        cycle.holding.amount = 0;
        cycle.enter(CycleState::Completed, now);
        let entry = LedgerEntry {
            seq: 0,
            at: now,
            kind: LedgerKind::CycleClosed,
            cycle: Some(id),
            chain: None,
            token: None,
            delta: 0,
            value_vcred: profit,
            tx_hash: None,
            note: format!("{} {} completed: P&L {profit} VCRED", id, cycle.token),
            operator: false,
        };
        let written = cx.store.write(|w| {
            w.put_cycle(&cycle)?;
            w.append(entry)
        })?;
        self.after_ledger(std::slice::from_ref(&written));
        self.book.record(&cycle);
        self.counts.open = self.counts.open.saturating_sub(1);
        self.counts.completed += 1;
        tracing::info!(cycle = %id, token = %cycle.token, route = %cycle.route, profit = %profit, "cycle completed");
        self.notify(
            cx,
            Notice::CycleCompleted {
                cycle: id,
                token: cycle.token,
                profit_vcred: profit,
            },
        );
        let steps = self.steps.remove(&id).unwrap_or_default();
        self.cycles.remove(&id);
        self.ready_at.remove(&id);
        self.remember_closed(cycle, steps, now);
        Ok(())
    }

    /// Stop a cycle for the operator; it stays on screen while it holds money.
    pub(super) fn fail(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        reason: String,
        now: Timestamp,
        by_operator: bool,
    ) -> Result<(), EngineError> {
        let Some(mut cycle) = self.cycles.get(&id).cloned() else {
            return Ok(());
        };
        if !cycle.is_open() {
            return Ok(());
        }
        cycle.failure = Some(Failure {
            reason: reason.clone(),
            in_state: cycle.state,
            at: now,
            by_operator,
        });
        cycle.last_error = Some(reason.clone());
        cycle.enter(CycleState::Failed, now);
        cx.store.write(|w| w.put_cycle(&cycle))?;
        self.counts.open = self.counts.open.saturating_sub(1);
        self.counts.failed += 1;
        tracing::error!(cycle = %id, token = %cycle.token, %reason, holding = ?cycle.holding, "cycle failed");
        self.notify(
            cx,
            Notice::CycleFailed {
                cycle: id,
                token: cycle.token,
                reason,
            },
        );
        self.ready_at.remove(&id);
        if view::needs_attention(&cycle) {
            self.cycles.insert(id, cycle);
        } else {
            let steps = self.steps.remove(&id).unwrap_or_default();
            self.cycles.remove(&id);
            self.remember_closed(cycle, steps, now);
        }
        Ok(())
    }

    /// Close a cycle refused before any of its steps was sent: NOT_STARTED,
    /// with its reason. It holds nothing, asks nothing of the operator and
    /// counts toward neither the caps nor the loss limit.
    fn close_not_started(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        reason: String,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let Some(mut cycle) = self.cycles.get(&id).cloned() else {
            return Ok(());
        };
        if !cycle.is_open() {
            return Ok(());
        }
        cycle.refusal = Some(reason.clone());
        cycle.last_error = Some(reason.clone());
        cycle.not_before = None;
        cycle.holding.amount = 0;
        cycle.enter(CycleState::NotStarted, now);
        cx.store.write(|w| w.put_cycle(&cycle))?;
        self.counts.open = self.counts.open.saturating_sub(1);
        self.counts.not_started += 1;
        tracing::warn!(cycle = %id, token = %cycle.token, %reason, "cycle not started: refused before anything was sent");
        self.notify(
            cx,
            Notice::CycleNotStarted {
                cycle: id,
                token: cycle.token,
                reason,
            },
        );
        self.ready_at.remove(&id);
        let steps = self.steps.remove(&id).unwrap_or_default();
        self.cycles.remove(&id);
        self.remember_closed(cycle, steps, now);
        Ok(())
    }

    /// Change a cycle in memory and in the store together.
    pub(super) fn update(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        now: Timestamp,
        f: impl FnOnce(&mut Cycle),
    ) -> Result<(), EngineError> {
        let Some(mut cycle) = self.cycles.get(&id).cloned() else {
            return Ok(());
        };
        f(&mut cycle);
        cycle.updated_at = now;
        cx.store.write(|w| w.put_cycle(&cycle))?;
        self.cycles.insert(id, cycle);
        Ok(())
    }

    pub(super) fn replace_step_view(&mut self, id: CycleId, record: &StepRecord) {
        let views = self.steps.entry(id).or_default();
        let fresh = view::step_view(record);
        match views
            .iter_mut()
            .find(|v| v.kind == fresh.kind && v.attempt == fresh.attempt)
        {
            Some(v) => *v = fresh,
            None => views.push(fresh),
        }
    }

    pub(super) fn remember_closed(
        &mut self,
        cycle: Cycle,
        steps: Vec<crate::engine::snapshot::StepView>,
        now: Timestamp,
    ) {
        let cv = view::cycle_view(
            cycle,
            steps,
            None,
            now,
            self.config.engine.stuck_after_ms,
            &self.controls,
        );
        self.closed.push_back(cv);
        while self.closed.len() > self.config.engine.history_in_snapshot {
            self.closed.pop_front();
        }
    }

    /// Warn once per cycle that sits in one state past the threshold.
    pub(super) fn flag_stuck(&mut self, cx: &KeeperContext<'_>) {
        let now = cx.now;
        let limit = self.config.engine.stuck_after_ms;
        let stuck: Vec<(CycleId, CycleState, Timestamp)> = self
            .cycles
            .values()
            .filter(|c| c.is_open() && now.saturating_sub(c.state_since()) > limit)
            .map(|c| (c.id, c.state, c.state_since()))
            .collect();
        for (id, state, since) in stuck {
            if self.stuck_notified.insert(id) {
                tracing::warn!(cycle = %id, %state, "cycle stuck");
                self.notify(
                    cx,
                    Notice::Stuck {
                        cycle: id,
                        state,
                        since,
                    },
                );
            }
        }
    }

    /// Load a cycle's steps for display (used after recovery and commands).
    pub(super) fn reload_steps(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
    ) -> Result<(), EngineError> {
        let steps = step_views(&cx.store.read()?.steps(id)?);
        self.steps.insert(id, steps);
        Ok(())
    }
}

/// Marker for a step whose outcome the venue could not yet tell us.
pub(super) const UNSETTLED: &str = "outcome unknown: waiting to settle by looking";
