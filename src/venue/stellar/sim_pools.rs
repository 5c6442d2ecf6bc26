//! Tests of the simulator's path payments through liquidity pools: the hop
//! goes where [`super::market::best_hop`] says, the pool's reserves move by
//! its trade, and a transaction that fails leaves the pools as they were.

#[cfg(test)]
mod tests {
    use crate::venue::stellar::keys::{ContractKey, Keypair};
    use crate::venue::stellar::pool::LiquidityPool;
    use crate::venue::stellar::sim::SimLedger;
    use crate::venue::stellar::tx::{self, Header};
    use crate::venue::stellar::{ONE, Offer, Price, StellarAsset, TESTNET_PASSPHRASE};

    fn aqua() -> StellarAsset {
        StellarAsset::Credit {
            code: "AQUA".into(),
            issuer: Keypair::from_seed([9; 32]).public(),
        }
    }

    /// An account holding XLM and an AQUA trustline; XLM → AQUA by the book
    /// at 100 AQUA per XLM or by a pool paying ~104; AQUA → XLM by the book
    /// at 101 AQUA per XLM.
    fn world(me: &Keypair) -> SimLedger {
        let mut l = SimLedger::new(
            TESTNET_PASSPHRASE,
            ContractKey([1; 32]),
            ContractKey([2; 32]),
        );
        l.create_account(me.public(), 10_000 * ONE);
        if let Some(a) = l.accounts.get_mut(&me.public()) {
            a.lines.insert(aqua(), (0, i64::MAX));
        }
        let offer = |n, d| Offer {
            amount: 10_000_000 * ONE,
            price: Price { n, d },
        };
        l.set_book(aqua(), StellarAsset::Native, vec![offer(1, 100)]);
        l.set_book(StellarAsset::Native, aqua(), vec![offer(101, 1)]);
        l.set_pool(
            LiquidityPool::new(
                &StellarAsset::Native,
                &aqua(),
                1_000_000 * ONE,
                104_000_000 * ONE,
                1,
            )
            .expect("pool"),
        );
        l
    }

    fn cycle(l: &SimLedger, me: &Keypair, send: i64, dest_min: i64, ops: usize) -> String {
        let seq = l.accounts.get(&me.public()).map(|a| a.seq).unwrap_or(0) + 1;
        let header = Header {
            source: me.public(),
            seq,
            fee: 100 * ops as u32,
            max_time: 0,
        };
        let mut t =
            tx::cyclic_path_payment(header, &StellarAsset::Native, send, &[aqua()], dest_min)
                .expect("tx");
        let mut list = t.operations.to_vec();
        // Extra operations ask for more than can arrive: they fail.
        while list.len() < ops {
            let mut extra = list[0].clone();
            if let stellar_xdr::OperationBody::PathPaymentStrictSend(p) = &mut extra.body {
                p.dest_min = i64::MAX;
            }
            list.push(extra);
        }
        t.operations = list.try_into().expect("ops");
        tx::sign(t, me, &l.network_id()).expect("signed").envelope
    }

    #[test]
    fn a_path_payment_takes_the_pool_where_it_pays_more_and_moves_its_reserves() {
        let me = Keypair::from_seed([5; 32]);
        let mut l = world(&me);
        let before = l.pool(&StellarAsset::Native, &aqua()).expect("pool");
        let send = 100 * ONE;
        let aqua_out = before.quote(&StellarAsset::Native, send).expect("quote");
        assert!(
            aqua_out > 100 * send,
            "the pool beats the book's 100 per XLM"
        );
        let back = aqua_out / 101; // the AQUA → XLM book, whole stroops
        let xlm0 = l.accounts[&me.public()].xlm;
        let env = cycle(&l, &me, send, 1, 1);
        let (_, t) = l.submit(&env).expect("admitted");
        assert!(t.success, "{t:?}");
        let after = l.pool(&StellarAsset::Native, &aqua()).expect("pool");
        assert_eq!(after.reserve_a, before.reserve_a + send);
        assert_eq!(after.reserve_b, before.reserve_b - aqua_out);
        assert_eq!(l.accounts[&me.public()].xlm, xlm0 - send + back - 100);
    }

    #[test]
    fn a_failed_path_payment_leaves_the_pool_untouched() {
        let me = Keypair::from_seed([6; 32]);
        let mut l = world(&me);
        let before = l.pool(&StellarAsset::Native, &aqua()).expect("pool");
        // Under dest_min.
        let env = cycle(&l, &me, 100 * ONE, 1_000 * ONE, 1);
        let (_, t) = l.submit(&env).expect("admitted");
        assert!(!t.success);
        assert_eq!(l.pool(&StellarAsset::Native, &aqua()), Some(before.clone()));
        // Two operations, the second failing after the first applied: the
        // first one's pool trade is rolled back with the transaction.
        let env = cycle(&l, &me, 100 * ONE, 1, 2);
        let (_, t) = l.submit(&env).expect("admitted");
        assert!(!t.success);
        assert_eq!(l.pool(&StellarAsset::Native, &aqua()), Some(before));
    }
}
