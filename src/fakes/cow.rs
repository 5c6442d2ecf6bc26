//! A stateful, hostile CoW Protocol orderbook on 127.0.0.1 for tests
//! (evm.md §2.4, the services' `openapi.yml`), with a local solver
//! ([`solver`]) that settles its open orders through the real
//! `GPv2Settlement` on a devnet chain; request bodies are read in `wire`.
//!
//! Routes, with the real shapes and error codes: `POST /api/v1/quote`
//! (priced by a caller's [`Quoting`], so a quote is what the chain gives;
//! sell orders only), `POST /api/v1/orders` (the EIP-712 or eth_sign
//! signature must recover to the owner, and to `from` when given; validTo in
//! the future; the UID new; 201 with the UID), `GET /api/v1/orders/{UID}`
//! (status `open`, `fulfilled`, `cancelled` or `expired` by the fake's
//! clock; executed amounts as decimal strings), `DELETE /api/v1/orders`
//! (signed `OrderCancellations`, best effort: only open orders change) and
//! `GET /api/v2/trades` (by `orderUid` or `owner`, newest first, with the
//! settlement's `txHash`). Every order POST is counted at the fake by UID
//! before any fault ([`FakeCow::posts`]).
//!
//! Faults, scripted or drawn from a seed: on order POSTs and cancels
//! ([`PostFault`]) a 429 with `Retry-After` or a 503 before acting, or the
//! order taken and then its answer lost, a 5xx, a malformed or a cut body;
//! on quotes and reads ([`ReadFault`]) a status, a dropped connection, a
//! malformed or cut body; a listing lag (an accepted order 404s for a
//! while); the API down (every call 503); an order never filled (the solver
//! leaves every order open until it expires).

pub mod solver;
mod wire;

use crate::fakes::faults::{Dice, Kind, ListingLag, Odds, PeerFault, Plan, Sends, Shows};
use crate::fakes::http::{Outcome, Request, Response, Server, carry_out, read_request};
use crate::fakes::lock;
use crate::model::time::{SECOND, format_rfc3339};
use crate::model::{Clock, Timestamp};
use crate::venue::evm::swap::cow_order::{self, Order, OrderKind, OrderUid, SigningScheme};
use alloy::primitives::{Address, B256, Bytes, U256, U512};
use alloy::sol_types::Eip712Domain;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use wire::{
    Creation, app_data, dec, parse_address, parse_amount, parse_signature, required_address,
    signed_digest, signing_scheme, text,
};

/// How the fake prices a sell: `(sell token, buy token, sell amount)` →
/// the buy amount, `None` when there is no route (404 `NoLiquidity`), an
/// error when pricing failed (500).
pub type Quoting = Arc<
    dyn Fn(Address, Address, U256) -> BoxFuture<'static, Result<Option<U256>, String>>
        + Send
        + Sync,
>;

/// How long a quote's order is valid when the request names no validity
/// (the fake's choice).
pub const DEFAULT_VALID_FOR_SECS: u64 = 1_800;

/// What happens to one order POST or cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostFault {
    /// Not taken: this status (429 or 5xx), with `Retry-After` when given.
    Before(u16, Option<u64>),
    /// Taken, then the connection closes without an answer.
    ActThenDrop,
    /// Taken, then this status (a 5xx).
    ActThen(u16),
    /// Taken, then a success whose body is not JSON.
    ActThenMalformed,
    /// Taken, then a success announced whole and cut halfway.
    ActThenTruncated,
}

impl PeerFault for PostFault {
    fn kind(&self) -> Kind {
        match self {
            PostFault::Before(429, _) => Kind::before(Shows::TooManyRequests),
            PostFault::Before(_, _) => Kind::before(Shows::ServerError),
            PostFault::ActThenDrop => Kind::after(Shows::NoAnswer),
            PostFault::ActThen(_) => Kind::after(Shows::ServerError),
            PostFault::ActThenMalformed => Kind::after(Shows::Malformed),
            PostFault::ActThenTruncated => Kind::after(Shows::Cut),
        }
    }
}

impl PostFault {
    /// Every fault of the order path, before and after acting.
    pub fn all() -> Vec<PostFault> {
        vec![
            PostFault::Before(429, Some(1)),
            PostFault::Before(503, None),
            PostFault::ActThenDrop,
            PostFault::ActThen(500),
            PostFault::ActThen(502),
            PostFault::ActThenMalformed,
            PostFault::ActThenTruncated,
        ]
    }
}

