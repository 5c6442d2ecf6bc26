//! The planner: per token, probe the price gap at a small size, size the
//! cycle with the search of R9 over end-to-end estimates (docs/architecture.md §4.2),
//! pass the risk gate and the approval mode, and open the cycle. Every
//! opportunity is shown, including the ones it did not take and why.

use super::CrossChainLoop;
use super::economics::{self as strategy, Estimate, Quoter, Valuation};
use super::risk::{self, Exposure, Refusal};
use crate::engine::quotes::{QuoteCache, QuoteKey};
use crate::engine::sizing::{SizeBounds, SizeSearch};
use crate::engine::snapshot::{OpportunityState, OpportunityView};
use crate::engine::{EngineError, KeeperContext, Notice, Phase};
use crate::model::{Chain, Cycle, CycleState, Route, Timestamp, TokenId, Units, to_decimal};
use crate::venue::{FeeSchedule, LoopVenue, VenueError};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Quotes through the engine's TTL cache.
struct CachedQuotes<'a, V> {
    venue: &'a V,
    cache: &'a mut QuoteCache,
    now: Timestamp,
}

impl<V: LoopVenue> Quoter for CachedQuotes<'_, V> {
    async fn quote(
        &mut self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
    ) -> Result<Units, VenueError> {
        let key = QuoteKey {
            chain,
            token_in,
            token_out,
            amount_in,
        };
        if let Some(out) = self.cache.get(&key, self.now) {
            return Ok(out);
        }
        let out = self
            .venue
            .quote(chain, token_in, token_out, amount_in)
            .await?;
        self.cache.put(key, out, self.now);
        Ok(out)
    }
}

/// What sizing found for one token.
struct Sized {
    best: Option<Estimate>,
    /// The most profitable estimate seen, even below the floor (for display).
    closest: Option<Estimate>,
    quotes: u32,
}

