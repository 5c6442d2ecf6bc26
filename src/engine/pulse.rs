//! The engine's pulse: how many passes it has completed, how long each took,
//! and when the last one ended — kept in atomics behind an `Arc`, so anything
//! in the process (the metrics endpoint, a liveness watchdog) reads it at any
//! time without asking the engine, and a reader never slows a pass.
//!
//! It measures the *process*, not the world: times are the monotonic clock
//! of this machine ([`Instant`]), not the engine's [`Clock`](crate::model::Clock)
//! (which runs scaled in paper mode and manual in tests). "The last pass
//! ended 40 s ago" means 40 wall seconds, whatever the paper speed.
//!
//! A pass is one [`Engine::tick`](super::Engine::tick): refresh, plan,
//! reconcile, every keeper's tick, publish. Recovery is not a pass: until the
//! first pass after it, [`Pulse::last_pass_completed_at`] is `None` and
//! [`Pulse::started_at`] says since when the engine has been waiting for one.
//! A pass that failed still completed (the engine goes on to the next); it
//! counts in [`Pulse::passes`] and in [`Pulse::failed_passes`]. A pass fails
//! when it returned an error or a keeper's recovery or tick did. The pulse
//! also keeps when the last pass *succeeded* and, while passes fail, why the
//! last one did (cut short): [`Pulse::failing`] is what the watchdog's
//! `failing` alarm reads — an engine whose every pass fails is alive but
//! doing nothing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
// tokio's clock: a test with paused time drives the pulse and its watchdog.
use tokio::time::Instant;

/// Upper bounds (milliseconds) of the pass-duration buckets; a last bucket takes
/// everything slower. From a paper pass (a few ms) to a pass held by a slow
/// venue (a minute).
pub const PASS_DURATION_BOUNDS_MS: [u64; 13] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
];

/// The pulse of one engine. Cheap to read from any thread.
#[derive(Debug)]
pub struct Pulse {
    /// When the pulse was made (with the engine): the origin of the stamps below.
    origin: Instant,
    passes: AtomicU64,
    failed: AtomicU64,
    /// Nanoseconds from `origin` to the end of the last pass, plus one (0: none yet).
    last_end: AtomicU64,
    /// Nanoseconds the last pass took.
    last_duration: AtomicU64,
    /// As `last_end`, for the last pass that succeeded.
    last_ok_end: AtomicU64,
    /// Since the last success: failed passes in a row, and the last one's
    /// reason. `None` while the last pass succeeded (or before any).
    failing: Mutex<Option<(u64, String)>>,
    durations: PassDurations,
}

/// How long the engine has been quiet, read at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quiet {
    /// Since the last pass ended (before the first: since the engine was made).
    pub since_pass: Duration,
    /// Since the last successful pass ended (before the first: since the
    /// engine was made). Never less than `since_pass`.
    pub since_success: Duration,
}

/// The most of a failed pass's reason the pulse keeps.
pub const REASON_MAX_CHARS: usize = 200;

/// Passes are failing: since when none has succeeded, and why the last failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    /// Since the last successful pass ended (or, when none has, since the
    /// engine was made).
    pub for_: Duration,
    /// Failed passes since the last success.
    pub in_a_row: u64,
    /// The last failed pass's reason, at most [`REASON_MAX_CHARS`].
    pub last_error: String,
}

impl Default for Pulse {
    fn default() -> Self {
        Self::new()
    }
}

