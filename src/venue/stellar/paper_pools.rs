//! The paper world's liquidity pools: every other configured asset (the
//! 1st, 3rd, …) has an XLM pool around the oracle's price, its reserves
//! drifting by up to ±1 % per ledger, deterministic in (seed, ledger) and
//! drawn from their own stream so the books' draws are unchanged.

use super::asset::{ONE, StellarAsset};
use super::pool::LiquidityPool;
use super::sim::SimLedger;

/// XLM held by each paper pool.
const POOL_XLM: i64 = 50_000 * ONE;
/// The price the paper world holds XLM at, as in the books (USD ×10^14).
const XLM_USD: i128 = super::paper::XLM_USD;

/// Rebuild the pools for the ledger `l` is at.
pub fn reseed(l: &mut SimLedger, assets: &[StellarAsset], seed: u64) {
    // splitmix64 over (seed, ledger): a stream apart from the books'.
    let mut state = seed ^ 0x5EED_F00D_0000_0000 ^ u64::from(l.sequence);
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for a in assets.iter().step_by(2).filter(|a| !a.is_native()) {
        let Some(&usd) = l.oracle.get(a.code()) else {
            continue;
        };
        if usd <= 0 {
            continue;
        }
        // −100..=+100 bps off the oracle.
        let drift = i128::from(next() % 201) - 100;
        let asset = i128::from(POOL_XLM) * XLM_USD / usd * (10_000 + drift) / 10_000;
        let Ok(asset) = i64::try_from(asset) else {
            continue;
        };
        if let Ok(p) = LiquidityPool::new(&StellarAsset::Native, a, POOL_XLM, asset, POOL_XLM) {
            l.set_pool(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::venue::stellar::paper::PaperStellar;
    use crate::venue::stellar::{ONE, StellarAsset};

    #[test]
    fn every_other_asset_has_a_pool_near_the_oracle_drifting_under_the_seed() {
        let a = PaperStellar::open(None, 11).expect("paper");
        let b = PaperStellar::open(None, 11).expect("paper");
        let xlm = StellarAsset::Native;
        let la = a.ledger();
        for (i, asset) in a.assets().iter().enumerate() {
            let pool = la.pool(&xlm, asset);
            assert_eq!(pool.is_some(), i % 2 == 0, "{asset}");
            let Some(pool) = pool else { continue };
            // Same seed, same pools.
            assert_eq!(b.ledger().pool(&xlm, asset).as_ref(), Some(&pool));
            // Within 1 % of the oracle: asset per XLM = XLM_USD / asset USD.
            let usd = la.oracle[asset.code()];
            let (xlm_r, asset_r) = if pool.asset_a == xlm {
                (pool.reserve_a, pool.reserve_b)
            } else {
                (pool.reserve_b, pool.reserve_a)
            };
            assert_eq!(xlm_r, 50_000 * ONE);
            let want = i128::from(xlm_r) * super::XLM_USD / usd;
            let dev = (i128::from(asset_r) - want).abs() * 10_000 / want;
            assert!(dev <= 101, "{asset}: {dev} bps off");
        }
        // The next ledger moves them, the same way for the same seed (this
        // seed's draws differ between the two ledgers).
        a.advance().expect("advance");
        b.advance().expect("advance");
        let first = a.assets()[0].clone();
        assert_eq!(a.ledger().pool(&xlm, &first), b.ledger().pool(&xlm, &first));
        assert_ne!(a.ledger().pool(&xlm, &first), la.pool(&xlm, &first));
    }
}
