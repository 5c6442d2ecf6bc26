//! The intent journal's protocol: the one way a strategy sends money and
//! settles what it sent. The strategy keeps the intent in its own tables
//! ([`IntentRecord`]: each transition is one durable write); the venue
//! answers three questions ([`SendPath`]: send, look, and how long a lost
//! answer can stay invisible). The journal decides everything between:
//!
//! - the send gate is read at the last instant, and the intent is recorded
//!   as *sending* before anything leaves (after a crash, it may have);
//! - the answer is classified once ([`Answer::of`]): done, refused (the
//!   peer proves nothing happened), not sent (it never left us), or
//!   unknown;
//! - an unknown is settled only by looking, over the window the venue
//!   declares; it is never sent again unless the venue proves it absent,
//!   the operator retries it, or the strategy opted in to sending again
//!   once the window has passed ([`AfterWindow`]).
//!
//! Every send that leaves is counted by venue and outcome ([`tally`]).

use super::{EngineError, KeeperContext};
use crate::model::Timestamp;
use crate::venue::VenueError;
use futures_util::future::BoxFuture;

pub mod tally;
pub use tally::{SendOutcome, SendTally};

/// A venue's answer to one send, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<R> {
    /// It happened, or the venue holds it: an order id, a fill, a receipt.
    Done(R),
    /// The peer answered and proves nothing happened.
    Refused(String),
    /// It never left us (refused before any byte went out): nothing can
    /// exist, and it may go again.
    NotSent(String),
    /// Anything else — a reset, a timeout, a 5xx or 429 after forwarding, a
    /// cut or unreadable body: it may have happened.
    Unknown(String),
}

impl<R> Answer<R> {
    /// The one reading of a venue adapter's result: `Rejected` is the
    /// peer's refusal, `Transient` a send that never left, `Unknown`
    /// anything that may have acted.
    pub fn of(result: Result<R, VenueError>) -> Self {
        match result {
            Ok(r) => Answer::Done(r),
            Err(VenueError::Rejected(why)) => Answer::Refused(why),
            Err(VenueError::Transient(why)) => Answer::NotSent(why),
            Err(VenueError::Unknown(why)) => Answer::Unknown(why),
        }
    }

    /// Its class, for the count of sends.
    pub fn outcome(&self) -> SendOutcome {
        match self {
            Answer::Done(_) => SendOutcome::Done,
            Answer::Refused(_) => SendOutcome::Refused,
            Answer::NotSent(_) => SendOutcome::NotSent,
            Answer::Unknown(_) => SendOutcome::Unknown,
        }
    }
}

/// What looking for a send of unknown outcome found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sighting<R> {
    /// The venue shows it: its result.
    Found(R),
    /// Not seen, which proves nothing while the answer may be invisible.
    NotSeen,
    /// The venue proves it never happened and never will (expired, its
    /// sequence or nonce used by something else).
    Absent(String),
    /// The venue could not be asked, or its answer could not be read:
    /// nothing is concluded.
    CannotLook(String),
    /// Past the time it could appear, and the venue cannot prove it either
    /// way (its history no longer reaches back): the operator's.
    Unprovable(String),
}

/// How a send was carried (the record's notices say which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The venue's answer to the send.
    Answer,
    /// Found by looking after the answer was lost.
    Look,
}

/// One venue's send path for one intent: the three questions.
pub trait SendPath: Sync {
    type Receipt: Send;

    /// The venue sends go to, for the count of sends per venue
    /// ([`tally`]): a fixed name ("hemi", "stargate", "schwab",
    /// "stellar"), never an address or anything secret.
    fn venue(&self) -> &str;

    /// Send it once and classify the answer.
    fn send(&self) -> BoxFuture<'_, Answer<Self::Receipt>>;

    /// Look for it at the venue; never sends.
    fn look(&self) -> BoxFuture<'_, Sighting<Self::Receipt>>;

    /// How long (ms) after a send its effect can stay invisible to `look`:
    /// a broker's listing lag, a node behind its peers.
    fn invisible_for(&self) -> u64;
}

/// The strategy's durable record of one intent. Each method is one store
/// transaction of the strategy's own tables (and what it tells people,
/// after the write).
pub trait IntentRecord {
    type Receipt;

    /// The send gate for this intent, read at the last instant: recovered,
    /// not paused, not draining (a strategy that finishes open work while
    /// draining, or pauses per token, says so here).
    fn may_send(&self, cx: &KeeperContext<'_>) -> bool {
        cx.may_send()
    }

