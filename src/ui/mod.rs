//! The console: a full-screen ratatui front end over an `EngineHandle`,
//! the same for a local engine and for `arbkeep attach`.
//!
//! Flow (as in gitui / television): crossterm key presses → `keymap` →
//! `Action` → `App::update` (the reducer, no I/O) → `Effect` (a `Command`
//! to the engine, an OSC 52 copy, quit) → `render(frame, &App, &Snapshot)`,
//! a pure function, drawn only when something changed.

pub mod action;
pub mod app;
#[doc(hidden)]
#[cfg(any(test, feature = "fakes"))]
pub mod fixture;
pub mod format;
pub mod hedge_keys;
pub mod keymap;
pub mod osc52;
pub mod panels;
pub mod popup;
pub mod render;
mod runner;
pub mod terminal;
pub mod theme;
pub mod view;

pub use action::{Action, Panel};
pub use app::{App, Effect, Popup};
pub use render::render;

use crate::engine::EngineHandle;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiOptions {
    /// No colours, only bold / reverse (NO_COLOR set, or TERM=dumb).
    pub no_color: bool,
    /// Shown at the right of the status bar (e.g. the config name or host).
    pub title: String,
}

impl UiOptions {
    /// `no_color` from the environment, as https://no-color.org asks.
    pub fn from_env(title: impl Into<String>) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Self {
            no_color,
            title: title.into(),
        }
    }
}

impl Default for UiOptions {
    fn default() -> Self {
        Self {
            no_color: false,
            title: "arbkeep".into(),
        }
    }
}

#[derive(Debug, Error)]
pub enum UiError {
    /// Run headless instead (stdout is a pipe, a file, systemd …).
    #[error("stdout is not a terminal; use --headless")]
    NotATerminal,
    #[error("terminal I/O failed: {0}")]
    Terminal(#[from] std::io::Error),
    #[error("reading keys failed: {0}")]
    Input(std::io::Error),
    #[error("cannot listen for {signal}: {source}")]
    Signal {
        signal: &'static str,
        source: std::io::Error,
    },
}

/// Own the terminal and run the console until the operator quits, the
/// session hangs up (SIGHUP) or the process is asked to stop (SIGTERM).
/// The terminal is restored on every way out, panics included.
pub async fn run(handle: EngineHandle, options: UiOptions) -> Result<(), UiError> {
    runner::run(handle, options).await
}
