//! The view-model cache: what the panels need that costs more than the
//! visible rows (filtering thousands of cycles, counting alarms, the balance
//! grid, the sparkline). Built once per (snapshot seq, filter), kept in
//! `App`, so steady frames only format the rows on screen.

use crate::engine::Snapshot;
use crate::model::{Timestamp, TokenId, Units};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    /// The snapshot and filter this was built for.
    pub seq: u64,
    pub filter: String,
    /// Indices into `snapshot.cycles` that pass the filter: the pinned ones
    /// (open or half-done) first, then the closed ones, each part in
    /// snapshot order — whatever order the snapshot came in.
    pub cycles: Vec<usize>,
    /// How many of `cycles` lead as pinned: the list draws them above every
    /// closed one however the selection moves.
    pub pinned: usize,
    /// Indices into `snapshot.opportunities` that pass the filter.
    pub opportunities: Vec<usize>,
    /// Alarms over *all* cycles, filter or not: a filter must never hide one.
    pub stuck: usize,
    pub half_done: usize,
    /// The earliest future `ready_at` of an open cycle: a countdown is on screen.
    pub next_ready: Option<Timestamp>,
    /// Rows of the balances grid: tokens with a balance or money in flight.
    pub balance_tokens: Vec<TokenId>,
    /// Total in flight on bridges per token (base units of that token).
    pub in_flight: Vec<(TokenId, Units)>,
    /// Cumulative P&L scaled for the sparkline (display only).
    pub spark: Vec<u64>,
    pub spark_low: Decimal,
    pub spark_high: Decimal,
}

/// ASCII case-insensitive substring test without allocating.
fn contains(hay: &str, needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .as_bytes()
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

impl View {
    pub fn is_for(&self, snapshot: &Snapshot, filter: &str) -> bool {
        self.seq == snapshot.seq && self.filter == filter
    }

    pub fn build(snapshot: &Snapshot, filter: &str) -> View {
        let needle = filter.trim().as_bytes();
        let mut id_text = String::new();
        let cycles = snapshot
            .cycles
            .iter()
            .enumerate()
            .filter(|(_, view)| {
                if needle.is_empty() {
                    return true;
                }
                let c = &view.cycle;
                id_text.clear();
                use std::fmt::Write;
                let _ = write!(id_text, "{}", c.id);
                contains(c.token.symbol(), needle)
                    || contains(c.state.name(), needle)
                    || contains(c.route.name(), needle)
                    || contains(&view.next, needle)
                    || id_text.as_bytes().eq_ignore_ascii_case(needle)
                    || (view.stuck && contains("stuck", needle))
                    || (view.half_done && contains("half-done", needle))
            })
            .map(|(i, _)| i);
        let (mut cycles, closed): (Vec<usize>, Vec<usize>) =
            cycles.partition(|i| snapshot.cycles.get(*i).is_some_and(is_pinned));
        let pinned = cycles.len();
        cycles.extend(closed);
        let opportunities = snapshot
            .opportunities
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                needle.is_empty()
                    || contains(o.token.symbol(), needle)
                    || contains(super::panels::opportunities::state_label(o.state), needle)
                    || contains(o.route.name(), needle)
            })
            .map(|(i, _)| i)
            .collect();

        let mut stuck = 0;
        let mut half_done = 0;
        let mut next_ready: Option<Timestamp> = None;
        // Half-done counts closed cycles still holding money too.
        half_done += snapshot.cycles.iter().filter(|v| v.half_done).count();
        for view in snapshot.cycles.iter().filter(|v| v.is_open()) {
            stuck += usize::from(view.stuck);
            if let Some(at) = view.ready_at.filter(|at| *at > snapshot.now) {
                next_ready = Some(next_ready.map_or(at, |n| n.min(at)));
            }
        }

        let mut in_flight: Vec<(TokenId, Units)> = Vec::new();
        for row in &snapshot.in_flight {
            match in_flight.iter_mut().find(|(t, _)| *t == row.token) {
                Some((_, sum)) => *sum = sum.saturating_add(row.amount),
                None => in_flight.push((row.token, row.amount)),
            }
        }
        let balance_tokens = TokenId::ALL
            .into_iter()
            .filter(|t| {
                snapshot.balances.iter().any(|b| b.token == *t)
                    || in_flight.iter().any(|(f, _)| f == t)
            })
            .collect();

        let (spark, spark_low, spark_high) = sparkline(&snapshot.pnl.cumulative);
        View {
            seq: snapshot.seq,
            filter: filter.to_string(),
            cycles,
            pinned,
            opportunities,
            stuck,
            half_done,
            next_ready,
            balance_tokens,
            in_flight,
            spark,
            spark_low,
            spark_high,
        }
    }
}

/// Open, or half-done (failed with money still out): above every closed cycle.
pub fn is_pinned(view: &crate::engine::snapshot::CycleView) -> bool {
    view.is_open() || view.half_done
}

/// Cumulative P&L as bar heights 0..=1000 above its own minimum (a
/// sparkline cannot draw below zero), with the range for the caption.
fn sparkline(series: &[(Timestamp, Decimal)]) -> (Vec<u64>, Decimal, Decimal) {
    let low = series.iter().map(|(_, v)| *v).min().unwrap_or_default();
    let high = series.iter().map(|(_, v)| *v).max().unwrap_or_default();
    let span = (high - low).to_f64().unwrap_or(0.0);
    let bars = series
        .iter()
        .map(|(_, v)| {
            if span <= 0.0 {
                return 500;
            }
            let above = (*v - low).to_f64().unwrap_or(0.0);
            ((above / span) * 1000.0).round() as u64 + 1
        })
        .collect();
    (bars, low, high)
}
