//! The CLI against a running headless engine: `pause` changes what `status
//! --json` reports and stops new cycles; commands without the token, or with
//! a wrong one, are refused; a second engine on the same data dir and a bad
//! config are refused with clear errors.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_arbkeep");

/// The binary on `dir/config.toml` and `dir/data` (the metrics tests use it too).
pub(crate) fn arbkeep(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"));
    cmd
}

/// A running binary, killed when dropped.
pub(crate) struct Engine(pub(crate) Child);

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path) -> Engine {
    std::fs::write(
        dir.join("config.toml"),
        "[control]\nport = 0\n[paper]\nspeed = 5000\n",
    )
    .unwrap();
    let child = arbkeep(dir)
        .args(["--headless", "--run-for", "120s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("engine starts");
    let addr = dir.join("data").join("control.addr");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !addr.exists() {
        assert!(Instant::now() < deadline, "the control API never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Engine(child)
}

/// Its stdout, after asserting it succeeded.
pub(crate) fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn status(dir: &Path) -> Value {
    serde_json::from_str(&ok(arbkeep(dir)
        .args(["status", "--json"])
        .output()
        .unwrap()))
    .unwrap()
}

fn total(s: &Value) -> u64 {
    ["open", "completed", "failed", "not_started"]
        .iter()
        .map(|k| s["cycles"][*k].as_u64().unwrap())
        .sum()
}

#[test]
fn pause_through_the_cli_stops_new_cycles_and_status_sees_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let _engine = start(dir);
    let before = status(dir);
    assert_eq!(before["mode"], "paper");
    assert_eq!(before["paused"], false);
    assert_eq!(before["engine_running"], true);
    assert!(
        before["intents"].is_array(),
        "the engine's open intents: {before}"
    );

    let answer = ok(arbkeep(dir).arg("pause").output().unwrap());
    assert!(answer.contains("paused"), "{answer}");
    let paused = status(dir);
    assert_eq!(paused["paused"], true);
    assert_eq!(paused["phase"], "PAUSED");

    // Paused for ~3 simulated hours: no cycle may start.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        total(&status(dir)),
        total(&paused),
        "a cycle started while paused"
    );

    ok(arbkeep(dir).arg("resume").output().unwrap());
    assert_eq!(status(dir)["paused"], false);

    // The audit trail names who paused and resumed.
    let ledger = ok(arbkeep(dir).args(["ledger", "--json"]).output().unwrap());
    let audit: Vec<Value> = ledger
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &Value| e["operator"] == true)
        .collect();
    assert!(
        audit
            .iter()
            .any(|e| e["note"].as_str().unwrap().contains("pause all execution"))
    );
    assert!(
        audit
            .iter()
            .any(|e| e["note"].as_str().unwrap().contains("resume execution"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_without_the_right_token_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let _engine = tokio::task::block_in_place(|| start(&dir));
    let addr = std::fs::read_to_string(dir.join("data").join("control.addr")).unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}", addr.trim()))
        .await
        .unwrap();
    let mut ask = async |msg: Value| -> Value {
        ws.send(Message::text(msg.to_string())).await.unwrap();
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                _ => continue,
            }
        }
    };
    let no_token = ask(json!({"type": "command", "id": 1, "command": {"command": "pause"}})).await;
    assert_eq!(no_token["type"], "error", "{no_token}");
    assert!(
        no_token["error"].as_str().unwrap().contains("unauthorized"),
        "{no_token}"
    );
    let wrong = ask(json!({"type": "command", "id": 2, "token": "00".repeat(32), "command": {"command": "pause"}})).await;
    assert_eq!(wrong["type"], "error", "{wrong}");
    assert!(
        wrong["error"].as_str().unwrap().contains("unauthorized"),
        "{wrong}"
    );
    // Reading is open, and shows that nothing changed.
    let s = ask(json!({"type": "status", "id": 3})).await;
    assert_eq!(s["status"]["paused"], false, "{s}");
    // Stellar is off in this run: the seed's commands are told so.
    for command in ["get_supported_assets", "start_engine"] {
        let off = ask(json!({"command": command})).await;
        assert!(
            off["error"]
                .as_str()
                .is_some_and(|e| e.contains("Stellar arbitrage is not enabled")),
            "{off}"
        );
    }
    // The right token works.
    let token = std::fs::read_to_string(dir.join("data").join("control.token")).unwrap();
    let right = ask(
        json!({"type": "command", "id": 4, "token": token.trim(), "command": {"command": "pause"}}),
    )
    .await;
    assert_eq!(right["ok"], true, "{right}");
}

#[test]
fn a_second_engine_on_the_same_data_dir_is_refused_with_the_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let engine = start(dir);
    let out = arbkeep(dir)
        .args(["--headless", "--run-for", "5s"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("pid {}", engine.0.id())), "{err}");
}

