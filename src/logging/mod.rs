//! Logs: a diagnostic JSONL file rotated by size (`rotate`), an append-only
//! money JSONL file (swaps, bridges, prove/finalize, balance deltas, cycle
//! P&L) rolled into one file per day and never deleted (`daily`), and either
//! the terminal (headless) or tui-logger (console). Secrets never reach them:
//! their types redact themselves, and the libraries that log what goes over
//! the wire (WebSocket frames, HTTP bodies, request URLs) are held at INFO
//! whatever `log_level` or `ARBKEEP_LOG` asks for — see [`WIRE_TARGETS`].
//!
//! `log_level` can change under a running process (SIGHUP): [`init`] wraps
//! the level of the diag, stdout and tui layers in a `reload` layer and
//! returns a [`LogLevel`] to set it. The wire cap and the money layer (INFO
//! for its target, always) are not reloadable and do not move; an
//! `ARBKEEP_LOG` filter on stdout wins over the config and stays as it is.

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
use std::sync::{Arc, Mutex};
use tracing::Metadata;
use tracing_subscriber::filter::{FilterExt, FilterFn, LevelFilter, Targets, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

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

/// A log file that takes whole lines (one `tracing` event each), and may
/// start a new file between them: by size (`rotate`) or by day (`daily`).
trait LineSink {
    fn write_line(&mut self, buf: &[u8]) -> io::Result<()>;
}

/// One event's writer for a [`LineSink`]: each `write` is appended whole,
/// under the file's lock.
pub struct LineWriter<'a>(&'a std::sync::Mutex<dyn LineSink + Send>);

impl io::Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut sink = self
            .0
            .lock()
            .map_err(|_| io::Error::other("log file lock poisoned"))?;
        sink.write_line(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
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

/// The env variable whose filter, when set, replaces `log_level` on stdout.
pub const LOG_ENV: &str = "ARBKEEP_LOG";

#[derive(Debug, thiserror::Error)]
pub enum LogLevelError {
    #[error("unknown log level {0:?} (expected error, warn, info, debug or trace)")]
    Unknown(String),
    #[error("the log level could not be changed: {0}")]
    Reload(String),
}

/// Parse a `log_level` value.
pub fn parse_level(level: &str) -> Result<LevelFilter, LogLevelError> {
    level
        .trim()
        .parse()
        .map_err(|_| LogLevelError::Unknown(level.to_string()))
}

/// What [`LogLevel::set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelChange {
    pub old: LevelFilter,
    pub new: LevelFilter,
    /// `ARBKEEP_LOG` holds stdout's filter: only the files (and the tui)
    /// follow the new level.
    pub stdout_from_env: bool,
}

impl std::fmt::Display for LevelChange {
    /// "info → debug", and why stdout did not follow when it did not.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |l: LevelFilter| l.to_string().to_ascii_lowercase();
        write!(f, "{} → {}", name(self.old), name(self.new))?;
        if self.stdout_from_env {
            write!(f, " (stdout keeps the {LOG_ENV} filter, which wins)")?;
        }
        Ok(())
    }
}

/// The level of the diag, stdout and tui layers, changeable while running.
/// Cheap to clone; every clone sets the same layers.
#[derive(Debug, Clone)]
pub struct LogLevel(Arc<LevelState>);

#[derive(Debug)]
struct LevelState {
    handles: Vec<reload::Handle<LevelFilter, Registry>>,
    current: Mutex<LevelFilter>,
    stdout_from_env: bool,
}

impl LogLevel {
    fn new(
        level: LevelFilter,
        handles: Vec<reload::Handle<LevelFilter, Registry>>,
        stdout_from_env: bool,
    ) -> Self {
        Self(Arc::new(LevelState {
            handles,
            current: Mutex::new(level),
            stdout_from_env,
        }))
    }

