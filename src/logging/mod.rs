//! Logs: a diagnostic JSONL file rotated by size (`rotate`), an append-only
//! money JSONL file (swaps, bridges, prove/finalize, balance deltas, cycle
//! P&L) rolled into one file per day and never deleted (`daily`), and either
//! the terminal (headless) or tui-logger (console). Secrets never reach them:
//! their types redact themselves, and the libraries that log what goes over
//! the wire (WebSocket frames, HTTP bodies, request URLs) are held at INFO
//! whatever `log_level` or `ARBKEEP_LOG` asks for — see [`WIRE_TARGETS`].

mod daily;
mod rotate;

pub use daily::DailyRolled;
pub use rotate::SizeRotated;

use crate::config::LogsConfig;
use crate::model::LedgerEntry;
use crate::model::money::format_delta;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use tracing::Metadata;
use tracing_subscriber::filter::{FilterExt, FilterFn, LevelFilter, Targets, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The diagnostic log in the log dir; old ones are `diag.1.jsonl` ….
pub const DIAG_FILE: &str = "diag.jsonl";
/// The money log in the log dir; earlier days are `money-YYYY-MM-DD.jsonl`.
pub const MONEY_FILE: &str = "money.jsonl";

/// The tracing target of money lines.
pub const MONEY: &str = "money";

/// Libraries whose DEBUG and TRACE lines carry wire contents: tungstenite
/// logs every frame (a control command with its token, a Stellar seed
/// message) and the URL it connects to; alloy's HTTP transport puts the RPC
/// URL (often with an API key in it) on a DEBUG span and response bodies at
/// TRACE; hyper, h2, reqwest and rustls log headers and connection details.
/// Their lines above INFO are dropped by every log layer.
pub const WIRE_TARGETS: &[&str] = &[
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tokio_rustls",
    "alloy_transport",
    "alloy_transport_http",
    "alloy_transport_ws",
    "alloy_pubsub",
    "alloy_rpc_client",
    "alloy_provider",
];

/// The most a wire target may log.
const WIRE_LEVEL: LevelFilter = LevelFilter::INFO;

/// Is `target` one of [`WIRE_TARGETS`] or a module inside one?
pub fn is_wire_target(target: &str) -> bool {
    WIRE_TARGETS.iter().any(|w| {
        target
            .strip_prefix(w)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Lets everything through except wire targets above [`WIRE_LEVEL`].
fn wire_cap() -> FilterFn<impl Fn(&Metadata<'_>) -> bool> {
    filter_fn(|meta: &Metadata<'_>| !(is_wire_target(meta.target()) && *meta.level() > WIRE_LEVEL))
}

/// Write one ledger line to the money log.
pub fn money(e: &LedgerEntry) {
    let amount = match e.token {
        Some(t) => format_delta(e.delta, t.decimals()),
        None => String::new(),
    };
    tracing::info!(
        target: MONEY,
        seq = e.seq,
        at = e.at,
        kind = ?e.kind,
        cycle = e.cycle.map(|c| c.to_string()).unwrap_or_default(),
        chain = e.chain.map(|c| c.name()).unwrap_or_default(),
        token = e.token.map(|t| t.symbol()).unwrap_or_default(),
        delta = %e.delta,
        amount = %amount,
        value_vcred = %e.value_vcred,
        tx = e.tx_hash.as_deref().unwrap_or_default(),
        operator = e.operator,
        "{}", e.note
    );
}

/// Where the human-readable log goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Headless: lines on stdout.
    Stdout,
    /// Console: into tui-logger's buffer, never to the terminal.
    Tui,
    /// CLI verbs: warnings only, on stderr.
    Quiet,
}

/// Open `path` for appending, created 0600 (and tightened to 0600 if it
/// was not), for the log files.
fn private_append(path: &Path) -> io::Result<std::fs::File> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

/// Install the global subscriber. `log_dir` gets `diag.jsonl` (rotated by
/// size as `files` says) and `money.jsonl` (rolled by day, never deleted).
pub fn init(
    log_dir: Option<&Path>,
    level: &str,
    screen: Screen,
    files: &LogsConfig,
) -> io::Result<()> {
    let level: LevelFilter = level.parse().unwrap_or(LevelFilter::INFO);
    let mut layers: Vec<Box<dyn Layer<_> + Send + Sync>> = Vec::new();
    if let Some(dir) = log_dir {
        crate::store::ensure_private_dir(dir).map_err(io::Error::other)?;
        let diag = SizeRotated::open(&dir.join(DIAG_FILE), files.diag_max_bytes, files.diag_keep)?;
        layers.push(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(diag)
                .with_filter(level.and(wire_cap()))
                .boxed(),
        );
        let money = DailyRolled::open(&dir.join(MONEY_FILE))?;
        layers.push(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(false)
                .with_writer(money)
                .with_filter(Targets::new().with_target(MONEY, LevelFilter::INFO))
                .boxed(),
        );
    }
    match screen {
        Screen::Stdout => {
            let filter = EnvFilter::try_from_env("ARBKEEP_LOG")
                .unwrap_or_else(|_| EnvFilter::new(level.to_string()));
            layers.push(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_filter(filter.and(wire_cap()))
                    .boxed(),
            );
        }
        Screen::Tui => {
            let _ = tui_logger::init_logger(tui_logger::LevelFilter::Trace);
            tui_logger::set_default_level(tui_logger::LevelFilter::Info);
            layers.push(
                tui_logger::TuiTracingSubscriberLayer
                    .with_filter(level.and(wire_cap()))
                    .boxed(),
            );
        }
        Screen::Quiet => {
            layers.push(
                tracing_subscriber::fmt::layer()
                    .with_writer(io::stderr)
                    .with_filter(LevelFilter::WARN)
                    .boxed(),
            );
        }
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_targets_match_whole_path_segments() {
        assert!(is_wire_target("tungstenite"));
        assert!(is_wire_target("tungstenite::protocol"));
        assert!(is_wire_target("tokio_tungstenite::compat"));
        assert!(is_wire_target("alloy_transport_http::reqwest_transport"));
        assert!(!is_wire_target("tungstenite_extra"));
        assert!(!is_wire_target("arbkeep::control::server"));
    }
}
