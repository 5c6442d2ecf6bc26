//! Sizing's tests: bracketing and refining, the bounds, the profit floor,
//! `max_size`, the quote budget, and any curve terminating without panics.

use super::*;
use alloy::primitives::U256;
use std::collections::HashSet;

const VCRED: Units = 1_000_000;

fn bounds(min: Units, max: Units, start: Units, granularity: Units) -> SizeBounds {
    SizeBounds {
        min,
        max,
        start,
        granularity,
    }
}

/// The bench's scale: 100 .. 200 000 VCRED, start 1 000, granularity 1.
fn usual() -> SizeBounds {
    bounds(100 * VCRED, 200_000 * VCRED, 1_000 * VCRED, VCRED)
}

/// Drives a search to the end, checking the promises every caller relies on.
fn drive(
    mode: SizingMode,
    b: SizeBounds,
    floor: Decimal,
    budget: u32,
    f: impl Fn(Units) -> Decimal,
) -> (SizingOutcome, Vec<Units>) {
    let mut search = SizeSearch::new(mode, b, floor, budget).expect("valid bounds");
    let mut probes = Vec::new();
    while let Some(x) = search.next_probe() {
        assert!(
            (b.min..=b.max).contains(&x),
            "probe {x} outside [{}, {}]",
            b.min,
            b.max
        );
        assert!(!probes.contains(&x), "size {x} probed twice: {probes:?}");
        assert_eq!(
            search.next_probe(),
            Some(x),
            "asking again gives the same size"
        );
        probes.push(x);
        search.observe(x, f(x));
        assert!(probes.len() <= budget as usize, "budget {budget} overrun");
    }
    let outcome = search.outcome();
    assert_eq!(outcome.probes as usize, probes.len());
    if let Some((x, p)) = outcome.best {
        assert!(p > floor);
        assert!(probes.contains(&x));
        assert_eq!(p, f(x));
    }
    (outcome, probes)
}

fn max_profit(b: SizeBounds, f: impl Fn(Units) -> Decimal) -> (SizingOutcome, Vec<Units>) {
    drive(SizingMode::MaxProfit, b, Decimal::ZERO, 32, f)
}

/// A downward parabola (in VCRED) with its top `peak` at `top`.
fn parabola(top: Units, peak: i64, width: Units) -> impl Fn(Units) -> Decimal {
    move |x| {
        let d = Decimal::from(top.abs_diff(x) as i64) / Decimal::from(width as i64);
        Decimal::from(peak) - d * d
    }
}

/// A constant-product pool (reserve in, reserve out, fee in bps) priced by
/// Uniswap V2's `getAmountOut`: the curve the search is meant for, written
/// here so the engine's tests need no venue.
#[derive(Clone, Copy)]
struct Pool(Units, Units, u32);

impl Pool {
    fn amount_out(&self, amount_in: Units) -> Units {
        let Pool(r_in, r_out, fee_bps) = *self;
        let with_fee = U256::from(amount_in) * U256::from(10_000 - fee_bps);
        let out = with_fee * U256::from(r_out) / (U256::from(r_in) * U256::from(10_000) + with_fee);
        out.to::<u128>()
    }
}

/// The cross-chain loop through three constant-product pools minus a
/// fixed fee: VCRED → X, X → USDC, USDC → VCRED, profit in VCRED.
fn round_trip(gap_bps: u128, fixed_fee_vcred: u128) -> impl Fn(Units) -> Decimal {
    let x_one = 100_000_000u128; // an 8-decimal X priced at 60 000
    let hemi_x = Pool(
        2_000_000 * VCRED,
        2_000_000 * x_one * (10_000 + gap_bps) / (60_000 * 10_000),
        30,
    );
    let eth = Pool(2_000 * x_one, 120_000_000 * VCRED, 30);
    let hemi_usdc = Pool(3_000_000 * VCRED, 3_000_000 * VCRED, 5);
    move |x| {
        let got = hemi_x.amount_out(x);
        let got = eth.amount_out(got);
        let got = hemi_usdc.amount_out(got);
        let delta = got as i128 - x as i128 - (fixed_fee_vcred * VCRED) as i128;
        Decimal::from_i128_with_scale(delta, 6)
    }
}

/// The best integer size on a grid of one granularity (brute force).
fn brute_force(b: SizeBounds, f: &impl Fn(Units) -> Decimal) -> (Units, Decimal) {
    let mut best = (b.min, f(b.min));
    let mut x = b.min;
    while x <= b.max {
        let p = f(x);
        if p > best.1 {
            best = (x, p);
        }
        x += b.granularity;
    }
    best
}

