//! The real binary in `mode = "live"` with only the Stellar keeper, against
//! the loopback fakes of Stellar RPC, Horizon and Friendbot served from this
//! test: accounts funded, trustlines set, an opportunity executed, the
//! keeper's Stellar ledger equal to the balance change, the seed's WebSocket
//! API answering on the control port; then SIGKILL and a restart that finds
//! nothing to redo and sends nothing twice. And a kill while a cycle is
//! applied but not yet confirmed: the restart settles it once, by looking.
//! And a cycle whose answer is lost (a 502 after the fake applied it) while
//! the node's listing lags: OUTCOME UNKNOWN in the snapshot, then booked once.
//! The secret never reaches a log.

use arbkeep::fakes::stellar::{StellarFake, aqua, detector, reflector, world};
use arbkeep::strategy::stellar_arb::store as kstore;
use arbkeep::strategy::stellar_arb::trading_key;
use arbkeep::venue::stellar::sim::FRIENDBOT_AMOUNT;
use arbkeep::venue::stellar::{AccountKey, Keypair, ONE, Offer, Price, StellarAsset};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_arbkeep");
const ACCOUNTS: u32 = 2;

fn master() -> Keypair {
    Keypair::from_seed([0x5A; 32])
}

fn write_config(dir: &Path, fake: &StellarFake) {
    let text = format!(
        r#"mode = "live"

[engine]
reconcile_interval = "200ms"

[control]
port = 0

[cross_chain_loop]
enabled = false

[stellar_arb]
enabled = true
network = "TESTNET"
horizon_url = "{horizon}"
rpc_url = "{rpc}"
friendbot_url = "{friendbot}"
detector_contract = "{detector}"
reflector_contract = "{reflector}"
num_accounts = {ACCOUNTS}
scan_interval = "1s"
assets = ["{aqua}"]
"#,
        horizon = fake.horizon_url(),
        rpc = fake.rpc_url(),
        friendbot = fake.friendbot_url(),
        detector = detector(),
        reflector = reflector(),
        aqua = aqua(),
    );
    std::fs::write(dir.join("config.toml"), text).expect("config");
}

/// The binary, headless, with the secret in its environment only; its
/// output goes to files the test reads afterwards (for the secret).
struct Engine {
    child: Child,
}

impl Engine {
    fn start(dir: &Path, run: u32) -> Self {
        let data = dir.join("data");
        // A killed engine leaves its address behind: wait for a fresh one.
        let _ = std::fs::remove_file(data.join("control.addr"));
        let out = std::fs::File::create(dir.join(format!("stdout-{run}.log"))).expect("out");
        let err = std::fs::File::create(dir.join(format!("stderr-{run}.log"))).expect("err");
        let child = Command::new(BIN)
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--data-dir")
            .arg(&data)
            .args(["--headless", "--run-for", "300s"])
            .env("STELLAR_SECRET_SEED", master().expose_secret())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("engine starts");
        Self { child }
    }

    /// SIGKILL: no shutdown path runs.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reaped");
    }

    fn assert_running(&mut self, dir: &Path, run: u32) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let err =
                std::fs::read_to_string(dir.join(format!("stderr-{run}.log"))).unwrap_or_default();
            panic!("the engine exited ({status}): {err}");
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn control_addr(data: &Path) -> String {
    let file = data.join("control.addr");
    wait_for("the control API", 30, || file.exists()).await;
    std::fs::read_to_string(&file)
        .expect("addr")
        .trim()
        .to_string()
}

/// The seed's frontend: `{"command":"get_supported_assets"}`, no token.
async fn supported_assets(addr: &str) -> Value {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect("ws connects");
    ws.send(Message::Text(
        json!({"command": "get_supported_assets"})
            .to_string()
            .into(),
    ))
    .await
    .expect("send");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .expect("an answer in time")
            .expect("open")
            .expect("frame");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).expect("json");
            // Snapshots and stream events may come first.
            if v.get("supported_assets").is_some() || v.get("error").is_some() {
                return v;
            }
        }
    }
}

fn accounts() -> Vec<AccountKey> {
    (0..ACCOUNTS)
        .map(|i| trading_key(&master(), i).public())
        .collect()
}

/// A successful cyclic path payment from one of the trading accounts.
fn cycle_applied(fake: &StellarFake) -> bool {
    let ids = accounts();
    fake.with(|l| {
        l.txs.values().any(|t| {
            t.success
                && matches!(
                    arbkeep::venue::stellar::tx::decode_envelope(&t.envelope),
                    Ok(stellar_xdr::TransactionEnvelope::Tx(ref v))
                        if matches!(v.tx.operations[0].body, stellar_xdr::OperationBody::PathPaymentStrictSend(_))
                            && ids.contains(&arbkeep::venue::stellar::asset::muxed_key(&v.tx.source_account))
                )
        })
    })
}

