//! Fee-bump envelopes (CAP-15) in the simulated ledger: the fee source's
//! signature over the fee-bump payload, the outer fee checked against
//! `(inner ops + 1)` × the fee applied now and against the inner fee, the
//! inner transaction checked as any (its signature, its sequence — a second
//! envelope of an applied inner is `tx_bad_seq`) and applied at most once,
//! the fee charged to the fee source, the record indexed by the outer and
//! the inner hash. Under a surge a bump bidding too little is held too. A
//! bump replaces what waits in the queue for the same source and sequence
//! only if it bids at least ten times as much per operation (stellar-core's
//! `TransactionQueue::FEE_MULTIPLIER`); otherwise `tx_insufficient_fee`,
//! with the least fee that would do as its `fee_charged`, as core answers.

use super::fee_bump::{FEE_MULTIPLIER, outer_hash};
use super::sim::{Refused, SimLedger, SimTx};
use super::tx::{hex, server_limits, tx_hash};
use stellar_xdr::{self as xdr, Limits, ReadXdr, WriteXdr};

/// A queued envelope's source, sequence, inclusion fee and operation count
/// as the queue counts them (a fee bump: the inner's ops + 1).
fn queue_facts(envelope: &str) -> Option<(super::AccountKey, i64, i64, i64)> {
    match xdr::TransactionEnvelope::from_xdr_base64(envelope, Limits::none()).ok()? {
        xdr::TransactionEnvelope::Tx(v1) => Some((
            muxed_key(&v1.tx.source_account),
            v1.tx.seq_num.0,
            i64::from(v1.tx.fee),
            i64::try_from(v1.tx.operations.len()).ok()?.max(1),
        )),
        xdr::TransactionEnvelope::TxFeeBump(b) => {
            let xdr::FeeBumpTransactionInnerTx::Tx(v1) = &b.tx.inner_tx;
            Some((
                muxed_key(&v1.tx.source_account),
                v1.tx.seq_num.0,
                b.tx.fee,
                i64::try_from(v1.tx.operations.len())
                    .ok()?
                    .saturating_add(1),
            ))
        }
        xdr::TransactionEnvelope::TxV0(_) => None,
    }
}

fn muxed_key(m: &xdr::MuxedAccount) -> super::AccountKey {
    match m {
        xdr::MuxedAccount::Ed25519(k) => super::AccountKey(k.0),
        xdr::MuxedAccount::MuxedEd25519(k) => super::AccountKey(k.ed25519.0),
    }
}

impl SimLedger {
    /// The held transactions waiting on `source`'s sequence `seq`: (hash,
    /// inclusion fee, ops).
    fn queued_for(&self, source: super::AccountKey, seq: i64) -> Vec<(String, i64, i64)> {
        self.held
            .iter()
            .filter_map(|(hash, (envelope, _))| {
                let (s, q, fee, ops) = queue_facts(envelope)?;
                (s == source && q == seq).then(|| (hash.clone(), fee, ops))
            })
            .collect()
    }

