//! The cross-chain loop's side of the intent journal: its venue's send path
//! for one step's intent (execute, settle by looking; the venue's own
//! journal makes carrying out the same intent again idempotent, so an
//! intent it does not show as done may go again at once) and the step's
//! record (the step's intent in the store, its receipt booked with the
//! ledger lines and the new state, a refusal or unknown answer on the
//! cycle).

use super::journal::{Answer, IntentRecord, SendPath, Sighting, Via};
use super::view;
use super::{Engine, EngineError, KeeperContext, Notice, reconciler::UNSETTLED};
use crate::model::{CycleId, Intent, Receipt, StepKind, StepRecord, StepStatus, Timestamp};
use crate::venue::{Abandonment, LoopVenue, VenueError};
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicBool, Ordering};

/// The loop venue's answers about one step's intent.
pub(super) struct StepSend<'a, V> {
    pub venue: &'a V,
    pub intent: &'a Intent,
    /// Set when the venue refused the opening swap and, asked to abandon
    /// it, proved that nothing of it was ever sent (a refused step may
    /// still have mined its approve).
    pub proven_unsent: &'a AtomicBool,
}

impl<V: LoopVenue> SendPath for StepSend<'_, V> {
    type Receipt = Receipt;

    fn send(&self) -> BoxFuture<'_, Answer<Receipt>> {
        Box::pin(async move {
            let result = self.venue.execute(self.intent).await;
            if matches!(result, Err(VenueError::Rejected(_)))
                && self.intent.id.step == StepKind::HemiSwap
            {
                // Was anything of it sent? Only the venue can say, and
                // asking it also makes sure nothing ever will be.
                let proof = match self.venue.abandon(self.intent.id).await {
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
                self.proven_unsent.store(proof, Ordering::SeqCst);
            }
            Answer::of(result)
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

/// One step's intent as the engine records it.
pub(super) struct StepIntent<'e, V: LoopVenue> {
    pub engine: &'e mut Engine<V>,
    pub cycle: CycleId,
    pub intent: Intent,
    /// Already in the store (a look, or the same intent again).
    pub committed: bool,
    /// The send path's proof that a refused intent was never sent.
    pub proven_unsent: &'e AtomicBool,
}

impl<V: LoopVenue> StepIntent<'_, V> {
    fn error(&mut self, error: VenueError, now: Timestamp) -> Result<(), EngineError> {
        let step = self.intent.id.step;
        let intent = self.intent.clone();
        // A refused opening swap the venue proved unsent, in a cycle with no
        // other step: nothing of the cycle was ever sent (NOT STARTED).
        let never_sent = matches!(error, VenueError::Rejected(_))
            && self.proven_unsent.load(Ordering::SeqCst)
            && self.engine.no_other_step(self.cycle, Some(intent.id))?;
        self.engine
            .step_error(self.cycle, step, Some(&intent), error, now, never_sent)
    }
}

impl<V: LoopVenue> IntentRecord for StepIntent<'_, V> {
    type Receipt = Receipt;

    /// The loop's gate: recovered and neither paused nor its token paused;
    /// a drain finishes open cycles, so their steps may go.
    fn may_send(&self, _: &KeeperContext<'_>) -> bool {
        self.engine
            .cycles
            .get(&self.cycle)
            .is_some_and(|c| self.engine.may_send(c))
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
        self.engine.store.write(|w| w.put_step(&record))?;
        self.committed = true;
        self.engine
            .steps
            .entry(self.cycle)
            .or_default()
            .push(view::step_view(&record));
        self.engine.notify(Notice::TxSubmitted {
            cycle: self.cycle,
            step: self.intent.id.step,
            intent: self.intent.id.to_string(),
        });
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
        self.engine.finish_step(
            self.cycle,
            &intent,
            receipt.clone(),
            cx.now,
            via == Via::Look,
        )
    }

    fn refused(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError> {
        self.error(VenueError::Rejected(reason.to_string()), cx.now)
    }

    /// Not sent: the intent stays, and the next pass settles it first.
    fn not_sent(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError> {
        self.error(VenueError::Transient(reason.to_string()), cx.now)
    }

    fn unknown(
        &mut self,
        cx: &KeeperContext<'_>,
        reason: &str,
        _look_until: Timestamp,
    ) -> Result<(), EngineError> {
        self.error(VenueError::Unknown(reason.to_string()), cx.now)
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
                let backoff = self.engine.config.engine.retry_backoff_ms;
                self.engine.update(self.cycle, now, |c| {
                    c.last_error = Some(UNSETTLED.into());
                    c.not_before = Some(now + backoff);
                })
            }
            None => self.clear_unsettled(now),
        }
    }

    /// Only a look that never sends asks for this: the operator decides.
    fn window_passed(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.clear_unsettled(cx.now)
    }

    /// Not done at the venue: the same intent goes again.
    fn send_again(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.clear_unsettled(cx.now)
    }
}

impl<V: LoopVenue> StepIntent<'_, V> {
    fn clear_unsettled(&mut self, now: Timestamp) -> Result<(), EngineError> {
        self.engine.update(self.cycle, now, |c| {
            if c.last_error.as_deref() == Some(UNSETTLED) {
                c.last_error = None;
            }
        })
    }
}
