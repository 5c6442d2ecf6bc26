//! Fees under surge, against the loopback fakes: the keeper bids what the
//! network's fee stats say (and the fee paid is what it books); a cycle
//! sent at the base fee just as a surge begins — the fee stats still show
//! the quiet ledgers before it — waits unapplied, and once the stats catch
//! up the keeper lifts it with a fee bump signed by the master account
//! (the same inner envelope, tenfold the stuck bid, as a validator's queue
//! asks), which settles by the inner hash with the fee booked to the
//! master. A bump applied whose answer was lost is settled by looking
//! after a restart, never sent twice; a bump the cap forbids is not sent,
//! and the transaction expires unapplied with nothing booked.

use crate::support;

use arbkeep::engine::Keeper;
use arbkeep::fakes::stellar::{Fault, Rule, StellarFake, aqua, endpoints, world};
use arbkeep::strategy::stellar_arb::store as kstore;
use arbkeep::strategy::stellar_arb::{StellarArbConfig, StellarArbKeeper, StellarShared};
use arbkeep::venue::stellar::fee_bump::per_op_bid;
use arbkeep::venue::stellar::network::NetworkVenue;
use arbkeep::venue::stellar::sim::FRIENDBOT_AMOUNT;
use arbkeep::venue::stellar::{AccountKey, Keypair, ONE, StellarVenue};
use std::sync::Arc;
use std::time::Duration;
use support::stellar_keeper::Harness;

const MASTER_XLM: i64 = 100 * ONE;
const SURGE: u32 = 600;

fn master() -> Keypair {
    Keypair::from_seed([0x5A; 32])
}

fn config() -> StellarArbConfig {
    support::stellar_keeper::testnet_config(1, vec![aqua()])
}

fn keeper(fake: &StellarFake, config: StellarArbConfig) -> StellarArbKeeper {
    let venue: Arc<dyn StellarVenue> = Arc::new(NetworkVenue::new(endpoints(fake)).expect("venue"));
    StellarArbKeeper::new(config, StellarShared::new(venue, true), &master())
        .with_polling(3, Duration::from_millis(5))
}

/// Every keeper account's XLM (the trading accounts from Friendbot's
/// funding, the master from `MASTER_XLM`) moved exactly by its ledger lines.
fn assert_books_match(fake: &StellarFake, h: &Harness, k: &StellarArbKeeper) {
    let mut accounts: Vec<(String, i64)> = k
        .account_ids()
        .into_iter()
        .map(|a| (a, FRIENDBOT_AMOUNT))
        .collect();
    accounts.push((master().public().to_string(), MASTER_XLM));
    for (id, start) in accounts {
        let key = AccountKey::parse(&id).expect("id");
        let now = fake
            .with(|l| l.accounts.get(&key).map(|a| a.xlm))
            .expect("account");
        assert_eq!(now - start, h.booked(&id), "account {id}");
    }
}

/// Set up and take the world's first cycle in quiet times, put the cycle
/// back in the books, then start a surge that the fee stats do not show
/// yet, and send the second cycle: it is held, unapplied. Returns its hash.
async fn stuck_cycle(fake: &StellarFake, h: &Harness, k: &mut StellarArbKeeper) -> String {
    fake.with(|l| l.create_account(master().public(), MASTER_XLM));
    k.recover(&h.cx(1)).await.expect("recover");
    k.tick(&h.cx(2)).await.expect("tick");
    let first = kstore::results(&h.store.read().expect("read")).expect("results");
    assert_eq!(
        first.iter().filter(|e| e.kind == "cycle").count(),
        1,
        "{first:?}"
    );
    let books = world().books;
    fake.with(|l| l.books = books);
    let quiet = fake.with(|l| l.fee_stats());
    fake.stale_fee_stats(Some(quiet));
    fake.with(|l| l.set_surge(SURGE));
    fake.close_ledger();
    k.tick(&h.cx(3)).await.expect("tick");
    let open = kstore::intents(&h.store.read().expect("read")).expect("intents");
    assert_eq!(open.len(), 1, "the second cycle is held: {open:?}");
    assert_eq!(
        per_op_bid(&open[0].envelope),
        Some(100),
        "sent at the base fee"
    );
    assert!(open[0].bump.is_none());
    assert_eq!(fake.with(|l| l.held.len()), 1);
    open[0].hash.clone()
}

