//! The hedge's sends and looks. A hedge is placed only when the send gate
//! allows it at the instant before `place` (a pause can arrive mid-pass),
//! the market is open and the pre-trade checks (`pretrade`) pass, with
//! `sending` committed first (intent before
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
use crate::engine::journal::{
    self, AfterWindow, Answer, IntentRecord, Looked, SendPath, Sent, Sighting, Via,
};
use crate::engine::{EngineError, KeeperContext};
use crate::model::Timestamp;
use crate::model::time::format_time;
use crate::venue::broker::{Broker, OrderRequest, OrderState, OrderTerms, PlacedOrder};
use crate::venue::logs::LogSource;
use futures_util::future::BoxFuture;
use rust_decimal::Decimal;

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
    /// broker) through the journal (the gate read at the last instant,
    /// `sending` before the POST, the answer classified once) if the market
    /// is open; `false` when it was not sent.
    pub(super) async fn place(
        &self,
        cx: &KeeperContext<'_>,
        exec: &Execution,
    ) -> Result<bool, EngineError> {
        if !exec.may_place() || !self.market_takes(&exec.request) {
            return Ok(false);
        }
        // A hedge decided before the operator paused its symbol waits too.
        if pipeline::position(cx.store.read()?.transaction(), exec.symbol())?.paused {
            return Ok(false);
        }
        let Some(terms) = self.pretrade(cx, exec).await? else {
            return Ok(false);
        };
        let mut path = self.send_path(exec, Vec::new());
        path.terms = terms;
        let sent = journal::send(cx, &path, &mut self.intent(exec)).await?;
        Ok(sent != Sent::Held)
    }

    fn send_path<'a>(&'a self, exec: &'a Execution, taken: Vec<String>) -> HedgeSend<'a, B> {
        HedgeSend {
            broker: &self.broker,
            broker_name: &self.broker_name,
            request: &exec.request,
            terms: OrderTerms::default(),
            taken,
            window: self.policy.listing_window,
        }
    }

    fn intent(&self, exec: &Execution) -> HedgeIntent<'_, B, L, R, T> {
        HedgeIntent {
            hedge: self,
            exec: exec.clone(),
        }
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

    /// Look for an OUTCOME UNKNOWN hedge at the broker, through the
    /// journal: found → recorded; not listed → looked for until the
    /// window has passed, then the operator's (or placed again with
    /// `replace_after_window`, while the market is open, its symbol not
    /// paused and the pre-trade check passing). `true`: found.
    pub(super) async fn look(
        &self,
        cx: &KeeperContext<'_>,
        exec: &Execution,
    ) -> Result<bool, EngineError> {
        let ExecState::OutcomeUnknown { look_until, .. } = &exec.state else {
            return Ok(false);
        };
        let taken = pipeline::held_order_ids(cx.store.read()?.transaction(), exec.id)?;
        let mut after = match (
            self.policy.replace_after_window,
            self.market_takes(&exec.request),
        ) {
            (false, _) => AfterWindow::Operator,
            (true, true) => AfterWindow::SendAgain,
            (true, false) => AfterWindow::NotNow,
        };
        let mut terms = OrderTerms::default();
        if after == AfterWindow::SendAgain && cx.now >= *look_until {
            // Placed again only as a first send is: its symbol not paused,
            // the pre-trade check passed (and its terms used); otherwise it
            // stays unknown and is looked for.
            let paused = pipeline::position(cx.store.read()?.transaction(), exec.symbol())?.paused;
            let checked = if paused {
                None
            } else {
                self.pretrade(cx, exec).await?
            };
            match checked {
                Some(t) => terms = t,
                None => after = AfterWindow::NotNow,
            }
        }
        let mut path = self.send_path(exec, taken);
        path.terms = terms;
        let looked = journal::look(cx, &path, &mut self.intent(exec), *look_until, after).await?;
        Ok(looked == Looked::Done)
    }
}

/// The broker's side of one hedge's send: the journal's three questions.
struct HedgeSend<'a, B> {
    broker: &'a B,
    broker_name: &'a str,
    request: &'a OrderRequest,
    /// How it is sent (the reference price the pre-trade check found).
    terms: OrderTerms,
    /// Order ids other hedges hold: never claimed by a look.
    taken: Vec<String>,
    /// `equity_hedge.listing_window`: how long the broker may not list an
    /// order it took.
    window: u64,
}

impl<B: Broker> SendPath for HedgeSend<'_, B> {
    type Receipt = PlacedOrder;

    /// The broker's name ("schwab", "paper broker").
    fn venue(&self) -> &str {
        self.broker_name
    }

    fn send(&self) -> BoxFuture<'_, Answer<PlacedOrder>> {
        Box::pin(async move { Answer::of(self.broker.place_with(self.request, &self.terms).await) })
    }

    fn look(&self) -> BoxFuture<'_, Sighting<PlacedOrder>> {
        Box::pin(async move {
            match self.broker.find(self.request, &self.taken).await {
                Ok(Some(order)) => Sighting::Found(order),
                Ok(None) => Sighting::NotSeen,
                Err(e) => {
                    tracing::warn!(symbol = %self.request.symbol, error = %e, "cannot look for the hedge's order");
                    Sighting::CannotLook(e.to_string())
                }
            }
        })
    }

    fn invisible_for(&self) -> u64 {
        self.window
    }
}