/// What happens to one quote or read before it is answered (nothing is
/// acted on: every read fault is "before").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFault {
    /// This status (429 or 5xx), with `Retry-After` when given.
    Status(u16, Option<u64>),
    /// The connection closes without an answer.
    Drop,
    /// A 200 whose body is not JSON.
    Malformed,
    /// The answer announced whole and cut halfway.
    Truncated,
}

impl PeerFault for ReadFault {
    fn kind(&self) -> Kind {
        Kind::before(match self {
            ReadFault::Status(429, _) => Shows::TooManyRequests,
            ReadFault::Status(_, _) => Shows::ServerError,
            ReadFault::Drop => Shows::NoAnswer,
            ReadFault::Malformed => Shows::Malformed,
            ReadFault::Truncated => Shows::Cut,
        })
    }
}

/// One order the fake holds.
#[derive(Debug, Clone)]
pub struct FakeCowOrder {
    pub uid: OrderUid,
    pub owner: Address,
    pub order: Order,
    pub scheme: SigningScheme,
    pub signature: Bytes,
    /// The full app data document (`None` when posted as a hash only).
    pub full_app_data: Option<String>,
    pub quote_id: Option<i64>,
    pub created_at: Timestamp,
    /// Sold, fees included.
    pub executed_sell: U256,
    pub executed_sell_before_fees: U256,
    pub executed_buy: U256,
    pub executed_fee: U256,
    pub cancelled: bool,
    lag: ListingLag,
}

impl FakeCowOrder {
    /// Executed in full (by its exact side).
    pub fn filled(&self) -> bool {
        match self.order.order_kind() {
            Ok(OrderKind::Buy) => self.executed_buy >= self.order.buyAmount,
            _ => self.executed_sell_before_fees >= self.order.sellAmount,
        }
    }

    /// Its status at `now` as the orderbook says it.
    pub fn status(&self, now: Timestamp) -> &'static str {
        if self.filled() {
            "fulfilled"
        } else if self.cancelled {
            "cancelled"
        } else if now / SECOND > u64::from(self.order.validTo) {
            "expired"
        } else {
            "open"
        }
    }
}

/// One settled trade of an order, as `/api/v2/trades` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCowTrade {
    pub block_number: u64,
    pub log_index: u64,
    pub order_uid: OrderUid,
    pub owner: Address,
    pub sell_token: Address,
    pub buy_token: Address,
    pub sell_amount: U256,
    pub sell_amount_before_fees: U256,
    pub buy_amount: U256,
    pub tx_hash: B256,
}

struct State {
    clock: Arc<dyn Clock>,
    domain: Eip712Domain,
    settlement: Address,
    orders: Vec<FakeCowOrder>,
    trades: Vec<FakeCowTrade>,
    next_quote_id: i64,
    /// Each quote given, by id: (sell token, buy token, sell, buy).
    quotes: BTreeMap<i64, (Address, Address, U256, U256)>,
    /// Sold-token atoms a quote deducts as its network fee (default 0).
    quote_fee: U256,
    /// Order POSTs by UID (or what could be read of one), before any fault.
    posts: Sends<String>,
    cancels: Sends<String>,
    post_faults: Plan<PostFault>,
    read_faults: Plan<ReadFault>,
    /// Given to every order accepted from now on.
    listing_lag: ListingLag,
    down: bool,
    never_fill: bool,
    /// The fraction of a partially fillable order the solver fills per pass.
    partial_fill: (u64, u64),
}

/// The fake's plan names.
const POST: &str = "post";
const CANCEL: &str = "cancel";
const READ: &str = "read";

fn error(status: u16, error_type: &str, description: &str) -> Outcome {
    Response::json(
        status,
        &json!({"errorType": error_type, "description": description}),
    )
    .now()
}

/// What a request needs after the lock is let go.
enum Step {
    Done(Outcome),
    /// Price this sell, then answer with [`State::quoted`].
    Price(QuoteAsk),
}

struct QuoteAsk {
    sell_token: Address,
    buy_token: Address,
    sell_amount: U256,
    fee: U256,
    from: Address,
    receiver: Option<Address>,
    valid_to: u32,
    app_data: (B256, Option<String>),
    fault: Option<ReadFault>,
}

