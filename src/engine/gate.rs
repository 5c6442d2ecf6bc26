//! The send gate: pause-all and per-token pause as every send boundary sees
//! them at this instant. The engine's command desk flips it the moment a
//! pause arrives, even while a pass is waiting on a slow venue, so the next
//! send boundary of any strategy holds; the store keeps the durable copy.

use super::Command;
use crate::model::{Controls, TokenId};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct SendGate {
    paused: AtomicBool,
    /// The process is stopping (SIGTERM): no new send, not stored as a pause.
    stopping: AtomicBool,
    tokens: Mutex<BTreeSet<TokenId>>,
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
        }
    }
}

/// Apply a pause or resume command to `controls`; its answer, or `None`
/// for a command that is not about the gate.
pub(super) fn change(command: &Command, controls: &mut Controls) -> Option<String> {
    Some(match command {
        Command::Pause => {
            controls.paused = true;
            "paused: no step is sent and no cycle starts until resume".into()
        }
        Command::Resume => {
            controls.paused = false;
            "resumed".into()
        }
        Command::PauseToken { token } => {
            controls.paused_tokens.insert(*token);
            format!("{token} paused")
        }
        Command::ResumeToken { token } => {
            controls.paused_tokens.remove(token);
            format!("{token} resumed")
        }
        _ => return None,
    })
}
