//! The venue holds every configured contract to its chain before it starts,
//! on the devnet's real contracts: code at each address (named by its key),
//! each Stargate pool carrying its token, the tunnel's two ends one tunnel,
//! and the mainnet pins (the contracts the tunnel leads to and their
//! `version()`s). And the binary in mode "live" with only the RPCs holds
//! the mainnet addresses to the chains it is given — here the devnet's,
//! which has none of them — and refuses to start, naming the key.

use crate::devnet_common;

use alloy::providers::Provider;
use arbkeep::config::mainnet::TunnelPins;
use arbkeep::config::{Config, EvmConfig};
use arbkeep::model::{Clock, SystemClock, TokenId};
use arbkeep::venue::evm::devnet::{
    DEPLOYER_KEY, Devnet, DevnetOptions, KEEPER_KEY, signing_provider,
};
use arbkeep::venue::evm::{EvmError, EvmStore, EvmVenue, Wallet};
use devnet_common::*;
use std::process::Command;
use std::sync::Arc;

async fn connect(evm: &EvmConfig, dir: &std::path::Path) -> Result<EvmVenue, EvmError> {
    let wallet = Wallet::from_secrets(&keeper_secrets()).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(EvmStore::open(dir).unwrap());
    EvmVenue::connect(evm, wallet, store, clock, "devnet").await
}

/// The devnet tunnel's true pins: what mainnet's are to Hemi's.
fn devnet_pins(d: &Devnet) -> TunnelPins {
    let op = &d.deployment.op;
    TunnelPins {
        portal_version: op.l1.portal_version.clone(),
        oracle: op.l1.oracle,
        l1_bridge: op.bridge.l1_bridge,
        l1_bridge_version: op.bridge.l1_bridge_version.clone(),
        l1_messenger: op.bridge.l1_messenger,
        l1_messenger_version: op.bridge.l1_messenger_version.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_every_configured_contract_is_held_to_its_chain_at_start() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let base: Config = config(&d, &tmp.path().join("data"));
    let evm = base.evm.clone().unwrap();
    let refused = |e: Result<EvmVenue, EvmError>| match e {
        Ok(_) => panic!("connected"),
        Err(e) => e.to_string(),
    };

    // As configured, and with the devnet's own pins: it starts.
    let mut pinned = evm.clone();
    pinned.tunnel_pins = Some(devnet_pins(&d));
    connect(&pinned, &tmp.path().join("a"))
        .await
        .expect("the true pins hold");

    // A Stargate pool at an address with no code: refused by its key.
    let mut e = evm.clone();
    let nobody = alloy::primitives::Address::repeat_byte(0x77);
    e.hemi.stargate.insert(TokenId::Eth, nobody);
    let why = refused(connect(&e, &tmp.path().join("b")).await);
    assert!(
        why.contains("no contract at") && why.contains("(evm.hemi.stargate.ETH)"),
        "{why}"
    );

    // The USDC pool listed as ETH's: it carries USDC, not the native token.
    let mut e = evm.clone();
    let usdc_pool = evm.ethereum.stargate[&TokenId::Usdc];
    e.ethereum.stargate.insert(TokenId::Eth, usdc_pool);
    let why = refused(connect(&e, &tmp.path().join("c")).await);
    assert!(
        why.contains("evm.ethereum.stargate.ETH") && why.contains("not ETH"),
        "{why}"
    );

    // The Ethereum end of the tunnel pointed at another contract (the L1
    // bridge itself has code, but it is not a portal the messenger trusts).
    let mut e = evm.clone();
    e.ethereum.tunnel = Some(d.deployment.op.bridge.l1_bridge);
    let why = refused(connect(&e, &tmp.path().join("d")).await);
    assert!(why.contains("not one tunnel"), "{why}");

    // Pins that are not the chain's: a portal at another version, and an
    // oracle that is not the pinned one. Each says what and where.
    let mut e = pinned.clone();
    if let Some(p) = e.tunnel_pins.as_mut() {
        p.portal_version = "2.5.0".into();
    }
    let why = refused(connect(&e, &tmp.path().join("e")).await);
    assert!(
        why.contains("the portal")
            && why.contains(&format!("{:?}", d.deployment.op.l1.portal_version))
            && why.contains("checked against \"2.5.0\""),
        "{why}"
    );
    let mut e = pinned.clone();
    if let Some(p) = e.tunnel_pins.as_mut() {
        p.oracle = nobody;
    }
    let why = refused(connect(&e, &tmp.path().join("f")).await);
    assert!(
        why.contains("the output oracle") && why.contains("is not Hemi's"),
        "{why}"
    );
    let mut e = pinned.clone();
    if let Some(p) = e.tunnel_pins.as_mut() {
        p.l1_messenger_version = "2.3.0".into();
    }
    let why = refused(connect(&e, &tmp.path().join("g")).await);
    assert!(
        why.contains("the L1 messenger") && why.contains("2.3.0"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_live_mode_with_only_the_rpcs_refuses_nodes_without_the_mainnet_contracts() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("live.toml");
    // The devnet's nodes answer chain ids 43111 and 1, as mainnet's do.
    std::fs::write(
        &file,
        format!(
            "mode = \"live\"\ndata_dir = \"{}\"\n[control]\nport = 0\n[evm.hemi]\nrpc = \"{}\"\n[evm.ethereum]\nrpc = \"{}\"\n",
            tmp.path().join("data").display(),
            d.hemi.url(),
            d.ethereum.url()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arbkeep"))
        .args(["--headless", "--run-for", "5s", "--config"])
        .arg(&file)
        .env("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)
        .output()
        .expect("arbkeep runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    // The first contract held to Hemi is Sushi's V2 router, by its key.
    assert!(
        err.contains("no contract at 0x46B3fDF7b5CDe91Ac049936bF0bDb12c5d22202e (evm.hemi.router)"),
        "{err}"
    );
    // Nothing was signed: the keeper's nonce on both chains is untouched.
    let keeper = Wallet::from_secrets(&keeper_secrets()).unwrap().address();
    for node in [&d.hemi, &d.ethereum] {
        let p = signing_provider(&node.url(), DEPLOYER_KEY).unwrap();
        assert_eq!(p.get_transaction_count(keeper).await.unwrap(), 0);
    }
}
