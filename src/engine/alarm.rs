//! Alarms: conditions that stay wrong until they are not (no pass for too
//! long, passes that all fail, gas or XLM running low). One state machine for all of them: an
//! alarm is told once when it is raised, again every `realert_after` while
//! it holds (so a muted phone is not the end of it), and once more when it
//! clears. Pure: the caller says what holds now and what time it is.

use super::Notice;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What kind of alarm, as the webhook's `alarm` field names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// No engine pass has completed for `engine.liveness_after`.
    Liveness,
    /// Passes complete, but none has succeeded for `engine.liveness_after`.
    Failing,
    /// A chain's native gas balance is below its `alerts.low_gas` threshold.
    LowGas,
    /// A Stellar account's XLM is below `alerts.low_xlm`.
    LowXlm,
}

impl AlarmKind {
    pub fn name(self) -> &'static str {
        match self {
            AlarmKind::Liveness => "liveness",
            AlarmKind::Failing => "failing",
            AlarmKind::LowGas => "low_gas",
            AlarmKind::LowXlm => "low_xlm",
        }
    }
}

impl fmt::Display for AlarmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One alarm: its kind and what it is about ("engine", "hemi", an account).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AlarmId {
    pub kind: AlarmKind,
    pub subject: String,
}

impl AlarmId {
    pub fn new(kind: AlarmKind, subject: impl Into<String>) -> Self {
        Self {
            kind,
            subject: subject.into(),
        }
    }
}

/// A raised alarm as the screen and `status --json` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmView {
    pub kind: AlarmKind,
    pub subject: String,
    /// What is wrong, in words, as last observed.
    pub message: String,
    /// Milliseconds (of the alarm clock) since it was raised.
    pub for_ms: u64,
    /// How many times it has been told (1 when first raised).
    pub told: u32,
}

#[derive(Debug, Clone)]
struct Raised {
    at_ms: u64,
    last_told_ms: u64,
    told: u32,
    message: String,
}

/// Every alarm's state. Time is milliseconds on whatever monotonic clock
/// the caller keeps; it only has to move forward.
#[derive(Debug, Clone)]
pub struct Alarms {
    realert_after_ms: u64,
    raised: BTreeMap<AlarmId, Raised>,
    now_ms: u64,
}

impl Alarms {
    /// `realert_after_ms` 0 means: tell once, never again while it holds.
    pub fn new(realert_after_ms: u64) -> Self {
        Self {
            realert_after_ms,
            raised: BTreeMap::new(),
            now_ms: 0,
        }
    }

    /// `id` holds now (with `problem` saying why) or not (`None`); the
    /// notice to send, if one is due.
    pub fn observe(&mut self, id: AlarmId, problem: Option<String>, now_ms: u64) -> Option<Notice> {
        self.now_ms = self.now_ms.max(now_ms);
        let now_ms = self.now_ms;
        match (problem, self.raised.get_mut(&id)) {
            (Some(message), None) => {
                self.raised.insert(
                    id.clone(),
                    Raised {
                        at_ms: now_ms,
                        last_told_ms: now_ms,
                        told: 1,
                        message: message.clone(),
                    },
                );
                Some(Notice::Alarm {
                    alarm: id.kind,
                    subject: id.subject,
                    message,
                    repeat: 0,
                })
            }
            (Some(message), Some(raised)) => {
                raised.message = message.clone();
                let due = self.realert_after_ms > 0
                    && now_ms.saturating_sub(raised.last_told_ms) >= self.realert_after_ms;
                if !due {
                    return None;
                }
                raised.last_told_ms = now_ms;
                let repeat = raised.told;
                raised.told = raised.told.saturating_add(1);
                Some(Notice::Alarm {
                    alarm: id.kind,
                    subject: id.subject,
                    message,
                    repeat,
                })
            }
            (None, Some(_)) => {
                let raised = self.raised.remove(&id)?;
                Some(Notice::AlarmCleared {
                    alarm: id.kind,
                    subject: id.subject,
                    lasted_ms: now_ms.saturating_sub(raised.at_ms),
                })
            }
            (None, None) => None,
        }
    }

