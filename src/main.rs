//! The `arbkeep` binary: the CLI (clap) — it loads the config and applies
//! the command line's overrides, takes the data dir's lock, starts the logs,
//! hands a run to `app` (the venues, strategies and engine per mode) or a
//! verb to `verbs` / the control API, and maps errors to exit codes (2: bad
//! config or usage).

use anyhow::{Context, anyhow};
use arbkeep::config::{self, Config, Secrets};
use arbkeep::control::{self, ControlClient};
use arbkeep::engine::Command;
use arbkeep::export::Day;
use arbkeep::model::{CycleId, TokenId, from_decimal};
use arbkeep::notify::{self, WebhookUrl};
use arbkeep::store::InstanceLock;
use arbkeep::ui::{self, UiOptions};
use clap::{Parser, Subcommand};
use rust_decimal::Decimal;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod app;
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
    let front = app::Front {
        headless,
        run_for,
        webhook,
        config_path: cli.config.clone(),
        log_level,
    };
    app::run(config, cli.drain, front).await
}
