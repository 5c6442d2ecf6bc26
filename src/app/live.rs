//! Live mode: real networks on the system clock — the cross-chain loop on
//! Hemi and Ethereum mainnet when `[evm]` is there (its contracts the
//! mainnet defaults unless configured, each held to its chain at start),
//! the equity hedge and Stellar on theirs.

use super::serve::serve;
use super::{Front, Strategies, World, evm_loop};
use arbkeep::config::Config;
use arbkeep::engine::{Engine, EngineOptions, Mode};
use arbkeep::model::{Clock, SystemClock};
use arbkeep::store::Store;
use arbkeep::venue::evm::EvmStore;
use std::sync::Arc;

pub(super) async fn run(config: Config, drain: bool, front: Front) -> anyhow::Result<()> {
    let dir = config.data_dir.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let journal = Arc::new(EvmStore::open(&dir)?);
    let cross_chain_loop = evm_loop(&config, journal.clone(), clock.clone(), "live").await?;
    let store = Store::open(&dir, Mode::Live)?;
    let options = EngineOptions {
        mode: Mode::Live,
        speed_milli: None,
        drain,
    };
    let networks = World::Networks {
        journal,
        clock: clock.clone(),
    };
    let strategies = Strategies::assemble(&config, networks, cross_chain_loop).await?;
    let engine = Engine::new(config.clone(), options, clock, store);
    serve(&config, engine, strategies, front).await
}
