//! The devnet config is checked before anything is sent: an address that
//! fails its EIP-55 checksum and a node on the wrong chain id are refused by
//! the binary with errors that say what to fix (exit code 2).

use crate::devnet_common;

use arbkeep::venue::evm::devnet::{DevnetOptions, KEEPER_KEY};
use devnet_common::*;
use std::process::Command;

fn run(config: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_arbkeep"))
        .args(["--headless", "--run-for", "5s", "--config"])
        .arg(config)
        .env("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)
        .output()
        .expect("arbkeep runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_config_refuses_bad_checksums_and_wrong_chain_ids() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let text = d.config_toml(&tmp.path().join("data"));

    // A token address with one letter in the wrong case.
    let vcred = d.deployment.hemi.tokens[&arbkeep::model::TokenId::Vcred].to_checksum(None);
    let bad = tmp.path().join("checksum.toml");
    std::fs::write(&bad, text.replace(&vcred, &miscase(&vcred))).unwrap();
    let (code, err) = run(&bad);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("evm.hemi.tokens.VCRED"), "{err}");
    assert!(err.contains("EIP-55 checksum"), "{err}");
    assert!(err.contains(&vcred), "names the checksummed form: {err}");

    // The Hemi endpoint pointed at the Ethereum-like node (chain id 1).
    let wrong = tmp.path().join("chain.toml");
    let hemi_rpc = format!("rpc = \"{}\"", d.hemi.url());
    let eth_rpc = format!("rpc = \"{}\"", d.ethereum.url());
    std::fs::write(&wrong, text.replacen(&hemi_rpc, &eth_rpc, 1)).unwrap();
    let (code, err) = run(&wrong);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("is chain id 1, but the config says 43111"),
        "{err}"
    );
    assert!(err.contains("evm.hemi.chain_id"), "{err}");

    // The good file starts (and stops at --run-for), and the key appears
    // nowhere it wrote: not in its output, its logs, its store or journal.
    let good = tmp.path().join("good.toml");
    std::fs::write(&good, &text).unwrap();
    let (code, err) = run(&good);
    assert_eq!(code, 0, "{err}");
    let secret = KEEPER_KEY.trim_start_matches("0x");
    assert!(!err.contains(secret));
    let mut files = vec![tmp.path().join("data")];
    let mut seen = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let raw = alloy::primitives::hex::decode(secret).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes)
                .to_lowercase()
                .contains(secret)
                && !bytes.windows(raw.len()).any(|w| w == raw.as_slice()),
            "the private key is in {}",
            path.display()
        );
        seen += 1;
    }
    assert!(
        seen >= 4,
        "store, journal and logs were written ({seen} files)"
    );
}
