//! CoW Protocol on the devnet's Ethereum: the real GPv2Settlement from the
//! npm artifacts (its domain separator the one orders are signed in), the
//! keeper's WETH approved to the vault relayer, a quote at the fake
//! orderbook priced by the V2 router over `eth_call`, the order signed with
//! the keeper's key and posted once, settled by the local solver through
//! `settle` — executed amounts equal to what the keeper's wallet moved on
//! chain, the `Trade` event in the receipt with the order's UID — then a
//! duplicate refused, a bad signature refused, and an order whose limit the
//! pool does not meet left open until it expires.

use crate::devnet_common::*;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use arbkeep::fakes::cow::solver::{LocalSolver, Solved, v2_amount_out, v2_router_quoting};
use arbkeep::fakes::cow::{FakeCow, PostFault};
use arbkeep::model::time::SECOND;
use arbkeep::model::{ManualClock, TokenId};
use arbkeep::venue::evm::abi::{IERC20, IGPv2Settlement, IWETH9};
use arbkeep::venue::evm::devnet::{
    self, COW_SOLVER_KEY, DEPLOYER_KEY, DevnetOptions, KEEPER_KEY, deploy_cow, send_mined,
};
use arbkeep::venue::evm::swap::cow_order::{self, Order};
use serde_json::{Value, json};
use std::str::FromStr;
use std::sync::Arc;

async fn balance(p: &DynProvider, token: Address, owner: Address) -> U256 {
    read(p, token, IERC20::balanceOfCall { owner }).await
}

async fn send(p: &DynProvider, to: Address, data: Vec<u8>, value: U256) {
    send_mined(
        p,
        TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(data))
            .with_value(value),
    )
    .await
    .expect("mined");
}

