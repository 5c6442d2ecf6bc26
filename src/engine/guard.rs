//! The engine's side of the kill switch (`kill`): it gathers every
//! strategy's standing (`Keeper::standing`), assesses them before the pass sends
//! anything and again after each strategy's step, and trips: pause all,
//! stored with the reason, told by notice. Only the operator's resume
//! clears it (`gate::change`).

use super::kill::{self, DayRisk, KillLimits, Standing};
use super::{Engine, KeeperSlot, Notice, Phase};
use crate::model::{Timestamp, Trip};

impl Engine {
    fn standings(&self, keepers: &[KeeperSlot], now: Timestamp) -> Vec<(String, Standing)> {
        let mut out = Vec::new();
        let since = kill::day_start(now);
        for slot in keepers {
            out.push((slot.keeper.name().to_string(), slot.keeper.standing(since)));
        }
        out
    }

    /// Assess the kill switch now (keepers taken out of `self` by the caller
    /// or still in it).
    pub(super) fn guard_with(&mut self, keepers: &[KeeperSlot]) {
        let now = self.clock.now();
        let limits = KillLimits::of(&self.config);
        let standings = self.standings(keepers, now);
        let day = kill::day_risk(&standings, &limits);
        let breach = kill::breach(&day, &standings, &limits).map(|b| b.to_string());
        self.day_risk = day;
        self.gate.set_breach(breach.clone());
        let Some(reason) = breach else { return };
        if self.controls.tripped.is_some() {
            return;
        }
        let trip = Trip { at: now, reason };
        let stored = self.set_controls(|c| {
            c.paused = true;
            c.tripped = Some(trip.clone());
        });
        if let Err(e) = stored {
            // The gate holds in this process even if the store cannot say so.
            tracing::error!(error = %e, "kill switch: the store could not record the trip");
            self.controls.paused = true;
            self.controls.tripped = Some(trip.clone());
            self.gate.set(&self.controls);
        }
        if self.phase == Phase::Running {
            self.phase = Phase::Paused;
        }
        tracing::error!(reason = %trip.reason, "KILL SWITCH tripped: everything is paused until the operator resumes");
        self.notify(Notice::KillSwitch {
            reason: trip.reason,
        });
        self.publish();
    }

    /// Assess the kill switch with the keepers in place.
    pub(super) fn guard(&mut self) {
        let keepers = std::mem::take(&mut self.keepers);
        self.guard_with(&keepers);
        self.keepers = keepers;
    }

    /// The day's figures as last assessed, for the snapshot.
    pub(super) fn day_risk(&self) -> &DayRisk {
        &self.day_risk
    }
}
