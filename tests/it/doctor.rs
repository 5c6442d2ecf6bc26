//! `arbkeep doctor`, each check failing against a devnet or a fake set up
//! to fail it: a wrong chain id, an address without code, a bad checksum,
//! a token whose decimals are not the token table's, an RPC that does not
//! answer and one that is slow (the faulting proxy), a skewed chain clock
//! (anvil's time moved an hour ahead), a Schwab login missing, expired or
//! expiring, Stellar accounts, issuers and trustlines missing (the loopback
//! fakes), and a data dir that is not writable or not private. A good
//! devnet passes with exit code 0; the binary's exit codes, its `--json`,
//! and that no secret reaches its output are checked on the real binary.
//!
//! The devnet is started once for this file (on a thread that outlives the
//! tests, so its anvil nodes do too) and only read: doctor never sends.

use crate::devnet_common;
use crate::schwab_login;
use arbkeep::fakes::stellar::{StellarFake, aqua, detector, issuer, reflector, world};

use arbkeep::config::Config;
use arbkeep::doctor::local::{DiskLimits, data_dir, disk_space};
use arbkeep::doctor::{Check, Report, Setup, Status, examine};
use arbkeep::fakes::evm_rpc::{FakeRpc, RpcFault};
use arbkeep::fakes::schwab::{FAKE_ACCOUNT, FAKE_APP_KEY, FAKE_APP_SECRET, FakeSchwab};
use arbkeep::model::time::{DAY, HOUR};
use arbkeep::model::{Clock, ManualClock, SystemClock, TokenId};
use arbkeep::strategy::stellar_arb::trading_key;
use arbkeep::venue::evm::devnet::{self, Anvil, Deployment, DevnetOptions, KEEPER_KEY};
use arbkeep::venue::stellar::sim::SimLedger;
use arbkeep::venue::stellar::{Keypair, ONE, PUBLIC_PASSPHRASE, StellarAsset};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_arbkeep");

/// Every secret the binary could read: removed from its environment
/// unless a test sets it, so the runner's own never leak in.
const SECRET_VARS: [&str; 7] = [
    "ARBITRAGE_PRIVATE_KEY",
    "ARBITRAGE_MNEMONIC",
    "ARBKEEP_WEBHOOK_URL",
    "STELLAR_SECRET_SEED",
    "SCHWAB_APP_KEY",
    "SCHWAB_APP_SECRET",
    "ENCRYPTION_KEY",
];

// ---- the shared devnet and the config over it ------------------------------

/// One devnet for every test here, kept up by a thread that never ends
/// (anvil dies with the thread that started it).
fn deployment() -> &'static Deployment {
    static SHARED: OnceLock<Deployment> = OnceLock::new();
    SHARED.get_or_init(|| {
        // Here, so a missing anvil fails the test with the fix, never a skip.
        devnet_common::require_tools();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let d = devnet_common::start(DevnetOptions::default()).await;
                let _ = tx.send(d.deployment.clone());
                std::future::pending::<()>().await;
                drop(d);
            });
        });
        rx.recv().expect("the shared devnet starts")
    })
}

async fn shared() -> &'static Deployment {
    tokio::task::spawn_blocking(deployment)
        .await
        .expect("devnet thread")
}

/// The devnet's own config plus the equity hedge on its Hemi (the
/// Raindex emitter as the orderbook, Hemi's USDC), for a data dir.
fn devnet_toml(d: &Deployment, data: &Path) -> String {
    format!(
        "{}\n[equity_hedge]\nenabled = true\nrpc = \"{}\"\nchain_id = {}\norderbook = \"{}\"\nusdc = \"{}\"\norder_owner = \"{}\"\n",
        devnet::config_toml(d, data),
        d.hemi.rpc_url,
        d.hemi.chain_id,
        d.hemi.raindex,
        d.hemi.tokens[&TokenId::Usdc],
        d.keeper,
    )
}

fn private_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn env(pairs: &[(&str, &str)]) -> arbkeep::doctor::Env {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
}

/// The checks of a config text, in process, with these secrets.
async fn examine_toml(text: &str, secrets: &[(&str, &str)]) -> Report {
    let setup = Setup {
        config: Config::from_toml(text, "doctor.toml"),
        data_dir: None,
        env: env(secrets),
        clock: Arc::new(SystemClock),
        limits: DiskLimits::default(),
    };
    examine(&setup).await
}

fn check<'a>(report: &'a Report, name: &str) -> &'a Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name:?} in\n{}", arbkeep::doctor::table(report)))
}

