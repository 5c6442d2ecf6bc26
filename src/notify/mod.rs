//! Webhooks: the engine's notices, posted to a Slack, Discord
//! or generic receiver. The engine only `broadcast::send`s; everything here
//! runs on its own task behind a bounded drop-oldest queue, so a slow or
//! hanging receiver costs old notices, never the engine's time.
//!
//! The URL usually embeds a credential: it comes from the environment
//! ([`WEBHOOK_URL_ENV`], read by the caller), is shown redacted, and never
//! goes into a payload or a log line. It is fixed for the task's life (the
//! process environment does not change under it); the rest — format,
//! per-attempt timeout, retries, the event filter ([`WebhookSettings`]) — is
//! read for each notice from a `watch` channel, so SIGHUP can change it
//! through [`WebhookReload`] without dropping the queue.

mod deliver;
mod payload;
mod queue;
mod url;

/// Shared with other HTTPS clients (the Schwab adapter).
pub use payload::{WebhookFormat, payload};
pub use url::{WEBHOOK_URL_ENV, WebhookUrl};

use crate::engine::Notice;
use deliver::Deliverer;
use queue::DropOldest;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Never contains the URL itself.
    #[error("invalid webhook URL: {0}")]
    InvalidUrl(String),
    #[error("unknown webhook event {0:?} (known: {known})", known = Notice::events().join(", "))]
    UnknownEvent(String),
    #[error("could not build the webhook HTTP client: {0}")]
    Client(String),
}

/// The `event` name of a notice (its serde tag).
pub fn event_name(notice: &Notice) -> String {
    notice.event().to_string()
}

/// Which notices to post.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EventFilter {
    #[default]
    All,
    Only(BTreeSet<String>),
}

impl EventFilter {
    /// Only these events; unknown names are an error (a typo would otherwise
    /// silence an alert forever).
    pub fn only<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Self, WebhookError> {
        let mut set = BTreeSet::new();
        for name in names {
            let name = name.as_ref().trim();
            if !Notice::events().contains(&name) {
                return Err(WebhookError::UnknownEvent(name.to_string()));
            }
            set.insert(name.to_string());
        }
        Ok(Self::Only(set))
    }

