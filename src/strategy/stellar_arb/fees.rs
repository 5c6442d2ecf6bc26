//! The fee policy: what inclusion fee per operation the keeper bids, from
//! the network's recent fee stats. Quiet → the base fee (100 stroops, or
//! the ledger's base fee if higher). Surge (the configured percentile above
//! that base, or ledgers ≥ 90 % full) → that percentile, never below the
//! least fee recently included. Never above the user's cap (`max_fee_stroops`). A
//! transaction stuck below what the network now asks is lifted by a fee
//! bump ([`FeePolicy::bump`]) at what it asks, and at least ten times the
//! stuck bid (what a validator's queue needs to replace it), within the
//! same cap. Pure.

use crate::venue::stellar::fee_bump::FEE_MULTIPLIER;
use crate::venue::stellar::fee_stats::{FeeStats, NETWORK_BASE_FEE, PERCENTILES};
use serde::{Deserialize, Serialize};

/// Ledgers this full (per mille of capacity) are a surge even if the
/// chosen percentile has not moved yet.
pub const SURGE_CAPACITY_PER_MILLE: u32 = 900;
/// Default percentile bid in a surge.
pub const DEFAULT_FEE_PERCENTILE: u8 = 90;
/// Default cap per operation (the keeper's old `MAX_FEE`).
pub const DEFAULT_MAX_FEE_STROOPS: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeePolicy {
    /// One of [`PERCENTILES`].
    pub percentile: u8,
    /// The most paid per operation, stroops (≥ the network's base fee).
    pub max_fee: u32,
}

impl Default for FeePolicy {
    fn default() -> Self {
        Self {
            percentile: DEFAULT_FEE_PERCENTILE,
            max_fee: DEFAULT_MAX_FEE_STROOPS,
        }
    }
}

/// Why the fee is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeeReason {
    Quiet,
    Surge {
        percentile: u8,
    },
    /// The policy wanted more than the cap.
    Capped {
        percentile: u8,
        wanted: u32,
    },
    /// No stats could be read: the base fee.
    NoStats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeChoice {
    /// Inclusion fee per operation, stroops.
    pub per_op: u32,
    pub reason: FeeReason,
}

impl FeeChoice {
    pub fn base() -> Self {
        Self {
            per_op: NETWORK_BASE_FEE,
            reason: FeeReason::NoStats,
        }
    }

    /// "100 stroops/op (quiet)", "850 stroops/op (surge p90)" …
    pub fn describe(&self) -> String {
        let why = match self.reason {
            FeeReason::Quiet => "quiet".to_string(),
            FeeReason::Surge { percentile } => format!("surge p{percentile}"),
            FeeReason::Capped { percentile, wanted } => {
                format!("capped; surge p{percentile} wanted {wanted}")
            }
            FeeReason::NoStats => "base; no fee stats".to_string(),
        };
        format!("{} stroops/op ({why})", self.per_op)
    }
}

