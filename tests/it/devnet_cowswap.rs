//! CowSwap as Ethereum's first swap provider, through the venue, against
//! the real GPv2Settlement on the devnet, the fake orderbook and the local
//! solver settling in the background: a swap step approves the
//! VaultRelayer (never the settlement), signs its order, records it before
//! posting, and books what the settlement moved; the order's post whose
//! answer was lost is found by its UID, never posted again; with the
//! orderbook down the swap goes to 0x; an order that expires unfilled dies
//! and the same step falls back to 0x through an approve of its own, the
//! wallet moving exactly what the receipts book each time.

use crate::devnet_common;

use alloy::primitives::{Address, U256};
use arbkeep::config::{CowConfig, ZeroXConfig};
use arbkeep::fakes::cow::{FakeCow, PostFault};
use arbkeep::fakes::zerox::{FAKE_API_KEY, FakeZeroX};
use arbkeep::model::time::{MINUTE, SECOND};
use arbkeep::model::{
    Action, Chain, Clock, CycleId, Intent, IntentId, ManualClock, StepKind, TokenId,
};
use arbkeep::venue::evm::devnet::{Devnet, DevnetOptions};
use arbkeep::venue::evm::{EvmStore, EvmVenue, Wallet, erc20};
use arbkeep::venue::{LoopVenue, VenueError};
use devnet_common::*;
use std::sync::Arc;
use std::time::Duration;

struct World {
    d: Devnet,
    cow: Arc<FakeCow>,
    _cow: Cow,
    v: EvmVenue,
    evm: arbkeep::config::EvmConfig,
    store: Arc<EvmStore>,
    clock: Arc<ManualClock>,
    relayer: Address,
    settlement: Address,
    holder: Address,
    _zerox: FakeZeroX,
    _ticking: tokio::task::JoinHandle<()>,
    _tmp: tempfile::TempDir,
}

async fn world() -> World {
    world_with(false).await
}

async fn world_with(partially_fillable: bool) -> World {
    let d = start(DevnetOptions::default()).await;
    let e = d.deployment.ethereum.clone();
    // One clock for the venue and the orderbook, ahead of the chain's and
    // running ten times as fast: orders expire in seconds of wall time.
    let clock = Arc::new(ManualClock::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    ));
    let ticking = {
        let clock = clock.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                clock.advance(SECOND);
            }
        })
    };
    let cow = start_cow(&d, clock.clone()).await;
    let contracts = cow.contracts.clone();
    let zx = e.zerox.clone().unwrap();
    let zerox = start_zerox(&d).await;
    let wallet = Wallet::from_secrets(&keeper_secrets()).unwrap();
    mint_on_ethereum(&d, TokenId::Wbtc, wallet.address(), 2 * TokenId::Wbtc.one()).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    let sc = &mut evm.ethereum.swap;
    sc.cowswap = Some(CowConfig {
        name: "cowswap".into(),
        base_url: cow.fake.url(),
        settlement: contracts.settlement,
        vault_relayer: contracts.vault_relayer,
        valid_for_ms: 60 * SECOND,
        slippage_bps: 50,
        timeout_ms: 2_000,
        poll_ms: 200,
        partially_fillable,
    });
    sc.zerox = Some(ZeroXConfig {
        name: "zerox".into(),
        base_url: zerox.url(),
        allowance_holder: zx.allowance_holder,
        api_key_env: "ZEROX_API_KEY".into(),
        slippage_bps: 50,
        timeout_ms: 2_000,
    });
    sc.order = vec!["cowswap".into(), "zerox".into(), sc.v2_name.clone()];
    sc.retry_after_ms = 30 * SECOND;
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let env = |name: &str| (name == "ZEROX_API_KEY").then(|| FAKE_API_KEY.to_string());
    let v = EvmVenue::connect_with(evm, wallet, store.clone(), clock.clone(), "devnet", &env)
        .await
        .expect("venue connects");
    let evm = evm.clone();
    World {
        evm,
        d,
        cow: cow.fake.clone(),
        _cow: cow,
        v,
        store,
        clock,
        relayer: contracts.vault_relayer,
        settlement: contracts.settlement,
        holder: zx.allowance_holder,
        _zerox: zerox,
        _ticking: ticking,
        _tmp: tmp,
    }
}

