//! Owning the terminal: raw mode + alternate screen (never mouse capture:
//! operators select tx hashes with the mouse in tmux), and putting it back
//! on every way out — normal return, `Drop`, and panic (a hook that restores
//! first, then chains the previous hook). Restoring never panics.

use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use std::io;
use std::panic::{self, PanicHookInfo};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set while we hold the terminal: restore only what we changed, only once.
static ACTIVE: AtomicBool = AtomicBool::new(false);

type Hook = dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static;

/// Restores the terminal when dropped, and puts the previous panic hook back.
pub struct TerminalGuard {
    previous_hook: Arc<Hook>,
}

/// Raw mode, alternate screen, hidden cursor, panic hook.
pub fn enter() -> io::Result<TerminalGuard> {
    let previous_hook: Arc<Hook> = Arc::from(panic::take_hook());
    let chained = previous_hook.clone();
    panic::set_hook(Box::new(move |info| {
        restore();
        chained(info);
    }));
    let guard = TerminalGuard { previous_hook };
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(io::stdout(), EnterAlternateScreen, Hide)?;
    Ok(guard)
}

/// Leave raw mode and the alternate screen. Safe to call at any time, any
/// number of times, from a panic hook or a signal path: errors are ignored
/// because there is nothing better to do with them while leaving.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
        // set_hook panics on a panicking thread; then the process is going
        // down anyway and our hook (which chains the old one) is harmless.
        if !std::thread::panicking() {
            let previous = self.previous_hook.clone();
            panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}
