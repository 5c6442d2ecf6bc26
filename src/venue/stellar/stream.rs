//! Ledger closes as they happen, for a keeper that wants to act on each
//! one: [`LedgerFeed`]. On the network it follows Horizon's
//! `GET /ledgers?cursor=now` as server-sent events (`sse`); when the stream
//! stays silent longer than `silence` (no ledger, whatever else arrives),
//! errs, is cut, sends a malformed event or is closed by Horizon, it falls
//! back to asking the venue's `latest_ledger` (RPC getLatestLedger) every
//! `poll_every`, and tries the stream again after `stream_retry`. The paper
//! world closes its own ledgers and tells its feed directly.
//!
//! The feed publishes what it heard on a watch channel and pokes a
//! [`Notify`] on every ledger newer than the last one told: the engine's
//! wake signal for the keeper (`engine::Keeper::wake`).

use super::StellarVenue;
pub use super::sse::LedgerClose;
use super::sse::{LedgerEvent, SseReader, ledger_event};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Where the ledgers come from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedSource {
    /// Not started, or no ledger heard yet.
    Starting,
    /// Horizon's event stream.
    Stream,
    /// The stream is down: getLatestLedger every `poll_every`.
    Polling,
    /// The paper world's own closes.
    Paper,
}

impl FeedSource {
    pub fn label(self) -> &'static str {
        match self {
            FeedSource::Starting => "starting",
            FeedSource::Stream => "stream",
            FeedSource::Polling => "polling",
            FeedSource::Paper => "paper",
        }
    }
}

/// What the feed has heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub close: Option<LedgerClose>,
    pub source: FeedSource,
    /// Times the stream went down and polling took over.
    pub fallbacks: u64,
    /// Why the stream last went down.
    pub fault: Option<String>,
}

impl Heard {
    pub fn new(source: FeedSource) -> Self {
        Self {
            close: None,
            source,
            fallbacks: 0,
            fault: None,
        }
    }
}

/// How the network feed listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedSettings {
    /// No ledger for this long: the stream is taken as down (two ledger times).
    pub silence: Duration,
    /// getLatestLedger this often while the stream is down.
    pub poll_every: Duration,
    /// The stream is tried again after this much polling.
    pub stream_retry: Duration,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            silence: Duration::from_secs(10),
            poll_every: Duration::from_secs(1),
            stream_retry: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("Horizon url for the ledger stream: {0}")]
    Url(String),
    #[error("HTTP client for the ledger stream: {0}")]
    Client(String),
}

/// Ledger closes for one keeper. Started once (`start`, inside a tokio
/// runtime); its tasks end when it is dropped.
pub struct LedgerFeed {
    heard: watch::Receiver<Heard>,
    wake: Arc<Notify>,
    /// What `start` spawns (in a mutex: the feed is shared read-only, `Sync`).
    pending: std::sync::Mutex<Vec<BoxFuture<'static, ()>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for LedgerFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerFeed")
            .field("heard", &*self.heard.borrow())
            .field("started", &!self.tasks.is_empty())
            .finish()
    }
}

impl Drop for LedgerFeed {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl LedgerFeed {
    /// Horizon's ledger stream at `horizon_url`, `venue.latest_ledger()`
    /// while it is down.
    pub fn horizon(
        horizon_url: &str,
        venue: Arc<dyn StellarVenue>,
        settings: FeedSettings,
    ) -> Result<Self, FeedError> {
        let mut url =
            reqwest::Url::parse(horizon_url).map_err(|e| FeedError::Url(e.to_string()))?;
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        let mut url = url
            .join("ledgers")
            .map_err(|e| FeedError::Url(e.to_string()))?;
        url.query_pairs_mut().append_pair("cursor", "now");
        let http = stream_client(super::rpc::is_loopback(&url))?;
        let (tx, rx) = watch::channel(Heard::new(FeedSource::Starting));
        let follow = Box::pin(follow(http, url, venue, settings, tx));
        Ok(Self::with(rx, vec![follow]))
    }

    /// A feed told by whoever closes the ledgers (the paper world).
    pub fn told(heard: watch::Receiver<Heard>) -> Self {
        Self::with(heard, Vec::new())
    }

    fn with(heard: watch::Receiver<Heard>, mut pending: Vec<BoxFuture<'static, ()>>) -> Self {
        let wake = Arc::new(Notify::new());
        pending.push(Box::pin(poke(heard.clone(), wake.clone())));
        Self {
            heard,
            wake,
            pending: std::sync::Mutex::new(pending),
            tasks: Vec::new(),
        }
    }

    /// Start listening (again: nothing). Needs a tokio runtime.
    pub fn start(&mut self) {
        let pending = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for work in pending {
            self.tasks.push(tokio::spawn(work));
        }
    }

    /// Poked on every new ledger close.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn heard(&self) -> Heard {
        self.heard.borrow().clone()
    }

    pub fn latest(&self) -> Option<LedgerClose> {
        self.heard.borrow().close
    }
}

