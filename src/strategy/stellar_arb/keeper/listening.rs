//! Listening for ledger closes: the keeper's [`LedgerFeed`] (Horizon's
//! stream, polling when it is down; or the paper world's closes) wakes the
//! engine for an early turn on each new ledger, and that turn scans the
//! ledger heard at once. The engine's passes stay the floor: each asks the
//! venue's `latest_ledger` as before.

use super::{StellarArbKeeper, venue_err};
use crate::engine::{EngineError, KeeperContext};
use crate::venue::stellar::stream::{FeedSource, LedgerFeed};

impl StellarArbKeeper {
    /// Act on each ledger close this feed hears, not only on the passes.
    pub fn with_ledger_feed(mut self, feed: LedgerFeed) -> Self {
        self.feed = Some(feed);
        self
    }

    /// Start the feed (idempotent): recovery runs inside the runtime.
    pub(super) fn start_listening(&mut self) {
        if let Some(f) = &mut self.feed {
            f.start();
        }
    }

    /// The early turn: the ledger the feed heard, if it is newer than the
    /// last scanned; nothing else (a turn that asked the venue for the
    /// latest ledger would close another paper ledger, and wake again).
    pub(super) async fn on_ledger_close(
        &mut self,
        cx: &KeeperContext<'_>,
    ) -> Result<(), EngineError> {
        let Some(close) = self.feed.as_ref().and_then(LedgerFeed::latest) else {
            return Ok(());
        };
        if close.sequence <= self.last_ledger || !self.recovered() {
            return Ok(());
        }
        self.heard = Some(close.sequence);
        let done = crate::engine::Keeper::tick(self, cx).await;
        self.heard = None;
        done
    }

    /// The ledger this scan is for: the one the early turn heard, or the
    /// venue's latest (and the feed's, if it is ahead of a lagging node).
    pub(super) async fn next_ledger(&mut self) -> Result<u32, EngineError> {
        if let Some(heard) = self.heard.take() {
            return Ok(heard);
        }
        let polled = self.shared.venue.latest_ledger().await.map_err(venue_err)?;
        let streamed = self.feed.as_ref().and_then(LedgerFeed::latest);
        Ok(streamed.map_or(polled, |c| c.sequence.max(polled)))
    }

    /// "stream", "polling (why)" or "" without a feed, for the panel.
    pub(super) fn listening_line(&self) -> String {
        let Some(feed) = &self.feed else {
            return String::new();
        };
        let h = feed.heard();
        match (h.source, &h.fault) {
            (FeedSource::Polling, Some(why)) => format!("polling (ledger stream down: {why})"),
            (source, _) => source.label().to_string(),
        }
    }
}
