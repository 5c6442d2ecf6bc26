//! The quote route, `POST /api/v1/quote`: the request checked as the
//! orderbook checks it, priced by the caller's [`Quoting`] with the lock let
//! go, then answered with the quote's id (sell orders only).

use super::faults::{ReadFault, with_read_fault};
use super::routes::{Step, error};
use super::state::State;
use super::wire::{app_data, dec, parse_address, parse_amount, required_address, text};
use crate::fakes::http::{Outcome, Response};
use crate::model::time::{SECOND, format_rfc3339};
use alloy::primitives::{Address, B256, U256};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::sync::Arc;

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

pub(super) struct QuoteAsk {
    pub(super) sell_token: Address,
    pub(super) buy_token: Address,
    pub(super) sell_amount: U256,
    pub(super) fee: U256,
    pub(super) from: Address,
    pub(super) receiver: Option<Address>,
    pub(super) valid_to: u32,
    pub(super) app_data: (B256, Option<String>),
    pub(super) fault: Option<ReadFault>,
}

impl State {
    pub(super) fn quote(&mut self, body: &[u8], fault: Option<ReadFault>) -> Step {
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
        if let Some(t) = [sell_token, buy_token]
            .into_iter()
            .find(|t| self.unsupported.contains(t))
        {
            return Step::Done(error(
                400,
                "UnsupportedToken",
                &format!("token {t} is not supported"),
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

    pub(super) fn quoted(
        &mut self,
        ask: QuoteAsk,
        priced: Result<Option<U256>, String>,
    ) -> Outcome {
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
}
