//! Swap providers behind one interface (seed 003 §7.1, §11): each quotes
//! exact-in and says how a quote is carried out (a transaction, or for
//! CowSwap a signed order); what a swap asks of them (`Ask`) and what they
//! answered (`Selection`, for the step's record and the cycle's detail).
//! A chain's providers together, in priority order and with their health,
//! are `providers::Providers`.
//!
//! The transaction itself goes out through the one transaction manager, like
//! every other send; a provider only says what to send and to whom to give
//! the allowance.

pub mod cow;
pub mod cow_order;
pub mod onedelta;
pub mod probe;
mod providers;
pub mod v2;
pub mod v3;
pub mod zerox;

pub use providers::Providers;

use crate::model::Timestamp;
use crate::venue::VenueError;
use crate::venue::evm::chain::ChainClient;
use crate::venue::evm::txmgr::GasHint;
use alloy::primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One exact-in swap, in the chain's addresses (native ETH as its WETH,
/// with the flags saying the wallet pays or wants ETH itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapRequest {
    pub token_in: Address,
    pub token_out: Address,
    pub native_in: bool,
    pub native_out: bool,
    pub amount_in: U256,
    /// Who swaps and is paid (an aggregator builds its calldata for it).
    pub taker: Address,
}

/// How a provider would carry a quote out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum How {
    /// A V2 router along this path.
    V2 { path: Vec<Address> },
    /// A V3 pool of this fee tier.
    V3 { fee: u32 },
    /// 0x's indicative price: no transaction yet.
    ZeroXPrice,
    /// 0x's firm quote: its transaction, sent unchanged once checked.
    ZeroX {
        to: Address,
        data: Bytes,
        value: U256,
    },
    /// A CoW Protocol order, drafted from this quote of the orderbook's.
    Cow { quote_id: Option<i64> },
    /// 1delta's first alternative, sent unchanged once it ran as the
    /// wallet; `spender` is the one its permission named.
    OneDelta {
        to: Address,
        data: Bytes,
        value: U256,
        spender: Address,
    },
}

impl fmt::Display for How {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            How::V2 { path } if path.len() <= 2 => write!(f, "V2 pair"),
            How::V2 { path } => write!(f, "V2 path of {} hops", path.len() - 1),
            How::V3 { fee } => write!(f, "V3 fee {fee}"),
            How::ZeroXPrice => write!(f, "0x indicative price"),
            How::ZeroX { .. } => write!(f, "0x AllowanceHolder"),
            How::Cow { .. } => write!(f, "CoW order"),
            How::OneDelta { .. } => write!(f, "1delta route, run as the wallet first"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub provider: String,
    pub amount_out: U256,
    /// The minimum out the provider's own calldata enforces (`None`: the
    /// step's minimum goes into the calldata we build).
    pub floor: Option<U256>,
    /// Gas the swap is expected to use.
    pub gas: u64,
    /// After this the quote is not carried out; a fresh one is asked for.
    pub valid_until: Timestamp,
    pub how: How,
}

/// The transaction that carries a quote out, and who spends the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapCall {
    pub to: Address,
    pub data: Bytes,
    pub value: U256,
    pub spender: Address,
    /// The swap's gas beyond the node's estimate: a pool's price oracle is
    /// written only in a block of a newer second than its last trade, and
    /// the estimate may run in that trade's second (see `GasHint`).
    pub gas: GasHint,
}

/// The providers this build knows, by shape.
#[derive(Debug)]
pub enum Provider {
    V2(v2::V2Router),
    V3(v3::V3Pools),
    ZeroX(zerox::ZeroXApi),
    Cow(cow::CowApi),
    OneDelta(onedelta::OneDeltaApi),
}

/// The one interface every provider answers (seed §11).
pub trait SwapProvider {
    fn name(&self) -> &str;
    /// Who takes the input token (the allowance goes to it); for 1delta,
    /// the first of its targets (each answer names its own).
    fn spender(&self) -> Address;
    /// Whether an allowance to `a` can be what this provider spends through.
    fn spends_through(&self, a: Address) -> bool;
    /// `firm`: the swap is about to be sent (an aggregator answers with its
    /// transaction); else an indicative quote, for sizing.
    fn quote_exact_in(
        &self,
        c: &ChainClient,
        req: &SwapRequest,
        firm: bool,
        now: Timestamp,
    ) -> impl Future<Output = Result<Quote, VenueError>> + Send;
    /// Whether its transaction is run with `eth_call` before it is signed:
    /// calldata someone else wrote.
    fn simulates(&self) -> bool;
    /// What to send for `quote`, checked against what was asked.
    fn swap_call(
        &self,
        req: &SwapRequest,
        quote: &Quote,
        min_out: U256,
        me: Address,
        deadline_secs: u64,
    ) -> Result<SwapCall, VenueError>;
}

/// An on-chain quote holds for about a block; past this it is asked again.
pub const ONCHAIN_QUOTE_TTL_MS: u64 = 12_000;

impl SwapProvider for Provider {
    fn name(&self) -> &str {
        match self {
            Provider::V2(p) => &p.name,
            Provider::V3(p) => &p.name,
            Provider::ZeroX(p) => &p.name,
            Provider::Cow(p) => &p.name,
            Provider::OneDelta(p) => &p.name,
        }
    }