/// What to do about a transaction the network has not included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BumpBid {
    /// The network asks no more than it bids: let it wait.
    NotNeeded,
    /// Wrap it in a fee bump bidding this per operation.
    Bump(u32),
    /// Lifting it would take `needed` per operation, above the cap.
    AboveCap { needed: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeePolicyError {
    #[error("stellar_arb.fee_percentile must be one of 10,20,…,90,95,99, got {0}")]
    Percentile(i64),
    #[error("stellar_arb.max_fee_stroops must be {NETWORK_BASE_FEE}..=4294967295 stroops, got {0}")]
    Cap(i64),
}

impl FeePolicy {
    pub fn new(percentile: i64, max_fee: i64) -> Result<Self, FeePolicyError> {
        let p = u8::try_from(percentile)
            .ok()
            .filter(|p| PERCENTILES.contains(p))
            .ok_or(FeePolicyError::Percentile(percentile))?;
        let cap = u32::try_from(max_fee)
            .ok()
            .filter(|c| *c >= NETWORK_BASE_FEE)
            .ok_or(FeePolicyError::Cap(max_fee))?;
        Ok(Self {
            percentile: p,
            max_fee: cap,
        })
    }

    pub fn choose(&self, stats: &FeeStats) -> FeeChoice {
        // The protocol's base fee: what every transaction pays when ledgers
        // have room. Anything charged above it is surge pricing.
        let base = NETWORK_BASE_FEE.max(stats.base_fee.unwrap_or(0));
        let floor = base.max(stats.classic.min);
        let at = stats.classic.percentile(self.percentile).unwrap_or(floor);
        let full = stats
            .capacity_per_mille
            .is_some_and(|c| c >= SURGE_CAPACITY_PER_MILLE);
        let (wanted, reason) = if at > base || full {
            (
                at.max(floor),
                FeeReason::Surge {
                    percentile: self.percentile,
                },
            )
        } else {
            (floor, FeeReason::Quiet)
        };
        if wanted > self.max_fee {
            return FeeChoice {
                per_op: self.max_fee,
                reason: FeeReason::Capped {
                    percentile: self.percentile,
                    wanted,
                },
            };
        }
        FeeChoice {
            per_op: wanted,
            reason,
        }
    }
}

impl FeePolicy {
    /// Lift a transaction bidding `bid` per operation, given what the
    /// network asks now (`now`, this policy's choice).
    pub fn bump(&self, now: FeeChoice, bid: u32) -> BumpBid {
        if now.per_op <= bid {
            return BumpBid::NotNeeded;
        }
        let replaces = i64::from(bid).saturating_mul(FEE_MULTIPLIER);
        let needed = u32::try_from(replaces).unwrap_or(u32::MAX).max(now.per_op);
        if needed > self.max_fee {
            BumpBid::AboveCap { needed }
        } else {
            BumpBid::Bump(needed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::stellar::fee_stats::FeeDistribution;

    fn stats(min: u32, p90: u32, capacity: Option<u32>) -> FeeStats {
        let mut classic = FeeDistribution::flat(min);
        classic.percentiles[8] = p90;
        FeeStats {
            classic,
            latest_ledger: 1,
            base_fee: None,
            capacity_per_mille: capacity,
        }
    }

    #[test]
    fn a_quiet_network_gets_the_base_fee_and_a_raised_minimum_is_a_surge() {
        let p = FeePolicy::default();
        let c = p.choose(&stats(100, 100, Some(300)));
        assert_eq!((c.per_op, c.reason), (100, FeeReason::Quiet));
        assert_eq!(c.describe(), "100 stroops/op (quiet)");
        // A minimum below the protocol's base never lowers the bid.
        assert_eq!(p.choose(&stats(50, 50, None)).per_op, 100);
        // Everything included paid more than the base: that is a surge,
        // even though every percentile is the same.
        let c = p.choose(&stats(120, 120, None));
        assert_eq!(
            (c.per_op, c.reason),
            (120, FeeReason::Surge { percentile: 90 })
        );
    }

    #[test]
    fn a_surge_gets_the_configured_percentile() {
        let p = FeePolicy::new(90, 10_000).unwrap();
        let c = p.choose(&stats(100, 850, None));
        assert_eq!(
            (c.per_op, c.reason),
            (850, FeeReason::Surge { percentile: 90 })
        );
        assert_eq!(c.describe(), "850 stroops/op (surge p90)");
        // Full ledgers are a surge even at the floor.
        let c = p.choose(&stats(100, 100, Some(950)));
        assert_eq!(c.reason, FeeReason::Surge { percentile: 90 });
        // Another percentile reads another figure.
        let p50 = FeePolicy::new(50, 10_000).unwrap();
        assert_eq!(p50.choose(&stats(100, 850, None)).reason, FeeReason::Quiet);
    }

    #[test]
    fn the_cap_holds() {
        let p = FeePolicy::new(90, 500).unwrap();
        let c = p.choose(&stats(100, 90_000, None));
        assert_eq!(c.per_op, 500);
        assert_eq!(
            c.reason,
            FeeReason::Capped {
                percentile: 90,
                wanted: 90_000
            }
        );
        assert!(c.describe().contains("capped"));
        // Even a floor above the cap is capped.
        assert_eq!(p.choose(&stats(700, 700, None)).per_op, 500);
    }

    #[test]
    fn a_stuck_transaction_is_bumped_tenfold_or_to_the_surge_within_the_cap() {
        let p = FeePolicy::new(90, 10_000).unwrap();
        let now = |per_op| FeeChoice {
            per_op,
            reason: FeeReason::Surge { percentile: 90 },
        };
        // Bidding what is asked: wait.
        assert_eq!(p.bump(now(800), 800), BumpBid::NotNeeded);
        assert_eq!(p.bump(now(800), 900), BumpBid::NotNeeded);
        // The queue needs ten times the stuck bid, more than the surge asks.
        assert_eq!(p.bump(now(800), 100), BumpBid::Bump(1_000));
        // The surge asks more than that.
        assert_eq!(p.bump(now(4_000), 100), BumpBid::Bump(4_000));
        // A second bump: ten times the first, up to the cap and no further.
        assert_eq!(p.bump(now(4_000), 1_000), BumpBid::Bump(10_000));
        assert_eq!(
            p.bump(now(5_000), 2_000),
            BumpBid::AboveCap { needed: 20_000 }
        );
        // No overflow on an absurd bid.
        assert_eq!(
            p.bump(now(u32::MAX), u32::MAX - 1),
            BumpBid::AboveCap { needed: u32::MAX }
        );
    }

    #[test]
    fn bad_settings_are_refused_naming_the_key() {
        for bad in [0, 15, 100, -1, 300] {
            let e = FeePolicy::new(bad, 1_000).unwrap_err();
            assert!(e.to_string().contains("stellar_arb.fee_percentile"), "{e}");
        }
        for bad in [99, -5, 5_000_000_000] {
            let e = FeePolicy::new(90, bad).unwrap_err();
            assert!(e.to_string().contains("stellar_arb.max_fee_stroops"), "{e}");
        }
        assert!(FeePolicy::new(99, 100).is_ok());
    }
}
