//! The loop's P&L from its ledger: per cycle, per day, per token and lifetime, with gas
//! and bridge fees. Rebuilt from the store at boot, then kept current as
//! cycles close. Also the ledger's own view of every balance.

use crate::engine::snapshot::{DailyPnl, PnlTotals, PnlView};
use crate::model::time::{DAY, day_of, format_day};
use crate::model::{
    Chain, Cycle, CycleId, CycleResult, LedgerEntry, LedgerKind, MoneyLine, Timestamp, TokenId,
};
use crate::store::StoreError;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, VecDeque};

/// How many points of the cumulative P&L curve are kept.
const CURVE_POINTS: usize = 512;

#[derive(Debug, Clone, Default)]
pub struct PnlBook {
    lifetime: PnlTotals,
    daily: BTreeMap<u64, PnlTotals>,
    per_token: BTreeMap<TokenId, PnlTotals>,
    curve: VecDeque<(Timestamp, Decimal)>,
    /// Each completed cycle's profit, of today and yesterday only (the kill
    /// switch's drawdown is over the events of one day, in time order).
    recent: VecDeque<(Timestamp, Decimal)>,
}

fn add(t: &mut PnlTotals, cycle: &Cycle, r: &CycleResult) {
    t.cycles += 1;
    t.profit_vcred += r.profit_vcred;
    t.gas_vcred += r.gas_vcred;
    t.bridge_fees_vcred += r.bridge_fees_vcred;
    t.vcred_sold += cycle.vcred_in;
    t.vcred_regained += r.vcred_out;
}

impl PnlBook {
    /// Rebuild from every cycle (oldest first); only completed cycles realise P&L.
    pub fn from_cycles<'a>(cycles: impl IntoIterator<Item = &'a Cycle>) -> Self {
        let mut closed: Vec<&Cycle> = cycles.into_iter().filter(|c| c.result.is_some()).collect();
        closed.sort_by_key(|c| c.result.as_ref().map(|r| r.completed_at));
        let mut book = PnlBook::default();
        for c in closed {
            book.record(c);
        }
        book
    }

    /// Book a completed cycle.
    pub fn record(&mut self, cycle: &Cycle) {
        let Some(r) = &cycle.result else { return };
        add(&mut self.lifetime, cycle, r);
        add(
            self.daily.entry(day_of(r.completed_at)).or_default(),
            cycle,
            r,
        );
        add(self.per_token.entry(cycle.token).or_default(), cycle, r);
        self.curve
            .push_back((r.completed_at, self.lifetime.profit_vcred));
        while self.curve.len() > CURVE_POINTS {
            self.curve.pop_front();
        }
        self.recent.push_back((r.completed_at, r.profit_vcred));
        let keep_from = day_of(r.completed_at).saturating_sub(1) * DAY;
        while self.recent.front().is_some_and(|(at, _)| *at < keep_from) {
            self.recent.pop_front();
        }
    }

    /// Each completed cycle's profit (VCRED) at or after `since`, which must
    /// be no earlier than yesterday's start.
    pub fn realised_since(&self, since: Timestamp) -> impl Iterator<Item = (Timestamp, Decimal)> {
        self.recent
            .iter()
            .copied()
            .filter(move |(at, _)| *at >= since)
    }

    pub fn lifetime(&self) -> &PnlTotals {
        &self.lifetime
    }

    pub fn today(&self, now: Timestamp) -> PnlTotals {
        self.daily.get(&day_of(now)).cloned().unwrap_or_default()
    }

    pub fn view(&self, now: Timestamp) -> PnlView {
        PnlView {
            today: self.today(now),
            lifetime: self.lifetime.clone(),
            per_token: self
                .per_token
                .iter()
                .map(|(t, p)| (*t, p.clone()))
                .collect(),
            daily: self
                .daily
                .iter()
                .map(|(day, totals)| DailyPnl {
                    day: format_day(*day),
                    totals: totals.clone(),
                })
                .collect(),
            cumulative: self.curve.iter().cloned().collect(),
        }
    }
}

/// Balances as the ledger explains them: Σ deltas per (chain, token).
pub fn ledger_balances<'a>(
    entries: impl IntoIterator<Item = &'a LedgerEntry>,
) -> BTreeMap<(Chain, TokenId), i128> {
    let mut out = BTreeMap::new();
    for e in entries {
        apply(&mut out, e);
    }
    out
}

pub fn apply(balances: &mut BTreeMap<(Chain, TokenId), i128>, e: &LedgerEntry) {
    if let (true, Some(chain), Some(token)) = (e.kind.moves_money(), e.chain, e.token) {
        *balances.entry((chain, token)).or_default() += e.delta;
    }
}