#[test]
fn invalid_bounds_are_refused_with_the_reason() {
    let new = |b, floor, budget| SizeSearch::new(SizingMode::MaxProfit, b, floor, budget);
    assert_eq!(
        new(bounds(10, 5, 7, 1), Decimal::ZERO, 8).err(),
        Some(SizingError::Inverted { min: 10, max: 5 })
    );
    assert_eq!(
        new(bounds(0, 5, 1, 1), Decimal::ZERO, 8).err(),
        Some(SizingError::ZeroMin)
    );
    assert_eq!(
        new(bounds(1, 5, 1, 0), Decimal::ZERO, 8).err(),
        Some(SizingError::ZeroGranularity)
    );
    assert_eq!(
        new(bounds(1, MAX_SIZE + 1, 1, 1), Decimal::ZERO, 8).err(),
        Some(SizingError::TooLarge {
            max: MAX_SIZE + 1,
            limit: MAX_SIZE
        })
    );
    assert_eq!(
        new(bounds(1, 5, 1, 1), Decimal::ZERO, 0).err(),
        Some(SizingError::ZeroBudget)
    );
    assert_eq!(
        new(bounds(1, 5, 1, 1), Decimal::NEGATIVE_ONE, 8).err(),
        Some(SizingError::NegativeFloor(Decimal::NEGATIVE_ONE))
    );
    let err = new(bounds(10, 5, 7, 1), Decimal::ZERO, 8)
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("min 10 is above max 5")));
}

#[test]
fn start_outside_bounds_is_clamped() {
    let (_, probes) = max_profit(bounds(100, 500, 1_000, 1), parabola(300, 100, 10));
    assert_eq!(probes[0], 500);
    let (_, probes) = max_profit(bounds(100, 500, 1, 1), parabola(300, 100, 10));
    assert_eq!(probes[0], 100);
}

#[test]
fn bracket_doubles_then_refines_inside_it() {
    // Top at 10 000 VCRED: 1k, 2k, 4k, 8k rise, 16k falls → bracket [4k, 16k].
    let (outcome, probes) = max_profit(usual(), parabola(10_000 * VCRED, 500, VCRED * 1_000));
    assert_eq!(
        &probes[..5],
        &[1_000, 2_000, 4_000, 8_000, 16_000].map(|v| v * VCRED)
    );
    assert!(
        probes[5..]
            .iter()
            .all(|&x| x > 4_000 * VCRED && x < 16_000 * VCRED)
    );
    let (x, p) = outcome.best.expect("profitable");
    assert!(p >= Decimal::from(500) * Decimal::new(999, 3));
    assert!(x.abs_diff(10_000 * VCRED) < 1_000 * VCRED);
}

#[test]
fn bracket_halves_when_start_is_past_the_top() {
    // Top at 300 VCRED; profit(1 000) is negative, so the walk goes down.
    let f = parabola(300 * VCRED, 50, 50 * VCRED);
    let (outcome, probes) = max_profit(usual(), f);
    assert_eq!(&probes[..4], &[1_000, 500, 250, 125].map(|v| v * VCRED));
    assert!(
        probes[4..]
            .iter()
            .all(|&x| x > 125 * VCRED && x < 500 * VCRED)
    );
    let (_, p) = outcome.best.expect("profitable");
    assert!(p >= Decimal::new(4995, 2));
}

#[test]
fn unprofitable_start_below_the_top_turns_around() {
    // A large fixed fee makes small sizes lose: profit(1 000) < 0 but the
    // top is near 20 000. The seed's rule halves and finds nothing.
    let f = round_trip(400, 300);
    assert!(f(1_000 * VCRED) < Decimal::ZERO);
    let (outcome, _) = max_profit(usual(), &f);
    let (_, brute_p) = brute_force(bounds(100 * VCRED, 200_000 * VCRED, 0, 100 * VCRED), &f);
    let (_, p) = outcome.best.expect("MaxProfit finds the opportunity");
    assert!(p >= brute_p * Decimal::new(99, 2), "{p} vs {brute_p}");
    let (seed, _) = drive(SizingMode::MaxSize, usual(), Decimal::ZERO, 32, &f);
    assert_eq!(seed.best, None);
}

#[test]
fn converges_to_granularity_on_a_sharp_top() {
    // A tent (profit 1 000 at the top, falling 3 per unit either side)
    // leaves the flat-top rule (0.1 % of 1 000 = 1) nothing to stop on
    // before the interval is a unit wide. The walk also passes the top
    // between two deeply unprofitable probes (80 000 and 160 000), which
    // the early "nothing profitable" exit must not mistake for a loss.
    let top: Units = 123_457;
    let f = move |x: Units| Decimal::from(1_000i64 - 3 * top.abs_diff(x) as i64);
    let (outcome, probes) = max_profit(bounds(1_000, 300_000, 10_000, 1), f);
    let (x, _) = outcome.best.expect("profitable");
    assert!(
        x.abs_diff(top) <= 1,
        "found {x}, top {top}, probes {probes:?}"
    );
    assert!(!outcome.budget_exhausted);
}

