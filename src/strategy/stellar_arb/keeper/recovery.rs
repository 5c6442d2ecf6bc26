//! Settling open sends by looking: at boot (recovery) and on every pass
//! while any send is open. Found by getTransaction → settled by its result.
//! Not found → decided by time ([`judge_missing`]): before maxTime the
//! *same* envelope goes again (the sequence number makes that idempotent);
//! past it, written off as expired; past it and beyond the RPC's history
//! with the sequence used → HALTED for the operator. A Friendbot funding is
//! settled by looking at the account. A Stellar failure during boot
//! recovery leaves the keeper DEGRADED and retried with backoff instead of
//! stopping the engine.

use super::sending::{SendFacts, poll_result};
use super::{
    EXPIRED_UNSENT, EXPIRY_MARGIN_SECS, RECOVERY_BACKOFF_MAX_MS, RECOVERY_BACKOFF_MS, Recovery,
    StellarArbKeeper, utc_time,
};
use crate::engine::journal::Sighting;
use crate::engine::{EngineError, IntentState, KeeperContext};
use crate::strategy::stellar_arb::store::Intent;
use crate::venue::VenueError;
use crate::venue::stellar::{
    AccountKey, LedgerWindow, SendStatus, StellarVenue, TxOutcome, TxStatus,
};

/// The kind of an intent that asks Friendbot to fund an account.
pub(super) const FRIENDBOT: &str = "friendbot";

