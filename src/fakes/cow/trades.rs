//! The trades route, `GET /api/v2/trades`: an order's or an owner's
//! settled trades, newest first, paged.

use super::routes::error;
use super::state::{FakeCowTrade, State};
use super::wire::dec;
use crate::fakes::http::{Outcome, Request, Response};
use crate::venue::evm::swap::cow_order::OrderUid;
use alloy::primitives::Address;
use serde_json::{Value, json};
use std::str::FromStr;

impl State {
    pub(super) fn trades(&self, r: &Request) -> Outcome {
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
