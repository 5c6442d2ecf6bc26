//! The `arbkeep` binary: the CLI (clap) and nothing else — it loads the
//! config, takes the data dir's lock, wires venues, store, engine and a front
//! end together, and maps errors to exit codes (2: bad config or usage).

use anyhow::{Context, anyhow};
use arbkeep::config::{self, Config, Secrets};
use arbkeep::engine::{Engine, EngineOptions, Mode};
use arbkeep::model::{Clock, CycleId, ScaledClock};
use arbkeep::store::{InstanceLock, Store};
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

mod verbs;

#[derive(Debug, Parser)]
#[command(
    name = "arbkeep",
    version,
    about = "A terminal console for arbitrage keepers that never loses track of money"
)]
struct Cli {
    /// Config file (default: ./config.toml if present, else paper defaults).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Data directory (store, paper world, logs, control token).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run without the console (automatic when stdout is not a terminal).
    #[arg(long)]
    headless: bool,
    /// Paper world seed.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Paper clock speed: simulated seconds per wall second.
    #[arg(long, value_name = "X")]
    speed: Option<String>,
    /// Stop cleanly after this much wall time (e.g. 90s, 5m).
    #[arg(long, value_name = "DURATION")]
    run_for: Option<String>,
    /// Finish open cycles, start no new ones, exit when none is left.
    #[arg(long)]
    drain: bool,
    #[command(subcommand)]
    verb: Option<Verb>,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Mode, phase, pause state and cycle counts.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Profit and loss: lifetime, today, per day, per token.
    Pnl {
        #[arg(long)]
        json: bool,
    },
    /// The append-only ledger (money moves and the audit trail).
    Ledger {
        #[arg(long)]
        json: bool,
        /// Only this cycle's lines (e.g. c12).
        #[arg(long, value_name = "ID")]
        cycle: Option<CycleId>,
    },
}

/// Errors that are the user's to fix: printed plainly, exit code 2.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("arbkeep: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("arbkeep: {e:#}");
            if e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<config::ConfigError>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// The config with command-line overrides applied.
fn settle_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(seed) = cli.seed {
        config.paper.seed = seed;
    }
    if let Some(speed) = &cli.speed {
        let v: rust_decimal::Decimal = speed
            .parse()
            .map_err(|_| UsageError(format!("--speed {speed:?} is not a number")))?;
        config.paper.speed_milli =
            config::speed_milli(v).map_err(|p| UsageError(format!("--speed: {p}")))?;
    }
    Ok(config)
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let config = settle_config(&cli)?;
    match &cli.verb {
        None => run(&cli, config).await,
        Some(Verb::Status { json }) => verbs::status(&config, *json).await,
        Some(Verb::Pnl { json }) => verbs::pnl(&config, *json).await,
        Some(Verb::Ledger { json, cycle }) => verbs::ledger(&config, *json, *cycle).await,
    }
}

async fn run(cli: &Cli, config: Config) -> anyhow::Result<()> {
    let run_for = cli
        .run_for
        .as_deref()
        .map(|d| config::parse_duration(d).map_err(|p| UsageError(format!("--run-for: {p}"))))
        .transpose()?;
    let secrets = Secrets::from_env()?;
    let headless = cli.headless || !std::io::stdout().is_terminal();
    let dir = config.data_dir.clone();
    arbkeep::store::ensure_private_dir(&dir)?;
    let _lock = InstanceLock::acquire(&dir)?;
    arbkeep::logging::init(
        Some(&dir.join("logs")),
        &config.log_level,
        if headless {
            arbkeep::logging::Screen::Stdout
        } else {
            arbkeep::logging::Screen::Tui
        },
    )
    .context("cannot open the log files")?;
    tracing::info!(mode = ?config.mode, data_dir = %dir.display(), config = %config.source, "arbkeep starting");
    let _ = &secrets;
    match config.mode {
        Mode::Paper => run_paper(config, cli.drain, run_for, headless).await,
        Mode::Devnet | Mode::Live => Err(UsageError(format!(
            "mode {:?} needs the EVM adapters, which this build does not have yet; use mode = \"paper\"",
            config.mode
        ))
        .into()),
    }
}

async fn run_paper(
    config: Config,
    drain: bool,
    run_for: Option<u64>,
    headless: bool,
) -> anyhow::Result<()> {
    let dir = config.data_dir.clone();
    let world_path = dir.join("paper-world.redb");
    let origin = SimWorld::resume_time(&world_path)?.unwrap_or(PAPER_EPOCH);
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(origin, config.paper.speed_milli));
    let world = Arc::new(SimWorld::open(
        &world_path,
        config.paper.seed,
        clock.clone(),
    )?);
    let store = Store::open(&dir, Mode::Paper)?;
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: Some(config.paper.speed_milli),
        drain,
    };
    let (engine, handle) = Engine::new(config, options, world, clock, store);
    let (stop, stopped) = watch::channel(false);
    let engine_task = tokio::spawn(engine.run(stopped));
    let _ = headless;
    let _ = handle;
    wait_for_stop(run_for).await;
    let _ = stop.send(true);
    engine_task
        .await
        .map_err(|e| anyhow!("engine task: {e}"))??;
    Ok(())
}

/// Ctrl-C, SIGTERM, SIGHUP, or the end of --run-for.
async fn wait_for_stop(run_for: Option<u64>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let timer = async {
        match run_for {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping cleanly"),
        _ = async { if let Some(t) = term.as_mut() { t.recv().await; } else { std::future::pending::<()>().await } } => tracing::info!("SIGTERM: stopping cleanly"),
        _ = async { if let Some(h) = hup.as_mut() { h.recv().await; } else { std::future::pending::<()>().await } } => tracing::info!("SIGHUP: stopping cleanly"),
        _ = timer => tracing::info!("--run-for elapsed: stopping cleanly"),
    }
}
