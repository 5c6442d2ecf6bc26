//! Building the `Snapshot`: the engine's part (phase, controls, the kill
//! switch, alarms), then every strategy's (`Keeper::render`), with URLs in
//! venue details redacted before it reaches any front end.

use super::snapshot::Snapshot;
use super::{Engine, Phase};

use std::sync::Arc;

impl Engine {
    pub(super) fn snapshot(&self) -> Snapshot {
        let now = self.clock.now();
        let e = &self.config.engine;
        // The strategies fill in their parts (`Keeper::render`).
        Snapshot {
            seq: self.seq,
            phase: if self.phase == Phase::Running && self.controls.paused {
                Phase::Paused
            } else {
                self.phase
            },
            speed_milli: self.options.speed_milli,
            paused: self.controls.paused,
            paused_tokens: self.controls.paused_tokens.iter().copied().collect(),
            approval: self.config.risk.approval.to_string(),
            stuck_after_ms: e.stuck_after_ms,
            kill_switch: self.controls.tripped.clone(),
            risk_today: self.day_risk().clone(),
            ..Snapshot::empty(self.options.mode, now)
        }
    }

    /// The whole picture: the engine's part and every keeper's.
    pub(super) fn full_snapshot(&self) -> Snapshot {
        let mut snapshot = self.snapshot();
        // The watchdog's, so a publication never hides a raised alarm.
        snapshot.alarms = self
            .alarms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for slot in &self.keepers {
            slot.keeper.render(&mut snapshot);
            if let Some(why) = &slot.failure {
                snapshot.venues.push(crate::venue::VenueHealth {
                    name: slot.keeper.name().to_string(),
                    ok: false,
                    head: None,
                    latency_ms: None,
                    last_seen: None,
                    detail: format!("NOT RECOVERED, sends nothing, retrying each pass: {why}"),
                });
            }
        }
        // Venue details quote library errors, and those may quote an RPC
        // URL with its API key: the snapshot goes to every front end.
        for venue in &mut snapshot.venues {
            if venue.detail.contains("://") {
                venue.detail = crate::redact::urls_in(&venue.detail);
            }
        }
        snapshot
    }

    /// Publish the current snapshot to every front end.
    pub(super) fn publish(&mut self) {
        self.seq += 1;
        let snapshot = Arc::new(self.full_snapshot());
        self.snapshot_tx.send_replace(snapshot);
    }
}
