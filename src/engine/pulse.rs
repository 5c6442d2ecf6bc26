//! The engine's pulse: how many passes have completed, when the last one
//! did and how long it took. Written by the engine after every pass (and
//! after recovery), read lock-free by whatever watches it from outside the
//! engine's loop (the liveness watchdog, metrics). Time is tokio's
//! monotonic clock, so a test with paused time drives it deterministically.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// No pass has completed yet.
const NEVER: u64 = u64::MAX;

#[derive(Debug)]
pub struct Pulse {
    born: Instant,
    passes: AtomicU64,
    /// Milliseconds after `born` of the last completion, or `NEVER`.
    last_done_ms: AtomicU64,
    last_duration_us: AtomicU64,
}

impl Default for Pulse {
    fn default() -> Self {
        Self::new()
    }
}

impl Pulse {
    pub fn new() -> Self {
        Self {
            born: Instant::now(),
            passes: AtomicU64::new(0),
            last_done_ms: AtomicU64::new(NEVER),
            last_duration_us: AtomicU64::new(0),
        }
    }

    /// A pass (or recovery) that started at `started` has just completed.
    pub fn beat(&self, started: Instant) {
        let now = Instant::now();
        let took = now.saturating_duration_since(started);
        let at = u64::try_from(now.saturating_duration_since(self.born).as_millis())
            .unwrap_or(NEVER - 1);
        self.last_duration_us.store(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.last_done_ms.store(at, Ordering::Relaxed);
        self.passes.fetch_add(1, Ordering::Relaxed);
    }

    /// Completed passes (recovery counts as one).
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Relaxed)
    }

    /// Time since the last completed pass, or since the engine was built
    /// when none has completed yet (a recovery that hangs is quiet too).
    pub fn since_last_pass(&self) -> Duration {
        let elapsed = Instant::now().saturating_duration_since(self.born);
        match self.last_done_ms.load(Ordering::Relaxed) {
            NEVER => elapsed,
            at => elapsed.saturating_sub(Duration::from_millis(at)),
        }
    }

    /// How long the last completed pass took.
    pub fn last_pass_duration(&self) -> Option<Duration> {
        (self.passes() > 0)
            .then(|| Duration::from_micros(self.last_duration_us.load(Ordering::Relaxed)))
    }

    /// Milliseconds since this pulse was made: the watchdog's alarm clock.
    pub fn age_ms(&self) -> u64 {
        u64::try_from(
            Instant::now()
                .saturating_duration_since(self.born)
                .as_millis(),
        )
        .unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_beats_and_measures_the_quiet_since_the_last() {
        let pulse = Pulse::new();
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(pulse.passes(), 0);
        assert_eq!(
            pulse.since_last_pass(),
            Duration::from_secs(3),
            "quiet since birth"
        );
        assert_eq!(pulse.last_pass_duration(), None);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_millis(250)).await;
        pulse.beat(started);
        assert_eq!(pulse.passes(), 1);
        assert_eq!(pulse.last_pass_duration(), Some(Duration::from_millis(250)));
        tokio::time::sleep(Duration::from_secs(7)).await;
        assert_eq!(pulse.since_last_pass(), Duration::from_secs(7));
        assert_eq!(pulse.age_ms(), 10_250);
    }
}
