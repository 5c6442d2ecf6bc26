//! Sizing bench (`cargo bench --bench sizing`): quotes per sizing decision
//! and profit captured against the analytic optimum, for the default
//! max-profit search and the seed's max-size rule, over many simulated
//! cross-chain loops (Hemi VCRED→X, Ethereum X→USDC, Hemi USDC→VCRED).
//!
//! Profit is exact: integer Uniswap V2 quotes through `Pool`, bridge fees in
//! integer bps, a fixed fee, as a `Decimal` in VCRED. The optimum comes from
//! the closed form of a chain of constant-product swaps (floats are used for
//! that formula only; this is a bench, not engine code) and is then priced
//! exactly like every probe.
//!
//! A second set of the same loops has two swap providers on each Hemi leg
//! (a second pool of another depth and fee beside the first, as SushiSwap V3
//! beside V2), each leg quoted at the better of the two (`swap_choose =
//! "best"`): the profit curve then has kinks where the better provider
//! changes, no closed form, and its optimum is found by a dense scan and a
//! local refinement to the granularity.

use arbkeep::engine::sizing::{SizeBounds, SizeSearch, SizingMode};
use arbkeep::model::Units;
use arbkeep::venue::sim::pool::{BPS, Pool, Side};
use rust_decimal::Decimal;
use std::hint::black_box;
use std::time::Instant;

const SEED: u64 = 0x5eed_0003_0128_8c0f;
const SCENARIOS: usize = 500;
const VCRED: Units = 1_000_000; // 6 decimals
const BUDGET: u32 = 32;
const TIMING_REPEATS: usize = 7;

/// xorshift64: a fixed, dependency-free stream of scenarios.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [lo, hi].
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[(self.next() % choices.len() as u64) as usize]
    }

    /// Log-uniform in [lo, hi]: pool depths span orders of magnitude.
    fn log_range(&mut self, lo: u64, hi: u64) -> u64 {
        let t = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((lo as f64) * ((hi as f64) / (lo as f64)).powf(t)) as u64
    }
}

/// One cross-chain loop as the keeper would see it at decision time.
struct Scenario {
    hemi_x: Pool,    // A = VCRED, B = X (X cheap here by `gap_bps`)
    eth: Pool,       // A = X, B = USDC (deep)
    hemi_usdc: Pool, // A = USDC, B = VCRED (about 1:1)
    bridge_bps: u128,
    fixed_fee: Units, // VCRED base units
    gap_bps: u64,
}

impl Scenario {
    fn generate(rng: &mut Rng) -> Self {
        // X is ETH-like, WBTC-like or XAUt-like: decimals and price in USDC.
        let (x_decimals, x_price) = match rng.next() % 3 {
            0 => (18u32, rng.range(2_000, 4_000)),
            1 => (8, rng.range(50_000, 100_000)),
            _ => (6, rng.range(2_000, 3_000)),
        };
        let x_one = 10u128.pow(x_decimals);
        let price = u128::from(x_price);
        let gap_bps = rng.range(100, 800);

        let hemi_depth = u128::from(rng.log_range(50_000, 2_000_000)); // VCRED
        let hemi_x = Pool::new(
            hemi_depth * VCRED,
            hemi_depth * x_one * BPS / (price * (BPS - u128::from(gap_bps))),
            30,
        );
        let eth_depth = u128::from(rng.log_range(20_000_000, 200_000_000)); // USDC
        let eth = Pool::new(
            eth_depth * x_one / price,
            eth_depth * VCRED,
            rng.pick(&[5, 30]),
        );
        let usdc_depth = u128::from(rng.log_range(200_000, 5_000_000));
        let skew_bps = u128::from(rng.range(9_970, 10_030)); // ±0.3 % off 1:1
        let hemi_usdc = Pool::new(
            usdc_depth * VCRED,
            usdc_depth * VCRED * skew_bps / BPS,
            rng.pick(&[5, 30]),
        );
        Self {
            hemi_x,
            eth,
            hemi_usdc,
            bridge_bps: u128::from(rng.range(0, 10)),
            fixed_fee: u128::from(rng.range(VCRED as u64, 40 * VCRED as u64)),
            gap_bps,
        }
    }

    /// Two providers per Hemi leg: second pools drawn from their own stream
    /// (the single-provider loops stay as they were), 0.2–3× as deep, at
    /// another fee, priced within ±0.5 % of the first.
    fn second_providers(&self, rng: &mut Rng) -> (Pool, Pool) {
        let scale = |p: &Pool, rng: &mut Rng, skew_bps: u128| {
            let k = u128::from(rng.range(200, 3_000)); // per mille
            Pool::new(
                p.reserve_a * k / 1_000,
                p.reserve_b * k / 1_000 * skew_bps / BPS,
                rng.pick(&[5, 30, 100]),
            )
        };
        let skew = u128::from(rng.range(9_950, 10_050));
        let x2 = scale(&self.hemi_x, rng, skew);
        let skew = u128::from(rng.range(9_950, 10_050));
        let usdc2 = scale(&self.hemi_usdc, rng, skew);
        (x2, usdc2)
    }

