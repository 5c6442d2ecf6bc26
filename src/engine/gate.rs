//! The send gate: pause-all and per-token pause as every send boundary sees
//! them at this instant. The engine's command desk flips it the moment a
//! pause arrives, even while a pass is waiting on a slow venue, so the next
//! send boundary of any strategy holds; the store keeps the durable copy.
//! It also holds the kill switch's latest finding (`engine::kill`), so a
//! resume that arrives mid-pass is refused while the breach still holds.

use super::Command;
use crate::model::{Controls, TokenId, Trip};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct SendGate {
    paused: AtomicBool,
    /// The process is stopping (SIGTERM): no new send, not stored as a pause.
    stopping: AtomicBool,
    tokens: Mutex<BTreeSet<TokenId>>,
    tripped: Mutex<Option<Trip>>,
    /// The kill switch's breach as last assessed, in words (`None`: clear).
    breach: Mutex<Option<String>>,
}

impl SendGate {
    pub fn new(controls: &Controls) -> Self {
        let gate = SendGate::default();
        gate.set(controls);
        gate
    }

    /// Take the controls as they now stand.
    pub fn set(&self, controls: &Controls) {
        self.paused.store(controls.paused, Ordering::SeqCst);
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        *tokens = controls.paused_tokens.clone();
        drop(tokens);
        *self.tripped.lock().unwrap_or_else(|p| p.into_inner()) = controls.tripped.clone();
    }

    /// The kill switch's latest finding (`None`: no limit is breached).
    pub fn set_breach(&self, breach: Option<String>) {
        *self.breach.lock().unwrap_or_else(|p| p.into_inner()) = breach;
    }

    pub fn breach(&self) -> Option<String> {
        self.breach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// No send may start: paused, or the process is stopping.
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst) || self.stopping.load(Ordering::SeqCst)
    }

    /// The process is stopping: every send boundary holds from now on.
    pub fn hold_for_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn token_paused(&self, token: TokenId) -> bool {
        self.paused()
            || self
                .tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&token)
    }

    pub fn controls(&self) -> Controls {
        Controls {
            paused: self.paused.load(Ordering::SeqCst),
            paused_tokens: self
                .tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            tripped: self
                .tripped
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

/// Apply a pause or resume command to `controls`; its answer, or `None`
/// for a command that is not about the gate. A resume after the kill switch
/// tripped clears it, unless `breach` (the switch's finding now) says the
/// limit is still passed: then it is refused and nothing changes.
pub(super) fn change(
    command: &Command,
    controls: &mut Controls,
    breach: Option<&str>,
) -> Option<Result<String, String>> {
    Some(Ok(match command {
        Command::Pause => {
            controls.paused = true;
            "paused: no step is sent and no cycle starts until resume".into()
        }
        Command::Resume => match (&controls.tripped, breach) {
            (Some(_), Some(breach)) => {
                return Some(Err(format!(
                    "the kill switch holds: {breach}. Raise the limit in the config and reload it (SIGHUP), or wait for the next UTC day, then resume"
                )));
            }
            (Some(trip), None) => {
                let answer = format!(
                    "resumed: the kill switch is reset (it tripped at {}: {})",
                    crate::model::time::format_time(trip.at),
                    trip.reason
                );
                controls.tripped = None;
                controls.paused = false;
                answer
            }
            (None, _) => {
                controls.paused = false;
                "resumed".into()
            }
        },
        Command::PauseToken { token } => {
            controls.paused_tokens.insert(*token);
            format!("{token} paused")
        }
        Command::ResumeToken { token } => {
            controls.paused_tokens.remove(token);
            format!("{token} resumed")
        }
        _ => return None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tripped() -> Controls {
        Controls {
            paused: true,
            tripped: Some(Trip {
                at: 0,
                reason: "daily drawdown 12 USD".into(),
            }),
            ..Controls::default()
        }
    }

    #[test]
    fn a_resume_is_refused_while_the_breach_holds_and_resets_the_switch_once_it_does_not() {
        let mut c = tripped();
        let refused = change(&Command::Resume, &mut c, Some("still 12 USD down")).unwrap();
        assert!(
            refused
                .unwrap_err()
                .contains("the kill switch holds: still 12 USD down")
        );
        assert_eq!(c, tripped(), "nothing changed");
        let ok = change(&Command::Resume, &mut c, None).unwrap().unwrap();
        assert!(ok.contains("kill switch is reset"), "{ok}");
        assert!(!c.paused && c.tripped.is_none());
        // A pause keeps a trip; a plain resume is untouched by a breach.
        let mut c = tripped();
        change(&Command::Pause, &mut c, None).unwrap().unwrap();
        assert!(c.tripped.is_some());
        let mut plain = Controls {
            paused: true,
            ..Controls::default()
        };
        change(&Command::Resume, &mut plain, Some("x"))
            .unwrap()
            .unwrap();
        assert!(!plain.paused);
    }

    #[test]
    fn the_gate_keeps_the_trip_in_its_controls() {
        let gate = SendGate::new(&tripped());
        assert!(gate.paused());
        assert_eq!(gate.controls(), tripped());
        gate.set_breach(Some("b".into()));
        assert_eq!(gate.breach().as_deref(), Some("b"));
    }
}
