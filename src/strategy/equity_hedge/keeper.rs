//! The equity hedge as an engine keeper. Recovery settles every committed
//! hedge by looking (`find`, `order`) and sends nothing. Each pass: refresh
//! market hours, settle open hedges, take the next batch of logs (each event
//! its own store transaction, the hedge it decides placed right after the
//! commit), commit the watermark, then sweep positions that crossed a whole
//! share without a new fill. Nothing is sent unless the engine allows it and
//! the market is open; fills keep queueing meanwhile.

use super::book::{ExecState, Execution};
use super::chain::{ReceiptLogs, TokenSymbols};
use super::decode::{DecodeError, Decoder, EventKey, Meaning};
use super::pipeline::{self, Recorded, Records, Removal};
use super::view::{hedge_view, position_row};
use crate::engine::{EngineError, Keeper, KeeperContext, Notice, Snapshot};
use crate::model::Timestamp;
use crate::model::time::MINUTE;
use crate::venue::broker::{Broker, MarketHours, OrderState, PlacedOrder};
use crate::venue::logs::{LogEvent, LogSource};
use crate::venue::{VenueError, VenueHealth};
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// Recent trades, closed executions and alerts kept for the view.
const RECENT: usize = 20;
/// Market hours are asked again after this long at the latest.
const HOURS_TTL: u64 = 5 * MINUTE;

pub struct EquityHedge<B, L, R, T> {
    broker: Arc<B>,
    logs: Arc<L>,
    receipts: Arc<R>,
    tokens: Arc<T>,
    decoder: Decoder,
    /// Name for the Positions panel ("raindex") and the broker's name.
    venue: String,
    broker_name: String,
    market: Option<(MarketHours, Timestamp)>,
    records: Records,
    health: Vec<VenueHealth>,
    ingest: VenueHealth,
    /// Tables exist (created once per process).
    initialized: bool,
    /// The last block whose watermark was written (skip rewriting it).
    through: Option<u64>,
}

impl<B: Broker, L: LogSource, R: ReceiptLogs, T: TokenSymbols> EquityHedge<B, L, R, T> {
    pub fn new(
        decoder: Decoder,
        broker: Arc<B>,
        broker_name: &str,
        logs: Arc<L>,
        receipts: Arc<R>,
        tokens: Arc<T>,
    ) -> Self {
        Self {
            broker,
            logs,
            receipts,
            tokens,
            decoder,
            venue: "raindex".into(),
            broker_name: broker_name.into(),
            market: None,
            records: Records::default(),
            health: Vec::new(),
            ingest: VenueHealth {
                name: "orderbook logs".into(),
                ok: true,
                head: None,
                latency_ms: None,
                last_seen: None,
                detail: String::new(),
            },
            initialized: false,
            through: None,
        }
    }

    fn init(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        if !self.initialized {
            cx.store.write(|w| pipeline::init(w.transaction()))?;
            self.initialized = true;
        }
        Ok(())
    }

    pub fn records(&self) -> &Records {
        &self.records
    }

    fn market_open(&self) -> Option<bool> {
        self.market.as_ref().map(|(m, _)| m.open_now)
    }

    fn notify(cx: &KeeperContext<'_>, symbol: &str, message: String) {
        tracing::info!(symbol, %message, "equity hedge");
        cx.notify(Notice::EquityHedge {
            symbol: symbol.to_string(),
            message,
        });
    }

    async fn refresh_market(&mut self, now: Timestamp) {
        let stale = match &self.market {
            None => true,
            Some((m, at)) => {
                now >= at + HOURS_TTL || m.next_change.is_some_and(|change| now >= change)
            }
        };
        if stale {
            match self.broker.market_hours().await {
                Ok(m) => self.market = Some((m, now)),
                Err(e) => {
                    tracing::warn!(error = %e, "market hours unavailable: not hedging");
                    self.market = None;
                }
            }
        }
    }

    fn reload(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let r = cx.store.read()?;
        self.records = pipeline::read(r.transaction(), RECENT)?;
        Ok(())
    }