    /// Profit with the better of two providers on each Hemi leg.
    fn profit_best_of(&self, second: &(Pool, Pool), size: Units) -> Decimal {
        let x = self
            .hemi_x
            .amount_out(Side::AToB, size)
            .max(second.0.amount_out(Side::AToB, size));
        let x = self.bridge(x);
        let usdc = self.bridge(self.eth.amount_out(Side::AToB, x));
        let vcred = self
            .hemi_usdc
            .amount_out(Side::AToB, usdc)
            .max(second.1.amount_out(Side::AToB, usdc));
        let delta = vcred as i128 - size as i128 - self.fixed_fee as i128;
        Decimal::from_i128_with_scale(delta, 6)
    }

    fn bridge(&self, amount: Units) -> Units {
        amount * (BPS - self.bridge_bps) / BPS
    }

    /// Exact profit in VCRED of sending `size` VCRED round the loop.
    fn profit(&self, size: Units) -> Decimal {
        let x = self.bridge(self.hemi_x.amount_out(Side::AToB, size));
        let usdc = self.bridge(self.eth.amount_out(Side::AToB, x));
        let vcred = self.hemi_usdc.amount_out(Side::AToB, usdc);
        let delta = vcred as i128 - size as i128 - self.fixed_fee as i128;
        Decimal::from_i128_with_scale(delta, 6)
    }

    /// The optimal input of the loop, unclamped, from its closed form: a
    /// chain of constant-product hops is one constant-product curve with
    /// virtual reserves (Ea, Eb). Hops compose as
    /// Ea = a1·a2/(a2+γ·b1), Eb = γ·b1·b2/(a2+γ·b1), γ being the second
    /// hop's fee factor with the bridge fee that precedes it folded in; the
    /// result's own γ is the first hop's, and x* = (√(γ·Ea·Eb) − Ea)/γ.
    fn closed_form_optimum(&self) -> f64 {
        let fee = |pool: &Pool| 1.0 - f64::from(pool.fee_bps) / BPS as f64;
        let bridge = 1.0 - self.bridge_bps as f64 / BPS as f64;
        let hops = [
            (
                self.eth.reserve_a as f64,
                self.eth.reserve_b as f64,
                fee(&self.eth) * bridge,
            ),
            (
                self.hemi_usdc.reserve_a as f64,
                self.hemi_usdc.reserve_b as f64,
                fee(&self.hemi_usdc) * bridge,
            ),
        ];
        let gamma = fee(&self.hemi_x);
        let (mut ea, mut eb) = (self.hemi_x.reserve_a as f64, self.hemi_x.reserve_b as f64);
        for (a2, b2, g2) in hops {
            let d = a2 + g2 * eb;
            (ea, eb) = (ea * a2 / d, g2 * eb * b2 / d);
        }
        ((gamma * ea * eb).sqrt() - ea) / gamma
    }
}

fn bounds() -> SizeBounds {
    SizeBounds {
        min: 100 * VCRED,
        max: 200_000 * VCRED,
        start: 1_000 * VCRED,
        granularity: VCRED,
    }
}

/// The optimum as exactly priced: the closed form rounded and clamped, and
/// its neighbours a few granularities either side, since integer rounding
/// can move the exact top by a unit.
fn exact_optimum(s: &Scenario) -> (Units, Decimal) {
    let b = bounds();
    let x_star = s.closed_form_optimum();
    let centre = if x_star.is_finite() && x_star > 0.0 {
        x_star.round() as Units
    } else {
        0
    };
    (-3i128..=3)
        .map(|k| {
            let x = (centre as i128 + k * b.granularity as i128).max(0) as Units;
            x.clamp(b.min, b.max)
        })
        .map(|x| (x, s.profit(x)))
        .fold((b.min, s.profit(b.min)), |best, cand| {
            if cand.1 > best.1 { cand } else { best }
        })
}

