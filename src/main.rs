//! The `arbkeep` binary: the CLI (clap) and nothing else — it loads the
//! config, takes the data dir's lock, wires venues, store, engine and a front
//! end together, and maps errors to exit codes (2: bad config or usage).

use anyhow::{Context, anyhow};
use arbkeep::config::{self, Config, Secrets};
use arbkeep::control::{
    self, ControlClient, ControlConfig, ControlExtension, ExportQueries, LedgerQueries,
};
use arbkeep::engine::journal::SendTally;
use arbkeep::engine::{Command, Engine, EngineHandle, EngineOptions, Keeper, Mode};
use arbkeep::export::Day;
use arbkeep::metrics;
use arbkeep::model::{Clock, CycleId, ScaledClock, TokenId, from_decimal};
use arbkeep::notify::{
    self, WebhookConfig, WebhookFormat, WebhookReload, WebhookSettings, WebhookUrl,
};
use arbkeep::store::{InstanceLock, Store};
use arbkeep::ui::{self, UiOptions};
use arbkeep::venue::faults::FaultDice;
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use clap::{Parser, Subcommand};
use rust_decimal::Decimal;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

mod devnet;
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
        /// Exit 1 when no engine runs on the data dir (a health check).
        #[arg(long)]
        require_running: bool,
    },
    /// Profit and loss: lifetime, today, per day, per token.
    Pnl {
        #[arg(long)]
        json: bool,
        /// Only cycles completed from this UTC day on (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<Day>,
        /// … up to and including this UTC day.
        #[arg(long, value_name = "DATE")]
        until: Option<Day>,
    },
    /// A period's records for accounting, as CSV or a JSON array.
    Export {
        #[arg(long, value_parser = ["ledger", "cycles", "trades", "hedges"])]
        what: String,
        /// The first UTC day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Day,
        /// The last UTC day, included (default: up to now).
        #[arg(long, value_name = "DATE")]
        until: Option<Day>,
        #[arg(long, value_parser = ["csv", "json"], default_value = "csv")]
        format: String,
    },
    /// The append-only ledger (money moves and the audit trail).
    Ledger {
        #[arg(long)]
        json: bool,
        /// Only this cycle's lines (e.g. c12).
        #[arg(long, value_name = "ID")]
        cycle: Option<CycleId>,
    },
    /// Open the console on an engine running headless on this data dir.
    Attach,
    /// Pause all execution: no step is sent, no cycle starts.
    Pause,
    /// Resume execution.
    Resume,
    /// Pause one token: no new cycle, no step of its open cycles.
    PauseToken { token: TokenId },
    /// Resume one token.
    ResumeToken { token: TokenId },
    /// Approve an opportunity waiting for approval, optionally at another size.
    Approve {
        id: u64,
        /// Size in VCRED (e.g. 2500 or 2500.5).
        #[arg(long, value_name = "VCRED")]
        size: Option<Decimal>,
    },
    /// Reject an opportunity waiting for approval.
    Reject { id: u64 },
    /// Act on a cycle's next step now (skip backoff, or resume a failed cycle).
    Force { cycle: CycleId },
    /// Book the cycle's current step as done by this transaction.
    MarkDone {
        cycle: CycleId,
        #[arg(long, value_name = "HASH")]
        tx: String,
    },
    /// Move a cycle past its current step without acting.
    Skip { cycle: CycleId },
    /// Fail a cycle, with a reason.
    Fail {
        cycle: CycleId,
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Give a tunnel withdrawal the proof data the keeper cannot derive.
    ImportProof {
        cycle: CycleId,
        #[arg(long, value_name = "DATA")]
        data: String,
    },
    /// Decide about an open intent of any strategy (listed by `status`):
    /// settle it by looking (optionally naming the order id or tx hash that
    /// was its result), drop it as never sent, or retry it although its
    /// first outcome is unknown. Audited with the reason.
    Resolve {
        id: String,
        #[arg(value_parser = ["settle", "drop", "retry"])]
        resolution: String,
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// The order id or transaction hash that was the send's result (settle).
        #[arg(long, value_name = "ID")]
        evidence: Option<String>,
    },
    /// Start a local devnet (two anvil nodes with tokens, Uniswap V2 and
    /// bridge stand-ins), write its config, and run until Ctrl-C.
    Devnet {
        /// Where the devnet config and the keeper's data go (default ./data/devnet-<time>).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Check the setup without sending anything: config, secrets (never
    /// shown), data dir, chains, broker login, Stellar accounts, clocks.
    /// Exit code 1 when a check fails, 2 when the config does not load.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Log in to a broker (interactive; no engine may run on the data dir).
    Auth {
        #[command(subcommand)]
        broker: AuthBroker,
    },
}

#[derive(Debug, Subcommand)]
enum AuthBroker {
    /// Charles Schwab: prints the login URL, reads the redirect URL back,
    /// seals the tokens (SCHWAB_APP_KEY, SCHWAB_APP_SECRET, ENCRYPTION_KEY).
    Schwab,
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
    let outcome = runtime.block_on(dispatch(cli));
    // Do not wait for tasks still holding a socket or a timer.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match outcome {
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
        let v: Decimal = speed
            .parse()
            .map_err(|_| UsageError(format!("--speed {speed:?} is not a number")))?;
        config.paper.speed_milli =
            config::speed_milli(v).map_err(|p| UsageError(format!("--speed: {p}")))?;
    }
    Ok(config)
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    if let Some(Verb::Devnet { dir }) = &cli.verb {
        return devnet::run(dir.clone()).await;
    }
    if let Some(Verb::Doctor { json }) = &cli.verb {
        // Before the config is loaded: a bad one is one of its checks.
        let done = arbkeep::doctor::run(
            cli.config.as_deref(),
            cli.data_dir.as_deref(),
            *json,
            &mut std::io::stdout(),
        )
        .await;
        return done.map_err(|e| match e {
            arbkeep::doctor::DoctorError::Config(e) => e.into(),
            e => e.into(),
        });
    }
    let config = settle_config(&cli)?;
    let command = match &cli.verb {
        None => return run(&cli, config).await,
        Some(Verb::Status {
            json,
            require_running,
        }) => return verbs::status(&config, *json, *require_running).await,
        Some(Verb::Pnl { json, since, until }) => {
            return verbs::pnl(&config, *json, *since, *until).await;
        }
        Some(Verb::Export {
            what,
            since,
            until,
            format,
        }) => return verbs::export(&config, what, *since, *until, format).await,
        Some(Verb::Ledger { json, cycle }) => return verbs::ledger(&config, *json, *cycle).await,
        Some(Verb::Attach) => return attach(&config).await,
        Some(Verb::Auth {
            broker: AuthBroker::Schwab,
        }) => {
            let done = arbkeep::venue::schwab::run_auth_command(&config.schwab, &config.data_dir);
            return done.await.map_err(|e| {
                if e.is_usage() {
                    UsageError(e.to_string()).into()
                } else {
                    anyhow!(e)
                }
            });
        }
        Some(Verb::Pause) => Command::Pause,
        Some(Verb::Resume) => Command::Resume,
        Some(Verb::PauseToken { token }) => Command::PauseToken { token: *token },
        Some(Verb::ResumeToken { token }) => Command::ResumeToken { token: *token },
        Some(Verb::Approve { id, size }) => Command::Approve {
            opportunity: *id,
            size_vcred: size
                .map(|s| from_decimal(s, TokenId::Vcred.decimals()))
                .transpose()
                .map_err(|e| UsageError(format!("--size: {e}")))?,
        },
        Some(Verb::Reject { id }) => Command::Reject { opportunity: *id },
        Some(Verb::Force { cycle }) => Command::Force { cycle: *cycle },
        Some(Verb::MarkDone { cycle, tx }) => Command::MarkDone {
            cycle: *cycle,
            tx_hash: tx.clone(),
        },
        Some(Verb::Skip { cycle }) => Command::Skip { cycle: *cycle },
        Some(Verb::Fail { cycle, reason }) => Command::Fail {
            cycle: *cycle,
            reason: reason.clone(),
        },
        Some(Verb::ImportProof { cycle, data }) => Command::ImportProof {
            cycle: *cycle,
            data: data.clone(),
        },
        Some(Verb::Resolve {
            id,
            resolution,
            reason,
            evidence,
        }) => Command::Resolve {
            id: id.clone(),
            resolution: resolution.parse().map_err(UsageError)?,
            reason: reason.clone(),
            evidence: evidence.clone(),
        },
        Some(Verb::Devnet { .. } | Verb::Doctor { .. }) => unreachable!("handled above"),
    };
    let mut client = ControlClient::connect(&config.data_dir)
        .await?
        .with_operator("cli");
    let answer = client.command(command).await?;
    println!("{answer}");
    Ok(())
}

