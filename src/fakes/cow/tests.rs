//! The fake orderbook's answers and error paths, with no chain: quotes
//! from a fixed price, orders signed with a dev key.

use super::wire::parse_signature;
use super::*;
use crate::fakes::faults::ListingLag;
use crate::model::time::SECOND;
use crate::model::{ManualClock, Timestamp};
use crate::venue::evm::swap::cow_order::{self, Order, OrderUid};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use serde_json::{Value, json};
use std::sync::Arc;

const OWNER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const OTHER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const NOW: Timestamp = 1_750_000_000 * SECOND;

fn sell() -> Address {
    Address::repeat_byte(0x11)
}
fn buy() -> Address {
    Address::repeat_byte(0x22)
}
fn settlement() -> Address {
    Address::repeat_byte(0x90)
}
fn no_route() -> Address {
    Address::repeat_byte(0x33)
}

/// Two of the buy token per sold atom; no route to `no_route()`.
fn doubling() -> Quoting {
    Arc::new(|_, buy_token, amount| {
        Box::pin(async move {
            if buy_token == no_route() {
                Ok(None)
            } else {
                Ok(Some(amount * U256::from(2)))
            }
        })
    })
}

async fn fake() -> (FakeCow, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(NOW));
    let fake = FakeCow::start(clock.clone(), 1, settlement(), doubling())
        .await
        .unwrap();
    (fake, clock)
}

fn http() -> reqwest::Client {
    crate::net::ensure_crypto_provider();
    reqwest::Client::new()
}

fn valid_to() -> u32 {
    (NOW / SECOND + 600) as u32
}

fn order() -> Order {
    Order::sell(
        sell(),
        buy(),
        U256::from(1_000u64),
        U256::from(1_900u64),
        valid_to(),
    )
}

fn creation(o: &Order, key: &str) -> Value {
    let signer: PrivateKeySigner = key.parse().unwrap();
    let (_, sig) = cow_order::sign_order(o, &cow_order::domain(1, settlement()), &signer).unwrap();
    json!({
        "sellToken": o.sellToken, "buyToken": o.buyToken,
        "sellAmount": o.sellAmount.to_string(), "buyAmount": o.buyAmount.to_string(),
        "validTo": o.validTo, "appData": "{}", "feeAmount": o.feeAmount.to_string(),
        "kind": o.kind, "partiallyFillable": o.partiallyFillable,
        "sellTokenBalance": "erc20", "buyTokenBalance": "erc20",
        "signingScheme": "eip712", "signature": Bytes::from(sig.to_vec()),
        "from": signer.address(),
    })
}

async fn post(f: &FakeCow, body: &Value) -> (u16, Value) {
    let r = http()
        .post(format!("{}/api/v1/orders", f.url()))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(f: &FakeCow, path: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{}{path}", f.url()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn quote(f: &FakeCow, body: &Value) -> reqwest::Response {
    http()
        .post(format!("{}/api/v1/quote", f.url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn quote_request() -> Value {
    json!({"sellToken": sell(), "buyToken": buy(), "from": Address::repeat_byte(5),
        "kind": "sell", "sellAmountBeforeFee": "1000", "validFor": 600})
}

#[tokio::test]
async fn a_quote_is_priced_by_the_callers_quoting_and_refusals_have_the_real_shapes() {
    let (f, _) = fake().await;
    f.set_quote_fee(U256::from(10u64));
    let r = quote(&f, &quote_request()).await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["quote"]["sellAmount"], "990",
        "the fee comes off the sell"
    );
    assert_eq!(v["quote"]["buyAmount"], "1980");
    assert_eq!(v["quote"]["feeAmount"], "10");
    assert_eq!(v["quote"]["validTo"], valid_to());
    assert_eq!(
        v["quote"]["appDataHash"],
        json!(cow_order::APP_DATA_EMPTY),
        "appData {{}} hashes as signed"
    );
    assert_eq!(v["verified"], true);
    assert!(v["id"].as_i64().is_some() && v["expiration"].is_string());

    let mut same = quote_request();
    same["buyToken"] = json!(sell());
    let r = quote(&f, &same).await;
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errorType"], "SameBuyAndSellToken");
    assert!(v["description"].is_string());

    let mut nowhere = quote_request();
    nowhere["buyToken"] = json!(no_route());
    let r = quote(&f, &nowhere).await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["errorType"], "NoLiquidity");

    let mut by_buy = quote_request();
    by_buy["kind"] = json!("buy");
    let r = quote(&f, &by_buy).await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errorType"],
        "UnsupportedOrderType"
    );

    let mut small = quote_request();
    small["sellAmountBeforeFee"] = json!("10");
    let r = quote(&f, &small).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["errorType"],
        "SellAmountDoesNotCoverFee"
    );

    f.fail_next_read(ReadFault::Status(429, Some(3)));
    let r = quote(&f, &quote_request()).await;
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
    f.fail_next_read(ReadFault::Malformed);
    let r = quote(&f, &quote_request()).await;
    assert!(r.json::<Value>().await.is_err(), "a malformed body");
}

