//! CoW Protocol's orderbook as a swap provider (evm.md §2.4): a quote is
//! `POST /api/v1/quote` (a sell of the step's exact amount before fee), a
//! swap is a signed order — not a transaction — whose sell token the
//! GPv2VaultRelayer pulls when a solver settles it. This module speaks the
//! API: the quote read and checked against what was asked, the order
//! drafted from it (fill-or-kill unless `partially_fillable`, no signed
//! fee, app data `"{}"`, the proceeds to the wallet, the signed minimum
//! never below the step's, valid no longer than the step's deadline),
//! posted, looked up by UID, its trades listed, and cancelled. What is
//! recorded when, and how a step follows its order to the end, is the
//! venue's (`venue::order`).
//!
//! An order sells ERC-20s: ETH is sold as WETH, wrapped first by the venue
//! (and unwrapped again if the order dies). Buying ETH is refused (the
//! receipt could not book it), so the next provider takes it.

use super::cow_order::{
    APP_DATA_EMPTY, APP_DATA_EMPTY_JSON, Order, OrderUid, cancellation_digest, domain,
};
use super::{How, Quote, SwapRequest, base_units};
use crate::config::CowConfig;
use crate::net::describe;
use crate::venue::VenueError;
use crate::venue::http_body::{DEFAULT_BODY_CAP, read_capped};
use alloy::dyn_abi::Eip712Domain;
use alloy::primitives::{Address, B256, U256};
use serde_json::{Value, json};
use std::str::FromStr;
use std::time::Duration;

/// A quote is taken within this long.
pub const QUOTE_TTL_MS: u64 = 30_000;

pub struct CowApi {
    pub name: String,
    pub at: CowConfig,
    pub domain: Eip712Domain,
    http: reqwest::Client,
}

impl std::fmt::Debug for CowApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CowApi({}, {})", self.name, self.at.base_url)
    }
}

/// Where an order stands at the orderbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderStatus {
    /// `open`, `fulfilled`, `expired`, `cancelled`, `presignaturePending`.
    pub status: String,
    /// Sold, the fee included.
    pub executed_sell: U256,
    pub executed_buy: U256,
}

impl OrderStatus {
    /// It can fill no further.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "fulfilled" | "expired" | "cancelled")
    }
}

/// A step's order as the journal keeps it: written before it is posted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderRecord {
    pub provider: String,
    pub uid: String,
    pub sell_token: Address,
    pub buy_token: Address,
    pub receiver: Address,
    pub sell_amount: U256,
    pub buy_amount: U256,
    pub valid_to: u32,
    /// Partially fillable (`partially_fillable` in the config), else fill-or-kill.
    #[serde(default)]
    pub partially_fillable: bool,
    pub quote_id: Option<i64>,
    pub signature: alloy::primitives::Bytes,
    pub state: OrderState,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OrderState {
    /// Signed and recorded; its post may or may not have reached the orderbook.
    Signed,
    /// The orderbook has it.
    Posted,
    /// It filled (whole, or in part before it expired): what moved, and the
    /// settlement that moved it.
    Filled {
        executed_sell: U256,
        executed_buy: U256,
        tx_hash: B256,
    },
    /// It can never fill: refused, expired or cancelled with nothing filled.
    Dead { why: String },
}

impl OrderRecord {
    pub fn order(&self) -> Order {
        let mut o = Order::sell(
            self.sell_token,
            self.buy_token,
            self.sell_amount,
            self.buy_amount,
            self.valid_to,
        );
        o.receiver = self.receiver;
        o.partiallyFillable = self.partially_fillable;
        o
    }

    pub fn uid(&self) -> Result<OrderUid, VenueError> {
        OrderUid::from_str(&self.uid)
            .map_err(|e| VenueError::Rejected(format!("recorded order UID: {e}")))
    }

    pub fn is_dead(&self) -> bool {
        matches!(self.state, OrderState::Dead { .. })
    }
}

/// What a POST of an order came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// Taken (201), or already there (`DuplicatedOrder`).
    Taken,
    /// Refused as the orderbook states it: this order will never be taken.
    Refused(String),
}

impl CowApi {
    pub fn open(at: CowConfig, chain_id: u64) -> Result<CowApi, String> {
        let http = crate::net::api_client(&at.name, Duration::from_millis(at.timeout_ms))?;
        Ok(CowApi {
            name: at.name.clone(),
            domain: domain(chain_id, at.settlement),
            at,
            http,
        })
    }