/// The console over an engine running elsewhere on this data dir.
async fn attach(config: &Config) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        return Err(UsageError("attach needs a terminal".into()).into());
    }
    let (handle, link) = control::attach(&config.data_dir).await?;
    let dir = config.data_dir.display().to_string();
    ui::run(handle, UiOptions::from_env(format!("attached: {dir}"))).await?;
    link.abort();
    Ok(())
}

async fn run(cli: &Cli, config: Config) -> anyhow::Result<()> {
    let run_for = cli
        .run_for
        .as_deref()
        .map(|d| config::parse_duration(d).map_err(|p| UsageError(format!("--run-for: {p}"))))
        .transpose()?;
    let secrets = Secrets::from_env()?;
    let webhook = secrets
        .webhook_url
        .as_ref()
        .map(|url| {
            WebhookUrl::parse(url.expose()).map_err(|e| config::ConfigError::Env {
                var: notify::WEBHOOK_URL_ENV.into(),
                problem: e.to_string(),
            })
        })
        .transpose()?;
    let headless = cli.headless || !std::io::stdout().is_terminal();
    let dir = config.data_dir.clone();
    arbkeep::store::ensure_private_dir(&dir)?;
    let _lock = InstanceLock::acquire(&dir)?;
    let screen = if headless {
        arbkeep::logging::Screen::Stdout
    } else {
        arbkeep::logging::Screen::Tui
    };
    let log_level = arbkeep::logging::init(
        Some(&dir.join("logs")),
        &config.log_level,
        screen,
        &config.logs,
    )
    .context("cannot open the log files")?;
    tracing::info!(mode = ?config.mode, data_dir = %dir.display(), config = %config.source, "arbkeep starting");
    let front = Front {
        headless,
        run_for,
        webhook,
        config_path: cli.config.clone(),
        log_level,
    };
    match config.mode {
        Mode::Paper => run_paper(config, cli.drain, front).await,
        Mode::Devnet => run_devnet(config, cli.drain, front).await,
        Mode::Live => run_live(config, cli.drain, front).await,
    }
}