#[tokio::test]
async fn an_order_is_taken_once_and_refused_as_the_orderbook_refuses() {
    let (f, _) = fake().await;
    let o = order();
    let (status, uid) = post(&f, &creation(&o, OWNER_KEY)).await;
    assert_eq!(status, 201);
    let owner: PrivateKeySigner = OWNER_KEY.parse().unwrap();
    let expected = OrderUid::new(
        o.digest(&cow_order::domain(1, settlement())),
        owner.address(),
        o.validTo,
    );
    assert_eq!(uid, json!(expected.to_string()));

    let (status, v) = post(&f, &creation(&o, OWNER_KEY)).await;
    assert_eq!(
        (status, v["errorType"].clone()),
        (400, json!("DuplicatedOrder"))
    );
    assert_eq!(f.posts()[&expected.to_string()], 2, "both posts counted");

    let mut bad_v = creation(&o, OWNER_KEY);
    let mut sig = parse_signature(&bad_v).unwrap().to_vec();
    sig[64] = 29;
    bad_v["signature"] = json!(Bytes::from(sig));
    let (status, v) = post(&f, &bad_v).await;
    assert_eq!(
        (status, v["errorType"].clone()),
        (400, json!("InvalidSignature"))
    );

    let mut other = order();
    other.buyAmount = U256::from(1_800u64);
    let mut wrong = creation(&other, OTHER_KEY);
    wrong["from"] = json!(owner.address());
    let (status, v) = post(&f, &wrong).await;
    assert_eq!((status, v["errorType"].clone()), (400, json!("WrongOwner")));

    let mut past = order();
    past.validTo = (NOW / SECOND - 1) as u32;
    let (_, v) = post(&f, &creation(&past, OWNER_KEY)).await;
    assert_eq!(v["errorType"], "InsufficientValidTo");

    let mut same = order();
    same.buyToken = sell();
    let (_, v) = post(&f, &creation(&same, OWNER_KEY)).await;
    assert_eq!(v["errorType"], "SameBuyAndSellToken");

    let mut vault = order();
    vault.sellTokenBalance = "external".into();
    let mut body = creation(&vault, OWNER_KEY);
    body["sellTokenBalance"] = json!("external");
    let (_, v) = post(&f, &body).await;
    assert_eq!(v["errorType"], "UnsupportedSellTokenSource");

    let mut hash = creation(&o, OWNER_KEY);
    hash["appDataHash"] = json!(B256::repeat_byte(1));
    let (_, v) = post(&f, &hash).await;
    assert_eq!(v["errorType"], "AppDataHashMismatch");

    let (status, _) = post(&f, &json!({"sellToken": "nope"})).await;
    assert_eq!(status, 422);
    assert_eq!(f.orders().len(), 1);
}

#[tokio::test]
async fn an_order_taken_before_its_answer_is_lost_is_there_and_counted_once() {
    let (f, _) = fake().await;
    let body = creation(&order(), OWNER_KEY);
    f.fail_next_post(PostFault::ActThenDrop);
    let lost = http()
        .post(format!("{}/api/v1/orders", f.url()))
        .json(&body)
        .send()
        .await;
    assert!(lost.is_err(), "no answer");
    let uid = f.orders()[0].uid;
    assert_eq!(f.posts()[&uid.to_string()], 1);
    let (status, v) = get(&f, &format!("/api/v1/orders/{uid}")).await;
    assert_eq!((status, v["status"].clone()), (200, json!("open")));
    assert_eq!(v["executedSellAmount"], "0");
    assert_eq!(v["sellAmount"], "1000");
    let (_, v) = post(&f, &body).await;
    assert_eq!(v["errorType"], "DuplicatedOrder", "a resend finds it taken");

    for (i, (fault, status)) in [
        (PostFault::ActThen(502), 502),
        (PostFault::ActThenTruncated, 201),
        (PostFault::ActThenMalformed, 201),
    ]
    .into_iter()
    .enumerate()
    {
        let mut o = order();
        o.buyAmount += U256::from(i + 1);
        f.fail_next_post(fault);
        let r = http()
            .post(format!("{}/api/v1/orders", f.url()))
            .json(&creation(&o, OWNER_KEY))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status);
        assert!(r.json::<Value>().await.is_err() || status == 502);
    }
    assert_eq!(f.orders().len(), 4, "each was taken before its fault");
    f.fail_next_post(PostFault::Before(429, Some(2)));
    let mut o = order();
    o.buyAmount = U256::from(1u64);
    let (status, _) = post(&f, &creation(&o, OWNER_KEY)).await;
    assert_eq!(status, 429);
    assert_eq!(f.orders().len(), 4, "not taken");
    assert_eq!(f.post_total(), 6);
}

