//! A cycle's record over its life: changed in memory and in the store
//! together, completed with its result, failed (or closed NOT STARTED), kept
//! among the recent closed ones, flagged when stuck.

use super::CrossChainLoop;
use super::economics as strategy;
use super::view::{self, step_views};
use crate::engine::{EngineError, KeeperContext, Notice};
use crate::model::{
    Cycle, CycleId, CycleResult, CycleState, Failure, LedgerEntry, LedgerKind, StepRecord,
    Timestamp, TokenId,
};
use crate::venue::LoopVenue;

impl<V: LoopVenue> CrossChainLoop<V> {
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
    pub(super) fn close_not_started(
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
            .filter(|c| super::view::is_stuck(c, now, limit))
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