/// How the engine is shown and told to stop.
struct Front {
    headless: bool,
    run_for: Option<u64>,
    webhook: Option<WebhookUrl>,
    /// Re-read on SIGHUP.
    config_path: Option<PathBuf>,
    /// Set on SIGHUP when `log_level` changed.
    log_level: arbkeep::logging::LogLevel,
}

async fn run_paper(config: Config, drain: bool, front: Front) -> anyhow::Result<()> {
    let dir = config.data_dir.clone();
    let world_path = dir.join("paper-world.redb");
    let origin = SimWorld::resume_time(&world_path)?.unwrap_or(PAPER_EPOCH);
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(origin, config.paper.speed_milli));
    let faults = config.paper.faults;
    let dice = |venue: &str| FaultDice::seeded(faults.rate_per_mille, faults.seed, venue);
    let world = Arc::new(SimWorld::open_with_faults(
        &world_path,
        config.paper.seed,
        clock.clone(),
        dice("paper chains"),
    )?);
    let store = Store::open(&dir, Mode::Paper)?;
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: Some(config.paper.speed_milli),
        drain,
    };
    // The strategies beside the loop, on the same paper clock and seed.
    let mut keepers: Vec<Box<dyn Keeper>> = Vec::new();
    let mut extensions: Vec<Arc<dyn ControlExtension>> = Vec::new();
    if let Some(hedge) = arbkeep::strategy::equity_hedge::paper_keeper(
        &config.equity_hedge,
        &dir,
        config.paper.seed,
        clock.clone(),
        dice("paper broker"),
    )? {
        keepers.push(hedge);
    }
    if config.stellar_arb.enabled {
        let (keeper, ws) = arbkeep::strategy::stellar_arb::wiring::paper(
            &config.stellar_arb,
            &dir,
            config.paper.seed,
            dice("paper Stellar"),
        )?;
        keepers.push(keeper);
        extensions.push(ws);
    }
    let strategies = Strategies {
        keepers,
        extensions,
    };
    let engine = Engine::new(config.clone(), options, world, clock, store);
    serve(&config, engine, strategies, front).await
}

