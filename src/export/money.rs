//! One money ledger across the strategies: every line each strategy's own
//! records say moved money (the loop's ledger, the hedge's onchain fills
//! and broker fills, the Stellar ledger), as `model::MoneyLine`s merged in
//! time order. Read from a store view, so `arbkeep ledger --all` gives the
//! same lines offline and, a page at a time, over the control API; and
//! each strategy's realised P&L in its own currency (`arbkeep pnl --all`).

use crate::model::MoneyLine;
use crate::store::{Reader, StoreError};
use crate::strategy::{cross_chain_loop, equity_hedge, stellar_arb};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Every strategy's money lines, oldest first (ties: by strategy, then as
/// each strategy booked them).
pub fn read(reader: &Reader) -> Result<Vec<MoneyLine>, StoreError> {
    let mut lines = cross_chain_loop::ledger::money_lines(&reader.ledger(0)?)?;
    let (trades, executions) = hedge_records(reader)?;
    lines.extend(equity_hedge::ledger::money_lines(&trades, &executions));
    lines.extend(stellar_arb::store::money_lines(
        &stellar_arb::store::ledger(reader)?,
        &stellar_arb::store::results(reader)?,
    ));
    // Stable: each strategy's own order stays within a millisecond.
    lines.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.strategy.cmp(&b.strategy)));
    Ok(lines)
}

/// Every trade and execution of the hedge, a page at a time.
fn hedge_records(
    reader: &Reader,
) -> Result<
    (
        Vec<equity_hedge::book::Trade>,
        Vec<equity_hedge::book::Execution>,
    ),
    StoreError,
> {
    let txn = reader.transaction();
    let mut trades = Vec::new();
    let mut from = Some(0);
    while let Some(start) = from {
        let (page, next) = equity_hedge::pipeline::trades_page(txn, start, 1_000, |_| true)?;
        trades.extend(page);
        from = next.filter(|n| *n > start);
    }
    let mut executions = Vec::new();
    let mut from = Some(0);
    while let Some(start) = from {
        let (page, next) = equity_hedge::pipeline::executions_page(txn, start, 1_000, |_| true)?;
        executions.extend(page);
        from = next.filter(|n| *n > start);
    }
    Ok((trades, executions))
}

/// At most `limit` lines from the `from`-th on, and where the next page
/// starts (`None`: that was the last).
pub fn page(
    reader: &Reader,
    from: u64,
    limit: usize,
) -> Result<(Vec<MoneyLine>, Option<u64>), StoreError> {
    let all = read(reader)?;
    let start = usize::try_from(from).unwrap_or(usize::MAX).min(all.len());
    let end = start.saturating_add(limit).min(all.len());
    let next = (end < all.len()).then_some(end as u64);
    Ok((all[start..end].to_vec(), next))
}

/// What one strategy realised, in the currency it keeps its books in (the
/// loop VCRED, the hedge USD, Stellar XLM): no exchange rate is guessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyPnl {
    pub strategy: String,
    pub currency: String,
    pub lifetime: Decimal,
    /// Since 00:00 UTC of the store's latest record.
    pub today: Decimal,
    /// Closed cycles, filled hedges, settled Stellar cycles.
    pub count: u64,
    /// Of those, how many could not be valued (a hedge whose linked fills
    /// have no price): counted, not guessed.
    pub unvalued: u64,
}

/// Each strategy's realised P&L, lifetime and today ("today" by the
/// store's own latest time, so a paper world's simulated day is its day).
pub fn pnl(reader: &Reader) -> Result<Vec<StrategyPnl>, StoreError> {
    let cycles = reader.cycles()?;
    let (trades, executions) = hedge_records(reader)?;
    let results: Vec<_> = stellar_arb::store::results(reader)?
        .into_iter()
        .filter(|e| e.kind == stellar_arb::keeper::CYCLE)
        .collect();
    let now = cycles
        .iter()
        .map(|c| c.updated_at)
        .chain(executions.iter().map(|e| e.updated_at))
        .chain(results.iter().map(|e| e.settled_ms))
        .max()
        .unwrap_or(0);
    let today = crate::engine::kill::day_start(now);

    let book = cross_chain_loop::ledger::PnlBook::from_cycles(&cycles).view(now);
    let mut out = vec![StrategyPnl {
        strategy: cross_chain_loop::NAME.into(),
        currency: "VCRED".into(),
        lifetime: book.lifetime.profit_vcred,
        today: book.today.profit_vcred,
        count: book.lifetime.cycles,
        unvalued: 0,
    }];

    let prices: HashMap<u64, Decimal> = trades.iter().map(|t| (t.id, t.price)).collect();
    let mut hedge = StrategyPnl {
        strategy: "equity_hedge".into(),
        currency: "USD".into(),
        lifetime: Decimal::ZERO,
        today: Decimal::ZERO,
        count: 0,
        unvalued: 0,
    };
    for e in executions
        .iter()
        .filter(|e| matches!(e.state, equity_hedge::book::ExecState::Filled { .. }))
    {
        hedge.count += 1;
        match e.realised_usd(|id| prices.get(&id).copied()) {
            Some((at, usd)) => {
                hedge.lifetime = hedge.lifetime.saturating_add(usd);
                if at >= today {
                    hedge.today = hedge.today.saturating_add(usd);
                }
            }
            None => hedge.unvalued += 1,
        }
    }
    out.push(hedge);

    let mut stellar = StrategyPnl {
        strategy: "stellar_arb".into(),
        currency: "XLM".into(),
        lifetime: Decimal::ZERO,
        today: Decimal::ZERO,
        count: results.len() as u64,
        unvalued: 0,
    };
    for e in &results {
        let xlm = Decimal::new(e.delta, 7);
        stellar.lifetime = stellar.lifetime.saturating_add(xlm);
        if e.settled_ms >= today {
            stellar.today = stellar.today.saturating_add(xlm);
        }
    }
    out.push(stellar);
    Ok(out)
}
