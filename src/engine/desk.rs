//! The command desk: commands are answered while a pass or recovery waits on
//! a slow venue (a transaction wait, a confirmation, a 429 back-off). Pause
//! and resume take effect at once on the send gate and in the store, so the
//! next send boundary of every strategy holds; every other command is
//! applied by the engine as soon as the pass returns, and its sender is told
//! within `answer_within` that it was accepted if the pass is still busy.
//! Every command, early or not, is applied once more by the engine after the
//! pass, which writes the audit line: one path for every command.

use super::gate::{self, SendGate};
use super::{Command, CommandEnvelope, Phase, Snapshot};
use crate::store::Store;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// A command taken during a pass, applied after it.
pub(super) struct Deferred {
    pub command: Command,
    pub operator: String,
    /// Still to be answered (`None` once the desk answered it).
    pub reply: Option<oneshot::Sender<Result<String, String>>>,
    deadline: Instant,
}

pub(super) struct Desk {
    pub gate: Arc<SendGate>,
    pub store: Arc<Store>,
    pub snapshots: Arc<watch::Sender<Arc<Snapshot>>>,
    pub answer_within: Duration,
}

impl Desk {
    /// Run `work` to its end, serving commands meanwhile; returns its output
    /// and the commands to apply now that the engine is free.
    pub async fn serve_while<F: Future>(
        &self,
        work: F,
        commands: &mut mpsc::Receiver<CommandEnvelope>,
    ) -> (F::Output, Vec<Deferred>) {
        tokio::pin!(work);
        let mut deferred: Vec<Deferred> = Vec::new();
        loop {
            let due = deferred
                .iter()
                .filter(|d| d.reply.is_some())
                .map(|d| d.deadline)
                .min();
            tokio::select! {
                biased;
                out = &mut work => return (out, deferred),
                Some(envelope) = commands.recv() => deferred.push(self.take(envelope)),
                _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    let now = Instant::now();
                    for d in deferred.iter_mut().filter(|d| d.deadline <= now) {
                        if let Some(reply) = d.reply.take() {
                            let _ = reply.send(Ok(format!(
                                "accepted: the engine is waiting on a venue; `{}` applies as soon as that call returns (the audit trail records the result)",
                                d.command.describe()
                            )));
                        }
                    }
                }
            }
        }
    }

    /// A command arriving mid-pass: pause and resume act now; the rest wait.
    fn take(&self, envelope: CommandEnvelope) -> Deferred {
        let CommandEnvelope {
            command,
            operator,
            reply,
        } = envelope;
        let mut controls = self.gate.controls();
        let breach = self.gate.breach();
        let reply = match gate::change(&command, &mut controls, breach.as_deref()) {
            Some(Err(refusal)) => {
                let _ = reply.send(Err(refusal));
                None
            }
            Some(Ok(answer)) => {
                // The gate first: even if the store cannot record it, no
                // further send goes out.
                self.gate.set(&controls);
                let stored = self.store.write(|w| w.put_controls(&controls));
                self.snapshots.send_modify(|s| {
                    let s = Arc::make_mut(s);
                    s.paused = controls.paused;
                    s.paused_tokens = controls.paused_tokens.iter().copied().collect();
                    s.phase = match (s.phase, controls.paused) {
                        (Phase::Running, true) => Phase::Paused,
                        (Phase::Paused, false) => Phase::Running,
                        (phase, _) => phase,
                    };
                });
                let _ = reply.send(match stored {
                    Ok(()) => Ok(answer),
                    Err(e) => Err(format!(
                        "{answer} in this process, but the store could not record it: {e}"
                    )),
                });
                None
            }
            None => Some(reply),
        };
        Deferred {
            command,
            operator,
            reply,
            deadline: Instant::now() + self.answer_within,
        }
    }
}
