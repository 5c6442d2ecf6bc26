//! Sends per venue and outcome, counted where every send is classified: the
//! journal's [`send`](super::send) counts each send that left (the gate was
//! open) under its [`SendPath::venue`](super::SendPath::venue) and the
//! answer's class. Held sends (the gate closed at the last instant) are not
//! sends and are not counted.
//!
//! The tally is process-wide, like the log subscriber: one engine per
//! process sends, and every strategy's send path reaches the journal without
//! carrying a counter. Readers (the metrics endpoint) take a [`SendTally::read`].

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// The class of a send's answer, as the journal decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SendOutcome {
    Done,
    Refused,
    NotSent,
    Unknown,
}

impl SendOutcome {
    pub const ALL: [SendOutcome; 4] = [
        SendOutcome::Done,
        SendOutcome::Refused,
        SendOutcome::NotSent,
        SendOutcome::Unknown,
    ];

    /// The metrics label: `done`, `refused`, `not_sent`, `unknown`.
    pub fn label(self) -> &'static str {
        match self {
            SendOutcome::Done => "done",
            SendOutcome::Refused => "refused",
            SendOutcome::NotSent => "not_sent",
            SendOutcome::Unknown => "unknown",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Sends by venue, each with a count per outcome (in [`SendOutcome::ALL`] order).
pub type SendCounts = BTreeMap<String, [u64; 4]>;

/// Counts of sends per venue and outcome.
#[derive(Debug, Default)]
pub struct SendTally {
    counts: Mutex<SendCounts>,
}

impl SendTally {
    /// The process's tally, the one the journal counts into.
    pub fn global() -> &'static SendTally {
        static TALLY: OnceLock<SendTally> = OnceLock::new();
        TALLY.get_or_init(SendTally::default)
    }

    /// One send to `venue` answered `outcome`.
    pub fn count(&self, venue: &str, outcome: SendOutcome) {
        let mut counts = self.lock();
        match counts.get_mut(venue) {
            Some(per) => per[outcome.index()] += 1,
            None => {
                let mut per = [0; 4];
                per[outcome.index()] = 1;
                counts.insert(venue.to_string(), per);
            }
        }
    }

    /// Every venue that was sent to, with its counts.
    pub fn read(&self) -> SendCounts {
        self.lock().clone()
    }

    /// One venue's count of one outcome.
    pub fn get(&self, venue: &str, outcome: SendOutcome) -> u64 {
        self.lock()
            .get(venue)
            .map(|per| per[outcome.index()])
            .unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SendCounts> {
        // Each change is one increment: a poisoned map is still a valid one.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_venue_and_outcome() {
        let tally = SendTally::default();
        tally.count("hemi", SendOutcome::Done);
        tally.count("hemi", SendOutcome::Done);
        tally.count("hemi", SendOutcome::Unknown);
        tally.count("schwab", SendOutcome::NotSent);
        assert_eq!(tally.get("hemi", SendOutcome::Done), 2);
        assert_eq!(tally.get("hemi", SendOutcome::Unknown), 1);
        assert_eq!(tally.get("hemi", SendOutcome::Refused), 0);
        assert_eq!(tally.get("nowhere", SendOutcome::Done), 0);
        let read = tally.read();
        assert_eq!(read["schwab"], [0, 0, 1, 0]);
        let labels: Vec<&str> = SendOutcome::ALL.iter().map(|o| o.label()).collect();
        assert_eq!(labels, ["done", "refused", "not_sent", "unknown"]);
    }
}
