//! Metrics: the optional Prometheus endpoint on loopback (`[metrics] port`).
//! It owns the metric families and their encoding (`families`,
//! [`Exposition`], with the official `prometheus-client` crate) and the
//! small HTTP server that answers `GET /metrics` (`server`, [`serve`]). It keeps no
//! state of its own: every scrape reads what the process already has — the
//! latest [`Snapshot`](crate::engine::Snapshot), the engine's
//! [`Pulse`], the journal's [`SendTally`] and the webhook task's
//! [`WebhookStats`] — so the engine does nothing for it and a scraper
//! cannot slow a pass. Like every front end it sits on the engine's
//! outputs (docs/architecture.md §1). No label carries a secret: labels
//! are fixed names, and names that come from outside are stripped of
//! anything that looks like an address.
//!
//! The families (all prefixed `arbkeep_`): `build_info`, `passes_total`,
//! `pass_failures_total`, `pass_duration_seconds` (histogram),
//! `seconds_since_last_pass`, `seconds_since_last_successful_pass`,
//! `phase{phase}`, `paused`, `cycles{state}`,
//! `open_intents{state}`, `pnl_vcred{period}`, `balance{chain,token}`,
//! `hedge_exposure_seconds`, `venue_up{venue}`,
//! `venue_latency_seconds{venue}`, `sends_total{venue,outcome}`, and with
//! webhooks on `webhook_queue_depth` and `webhook_{delivered,failed,dropped}_total`.

mod exposition;
mod families;
mod request;
mod server;

pub use exposition::{Exposition, Format, OPENMETRICS_CONTENT_TYPE};
pub use server::{ADDR_FILE, MetricsLimits, MetricsServer, serve};

use crate::engine::journal::SendTally;
use crate::engine::{Pulse, Snapshot};
use crate::notify::WebhookStats;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    AddrFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode the exposition")]
    Encode,
}

/// Where the families read from at scrape time.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The engine's published snapshots (the latest is read).
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub pulse: Arc<Pulse>,
    /// The journal's count of sends ([`SendTally::global`] in the binary).
    pub sends: &'static SendTally,
    /// The webhook task's counters, when webhooks are on.
    pub webhooks: Option<WebhookStats>,
}

#[cfg(test)]
mod tests;
