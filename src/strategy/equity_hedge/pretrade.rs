//! The hedge's pre-trade checks, just before a hedge is placed: a sell
//! needs the shares available to sell at the broker, a buy the settled
//! cash (no margin) for its shares at a price bound. The broker's funds are
//! read (`Broker::funds`) before every send; a read that fails sends
//! nothing this pass and is not a refusal. A refusal sends nothing: it is
//! written on the hedge (its note, and one alert), told once, and the hedge
//! stays pending, committed, never sent — checked again only once a later
//! funds read differs from the one it was refused on, or after a backoff
//! (`pipeline::retry_delay`, doubling per refusal in a row), never blindly
//! every pass. The memory of refusals is this process's; after a restart a
//! hedge is checked once more, and a refusal already written on it is not
//! told again.
//!
//! The price bound of a buy: the highest onchain price of the trades the
//! hedge offsets, plus [`BUY_PRICE_MARGIN_BPS`], rounded up to the cent.
//! The onchain fill is the price the hedge exists for and is on every
//! hedge (a position set by hand has none: its trade stands at the
//! symbol's newest onchain price); none of the brokers quotes a last price through the `Broker`
//! seam. The margin covers what a market buy may cost above it (Alpaca
//! holds 2.5–4 % above the market for a market buy's buying power) and any
//! extended-hours limit ([`crate::venue::alpaca::MAX_SLIPPAGE_BPS`] at
//! most, over the shares-weighted average, which is never above the
//! highest). The same onchain prices, shares-weighted, are the reference
//! price an extended-hours limit order is bounded by ([`OrderTerms`]).

use super::book::{Execution, Link};
use super::chain::{ReceiptLogs, TokenSymbols};
use super::keeper::EquityHedge;
use super::pipeline;
use crate::engine::{EngineError, KeeperContext};
use crate::model::Timestamp;
use crate::venue::broker::{Broker, Funds, OrderRequest, OrderSide, OrderTerms};
use crate::venue::logs::LogSource;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A buy is checked at the onchain price plus this many basis points.
pub const BUY_PRICE_MARGIN_BPS: u32 = 1_000;

/// How a refusal starts on the hedge's note.
pub const REFUSED: &str = "pre-trade check refused";

/// What the check says of one order against the account's funds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Refused(String),
}

/// The check itself: a sell against the shares available to sell, a buy
/// against the buying power at `buy_bound` a share (`None`: no price to
/// bound it by, refused).
pub fn check(request: &OrderRequest, funds: &Funds, buy_bound: Option<Decimal>) -> Verdict {
    let shares = request.shares;
    match request.side {
        OrderSide::Sell => {
            let available = funds.sellable(&request.symbol);
            if available >= shares {
                Verdict::Allowed
            } else {
                Verdict::Refused(format!(
                    "{REFUSED}: sell {shares} {} but {} available to sell",
                    request.symbol,
                    available.normalize()
                ))
            }
        }
        OrderSide::Buy => {
            let Some(bound) = buy_bound else {
                return Verdict::Refused(format!(
                    "{REFUSED}: buy {shares} {}: no onchain price to bound its cost",
                    request.symbol
                ));
            };
            let Some(cost) = shares.checked_mul(bound) else {
                return Verdict::Refused(format!(
                    "{REFUSED}: buy {shares} {} at {bound}: the cost does not fit",
                    request.symbol
                ));
            };
            if funds.buying_power >= cost {
                Verdict::Allowed
            } else {
                Verdict::Refused(format!(
                    "{REFUSED}: buy {shares} {} needs up to ${} ({shares} × ${bound}) but ${} settled cash is available",
                    request.symbol,
                    cost.normalize(),
                    funds.buying_power.normalize()
                ))
            }
        }
    }
}

/// The onchain prices behind a hedge: (shares-weighted average, highest),
/// or `None` when a linked trade has no price or there are no links.
pub fn onchain_prices(
    links: &[Link],
    price_of: impl Fn(u64) -> Option<Decimal>,
) -> Option<(Decimal, Decimal)> {
    let (mut shares, mut cost, mut highest) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for l in links {
        let price = price_of(l.trade).filter(|p| *p > Decimal::ZERO)?;
        shares = shares.checked_add(l.shares)?;
        cost = cost.checked_add(l.shares.checked_mul(price)?)?;
        highest = highest.max(price);
    }
    if shares <= Decimal::ZERO {
        return None;
    }
    Some((cost.checked_div(shares)?, highest))
}