    /// What the broker says about an order, written down.
    fn record_order(
        cx: &KeeperContext<'_>,
        exec: u64,
        order: &PlacedOrder,
    ) -> Result<Execution, EngineError> {
        let now = cx.now;
        let e = cx.store.write(|w| {
            let txn = w.transaction();
            pipeline::submitted(txn, exec, &order.order_id, now)?;
            match &order.state {
                OrderState::Working { .. } => pipeline::get_execution(txn, exec),
                OrderState::Filled {
                    shares,
                    average_price,
                    filled_at,
                } => pipeline::filled(txn, exec, *shares, *average_price, *filled_at, now),
                OrderState::Rejected {
                    reason,
                    filled_shares,
                } => pipeline::failed(txn, exec, reason, *filled_shares, now),
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

    /// Send a committed hedge (`fresh`: created this pass, never sent, so
    /// nothing to look for first).
    async fn send(
        &self,
        cx: &KeeperContext<'_>,
        exec: &Execution,
        fresh: bool,
    ) -> Result<(), EngineError> {
        if !fresh {
            match self.broker.find(&exec.request).await {
                Ok(Some(order)) => {
                    Self::record_order(cx, exec.id, &order)?;
                    return Ok(());
                }
                Ok(None) => {}
                Err(e) => {
                    cx.store.write(|w| {
                        pipeline::attempt_failed(w.transaction(), exec.id, &e.to_string(), cx.now)
                    })?;
                    return Ok(());
                }
            }
        }
        match self.broker.place(&exec.request).await {
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
                    .write(|w| pipeline::failed(w.transaction(), exec.id, &reason, 0, cx.now))?;
                Self::notify(
                    cx,
                    exec.symbol(),
                    format!(
                        "h{} rejected: {reason}; {} back to net",
                        exec.id, exec.request.shares
                    ),
                );
            }
            Err(e) => {
                // Transient or unknown: stays pending; the next pass looks first.
                cx.store.write(|w| {
                    pipeline::attempt_failed(w.transaction(), exec.id, &e.to_string(), cx.now)
                })?;
            }
        }
        Ok(())
    }

    /// Settle every open hedge by looking; place pending ones the broker
    /// does not have when `may_place`.
    async fn settle(&self, cx: &KeeperContext<'_>, may_place: bool) -> Result<(), EngineError> {
        let open = pipeline::open_executions(cx.store.read()?.transaction())?;
        for exec in open {
            match &exec.state {
                ExecState::Pending if may_place => self.send(cx, &exec, false).await?,
                ExecState::Pending => match self.broker.find(&exec.request).await {
                    Ok(Some(order)) => {
                        Self::record_order(cx, exec.id, &order)?;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(hedge = exec.id, error = %e, "find failed"),
                },
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

    async fn ingest(&mut self, cx: &KeeperContext<'_>, may_hedge: bool) -> Result<(), EngineError> {
        let batch = match self.logs.poll().await {
            Ok(b) => b,
            Err(e) => {
                self.ingest.ok = false;
                self.ingest.detail = e.to_string();
                return Ok(());
            }
        };
        let logs: Vec<_> = batch
            .events
            .iter()
            .filter_map(|e| match e {
                LogEvent::Added { log } => Some(log.clone()),
                LogEvent::Removed { .. } => None,
            })
            .collect();
        for event in &batch.events {
            match event {
                LogEvent::Added { log } => {
                    let meaning = match self
                        .decoder
                        .interpret(log, &logs, &*self.receipts, &*self.tokens)
                        .await
                    {
                        Ok(m) => m,
                        Err(DecodeError::Chain(e)) => {
                            // Stop here: the watermark stays, the rest comes again.
                            self.ingest.ok = false;
                            self.ingest.detail = format!("waiting on the chain: {e}");
                            return Ok(());
                        }
                    };
                    match meaning {
                        Meaning::NotOurs => {}
                        Meaning::Skipped(reason) => {
                            let key = EventKey::of(log);
                            let new = cx.store.write(|w| {
                                pipeline::record_skip(w.transaction(), &key, &reason, cx.now)
                            })?;
                            if new {
                                tracing::warn!(event = %key, %reason, "owner's log skipped");
                            }
                        }
                        Meaning::Fill(fill) => {
                            let recorded = cx.store.write(|w| {
                                pipeline::record_fill(w.transaction(), &fill, cx.now, may_hedge)
                            })?;
                            if let Recorded::New {
                                hedge: Some(exec), ..
                            } = recorded
                            {
                                self.send(cx, &exec, true).await?;
                            }
                        }
                    }
                }
                LogEvent::Removed { log } => {
                    let key = EventKey::of(log);
                    let removal = cx
                        .store
                        .write(|w| pipeline::remove(w.transaction(), &key, cx.now))?;
                    match removal {
                        Removal::Unknown => {}
                        Removal::Reversed { trade } => {
                            tracing::warn!(trade, event = %key, "reorg: trade reversed");
                        }
                        Removal::AfterHedge { trade, hedged } => {
                            tracing::error!(trade, event = %key, %hedged, "REORG after hedge");
                            Self::notify(
                                cx,
                                "-",
                                format!(
                                    "REORG: trade t{trade} ({key}) removed after {hedged} shares were hedged"
                                ),
                            );
                        }
                    }
                }
            }
        }
        // Every event of the batch is processed: only now may the source
        // move its committed position past them (a batch with events is
        // committed even at the same block, or it comes again).
        if !batch.events.is_empty() || self.through.is_none_or(|t| batch.through_block > t) {
            cx.store
                .write(|w| pipeline::set_watermark(w.transaction(), batch.through_block))?;
            if let Err(e) = self.logs.commit(batch.through_block).await {
                tracing::warn!(error = %e, "log watermark not committed; events will be delivered again");
            }
            self.through = Some(batch.through_block);
        }
        self.ingest.ok = true;
        self.ingest.head = Some(batch.through_block);
        self.ingest.last_seen = Some(cx.now);
        self.ingest.detail = String::new();
        Ok(())
    }

    async fn sweep(&self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let symbols = pipeline::unhedged(cx.store.read()?.transaction(), cx.now)?;
        for symbol in symbols {
            let exec = cx
                .store
                .write(|w| pipeline::decide(w.transaction(), &symbol, cx.now))?;
            if let Some(exec) = exec {
                self.send(cx, &exec, true).await?;
            }
        }
        Ok(())
    }

    /// One pass, as `tick` runs it.
    pub async fn pass(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.init(cx)?;
        self.refresh_market(cx.now).await;
        let may_hedge = cx.may_send() && self.market_open() == Some(true);
        self.settle(cx, may_hedge).await?;
        self.ingest(cx, may_hedge).await?;
        if may_hedge {
            self.sweep(cx).await?;
        }
        self.health = self.broker.health().await;
        self.reload(cx)
    }

    /// Boot: settle by looking only.
    pub async fn recover_now(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.init(cx)?;
        self.settle(cx, false).await?;
        self.refresh_market(cx.now).await;
        self.reload(cx)
    }
}

fn links_text(e: &Execution) -> String {
    e.links
        .iter()
        .map(|l| format!("t{} {}", l.trade, l.shares))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<B: Broker, L: LogSource, R: ReceiptLogs, T: TokenSymbols> Keeper for EquityHedge<B, L, R, T> {
    fn name(&self) -> &'static str {
        "equity_hedge"
    }

    fn recover<'a>(
        &'a mut self,
        cx: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.recover_now(cx))
    }

    fn tick<'a>(&'a mut self, cx: &'a KeeperContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.pass(cx))
    }

    fn render(&self, snapshot: &mut Snapshot) {
        let open = self.market_open();
        let mut positions: Vec<_> = self.records.positions.iter().collect();
        positions.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        snapshot.positions.extend(
            positions
                .into_iter()
                .map(|p| position_row(p, &self.venue, open)),
        );
        snapshot.hedge = Some(hedge_view(
            &self.records,
            &self.broker_name,
            open,
            self.market.as_ref().and_then(|(m, _)| m.next_change),
        ));
        snapshot.venues.extend(self.health.iter().cloned());
        snapshot.venues.push(self.ingest.clone());
    }
}