    /// One call: its status and the body as JSON (`None`: not JSON).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Option<Value>), String> {
        let url = format!("{}{path}", self.at.base_url);
        let mut r = self.http.request(method, &url);
        if let Some(b) = body {
            r = r
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let response = r.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let bytes = read_capped(response, DEFAULT_BODY_CAP)
            .await
            .map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_slice(&bytes).ok()))
    }

    pub async fn quote_exact_in(
        &self,
        req: &SwapRequest,
        firm: bool,
    ) -> Result<(U256, u64, How), VenueError> {
        if req.native_out {
            return Err(VenueError::Rejected(
                "CowSwap is asked for ERC-20 buys only here (its ETH payout is not booked yet)"
                    .into(),
            ));
        }
        // Native ETH in is sold as WETH (`token_in` is the chain's WETH):
        // the venue wraps it before the order is signed.
        let body = json!({
            "sellToken": req.token_in.to_string(),
            "buyToken": req.token_out.to_string(),
            "from": req.taker.to_string(),
            "receiver": req.taker.to_string(),
            "kind": "sell",
            "sellAmountBeforeFee": req.amount_in.to_string(),
            "validFor": self.at.valid_for_ms / 1000,
            "appData": APP_DATA_EMPTY_JSON,
            "appDataHash": APP_DATA_EMPTY.to_string(),
            "priceQuality": if firm { "verified" } else { "fast" },
            "signingScheme": "eip712",
            "sellTokenBalance": "erc20",
            "buyTokenBalance": "erc20",
            "partiallyFillable": self.at.partially_fillable,
        });
        let transient = |what: String| VenueError::Transient(format!("CowSwap quote: {what}"));
        let (status, v) = self
            .call(reqwest::Method::POST, "/api/v1/quote", Some(&body))
            .await
            .map_err(transient)?;
        match status {
            200 => {}
            400 | 403 | 404 if v.as_ref().is_some_and(|v| v.get("errorType").is_some()) => {
                return Err(VenueError::Rejected(format!(
                    "CowSwap refused the quote ({status} {})",
                    error_text(v.as_ref())
                )));
            }
            429 => return Err(transient("429 rate limited".into())),
            other => return Err(transient(format!("HTTP {other}"))),
        }
        let v = v.ok_or_else(|| transient("the answer is not JSON".into()))?;
        self.read_quote(&v, req)
            .map_err(|why| transient(format!("answer refused: {why}")))
    }

    fn read_quote(&self, v: &Value, req: &SwapRequest) -> Result<(U256, u64, How), String> {
        let q = v.get("quote").ok_or("no quote")?;
        let addr = |k: &str| {
            q.get(k)
                .and_then(Value::as_str)
                .and_then(|s| Address::from_str(s).ok())
                .ok_or_else(|| format!("no quote.{k}"))
        };
        let amount = |k: &str| {
            q.get(k)
                .and_then(base_units)
                .ok_or_else(|| format!("no quote.{k}"))
        };
        if addr("sellToken")? != req.token_in || addr("buyToken")? != req.token_out {
            return Err("its tokens are not the ones asked".into());
        }
        if q.get("kind").and_then(Value::as_str) != Some("sell") {
            return Err("not a sell quote".into());
        }
        let sell = amount("sellAmount")?;
        let fee = amount("feeAmount")?;
        if sell.checked_add(fee) != Some(req.amount_in) {
            return Err(format!(
                "it sells {sell} plus a fee of {fee}, not the {} asked",
                req.amount_in
            ));
        }
        let buy = amount("buyAmount")?;
        if buy.is_zero() {
            return Err("buyAmount 0".into());
        }
        let quote_id = v.get("id").and_then(Value::as_i64);
        // A solver pays the settlement's gas; our only gas is the approve.
        Ok((buy, 0, How::Cow { quote_id }))
    }

    /// The order for `quote`: the step's whole amount sold, at least the
    /// quote less the slippage allowance, and never less than `min_out`;
    /// valid for `valid_for`, never past the step's own deadline.
    pub fn draft(
        &self,
        req: &SwapRequest,
        quote: &Quote,
        min_out: U256,
        now_secs: u64,
        deadline_secs: u64,
    ) -> Result<Order, VenueError> {
        let bps = U256::from(10_000 - self.at.slippage_bps.min(10_000));
        let with_slippage = quote.amount_out * bps / U256::from(10_000u64);
        let buy = with_slippage.max(min_out);
        if buy > quote.amount_out {
            return Err(VenueError::Rejected(format!(
                "{}'s quote {} is below the step's minimum {min_out}",
                self.name, quote.amount_out
            )));
        }
        let valid_to = (now_secs + self.at.valid_for_ms / 1000).min(deadline_secs);
        if valid_to < now_secs + 30 {
            return Err(VenueError::Rejected(format!(
                "the step's deadline leaves {} no time for an order",
                self.name
            )));
        }
        let valid_to = u32::try_from(valid_to)
            .map_err(|_| VenueError::Rejected("validTo past 2106".into()))?;
        let mut order = Order::sell(req.token_in, req.token_out, req.amount_in, buy, valid_to);
        order.receiver = req.taker;
        order.partiallyFillable = self.at.partially_fillable;
        Ok(order)
    }

    /// POST the signed order.
    pub async fn post(
        &self,
        order: &Order,
        signature: &[u8],
        owner: Address,
        quote_id: Option<i64>,
    ) -> Result<Posted, VenueError> {
        let mut body = json!({
            "sellToken": order.sellToken.to_string(),
            "buyToken": order.buyToken.to_string(),
            "receiver": order.receiver.to_string(),
            "sellAmount": order.sellAmount.to_string(),
            "buyAmount": order.buyAmount.to_string(),
            "validTo": order.validTo,
            "appData": APP_DATA_EMPTY_JSON,
            "appDataHash": order.appData.to_string(),
            "feeAmount": order.feeAmount.to_string(),
            "kind": order.kind,
            "partiallyFillable": order.partiallyFillable,
            "sellTokenBalance": order.sellTokenBalance,
            "buyTokenBalance": order.buyTokenBalance,
            "signingScheme": "eip712",
            "signature": alloy::primitives::Bytes::copy_from_slice(signature).to_string(),
            "from": owner.to_string(),
        });
        if let Some(id) = quote_id {
            body["quoteId"] = json!(id);
        }
        // Past this point the order may be taken whatever we hear back.
        let unknown = |what: String| VenueError::Unknown(format!("CowSwap order post: {what}"));
        let (status, v) = self
            .call(reqwest::Method::POST, "/api/v1/orders", Some(&body))
            .await
            .map_err(unknown)?;
        let error_type = v
            .as_ref()
            .and_then(|v| v.get("errorType"))
            .and_then(Value::as_str);
        match (status, error_type) {
            (201, _) if v.as_ref().and_then(Value::as_str).is_some() => Ok(Posted::Taken),
            (400, Some("DuplicatedOrder")) => Ok(Posted::Taken),
            // Refused before taking it: it never will be, as signed.
            (400 | 403 | 404, Some(_)) => Ok(Posted::Refused(error_text(v.as_ref()))),
            // 429 is refused before acting; everything else may have acted.
            (429, _) => Err(VenueError::Transient("CowSwap order post: 429".into())),
            (other, _) => Err(unknown(format!("HTTP {other}"))),
        }
    }

    /// The order by UID (`None`: the orderbook does not list it).
    pub async fn order(&self, uid: &OrderUid) -> Result<Option<OrderStatus>, VenueError> {
        let transient =
            |what: String| VenueError::Transient(format!("CowSwap order {uid}: {what}"));
        let (status, v) = self
            .call(reqwest::Method::GET, &format!("/api/v1/orders/{uid}"), None)
            .await
            .map_err(transient)?;
        match status {
            200 => {}
            404 => return Ok(None),
            other => return Err(transient(format!("HTTP {other}"))),
        }
        let v = v.ok_or_else(|| transient("the answer is not JSON".into()))?;
        if v.get("uid").and_then(Value::as_str) != Some(uid.to_string().as_str()) {
            return Err(transient("the answer is another order's".into()));
        }
        let get = |k: &str| {
            v.get(k)
                .and_then(base_units)
                .ok_or_else(|| transient(format!("no {k}")))
        };
        Ok(Some(OrderStatus {
            status: v
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| transient("no status".into()))?
                .to_string(),
            executed_sell: get("executedSellAmount")?,
            executed_buy: get("executedBuyAmount")?,
        }))
    }

    /// The settlement transactions that filled the order, newest first.
    pub async fn trade_txs(&self, uid: &OrderUid) -> Result<Vec<B256>, VenueError> {
        let transient =
            |what: String| VenueError::Transient(format!("CowSwap trades {uid}: {what}"));
        let (status, v) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v2/trades?orderUid={uid}"),
                None,
            )
            .await
            .map_err(transient)?;
        if status != 200 {
            return Err(transient(format!("HTTP {status}")));
        }
        let list = v
            .as_ref()
            .and_then(Value::as_array)
            .ok_or_else(|| transient("not a list".into()))?;
        Ok(list
            .iter()
            .filter(|t| t.get("orderUid").and_then(Value::as_str) == Some(uid.to_string().as_str()))
            .filter_map(|t| t.get("txHash").and_then(Value::as_str))
            .filter_map(|h| B256::from_str(h).ok())
            .collect())
    }

    /// What the owner signs to cancel `uid` off-chain.
    pub fn cancellation(&self, uid: &OrderUid) -> B256 {
        cancellation_digest(std::slice::from_ref(uid), &self.domain)
    }

    /// Ask the orderbook to cancel (best effort: a solver may still fill it
    /// until the orderbook has let go of it).
    pub async fn cancel(&self, uid: &OrderUid, signature: &[u8]) -> Result<(), VenueError> {
        let body = json!({
            "orderUids": [uid.to_string()],
            "signature": alloy::primitives::Bytes::copy_from_slice(signature).to_string(),
            "signingScheme": "eip712",
        });
        let (status, v) = self
            .call(reqwest::Method::DELETE, "/api/v1/orders", Some(&body))
            .await
            .map_err(|e| VenueError::Transient(format!("CowSwap cancel: {e}")))?;
        match status {
            200 => Ok(()),
            other => Err(VenueError::Transient(format!(
                "CowSwap cancel: HTTP {other} ({})",
                error_text(v.as_ref())
            ))),
        }
    }
}

/// The orderbook's error shape `{errorType, description}`, briefly.
fn error_text(v: Option<&Value>) -> String {
    let Some(v) = v else {
        return "no JSON body".into();
    };
    let t = v.get("errorType").and_then(Value::as_str).unwrap_or("?");
    let d = v.get("description").and_then(Value::as_str).unwrap_or("");
    let mut text = format!("{t}: {d}");
    text.truncate(200);
    text
}
