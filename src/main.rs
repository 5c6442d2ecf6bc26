//! The `arbkeep` binary: the CLI (clap) — it loads the config and applies
//! the command line's overrides, takes the data dir's lock, starts the logs,
//! hands a run to `app` (the venues, strategies and engine per mode) or a
//! verb to `verbs` / the control API, and maps errors to exit codes (2: bad
//! config or usage).

use anyhow::{Context, anyhow};
use arbkeep::config::{self, Config, Secrets};
use arbkeep::control::{self, ControlClient};
use arbkeep::engine::Command;
use arbkeep::model::{TokenId, from_decimal};
use arbkeep::notify::{self, WebhookUrl};
use arbkeep::store::InstanceLock;
use arbkeep::ui::{self, UiOptions};
use clap::Parser;
use rust_decimal::Decimal;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

mod app;
mod cli;
mod devnet;
mod verbs;

use arbkeep::strategy::equity_hedge::controls::ticker;
use cli::{AuthBroker, Cli, PositionAction, Verb};

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
        Some(Verb::Pnl {
            json, all: true, ..
        }) => return verbs::pnl_all(&config, *json).await,
        Some(Verb::Pnl {
            json, since, until, ..
        }) => {
            return verbs::pnl(&config, *json, *since, *until).await;
        }
        Some(Verb::Export {
            what,
            since,
            until,
            format,
        }) => return verbs::export(&config, what, *since, *until, format).await,
        Some(Verb::Ledger {
            json,
            all: true,
            totals,
            ..
        }) => return verbs::money_ledger(&config, *json, *totals).await,
        Some(Verb::Ledger { json, cycle, .. }) => {
            return verbs::ledger(&config, *json, *cycle).await;
        }
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
        Some(Verb::PauseSymbol { symbol }) => Command::PauseSymbol {
            symbol: ticker(symbol).map_err(UsageError)?,
        },
        Some(Verb::ResumeSymbol { symbol }) => Command::ResumeSymbol {
            symbol: ticker(symbol).map_err(UsageError)?,
        },
        Some(Verb::ProcessTx { tx }) => Command::ProcessTx {
            tx_hash: tx.clone(),
        },
        Some(Verb::Position {
            action:
                PositionAction::Set {
                    symbol,
                    net,
                    reason,
                },
        }) => Command::SetPosition {
            symbol: ticker(symbol).map_err(UsageError)?,
            net: *net,
            reason: reason.clone(),
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
