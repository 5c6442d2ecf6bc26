//! A step's outcome booked: its receipt with the ledger lines, the cycle's
//! costs and new holding in one write; a refusal with the gas it paid; and
//! what the cycle does after a step that did not happen (or may not have).

use super::CrossChainLoop;
use super::economics as strategy;
use super::reconciler::line;
use crate::engine::{EngineError, KeeperContext, Notice};
use crate::model::{
    Cycle, CycleId, CycleState, Intent, IntentId, LedgerEntry, LedgerKind, Receipt, StepKind,
    StepRecord, StepStatus, Timestamp,
};
use crate::venue::{LoopVenue, VenueError};

impl<V: LoopVenue> CrossChainLoop<V> {
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
    pub(super) fn book(
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
}
