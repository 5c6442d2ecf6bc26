//! `arbkeep devnet`: start the local devnet, write its config, say how to
//! run the console on it, and keep the nodes (and the bridge relayer) up
//! until Ctrl-C. The work is in `arbkeep::venue::evm::devnet`.

use anyhow::Context;
use arbkeep::venue::evm::devnet::{Devnet, DevnetOptions, KEEPER_KEY, project_root};
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
    println!("starting two anvil nodes and deploying (tokens, Uniswap V2, bridge stand-ins) …");
    let devnet = Devnet::start(&project_root(), DevnetOptions::default()).await?;
    let config = dir.join("devnet.toml");
    std::fs::write(&config, devnet.config_toml(&dir.join("data")))
        .with_context(|| format!("writing {}", config.display()))?;
    let d = &devnet.deployment;
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
    drop(devnet);
    println!("devnet stopped");
    Ok(())
}
