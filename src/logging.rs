//! Logs: a diagnostic JSONL file, an append-only money JSONL file (swaps,
//! bridges, prove/finalize, balance deltas, cycle P&L), and either the
//! terminal (headless) or tui-logger (console). Secrets never reach them:
//! their types redact themselves.

use crate::model::LedgerEntry;
use crate::model::money::format_delta;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The tracing target of money lines.
pub const MONEY: &str = "money";

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
                .with_filter(level)
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
                    .with_filter(filter)
                    .boxed(),
            );
        }
        Screen::Tui => {
            let _ = tui_logger::init_logger(tui_logger::LevelFilter::Trace);
            tui_logger::set_default_level(tui_logger::LevelFilter::Info);
            layers.push(
                tui_logger::TuiTracingSubscriberLayer
                    .with_filter(level)
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