impl StellarArbKeeper {
    /// One attempt at boot recovery, if it is due. A venue failure is
    /// recorded (DEGRADED, next attempt later); only store errors return.
    pub(super) async fn try_recover(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let attempts = match &self.recovery {
            Recovery::Done => return Ok(()),
            Recovery::Failed {
                attempts, next_ms, ..
            } => {
                if cx.now < *next_ms {
                    return Ok(());
                }
                *attempts
            }
        };
        self.load_open(cx)?;
        match self.settle_open(cx).await {
            Ok(()) => {
                if attempts > 0 {
                    self.log(format!("recovered after {attempts} failed attempt(s)"));
                }
                self.recovery = Recovery::Done;
                self.view.status = "recovered".into();
                Ok(())
            }
            Err(EngineError::Venue(e)) => {
                let attempts = attempts + 1;
                let wait = RECOVERY_BACKOFF_MS
                    .saturating_mul(1 << (attempts - 1).min(16))
                    .min(RECOVERY_BACKOFF_MAX_MS);
                let error = e.to_string();
                tracing::warn!(target: "stellar_arb", attempts, error = %error, "recovery failed");
                self.view.status = format!(
                    "DEGRADED: not recovered ({error}); retrying in {} s; nothing is sent until then",
                    wait / 1_000
                );
                self.recovery = Recovery::Failed {
                    error,
                    attempts,
                    next_ms: cx.now.saturating_add(wait),
                };
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// Settle what a previous run (or a lost answer) left open.
    pub(super) async fn settle_open(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        for intent in self.load_open(cx)? {
            self.settle_one(cx, &intent).await?;
        }
        Ok(())
    }

    /// Look once at one open send and settle it if the network has decided.
    pub(super) async fn settle_one(
        &mut self,
        cx: &KeeperContext<'_>,
        intent: &Intent,
    ) -> Result<(), EngineError> {
        if intent.kind == FRIENDBOT {
            return self.settle_friendbot(cx, intent).await;
        }
        self.look_through_journal(cx, intent).await
    }
}

/// Look for one open transaction, as the journal asks the venue: found by
/// getTransaction → its result; not found → judged by time
/// ([`judge_missing`]): before maxTime the same envelope is offered again
/// (what that did is left in `facts` for the record) and it is not seen
/// yet; past it, absent (expired, or its sequence used by another); past it
/// and beyond the RPC's history with the sequence used → unprovable, the
/// operator's. A failed call is left in `facts` too.
pub(super) async fn look_for(
    venue: &dyn StellarVenue,
    intent: &Intent,
    polls: u32,
    delay: std::time::Duration,
    facts: &std::sync::Mutex<SendFacts>,
) -> Sighting<(u32, TxOutcome)> {
    let failed = |e: VenueError| {
        let shown = e.to_string();
        facts.lock().unwrap_or_else(|p| p.into_inner()).look_error = Some(e);
        Sighting::CannotLook(shown)
    };
    // Read before asking for the transaction: if it is then not found, it
    // is in no ledger up to `window.latest`.
    let window = match venue.ledger_window().await {
        Ok(w) => w,
        Err(e) => return failed(e),
    };
    match venue.transaction(&intent.hash).await {
        Ok(TxStatus::Success { ledger, outcome }) | Ok(TxStatus::Failed { ledger, outcome }) => {
            return Sighting::Found((ledger, outcome));
        }
        Ok(TxStatus::NotFound) => {}
        Err(e) => return failed(e),
    }
    let id = match AccountKey::parse(&intent.account) {
        Ok(id) => id,
        Err(e) => return failed(VenueError::Rejected(e.to_string())),
    };
    // The source's sequence, asked after the window: a transaction applied
    // by then has consumed it.
    let seq = match venue.account(id).await {
        Ok(state) => state.map(|s| s.sequence).unwrap_or(0),
        Err(e) => return failed(e),
    };
    let until = format!(
        "maxTime {} + {EXPIRY_MARGIN_SECS} s",
        utc_time(intent.max_time)
    );
    let unseen = |state: Option<IntentState>, note: String| {
        facts.lock().unwrap_or_else(|p| p.into_inner()).unseen = Some((state, note));
        Sighting::NotSeen
    };
    match judge_missing(intent, &window, seq) {
        Missing::Resend => {
            tracing::info!(target: "stellar_arb", hash = %intent.hash, "not found before its maxTime; resending the same envelope");
            // The same envelope of an open intent (its latest fee bump, if
            // it has one): settling, not a new send, so the pause does not
            // hold it.
            match venue.send(intent.envelope_to_send()).await {
                // It may have landed between the look and the resend
                // (tx_bad_seq then): time decides, not this refusal.
                Ok(SendStatus::Error(o)) => unseen(
                    None,
                    format!(
                        "not found yet; the resend was refused ({}); asking getTransaction until {until}",
                        o.main_code()
                    ),
                ),
                Ok(_) => match poll_result(venue, &intent.hash, polls, delay).await {
                    Some(result) => Sighting::Found(result),
                    None => unseen(
                        None,
                        format!(
                            "not found yet; same envelope resent; asking getTransaction until {until}"
                        ),
                    ),
                },
                Err(e) => unseen(
                    Some(IntentState::OutcomeUnknown),
                    format!(
                        "not found yet; the resend got no definite answer ({e}); asking getTransaction until {until}"
                    ),
                ),
            }
        }
        Missing::Expired => Sighting::Absent(EXPIRED_UNSENT.into()),
        Missing::SequenceUsed => {
            Sighting::Absent("not applied (sequence used by another transaction)".into())
        }
        Missing::Ambiguous => Sighting::Unprovable(format!(
            "transaction {} ({}) is past its maxTime and older than the RPC's history, and account {}'s sequence has moved past it: it may have applied. Look it up on Horizon or an explorer; nothing more is sent until it is settled",
            intent.hash, intent.label, intent.account
        )),
    }
}

/// What a transaction getTransaction cannot find means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// It can still apply: send the same envelope again.
    Resend,
    /// Past its maxTime and provably not applied: it never will be.
    Expired,
    /// No time bound (an intent from before time bounds) and its sequence
    /// is used: not applied, judged by sequence as before.
    SequenceUsed,
    /// Past its maxTime, but outside the RPC's history and its sequence
    /// used: it may have applied. Only a person (or Horizon) can tell.
    Ambiguous,
}

/// Decide a transaction that getTransaction reports NOT_FOUND, given the
/// ledger window read before asking and the source account's sequence read
/// after. The network applies a transaction only in a ledger closing at or
/// before its maxTime; once the latest close is past maxTime (plus a margin
/// for a lagging RPC node) it never will. Whether it did *before* is known
/// from getTransaction only while the RPC's history covers its whole life
/// (from signing on); beyond that, an unused sequence still proves it did not.
pub fn judge_missing(intent: &Intent, window: &LedgerWindow, account_seq: i64) -> Missing {
    let consumed = account_seq >= intent.sequence;
    if intent.max_time == 0 {
        return if consumed {
            Missing::SequenceUsed
        } else {
            Missing::Resend
        };
    }
    if window.latest_close <= intent.max_time.saturating_add(EXPIRY_MARGIN_SECS) {
        return Missing::Resend;
    }
    let history_covers = window.oldest_close <= intent.signed_close;
    if history_covers || !consumed {
        Missing::Expired
    } else {
        Missing::Ambiguous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(max_time: u64, signed_close: u64) -> Intent {
        Intent {
            hash: "h".into(),
            account: "G".into(),
            sequence: 10,
            kind: super::super::CYCLE.into(),
            envelope: String::new(),
            send: 0,
            dest_min: 0,
            dest: None,
            max_time,
            signed_close,
            created_ms: 0,
            label: String::new(),
            bump: None,
            predicted: None,
        }
    }

    fn window(latest_close: u64, oldest_close: u64) -> LedgerWindow {
        LedgerWindow {
            latest: 2,
            latest_close,
            oldest: 1,
            oldest_close,
        }
    }

    #[test]
    fn a_missing_transaction_is_judged_by_time_then_history_then_sequence() {
        let i = intent(1_120, 1_000);
        // Before maxTime + margin: it can still apply, whatever the sequence.
        assert_eq!(judge_missing(&i, &window(1_100, 0), 10), Missing::Resend);
        assert_eq!(
            judge_missing(&i, &window(1_120 + EXPIRY_MARGIN_SECS, 0), 9),
            Missing::Resend
        );
        let late = 1_121 + EXPIRY_MARGIN_SECS;
        // After: history covering its life proves it never applied, even
        // with its sequence used (by another transaction).
        assert_eq!(
            judge_missing(&i, &window(late, 1_000), 10),
            Missing::Expired
        );
        // History gone: an unused sequence still proves it…
        assert_eq!(judge_missing(&i, &window(late, 1_001), 9), Missing::Expired);
        // …a used one does not.
        assert_eq!(
            judge_missing(&i, &window(late, 1_001), 10),
            Missing::Ambiguous
        );
        // Intents from before time bounds keep the sequence rule.
        let old = intent(0, 0);
        assert_eq!(judge_missing(&old, &window(late, 0), 9), Missing::Resend);
        assert_eq!(
            judge_missing(&old, &window(late, 0), 10),
            Missing::SequenceUsed
        );
    }
}
