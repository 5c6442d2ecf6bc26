//! 1delta's spot-swap API (UNVERIFIED, evm.md §1.6.3) as Hemi's first swap
//! provider, against the fake API over the devnet's Hemi, its calldata for
//! the devnet's real Uniswap V2 router: nothing 1delta says about amounts
//! is believed — its transaction is run as the wallet (the swap probe) and
//! the quote is what the chain moved, not the `tradeOutput` it writes in
//! the token's own units; the approve goes to the spender its permission
//! names and nowhere else; answers that lie (pay someone else, take more,
//! go to or approve an unlisted contract, revert) are refused with the
//! reason and SushiSwap V2 takes the swap; answers it cannot be trusted
//! with (set-up transactions, no route, more than the wallet holds) are
//! skipped without marking it down; down, rate-limited, cut or malformed
//! answers fall back; and the swap whose answer the node lost is settled by
//! looking, signed once, one transaction per nonce at the node's proxy.

use crate::devnet_common;

use alloy::primitives::{Address, U256};
use arbkeep::config::OneDeltaConfig;
use arbkeep::fakes::evm_rpc::{FakeRpc, RpcFault};
use arbkeep::fakes::onedelta::{FAKE_API_KEY, FakeOneDelta, Fault, OneDeltaChain};
use arbkeep::model::time::MINUTE;
use arbkeep::model::{
    Action, Chain, Clock, CycleId, Intent, IntentId, ManualClock, StepKind, SystemClock, TokenId,
};
use arbkeep::venue::evm::devnet::{Devnet, DevnetOptions};
use arbkeep::venue::evm::{EvmStore, EvmVenue, Wallet, erc20};
use arbkeep::venue::{LoopVenue, VenueError};
use devnet_common::*;
use std::sync::Arc;

fn swap(attempt: u32, amount_in: u128, min_out: u128) -> Intent {
    let id = IntentId {
        cycle: CycleId(13),
        step: StepKind::HemiSwap,
        attempt,
    };
    let action = Action::Swap {
        chain: Chain::Hemi,
        token_in: TokenId::Vcred,
        token_out: TokenId::Wbtc,
        amount_in,
        min_out,
        deadline: SystemClock.now() + 10 * MINUTE,
    };
    Intent::new(id, action, SystemClock.now())
}

struct World {
    d: Devnet,
    onedelta: FakeOneDelta,
    v: EvmVenue,
    store: Arc<EvmStore>,
    clock: Arc<ManualClock>,
    router: Address,
    proxy: FakeRpc,
    _tmp: tempfile::TempDir,
}

