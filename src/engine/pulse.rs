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
//! A pass that returned an error still completed (the engine goes on to the
//! next); it counts in [`Pulse::passes`] and in [`Pulse::failed_passes`].

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
    durations: PassDurations,
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
            durations: PassDurations::default(),
        }
    }

    /// A pass ended now after `took`; `ok` is false when it returned an error.
    pub fn record(&self, took: Duration, ok: bool) {
        let end = nanos(self.origin.elapsed()).saturating_add(1);
        self.last_duration.store(nanos(took), Ordering::Relaxed);
        self.durations.observe(took);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.last_end.store(end, Ordering::Release);
        self.passes.fetch_add(1, Ordering::Release);
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

    /// Every pass's duration so far, by bucket.
    pub fn durations(&self) -> DurationCounts {
        self.durations.read()
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
        pulse.record(Duration::from_millis(3), true);
        pulse.record(Duration::from_millis(70), false);
        pulse.record(Duration::from_secs(90), true);
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
}
