//! The order routes: `POST /api/v1/orders` (counted by UID before any
//! fault, then checked and taken), `DELETE /api/v1/orders` (signed
//! cancellations, best effort) and `GET /api/v1/orders/{UID}` (the order as
//! the orderbook shows it, hidden while its listing lags).

use super::faults::{CANCEL, POST, PostFault, acted};
use super::routes::error;
use super::state::{FakeCowOrder, State};
use super::wire::{self, Creation, dec, parse_signature, signed_digest, signing_scheme};
use crate::fakes::http::{Outcome, Response};
use crate::model::time::{SECOND, format_rfc3339};
use crate::venue::evm::swap::cow_order::{self, OrderUid, SigningScheme};
use alloy::primitives::{Address, U256, U512};
use serde_json::{Value, json};
use std::str::FromStr;

impl State {
    pub(super) fn post(&mut self, body: &[u8]) -> Outcome {
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

    pub(super) fn cancel(&mut self, body: &[u8]) -> Outcome {
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

    pub(super) fn get_order(&mut self, uid: &str) -> Outcome {
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
}
