//! Seeded send faults for the paper venues: at the send boundary of the
//! sim loop venue, the paper broker and the paper Stellar, a call may be
//! refused before acting, or act and then lose its reply, answer 5xx or
//! time out. Off unless configured (`[paper.faults]`). Each fault is
//! reported as the `VenueError` a real transport would give, so the engine
//! classifies it on its ordinary paths: refused before acting is transient
//! (nothing happened), every fault after acting is an unknown outcome
//! (settled by looking, never re-sent).

use super::VenueError;
use std::sync::atomic::{AtomicU64, Ordering};

/// What one faulty call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFault {
    /// Refused before the venue acted: nothing happened.
    RefuseBefore,
    /// Acted, then the reply was lost (a reset connection).
    LoseReply,
    /// Acted, then answered 502 (a gateway that forwarded it).
    ServerErrorAfter,
    /// Acted, then the client timed out before the answer.
    TimeoutAfter,
}

impl SendFault {
    /// Whether the venue carries the call out before the fault.
    pub fn acts(self) -> bool {
        !matches!(self, SendFault::RefuseBefore)
    }

    /// The error the caller sees from `venue` (a short name for messages).
    pub fn error(self, venue: &str) -> VenueError {
        match self {
            SendFault::RefuseBefore => VenueError::Transient(format!(
                "{venue}: connection refused (paper fault, nothing sent)"
            )),
            SendFault::LoseReply => VenueError::Unknown(format!(
                "{venue}: connection reset before the answer (paper fault)"
            )),
            SendFault::ServerErrorAfter => {
                VenueError::Unknown(format!("{venue}: 502 Bad Gateway (paper fault)"))
            }
            SendFault::TimeoutAfter => VenueError::Unknown(format!(
                "{venue}: timed out waiting for the answer (paper fault)"
            )),
        }
    }
}

/// The dice of one paper venue: `rate_per_mille` of its sends fault, the
/// kind and the moment drawn from (seed, venue, call number). The same
/// seed gives the same faults in the same order of calls.
#[derive(Debug)]
pub struct FaultDice {
    rate_per_mille: u32,
    seed: u64,
    calls: AtomicU64,
    /// A script for tests: these faults first, in order, one per call.
    script: std::sync::Mutex<std::collections::VecDeque<Option<SendFault>>>,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn label(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

impl FaultDice {
    /// No faults.
    pub fn off() -> Self {
        Self::seeded(0, 0, "")
    }

    /// `rate_per_mille` (0–1000) of the sends of the venue named `venue` fault.
    pub fn seeded(rate_per_mille: u32, seed: u64, venue: &str) -> Self {
        Self {
            rate_per_mille: rate_per_mille.min(1000),
            seed: mix(seed ^ label(venue)),
            calls: AtomicU64::new(0),
            script: std::sync::Mutex::new(Default::default()),
        }
    }

    /// Tests: the next calls draw exactly these (`None`: no fault), then
    /// the seeded dice again.
    pub fn script(&self, faults: impl IntoIterator<Item = Option<SendFault>>) {
        if let Ok(mut s) = self.script.lock() {
            s.extend(faults);
        }
    }

    /// Scripted draws not taken yet.
    pub fn scripted_left(&self) -> usize {
        self.script.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// The fault of the next send, if any.
    pub fn draw(&self) -> Option<SendFault> {
        if let Ok(mut s) = self.script.lock()
            && let Some(next) = s.pop_front()
        {
            return next;
        }
        if self.rate_per_mille == 0 {
            return None;
        }
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let roll = mix(self.seed ^ mix(n));
        if roll % 1000 >= u64::from(self.rate_per_mille) {
            return None;
        }
        Some(match (roll / 1000) % 4 {
            0 => SendFault::RefuseBefore,
            1 => SendFault::LoseReply,
            2 => SendFault::ServerErrorAfter,
            _ => SendFault::TimeoutAfter,
        })
    }
}

impl Default for FaultDice {
    fn default() -> Self {
        Self::off()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_never_faults_and_a_rate_faults_about_that_often_with_every_kind() {
        let off = FaultDice::off();
        assert!((0..10_000).all(|_| off.draw().is_none()));
        let dice = FaultDice::seeded(100, 7, "paper broker");
        let draws: Vec<_> = (0..10_000).filter_map(|_| dice.draw()).collect();
        assert!((800..1200).contains(&draws.len()), "{}", draws.len());
        for kind in [
            SendFault::RefuseBefore,
            SendFault::LoseReply,
            SendFault::ServerErrorAfter,
            SendFault::TimeoutAfter,
        ] {
            assert!(draws.contains(&kind), "{kind:?} never drawn");
        }
    }

    #[test]
    fn the_same_seed_and_venue_give_the_same_faults_and_others_differ() {
        let run = |seed, venue| {
            let d = FaultDice::seeded(200, seed, venue);
            (0..500).map(|_| d.draw()).collect::<Vec<_>>()
        };
        assert_eq!(run(3, "sim"), run(3, "sim"));
        assert_ne!(run(3, "sim"), run(4, "sim"));
        assert_ne!(run(3, "sim"), run(3, "stellar"));
    }

    #[test]
    fn a_fault_before_acting_is_transient_and_after_acting_unknown() {
        assert!(SendFault::RefuseBefore.error("v").is_transient());
        assert!(!SendFault::RefuseBefore.acts());
        for f in [
            SendFault::LoseReply,
            SendFault::ServerErrorAfter,
            SendFault::TimeoutAfter,
        ] {
            assert!(f.acts());
            assert!(matches!(f.error("v"), VenueError::Unknown(_)), "{f:?}");
        }
    }

    #[test]
    fn a_script_comes_first_then_the_dice() {
        let d = FaultDice::off();
        d.script([Some(SendFault::LoseReply), None]);
        assert_eq!(d.scripted_left(), 2);
        assert_eq!(d.draw(), Some(SendFault::LoseReply));
        assert_eq!(d.draw(), None);
        assert_eq!(d.scripted_left(), 0);
        assert_eq!(d.draw(), None);
    }
}