    pub(super) fn submit_fee_bump(
        &mut self,
        env: &xdr::FeeBumpTransactionEnvelope,
        envelope_b64: &str,
    ) -> Result<(String, SimTx), Refused> {
        use xdr::TransactionResultResult as T;
        let malformed = || Self::refuse("tx_malformed", 0, T::TxMalformed);
        let net = self.network_id();
        let outer = hex(&outer_hash(&env.tx, &net).map_err(|_| malformed())?);
        if let Some(done) = self.txs.get(&outer) {
            return Ok((outer, done.clone()));
        }
        let xdr::FeeBumpTransactionInnerTx::Tx(v1) = &env.tx.inner_tx;
        let inner = hex(&tx_hash(&v1.tx, &net).map_err(|_| malformed())?);
        let fee_source = muxed_key(&env.tx.fee_source);
        let Some(payer) = self.accounts.get(&fee_source) else {
            return Err(Self::refuse("tx_no_source_account", 0, T::TxNoAccount));
        };
        let payer_xlm = payer.xlm;
        let outer_raw = outer_hash(&env.tx, &net).map_err(|_| malformed())?;
        let signed = env.signatures.iter().any(|s| {
            s.hint.0 == fee_source.hint()
                && fee_source.verifies(&outer_raw, s.signature.0.as_slice())
        });
        if !signed {
            return Err(Self::refuse("tx_bad_auth", 0, T::TxBadAuth));
        }
        let source = muxed_key(&v1.tx.source_account);
        let seq_ok = self
            .accounts
            .get(&source)
            .is_some_and(|a| v1.tx.seq_num.0 == a.seq + 1);
        if self.txs.contains_key(&inner) || !seq_ok {
            // The inner's sequence is used (by itself, or another).
            return Err(Self::refuse("tx_bad_seq", 0, T::TxBadSeq));
        }
        let ops = i64::try_from(v1.tx.operations.len()).map_err(|_| malformed())?;
        let slots = ops.saturating_add(1);
        let least = slots.saturating_mul(i64::from(self.base_fee));
        if env.tx.fee < least || env.tx.fee < i64::from(v1.tx.fee) {
            return Err(Self::refuse(
                "tx_insufficient_fee",
                least,
                T::TxInsufficientFee,
            ));
        }
        if let xdr::Preconditions::Time(tb) = &v1.tx.cond
            && tb.max_time.0 != 0
            && self.close_time > tb.max_time.0
        {
            return Err(Self::refuse("tx_too_late", 0, T::TxTooLate));
        }
        // Replace-by-fee: new fee × old ops ≥ 10 × old fee × new ops.
        let queued = self.queued_for(source, v1.tx.seq_num.0);
        for (_, old_fee, old_ops) in &queued {
            let need = i128::from(*old_fee) * i128::from(FEE_MULTIPLIER) * i128::from(slots);
            if i128::from(env.tx.fee) * i128::from(*old_ops) < need {
                let least = i64::try_from((need + i128::from(*old_ops) - 1) / i128::from(*old_ops))
                    .unwrap_or(i64::MAX);
                return Err(Self::refuse(
                    "tx_insufficient_fee",
                    least,
                    T::TxInsufficientFee,
                ));
            }
        }
        if self.surge_fee > self.base_fee && env.tx.fee / slots < i64::from(self.surge_fee) {
            // Admitted to the queue in place of what waited there.
            for (hash, _, _) in &queued {
                self.held.remove(hash);
            }
            let max_time = match &v1.tx.cond {
                xdr::Preconditions::Time(tb) => tb.max_time.0,
                _ => 0,
            };
            self.held
                .insert(outer.clone(), (envelope_b64.to_string(), max_time));
            let pending = SimTx {
                ledger: 0,
                success: false,
                result_xdr: String::new(),
                envelope: envelope_b64.to_string(),
                hidden_polls: 0,
            };
            return Ok((outer, pending));
        }
        let charge = slots
            .saturating_mul(i64::from(self.inclusion_floor()))
            .min(env.tx.fee);
        if payer_xlm < charge {
            return Err(Self::refuse(
                "tx_insufficient_balance",
                charge,
                T::TxInsufficientBalance,
            ));
        }
        for (hash, _, _) in &queued {
            self.held.remove(hash);
        }
        // Apply the inner as any transaction (no surge for it: the bump
        // pays), then move its fee to the fee source.
        let inner_b64 = xdr::TransactionEnvelope::Tx(v1.clone())
            .to_xdr_base64(Limits::none())
            .map_err(|_| malformed())?;
        let surge = std::mem::replace(&mut self.surge_fee, 0);
        let applied = self.submit(&inner_b64);
        self.surge_fee = surge;
        // The inner's own submission is not a send of the peer's.
        self.sends = self.sends.saturating_sub(1);
        let (_, rec) = applied?;
        let inner_result =
            xdr::TransactionResult::from_xdr_base64(&rec.result_xdr, server_limits())
                .map_err(|_| malformed())?;
        if let Some(a) = self.accounts.get_mut(&source) {
            a.xlm = a.xlm.saturating_add(inner_result.fee_charged);
        }
        if let Some(a) = self.accounts.get_mut(&fee_source) {
            a.xlm = a.xlm.saturating_sub(charge);
        }
        let inner_ops = match inner_result.result {
            T::TxSuccess(ops) => xdr::InnerTransactionResultResult::TxSuccess(ops),
            T::TxFailed(ops) => xdr::InnerTransactionResultResult::TxFailed(ops),
            _ => return Err(malformed()),
        };
        let pair = xdr::InnerTransactionResultPair {
            transaction_hash: xdr::Hash(tx_hash(&v1.tx, &net).map_err(|_| malformed())?),
            result: xdr::InnerTransactionResult {
                fee_charged: 0,
                result: inner_ops,
                ext: xdr::InnerTransactionResultExt::V0,
            },
        };
        let r = Self::result(
            charge,
            if rec.success {
                T::TxFeeBumpInnerSuccess(pair)
            } else {
                T::TxFeeBumpInnerFailed(pair)
            },
        );
        let bumped = SimTx {
            result_xdr: r.to_xdr_base64(Limits::none()).map_err(|_| malformed())?,
            envelope: envelope_b64.to_string(),
            ..rec
        };
        self.txs.insert(inner.clone(), bumped.clone());
        self.txs.insert(outer.clone(), bumped.clone());
        self.bumps_applied = self.bumps_applied.saturating_add(1);
        Ok((outer, bumped))
    }
}

#[cfg(test)]
mod tests {
    use crate::venue::stellar::codes::TxOutcome;
    use crate::venue::stellar::fee_bump::bump;
    use crate::venue::stellar::sim::SimLedger;
    use crate::venue::stellar::tx::{self, Header};
    use crate::venue::stellar::{ContractKey, Keypair, ONE, StellarAsset};

