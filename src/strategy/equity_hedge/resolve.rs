//! The operator's decision on an open hedge (`arbkeep resolve hN …`): settle
//! by looking now (with evidence: that broker order, read from the broker,
//! checked against the hedge's symbol, side and shares, and held by no other
//! hedge), drop (it was not placed: the hedge fails and its shares go back to
//! the net), or retry (place an OUTCOME UNKNOWN hedge again now). Each
//! decision is written to the hedge's alerts and told in a notice; the
//! engine writes the audit line.

use super::book::{ExecState, Execution};
use super::chain::{ReceiptLogs, TokenSymbols};
use super::keeper::EquityHedge;
use super::lifecycle;
use super::pipeline;
use crate::engine::{EngineError, KeeperContext, Resolution};
use crate::venue::broker::Broker;
use crate::venue::logs::LogSource;
use rust_decimal::Decimal;

fn text(e: EngineError) -> String {
    e.to_string()
}

impl<B: Broker, L: LogSource, R: ReceiptLogs, T: TokenSymbols> EquityHedge<B, L, R, T> {
    pub(super) async fn resolve(
        &mut self,
        cx: &KeeperContext<'_>,
        id: u64,
        resolution: Resolution,
        reason: &str,
        evidence: Option<&str>,
    ) -> Result<String, String> {
        self.init(cx).map_err(text)?;
        let reason = match reason.trim() {
            "" => "no reason given",
            r => r,
        };
        let exec = {
            let r = cx.store.read().map_err(|e| e.to_string())?;
            pipeline::execution(r.transaction(), id).map_err(|e| e.to_string())?
        }
        .ok_or_else(|| format!("h{id} is not a hedge"))?;
        if !exec.state.is_open() {
            return Err(format!(
                "h{id} is {}: nothing open to resolve",
                exec.state.label()
            ));
        }
        let answer = match resolution {
            Resolution::Settle => self.settle_now(cx, &exec, evidence).await,
            Resolution::Drop => self.drop_hedge(cx, &exec, reason),
            Resolution::Retry => self.retry_now(cx, &exec, reason).await,
        };
        if let Ok(message) = &answer {
            let line = format!("operator {resolution}: {message} ({reason})");
            cx.store
                .write(|w| pipeline::alert(w.transaction(), Some(exec.symbol()), line, cx.now))
                .map_err(|e| e.to_string())?;
            Self::notify(
                cx,
                exec.symbol(),
                format!("operator {resolution}: {message}"),
            );
        }
        self.reload(cx).map_err(text)?;
        answer
    }

    fn now_state(cx: &KeeperContext<'_>, id: u64) -> Result<Execution, String> {
        let r = cx.store.read().map_err(|e| e.to_string())?;
        pipeline::execution(r.transaction(), id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("h{id} vanished"))
    }

    async fn settle_now(
        &self,
        cx: &KeeperContext<'_>,
        exec: &Execution,
        evidence: Option<&str>,
    ) -> Result<String, String> {
        let id = exec.id;
        let Some(order_id) = evidence.map(str::trim).filter(|e| !e.is_empty()) else {
            // Look now, as a pass would.
            match &exec.state {
                ExecState::Submitted { order_id } => {
                    let order = self
                        .broker
                        .order(order_id)
                        .await
                        .map_err(|e| format!("cannot read order {order_id}: {e}"))?;
                    Self::record_order(cx, id, &order).map_err(text)?;
                }
                ExecState::OutcomeUnknown { .. } => {
                    self.look(cx, exec).await.map_err(text)?;
                }
                ExecState::Pending if exec.may_place() => {
                    return Ok(format!(
                        "h{id} was never sent; it is placed when sending is allowed and the market is open"
                    ));
                }
                _ => {
                    // A send began, its answer unrecorded: the pass makes it
                    // OUTCOME UNKNOWN and looks.
                    self.settle(cx).await.map_err(text)?;
                }
            }
            let e = Self::now_state(cx, id)?;
            return Ok(format!("h{id} looked for: {}", e.state.label()));
        };
        if let Some(held) = exec.order_id()
            && held != order_id
        {
            return Err(format!("h{id} already holds order {held}, not {order_id}"));
        }
        let taken = {
            let r = cx.store.read().map_err(|e| e.to_string())?;
            pipeline::held_order_ids(r.transaction(), id).map_err(|e| e.to_string())?
        };
        if taken.iter().any(|t| t == order_id) {
            return Err(format!(
                "order {order_id} is already held by another hedge; refusing to book it for h{id}"
            ));
        }
        let order =
            self.broker.order(order_id).await.map_err(|e| {
                format!("cannot read order {order_id} at {}: {e}", self.broker_name)
            })?;
        let r = &exec.request;
        if order.symbol != r.symbol || order.side != r.side || order.shares != r.shares {
            return Err(format!(
                "order {order_id} is {:?} {} {}, h{id} is {:?} {} {}: not this hedge's order",
                order.side, order.shares, order.symbol, r.side, r.shares, r.symbol
            ));
        }
        let e = Self::record_order(cx, id, &order).map_err(text)?;
        Ok(format!(
            "h{id} settled by order {order_id}: {}",
            e.state.label()
        ))
    }

    fn drop_hedge(
        &self,
        cx: &KeeperContext<'_>,
        exec: &Execution,
        reason: &str,
    ) -> Result<String, String> {
        let id = exec.id;
        if let ExecState::Submitted { order_id } = &exec.state {
            return Err(format!(
                "h{id} is working at {} as order {order_id}: it was placed; settle it (cancel it at the broker first if it must not fill)",
                self.broker_name
            ));
        }
        let e = cx
            .store
            .write(|w| {
                lifecycle::failed(
                    w.transaction(),
                    id,
                    &format!("dropped by the operator: {reason}"),
                    Decimal::ZERO,
                    cx.now,
                )
            })
            .map_err(|e| e.to_string())?;
        let returned = match &e.state {
            ExecState::Failed { returned, .. } => *returned,
            _ => Decimal::ZERO,
        };
        Ok(format!(
            "h{id} dropped (not placed); {returned} {} back to net",
            e.symbol()
        ))
    }

    async fn retry_now(
        &self,
        cx: &KeeperContext<'_>,
        exec: &Execution,
        reason: &str,
    ) -> Result<String, String> {
        let id = exec.id;
        let unknown = match &exec.state {
            ExecState::OutcomeUnknown { .. } => true,
            ExecState::Pending => !exec.may_place(),
            _ => false,
        };
        if !unknown {
            return Err(format!(
                "only an OUTCOME UNKNOWN hedge is retried; h{id} is {}",
                exec.state.label()
            ));
        }
        if !cx.may_send() {
            return Err("sending is paused or not allowed yet: resume first".into());
        }
        if self.market_open() != Some(true) {
            return Err(format!(
                "the market is not open at {}: retry when it is",
                self.broker_name
            ));
        }
        let note = format!(
            "operator retry: placed again although the first outcome is unknown ({reason})"
        );
        let e = cx
            .store
            .write(|w| {
                let txn = w.transaction();
                if exec.state == ExecState::Pending {
                    lifecycle::outcome_unknown(txn, id, "a send may have left", cx.now, cx.now)?;
                }
                lifecycle::retry(txn, id, &note, cx.now)
            })
            .map_err(|e| e.to_string())?;
        let sent = self.place(cx, &e).await.map_err(text)?;
        if !sent {
            return Err(format!("h{id} could not be placed now"));
        }
        let e = Self::now_state(cx, id)?;
        Ok(format!("h{id} placed again: {}", e.state.label()))
    }
}