    /// The level in force.
    pub fn current(&self) -> LevelFilter {
        *self.0.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Is stdout's filter `ARBKEEP_LOG`'s rather than the level's?
    pub fn stdout_from_env(&self) -> bool {
        self.0.stdout_from_env
    }

    /// Change the level of every reloadable layer to `level` ("debug", …).
    pub fn set(&self, level: &str) -> Result<LevelChange, LogLevelError> {
        let new = parse_level(level)?;
        let mut current = self.0.current.lock().unwrap_or_else(|p| p.into_inner());
        for handle in &self.0.handles {
            handle
                .reload(new)
                .map_err(|e| LogLevelError::Reload(e.to_string()))?;
        }
        let old = std::mem::replace(&mut *current, new);
        Ok(LevelChange {
            old,
            new,
            stdout_from_env: self.0.stdout_from_env,
        })
    }
}

/// Install the global subscriber. `log_dir` gets `diag.jsonl` (rotated by
/// size as `files` says) and `money.jsonl` (rolled by day, never deleted).
/// The answer sets the level later.
pub fn init(
    log_dir: Option<&Path>,
    level: &str,
    screen: Screen,
    files: &LogsConfig,
) -> io::Result<LogLevel> {
    // The config checked it; a stray value falls back to INFO.
    let level: LevelFilter = parse_level(level).unwrap_or(LevelFilter::INFO);
    let mut handles = Vec::new();
    let mut reloadable = || {
        let (filter, handle) = reload::Layer::new(level);
        handles.push(handle);
        filter
    };
    let mut stdout_from_env = false;
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    if let Some(dir) = log_dir {
        crate::files::ensure_private_dir(dir).map_err(io::Error::other)?;
        let diag = SizeRotated::open(&dir.join(DIAG_FILE), files.diag_max_bytes, files.diag_keep)?;
        layers.push(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(diag)
                .with_filter(reloadable().and(wire_cap()))
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
            let layer = tracing_subscriber::fmt::layer().with_target(false);
            match EnvFilter::try_from_env(LOG_ENV) {
                Ok(filter) => {
                    stdout_from_env = true;
                    layers.push(layer.with_filter(filter.and(wire_cap())).boxed());
                }
                Err(_) => layers.push(layer.with_filter(reloadable().and(wire_cap())).boxed()),
            }
        }
        Screen::Tui => {
            let _ = tui_logger::init_logger(tui_logger::LevelFilter::Trace);
            tui_logger::set_default_level(tui_logger::LevelFilter::Info);
            layers.push(
                tui_logger::TuiTracingSubscriberLayer
                    .with_filter(reloadable().and(wire_cap()))
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
        .map_err(io::Error::other)?;
    Ok(LogLevel::new(level, handles, stdout_from_env))
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

    #[test]
    fn a_level_change_reloads_the_filter_and_says_old_and_new() {
        use tracing_subscriber::layer::SubscriberExt;
        let (filter, handle) = reload::Layer::new(LevelFilter::INFO);
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        let record = tracing_subscriber::fmt::layer()
            .with_writer(move || Line(sink.clone()))
            .with_filter(filter.and(wire_cap()));
        let subscriber = tracing_subscriber::registry().with(record);
        let level = LogLevel::new(LevelFilter::INFO, vec![handle], false);
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("hidden at info");
            let change = level.set("debug").expect("reloads");
            assert_eq!(change.to_string(), "info → debug");
            tracing::debug!("shown at debug");
            tracing::debug!(target: "hyper", "wire lines stay capped");
        });
        assert_eq!(level.current(), LevelFilter::DEBUG);
        let lines = seen.lock().unwrap().concat();
        assert!(!lines.contains("hidden at info"), "{lines}");
        assert!(lines.contains("shown at debug"), "{lines}");
        assert!(!lines.contains("wire lines"), "{lines}");
        assert!(matches!(level.set("loud"), Err(LogLevelError::Unknown(_))));
        let pinned = LevelChange {
            old: LevelFilter::INFO,
            new: LevelFilter::DEBUG,
            stdout_from_env: true,
        };
        assert!(pinned.to_string().contains(LOG_ENV), "{pinned}");
    }

    /// Collects formatted lines for the test above.
    struct Line(Arc<Mutex<Vec<String>>>);

    impl io::Write for Line {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(buf).into_owned());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
