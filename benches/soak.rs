//! The seeded soak: the real binary in paper mode with all three strategies
//! on and the paper venues faulting at a seeded rate, SIGKILLed at seeded
//! random moments (`SOAK_KILLS`, default 200) and restarted. Before each
//! kill it reads the engine's snapshot over the control API (unexplained
//! stuck: an open intent with no "doing" line, or a stuck cycle no open
//! intent explains); after each kill, with the process dead and the redb
//! files free, it reads the stores (duplicate sends at the paper venues,
//! units the books do not explain, hedge orders against hedge records).
//! Last, the faults stop and the binary drains: it must exit by itself,
//! with nothing unsettled and every unit explained. Last line:
//! `BENCH soak kills=<n> duplicate_sends=<d> lost_units=<l> unexplained_stuck=<u> left_to_operator=<o>`
//! (hedges whose answer a kill lost before the broker had them: not listed
//! after the listing window, nothing placed again until the operator
//! resolves them); exits non-zero if any of d, l, u is.

#[path = "soak/books.rs"]
mod books;
#[path = "../tests/it/common/mod.rs"]
mod common;
#[path = "soak/run.rs"]
mod run;

use arbkeep::control::ControlClient;
use arbkeep::engine::Snapshot;
use run::{Dice, FAULTS_PER_MILLE, WORLD_SEED, arbkeep, config};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, ExitCode};
use std::time::{Duration, Instant};

/// The running engine's snapshot, if it answers in time.
fn snapshot(runtime: &tokio::runtime::Runtime, data: &Path) -> Option<Snapshot> {
    runtime.block_on(async {
        let ask = async {
            let mut client = ControlClient::connect(data).await.ok()?;
            client.snapshot().await.ok()
        };
        tokio::time::timeout(Duration::from_millis(500), ask)
            .await
            .ok()
            .flatten()
    })
}

/// Open intents with no "doing" line, and stuck cycles that no open
/// intent with one explains.
fn unexplained_stuck(snap: &Snapshot) -> Vec<books::Finding> {
    let mut out: Vec<books::Finding> = snap
        .intents
        .iter()
        .filter(|i| i.doing.trim().is_empty())
        .map(|i| {
            (
                format!("intent {}", i.id),
                format!(
                    "intent {} ({}) {}: no doing line",
                    i.id,
                    i.strategy,
                    i.state.label()
                ),
            )
        })
        .collect();
    let explained: BTreeSet<&str> = snap
        .intents
        .iter()
        .filter(|i| !i.doing.trim().is_empty())
        .map(|i| i.id.as_str())
        .collect();
    for c in snap.cycles.iter().filter(|c| c.is_open() && c.stuck) {
        let id = c.cycle.id.to_string();
        if !explained.contains(id.as_str()) {
            out.push((
                format!("cycle {id}"),
                format!("cycle {id} stuck in {} ({})", c.cycle.state, c.next),
            ));
        }
    }
    out
}

fn stderr_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    err
}

fn main() -> ExitCode {
    let kills: usize = std::env::var("SOAK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("soak: no temp dir: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = tmp.path();
    let data = dir.join("data");
    if let Err(e) = std::fs::write(dir.join("config.toml"), config(FAULTS_PER_MILLE)) {
        eprintln!("soak: writing the config: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("soak: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let mut dice = Dice(0x5EED_50A4_D1CE_0001);
    // About what → the latest words about it.
    let (mut duplicates, mut lost, mut stuck) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut done = 0;
    let mut snapshots = 0;
    let mut last_open = Vec::new();
    for round in 0..kills {
        let mut child = match arbkeep(dir).spawn() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("soak: arbkeep does not start: {e}");
                return ExitCode::FAILURE;
            }
        };
        std::thread::sleep(Duration::from_millis(200 + dice.below(700)));
        // Every round looks at the living engine first.
        if let Some(snap) = snapshot(&runtime, &data) {
            snapshots += 1;
            stuck.extend(unexplained_stuck(&snap));
            last_open = snap
                .intents
                .iter()
                .map(|i| format!("{} {}: {}", i.id, i.state.label(), i.doing))
                .collect();
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!(
                "soak: round {round}: arbkeep exited early ({status}): {}",
                stderr_of(&mut child)
            );
            return ExitCode::FAILURE;
        }
        if child.kill().is_err() || child.wait().is_err() {
            eprintln!("soak: round {round}: could not SIGKILL arbkeep");
            return ExitCode::FAILURE;
        }
        done += 1;
        match books::look(&data, WORLD_SEED) {
            Ok(found) => {
                duplicates.extend(found.duplicate_sends);
                lost.extend(found.lost_units);
            }
            Err(e) => {
                eprintln!("soak: round {round}: the stores cannot be read: {e}");
                return ExitCode::FAILURE;
            }
        }
        if done % 20 == 0 {
            println!(
                "soak: {done} kills in {:.0?}: duplicate_sends={} lost_units={} unexplained_stuck={}",
                started.elapsed(),
                duplicates.len(),
                lost.len(),
                stuck.len()
            );
        }
    }
    // The faults stop and the binary drains: every send settles and the
    // books explain every unit with nothing in flight.
    let drained = run::drain(dir, Duration::from_secs(180));
    if let Err(why) = &drained {
        stuck.insert("the drain".into(), format!("the drain: {why}"));
    }
    let acted = match books::look(&data, WORLD_SEED) {
        Ok(found) => {
            duplicates.extend(found.duplicate_sends);
            lost.extend(found.lost_units);
            found.acted
        }
        Err(e) => {
            eprintln!("soak: after the drain: the stores cannot be read: {e}");
            return ExitCode::FAILURE;
        }
    };
    let left_to_operator = match books::unsettled(&data) {
        Ok(left) => {
            stuck.extend(left.stuck);
            left.left_to_operator
        }
        Err(e) => {
            eprintln!("soak: after the drain: the stores cannot be read: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "soak: drained: {}",
        match &drained {
            Ok(()) => "yes".to_string(),
            Err(why) => why.clone(),
        }
    );
    println!(
        "soak: {done} kills in {:.0?}; acted at the fakes: {} loop sends, {} broker orders, {} Stellar transactions; {} snapshots looked at",
        started.elapsed(),
        acted[0],
        acted[1],
        acted[2],
        snapshots
    );
    for open in &last_open {
        println!("soak: open at the last look: {open}");
    }
    for (_, left) in &left_to_operator {
        println!("soak: left to the operator after the drain: {left}");
    }
    for (what, found) in [
        ("duplicate send", &duplicates),
        ("lost units", &lost),
        ("unexplained stuck", &stuck),
    ] {
        for f in found.values() {
            println!("soak: {what}: {f}");
        }
    }
    println!(
        "BENCH soak kills={done} duplicate_sends={} lost_units={} unexplained_stuck={} left_to_operator={}",
        duplicates.len(),
        lost.len(),
        stuck.len(),
        left_to_operator.len()
    );
    if duplicates.is_empty() && lost.is_empty() && stuck.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
