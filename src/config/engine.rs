//! `[engine]`: the reconcile loop's pacing, its limits per pass, retries,
//! when a cycle counts as stuck, and the liveness and shutdown timings.

use super::ConfigError;
use super::reader::Reader;
use crate::model::time::{HOUR, MINUTE, SECOND};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Simulated/real milliseconds between reconcile passes.
    pub reconcile_interval_ms: u64,
    pub max_actions_per_tick: u32,
    pub max_open_cycles: u32,
    /// Attempts of one step before the cycle fails for the operator.
    pub step_attempts: u32,
    pub retry_backoff_ms: u64,
    pub stuck_after_ms: u64,
    /// Wall milliseconds within which a command that arrives while a pass
    /// waits on a venue is told it was accepted (pause acts at once).
    pub answer_within_ms: u64,
    /// Closed cycles kept in the snapshot.
    pub history_in_snapshot: usize,
    /// Wall milliseconds without a completed pass before the watchdog
    /// raises the liveness alarm.
    pub liveness_after_ms: u64,
    /// Wall milliseconds a pass in progress may take to finish after
    /// SIGTERM (no new send starts meanwhile).
    pub stop_grace_ms: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            reconcile_interval_ms: 12 * SECOND,
            max_actions_per_tick: 4,
            max_open_cycles: 12,
            step_attempts: 3,
            retry_backoff_ms: MINUTE,
            stuck_after_ms: 30 * HOUR,
            answer_within_ms: 800,
            history_in_snapshot: 200,
            liveness_after_ms: 5 * MINUTE,
            stop_grace_ms: 10 * SECOND,
        }
    }
}

/// `[engine]`: every key is optional; durations are strings ("12s").
pub(super) fn read_engine(
    r: &mut Reader,
    t: &toml::Table,
    e: &mut EngineConfig,
) -> Result<(), ConfigError> {
    if let Some(v) = r.duration(t, "engine", "reconcile_interval")? {
        e.reconcile_interval_ms = v;
    }
    if let Some(v) = r.int(t, "engine", "max_actions_per_tick")? {
        e.max_actions_per_tick = r.positive_u32("engine.max_actions_per_tick", v)?;
    }
    if let Some(v) = r.int(t, "engine", "max_open_cycles")? {
        e.max_open_cycles = r.positive_u32("engine.max_open_cycles", v)?;
    }
    if let Some(v) = r.int(t, "engine", "step_attempts")? {
        e.step_attempts = r.positive_u32("engine.step_attempts", v)?;
    }
    if let Some(v) = r.duration(t, "engine", "retry_backoff")? {
        e.retry_backoff_ms = v;
    }
    if let Some(v) = r.duration(t, "engine", "stuck_after")? {
        e.stuck_after_ms = v;
    }
    if let Some(v) = r.duration(t, "engine", "answer_within")? {
        if !(1..=5 * SECOND).contains(&v) {
            return Err(r.invalid("engine.answer_within", "must be between 1ms and 5s"));
        }
        e.answer_within_ms = v;
    }
    if let Some(v) = r.int(t, "engine", "history_in_snapshot")? {
        e.history_in_snapshot = usize::try_from(v)
            .map_err(|_| r.invalid("engine.history_in_snapshot", "is too large"))?;
    }
    if let Some(v) = r.duration(t, "engine", "liveness_after")? {
        if v < SECOND {
            return Err(r.invalid("engine.liveness_after", "must be at least 1s"));
        }
        e.liveness_after_ms = v;
    }
    if let Some(v) = r.duration(t, "engine", "stop_grace")? {
        e.stop_grace_ms = v;
    }
    Ok(())
}
