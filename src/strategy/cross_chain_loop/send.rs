//! The cross-chain loop's side of the intent journal: its venue's send path
//! for one step's intent (execute, settle by looking; the venue's own
//! journal makes carrying out the same intent again idempotent, so an
//! intent it does not show as done may go again at once) and the step's
//! record (the step's intent in the store, its receipt booked with the
//! ledger lines and the new state, a refusal or unknown answer on the
//! cycle).

use super::view;
use super::{CrossChainLoop, reconciler::UNSETTLED};
use crate::engine::journal::{Answer, IntentRecord, SendPath, Sighting, Via};
use crate::engine::{EngineError, KeeperContext, Notice};
use crate::model::{
    Action, Chain, CycleId, Intent, Receipt, Route, StepKind, StepRecord, StepStatus, Timestamp,
    Units,
};
use crate::venue::{Abandonment, LoopVenue, VenueError};
use futures_util::future::BoxFuture;
use std::sync::Mutex;

/// The loop venue's answers about one step's intent.
pub(super) struct StepSend<'a, V> {
    pub venue: &'a V,
    pub intent: &'a Intent,
    /// What the venue said about a refusal, for the record.
    pub refusal: &'a Mutex<Refusal>,
}

/// What the venue says about a refused step beyond the refusal itself.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Refusal {
    /// Wei its mined transactions paid all the same (a reverted call, the
    /// approve before it): booked with the failed step.
    pub gas: Units,
    /// The opening swap, asked to be abandoned, proved never sent (a
    /// refused step may still have mined its approve).
    pub never_sent: bool,
}

impl<V: LoopVenue> SendPath for StepSend<'_, V> {
    type Receipt = Receipt;

    /// A swap goes to its chain's pool, a bridge send to its route, prove
    /// and finalize to the tunnel.
    fn venue(&self) -> &str {
        match &self.intent.action {
            Action::Swap {
                chain: Chain::Hemi, ..
            } => "hemi",
            Action::Swap {
                chain: Chain::Ethereum,
                ..
            } => "ethereum",
            Action::BridgeSend {
                route: Route::Stargate,
                ..
            } => "stargate",
            Action::BridgeSend {
                route: Route::HemiTunnel,
                ..
            }
            | Action::Prove { .. }
            | Action::Finalize { .. } => "hemi_tunnel",
        }
    }

    fn send(&self) -> BoxFuture<'_, Answer<Receipt>> {
        Box::pin(async move {
            let result = self.venue.execute(self.intent).await;
            let Err(VenueError::Rejected(reason)) = result else {
                return Answer::of(result);
            };
            // Refused or reverted: a reverted call (and an approve before
            // it) paid gas all the same. Not readable yet: unknown, and the
            // next pass settles it and is refused again, then books.
            let gas = match self.venue.gas_paid(self.intent.id).await {
                Ok(gas) => gas,
                Err(e) => {
                    return Answer::Unknown(format!(
                        "{reason}; the gas it paid cannot be read yet: {e}"
                    ));
                }
            };
            // The opening swap: was anything of it sent? Gas paid says yes
            // (it was mined and reverted); else only the venue can say, and
            // asking it also makes sure nothing ever will be.
            let never_sent = self.intent.id.step == StepKind::HemiSwap
                && gas == 0
                && match self.venue.abandon(self.intent.id).await {
                    Ok(Abandonment::NeverSent) => true,
                    Ok(other) => {
                        tracing::warn!(intent = %self.intent.id, answer = ?other, "a refused opening swap left a trace at the venue");
                        false
                    }
                    Err(e) => {
                        tracing::warn!(intent = %self.intent.id, error = %e, "cannot prove a refused opening swap was never sent");
                        false
                    }
                };
            *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = Refusal { gas, never_sent };
            Answer::Refused(reason)
        })
    }

    fn look(&self) -> BoxFuture<'_, Sighting<Receipt>> {
        Box::pin(async move {
            match self.venue.settle(self.intent.id).await {
                Ok(Some(receipt)) => Sighting::Found(receipt),
                Ok(None) => Sighting::NotSeen,
                Err(e) => Sighting::CannotLook(e.to_string()),
            }
        })
    }

    /// The venue settles from its own journal (hashes, nonces): what it
    /// does not show as done is not done, and carrying out the same
    /// intent again cannot do it twice.
    fn invisible_for(&self) -> u64 {
        0
    }
}

/// One step's intent as the loop records it.
pub(super) struct StepIntent<'e, V: LoopVenue> {
    pub keeper: &'e mut CrossChainLoop<V>,
    pub cycle: CycleId,
    pub intent: Intent,
    /// Already in the store (a look, or the same intent again).
    pub committed: bool,
    /// What the send path learnt of a refusal.
    pub refusal: &'e Mutex<Refusal>,
}