async fn chain_time(p: &DynProvider) -> u64 {
    p.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

fn creation(o: &Order, sig: &[u8], from: Address) -> Value {
    json!({
        "sellToken": o.sellToken, "buyToken": o.buyToken,
        "sellAmount": o.sellAmount.to_string(), "buyAmount": o.buyAmount.to_string(),
        "validTo": o.validTo, "appData": cow_order::APP_DATA_EMPTY_JSON,
        "appDataHash": cow_order::APP_DATA_EMPTY,
        "feeAmount": o.feeAmount.to_string(), "kind": o.kind,
        "partiallyFillable": o.partiallyFillable,
        "sellTokenBalance": "erc20", "buyTokenBalance": "erc20",
        "signingScheme": "eip712", "signature": Bytes::copy_from_slice(sig), "from": from,
    })
}

async fn post(http: &reqwest::Client, base: &str, body: &Value) -> (u16, Value) {
    let r = http
        .post(format!("{base}/api/v1/orders"))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(http: &reqwest::Client, url: String) -> Value {
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_cow_order_is_quoted_signed_posted_once_and_settled_through_gpv2_settlement() {
    let d = start(DevnetOptions::default()).await;
    let e = &d.deployment.ethereum;
    let url = d.ethereum.url();
    let deployer = devnet::signing_provider(&url, DEPLOYER_KEY).unwrap();
    let cow = deploy_cow(&root(), &deployer).await.expect("CoW deploys");
    assert_eq!(
        cow.domain_separator,
        cow_order::domain(1, cow.settlement).separator()
    );
    assert_eq!(
        cow.solver,
        PrivateKeySigner::from_str(COW_SOLVER_KEY)
            .unwrap()
            .address()
    );

    // The keeper wraps 3 ETH and approves the vault relayer (not the settlement).
    let keeper_key = PrivateKeySigner::from_str(KEEPER_KEY).unwrap();
    let keeper = keeper_key.address();
    let kp = devnet::signing_provider(&url, KEEPER_KEY).unwrap();
    let (weth, usdc) = (e.weth, e.tokens[&TokenId::Usdc]);
    let wad = U256::from(10u64).pow(U256::from(18u64));
    send(
        &kp,
        weth,
        IWETH9::depositCall {}.abi_encode(),
        wad * U256::from(3),
    )
    .await;
    let approve = IERC20::approveCall {
        spender: cow.vault_relayer,
        value: U256::MAX,
    };
    send(&kp, weth, approve.abi_encode(), U256::ZERO).await;

    // The fake's clock is the chain's.
    let clock = Arc::new(ManualClock::new(chain_time(&kp).await * SECOND));
    let fake = FakeCow::start(
        clock.clone(),
        1,
        cow.settlement,
        v2_router_quoting(kp.clone(), e.router),
    )
    .await
    .unwrap();
    arbkeep::net::ensure_crypto_provider();
    let http = reqwest::Client::new();
    let base = fake.url();

    // Quote one WETH: the fake's price is the router's.
    let r = http
        .post(format!("{base}/api/v1/quote"))
        .json(
            &json!({"sellToken": weth, "buyToken": usdc, "from": keeper, "kind": "sell",
            "sellAmountBeforeFee": wad.to_string(), "validFor": 600}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let q: Value = r.json().await.unwrap();
    let quoted = U256::from_str(q["quote"]["buyAmount"].as_str().unwrap()).unwrap();
    let by_router = v2_amount_out(&kp, e.router, weth, usdc, wad)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(quoted, by_router);
    assert!(
        quoted > U256::from(2_900u64) * U256::from(1_000_000u64),
        "about $3000"
    );

    // Sign what was quoted, 1 % below, and post it once: the orderbook takes
    // it and the answer is lost, and the UID computed before posting finds it.
    let valid_to = q["quote"]["validTo"].as_u64().unwrap() as u32;
    let limit = quoted * U256::from(99) / U256::from(100);
    let order = Order::sell(weth, usdc, wad, limit, valid_to);
    let domain = cow_order::domain(1, cow.settlement);
    let (uid, sig) = cow_order::sign_order(&order, &domain, &keeper_key).unwrap();
    let mut body = creation(&order, &sig, keeper);
    body["quoteId"] = q["id"].clone();
    fake.fail_next_post(PostFault::ActThenDrop);
    let lost = http
        .post(format!("{base}/api/v1/orders"))
        .json(&body)
        .send()
        .await;
    assert!(lost.is_err(), "the answer was lost");
    let open = get(&http, format!("{base}/api/v1/orders/{uid}")).await;
    assert_eq!(open["status"], "open");
    assert_eq!(open["owner"], json!(keeper));
    assert_eq!(open["class"], "market", "within its quote");
    assert_eq!(open["executedSellAmount"], "0");

    let weth_before = balance(&kp, weth, keeper).await;
    let usdc_before = balance(&kp, usdc, keeper).await;
    let solver = LocalSolver::new(&url, COW_SOLVER_KEY, cow.settlement, e.router).unwrap();
    let outcomes = fake.settle_open_orders(&solver).await.unwrap();
    let [
        Solved::Settled {
            uid: settled,
            tx_hash,
            ..
        },
    ] = outcomes.as_slice()
    else {
        panic!("one settlement: {outcomes:?}");
    };
    assert_eq!(*settled, uid);
    let sold = weth_before - balance(&kp, weth, keeper).await;
    let bought = balance(&kp, usdc, keeper).await - usdc_before;
    assert_eq!(sold, wad);
    assert!(bought >= limit, "the limit holds");

    let done = get(&http, format!("{base}/api/v1/orders/{uid}")).await;
    assert_eq!(done["status"], "fulfilled");
    assert_eq!(done["executedSellAmount"], sold.to_string());
    assert_eq!(done["executedBuyAmount"], bought.to_string());
    assert_eq!(done["uid"], uid.to_string());

    // The receipt's Trade event names the order.
    let receipt = kp.get_transaction_receipt(*tx_hash).await.unwrap().unwrap();
    let trades = cow_order::trades_in(&receipt, cow.settlement).unwrap();
    assert_eq!(trades.len(), 1);
    assert_eq!(trades[0].order_uid, uid);
    assert_eq!(trades[0].owner, keeper);
    assert_eq!(
        (trades[0].sell_amount, trades[0].buy_amount),
        (sold, bought)
    );
    let filled = read(
        &kp,
        cow.settlement,
        IGPv2Settlement::filledAmountCall {
            orderUid: uid.to_bytes(),
        },
    )
    .await;
    assert_eq!(filled, wad);
    let listed = get(&http, format!("{base}/api/v2/trades?orderUid={uid}")).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["txHash"], json!(tx_hash));
    assert_eq!(listed[0]["buyAmount"], bought.to_string());

    // Sent once, counted at the fake; a second post is a duplicate.
    assert_eq!(fake.posts()[&uid.to_string()], 1);
    let (status, dup) = post(&http, &base, &body).await;
    assert_eq!(
        (status, dup["errorType"].clone()),
        (400, json!("DuplicatedOrder"))
    );

    // A signature that recovers to no one is refused.
    let mut half = Order::sell(weth, usdc, wad, limit, valid_to - 1);
    half.partiallyFillable = true;
    let (half_uid, good) = cow_order::sign_order(&half, &domain, &keeper_key).unwrap();
    let mut bad = good;
    bad[64] = 29;
    let (status, refused) = post(&http, &base, &creation(&half, &bad, keeper)).await;
    assert_eq!(
        (status, refused["errorType"].clone()),
        (400, json!("InvalidSignature"))
    );

    // Signed well, it is filled half a pass at a time.
    let (status, _) = post(&http, &base, &creation(&half, &good, keeper)).await;
    assert_eq!(status, 201);
    fake.set_partial_fill(1, 2);
    let path = format!("{base}/api/v1/orders/{half_uid}");
    let weth_before = balance(&kp, weth, keeper).await;
    let usdc_before = balance(&kp, usdc, keeper).await;
    for (pass, status) in [(1u64, "open"), (2, "fulfilled")] {
        let outcomes = fake.settle_open_orders(&solver).await.unwrap();
        assert!(
            matches!(outcomes.as_slice(), [Solved::Settled { uid, executed_sell, .. }]
                if *uid == half_uid && *executed_sell == wad / U256::from(2)),
            "{outcomes:?}"
        );
        let v = get(&http, path.clone()).await;
        assert_eq!(v["status"], status);
        assert_eq!(v["class"], "limit", "posted with no quote");
        let sold = weth_before - balance(&kp, weth, keeper).await;
        let bought = balance(&kp, usdc, keeper).await - usdc_before;
        assert_eq!(sold, wad * U256::from(pass) / U256::from(2));
        assert_eq!(v["executedSellAmount"], sold.to_string());
        assert_eq!(v["executedBuyAmount"], bought.to_string());
    }
    let listed = get(&http, format!("{base}/api/v2/trades?orderUid={half_uid}")).await;
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(2),
        "one trade per pass"
    );
    assert_ne!(listed[0]["txHash"], listed[1]["txHash"]);

    // A limit above what the pool gives: left open, then expired at validTo.
    let now = chain_time(&kp).await;
    let greedy_to = (now + 120) as u32;
    let greedy = Order::sell(weth, usdc, wad, quoted * U256::from(2), greedy_to);
    let (greedy_uid, sig) = cow_order::sign_order(&greedy, &domain, &keeper_key).unwrap();
    let (status, _) = post(&http, &base, &creation(&greedy, &sig, keeper)).await;
    assert_eq!(status, 201);
    let outcomes = fake.settle_open_orders(&solver).await.unwrap();
    assert!(
        matches!(outcomes.as_slice(), [Solved::LeftOpen { uid, reason }]
            if *uid == greedy_uid && reason.contains("limit")),
        "{outcomes:?}"
    );
    let path = format!("{base}/api/v1/orders/{greedy_uid}");
    assert_eq!(get(&http, path.clone()).await["status"], "open");
    clock.set((u64::from(greedy_to) + 1) * SECOND);
    let expired = get(&http, path).await;
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["executedSellAmount"], "0");
    let untouched = read(
        &kp,
        cow.settlement,
        IGPv2Settlement::filledAmountCall {
            orderUid: greedy_uid.to_bytes(),
        },
    )
    .await;
    assert_eq!(untouched, U256::ZERO);
    assert!(fake.settle_open_orders(&solver).await.unwrap().is_empty());
}
