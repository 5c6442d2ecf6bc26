//! Trade sizing: which amount to put into an opportunity. A pure,
//! deterministic search (no I/O, no clock, no async) that the caller drives
//! probe by probe — `next_probe`, price that size however it prices things,
//! `observe` — so the same search runs over simulated quotes and RPC quotes.
//!
//! Two rules (docs/architecture.md §2, R9):
//! - [`SizingMode::MaxProfit`], the default: the size whose profit is largest.
//!   A round trip through constant-product pools minus fixed fees is concave
//!   in size, so a bracket followed by safeguarded parabolic interpolation
//!   (Brent's method, golden-section fallback) finds its top in a handful of
//!   probes.
//! - [`SizingMode::MaxSize`], the seed's rule: the largest
//!   size whose profit is still above the floor. It ends where profit has
//!   fallen back to about the floor, which is why it is not the default.
//!
//! Every probe costs real quote calls, so the search never asks for the same
//! size twice, never leaves `[min, max]`, and stops on a probe budget.

use crate::model::Units;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::collections::BTreeMap;
use thiserror::Error;

pub use crate::model::SizingMode;

/// Where the search may look, in the input token's base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeBounds {
    pub min: Units,
    /// Usually `min(available balance, configured cap)`.
    pub max: Units,
    /// First size probed; clamped into `[min, max]` (a small wallet makes
    /// `max` fall below the configured start, which is no reason to refuse).
    pub start: Units,
    /// Sizes closer than this are not worth telling apart.
    pub granularity: Units,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizingError {
    #[error(
        "size bounds are inverted: min {min} is above max {max} (not enough balance to trade?)"
    )]
    Inverted { min: Units, max: Units },
    #[error("the minimum size must be positive")]
    ZeroMin,
    #[error("the granularity must be positive")]
    ZeroGranularity,
    #[error("max size {max} is beyond what profit arithmetic handles exactly ({limit})")]
    TooLarge { max: Units, limit: Units },
    #[error("the probe budget must allow at least one probe")]
    ZeroBudget,
    #[error("the profit floor {0} is negative: that would accept a loss")]
    NegativeFloor(Decimal),
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizingOutcome {
    /// The best observed (size, profit) with profit above the floor; `None`
    /// when no probe beat the floor.
    pub best: Option<(Units, Decimal)>,
    /// Probes observed (each one a priced size).
    pub probes: u32,
    /// The search wanted another probe but the budget was spent.
    pub budget_exhausted: bool,
}

/// The largest size whose arithmetic stays exact: `Decimal` holds a 96-bit
/// mantissa (about 7.9e28 base units, 79 billion 18-decimal tokens).
pub const MAX_SIZE: Units = (1 << 96) - 1;

/// MaxProfit stops once no size in the bracket can beat the best observed
/// profit by more than this fraction (0.1 %). The bound is proved for concave
/// profit (chord extensions lie above a concave curve), so stopping here
/// keeps at least 99.9 % of the optimum's profit.
fn flat_top_tolerance() -> Decimal {
    Decimal::new(1, 3)
}

