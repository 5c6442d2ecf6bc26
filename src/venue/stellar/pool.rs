//! Constant-product liquidity pools (CAP-38) as the network computes them:
//! the pool's id (SHA-256 of its parameters' XDR), the protocol's asset
//! order (A < B), and the integer strict-send trade of stellar-core's
//! `exchangeWithPool` — rounding down, refusing what would overflow a
//! reserve or pay out nothing.

use super::asset::StellarAsset;
use super::keys::sha256;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use stellar_xdr::{self as xdr, Limits, WriteXdr};

/// The only fee the protocol allows today, basis points.
pub const POOL_FEE_BP: i32 = 30;
const MAX_BPS: u128 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("a pool needs two different assets, got {0} twice")]
    SameAsset(String),
    #[error("pool fee {0} bp is outside 0..10000")]
    BadFee(i32),
    #[error("pool reserve {0} is negative")]
    NegativeReserve(i64),
    #[error("the pool's parameters do not encode as XDR")]
    Xdr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiquidityPool {
    pub id: [u8; 32],
    /// Protocol order: `asset_a < asset_b`.
    pub asset_a: StellarAsset,
    pub asset_b: StellarAsset,
    pub reserve_a: i64,
    pub reserve_b: i64,
    pub fee_bp: i32,
    pub total_shares: i64,
}

/// The protocol's order of assets: native, then 4-, then 12-character codes,
/// by code then issuer — the order of the XDR `Asset` union.
pub fn protocol_cmp(a: &StellarAsset, b: &StellarAsset) -> Ordering {
    a.to_xdr().cmp(&b.to_xdr())
}

/// The pair in protocol order.
pub fn ordered(a: &StellarAsset, b: &StellarAsset) -> (StellarAsset, StellarAsset) {
    if protocol_cmp(a, b) == Ordering::Greater {
        (b.clone(), a.clone())
    } else {
        (a.clone(), b.clone())
    }
}

/// `SHA-256(XDR(LiquidityPoolParameters::ConstantProduct{a, b, fee}))`,
/// with `a < b` in protocol order (the caller's order does not matter).
pub fn pool_id(a: &StellarAsset, b: &StellarAsset, fee_bp: i32) -> Result<[u8; 32], PoolError> {
    let (a, b) = ordered(a, b);
    let params = xdr::LiquidityPoolParameters::LiquidityPoolConstantProduct(
        xdr::LiquidityPoolConstantProductParameters {
            asset_a: a.to_xdr(),
            asset_b: b.to_xdr(),
            fee: fee_bp,
        },
    );
    let bytes = params.to_xdr(Limits::none()).map_err(|_| PoolError::Xdr)?;
    Ok(sha256(&bytes))
}

/// Strict send into a pool: `send` of the asset whose reserve is
/// `reserve_to` buys `floor(reserve_from × (10000−fee) × send /
/// (10000 × reserve_to + (10000−fee) × send))` of the other. `None` where
/// stellar-core refuses: a non-positive or overflowing amount, a reserve that
/// would leave i64, a result of 0 or one that would drain the pool.
pub fn strict_send_out(reserve_to: i64, send: i64, reserve_from: i64, fee_bp: i32) -> Option<i64> {
    if send <= 0 || reserve_to < 0 || reserve_from <= 0 || !(0..10_000).contains(&fee_bp) {
        return None;
    }
    // The pool must hold what it is sent.
    if send > i64::MAX - reserve_to {
        return None;
    }
    let keep = MAX_BPS - u128::try_from(fee_bp).ok()?;
    let (to, x, from) = (
        u128::try_from(reserve_to).ok()?,
        u128::try_from(send).ok()?,
        u128::try_from(reserve_from).ok()?,
    );
    // numerator = keep × (from × x) can pass 128 bits (2^14 × 2^126), so
    // divide (from × x) first and carry the remainder: exact floor.
    let denominator = MAX_BPS * to + keep * x; // < 2^78
    let product = from * x; // < 2^126
    let (q, r) = (product / denominator, product % denominator);
    let out = keep.checked_mul(q)?.checked_add(keep * r / denominator)?;
    let out = i64::try_from(out).ok()?;
    (out > 0 && out < reserve_from).then_some(out)
}