    /// Intent before action: a send is about to leave.
    fn sending(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError>;

    /// It happened: book it.
    fn done(
        &mut self,
        cx: &KeeperContext<'_>,
        receipt: &Self::Receipt,
        via: Via,
    ) -> Result<(), EngineError>;

    /// The peer refused it, or proved it absent: give back what it held.
    fn refused(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError>;

    /// It never left: it may be sent again.
    fn not_sent(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError>;

    /// It may have happened: OUTCOME UNKNOWN, looked for until `look_until`.
    fn unknown(
        &mut self,
        cx: &KeeperContext<'_>,
        reason: &str,
        look_until: Timestamp,
    ) -> Result<(), EngineError>;

    /// Still unknown after a look; `note` says why nothing could be
    /// concluded (`None`: simply not seen yet).
    fn still_unknown(
        &mut self,
        cx: &KeeperContext<'_>,
        note: Option<&str>,
    ) -> Result<(), EngineError>;

    /// The window passed and it was never seen, or the venue cannot prove
    /// it either way (`why`): the operator decides.
    fn window_passed(&mut self, cx: &KeeperContext<'_>, why: &str) -> Result<(), EngineError>;

    /// Opted in to sending again after the window: it becomes sendable
    /// anew (committed now), with an audit line saying why.
    fn send_again(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError>;
}

/// What a strategy does with a send still unseen once its window passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterWindow {
    /// Nothing is sent again: the operator settles, drops or retries it.
    Operator,
    /// Send it again (when the gate allows): the strategy's explicit opt-in.
    SendAgain,
    /// Opted in, but the venue cannot take it now (a closed market): it
    /// stays unknown and is looked for until it can.
    NotNow,
}

/// What became of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The gate was closed at the last instant: nothing left, nothing recorded.
    Held,
    Done,
    Refused,
    NotSent,
    /// OUTCOME UNKNOWN, looked for until then.
    Unknown {
        look_until: Timestamp,
    },
}

/// What a look concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Looked {
    Done,
    /// Proven absent: closed as refused.
    Absent,
    /// Not seen (or could not look), inside the window: still unknown.
    Looking,
    /// Not seen once the window passed: left to the operator.
    Operator,
    /// Not seen once the window passed and sent again (opted in).
    SentAgain(Sent),
}

/// Send one intent: gate, record, send, classify, record.
pub async fn send<P, R>(
    cx: &KeeperContext<'_>,
    path: &P,
    record: &mut R,
) -> Result<Sent, EngineError>
where
    P: SendPath,
    R: IntentRecord<Receipt = P::Receipt>,
{
    // The gate at the last instant: a pause can arrive mid-pass.
    if !record.may_send(cx) {
        return Ok(Sent::Held);
    }
    record.sending(cx)?;
    let answer = path.send().await;
    SendTally::global().count(path.venue(), answer.outcome());
    Ok(match answer {
        Answer::Done(receipt) => {
            record.done(cx, &receipt, Via::Answer)?;
            Sent::Done
        }
        Answer::Refused(why) => {
            record.refused(cx, &why)?;
            Sent::Refused
        }
        Answer::NotSent(why) => {
            record.not_sent(cx, &why)?;
            Sent::NotSent
        }
        Answer::Unknown(why) => {
            let look_until = cx.now.saturating_add(path.invisible_for());
            record.unknown(cx, &why, look_until)?;
            Sent::Unknown { look_until }
        }
    })
}

/// Look for a send of unknown outcome (looked for until `look_until`) and
/// settle it if the venue has decided. Sends only when `after` opts in and
/// the window has passed.
pub async fn look<P, R>(
    cx: &KeeperContext<'_>,
    path: &P,
    record: &mut R,
    look_until: Timestamp,
    after: AfterWindow,
) -> Result<Looked, EngineError>
where
    P: SendPath,
    R: IntentRecord<Receipt = P::Receipt>,
{
    Ok(match path.look().await {
        Sighting::Found(receipt) => {
            record.done(cx, &receipt, Via::Look)?;
            Looked::Done
        }
        Sighting::Absent(why) => {
            record.refused(cx, &why)?;
            Looked::Absent
        }
        Sighting::CannotLook(why) => {
            record.still_unknown(cx, Some(&format!("cannot look: {why}")))?;
            Looked::Looking
        }
        Sighting::Unprovable(why) => {
            record.window_passed(cx, &why)?;
            Looked::Operator
        }
        Sighting::NotSeen if cx.now < look_until => {
            record.still_unknown(cx, None)?;
            Looked::Looking
        }
        Sighting::NotSeen => match after {
            AfterWindow::Operator => {
                record.window_passed(cx, "not seen within the window")?;
                Looked::Operator
            }
            AfterWindow::SendAgain if record.may_send(cx) => {
                record.send_again(cx)?;
                Looked::SentAgain(send(cx, path, record).await?)
            }
            // Opted in, but the gate is closed or the venue cannot take
            // it now: it waits, unknown.
            AfterWindow::SendAgain | AfterWindow::NotNow => Looked::Looking,
        },
    })
}

#[cfg(test)]
mod tests;
