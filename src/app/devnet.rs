//! Devnet mode: the EVM adapters against the local devnet's nodes (the
//! `[evm]` section, the wallet from the environment) on the system clock;
//! the loop over them, the hedge and Stellar on their networks. Starting the devnet itself is `arbkeep devnet` (`crate::devnet`).

use super::serve::serve;
use super::{Front, Strategies, World, evm_loop};
use crate::UsageError;
use arbkeep::config::Config;
use arbkeep::engine::{Engine, EngineOptions, Mode};
use arbkeep::model::{Clock, SystemClock};
use arbkeep::store::Store;
use arbkeep::venue::evm::EvmStore;
use std::sync::Arc;

pub(super) async fn run(config: Config, drain: bool, front: Front) -> anyhow::Result<()> {
    if config.evm.is_none() {
        return Err(UsageError("devnet mode needs an [evm] section".into()).into());
    }
    let dir = config.data_dir.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let journal = Arc::new(EvmStore::open(&dir)?);
    let cross_chain_loop = evm_loop(&config, journal.clone(), clock.clone(), "devnet").await?;
    let store = Store::open(&dir, Mode::Devnet)?;
    let options = EngineOptions {
        mode: Mode::Devnet,
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
