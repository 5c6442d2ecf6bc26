//! The period of an export or a P&L: `--since DAY` (from its start, 00:00
//! UTC) and `--until DAY`, which *includes* that day (the period ends at the
//! start of the next one); no `--until` means up to now. A record belongs to
//! a period by one time of its own, named in `records::What::dated_by`.

use crate::model::Timestamp;
use crate::model::time::{DAY, format_day, parse_day};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PeriodError {
    #[error("{0}")]
    NotADate(String),
    #[error("--until {until} is before --since {since}")]
    Backwards { since: String, until: String },
}

/// A UTC day (`YYYY-MM-DD`), as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(pub u64);

impl FromStr for Day {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_day(s.trim()).map(Day).map_err(PeriodError::NotADate)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_day(self.0))
    }
}

impl Day {
    /// 00:00:00.000 UTC of the day.
    pub fn start(self) -> Timestamp {
        self.0.saturating_mul(DAY)
    }
}

/// `[since, until)` in milliseconds; `until` `None` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Period {
    pub since: Timestamp,
    pub until: Option<Timestamp>,
}

impl Period {
    /// Everything.
    pub const ALL: Period = Period {
        since: 0,
        until: None,
    };

    /// From the start of `since` to the end of `until` (inclusive).
    pub fn days(since: Option<Day>, until: Option<Day>) -> Result<Period, PeriodError> {
        if let (Some(s), Some(u)) = (since, until)
            && u < s
        {
            return Err(PeriodError::Backwards {
                since: s.to_string(),
                until: u.to_string(),
            });
        }
        Ok(Period {
            since: since.map_or(0, Day::start),
            until: until.map(|u| Day(u.0.saturating_add(1)).start()),
        })
    }

    pub fn contains(&self, at: Timestamp) -> bool {
        at >= self.since && self.until.is_none_or(|u| at < u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    #[test]
    fn until_includes_its_day_and_since_starts_at_midnight() {
        let p = Period::days(Some(day("2026-01-02")), Some(day("2026-01-02"))).unwrap();
        let start = day("2026-01-02").start();
        assert_eq!(p.since, start);
        assert_eq!(p.until, Some(start + DAY));
        assert!(p.contains(start));
        assert!(p.contains(start + DAY - 1));
        assert!(!p.contains(start + DAY));
        assert!(!p.contains(start - 1));
        let open = Period::days(Some(day("2026-01-02")), None).unwrap();
        assert!(open.contains(u64::MAX));
        assert!(Period::ALL.contains(0));
    }

    #[test]
    fn a_backwards_period_and_a_bad_day_are_refused() {
        let e = Period::days(Some(day("2026-01-03")), Some(day("2026-01-02"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--until 2026-01-02 is before --since 2026-01-03"
        );
        assert!("2026-01-32".parse::<Day>().is_err());
        assert_eq!(day("2026-01-01").to_string(), "2026-01-01");
    }
}
