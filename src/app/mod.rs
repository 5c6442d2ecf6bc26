//! Assembly: the one place where concrete venues, strategies and the engine
//! meet (the binary's edge; it may import everything). Per mode — `paper`,
//! `devnet`, `live` — the venues, then each strategy from its own config
//! section (the loop over the mode's loop venue, the hedge and Stellar built
//! here for every mode), then the engine, handed to `serve` with the front
//! that shows it.

mod devnet;
mod live;
mod paper;
mod serve;

pub(crate) use serve::wait_for_stop;

use crate::UsageError;
use arbkeep::config::{Config, Secrets};
use arbkeep::control::ControlExtension;
use arbkeep::engine::{Keeper, Mode};
use arbkeep::model::Clock;
use arbkeep::notify::WebhookUrl;
use arbkeep::strategy::cross_chain_loop::CrossChainLoop;
use arbkeep::venue::LoopVenue;
use arbkeep::venue::evm::{EvmStore, EvmVenue, Wallet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How the engine is shown and told to stop.
pub(crate) struct Front {
    pub(crate) headless: bool,
    pub(crate) run_for: Option<u64>,
    pub(crate) webhook: Option<WebhookUrl>,
    /// Re-read on SIGHUP.
    pub(crate) config_path: Option<PathBuf>,
    /// Set on SIGHUP when `log_level` changed.
    pub(crate) log_level: arbkeep::logging::LogLevel,
}

/// The engine of `config.mode`, with its venues and strategies, served until
/// told to stop (or drained, with `drain`).
pub(crate) async fn run(config: Config, drain: bool, front: Front) -> anyhow::Result<()> {
    match config.mode {
        Mode::Paper => paper::run(config, drain, front).await,
        Mode::Devnet => devnet::run(config, drain, front).await,
        Mode::Live => live::run(config, drain, front).await,
    }
}

/// The strategies, in the order the engine drives them, and the
/// control-API extensions they serve.
#[derive(Default)]
struct Strategies {
    keepers: Vec<Box<dyn Keeper>>,
    extensions: Vec<Arc<dyn ControlExtension>>,
}

/// The loop over `venue`, from `[cross_chain_loop]` and `[risk]`.
fn loop_keeper<V: LoopVenue + 'static>(config: &Config, venue: Arc<V>) -> Option<Box<dyn Keeper>> {
    Some(Box::new(CrossChainLoop::new(config.clone(), venue)))
}

/// The loop over the EVM adapters of `[evm]` (devnet: the local nodes;
/// live: mainnet), the wallet from the environment; every configured
/// contract held to its chain before anything runs. `None` without `[evm]`.
async fn evm_loop(
    config: &Config,
    journal: Arc<EvmStore>,
    clock: Arc<dyn Clock>,
    label: &'static str,
) -> anyhow::Result<Option<Box<dyn Keeper>>> {
    let Some(evm) = config.evm.clone() else {
        return Ok(None);
    };
    let secrets = Secrets::from_env()?;
    let wallet = Wallet::from_secrets(&secrets).map_err(|e| UsageError(e.to_string()))?;
    let venue = EvmVenue::connect(&evm, wallet, journal, clock, label)
        .await
        .map_err(|e| UsageError(e.to_string()))?;
    Ok(loop_keeper(config, Arc::new(venue)))
}

/// What the hedge and Stellar trade against.
enum World {
    /// The paper broker and the paper Stellar in the data dir, on the paper
    /// clock, seed and fault dice.
    Paper { clock: Arc<dyn Clock> },
    /// Outside paper mode: the equity hedge on its orderbook's chain, and
    /// Stellar on its configured network (Stellar has no local node, so
    /// devnet mode uses the configured network too).
    Networks {
        /// The data dir's EVM journal, shared with the loop's venue.
        journal: Arc<EvmStore>,
        clock: Arc<dyn Clock>,
    },
}

impl Strategies {
    /// Each strategy from its own section: the loop (when this mode has a
    /// loop venue: it plans only when `[cross_chain_loop]` is enabled and
    /// reconciles open cycles either way), `[equity_hedge]`, then
    /// `[stellar_arb]`.
    async fn assemble(
        config: &Config,
        world: World,
        cross_chain_loop: Option<Box<dyn Keeper>>,
    ) -> anyhow::Result<Self> {
        let mut strategies = Strategies::default();
        strategies.keepers.extend(cross_chain_loop);
        if let Some(hedge) = hedge_keeper(config, &world).await? {
            strategies.keepers.push(hedge);
        }
        if config.stellar_arb.enabled {
            let (keeper, ws) = stellar_keeper(config, &world)?;
            strategies.keepers.push(keeper);
            strategies.extensions.push(ws);
        } else {
            // The seed's frontend is told Stellar is off, not "unknown message".
            strategies
                .extensions
                .push(Arc::new(arbkeep::strategy::stellar_arb::StellarOff));
        }
        Ok(strategies)
    }
}

/// The equity hedge from `[equity_hedge]`, when it is enabled in this mode.
async fn hedge_keeper(config: &Config, world: &World) -> anyhow::Result<Option<Box<dyn Keeper>>> {
    use arbkeep::strategy::equity_hedge::{
        paper_keeper,
        wiring::{HedgeWiring, chain_keeper},
    };
    match world {
        World::Paper { clock } => paper_keeper(
            &config.equity_hedge,
            &config.data_dir,
            config.paper.seed,
            clock.clone(),
            paper::dice(config, "paper broker"),
        ),
        World::Networks { journal, clock } => {
            let wiring = HedgeWiring {
                mode: config.mode,
                schwab: &config.schwab,
                alpaca: &config.alpaca,
                data_dir: &config.data_dir,
                journal: journal.clone(),
                clock: clock.clone(),
                seed: config.paper.seed,
                rpc_timeout: Duration::from_millis(
                    config
                        .evm
                        .as_ref()
                        .map(|e| e.rpc_timeout_ms)
                        .unwrap_or(10_000),
                ),
            };
            let hedge = chain_keeper(&config.equity_hedge, wiring).await;
            Ok(hedge.map_err(|e| crate::UsageError(e.to_string()))?)
        }
    }
}

/// The Stellar keeper from `[stellar_arb]` and its WebSocket extension.
fn stellar_keeper(
    config: &Config,
    world: &World,
) -> anyhow::Result<arbkeep::strategy::stellar_arb::wiring::Wired> {
    use arbkeep::strategy::stellar_arb::wiring;
    match world {
        World::Paper { .. } => Ok(wiring::paper(
            &config.stellar_arb,
            &config.data_dir,
            config.paper.seed,
            paper::dice(config, "paper Stellar"),
        )?),
        World::Networks { .. } => {
            Ok(wiring::network(&config.stellar_arb)
                .map_err(|e| crate::UsageError(e.to_string()))?)
        }
    }
}
