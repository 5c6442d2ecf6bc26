//! The paper world's markets: reference prices in USDC, gas prices on both
//! chains, and every constant-product pool (Hemi: VCRED/X and USDC/VCRED;
//! Ethereum: X/USDC). Owns how they move in one epoch — a seeded random walk
//! of the references, other traders' flow on Hemi, other arbitrageurs pulling
//! prices back — and routes exact-in quotes and swaps through the pools.
//!
//! Prices are integers: micro-USDC (USDC base units) per whole token. Values
//! are micro-USDC. Nothing here uses floating point.

use super::pool::{Pool, Side};
use super::rng::{Dice, Stream};
use crate::model::intent::units_str;
use crate::model::time::MINUTE;
use crate::model::{Chain, TokenId, Units};
use serde::{Deserialize, Serialize};

/// The world moves in steps of this much simulated time.
pub const EPOCH_MS: u64 = MINUTE;
/// Every pool charges 0.30 %.
pub const POOL_FEE_BPS: u32 = 30;
pub const GWEI: Units = 1_000_000_000;
/// One USDC in base units: prices are quoted in these.
pub const MICRO: Units = 1_000_000;
const PPM: i128 = 1_000_000;

/// One pool on one chain; `a` and `b` name the tokens behind its reserves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub chain: Chain,
    pub a: TokenId,
    pub b: TokenId,
    pub pool: Pool,
}

/// A token's reference price: what it trades for on the deep markets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefPrice {
    pub token: TokenId,
    #[serde(with = "units_str")]
    pub micro_usdc: Units,
}

/// A chain's current gas price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasPrice {
    pub chain: Chain,
    #[serde(with = "units_str")]
    pub wei: Units,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Market {
    pub listings: Vec<Listing>,
    pub prices: Vec<RefPrice>,
    pub gas: Vec<GasPrice>,
}

/// The pair has no pool (directly or through the chain's hub token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRoute;

/// How one token's reference price wanders.
struct Walk {
    token: TokenId,
    /// Where it starts and what it drifts back to, in whole USDC.
    anchor_usdc: u64,
    /// Standard deviation of one epoch's move, parts per million.
    sigma_ppm: u64,
    /// Share of the distance to the anchor closed each epoch, ppm: keeps a
    /// months-long paper run in a sensible range.
    revert_ppm: i128,
}

// The three BTC wrappers share one BTC move per epoch (see `step_prices`).
const WALKS: [Walk; 8] = [
    Walk {
        token: TokenId::Eth,
        anchor_usdc: 3_000,
        sigma_ppm: 800,
        revert_ppm: 200,
    },
    Walk {
        token: TokenId::Wbtc,
        anchor_usdc: 90_000,
        sigma_ppm: 650,
        revert_ppm: 200,
    },
    Walk {
        token: TokenId::HemiBtc,
        anchor_usdc: 90_000,
        sigma_ppm: 650,
        revert_ppm: 200,
    },
    Walk {
        token: TokenId::CbBtc,
        anchor_usdc: 90_000,
        sigma_ppm: 650,
        revert_ppm: 200,
    },
    Walk {
        token: TokenId::Xaut,
        anchor_usdc: 2_600,
        sigma_ppm: 300,
        revert_ppm: 200,
    },
    Walk {
        token: TokenId::Vusd,
        anchor_usdc: 1,
        sigma_ppm: 30,
        revert_ppm: 20_000,
    },
    Walk {
        token: TokenId::Vcred,
        anchor_usdc: 1,
        sigma_ppm: 30,
        revert_ppm: 20_000,
    },
    Walk {
        token: TokenId::Weth,
        anchor_usdc: 3_000,
        sigma_ppm: 800,
        revert_ppm: 200,
    },
];

/// Pool depth per loop token: Hemi's VCRED side, Ethereum's USDC side (whole units).
const DEPTHS: [(TokenId, u64, u64); 6] = [
    (TokenId::Eth, 2_000_000, 60_000_000),
    (TokenId::Wbtc, 1_000_000, 40_000_000),
    (TokenId::HemiBtc, 1_500_000, 15_000_000),
    (TokenId::CbBtc, 1_000_000, 30_000_000),
    (TokenId::Xaut, 1_000_000, 15_000_000),
    (TokenId::Vusd, 1_500_000, 10_000_000),
];
/// The USDC/VCRED pool on Hemi, USDC side.
const USDC_VCRED_DEPTH: u64 = 2_000_000;