fn store_state(
    data: &Path,
) -> (
    Vec<kstore::Intent>,
    Vec<kstore::Execution>,
    Vec<kstore::LedgerLine>,
) {
    // After SIGKILL the file needs the repair only a writer may run; the
    // engine is dead, and the lock is released when this returns.
    let store = arbkeep::store::Store::open(data, arbkeep::model::Mode::Live).expect("store");
    let r = store.read().expect("read");
    (
        kstore::intents(&r).expect("intents"),
        kstore::results(&r).expect("results"),
        kstore::ledger(&r).expect("ledger"),
    )
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_testnet_funds_trades_books_and_restarts_without_sending_twice() {
    let fake = StellarFake::start(world()).await;
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path();
    let data = dir.join("data");
    write_config(dir, &fake);

    let mut engine = Engine::start(dir, 0);
    let addr = control_addr(&data).await;
    engine.assert_running(dir, 0);

    // The seed's WebSocket API on the control port, answered by the live
    // keeper's venue (the detector contract, by simulation).
    let answer = supported_assets(&addr).await;
    assert_eq!(answer["supported_assets"][0]["code"], "AQUA", "{answer}");

    wait_for("a cycle applied on the fake network", 60, || {
        cycle_applied(&fake)
    })
    .await;
    // Funded (Friendbot) and trusting AQUA.
    for id in accounts() {
        let a = fake.with(|l| l.account(id)).expect("funded");
        assert!(a.trusts(&aqua()), "{id} trusts AQUA");
    }
    // The single profitable offer is gone: nothing else to do. Let the
    // keeper settle and book what it sent, then kill it mid-run.
    wait_for("every send settled", 30, || {
        fake.with(|l| l.txs.values().all(|t| t.hidden_polls == 0))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    engine.assert_running(dir, 0);
    engine.kill();

    let (open, results, lines) = store_state(&data);
    assert!(open.is_empty(), "nothing left open: {open:?}");
    let cycles: Vec<_> = results.iter().filter(|e| e.kind == "cycle").collect();
    assert!(
        cycles
            .iter()
            .any(|e| e.result == "tx_success" && e.delta > 0),
        "{results:?}"
    );
    // Every trading account's XLM moved exactly by its ledger lines, and
    // every applied transaction of theirs is a settled result.
    let booked = |id: &AccountKey| -> i64 {
        lines
            .iter()
            .filter(|l| l.account == id.to_string())
            .map(|l| l.delta)
            .sum()
    };
    for id in accounts() {
        let xlm = fake
            .with(|l| l.accounts.get(&id).map(|a| a.xlm))
            .expect("account");
        assert_eq!(xlm - FRIENDBOT_AMOUNT, booked(&id), "account {id}");
    }
    let applied: Vec<String> = fake.with(|l| l.txs.keys().cloned().collect());
    for hash in &applied {
        assert!(
            results.iter().any(|e| &e.hash == hash),
            "applied but not settled: {hash}"
        );
    }

    // Restart: recovery finds nothing to redo; passes run, nothing is sent.
    let sends = fake.with(|l| l.sends);
    let seqs: Vec<Option<i64>> = accounts()
        .iter()
        .map(|id| fake.with(|l| l.accounts.get(id).map(|a| a.seq)))
        .collect();
    let mut engine = Engine::start(dir, 1);
    let addr = control_addr(&data).await;
    assert_eq!(
        supported_assets(&addr).await["supported_assets"][0]["code"],
        "AQUA"
    );
    // Several scans (1 s) and engine passes (200 ms).
    tokio::time::sleep(Duration::from_secs(4)).await;
    engine.assert_running(dir, 1);
    engine.kill();
    assert_eq!(
        fake.with(|l| l.sends),
        sends,
        "nothing sent after the restart"
    );
    let seqs_after: Vec<Option<i64>> = accounts()
        .iter()
        .map(|id| fake.with(|l| l.accounts.get(id).map(|a| a.seq)))
        .collect();
    assert_eq!(seqs_after, seqs);
    let (open2, results2, lines2) = store_state(&data);
    assert!(open2.is_empty());
    assert_eq!(results2, results, "nothing settled twice");
    assert_eq!(lines2, lines, "nothing booked twice");
    // XLM is the only asset booked: the AQUA leg is inside one payment.
    assert!(lines2.iter().all(|l| l.asset == "XLM"));

    // No secret is in a file the engine wrote, nor in its output: neither
    // the master's nor any derived trading account's.
    assert_no_secret_in(dir);
}

/// Every secret the engine holds, in every form it could be written: the
/// master's and each derived trading account's `S…` strkey, raw 32-byte
/// seed and its hex. The derivation (`SHA-256(master seed ‖
/// "arbkeep/stellar/" ‖ i as u32 big-endian)`) is computed here, not taken
/// from the keeper, and checked against the accounts the keeper traded.
fn secrets() -> Vec<(String, Vec<u8>)> {
    let master = master();
    let mut keys = vec![("master".to_string(), master.clone())];
    // More than ACCOUNTS: a keeper deriving extra accounts is covered too.
    for i in 0..ACCOUNTS + 8 {
        let mut bytes = master.seed_bytes().to_vec();
        bytes.extend_from_slice(b"arbkeep/stellar/");
        bytes.extend_from_slice(&i.to_be_bytes());
        let derived = Keypair::from_seed(arbkeep::venue::stellar::keys::sha256(&bytes));
        assert_eq!(
            derived.public(),
            trading_key(&master, i).public(),
            "the test derives trading account {i} as the keeper does"
        );
        keys.push((format!("trading account {i}"), derived));
    }
    let mut out = Vec::new();
    for (name, key) in keys {
        let seed = key.seed_bytes();
        let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        out.push((
            format!("{name} secret seed"),
            key.expose_secret().into_bytes(),
        ));
        out.push((format!("{name} raw seed"), seed.to_vec()));
        out.push((format!("{name} seed as hex"), hex.into_bytes()));
    }
    out
}

fn assert_no_secret_in(dir: &Path) {
    let secrets = secrets();
    assert!(secrets.len() >= 3 * (1 + ACCOUNTS as usize));
    let files = files_under(dir);
    assert!(files.len() >= 4, "the store and the logs: {files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for (what, secret) in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_slice()),
                "the {what} leaked into {}",
                file.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_a_cycle_is_unconfirmed_the_restart_settles_it_once() {
    // No opportunity until the accounts are set up: only the dear AQUA.
    let mut w = world();
    let cheap = w.order_book(&aqua(), &StellarAsset::Native).offers;
    w.set_book(
        aqua(),
        StellarAsset::Native,
        vec![Offer {
            amount: 100_000 * ONE,
            price: Price { n: 1, d: 99 },
        }],
    );
    let fake = StellarFake::start(w).await;
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path();
    let data = dir.join("data");
    write_config(dir, &fake);

    let mut engine = Engine::start(dir, 0);
    control_addr(&data).await;
    wait_for("accounts funded and trusting AQUA", 60, || {
        accounts().iter().all(|id| {
            fake.with(|l| l.account(*id))
                .is_some_and(|a| a.trusts(&aqua()))
        })
    })
    .await;
    engine.assert_running(dir, 0);
    // The network applies what it is sent, but getTransaction keeps
    // answering NOT_FOUND; the cheap AQUA appears.
    fake.with(|l| {
        l.hide_polls = u32::MAX;
        l.set_book(aqua(), StellarAsset::Native, cheap);
    });
    wait_for("the cycle applied", 60, || cycle_applied(&fake)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    engine.kill();

    let (open, results, _) = store_state(&data);
    assert_eq!(open.len(), 1, "the cycle's intent is open: {open:?}");
    assert_eq!(open[0].kind, "cycle");
    assert!(
        fake.with(|l| l.txs.contains_key(&open[0].hash)),
        "it was applied"
    );
    assert!(results.iter().all(|e| e.kind != "cycle"), "{results:?}");

    // The network's answer comes back; the restart looks before anything.
    fake.with(|l| {
        l.hide_polls = 1;
        for t in l.txs.values_mut() {
            t.hidden_polls = 0;
        }
    });
    let sends = fake.with(|l| l.sends);
    let mut engine = Engine::start(dir, 1);
    control_addr(&data).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    engine.assert_running(dir, 1);
    engine.kill();

    assert_eq!(
        fake.with(|l| l.sends),
        sends,
        "settled by looking, not resent"
    );
    let (open2, results2, lines) = store_state(&data);
    assert!(open2.is_empty(), "{open2:?}");
    let settled: Vec<_> = results2.iter().filter(|e| e.hash == open[0].hash).collect();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].result, "tx_success");
    assert!(settled[0].delta > 0);
    for id in accounts() {
        let xlm = fake
            .with(|l| l.accounts.get(&id).map(|a| a.xlm))
            .expect("account");
        let booked: i64 = lines
            .iter()
            .filter(|l| l.account == id.to_string())
            .map(|l| l.delta)
            .sum();
        assert_eq!(xlm - FRIENDBOT_AMOUNT, booked, "account {id}");
    }
    assert_no_secret_in(dir);
}

/// Subscribe to the control API's snapshots and wait until `done` holds
/// for one; returns it.
async fn wait_snapshot(addr: &str, what: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect("ws connects");
    ws.send(Message::Text(
        json!({"type": "subscribe", "id": "s"}).to_string().into(),
    ))
    .await
    .expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting: {what}");
        let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(left, ws.next()).await else {
            continue;
        };
        let v: Value = serde_json::from_str(&t).expect("json");
        if v["type"] == "snapshot" && done(&v["snapshot"]) {
            return v["snapshot"].clone();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_a_lost_answer_to_the_cycle_is_outcome_unknown_on_screen_then_booked_once() {
    use arbkeep::fakes::stellar::{Fault, Rule};
    // No opportunity until the accounts are set up: only the dear AQUA.
    let mut w = world();
    let cheap = w.order_book(&aqua(), &StellarAsset::Native).offers;
    w.set_book(
        aqua(),
        StellarAsset::Native,
        vec![Offer {
            amount: 100_000 * ONE,
            price: Price { n: 1, d: 99 },
        }],
    );
    let fake = StellarFake::start(w).await;
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path();
    let data = dir.join("data");
    write_config(dir, &fake);

    let mut engine = Engine::start(dir, 0);
    let addr = control_addr(&data).await;
    wait_for("accounts funded and trusting AQUA", 60, || {
        accounts().iter().all(|id| {
            fake.with(|l| l.account(*id))
                .is_some_and(|a| a.trusts(&aqua()))
        })
    })
    .await;
    // The cycle applies but its answer is lost (a gateway's 502 after
    // forwarding), and the node's listing lags: getTransaction says
    // NOT_FOUND for a while.
    fake.fault(Rule::cycle_send(Fault::Status {
        status: 502,
        after: true,
        retry_after: None,
    }));
    fake.with(|l| {
        l.hide_polls = 40;
        l.set_book(aqua(), StellarAsset::Native, cheap);
    });
    let snap = wait_snapshot(&addr, "the cycle OUTCOME UNKNOWN on screen", 60, |s| {
        s["intents"].as_array().is_some_and(|a| {
            a.iter().any(|i| {
                i["strategy"] == "stellar_arb"
                    && i["state"] == "OUTCOME_UNKNOWN"
                    && i["id"].as_str().is_some_and(|id| id.starts_with("s:"))
            })
        })
    })
    .await;
    assert_eq!(fake.applied_cycles().len(), 1, "it applied: {snap}");
    engine.assert_running(dir, 0);
    // The listing catches up: settled by looking, booked once.
    fake.with(|l| {
        for t in l.txs.values_mut() {
            t.hidden_polls = 0;
        }
        l.hide_polls = 1;
    });
    wait_snapshot(&addr, "settled", 60, |s| {
        s["intents"].as_array().is_some_and(|a| a.is_empty())
            && s["stellar"]["executions"].as_array().is_some_and(|e| {
                e.iter().any(|x| {
                    x["result"] == "tx_success"
                        && x["path"].as_str().is_some_and(|p| p.contains("AQUA"))
                })
            })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    engine.kill();

    let subs = fake.submissions();
    assert_eq!(subs.cycles.len(), 1, "one cycle envelope only: {subs:?}");
    for ((account, seq), hashes) in &subs.by_seq {
        assert_eq!(hashes.len(), 1, "{account} {seq}: {hashes:?}");
    }
    let applied = fake.applied_cycles();
    assert_eq!(applied.len(), 1);
    let (open, results, lines) = store_state(&data);
    assert!(open.is_empty(), "{open:?}");
    let settled: Vec<_> = results.iter().filter(|e| e.hash == applied[0]).collect();
    assert_eq!(settled.len(), 1, "booked once: {results:?}");
    assert_eq!(settled[0].result, "tx_success");
    for id in accounts() {
        let xlm = fake
            .with(|l| l.accounts.get(&id).map(|a| a.xlm))
            .expect("account");
        let booked: i64 = lines
            .iter()
            .filter(|l| l.account == id.to_string())
            .map(|l| l.delta)
            .sum();
        assert_eq!(xlm - FRIENDBOT_AMOUNT, booked, "account {id}");
    }
}
