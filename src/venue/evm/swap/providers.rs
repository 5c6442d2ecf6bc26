//! One chain's swap providers together: built from the chain's config
//! (each checked on the chain at start), asked in priority order (or all,
//! for the best) for a swap, each one's health kept — a provider that
//! failed rests with its reason until its retry time — and the reference
//! provider whose quotes price detection (seed 003 §7.1).

use super::*;
use crate::config::EvmChainConfig;
use crate::model::{Chain, Timestamp};
use crate::venue::evm::chain::ChainClient;
use crate::venue::{VenueError, VenueHealth};
use alloy::primitives::{Address, U256};
use std::sync::Mutex;

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
    if let Some(at) = sc.onedelta.as_ref().filter(|o| o.name == name) {
        // Its key is optional (evm.md §1.6.3): sent only when set.
        let key = env(&at.api_key_env)
            .filter(|k| !k.trim().is_empty())
            .map(crate::model::Secret::new);
        tracing::warn!(chain = %chain, provider = %name, "1delta's API is unverified: its transactions are run as the wallet before any is taken");
        return Ok(Provider::OneDelta(onedelta::OneDeltaApi::open(
            at.clone(),
            key,
            c.chain_id,
        )?));
    }
    if let Some(at) = sc.cowswap.as_ref().filter(|z| z.name == name) {
        return Ok(Provider::Cow(cow::CowApi::open(at.clone(), c.chain_id)?));
    }
    Err(format!("no swap provider is configured as {name:?}"))
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
                && !p.spends_through(s)
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
            if avoid.is_some_and(|a| p.spends_through(a)) {
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
