//! The fake orderbook's state: the orders it holds ([`FakeCowOrder`]),
//! the trades settled for them ([`FakeCowTrade`]), the quotes it gave, its
//! counters, fault plans and scripted behaviour, all behind one lock.

use super::faults::{PostFault, READ, ReadFault};
use crate::fakes::faults::{ListingLag, Plan, Sends};
use crate::model::time::SECOND;
use crate::model::{Clock, Timestamp};
use crate::venue::evm::swap::cow_order::{Order, OrderKind, OrderUid, SigningScheme};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::Eip712Domain;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    pub(super) lag: ListingLag,
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

pub(super) struct State {
    pub(super) clock: Arc<dyn Clock>,
    pub(super) domain: Eip712Domain,
    pub(super) settlement: Address,
    pub(super) orders: Vec<FakeCowOrder>,
    pub(super) trades: Vec<FakeCowTrade>,
    pub(super) next_quote_id: i64,
    /// Each quote given, by id: (sell token, buy token, sell, buy).
    pub(super) quotes: BTreeMap<i64, (Address, Address, U256, U256)>,
    /// Sold-token atoms a quote deducts as its network fee (default 0).
    pub(super) quote_fee: U256,
    /// Order POSTs by UID (or what could be read of one), before any fault.
    pub(super) posts: Sends<String>,
    pub(super) cancels: Sends<String>,
    pub(super) post_faults: Plan<PostFault>,
    pub(super) read_faults: Plan<ReadFault>,
    /// Given to every order accepted from now on.
    pub(super) listing_lag: ListingLag,
    pub(super) down: bool,
    pub(super) never_fill: bool,
    /// Tokens the orderbook does not trade: quotes for them are refused.
    pub(super) unsupported: std::collections::BTreeSet<Address>,
    /// The fraction of a partially fillable order the solver fills per pass.
    pub(super) partial_fill: (u64, u64),
}

impl State {
    pub(super) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(super) fn read_fault(&mut self) -> Option<ReadFault> {
        let n = self.read_faults.arrive(READ);
        self.read_faults.decide(READ, n, None)
    }

    pub(super) fn post_fault(&mut self, call: &str) -> Option<PostFault> {
        let n = self.post_faults.arrive(call);
        self.post_faults.decide(call, n, None)
    }
}
