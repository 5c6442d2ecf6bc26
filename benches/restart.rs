//! Restart time: from process start to recovered and trading. A data dir is
//! seeded once (`restart/seed.rs`: a store with 100 000 ledger rows, 10 000
//! closed and 50 open cycles, 10 000 equity-hedge trades, beside the paper
//! world, orderbook and broker), then `RESTART_RUNS` times (default 20) a
//! fresh copy of it is handed to the real binary, headless in paper mode,
//! timed from just before the spawn to the engine's "first pass done" log
//! line (recovery over, phase RUNNING, the first pass against the paper
//! venues completed), and the process is stopped with SIGTERM.
//!
//! Per run: boot (spawn to the first log line: exec, config, lock, logs),
//! open (venues, store and keepers opened, up to recovery), recovery (the
//! engine's own figure on "recovery done") and first pass (to "first pass
//! done"). The page cache is warm after the first run (the copy was just
//! written): these are warm restarts, as after a crash or an upgrade.
//! Last line: `BENCH restart runs=<n> ledger_rows=<r> closed_cycles=<c>
//! open_cycles=<o> hedge_trades=<t> ms_median=<x> ms_p99=<y>`.

#[path = "restart/seed.rs"]
mod seed;

use arbkeep::model::{Clock, ManualClock};
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A run that has not recovered and passed within this is a failure.
const WITHIN: Duration = Duration::from_secs(60);

/// One restart, in wall milliseconds.
#[derive(Debug, Clone, Copy)]
struct Run {
    boot: f64,
    open: f64,
    recovery: f64,
    first_pass: f64,
    total: f64,
    settled: u64,
    open_cycles: u64,
}

/// `key=value` of a plain log line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"'))
}

fn number(line: &str, key: &str) -> Result<u64, String> {
    field(line, key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no {key}= in {line:?}"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pct(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i]
}

/// Copy the seeded data dir (files and folders, not the lock or the logs),
/// each file synced to disk: a store a previous run left behind is on disk,
/// and an unsynced copy would make the restart's first commit (its
/// `fdatasync`) write back the whole copy and be timed for it.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == arbkeep::store::LOCK_FILE || name == "logs" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
            std::fs::File::open(&target)?.sync_all()?;
        }
    }
    std::fs::File::open(to)?.sync_all()
}

