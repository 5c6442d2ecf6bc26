//! Crash points for the devnet crash tests. Inert unless the environment
//! names a file in `ARBKEEP_CRASH_POINTS`: then the first point reached whose
//! label is not yet listed there is appended to it, `<file>.halted` is
//! written, and the process stops dead (sleeps) so the test can SIGKILL it
//! exactly there. Labels already listed pass, so each run of the binary gets
//! one step further.
//!
//! Each transaction is halted at once around its broadcast, alternately just
//! before and just after it (so the run that finishes it also reaches the
//! step's `:executed` point).

use std::io::Write;
use std::time::Duration;

pub const ENV: &str = "ARBKEEP_CRASH_POINTS";

pub fn point(label: &str) {
    let Some(path) = std::env::var_os(ENV) else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    let seen = std::fs::read_to_string(&path).unwrap_or_default();
    if seen.lines().any(|l| l == label) {
        return;
    }
    if let Some(tx) = broadcast_phase(label) {
        if seen.lines().any(|l| broadcast_phase(l) == Some(tx)) {
            return;
        }
        let kills = seen
            .lines()
            .filter(|l| broadcast_phase(l).is_some())
            .count();
        if label.ends_with(":before_broadcast") && kills % 2 == 1 {
            return;
        }
    }
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| {
            writeln!(f, "{label}")?;
            f.sync_all()
        });
    if appended.is_err() {
        return;
    }
    let mut halted = path.into_os_string();
    halted.push(".halted");
    let _ = std::fs::write(&halted, label);
    tracing::warn!(label, "halted at a crash point (test)");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// The transaction a broadcast-phase label names.
fn broadcast_phase(label: &str) -> Option<&str> {
    label
        .strip_suffix(":before_broadcast")
        .or_else(|| label.strip_suffix(":after_broadcast"))
}