/// A read's answer with its fault applied.
fn with_read_fault(outcome: Outcome, fault: Option<ReadFault>) -> Outcome {
    match fault {
        None => outcome,
        Some(ReadFault::Status(status, retry)) => {
            Response::json(status, &json!({"description": "try again later"}))
                .with_retry_after(retry)
                .now()
        }
        Some(ReadFault::Drop) => Outcome::Drop,
        Some(ReadFault::Malformed) => Response::raw_json(200, "{\"quote\": {\"sellTok").now(),
        Some(ReadFault::Truncated) => match outcome {
            Outcome::Respond { response, delay } => Outcome::Respond {
                response: response.cut(),
                delay,
            },
            other => other,
        },
    }
}

impl State {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn read_fault(&mut self) -> Option<ReadFault> {
        let n = self.read_faults.arrive(READ);
        self.read_faults.decide(READ, n, None)
    }

    fn post_fault(&mut self, call: &str) -> Option<PostFault> {
        let n = self.post_faults.arrive(call);
        self.post_faults.decide(call, n, None)
    }

    fn handle(&mut self, r: &Request) -> Step {
        if self.down {
            let mut resp = Response::new(503);
            resp.body =
                b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>".to_vec();
            resp.headers
                .push(("Content-Type".into(), "text/html".into()));
            return Step::Done(resp.now());
        }
        match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/api/v1/quote") => {
                let fault = self.read_fault();
                if let Some(ReadFault::Status(..) | ReadFault::Drop) = fault {
                    return Step::Done(with_read_fault(Outcome::Drop, fault));
                }
                self.quote(&r.body, fault)
            }
            ("POST", "/api/v1/orders") => Step::Done(self.post(&r.body)),
            ("DELETE", "/api/v1/orders") => Step::Done(self.cancel(&r.body)),
            ("GET", "/api/v2/trades") => {
                let fault = self.read_fault();
                Step::Done(with_read_fault(self.trades(r), fault))
            }
            ("GET", path) if path.starts_with("/api/v1/orders/") => {
                let fault = self.read_fault();
                let uid = &path["/api/v1/orders/".len()..];
                Step::Done(with_read_fault(self.get_order(uid), fault))
            }
            _ => Step::Done(error(404, "NotFound", "no such route")),
        }
    }

    fn quote(&mut self, body: &[u8], fault: Option<ReadFault>) -> Step {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return Step::Done(error(422, "InvalidJson", "request body is not JSON"));
        };
        let parsed = (|| {
            let sell_token = required_address(&v, "sellToken")?;
            let buy_token = required_address(&v, "buyToken")?;
            let from = required_address(&v, "from")?;
            let receiver = parse_address(&v, "receiver")?;
            Ok::<_, String>((sell_token, buy_token, from, receiver))
        })();
        let (sell_token, buy_token, from, receiver) = match parsed {
            Ok(p) => p,
            Err(e) => return Step::Done(error(422, "InvalidJson", &e)),
        };
        if sell_token == buy_token {
            return Step::Done(error(
                400,
                "SameBuyAndSellToken",
                "sell and buy token are the same",
            ));
        }
        if text(&v, "sellTokenBalance", "erc20") != Ok("erc20") {
            return Step::Done(error(
                400,
                "UnsupportedSellTokenSource",
                "only erc20 sell balances are taken",
            ));
        }
        if text(&v, "buyTokenBalance", "erc20") != Ok("erc20") {
            return Step::Done(error(
                400,
                "UnsupportedBuyTokenDestination",
                "only erc20 buy balances are taken",
            ));
        }
        if text(&v, "kind", "") != Ok("sell") {
            return Step::Done(error(
                400,
                "UnsupportedOrderType",
                "this fake quotes sell orders only",
            ));
        }
        let (before_fee, amount) = if v.get("sellAmountBeforeFee").is_some() {
            (true, parse_amount(&v, "sellAmountBeforeFee"))
        } else {
            (false, parse_amount(&v, "sellAmountAfterFee"))
        };
        let amount = match amount {
            Ok(a) => a,
            Err(e) => return Step::Done(error(422, "InvalidJson", &e)),
        };
        let fee = self.quote_fee;
        let sell_amount = if before_fee {
            if amount <= fee {
                return Step::Done(error(
                    400,
                    "SellAmountDoesNotCoverFee",
                    "the sell amount does not cover the fee",
                ));
            }
            amount - fee
        } else {
            amount
        };
        if sell_amount.is_zero() {
            return Step::Done(error(400, "ZeroAmount", "the sell amount is zero"));
        }
        let now_secs = self.now() / SECOND;
        let valid_to = match (v.get("validTo"), v.get("validFor")) {
            (Some(t), _) => t.as_u64(),
            (None, Some(f)) => f.as_u64().map(|f| now_secs + f),
            (None, None) => Some(now_secs + DEFAULT_VALID_FOR_SECS),
        };
        let Some(valid_to) = valid_to.and_then(|t| u32::try_from(t).ok()) else {
            return Step::Done(error(422, "InvalidJson", "validTo/validFor is not a u32"));
        };
        if u64::from(valid_to) <= now_secs {
            return Step::Done(error(
                400,
                "InsufficientValidTo",
                "validTo is not in the future",
            ));
        }
        let app_data = match app_data(&v) {
            Ok(a) => a,
            Err((t, e)) => return Step::Done(error(400, t, &e)),
        };
        Step::Price(QuoteAsk {
            sell_token,
            buy_token,
            sell_amount,
            fee,
            from,
            receiver,
            valid_to,
            app_data,
            fault,
        })
    }

    fn quoted(&mut self, ask: QuoteAsk, priced: Result<Option<U256>, String>) -> Outcome {
        let outcome = match priced {
            Err(e) => error(500, "InternalServerError", &e),
            Ok(None) => error(404, "NoLiquidity", "no route was found for the order"),
            Ok(Some(out)) if out.is_zero() => {
                error(404, "NoLiquidity", "no route was found for the order")
            }
            Ok(Some(out)) => {
                self.next_quote_id += 1;
                self.quotes.insert(
                    self.next_quote_id,
                    (ask.sell_token, ask.buy_token, ask.sell_amount, out),
                );
                let (hash, full) = &ask.app_data;
                let mut quote = json!({
                    "sellToken": ask.sell_token, "buyToken": ask.buy_token,
                    "receiver": ask.receiver,
                    "sellAmount": dec(ask.sell_amount), "buyAmount": dec(out),
                    "validTo": ask.valid_to,
                    "appData": full.clone().unwrap_or_else(|| hash.to_string()),
                    "feeAmount": dec(ask.fee),
                    // The fake's placeholders: it estimates no gas.
                    "gasAmount": "150000", "gasPrice": "1000000000", "sellTokenPrice": "1",
                    "kind": "sell", "partiallyFillable": false,
                    "sellTokenBalance": "erc20", "buyTokenBalance": "erc20",
                    "signingScheme": "eip712",
                });
                if full.is_some() {
                    quote["appDataHash"] = json!(hash);
                }
                Response::json(
                    200,
                    &json!({
                        "quote": quote, "from": ask.from,
                        "expiration": format_rfc3339(self.now() + 60 * SECOND),
                        "id": self.next_quote_id, "verified": true,
                    }),
                )
                .now()
            }
        };
        with_read_fault(outcome, ask.fault)
    }

    fn post(&mut self, body: &[u8]) -> Outcome {
        let v = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
        let parsed = wire::creation_of(&v);
        // Count the arrival by the UID it names (owner as signed), before any fault.
        let (key, owner) = match &parsed {
            Ok(c) => {
                let digest = c.order.digest(&self.domain);
                let signer =
                    cow_order::recover_signer(signed_digest(c.scheme, digest), &c.signature);
                let owner = signer
                    .as_ref()
                    .ok()
                    .copied()
                    .or(c.from)
                    .unwrap_or(Address::ZERO);
                (
                    OrderUid::new(digest, owner, c.order.validTo).to_string(),
                    signer,
                )
            }
            Err(_) => (
                "unreadable".to_string(),
                Err(cow_order::CowOrderError::SignatureLength(0)),
            ),
        };
        self.posts.record(key, None);
        let fault = self.post_fault(POST);
        if let Some(PostFault::Before(status, retry)) = fault {
            return Response::json(status, &json!({"description": "try again later"}))
                .with_retry_after(retry)
                .now();
        }
        let Creation {
            order,
            scheme,
            signature,
            from,
            full_app_data,
            quote_id,
        } = match parsed {
            Ok(c) => c,
            Err((status, t, e)) => return error(status, t, &e),
        };
        if order.sellToken == order.buyToken {
            return error(
                400,
                "SameBuyAndSellToken",
                "sell and buy token are the same",
            );
        }
        if order.sellAmount.is_zero() || order.buyAmount.is_zero() {
            return error(400, "ZeroAmount", "an amount is zero");
        }
        if u64::from(order.validTo) <= self.now() / SECOND {
            return error(400, "InsufficientValidTo", "validTo is not in the future");
        }
        let owner = match owner {
            Ok(o) => o,
            Err(e) => return error(400, "InvalidSignature", &e.to_string()),
        };
        if from.is_some_and(|f| f != owner) {
            return error(
                400,
                "WrongOwner",
                &format!("the signature recovers to {owner}, not from"),
            );
        }
        let uid = OrderUid::new(order.digest(&self.domain), owner, order.validTo);
        if self.orders.iter().any(|o| o.uid == uid) {
            return error(400, "DuplicatedOrder", "order already exists");
        }
        self.orders.push(FakeCowOrder {
            uid,
            owner,
            order,
            scheme,
            signature,
            full_app_data,
            quote_id,
            created_at: self.now(),
            executed_sell: U256::ZERO,
            executed_sell_before_fees: U256::ZERO,
            executed_buy: U256::ZERO,
            executed_fee: U256::ZERO,
            cancelled: false,
            lag: self.listing_lag,
        });
        acted(fault, json!(uid.to_string()), 201)
    }

    fn cancel(&mut self, body: &[u8]) -> Outcome {
        let v = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
        let uids: Option<Vec<OrderUid>> = v
            .get("orderUids")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|u| u.as_str().and_then(|s| OrderUid::from_str(s).ok()))
                    .collect()
            })
            .and_then(|u: Option<Vec<_>>| u);
        for u in uids.iter().flatten() {
            self.cancels.record(u.to_string(), None);
        }
        let fault = self.post_fault(CANCEL);
        if let Some(PostFault::Before(status, retry)) = fault {
            return Response::json(status, &json!({"description": "try again later"}))
                .with_retry_after(retry)
                .now();
        }
        let Some(uids) = uids.filter(|u| !u.is_empty() && u.len() <= 128) else {
            return error(422, "InvalidJson", "orderUids must be 1 to 128 order UIDs");
        };
        let Ok(scheme) = signing_scheme(&v) else {
            return error(
                400,
                "InvalidSignature",
                "signingScheme must be eip712 or ethsign",
            );
        };
        let digest = signed_digest(scheme, cow_order::cancellation_digest(&uids, &self.domain));
        let signer = match parse_signature(&v)
            .map_err(|e| e.to_string())
            .and_then(|s| cow_order::recover_signer(digest, &s).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => return error(400, "InvalidSignature", &e),
        };
        let mut found = Vec::new();
        for uid in &uids {
            match self.orders.iter().position(|o| o.uid == *uid) {
                Some(i) => found.push(i),
                None => return error(404, "OrderNotFound", &format!("order {uid} not found")),
            }
        }
        if found.iter().any(|i| self.orders[*i].owner != signer) {
            return error(401, "WrongOwner", "the signer does not own every order");
        }
        let now = self.now();
        for i in found {
            // Best effort: only an open order is cancelled.
            if self.orders[i].status(now) == "open" {
                self.orders[i].cancelled = true;
            }
        }
        acted(fault, json!("Cancelled"), 200)
    }

    fn view(&self, o: &FakeCowOrder) -> Value {
        let x = &o.order;
        json!({
            "sellToken": x.sellToken, "buyToken": x.buyToken,
            "receiver": if x.receiver.is_zero() { Value::Null } else { json!(x.receiver) },
            "sellAmount": dec(x.sellAmount), "buyAmount": dec(x.buyAmount),
            "validTo": x.validTo, "appData": x.appData, "feeAmount": dec(x.feeAmount),
            "fullAppData": o.full_app_data,
            "kind": x.kind, "partiallyFillable": x.partiallyFillable,
            "sellTokenBalance": x.sellTokenBalance, "buyTokenBalance": x.buyTokenBalance,
            "signingScheme": match o.scheme { SigningScheme::EthSign => "ethsign", _ => "eip712" },
            "signature": o.signature,
            "quoteId": o.quote_id,
            "creationDate": format_rfc3339(o.created_at),
            "class": self.class(o),
            "owner": o.owner, "uid": o.uid.to_string(),
            "availableBalance": null,
            "executedSellAmount": dec(o.executed_sell),
            "executedSellAmountBeforeFees": dec(o.executed_sell_before_fees),
            "executedBuyAmount": dec(o.executed_buy),
            "executedFeeAmount": dec(o.executed_fee),
            "executedFee": dec(o.executed_fee),
            "executedFeeToken": x.sellToken,
            "invalidated": o.cancelled,
            "status": o.status(self.now()),
            "settlementContract": self.settlement,
            "isLiquidityOrder": false,
            "interactions": {"pre": [], "post": []},
        })
    }

    /// `market` when the order names a quote of its pair and asks no
    /// better a price than it gave, else `limit` (an order outside the
    /// market price, or with no quote).
    fn class(&self, o: &FakeCowOrder) -> &'static str {
        let x = &o.order;
        let within = o.quote_id.and_then(|id| self.quotes.get(&id)).is_some_and(
            |(sell, buy, q_sell, q_buy)| {
                *sell == x.sellToken
                    && *buy == x.buyToken
                    && U512::from(x.buyAmount) * U512::from(*q_sell)
                        <= U512::from(*q_buy) * U512::from(x.sellAmount)
            },
        );
        if within { "market" } else { "limit" }
    }

    fn get_order(&mut self, uid: &str) -> Outcome {
        let Ok(uid) = OrderUid::from_str(uid) else {
            return error(400, "InvalidOrderUid", "not a 56-byte order UID");
        };
        let now = self.now();
        let Some(i) = self.orders.iter().position(|o| o.uid == uid) else {
            return error(404, "NotFound", "Order was not found");
        };
        if self.orders[i].lag.hides(now) {
            return error(404, "NotFound", "Order was not found");
        }
        Response::json(200, &self.view(&self.orders[i])).now()
    }

    fn trades(&self, r: &Request) -> Outcome {
        let q = r.query_pairs();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let by_uid = get("orderUid").map(OrderUid::from_str);
        let by_owner = get("owner").map(Address::from_str);
        let keep: Box<dyn Fn(&FakeCowTrade) -> bool> = match (by_uid, by_owner) {
            (Some(Ok(uid)), None) => Box::new(move |t| t.order_uid == uid),
            (None, Some(Ok(owner))) => Box::new(move |t| t.owner == owner),
            _ => {
                return error(
                    400,
                    "InvalidQuery",
                    "exactly one of owner or orderUid must be set",
                );
            }
        };
        let offset = get("offset").and_then(|o| o.parse().ok()).unwrap_or(0usize);
        let limit = get("limit").and_then(|l| l.parse().ok()).unwrap_or(10usize);
        if !(1..=1000).contains(&limit) {
            return error(400, "InvalidLimit", "limit must be between 1 and 1000");
        }
        let mut trades: Vec<&FakeCowTrade> = self.trades.iter().filter(|t| keep(t)).collect();
        trades.sort_by_key(|t| std::cmp::Reverse((t.block_number, t.log_index)));
        let page: Vec<Value> = trades
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|t| {
                json!({
                    "blockNumber": t.block_number, "logIndex": t.log_index,
                    "orderUid": t.order_uid.to_string(), "owner": t.owner,
                    "sellToken": t.sell_token, "buyToken": t.buy_token,
                    "sellAmount": dec(t.sell_amount),
                    "sellAmountBeforeFees": dec(t.sell_amount_before_fees),
                    "buyAmount": dec(t.buy_amount), "txHash": t.tx_hash,
                    "executedProtocolFees": [],
                })
            })
            .collect();
        Response::json(200, &Value::Array(page)).now()
    }
}