fn assert_status(report: &Report, name: &str, status: Status) -> String {
    let c = check(report, name);
    assert_eq!(
        c.status,
        status,
        "{name}: {}\n{}",
        c.detail,
        arbkeep::doctor::table(report)
    );
    if matches!(status, Status::Warn | Status::Fail) {
        assert!(c.fix.is_some(), "{name} says how to fix it");
    }
    c.detail.clone()
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("--json is JSON ({e}): {}", self.stdout))
    }

    fn assert_hides(&self, secret: &str) {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "a secret was printed:\n{}\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// The real binary: `arbkeep doctor <args>`, with only `secrets`
/// of the secret variables in its environment.
async fn doctor_bin(args: &[&str], secrets: &[(&str, &str)]) -> Run {
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("doctor").args(args);
    for var in SECRET_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in secrets {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("arbkeep runs"))
        .await
        .expect("joined");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json_check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name:?} in {v}"))
}

// ---- a good devnet ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_devnet_passes_with_exit_code_0_and_no_secret_printed() {
    let d = shared().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    private_dir(&data);
    let config = tmp.path().join("devnet.toml");
    std::fs::write(&config, devnet_toml(d, &data)).unwrap();
    let webhook = "https://hooks.example.com/services/T0/B0/WEBHOOK-SECRET-7f3a";
    let secrets = [
        ("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY),
        ("ARBKEEP_WEBHOOK_URL", webhook),
    ];
    let args = ["--config", config.to_str().unwrap()];

    let run = doctor_bin(&[&args[..], &["--json"]].concat(), &secrets).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["summary"]["fail"], 0, "{v}");
    assert_eq!(v["summary"]["exit_code"], 0);
    assert_eq!(v["ok"], true);
    for chain in ["Hemi", "Ethereum", "orderbook chain"] {
        for what in [
            "chain id",
            "RPC",
            "addresses",
            "code",
            "token decimals",
            "clock",
        ] {
            let c = json_check(&v, &format!("{chain} {what}"));
            assert_eq!(c["status"], "ok", "{c}");
        }
    }
    for name in [
        "Hemi WebSocket",
        "Ethereum WebSocket",
        "Hemi wallet gas",
        "data dir",
        "data dir permissions",
        "file permissions",
        "wallet key",
        "webhook URL",
    ] {
        assert_eq!(json_check(&v, name)["status"], "ok", "{name}: {v}");
    }
    assert_eq!(json_check(&v, "broker")["status"], "skip");
    assert_eq!(json_check(&v, "stellar")["status"], "skip");
    let wallet = json_check(&v, "wallet key")["detail"].as_str().unwrap();
    assert!(wallet.contains("ARBITRAGE_PRIVATE_KEY set"), "{wallet}");
    assert!(
        json_check(&v, "webhook URL")["detail"]
            .as_str()
            .unwrap()
            .contains("set (to hooks.example.com)")
    );
    run.assert_hides(KEEPER_KEY.trim_start_matches("0x"));
    run.assert_hides("WEBHOOK-SECRET-7f3a");

    let run = doctor_bin(&args, &secrets).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("status  group"), "{}", run.stdout);
    assert!(run.stdout.contains("0 fail"), "{}", run.stdout);
    run.assert_hides(KEEPER_KEY.trim_start_matches("0x"));
    run.assert_hides("WEBHOOK-SECRET-7f3a");
    // Read-only: nothing was written to the data dir.
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
}

