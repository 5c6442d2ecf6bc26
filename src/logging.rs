//! Logs: a diagnostic JSONL file, an append-only money JSONL file (swaps,
//! bridges, prove/finalize, balance deltas, cycle P&L), and either the
//! terminal (headless) or tui-logger (console). Secrets never reach them:
//! their types redact themselves, and the libraries that log what goes over
//! the wire (WebSocket frames, HTTP bodies, request URLs) are held at INFO
//! whatever `log_level` or `ARBKEEP_LOG` asks for — see [`WIRE_TARGETS`].

use crate::model::LedgerEntry;
use crate::model::money::format_delta;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use tracing::Metadata;
use tracing_subscriber::filter::{FilterExt, FilterFn, LevelFilter, Targets, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

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

/// An append-only file opened 0600, shared by one layer.
struct AppendFile(Mutex<std::fs::File>);

impl<'a> MakeWriter<'a> for AppendFile {
    type Writer = AppendWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        AppendWriter(&self.0)
    }
}

struct AppendWriter<'a>(&'a Mutex<std::fs::File>);

impl io::Write for AppendWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut f = self
            .0
            .lock()
            .map_err(|_| io::Error::other("log file lock poisoned"))?;
        // One write per line with O_APPEND: lines never interleave.
        f.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn append(path: &Path) -> io::Result<AppendFile> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    Ok(AppendFile(Mutex::new(f)))
}

/// Install the global subscriber. `log_dir` gets diag.jsonl and money.jsonl.
pub fn init(log_dir: Option<&Path>, level: &str, screen: Screen) -> io::Result<()> {
    let level: LevelFilter = level.parse().unwrap_or(LevelFilter::INFO);
    let mut layers: Vec<Box<dyn Layer<_> + Send + Sync>> = Vec::new();
    if let Some(dir) = log_dir {
        crate::store::ensure_private_dir(dir).map_err(io::Error::other)?;
        let diag = append(&dir.join("diag.jsonl"))?;
        layers.push(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(diag)
                .with_filter(level.and(wire_cap()))
                .boxed(),
        );
        let money = append(&dir.join("money.jsonl"))?;
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