#[test]
fn a_malformed_config_is_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("config.toml"),
        "[cross_chain_loop]\nslippage_bps = \"lots\"\n",
    )
    .unwrap();
    let out = arbkeep(dir)
        .args(["--headless", "--run-for", "5s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cross_chain_loop.slippage_bps"), "{err}");
    assert!(
        !dir.join("data").exists(),
        "nothing may start on a bad config"
    );

    std::fs::write(
        dir.join("config.toml"),
        "[risk]\ndaily_loss_limt_vcred = 5\n",
    )
    .unwrap();
    let out = arbkeep(dir)
        .args(["--headless", "--run-for", "5s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("risk.daily_loss_limt_vcred"));
}

#[test]
fn status_lists_the_open_intents_from_the_store_when_no_engine_runs() {
    use arbkeep::engine::Mode;
    use arbkeep::model::{
        Action, Chain, CycleId, CycleState, Intent, IntentId, Route, StepKind, StepRecord,
        StepStatus, TokenId,
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("config.toml"), "[control]\nport = 0\n").unwrap();
    let now = 1_767_268_800_000;
    {
        // A cycle whose bridge-out intent was committed, and the engine stopped.
        let store = arbkeep::store::Store::open(&dir.join("data"), Mode::Paper).unwrap();
        let cycle = arbkeep::ui::fixture::cycle(
            3,
            TokenId::Eth,
            Route::Stargate,
            CycleState::HemiSwapDone,
            now - 60_000,
            1_000,
        );
        let intent = Intent::new(
            IntentId {
                cycle: CycleId(3),
                step: StepKind::BridgeOut,
                attempt: 0,
            },
            Action::Swap {
                chain: Chain::Hemi,
                token_in: TokenId::Vcred,
                token_out: TokenId::Eth,
                amount_in: 1,
                min_out: 1,
                deadline: now,
            },
            now,
        );
        let step = StepRecord {
            intent,
            status: StepStatus::Intended,
            committed_at: now,
            finished_at: None,
        };
        store
            .write(|w| {
                w.put_cycle(&cycle)?;
                w.put_step(&step)
            })
            .unwrap();
    }
    let s = status(dir);
    assert_eq!(s["engine_running"], false, "{s}");
    let intents = s["intents"].as_array().expect("an intents list");
    assert_eq!(intents.len(), 1, "{s}");
    assert_eq!(intents[0]["id"], "c3", "{s}");
    assert_eq!(intents[0]["strategy"], "cross_chain_loop", "{s}");
    assert_eq!(intents[0]["state"], "COMMITTED", "{s}");
    assert_eq!(intents[0]["since"], now, "{s}");
    assert!(
        intents[0]["what"].as_str().unwrap().contains("bridge_out"),
        "{s}"
    );
    let text = ok(arbkeep(dir).arg("status").output().unwrap());
    assert!(text.contains("intents 1 open"), "{text}");
    assert!(text.contains("c3 ETH bridge_out #0 COMMITTED"), "{text}");
}

/// After a SIGKILL the store is left unclean (redb repairs it on the next
/// writable open). `status` with no engine running repairs it as the next
/// start would and answers, instead of "Database repair aborted".
#[test]
fn status_after_a_sigkill_repairs_the_store_and_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut engine = start(dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    while total(&status(dir)) == 0 {
        assert!(Instant::now() < deadline, "no cycle was ever started");
        std::thread::sleep(Duration::from_millis(100));
    }
    engine.0.kill().unwrap();
    engine.0.wait().unwrap();
    let s = status(dir);
    assert_eq!(s["engine_running"], false, "{s}");
    assert!(total(&s) > 0, "the cycles are still there: {s}");
    // The repair left no lock behind: an engine starts on the data dir.
    let _again = start(dir);
}

/// Lines of the diag log so far (empty before it exists).
fn diag(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("data/logs/diag.jsonl")).unwrap_or_default()
}

