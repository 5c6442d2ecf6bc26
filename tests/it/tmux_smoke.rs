//! The real console inside tmux, as an operator would use it: the panels
//! appear, `p` shows PAUSED and the engine stops starting cycles, `p` again
//! resumes, `q` quits and the shell prompt works afterwards. A missing tmux
//! is a failure, never a skip.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_arbkeep");

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "smoke"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "smoke"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Wait until the screen shows `text`; the screen is in the panic message otherwise.
    fn wait_for(&self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} never appeared; the screen was:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// tmux is part of what the test command installs: its absence is a failure.
fn require_tmux() {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "tmux is required for the console smoke test (scripts/test.sh installs it)"
    );
}

fn cycles_started(dir: &Path) -> u64 {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    ["open", "completed", "failed", "not_started"]
        .iter()
        .map(|k| v["cycles"][*k].as_u64().unwrap())
        .sum()
}

#[test]
fn the_console_pauses_resumes_and_quits_cleanly_in_tmux() {
    require_tmux();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("config.toml"), "[control]\nport = 0\n").unwrap();
    let tmux = Tmux {
        socket: format!("arbkeep-smoke-{}", std::process::id()),
    };
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "smoke",
        "-x",
        "160",
        "-y",
        "48",
        "env TERM=screen-256color PS1='$ ' bash --norc --noprofile",
    ]);
    let line = format!(
        "{BIN} --config {} --data-dir {}; echo EXITED-$?",
        dir.join("config.toml").display(),
        dir.join("data").display()
    );
    tmux.keys(&[&line, "Enter"]);

    tmux.wait_for("RUNNING", Duration::from_secs(30));
    // A capture can land mid-frame: wait for each panel rather than read once.
    for panel in [
        "Opportunities",
        "Cycles",
        "Balances",
        "P&L",
        "Venues",
        "Positions",
        "Log",
        "PAPER",
    ] {
        tmux.wait_for(panel, Duration::from_secs(10));
    }

    tmux.keys(&["p"]);
    tmux.wait_for("PAUSED", Duration::from_secs(10));
    let paused_at = cycles_started(dir);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        cycles_started(dir),
        paused_at,
        "a cycle started while paused"
    );

    tmux.keys(&["p"]);
    tmux.wait_for("RUNNING", Duration::from_secs(10));

    tmux.keys(&["q"]);
    tmux.wait_for("EXITED-0", Duration::from_secs(20));
    tmux.keys(&["echo SHELL-$((40+2))", "Enter"]);
    tmux.wait_for("SHELL-42", Duration::from_secs(10));
}
