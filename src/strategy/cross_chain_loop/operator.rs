//! The operator's commands on the loop: approve and reject an opportunity,
//! and the overrides on a cycle (force, mark done, skip, fail, import
//! proof, and `resolve` of its step in flight). The engine records each in
//! the audit trail; an override never races the step in flight.

use super::CrossChainLoop;
use crate::engine::snapshot::OpportunityState;
use crate::engine::{Command, EngineError, KeeperContext, Resolution};
use crate::model::{
    Action, CycleId, CycleState, Intent, IntentId, NextAction, StepRecord, StepStatus,
};
use crate::venue::{Abandonment, LoopVenue};

impl<V: LoopVenue> CrossChainLoop<V> {
    /// A loop command (`CrossChainLoop::takes`); the answer goes back to
    /// whoever sent it.
    pub(super) async fn apply(
        &mut self,
        cx: &KeeperContext<'_>,
        command: &Command,
    ) -> Result<String, String> {
        let now = cx.now;
        let store_err = |e: EngineError| e.to_string();
        match command {
            Command::Approve {
                opportunity,
                size_vcred,
            } => self.approve(cx, *opportunity, *size_vcred, now).await,
            Command::Reject { opportunity } => {
                let o = self
                    .opportunities
                    .values_mut()
                    .find(|o| o.id == *opportunity && o.state == OpportunityState::AwaitingApproval)
                    .ok_or_else(|| format!("no opportunity #{opportunity} awaits approval"))?;
                o.state = OpportunityState::Rejected;
                Ok(format!("opportunity #{opportunity} rejected"))
            }
            Command::Force { cycle } => {
                let failed = self.cycles.get(cycle).map(|c| c.state) == Some(CycleState::Failed);
                let cleared = if failed {
                    self.clear_in_flight(cx, *cycle, now)
                        .await?
                        .or_refuse("resume")?
                } else {
                    String::new()
                };
                self.force(cx, *cycle, now).map(|a| a + &cleared)
            }
            Command::MarkDone { cycle, tx_hash } => self.mark_done(cx, *cycle, tx_hash, now).await,
            Command::Skip { cycle } => {
                self.known(*cycle)?;
                let cleared = self
                    .clear_in_flight(cx, *cycle, now)
                    .await?
                    .or_refuse("skip")?;
                self.skip(cx, *cycle, now).map(|a| a + &cleared)
            }
            Command::Fail { cycle, reason } => {
                self.known(*cycle)?;
                let cleared = self
                    .clear_in_flight(cx, *cycle, now)
                    .await?
                    .or_refuse("fail")?;
                let reason = if reason.trim().is_empty() {
                    "failed by the operator".to_string()
                } else {
                    reason.clone()
                };
                self.fail(cx, *cycle, reason.clone(), now, true)
                    .map_err(store_err)?;
                self.update(cx, *cycle, now, |c| c.operator_touched = true)
                    .map_err(store_err)?;
                Ok(format!("{cycle} failed: {reason}{cleared}"))
            }
            Command::ImportProof { cycle, data } => {
                self.known(*cycle)?;
                if data.trim().is_empty() {
                    return Err("the proof data is empty".into());
                }
                let data = data.trim().to_string();
                self.update(cx, *cycle, now, |c| {
                    c.proof_data = Some(data);
                    c.operator_touched = true;
                })
                .map_err(store_err)?;
                Ok(format!("proof data stored for {cycle}"))
            }
            Command::Resolve {
                id,
                resolution,
                reason,
                evidence,
            } => {
                let cycle = id
                    .parse::<CycleId>()
                    .map_err(|_| format!("{id:?} is not a cycle's id"))?;
                self.resolve(cx, cycle, *resolution, reason, evidence.as_deref(), now)
                    .await
            }
            _ => Err(format!(
                "the cross-chain loop does not take {}",
                command.describe()
            )),
        }
    }

