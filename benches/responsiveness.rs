//! Does the engine answer while a venue hangs? A keeper whose send is a venue
//! call that does not return (the stalling keeper) holds the pass; commands
//! are sent meanwhile and timed from send to answer. Side by side: the same
//! commands to an idle engine (no call in flight). Then pause-to-quiet: a
//! keeper sending back to back (each call 5 ms), paused at seeded moments;
//! timed from the pause's send to the start of the last send that began
//! after it (or to the answer, when none did).
//! Last line: `BENCH responsiveness command_p99_ms=<x> pause_to_quiet_p99_ms=<y>`.

use arbkeep::config::Config;
use arbkeep::engine::stall::{SendLog, StallingKeeper};
use arbkeep::engine::{Command, Engine, EngineHandle, EngineOptions};
use arbkeep::model::{Mode, SystemClock, TokenId};
use arbkeep::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const TRIALS: usize = 200;
const QUIET_TRIALS: usize = 200;

struct Running {
    handle: EngineHandle,
    log: Arc<SendLog>,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

fn start(per_pass: usize) -> Running {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = Config::default();
    config.engine.reconcile_interval_ms = 20;
    let store = Store::open(dir.path(), Mode::Paper).expect("store");
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, handle) = Engine::new(config, options, Arc::new(SystemClock), store);
    let log = SendLog::new();
    engine.add_keeper(Box::new(StallingKeeper {
        log: log.clone(),
        per_pass,
    }));
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        let _ = engine.run(shutdown).await;
    });
    Running {
        handle,
        log,
        stop,
        _dir: dir,
    }
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i]
}

/// The commands of one trial: the gate's and one the engine must apply itself.
fn command(i: usize) -> Command {
    match i % 4 {
        0 => Command::Pause,
        1 => Command::Resume,
        2 => Command::PauseToken {
            token: TokenId::Eth,
        },
        _ => Command::ResumeToken {
            token: TokenId::Eth,
        },
    }
}

async fn time_commands(r: &Running, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        let answer = r.handle.send(command(i), "bench").await;
        out.push(t0.elapsed().as_secs_f64() * 1e3);
        assert!(answer.is_ok(), "{answer:?}");
    }
    out
}

/// A command the engine applies itself (not the gate's), during a hang:
/// answered "accepted" within `engine.answer_within`.
async fn time_deferred(r: &Running, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        let answer = r
            .handle
            .send(
                Command::Reject {
                    opportunity: 1_000_000 + i as u64,
                },
                "bench",
            )
            .await;
        out.push(t0.elapsed().as_secs_f64() * 1e3);
        assert!(answer.is_ok_and(|a| a.starts_with("accepted")));
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Hanging venue: the first send never returns during the measurement.
    let hung = start(1);
    hung.log.wait_for(1).await;
    let mut during = time_commands(&hung, TRIALS).await;
    let mut deferred = time_deferred(&hung, 10).await;
    hung.log.release(1_000_000);
    let _ = hung.stop.send(true);

    // Idle engine: nothing in flight (the keeper never gets to send).
    let idle = start(0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut quiet = time_commands(&idle, TRIALS).await;
    let _ = idle.stop.send(true);

    // Pause to quiet: sends back to back, each call 5 ms.
    let busy = start(usize::MAX);
    let releaser = {
        let log = busy.log.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                log.release(1);
            }
        })
    };
    let mut rng = 0x9e3779b97f4a7c15u64;
    let mut to_quiet = Vec::with_capacity(QUIET_TRIALS);
    let mut after_pause = 0usize;
    for _ in 0..QUIET_TRIALS {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let sends = busy.log.sends();
        busy.log.wait_for(sends + 1).await;
        tokio::time::sleep(Duration::from_micros(rng % 5_000)).await;
        let t0 = Instant::now();
        let answer = busy.handle.send(Command::Pause, "bench").await;
        let answered = Instant::now();
        assert!(answer.is_ok());
        // Let any send that was going to slip through do so.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let late: Vec<Instant> = busy
            .log
            .started()
            .into_iter()
            .filter(|s| *s > answered)
            .collect();
        after_pause += late.len();
        let last = late.into_iter().max().unwrap_or(answered);
        to_quiet.push((last - t0).as_secs_f64() * 1e3);
        let resumed = busy.handle.send(Command::Resume, "bench").await;
        assert!(resumed.is_ok());
    }
    releaser.abort();
    let _ = busy.stop.send(true);

    let (dm, dp) = (pct(&mut during, 0.5), pct(&mut during, 0.99));
    let (im, ip) = (pct(&mut quiet, 0.5), pct(&mut quiet, 0.99));
    let (fm, fp) = (pct(&mut deferred, 0.5), pct(&mut deferred, 0.99));
    let (qm, qp) = (pct(&mut to_quiet, 0.5), pct(&mut to_quiet, 0.99));
    println!("pause/resume while a venue call hangs  median {dm:.3} ms  p99 {dp:.3} ms");
    println!(
        "pause/resume to an idle engine         median {im:.3} ms  p99 {ip:.3} ms  (ratio of p99s {:.2})",
        dp / ip
    );
    println!(
        "other command while it hangs (\"accepted\" within engine.answer_within = 800 ms)  median {fm:.1} ms  p99 {fp:.1} ms"
    );
    println!(
        "pause to quiet (sends back to back)    median {qm:.3} ms  p99 {qp:.3} ms  sends begun after the answer: {after_pause}"
    );
    let worst = dp.max(fp);
    println!("BENCH responsiveness command_p99_ms={worst:.3} pause_to_quiet_p99_ms={qp:.3}");
}
