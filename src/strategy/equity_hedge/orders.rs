//! The hedge's sends and looks. A hedge is placed only when the send gate
//! allows it at the instant before `place` (a pause can arrive mid-pass)
//! and the market is open, with `sending` committed first (intent before
//! action). The broker's answer is written down: an order id or a fill, a
//! refusal (its shares back to the net), a send that never left (placed
//! again later), or an unknown outcome: OUTCOME UNKNOWN, looked for with
//! `find` over the listing window, claiming no order another hedge holds,
//! and never placed again unless the operator retries it or
//! `replace_after_window` is on once the window has passed.

use super::book::{ExecState, Execution};
use super::chain::{ReceiptLogs, TokenSymbols};
use super::keeper::{EquityHedge, links_text};
use super::lifecycle;
use super::pipeline;
use crate::engine::{EngineError, KeeperContext};
use crate::model::time::format_time;
use crate::venue::VenueError;
use crate::venue::broker::{Broker, OrderState, PlacedOrder};
use crate::venue::logs::LogSource;

/// The note an OUTCOME UNKNOWN hedge carries once its window has passed.
pub(super) const WINDOW_PASSED: &str = "not listed after the listing window";

impl<B: Broker, L: LogSource, R: ReceiptLogs, T: TokenSymbols> EquityHedge<B, L, R, T> {
    /// What the broker says about an order, written down.
    pub(super) fn record_order(
        cx: &KeeperContext<'_>,
        exec: u64,
        order: &PlacedOrder,
    ) -> Result<Execution, EngineError> {
        let now = cx.now;
        let e = cx.store.write(|w| {
            let txn = w.transaction();
            lifecycle::submitted(txn, exec, &order.order_id, now)?;
            match &order.state {
                OrderState::Working { .. } => pipeline::get_execution(txn, exec),
                OrderState::Filled {
                    shares,
                    average_price,
                    filled_at,
                } => lifecycle::filled(txn, exec, *shares, *average_price, *filled_at, now),
                OrderState::Rejected {
                    reason,
                    filled_shares,
                } => lifecycle::failed(txn, exec, reason, *filled_shares, now),
            }
        })?;
        match &e.state {
            ExecState::Filled {
                shares,
                average_price,
                ..
            } => Self::notify(
                cx,
                e.symbol(),
                format!(
                    "h{} {:?} {shares} filled at {average_price} (offsets {})",
                    e.id,
                    e.side(),
                    links_text(&e)
                ),
            ),
            ExecState::Failed {
                reason, returned, ..
            } => Self::notify(
                cx,
                e.symbol(),
                format!("h{} failed: {reason}; {returned} back to net", e.id),
            ),
            _ => {}
        }
        Ok(e)
    }

    /// Place a hedge that may be placed (pending, provably never at the
    /// broker) if sending is allowed at this instant; `false` when it was
    /// not sent.
    pub(super) async fn place(
        &self,
        cx: &KeeperContext<'_>,
        exec: &Execution,
    ) -> Result<bool, EngineError> {
        if !exec.may_place() || !cx.may_send() || self.market_open() != Some(true) {
            return Ok(false);
        }
        cx.store
            .write(|w| lifecycle::sending(w.transaction(), exec.id, cx.now))?;
        let answer = self.broker.place(&exec.request).await;
        self.answer(cx, exec, answer)?;
        Ok(true)
    }

    fn answer(
        &self,
        cx: &KeeperContext<'_>,
        exec: &Execution,
        answer: Result<PlacedOrder, VenueError>,
    ) -> Result<(), EngineError> {
        match answer {
            Ok(order) => {
                Self::notify(
                    cx,
                    exec.symbol(),
                    format!(
                        "h{} {:?} {} placed, order {}",
                        exec.id,
                        exec.side(),
                        exec.request.shares,
                        order.order_id
                    ),
                );
                Self::record_order(cx, exec.id, &order)?;
            }
            Err(VenueError::Rejected(reason)) => {
                cx.store
                    .write(|w| lifecycle::failed(w.transaction(), exec.id, &reason, 0, cx.now))?;
                Self::notify(
                    cx,
                    exec.symbol(),
                    format!(
                        "h{} rejected: {reason}; {} back to net",
                        exec.id, exec.request.shares
                    ),
                );
            }
            Err(VenueError::Transient(e)) => {
                // It never reached the broker: pending, placed again later.
                tracing::warn!(hedge = exec.id, error = %e, "hedge not sent");
                cx.store
                    .write(|w| lifecycle::not_sent(w.transaction(), exec.id, &e, cx.now))?;
            }
            Err(VenueError::Unknown(e)) => {
                let until = cx.now + self.policy.listing_window;
                cx.store.write(|w| {
                    lifecycle::outcome_unknown(w.transaction(), exec.id, &e, cx.now, until)
                })?;
                Self::notify(
                    cx,
                    exec.symbol(),
                    format!(
                        "h{} OUTCOME UNKNOWN ({e}): looking for it at {} until {} UTC; nothing is placed again before",
                        exec.id,
                        self.broker_name,
                        format_time(until)
                    ),
                );
            }
        }
        Ok(())
    }