    fn spender(&self) -> Address {
        match self {
            Provider::V2(p) => p.router,
            Provider::V3(p) => p.at.router,
            Provider::ZeroX(p) => p.at.allowance_holder,
            Provider::Cow(p) => p.at.vault_relayer,
            // Its spender is read from each answer; the step's approve pins it.
            Provider::OneDelta(p) => p.at.targets.first().copied().unwrap_or_default(),
        }
    }

    fn spends_through(&self, a: Address) -> bool {
        match self {
            Provider::OneDelta(p) => p.at.targets.contains(&a),
            other => other.spender() == a,
        }
    }

    fn simulates(&self) -> bool {
        matches!(self, Provider::ZeroX(_) | Provider::OneDelta(_))
    }

    async fn quote_exact_in(
        &self,
        c: &ChainClient,
        req: &SwapRequest,
        firm: bool,
        now: Timestamp,
    ) -> Result<Quote, VenueError> {
        let (amount_out, floor, gas, how, ttl) = match self {
            Provider::V2(p) => {
                let (out, gas, how) = p.quote_exact_in(c, req).await?;
                (out, None, gas, how, ONCHAIN_QUOTE_TTL_MS)
            }
            Provider::V3(p) => {
                let (out, gas, how) = p.quote_exact_in(c, req).await?;
                (out, None, gas, how, ONCHAIN_QUOTE_TTL_MS)
            }
            Provider::ZeroX(p) => {
                let a = p.quote_exact_in(req, firm).await?;
                let floor = firm.then_some(a.min_buy_amount);
                (a.buy_amount, floor, a.gas, a.how, zerox::QUOTE_TTL_MS)
            }
            Provider::Cow(p) => {
                let (out, gas, how) = p.quote_exact_in(req, firm).await?;
                (out, None, gas, how, cow::QUOTE_TTL_MS)
            }
            Provider::OneDelta(p) => {
                let a = p.quote_exact_in(c, req).await?;
                (
                    a.received,
                    Some(a.floor),
                    a.gas,
                    a.how,
                    onedelta::QUOTE_TTL_MS,
                )
            }
        };
        Ok(Quote {
            provider: self.name().to_string(),
            amount_out,
            floor,
            gas,
            valid_until: now + ttl,
            how,
        })
    }

    fn swap_call(
        &self,
        req: &SwapRequest,
        quote: &Quote,
        min_out: U256,
        me: Address,
        deadline_secs: u64,
    ) -> Result<SwapCall, VenueError> {
        if quote.provider != self.name() {
            return Err(VenueError::Rejected(format!(
                "{} cannot carry out {}'s quote",
                self.name(),
                quote.provider
            )));
        }
        match self {
            Provider::V2(p) => p.swap_call(req, quote, min_out, me, deadline_secs),
            Provider::V3(p) => p.swap_call(req, quote, min_out, me, deadline_secs),
            // 0x's calldata carries its own deadline-free floor, checked there.
            Provider::ZeroX(p) => p.swap_call(req, quote, min_out, me),
            Provider::OneDelta(p) => p.swap_call(req, quote, min_out, me),
            Provider::Cow(p) => Err(VenueError::Rejected(format!(
                "{} is carried out by a signed order, not a transaction",
                p.name
            ))),
        }
    }
}

pub use crate::config::SwapChoose as Choose;

/// What a swap asks of the providers beyond the swap itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask {
    /// A quote below this is skipped (the step's slippage bound).
    pub min_out: Option<U256>,
    /// Gas priced in token-out base units, for `Choose::Best`.
    pub gas_price_in_out: Option<U256>,
    /// Only a provider spending through this address: the step's approve
    /// was already signed for it (after a crash, the swap goes the same way).
    pub spender: Option<Address>,
    /// No provider spending through this address: the step's order there
    /// died (refused, expired unfilled), so it goes elsewhere.
    pub avoid: Option<Address>,
    /// The swap is about to be sent: firm quotes (see `quote_exact_in`).
    pub firm: bool,
}

/// What one provider said when asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    Quoted { amount_out: String, gas: u64 },
    Skipped { reason: String },
}

/// The providers asked for one swap, in order, and the one taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub chosen: String,
    pub how: How,
    pub asked: Vec<(String, Answer)>,
}

impl Selection {
    /// One line for the cycle's detail: the provider used, what each quoted
    /// and why the others were skipped.
    pub fn summary(&self) -> String {
        let mut out = format!("via {} ({})", self.chosen, self.how);
        for (name, answer) in &self.asked {
            if *name == self.chosen {
                continue;
            }
            match answer {
                Answer::Quoted { amount_out, .. } => {
                    out.push_str(&format!("; {name} quoted {amount_out}"))
                }
                Answer::Skipped { reason } => out.push_str(&format!("; {name} skipped: {reason}")),
            }
        }
        out
    }
}

/// A base-unit amount as the aggregators' APIs write it: a decimal string
/// (or a JSON number).
fn base_units(v: &serde_json::Value) -> Option<U256> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            U256::from_str_radix(s, 10).ok()
        }
        serde_json::Value::Number(n) => n.as_u64().map(U256::from),
        _ => None,
    }
}