/// The optimum of a curve without a closed form: a dense geometric scan of
/// the bounds, then a local search halving its step down to the granularity.
fn scanned_optimum(profit: impl Fn(Units) -> Decimal) -> (Units, Decimal) {
    let b = bounds();
    let g = b.granularity;
    let snap = |x: f64| ((x / g as f64).round() as Units * g).clamp(b.min, b.max);
    let points = 4_000;
    let ratio = (b.max as f64 / b.min as f64).powf(1.0 / points as f64);
    let mut best = (b.min, profit(b.min));
    for i in 0..=points {
        let x = snap(b.min as f64 * ratio.powi(i));
        let p = profit(x);
        if p > best.1 {
            best = (x, p);
        }
    }
    let mut step = (best.0 as f64 * (ratio - 1.0)).max(g as f64) as Units / g * g;
    while step >= g {
        let mut moved = false;
        for x in [best.0.saturating_sub(step), best.0 + step] {
            let x = x.clamp(b.min, b.max);
            let p = profit(x);
            if p > best.1 {
                best = (x, p);
                moved = true;
            }
        }
        if !moved {
            step /= 2;
        }
    }
    best
}

/// Runs one decision; returns the best point and the probes it took.
fn decide(
    mode: SizingMode,
    mut profit: impl FnMut(Units) -> Decimal,
) -> (Option<(Units, Decimal)>, u32) {
    let mut search = match SizeSearch::new(mode, bounds(), Decimal::ZERO, BUDGET) {
        Ok(search) => search,
        Err(e) => panic!("bench bounds are valid: {e}"),
    };
    while let Some(size) = search.next_probe() {
        search.observe(size, profit(size));
    }
    let outcome = search.outcome();
    (outcome.best, outcome.probes)
}

