//! The loop as the engine drives it: its state (open cycles, their steps,
//! recent closed ones, the P&L book, balances as the ledger explains them,
//! prices, the quote cache, opportunities), and its `Keeper` face —
//! recovery (every cycle's intent without an outcome settled by looking,
//! the wallet checked against the ledger), one pass (refresh, plan,
//! reconcile, flag what is stuck), its part of the snapshot, its standing
//! for the kill switch and its commands.

use super::economics::Valuation;
use super::ledger::{self, PnlBook};
use crate::config::Config;
use crate::engine::limits::Limits;
use crate::engine::quotes::QuoteCache;
use crate::engine::snapshot::{BalanceRow, CycleCounts, CycleView, OpportunityView, StepView};
use crate::engine::{Command, EngineError, Keeper, KeeperContext, Notice, Phase, Snapshot};
use crate::model::{
    Chain, Controls, Cycle, CycleId, CycleState, LedgerEntry, LedgerKind, StepRecord, StepStatus,
    Timestamp, TokenId,
};
use crate::venue::{FeeSchedule, LoopVenue, VenueHealth};
use futures_util::future::BoxFuture;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// The loop's name among the strategies (logs, intents, the kill switch).
pub const NAME: &str = "cross_chain_loop";

/// The cross-chain loop (seed 003): one keeper over one loop venue.
pub struct CrossChainLoop<V: LoopVenue> {
    pub(super) config: Config,
    pub(super) venue: Arc<V>,
    /// The controls as of the engine's last call (pause, paused tokens).
    pub(super) controls: Controls,
    /// The engine's last call, for `standing`.
    pub(super) now: Timestamp,
    /// Open cycles, and failed ones still holding money, by id.
    pub(super) cycles: BTreeMap<CycleId, Cycle>,
    /// Steps of the cycles above, for the timeline.
    pub(super) steps: HashMap<CycleId, Vec<StepView>>,
    /// Recently closed cycles, newest last.
    pub(super) closed: VecDeque<CycleView>,
    pub(super) counts: CycleCounts,
    pub(super) book: PnlBook,
    /// Balances as the ledger explains them.
    pub(super) ledger_balances: BTreeMap<(Chain, TokenId), i128>,
    pub(super) balances: Vec<BalanceRow>,
    pub(super) valuation: Option<Valuation>,
    pub(super) fees: Option<FeeSchedule>,
    /// Bridge stages expected at these times, for countdowns and polling.
    pub(super) ready_at: HashMap<CycleId, Timestamp>,
    pub(super) opportunities: BTreeMap<TokenId, OpportunityView>,
    pub(super) next_opportunity: u64,
    pub(super) quote_cache: QuoteCache,
    pub(super) health: Vec<VenueHealth>,
    pub(super) stuck_notified: HashSet<CycleId>,
}

/// The Venues panel's line while the loop cannot read prices and fees.
pub(super) const PRICING: &str = "loop pricing";

impl<V: LoopVenue> CrossChainLoop<V> {
    /// The loop over `venue`, from `[cross_chain_loop]`, `[risk]` and the
    /// engine's caps in `config` (it plans only when the section is enabled;
    /// open cycles are reconciled either way).
    pub fn new(config: Config, venue: Arc<V>) -> Self {
        let quote_cache = QuoteCache::new(config.cross_chain_loop.quote_cache_ttl_ms, 4_096);
        Self {
            config,
            venue,
            controls: Controls::default(),
            now: 0,
            cycles: BTreeMap::new(),
            steps: HashMap::new(),
            closed: VecDeque::new(),
            counts: CycleCounts::default(),
            book: PnlBook::default(),
            ledger_balances: BTreeMap::new(),
            balances: Vec::new(),
            valuation: None,
            fees: None,
            ready_at: HashMap::new(),
            opportunities: BTreeMap::new(),
            next_opportunity: 1,
            quote_cache,
            health: Vec::new(),
            stuck_notified: HashSet::new(),
        }
    }

    /// Open cycles (and failed ones still holding money).
    pub fn open_cycles(&self) -> impl Iterator<Item = &Cycle> {
        self.cycles.values()
    }

    /// What the engine's context says at the start of a call.
    fn enter(&mut self, cx: &KeeperContext<'_>) {
        self.now = cx.now;
        self.controls = cx.gate.controls();
    }