#[tokio::test]
async fn a_surge_raises_the_bid_and_the_fee_paid_is_what_is_booked() {
    let fake = StellarFake::start(world()).await;
    fake.with(|l| l.set_surge(SURGE));
    let h = Harness::new();
    let mut k = keeper(&fake, config());
    fake.with(|l| l.create_account(master().public(), MASTER_XLM));
    k.recover(&h.cx(1)).await.expect("recover");
    k.tick(&h.cx(2)).await.expect("tick");
    assert!(
        k.view().fee.starts_with("600 stroops/op (surge p90)"),
        "{}",
        k.view().fee
    );
    let results: Vec<_> = kstore::results(&h.store.read().expect("read"))
        .expect("results")
        .into_iter()
        .filter(|e| e.kind != "friendbot")
        .collect();
    assert!(
        results.iter().any(|e| e.kind == "change_trust")
            && results.iter().any(|e| e.kind == "cycle"),
        "{results:?}"
    );
    assert!(
        results.iter().all(|e| e.result == "tx_success"),
        "{results:?}"
    );
    // Every transaction bid the surge's fee and none waited: no bump.
    fake.with(|l| {
        for t in l.txs.values() {
            assert_eq!(per_op_bid(&t.envelope), Some(SURGE), "{}", t.envelope);
        }
        assert!(l.held.is_empty());
        assert_eq!(l.bumps_applied, 0);
    });
    // The fee booked is the fee charged: SURGE per operation.
    let lines = kstore::ledger(&h.store.read().expect("read")).expect("ledger");
    let fees: Vec<i64> = lines
        .iter()
        .filter(|l| l.reason == "network fee")
        .map(|l| l.delta)
        .collect();
    assert_eq!(fees.len(), results.len(), "{lines:?}");
    assert!(fees.iter().all(|f| *f == -i64::from(SURGE)), "{fees:?}");
    assert_books_match(&fake, &h, &k);
    assert!(fake.submissions().bumps.is_empty());
}

#[tokio::test]
async fn a_transaction_a_surge_holds_is_lifted_by_a_fee_bump_and_settles_by_its_inner_hash() {
    let fake = StellarFake::start(world()).await;
    let h = Harness::new();
    let mut k = keeper(&fake, config());
    let inner = stuck_cycle(&fake, &h, &mut k).await;

    // The stats still say quiet: the bid stands, nothing is bumped.
    fake.close_ledger();
    k.tick(&h.cx(4)).await.expect("tick");
    assert!(fake.submissions().bumps.is_empty());
    assert_eq!(
        kstore::intents(&h.store.read().expect("read"))
            .expect("intents")
            .len(),
        1
    );

    // They catch up: one bump, at ten times the stuck bid (above the
    // surge's 600), settles the cycle.
    fake.stale_fee_stats(None);
    fake.close_ledger();
    k.tick(&h.cx(5)).await.expect("tick");
    let subs = fake.submissions();
    assert_eq!(subs.bumps.len(), 1, "{:?}", subs.bumps);
    assert_eq!(subs.bumps.values().copied().collect::<Vec<_>>(), vec![1]);
    let outer = subs.bumps.keys().next().cloned().expect("outer");
    assert_eq!(fake.with(|l| l.bumps_applied), 1);
    let sent = fake.with(|l| l.txs.get(&outer).map(|t| t.envelope.clone()));
    assert_eq!(sent.as_deref().and_then(per_op_bid), Some(1_000));

    assert!(
        kstore::intents(&h.store.read().expect("read"))
            .expect("intents")
            .is_empty()
    );
    let results = kstore::results(&h.store.read().expect("read")).expect("results");
    let bumped = results
        .iter()
        .find(|e| e.hash == inner)
        .expect("settled by the inner hash");
    assert_eq!(
        (bumped.kind.as_str(), bumped.result.as_str()),
        ("cycle", "tx_success")
    );
    // The fee (2 slots × the surge's 600) is the master's; the cycle's
    // result counts it.
    let lines = kstore::ledger(&h.store.read().expect("read")).expect("ledger");
    let master_lines: Vec<_> = lines
        .iter()
        .filter(|l| l.account == master().public().to_string())
        .collect();
    assert_eq!(master_lines.len(), 1, "{master_lines:?}");
    assert_eq!(master_lines[0].delta, -1_200);
    assert_eq!(master_lines[0].hash, inner);
    assert!(master_lines[0].reason.contains(&outer), "{master_lines:?}");
    let moved: i64 = lines
        .iter()
        .filter(|l| l.hash == inner && l.account != master().public().to_string())
        .map(|l| l.delta)
        .sum();
    assert_eq!(bumped.delta, moved - 1_200);
    assert_books_match(&fake, &h, &k);
    assert_eq!(k.view().fee_bumps, 1);
    // Its sequence saw the inner and the bump, nothing re-signed.
    let seqs: Vec<_> = subs
        .by_seq
        .values()
        .filter(|hs| hs.contains(&inner))
        .collect();
    assert_eq!(seqs.len(), 1);
    assert_eq!(seqs[0].iter().cloned().collect::<Vec<_>>(), {
        let mut v = vec![inner.clone(), outer.clone()];
        v.sort();
        v
    });
}