impl World {
    fn swap(&self, attempt: u32, amount_in: u128, min_out: u128) -> Intent {
        self.swap_of(TokenId::Wbtc, attempt, amount_in, min_out)
    }

    fn swap_of(&self, token_in: TokenId, attempt: u32, amount_in: u128, min_out: u128) -> Intent {
        let id = IntentId {
            cycle: CycleId(21),
            step: StepKind::EthSwap,
            attempt,
        };
        let action = Action::Swap {
            chain: Chain::Ethereum,
            token_in,
            token_out: TokenId::Usdc,
            amount_in,
            min_out,
            deadline: self.clock.now() + 30 * MINUTE,
        };
        Intent::new(id, action, self.clock.now())
    }

    async fn balances(&self) -> (U256, U256) {
        let e = &self.d.deployment.ethereum;
        let c = self.v.client(Chain::Ethereum);
        let me = self.v.wallet();
        (
            erc20::balance_of(c, e.tokens[&TokenId::Wbtc], me)
                .await
                .unwrap(),
            erc20::balance_of(c, e.tokens[&TokenId::Usdc], me)
                .await
                .unwrap(),
        )
    }

    async fn by_v2(&self, amount_in: u128) -> u128 {
        self.by_v2_of(TokenId::Wbtc, amount_in).await
    }

    async fn by_v2_of(&self, token_in: TokenId, amount_in: u128) -> u128 {
        let e = &self.d.deployment.ethereum;
        let sell = if token_in.is_native() {
            e.weth
        } else {
            e.tokens[&token_in]
        };
        let out = arbkeep::venue::evm::swap::v2::quote(
            self.v.client(Chain::Ethereum),
            e.router,
            vec![sell, e.tokens[&TokenId::Usdc]],
            U256::from(amount_in),
        )
        .await
        .unwrap();
        u128::try_from(out).unwrap()
    }

    /// Carry the intent out until it is done, as the engine would.
    async fn done(&self, i: &Intent) -> arbkeep::model::Receipt {
        for _ in 0..100 {
            match self.v.execute(i).await {
                Ok(r) => return r,
                Err(VenueError::Transient(_) | VenueError::Unknown(_)) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("{}: {e}", i.id),
            }
        }
        panic!("{} never finished", i.id)
    }

    /// A venue over the same journal that looks at an order only briefly,
    /// with the step's order placed and still open.
    async fn place_open(&self, i: &Intent) -> EvmVenue {
        let mut quick = self.evm.clone();
        quick.tx_timeout_ms = 3_000;
        let wallet = Wallet::from_secrets(&keeper_secrets()).unwrap();
        let env = |name: &str| (name == "ZEROX_API_KEY").then(|| FAKE_API_KEY.to_string());
        let v = EvmVenue::connect_with(
            &quick,
            wallet,
            self.store.clone(),
            self.clock.clone(),
            "devnet",
            &env,
        )
        .await
        .unwrap();
        // (The approve may outlast so short a wait: carried out again, it resumes.)
        for _ in 0..20 {
            match v.execute(i).await {
                Err(VenueError::Transient(why)) if why.contains("still open") => return v,
                Err(VenueError::Transient(_) | VenueError::Unknown(_)) => {}
                other => panic!("expected the order still open, got {other:?}"),
            }
        }
        panic!("{}: the order was never seen open", i.id)
    }

