//! Operator commands applied by the engine: pause, resume, per-token pause,
//! approve and reject, and the overrides (force, mark done, skip, fail,
//! import proof). Each is recorded in the ledger's audit trail with who did it.

use super::snapshot::OpportunityState;
use super::{Command, Engine, EngineError, Phase, Resolution};
use crate::model::{
    Action, CycleId, CycleState, Intent, IntentId, LedgerEntry, LedgerKind, NextAction, StepRecord,
    StepStatus,
};
use crate::venue::{Abandonment, LoopVenue};
use rust_decimal::Decimal;

impl<V: LoopVenue> Engine<V> {
    /// Apply a command; the answer goes back to whoever sent it.
    pub(super) async fn apply(
        &mut self,
        command: &Command,
        operator: &str,
    ) -> Result<String, String> {
        let now = self.clock.now();
        let result = match self.keeper_command(command, now).await {
            Some(answer) => answer,
            None => self.apply_inner(command, now).await,
        };
        let (ok, message) = match &result {
            Ok(m) => (true, m.clone()),
            Err(m) => (false, m.clone()),
        };
        let cycle = match command {
            Command::Force { cycle }
            | Command::MarkDone { cycle, .. }
            | Command::Skip { cycle }
            | Command::Fail { cycle, .. }
            | Command::ImportProof { cycle, .. } => Some(*cycle),
            _ => None,
        };
        let kind = if cycle.is_some() {
            LedgerKind::Operator
        } else {
            LedgerKind::Control
        };
        let audit = LedgerEntry {
            seq: 0,
            at: now,
            kind,
            cycle,
            chain: None,
            token: None,
            delta: 0,
            value_vcred: Decimal::ZERO,
            tx_hash: match command {
                Command::MarkDone { tx_hash, .. } => Some(tx_hash.clone()),
                _ => None,
            },
            note: format!(
                "{operator}: {} — {}{message}",
                command.describe(),
                if ok { "" } else { "refused: " }
            ),
            operator: true,
        };
        match self.store.write(|w| w.append(audit)) {
            Ok(line) => self.after_ledger(std::slice::from_ref(&line)),
            Err(e) => {
                tracing::error!(error = %e, "cannot record the operator's command in the audit trail")
            }
        }
        tracing::info!(%operator, command = %command.describe(), ok, %message, "operator command");
        result
    }

    /// Offer the command to each keeper first; the first that takes it
    /// answers. A `resolve` goes only to the strategy that lists the intent
    /// in the snapshot (the loop's cycles, and ids nobody lists, are the
    /// engine's to answer).
    async fn keeper_command(
        &mut self,
        command: &Command,
        now: u64,
    ) -> Option<Result<String, String>> {
        let owner = match command {
            Command::Resolve { id, .. } => Some(
                self.full_snapshot()
                    .intents
                    .into_iter()
                    .find(|i| i.id == *id)
                    .map(|i| i.strategy)?,
            ),
            _ => None,
        };
        let mut keepers = std::mem::take(&mut self.keepers);
        let mut answer = None;
        for k in keepers.iter_mut().map(|s| &mut s.keeper) {
            if owner.as_deref().is_some_and(|o| o != k.name()) {
                continue;
            }
            let cx = super::KeeperContext {
                store: &self.store,
                now,
                phase: self.phase,
                gate: &self.gate,
                notices: &self.notices,
            };
            if let Some(reply) = k.command(command, &cx) {
                answer = Some(reply.await);
                break;
            }
        }
        self.keepers = keepers;
        answer
    }