#[tokio::test]
async fn a_bump_applied_whose_answer_was_lost_is_settled_by_looking_after_a_restart() {
    let fake = StellarFake::start(world()).await;
    let h = Harness::new();
    let mut k = keeper(&fake, config());
    let inner = stuck_cycle(&fake, &h, &mut k).await;
    fake.stale_fee_stats(None);
    fake.fault(Rule::bump_send(Fault::ActThenDrop));
    fake.close_ledger();
    k.tick(&h.cx(4)).await.expect("tick");
    assert_eq!(fake.with(|l| l.bumps_applied), 1, "the peer acted");
    // The answer never came: the intent stands, its bump recorded.
    let open = kstore::intents(&h.store.read().expect("read")).expect("intents");
    assert_eq!(open.len(), 1);
    let recorded = open[0]
        .bump
        .clone()
        .expect("the bump was recorded before it left");
    assert_eq!((recorded.per_op, recorded.count), (1_000, 1));
    drop(k);

    // A new run over the same store: recovery looks by the inner hash.
    let mut k = keeper(&fake, config());
    k.recover(&h.cx(10)).await.expect("recover");
    k.tick(&h.cx(11)).await.expect("tick");
    assert!(
        kstore::intents(&h.store.read().expect("read"))
            .expect("intents")
            .is_empty()
    );
    // Never a second bump: the one recorded is the only one signed (the
    // look, still blind to it for a poll, may offer the same envelope
    // again), applied once, and its sequence saw nothing else.
    let subs = fake.submissions();
    assert_eq!(
        subs.bumps.keys().collect::<Vec<_>>(),
        vec![&recorded.outer_hash],
        "{:?}",
        subs.bumps
    );
    assert_eq!(fake.with(|l| l.bumps_applied), 1);
    let seq: Vec<_> = subs
        .by_seq
        .values()
        .filter(|hs| hs.contains(&inner))
        .collect();
    assert_eq!(seq.len(), 1);
    assert_eq!(seq[0].len(), 2, "the inner and its one bump: {seq:?}");
    let results = kstore::results(&h.store.read().expect("read")).expect("results");
    let bumped: Vec<_> = results.iter().filter(|e| e.hash == inner).collect();
    assert_eq!(bumped.len(), 1);
    assert_eq!(bumped[0].result, "tx_success");
    let lines = kstore::ledger(&h.store.read().expect("read")).expect("ledger");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.account == master().public().to_string())
            .map(|l| l.delta)
            .collect::<Vec<_>>(),
        vec![-1_200],
        "the bump's fee booked once"
    );
    assert_books_match(&fake, &h, &k);
}

#[tokio::test]
async fn a_bump_the_cap_forbids_is_not_sent_and_the_transaction_expires_unapplied() {
    let fake = StellarFake::start(world()).await;
    let h = Harness::new();
    let mut c = config();
    // Ten times the stuck bid is 1 000: above this cap.
    c.fee_policy.max_fee = 800;
    let mut k = keeper(&fake, c);
    let inner = stuck_cycle(&fake, &h, &mut k).await;
    fake.stale_fee_stats(None);
    fake.close_ledger();
    k.tick(&h.cx(4)).await.expect("tick");
    assert!(fake.submissions().bumps.is_empty());
    let mut snapshot = arbkeep::engine::Snapshot::empty(arbkeep::model::Mode::Paper, 0);
    k.render(&mut snapshot);
    let row = snapshot
        .intents
        .iter()
        .find(|i| i.what.contains(&inner))
        .expect("the open cycle is shown");
    assert!(
        row.doing
            .contains("a fee bump would need 1000, above max_fee_stroops 800"),
        "{row:?}"
    );
    // Past its maxTime (and the margin) it is dropped by the network and
    // written off, nothing booked.
    for _ in 0..40 {
        fake.close_ledger();
    }
    k.tick(&h.cx(5)).await.expect("tick");
    assert!(
        kstore::intents(&h.store.read().expect("read"))
            .expect("intents")
            .is_empty()
    );
    let results = kstore::results(&h.store.read().expect("read")).expect("results");
    let e = results.iter().find(|e| e.hash == inner).expect("settled");
    assert_eq!((e.result.as_str(), e.delta), ("expired unsent", 0));
    assert!(fake.submissions().bumps.is_empty());
    assert_books_match(&fake, &h, &k);
}
