//! The engine's side of the kill switch (`kill`): it gathers every
//! strategy's standing (the loop's from its P&L book and balances, each
//! keeper's from `Keeper::standing`), assesses them before the pass sends
//! anything and again after each strategy's step, and trips: pause all,
//! stored with the reason, told by notice. Only the operator's resume
//! clears it (`gate::change`).

use super::kill::{self, DayRisk, KillLimits, Realised, Standing, VenueBalance};
use super::{Engine, KeeperSlot, Notice, Phase};
use crate::model::{Timestamp, Trip, to_decimal};
use crate::venue::LoopVenue;
use rust_decimal::Decimal;

/// The loop's name in the kill switch's figures.
pub const LOOP: &str = "cross_chain_loop";

impl<V: LoopVenue> Engine<V> {
    /// The loop's realised P&L today (USD, through the USDC→VCRED quote),
    /// the VCRED of failed cycles still holding money counted as lost now,
    /// and the wallet's balances per chain.
    fn loop_standing(&self, now: Timestamp) -> Standing {
        let since = kill::day_start(now);
        let mut vcred: Vec<(Timestamp, Decimal)> = self.book.realised_since(since).collect();
        let stranded = self
            .cycles
            .values()
            .filter(|c| super::risk::is_stranded(c))
            .fold(Decimal::ZERO, |a, c| {
                a.saturating_add(super::risk::stranded_value(c))
            });
        if !stranded.is_zero() {
            vcred.push((now, -stranded));
        }
        let per_usdc = self
            .valuation
            .as_ref()
            .map(|v| v.vcred_per_usdc)
            .filter(|p| *p > Decimal::ZERO);
        let (realised, unvalued) = match per_usdc {
            Some(per_usdc) => (
                vcred
                    .iter()
                    .map(|(at, v)| Realised {
                        at: *at,
                        usd: v.checked_div(per_usdc).unwrap_or(if v.is_sign_negative() {
                            Decimal::MIN
                        } else {
                            Decimal::MAX
                        }),
                    })
                    .collect(),
                None,
            ),
            None if vcred.is_empty() => (Vec::new(), None),
            None => (
                Vec::new(),
                Some("no USDC→VCRED quote yet to value the loop's P&L".to_string()),
            ),
        };
        let holdings = self
            .balances
            .iter()
            .filter_map(|b| {
                Some(VenueBalance {
                    venue: b.chain.name().to_ascii_lowercase(),
                    asset: b.token.symbol().to_string(),
                    amount: to_decimal(b.amount, b.token.decimals()).ok()?,
                })
            })
            .collect();
        Standing {
            realised,
            holdings,
            unvalued,
        }
    }

    fn standings(&self, keepers: &[KeeperSlot], now: Timestamp) -> Vec<(String, Standing)> {
        let mut out = Vec::new();
        if self.venue.is_some() && self.config.cross_chain_loop.enabled {
            out.push((LOOP.to_string(), self.loop_standing(now)));
        }
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