impl LiquidityPool {
    /// A constant-product pool over the pair (any order), id computed.
    pub fn new(
        x: &StellarAsset,
        y: &StellarAsset,
        reserve_x: i64,
        reserve_y: i64,
        total_shares: i64,
    ) -> Result<Self, PoolError> {
        if x == y {
            return Err(PoolError::SameAsset(x.to_string()));
        }
        for r in [reserve_x, reserve_y] {
            if r < 0 {
                return Err(PoolError::NegativeReserve(r));
            }
        }
        let swapped = protocol_cmp(x, y) == Ordering::Greater;
        let (asset_a, asset_b) = ordered(x, y);
        let (reserve_a, reserve_b) = if swapped {
            (reserve_y, reserve_x)
        } else {
            (reserve_x, reserve_y)
        };
        Ok(Self {
            id: pool_id(&asset_a, &asset_b, POOL_FEE_BP)?,
            asset_a,
            asset_b,
            reserve_a,
            reserve_b,
            fee_bp: POOL_FEE_BP,
            total_shares,
        })
    }

    pub fn id_hex(&self) -> String {
        super::tx::hex(&self.id)
    }

    /// Does this pool trade `from` for `to`?
    pub fn trades(&self, from: &StellarAsset, to: &StellarAsset) -> bool {
        (from == &self.asset_a && to == &self.asset_b)
            || (from == &self.asset_b && to == &self.asset_a)
    }

    /// What `send` of `from` buys from the pool (see [`strict_send_out`]);
    /// `None` for an asset the pool does not hold.
    pub fn quote(&self, from: &StellarAsset, send: i64) -> Option<i64> {
        if from == &self.asset_a {
            strict_send_out(self.reserve_a, send, self.reserve_b, self.fee_bp)
        } else if from == &self.asset_b {
            strict_send_out(self.reserve_b, send, self.reserve_a, self.fee_bp)
        } else {
            None
        }
    }