/// The answer to a call that acted, with its fault applied.
fn acted(fault: Option<PostFault>, body: Value, status: u16) -> Outcome {
    match fault {
        Some(PostFault::ActThenDrop) => Outcome::Drop,
        Some(PostFault::ActThen(s)) => {
            Response::json(s, &json!({"description": "internal error"})).now()
        }
        Some(PostFault::ActThenMalformed) => Response::raw_json(status, "\"0x6a1f").now(),
        Some(PostFault::ActThenTruncated) => Response::json(status, &body).cut().now(),
        _ => Response::json(status, &body).now(),
    }
}

/// The fake orderbook. Dropping it stops it.
pub struct FakeCow {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl FakeCow {
    /// Listen on 127.0.0.1:0 as the orderbook of the settlement at
    /// `settlement` on `chain_id`, its time from `clock`, its quotes from
    /// `quoting`.
    pub async fn start(
        clock: Arc<dyn Clock>,
        chain_id: u64,
        settlement: Address,
        quoting: Quoting,
    ) -> std::io::Result<FakeCow> {
        let state = Arc::new(Mutex::new(State {
            clock,
            domain: cow_order::domain(chain_id, settlement),
            settlement,
            orders: Vec::new(),
            trades: Vec::new(),
            next_quote_id: 0,
            quotes: BTreeMap::new(),
            quote_fee: U256::ZERO,
            posts: Sends::default(),
            cancels: Sends::default(),
            post_faults: Plan::default(),
            read_faults: Plan::default(),
            listing_lag: ListingLag::default(),
            down: false,
            never_fill: false,
            partial_fill: (1, 1),
        }));
        let serving = state.clone();
        let server = Server::start(move |mut sock| {
            let state = serving.clone();
            let quoting = quoting.clone();
            async move {
                let Some(request) = read_request(&mut sock).await else {
                    return;
                };
                let step = lock(&state).handle(&request);
                let outcome = match step {
                    Step::Done(o) => o,
                    Step::Price(ask) => {
                        let priced = quoting(ask.sell_token, ask.buy_token, ask.sell_amount).await;
                        lock(&state).quoted(ask, priced)
                    }
                };
                carry_out(sock, outcome).await;
            }
        })
        .await?;
        Ok(FakeCow { server, state })
    }