/// The hedge's record of its send, for the journal: each transition one
/// write of the hedge's own tables, told after it is durable.
struct HedgeIntent<'h, B, L, R, T> {
    hedge: &'h EquityHedge<B, L, R, T>,
    exec: Execution,
}

impl<B: Broker, L: LogSource, R: ReceiptLogs, T: TokenSymbols> IntentRecord
    for HedgeIntent<'_, B, L, R, T>
{
    type Receipt = PlacedOrder;

    fn sending(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let id = self.exec.id;
        self.exec = cx
            .store
            .write(|w| lifecycle::sending(w.transaction(), id, cx.now))?;
        Ok(())
    }

    fn done(
        &mut self,
        cx: &KeeperContext<'_>,
        order: &PlacedOrder,
        via: Via,
    ) -> Result<(), EngineError> {
        let e = &self.exec;
        let told = match via {
            Via::Answer => format!(
                "h{} {:?} {} placed, order {}",
                e.id,
                e.side(),
                e.request.shares,
                order.order_id
            ),
            Via::Look => format!(
                "h{} found at {}: order {} (its outcome was unknown)",
                e.id, self.hedge.broker_name, order.order_id
            ),
        };
        EquityHedge::<B, L, R, T>::notify(cx, e.symbol(), told);
        self.exec = EquityHedge::<B, L, R, T>::record_order(cx, e.id, order)?;
        Ok(())
    }

    fn refused(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError> {
        let id = self.exec.id;
        self.exec = cx
            .store
            .write(|w| lifecycle::failed(w.transaction(), id, reason, Decimal::ZERO, cx.now))?;
        EquityHedge::<B, L, R, T>::notify(
            cx,
            self.exec.symbol(),
            format!(
                "h{id} rejected: {reason}; {} back to net",
                self.exec.request.shares
            ),
        );
        Ok(())
    }

    fn not_sent(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError> {
        // It never reached the broker: pending, placed again later.
        let id = self.exec.id;
        tracing::warn!(hedge = id, error = %reason, "hedge not sent");
        self.exec = cx
            .store
            .write(|w| lifecycle::not_sent(w.transaction(), id, reason, cx.now))?;
        Ok(())
    }

    fn unknown(
        &mut self,
        cx: &KeeperContext<'_>,
        reason: &str,
        until: Timestamp,
    ) -> Result<(), EngineError> {
        let id = self.exec.id;
        self.exec = cx
            .store
            .write(|w| lifecycle::outcome_unknown(w.transaction(), id, reason, cx.now, until))?;
        EquityHedge::<B, L, R, T>::notify(
            cx,
            self.exec.symbol(),
            format!(
                "h{id} OUTCOME UNKNOWN ({reason}): looking for it at {} until {} UTC; nothing is placed again before",
                self.hedge.broker_name,
                format_time(until)
            ),
        );
        Ok(())
    }

    fn still_unknown(
        &mut self,
        cx: &KeeperContext<'_>,
        note: Option<&str>,
    ) -> Result<(), EngineError> {
        // Only a change is written: a clean "not listed yet" clears a note.
        if note.is_none() && self.exec.last_error.is_none() {
            return Ok(());
        }
        let id = self.exec.id;
        self.exec = cx
            .store
            .write(|w| lifecycle::note_look(w.transaction(), id, note, cx.now))?;
        Ok(())
    }

    fn window_passed(&mut self, cx: &KeeperContext<'_>, _: &str) -> Result<(), EngineError> {
        if self.exec.last_error.as_deref() == Some(WINDOW_PASSED) {
            return Ok(());
        }
        let id = self.exec.id;
        self.exec = cx
            .store
            .write(|w| lifecycle::note_look(w.transaction(), id, Some(WINDOW_PASSED), cx.now))?;
        EquityHedge::<B, L, R, T>::notify(
            cx,
            self.exec.symbol(),
            format!(
                "h{id} still not listed at {} after the listing window; nothing placed again: `arbkeep resolve h{id} retry|drop|settle --reason …`",
                self.hedge.broker_name
            ),
        );
        Ok(())
    }

    fn send_again(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let id = self.exec.id;
        let note = format!(
            "not listed at {} after the listing window: placed again (equity_hedge.replace_after_window)",
            self.hedge.broker_name
        );
        self.exec = cx
            .store
            .write(|w| lifecycle::retry(w.transaction(), id, &note, cx.now))?;
        EquityHedge::<B, L, R, T>::notify(cx, self.exec.symbol(), format!("h{id}: {note}"));
        Ok(())
    }
}
