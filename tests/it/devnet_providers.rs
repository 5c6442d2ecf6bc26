//! Swap providers on the devnet's real Uniswap V3 bytecode (Hemi's SushiSwap
//! V3) and V2 router: V3 is asked first and its quote is what QuoterV2 says;
//! swaps in, out and to native ETH settle at what the chain moved; a pair V3
//! has no pool for goes to V2 with the reason on the receipt; a provider
//! whose node calls fail is marked unhealthy on the health lines, skipped
//! (not even asked, counted at the proxy) until its retry time, then asked
//! again; `swap_choose = "best"` takes the most out whatever the order.

use crate::devnet_common;

use alloy::primitives::{U256, aliases::U24};
use arbkeep::fakes::evm_rpc::{FakeRpc, RpcFault};
use arbkeep::model::time::MINUTE;
use arbkeep::model::{
    Action, Chain, Clock, CycleId, Intent, IntentId, ManualClock, StepKind, SystemClock, TokenId,
};
use arbkeep::venue::evm::abi::IQuoterV2;
use arbkeep::venue::evm::devnet::{DevnetOptions, POOL_FEE};
use arbkeep::venue::evm::{ChainClient, EvmStore, EvmVenue, Wallet, erc20};
use arbkeep::venue::{LoopVenue, VenueError};
use devnet_common::*;
use std::sync::Arc;
use std::time::Duration;