    /// `http://127.0.0.1:<port>` (the API's base, without `/mainnet`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The EIP-712 domain the fake checks signatures in.
    pub fn domain(&self) -> Eip712Domain {
        lock(&self.state).domain.clone()
    }

    /// A quote deducts this many sold atoms as its network fee.
    pub fn set_quote_fee(&self, fee: U256) {
        lock(&self.state).quote_fee = fee;
    }

    pub fn fail_next_post(&self, fault: PostFault) {
        lock(&self.state).post_faults.next(POST, fault);
    }

    pub fn fail_next_cancel(&self, fault: PostFault) {
        lock(&self.state).post_faults.next(CANCEL, fault);
    }

    /// The next quote or read meets `fault` (queued).
    pub fn fail_next_read(&self, fault: ReadFault) {
        lock(&self.state).read_faults.next(READ, fault);
    }

    /// One order POST in `one_in` meets a fault drawn from `seed`.
    pub fn post_faults_from_seed(&self, seed: u64, one_in: u64) {
        let dice = Dice::new(seed, Odds::OneIn(one_in), PostFault::all()).only(&[POST]);
        lock(&self.state).post_faults.seed(dice);
    }

    pub fn drawn_faults(&self) -> Vec<PostFault> {
        lock(&self.state).post_faults.drawn()
    }