    /// (purpose, spender or target) of each of the step's transactions.
    fn txs(&self, i: &Intent) -> Vec<(String, Address)> {
        self.store
            .txs_of(&i.id.to_string())
            .unwrap()
            .iter()
            .map(|r| match erc20::approved_spender(&r.data) {
                Some(s) => (r.purpose.clone(), s),
                None => (r.purpose.clone(), r.to),
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_cowswap_order_settles_through_gpv2_and_a_lost_post_is_found_by_uid() {
    let w = world().await;
    let amount = TokenId::Wbtc.one() / 10;
    let by_v2 = w.by_v2(amount).await;
    let before = w.balances().await;
    // The post is taken and its answer lost: the step looks the order up
    // by the UID it recorded, and does not post it again.
    w.cow.fail_next_post(PostFault::ActThenDrop);
    let i = w.swap(0, amount, by_v2 * 98 / 100);
    let r = w.done(&i).await;
    let via = r.via.clone().unwrap();
    assert!(via.starts_with("via cowswap (CoW order)"), "{via}");
    let after = w.balances().await;
    assert_eq!(before.0 - after.0, U256::from(r.amount_in));
    assert_eq!(after.1 - before.1, U256::from(r.amount_out));
    assert_eq!(r.amount_in, amount, "fill-or-kill: all of it");
    assert!(
        r.amount_out >= by_v2 * 98 / 100,
        "{} vs {by_v2}",
        r.amount_out
    );
    // The settlement moved it, in the transaction the receipt names.
    let c = w.v.client(Chain::Ethereum);
    let settled = c
        .receipt(r.tx_hash.parse().unwrap())
        .await
        .unwrap()
        .expect("the settlement is mined");
    assert_eq!(settled.to, Some(w.settlement));
    // Only the approve was ours, to the VaultRelayer; one order, posted once.
    assert_eq!(w.txs(&i), [("approve".to_string(), w.relayer)]);
    let rec = w.store.intent(&i.id.to_string()).unwrap().unwrap();
    let uid = rec.order.expect("the order is on record").uid;
    assert!(via.ends_with(&format!("; order {uid}")), "{via}");
    assert_eq!(w.cow.posts().get(&uid), Some(&1), "{:?}", w.cow.posts());
    assert_eq!(w.cow.post_total(), 1);
    // Settling again by looking: the same receipt, nothing sent.
    let again = w.v.settle(i.id).await.unwrap().expect("done");
    assert_eq!(
        (again.amount_in, again.amount_out),
        (r.amount_in, r.amount_out)
    );
    assert_eq!(w.cow.post_total(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_cowswap_down_or_expiring_unfilled_falls_back_to_zerox() {
    let w = world().await;
    let amount = TokenId::Wbtc.one() / 20;

    // The orderbook down: its quote fails, 0x takes the swap.
    w.cow.set_down(true);
    let by_v2 = w.by_v2(amount).await;
    let i = w.swap(0, amount, by_v2 * 98 / 100);
    let r = w.done(&i).await;
    let via = r.via.clone().unwrap();
    assert!(
        via.starts_with("via zerox") && via.contains("cowswap skipped") && via.contains("503"),
        "{via}"
    );
    assert_eq!(
        w.txs(&i),
        [
            ("approve".to_string(), w.holder),
            ("swap".to_string(), w.holder)
        ]
    );
    w.cow.set_down(false);
    w.clock.advance(31 * SECOND);

    // An order no solver fills: it expires, dies, and the same step goes to
    // 0x through an approve of its own.
    w.cow.set_never_fill(true);
    let before = w.balances().await;
    let by_v2 = w.by_v2(amount).await;
    let i = w.swap(1, amount, by_v2 * 98 / 100);
    let r = w.done(&i).await;
    let via = r.via.clone().unwrap();
    assert!(
        via.starts_with("via zerox")
            && via.contains("cowswap skipped: this step's order there can no longer fill"),
        "{via}"
    );
    let rec = w.store.intent(&i.id.to_string()).unwrap().unwrap();
    let order = rec.order.expect("the dead order stays on record");
    assert!(order.is_dead(), "{:?}", order.state);
    assert_eq!(w.cow.posts().get(&order.uid), Some(&1));
    assert_eq!(
        w.txs(&i),
        [
            ("approve".to_string(), w.relayer),
            ("swap".to_string(), w.holder),
            ("approve".to_string(), w.holder),
        ]
    );
    let after = w.balances().await;
    assert_eq!(before.0 - after.0, U256::from(r.amount_in));
    assert_eq!(after.1 - before.1, U256::from(r.amount_out));
    let health = w.v.health().await;
    assert!(
        health
            .iter()
            .any(|h| h.name == "Ethereum swap cowswap" && !h.ok && h.detail.contains("expired")),
        "{health:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_cowswap_sells_eth_as_weth_wrapped_first_and_unwrapped_if_the_order_dies() {
    let w = world().await;
    let e = w.d.deployment.ethereum.clone();
    let c = w.v.client(Chain::Ethereum);
    let me = w.v.wallet();
    let amount = TokenId::Eth.one() / 5;

    // Filled: the step wrapped the ETH, approved WETH to the VaultRelayer,
    // and the order sold all of it.
    let eth_before = c.native_balance(me).await.unwrap();
    let usdc_before = w.balances().await.1;
    let by_v2 = w.by_v2_of(TokenId::Eth, amount).await;
    let i = w.swap_of(TokenId::Eth, 0, amount, by_v2 * 98 / 100);
    let r = w.done(&i).await;
    assert!(
        r.via.clone().unwrap().starts_with("via cowswap"),
        "{:?}",
        r.via
    );
    assert_eq!(
        w.txs(&i),
        [
            ("approve".to_string(), w.relayer),
            ("wrap".to_string(), e.weth)
        ]
    );
    assert_eq!(r.amount_in, amount);
    let eth_after = c.native_balance(me).await.unwrap();
    assert_eq!(eth_before - eth_after, U256::from(amount + r.gas_fee));
    assert_eq!(w.balances().await.1 - usdc_before, U256::from(r.amount_out));
    let weth = erc20::balance_of(c, e.weth, me).await.unwrap();
    assert!(weth.is_zero(), "all the wrapped ETH was sold: {weth}");
    w.clock.advance(31 * SECOND);

    // Never filled: the order dies, the ETH is unwrapped again, and 0x sells
    // it as ETH; the wallet moves exactly what the receipt books.
    w.cow.set_never_fill(true);
    let eth_before = c.native_balance(me).await.unwrap();
    let usdc_before = w.balances().await.1;
    let by_v2 = w.by_v2_of(TokenId::Eth, amount).await;
    let i = w.swap_of(TokenId::Eth, 1, amount, by_v2 * 98 / 100);
    let r = w.done(&i).await;
    let via = r.via.clone().unwrap();
    assert!(via.starts_with("via zerox"), "{via}");
    assert_eq!(
        w.txs(&i),
        [
            ("approve".to_string(), w.relayer),
            ("swap".to_string(), w.holder),
            ("wrap".to_string(), e.weth),
            ("unwrap".to_string(), e.weth),
        ]
    );
    let eth_after = c.native_balance(me).await.unwrap();
    assert_eq!(eth_before - eth_after, U256::from(amount + r.gas_fee));
    assert_eq!(w.balances().await.1 - usdc_before, U256::from(r.amount_out));
    assert!(erc20::balance_of(c, e.weth, me).await.unwrap().is_zero());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_a_partially_fillable_order_books_what_filled_by_its_valid_to() {
    let w = world_with(true).await;
    let amount = TokenId::Wbtc.one() / 10;
    // The solver fills half of an order per pass; after the first half no
    // solver comes back, and the order expires half filled.
    w.cow.set_partial_fill(1, 2);
    let watcher = {
        let cow = w.cow.clone();
        tokio::spawn(async move {
            while cow.trades().is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            cow.set_never_fill(true);
        })
    };
    let before = w.balances().await;
    let by_v2 = w.by_v2(amount / 2).await;
    let i = w.swap(0, amount, 1);
    let r = w.done(&i).await;
    watcher.await.unwrap();
    assert!(
        r.via.clone().unwrap().starts_with("via cowswap"),
        "{:?}",
        r.via
    );
    assert_eq!(r.amount_in, amount / 2, "half of it filled");
    assert!(
        r.amount_out >= by_v2 * 98 / 100,
        "{} vs {by_v2}",
        r.amount_out
    );
    let after = w.balances().await;
    assert_eq!(before.0 - after.0, U256::from(r.amount_in));
    assert_eq!(after.1 - before.1, U256::from(r.amount_out));
    assert_eq!(w.cow.trades().len(), 1);
    let rec = w.store.intent(&i.id.to_string()).unwrap().unwrap();
    assert!(rec.order.unwrap().partially_fillable);
}

/// An order that may still fill is never given up on: restarted without
/// CowSwap in its config, the venue holds the step (outcome unknown)
/// instead of refusing it, which would start the step again elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_order_holds_its_step_when_it_cannot_be_looked_at() {
    let w = world().await;
    w.cow.set_never_fill(true);
    let amount = TokenId::Wbtc.one() / 20;
    let i = w.swap(0, amount, 1);
    // The first carry-out places the order and looks for a short while.
    w.place_open(&i).await;
    let mut evm = w.evm.clone();
    evm.ethereum.swap.cowswap = None;
    evm.ethereum.swap.order = vec!["zerox".into(), evm.ethereum.swap.v2_name.clone()];
    let wallet = Wallet::from_secrets(&keeper_secrets()).unwrap();
    let env = |name: &str| (name == "ZEROX_API_KEY").then(|| FAKE_API_KEY.to_string());
    let v = EvmVenue::connect_with(
        &evm,
        wallet,
        w.store.clone(),
        w.clock.clone(),
        "devnet",
        &env,
    )
    .await
    .unwrap();
    match v.execute(&i).await {
        Err(VenueError::Unknown(why)) => assert!(why.contains("the step holds"), "{why}"),
        other => panic!("expected the step held, got {other:?}"),
    }
    // Nothing else was sent for it: only the order's approve.
    assert_eq!(w.txs(&i), [("approve".to_string(), w.relayer)]);
    assert_eq!(w.cow.post_total(), 1);
}

/// The operator's override of a step whose order is open: the orderbook is
/// asked (signed) to cancel it; the answer of that DELETE lost after the
/// orderbook acted, the next look finds it cancelled and the override
/// applies — one cancellation sent, the order never filled, the step never
/// carried out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_override_cancels_a_live_order_once_even_when_the_answer_is_lost() {
    let w = world().await;
    w.cow.set_never_fill(true);
    let i = w.swap(0, TokenId::Wbtc.one() / 20, 1);
    let v = w.place_open(&i).await;
    let uid = w
        .store
        .intent(&i.id.to_string())
        .unwrap()
        .unwrap()
        .order
        .unwrap()
        .uid;
    w.cow.fail_next_cancel(PostFault::ActThenDrop);
    match v.abandon(i.id).await {
        Err(VenueError::Transient(_) | VenueError::Unknown(_)) => {}
        other => panic!("the cancel's answer was lost: {other:?}"),
    }
    let done = v.abandon(i.id).await.expect("the order is cancelled now");
    assert_eq!(done, arbkeep::venue::Abandonment::NeverSent);
    assert_eq!(w.cow.cancels().get(&uid), Some(&1), "{:?}", w.cow.cancels());
    // A solver coming back finds nothing to fill; the step stays given up.
    w.cow.set_never_fill(false);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(w.cow.trades().is_empty());
    match v.execute(&i).await {
        Err(VenueError::Rejected(why)) => assert!(why.contains("abandoned"), "{why}"),
        other => panic!("expected the step given up, got {other:?}"),
    }
    assert_eq!(w.cow.post_total(), 1);
}

/// Every way a post's answer can go wrong after the orderbook took the
/// order — the connection dropped, a 5xx, a cut or malformed body — is
/// settled by looking the order up by its UID: posted once, filled once,
/// the wallet moving what the receipt books.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_fault_after_acting_is_settled_by_looking_up_the_uid() {
    let w = world().await;
    let amount = TokenId::Wbtc.one() / 50;
    for (n, fault) in [
        PostFault::ActThenDrop,
        PostFault::ActThen(502),
        PostFault::ActThenTruncated,
        PostFault::ActThenMalformed,
    ]
    .into_iter()
    .enumerate()
    {
        let before = w.balances().await;
        let by_v2 = w.by_v2(amount).await;
        w.cow.fail_next_post(fault);
        let i = w.swap(40 + n as u32, amount, by_v2 * 98 / 100);
        let r = w.done(&i).await;
        assert!(
            r.via.clone().unwrap().starts_with("via cowswap"),
            "{fault:?}: {:?}",
            r.via
        );
        let uid = w
            .store
            .intent(&i.id.to_string())
            .unwrap()
            .unwrap()
            .order
            .unwrap()
            .uid;
        assert_eq!(w.cow.posts().get(&uid), Some(&1), "{fault:?}");
        let after = w.balances().await;
        assert_eq!(before.0 - after.0, U256::from(r.amount_in), "{fault:?}");
        assert_eq!(after.1 - before.1, U256::from(r.amount_out), "{fault:?}");
    }
    assert_eq!(w.cow.post_total(), 4);
    assert_eq!(w.cow.trades().len(), 4);
}
