//! Early turns: a keeper whose `Keeper::wake` signal is poked (a ledger
//! closed) gets a turn of its own between passes, so it reacts at once
//! rather than at the next pass. The turn is a pass's keeper step for that
//! keeper alone: the kill switch assessed before and after, the snapshot
//! published; the passes stay as the floor. The engine knows only that
//! some keeper asked, never why.

use super::{Engine, EngineError, KeeperContext, Phase};
use futures_util::future::select_all;
use std::sync::Arc;
use tokio::sync::Notify;

/// Each keeper's wake signal, by its place among the keepers.
pub(super) struct Wakes(Vec<(usize, Arc<Notify>)>);

impl Wakes {
    /// The index of the next keeper to ask; never, when none can.
    pub(super) async fn next(&self) -> usize {
        if self.0.is_empty() {
            return std::future::pending().await;
        }
        let waits = self
            .0
            .iter()
            .map(|(i, n)| {
                let i = *i;
                let n = n.clone();
                Box::pin(async move {
                    n.notified().await;
                    i
                })
            })
            .collect::<Vec<_>>();
        select_all(waits).await.0
    }
}

impl Engine {
    pub(super) fn wakes(&self) -> Wakes {
        Wakes(
            self.keepers
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.keeper.wake().map(|n| (i, n)))
                .collect(),
        )
    }

    /// The early turn of keeper `i`. One not recovered (or a stopped
    /// engine) waits for its pass.
    pub(super) async fn wake_turn(&mut self, i: usize) -> Result<(), EngineError> {
        if matches!(self.phase, Phase::Recovering | Phase::Stopped) {
            return Ok(());
        }
        let mut keepers = std::mem::take(&mut self.keepers);
        // What was booked since the pass may trip the switch before a send.
        self.guard_with(&keepers);
        if let Some(slot) = keepers.get_mut(i).filter(|s| s.recovered) {
            let cx = KeeperContext {
                store: &self.store,
                now: self.clock.now(),
                phase: self.phase,
                gate: &self.gate,
                notices: &self.notices,
            };
            if let Err(e) = slot.keeper.woken(&cx).await {
                tracing::error!(keeper = slot.keeper.name(), error = %e, "keeper early turn failed");
            }
        }
        self.guard_with(&keepers);
        self.keepers = keepers;
        self.publish();
        Ok(())
    }
}