#[test]
fn converges_on_pool_round_trips_within_sixteen_probes() {
    for (gap, fee) in [(150, 1), (300, 5), (600, 20), (800, 2)] {
        let f = round_trip(gap, fee);
        let b = usual();
        let (outcome, probes) = max_profit(b, &f);
        let (_, brute_p) = brute_force(bounds(b.min, b.max, 0, 10 * VCRED), &f);
        let (_, p) = outcome.best.expect("profitable");
        assert!(
            p >= brute_p * Decimal::new(99, 2),
            "gap {gap}: {p} vs {brute_p}"
        );
        assert!(probes.len() <= 16, "gap {gap}: {} probes", probes.len());
    }
}

#[test]
fn optimum_above_max_gives_max() {
    let b = bounds(100, 5_000, 1_000, 1);
    let (outcome, probes) = max_profit(b, parabola(50_000, 1_000, 10_000));
    assert_eq!(outcome.best.map(|(x, _)| x), Some(5_000));
    assert_eq!(probes, vec![1_000, 2_000, 4_000, 5_000, 4_999]);
}

#[test]
fn optimum_below_min_gives_min_or_nothing() {
    let b = bounds(1_000, 50_000, 8_000, 1);
    let (outcome, _) = max_profit(b, parabola(10, 1_000, 100));
    assert_eq!(outcome.best.map(|(x, _)| x), Some(1_000));
    let (outcome, probes) = max_profit(b, parabola(10, 1, 100));
    assert_eq!(outcome.best, None);
    assert!(probes.len() <= 5, "{probes:?}");
}

#[test]
fn nothing_profitable_gives_none_quickly() {
    // Gap smaller than the fees: every size loses.
    let f = round_trip(40, 2);
    let (outcome, probes) = max_profit(usual(), &f);
    assert_eq!(outcome.best, None);
    assert!(!outcome.budget_exhausted);
    assert!(probes.len() <= 3, "{probes:?}");
    let (seed, _) = drive(SizingMode::MaxSize, usual(), Decimal::ZERO, 32, &f);
    assert_eq!(seed.best, None);
}

#[test]
fn floor_is_strict() {
    let f = parabola(5_000, 10, 1_000);
    let (outcome, _) = drive(
        SizingMode::MaxProfit,
        bounds(100, 20_000, 1_000, 1),
        Decimal::TEN,
        32,
        &f,
    );
    assert_eq!(
        outcome.best, None,
        "profit equal to the floor does not count"
    );
}

#[test]
fn max_size_picks_a_larger_size_with_near_zero_profit() {
    let f = round_trip(500, 2);
    let b = usual();
    let (best, _) = max_profit(b, &f);
    let (seed, probes) = drive(SizingMode::MaxSize, b, Decimal::ZERO, 64, &f);
    let (x_profit, p_profit) = best.best.expect("profitable");
    let (x_size, p_size) = seed.best.expect("profitable");
    assert!(x_size > x_profit * 3 / 2, "{x_size} vs {x_profit}");
    assert!(
        p_size < p_profit / Decimal::from(20),
        "{p_size} vs {p_profit}"
    );
    // ... and it is the edge: one granularity more is not profitable.
    assert!(f(x_size + b.granularity) <= Decimal::ZERO, "{probes:?}");
}

#[test]
fn max_size_doubles_to_the_cap_when_everything_is_profitable() {
    let f = |x: Units| Decimal::from(x as i64);
    let (outcome, probes) = drive(
        SizingMode::MaxSize,
        bounds(100, 10_000, 1_000, 1),
        Decimal::ZERO,
        32,
        f,
    );
    assert_eq!(outcome.best.map(|(x, _)| x), Some(10_000));
    assert_eq!(probes, vec![1_000, 2_000, 4_000, 8_000, 10_000]);
}

#[test]
fn max_size_halves_then_bisects() {
    // Profitable below 300 only.
    let f = |x: Units| Decimal::from(300 - x as i64);
    let (outcome, probes) = drive(
        SizingMode::MaxSize,
        bounds(100, 10_000, 1_000, 1),
        Decimal::ZERO,
        32,
        f,
    );
    assert_eq!(&probes[..3], &[1_000, 500, 250]);
    assert_eq!(outcome.best.map(|(x, _)| x), Some(299));
}

#[test]
fn budget_is_honoured() {
    let b = usual();
    let f = parabola(60_000 * VCRED, 900, VCRED * 10_000);
    for mode in [SizingMode::MaxProfit, SizingMode::MaxSize] {
        let (outcome, probes) = drive(mode, b, Decimal::ZERO, 3, &f);
        assert_eq!(probes.len(), 3);
        assert!(outcome.budget_exhausted);
        assert_eq!(
            outcome.best.map(|(x, _)| x),
            Some(4_000 * VCRED),
            "best observed"
        );
    }
    let (outcome, _) = drive(SizingMode::MaxProfit, b, Decimal::ZERO, 1, &f);
    assert_eq!(outcome.probes, 1);
    assert!(outcome.budget_exhausted);
}