/// Other traders on Hemi's VCRED/X pools, per epoch: the chance of a large
/// seller dumping X (the keeper's opportunity) and of a large buyer, ppm.
const BIG_SELL_PPM: u64 = 7_000;
const BIG_BUY_PPM: u64 = 4_000;
/// A large trade's size, in ppm of the pool's VCRED side.
const BIG_TRADE_MIN_PPM: u64 = 6_000;
const BIG_TRADE_MAX_PPM: u64 = 25_000;
/// Small two-way flow every epoch: up to this share of the pool's value, ppm.
const SMALL_FLOW_PPM: u64 = 1_000;
/// Other arbitrageurs close this share of the gap each epoch, beyond a dead
/// band where the pool's fee leaves them nothing: gaps decay over tens of minutes.
const REVERSION_PPM: i128 = 40_000;
const DEAD_BAND_PPM: i128 = 2_000;
/// The USDC/VCRED pool is a stable pair watched closely.
const STABLE_FLOW_PPM: u64 = 300;
const STABLE_REVERSION_PPM: i128 = 150_000;

impl Market {
    /// The markets at genesis: every pool at its reference price.
    pub fn genesis() -> Market {
        let prices = WALKS
            .iter()
            .map(|w| RefPrice {
                token: w.token,
                micro_usdc: Units::from(w.anchor_usdc) * MICRO,
            })
            .chain(std::iter::once(RefPrice {
                token: TokenId::Usdc,
                micro_usdc: MICRO,
            }))
            .collect();
        let gas = vec![
            GasPrice {
                chain: Chain::Hemi,
                wei: HEMI_GAS.anchor,
            },
            GasPrice {
                chain: Chain::Ethereum,
                wei: ETHEREUM_GAS.anchor,
            },
        ];
        let mut market = Market {
            listings: Vec::new(),
            prices,
            gas,
        };
        for (token, hemi_vcred, eth_usdc) in DEPTHS {
            let vcred = Units::from(hemi_vcred) * MICRO;
            let x_hemi = market.units_of(token, vcred).unwrap_or(0);
            market.listings.push(Listing {
                chain: Chain::Hemi,
                a: TokenId::Vcred,
                b: token,
                pool: Pool::new(vcred, x_hemi, POOL_FEE_BPS),
            });
            let usdc = Units::from(eth_usdc) * MICRO;
            let x_eth = market.units_of(token, usdc).unwrap_or(0);
            market.listings.push(Listing {
                chain: Chain::Ethereum,
                a: token,
                b: TokenId::Usdc,
                pool: Pool::new(x_eth, usdc, POOL_FEE_BPS),
            });
        }
        let usdc = Units::from(USDC_VCRED_DEPTH) * MICRO;
        market.listings.push(Listing {
            chain: Chain::Hemi,
            a: TokenId::Usdc,
            b: TokenId::Vcred,
            pool: Pool::new(usdc, usdc, POOL_FEE_BPS),
        });
        market
    }

    /// Reference price of a whole token in micro-USDC (0 if it has none).
    pub fn price(&self, token: TokenId) -> Units {
        self.prices
            .iter()
            .find(|p| p.token == token)
            .map_or(0, |p| p.micro_usdc)
    }

    pub fn gas_price(&self, chain: Chain) -> Units {
        self.gas
            .iter()
            .find(|g| g.chain == chain)
            .map_or(0, |g| g.wei)
    }

    /// Value of `units` of `token` at its reference, micro-USDC.
    pub fn value_of(&self, token: TokenId, units: Units) -> Option<Units> {
        units
            .checked_mul(self.price(token))
            .map(|v| v / token.one())
    }

    /// How many base units of `token` are worth `micro_usdc` at its reference.
    pub fn units_of(&self, token: TokenId, micro_usdc: Units) -> Option<Units> {
        let price = self.price(token);
        if price == 0 {
            return None;
        }
        micro_usdc.checked_mul(token.one()).map(|v| v / price)
    }

    /// Advance the markets by one epoch. The draws come from (seed, epoch)
    /// only, in a fixed order: the path is the same however the world is polled.
    pub fn step(&mut self, seed: u64, epoch: u64) {
        let mut dice = Dice::new(seed, Stream::Epoch, epoch);
        self.step_prices(&mut dice);
        self.step_gas(&mut dice);
        for i in 0..self.listings.len() {
            let listing = &self.listings[i];
            match (listing.chain, listing.a, listing.b) {
                (Chain::Ethereum, _, _) => self.rebalance(i),
                (Chain::Hemi, TokenId::Usdc, TokenId::Vcred) => {
                    self.flow(i, &mut dice, STABLE_FLOW_PPM);
                    self.revert(i, STABLE_REVERSION_PPM, 0);
                }
                (Chain::Hemi, _, _) => {
                    self.shock(i, &mut dice);
                    self.flow(i, &mut dice, SMALL_FLOW_PPM);
                    self.revert(i, REVERSION_PPM, DEAD_BAND_PPM);
                }
            }
        }
    }

