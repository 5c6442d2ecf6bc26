//! Keepers: the strategies (the cross-chain loop, the equity hedge, the
//! Stellar arbitrage), each driven by the engine's passes the same way:
//! recovery first, then one `tick` per pass; it writes only through the
//! engine's store (its own tables, one transaction per change), sends
//! through the intent journal, tells people through notices, and adds its
//! part of the `Snapshot`.

use super::gate::SendGate;
use super::kill::Standing;
use super::limits::Limits;
use super::{Command, EngineError, Notice, Phase, Snapshot};
use crate::model::Timestamp;
use crate::store::Store;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::{Notify, broadcast};

/// What a keeper may use during one call.
pub struct KeeperContext<'a> {
    pub store: &'a Store,
    pub now: Timestamp,
    pub phase: Phase,
    /// Pause as it stands at this instant (a pause can arrive mid-pass).
    pub gate: &'a SendGate,
    pub notices: &'a broadcast::Sender<Notice>,
}

impl KeeperContext<'_> {
    /// Sending is allowed: recovered, not paused, not draining. Asked at
    /// every send boundary, since a pause takes effect mid-pass.
    pub fn may_send(&self) -> bool {
        self.phase == Phase::Running && !self.gate.paused()
    }

    /// Best effort: a notice with no listener is fine.
    pub fn notify(&self, notice: Notice) {
        let _ = self.notices.send(notice);
    }
}

pub trait Keeper: Send + Sync {
    /// Short name for logs, the venue panel and the kill switch's figures
    /// ("cross_chain_loop", "equity_hedge", "stellar_arb").
    fn name(&self) -> &'static str;

    /// Boot is recovery: settle whatever has an intent and no outcome, by
    /// looking, before the first pass. No new work may start here.
    fn recover<'a>(
        &'a mut self,
        cx: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>>;

    /// One pass of the keeper's own reconciliation.
    fn tick<'a>(&'a mut self, cx: &'a KeeperContext<'a>) -> BoxFuture<'a, Result<(), EngineError>>;

    /// Add this keeper's part of the picture (positions, venue health, and
    /// every open intent in `snapshot.intents`).
    fn render(&self, snapshot: &mut Snapshot);

    /// What this strategy realised since `since` (the day's start) and what
    /// it holds, valued in USD for the kill switch (`kill`). Cheap: asked
    /// after every pass's step, from what the keeper holds in memory.
    fn standing(&self, _since: Timestamp) -> Standing {
        Standing::default()
    }

    /// A signal this keeper pokes when something it watches happened (a
    /// ledger closed) and it wants a turn before the next pass. `None`: it
    /// runs on the passes only. Asked once, when the engine starts running.
    fn wake(&self) -> Option<Arc<Notify>> {
        None
    }

    /// The early turn asked through `wake`: only this keeper, between
    /// passes, with the kill switch assessed before and after as in a
    /// pass. Never called before this keeper has recovered.
    fn woken<'a>(
        &'a mut self,
        cx: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        self.tick(cx)
    }

    /// The limits a reload (SIGHUP) changed in place, already applied to
    /// the engine's config: a keeper that keeps its own copy takes them.
    fn reload(&mut self, _limits: &Limits) {}

    /// A command meant for this keeper, or `None` to leave it to others.
    /// `Command::Resolve` names an intent id this keeper listed, or one no
    /// keeper lists (a keeper answers only ids of its own shape).
    fn command<'a>(
        &'a mut self,
        _command: &'a Command,
        _cx: &'a KeeperContext<'a>,
    ) -> Option<BoxFuture<'a, Result<String, String>>> {
        None
    }
}