#[test]
fn observations_not_asked_for_are_ignored() {
    let mut search =
        SizeSearch::new(SizingMode::MaxProfit, usual(), Decimal::ZERO, 8).expect("valid");
    let first = search.next_probe();
    assert_eq!(first, Some(1_000 * VCRED));
    search.observe(7, Decimal::from(1_000_000));
    assert_eq!(search.outcome().probes, 0);
    assert_eq!(search.outcome().best, None);
    assert_eq!(search.next_probe(), first);
}

#[test]
fn equal_profits_prefer_the_smaller_size() {
    let (outcome, probes) = max_profit(bounds(100, 10_000, 1_000, 1), |_| Decimal::ONE);
    let smallest = probes.iter().min().copied();
    assert_eq!(outcome.best, smallest.map(|x| (x, Decimal::ONE)));
}

#[test]
fn extreme_profits_do_not_panic() {
    let f = |x: Units| {
        if x.is_multiple_of(2) {
            Decimal::MAX
        } else {
            Decimal::MIN
        }
    };
    for mode in [SizingMode::MaxProfit, SizingMode::MaxSize] {
        let (outcome, _) = drive(mode, usual(), Decimal::ZERO, 64, f);
        assert!(outcome.best.is_some_and(|(_, p)| p == Decimal::MAX));
    }
}

#[test]
fn single_point_range_probes_once() {
    let b = bounds(500, 500, 1_000, 1);
    for mode in [SizingMode::MaxProfit, SizingMode::MaxSize] {
        let (outcome, probes) = drive(mode, b, Decimal::ZERO, 8, |_| Decimal::ONE);
        assert_eq!(probes, vec![500]);
        assert_eq!(outcome.best, Some((500, Decimal::ONE)));
    }
}

#[test]
fn any_profit_function_terminates_without_duplicates_or_leaving_bounds() {
    // Arbitrary (non-concave, noisy, flat) profit functions: the search
    // may not find the top, but its promises hold.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..400 {
        let min = 1 + next() % 1_000;
        let max = min + next() % 100_000;
        let start = next() % 200_000;
        let g = 1 + next() % 50;
        let (top, salt, kind) = (next() % 120_000, next(), next() % 4);
        let f = move |x: Units| {
            let x = x as u64;
            let noise = (x.wrapping_mul(salt) >> 40) % 1_000;
            let v = match kind {
                0 => 1_000_000 - (top.abs_diff(x) as i64).pow(2) / 1_000,
                1 => noise as i64 - 500,
                2 => 7,
                _ => 1_000_000 - (top.abs_diff(x) as i64).pow(2) / 1_000 + noise as i64,
            };
            Decimal::from(v)
        };
        let b = bounds(
            u128::from(min),
            u128::from(max),
            u128::from(start),
            u128::from(g),
        );
        for mode in [SizingMode::MaxProfit, SizingMode::MaxSize] {
            // A budget far above need: the search must end by itself.
            let (outcome, probes) = drive(mode, b, Decimal::ZERO, 1_000, f);
            assert!(
                !outcome.budget_exhausted,
                "{mode:?} {b:?} kind {kind}: {}",
                probes.len()
            );
            // On the (concave) parabola the early exits must never
            // discard the top: it is found to within 0.2 %.
            let optimum = f(u128::from(top).clamp(b.min, b.max));
            if kind == 0 && mode == SizingMode::MaxProfit && optimum > Decimal::from(1_000) {
                let found = outcome.best.map_or(Decimal::ZERO, |(_, p)| p);
                assert!(
                    found >= optimum * Decimal::new(998, 3),
                    "{b:?}: {found} vs {optimum}"
                );
            }
            let distinct: HashSet<_> = probes.iter().collect();
            assert_eq!(distinct.len(), probes.len());
        }
    }
}

#[test]
fn eighteen_decimal_sizes_do_not_overflow() {
    let one = 10u128.pow(18);
    let top = 3_456 * one;
    let f = move |x: Units| {
        let d = Decimal::from_i128_with_scale(top.abs_diff(x) as i128, 18);
        Decimal::from(100) - d * d / Decimal::from(1_000)
    };
    let (outcome, probes) = max_profit(bounds(one, 1_000_000 * one, 1_000 * one, one), f);
    let (x, _) = outcome.best.expect("profitable");
    assert!(x.abs_diff(top) < 200 * one, "{x} vs {top}");
    assert!(probes.len() <= 16);
}