/// Poke `wake` on each ledger newer than the last poked.
async fn poke(mut heard: watch::Receiver<Heard>, wake: Arc<Notify>) {
    let mut told = 0u32;
    loop {
        let latest = heard.borrow_and_update().close.map(|c| c.sequence);
        if let Some(seq) = latest.filter(|s| *s > told) {
            told = seq;
            // A stored permit: a wake that lands mid-turn is not lost.
            wake.notify_one();
        }
        if heard.changed().await.is_err() {
            return;
        }
    }
}

/// No overall timeout (a stream lasts hours); silence is judged per read.
fn stream_client(loopback: bool) -> Result<reqwest::Client, FeedError> {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let mut builder = reqwest::Client::builder();
    if loopback {
        builder = builder.no_proxy();
    }
    builder
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("arbkeep/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FeedError::Client(crate::net::describe(&e)))
}

/// Publish `close` if it is newer than anything told before.
fn tell(tx: &watch::Sender<Heard>, close: LedgerClose, source: FeedSource) {
    tx.send_if_modified(|h| {
        let newer = h.close.is_none_or(|c| close.sequence > c.sequence);
        if newer {
            h.close = Some(close);
        }
        let moved = h.source != source;
        h.source = source;
        newer || moved
    });
}

/// Stream, fall back to polling when it fails, stream again later; for as
/// long as anyone listens.
async fn follow(
    http: reqwest::Client,
    url: reqwest::Url,
    venue: Arc<dyn StellarVenue>,
    settings: FeedSettings,
    tx: watch::Sender<Heard>,
) {
    while !tx.is_closed() {
        let why = stream_once(&http, &url, settings.silence, &tx).await;
        tracing::warn!(target: "stellar_arb", reason = %why, "ledger stream down: polling getLatestLedger until it is tried again");
        tx.send_modify(|h| {
            h.source = FeedSource::Polling;
            h.fallbacks = h.fallbacks.saturating_add(1);
            h.fault = Some(why);
        });
        let until = Instant::now() + settings.stream_retry;
        loop {
            match venue.latest_ledger().await {
                Ok(sequence) => tell(
                    &tx,
                    LedgerClose {
                        sequence,
                        closed_at: None,
                    },
                    FeedSource::Polling,
                ),
                Err(e) => {
                    tracing::warn!(target: "stellar_arb", error = %e, "getLatestLedger failed while the ledger stream is down")
                }
            }
            if Instant::now() >= until || tx.is_closed() {
                break;
            }
            tokio::time::sleep(settings.poll_every).await;
        }
    }
}

/// One stream connection, to its end; why it ended.
async fn stream_once(
    http: &reqwest::Client,
    url: &reqwest::Url,
    silence: Duration,
    tx: &watch::Sender<Heard>,
) -> String {
    let mut deadline = Instant::now() + silence;
    let request = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send();
    let mut response = match tokio::time::timeout_at(deadline, request).await {
        Err(_) => return format!("no answer within {} ms", silence.as_millis()),
        Ok(Err(e)) => return format!("unreachable: {}", crate::net::describe(&e)),
        Ok(Ok(r)) => r,
    };
    let status = response.status().as_u16();
    let event_stream = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if status != 200 || !event_stream {
        return format!("HTTP {status}, not an event stream");
    }
    let mut reader = SseReader::default();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => return format!("no ledger for {} ms", silence.as_millis()),
            Ok(Err(e)) => return format!("cut: {}", crate::net::describe(&e)),
            Ok(Ok(None)) => return "ended by Horizon".into(),
            Ok(Ok(Some(bytes))) => bytes,
        };
        let frames = match reader.push(&chunk) {
            Ok(f) => f,
            Err(e) => return format!("unreadable: {e}"),
        };
        for frame in &frames {
            match ledger_event(frame) {
                Ok(LedgerEvent::Closed(close)) => {
                    deadline = Instant::now() + silence;
                    tell(tx, close, FeedSource::Stream);
                }
                Ok(LedgerEvent::Control) => {}
                Ok(LedgerEvent::Bye) => return "closed by Horizon".into(),
                // Strict: a stream that says something else is not trusted.
                Err(e) => return format!("malformed event: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::stellar::paper::PaperStellar;

    #[tokio::test]
    async fn the_paper_world_tells_its_feed_each_ledger_it_closes() {
        let paper = PaperStellar::open(None, 7).expect("paper");
        let mut feed = paper.ledger_feed();
        feed.start();
        let wake = feed.wake();
        assert_eq!(feed.latest(), None);
        for _ in 0..3 {
            paper.advance().expect("close");
            tokio::time::timeout(Duration::from_secs(5), wake.notified())
                .await
                .expect("woken on the close");
            let l = paper.ledger();
            assert_eq!(
                feed.latest(),
                Some(LedgerClose {
                    sequence: l.sequence,
                    closed_at: Some(l.close_time),
                })
            );
            assert_eq!(feed.heard().source, FeedSource::Paper);
        }
    }
}