/// 1 − 1/φ, the golden-section fraction, as a ratio of integers.
const GOLDEN_NUM: Units = 381_966;
const GOLDEN_DEN: Units = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Point {
    x: Units,
    p: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

impl Dir {
    fn flip(self) -> Self {
        match self {
            Dir::Up => Dir::Down,
            Dir::Down => Dir::Up,
        }
    }
}

/// Where the search stands; each state knows what its pending probe is for.
#[derive(Debug, Clone, Copy)]
enum State {
    /// MaxProfit: waiting for the start probe.
    First,
    /// MaxProfit: walking by ×2 or ×½ while profit rises. `behind` is the
    /// point on the other side of `cur` (none before the first step).
    Walk {
        dir: Dir,
        behind: Option<Point>,
        cur: Point,
    },
    /// MaxProfit: profit still rose at a bound; probing one granularity
    /// inside to tell "top at the bound" from "top just inside".
    Edge {
        behind: Point,
        edge: Point,
    },
    /// MaxProfit: a < b < c with b the best; narrowing around b. The last
    /// step's length is Brent's safeguard against creeping parabolic steps.
    Refine {
        a: Point,
        b: Point,
        c: Point,
        last_step: Units,
    },
    /// MaxSize: waiting for the start probe.
    SeedFirst,
    /// MaxSize: `good` (the last probe) is profitable; doubling.
    SeedGrow {
        good: Point,
    },
    /// MaxSize: not profitable yet; halving.
    SeedShrink {
        bad: Point,
    },
    /// MaxSize: binary search between a profitable and an unprofitable size.
    SeedBisect {
        good: Point,
        bad: Point,
    },
    Done,
}

/// A size search over `[min, max]`, driven by the caller.
#[derive(Debug, Clone)]
pub struct SizeSearch {
    mode: SizingMode,
    bounds: SizeBounds,
    floor: Decimal,
    budget: u32,
    state: State,
    /// The size the search waits for; `None` once it has finished.
    pending: Option<Units>,
    /// Every observation, so no size is priced twice.
    seen: BTreeMap<Units, Decimal>,
    probes: u32,
}

impl SizeSearch {
    /// A search for `mode` within `bounds`, counting only profits strictly
    /// above `floor`, with at most `budget` probes.
    pub fn new(
        mode: SizingMode,
        bounds: SizeBounds,
        floor: Decimal,
        budget: u32,
    ) -> Result<Self, SizingError> {
        let SizeBounds {
            min,
            max,
            start,
            granularity,
        } = bounds;
        if min == 0 {
            return Err(SizingError::ZeroMin);
        }
        if min > max {
            return Err(SizingError::Inverted { min, max });
        }
        if granularity == 0 {
            return Err(SizingError::ZeroGranularity);
        }
        if max > MAX_SIZE {
            return Err(SizingError::TooLarge {
                max,
                limit: MAX_SIZE,
            });
        }
        if budget == 0 {
            return Err(SizingError::ZeroBudget);
        }
        if floor.is_sign_negative() && !floor.is_zero() {
            return Err(SizingError::NegativeFloor(floor));
        }
        let start = start.clamp(min, max);
        let state = match mode {
            SizingMode::MaxProfit => State::First,
            SizingMode::MaxSize => State::SeedFirst,
        };
        Ok(Self {
            mode,
            bounds: SizeBounds { start, ..bounds },
            floor,
            budget,
            state,
            pending: Some(start),
            seen: BTreeMap::new(),
            probes: 0,
        })
    }

    /// The size to price next; `None` when the search has finished
    /// (converged, nothing profitable, or the budget is spent). Asking again
    /// before `observe` returns the same size, so a failed quote can be retried.
    pub fn next_probe(&mut self) -> Option<Units> {
        if self.probes >= self.budget {
            return None;
        }
        self.pending
    }

    /// The profit of the size `next_probe` returned. An observation for any
    /// other size is ignored: the search only trusts answers it asked for.
    pub fn observe(&mut self, size: Units, profit: Decimal) {
        if self.pending != Some(size) || self.probes >= self.budget {
            return;
        }
        self.probes += 1;
        self.seen.insert(size, profit);
        self.advance(Point { x: size, p: profit });
    }

    /// The best point so far (final once `next_probe` returns `None`).
    pub fn outcome(&self) -> SizingOutcome {
        let mut above = self.seen.iter().filter(|(_, p)| **p > self.floor);
        let best = match self.mode {
            // Ties go to the smaller size: same profit, less capital at risk.
            SizingMode::MaxProfit => above.max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))),
            SizingMode::MaxSize => above.next_back(),
        }
        .map(|(&x, &p)| (x, p));
        SizingOutcome {
            best,
            probes: self.probes,
            budget_exhausted: self.pending.is_some() && self.probes >= self.budget,
        }
    }

    /// Feeds `point` to the state machine until it wants a size it has not
    /// seen; sizes it has seen are answered from `seen` without a probe.
    fn advance(&mut self, mut point: Point) {
        loop {
            match self.feed(point) {
                None => {
                    self.state = State::Done;
                    self.pending = None;
                    return;
                }
                Some(x) => match self.seen.get(&x) {
                    Some(&p) => point = Point { x, p },
                    None => {
                        self.pending = Some(x);
                        return;
                    }
                },
            }
        }
    }

    /// One transition: the observation of the pending size in, the next
    /// wanted size out (`None`: finished). Every transition either moves
    /// monotonically towards a bound or strictly narrows an interval, so the
    /// search always ends, whatever the profit function does.
    fn feed(&mut self, got: Point) -> Option<Units> {
        match self.state {
            State::First => {
                let preferred = if got.p > self.floor {
                    Dir::Up
                } else {
                    Dir::Down
                };
                [preferred, preferred.flip()].into_iter().find_map(|dir| {
                    let next = self.step(got.x, dir)?;
                    self.state = State::Walk {
                        dir,
                        behind: None,
                        cur: got,
                    };
                    Some(next)
                })
            }
            State::Walk { dir, behind, cur } => {
                if got.p > cur.p {
                    // Concave profit lies below every chord's extension: past
                    // `got` below (cur, got)'s, between cur and got below
                    // (behind, cur)'s. If neither reaches the floor, stop.
                    let beyond = chord(cur, got, self.bound(dir));
                    let between = behind.and_then(|behind| chord(behind, cur, got.x));
                    if let (Some(beyond), Some(between)) = (beyond, between)
                        && beyond.max(between).max(got.p) <= self.floor
                    {
                        return None;
                    }
                    match self.step(got.x, dir) {
                        Some(next) => {
                            self.state = State::Walk {
                                dir,
                                behind: Some(cur),
                                cur: got,
                            };
                            Some(next)
                        }
                        None => self.edge(cur, got),
                    }
                } else if let Some(behind) = behind {
                    let (a, c) = if behind.x < got.x {
                        (behind, got)
                    } else {
                        (got, behind)
                    };
                    self.refine(a, cur, c, c.x - a.x)
                } else {
                    // The first step made things worse: the top is the other way.
                    match self.step(cur.x, dir.flip()) {
                        Some(next) => {
                            self.state = State::Walk {
                                dir: dir.flip(),
                                behind: Some(got),
                                cur,
                            };
                            Some(next)
                        }
                        None => self.edge(got, cur),
                    }
                }
            }
            State::Edge { behind, edge } => {
                if got.p > edge.p {
                    let (a, c) = if behind.x < edge.x {
                        (behind, edge)
                    } else {
                        (edge, behind)
                    };
                    self.refine(a, got, c, c.x - a.x)
                } else {
                    // Concave and not rising towards the bound from one
                    // granularity inside: the top is within that granularity.
                    None
                }
            }
            State::Refine { a, b, c, last_step } => {
                let (a, b, c) = match (got.x > b.x, got.p >= b.p) {
                    (true, true) => (b, got, c),
                    (true, false) => (a, b, got),
                    (false, true) => (a, got, b),
                    (false, false) => (got, b, c),
                };
                self.refine(a, b, c, last_step)
            }
            State::SeedFirst | State::SeedGrow { .. } if got.p > self.floor => {
                self.state = State::SeedGrow { good: got };
                // None here: the cap itself is profitable, the seed's answer.
                self.step(got.x, Dir::Up)
            }
            State::SeedGrow { good } => self.bisect(good, got),
            State::SeedShrink { bad } if got.p > self.floor => self.bisect(got, bad),
            State::SeedFirst | State::SeedShrink { .. } => {
                self.state = State::SeedShrink { bad: got };
                // None here: even the minimum is unprofitable.
                self.step(got.x, Dir::Down)
            }
            State::SeedBisect { good, bad } => {
                if got.p > self.floor {
                    self.bisect(got, bad)
                } else {
                    self.bisect(good, got)
                }
            }
            State::Done => None,
        }
    }

    fn bound(&self, dir: Dir) -> Units {
        match dir {
            Dir::Up => self.bounds.max,
            Dir::Down => self.bounds.min,
        }
    }

    /// ×2 or ×½ from `x`, clamped to the bounds; `None` when already there.
    fn step(&self, x: Units, dir: Dir) -> Option<Units> {
        let next = match dir {
            Dir::Up => x.saturating_mul(2).min(self.bounds.max),
            Dir::Down => (x / 2).max(self.bounds.min),
        };
        (next != x).then_some(next)
    }

    /// Profit was still rising when the walk hit a bound at `edge`.
    fn edge(&mut self, behind: Point, edge: Point) -> Option<Units> {
        let g = self.bounds.granularity;
        if edge.x.abs_diff(behind.x) <= g {
            return None;
        }
        self.state = State::Edge { behind, edge };
        Some(if edge.x > behind.x {
            edge.x - g
        } else {
            edge.x + g
        })
    }

    fn bisect(&mut self, good: Point, bad: Point) -> Option<Units> {
        let (lo, hi) = (good.x.min(bad.x), good.x.max(bad.x));
        if hi - lo <= self.bounds.granularity {
            return None;
        }
        self.state = State::SeedBisect { good, bad };
        Some(lo + (hi - lo) / 2)
    }

    /// With a < b < c and b the best, decide whether to stop, else pick the
    /// next size strictly inside (a, c), at least one granularity from b.
    fn refine(&mut self, a: Point, b: Point, c: Point, last_step: Units) -> Option<Units> {
        let g = self.bounds.granularity;
        let (left, right) = (b.x - a.x, c.x - b.x);
        if left <= g && right <= g {
            return None;
        }
        // For concave profit the top of [a, c] is at most the higher of the
        // two outer chords extended across b.
        if let (Some(l), Some(r)) = (chord(a, b, c.x), chord(b, c, a.x)) {
            let ceiling = l.max(r).max(b.p);
            if ceiling <= self.floor {
                return None;
            }
            if b.p > self.floor
                && b.p.is_sign_positive()
                && let Some(slack) = b.p.checked_mul(flat_top_tolerance())
                && ceiling.checked_sub(b.p).is_some_and(|gain| gain <= slack)
            {
                return None;
            }
        }
        let golden = if right >= left {
            b.x + right * GOLDEN_NUM / GOLDEN_DEN
        } else {
            b.x - left * GOLDEN_NUM / GOLDEN_DEN
        };
        // Brent's safeguard: a parabolic step must be less than half the
        // step before it, else the fit is creeping and golden section is
        // the faster way down.
        let mut u = match vertex(a, b, c) {
            Some(v) if v.abs_diff(b.x).saturating_mul(2) < last_step => v,
            _ => golden,
        };
        if u.abs_diff(b.x) < g {
            // A probe within a granularity of the best tells nothing useful:
            // step one granularity, towards the proposal if there is room.
            let up_first = u >= b.x;
            let up = (right > g).then(|| b.x + g);
            let down = (left > g).then(|| b.x - g);
            u = if up_first { up.or(down) } else { down.or(up) }?;
        }
        self.state = State::Refine {
            a,
            b,
            c,
            last_step: u.abs_diff(b.x),
        };
        Some(u)
    }
}

