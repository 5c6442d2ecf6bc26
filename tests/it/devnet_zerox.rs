//! 0x's Swap API (AllowanceHolder flow) as Ethereum's first swap provider,
//! against the fake API over the devnet chain: sizing asks `/price` only;
//! a swap asks `/quote` and sends 0x's own calldata, approved to the
//! AllowanceHolder and never to the Settler, settling at what the chain
//! moved; an answer that lies (pays someone else, takes more, is addressed
//! elsewhere, names another spender, claims a floor its calldata lacks) is
//! refused with the reason, 0x rests and V2 takes the swap; a quote whose
//! transaction reverts in simulation is never sent; 0x down or rate
//! limited falls back to V2; the transaction whose answer the node lost is
//! settled by looking: signed once, one transaction per nonce at the
//! node's proxy.

use crate::devnet_common;

use alloy::primitives::{Address, U256};
use arbkeep::config::ZeroXConfig;
use arbkeep::fakes::evm_rpc::{FakeRpc, RpcFault};
use arbkeep::fakes::zerox::{FAKE_API_KEY, FakeZeroX, Fault, PRICE, QUOTE};
use arbkeep::model::time::MINUTE;
use arbkeep::model::{
    Action, Chain, Clock, CycleId, Intent, IntentId, ManualClock, StepKind, SystemClock, TokenId,
};
use arbkeep::venue::evm::devnet::{Devnet, DevnetOptions};
use arbkeep::venue::evm::{EvmStore, EvmVenue, Wallet, erc20};
use arbkeep::venue::{LoopVenue, VenueError};
use devnet_common::*;
use std::sync::Arc;

fn swap(attempt: u32, token_in: TokenId, amount_in: u128, min_out: u128) -> Intent {
    let id = IntentId {
        cycle: CycleId(11),
        step: StepKind::EthSwap,
        attempt,
    };
    let action = Action::Swap {
        chain: Chain::Ethereum,
        token_in,
        token_out: TokenId::Usdc,
        amount_in,
        min_out,
        deadline: SystemClock.now() + 10 * MINUTE,
    };
    Intent::new(id, action, SystemClock.now())
}

struct World {
    d: Devnet,
    zerox: FakeZeroX,
    v: EvmVenue,
    store: Arc<EvmStore>,
    clock: Arc<ManualClock>,
    holder: Address,
    settler: Address,
    proxy: FakeRpc,
    _tmp: tempfile::TempDir,
}