    /// Boot is recovery (docs/architecture.md §2, R7): load the cycles,
    /// settle every intent that has no outcome by looking, check balances
    /// against the ledger. Run again after a failed attempt, so it starts
    /// from nothing each time.
    async fn recover_all(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.enter(cx);
        let now = cx.now;
        let (cycles, (balances, ledger_lines)) = {
            let r = cx.store.read()?;
            (r.cycles()?, r.ledger_balances()?)
        };
        self.cycles.clear();
        self.steps.clear();
        self.closed.clear();
        self.counts = CycleCounts::default();
        self.book = PnlBook::from_cycles(&cycles);
        self.ledger_balances = balances;
        // Only the most recent closed cycles are shown: the older ones are
        // counted, not made into views that would be dropped at once.
        let closed = cycles
            .iter()
            .filter(|c| !super::view::needs_attention(c))
            .count();
        let mut unshown = closed.saturating_sub(self.config.engine.history_in_snapshot);
        for c in cycles {
            match c.state {
                CycleState::Completed => self.counts.completed += 1,
                CycleState::Failed => self.counts.failed += 1,
                CycleState::NotStarted => self.counts.not_started += 1,
                _ => self.counts.open += 1,
            }
            if super::view::needs_attention(&c) {
                let steps = super::view::step_views(&cx.store.read()?.steps(c.id)?);
                self.steps.insert(c.id, steps);
                self.cycles.insert(c.id, c);
            } else if unshown > 0 {
                unshown -= 1;
            } else {
                self.remember_closed(c, Vec::new(), now);
            }
        }
        if ledger_lines == 0 {
            self.open_ledger(cx).await?;
        }
        // Settle every committed intent that has no outcome.
        let ids: Vec<CycleId> = self.cycles.keys().copied().collect();
        let mut settled = 0;
        for id in ids {
            let pending = self.pending_intent(cx, id)?;
            if let Some(step) = pending
                && self.settle(cx, id, &step).await?
            {
                settled += 1;
            }
        }
        self.refresh_world(now).await;
        self.check_balances(now);
        tracing::info!(
            open = self.cycles.len(),
            settled,
            completed = self.counts.completed,
            failed = self.counts.failed,
            "cross-chain loop recovered"
        );
        Ok(())
    }

    /// One pass: prices, balances and health; plan (not while recovering);
    /// reconcile at most K actions; flag what is stuck.
    async fn pass(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.enter(cx);
        let now = cx.now;
        self.refresh_world(now).await;
        if cx.phase != Phase::Recovering {
            self.plan(cx, now).await?;
        }
        self.reconcile(cx, now).await?;
        self.flag_stuck(cx);
        Ok(())
    }

    /// The ledger's first lines: the wallet as found.
    async fn open_ledger(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let mut lines = Vec::new();
        for chain in Chain::ALL {
            for token in TokenId::ALL.into_iter().filter(|t| t.exists_on(chain)) {
                let amount = self.venue.balance(chain, token).await?;
                if amount > 0 {
                    lines.push(LedgerEntry {
                        seq: 0,
                        at: cx.now,
                        kind: LedgerKind::Opening,
                        cycle: None,
                        chain: Some(chain),
                        token: Some(token),
                        delta: i128::try_from(amount).unwrap_or(i128::MAX),
                        value_vcred: Decimal::ZERO,
                        tx_hash: None,
                        note: "opening balance".into(),
                        operator: false,
                    });
                }
            }
        }
        let written = cx.store.write(|w| w.append_all(lines))?;
        self.after_ledger(&written);
        Ok(())
    }

    /// The step of `cycle` that has an intent and no outcome, if any.
    pub(super) fn pending_intent(
        &self,
        cx: &KeeperContext<'_>,
        cycle: CycleId,
    ) -> Result<Option<StepRecord>, EngineError> {
        Ok(cx
            .store
            .read()?
            .steps(cycle)?
            .into_iter()
            .find(|s| s.status == StepStatus::Intended))
    }

    /// Wallet vs ledger, per chain and token. A difference is shown, never hidden.
    fn check_balances(&mut self, now: Timestamp) {
        let mut differences = Vec::new();
        for row in &self.balances {
            let ledger = self
                .ledger_balances
                .get(&(row.chain, row.token))
                .copied()
                .unwrap_or(0);
            let wallet = i128::try_from(row.amount).unwrap_or(i128::MAX);
            if ledger != wallet && !self.in_flight_to(row.chain, row.token) {
                differences.push(format!(
                    "{} {}: wallet {wallet} ledger {ledger}",
                    row.chain, row.token
                ));
            }
        }
        if differences.is_empty() {
            self.set_health(
                "ledger",
                true,
                "wallet balances equal the ledger".into(),
                now,
            );
        } else {
            tracing::warn!(differences = %differences.join("; "), "wallet differs from the ledger");
            self.set_health(
                "ledger",
                false,
                format!(
                    "{} differences: {}",
                    differences.len(),
                    differences.join("; ")
                ),
                now,
            );
        }
    }

