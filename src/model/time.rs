//! Time as an injected `Clock` (docs/architecture.md §2, R6): the real clock, a clock that runs
//! the simulated world faster than the wall, and a manual one for tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub type Timestamp = u64;

pub const SECOND: u64 = 1_000;
pub const MINUTE: u64 = 60 * SECOND;
pub const HOUR: u64 = 60 * MINUTE;
pub const DAY: u64 = 24 * HOUR;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// Simulated time that starts at `origin` and runs `speed_milli / 1000`
/// times as fast as the wall. Never goes backwards.
#[derive(Debug)]
pub struct ScaledClock {
    origin: Timestamp,
    started: Instant,
    speed_milli: u64,
}

impl ScaledClock {
    pub fn new(origin: Timestamp, speed_milli: u64) -> Self {
        Self {
            origin,
            started: Instant::now(),
            speed_milli,
        }
    }

    pub fn speed_milli(&self) -> u64 {
        self.speed_milli
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        let wall_ms = self.started.elapsed().as_millis() as u64;
        self.origin + wall_ms.saturating_mul(self.speed_milli) / 1000
    }
}

/// A clock that moves only when told to: deterministic tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicU64::new(start))
    }
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn set(&self, at: Timestamp) {
        self.0.store(at, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.load(Ordering::SeqCst)
    }
}

/// The UTC day number of a timestamp (days since the epoch), for daily roll-ups.
pub fn day_of(at: Timestamp) -> u64 {
    at / DAY
}

/// `YYYY-MM-DD` of a UTC day number (civil-from-days, Howard Hinnant).
pub fn format_day(day: u64) -> String {
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The UTC day number of `YYYY-MM-DD` (days-from-civil, Howard Hinnant);
/// the inverse of [`format_day`]. Refuses days before 1970 and days that do
/// not exist (2026-02-30).
pub fn parse_day(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a date (expected YYYY-MM-DD, UTC)");
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, m, d) = match (digits(0..4), digits(5..7), digits(8..10)) {
        (Some(y), Some(m), Some(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    if y < 1970 || !(1..=12).contains(&m) || d < 1 {
        return Err(bad());
    }
    let ym = if m <= 2 { y - 1 } else { y };
    let era = ym.div_euclid(400);
    let yoe = ym - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let day = u64::try_from(era * 146_097 + doe - 719_468).map_err(|_| bad())?;
    // 2026-02-30 computes to 2026-03-02: refuse days a month does not have.
    if format_day(day) != text {
        return Err(bad());
    }
    Ok(day)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`: RFC 3339 in UTC, to the millisecond.
pub fn format_rfc3339(at: Timestamp) -> String {
    let secs = at / SECOND;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    format!(
        "{}T{h:02}:{m:02}:{s:02}.{:03}Z",
        format_day(day_of(at)),
        at % SECOND
    )
}

/// `YYYY-MM-DD HH:MM:SS` UTC.
pub fn format_time(at: Timestamp) -> String {
    let secs = at / SECOND;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    format!("{} {h:02}:{m:02}:{s:02}", format_day(day_of(at)))
}

/// A short human duration: "23h 12m", "4m 05s", "12s".
pub fn format_duration(ms: u64) -> String {
    let secs = ms / SECOND;
    if secs >= 86_400 {
        format!("{}d {}h", secs / 86_400, (secs % 86_400) / 3600)
    } else if secs >= 3600 {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_days_and_durations() {
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_time(1_767_225_600_000), "2026-01-01 00:00:00");
        assert_eq!(format_duration(23 * HOUR + 12 * MINUTE), "23h 12m");
        assert_eq!(format_duration(65 * SECOND), "1m 05s");
    }

    #[test]
    fn days_parse_back_to_what_format_day_printed() {
        for day in [0, 1, 59, 60, 10_956, 20_454, 20_513, 30_000] {
            assert_eq!(parse_day(&format_day(day)), Ok(day), "{}", format_day(day));
        }
        assert_eq!(parse_day("2026-01-01"), Ok(1_767_225_600_000 / DAY));
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-01",
            "1969-12-31",
            "yesterday",
            "2026-01-01T00:00",
            "+026-01-01",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format_rfc3339(1_767_225_600_000 + 90_061_001),
            "2026-01-02T01:01:01.001Z"
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(10);
        assert_eq!(c.now(), 10);
        c.advance(5);
        assert_eq!(c.now(), 15);
    }
}