    pub fn allows(&self, notice: &Notice) -> bool {
        match self {
            Self::All => true,
            Self::Only(names) => names.contains(&event_name(notice)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: WebhookUrl,
    pub format: WebhookFormat,
    /// For one attempt, connection included.
    pub timeout: Duration,
    /// Attempts after the first before giving up on a notice.
    pub max_retries: u32,
    pub initial_backoff: Duration,
    /// Cap on any one wait, `Retry-After` included.
    pub max_backoff: Duration,
    /// Notices waiting for delivery; beyond this the oldest is dropped.
    pub queue_capacity: usize,
    pub events: EventFilter,
}

impl WebhookConfig {
    /// Defaults: 10 s per attempt, 5 retries from 1 s up to 60 s, 256 queued,
    /// every event.
    pub fn new(url: WebhookUrl, format: WebhookFormat) -> Self {
        Self {
            url,
            format,
            timeout: Duration::from_secs(10),
            max_retries: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            queue_capacity: 256,
            events: EventFilter::All,
        }
    }
}

impl WebhookConfig {
    /// The part a running task may change.
    pub fn settings(&self) -> WebhookSettings {
        WebhookSettings {
            format: self.format,
            timeout: self.timeout,
            max_retries: self.max_retries,
            events: self.events.clone(),
        }
    }

    /// These settings instead of the ones it has.
    pub fn with_settings(mut self, s: WebhookSettings) -> Self {
        self.format = s.format;
        self.timeout = s.timeout;
        self.max_retries = s.max_retries;
        self.events = s.events;
        self
    }
}

/// What a running webhook task reads for every notice (`notify.format`,
/// `timeout`, `retries`, `events`). A new timeout applies to each attempt
/// from the next on; connecting stays capped by the one the task started
/// with (at most 10 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    pub format: WebhookFormat,
    pub timeout: Duration,
    pub max_retries: u32,
    pub events: EventFilter,
}

impl WebhookSettings {
    /// "notify.retries 5 → 2", one per changed setting.
    pub fn changes(&self, new: &WebhookSettings) -> Vec<String> {
        fn events(e: &EventFilter) -> String {
            match e {
                EventFilter::All => "all".into(),
                EventFilter::Only(names) => names.iter().cloned().collect::<Vec<_>>().join(" "),
            }
        }
        let mut out = Vec::new();
        let mut diff = |key: &str, old: String, new: String| {
            if old != new {
                out.push(format!("notify.{key} {old} → {new}"));
            }
        };
        diff(
            "format",
            format!("{:?}", self.format).to_ascii_lowercase(),
            format!("{:?}", new.format).to_ascii_lowercase(),
        );
        diff(
            "timeout",
            format!("{}ms", self.timeout.as_millis()),
            format!("{}ms", new.timeout.as_millis()),
        );
        diff(
            "retries",
            self.max_retries.to_string(),
            new.max_retries.to_string(),
        );
        diff("events", events(&self.events), events(&new.events));
        out
    }
}

/// Changes the settings of a running webhook task (SIGHUP).
#[derive(Debug, Clone)]
pub struct WebhookReload(Arc<watch::Sender<WebhookSettings>>);

impl WebhookReload {
    /// The settings in force.
    pub fn current(&self) -> WebhookSettings {
        self.0.borrow().clone()
    }

    /// Use `new` from the next notice on; what changed, in words.
    pub fn set(&self, new: WebhookSettings) -> Vec<String> {
        let changes = self.0.borrow().changes(&new);
        self.0.send_replace(new);
        changes
    }
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
    /// Notices in the queue now, waiting for delivery.
    queued: AtomicU64,
}

/// Counters of a webhook task, for the screen and for tests.
#[derive(Debug, Clone, Default)]
pub struct WebhookStats(Arc<Counters>);

impl WebhookStats {
    /// Notices the receiver accepted.
    pub fn delivered(&self) -> u64 {
        self.0.delivered.load(Ordering::Relaxed)
    }
    /// Notices given up on after retries (or refused outright).
    pub fn failed(&self) -> u64 {
        self.0.failed.load(Ordering::Relaxed)
    }
    /// Notices never attempted: pushed out of a full queue, or missed
    /// because the broadcast channel lapped this listener.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }
    /// Retries made, all notices together.
    pub fn retries(&self) -> u64 {
        self.0.retries.load(Ordering::Relaxed)
    }
    /// Notices waiting in the queue now (the one being delivered excluded).
    pub fn queued(&self) -> u64 {
        self.0.queued.load(Ordering::Relaxed)
    }
}

/// Post every notice from `notices` that passes the filter. The task ends
/// when the broadcast channel closes and the queue is drained; abort it to
/// stop sooner.
pub fn spawn_webhooks(
    notices: broadcast::Receiver<Notice>,
    config: WebhookConfig,
) -> JoinHandle<()> {
    spawn_webhooks_with_stats(notices, config).0
}

/// [`spawn_webhooks`], also returning its counters.
pub fn spawn_webhooks_with_stats(
    notices: broadcast::Receiver<Notice>,
    config: WebhookConfig,
) -> (JoinHandle<()>, WebhookStats) {
    let (task, stats, _) = spawn_webhooks_reloadable(notices, config);
    (task, stats)
}

/// [`spawn_webhooks_with_stats`], also returning what changes its settings
/// while it runs.
pub fn spawn_webhooks_reloadable(
    notices: broadcast::Receiver<Notice>,
    config: WebhookConfig,
) -> (JoinHandle<()>, WebhookStats, WebhookReload) {
    let stats = WebhookStats::default();
    let (settings, read) = watch::channel(config.settings());
    let task = tokio::spawn(run(notices, config, read, stats.clone()));
    (task, stats, WebhookReload(Arc::new(settings)))
}

async fn run(
    mut notices: broadcast::Receiver<Notice>,
    config: WebhookConfig,
    settings: watch::Receiver<WebhookSettings>,
    stats: WebhookStats,
) {
    let deliverer = match Deliverer::new(&config) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(url = %config.url, error = %e, "webhooks disabled");
            return;
        }
    };
    tracing::info!(url = %config.url, format = ?config.format, "webhooks on");
    let queue = DropOldest::new(config.queue_capacity);
    let counters = &stats.0;