// ---- the EVM checks, each failed by its own setup ---------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_id_other_than_the_nodes_fails_naming_the_key() {
    let d = shared().await;
    let tmp = tempfile::tempdir().unwrap();
    let text = devnet_toml(d, &tmp.path().join("data")).replacen(
        "[evm.hemi]\nchain_id = 43111",
        "[evm.hemi]\nchain_id = 999",
        1,
    );
    let r = examine_toml(&text, &[("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)]).await;
    let detail = assert_status(&r, "Hemi chain id", Status::Fail);
    assert!(
        detail.contains("is chain id 43111, but the config says 999"),
        "{detail}"
    );
    assert!(detail.contains("evm.hemi.chain_id"), "{detail}");
    assert_status(&r, "Hemi remaining checks", Status::Skip);
    assert_status(&r, "Ethereum chain id", Status::Ok);
    assert_eq!(r.summary().exit_code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_without_code_fails() {
    let d = shared().await;
    let tmp = tempfile::tempdir().unwrap();
    // The keeper's wallet is an account without code.
    let eth_pool = d.hemi.stargate[&arbkeep::model::TokenId::Eth];
    let text = devnet_toml(d, &tmp.path().join("data")).replacen(
        &format!("ETH = \"{eth_pool}\""),
        &format!("ETH = \"{}\"", d.keeper),
        1,
    );
    let r = examine_toml(&text, &[("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)]).await;
    let detail = assert_status(&r, "Hemi code", Status::Fail);
    assert!(
        detail.contains(&format!("evm.hemi.stargate.ETH {}: no code", d.keeper)),
        "{detail}"
    );
    assert_status(&r, "Ethereum code", Status::Ok);
}

/// The swap providers' contracts are checked for code like the rest, and
/// 0x's API key must be in the environment (its value never shown).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_providers_contract_without_code_or_a_missing_api_key_fails() {
    let d = shared().await;
    let tmp = tempfile::tempdir().unwrap();
    let zx = d
        .ethereum
        .zerox
        .clone()
        .expect("0x on the devnet's Ethereum");
    let text = format!(
        "{}\n[evm.ethereum.zerox]\nbase_url = \"http://127.0.0.1:9\"\nallowance_holder = \"{}\"\n",
        devnet_toml(d, &tmp.path().join("data")),
        zx.allowance_holder
    );
    let key = "zx-secret-value-1234";
    let r = examine_toml(
        &text,
        &[
            ("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY),
            ("ZEROX_API_KEY", key),
        ],
    )
    .await;
    assert_status(&r, "Ethereum code", Status::Ok);
    let detail = assert_status(&r, "zerox API key", Status::Ok);
    assert_eq!(detail, "ZEROX_API_KEY set");
    assert!(
        !arbkeep::doctor::table(&r).contains(key),
        "the key is never shown"
    );
    let r = examine_toml(&text, &[("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)]).await;
    assert!(assert_status(&r, "zerox API key", Status::Fail).contains("ZEROX_API_KEY is not set"));
    // An AllowanceHolder without code (the keeper's own account).
    let text = text.replace(
        &format!("allowance_holder = \"{}\"", zx.allowance_holder),
        &format!("allowance_holder = \"{}\"", d.keeper),
    );
    let r = examine_toml(&text, &[("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)]).await;
    let detail = assert_status(&r, "Ethereum code", Status::Fail);
    assert!(
        detail.contains(&format!(
            "evm.ethereum.zerox.allowance_holder {}: no code",
            d.keeper
        )),
        "{detail}"
    );
}

/// 1delta's targets are checked for code; its key is optional, and the
/// doctor says whether it is set (never its value).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onedeltas_targets_need_code_and_its_optional_key_is_reported() {
    let d = shared().await;
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[evm.hemi.onedelta]\nbase_url = \"http://127.0.0.1:9\"\ntargets = [\"{}\"]\n",
        devnet_toml(d, &tmp.path().join("data")),
        d.hemi.router
    );
    let key = "1d-secret-value-5678";
    let r = examine_toml(
        &text,
        &[
            ("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY),
            ("ONEDELTA_API_KEY", key),
        ],
    )
    .await;
    assert_status(&r, "Hemi code", Status::Ok);
    assert_eq!(
        assert_status(&r, "1delta API key", Status::Ok),
        "ONEDELTA_API_KEY set"
    );
    assert!(
        !arbkeep::doctor::table(&r).contains(key),
        "the key is never shown"
    );
    let r = examine_toml(&text, &[("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)]).await;
    assert!(assert_status(&r, "1delta API key", Status::Ok).contains("asked without a key"));
    // A target without code (the keeper's own account).
    let text = text.replace(
        &format!("targets = [\"{}\"]", d.hemi.router),
        &format!("targets = [\"{}\"]", d.keeper),
    );
    let r = examine_toml(&text, &[("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)]).await;
    let detail = assert_status(&r, "Hemi code", Status::Fail);
    assert!(
        detail.contains(&format!("evm.hemi.onedelta.targets {}: no code", d.keeper))
            && !detail.contains("evm.hemi.router"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_whose_decimals_are_not_the_tables_fails() {
    let d = shared().await;
    let tmp = tempfile::tempdir().unwrap();
    // WBTC (8 decimals in the table) pointed at VCRED (6 on chain).
    let text = devnet_toml(d, &tmp.path().join("data")).replacen(
        &format!("WBTC = \"{}\"", d.hemi.tokens[&TokenId::Wbtc]),
        &format!("WBTC = \"{}\"", d.hemi.tokens[&TokenId::Vcred]),
        1,
    );
    let r = examine_toml(&text, &[("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)]).await;
    let detail = assert_status(&r, "Hemi token decimals", Status::Fail);
    assert!(
        detail.contains("evm.hemi.tokens.WBTC")
            && detail.contains("has 6 decimals; the token table says WBTC has 8"),
        "{detail}"
    );
    assert_status(&r, "Ethereum token decimals", Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_checksum_fails_the_config_with_exit_code_2_or_the_hedge_address_check() {
    let d = shared().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let text = devnet_toml(d, &data);

    // The loop's addresses are refused by the config parser: exit code 2,
    // reported as the config check, naming the key and the right form.
    let vcred = d.hemi.tokens[&TokenId::Vcred].to_checksum(None);
    let bad = tmp.path().join("checksum.toml");
    std::fs::write(&bad, text.replace(&vcred, &devnet_common::miscase(&vcred))).unwrap();
    let run = doctor_bin(&["--config", bad.to_str().unwrap(), "--json"], &[]).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["summary"]["exit_code"], 2);
    let config = json_check(&v, "config");
    assert_eq!(config["status"], "fail");
    let detail = config["detail"].as_str().unwrap();
    assert!(detail.contains("evm.hemi.tokens.VCRED"), "{detail}");
    assert!(
        detail.contains("EIP-55 checksum") && detail.contains(&vcred),
        "{detail}"
    );
    assert!(
        run.stderr.contains("evm.hemi.tokens.VCRED"),
        "{}",
        run.stderr
    );

    // The hedge's addresses are text in the config: doctor checks them.
    let owner = d.keeper.to_checksum(None);
    let text = text.replace(
        &format!("order_owner = \"{owner}\""),
        &format!("order_owner = \"{}\"", devnet_common::miscase(&owner)),
    );
    let r = examine_toml(&text, &[("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)]).await;
    let detail = assert_status(&r, "orderbook chain addresses", Status::Fail);
    assert!(
        detail.contains("equity_hedge.order_owner") && detail.contains(&owner),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_or_websocket_that_does_not_answer_fails() {
    let d = shared().await;
    let tmp = tempfile::tempdir().unwrap();
    let port = closed_port();
    let ws_port = closed_port();
    let text = devnet_toml(d, &tmp.path().join("data"))
        .replacen(
            &format!("rpc = \"{}\"", d.ethereum.rpc_url),
            // A provider's key in the path: never shown.
            &format!("rpc = \"http://127.0.0.1:{port}/v2/RPC-KEY-5150\""),
            1,
        )
        .replacen(
            &format!("ws = \"{}\"", d.hemi.ws_url),
            &format!("ws = \"ws://127.0.0.1:{ws_port}\""),
            1,
        );
    let r = examine_toml(&text, &[("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)]).await;
    let detail = assert_status(&r, "Ethereum RPC", Status::Fail);
    assert!(
        detail.contains(&format!(
            "http://127.0.0.1:{port}/<redacted> does not answer"
        )),
        "{detail}"
    );
    assert!(!format!("{r:?}").contains("RPC-KEY-5150"), "{detail}");
    assert_status(&r, "Ethereum remaining checks", Status::Skip);
    let detail = assert_status(&r, "Hemi WebSocket", Status::Fail);
    assert!(
        detail.contains(&format!("ws://127.0.0.1:{ws_port}")),
        "{detail}"
    );
    // Hemi's HTTP side is fine.
    assert_status(&r, "Hemi RPC", Status::Ok);
    assert_status(&r, "Hemi code", Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_rpc_warns_and_one_past_its_timeout_fails() {
    let d = shared().await;
    let tmp = tempfile::tempdir().unwrap();
    let proxy = FakeRpc::start(&d.hemi.rpc_url).await.expect("proxy");
    let text = devnet_toml(d, &tmp.path().join("data"))
        .replacen(
            &format!("rpc = \"{}\"", d.hemi.rpc_url),
            &format!("rpc = \"{}\"", proxy.url()),
            1,
        )
        .replace("rpc_timeout = \"5s\"", "rpc_timeout = \"1500ms\"");
    let secrets = [("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)];

    // The head held 1.2 s before it is forwarded: an answer, but slow.
    let gate = proxy.gate("eth_blockNumber", 1);
    let opener = tokio::spawn(async move {
        gate.reached().await;
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        gate.open();
    });
    let r = examine_toml(&text, &secrets).await;
    opener.await.unwrap();
    let detail = assert_status(&r, "Hemi RPC", Status::Warn);
    assert!(detail.ends_with(": slow"), "{detail}");

    // The next head held past the timeout: that reason, and nothing else read.
    proxy.fail_next(
        "eth_blockNumber",
        RpcFault::TimeoutAfter(Duration::from_secs(3)),
    );
    let r = examine_toml(&text, &secrets).await;
    let detail = assert_status(&r, "Hemi RPC", Status::Fail);
    assert!(detail.contains("no answer within 1.5s"), "{detail}");
    assert_status(&r, "Hemi remaining checks", Status::Skip);
    assert!(proxy.sends().is_empty(), "doctor sent nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_clock_an_hour_ahead_fails() {
    let d = shared().await;
    devnet_common::require_tools();
    // A node of its own: moving its time must not touch the shared devnet.
    let node = Anvil::start(&devnet_common::root(), 43111, "0.5").expect("anvil");
    let p = devnet::signing_provider(&node.url(), devnet::DEPLOYER_KEY).unwrap();
    let ahead = SystemClock.now() / 1000 + 3_600;
    use alloy::providers::Provider;
    let _: Value = p
        .raw_request("anvil_setTime".into(), (ahead,))
        .await
        .expect("anvil_setTime");
    let from = p.get_block_number().await.unwrap();
    while p.get_block_number().await.unwrap() < from + 2 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tmp = tempfile::tempdir().unwrap();
    let text = devnet_toml(d, &tmp.path().join("data"))
        .replacen(
            &format!("rpc = \"{}\"", d.hemi.rpc_url),
            &format!("rpc = \"{}\"", node.url()),
            1,
        )
        .replacen(
            &format!("ws = \"{}\"", d.hemi.ws_url),
            &format!("ws = \"{}\"", node.ws_url()),
            1,
        );
    let r = examine_toml(&text, &[("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)]).await;
    let detail = assert_status(&r, "Hemi clock", Status::Fail);
    assert!(detail.contains("ahead of this machine's clock"), "{detail}");
    assert_status(&r, "Ethereum clock", Status::Ok);
    // The clock checks are shown together, after the rest.
    let last = r
        .checks
        .iter()
        .rposition(|c| c.group != arbkeep::doctor::Group::Clock);
    let first = r
        .checks
        .iter()
        .position(|c| c.group == arbkeep::doctor::Group::Clock);
    assert!(last < first, "{}", arbkeep::doctor::table(&r));
}

// ---- the Schwab login --------------------------------------------------------

/// Live mode, the hedge at Schwab (the fake), its orderbook chain the devnet's Hemi.
fn schwab_toml(d: &Deployment, data: &Path, fake: &FakeSchwab) -> String {
    format!(
        r#"mode = "live"
data_dir = "{data}"
[cross_chain_loop]
enabled = false
[equity_hedge]
enabled = true
broker = "schwab"
rpc = "{rpc}"
chain_id = {chain}
orderbook = "{orderbook}"
usdc = "{usdc}"
order_owner = "{owner}"
[schwab]
api_url = "{url}"
auth_url = "{url}"
account_number = "{FAKE_ACCOUNT}"
"#,
        data = data.display(),
        rpc = d.hemi.rpc_url,
        chain = d.hemi.chain_id,
        orderbook = d.hemi.raindex,
        usdc = d.hemi.tokens[&TokenId::Usdc],
        owner = d.keeper,
        url = fake.url(),
    )
}

/// Log in at the fake `ago` before now: the vault holds that login.
async fn logged_in(data: &Path, ago: u64) -> FakeSchwab {
    let clock = Arc::new(ManualClock::new(SystemClock.now() - ago));
    let fake = FakeSchwab::start(clock.clone()).await.expect("fake Schwab");
    schwab_login::log_in(&fake, &fake.config(), data, clock).await;
    fake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schwab_login_missing_expired_or_expiring_is_told_with_the_fix() {
    let d = shared().await;
    let schwab = [
        ("SCHWAB_APP_KEY", FAKE_APP_KEY),
        ("SCHWAB_APP_SECRET", FAKE_APP_SECRET),
        ("ENCRYPTION_KEY", schwab_login::KEY),
    ];

    // Logged in 8 days ago: expired. The binary fails (exit 1) and prints
    // neither the app's secrets, the key nor a token.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let fake = logged_in(&data, 8 * DAY).await;
    let config = tmp.path().join("live.toml");
    std::fs::write(&config, schwab_toml(d, &data, &fake)).unwrap();
    let asked = fake.requests().len();
    let run = doctor_bin(&["--config", config.to_str().unwrap(), "--json"], &schwab).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    // Nothing was asked of Schwab: no refresh, no order.
    assert_eq!(fake.requests().len(), asked, "{:?}", fake.requests());
    let v = run.json();
    assert_eq!(v["summary"]["fail"], 1, "only the login fails: {v}");
    let login = json_check(&v, "Schwab login");
    assert_eq!(login["status"], "fail", "{login}");
    assert!(
        login["detail"].as_str().unwrap().contains("expired at"),
        "{login}"
    );
    assert!(
        login["fix"].as_str().unwrap().contains("auth schwab"),
        "{login}"
    );
    assert_eq!(json_check(&v, "Schwab secrets")["status"], "ok");
    for secret in [FAKE_APP_KEY, FAKE_APP_SECRET, schwab_login::KEY] {
        run.assert_hides(secret);
    }
    for token in fake.issued_tokens() {
        run.assert_hides(&token);
    }

    // Logged in 6.5 days ago: a warning, and exit code 0.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let fake = logged_in(&data, 6 * DAY + 12 * HOUR).await;
    let config = tmp.path().join("live.toml");
    std::fs::write(&config, schwab_toml(d, &data, &fake)).unwrap();
    let run = doctor_bin(&["--config", config.to_str().unwrap()], &schwab).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let text = schwab_toml(d, &data, &fake);
    let r = examine_toml(&text, &schwab).await;
    let detail = assert_status(&r, "Schwab login", Status::Warn);
    assert!(
        detail.contains("expires in 11h") || detail.contains("expires in 12h"),
        "{detail}"
    );

    // A fresh login is fine; under another ENCRYPTION_KEY it does not open.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let fake = logged_in(&data, HOUR).await;
    let text = schwab_toml(d, &data, &fake);
    let r = examine_toml(&text, &schwab).await;
    assert_status(&r, "Schwab login", Status::Ok);
    let other_key = "11".repeat(32);
    let wrong = [schwab[0], schwab[1], ("ENCRYPTION_KEY", other_key.as_str())];
    let r = examine_toml(&text, &wrong).await;
    let detail = assert_status(&r, "Schwab login", Status::Fail);
    assert!(
        detail.contains("not the key these tokens were sealed with"),
        "{detail}"
    );

    // No login at all, and no secrets at all.
    let tmp = tempfile::tempdir().unwrap();
    let text = schwab_toml(d, &tmp.path().join("data"), &fake);
    let r = examine_toml(&text, &schwab).await;
    let detail = assert_status(&r, "Schwab login", Status::Fail);
    assert!(detail.starts_with("no login in"), "{detail}");
    let r = examine_toml(&text, &schwab[..1]).await;
    let detail = assert_status(&r, "Schwab secrets", Status::Fail);
    assert_eq!(detail, "SCHWAB_APP_SECRET: not set");
    assert_status(&r, "Schwab login", Status::Skip);
}

// ---- Stellar ---------------------------------------------------------------

fn master() -> Keypair {
    Keypair::from_seed([0x5D; 32])
}

fn stellar_toml(fake: &StellarFake, network: &str, assets: &[String], data: &Path) -> String {
    let friendbot = if network == "TESTNET" {
        format!("friendbot_url = \"{}\"\n", fake.friendbot_url())
    } else {
        String::new()
    };
    let assets: Vec<String> = assets.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        r#"mode = "live"
data_dir = "{data}"
[cross_chain_loop]
enabled = false
[stellar_arb]
enabled = true
network = "{network}"
horizon_url = "{horizon}"
rpc_url = "{rpc}"
{friendbot}detector_contract = "{detector}"
reflector_contract = "{reflector}"
num_accounts = 2
assets = [{assets}]
"#,
        data = data.display(),
        horizon = fake.horizon_url(),
        rpc = fake.rpc_url(),
        detector = detector(),
        reflector = reflector(),
        assets = assets.join(", "),
    )
}

fn now_secs() -> u64 {
    SystemClock.now() / 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stellar_accounts_issuers_trustlines_and_the_ledger_clock() {
    let secret = master().expose_secret();
    let seed = [("STELLAR_SECRET_SEED", secret.as_str())];
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let assets = [aqua().to_string()];

    // TESTNET, nothing funded yet, and the fake's ledger closed in 2023.
    let fake = StellarFake::start(world()).await;
    let text = stellar_toml(&fake, "TESTNET", &assets, &data);
    let r = examine_toml(&text, &seed).await;
    assert_status(&r, "Stellar RPC", Status::Ok);
    assert_status(&r, "Stellar network", Status::Ok);
    assert_status(&r, "Horizon", Status::Ok);
    assert_status(&r, "Stellar assets", Status::Ok);
    let detail = assert_status(&r, "Stellar clock", Status::Fail);
    assert!(detail.contains("behind this machine's clock"), "{detail}");
    let detail = assert_status(&r, "Stellar trading accounts", Status::Warn);
    assert!(detail.contains("2 of 2 not funded yet"), "{detail}");
    assert_status(&r, "Stellar master account", Status::Ok);
    let shown = format!("{r:?}");
    assert!(!shown.contains(&secret), "the secret is never in a check");
    // Doctor never asks Friendbot: the accounts still do not exist.
    for i in 0..2 {
        let id = trading_key(&master(), i).public();
        assert!(
            fake.with(|l| l.account(id)).is_none(),
            "Friendbot was asked"
        );
    }
    assert!(fake.submissions().by_hash.is_empty(), "nothing submitted");

    // The accounts exist: one trusts AQUA, the other does not (a warning:
    // the keeper adds it) and one with too little XLM for its reserve.
    let a = trading_key(&master(), 0).public();
    let b = trading_key(&master(), 1).public();
    fake.with(|l| {
        l.close_time = now_secs();
        l.create_account(a, 100 * ONE);
        l.create_account(b, 100 * ONE);
        if let Some(acc) = l.accounts.get_mut(&a) {
            acc.lines.insert(aqua(), (0, 1_000 * ONE));
        }
    });
    let r = examine_toml(&text, &seed).await;
    assert_status(&r, "Stellar clock", Status::Ok);
    assert_status(&r, "Stellar trading accounts", Status::Ok);
    let detail = assert_status(&r, "Stellar trustlines", Status::Warn);
    assert!(detail.contains(&format!("{b} lacks AQUA")), "{detail}");
    assert!(!detail.contains(&a.to_string()), "{detail}");
    assert_status(&r, "Stellar XLM balance", Status::Ok);
    fake.with(|l| {
        if let Some(acc) = l.accounts.get_mut(&b) {
            acc.xlm = ONE;
        }
    });
    let r = examine_toml(&text, &seed).await;
    let detail = assert_status(&r, "Stellar trustlines", Status::Fail);
    assert!(
        detail.contains(&format!("{b} lacks AQUA and can spend 0")),
        "{detail}"
    );
    assert_status(&r, "Stellar XLM balance", Status::Warn);

    // An asset whose issuer does not exist on this network.
    let ghost = StellarAsset::credit("GHOST", Keypair::from_seed([0x77; 32]).public()).unwrap();
    let text = stellar_toml(&fake, "TESTNET", &[ghost.to_string()], &data);
    let r = examine_toml(&text, &seed).await;
    let detail = assert_status(&r, "Stellar assets", Status::Fail);
    assert!(detail.contains("GHOST: its issuer"), "{detail}");

    // The config's network is not the server's.
    let text = stellar_toml(&fake, "PUBLIC", &assets, &data);
    let r = examine_toml(&text, &seed).await;
    let detail = assert_status(&r, "Stellar network", Status::Fail);
    assert!(detail.contains(PUBLIC_PASSPHRASE), "{detail}");

    // No secret: told, and the accounts are not looked at.
    let text = stellar_toml(&fake, "TESTNET", &assets, &data);
    let r = examine_toml(&text, &[]).await;
    let detail = assert_status(&r, "Stellar secret", Status::Fail);
    assert_eq!(detail, "STELLAR_SECRET_SEED missing");
    assert_status(&r, "Stellar accounts", Status::Skip);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_public_a_missing_master_account_fails_and_the_binary_exits_1() {
    let secret = master().expose_secret();
    let mut ledger = SimLedger::new(PUBLIC_PASSPHRASE, detector(), reflector());
    ledger.create_account(issuer().public(), 100 * ONE);
    ledger.close_time = now_secs();
    let fake = StellarFake::start(ledger).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("stellar.toml");
    let text = stellar_toml(
        &fake,
        "PUBLIC",
        &[aqua().to_string()],
        &tmp.path().join("data"),
    );
    std::fs::write(&config, text).unwrap();
    let run = doctor_bin(
        &["--config", config.to_str().unwrap(), "--json"],
        &[("STELLAR_SECRET_SEED", &secret)],
    )
    .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let v = run.json();
    let c = json_check(&v, "Stellar master account");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains(&master().public().to_string())
    );
    let c = json_check(&v, "Stellar trading accounts");
    assert_eq!(c["status"], "fail", "{c}");
    assert_eq!(json_check(&v, "Stellar network")["status"], "ok");
    assert_eq!(json_check(&v, "Stellar clock")["status"], "ok");
    run.assert_hides(&secret);
    assert!(fake.submissions().by_hash.is_empty(), "nothing submitted");
}

// ---- the data dir, and paper mode -------------------------------------------

#[test]
fn a_data_dir_not_writable_not_private_or_full_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let limits = DiskLimits::default();
    let status = |checks: &[Check], name: &str| {
        checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| (c.status, c.detail.clone()))
            .unwrap_or_else(|| panic!("no {name} in {checks:?}"))
    };

    let dir = tmp.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let (s, detail) = status(&data_dir(&dir, &limits), "data dir");
    assert_eq!(s, Status::Fail, "{detail}");
    assert!(detail.contains("is not writable (mode 0500)"), "{detail}");

    let dir = tmp.path().join("open");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("control.token"), "x").unwrap();
    std::fs::set_permissions(
        dir.join("control.token"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let checks = data_dir(&dir, &limits);
    assert_eq!(status(&checks, "data dir").0, Status::Ok);
    assert_eq!(status(&checks, "data dir permissions").0, Status::Warn);
    let (s, detail) = status(&checks, "file permissions");
    assert_eq!(s, Status::Fail, "{detail}");
    assert!(detail.contains("control.token (0644)"), "{detail}");

    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let (s, detail) = status(&data_dir(&file, &limits), "data dir");
    assert_eq!(s, Status::Fail, "{detail}");
    assert!(detail.contains("is not a directory"), "{detail}");

    let (s, detail) = status(&data_dir(&tmp.path().join("new"), &limits), "data dir");
    assert_eq!(s, Status::Warn, "{detail}");
    assert!(detail.contains("the first start creates it"), "{detail}");

    let full = DiskLimits {
        warn_below: u64::MAX,
        fail_below: u64::MAX,
    };
    let c = disk_space(tmp.path(), &full);
    assert_eq!(c.status, Status::Fail, "{}", c.detail);
    assert!(c.detail.contains("free on"), "{}", c.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_mode_skips_every_venue_and_a_bad_data_dir_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    private_dir(&data);
    let config = tmp.path().join("paper.toml");
    std::fs::write(&config, "mode = \"paper\"\n").unwrap();
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--json",
    ];
    let run = doctor_bin(&args, &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let v = run.json();
    let checks = v["checks"].as_array().unwrap();
    for c in checks.iter().filter(|c| c["group"] != "local") {
        assert_eq!(c["status"], "skip", "{c}");
        assert_eq!(c["detail"], "paper mode: no outside venue", "{c}");
    }
    assert!(checks.iter().any(|c| c["group"] != "local"));
    assert_eq!(json_check(&v, "data dir")["status"], "ok");
    assert_eq!(
        json_check(&v, "engine")["detail"],
        "no engine runs on the data dir"
    );

    // Beside a running engine: told, and the engine is not disturbed.
    let mut engine = std::process::Command::new(BIN)
        .args(["--headless", "--run-for", "60s", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("engine starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !data.join("control.addr").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the engine never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = doctor_bin(&args, &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let detail = json_check(&run.json(), "engine")["detail"].clone();
    assert!(
        detail
            .as_str()
            .unwrap()
            .contains(&format!("(pid {})", engine.id())),
        "{detail}"
    );
    assert!(
        engine.try_wait().unwrap().is_none(),
        "the engine still runs"
    );
    engine.kill().unwrap();
    engine.wait().unwrap();

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o500)).unwrap();
    let run = doctor_bin(&args, &[]).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["summary"]["exit_code"], 1);
    assert_eq!(json_check(&run.json(), "data dir")["status"], "fail");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// `arbkeep auth schwab` waiting for its paste holds the data dir and the
/// vault: doctor says so; killed there, it leaves the vault for the next
/// start to repair: doctor warns instead of reading it or repairing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_held_by_another_process_or_left_unclean_is_not_read() {
    let d = shared().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let fake = logged_in(&data, HOUR).await;
    let config = tmp.path().join("live.toml");
    std::fs::write(&config, schwab_toml(d, &data, &fake)).unwrap();
    let schwab = [
        ("SCHWAB_APP_KEY", FAKE_APP_KEY),
        ("SCHWAB_APP_SECRET", FAKE_APP_SECRET),
        ("ENCRYPTION_KEY", schwab_login::KEY),
    ];
    let mut auth = std::process::Command::new(BIN);
    auth.args(["--config", config.to_str().unwrap(), "auth", "schwab"])
        .envs(schwab)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut auth = auth.spawn().expect("auth starts");
    let stdout = auth.stdout.take().unwrap();
    // Keep reading to the end: a closed pipe would make `auth`'s next line
    // fail, and it would exit (and free the lock) before doctor looks.
    let (url_seen, url) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut url_seen = Some(url_seen);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("/v1/oauth/authorize?")
                && let Some(tx) = url_seen.take()
            {
                let _ = tx.send(());
            }
        }
    });
    url.await.expect("auth printed its URL");
    let text = schwab_toml(d, &data, &fake);
    let r = examine_toml(&text, &schwab).await;
    let detail = assert_status(&r, "Schwab login", Status::Skip);
    assert!(detail.contains(&format!("(pid {})", auth.id())), "{detail}");

    auth.kill().unwrap();
    auth.wait().unwrap();
    let r = examine_toml(&text, &schwab).await;
    let detail = assert_status(&r, "Schwab login", Status::Warn);
    assert!(detail.contains("was not closed cleanly"), "{detail}");
}