/// Median ns of `TIMING_REPEATS` runs of `f`.
fn time_ns(mut f: impl FnMut()) -> u128 {
    let mut samples: Vec<u128> = (0..TIMING_REPEATS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// The element at quantile `q` of a sorted slice (lower of two middles).
fn quantile<T: Copy>(sorted: &[T], q: f64) -> T {
    sorted[((sorted.len() - 1) as f64 * q).floor() as usize]
}

#[derive(Default)]
struct ModeStats {
    probes: Vec<u32>,
    captures: Vec<Decimal>,
    none: usize,
    over_16: usize,
    search_ns: Vec<u128>,
    decision_ns: Vec<u128>,
    worst: Option<Worst>,
}

/// The decision that captured least, to show what "min" means.
#[derive(Clone, Copy)]
struct Worst {
    capture: Decimal,
    optimum: Decimal,
    found: Option<(Units, Decimal)>,
    probes: u32,
}

impl ModeStats {
    fn record(&mut self, profit: impl Fn(Units) -> Decimal, mode: SizingMode, optimum: Decimal) {
        let mut answers = Vec::new();
        let (best, probes) = decide(mode, |x| {
            let p = profit(x);
            answers.push((x, p));
            p
        });
        self.probes.push(probes);
        self.over_16 += usize::from(probes > 16);
        let captured = best.map_or(Decimal::ZERO, |(_, p)| p);
        self.none += usize::from(best.is_none());
        self.captures.push(captured / optimum);
        let capture = captured / optimum;
        if self.worst.is_none_or(|w| capture < w.capture) {
            self.worst = Some(Worst {
                capture,
                optimum,
                found: best,
                probes,
            });
        }

        // The search's own cost: replay the same answers from memory, so
        // quoting is not timed; then the whole decision with sim quotes.
        let recorded = |x: Units| {
            answers
                .iter()
                .find(|(ax, _)| *ax == x)
                .map_or(Decimal::ZERO, |(_, p)| *p)
        };
        self.search_ns.push(time_ns(|| {
            black_box(decide(mode, recorded));
        }));
        self.decision_ns.push(time_ns(|| {
            black_box(decide(mode, &profit));
        }));
    }

    fn row(&mut self, name: &str) -> String {
        self.probes.sort_unstable();
        self.captures.sort_unstable();
        self.search_ns.sort_unstable();
        self.decision_ns.sort_unstable();
        let p = &self.probes;
        let c = &self.captures;
        format!(
            "{name:<11} {:>9}  {:>3} {:>3} {:>3} {:>5}   {:>6} {:>6} {:>6}  {:>4}  {:>10} {:>10}",
            p.len(),
            quantile(p, 0.5),
            quantile(p, 0.9),
            p[p.len() - 1],
            self.over_16,
            c[0].round_dp(4),
            quantile(c, 0.1).round_dp(4),
            quantile(c, 0.5).round_dp(4),
            self.none,
            quantile(&self.search_ns, 0.5),
            quantile(&self.decision_ns, 0.5),
        )
    }
}

fn main() {
    let mut rng = Rng(SEED);
    let scenarios: Vec<Scenario> = (0..SCENARIOS)
        .map(|_| Scenario::generate(&mut rng))
        .collect();

    let mut max_profit = ModeStats::default();
    let mut max_size = ModeStats::default();
    let mut idle_probes: Vec<(u32, u32)> = Vec::new();
    let mut optimal_sizes: Vec<Units> = Vec::new();
    let mut gaps_profitable: Vec<u64> = Vec::new();

    for s in &scenarios {
        let (x_opt, p_opt) = exact_optimum(s);
        if p_opt <= Decimal::ZERO {
            // No opportunity: what does finding nothing cost?
            let (a, pa) = decide(SizingMode::MaxProfit, |x| s.profit(x));
            let (b, pb) = decide(SizingMode::MaxSize, |x| s.profit(x));
            assert!(
                a.is_none() && b.is_none(),
                "nothing beats a non-positive optimum"
            );
            idle_probes.push((pa, pb));
            continue;
        }
        optimal_sizes.push(x_opt);
        gaps_profitable.push(s.gap_bps);
        max_profit.record(|x| s.profit(x), SizingMode::MaxProfit, p_opt);
        max_size.record(|x| s.profit(x), SizingMode::MaxSize, p_opt);
    }

    // The same loops with two providers on each Hemi leg.
    let mut second_rng = Rng(SEED ^ 0x0002_5057_4150);
    let mut two_providers = ModeStats::default();
    let mut beyond_scan = 0usize;
    for s in &scenarios {
        let second = s.second_providers(&mut second_rng);
        let profit = |x| s.profit_best_of(&second, x);
        let (_, p_opt) = scanned_optimum(profit);
        if p_opt <= Decimal::ZERO {
            continue;
        }
        two_providers.record(profit, SizingMode::MaxProfit, p_opt);
        let found = two_providers.captures.last().copied().unwrap_or_default();
        beyond_scan += usize::from(found > Decimal::ONE);
    }

    optimal_sizes.sort_unstable();
    gaps_profitable.sort_unstable();
    println!(
        "sizing bench: {SCENARIOS} loops (seed {SEED:#x}), {} with a positive optimum, {} without",
        optimal_sizes.len(),
        idle_probes.len()
    );
    println!(
        "bounds 100..200000 VCRED, start 1000, granularity 1 VCRED, floor 0, budget {BUDGET}; \
         optimal size p10/p50/p90 = {}/{}/{} VCRED",
        quantile(&optimal_sizes, 0.1) / VCRED,
        quantile(&optimal_sizes, 0.5) / VCRED,
        quantile(&optimal_sizes, 0.9) / VCRED,
    );
    println!(
        "(a probe is one round-trip quote: three swap quotes; capture = profit found / optimum's)"
    );
    println!();
    println!(
        "mode        decisions  probes p50/p90/max/>16   capture min/p10/p50   none  search ns   +sim ns"
    );
    println!("{}", max_profit.row("max_profit"));
    println!("{}", max_size.row("max_size"));
    let two_decisions = two_providers.probes.len();
    println!("{}", two_providers.row("two_prov"));
    if !idle_probes.is_empty() {
        let mut a: Vec<u32> = idle_probes.iter().map(|p| p.0).collect();
        let mut b: Vec<u32> = idle_probes.iter().map(|p| p.1).collect();
        a.sort_unstable();
        b.sort_unstable();
        println!(
            "no opportunity ({} loops): probes to find nothing p50/max  max_profit {}/{}  max_size {}/{}",
            idle_probes.len(),
            quantile(&a, 0.5),
            a[a.len() - 1],
            quantile(&b, 0.5),
            b[b.len() - 1],
        );
    }
    if let Some(w) = max_profit.worst {
        let found = w.found.map_or("nothing".to_string(), |(x, p)| {
            format!("{p} VCRED at {}", arbkeep::model::format_units(x, 6))
        });
        println!(
            "worst max_profit decision: optimum {} VCRED, found {found} in {} probes (capture {})",
            w.optimum,
            w.probes,
            w.capture.round_dp(4)
        );
    }
    println!(
        "two_prov: max_profit over the same loops with two providers on each Hemi leg \
         (each probe asks both: five swap quotes), {two_decisions} with a positive optimum, \
         against a scanned optimum ({beyond_scan} decisions beat the scan)"
    );
    println!(
        "BENCH sizing quotes_median={} capture_median={} seed_rule_capture_median={} two_provider_quotes_median={} two_provider_capture_median={} two_provider_capture_p10={}",
        quantile(&max_profit.probes, 0.5),
        quantile(&max_profit.captures, 0.5).round_dp(4),
        quantile(&max_size.captures, 0.5).round_dp(4),
        quantile(&two_providers.probes, 0.5),
        quantile(&two_providers.captures, 0.5).round_dp(4),
        quantile(&two_providers.captures, 0.1).round_dp(4),
    );
}