/// Keepers beside the loop, and the control-API extensions they serve.
#[derive(Default)]
struct Strategies {
    keepers: Vec<Box<dyn Keeper>>,
    extensions: Vec<Arc<dyn ControlExtension>>,
}

/// The EVM adapters against the devnet's nodes, on the system clock.
async fn run_devnet(config: Config, drain: bool, front: Front) -> anyhow::Result<()> {
    use arbkeep::venue::evm::{EvmVenue, Wallet};
    let secrets = Secrets::from_env()?;
    let wallet = Wallet::from_secrets(&secrets).map_err(|e| UsageError(e.to_string()))?;
    let Some(evm) = config.evm.clone() else {
        return Err(UsageError("devnet mode needs an [evm] section".into()).into());
    };
    let dir = config.data_dir.clone();
    let clock: Arc<dyn Clock> = Arc::new(arbkeep::model::SystemClock);
    let journal = Arc::new(arbkeep::venue::evm::EvmStore::open(&dir)?);
    let venue = EvmVenue::connect(&evm, wallet, journal.clone(), clock.clone(), "devnet")
        .await
        .map_err(|e| UsageError(e.to_string()))?;
    let store = Store::open(&dir, Mode::Devnet)?;
    let options = EngineOptions {
        mode: Mode::Devnet,
        speed_milli: None,
        drain,
    };
    let strategies = chain_strategies(&config, journal, clock.clone()).await?;
    let engine = Engine::new(config.clone(), options, Arc::new(venue), clock, store);
    serve(&config, engine, strategies, front).await
}

/// The keepers against real networks on the system clock; the cross-chain
/// loop is off (the config refuses it in live mode).
async fn run_live(config: Config, drain: bool, front: Front) -> anyhow::Result<()> {
    let dir = config.data_dir.clone();
    let clock: Arc<dyn Clock> = Arc::new(arbkeep::model::SystemClock);
    let journal = Arc::new(arbkeep::venue::evm::EvmStore::open(&dir)?);
    let store = Store::open(&dir, Mode::Live)?;
    let options = EngineOptions {
        mode: Mode::Live,
        speed_milli: None,
        drain,
    };
    let strategies = chain_strategies(&config, journal, clock.clone()).await?;
    let engine = Engine::without_loop(config.clone(), options, clock, store);
    serve(&config, engine, strategies, front).await
}