    fn step_prices(&mut self, dice: &mut Dice) {
        // One BTC move for the three wrappers, then each its own small basis wobble.
        let btc = dice.wobble(650);
        for walk in &WALKS {
            let z = match walk.token {
                TokenId::Wbtc | TokenId::HemiBtc | TokenId::CbBtc => btc + dice.wobble(30),
                _ => dice.wobble(walk.sigma_ppm),
            };
            let anchor = Units::from(walk.anchor_usdc) * MICRO;
            if let Some(p) = self.prices.iter_mut().find(|p| p.token == walk.token) {
                p.micro_usdc = wander(p.micro_usdc, anchor, z, walk.revert_ppm, 1, Units::MAX);
            }
        }
    }

    fn step_gas(&mut self, dice: &mut Dice) {
        for (chain, model) in [(Chain::Hemi, HEMI_GAS), (Chain::Ethereum, ETHEREUM_GAS)] {
            let z = dice.wobble(model.sigma_ppm);
            if let Some(g) = self.gas.iter_mut().find(|g| g.chain == chain) {
                g.wei = wander(
                    g.wei,
                    model.anchor,
                    z,
                    model.revert_ppm,
                    model.floor,
                    model.cap,
                );
            }
        }
    }

    /// Reference value of each side of a pool, micro-USDC.
    fn side_values(&self, i: usize) -> Option<(Units, Units)> {
        let l = &self.listings[i];
        Some((
            self.value_of(l.a, l.pool.reserve_a)?,
            self.value_of(l.b, l.pool.reserve_b)?,
        ))
    }

    /// Someone outside sells `token` worth `micro_usdc` into pool `i`.
    fn outside_sale(&mut self, i: usize, token: TokenId, micro_usdc: Units) {
        let Some(amount) = self.units_of(token, micro_usdc) else {
            return;
        };
        let l = &mut self.listings[i];
        let side = if token == l.a { Side::AToB } else { Side::BToA };
        l.pool.swap(side, amount);
    }

    /// Ethereum's deep pools: arbitrageurs bring the price to the reference
    /// each epoch; the pool keeps its total value.
    fn rebalance(&mut self, i: usize) {
        let Some((va, vb)) = self.side_values(i) else {
            return;
        };
        let half = (va + vb) / 2;
        let (a, b) = (self.listings[i].a, self.listings[i].b);
        if let (Some(ra), Some(rb)) = (self.units_of(a, half), self.units_of(b, half))
            && ra > 0
            && rb > 0
        {
            self.listings[i].pool.reserve_a = ra;
            self.listings[i].pool.reserve_b = rb;
        }
    }

    /// A large seller (X gets cheap on Hemi) or buyer arrives now and then.
    fn shock(&mut self, i: usize, dice: &mut Dice) {
        let Some((va, _)) = self.side_values(i) else {
            return;
        };
        let sell = dice.chance_ppm(BIG_SELL_PPM);
        let buy = dice.chance_ppm(BIG_BUY_PPM);
        let size_ppm = Units::from(dice.between(BIG_TRADE_MIN_PPM, BIG_TRADE_MAX_PPM));
        let size = va / 1_000_000 * size_ppm;
        let (vcred, x) = (self.listings[i].a, self.listings[i].b);
        if sell {
            self.outside_sale(i, x, size);
        } else if buy {
            self.outside_sale(i, vcred, size);
        }
    }

    /// Small trades either way, up to `max_ppm` of one side's value.
    fn flow(&mut self, i: usize, dice: &mut Dice, max_ppm: u64) {
        let Some((va, _)) = self.side_values(i) else {
            return;
        };
        let draw = dice
            .wobble(max_ppm / 2)
            .clamp(-(max_ppm as i64), max_ppm as i64);
        let size = va / 1_000_000 * Units::from(draw.unsigned_abs());
        let (a, b) = (self.listings[i].a, self.listings[i].b);
        self.outside_sale(i, if draw < 0 { a } else { b }, size);
    }

