//! Serving an assembled engine until told to stop: the engine task and its
//! watchdog, the control API with the strategies' extensions, webhooks,
//! metrics, and the front (console or headless); SIGHUP reloads
//! (`reload_on_hangup`), SIGTERM / Ctrl-C / --run-for stop (`wait_for_stop`).

use super::{Front, Strategies};
use anyhow::{Context, anyhow};
use arbkeep::config::{self, Config};
use arbkeep::control::{self, ControlConfig, ExportQueries, LedgerQueries};
use arbkeep::engine::journal::SendTally;
use arbkeep::engine::{Command, Engine, EngineHandle};
use arbkeep::metrics;
use arbkeep::notify::{self, WebhookConfig, WebhookFormat, WebhookReload, WebhookSettings};
use arbkeep::ui::{self, UiOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Engine, control API, webhooks, metrics and a front end, until told to stop.
pub(super) async fn serve(
    config: &Config,
    (mut engine, handle): (Engine, EngineHandle),
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
