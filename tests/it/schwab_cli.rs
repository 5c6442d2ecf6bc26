//! `arbkeep auth schwab` as a person runs it: the real binary, the fake
//! Schwab on loopback, the authorize URL read from stdout, the redirect URL
//! pasted on stdin; then the adapter trades with the sealed login.

use arbkeep::fakes::schwab::{FAKE_APP_KEY, FAKE_APP_SECRET, FakeSchwab};
use arbkeep::model::SystemClock;
use arbkeep::venue::broker::Broker;
use arbkeep::venue::schwab::{EncryptionKey, SchwabBroker, VAULT_FILE};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_arbkeep");
const KEY: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_schwab_logs_in_through_the_cli() {
    let fake = Arc::new(FakeSchwab::start(Arc::new(SystemClock)).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[schwab]\napi_url = \"{url}\"\nauth_url = \"{url}\"\naccount_number = \"{}\"\ncallback_url = \"https://127.0.0.1:8182\"\n",
            data.display(),
            arbkeep::fakes::schwab::FAKE_ACCOUNT,
            url = fake.url(),
        ),
    )
    .unwrap();

    let person = fake.clone();
    let config_path = config.clone();
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args(["--config", config_path.to_str().unwrap(), "auth", "schwab"])
            .env("SCHWAB_APP_KEY", FAKE_APP_KEY)
            .env("SCHWAB_APP_SECRET", FAKE_APP_SECRET)
            .env("ENCRYPTION_KEY", KEY)
            .env("NO_PROXY", "127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut seen = String::new();
        let url = loop {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "no URL printed: {seen}"
            );
            seen.push_str(&line);
            if let Some(u) = line
                .split_whitespace()
                .find(|w| w.contains("/v1/oauth/authorize?"))
            {
                break u.to_string();
            }
        };
        let landed = person.approve_login(&url).unwrap();
        assert!(
            landed.contains("%40&session="),
            "the code's @ arrives encoded: {landed}"
        );
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{landed}").unwrap();
        drop(stdin);
        out.read_to_string(&mut seen).unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (child.wait().unwrap(), seen, err)
    })
    .await
    .unwrap();
    assert!(status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("Logged in to schwab"), "{stdout}");
    assert!(data.join(VAULT_FILE).exists());

    let mut cfg = fake.config();
    cfg.request_timeout_ms = 5_000;
    let broker = SchwabBroker::open(
        cfg,
        &data,
        FakeSchwab::secrets(&EncryptionKey::from_hex(KEY).unwrap()),
        Arc::new(SystemClock),
    )
    .unwrap();
    assert!(broker.positions().await.unwrap().is_empty());
    assert!(broker.health().await[0].ok);

    // A second run while the vault's owner holds the data dir is refused.
    let _engine = arbkeep::store::InstanceLock::acquire(&data).unwrap();
    let refused = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "auth", "schwab"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("stop it before `arbkeep auth schwab`"),
        "{err}"
    );
}
