//! One money ledger across the strategies: every line each strategy's own
//! records say moved money (the loop's ledger, the hedge's onchain fills
//! and broker fills, the Stellar ledger), as `model::MoneyLine`s merged in
//! time order. Read from a store view, so `arbkeep ledger --all` gives the
//! same lines offline and, a page at a time, over the control API.

use crate::model::MoneyLine;
use crate::store::{Reader, StoreError};
use crate::strategy::{cross_chain_loop, equity_hedge, stellar_arb};

/// Every strategy's money lines, oldest first (ties: by strategy, then as
/// each strategy booked them).
pub fn read(reader: &Reader) -> Result<Vec<MoneyLine>, StoreError> {
    let mut lines = cross_chain_loop::ledger::money_lines(&reader.ledger(0)?)?;
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
    lines.extend(equity_hedge::ledger::money_lines(&trades, &executions));
    lines.extend(stellar_arb::store::money_lines(
        &stellar_arb::store::ledger(reader)?,
        &stellar_arb::store::results(reader)?,
    ));
    // Stable: each strategy's own order stays within a millisecond.
    lines.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.strategy.cmp(&b.strategy)));
    Ok(lines)
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
