//! The equity hedge as an engine keeper: its passes. Recovery settles every
//! committed hedge by looking (`find`, `order`) and sends nothing. Each
//! pass: refresh market hours, settle open hedges (`orders`), take the next
//! batch of logs (each event its own store transaction, the hedge it decides
//! placed right after the commit), commit the watermark once every event of
//! the batch is processed, then sweep positions that crossed a whole share
//! without a new fill. Nothing is sent unless the send gate allows it at
//! that instant (a pause can arrive mid-pass) and the market is open; fills
//! keep queueing meanwhile. Open hedges are listed in `snapshot.intents`;
//! the operator resolves them through `resolve`.

use super::book::Execution;
use super::chain::{ReceiptLogs, TokenSymbols};
use super::decode::{DecodeError, Decoder, EventKey, Meaning};
use super::pipeline::{self, Recorded, Records, Removal};
use super::view::{hedge_view, open_intents, position_row};
use crate::engine::kill::{Realised, Standing};
use crate::engine::{Command, EngineError, Keeper, KeeperContext, Notice, Snapshot};
use crate::model::Timestamp;
use crate::model::time::MINUTE;
use crate::venue::VenueHealth;
use crate::venue::broker::{Broker, MarketHours};
use crate::venue::logs::{ChainLog, LogEvent, LogSource};
use futures_util::future::BoxFuture;
use rust_decimal::Decimal;
use std::sync::Arc;

/// Recent trades, closed executions and alerts kept for the view.
const RECENT: usize = 20;
/// Market hours are asked again after this long at the latest.
const HOURS_TTL: u64 = 5 * MINUTE;

/// How the hedge treats an unknown outcome (`[equity_hedge]` config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HedgePolicy {
    /// How long after an unknown outcome the broker may not list the order
    /// yet: it is looked for over this window before anything else.
    pub listing_window: Timestamp,
    /// Once the window has passed with the order still absent, place it
    /// again by itself (audited, notified) instead of waiting for
    /// `arbkeep resolve hN retry`.
    pub replace_after_window: bool,
    /// The size and exposure guards of every decision.
    pub limits: super::pipeline::HedgeLimits,
    /// How often the broker's positions are compared with the books, and
    /// after how many unexplained comparisons in a row a symbol stops.
    pub reconcile_every: Timestamp,
    pub divergence_polls: u32,
    /// The dollar floor of a fractional order, where the broker takes them
    /// (the keeper picks `limits.sizing` from the broker).
    pub min_fractional_order_usd: Decimal,
}

impl Default for HedgePolicy {
    fn default() -> Self {
        HedgePolicy {
            listing_window: 10 * MINUTE,
            replace_after_window: false,
            limits: super::pipeline::HedgeLimits::default(),
            reconcile_every: MINUTE,
            divergence_polls: 3,
            min_fractional_order_usd: Decimal::ONE,
        }
    }
}

impl HedgePolicy {
    pub fn of(cfg: &crate::config::EquityHedgeConfig) -> Self {
        HedgePolicy {
            listing_window: cfg.listing_window_ms,
            replace_after_window: cfg.replace_after_window,
            limits: super::pipeline::HedgeLimits {
                max_order_shares: cfg.max_order_shares,
                max_exposure_shares: cfg.max_exposure_shares,
                max_total_exposure_shares: cfg.max_total_exposure_shares,
                sizing: super::pipeline::Sizing::WholeShares,
            },
            min_fractional_order_usd: cfg.min_fractional_order_usd,
            reconcile_every: cfg.reconcile_interval_ms,
            divergence_polls: cfg.divergence_polls,
        }
    }
}

