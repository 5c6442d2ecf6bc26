//! Live mode: the equity hedge and Stellar against real networks on the
//! system clock; no cross-chain loop (the config refuses it in live mode,
//! so there is no loop venue to build).

use super::serve::serve;
use super::{Front, Strategies, World};
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
    let strategies = Strategies::assemble(&config, networks, None).await?;
    let engine = Engine::new(config.clone(), options, clock, store);
    serve(&config, engine, strategies, front).await
}