impl Pulse {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            passes: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
            last_duration: AtomicU64::new(0),
            last_ok_end: AtomicU64::new(0),
            failing: Mutex::new(None),
            durations: PassDurations::default(),
        }
    }

    /// A pass ended now after `took`; `error` says why when it failed.
    pub fn record(&self, took: Duration, error: Option<&str>) {
        let end = nanos(self.origin.elapsed()).saturating_add(1);
        self.last_duration.store(nanos(took), Ordering::Relaxed);
        self.durations.observe(took);
        {
            let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
            match error {
                Some(why) => {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    let in_a_row = failing.as_ref().map_or(0, |(n, _)| *n) + 1;
                    *failing = Some((in_a_row, short(why)));
                }
                None => *failing = None,
            }
        }
        // The last end first, then the last success: a reader that loads the
        // success first (see `quiet`) never sees a success after the last end.
        self.last_end.store(end, Ordering::Release);
        if error.is_none() {
            self.last_ok_end.store(end, Ordering::Release);
        }
        self.passes.fetch_add(1, Ordering::Release);
    }

    /// When the last successful pass ended; `None` before the first.
    pub fn last_success_at(&self) -> Option<Instant> {
        match self.last_ok_end.load(Ordering::Acquire) {
            0 => None,
            end => Some(self.origin + Duration::from_nanos(end - 1)),
        }
    }

    /// Time since the last successful pass ended or, before the first, since
    /// the engine was made.
    pub fn since_success(&self) -> Duration {
        self.last_success_at().unwrap_or(self.origin).elapsed()
    }

    /// `Some` while the last completed pass failed: for how long none has
    /// succeeded, how many failed, and the last reason.
    pub fn failing(&self) -> Option<Failing> {
        let failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        let (in_a_row, last_error) = failing.as_ref()?;
        Some(Failing {
            for_: self.since_success(),
            in_a_row: *in_a_row,
            last_error: last_error.clone(),
        })
    }

    /// When the engine (and this pulse) was made.
    pub fn started_at(&self) -> Instant {
        self.origin
    }

    /// Passes completed since the engine was made, failed ones included.
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Acquire)
    }

    /// Passes that returned an error.
    pub fn failed_passes(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// When the last pass ended; `None` before the first.
    pub fn last_pass_completed_at(&self) -> Option<Instant> {
        match self.last_end.load(Ordering::Acquire) {
            0 => None,
            end => Some(self.origin + Duration::from_nanos(end - 1)),
        }
    }

    /// How long the last pass took; `None` before the first.
    pub fn last_pass_duration(&self) -> Option<Duration> {
        self.last_pass_completed_at()
            .map(|_| Duration::from_nanos(self.last_duration.load(Ordering::Relaxed)))
    }

    /// Time since the last pass ended or, before the first, since the engine
    /// was made: what a watchdog compares with its limit.
    pub fn quiet_for(&self) -> Duration {
        self.last_pass_completed_at()
            .unwrap_or(self.origin)
            .elapsed()
    }

    /// Time since the last pass and since the last successful pass, read
    /// together against one `now`: the second is never less than the first,
    /// however a pass ends between the reads.
    pub fn quiet(&self) -> Quiet {
        let ok_end = self.last_ok_end.load(Ordering::Acquire);
        let end = self.last_end.load(Ordering::Acquire);
        let now = Instant::now();
        let since = |stamp: u64| match stamp {
            0 => now.saturating_duration_since(self.origin),
            e => now.saturating_duration_since(self.origin + Duration::from_nanos(e - 1)),
        };
        Quiet {
            since_pass: since(end),
            since_success: since(ok_end),
        }
    }

    /// Every pass's duration so far, by bucket.
    pub fn durations(&self) -> DurationCounts {
        self.durations.read()
    }
}

/// `why` on one line, at most [`REASON_MAX_CHARS`].
fn short(why: &str) -> String {
    let line = why.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(REASON_MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Pass durations counted into the buckets of [`PASS_DURATION_BOUNDS_MS`].
#[derive(Debug, Default)]
struct PassDurations {
    /// One per bound, and one more for slower passes.
    buckets: [AtomicU64; PASS_DURATION_BOUNDS_MS.len() + 1],
    sum_nanos: AtomicU64,
}

impl PassDurations {
    fn observe(&self, took: Duration) {
        let micros = took.as_micros();
        let bucket = PASS_DURATION_BOUNDS_MS
            .iter()
            .position(|bound_ms| micros <= u128::from(*bound_ms) * 1_000)
            .unwrap_or(PASS_DURATION_BOUNDS_MS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos(took), Ordering::Relaxed);
    }

    fn read(&self) -> DurationCounts {
        DurationCounts {
            per_bucket: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            sum: Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)),
        }
    }
}