    // Intake: never waits on the network, so the broadcast channel is
    // drained as fast as the engine fills it.
    let intake = async {
        loop {
            match notices.recv().await {
                Ok(notice) => {
                    let allowed = settings.borrow().events.allows(&notice);
                    if allowed {
                        queue.push(notice, &counters.dropped);
                        counters.queued.store(queue.len(), Ordering::Relaxed);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    counters.dropped.fetch_add(missed, Ordering::Relaxed);
                    tracing::warn!(missed, "webhooks: fell behind the engine's notices");
                }
                Err(broadcast::error::RecvError::Closed) => {
                    queue.close();
                    break;
                }
            }
        }
    };

    let delivery = async {
        while let Some(notice) = queue.pop().await {
            counters.queued.store(queue.len(), Ordering::Relaxed);
            let now = settings.borrow().clone();
            let body = payload(now.format, &notice);
            match deliverer.deliver(&body, now.timeout, now.max_retries).await {
                Ok(retries) => {
                    counters.delivered.fetch_add(1, Ordering::Relaxed);
                    counters
                        .retries
                        .fetch_add(u64::from(retries), Ordering::Relaxed);
                }
                Err((why, retries)) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    counters
                        .retries
                        .fetch_add(u64::from(retries), Ordering::Relaxed);
                    tracing::warn!(
                        url = %config.url,
                        event = %event_name(&notice),
                        %why,
                        "webhook: gave up on a notice"
                    );
                }
            }
        }
    };

    tokio::join!(intake, delivery);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CycleId, TokenId};

    #[test]
    fn a_cycle_that_never_started_can_be_filtered_by_its_event_name() {
        let notice = Notice::CycleNotStarted {
            cycle: CycleId(3),
            token: TokenId::Eth,
            reason: "hemi_swap rejected: slippage".into(),
        };
        assert_eq!(event_name(&notice), "cycle_not_started");
        assert!(Notice::events().contains(&event_name(&notice).as_str()));
        let only = EventFilter::only(["cycle_not_started"]).expect("a known event");
        assert!(only.allows(&notice));
        assert_eq!(
            notice.headline(),
            "c3 ETH not started: hemi_swap rejected: slippage"
        );
    }

    /// Every variant's JSON tag is the name the filter knows: the hedge's
    /// and Stellar's notices too.
    #[test]
    fn the_filter_knows_every_notice_by_its_json_tag() {
        use crate::model::{CycleState, Route, StepKind};
        let every = [
            Notice::OpportunityDetected {
                token: TokenId::Eth,
                route: Route::Stargate,
                size_vcred: 1,
                est_profit_vcred: 1.into(),
                edge_bps: 1,
            },
            Notice::TxSubmitted {
                cycle: CycleId(1),
                step: StepKind::HemiSwap,
                intent: "c1".into(),
            },
            Notice::TxConfirmed {
                cycle: CycleId(1),
                step: StepKind::HemiSwap,
                tx_hash: "0x".into(),
            },
            Notice::BridgeStageReady {
                cycle: CycleId(1),
                token: TokenId::Eth,
                stage: "prove".into(),
            },
            Notice::CycleCompleted {
                cycle: CycleId(1),
                token: TokenId::Eth,
                profit_vcred: 1.into(),
            },
            Notice::CycleFailed {
                cycle: CycleId(1),
                token: TokenId::Eth,
                reason: "r".into(),
            },
            Notice::CycleNotStarted {
                cycle: CycleId(1),
                token: TokenId::Eth,
                reason: "r".into(),
            },
            Notice::Stuck {
                cycle: CycleId(1),
                state: CycleState::Detected,
                since: 0,
            },
            Notice::TokenExpiry {
                venue: "schwab".into(),
                expires_at: 0,
            },
            Notice::EquityHedge {
                symbol: "AAPL".into(),
                message: "m".into(),
            },
            Notice::Stellar {
                kind: "k".into(),
                message: "m".into(),
            },
            Notice::Alarm {
                alarm: crate::engine::alarm::AlarmKind::Liveness,
                subject: "engine".into(),
                message: "m".into(),
                repeat: 0,
            },
            Notice::AlarmCleared {
                alarm: crate::engine::alarm::AlarmKind::Liveness,
                subject: "engine".into(),
                lasted_ms: 1,
            },
            Notice::KillSwitch { reason: "r".into() },
        ];
        assert_eq!(
            every.len(),
            Notice::events().len(),
            "one example per variant"
        );
        for notice in &every {
            let json = serde_json::to_value(notice).expect("serializes");
            assert_eq!(json["event"], notice.event(), "{notice:?}");
            assert!(Notice::events().contains(&notice.event()));
        }
        assert!(EventFilter::only(["equity_hedge", "stellar", "token_expiry"]).is_ok());
        assert!(EventFilter::only(["stellar_arb"]).is_err());
    }
}