    async fn apply_inner(&mut self, command: &Command, now: u64) -> Result<String, String> {
        let store_err = |e: EngineError| e.to_string();
        match command {
            Command::Pause
            | Command::Resume
            | Command::PauseToken { .. }
            | Command::ResumeToken { .. } => {
                let mut controls = self.controls.clone();
                let breach = self.gate.breach();
                let answer = super::gate::change(command, &mut controls, breach.as_deref())
                    .unwrap_or_else(|| Ok(String::new()))?;
                self.set_controls(|c| *c = controls).map_err(store_err)?;
                self.phase = match (self.phase, self.controls.paused) {
                    (Phase::Running, true) => Phase::Paused,
                    (Phase::Paused, false) => Phase::Running,
                    (phase, _) => phase,
                };
                Ok(answer)
            }
            Command::Approve {
                opportunity,
                size_vcred,
            } => self.approve(*opportunity, *size_vcred, now).await,
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
                    self.clear_in_flight(*cycle, now)
                        .await?
                        .or_refuse("resume")?
                } else {
                    String::new()
                };
                self.force(*cycle, now).map(|a| a + &cleared)
            }
            Command::MarkDone { cycle, tx_hash } => self.mark_done(*cycle, tx_hash, now).await,
            Command::Skip { cycle } => {
                self.known(*cycle)?;
                let cleared = self.clear_in_flight(*cycle, now).await?.or_refuse("skip")?;
                self.skip(*cycle, now).map(|a| a + &cleared)
            }
            Command::Fail { cycle, reason } => {
                self.known(*cycle)?;
                let cleared = self.clear_in_flight(*cycle, now).await?.or_refuse("fail")?;
                let reason = if reason.trim().is_empty() {
                    "failed by the operator".to_string()
                } else {
                    reason.clone()
                };
                self.fail(*cycle, reason.clone(), now, true)
                    .map_err(store_err)?;
                self.update(*cycle, now, |c| c.operator_touched = true)
                    .map_err(store_err)?;
                Ok(format!("{cycle} failed: {reason}{cleared}"))
            }
            Command::ImportProof { cycle, data } => {
                self.known(*cycle)?;
                if data.trim().is_empty() {
                    return Err("the proof data is empty".into());
                }
                let data = data.trim().to_string();
                self.update(*cycle, now, |c| {
                    c.proof_data = Some(data);
                    c.operator_touched = true;
                })
                .map_err(store_err)?;
                Ok(format!("proof data stored for {cycle}"))
            }
            Command::Reload {
                limits,
                in_place,
                restart,
            } => {
                let changes = super::limits::Limits::of(&self.config).changes(limits);
                limits.apply(&mut self.config);
                // A raised limit may clear the kill switch's breach: a resume
                // right after the reload sees the new finding.
                self.guard();
                let mut answer = match changes.is_empty() {
                    true => "reloaded: no limit changed".to_string(),
                    false => format!("reloaded: {}", changes.join(", ")),
                };
                if !in_place.is_empty() {
                    answer.push_str(&format!("; also changed in place: {}", in_place.join(", ")));
                }
                if !restart.is_empty() {
                    answer.push_str(&format!("; needs a restart: {}", restart.join("; ")));
                }
                Ok(answer)
            }
            // A strategy that takes it has answered before this point.
            Command::Start { strategy } => Err(format!(
                "no strategy named {strategy:?} waits to be started in this run"
            )),
            Command::PauseSymbol { .. }
            | Command::ResumeSymbol { .. }
            | Command::ProcessTx { .. }
            | Command::SetPosition { .. } => Err(
                "the equity hedge does not run here: [equity_hedge] is off in this config".into(),
            ),
            Command::Resolve {
                id,
                resolution,
                reason,
                evidence,
            } => {
                let Ok(cycle) = id.parse::<CycleId>() else {
                    let open: Vec<String> = self
                        .full_snapshot()
                        .intents
                        .into_iter()
                        .map(|i| i.id)
                        .collect();
                    return Err(format!(
                        "no strategy holds an open intent {id:?}; open now: {}",
                        if open.is_empty() {
                            "none".to_string()
                        } else {
                            open.join(", ")
                        }
                    ));
                };
                self.resolve(cycle, *resolution, reason, evidence.as_deref(), now)
                    .await
            }
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
            (Resolution::Settle, Some(tx)) => self.mark_done(id, tx, now).await,
            (Resolution::Settle, None) => {
                let record = self
                    .pending_intent(id)
                    .map_err(store_err)?
                    .ok_or_else(|| format!("{id} has no step in flight to settle"))?;
                if self.settle(id, &record).await.map_err(store_err)? {
                    self.reload_steps(id).map_err(store_err)?;
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
                let cleared = self.clear_in_flight(id, now).await?.or_refuse("drop")?;
                self.fail(id, format!("dropped by the operator: {reason}"), now, true)
                    .map_err(store_err)?;
                self.update(id, now, |c| c.operator_touched = true)
                    .map_err(store_err)?;
                Ok(format!("{id} dropped: {reason}{cleared}"))
            }
            (Resolution::Retry, _) => {
                let failed = self.cycles.get(&id).map(|c| c.state) == Some(CycleState::Failed);
                let in_flight = self.pending_intent(id).map_err(store_err)?.is_some();
                let cleared = self.clear_in_flight(id, now).await?.or_refuse("retry")?;
                if failed || !in_flight {
                    return self.force(id, now).map(|a| a + &cleared);
                }
                // The attempt in flight is closed as the operator's: the
                // step goes again under the next attempt number.
                self.ready_at.remove(&id);
                self.update(id, now, |c| {
                    c.attempt += 1;
                    c.not_before = None;
                    c.last_error = None;
                    c.operator_touched = true;
                })
                .map_err(store_err)?;
                self.reload_steps(id).map_err(store_err)?;
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
    async fn clear_in_flight(&mut self, id: CycleId, now: u64) -> Result<InFlight, String> {
        let Some(record) = self.pending_intent(id).map_err(|e| e.to_string())? else {
            return Ok(InFlight::Cleared(String::new()));
        };
        let venue = self
            .venue
            .clone()
            .ok_or_else(|| super::no_loop().to_string())?;
        let step = record.intent.id.step;
        let attempt = record.intent.id.attempt;
        let (action, tx_hash, said) = match venue.abandon(record.intent.id).await {
            Ok(Abandonment::Done(receipt)) => {
                let tx = receipt.tx_hash.clone();
                self.finish_step(id, &record.intent, receipt, now, true)
                    .map_err(|e| e.to_string())?;
                self.reload_steps(id).map_err(|e| e.to_string())?;
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
        self.close_step(id, &closed, gas, note, now)
            .map_err(|e| e.to_string())?;
        self.reload_steps(id).map_err(|e| e.to_string())?;
        Ok(InFlight::Cleared(said))
    }

    pub(super) fn set_controls(
        &mut self,
        f: impl FnOnce(&mut crate::model::Controls),
    ) -> Result<(), EngineError> {
        let mut controls = self.controls.clone();
        f(&mut controls);
        self.store.write(|w| w.put_controls(&controls))?;
        self.gate.set(&controls);
        self.controls = controls;
        Ok(())
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
        super::risk::may_start(o.token, &self.exposure(o.token)).map_err(|r| r.to_string())?;
        let estimate = self
            .estimate_at(o.token, size, now)
            .await
            .map_err(|e| e.to_string())?;
        self.open_cycle(o.id, o.token, o.route, o.edge_bps, &estimate, now)
            .map_err(|e| e.to_string())?;
        let cycle = self.opportunities.get(&o.token).and_then(|x| x.cycle);
        Ok(format!(
            "opportunity #{opportunity} approved at {} VCRED (est. P&L {} VCRED){}",
            crate::model::format_units(size, 6),
            estimate.profit_vcred.round_dp(4),
            cycle.map(|c| format!(" as {c}")).unwrap_or_default()
        ))
    }

    fn force(&mut self, id: CycleId, now: u64) -> Result<String, String> {
        self.known(id)?;
        let cycle = self.cycles.get(&id).cloned().ok_or("gone")?;
        if cycle.state == CycleState::Failed {
            let Some(failure) = cycle.failure.clone() else {
                return Err(format!("{id} has no failure to resume from"));
            };
            self.update(id, now, |c| {
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
        self.update(id, now, |c| {
            c.not_before = None;
            c.operator_touched = true;
        })
        .map_err(|e| e.to_string())?;
        Ok(format!("{id}: next action now ({})", cycle.state))
    }

    /// The current step was done by `tx_hash`: book that transaction's receipt.
    async fn mark_done(&mut self, id: CycleId, tx_hash: &str, now: u64) -> Result<String, String> {
        self.known(id)?;
        let cycle = self.cycles.get(&id).cloned().ok_or("gone")?;
        let NextAction::Step(step) = cycle.state.next_action(cycle.route) else {
            return Err(format!(
                "{id} is in {} and has no step to mark done",
                cycle.state
            ));
        };
        let tx = tx_hash.trim();
        if !(tx.starts_with("0x")
            && tx.len() == 66
            && tx[2..].chars().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(format!(
                "{tx:?} is not a transaction hash (0x and 64 hex digits)"
            ));
        }
        match self.clear_in_flight(id, now).await? {
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
            .as_deref()
            .ok_or_else(super::no_loop)
            .map_err(|e| e.to_string())?
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
        self.store
            .write(|w| w.put_step(&record))
            .map_err(|e| e.to_string())?;
        self.finish_step(id, &intent, receipt, now, true)
            .map_err(|e| e.to_string())?;
        self.update(id, now, |c| c.operator_touched = true)
            .map_err(|e| e.to_string())?;
        self.reload_steps(id).map_err(|e| e.to_string())?;
        Ok(format!("{id} {step} marked done by {tx}"))
    }

    /// Move past the current step or wait without doing it (nothing is booked).
    fn skip(&mut self, id: CycleId, now: u64) -> Result<String, String> {
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
        self.update(id, now, |c| {
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