/// A reading of the pass durations: how many passes fell in each bucket
/// (not cumulative) and their total time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationCounts {
    /// `per_bucket[i]`: passes that took at most `PASS_DURATION_BOUNDS_MS[i]`
    /// and more than the bound before; the last: slower than every bound.
    pub per_bucket: [u64; PASS_DURATION_BOUNDS_MS.len() + 1],
    pub sum: Duration,
}

impl DurationCounts {
    pub fn count(&self) -> u64 {
        self.per_bucket.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_pulse_has_no_pass_and_counts_quiet_time_from_its_start() {
        let pulse = Pulse::new();
        assert_eq!(pulse.passes(), 0);
        assert_eq!(pulse.last_pass_completed_at(), None);
        assert_eq!(pulse.last_pass_duration(), None);
        assert!(pulse.quiet_for() >= Duration::ZERO);
        assert_eq!(pulse.durations().count(), 0);
    }

    #[test]
    fn each_pass_is_counted_with_its_duration_and_end() {
        let pulse = Pulse::new();
        let before = Instant::now();
        pulse.record(Duration::from_millis(3), None);
        pulse.record(Duration::from_millis(70), Some("venue down"));
        pulse.record(Duration::from_secs(90), None);
        assert_eq!(pulse.passes(), 3);
        assert_eq!(pulse.failed_passes(), 1);
        assert_eq!(pulse.last_pass_duration(), Some(Duration::from_secs(90)));
        let end = pulse.last_pass_completed_at().expect("a pass ended");
        assert!(end >= before && end <= Instant::now());
        let d = pulse.durations();
        assert_eq!(d.count(), 3);
        assert_eq!(d.per_bucket[0], 1, "3 ms: the first bucket (≤ 5 ms)");
        assert_eq!(d.per_bucket[4], 1, "70 ms: ≤ 100 ms");
        assert_eq!(
            d.per_bucket[PASS_DURATION_BOUNDS_MS.len()],
            1,
            "90 s: slower than all"
        );
        assert_eq!(d.sum, Duration::from_millis(90_073));
    }

    #[test]
    fn quiet_never_puts_a_success_after_the_last_pass_while_passes_end() {
        let pulse = std::sync::Arc::new(Pulse::new());
        let writer = {
            let pulse = pulse.clone();
            std::thread::spawn(move || {
                for i in 0..20_000u32 {
                    let error = (i % 3 == 0).then_some("venue down");
                    pulse.record(Duration::from_micros(1), error);
                }
            })
        };
        let mut reads = 0u64;
        while !writer.is_finished() || reads == 0 {
            let q = pulse.quiet();
            assert!(q.since_success >= q.since_pass, "{q:?} after {reads} reads");
            reads += 1;
        }
        writer.join().expect("writer");
        let q = pulse.quiet();
        assert!(q.since_success >= q.since_pass, "{q:?}");
    }

    #[test]
    fn failing_passes_are_counted_since_the_last_success_with_the_last_reason() {
        let pulse = Pulse::new();
        assert_eq!(pulse.failing(), None, "no pass yet: not failing");
        assert_eq!(pulse.last_success_at(), None);
        pulse.record(Duration::from_millis(1), Some("venue down"));
        let long = format!("keeper stalling:\n{}", "x".repeat(500));
        pulse.record(Duration::from_millis(1), Some(&long));
        let failing = pulse.failing().expect("failing");
        assert_eq!(failing.in_a_row, 2);
        assert!(failing.last_error.starts_with("keeper stalling: xx"));
        assert_eq!(failing.last_error.chars().count(), REASON_MAX_CHARS + 1);
        assert!(failing.last_error.ends_with('…'));
        assert_eq!(pulse.last_success_at(), None, "none succeeded yet");
        pulse.record(Duration::from_millis(1), None);
        assert_eq!(pulse.failing(), None, "a success clears it");
        assert_eq!(pulse.last_success_at(), pulse.last_pass_completed_at());
        pulse.record(Duration::from_millis(1), Some("again"));
        assert_eq!(pulse.failing().map(|f| f.in_a_row), Some(1));
        assert_eq!(pulse.failed_passes(), 3);
    }
}