    /// Clear every alarm of `kind` whose subject is not in `present` (an
    /// account no longer configured, a chain no longer read): nothing stays
    /// raised about what is no longer watched.
    pub fn retain_subjects(
        &mut self,
        kind: AlarmKind,
        present: &[String],
        now_ms: u64,
    ) -> Vec<Notice> {
        let gone: Vec<AlarmId> = self
            .raised
            .keys()
            .filter(|id| id.kind == kind && !present.contains(&id.subject))
            .cloned()
            .collect();
        gone.into_iter()
            .filter_map(|id| self.observe(id, None, now_ms))
            .collect()
    }

    /// The raised alarms, oldest kind first.
    pub fn views(&self) -> Vec<AlarmView> {
        self.raised
            .iter()
            .map(|(id, r)| AlarmView {
                kind: id.kind,
                subject: id.subject.clone(),
                message: r.message.clone(),
                for_ms: self.now_ms.saturating_sub(r.at_ms),
                told: r.told,
            })
            .collect()
    }

    pub fn is_raised(&self, id: &AlarmId) -> bool {
        self.raised.contains_key(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gas() -> AlarmId {
        AlarmId::new(AlarmKind::LowGas, "hemi")
    }

    fn low() -> Option<String> {
        Some("0.001 ETH, below 0.01".into())
    }

    #[test]
    fn raised_once_repeated_after_the_interval_then_cleared_once() {
        let mut a = Alarms::new(1_000);
        let first = a.observe(gas(), low(), 0);
        assert!(
            matches!(first, Some(Notice::Alarm { repeat: 0, .. })),
            "{first:?}"
        );
        assert_eq!(
            a.observe(gas(), low(), 500),
            None,
            "no repeat before the interval"
        );
        assert_eq!(a.observe(gas(), low(), 999), None);
        let again = a.observe(gas(), low(), 1_000);
        assert!(
            matches!(again, Some(Notice::Alarm { repeat: 1, .. })),
            "{again:?}"
        );
        assert_eq!(
            a.observe(gas(), low(), 1_500),
            None,
            "interval counted from the repeat"
        );
        assert_eq!(a.views()[0].told, 2);
        assert_eq!(a.views()[0].for_ms, 1_500);
        let cleared = a.observe(gas(), None, 2_200);
        assert_eq!(
            cleared,
            Some(Notice::AlarmCleared {
                alarm: AlarmKind::LowGas,
                subject: "hemi".into(),
                lasted_ms: 2_200
            })
        );
        assert_eq!(a.observe(gas(), None, 2_300), None, "cleared once");
        assert!(a.views().is_empty());
    }

    #[test]
    fn zero_interval_tells_once_and_subjects_are_apart() {
        let mut a = Alarms::new(0);
        assert!(a.observe(gas(), low(), 0).is_some());
        assert_eq!(a.observe(gas(), low(), 10_000_000), None);
        let eth = AlarmId::new(AlarmKind::LowGas, "ethereum");
        assert!(
            a.observe(eth.clone(), low(), 1).is_some(),
            "another chain is another alarm"
        );
        let gone = a.retain_subjects(AlarmKind::LowGas, &["ethereum".into()], 5);
        assert_eq!(gone.len(), 1, "hemi no longer watched: cleared");
        assert!(a.is_raised(&eth) && !a.is_raised(&gas()));
    }

    #[test]
    fn a_clock_that_steps_back_does_not_repeat_early() {
        let mut a = Alarms::new(1_000);
        a.observe(gas(), low(), 5_000);
        assert_eq!(a.observe(gas(), low(), 100), None);
        assert_eq!(a.observe(gas(), low(), 5_999), None);
        assert!(a.observe(gas(), low(), 6_000).is_some());
    }
}
