//! A constant-product pool (Uniswap V2 arithmetic, integer base units), the
//! building block of the paper world's exchanges and of the sizing bench.

use crate::model::Units;
use serde::{Deserialize, Serialize};

/// Fee denominator: fees are in parts per 10 000 (30 = 0.30 %).
pub const BPS: u128 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Reserve of the pool's first token.
    #[serde(with = "crate::model::intent::units_str")]
    pub reserve_a: Units,
    /// Reserve of the pool's second token.
    #[serde(with = "crate::model::intent::units_str")]
    pub reserve_b: Units,
    pub fee_bps: u32,
}

/// Which way a trade goes through a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Pay token A, receive token B.
    AToB,
    /// Pay token B, receive token A.
    BToA,
}

impl Pool {
    pub fn new(reserve_a: Units, reserve_b: Units, fee_bps: u32) -> Self {
        Self {
            reserve_a,
            reserve_b,
            fee_bps,
        }
    }

    fn reserves(&self, side: Side) -> (Units, Units) {
        match side {
            Side::AToB => (self.reserve_a, self.reserve_b),
            Side::BToA => (self.reserve_b, self.reserve_a),
        }
    }

    /// Uniswap V2 `getAmountOut`: exact, rounds down, never panics.
    pub fn amount_out(&self, side: Side, amount_in: Units) -> Units {
        let (r_in, r_out) = self.reserves(side);
        if amount_in == 0 || r_in == 0 || r_out == 0 {
            return 0;
        }
        let gamma = BPS - u128::from(self.fee_bps);
        // Work in 256-bit via a split to avoid overflow with 18-decimal reserves.
        let in_with_fee = U256::from(amount_in).mul_small(gamma);
        let numerator = in_with_fee.mul(U256::from(r_out));
        let denominator = U256::from(r_in).mul_small(BPS).add(in_with_fee);
        numerator.div(denominator).low_u128()
    }

    /// Apply a trade and return what it paid out.
    pub fn swap(&mut self, side: Side, amount_in: Units) -> Units {
        let out = self.amount_out(side, amount_in);
        match side {
            Side::AToB => {
                self.reserve_a = self.reserve_a.saturating_add(amount_in);
                self.reserve_b = self.reserve_b.saturating_sub(out);
            }
            Side::BToA => {
                self.reserve_b = self.reserve_b.saturating_add(amount_in);
                self.reserve_a = self.reserve_a.saturating_sub(out);
            }
        }
        out
    }
}

/// Just enough unsigned 256-bit arithmetic for `amount_out` (two u128 limbs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct U256 {
    hi: u128,
    lo: u128,
}

impl U256 {
    fn from(v: u128) -> Self {
        Self { hi: 0, lo: v }
    }

    fn low_u128(self) -> u128 {
        if self.hi == 0 { self.lo } else { u128::MAX }
    }

    fn add(self, o: Self) -> Self {
        let (lo, carry) = self.lo.overflowing_add(o.lo);
        Self {
            hi: self.hi.wrapping_add(o.hi).wrapping_add(u128::from(carry)),
            lo,
        }
    }

    fn mul_small(self, m: u128) -> Self {
        self.mul(U256::from(m))
    }

    /// Product truncated to 256 bits (inputs here never exceed that).
    fn mul(self, o: Self) -> Self {
        const MASK: u128 = u64::MAX as u128;
        let (a0, a1) = (self.lo & MASK, self.lo >> 64);
        let (b0, b1) = (o.lo & MASK, o.lo >> 64);
        let p00 = a0 * b0;
        let p01 = a0 * b1;
        let p10 = a1 * b0;
        let p11 = a1 * b1;
        let mid = (p00 >> 64) + (p01 & MASK) + (p10 & MASK);
        let lo = (p00 & MASK) | (mid << 64);
        let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
        let hi = hi
            .wrapping_add(self.hi.wrapping_mul(o.lo))
            .wrapping_add(self.lo.wrapping_mul(o.hi));
        Self { hi, lo }
    }

    fn shl1(self) -> Self {
        Self {
            hi: (self.hi << 1) | (self.lo >> 127),
            lo: self.lo << 1,
        }
    }

    fn sub(self, o: Self) -> Self {
        let (lo, borrow) = self.lo.overflowing_sub(o.lo);
        Self {
            hi: self.hi.wrapping_sub(o.hi).wrapping_sub(u128::from(borrow)),
            lo,
        }
    }

    /// Long division, bit by bit; the divisor is never zero here.
    fn div(self, d: Self) -> Self {
        if d.hi == 0 && self.hi == 0 {
            return U256::from(self.lo / d.lo.max(1));
        }
        let mut q = U256::from(0);
        let mut r = U256::from(0);
        for i in (0..256).rev() {
            r = r.shl1();
            let bit = if i >= 128 {
                (self.hi >> (i - 128)) & 1
            } else {
                (self.lo >> i) & 1
            };
            r.lo |= bit;
            if r >= d {
                r = r.sub(d);
                if i >= 128 {
                    q.hi |= 1 << (i - 128);
                } else {
                    q.lo |= 1 << i;
                }
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_uniswap_v2_get_amount_out() {
        // 1 ETH into a 100 ETH / 300 000 USDC pool at 0.3 %.
        let pool = Pool::new(100 * 10u128.pow(18), 300_000 * 10u128.pow(6), 30);
        let out = pool.amount_out(Side::AToB, 10u128.pow(18));
        // 997 * 1e18 * 3e11 / (1e20 * 1000 + 997e18) = 2_962_413_942 (V2 arithmetic)
        let expected = (997u128 * 10u128.pow(18)) * (300_000 * 10u128.pow(6))
            / (100 * 10u128.pow(18) * 1000 + 997 * 10u128.pow(18));
        assert_eq!(out, expected);
    }

    #[test]
    fn huge_reserves_do_not_overflow() {
        let pool = Pool::new(10u128.pow(30), 10u128.pow(30), 30);
        let out = pool.amount_out(Side::AToB, 10u128.pow(27));
        assert!(out > 0 && out < 10u128.pow(27));
    }

    #[test]
    fn swap_moves_reserves_and_keeps_k_growing() {
        let mut pool = Pool::new(1_000_000, 2_000_000, 30);
        let k0 = pool.reserve_a * pool.reserve_b;
        let out = pool.swap(Side::BToA, 10_000);
        assert!(out > 0);
        assert!(pool.reserve_a * pool.reserve_b >= k0);
        assert_eq!(pool.reserve_b, 2_010_000);
    }
}