/// SIGHUP re-reads the config: the limits change in the running engine
/// (audited), the log level changes in place (debug lines appear in
/// diag.jsonl from then on), what needs a restart is named (the webhook URL
/// always: it comes from the environment), and the engine goes on; SIGTERM
/// then stops it cleanly (exit 0).
#[test]
fn sighup_reloads_the_limits_and_names_what_needs_a_restart_then_sigterm_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut engine = start(dir);
    // At info a control-API connection is not logged (it is at debug).
    assert_eq!(status(dir)["engine_running"], true);
    let connected = |l: &&str| l.contains("control API: client connected");
    assert!(
        !diag(dir).lines().any(|l| connected(&l)),
        "no debug line at log_level info"
    );
    std::fs::write(
        dir.join("config.toml"),
        "log_level = \"debug\"\n[control]\nport = 1\n[paper]\nspeed = 5000\n[risk]\ndaily_loss_limit_vcred = \"200\"\n[notify]\nretries = 1\n",
    )
    .unwrap();
    let pid = i32::try_from(engine.0.id()).unwrap();
    // SAFETY: a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let audit = loop {
        let ledger = ok(arbkeep(dir).args(["ledger", "--json"]).output().unwrap());
        if ledger.contains("reloaded") {
            break ledger;
        }
        assert!(
            Instant::now() < deadline,
            "no reload in the audit trail: {ledger}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        audit.contains("risk.daily_loss_limit_vcred 500 → 200"),
        "the changed limit is named: {audit}"
    );
    assert!(
        audit.contains("log_level info → debug"),
        "the level change is audited: {audit}"
    );
    assert!(
        audit.contains("ARBKEEP_WEBHOOK_URL") && audit.contains("restart to change it"),
        "the webhook URL is named as needing a restart: {audit}"
    );
    let log = diag(dir);
    assert!(
        log.lines()
            .any(|l| l.contains("log level changed") && l.contains("info → debug")),
        "the log says the level changed: {log}"
    );
    // From now on a connection (the ledger verb above, this status) is
    // logged at debug.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert_eq!(status(dir)["engine_running"], true);
        if diag(dir)
            .lines()
            .any(|l| connected(&l) && l.contains("\"DEBUG\""))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no debug line after the reload: {}",
            diag(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        engine.0.try_wait().unwrap().is_none(),
        "SIGHUP does not stop it"
    );

    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = engine.0.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop it");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "a clean stop: {exit:?}");
    let log = diag(dir);
    let restart = log
        .lines()
        .find(|l| l.contains("need a restart"))
        .unwrap_or_else(|| panic!("no restart warning in the log"));
    assert!(restart.contains("control"), "{restart}");
    assert!(!restart.contains("risk"), "risk was reloaded: {restart}");
    assert!(
        !restart.contains("log_level") && !restart.contains("notify"),
        "the level and the notify settings change in place: {restart}"
    );
    assert!(
        !log.contains("https://"),
        "no webhook URL (none is set) nor any URL in the log"
    );
}

/// The CLI's failure text (a refused command exits non-zero).
fn refused(out: Output) -> String {
    assert!(!out.status.success(), "expected a refusal");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_hedge_verbs_through_the_cli_are_answered_and_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let _engine = start(dir);
    let run = |args: &[&str]| arbkeep(dir).args(args).output().unwrap();
    let answer = ok(run(&["pause-symbol", "zzzz"]));
    assert!(answer.contains("hedging ZZZZ paused"), "{answer}");
    let again = refused(run(&["pause-symbol", "ZZZZ"]));
    assert!(again.contains("already paused"), "{again}");
    let set = ok(run(&[
        "position",
        "set",
        "ZZZZ",
        "-2.5",
        "--reason",
        "moved in by hand",
    ]));
    assert!(set.contains("from 0 to -2.5"), "{set}");
    let no_reason = refused(run(&["position", "set", "ZZZZ", "1", "--reason", " "]));
    assert!(no_reason.contains("reason is required"), "{no_reason}");
    let tx = format!("0x{}", "ab".repeat(32));
    let missing = refused(run(&["process-tx", &tx]));
    assert!(missing.contains("no receipt"), "{missing}");
    let usage = refused(run(&["pause-symbol", "AA PL"]));
    assert!(usage.contains("is not a ticker"), "{usage}");
    let bad = refused(run(&["process-tx", "0x12"]));
    assert!(bad.contains("not a transaction hash"), "{bad}");
    ok(run(&["resume-symbol", "ZZZZ"]));
    let ledger = ok(run(&["ledger", "--json"]));
    let audit: Vec<String> = ledger
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["operator"] == true)
        .map(|e| e["note"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        "cli@api: pause hedging ZZZZ — hedging ZZZZ paused by the operator",
        "cli@api: pause hedging ZZZZ — refused: hedging ZZZZ is already paused",
        "cli@api: set ZZZZ's net to -2.5: moved in by hand",
        "cli@api: resume hedging ZZZZ — hedging ZZZZ resumed",
    ] {
        assert!(
            audit.iter().any(|n| n.contains(expected)),
            "{expected:?} not in {audit:#?}"
        );
    }
}