    fn in_flight_to(&self, chain: Chain, token: TokenId) -> bool {
        self.cycles
            .values()
            .any(|c| c.holding.in_flight && c.holding.chain == chain && c.holding.token == token)
    }

    fn set_health(&mut self, name: &str, ok: bool, detail: String, now: Timestamp) {
        let line = VenueHealth {
            name: name.to_string(),
            ok,
            head: None,
            latency_ms: None,
            last_seen: Some(now),
            detail,
        };
        match self.health.iter_mut().find(|h| h.name == name) {
            Some(h) => *h = line,
            None => self.health.push(line),
        }
    }

    /// Prices, fees, balances and venue health, read once per pass.
    async fn refresh_world(&mut self, now: Timestamp) {
        let venue = self.venue.clone();
        let pricing = match Valuation::read(venue.as_ref()).await {
            Ok((valuation, fees)) => {
                self.valuation = Some(valuation);
                self.fees = Some(fees);
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read prices and fees; planning waits");
                // On the Venues panel too: no cycle opens until this reads.
                Some(VenueHealth {
                    name: PRICING.into(),
                    ok: false,
                    head: None,
                    latency_ms: None,
                    last_seen: Some(now),
                    detail: format!("cannot price a cycle, planning waits: {e}"),
                })
            }
        };
        let mut balances = Vec::new();
        for chain in Chain::ALL {
            for token in TokenId::ALL.into_iter().filter(|t| t.exists_on(chain)) {
                match venue.balance(chain, token).await {
                    Ok(amount) => balances.push(BalanceRow {
                        chain,
                        token,
                        amount,
                    }),
                    Err(e) => {
                        tracing::warn!(%chain, %token, error = %e, "balance unavailable");
                        if let Some(old) = self
                            .balances
                            .iter()
                            .find(|b| b.chain == chain && b.token == token)
                        {
                            balances.push(old.clone());
                        }
                    }
                }
            }
        }
        self.balances = balances;
        let mut health = venue.health().await;
        health.retain(|h| h.name != "ledger");
        let ledger_line = self.health.iter().find(|h| h.name == "ledger").cloned();
        self.health = health;
        if let Some(l) = ledger_line {
            self.health.push(l);
        }
        self.health.extend(pricing);
        self.quote_cache.evict_expired(now);
    }

    /// Append ledger lines' effects to memory and the money log.
    pub(super) fn after_ledger(&mut self, written: &[LedgerEntry]) {
        for e in written {
            ledger::apply(&mut self.ledger_balances, e);
            crate::logging::money(e);
        }
    }

    /// Tell people (best effort: the ledger is the record).
    pub(super) fn notify(&self, cx: &KeeperContext<'_>, notice: Notice) {
        tracing::info!(notice = %notice.headline(), "notice");
        cx.notify(notice);
    }

    /// Does this command belong to the loop? Approvals, the overrides on a
    /// cycle, and `resolve` of a cycle's id.
    fn takes(command: &Command) -> bool {
        match command {
            Command::Approve { .. }
            | Command::Reject { .. }
            | Command::Force { .. }
            | Command::MarkDone { .. }
            | Command::Skip { .. }
            | Command::Fail { .. }
            | Command::ImportProof { .. } => true,
            Command::Resolve { id, .. } => id.parse::<CycleId>().is_ok(),
            _ => false,
        }
    }
}

impl<V: LoopVenue + 'static> Keeper for CrossChainLoop<V> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn recover<'a>(
        &'a mut self,
        cx: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.recover_all(cx))
    }

    fn tick<'a>(&'a mut self, cx: &'a KeeperContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.pass(cx))
    }

    fn render(&self, snapshot: &mut Snapshot) {
        self.render_into(snapshot);
    }

    fn standing(&self, since: Timestamp) -> crate::engine::kill::Standing {
        if !self.config.cross_chain_loop.enabled && self.cycles.is_empty() {
            return crate::engine::kill::Standing::default();
        }
        self.loop_standing(since)
    }

    fn reload(&mut self, limits: &Limits) {
        limits.apply(&mut self.config);
    }

    fn command<'a>(
        &'a mut self,
        command: &'a Command,
        cx: &'a KeeperContext<'a>,
    ) -> Option<BoxFuture<'a, Result<String, String>>> {
        if !Self::takes(command) {
            return None;
        }
        Some(Box::pin(async move {
            self.enter(cx);
            self.apply(cx, command).await
        }))
    }
}