impl<V: LoopVenue> StepIntent<'_, V> {
    fn error(&mut self, cx: &KeeperContext<'_>, error: VenueError) -> Result<(), EngineError> {
        let step = self.intent.id.step;
        let intent = self.intent.clone();
        self.keeper
            .step_error(cx, self.cycle, step, Some(&intent), error, false)
    }
}

impl<V: LoopVenue> IntentRecord for StepIntent<'_, V> {
    type Receipt = Receipt;

    /// The loop's gate: recovered and neither paused nor its token paused;
    /// a drain finishes open cycles, so their steps may go.
    fn may_send(&self, cx: &KeeperContext<'_>) -> bool {
        self.keeper
            .cycles
            .get(&self.cycle)
            .is_some_and(|c| self.keeper.may_send(cx, c))
    }

    /// Intent before action: the step's intent is committed (once).
    fn sending(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        if self.committed {
            return Ok(());
        }
        let record = StepRecord {
            intent: self.intent.clone(),
            status: StepStatus::Intended,
            committed_at: cx.now,
            finished_at: None,
        };
        cx.store.write(|w| w.put_step(&record))?;
        self.committed = true;
        self.keeper
            .steps
            .entry(self.cycle)
            .or_default()
            .push(view::step_view(&record));
        self.keeper.notify(
            cx,
            Notice::TxSubmitted {
                cycle: self.cycle,
                step: self.intent.id.step,
                intent: self.intent.id.to_string(),
            },
        );
        Ok(())
    }

    fn done(
        &mut self,
        cx: &KeeperContext<'_>,
        receipt: &Receipt,
        via: Via,
    ) -> Result<(), EngineError> {
        if via == Via::Look {
            tracing::info!(intent = %self.intent.id, tx = %receipt.tx_hash, "settled by looking: it was done");
        }
        let intent = self.intent.clone();
        self.keeper.finish_step(
            cx,
            self.cycle,
            &intent,
            receipt.clone(),
            cx.now,
            via == Via::Look,
        )
    }

    /// Refused (or proven absent): the step fails, booking the gas its
    /// mined transactions paid; a refused opening swap the venue proved
    /// unsent, in a cycle with no other step, closes NOT STARTED.
    fn refused(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError> {
        let facts = *self.refusal.lock().unwrap_or_else(|p| p.into_inner());
        let intent = self.intent.clone();
        let never_sent =
            facts.never_sent && self.keeper.no_other_step(cx, self.cycle, Some(intent.id))?;
        self.keeper.step_failed(
            cx,
            self.cycle,
            intent.id.step,
            &intent,
            reason.to_string(),
            facts.gas,
            cx.now,
            never_sent,
        )
    }

    /// Not sent: the intent stays, and the next pass settles it first.
    fn not_sent(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError> {
        self.error(cx, VenueError::Transient(reason.to_string()))
    }

    fn unknown(
        &mut self,
        cx: &KeeperContext<'_>,
        reason: &str,
        _look_until: Timestamp,
    ) -> Result<(), EngineError> {
        self.error(cx, VenueError::Unknown(reason.to_string()))
    }

    /// The venue could not say: the step holds, and is looked at again
    /// after the back-off, never sent meanwhile.
    fn still_unknown(
        &mut self,
        cx: &KeeperContext<'_>,
        note: Option<&str>,
    ) -> Result<(), EngineError> {
        let now = cx.now;
        match note {
            Some(why) => {
                tracing::warn!(intent = %self.intent.id, error = %why, "cannot settle yet; holding the step");
                let backoff = self.keeper.config.engine.retry_backoff_ms;
                self.keeper.update(cx, self.cycle, now, |c| {
                    c.last_error = Some(UNSETTLED.into());
                    c.not_before = Some(now + backoff);
                })
            }
            None => self.clear_unsettled(cx, now),
        }
    }

    /// Only a look that never sends asks for this: the operator decides.
    fn window_passed(&mut self, cx: &KeeperContext<'_>, _: &str) -> Result<(), EngineError> {
        self.clear_unsettled(cx, cx.now)
    }

    /// Not done at the venue: the same intent goes again.
    fn send_again(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.clear_unsettled(cx, cx.now)
    }
}

impl<V: LoopVenue> StepIntent<'_, V> {
    fn clear_unsettled(
        &mut self,
        cx: &KeeperContext<'_>,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        self.keeper.update(cx, self.cycle, now, |c| {
            if c.last_error.as_deref() == Some(UNSETTLED) {
                c.last_error = None;
            }
        })
    }
}
