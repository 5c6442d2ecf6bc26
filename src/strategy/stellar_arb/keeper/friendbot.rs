//! Friendbot funding (TESTNET) through the intent journal, like every other
//! send: the intent is committed before the call and the gate read at the
//! last instant; Friendbot's answer is classified once (created, or already
//! funded → done; a refusal → refused; anything else → unknown, since a
//! reset or a 5xx may follow an account it created); an unknown is settled
//! by looking at the account — there → funded; not there → absent, and
//! asking again is safe, since Friendbot only ever creates an account,
//! never pays one twice.

use super::recovery::FRIENDBOT;
use super::{StellarArbKeeper, venue_err};
use crate::engine::journal::{
    self, AfterWindow, Answer, IntentRecord, SendPath, Sent, Sighting, Via,
};
use crate::engine::{EngineError, IntentState, KeeperContext};
use crate::model::Timestamp;
use crate::strategy::stellar_arb::store::{self as kstore, Intent};
use crate::venue::VenueError;
use crate::venue::stellar::{AccountKey, StellarVenue};
use futures_util::future::BoxFuture;
use std::sync::Mutex;

/// A look that found no account: the funding is written off, and Friendbot
/// is asked again when the account is next needed.
const NOT_FUNDED: &str = "not funded (no such account yet)";

/// The Friendbot intent for account `id`, committed at `now`.
fn intent(id: AccountKey, now: Timestamp) -> Intent {
    Intent {
        hash: format!("fb-{id}"),
        account: id.to_string(),
        sequence: 0,
        kind: FRIENDBOT.into(),
        envelope: String::new(),
        send: 0,
        dest_min: 0,
        dest: Some(id.to_string()),
        max_time: 0,
        signed_close: 0,
        created_ms: now,
        label: format!("fund {id} by Friendbot"),
        bump: None,
        predicted: None,
    }
}

impl StellarArbKeeper {
    /// Ask Friendbot to create account `id`. `true`: it exists now.
    pub(super) async fn friendbot(
        &mut self,
        cx: &KeeperContext<'_>,
        id: AccountKey,
    ) -> Result<bool, EngineError> {
        let venue = self.shared.venue.clone();
        let look_error = Mutex::new(None);
        let path = FriendbotSend {
            venue: venue.as_ref(),
            id,
            look_error: &look_error,
        };
        let mut record = FriendbotIntent {
            keeper: self,
            intent: intent(id, cx.now),
            look_error: &look_error,
        };
        match journal::send(cx, &path, &mut record).await? {
            Sent::Done => Ok(true),
            Sent::Held => {
                self.view.status = "paused".into();
                Ok(false)
            }
            Sent::Refused | Sent::NotSent | Sent::Unknown { .. } => Ok(false),
        }
    }

    /// A Friendbot funding whose answer was lost: the account decides.
    pub(super) async fn settle_friendbot(
        &mut self,
        cx: &KeeperContext<'_>,
        open: &Intent,
    ) -> Result<(), EngineError> {
        let id = AccountKey::parse(&open.account)
            .map_err(|e| venue_err(VenueError::Rejected(e.to_string())))?;
        let venue = self.shared.venue.clone();
        let look_error = Mutex::new(None);
        let path = FriendbotSend {
            venue: venue.as_ref(),
            id,
            look_error: &look_error,
        };
        let mut record = FriendbotIntent {
            keeper: self,
            intent: open.clone(),
            look_error: &look_error,
        };
        journal::look(cx, &path, &mut record, u64::MAX, AfterWindow::Operator).await?;
        Ok(())
    }
}

/// Friendbot's send path for one account.
struct FriendbotSend<'a> {
    venue: &'a dyn StellarVenue,
    id: AccountKey,
    /// The look's failed call, handed to the record as the keeper's venue
    /// error (DEGRADED during recovery, shown on a pass).
    look_error: &'a Mutex<Option<VenueError>>,
}