    /// Settle every open hedge by looking; place pending ones that were
    /// never sent when sending is allowed.
    pub(super) async fn settle(&self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let open = pipeline::open_executions(cx.store.read()?.transaction())?;
        for exec in open {
            match &exec.state {
                ExecState::Pending if exec.may_place() => {
                    self.place(cx, &exec).await?;
                }
                ExecState::Pending => {
                    // A send began and its answer was never recorded (a
                    // crash mid-send, or a record from before `sending`).
                    let until = cx.now + self.policy.listing_window;
                    let e = cx.store.write(|w| {
                        lifecycle::outcome_unknown(
                            w.transaction(),
                            exec.id,
                            "a send may have left and its answer was never recorded",
                            cx.now,
                            until,
                        )
                    })?;
                    self.look(cx, &e).await?;
                }
                ExecState::OutcomeUnknown { .. } => {
                    self.look(cx, &exec).await?;
                }
                ExecState::Submitted { order_id } => match self.broker.order(order_id).await {
                    Ok(order) => {
                        Self::record_order(cx, exec.id, &order)?;
                    }
                    Err(e) => tracing::warn!(hedge = exec.id, error = %e, "order status failed"),
                },
                _ => {}
            }
        }
        Ok(())
    }

    /// Look for an OUTCOME UNKNOWN hedge at the broker (`true`: found).
    pub(super) async fn look(
        &self,
        cx: &KeeperContext<'_>,
        exec: &Execution,
    ) -> Result<bool, EngineError> {
        let ExecState::OutcomeUnknown { look_until, .. } = &exec.state else {
            return Ok(false);
        };
        let taken = pipeline::held_order_ids(cx.store.read()?.transaction(), exec.id)?;
        match self.broker.find(&exec.request, &taken).await {
            Ok(Some(order)) => {
                Self::notify(
                    cx,
                    exec.symbol(),
                    format!(
                        "h{} found at {}: order {} (its outcome was unknown)",
                        exec.id, self.broker_name, order.order_id
                    ),
                );
                Self::record_order(cx, exec.id, &order)?;
                Ok(true)
            }
            Ok(None) if cx.now < *look_until => {
                if exec.last_error.is_some() {
                    cx.store
                        .write(|w| lifecycle::note_look(w.transaction(), exec.id, None, cx.now))?;
                }
                Ok(false)
            }
            Ok(None) => {
                if self.policy.replace_after_window {
                    if cx.may_send() && self.market_open() == Some(true) {
                        let note = format!(
                            "not listed at {} after the listing window: placed again (equity_hedge.replace_after_window)",
                            self.broker_name
                        );
                        let e = cx
                            .store
                            .write(|w| lifecycle::retry(w.transaction(), exec.id, &note, cx.now))?;
                        Self::notify(cx, exec.symbol(), format!("h{}: {note}", exec.id));
                        self.place(cx, &e).await?;
                    }
                } else if exec.last_error.as_deref() != Some(WINDOW_PASSED) {
                    cx.store.write(|w| {
                        lifecycle::note_look(w.transaction(), exec.id, Some(WINDOW_PASSED), cx.now)
                    })?;
                    Self::notify(
                        cx,
                        exec.symbol(),
                        format!(
                            "h{id} still not listed at {} after the listing window; nothing placed again: `arbkeep resolve h{id} retry|drop|settle --reason …`",
                            self.broker_name,
                            id = exec.id
                        ),
                    );
                }
                Ok(false)
            }
            Err(e) => {
                tracing::warn!(hedge = exec.id, error = %e, "cannot look for the hedge's order");
                let note = format!("cannot look: {e}");
                cx.store.write(|w| {
                    lifecycle::note_look(w.transaction(), exec.id, Some(&note), cx.now)
                })?;
                Ok(false)
            }
        }
    }
}