async fn world() -> World {
    let d = start(DevnetOptions::default()).await;
    let e = &d.deployment.ethereum;
    let zx = e.zerox.clone().expect("0x on the devnet's Ethereum");
    let zerox = start_zerox(&d).await;
    // The keeper's WBTC on Ethereum, to sell.
    let wallet = Wallet::from_secrets(&keeper_secrets()).unwrap();
    mint_on_ethereum(&d, TokenId::Wbtc, wallet.address(), 2 * TokenId::Wbtc.one()).await;
    let proxy = FakeRpc::start(&d.ethereum.url()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    evm.ethereum.rpc_url = proxy.url();
    evm.ethereum.ws_url = None;
    let sc = &mut evm.ethereum.swap;
    sc.zerox = Some(ZeroXConfig {
        name: "zerox".into(),
        base_url: zerox.url(),
        allowance_holder: zx.allowance_holder,
        api_key_env: "ZEROX_API_KEY".into(),
        slippage_bps: 50,
        timeout_ms: 2_000,
    });
    sc.order = vec!["zerox".into(), sc.v2_name.clone()];
    sc.retry_after_ms = 30_000;
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let env = |name: &str| (name == "ZEROX_API_KEY").then(|| FAKE_API_KEY.to_string());
    let v = EvmVenue::connect_with(evm, wallet, store.clone(), clock.clone(), "devnet", &env)
        .await
        .expect("venue connects");
    World {
        d,
        zerox,
        v,
        store,
        clock,
        holder: zx.allowance_holder,
        settler: zx.settler,
        proxy,
        _tmp: tmp,
    }
}

impl World {
    async fn by_v2(&self, token_in: TokenId, amount_in: u128) -> u128 {
        let e = &self.d.deployment.ethereum;
        let path = vec![
            if token_in.is_native() {
                e.weth
            } else {
                e.tokens[&token_in]
            },
            e.tokens[&TokenId::Usdc],
        ];
        let out = arbkeep::venue::evm::swap::v2::quote(
            self.v.client(Chain::Ethereum),
            e.router,
            path,
            U256::from(amount_in),
        )
        .await
        .unwrap();
        u128::try_from(out).unwrap()
    }

    async fn usdc(&self) -> U256 {
        let usdc = self.d.deployment.ethereum.tokens[&TokenId::Usdc];
        erc20::balance_of(self.v.client(Chain::Ethereum), usdc, self.v.wallet())
            .await
            .unwrap()
    }

    /// Every spender the keeper's approves named on Ethereum.
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_zerox_goes_first_on_ethereum_and_its_calldata_settles() {
    let w = world().await;
    let wbtc_in = TokenId::Wbtc.one() / 10;
    let by_v2 = w.by_v2(TokenId::Wbtc, wbtc_in).await;

    // Sizing asks the indicative price only: no calldata yet.
    let quoted =
        w.v.quote(Chain::Ethereum, TokenId::Wbtc, TokenId::Usdc, wbtc_in)
            .await
            .unwrap();
    assert_eq!(quoted, by_v2, "the fake prices off the chain's pool");
    assert_eq!((w.zerox.calls(PRICE), w.zerox.calls(QUOTE)), (1, 0));

    // The swap: a firm quote, the approve to the AllowanceHolder, 0x's
    // transaction to the AllowanceHolder; the wallet gets what is booked.
    let before = w.usdc().await;
    let i = swap(0, TokenId::Wbtc, wbtc_in, by_v2 * 99 / 100);
    let r = w.v.execute(&i).await.unwrap();
    let via = r.via.clone().unwrap();
    assert!(via.starts_with("via zerox (0x AllowanceHolder)"), "{via}");
    assert_eq!(w.zerox.calls(QUOTE), 1);
    assert_eq!(r.amount_out, by_v2);
    assert_eq!(w.usdc().await - before, U256::from(r.amount_out));
    assert_eq!(
        w.spenders(&i),
        [
            ("approve approve".to_string(), w.holder),
            ("swap".to_string(), w.holder)
        ]
    );
    assert_ne!(w.holder, w.settler);

    // Native ETH in: no approve, the value is the amount sold.
    let eth_in = TokenId::Eth.one() / 4;
    let eth_quote = w.by_v2(TokenId::Eth, eth_in).await;
    let i = swap(1, TokenId::Eth, eth_in, eth_quote * 99 / 100);
    let r = w.v.execute(&i).await.unwrap();
    assert!(
        r.via.clone().unwrap().starts_with("via zerox"),
        "{:?}",
        r.via
    );
    assert_eq!(r.amount_out, eth_quote);
    let recs = w.store.txs_of(&i.id.to_string()).unwrap();
    assert_eq!(recs.len(), 1, "native in needs no approve");
    assert_eq!((recs[0].to, recs[0].value), (w.holder, U256::from(eth_in)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_a_lying_zerox_answer_is_refused_and_v2_takes_the_swap() {
    let w = world().await;
    let wbtc_in = TokenId::Wbtc.one() / 50;
    let stranger = Address::repeat_byte(0x5a);
    let lies = [
        (Fault::PaysTo(stranger), "it pays"),
        (Fault::TakesMore, "exec lets"),
        (Fault::SendsTo(w.settler), "transaction.to"),
        (Fault::Spender(w.settler), "as the spender"),
        (Fault::LowFloor, "floor"),
    ];
    for (n, (lie, says)) in lies.into_iter().enumerate() {
        let by_v2 = w.by_v2(TokenId::Wbtc, wbtc_in).await;
        w.zerox.next(QUOTE, lie);
        let i = swap(10 + n as u32, TokenId::Wbtc, wbtc_in, by_v2 * 99 / 100);
        let r = match w.v.execute(&i).await {
            Ok(r) => r,
            Err(e) => panic!(
                "{lie:?}: {e}; sent {:?}",
                w.store
                    .txs_of(&i.id.to_string())
                    .unwrap()
                    .iter()
                    .map(|t| (t.purpose.clone(), t.to, t.gas_limit))
                    .collect::<Vec<_>>()
            ),
        };
        let via = r.via.clone().unwrap();
        assert!(
            via.starts_with("via uniswap_v2")
                && via.contains("zerox skipped")
                && via.contains(says),
            "{lie:?}: {via}"
        );
        // Nothing was approved to anything 0x named.
        let e = &w.d.deployment.ethereum;
        assert_eq!(
            w.spenders(&i),
            [
                ("approve approve".to_string(), e.router),
                ("swap".to_string(), e.router)
            ],
            "{lie:?}"
        );
        let health = w.v.health().await;
        let line = health
            .iter()
            .find(|h| h.name == "Ethereum swap zerox")
            .expect("a health line for 0x");
        assert!(!line.ok && line.detail.contains(says), "{line:?}");
        // Resting: the next swap does not even ask it.
        let asked = w.zerox.calls(QUOTE);
        let i = swap(20 + n as u32, TokenId::Wbtc, wbtc_in, 1);
        let r = w.v.execute(&i).await.unwrap();
        assert!(r.via.unwrap().contains("unhealthy"));
        assert_eq!(
            w.zerox.calls(QUOTE),
            asked,
            "a resting provider is not asked"
        );
        w.clock.advance(30_001);
    }
    let allowance = erc20::allowance(
        w.v.client(Chain::Ethereum),
        w.d.deployment.ethereum.tokens[&TokenId::Wbtc],
        w.v.wallet(),
        w.settler,
    )
    .await
    .unwrap();
    assert!(allowance.is_zero(), "the Settler is never approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_zerox_failures_fall_back_and_a_lost_answer_is_settled_by_looking() {
    let w = world().await;
    let wbtc_in = TokenId::Wbtc.one() / 50;

    // A quote whose transaction reverts: the approve is signed (to the
    // AllowanceHolder), the simulation catches it, nothing else is sent.
    let by_v2 = w.by_v2(TokenId::Wbtc, wbtc_in).await;
    w.zerox.next(QUOTE, Fault::Unfillable);
    let i = swap(0, TokenId::Wbtc, wbtc_in, by_v2 * 99 / 100);
    match w.v.execute(&i).await {
        Err(VenueError::Transient(why)) => {
            assert!(why.contains("reverts in simulation"), "{why}")
        }
        other => panic!("expected the simulation to stop it, got {other:?}"),
    }
    assert_eq!(w.spenders(&i), [("approve approve".to_string(), w.holder)]);
    // The step's next attempt stays with the approve's spender, resting
    // or not: a fresh quote, simulated, sent.
    let r = w.v.execute(&i).await.unwrap();
    assert!(
        r.via.clone().unwrap().starts_with("via zerox"),
        "{:?}",
        r.via
    );
    assert_eq!(
        w.spenders(&i),
        [
            ("approve approve".to_string(), w.holder),
            ("swap".to_string(), w.holder)
        ]
    );
    w.clock.advance(30_001);

    // 0x down: V2 takes it, and says why.
    w.zerox.set_down(true);
    let i = swap(1, TokenId::Wbtc, wbtc_in, 1);
    let r = w.v.execute(&i).await.unwrap();
    let via = r.via.unwrap();
    assert!(
        via.starts_with("via uniswap_v2") && via.contains("HTTP 503"),
        "{via}"
    );
    w.zerox.set_down(false);
    w.clock.advance(30_001);

    // Rate limited while sizing: V2's quote is taken, 0x rests.
    w.zerox.next(PRICE, Fault::Status(429));
    let q =
        w.v.quote(Chain::Ethereum, TokenId::Wbtc, TokenId::Usdc, wbtc_in)
            .await
            .unwrap();
    assert_eq!(q, w.by_v2(TokenId::Wbtc, wbtc_in).await);
    let health = w.v.health().await;
    assert!(
        health
            .iter()
            .any(|h| h.name == "Ethereum swap zerox" && !h.ok && h.detail.contains("429")),
        "{health:?}"
    );
    w.clock.advance(30_001);
    // A cut answer and a malformed one: refused, not read.
    for fault in [Fault::Truncated, Fault::Malformed] {
        w.zerox.next(PRICE, fault);
        w.v.quote(Chain::Ethereum, TokenId::Wbtc, TokenId::Usdc, wbtc_in)
            .await
            .unwrap();
        assert!(
            w.v.health()
                .await
                .iter()
                .any(|h| h.name == "Ethereum swap zerox" && !h.ok),
            "{fault:?}"
        );
        w.clock.advance(30_001);
    }

    // The node takes 0x's transaction and the answer is lost: the step
    // settles by looking; the swap went out once (counted at the proxy).
    let by_v2 = w.by_v2(TokenId::Wbtc, wbtc_in).await;
    let i = swap(2, TokenId::Wbtc, wbtc_in, by_v2 * 99 / 100);
    let sent = w.proxy.calls("eth_sendRawTransaction");
    let nonce_before =
        w.v.client(Chain::Ethereum)
            .nonce_latest(w.v.wallet())
            .await
            .unwrap();
    let usdc_before = w.usdc().await;
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
        r.via.clone().unwrap().starts_with("via zerox"),
        "{:?}",
        r.via
    );
    let recs = w.store.txs_of(&i.id.to_string()).unwrap();
    assert_eq!(recs.len(), 2);
    // Each signed once; the lost one may be offered again as the same
    // bytes (one hash, one nonce: it can be mined only once).
    for rec in &recs {
        assert_eq!(rec.attempts.len(), 1, "{} signed once", rec.purpose);
    }
    assert_eq!(recs[1].nonce, recs[0].nonce + 1);
    let c = w.v.client(Chain::Ethereum);
    assert_eq!(
        c.nonce_latest(w.v.wallet()).await.unwrap(),
        nonce_before + 2
    );
    assert_eq!(w.usdc().await - usdc_before, U256::from(r.amount_out));
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