pub struct EquityHedge<B, L, R, T> {
    pub(super) broker: Arc<B>,
    logs: Arc<L>,
    pub(super) receipts: Arc<R>,
    tokens: Arc<T>,
    decoder: Decoder,
    /// Name for the Positions panel ("raindex") and the broker's name.
    venue: String,
    pub(super) broker_name: String,
    pub(super) policy: HedgePolicy,
    market: Option<(MarketHours, Timestamp)>,
    records: Records,
    health: Vec<VenueHealth>,
    ingest: VenueHealth,
    /// Tables exist (created once per process).
    initialized: bool,
    /// The last block whose watermark was written (skip rewriting it).
    through: Option<u64>,
    /// When the broker's positions were last compared with the books.
    reconciled_at: Option<Timestamp>,
    /// The orderbook's chain id and address, for `process-tx` (a receipt
    /// holds every contract's logs; only the orderbook's are read).
    pub(super) source: Option<(u64, String)>,
    /// The pre-trade checks' memory (refused hedges, the latest funds read).
    pub(super) pretrade: super::pretrade::Gate,
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
        let mut hedge = Self {
            broker,
            logs,
            receipts,
            tokens,
            decoder,
            venue: "raindex".into(),
            broker_name: broker_name.into(),
            policy: HedgePolicy::default(),
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
            reconciled_at: None,
            source: None,
            pretrade: Default::default(),
        };
        hedge.size_for_broker();
        hedge
    }

    /// The orderbook the logs come from (chain id, address), so a
    /// transaction's receipt can be accounted by hand (`process-tx`).
    pub fn with_source(mut self, chain_id: u64, orderbook: &str) -> Self {
        self.source = Some((chain_id, orderbook.to_string()));
        self
    }

    /// Treat unknown outcomes by `policy` (the listing window, re-placing).
    pub fn with_policy(mut self, policy: HedgePolicy) -> Self {
        self.policy = policy;
        self.size_for_broker();
        self
    }

    /// Whole shares, or fractional ones where the broker takes them.
    fn size_for_broker(&mut self) {
        self.policy.limits.sizing = if self.broker.fractional() {
            super::pipeline::Sizing::Fractional {
                min_usd: self.policy.min_fractional_order_usd,
            }
        } else {
            super::pipeline::Sizing::WholeShares
        };
    }

    pub(super) fn init(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        if !self.initialized {
            cx.store.write(|w| pipeline::init(w.transaction()))?;
            self.initialized = true;
        }
        Ok(())
    }

    pub fn records(&self) -> &Records {
        &self.records
    }

    pub(super) fn market_open(&self) -> Option<bool> {
        self.market.as_ref().map(|(m, _)| m.open_now)
    }

    /// The market as last read takes `request` now: open, and a fractional
    /// quantity only in the regular session (it waits for the open, read
    /// from the cached hours, so no call is spent on it meanwhile).
    pub(super) fn market_takes(&self, request: &crate::venue::broker::OrderRequest) -> bool {
        self.market
            .as_ref()
            .is_some_and(|(m, _)| m.open_now && (!m.extended || request.whole_shares().is_some()))
    }

    pub(super) fn notify(cx: &KeeperContext<'_>, symbol: &str, message: String) {
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

    pub(super) fn reload(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let r = cx.store.read()?;
        // Yesterday's too: the kill switch asks for the day it is in.
        let since = crate::engine::kill::day_start(cx.now).saturating_sub(crate::model::time::DAY);
        self.records = pipeline::read(r.transaction(), RECENT, since)?;
        Ok(())
    }

    async fn ingest(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
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
                    if let Err(wait) = self.account(cx, log, &logs).await? {
                        // Stop here: the watermark stays, the rest comes again.
                        self.ingest.ok = false;
                        self.ingest.detail = format!("waiting on the chain: {wait}");
                        return Ok(());
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

    /// Decode one log and account it (one store transaction): a fill is
    /// deduplicated, recorded and, when sending is allowed, its hedge
    /// decided and placed right after the commit. `Ok(Err(why))`: the chain
    /// could not answer a read the decoding needs; nothing was recorded.
    pub(super) async fn account(
        &mut self,
        cx: &KeeperContext<'_>,
        log: &ChainLog,
        batch: &[ChainLog],
    ) -> Result<Result<Accounted, String>, EngineError> {
        let meaning = match self
            .decoder
            .interpret(log, batch, &*self.receipts, &*self.tokens)
            .await
        {
            Ok(m) => m,
            Err(DecodeError::Chain(e)) => return Ok(Err(e.to_string())),
        };
        match meaning {
            Meaning::NotOurs => Ok(Ok(Accounted::NotOurs)),
            Meaning::Skipped(reason) => {
                let key = EventKey::of(log);
                let new = cx
                    .store
                    .write(|w| pipeline::record_skip(w.transaction(), &key, &reason, cx.now))?;
                if new {
                    tracing::warn!(event = %key, %reason, "owner's log skipped");
                }
                Ok(Ok(Accounted::Skipped(reason)))
            }
            Meaning::Fill(fill) => {
                // Asked per event: a pause may have arrived mid-batch.
                let may_hedge = cx.may_send() && self.market_open() == Some(true);
                let limits = may_hedge.then_some(&self.policy.limits);
                let recorded = cx
                    .store
                    .write(|w| pipeline::record_fill(w.transaction(), &fill, cx.now, limits))?;
                let Recorded::New { trade, hedge, held } = recorded else {
                    return Ok(Ok(Accounted::Duplicate));
                };
                if let Some(why) = held {
                    tracing::error!(symbol = %fill.symbol, "{why}");
                    Self::notify(cx, &fill.symbol, why);
                }
                if let Some(exec) = hedge {
                    self.place(cx, &exec).await?;
                }
                Ok(Ok(Accounted::Fill { trade }))
            }
        }
    }

    async fn sweep(&self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let symbols = pipeline::unhedged(
            cx.store.read()?.transaction(),
            cx.now,
            self.policy.limits.sizing,
        )?;
        for symbol in symbols {
            let decision = cx.store.write(|w| {
                pipeline::decide(w.transaction(), &symbol, cx.now, &self.policy.limits)
            })?;
            if let Some(why) = decision.held {
                tracing::error!(%symbol, "{why}");
                Self::notify(cx, &symbol, why);
            }
            if let Some(exec) = decision.hedge {
                self.place(cx, &exec).await?;
            }
        }
        Ok(())
    }

    /// Compare the broker's positions with the books when due: after the
    /// open hedges were settled (an order filled while we were down is
    /// booked before the comparison). A read that fails waits for the next.
    async fn reconcile(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        if self
            .reconciled_at
            .is_some_and(|at| cx.now < at.saturating_add(self.policy.reconcile_every))
        {
            return Ok(());
        }
        let positions = match self.broker.positions().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "broker positions not read; compared next time");
                return Ok(());
            }
        };
        self.reconciled_at = Some(cx.now);
        let polls = self.policy.divergence_polls;
        let stopped = cx
            .store
            .write(|w| pipeline::reconcile(w.transaction(), &positions, polls, cx.now))?;
        for (symbol, why) in stopped {
            tracing::error!(%symbol, "{why}");
            Self::notify(cx, &symbol, why);
        }
        Ok(())
    }

    /// One pass, as `tick` runs it.
    pub async fn pass(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.init(cx)?;
        self.refresh_market(cx.now).await;
        self.settle(cx).await?;
        self.ingest(cx).await?;
        self.reconcile(cx).await?;
        if cx.may_send() && self.market_open() == Some(true) {
            self.sweep(cx).await?;
        }
        self.health = self.broker.health().await;
        if let Some(expiring) = self.broker.login_expiring() {
            cx.notify(Notice::TokenExpiry {
                venue: expiring.venue,
                expires_at: expiring.expires_at,
            });
        }
        self.reload(cx)
    }

    /// Boot: settle by looking only.
    pub async fn recover_now(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.init(cx)?;
        self.settle(cx).await?;
        self.refresh_market(cx.now).await;
        self.reload(cx)
    }
}

