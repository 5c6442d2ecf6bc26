//! How the soak runs the binary: its config (paper mode, all three
//! strategies, seeded faults, a fast clock), its command line, and the
//! dice of the kill moments, and the final drain. Shared by the bench and
//! its smoke test.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The paper world's seed (the books check opens the world under it).
pub const WORLD_SEED: u64 = 11;
const FAULT_SEED: u64 = 7;
/// The bench's fault rate.
pub const FAULTS_PER_MILLE: u32 = 50;

/// xorshift64*: the kill moments are random but the same every run.
pub struct Dice(pub u64);

impl Dice {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Paper mode at 20 000×, all three strategies on, `rate_per_mille` faults.
pub fn config(rate_per_mille: u32) -> String {
    format!(
        "[paper]\nseed = {WORLD_SEED}\nspeed = 20000\n\
         [paper.faults]\nrate_per_mille = {rate_per_mille}\nseed = {FAULT_SEED}\n\
         [control]\nport = 0\n\
         [engine]\nmax_actions_per_tick = 2\n\
         [equity_hedge]\nenabled = true\n\
         [stellar_arb]\nenabled = true\n"
    )
}

/// The binary, headless on `dir`'s config and data dir, stderr kept.
pub fn arbkeep(dir: &Path) -> Command {
    arbkeep_for(dir, "120s")
}

/// As [`arbkeep`], stopping by itself after `run_for` of wall time.
fn arbkeep_for(dir: &Path, run_for: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arbkeep"));
    cmd.arg("--headless")
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--run-for", run_for])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// The last run: the faults stop (the config is rewritten without them)
/// and the binary drains — it exits by itself once no cycle is open and no
/// send of any strategy is unsettled. `Err` says why it did not, within
/// `within`.
pub fn drain(dir: &Path, within: Duration) -> Result<(), String> {
    std::fs::write(dir.join("config.toml"), config(0)).map_err(|e| e.to_string())?;
    // Longer than `within`: an exit by the clock is not a drain.
    let mut child = arbkeep_for(dir, "3600s")
        .arg("--drain")
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("arbkeep does not start: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("the drain exited with {status}")),
            Ok(None) if started.elapsed() > within => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("not drained within {within:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(e.to_string()),
        }
    }
}