    /// The one operator verb on a cycle's step, as on any strategy's
    /// intent: `settle` looks again now (with evidence, books that
    /// transaction: mark done); `drop` closes the cycle without sending
    /// (the step in flight is abandoned first: fail); `retry` sends the
    /// step again under a new attempt once the one in flight is proven
    /// not done (abandoned or cancelled at its nonce), or resumes a failed
    /// cycle where it stopped (force).
    async fn resolve(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        resolution: Resolution,
        reason: &str,
        evidence: Option<&str>,
        now: u64,
    ) -> Result<String, String> {
        self.known(id)?;
        if reason.trim().is_empty() {
            return Err("a resolution needs --reason (it goes in the audit trail)".into());
        }
        let store_err = |e: EngineError| e.to_string();
        match (resolution, evidence) {
            (Resolution::Settle, Some(tx)) => self.mark_done(cx, id, tx, now).await,
            (Resolution::Settle, None) => {
                let record = self
                    .pending_intent(cx, id)
                    .map_err(store_err)?
                    .ok_or_else(|| format!("{id} has no step in flight to settle"))?;
                if self.settle(cx, id, &record).await.map_err(store_err)? {
                    self.reload_steps(cx, id).map_err(store_err)?;
                    return Ok(format!(
                        "{id} {} #{} was done: booked",
                        record.intent.id.step, record.intent.id.attempt
                    ));
                }
                Ok(format!(
                    "{id} {} #{} is not seen as done yet; still looking each pass, never resending (retry once you know it is absent, or settle --evidence TX)",
                    record.intent.id.step, record.intent.id.attempt
                ))
            }
            (Resolution::Drop, _) => {
                let cleared = self.clear_in_flight(cx, id, now).await?.or_refuse("drop")?;
                self.fail(
                    cx,
                    id,
                    format!("dropped by the operator: {reason}"),
                    now,
                    true,
                )
                .map_err(store_err)?;
                self.update(cx, id, now, |c| c.operator_touched = true)
                    .map_err(store_err)?;
                Ok(format!("{id} dropped: {reason}{cleared}"))
            }
            (Resolution::Retry, _) => {
                let failed = self.cycles.get(&id).map(|c| c.state) == Some(CycleState::Failed);
                let in_flight = self.pending_intent(cx, id).map_err(store_err)?.is_some();
                let cleared = self
                    .clear_in_flight(cx, id, now)
                    .await?
                    .or_refuse("retry")?;
                if failed || !in_flight {
                    return self.force(cx, id, now).map(|a| a + &cleared);
                }
                // The attempt in flight is closed as the operator's: the
                // step goes again under the next attempt number.
                self.ready_at.remove(&id);
                self.update(cx, id, now, |c| {
                    c.attempt += 1;
                    c.not_before = None;
                    c.last_error = None;
                    c.operator_touched = true;
                })
                .map_err(store_err)?;
                self.reload_steps(cx, id).map_err(store_err)?;
                Ok(format!(
                    "{id}: its step goes again as a new attempt{cleared}"
                ))
            }
        }
    }

    /// An override never races the step in flight: the cycle's intent that
    /// has no outcome is settled first. Done after all: it is booked and the
    /// override refused (the operator looks again). Not done: the venue
    /// abandons it (a signed transaction that could still be mined is
    /// cancelled at its nonce), the step is closed as the operator's, and
    /// the answer says which. Not settled yet: nothing changes.
    async fn clear_in_flight(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        now: u64,
    ) -> Result<InFlight, String> {
        let Some(record) = self.pending_intent(cx, id).map_err(|e| e.to_string())? else {
            return Ok(InFlight::Cleared(String::new()));
        };
        let venue = self.venue.clone();
        let step = record.intent.id.step;
        let attempt = record.intent.id.attempt;
        let (action, tx_hash, said) = match venue.abandon(record.intent.id).await {
            Ok(Abandonment::Done(receipt)) => {
                let tx = receipt.tx_hash.clone();
                self.finish_step(cx, id, &record.intent, *receipt, now, true)
                    .map_err(|e| e.to_string())?;
                self.reload_steps(cx, id).map_err(|e| e.to_string())?;
                return Ok(InFlight::WasDone {
                    cycle: id,
                    step,
                    attempt,
                    tx_hash: tx,
                });
            }
            Ok(Abandonment::NeverSent) => (
                "abandoned unsent".to_string(),
                None,
                format!("; its {step} #{attempt} in flight was never sent and never will be"),
            ),
            Ok(Abandonment::Cancelled { tx_hash }) => (
                "cancelled on chain".to_string(),
                Some(tx_hash.clone()),
                format!("; its {step} #{attempt} in flight was cancelled on chain by {tx_hash}"),
            ),
            Ok(Abandonment::Reverted { tx_hash }) => (
                "reverted on chain".to_string(),
                Some(tx_hash.clone()),
                format!(
                    "; its {step} #{attempt} in flight was mined and reverted ({tx_hash}): it did nothing and never will"
                ),
            ),
            Err(e) => {
                return Err(format!(
                    "{id}: its {step} #{attempt} is in flight and not settled yet ({e}); nothing was changed, try again shortly"
                ));
            }
        };
        // A cancel mined at the step's nonce paid gas, and so did an approve
        // mined before the step's call: booked on the step's own line.
        let gas = venue.gas_paid(record.intent.id).await.map_err(|e| {
            format!(
                "{id}: its {step} #{attempt} is {action}, but the gas it paid cannot be read yet ({e}); nothing was changed, try again shortly"
            )
        })?;
        let note = format!("gas for {step}, {action} by the operator");
        let closed = StepRecord {
            intent: record.intent.clone(),
            status: StepStatus::Operator { action, tx_hash },
            committed_at: record.committed_at,
            finished_at: Some(now),
        };
        self.close_step(cx, id, &closed, gas, note, now)
            .map_err(|e| e.to_string())?;
        self.reload_steps(cx, id).map_err(|e| e.to_string())?;
        Ok(InFlight::Cleared(said))
    }