/// What accounting one log did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Accounted {
    NotOurs,
    Skipped(String),
    Duplicate,
    Fill { trade: u64 },
}

pub(super) fn links_text(e: &Execution) -> String {
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

    fn standing(&self, since: Timestamp) -> Standing {
        let realised = self
            .records
            .realised
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(at, usd)| Realised { at: *at, usd: *usd })
            .collect();
        Standing {
            realised,
            holdings: Vec::new(),
            unvalued: (self.records.unvalued > 0).then(|| {
                format!(
                    "{} filled hedges without linked trades to value them against",
                    self.records.unvalued
                )
            }),
        }
    }

    fn render(&self, snapshot: &mut Snapshot) {
        let open = self.market_open();
        let mut positions: Vec<_> = self.records.positions.iter().collect();
        positions.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        snapshot.positions.extend(positions.into_iter().map(|p| {
            let pending = p
                .pending
                .and_then(|id| self.records.executions.iter().find(|e| e.id == id));
            position_row(p, pending, &self.venue, open)
        }));
        snapshot.hedge = Some(hedge_view(
            &self.records,
            &self.broker_name,
            open,
            self.market.as_ref().and_then(|(m, _)| m.next_change),
        ));
        snapshot.venues.extend(self.health.iter().cloned());
        snapshot.venues.push(self.ingest.clone());
        snapshot.intents.extend(open_intents(
            &self.records,
            &self.broker_name,
            self.policy.replace_after_window,
            snapshot.now,
        ));
        snapshot
            .intents
            .extend(super::view::gated_intents(&self.records, &self.broker_name));
    }

    /// `arbkeep resolve hN|p:SYMBOL …` and the per-symbol verbs
    /// (`controls`).
    fn command<'a>(
        &'a mut self,
        command: &'a Command,
        cx: &'a KeeperContext<'a>,
    ) -> Option<BoxFuture<'a, Result<String, String>>> {
        self.operate(command, cx)
    }
}