async fn world() -> World {
    let d = start(DevnetOptions::default()).await;
    let h = &d.deployment.hemi;
    let router = h.router;
    let onedelta = FakeOneDelta::start(OneDeltaChain {
        rpc_url: d.hemi.url(),
        chain_id: h.chain_id,
        router,
        key: Some(FAKE_API_KEY.into()),
    })
    .await
    .expect("the fake 1delta API starts");
    let wallet = Wallet::from_secrets(&keeper_secrets()).unwrap();
    let proxy = FakeRpc::start(&d.hemi.url()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    evm.hemi.rpc_url = proxy.url();
    evm.hemi.ws_url = None;
    let sc = &mut evm.hemi.swap;
    sc.onedelta = Some(OneDeltaConfig {
        name: "1delta".into(),
        base_url: onedelta.url(),
        targets: vec![router],
        api_key_env: "ONEDELTA_API_KEY".into(),
        slippage_bps: 50,
        timeout_ms: 2_000,
    });
    sc.order = vec!["1delta".into(), sc.v2_name.clone()];
    sc.retry_after_ms = 30_000;
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let env = |name: &str| (name == "ONEDELTA_API_KEY").then(|| FAKE_API_KEY.to_string());
    let v = EvmVenue::connect_with(evm, wallet, store.clone(), clock.clone(), "devnet", &env)
        .await
        .expect("venue connects");
    World {
        d,
        onedelta,
        v,
        store,
        clock,
        router,
        proxy,
        _tmp: tmp,
    }
}

impl World {
    async fn by_v2(&self, amount_in: u128) -> u128 {
        let h = &self.d.deployment.hemi;
        let path = vec![h.tokens[&TokenId::Vcred], h.tokens[&TokenId::Wbtc]];
        let out = arbkeep::venue::evm::swap::v2::quote(
            self.v.client(Chain::Hemi),
            h.router,
            path,
            U256::from(amount_in),
        )
        .await
        .unwrap();
        u128::try_from(out).unwrap()
    }

    async fn wbtc(&self) -> U256 {
        let wbtc = self.d.deployment.hemi.tokens[&TokenId::Wbtc];
        erc20::balance_of(self.v.client(Chain::Hemi), wbtc, self.v.wallet())
            .await
            .unwrap()
    }

    /// Every spender the keeper's approves named, and every other target.
    fn spenders(&self, intent: &Intent) -> Vec<(String, Address)> {
        self.store
            .txs_of(&intent.id.to_string())
            .unwrap()
            .iter()
            .map(|r| match erc20::approved_spender(&r.data) {
                Some(s) => (format!("approve {}", r.purpose), s),
                None => (r.purpose.clone(), r.to),
            })
            .collect()
    }

    async fn onedelta_ok(&self) -> Option<(bool, String)> {
        self.v
            .health()
            .await
            .into_iter()
            .find(|h| h.name == "Hemi swap 1delta")
            .map(|h| (h.ok, h.detail))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_onedelta_goes_first_on_hemi_at_what_its_transaction_moves() {
    let w = world().await;
    let vcred_in = TokenId::Vcred.one() * 2_000;
    let by_v2 = w.by_v2(vcred_in).await;

    // Sizing: 1delta builds the swap for the wallet, it is run as the
    // wallet, and the quote is what arrived there — in base units, not the
    // decimal `tradeOutput` 1delta wrote.
    let quoted =
        w.v.quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred_in)
            .await
            .unwrap();
    assert_eq!(quoted, by_v2);
    assert_eq!(w.onedelta.calls(), 1);
    assert_eq!(
        w.proxy.calls("eth_sendRawTransaction"),
        0,
        "a quote sends nothing"
    );

    // The swap: the approve to the spender 1delta's permission named, its
    // transaction unchanged, booked at what the chain moved.
    let before = w.wbtc().await;
    let i = swap(0, vcred_in, by_v2 * 99 / 100);
    let r = w.v.execute(&i).await.unwrap();
    let via = r.via.clone().unwrap();
    assert!(via.starts_with("via 1delta (1delta route"), "{via}");
    assert_eq!(r.amount_out, by_v2);
    assert_eq!(w.wbtc().await - before, U256::from(r.amount_out));
    assert_eq!(
        w.spenders(&i),
        [
            ("approve approve".to_string(), w.router),
            ("swap".to_string(), w.router)
        ]
    );

    // More than the wallet holds cannot be run as the wallet: 1delta is
    // skipped for it, still healthy, and V2 quotes.
    let held = erc20::balance_of(
        w.v.client(Chain::Hemi),
        w.d.deployment.hemi.tokens[&TokenId::Vcred],
        w.v.wallet(),
    )
    .await
    .unwrap();
    let too_much = u128::try_from(held).unwrap() + 1;
    let q =
        w.v.quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, too_much)
            .await
            .unwrap();
    assert_eq!(q, w.by_v2(too_much).await);
    assert_eq!(w.onedelta_ok().await.map(|h| h.0), Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_a_lying_onedelta_answer_is_refused_and_sushi_takes_the_swap() {
    let w = world().await;
    let vcred_in = TokenId::Vcred.one() * 1_000;
    let stranger = Address::repeat_byte(0x5a);
    // (fault, what the refusal says, whether 1delta is marked down for it)
    // (a refusal leaves the health as it was, so those come first)
    let cases = [
        (Fault::Setup, "set-up transaction", false),
        (Fault::NoRoute, "NO_ROUTE", false),
        (Fault::PaysTo(stranger), "pays the wallet nothing", true),
        (Fault::TakesMore, "reverts when run as the wallet", true),
        (Fault::SendsTo(stranger), "not a configured target", true),
        (Fault::Spender(stranger), "as the spender", true),
        (Fault::Unfillable, "reverts when run as the wallet", true),
    ];
    for (attempt, (fault, says, down)) in cases.into_iter().enumerate() {
        let by_v2 = w.by_v2(vcred_in).await;
        let sent = w.proxy.calls("eth_sendRawTransaction");
        w.onedelta.next(fault);
        let i = swap(attempt as u32, vcred_in, by_v2 * 99 / 100);
        let r = w.v.execute(&i).await.unwrap();
        let via = r.via.unwrap();
        assert!(
            via.starts_with("via sushi_v2") && via.contains("1delta skipped") && via.contains(says),
            "{fault:?}: {via}"
        );
        // Nothing went to (or was approved for) anything 1delta named.
        for (what, to) in w.spenders(&i) {
            assert_eq!(to, w.router, "{fault:?}: {what}");
            assert_ne!(to, stranger);
        }
        assert_eq!(
            w.proxy.calls("eth_sendRawTransaction"),
            sent + 2,
            "{fault:?}"
        );
        let (ok, detail) = w.onedelta_ok().await.unwrap();
        assert_eq!(!ok, down, "{fault:?}: {detail}");
        w.clock.advance(30_001);
    }
    assert_eq!(w.onedelta.met().len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_onedelta_failures_fall_back_and_a_lost_answer_is_settled_by_looking() {
    let w = world().await;
    let vcred_in = TokenId::Vcred.one() * 500;

    // Down: V2 takes it, and says why.
    w.onedelta.set_down(true);
    let i = swap(0, vcred_in, 1);
    let r = w.v.execute(&i).await.unwrap();
    let via = r.via.unwrap();
    assert!(
        via.starts_with("via sushi_v2") && via.contains("HTTP 503"),
        "{via}"
    );
    w.onedelta.set_down(false);
    w.clock.advance(30_001);

    // Rate limited, cut, malformed, slow past the timeout, dropped: V2's
    // quote is taken and 1delta rests with the reason.
    for (fault, says) in [
        (Fault::Status(429), "429"),
        (Fault::Truncated, "1delta"),
        (Fault::Malformed, "not JSON"),
        (Fault::Slow(3_000), "1delta"),
        (Fault::Drop, "1delta"),
    ] {
        w.onedelta.next(fault);
        let q =
            w.v.quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred_in)
                .await
                .unwrap();
        assert_eq!(q, w.by_v2(vcred_in).await, "{fault:?}");
        let (ok, detail) = w.onedelta_ok().await.unwrap();
        assert!(!ok && detail.contains(says), "{fault:?}: {detail}");
        w.clock.advance(30_001);
    }

    // The node takes 1delta's transaction and the answer is lost: the step
    // settles by looking; the swap went out once (counted at the proxy).
    let by_v2 = w.by_v2(vcred_in).await;
    let i = swap(1, vcred_in, by_v2 * 99 / 100);
    let sent = w.proxy.calls("eth_sendRawTransaction");
    let c = w.v.client(Chain::Hemi);
    let nonce_before = c.nonce_latest(w.v.wallet()).await.unwrap();
    let wbtc_before = w.wbtc().await;
    // The approve is the next send, the swap the one after it.
    w.proxy
        .script("eth_sendRawTransaction", sent + 2, RpcFault::DropAfter);
    let r = loop {
        match w.v.execute(&i).await {
            Ok(r) => break r,
            Err(VenueError::Unknown(_)) | Err(VenueError::Transient(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    assert!(
        r.via.clone().unwrap().starts_with("via 1delta"),
        "{:?}",
        r.via
    );
    let recs = w.store.txs_of(&i.id.to_string()).unwrap();
    assert_eq!(recs.len(), 2);
    for rec in &recs {
        assert_eq!(rec.attempts.len(), 1, "{} signed once", rec.purpose);
    }
    assert_eq!(recs[1].nonce, recs[0].nonce + 1);
    assert_eq!(
        c.nonce_latest(w.v.wallet()).await.unwrap(),
        nonce_before + 2
    );
    assert_eq!(w.wbtc().await - wbtc_before, U256::from(r.amount_out));
    assert!(
        w.proxy
            .faults_met()
            .iter()
            .any(|(m, _, f)| m == "eth_sendRawTransaction" && *f == RpcFault::DropAfter)
    );
    for (_, hashes) in w.proxy.sends_by_nonce() {
        assert_eq!(hashes.len(), 1, "one transaction per nonce");
    }
}

/// The embedded probe is the bytes solc-js makes of its source today.
#[test]
fn the_embedded_swap_probe_is_its_source_compiled() {
    require_tools();
    let compiled = arbkeep::venue::evm::devnet::runtime_code(&root(), "SwapProbe").unwrap();
    assert_eq!(compiled, arbkeep::venue::evm::swap::probe::runtime());
}
