//! Crash safety of the real binary: run it headless over the paper world,
//! SIGKILL it at random moments again and again, restart it each time, then
//! let it drain. Every cycle must end completed or failed with a reason, no
//! intent may have been executed twice, and the wallet must equal the ledger.

use crate::common;

use arbkeep::model::{CycleState, ManualClock};
use arbkeep::store::ReadOnlyStore;
use arbkeep::venue::sim::SimWorld;
use common::*;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KILLS: usize = 24;

/// xorshift64*: the kill moments are random but the same every run.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn arbkeep(dir: &std::path::Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arbkeep"));
    cmd.arg("--headless")
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_sends_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("config.toml"),
        "[paper]\nseed = 5\nspeed = 20000\n[control]\nport = 0\n[engine]\nmax_actions_per_tick = 2\n",
    )
    .unwrap();

    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    for round in 0..KILLS {
        let mut child = arbkeep(dir, &["--run-for", "60s"])
            .spawn()
            .expect("arbkeep starts");
        std::thread::sleep(Duration::from_millis(150 + dice.below(1_100)));
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            use std::io::Read;
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("round {round}: arbkeep exited early ({status}): {err}");
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    // Let it finish every open cycle, starting none.
    let started = Instant::now();
    let out = arbkeep(dir, &["--drain", "--run-for", "240s"])
        .output()
        .expect("drain run");
    assert!(
        out.status.success(),
        "drain run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(230),
        "drain ran out of time with cycles open"
    );

    let data = dir.join("data");
    let store = ReadOnlyStore::open(&data).unwrap();
    let cycles = store.read().unwrap().cycles().unwrap();
    assert!(
        cycles.iter().any(|c| c.state == CycleState::Completed),
        "some cycle completed"
    );
    for c in &cycles {
        match c.state {
            CycleState::Completed => {}
            CycleState::Failed => {
                let f = c.failure.as_ref().expect("a failed cycle says why");
                assert!(!f.reason.is_empty());
            }
            CycleState::NotStarted => {
                let why = c.refusal.as_deref().expect("a cycle not started says why");
                assert!(!why.is_empty());
            }
            other => panic!("{} left open in {other}", c.id),
        }
    }
    drop(store);

    let clock = Arc::new(ManualClock::new(
        SimWorld::resume_time(&data.join(WORLD_FILE))
            .unwrap()
            .unwrap(),
    ));
    let world = SimWorld::open(&data.join(WORLD_FILE), 5, clock).unwrap();
    let store = ReadOnlyStore::open(&data).unwrap();
    assert_sent_once(&store.read().unwrap(), &world);
    drop(store);
    assert_eq!(
        nonzero(ledger_balances(&data)),
        world_balances(&world),
        "wallet differs from the ledger"
    );
}
