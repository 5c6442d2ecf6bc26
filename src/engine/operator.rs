//! Commands, one path for all: each is offered to the strategies first (a
//! strategy answers its own: approve, the overrides on a cycle, a hedge's
//! symbol, `start stellar_arb`, `resolve` of an intent it lists), then the
//! engine answers its own (pause, resume, per-token pause, reload) or says
//! no strategy here takes it. Every command, answered or refused, is
//! recorded in the ledger's audit trail with who sent it.

use super::{Command, Engine, EngineError, Phase};
use crate::model::{LedgerEntry, LedgerKind};
use rust_decimal::Decimal;

impl Engine {
    /// Apply a command; the answer goes back to whoever sent it.
    pub(super) async fn apply(
        &mut self,
        command: &Command,
        operator: &str,
    ) -> Result<String, String> {
        let now = self.clock.now();
        let result = match self.keeper_command(command, now).await {
            Some(answer) => answer,
            None => self.apply_inner(command).await,
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
    /// in the snapshot; an id nobody lists (a failed cycle to resume, say)
    /// goes to each, and each takes only ids of its own shape.
    async fn keeper_command(
        &mut self,
        command: &Command,
        now: u64,
    ) -> Option<Result<String, String>> {
        let owner = match command {
            Command::Resolve { id, .. } => self
                .full_snapshot()
                .intents
                .into_iter()
                .find(|i| i.id == *id)
                .map(|i| i.strategy),
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

    async fn apply_inner(&mut self, command: &Command) -> Result<String, String> {
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
            Command::Reload {
                limits,
                in_place,
                restart,
            } => {
                let changes = super::limits::Limits::of(&self.config).changes(limits);
                limits.apply(&mut self.config);
                for slot in &mut self.keepers {
                    slot.keeper.reload(limits);
                }
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
            Command::Approve { .. }
            | Command::Reject { .. }
            | Command::Force { .. }
            | Command::MarkDone { .. }
            | Command::Skip { .. }
            | Command::Fail { .. }
            | Command::ImportProof { .. } => Err(
                "the cross-chain loop does not run here: [cross_chain_loop] is off in this mode"
                    .into(),
            ),
            Command::Resolve { id, .. } => {
                let open: Vec<String> = self
                    .full_snapshot()
                    .intents
                    .into_iter()
                    .map(|i| i.id)
                    .collect();
                Err(format!(
                    "no strategy holds an open intent {id:?}; open now: {}",
                    if open.is_empty() {
                        "none".to_string()
                    } else {
                        open.join(", ")
                    }
                ))
            }
        }
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
}