/// `price` plus `bps`, rounded up to the cent (a bound never below it).
pub fn with_margin(price: Decimal, bps: u32) -> Option<Decimal> {
    let factor =
        Decimal::ONE.checked_add(Decimal::from(bps).checked_div(Decimal::from(10_000))?)?;
    Some(
        price
            .checked_mul(factor)?
            .round_dp_with_strategy(2, RoundingStrategy::AwayFromZero),
    )
}

/// A refused hedge, remembered: the funds read it was refused on, and
/// when it is checked again whatever the funds.
#[derive(Debug, Clone)]
struct Hold {
    funds: Funds,
    recheck_at: Timestamp,
    refusals: u32,
}

/// The checks' memory within this process: refused hedges and the latest
/// funds read.
#[derive(Debug, Default)]
pub struct Gate {
    held: Mutex<BTreeMap<u64, Hold>>,
    latest: Mutex<Option<Funds>>,
}

impl Gate {
    /// Whether hedge `id` waits on a refusal at `now`: before its backoff
    /// and no funds read since that differs from the one it was refused on.
    fn waits(&self, id: u64, now: Timestamp) -> bool {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let Some(hold) = held.get(&id) else {
            return false;
        };
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        now < hold.recheck_at && latest.as_ref().is_none_or(|f| *f == hold.funds)
    }

    fn saw(&self, funds: &Funds) {
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(funds.clone());
    }

    /// Remember a refusal; the refusals in a row so far.
    fn refused(&self, id: u64, funds: Funds, now: Timestamp) -> u32 {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let refusals = held.get(&id).map_or(1, |h| h.refusals.saturating_add(1));
        held.insert(
            id,
            Hold {
                funds,
                recheck_at: now.saturating_add(pipeline::retry_delay(refusals)),
                refusals,
            },
        );
        refusals
    }