    /// Other arbitrageurs: buy the cheap side until `share_ppm` of the gap
    /// beyond the dead band is closed.
    fn revert(&mut self, i: usize, share_ppm: i128, band_ppm: i128) {
        let Some((va, vb)) = self.side_values(i) else {
            return;
        };
        let (Ok(va), Ok(vb)) = (i128::try_from(va), i128::try_from(vb)) else {
            return;
        };
        let mid = (va + vb) / 2;
        if mid == 0 {
            return;
        }
        let gap = va - vb;
        let band = mid * band_ppm / PPM;
        let excess = if gap > band {
            gap - band
        } else if gap < -band {
            gap + band
        } else {
            return;
        };
        // Selling value v of the scarce side moves the gap by about 2v.
        let v = (excess * share_ppm / PPM / 2).unsigned_abs();
        let (a, b) = (self.listings[i].a, self.listings[i].b);
        self.outside_sale(i, if excess > 0 { b } else { a }, v);
    }

    /// How far token `b` of pool `i` sits below (+) or above (−) its
    /// reference in that pool, ppm: positive means cheap there.
    pub fn discount_ppm(&self, i: usize) -> i128 {
        let Some((va, vb)) = self.side_values(i) else {
            return 0;
        };
        let (Ok(va), Ok(vb)) = (i128::try_from(va), i128::try_from(vb)) else {
            return 0;
        };
        if vb == 0 {
            return 0;
        }
        (vb - va) * PPM / vb
    }

    /// The pool of `chain` that trades `x` against `y`, and the side that pays `x`.
    fn hop(&self, chain: Chain, x: TokenId, y: TokenId) -> Option<(usize, Side)> {
        self.listings
            .iter()
            .position(|l| l.chain == chain && l.a == x && l.b == y)
            .map_or_else(
                || {
                    self.listings
                        .iter()
                        .position(|l| l.chain == chain && l.a == y && l.b == x)
                        .map(|i| (i, Side::BToA))
                },
                |i| Some((i, Side::AToB)),
            )
    }

    /// The pools a swap goes through: direct, or via the chain's hub token
    /// (VCRED on Hemi, USDC on Ethereum).
    pub fn route(
        &self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
    ) -> Result<Vec<(usize, Side)>, NoRoute> {
        if token_in == token_out {
            return Err(NoRoute);
        }
        if let Some(hop) = self.hop(chain, token_in, token_out) {
            return Ok(vec![hop]);
        }
        let hub = match chain {
            Chain::Hemi => TokenId::Vcred,
            Chain::Ethereum => TokenId::Usdc,
        };
        match (
            self.hop(chain, token_in, hub),
            self.hop(chain, hub, token_out),
        ) {
            (Some(first), Some(second)) => Ok(vec![first, second]),
            _ => Err(NoRoute),
        }
    }

    /// Exact-in quote; moves nothing.
    pub fn quote(
        &self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
    ) -> Result<Units, NoRoute> {
        let route = self.route(chain, token_in, token_out)?;
        Ok(route.iter().fold(amount_in, |amount, &(i, side)| {
            self.listings[i].pool.amount_out(side, amount)
        }))
    }

    /// Exact-in swap: moves the pools, returns what comes out.
    pub fn swap(
        &mut self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
    ) -> Result<Units, NoRoute> {
        let route = self.route(chain, token_in, token_out)?;
        Ok(route.iter().fold(amount_in, |amount, &(i, side)| {
            self.listings[i].pool.swap(side, amount)
        }))
    }

    /// Index of the Hemi VCRED/X pool of a loop token.
    pub fn hemi_pool_of(&self, x: TokenId) -> Option<usize> {
        self.listings
            .iter()
            .position(|l| l.chain == Chain::Hemi && l.a == TokenId::Vcred && l.b == x)
    }
}

/// How a chain's gas price wanders, in wei.
#[derive(Clone, Copy)]
struct GasModel {
    anchor: Units,
    floor: Units,
    cap: Units,
    sigma_ppm: u64,
    revert_ppm: i128,
}

const HEMI_GAS: GasModel = GasModel {
    anchor: 1_300_000_000,
    floor: GWEI,
    cap: 2_500_000_000,
    sigma_ppm: 20_000,
    revert_ppm: 20_000,
};
const ETHEREUM_GAS: GasModel = GasModel {
    anchor: 15 * GWEI,
    floor: 5 * GWEI,
    cap: 40 * GWEI,
    sigma_ppm: 40_000,
    revert_ppm: 10_000,
};