impl<V: LoopVenue> CrossChainLoop<V> {
    pub(super) async fn plan(
        &mut self,
        cx: &KeeperContext<'_>,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let (Some(valuation), Some(fees)) = (self.valuation.clone(), self.fees.clone()) else {
            return Ok(());
        };
        if !self.config.cross_chain_loop.enabled {
            return Ok(());
        }
        self.expire_opportunities(now);
        for token in self.config.cross_chain_loop.tokens.clone() {
            match self.plan_token(cx, token, now, &valuation, &fees).await {
                Ok(()) => {}
                // A quote failing is a venue fault for this pass, not an engine fault.
                Err(EngineError::Venue(e)) => {
                    tracing::warn!(%token, error = %e, "planning skipped this pass");
                    self.opportunities.remove(&token);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn expire_opportunities(&mut self, now: Timestamp) {
        let ttl = self.config.cross_chain_loop.opportunity_ttl_ms;
        self.opportunities.retain(|_, o| {
            !(o.state == OpportunityState::AwaitingApproval
                && now.saturating_sub(o.detected_at) > ttl)
        });
    }

    async fn plan_token(
        &mut self,
        cx: &KeeperContext<'_>,
        token: TokenId,
        now: Timestamp,
        valuation: &Valuation,
        fees: &FeeSchedule,
    ) -> Result<(), EngineError> {
        // An opportunity waiting for the operator keeps its size until decided.
        if self
            .opportunities
            .get(&token)
            .is_some_and(|o| o.state == OpportunityState::AwaitingApproval)
        {
            return Ok(());
        }
        // One cycle per token may sit before its opening swap.
        if self
            .cycles
            .values()
            .any(|c| c.token == token && c.state == CycleState::Detected)
        {
            return Ok(());
        }
        let cfg = self.config.cross_chain_loop.clone();
        let route = cfg.route(token);
        let edge_bps = self
            .edge_bps(token, cfg.min_swap_vcred, now, valuation)
            .await?;
        if edge_bps < cfg.min_edge_bps {
            self.opportunities.remove(&token);
            return Ok(());
        }
        let available = self.free_vcred();
        let max = cfg.max_swap_vcred_soft_cap.min(available);
        let exposure = self.exposure(cx, token);
        let gate = risk::may_start(token, &exposure);
        if max < cfg.min_swap_vcred {
            let refusal = Refusal::NotEnoughVcred {
                available,
                min: cfg.min_swap_vcred,
            };
            self.show(
                token,
                route,
                edge_bps,
                None,
                0,
                OpportunityState::Refused,
                refusal.to_string(),
                now,
            );
            return Ok(());
        }
        let sized = self.size(token, route, max, now, valuation, fees).await?;
        let Some(best) = sized.best else {
            let note = match &sized.closest {
                Some(e) => format!(
                    "best {} VCRED at {} VCRED: below the floor {}",
                    e.profit_vcred.round_dp(2),
                    strategy::vcred_dec(e.vcred_in),
                    cfg.min_profit_vcred
                ),
                None => "no size priced".into(),
            };
            self.show(
                token,
                route,
                edge_bps,
                sized.closest.as_ref(),
                sized.quotes,
                OpportunityState::BelowFloor,
                note,
                now,
            );
            return Ok(());
        };
        match gate {
            Err(refusal) => {
                let state = if refusal.is_pause() {
                    OpportunityState::Paused
                } else {
                    OpportunityState::Refused
                };
                self.show(
                    token,
                    route,
                    edge_bps,
                    Some(&best),
                    sized.quotes,
                    state,
                    refusal.to_string(),
                    now,
                );
            }
            Ok(()) => {
                let waits = risk::needs_approval(self.config.risk.approval, best.vcred_in);
                let (state, note) = if waits {
                    let note = format!("approval {}", self.config.risk.approval);
                    (OpportunityState::AwaitingApproval, note)
                } else {
                    (OpportunityState::Auto, String::new())
                };
                let id = self.show(
                    token,
                    route,
                    edge_bps,
                    Some(&best),
                    sized.quotes,
                    state,
                    note,
                    now,
                );
                self.notify(
                    cx,
                    Notice::OpportunityDetected {
                        token,
                        route,
                        size_vcred: best.vcred_in,
                        est_profit_vcred: best.profit_vcred,
                        edge_bps,
                    },
                );
                if !waits {
                    self.open_cycle(cx, id, token, route, edge_bps, &best)?;
                }
            }
        }
        Ok(())
    }

    /// The small-size gap: VCRED → X on Hemi, X → USDC at Ethereum's
    /// reference price (seed §7.1: Uniswap), valued back in VCRED. Only
    /// detection: the end-to-end estimate over the swap providers gates.
    async fn edge_bps(
        &mut self,
        token: TokenId,
        probe: Units,
        now: Timestamp,
        valuation: &Valuation,
    ) -> Result<i64, VenueError> {
        let mut q = CachedQuotes {
            venue: self.venue.as_ref(),
            cache: &mut self.quote_cache,
            now,
        };
        let x = q.quote(Chain::Hemi, TokenId::Vcred, token, probe).await?;
        let usdc = self
            .venue
            .reference_quote(Chain::Ethereum, token, TokenId::Usdc, x)
            .await?;
        let back = to_decimal(usdc, 6).unwrap_or(Decimal::ZERO) * valuation.vcred_per_usdc;
        let spent = strategy::vcred_dec(probe);
        if spent.is_zero() {
            return Ok(0);
        }
        let bps = (back / spent - Decimal::ONE) * Decimal::from(10_000);
        Ok(i64::try_from(bps.trunc()).unwrap_or(0))
    }

    /// Run the size search over end-to-end estimates.
    async fn size(
        &mut self,
        token: TokenId,
        route: Route,
        max: Units,
        now: Timestamp,
        valuation: &Valuation,
        fees: &FeeSchedule,
    ) -> Result<Sized, VenueError> {
        let cfg = &self.config.cross_chain_loop;
        let mode = cfg.sizing;
        let bounds = SizeBounds {
            min: cfg.min_swap_vcred,
            max,
            start: cfg.start_size_vcred,
            granularity: cfg.size_granularity_vcred,
        };
        let mut search = SizeSearch::new(
            mode,
            bounds,
            cfg.min_profit_vcred.max(Decimal::ZERO),
            cfg.quote_budget,
        )
        .map_err(|e| VenueError::Rejected(format!("sizing: {e}")))?;
        let mut seen: BTreeMap<Units, Estimate> = BTreeMap::new();
        let mut q = CachedQuotes {
            venue: self.venue.as_ref(),
            cache: &mut self.quote_cache,
            now,
        };
        while let Some(size) = search.next_probe() {
            let e = strategy::estimate(&mut q, token, route, size, fees, valuation).await?;
            search.observe(size, e.profit_vcred);
            seen.insert(size, e);
        }
        let outcome = search.outcome();
        let best = outcome.best.and_then(|(size, _)| seen.get(&size).cloned());
        let closest = seen.values().max_by_key(|e| e.profit_vcred).cloned();
        Ok(Sized {
            best,
            closest,
            quotes: outcome.probes,
        })
    }

    /// VCRED on Hemi not promised to a cycle that has yet to swap.
    pub(super) fn free_vcred(&self) -> Units {
        let wallet = self
            .balances
            .iter()
            .find(|b| b.chain == Chain::Hemi && b.token == TokenId::Vcred)
            .map(|b| b.amount)
            .unwrap_or(0);
        let reserved: Units = self
            .cycles
            .values()
            .filter(|c| c.state == CycleState::Detected)
            .map(|c| c.vcred_in)
            .sum();
        wallet.saturating_sub(reserved)
    }

    /// What the gate sees: open cycles and failed ones still holding money
    /// (in the caps, and their VCRED as lost in the loss limit).
    pub(super) fn exposure(&self, cx: &KeeperContext<'_>, token: TokenId) -> Exposure {
        let c = risk::commitments(self.cycles.values(), token);
        Exposure {
            recovering: cx.phase == Phase::Recovering,
            draining: cx.phase == Phase::Draining,
            paused: cx.gate.controls().paused,
            token_paused: cx.gate.token_paused(token),
            today_profit: self.book.today(cx.now).profit_vcred,
            daily_loss_limit: self.config.risk.daily_loss_limit_vcred,
            open: c.open,
            max_open: self.config.engine.max_open_cycles,
            token_open: c.token_open,
            max_token_open: self.config.cross_chain_loop.max_cycles_per_token,
            stranded: c.stranded,
            token_stranded: c.token_stranded,
            stranded_vcred: c.stranded_vcred,
        }
    }

    /// Put (or refresh) the token's opportunity on screen; returns its id.
    #[allow(clippy::too_many_arguments)]
    fn show(
        &mut self,
        token: TokenId,
        route: Route,
        edge_bps: i64,
        e: Option<&Estimate>,
        quotes: u32,
        state: OpportunityState,
        note: String,
        now: Timestamp,
    ) -> u64 {
        let id = match self.opportunities.get(&token) {
            Some(o) if o.state != OpportunityState::Taken => o.id,
            _ => {
                self.next_opportunity += 1;
                self.next_opportunity - 1
            }
        };
        let detected_at = self
            .opportunities
            .get(&token)
            .filter(|o| o.id == id)
            .map(|o| o.detected_at)
            .unwrap_or(now);
        self.opportunities.insert(
            token,
            OpportunityView {
                id,
                token,
                route,
                edge_bps,
                size_vcred: e.map(|e| e.vcred_in).unwrap_or(0),
                est_profit_vcred: e.map(|e| e.profit_vcred).unwrap_or(Decimal::ZERO),
                est_fees_vcred: e.map(|e| e.fees_vcred).unwrap_or(Decimal::ZERO),
                state,
                note,
                detected_at,
                quotes_used: quotes,
                cycle: None,
            },
        );
        id
    }

    /// Commit a new cycle in DETECTED; the reconciler takes it from there.
    pub(super) fn open_cycle(
        &mut self,
        cx: &KeeperContext<'_>,
        opportunity: u64,
        token: TokenId,
        route: Route,
        edge_bps: i64,
        e: &Estimate,
    ) -> Result<(), EngineError> {
        let now = cx.now;
        let cycle = cx.store.write(|w| {
            let id = w.next_cycle_id()?;
            let cycle = Cycle {
                planned_bridge_fees: self.fees.as_ref().map(super::preflight::planned),
                expected_x: e.x_out,
                expected_profit_vcred: e.profit_vcred,
                expected_fees_vcred: e.fees_vcred,
                edge_bps,
                ..Cycle::detected(id, token, route, e.vcred_in, now)
            };
            w.put_cycle(&cycle)?;
            Ok(cycle)
        })?;
        tracing::info!(
            cycle = %cycle.id, %token, %route, edge_bps,
            size = %strategy::vcred_dec(e.vcred_in), est_profit = %e.profit_vcred.round_dp(4),
            "cycle detected"
        );
        if let Some(o) = self
            .opportunities
            .get_mut(&token)
            .filter(|o| o.id == opportunity)
        {
            o.state = OpportunityState::Taken;
            o.cycle = Some(cycle.id);
        }
        self.counts.open += 1;
        self.steps.insert(cycle.id, Vec::new());
        self.cycles.insert(cycle.id, cycle);
        Ok(())
    }

    /// Re-price an opportunity at the operator's size, for approval.
    pub(super) async fn estimate_at(
        &mut self,
        token: TokenId,
        size: Units,
        now: Timestamp,
    ) -> Result<Estimate, VenueError> {
        let (Some(valuation), Some(fees)) = (self.valuation.clone(), self.fees.clone()) else {
            return Err(VenueError::Transient("prices not read yet".into()));
        };
        let route = self.config.cross_chain_loop.route(token);
        let mut q = CachedQuotes {
            venue: self.venue.as_ref(),
            cache: &mut self.quote_cache,
            now,
        };
        strategy::estimate(&mut q, token, route, size, &fees, &valuation).await
    }
}