/// A size as an exact decimal; sizes are validated to fit.
fn size_dec(x: Units) -> Decimal {
    i128::try_from(x)
        .ok()
        .and_then(|m| Decimal::try_from_i128_with_scale(m, 0).ok())
        .unwrap_or(Decimal::MAX)
}

/// The line through `p` and `q`, evaluated at `at`; `None` if it overflows
/// (a far extension of a steep chord), which callers treat as "no bound".
fn chord(p: Point, q: Point, at: Units) -> Option<Decimal> {
    if p.x == q.x {
        return None;
    }
    // Profits come from outside: checked arithmetic, never a panic.
    let slope =
        q.p.checked_sub(p.p)?
            .checked_div(size_dec(q.x) - size_dec(p.x))?;
    p.p.checked_add(slope.checked_mul(size_dec(at) - size_dec(p.x))?)
}

/// The top of the parabola through a, b, c, if it is a downward parabola
/// whose top lies strictly inside (a, c). Sizes are rescaled to [0, 1] over
/// the interval first, so squares of 18-decimal sizes never overflow.
fn vertex(a: Point, b: Point, c: Point) -> Option<Units> {
    let width = size_dec(c.x - a.x);
    let mid = size_dec(b.x - a.x).checked_div(width)?;
    let rest = Decimal::ONE - mid;
    // Newton's divided differences on the rescaled axis.
    let d1 = b.p.checked_sub(a.p)?.checked_div(mid)?;
    let d2 = c.p.checked_sub(b.p)?.checked_div(rest)?;
    let curvature = d2.checked_sub(d1)?;
    if !curvature.is_sign_negative() || curvature.is_zero() {
        return None;
    }
    let top = mid / Decimal::TWO - d1.checked_div(curvature.checked_mul(Decimal::TWO)?)?;
    if top <= Decimal::ZERO || top >= Decimal::ONE {
        return None;
    }
    let offset = top.checked_mul(width)?.round().to_u128()?;
    let u = a.x.checked_add(offset)?;
    (u > a.x && u < c.x).then_some(u)
}

#[cfg(test)]
mod tests;