/// The strategies beside the loop outside paper mode: the equity hedge on
/// its orderbook's chain, and Stellar on its configured network (Stellar
/// has no local node, so devnet mode uses the configured network too).
async fn chain_strategies(
    config: &Config,
    journal: Arc<arbkeep::venue::evm::EvmStore>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Strategies> {
    use arbkeep::strategy::equity_hedge::wiring::{HedgeWiring, chain_keeper};
    let mut strategies = Strategies::default();
    let wiring = HedgeWiring {
        mode: config.mode,
        schwab: &config.schwab,
        data_dir: &config.data_dir,
        journal,
        clock,
        seed: config.paper.seed,
        rpc_timeout: Duration::from_millis(
            config
                .evm
                .as_ref()
                .map(|e| e.rpc_timeout_ms)
                .unwrap_or(10_000),
        ),
    };
    if let Some(hedge) = chain_keeper(&config.equity_hedge, wiring)
        .await
        .map_err(|e| UsageError(e.to_string()))?
    {
        strategies.keepers.push(hedge);
    }
    if config.stellar_arb.enabled {
        let (keeper, ws) = arbkeep::strategy::stellar_arb::wiring::network(&config.stellar_arb)
            .map_err(|e| UsageError(e.to_string()))?;
        strategies.keepers.push(keeper);
        strategies.extensions.push(ws);
    }
    Ok(strategies)
}

/// Engine, control API, webhooks, metrics and a front end, until told to stop.
async fn serve<V: arbkeep::venue::LoopVenue>(
    config: &Config,
    (mut engine, handle): (Engine<V>, EngineHandle),
    strategies: Strategies,
    front: Front,
) -> anyhow::Result<()> {
    let dir = config.data_dir.clone();
    let title = config.mode.label().to_ascii_lowercase();
    let control = config.control.clone();
    let notify_cfg = config.notify.clone();
    for keeper in strategies.keepers {
        engine.add_keeper(keeper);
    }
    let reader = engine.reader();
    // Apart from the engine's loop: it tells when no pass completes.
    tokio::spawn(engine.watchdog().run());
    let pulse = engine.pulse();
    let (stop, stopped) = watch::channel(false);
    let mut engine_task = tokio::spawn(engine.run(stopped));

    let server = if control.enabled {
        let cfg = ControlConfig::new(&dir)
            .with_port(control.port)
            .with_extension(Arc::new(LedgerQueries::new(reader.clone())))
            .with_extension(Arc::new(ExportQueries::new(reader)));
        let cfg = strategies
            .extensions
            .into_iter()
            .fold(cfg, |cfg, ext| cfg.with_extension(ext));
        let server = control::serve(handle.clone(), cfg)
            .await
            .context("control API")?;
        tracing::info!(addr = %server.local_addr(), "control API listening on loopback");
        Some(server)
    } else {
        None
    };
    let webhooks = front.webhook.map(|url| {
        let cfg = WebhookConfig::new(url, WebhookFormat::Generic)
            .with_settings(webhook_settings(&notify_cfg)?);
        let (_task, stats, reload) =
            notify::spawn_webhooks_reloadable(handle.notices.subscribe(), cfg);
        Ok::<_, anyhow::Error>((stats, reload))
    });
    let (webhook_stats, webhook_reload) = webhooks.transpose()?.unzip();
    let metrics = match config.metrics {
        Some(m) => {
            let sources = metrics::Sources {
                snapshots: handle.snapshots.clone(),
                pulse,
                sends: SendTally::global(),
                webhooks: webhook_stats,
            };
            let exposition = Arc::new(metrics::Exposition::new(sources));
            let server =
                metrics::serve(m.port, &dir, exposition, metrics::MetricsLimits::default())
                    .await
                    .context("metrics endpoint ([metrics] port)")?;
            tracing::info!(addr = %server.local_addr(), "metrics listening on loopback: GET /metrics");
            Some(server)
        }
        None => None,
    };

    // Headless only: a console's SIGHUP is its terminal going away.
    let reload = front.headless.then(|| {
        tokio::spawn(reload_on_hangup(
            handle.clone(),
            config.clone(),
            front.config_path.clone(),
            front.log_level.clone(),
            webhook_reload,
        ))
    });
    let ended = tokio::select! {
        _ = wait_for_front(&handle, front.headless, front.run_for, &title) => None,
        // The engine ends by itself when drained, or on an error it cannot pass.
        ended = &mut engine_task => Some(ended),
    };
    let outcome = match ended {
        Some(ended) => ended,
        None => {
            let _ = stop.send(true);
            engine_task.await
        }
    };
    if let Some(reload) = reload {
        reload.abort();
    }
    if let Some(server) = server {
        server.shutdown().await;
    }
    if let Some(metrics) = metrics {
        metrics.shutdown().await;
    }
    outcome.map_err(|e| anyhow!("engine task: {e}"))??;
    Ok(())
}

/// `[notify]` as the webhook task reads it.
fn webhook_settings(n: &config::NotifyConfig) -> Result<WebhookSettings, notify::WebhookError> {
    let format = match n.format.as_str() {
        "slack" => WebhookFormat::Slack,
        "discord" => WebhookFormat::Discord,
        _ => WebhookFormat::Generic,
    };
    let events = if n.events.is_empty() {
        notify::EventFilter::All
    } else {
        // Checked when the config was read: every name is known.
        notify::EventFilter::only(&n.events)?
    };
    Ok(WebhookSettings {
        format,
        timeout: Duration::from_millis(n.timeout_ms),
        max_retries: n.retries,
        events,
    })
}

/// Headless: a signal or the end of --run-for. Console: the operator quits
/// (the console handles its own signals), or --run-for ends.
async fn wait_for_front(handle: &EngineHandle, headless: bool, run_for: Option<u64>, title: &str) {
    if headless {
        return wait_for_stop(run_for, false).await;
    }
    let console = ui::run(handle.clone(), UiOptions::from_env(title));
    tokio::select! {
        result = console => if let Err(e) = result {
            tracing::error!(error = %e, "console ended");
        },
        _ = sleep_for(run_for) => tracing::info!("--run-for elapsed: stopping cleanly"),
    }
}

async fn sleep_for(run_for: Option<u64>) {
    match run_for {
        Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        None => std::future::pending().await,
    }
}

/// SIGHUP: re-read the config; the log level changes on the log layers,
/// `[notify]` on the running webhook task, the risk limits and caps in the running engine (an audited `reload`
/// command, whose answer also lists what changed in place and what did not),
/// and every other setting that differs is named as needing a restart — the
/// webhook URL always, as it comes from the environment. A config that no
/// longer reads changes nothing and says why.
async fn reload_on_hangup(
    handle: EngineHandle,
    mut running: Config,
    path: Option<PathBuf>,
    log_level: arbkeep::logging::LogLevel,
    webhooks: Option<WebhookReload>,
) {
    use arbkeep::engine::limits::{Limits, WEBHOOK_URL_NEEDS_RESTART, needs_restart};
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let new = match Config::load(path.as_deref()) {
            Ok(mut new) => {
                // Command-line overrides stay as started.
                new.data_dir = running.data_dir.clone();
                new.paper = running.paper.clone();
                new
            }
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: the config was not reloaded");
                continue;
            }
        };
        let mut in_place = Vec::new();
        let mut restart: Vec<String> = needs_restart(&running, &new)
            .into_iter()
            .map(String::from)
            .collect();
        if new.log_level != running.log_level {
            match log_level.set(&new.log_level) {
                Ok(change) => {
                    tracing::info!(%change, "SIGHUP: log level changed");
                    in_place.push(format!("log_level {change}"));
                    running.log_level = new.log_level.clone();
                }
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: the log level was not changed");
                    restart.push("log_level".into());
                }
            }
        }
        if new.notify != running.notify {
            match (webhook_settings(&new.notify), &webhooks) {
                (Ok(settings), Some(reload)) => {
                    let changes = reload.set(settings);
                    tracing::info!(changes = %changes.join(", "), "SIGHUP: webhook settings changed");
                    in_place.extend(changes);
                    running.notify = new.notify.clone();
                }
                // No webhook runs: the next start reads them.
                (Ok(_), None) => running.notify = new.notify.clone(),
                (Err(e), _) => {
                    tracing::error!(error = %e, "SIGHUP: the webhook settings were not changed");
                    restart.push("notify".into());
                }
            }
        }
        let sections = restart.join(", ");
        restart.push(WEBHOOK_URL_NEEDS_RESTART.into());
        let limits = Limits::of(&new);
        match handle
            .send(
                Command::Reload {
                    limits: limits.clone(),
                    in_place,
                    restart,
                },
                "sighup",
            )
            .await
        {
            Ok(answer) => {
                limits.apply(&mut running);
                tracing::info!(answer = %answer, "SIGHUP: config re-read");
            }
            Err(e) => tracing::error!(error = %e, "SIGHUP: the limits were not reloaded"),
        }
        if !sections.is_empty() {
            tracing::warn!(
                %sections,
                "SIGHUP: these settings changed and need a restart to take effect"
            );
        }
    }
}

/// Ctrl-C, SIGTERM, SIGHUP (when `stop_on_hangup`; a running engine
/// reloads on it instead), or the end of --run-for.
pub(crate) async fn wait_for_stop(run_for: Option<u64>, stop_on_hangup: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = if stop_on_hangup {
        signal(SignalKind::hangup()).ok()
    } else {
        None
    };
    let term = async {
        match term.as_mut() {
            Some(t) => t.recv().await,
            None => std::future::pending().await,
        }
    };
    let hup = async {
        match hup.as_mut() {
            Some(h) => h.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping cleanly"),
        _ = term => tracing::info!("SIGTERM: stopping cleanly"),
        _ = hup => tracing::info!("SIGHUP: stopping cleanly"),
        _ = sleep_for(run_for) => tracing::info!("--run-for elapsed: stopping cleanly"),
    }
}