    fn known(&self, id: CycleId) -> Result<(), String> {
        if self.cycles.contains_key(&id) {
            Ok(())
        } else {
            Err(format!(
                "{id} is not open (only open or stranded cycles take overrides)"
            ))
        }
    }

    async fn approve(
        &mut self,
        cx: &KeeperContext<'_>,
        opportunity: u64,
        size: Option<u128>,
        now: u64,
    ) -> Result<String, String> {
        let o = self
            .opportunities
            .values()
            .find(|o| o.id == opportunity && o.state == OpportunityState::AwaitingApproval)
            .cloned()
            .ok_or_else(|| format!("no opportunity #{opportunity} awaits approval"))?;
        let size = size.unwrap_or(o.size_vcred);
        let cfg = &self.config.cross_chain_loop;
        let max = cfg.max_swap_vcred_soft_cap.min(self.free_vcred());
        super::risk::size_ok(size, cfg.min_swap_vcred, max).map_err(|r| r.to_string())?;
        super::risk::may_start(o.token, &self.exposure(cx, o.token)).map_err(|r| r.to_string())?;
        let estimate = self
            .estimate_at(o.token, size, now)
            .await
            .map_err(|e| e.to_string())?;
        self.open_cycle(cx, o.id, o.token, o.route, o.edge_bps, &estimate)
            .map_err(|e| e.to_string())?;
        let cycle = self.opportunities.get(&o.token).and_then(|x| x.cycle);
        Ok(format!(
            "opportunity #{opportunity} approved at {} VCRED (est. P&L {} VCRED){}",
            crate::model::format_units(size, 6),
            estimate.profit_vcred.round_dp(4),
            cycle.map(|c| format!(" as {c}")).unwrap_or_default()
        ))
    }

    fn force(&mut self, cx: &KeeperContext<'_>, id: CycleId, now: u64) -> Result<String, String> {
        self.known(id)?;
        let cycle = self.cycles.get(&id).cloned().ok_or("gone")?;
        if cycle.state == CycleState::Failed {
            let Some(failure) = cycle.failure.clone() else {
                return Err(format!("{id} has no failure to resume from"));
            };
            self.update(cx, id, now, |c| {
                c.failure = None;
                c.attempt += 1;
                c.not_before = None;
                c.last_error = None;
                c.operator_touched = true;
                c.enter(failure.in_state, now);
            })
            .map_err(|e| e.to_string())?;
            self.counts.failed = self.counts.failed.saturating_sub(1);
            self.counts.open += 1;
            return Ok(format!(
                "{id} resumed in {} (attempt {})",
                failure.in_state,
                cycle.attempt + 1
            ));
        }
        self.ready_at.remove(&id);
        self.update(cx, id, now, |c| {
            c.not_before = None;
            c.operator_touched = true;
        })
        .map_err(|e| e.to_string())?;
        Ok(format!("{id}: next action now ({})", cycle.state))
    }