/// One step of a mean-reverting multiplicative walk, kept within [floor, cap].
fn wander(
    value: Units,
    anchor: Units,
    z_ppm: i64,
    revert_ppm: i128,
    floor: Units,
    cap: Units,
) -> Units {
    let (Ok(v), Ok(a)) = (i128::try_from(value), i128::try_from(anchor)) else {
        return value;
    };
    let next = v + v * i128::from(z_ppm) / PPM + (a - v) * revert_ppm / PPM;
    Units::try_from(next.max(1))
        .unwrap_or(value)
        .clamp(floor, cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_pools_sit_at_their_references() {
        let m = Market::genesis();
        assert_eq!(m.listings.len(), 13);
        for i in 0..m.listings.len() {
            assert!(
                m.discount_ppm(i).abs() < 10,
                "pool {i} off by {}",
                m.discount_ppm(i)
            );
        }
        // 1 ETH on Ethereum fetches about 3000 USDC less 0.3 %.
        let out = m
            .quote(
                Chain::Ethereum,
                TokenId::Eth,
                TokenId::Usdc,
                TokenId::Eth.one(),
            )
            .unwrap();
        assert!(out > 2_980 * MICRO && out < 2_992 * MICRO, "{out}");
    }

    #[test]
    fn routes_go_direct_or_through_the_hub() {
        let m = Market::genesis();
        assert_eq!(
            m.route(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            m.route(Chain::Hemi, TokenId::Usdc, TokenId::Vcred)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            m.route(Chain::Hemi, TokenId::Eth, TokenId::Usdc)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            m.route(Chain::Ethereum, TokenId::Wbtc, TokenId::Eth)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            m.route(Chain::Ethereum, TokenId::Vcred, TokenId::Usdc),
            Err(NoRoute)
        );
        assert_eq!(
            m.route(Chain::Hemi, TokenId::Weth, TokenId::Vcred),
            Err(NoRoute)
        );
        assert_eq!(
            m.route(Chain::Hemi, TokenId::Vcred, TokenId::Vcred),
            Err(NoRoute)
        );
    }

    #[test]
    fn quote_equals_the_swap_it_predicts() {
        let mut m = Market::genesis();
        let amount = 5_000 * MICRO;
        let q = m
            .quote(Chain::Hemi, TokenId::Usdc, TokenId::Eth, amount)
            .unwrap();
        let s = m
            .swap(Chain::Hemi, TokenId::Usdc, TokenId::Eth, amount)
            .unwrap();
        assert_eq!(q, s);
        assert!(
            m.quote(Chain::Hemi, TokenId::Usdc, TokenId::Eth, amount)
                .unwrap()
                < q
        );
    }

    #[test]
    fn steps_are_a_function_of_seed_and_epoch() {
        let (mut a, mut b) = (Market::genesis(), Market::genesis());
        for e in 0..500 {
            a.step(9, e);
            b.step(9, e);
        }
        assert_eq!(a, b);
        let mut c = Market::genesis();
        for e in 0..500 {
            c.step(10, e);
        }
        assert_ne!(a, c);
    }

    #[test]
    fn gas_stays_in_its_band_and_prices_stay_sane() {
        let mut m = Market::genesis();
        for e in 0..20_000 {
            m.step(1, e);
            let hemi = m.gas_price(Chain::Hemi);
            let eth = m.gas_price(Chain::Ethereum);
            assert!((GWEI..=2_500_000_000).contains(&hemi));
            assert!((5 * GWEI..=40 * GWEI).contains(&eth));
        }
        let eth = m.price(TokenId::Eth) / MICRO;
        assert!((1_500..6_000).contains(&eth), "ETH at {eth}");
        let vcred = m.price(TokenId::Vcred);
        assert!((990_000..1_010_000).contains(&vcred), "VCRED at {vcred}");
        let i = m
            .listings
            .iter()
            .position(|l| l.a == TokenId::Usdc)
            .unwrap();
        assert!(
            m.discount_ppm(i).abs() < 5_000,
            "USDC/VCRED off by {}",
            m.discount_ppm(i)
        );
    }

    #[test]
    fn hemi_gaps_open_and_decay() {
        let mut m = Market::genesis();
        let i = m.hemi_pool_of(TokenId::Wbtc).unwrap();
        let mut widest = 0;
        let mut over_two_percent = 0;
        let mut longest = 0;
        let mut run = 0;
        for e in 0..(3 * 1440) {
            m.step(5, e);
            let d = m.discount_ppm(i);
            widest = widest.max(d);
            run = if d > 20_000 { run + 1 } else { 0 };
            longest = longest.max(run);
            if d > 20_000 {
                over_two_percent += 1;
            }
        }
        assert!(widest > 30_000, "widest discount {widest} ppm");
        assert!(
            over_two_percent < 3 * 1440 / 10,
            "{over_two_percent} epochs over 2 %"
        );
        // Other arbitrageurs close a gap within tens of minutes, not hours.
        assert!(
            (3..90).contains(&longest),
            "longest run over 2 %: {longest} epochs"
        );
    }
}
