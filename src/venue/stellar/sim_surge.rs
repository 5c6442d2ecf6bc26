//! Surge pricing in the simulated ledger: while `surge_fee` is set, a
//! transaction offering less per operation is admitted (PENDING) but not
//! applied — getTransaction says NOT_FOUND — and dropped once its maxTime
//! passes, as the network's queue does. The sim's fee stats show the surge.

use super::fee_stats::{FeeDistribution, FeeStats};
use super::sim::{SimLedger, SimTx};
use stellar_xdr as xdr;

impl SimLedger {
    /// Start (fee above the base) or end (0) a surge. Ending or lowering
    /// it applies what is held and now pays enough, in hash order.
    pub fn set_surge(&mut self, per_op_fee: u32) {
        self.surge_fee = per_op_fee;
        let waiting: Vec<(String, (String, u64))> =
            std::mem::take(&mut self.held).into_iter().collect();
        for (_, (envelope, _)) in waiting {
            // Refused now (its sequence used meanwhile, too late): dropped.
            let _ = self.submit(&envelope);
        }
    }

    /// The least per-operation fee that is applied now.
    pub fn inclusion_floor(&self) -> u32 {
        self.base_fee.max(self.surge_fee)
    }

    /// Recent inclusion fees as getFeeStats would show them: the floor at
    /// every percentile (the surge's minimum, or the base fee).
    pub fn fee_stats(&self) -> FeeStats {
        let floor = self.inclusion_floor();
        FeeStats {
            classic: FeeDistribution {
                max: floor.saturating_mul(2),
                ..FeeDistribution::flat(floor)
            },
            latest_ledger: self.sequence,
            base_fee: Some(self.base_fee),
            capacity_per_mille: Some(if self.surge_fee > self.base_fee {
                1000
            } else {
                100
            }),
        }
    }

    /// Called by `submit` once a transaction is otherwise admissible: under
    /// a surge one paying too little per operation is held, not applied.
    pub(super) fn hold_in_surge(
        &mut self,
        hash: &str,
        envelope: &str,
        tx: &xdr::Transaction,
    ) -> Option<(String, SimTx)> {
        let ops = u32::try_from(tx.operations.len())
            .unwrap_or(u32::MAX)
            .max(1);
        if self.surge_fee <= self.base_fee || tx.fee / ops >= self.surge_fee {
            return None;
        }
        let max_time = match &tx.cond {
            xdr::Preconditions::Time(tb) => tb.max_time.0,
            xdr::Preconditions::V2(p) => p.time_bounds.as_ref().map_or(0, |t| t.max_time.0),
            _ => 0,
        };
        self.held
            .insert(hash.to_string(), (envelope.to_string(), max_time));
        Some((
            hash.to_string(),
            SimTx {
                ledger: 0,
                success: false,
                result_xdr: String::new(),
                envelope: envelope.to_string(),
                hidden_polls: 0,
            },
        ))
    }

    /// Held transactions whose maxTime has passed can never apply: gone.
    pub(super) fn drop_expired_held(&mut self) {
        let now = self.close_time;
        self.held
            .retain(|_, (_, max_time)| *max_time == 0 || *max_time >= now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::stellar::tx::{self, Header};
    use crate::venue::stellar::{ContractKey, Keypair, StellarAsset};

    #[test]
    fn a_surge_holds_a_cheap_transaction_until_it_ends_or_expires() {
        let mut l = SimLedger::new("surge", ContractKey([1; 32]), ContractKey([2; 32]));
        let kp = Keypair::from_seed([3; 32]);
        l.create_account(kp.public(), 100 * crate::venue::stellar::ONE);
        let seq = l.account(kp.public()).map(|a| a.sequence).unwrap_or(0);
        l.set_surge(500);
        assert_eq!(l.fee_stats().classic.percentile(90), Some(500));
        let sign = |l: &SimLedger, fee: u32, seq: i64, max_time: u64| {
            let h = Header {
                source: kp.public(),
                seq,
                fee,
                max_time,
            };
            let t = tx::payment(h, kp.public(), &StellarAsset::Native, 1).unwrap();
            tx::sign(t, &kp, &l.network_id()).unwrap()
        };
        let cheap = sign(&l, 100, seq + 1, l.close_time + 60);
        let (hash, pending) = l.submit(&cheap.envelope).unwrap();
        assert_eq!(
            (hash.as_str(), pending.ledger),
            (cheap.hash_hex().as_str(), 0)
        );
        assert!(l.poll(&hash).is_none(), "held: NOT_FOUND");
        assert_eq!(l.account(kp.public()).unwrap().sequence, seq);
        l.set_surge(0);
        assert!(l.txs.contains_key(&hash), "applied when the surge ends");
        // A second held one that outlives its maxTime is dropped.
        l.set_surge(500);
        let late = sign(&l, 100, seq + 2, l.close_time + 5);
        l.submit(&late.envelope).unwrap();
        l.close_ledger();
        l.close_ledger();
        assert!(l.held.is_empty());
        l.set_surge(0);
        assert!(!l.txs.contains_key(&late.hash_hex()));
        // Paying the surge's fee is applied at once.
        l.set_surge(500);
        let paid = sign(&l, 500, seq + 2, l.close_time + 60);
        let (_, rec) = l.submit(&paid.envelope).unwrap();
        assert!(rec.ledger > 0 && rec.success);
    }
}