    /// The current step was done by `tx_hash`: book that transaction's receipt.
    async fn mark_done(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        tx_hash: &str,
        now: u64,
    ) -> Result<String, String> {
        self.known(id)?;
        let cycle = self.cycles.get(&id).cloned().ok_or("gone")?;
        let NextAction::Step(step) = cycle.state.next_action(cycle.route) else {
            return Err(format!(
                "{id} is in {} and has no step to mark done",
                cycle.state
            ));
        };
        let tx = crate::model::intent::tx_hash(tx_hash)?;
        let tx = tx.as_str();
        match self.clear_in_flight(cx, id, now).await? {
            // The step in flight was that very transaction: booked, as asked.
            InFlight::WasDone { tx_hash, .. } if tx_hash.eq_ignore_ascii_case(tx) => {
                return Ok(format!("{id} {step} was done by {tx}: booked"));
            }
            other => {
                other.or_refuse("mark done")?;
            }
        }
        let action = self
            .action_for(&cycle, step, now)
            .await
            .map_err(|e| e.to_string())?;
        let receipt = self
            .venue
            .receipt(action_chain(&action), tx)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "no receipt for {tx} on {}: refusing to book a step nobody can see",
                    action_chain(&action)
                )
            })?;
        let intent_id = IntentId {
            cycle: id,
            step,
            attempt: cycle.attempt,
        };
        let intent = Intent::new(intent_id, action, now);
        let record = StepRecord {
            intent: intent.clone(),
            status: StepStatus::Operator {
                action: "mark done".into(),
                tx_hash: Some(tx.to_string()),
            },
            committed_at: now,
            finished_at: Some(now),
        };
        cx.store
            .write(|w| w.put_step(&record))
            .map_err(|e| e.to_string())?;
        self.finish_step(cx, id, &intent, receipt, now, true)
            .map_err(|e| e.to_string())?;
        self.update(cx, id, now, |c| c.operator_touched = true)
            .map_err(|e| e.to_string())?;
        self.reload_steps(cx, id).map_err(|e| e.to_string())?;
        Ok(format!("{id} {step} marked done by {tx}"))
    }

    /// Move past the current step or wait without doing it (nothing is booked).
    fn skip(&mut self, cx: &KeeperContext<'_>, id: CycleId, now: u64) -> Result<String, String> {
        self.known(id)?;
        let cycle = self.cycles.get(&id).cloned().ok_or("gone")?;
        let next = match cycle.state.next_action(cycle.route) {
            NextAction::Step(step) => CycleState::after_step(step),
            NextAction::Await(wait) => CycleState::after_wait(wait),
            NextAction::Complete | NextAction::Nothing => {
                return Err(format!("{id} is in {}: nothing to skip", cycle.state));
            }
        };
        self.ready_at.remove(&id);
        self.update(cx, id, now, |c| {
            c.attempt = 0;
            c.not_before = None;
            c.last_error = Some(format!("operator skipped {}", cycle.state));
            c.operator_touched = true;
            c.holding.in_flight = false;
            c.enter(next, now);
        })
        .map_err(|e| e.to_string())?;
        Ok(format!(
            "{id} moved from {} to {next} without acting",
            cycle.state
        ))
    }
}

/// What became of a cycle's step in flight before an override.
enum InFlight {
    /// Nothing is in flight any more; the text says what was done about it.
    Cleared(String),
    /// It was done after all, and is booked now.
    WasDone {
        cycle: CycleId,
        step: crate::model::StepKind,
        attempt: u32,
        tx_hash: String,
    },
}

impl InFlight {
    /// The override goes ahead (with what to add to its answer), or is
    /// refused because the step turned out done.
    fn or_refuse(self, what: &str) -> Result<String, String> {
        match self {
            InFlight::Cleared(said) => Ok(said),
            InFlight::WasDone {
                cycle,
                step,
                attempt,
                tx_hash,
            } => Err(format!(
                "{cycle}: its {step} #{attempt} was in fact done by {tx_hash} and is booked now; the {what} was not applied (look again, then decide)"
            )),
        }
    }
}

fn action_chain(a: &Action) -> crate::model::Chain {
    a.chain()
}
