//! Open intents as every strategy reports them: one send whose outcome is
//! not settled yet (committed and not sent, sent and awaiting its answer,
//! sent with an unknown outcome and being looked for, or halted for the
//! operator). The snapshot lists them all with their age, what arbkeep is
//! doing about each, and the verb that resolves it; `Command::Resolve` is
//! the one operator path for a stuck item of any strategy.

use crate::model::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an open intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntentState {
    /// Committed; not sent yet (or sent and refused, waiting to send again).
    Committed,
    /// Sent; its answer is awaited (an order working, a transaction pending).
    Sent,
    /// Sent, and the answer never came or could not be read: looked for,
    /// never sent again, until the venue shows it or proves it absent.
    OutcomeUnknown,
    /// The strategy cannot settle it by itself: the operator decides.
    Halted,
}

impl IntentState {
    pub fn label(self) -> &'static str {
        match self {
            IntentState::Committed => "COMMITTED",
            IntentState::Sent => "SENT",
            IntentState::OutcomeUnknown => "OUTCOME UNKNOWN",
            IntentState::Halted => "HALTED",
        }
    }

    /// Needs a person to look (shown loud).
    pub fn is_alarm(self) -> bool {
        matches!(self, IntentState::OutcomeUnknown | IntentState::Halted)
    }
}

/// One open intent as the screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIntentView {
    /// Unique across strategies, as `Command::Resolve` names it ("h12", "s:ab12…", "c3").
    pub id: String,
    /// The strategy that owns it ("equity_hedge", "stellar_arb", "cross_chain_loop").
    pub strategy: String,
    /// What was (or will be) sent, in words ("SELL 2 AAPL at schwab").
    pub what: String,
    pub state: IntentState,
    /// When the intent was committed (its age is `now - since`).
    pub since: Timestamp,
    /// What arbkeep is doing about it now ("looking for it at Schwab until 14:32").
    pub doing: String,
    /// How the operator resolves it ("arbkeep resolve h12 settle|drop|retry --reason …").
    pub resolve: String,
    /// Looking can no longer conclude by itself (its window passed and
    /// nothing is sent again, or the venue cannot prove it either way):
    /// it waits for the operator. A drain does not wait for it.
    #[serde(default)]
    pub awaits_operator: bool,
}

/// What the operator decides about an open intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Look again now and book whatever the venue shows; with evidence (an
    /// order id, a transaction hash), that is the send's result.
    Settle,
    /// It did not happen and will not: close it without sending (the
    /// strategy gives back what it held for it).
    Drop,
    /// Send it again although its first outcome is unknown: the operator has
    /// checked that the first attempt is absent.
    Retry,
}

impl Resolution {
    pub fn word(self) -> &'static str {
        match self {
            Resolution::Settle => "settle",
            Resolution::Drop => "drop",
            Resolution::Retry => "retry",
        }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl std::str::FromStr for Resolution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "settle" => Ok(Resolution::Settle),
            "drop" => Ok(Resolution::Drop),
            "retry" => Ok(Resolution::Retry),
            other => Err(format!("{other:?} is not settle, drop or retry")),
        }
    }
}

/// The verb that resolves intent `id`, as the screen shows it.
pub fn resolve_hint(id: &str) -> String {
    format!("arbkeep resolve {id} settle|drop|retry --reason …")
}