    fn clear(&self, id: u64) {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}

impl<B: Broker, L: LogSource, R: ReceiptLogs, T: TokenSymbols> EquityHedge<B, L, R, T> {
    /// The pre-trade check of a hedge about to be placed: `Some(terms)` to
    /// send it with, `None` when nothing is sent this pass (refused, waiting
    /// on a refusal, or the funds could not be read).
    pub(super) async fn pretrade(
        &self,
        cx: &KeeperContext<'_>,
        exec: &Execution,
    ) -> Result<Option<OrderTerms>, EngineError> {
        if self.pretrade.waits(exec.id, cx.now) {
            return Ok(None);
        }
        let funds = match self.broker.funds().await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(hedge = exec.id, error = %e, "funds not read: the hedge is not sent this pass");
                return Ok(None);
            }
        };
        self.pretrade.saw(&funds);
        let prices = {
            let r = cx.store.read()?;
            let txn = r.transaction();
            // A trade with no price (an operator adjustment) stands at the
            // symbol's newest onchain price.
            let fallback = pipeline::latest_price(txn, exec.symbol())?;
            let mut known = BTreeMap::new();
            for l in &exec.links {
                if let Some(p) = pipeline::trade_price(txn, l.trade).or(fallback) {
                    known.insert(l.trade, p);
                }
            }
            onchain_prices(&exec.links, |id| known.get(&id).copied())
        };
        let bound = prices.and_then(|(_, highest)| with_margin(highest, BUY_PRICE_MARGIN_BPS));
        match check(&exec.request, &funds, bound) {
            Verdict::Allowed => {
                self.pretrade.clear(exec.id);
                if exec
                    .last_error
                    .as_deref()
                    .is_some_and(|n| n.starts_with(REFUSED))
                {
                    let id = exec.id;
                    cx.store.write(|w| {
                        pipeline::note_look(w.transaction(), id, None, cx.now)?;
                        pipeline::alert(
                            w.transaction(),
                            Some(exec.symbol()),
                            format!("h{id}: pre-trade check passes now; sending"),
                            cx.now,
                        )
                    })?;
                }
                Ok(Some(OrderTerms {
                    reference_price: prices.map(|(average, _)| average),
                }))
            }
            Verdict::Refused(why) => {
                let refusals = self.pretrade.refused(exec.id, funds, cx.now);
                let told = exec
                    .last_error
                    .as_deref()
                    .is_some_and(|n| n.starts_with(REFUSED));
                tracing::warn!(hedge = exec.id, refusals, "{why}");
                if exec.last_error.as_deref() != Some(why.as_str()) {
                    let id = exec.id;
                    let message = format!("h{id} not sent: {why}");
                    cx.store.write(|w| {
                        pipeline::note_look(w.transaction(), id, Some(&why), cx.now)?;
                        if !told {
                            pipeline::alert(
                                w.transaction(),
                                Some(exec.symbol()),
                                message.clone(),
                                cx.now,
                            )?;
                        }
                        Ok(())
                    })?;
                    if !told {
                        Self::notify(cx, exec.symbol(), message);
                    }
                }
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::equity_hedge::decode::EventKey;

    fn request(side: OrderSide, shares: u64) -> OrderRequest {
        OrderRequest {
            client_id: "hedge-1".into(),
            symbol: "AAPL".into(),
            side,
            shares: Decimal::from(shares),
            committed_at: 0,
        }
    }

    fn funds(cash: &str, aapl: &str) -> Funds {
        Funds {
            buying_power: cash.parse().unwrap(),
            sellable: [("AAPL".to_string(), aapl.parse().unwrap())].into(),
            sellable_otherwise: Decimal::ZERO,
        }
    }

    #[test]
    fn a_sell_needs_the_shares_and_a_buy_the_cash() {
        let f = funds("1000", "3");
        assert_eq!(
            check(&request(OrderSide::Sell, 3), &f, None),
            Verdict::Allowed
        );
        let Verdict::Refused(why) = check(&request(OrderSide::Sell, 4), &f, None) else {
            panic!("4 of 3 shares sold");
        };
        assert!(
            why.starts_with(REFUSED) && why.contains("3 available"),
            "{why}"
        );
        let bound = Some(Decimal::new(33_334, 2));
        assert_eq!(
            check(
                &request(OrderSide::Buy, 3),
                &f,
                Some(Decimal::new(33_333, 2))
            ),
            Verdict::Allowed
        );
        let Verdict::Refused(why) = check(&request(OrderSide::Buy, 3), &f, bound) else {
            panic!("a buy over the cash allowed");
        };
        assert!(why.contains("$1000.02") && why.contains("$1000 "), "{why}");
        assert!(matches!(
            check(&request(OrderSide::Buy, 1), &f, None),
            Verdict::Refused(_)
        ));
        assert!(matches!(
            check(&request(OrderSide::Buy, u64::MAX), &f, Some(Decimal::MAX)),
            Verdict::Refused(_)
        ));
        // Another symbol: none held at a real broker.
        let mut other = request(OrderSide::Sell, 1);
        other.symbol = "TSLA".into();
        assert!(matches!(check(&other, &f, None), Verdict::Refused(_)));
    }

    #[test]
    fn the_bound_is_the_highest_onchain_price_plus_the_margin_rounded_up() {
        let link = |trade, shares: &str| Link {
            trade,
            key: EventKey {
                chain_id: 1,
                tx_hash: format!("0x{trade}"),
                log_index: 0,
            },
            shares: shares.parse().unwrap(),
        };
        let price = |id| match id {
            1 => Some(Decimal::from(100)),
            2 => Some(Decimal::new(10_333, 2)),
            _ => None,
        };
        let (average, highest) = onchain_prices(&[link(1, "1.5"), link(2, "0.5")], price).unwrap();
        assert_eq!(average, Decimal::new(1_008_325, 4));
        assert_eq!(highest, Decimal::new(10_333, 2));
        // 103.33 × 1.1 = 113.663 → 113.67.
        assert_eq!(
            with_margin(highest, BUY_PRICE_MARGIN_BPS),
            Some(Decimal::new(11_367, 2))
        );
        assert_eq!(onchain_prices(&[link(1, "1"), link(9, "1")], price), None);
        assert_eq!(onchain_prices(&[], price), None);
        const { assert!(BUY_PRICE_MARGIN_BPS >= crate::venue::alpaca::MAX_SLIPPAGE_BPS) };
    }

    #[test]
    fn a_refused_hedge_waits_for_new_funds_or_its_backoff() {
        let gate = Gate::default();
        let f = funds("10", "0");
        assert!(!gate.waits(7, 0));
        gate.saw(&f);
        assert_eq!(gate.refused(7, f.clone(), 0), 1);
        assert!(gate.waits(7, 1));
        assert!(!gate.waits(8, 1), "another hedge is not held");
        assert!(
            !gate.waits(7, pipeline::retry_delay(1)),
            "after the backoff"
        );
        // The same funds read again: still waiting; another one: checked.
        gate.saw(&f);
        assert!(gate.waits(7, 1));
        gate.saw(&funds("11", "0"));
        assert!(!gate.waits(7, 1));
        // Refused again: the backoff doubles.
        assert_eq!(gate.refused(7, funds("11", "0"), 0), 2);
        assert!(gate.waits(7, pipeline::retry_delay(1)));
        assert!(!gate.waits(7, pipeline::retry_delay(2)));
        gate.clear(7);
        assert!(!gate.waits(7, 1));
    }
}