impl SendPath for FriendbotSend<'_> {
    type Receipt = &'static str;

    fn venue(&self) -> &str {
        "friendbot"
    }

    fn send(&self) -> BoxFuture<'_, Answer<&'static str>> {
        Box::pin(async move {
            match self.venue.fund(self.id).await {
                Ok(true) => Answer::Done("funded"),
                Ok(false) => Answer::Done("already funded"),
                Err(VenueError::Rejected(why)) => Answer::Refused(format!("refused: {why}")),
                // Friendbot is an HTTP GET: whatever failed may have
                // followed the account's creation.
                Err(e) => Answer::Unknown(e.to_string()),
            }
        })
    }

    fn look(&self) -> BoxFuture<'_, Sighting<&'static str>> {
        Box::pin(async move {
            match self.venue.account(self.id).await {
                Ok(Some(_)) => Sighting::Found("funded (seen on the ledger)"),
                Ok(None) => Sighting::Absent(NOT_FUNDED.into()),
                Err(e) => {
                    let shown = e.to_string();
                    *self.look_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Sighting::CannotLook(shown)
                }
            }
        })
    }

    /// No window: an account not seen is asked for again, harmlessly.
    fn invisible_for(&self) -> u64 {
        0
    }
}

/// The keeper's record of one Friendbot funding.
struct FriendbotIntent<'k> {
    keeper: &'k mut StellarArbKeeper,
    intent: Intent,
    look_error: &'k Mutex<Option<VenueError>>,
}

impl FriendbotIntent<'_> {
    fn id(&self) -> &str {
        &self.intent.account
    }
}

impl IntentRecord for FriendbotIntent<'_> {
    type Receipt = &'static str;

    fn sending(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        cx.store.write(|w| kstore::put_intent(w, &self.intent))?;
        self.keeper
            .note(&self.intent, IntentState::Sent, "asking Friendbot".into());
        Ok(())
    }

    fn done(
        &mut self,
        cx: &KeeperContext<'_>,
        result: &&'static str,
        via: Via,
    ) -> Result<(), EngineError> {
        self.keeper.settle(cx, &self.intent, result, None)?;
        self.keeper.funding_failure = None;
        if via == Via::Answer {
            let id = self.id().to_string();
            self.keeper.log(format!(
                "account {id} funded by Friendbot{}",
                if *result == "funded" {
                    ""
                } else {
                    " (it already existed)"
                }
            ));
        }
        Ok(())
    }

    /// Friendbot said no, or the look found no account: nothing was created.
    fn refused(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError> {
        self.keeper.settle(cx, &self.intent, reason, None)?;
        if reason != NOT_FUNDED {
            let message = format!("Friendbot could not fund {}: {reason}", self.id());
            self.keeper.funding_failed(cx, message);
        }
        Ok(())
    }

    fn not_sent(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError> {
        self.keeper
            .settle(cx, &self.intent, &format!("not sent: {reason}"), None)?;
        let message = format!("Friendbot could not fund {}: {reason}", self.id());
        self.keeper.funding_failed(cx, message);
        Ok(())
    }

    fn unknown(
        &mut self,
        cx: &KeeperContext<'_>,
        reason: &str,
        _: Timestamp,
    ) -> Result<(), EngineError> {
        self.keeper.note(
            &self.intent,
            IntentState::OutcomeUnknown,
            format!(
                "Friendbot gave no definite answer ({reason}); looking at the account before asking again"
            ),
        );
        let message = format!("Friendbot could not fund {}: {reason}", self.id());
        self.keeper.funding_failed(cx, message);
        Ok(())
    }

    fn still_unknown(&mut self, _: &KeeperContext<'_>, _: Option<&str>) -> Result<(), EngineError> {
        match self
            .look_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(e) => Err(venue_err(e)),
            None => Ok(()),
        }
    }

    /// Never reached: the look always decides (or could not look).
    fn window_passed(&mut self, _: &KeeperContext<'_>, _: &str) -> Result<(), EngineError> {
        Ok(())
    }

    fn send_again(&mut self, _: &KeeperContext<'_>) -> Result<(), EngineError> {
        Ok(())
    }
}
