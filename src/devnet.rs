//! `arbkeep devnet`: start the local devnet, deploy the hedge's order flow
//! (tokenized equities and the Raindex V6 emitter) and emit a fill of the
//! owner's orders every few seconds, write its config (the loop, and the
//! hedge at the paper broker), say how to run the console on it, and keep
//! the nodes (and the bridge relayer) up until Ctrl-C. The work is in `arbkeep::venue::evm::devnet`.

use anyhow::Context;
use arbkeep::strategy::equity_hedge::devnet_flow as flow;
use arbkeep::venue::evm::devnet::{Devnet, DevnetOptions, KEEPER_KEY, project_root};

/// A fill of the owner's orders this often.
const FLOW_EVERY_SECS: u64 = 15;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub async fn run(dir: Option<PathBuf>) -> anyhow::Result<()> {
    let _ = arbkeep::logging::init(
        None,
        "warn",
        arbkeep::logging::Screen::Stdout,
        &Default::default(),
    );
    let dir = dir.unwrap_or_else(|| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        PathBuf::from(format!("./data/devnet-{secs}"))
    });
    arbkeep::store::ensure_private_dir(&dir)?;
    let dir = dir.canonicalize().unwrap_or(dir);
    let started = Instant::now();
    println!(
        "starting two anvil nodes and deploying (tokens, Uniswap V2 and V3, Stargate V2 over LayerZero, the OP tunnel, the hedge's Raindex V6 order flow) …"
    );
    let devnet = Devnet::start(&project_root(), DevnetOptions::default()).await?;
    // The hedge's order flow: tokens and the V6 emitter on the Hemi-like
    // node, a fill of the owner's orders every few seconds.
    let d = &devnet.deployment;
    let deployer = arbkeep::venue::evm::devnet::signing_provider(
        &d.hemi.rpc_url,
        arbkeep::venue::evm::devnet::DEPLOYER_KEY,
    )?;
    let owner = alloy::primitives::Address::repeat_byte(0x57);
    let plan = flow::deploy(&deployer, &project_root(), owner).await?;
    let config = dir.join("devnet.toml");
    let toml = format!(
        "{}\n{}",
        devnet.config_toml(&dir.join("data")),
        flow::config_section(&plan, d.hemi.chain_id, &d.hemi.rpc_url)
    );
    std::fs::write(&config, toml).with_context(|| format!("writing {}", config.display()))?;
    let emitting = tokio::spawn({
        let plan = plan.clone();
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1);
        async move {
            let mut dice = flow::FlowDice::new(seed);
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(FLOW_EVERY_SECS)).await;
                match flow::emit_one(&deployer, &plan, &mut dice).await {
                    Ok((symbol, bought, shares)) => println!(
                        "  fill: the owner {} {shares} {symbol}",
                        if bought { "bought" } else { "sold" }
                    ),
                    Err(e) => eprintln!("  the order flow could not emit a fill: {e:#}"),
                }
            }
        }
    });
    println!(
        "devnet up in {:.1} s\n  Hemi-like     chain id {}  {}\n  Ethereum-like chain id {}  {}\n  keeper wallet {} (100000 VCRED on Hemi; ETH on both)\n  config        {}\n",
        started.elapsed().as_secs_f64(),
        d.hemi.chain_id,
        d.hemi.rpc_url,
        d.ethereum.chain_id,
        d.ethereum.rpc_url,
        d.keeper,
        config.display()
    );
    println!(
        "Run the console on it from another shell (the key is anvil's public dev key #2):\n\n  ARBITRAGE_PRIVATE_KEY={KEEPER_KEY} arbkeep --config {}\n\nCtrl-C here stops the nodes.",
        config.display()
    );
    crate::app::wait_for_stop(None, true).await;
    emitting.abort();
    drop(devnet);
    println!("devnet stopped");
    Ok(())
}
