//! Swap providers behind one interface (seed 003 §7.1, §11): each quotes
//! exact-in and builds the transaction that carries a quote out; a chain's
//! `Providers` asks them in priority order (or all, for the best), keeps each
//! one's health — a provider that failed is skipped with its reason until
//! its retry time — and says what each quoted and why the others were
//! skipped, for the step's record and the cycle's detail.
//!
//! The transaction itself goes out through the one transaction manager, like
//! every other send; a provider only says what to send and to whom to give
//! the allowance.

pub mod cow;
pub mod cow_order;
pub mod v2;
pub mod v3;
pub mod zerox;

use crate::config::EvmChainConfig;
use crate::model::{Chain, Timestamp};
use crate::venue::evm::chain::ChainClient;
use crate::venue::{VenueError, VenueHealth};
use alloy::primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Mutex;

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
}

/// The providers this build knows, by shape.
#[derive(Debug)]
pub enum Provider {
    V2(v2::V2Router),
    V3(v3::V3Pools),
    ZeroX(zerox::ZeroXApi),
    Cow(cow::CowApi),
}

/// The one interface every provider answers (seed §11).
pub trait SwapProvider {
    fn name(&self) -> &str;
    /// Who takes the input token (the allowance goes to it).
    fn spender(&self) -> Address;
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
        }
    }

    fn spender(&self) -> Address {
        match self {
            Provider::V2(p) => p.router,
            Provider::V3(p) => p.at.router,
            Provider::ZeroX(p) => p.at.allowance_holder,
            Provider::Cow(p) => p.at.vault_relayer,
        }
    }

    fn simulates(&self) -> bool {
        matches!(self, Provider::ZeroX(_))
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

#[derive(Debug, Clone, Default)]
struct Health {
    /// Why it was last marked unhealthy, and until when it is skipped.
    down: Option<(String, Timestamp)>,
    last_ok: Option<Timestamp>,
}

/// Where the reference price comes from (seed 003 §7.1).
#[derive(Debug)]
enum Reference {
    /// One of the swap providers, by its place in the list.
    Listed(usize),
    /// A provider asked for reference prices only.
    Own(Box<Provider>),
}

/// Build the provider the chain's config names `name`.
async fn build(
    c: &ChainClient,
    chain: Chain,
    cfg: &EvmChainConfig,
    name: &str,
    weth: Address,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Provider, String> {
    let sc = &cfg.swap;
    if name == sc.v2_name {
        return Ok(Provider::V2(v2::V2Router {
            name: name.to_string(),
            router: cfg.router,
        }));
    }
    if let Some(at) = sc.v3.as_ref().filter(|v| v.name == name) {
        let pools = v3::V3Pools::connect(c, at.clone(), weth).await?;
        tracing::info!(chain = %chain, provider = %name, shape = ?pools.shape, "V3 swap router checked");
        return Ok(Provider::V3(pools));
    }
    if let Some(at) = sc.zerox.as_ref().filter(|z| z.name == name) {
        let key = env(&at.api_key_env)
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                format!(
                    "{name} needs 0x's API key in the environment variable {} (api_key_env)",
                    at.api_key_env
                )
            })?;
        let api = zerox::ZeroXApi::open(at.clone(), crate::model::Secret::new(key), c.chain_id)?;
        return Ok(Provider::ZeroX(api));
    }
    if let Some(at) = sc.cowswap.as_ref().filter(|z| z.name == name) {
        return Ok(Provider::Cow(cow::CowApi::open(at.clone(), c.chain_id)?));
    }
    Err(format!("no swap provider is configured as {name:?}"))
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

/// One chain's providers in priority order, with their health.
#[derive(Debug)]
pub struct Providers {
    pub chain: Chain,
    list: Vec<Provider>,
    reference: Option<Reference>,
    pub choose: Choose,
    /// A provider that failed is asked again after this long.
    retry_after_ms: u64,
    health: Mutex<Vec<Health>>,
}

impl Providers {
    pub fn new(chain: Chain, list: Vec<Provider>, choose: Choose, retry_after_ms: u64) -> Self {
        let health = Mutex::new(vec![Health::default(); list.len()]);
        Providers {
            chain,
            list,
            reference: None,
            choose,
            retry_after_ms,
            health,
        }
    }

    /// The chain's configured providers, each checked on the chain (an
    /// aggregator's API key read through `env`), and its reference.
    pub async fn connect(
        c: &ChainClient,
        chain: Chain,
        cfg: &EvmChainConfig,
        weth: Address,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Providers, String> {
        let sc = &cfg.swap;
        let mut list = Vec::new();
        for name in &sc.order {
            list.push(build(c, chain, cfg, name, weth, env).await?);
        }
        let mut p = Providers::new(chain, list, sc.choose, sc.retry_after_ms);
        p.reference = match &sc.reference {
            None => None,
            Some(name) => Some(match sc.order.iter().position(|n| n == name) {
                Some(i) => Reference::Listed(i),
                None => Reference::Own(Box::new(build(c, chain, cfg, name, weth, env).await?)),
            }),
        };
        Ok(p)
    }

    /// The reference provider's indicative quote, when the chain has one
    /// (`None`: detection prices by the swap order, like the swaps).
    pub async fn reference_quote(
        &self,
        c: &ChainClient,
        req: &SwapRequest,
        now: Timestamp,
    ) -> Option<Result<Quote, VenueError>> {
        let p = match self.reference.as_ref()? {
            Reference::Listed(i) => self.list.get(*i)?,
            Reference::Own(p) => p,
        };
        Some(p.quote_exact_in(c, req, false, now).await)
    }

    pub fn names(&self) -> Vec<String> {
        self.list.iter().map(|p| p.name().to_string()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.list.iter().find(|p| p.name() == name)
    }

    /// `name` failed outside a quote (its transaction reverts in
    /// simulation, say): it rests like a provider whose quote failed.
    pub fn mark_down(&self, name: &str, why: &str, now: Timestamp) {
        if let Some(i) = self.list.iter().position(|p| p.name() == name) {
            self.health()[i].down = Some((why.to_string(), now + self.retry_after_ms));
            tracing::warn!(chain = %self.chain, provider = %name, reason = %why, "swap provider unhealthy");
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Vec<Health>> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ask the providers for `req`. With `min_out`, a quote below it is
    /// skipped. The chosen quote, and what every provider said.
    pub async fn select(
        &self,
        c: &ChainClient,
        req: &SwapRequest,
        ask: Ask,
        now: Timestamp,
    ) -> Result<(Quote, Selection), VenueError> {
        let Ask {
            min_out,
            gas_price_in_out,
            spender,
            avoid,
            firm,
        } = ask;
        let mut asked = Vec::new();
        let mut taken: Vec<Quote> = Vec::new();
        // Providers that failed or rest: a retry may find one of them.
        let mut passing = 0usize;
        for (i, p) in self.list.iter().enumerate() {
            let name = p.name().to_string();
            if let Some(s) = spender
                && p.spender() != s
            {
                asked.push((
                    name,
                    Answer::Skipped {
                        reason: format!(
                            "this step's approve was signed for {s}, not for this provider"
                        ),
                    },
                ));
                continue;
            }
            if avoid == Some(p.spender()) {
                asked.push((
                    name,
                    Answer::Skipped {
                        reason: "this step's order there can no longer fill".into(),
                    },
                ));
                continue;
            }
            // A resting provider is skipped while there is a choice; a step
            // pinned to it (its approve is signed) has none, so it is asked.
            let down = self.health()[i].down.clone();
            if let Some((why, until)) = down
                && now < until
                && spender.is_none()
            {
                let secs = (until - now).div_ceil(1000);
                passing += 1;
                asked.push((
                    name,
                    Answer::Skipped {
                        reason: format!("unhealthy ({why}); asked again in {secs}s"),
                    },
                ));
                continue;
            }
            match p.quote_exact_in(c, req, firm, now).await {
                Ok(q) => {
                    {
                        let mut h = self.health();
                        h[i].down = None;
                        h[i].last_ok = Some(now);
                    }
                    if let Some(min) = min_out
                        && q.amount_out < min
                    {
                        asked.push((
                            name,
                            Answer::Skipped {
                                reason: format!(
                                    "quotes {}, below the step's minimum {min}",
                                    q.amount_out
                                ),
                            },
                        ));
                        continue;
                    }
                    if let (Some(min), Some(floor)) = (min_out, q.floor)
                        && floor < min
                    {
                        asked.push((
                            name,
                            Answer::Skipped {
                                reason: format!(
                                    "its calldata's floor {floor} is below the step's minimum {min}"
                                ),
                            },
                        ));
                        continue;
                    }
                    if q.valid_until < now {
                        asked.push((
                            name,
                            Answer::Skipped {
                                reason: "its quote expired before it could be used".into(),
                            },
                        ));
                        continue;
                    }
                    asked.push((
                        name,
                        Answer::Quoted {
                            amount_out: q.amount_out.to_string(),
                            gas: q.gas,
                        },
                    ));
                    taken.push(q);
                    if self.choose == Choose::First {
                        break;
                    }
                }
                // No route for this pair: skipped, still healthy.
                Err(VenueError::Rejected(why)) => {
                    asked.push((name, Answer::Skipped { reason: why }));
                }
                Err(e) => {
                    let why = e.to_string();
                    self.health()[i].down = Some((why.clone(), now + self.retry_after_ms));
                    tracing::warn!(chain = %self.chain, provider = %name, reason = %why, "swap provider unhealthy; next in priority order");
                    passing += 1;
                    asked.push((name, Answer::Skipped { reason: why }));
                }
            }
        }
        let net = |q: &Quote| match gas_price_in_out {
            Some(gp) => q
                .amount_out
                .saturating_sub(gp.saturating_mul(U256::from(q.gas))),
            None => q.amount_out,
        };
        // Best: the most out net of gas; ties go to the earlier in priority.
        let mut best: Option<Quote> = None;
        for q in taken {
            if best.as_ref().is_none_or(|b| net(&q) > net(b)) {
                best = Some(q);
            }
        }
        let Some(chosen) = best else {
            let why = asked
                .iter()
                .filter_map(|(n, a)| match a {
                    Answer::Skipped { reason } => Some(format!("{n}: {reason}")),
                    Answer::Quoted { .. } => None,
                })
                .collect::<Vec<_>>()
                .join("; ");
            let text = format!("no swap provider on {} takes it — {why}", self.chain);
            // A provider that may answer later: try again then; only when
            // every one said a definite no does the step fail.
            return Err(if passing > 0 {
                VenueError::Transient(text)
            } else {
                VenueError::Rejected(text)
            });
        };
        let selection = Selection {
            chosen: chosen.provider.clone(),
            how: chosen.how.clone(),
            asked,
        };
        Ok((chosen, selection))
    }

    /// One health line per provider, for the Venues panel.
    pub fn health_lines(&self, now: Timestamp) -> Vec<VenueHealth> {
        let h = self.health().clone();
        self.list
            .iter()
            .zip(h)
            .map(|(p, h)| {
                let (ok, detail) = match &h.down {
                    Some((why, until)) if now < *until => (
                        false,
                        format!(
                            "unhealthy: {why} (asked again in {}s)",
                            (until - now).div_ceil(1000)
                        ),
                    ),
                    Some((why, _)) => (false, format!("unhealthy: {why} (asked again next swap)")),
                    None => (true, "swap provider".to_string()),
                };
                VenueHealth {
                    name: format!("{} swap {}", self.chain, p.name()),
                    ok,
                    head: None,
                    latency_ms: None,
                    last_seen: h.last_ok,
                    detail,
                }
            })
            .collect()
    }
}
