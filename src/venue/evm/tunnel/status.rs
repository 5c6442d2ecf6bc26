//! Where a withdrawal stands on the legacy portal, as viem's
//! `getWithdrawalStatus` reads it (evm.md §1.4.6), from the portal's and
//! oracle's answers: finalized; proven and waiting (or ready) for the
//! finalization period, counted from the later of the proof and the
//! output, strictly past it as the portal checks; proven against an output
//! the challenger has since replaced (to be proven again); covered by an
//! output (ready to prove); or not yet covered.

use alloy::primitives::B256;

/// A proof the portal holds for the withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvenAt {
    /// The output root it was proven against, and when.
    pub output_root: B256,
    pub timestamp: u64,
    /// The output at the proven index now: its root and its L1 timestamp
    /// (`None` when the oracle no longer has that index).
    pub output_now: Option<(B256, u64)>,
}

/// What the stage is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalReads {
    pub finalized: bool,
    pub proven: Option<ProvenAt>,
    /// `L2OutputOracle.latestBlockNumber()`.
    pub latest_output_block: u64,
    /// The Hemi block the withdrawal was initiated in.
    pub withdrawal_block: u64,
    /// `FINALIZATION_PERIOD_SECONDS()`.
    pub finalization_period_secs: u64,
    /// The L1 head's timestamp.
    pub chain_now: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// No output covers the withdrawal's block yet.
    WaitingToProve,
    ReadyToProve,
    /// Proven; finalize becomes possible in this many seconds of L1 time.
    WaitingToFinalize {
        ready_in_secs: u64,
    },
    ReadyToFinalize,
    Finalized,
}

pub fn stage(r: &PortalReads) -> Stage {
    if r.finalized {
        return Stage::Finalized;
    }
    if let Some(p) = r.proven
        && let Some((root_now, output_ts)) = p.output_now
        && root_now == p.output_root
    {
        // `block.timestamp > ts + period` for both the proof and the output.
        let ready_after = p
            .timestamp
            .max(output_ts)
            .saturating_add(r.finalization_period_secs);
        return if r.chain_now > ready_after {
            Stage::ReadyToFinalize
        } else {
            Stage::WaitingToFinalize {
                ready_in_secs: ready_after.saturating_add(1).saturating_sub(r.chain_now),
            }
        };
    }
    // Not proven, or proven against an output since deleted: prove (again)
    // once an output covers the block.
    if r.latest_output_block >= r.withdrawal_block {
        Stage::ReadyToProve
    } else {
        Stage::WaitingToProve
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads() -> PortalReads {
        PortalReads {
            finalized: false,
            proven: None,
            latest_output_block: 90,
            withdrawal_block: 100,
            finalization_period_secs: 86_400,
            chain_now: 1_000_000,
        }
    }

    #[test]
    fn an_output_at_or_past_the_block_makes_it_provable() {
        assert_eq!(stage(&reads()), Stage::WaitingToProve);
        let r = PortalReads {
            latest_output_block: 100,
            ..reads()
        };
        assert_eq!(stage(&r), Stage::ReadyToProve);
    }

    #[test]
    fn finalize_waits_strictly_past_the_later_of_proof_and_output() {
        let root = B256::repeat_byte(7);
        let proven = |ts, output_ts| ProvenAt {
            output_root: root,
            timestamp: ts,
            output_now: Some((root, output_ts)),
        };
        let at = |now, p| PortalReads {
            proven: Some(p),
            latest_output_block: 120,
            chain_now: now,
            ..reads()
        };
        // Proven at 1000, output at 900: ready after 1000 + 86400.
        assert_eq!(
            stage(&at(1_000, proven(1_000, 900))),
            Stage::WaitingToFinalize {
                ready_in_secs: 86_401
            }
        );
        assert_eq!(
            stage(&at(87_400, proven(1_000, 900))),
            Stage::WaitingToFinalize { ready_in_secs: 1 }
        );
        assert_eq!(
            stage(&at(87_401, proven(1_000, 900))),
            Stage::ReadyToFinalize
        );
        // The output is the later one.
        assert_eq!(
            stage(&at(87_401, proven(1_000, 1_500))),
            Stage::WaitingToFinalize { ready_in_secs: 500 }
        );
    }

    #[test]
    fn a_proof_against_a_replaced_output_is_to_be_proven_again() {
        let p = ProvenAt {
            output_root: B256::repeat_byte(1),
            timestamp: 10,
            output_now: Some((B256::repeat_byte(2), 5)),
        };
        let r = PortalReads {
            proven: Some(p),
            latest_output_block: 120,
            ..reads()
        };
        assert_eq!(stage(&r), Stage::ReadyToProve);
        let gone = PortalReads {
            proven: Some(ProvenAt {
                output_now: None,
                ..p
            }),
            latest_output_block: 50,
            ..reads()
        };
        assert_eq!(stage(&gone), Stage::WaitingToProve);
    }

    #[test]
    fn finalized_wins_over_everything() {
        let r = PortalReads {
            finalized: true,
            ..reads()
        };
        assert_eq!(stage(&r), Stage::Finalized);
    }
}
