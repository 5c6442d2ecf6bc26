//! Paper mode: the simulated world (chains, pools, bridges) in
//! `<data_dir>/paper-world.redb` on the scaled paper clock, each paper venue
//! with its seeded fault dice from `[paper.faults]`; the strategies beside
//! the loop on the same clock and seed; the loop over the simulated world.

use super::serve::serve;
use super::{Front, Strategies, World, loop_keeper};
use arbkeep::config::Config;
use arbkeep::engine::{Engine, EngineOptions, Mode};
use arbkeep::model::{Clock, ScaledClock};
use arbkeep::store::Store;
use arbkeep::venue::faults::FaultDice;
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use std::sync::Arc;

pub(super) async fn run(config: Config, drain: bool, front: Front) -> anyhow::Result<()> {
    let dir = config.data_dir.clone();
    let world_path = dir.join("paper-world.redb");
    let origin = SimWorld::resume_time(&world_path)?.unwrap_or(PAPER_EPOCH);
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(origin, config.paper.speed_milli));
    let world = Arc::new(SimWorld::open_with_faults(
        &world_path,
        config.paper.seed,
        clock.clone(),
        dice(&config, "paper chains"),
    )?);
    let store = Store::open(&dir, Mode::Paper)?;
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: Some(config.paper.speed_milli),
        drain,
    };
    let paper = World::Paper {
        clock: clock.clone(),
    };
    let strategies = Strategies::assemble(&config, paper, loop_keeper(&config, world)).await?;
    let engine = Engine::new(config.clone(), options, clock, store);
    serve(&config, engine, strategies, front).await
}

/// One paper venue's send faults, seeded by `[paper.faults]` and its name.
pub(super) fn dice(config: &Config, venue: &str) -> FaultDice {
    let faults = config.paper.faults;
    FaultDice::seeded(faults.rate_per_mille, faults.seed, venue)
}