    /// A trader's payment of 1 XLM to the master at 100 stroops, sent
    /// under a surge of `surge` per op and held: the ledger, the trader,
    /// the master, the trader's sequence before it, and the signed payment.
    fn stuck(surge: u32) -> (SimLedger, Keypair, Keypair, i64, tx::Signed) {
        let mut l = SimLedger::new("bump", ContractKey([1; 32]), ContractKey([2; 32]));
        let trader = Keypair::from_seed([3; 32]);
        let master = Keypair::from_seed([4; 32]);
        l.create_account(trader.public(), 100 * ONE);
        l.create_account(master.public(), 100 * ONE);
        let seq = l.account(trader.public()).unwrap().sequence;
        l.set_surge(surge);
        let h = Header {
            source: trader.public(),
            seq: seq + 1,
            fee: 100,
            max_time: l.close_time + 120,
        };
        let t = tx::payment(h, master.public(), &StellarAsset::Native, ONE).unwrap();
        let inner = tx::sign(t, &trader, &l.network_id()).unwrap();
        l.submit(&inner.envelope).unwrap();
        (l, trader, master, seq, inner)
    }

    #[test]
    fn a_fee_bump_applies_its_inner_once_and_charges_the_fee_source() {
        let (mut l, trader, master, seq, inner) = stuck(600);
        assert!(l.poll(&inner.hash_hex()).is_none(), "stuck in the surge");
        let net = l.network_id();
        // Below ten times the queued 100/op: refused, and what it would
        // take is the refusal's fee; the inner still waits.
        let cheap = bump(&inner.envelope, &master, 900, &net).unwrap();
        let refused = l.submit(&cheap.envelope).unwrap_err();
        assert_eq!(refused.code, "tx_insufficient_fee");
        assert_eq!(
            TxOutcome::decode(&refused.result_xdr).unwrap().fee_charged,
            2_000,
            "10 × 100 × (1 op + 1)"
        );
        assert!(l.held.contains_key(&inner.hash_hex()));
        let b = bump(&inner.envelope, &master, 1_000, &net).unwrap();
        let before = (
            l.account(trader.public()).unwrap().balances[0].amount,
            l.account(master.public()).unwrap().balances[0].amount,
        );
        let (outer, rec) = l.submit(&b.envelope).unwrap();
        assert_eq!(outer, b.outer_hash);
        assert!(rec.success);
        assert_eq!(l.bumps_applied, 1);
        let after = (
            l.account(trader.public()).unwrap().balances[0].amount,
            l.account(master.public()).unwrap().balances[0].amount,
        );
        assert_eq!(after.0, before.0 - ONE, "the trader pays no fee");
        assert_eq!(
            after.1,
            before.1 + ONE - 1_200,
            "the fee source pays 2 × 600, the surge's price, not its bid"
        );
        assert!(l.held.is_empty(), "the queued inner was replaced");
        l.hide_polls = 0;
        for h in [&b.inner_hash, &b.outer_hash] {
            let t = l.txs.get(h.as_str()).unwrap().clone();
            let o = TxOutcome::decode(&t.result_xdr).unwrap();
            assert!(o.succeeded(), "{o:?}");
            assert_eq!(o.fee_charged, 1_200);
        }
        // The same bump again: the original record. Another envelope of the
        // applied inner: refused, bad seq.
        assert_eq!(l.submit(&b.envelope).unwrap().0, b.outer_hash);
        let again = bump(&inner.envelope, &master, 700, &net).unwrap();
        assert_eq!(l.submit(&again.envelope).unwrap_err().code, "tx_bad_seq");
        l.set_surge(0);
        assert_eq!(l.bumps_applied, 1);
        assert_eq!(l.account(trader.public()).unwrap().sequence, seq + 1);
    }

    /// A bump that out-bids the queued inner tenfold but not the surge
    /// takes the inner's place in the queue, and applies when the surge
    /// eases, once.
    #[test]
    fn a_bump_below_the_surge_replaces_the_queued_inner_and_waits() {
        let (mut l, trader, master, seq, inner) = stuck(2_000);
        let b = bump(&inner.envelope, &master, 1_000, &l.network_id()).unwrap();
        let (outer, pending) = l.submit(&b.envelope).unwrap();
        assert_eq!((outer.as_str(), pending.ledger), (b.outer_hash.as_str(), 0));
        assert_eq!(l.bumps_applied, 0);
        assert_eq!(
            l.held.keys().cloned().collect::<Vec<_>>(),
            vec![b.outer_hash.clone()]
        );
        l.set_surge(500);
        assert_eq!(l.bumps_applied, 1);
        assert!(l.txs.contains_key(&b.inner_hash));
        assert_eq!(l.account(trader.public()).unwrap().sequence, seq + 1);
    }
}