fn swap(
    attempt: u32,
    token_in: TokenId,
    token_out: TokenId,
    amount_in: u128,
    min_out: u128,
) -> Intent {
    let id = IntentId {
        cycle: CycleId(7),
        step: StepKind::HemiSwap,
        attempt,
    };
    let action = Action::Swap {
        chain: Chain::Hemi,
        token_in,
        token_out,
        amount_in,
        min_out,
        deadline: SystemClock.now() + 10 * MINUTE,
    };
    Intent::new(id, action, SystemClock.now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_v3_goes_first_and_v2_takes_what_v3_cannot() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&d, tmp.path());
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store.clone()).await;
    let h = &d.deployment.hemi;
    let v3 = h.v3.clone().expect("Hemi has V3");
    let c = v.client(Chain::Hemi);
    let me = v.wallet();

    // The venue's quote is QuoterV2's, on the devnet's real V3 pool.
    let vcred = 2_000 * TokenId::Vcred.one();
    let quoted = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    let by_quoter = c
        .view(
            v3.quoter,
            IQuoterV2::quoteExactInputSingleCall {
                params: IQuoterV2::QuoteExactInputSingleParams {
                    tokenIn: h.tokens[&TokenId::Vcred],
                    tokenOut: h.tokens[&TokenId::Wbtc],
                    amountIn: U256::from(vcred),
                    fee: U24::from(POOL_FEE),
                    sqrtPriceLimitX96: Default::default(),
                },
            },
        )
        .await
        .unwrap();
    assert_eq!(U256::from(quoted), by_quoter.amountOut);
    let by_v2 = arbkeep::venue::evm::swap::v2::quote(
        c,
        h.router,
        vec![h.tokens[&TokenId::Vcred], h.tokens[&TokenId::Wbtc]],
        U256::from(vcred),
    )
    .await
    .unwrap();
    assert_ne!(U256::from(quoted), by_v2, "two venues, two prices");

    // VCRED → WBTC through V3: the wallet gets what the receipt books.
    let wbtc = h.tokens[&TokenId::Wbtc];
    let before = erc20::balance_of(c, wbtc, me).await.unwrap();
    let i = swap(0, TokenId::Vcred, TokenId::Wbtc, vcred, quoted * 995 / 1000);
    let r = v.execute(&i).await.unwrap();
    let via = r.via.clone().unwrap();
    assert!(via.starts_with("via sushi_v3 (V3 fee 3000)"), "{via}");
    assert_eq!(r.amount_out, quoted, "nothing moved the pool in between");
    let after = erc20::balance_of(c, wbtc, me).await.unwrap();
    assert_eq!(after - before, U256::from(r.amount_out));
    let recs = store.txs_of(&i.id.to_string()).unwrap();
    assert_eq!(
        recs.iter()
            .map(|r| (r.purpose.as_str(), r.to))
            .collect::<Vec<_>>(),
        [("approve", h.tokens[&TokenId::Vcred]), ("swap", v3.router)]
    );

    // WBTC → ETH through V3: the router unwraps and pays native ETH.
    let eth_before = c.native_balance(me).await.unwrap();
    let wbtc_in = r.amount_out / 2;
    let eth_quote = v
        .quote(Chain::Hemi, TokenId::Wbtc, TokenId::Eth, wbtc_in)
        .await
        .unwrap_err();
    // There is no WBTC/ETH pool anywhere: every provider says why.
    match eth_quote {
        VenueError::Rejected(why) => assert!(
            why.contains("sushi_v3") && why.contains("sushi_v2"),
            "{why}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let eth_out = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Eth, vcred)
        .await
        .unwrap();
    let i = swap(1, TokenId::Vcred, TokenId::Eth, vcred, eth_out * 995 / 1000);
    let r = v.execute(&i).await.unwrap();
    assert!(
        r.via.clone().unwrap().starts_with("via sushi_v3"),
        "{:?}",
        r.via
    );
    assert_eq!(r.amount_out, eth_out);
    let eth_after = c.native_balance(me).await.unwrap();
    assert_eq!(
        eth_after + U256::from(r.gas_fee) - eth_before,
        U256::from(r.amount_out),
        "ETH out, less the gas the receipt books"
    );

    // ETH → VCRED through V3: the router wraps what the transaction pays.
    let eth_in = r.amount_out / 2;
    let vcred_out = v
        .quote(Chain::Hemi, TokenId::Eth, TokenId::Vcred, eth_in)
        .await
        .unwrap();
    let i = swap(
        2,
        TokenId::Eth,
        TokenId::Vcred,
        eth_in,
        vcred_out * 995 / 1000,
    );
    let r = v.execute(&i).await.unwrap();
    assert_eq!((r.amount_in, r.amount_out), (eth_in, vcred_out));
    let recs = store.txs_of(&i.id.to_string()).unwrap();
    assert_eq!(recs.len(), 1, "native in needs no approve");
    assert_eq!(recs[0].value, U256::from(eth_in));

    // XAUt has no V3 pool: V2 takes it, and the receipt says why.
    let xaut = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Xaut, vcred)
        .await
        .unwrap();
    let i = swap(3, TokenId::Vcred, TokenId::Xaut, vcred, xaut * 995 / 1000);
    let r = v.execute(&i).await.unwrap();
    let via = r.via.clone().unwrap();
    assert!(
        via.starts_with("via sushi_v2")
            && via.contains(
                "sushi_v3 skipped: sushi_v3 has no pool that takes it (no 500 pool, no 3000 pool)"
            ),
        "{via}"
    );
    assert_eq!(r.amount_out, xaut);
    // A minimum no provider reaches: refused before anything is signed.
    let i = swap(4, TokenId::Vcred, TokenId::Wbtc, vcred, quoted * 2);
    match v.execute(&i).await {
        Err(VenueError::Rejected(why)) => assert!(
            why.contains("sushi_v3: quotes") && why.contains("sushi_v2: quotes"),
            "{why}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(store.txs_of(&i.id.to_string()).unwrap().is_empty());
    let health = v.health().await;
    for name in ["Hemi swap sushi_v3", "Hemi swap sushi_v2"] {
        let line = health
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("{name} in {health:?}"));
        assert!(line.ok, "{line:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_a_failing_provider_rests_and_the_next_one_quotes() {
    let d = start(DevnetOptions::default()).await;
    let proxy = FakeRpc::start(&d.hemi.url()).await.expect("proxy starts");
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    let direct = evm.hemi.clone();
    evm.hemi.rpc_url = proxy.url();
    evm.hemi.ws_url = None;
    evm.rpc_timeout_ms = 1_000;
    evm.hemi.swap.retry_after_ms = 30_000;
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let wallet = Wallet::from_secrets(&keeper_secrets()).unwrap();
    let v = EvmVenue::connect(evm, wallet, store, clock.clone(), "devnet")
        .await
        .expect("venue connects");
    let node = ChainClient::connect(Chain::Hemi, &direct, Duration::from_secs(5))
        .await
        .unwrap();
    let h = &d.deployment.hemi;
    let vcred = 1_000 * TokenId::Vcred.one();
    let by_v2 = u128::try_from(
        arbkeep::venue::evm::swap::v2::quote(
            &node,
            h.router,
            vec![h.tokens[&TokenId::Vcred], h.tokens[&TokenId::Wbtc]],
            U256::from(vcred),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    // The first quote finds the pools (two tiers) and asks QuoterV2 once.
    let first = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    assert_ne!(first, by_v2);

    // The node call of V3's quote fails (a 503 after the node answered):
    // V2's quote is taken, and V3 is marked unhealthy with the reason.
    proxy.fail_next(
        "eth_call",
        RpcFault::Status {
            status: 503,
            forwarded: true,
        },
    );
    let calls = proxy.calls("eth_call");
    let q = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    assert_eq!(q, by_v2);
    assert_eq!(proxy.calls("eth_call") - calls, 2, "V3 asked once, then V2");
    let health = v.health().await;
    let line = health
        .iter()
        .find(|h| h.name == "Hemi swap sushi_v3")
        .expect("a health line per provider");
    assert!(
        !line.ok && line.detail.contains("eth_call") && line.detail.contains("asked again in 30s"),
        "{line:?}"
    );

    // Resting: not asked at all (counted at the proxy), V2 answers.
    let calls = proxy.calls("eth_call");
    let q = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    assert_eq!(q, by_v2);
    assert_eq!(proxy.calls("eth_call") - calls, 1, "only V2 was asked");

    // Past its retry time it is asked again, and healthy once it answers.
    clock.advance(30_001);
    let q = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    assert_eq!(q, first);
    let health = v.health().await;
    assert!(
        health
            .iter()
            .find(|h| h.name == "Hemi swap sushi_v3")
            .is_some_and(|l| l.ok),
        "{health:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_best_takes_the_most_out_whatever_the_order() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let hemi = &mut config.evm.as_mut().unwrap().hemi;
    // V2 first in the order, but "best": V3's deeper band gives more.
    hemi.swap.order = vec!["sushi_v2".into(), "sushi_v3".into()];
    hemi.swap.choose = arbkeep::config::SwapChoose::Best;
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store.clone()).await;
    let h = &d.deployment.hemi;
    let vcred = 5_000 * TokenId::Vcred.one();
    let by_v2 = u128::try_from(
        arbkeep::venue::evm::swap::v2::quote(
            v.client(Chain::Hemi),
            h.router,
            vec![h.tokens[&TokenId::Vcred], h.tokens[&TokenId::Wbtc]],
            U256::from(vcred),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let best = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    assert!(best > by_v2, "V3 {best} vs V2 {by_v2}");
    let i = swap(0, TokenId::Vcred, TokenId::Wbtc, vcred, by_v2);
    let r = v.execute(&i).await.unwrap();
    let via = r.via.clone().unwrap();
    assert!(
        via.starts_with("via sushi_v3") && via.contains(&format!("sushi_v2 quoted {by_v2}")),
        "{via}"
    );
    assert_eq!(r.amount_out, best);
    // With the first-in-order rule the same order takes V2.
    let mut config = config.clone();
    config.evm.as_mut().unwrap().hemi.swap.choose = arbkeep::config::SwapChoose::First;
    let tmp2 = tempfile::tempdir().unwrap();
    let v = venue(&config, Arc::new(EvmStore::open(tmp2.path()).unwrap())).await;
    let first = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    assert_eq!(first, by_v2, "V2, whose pool the V3 swap left alone");
}

/// Ethereum's reference price (seed §7.1) is Uniswap V3's QuoterV2 on the
/// devnet's real V3 pool, not the swap order's answer; a reference named
/// outside the swap order is asked all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_ethereum_reference_is_uniswap_v3s_quoter() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let e = &d.deployment.ethereum;
    let v3 = e.v3.clone().expect("Ethereum has V3");
    {
        let sc = &config.evm.as_ref().unwrap().ethereum.swap;
        assert_eq!(sc.order, vec!["uniswap_v3", "uniswap_v2"]);
        assert_eq!(sc.reference.as_deref(), Some("uniswap_v3"));
    }
    // Swaps by V2 only; the reference stays V3's.
    config.evm.as_mut().unwrap().ethereum.swap.order = vec!["uniswap_v2".into()];
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store).await;
    let c = v.client(Chain::Ethereum);
    let wbtc = TokenId::Wbtc.one() / 2;
    let reference = v
        .reference_quote(Chain::Ethereum, TokenId::Wbtc, TokenId::Usdc, wbtc)
        .await
        .unwrap();
    let by_quoter = c
        .view(
            v3.quoter,
            IQuoterV2::quoteExactInputSingleCall {
                params: IQuoterV2::QuoteExactInputSingleParams {
                    tokenIn: e.tokens[&TokenId::Wbtc],
                    tokenOut: e.tokens[&TokenId::Usdc],
                    amountIn: U256::from(wbtc),
                    fee: U24::from(POOL_FEE),
                    sqrtPriceLimitX96: Default::default(),
                },
            },
        )
        .await
        .unwrap();
    assert_eq!(U256::from(reference), by_quoter.amountOut);
    let swap_quote = v
        .quote(Chain::Ethereum, TokenId::Wbtc, TokenId::Usdc, wbtc)
        .await
        .unwrap();
    let by_v2 = arbkeep::venue::evm::swap::v2::quote(
        c,
        e.router,
        vec![e.tokens[&TokenId::Wbtc], e.tokens[&TokenId::Usdc]],
        U256::from(wbtc),
    )
    .await
    .unwrap();
    assert_eq!(U256::from(swap_quote), by_v2);
    assert_ne!(
        reference, swap_quote,
        "a fifth as deep: another price at size"
    );
    // XAUt has no V3 pool: the swap order prices it.
    assert_eq!(
        v.reference_quote(
            Chain::Ethereum,
            TokenId::Xaut,
            TokenId::Usdc,
            TokenId::Xaut.one()
        )
        .await
        .unwrap(),
        v.quote(
            Chain::Ethereum,
            TokenId::Xaut,
            TokenId::Usdc,
            TokenId::Xaut.one()
        )
        .await
        .unwrap()
    );
    // Hemi has no reference: detection prices by the swap order there.
    assert_eq!(
        v.reference_quote(
            Chain::Hemi,
            TokenId::Vcred,
            TokenId::Wbtc,
            1_000 * TokenId::Vcred.one()
        )
        .await
        .unwrap(),
        v.quote(
            Chain::Hemi,
            TokenId::Vcred,
            TokenId::Wbtc,
            1_000 * TokenId::Vcred.one()
        )
        .await
        .unwrap()
    );
}