    /// Every order accepted from now on is missing from `GET` for this lag.
    pub fn set_listing_lag(&self, lag: ListingLag) {
        lock(&self.state).listing_lag = lag;
    }

    /// Every call answers 503 while down.
    pub fn set_down(&self, down: bool) {
        lock(&self.state).down = down;
    }

    /// The solver fills nothing: every order stays open until it expires.
    pub fn set_never_fill(&self, never: bool) {
        lock(&self.state).never_fill = never;
    }

    /// A partially fillable order is filled `num/den` of its sell amount
    /// per solver pass (default all of it).
    pub fn set_partial_fill(&self, num: u64, den: u64) {
        lock(&self.state).partial_fill = (num, den.max(1));
    }

    /// Order POSTs per UID, counted before any fault.
    pub fn posts(&self) -> BTreeMap<String, u32> {
        lock(&self.state).posts.by_key().clone()
    }

    /// Order POSTs in all.
    pub fn post_total(&self) -> usize {
        lock(&self.state).posts.total()
    }

    /// Cancellations per UID, counted before any fault.
    pub fn cancels(&self) -> BTreeMap<String, u32> {
        lock(&self.state).cancels.by_key().clone()
    }

    pub fn orders(&self) -> Vec<FakeCowOrder> {
        lock(&self.state).orders.clone()
    }

    pub fn trades(&self) -> Vec<FakeCowTrade> {
        lock(&self.state).trades.clone()
    }
}

#[cfg(test)]
mod tests;