fn stop(child: &mut Child) -> Result<(), String> {
    let pid = i32::try_from(child.id()).map_err(|e| e.to_string())?;
    // SAFETY: a plain kill(2) of the child we spawned and have not reaped.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        return Err("SIGTERM could not be sent".into());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("it exited with {status} after SIGTERM")),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("it did not stop within 30 s of SIGTERM".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// One restart of the binary on `data`.
fn restart(config: &Path, data: &Path) -> Result<Run, String> {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbkeep"))
        .arg("--headless")
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env("NO_COLOR", "1")
        .env_remove("ARBKEEP_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("arbkeep does not start: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    // Every line is read (a full pipe would hold the child), the ones that
    // mark a phase are sent with the moment they were read.
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if ["arbkeep starting", "recovery done", "first pass done"]
                .iter()
                .any(|m| line.contains(m))
            {
                let _ = tx.send((Instant::now(), line));
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut marks: Vec<(Instant, String)> = Vec::new();
    let deadline = t0 + WITHIN;
    let outcome = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(mark) => {
                let last = mark.1.contains("first pass done");
                marks.push(mark);
                if last {
                    break Ok(());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                break Err(format!("not recovered and trading within {WITHIN:?}"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err("arbkeep exited before its first pass".to_string());
            }
        }
    };
    let stopped = match &outcome {
        Ok(()) => stop(&mut child),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Ok(())
        }
    };
    let _ = reader.join();
    let err_text = errors.join().unwrap_or_default();
    if let Err(why) = outcome.and(stopped) {
        return Err(format!("{why}; stderr: {}", err_text.trim()));
    }
    let at = |m: &str| {
        marks
            .iter()
            .find(|(_, l)| l.contains(m))
            .ok_or_else(|| format!("no {m:?} line"))
    };
    let (started, _) = at("arbkeep starting")?;
    let (recovered, recovered_line) = at("recovery done")?;
    let (passed, passed_line) = at("first pass done")?;
    if field(passed_line, "phase") != Some("RUNNING") || field(passed_line, "ok") != Some("true") {
        return Err(format!(
            "the first pass was not a running one: {passed_line}"
        ));
    }
    let recovery = number(recovered_line, "ms")? as f64;
    let boot = ms(*started - t0);
    Ok(Run {
        boot,
        open: (ms(*recovered - t0) - boot - recovery).max(0.0),
        recovery,
        first_pass: ms(*passed - *recovered),
        total: ms(*passed - t0),
        settled: number(recovered_line, "settled")?,
        open_cycles: number(recovered_line, "open")?,
    })
}

/// Sends the paper world has taken for the loop (the bench checks that the
/// first pass sent something beyond what the seed did).
fn world_sends(data: &Path) -> Result<u32, String> {
    let path = data.join("paper-world.redb");
    let resumed = SimWorld::resume_time(&path).map_err(|e| e.to_string())?;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(resumed.unwrap_or(PAPER_EPOCH)));
    let world = SimWorld::open(&path, seed::WORLD_SEED, clock).map_err(|e| e.to_string())?;
    Ok(world.execution_counts().values().sum())
}

fn main() -> ExitCode {
    let runs: usize = std::env::var("RESTART_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(20);
    let root = match tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("restart: no temp dir: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = root.path();
    let seeded_dir = dir.join("seeded");
    let config = dir.join("config.toml");
    if let Err(e) = std::fs::write(&config, seed::config()) {
        eprintln!("restart: writing the config: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("restart: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let t = Instant::now();
    let seeded = match runtime.block_on(seed::seed(&seeded_dir)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("restart: seeding failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let seeded_sends = match world_sends(&seeded_dir) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("restart: the seeded world cannot be read: {e}");
            return ExitCode::FAILURE;
        }
    };
    let store_bytes = std::fs::metadata(seeded_dir.join(arbkeep::store::STORE_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "restart: seeded in {:.1} s: {} ledger rows, {} closed and {} open cycles, {} hedge trades ({} hedges); store {:.1} MB",
        t.elapsed().as_secs_f64(),
        seeded.ledger_rows,
        seeded.closed,
        seeded.open,
        seeded.hedge_trades,
        seeded.hedges,
        store_bytes as f64 / 1e6
    );
    let mut done = Vec::with_capacity(runs);
    for i in 0..runs {
        let data = dir.join(format!("run-{i}"));
        if let Err(e) = copy_dir(&seeded_dir, &data) {
            eprintln!("restart: copying the data dir: {e}");
            return ExitCode::FAILURE;
        }
        let run = match restart(&config, &data) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("restart: run {i}: {e}");
                return ExitCode::FAILURE;
            }
        };
        if i == 0 {
            // The first run is checked: every open cycle came back, the
            // crashed sends were settled by looking, and the first pass sent.
            let sends = match world_sends(&data) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("restart: run 0: the world cannot be read: {e}");
                    return ExitCode::FAILURE;
                }
            };
            println!(
                "restart: run 0 recovered {} open cycles, settled {} by looking; the world took {} sends after the restart",
                run.open_cycles,
                run.settled,
                sends.saturating_sub(seeded_sends)
            );
            if run.open_cycles < seeded.open || sends <= seeded_sends {
                eprintln!("restart: run 0 did not recover every open cycle and trade");
                return ExitCode::FAILURE;
            }
        }
        println!(
            "restart: run {i:2}: total {:6.1} ms = boot {:5.1} + open {:5.1} + recovery {:5.1} + first pass {:5.1}",
            run.total, run.boot, run.open, run.recovery, run.first_pass
        );
        let _ = std::fs::remove_dir_all(&data);
        done.push(run);
    }
    let col = |f: fn(&Run) -> f64| done.iter().map(f).collect::<Vec<f64>>();
    for (name, v) in [
        ("boot", col(|r| r.boot)),
        ("open", col(|r| r.open)),
        ("recovery", col(|r| r.recovery)),
        ("first pass", col(|r| r.first_pass)),
        ("total", col(|r| r.total)),
    ] {
        println!(
            "restart: {name:>10}: median {:6.1} ms  p99 {:6.1} ms",
            pct(&v, 0.5),
            pct(&v, 0.99)
        );
    }
    let total = col(|r| r.total);
    println!(
        "BENCH restart runs={} ledger_rows={} closed_cycles={} open_cycles={} hedge_trades={} ms_median={:.0} ms_p99={:.0}",
        done.len(),
        seeded.ledger_rows,
        seeded.closed,
        seeded.open,
        seeded.hedge_trades,
        pct(&total, 0.5),
        pct(&total, 0.99)
    );
    ExitCode::SUCCESS
}
