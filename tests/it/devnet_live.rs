//! Mode "live" runs the loop end to end: the real binary, `mode = "live"`,
//! the contracts named by the user (here the devnet's real OP Stack tunnel
//! and Stargate V2, on nodes answering mainnet's chain ids) — the same
//! engine, venue and start checks a mainnet run goes through. An ETH cycle
//! out by Stargate and back completes, the store is a live store, and the
//! wallet equals the ledger on both chains.

use crate::devnet_common;

use arbkeep::model::{CycleState, Route};
use arbkeep::store::ReadOnlyStore;
use arbkeep::venue::evm::EvmStore;
use arbkeep::venue::evm::devnet::{DevnetOptions, KEEPER_KEY};
use devnet_common::*;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_live_mode_runs_a_cycle_on_contracts_the_user_names() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let devnet_text = d.config_toml(&data);
    let text = devnet_text
        .replace("mode = \"devnet\"", "mode = \"live\"")
        .replace(
            r#"tokens = ["ETH", "WBTC", "cbBTC", "XAUt", "VUSD"]"#,
            r#"tokens = ["ETH"]"#,
        );
    assert_ne!(text, devnet_text);
    let file = tmp.path().join("live.toml");
    std::fs::write(&file, &text).unwrap();

    // Run until the cycle has closed (polled read-only between runs of
    // the binary would race its lock; the binary stops itself at --run-for
    // and is restarted draining until nothing is open).
    let started = Instant::now();
    let mut drain = false;
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the live cycle never closed"
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_arbkeep"));
        cmd.args(["--headless", "--run-for", "30s", "--config"])
            .arg(&file)
            .env("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if drain {
            cmd.arg("--drain");
        }
        let out = cmd.output().expect("arbkeep runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "arbkeep in live mode failed: {err}");
        let store = ReadOnlyStore::open(&data).unwrap();
        let cycles = store.read().unwrap().cycles().unwrap();
        let closed = |s: CycleState| {
            matches!(
                s,
                CycleState::Completed | CycleState::Failed | CycleState::NotStarted
            )
        };
        if !cycles.is_empty() && cycles.iter().all(|c| closed(c.state)) {
            break;
        }
        drain = true;
    }
    println!(
        "DEVNET LIVE cycle closed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let store = ReadOnlyStore::open(&data).unwrap();
    let r = store.read().unwrap();
    let cycles = r.cycles().unwrap();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(cycles[0].route, Route::Stargate);
    assert_eq!(
        cycles[0].state,
        CycleState::Completed,
        "{:?}",
        cycles[0].failure
    );
    let ledger = r.ledger(0).unwrap();
    drop(r);
    drop(store);
    // A live store: the devnet mode may not open it.
    match arbkeep::store::Store::open(&data, arbkeep::engine::Mode::Devnet) {
        Err(e) => assert!(e.to_string().contains("live"), "{e}"),
        Ok(_) => panic!("the data dir is a live store"),
    }
    let config = config(&d, &data);
    let journal = Arc::new(EvmStore::open(&data).unwrap());
    let v = venue(&config, journal).await;
    assert_wallet_equals_ledger(&v, &ledger, "live").await;
}