/// A cycle's P&L recomputed from its ledger lines alone: VCRED out − in − costs.
pub fn cycle_pnl_from_ledger<'a>(
    entries: impl IntoIterator<Item = &'a LedgerEntry>,
    cycle: CycleId,
) -> Decimal {
    entries
        .into_iter()
        .filter(|e| e.cycle == Some(cycle))
        .filter(|e| {
            matches!(
                e.kind,
                LedgerKind::SwapIn | LedgerKind::SwapOut | LedgerKind::Gas | LedgerKind::BridgeFee
            )
        })
        .map(|e| e.value_vcred)
        .sum()
}

/// The loop's money lines in the shape every strategy shares: one per
/// ledger line that moved a token (audit lines move nothing and stay in
/// `arbkeep ledger`). A delta past what a decimal holds is a corrupt line,
/// named, rather than a number shown wrong.
pub fn money_lines(entries: &[LedgerEntry]) -> Result<Vec<MoneyLine>, StoreError> {
    let mut out = Vec::new();
    for e in entries {
        let (Some(chain), Some(token)) = (e.chain, e.token) else {
            continue;
        };
        let magnitude = crate::model::to_decimal(e.delta.unsigned_abs(), token.decimals())
            .map_err(|err| StoreError::Corrupt {
                table: "ledger",
                key: e.seq.to_string(),
                reason: err.to_string(),
            })?;
        out.push(MoneyLine {
            at: e.at,
            strategy: super::NAME.to_string(),
            venue: chain.name().to_ascii_lowercase(),
            asset: token.symbol().to_string(),
            delta: if e.delta < 0 { -magnitude } else { magnitude },
            reference: e
                .tx_hash
                .clone()
                .or_else(|| e.cycle.map(|c| c.to_string()))
                .unwrap_or_default(),
            note: match e.cycle {
                Some(c) => format!("{c} {:?}: {}", e.kind, e.note),
                None => format!("{:?}: {}", e.kind, e.note),
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::DAY;
    use crate::model::{CycleState, Route};

    fn closed(id: u64, token: TokenId, at: Timestamp, profit: i64) -> Cycle {
        let mut c = Cycle::detected(CycleId(id), token, Route::Stargate, 1_000_000_000, at);
        c.state = CycleState::Completed;
        c.holding.amount = 0;
        c.result = Some(CycleResult {
            vcred_out: 1_000_000_000,
            profit_vcred: Decimal::from(profit),
            gas_vcred: Decimal::ONE,
            bridge_fees_vcred: Decimal::TWO,
            completed_at: at,
        });
        c
    }

    #[test]
    fn rolls_up_by_day_token_and_lifetime() {
        let cycles = vec![
            closed(1, TokenId::Eth, DAY + 5, 10),
            closed(2, TokenId::Wbtc, DAY + 6, -3),
            closed(3, TokenId::Eth, 2 * DAY + 1, 7),
        ];
        let book = PnlBook::from_cycles(&cycles);
        assert_eq!(book.lifetime().cycles, 3);
        assert_eq!(book.lifetime().profit_vcred, Decimal::from(14));
        assert_eq!(book.lifetime().gas_vcred, Decimal::from(3));
        assert_eq!(book.today(DAY + 100).profit_vcred, Decimal::from(7));
        assert_eq!(book.today(2 * DAY + 100).profit_vcred, Decimal::from(7));
        let view = book.view(2 * DAY);
        assert_eq!(view.daily.len(), 2);
        assert_eq!(view.daily[0].totals.profit_vcred, Decimal::from(7));
        let eth = view
            .per_token
            .iter()
            .find(|(t, _)| *t == TokenId::Eth)
            .unwrap();
        assert_eq!(eth.1.profit_vcred, Decimal::from(17));
        assert_eq!(view.cumulative.last().map(|p| p.1), Some(Decimal::from(14)));
    }

    #[test]
    fn open_cycles_realise_nothing() {
        let mut c = closed(1, TokenId::Eth, 5, 10);
        c.result = None;
        c.state = CycleState::OnEthereum;
        assert_eq!(PnlBook::from_cycles([&c]).lifetime().cycles, 0);
    }

    #[test]
    fn ledger_balances_skip_audit_lines() {
        let line = |kind, delta| LedgerEntry {
            seq: 0,
            at: 0,
            kind,
            cycle: None,
            chain: Some(Chain::Hemi),
            token: Some(TokenId::Vcred),
            delta,
            value_vcred: Decimal::ZERO,
            tx_hash: None,
            note: String::new(),
            operator: false,
        };
        let entries = [
            line(LedgerKind::Opening, 100),
            line(LedgerKind::SwapIn, -40),
            line(LedgerKind::Operator, 999),
        ];
        assert_eq!(
            ledger_balances(&entries).get(&(Chain::Hemi, TokenId::Vcred)),
            Some(&60)
        );
    }
}