#[tokio::test]
async fn listing_lag_hides_an_accepted_order_for_its_looks() {
    let (f, _) = fake().await;
    f.set_listing_lag(ListingLag::looks(2));
    let (_, uid) = post(&f, &creation(&order(), OWNER_KEY)).await;
    let path = format!("/api/v1/orders/{}", uid.as_str().unwrap());
    assert_eq!(get(&f, &path).await.0, 404);
    assert_eq!(get(&f, &path).await.0, 404);
    assert_eq!(get(&f, &path).await.0, 200);
    assert_eq!(get(&f, "/api/v1/orders/0x1234").await.0, 400);
}

#[tokio::test]
async fn an_order_never_filled_expires_at_valid_to_by_the_fakes_clock() {
    let (f, clock) = fake().await;
    f.set_never_fill(true);
    let (_, uid) = post(&f, &creation(&order(), OWNER_KEY)).await;
    let path = format!("/api/v1/orders/{}", uid.as_str().unwrap());
    clock.set(u64::from(valid_to()) * SECOND);
    assert_eq!(
        get(&f, &path).await.1["status"],
        "open",
        "valid through validTo"
    );
    clock.advance(SECOND);
    assert_eq!(get(&f, &path).await.1["status"], "expired");
}

#[tokio::test]
async fn the_api_down_answers_503_to_everything() {
    let (f, _) = fake().await;
    f.set_down(true);
    assert_eq!(quote(&f, &quote_request()).await.status().as_u16(), 503);
    assert_eq!(post(&f, &creation(&order(), OWNER_KEY)).await.0, 503);
    assert_eq!(
        get(
            &f,
            "/api/v2/trades?owner=0x0000000000000000000000000000000000000001"
        )
        .await
        .0,
        503
    );
    assert!(f.orders().is_empty() && f.post_total() == 0);
    f.set_down(false);
    assert_eq!(post(&f, &creation(&order(), OWNER_KEY)).await.0, 201);
}

#[tokio::test]
async fn a_signed_cancellation_cancels_open_orders_only_and_by_their_owner() {
    let (f, _) = fake().await;
    let (_, uid) = post(&f, &creation(&order(), OWNER_KEY)).await;
    let uid: OrderUid = uid.as_str().unwrap().parse().unwrap();
    let cancel = |key: &str| {
        let signer: PrivateKeySigner = key.parse().unwrap();
        let digest = cow_order::cancellation_digest(&[uid], &cow_order::domain(1, settlement()));
        let sig = cow_order::sign_digest(digest, &signer).unwrap();
        json!({"orderUids": [uid.to_string()], "signature": Bytes::from(sig.to_vec()),
            "signingScheme": "eip712"})
    };
    let delete = |body: Value| {
        let url = format!("{}/api/v1/orders", f.url());
        async move {
            let r = http().delete(url).json(&body).send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, v) = delete(cancel(OTHER_KEY)).await;
    assert_eq!((status, v["errorType"].clone()), (401, json!("WrongOwner")));
    let mut garbled = cancel(OWNER_KEY);
    garbled["signature"] = json!("0x1234");
    assert_eq!(delete(garbled).await.1["errorType"], "InvalidSignature");
    let mut unknown = cancel(OWNER_KEY);
    unknown["orderUids"] = json!([OrderUid([7; 56]).to_string()]);
    assert_eq!(
        delete(unknown).await.0,
        404,
        "no such order: none cancelled"
    );
    assert_eq!(delete(cancel(OWNER_KEY)).await.0, 200);
    let (_, v) = get(&f, &format!("/api/v1/orders/{uid}")).await;
    assert_eq!(
        (v["status"].clone(), v["invalidated"].clone()),
        (json!("cancelled"), json!(true))
    );
    assert_eq!(f.cancels()[&uid.to_string()], 3, "each arrival naming it");
}

#[tokio::test]
async fn trades_need_exactly_one_of_owner_and_order_uid() {
    let (f, _) = fake().await;
    assert_eq!(get(&f, "/api/v2/trades").await.0, 400);
    let uid = OrderUid([7; 56]);
    let (status, v) = get(&f, &format!("/api/v2/trades?orderUid={uid}")).await;
    assert_eq!((status, v), (200, json!([])));
    assert_eq!(
        get(&f, &format!("/api/v2/trades?orderUid={uid}&limit=0"))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn seeded_post_faults_are_the_same_for_the_same_seed() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (f, _) = fake().await;
        f.post_faults_from_seed(42, 2);
        for i in 0..12u64 {
            let mut o = order();
            o.buyAmount = U256::from(1_000 + i);
            let _ = http()
                .post(format!("{}/api/v1/orders", f.url()))
                .json(&creation(&o, OWNER_KEY))
                .send()
                .await;
        }
        assert_eq!(f.post_total(), 12, "every arrival counted, faults or not");
        runs.push(f.drawn_faults());
    }
    assert_eq!(runs[0], runs[1]);
    assert!(!runs[0].is_empty());
}