    /// Trade `send` of `from` through the pool, moving its reserves;
    /// returns what it paid out. Nothing changes on refusal.
    pub fn trade(&mut self, from: &StellarAsset, send: i64) -> Option<i64> {
        let out = self.quote(from, send)?;
        // `quote` checked that the reserve in holds `send` and that `out`
        // is below the reserve out.
        if from == &self.asset_a {
            self.reserve_a += send;
            self.reserve_b -= out;
        } else {
            self.reserve_b += send;
            self.reserve_a -= out;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::stellar::keys::Keypair;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Case {
        name: String,
        reserve_to: i64,
        send: i64,
        reserve_from: i64,
        fee_bp: i32,
        /// `null`: refused.
        out: Option<i64>,
    }

    /// The fixture is written by `tests/fixtures/stellar_pool/gen.py`, an
    /// independent Python (unbounded integers) implementation.
    #[test]
    fn strict_send_matches_the_second_implementation() {
        let text = include_str!("../../../tests/fixtures/stellar_pool/cases.json");
        let cases: Vec<Case> = serde_json::from_str(text).expect("fixture parses");
        assert!(cases.len() >= 20, "{} cases", cases.len());
        for c in &cases {
            assert_eq!(
                strict_send_out(c.reserve_to, c.send, c.reserve_from, c.fee_bp),
                c.out,
                "{}",
                c.name
            );
        }
        assert!(cases.iter().any(|c| c.out.is_none()));
    }

    /// stellar-core's own edge cases (ExchangeTests.cpp "Exchange with
    /// liquidity pools", mirrored in stellar/go's TestLiquidityPoolMath),
    /// fee 0.
    #[test]
    fn strict_send_agrees_with_the_cores_edge_cases() {
        let m = i64::MAX;
        assert_eq!(strict_send_out(100, m - 100, 100, 0), Some(99));
        assert_eq!(strict_send_out(100, m - 99, 100, 0), None);
        assert_eq!(strict_send_out(m - 100, 100, m - 100, 0), Some(99));
        assert_eq!(strict_send_out(m - 99, 100, m - 100, 0), None);
        assert_eq!(strict_send_out(100, 2, 100, 0), Some(1));
        assert_eq!(strict_send_out(100, 1, 100, 0), None);
    }

    #[test]
    fn a_pool_orders_its_assets_and_trades_both_ways() {
        let usdc = StellarAsset::Credit {
            code: "USDC".into(),
            issuer: Keypair::from_seed([3; 32]).public(),
        };
        let p = LiquidityPool::new(&usdc, &StellarAsset::Native, 1_000, 5_000, 10).expect("pool");
        assert_eq!(p.asset_a, StellarAsset::Native);
        assert_eq!((p.reserve_a, p.reserve_b), (5_000, 1_000));
        let q = LiquidityPool::new(&StellarAsset::Native, &usdc, 5_000, 1_000, 10).expect("pool");
        assert_eq!(p.id, q.id);
        let mut t = p.clone();
        let out = t.trade(&StellarAsset::Native, 500).expect("trade");
        // 1000 × 9970 × 500 / (10000 × 5000 + 9970 × 500) = 90.6… → 90
        assert_eq!(out, 90);
        assert_eq!((t.reserve_a, t.reserve_b), (5_500, 910));
        assert!(t.trade(&StellarAsset::Native, 0).is_none());
        assert_eq!((t.reserve_a, t.reserve_b), (5_500, 910));
        assert!(LiquidityPool::new(&usdc, &usdc, 1, 1, 1).is_err());
    }

    /// The id is the hash of the parameters' XDR, independent of argument
    /// order: checked against the XDR written out by hand (type 0, asset A,
    /// asset B, fee).
    #[test]
    fn the_pool_id_hashes_the_parameters_xdr() {
        let usdc = StellarAsset::Credit {
            code: "USDC".into(),
            issuer: Keypair::from_seed([3; 32]).public(),
        };
        let mut bytes = vec![0, 0, 0, 0]; // LIQUIDITY_POOL_CONSTANT_PRODUCT
        bytes.extend([0, 0, 0, 0]); // asset A: native
        bytes.extend([0, 0, 0, 1]); // asset B: alphanum4
        bytes.extend(b"USDC");
        bytes.extend([0, 0, 0, 0]); // PUBLIC_KEY_TYPE_ED25519
        bytes.extend(Keypair::from_seed([3; 32]).public().0);
        bytes.extend([0, 0, 0, 30]);
        let want = sha256(&bytes);
        assert_eq!(pool_id(&usdc, &StellarAsset::Native, 30).expect("id"), want);
        assert_eq!(pool_id(&StellarAsset::Native, &usdc, 30).expect("id"), want);
    }

    /// A pool id published by Stellar's docs: Horizon's "Retrieve a
    /// Liquidity Pool" example (developers.stellar.org, docs/data/horizon/
    /// api-reference/retrieve-a-liquidity-pool), EURT/PHP of issuer
    /// GAP5LETO…OOS2S, fee 30.
    #[test]
    fn the_pool_id_matches_one_published_by_stellar() {
        let issuer = crate::venue::stellar::AccountKey::parse(
            "GAP5LETOV6YIE62YAM56STDANPRDO7ZFDBGSNHJQIYGGKSMOZAHOOS2S",
        )
        .expect("issuer");
        let eurt = StellarAsset::credit("EURT", issuer).expect("EURT");
        let php = StellarAsset::credit("PHP", issuer).expect("PHP");
        assert_eq!(
            super::super::tx::hex(&pool_id(&php, &eurt, 30).expect("id")),
            "67260c4c1807b262ff851b0a3fe141194936bb0215b2f77447f1df11998eabb9"
        );
    }
    /// stellar-core's own vectors (`src/transactions/test/
    /// LiquidityPoolTradeTests.cpp`, "liquidity pool id"): native against
    /// short and full alphanum-4 and -12 codes, two credits of one issuer
    /// (case decides the order), either argument order.
    #[test]
    fn the_pool_id_matches_stellar_cores_test_vectors() {
        let mut acc1 = [0u8; 32];
        for (i, b) in acc1.iter_mut().enumerate() {
            *b = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef][i % 8];
        }
        let acc1 = crate::venue::stellar::AccountKey(acc1);
        let a = |code: &str| StellarAsset::credit(code, acc1).expect("code");
        let id = |x: &StellarAsset, y: &StellarAsset| {
            super::super::tx::hex(&pool_id(x, y, 30).expect("id"))
        };
        let native = StellarAsset::Native;
        for (x, y, want) in [
            (
                &native,
                a("AbC"),
                "c17f36fbd210e43dca1cda8edc5b6c0f825fcb72b39f0392fd6309844d77ff7d",
            ),
            (
                &native,
                a("AbCd"),
                "80e0c5dc79ed76bb7e63681f6456136762f0d01ede94bb379dbc793e66db35e6",
            ),
            (
                &native,
                a("AbCdEfGhIjK"),
                "d2306c6e8532f99418e9d38520865e1c1059cddb6793da3cc634224f2ffb5bd4",
            ),
            (
                &native,
                a("AbCdEfGhIjKl"),
                "807e9e66653b5fda4dd4e672ff64a929fc5fdafe152eeadc07bb460c4849d711",
            ),
        ] {
            assert_eq!(id(x, &y), want, "{}", y.code());
            assert_eq!(id(&y, x), want, "{} reversed", y.code());
        }
        let (abc, abc2) = (a("AbC"), a("aBc"));
        let want = "0239013ab016985fc3ab077d165a9b21b822efa013fdd422381659e76aec505b";
        assert_eq!(id(&abc, &abc2), want);
        assert_eq!(id(&abc2, &abc), want);
    }
}
