//! The EVM chains, read through the venue's own [`ChainClient`]: the loop's
//! Hemi and Ethereum (devnet mode) and the equity hedge's orderbook chain.
//! Per chain: the RPC answers (and how fast), its chain id is the
//! configured one, the WebSocket answers too, every configured address
//! (the swap providers' contracts among them) carries its EIP-55 checksum
//! and has code, an aggregator's API key is in the environment (never
//! shown), every token's `decimals()` is
//! the token table's, the wallet has gas, and the head block's timestamp
//! against this machine's clock. Only reads: `eth_chainId`,
//! `eth_blockNumber`, `eth_getBlockByNumber`, `eth_getCode`, `eth_call`,
//! `eth_getBalance`.

use super::{Check, Env, Group, clock};
use crate::config::{Config, EvmChainConfig, Secret, Secrets, checksummed};
use crate::model::{Chain, Clock, Mode, TokenId, format_units};
use crate::redact;
use crate::venue::VenueError;
use crate::venue::evm::chain::Endpoint;
use crate::venue::evm::{ChainClient, EvmError, Wallet, erc20};
use alloy::primitives::Address;
use std::str::FromStr;
use std::time::Duration;

/// An answer slower than this is a warning: every pass makes many reads.
pub const SLOW_ANSWER: Duration = Duration::from_secs(1);

/// What to look at on one chain.
struct ChainPlan {
    /// "Hemi", "Ethereum", "orderbook chain".
    label: String,
    endpoint: Endpoint,
    rpc_key: String,
    /// Config key and address of every contract that must have code.
    contracts: Vec<(String, Address)>,
    /// Config key, token and address of every token-table entry.
    tokens: Vec<(String, TokenId, Address)>,
    /// Addresses the config holds as text (checksums checked here).
    texts: Vec<(String, String)>,
    /// Addresses the config parser already held to their checksum.
    checked_by_config: usize,
    wallet: Option<Address>,
    timeout: Duration,
}

pub async fn checks(config: &Config, env: &Env, clock: &dyn Clock) -> Vec<Check> {
    // Each chain is a plan to run, or the reason it is not checked; the
    // plans run at once, the results are shown in this order.
    let mut slots: Vec<Result<ChainPlan, Check>> = Vec::new();
    match (&config.evm, config.mode) {
        (Some(evm), Mode::Devnet | Mode::Live) => {
            let timeout = Duration::from_millis(evm.rpc_timeout_ms);
            let wallet = wallet(env);
            for (chain, cfg) in [(Chain::Hemi, &evm.hemi), (Chain::Ethereum, &evm.ethereum)] {
                slots.push(Ok(loop_plan(chain, cfg, wallet, timeout)));
            }
        }
        _ => slots.push(Err(Check::skip(
            Group::Evm,
            "loop chains",
            "no [evm]: the cross-chain loop has no chains to check",
        ))),
    }
    let mut keys = Vec::new();
    if let (Some(evm), Mode::Devnet | Mode::Live) = (&config.evm, config.mode) {
        keys = aggregator_keys(&[&evm.hemi, &evm.ethereum], env);
    }
    slots.push(
        hedge_plan(config)
            .ok_or_else(|| Check::skip(Group::Evm, "orderbook chain", "the equity hedge is off")),
    );
    let runs = slots.into_iter().map(|slot| async move {
        match slot {
            // Each read has its timeout; the budget bounds a node that
            // answers every read just in time.
            Ok(plan) => {
                let name = format!("{} checks", plan.label);
                super::within_budget(Group::Evm, &name, chain(plan, clock)).await
            }
            Err(skipped) => vec![skipped],
        }
    });
    let mut out: Vec<Check> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    out.extend(keys);
    out
}

/// An aggregator that needs an API key has it in the environment (the
/// value is never shown); 1delta's is optional, and said so.
fn aggregator_keys(chains: &[&EvmChainConfig], env: &Env) -> Vec<Check> {
    chains
        .iter()
        .filter_map(|c| c.swap.zerox.as_ref())
        .map(|z| {
            let name = format!("{} API key", z.name);
            match env(&z.api_key_env).filter(|v| !v.trim().is_empty()) {
                Some(_) => Check::ok(Group::Evm, name, format!("{} set", z.api_key_env)),
                None => Check::fail(
                    Group::Evm,
                    name,
                    format!("{} is not set", z.api_key_env),
                    format!(
                        "export {} with your 0x API key in the engine's environment",
                        z.api_key_env
                    ),
                ),
            }
        })
        .chain(
            chains
                .iter()
                .filter_map(|c| c.swap.onedelta.as_ref())
                .map(|o| {
                    let name = format!("{} API key", o.name);
                    match env(&o.api_key_env).filter(|v| !v.trim().is_empty()) {
                        Some(_) => Check::ok(Group::Evm, name, format!("{} set", o.api_key_env)),
                        // Its API answers without one (evm.md §1.6.3).
                        None => Check::ok(
                            Group::Evm,
                            name,
                            format!("{} is not set: asked without a key", o.api_key_env),
                        ),
                    }
                }),
        )
        .collect()
}

/// The devnet wallet's address, when its secret is set and valid (the
/// wallet check itself is `local`'s).
fn wallet(env: &Env) -> Option<Address> {
    let secret = |name: &str| env(name).filter(|v| !v.trim().is_empty()).map(Secret::new);
    let secrets = Secrets {
        private_key: secret("ARBITRAGE_PRIVATE_KEY"),
        mnemonic: secret("ARBITRAGE_MNEMONIC"),
        webhook_url: None,
    };
    Wallet::from_secrets(&secrets).ok().map(|w| w.address())
}

fn loop_plan(
    chain: Chain,
    cfg: &EvmChainConfig,
    wallet: Option<Address>,
    timeout: Duration,
) -> ChainPlan {
    let key = match chain {
        Chain::Hemi => "evm.hemi",
        Chain::Ethereum => "evm.ethereum",
    };
    let mut contracts = cfg.contracts(key);
    let tokens: Vec<_> = cfg
        .tokens
        .iter()
        .map(|(t, a)| (format!("{key}.tokens.{}", t.symbol()), *t, *a))
        .collect();
    contracts.extend(tokens.iter().map(|(k, _, a)| (k.clone(), *a)));
    ChainPlan {
        label: chain.name().to_string(),
        endpoint: Endpoint::of_loop(chain, cfg),
        rpc_key: format!("{key}.rpc"),
        checked_by_config: contracts.len(),
        contracts,
        tokens,
        texts: Vec::new(),
        wallet,
        timeout,
    }
}

/// The hedge's orderbook chain: its orderbook and USDC must have code,
/// USDC 6 decimals; the owner is whoever places the orders (no code needed).
fn hedge_plan(config: &Config) -> Option<ChainPlan> {
    let h = &config.equity_hedge;
    if !h.enabled_in(config.mode) || config.mode == Mode::Paper {
        return None;
    }
    let rpc_url = h.rpc_url.clone()?;
    let parsed = |text: &str| Address::from_str(text.trim()).ok();
    let mut contracts = Vec::new();
    let mut tokens = Vec::new();
    if let Some(a) = parsed(&h.orderbook) {
        contracts.push(("equity_hedge.orderbook".to_string(), a));
    }
    if let Some(a) = parsed(&h.usdc) {
        contracts.push(("equity_hedge.usdc".to_string(), a));
        tokens.push(("equity_hedge.usdc".to_string(), TokenId::Usdc, a));
    }
    let timeout = Duration::from_millis(config.evm.as_ref().map_or(10_000, |e| e.rpc_timeout_ms));
    Some(ChainPlan {
        label: "orderbook chain".into(),
        endpoint: Endpoint {
            name: "orderbook chain".into(),
            chain_id_key: "equity_hedge.chain_id".into(),
            chain_id: h.chain_id,
            rpc_url,
            ws_url: h.ws_url.clone(),
        },
        rpc_key: "equity_hedge.rpc".into(),
        contracts,
        tokens,
        texts: vec![
            ("equity_hedge.orderbook".into(), h.orderbook.clone()),
            ("equity_hedge.order_owner".into(), h.order_owner.clone()),
            ("equity_hedge.usdc".into(), h.usdc.clone()),
        ],
        checked_by_config: 0,
        wallet: None,
        timeout,
    })
}

async fn chain(plan: ChainPlan, clock: &dyn Clock) -> Vec<Check> {
    let label = plan.label.clone();
    let name = |what: &str| format!("{label} {what}");
    let mut checks = vec![addresses(&plan)];
    let rest = name("remaining checks");
    let http_only = Endpoint {
        ws_url: None,
        ..plan.endpoint.clone()
    };
    let client = match ChainClient::connect_to(&http_only, plan.timeout).await {
        Ok(c) => c,
        Err(e @ EvmError::WrongChain { .. }) => {
            checks.push(Check::fail(
                Group::Evm,
                name("chain id"),
                e.to_string(),
                format!(
                    "point {} at a node of chain {}, or correct {}",
                    plan.rpc_key, plan.endpoint.chain_id, plan.endpoint.chain_id_key
                ),
            ));
            checks.push(Check::skip(
                Group::Evm,
                rest,
                format!("not checked: {} is another chain", plan.rpc_key),
            ));
            return checks;
        }
        Err(e) => {
            checks.push(Check::fail(
                Group::Evm,
                name("RPC"),
                e.to_string(),
                format!(
                    "check {}: is the node up, and does this machine reach it?",
                    plan.rpc_key
                ),
            ));
            checks.push(Check::skip(
                Group::Evm,
                rest,
                format!("not checked: {} does not answer", plan.rpc_key),
            ));
            return checks;
        }
    };
    checks.push(Check::ok(
        Group::Evm,
        name("chain id"),
        format!(
            "{} answers chain id {}, as {} says",
            client.url, client.chain_id, plan.endpoint.chain_id_key
        ),
    ));
    match client.ping().await {
        Ok(p) => checks.push(latency(
            name("RPC"),
            &client.url,
            p.latency,
            p.head,
            &format!(
                "a node nearer this machine, or a faster provider, for {}",
                plan.rpc_key
            ),
        )),
        Err(e) => {
            checks.push(Check::fail(
                Group::Evm,
                name("RPC"),
                e.to_string(),
                format!(
                    "the node at {} is slow or stuck: use another endpoint (evm.rpc_timeout bounds every read)",
                    plan.rpc_key
                ),
            ));
            checks.push(Check::skip(
                Group::Evm,
                rest,
                format!(
                    "not checked: {} did not answer eth_blockNumber",
                    plan.rpc_key
                ),
            ));
            return checks;
        }
    }
    checks.push(websocket(&plan).await);
    checks.push(head_clock(&client, &label, clock).await);
    checks.push(code(&client, &plan).await);
    if !plan.tokens.is_empty() {
        checks.push(decimals(&client, &plan).await);
    }
    if let Some(wallet) = plan.wallet {
        checks.push(gas(&client, &label, wallet).await);
    }
    checks
}

fn latency(name: String, url: &str, took: Duration, head: u64, fix: &str) -> Check {
    let detail = format!("{url} answers in {} ms (head #{head})", took.as_millis());
    if took > SLOW_ANSWER {
        Check::warn(Group::Evm, name, format!("{detail}: slow"), fix)
    } else {
        Check::ok(Group::Evm, name, detail)
    }
}

/// The WebSocket (heads and logs stream over it when configured): it must
/// be the same chain and answer.
async fn websocket(plan: &ChainPlan) -> Check {
    let name = format!("{} WebSocket", plan.label);
    let Some(ws) = &plan.endpoint.ws_url else {
        return Check::skip(
            Group::Evm,
            name,
            "no WebSocket configured: heads are polled over HTTP",
        );
    };
    let ws_key = plan.rpc_key.replace(".rpc", ".ws");
    let fix = format!("check {ws_key}, or remove it to poll over HTTP");
    let shown = redact::url(ws);
    match ChainClient::connect_to(&plan.endpoint, plan.timeout).await {
        Err(e) => Check::fail(Group::Evm, name, e.to_string(), fix),
        Ok(c) => match c.ping().await {
            Ok(p) => match p.ws_trouble {
                Some(why) => Check::fail(Group::Evm, name, format!("{shown}: {why}"), fix),
                None => latency(name, &shown, p.latency, p.head, &fix),
            },
            Err(e) => Check::fail(Group::Evm, name, e.to_string(), fix),
        },
    }
}

async fn head_clock(client: &ChainClient, label: &str, clock: &dyn Clock) -> Check {
    let name = format!("{label} clock");
    let read = async {
        let head = client.head().await?;
        Ok::<_, VenueError>((head, client.block(head).await?))
    };
    match read.await {
        Ok((head, Some((_, secs)))) => clock::skew(
            label,
            &format!("the head block #{head}"),
            clock.now(),
            secs.saturating_mul(1000),
        ),
        Ok((head, None)) => Check::fail(
            Group::Clock,
            name,
            format!("the node does not give its own head block #{head}"),
            "the node is inconsistent: use another endpoint",
        ),
        Err(e) => Check::fail(
            Group::Clock,
            name,
            e.to_string(),
            "the node did not give its head block: use another endpoint",
        ),
    }
}

/// Every address the config holds carries its EIP-55 checksum: a typo in
/// one letter's case is caught, and all-one-case carries no checksum.
fn addresses(plan: &ChainPlan) -> Check {
    let name = format!("{} addresses", plan.label);
    let mut wrong = Vec::new();
    let mut unchecked = Vec::new();
    for (key, text) in &plan.texts {
        let hex = text.trim().trim_start_matches("0x");
        let one_case = !hex.bytes().any(|b| b.is_ascii_uppercase())
            || !hex.bytes().any(|b| b.is_ascii_lowercase());
        match checksummed(key, text) {
            Ok(_) => {}
            Err(_) if one_case && Address::from_str(text.trim()).is_ok() => {
                unchecked.push(key.clone())
            }
            Err(problem) => wrong.push(format!("{key}: {problem}")),
        }
    }
    let total = plan.checked_by_config + plan.texts.len();
    if !wrong.is_empty() {
        return Check::fail(
            Group::Evm,
            name,
            wrong.join("; "),
            "write each address in its checksummed form, after checking it is the one you meant",
        );
    }
    if !unchecked.is_empty() {
        return Check::warn(
            Group::Evm,
            name,
            format!(
                "written in one case, so without a checksum: {}",
                unchecked.join(", ")
            ),
            "write them in their EIP-55 form so that a typo is caught",
        );
    }
    Check::ok(
        Group::Evm,
        name,
        format!("{total} addresses carry their EIP-55 checksum"),
    )
}

async fn code(client: &ChainClient, plan: &ChainPlan) -> Check {
    let name = format!("{} code", plan.label);
    let mut missing = Vec::new();
    for (key, address) in &plan.contracts {
        match client.code(*address).await {
            Ok(code) if code.is_empty() => missing.push(format!("{key} {address}: no code")),
            Ok(_) => {}
            Err(e) => {
                // The node failed, not the address: the next read would too.
                missing.push(format!("{key} {address}: {e} (the rest not read)"));
                break;
            }
        }
    }
    if missing.is_empty() {
        Check::ok(
            Group::Evm,
            name,
            format!("{} contracts have code", plan.contracts.len()),
        )
    } else {
        Check::fail(
            Group::Evm,
            name,
            missing.join("; "),
            format!(
                "check each address is deployed on chain {} (a wrong address, or the RPC is another network)",
                plan.endpoint.chain_id
            ),
        )
    }
}

async fn decimals(client: &ChainClient, plan: &ChainPlan) -> Check {
    let name = format!("{} token decimals", plan.label);
    let mut wrong = Vec::new();
    for (key, token, address) in &plan.tokens {
        match erc20::decimals(client, *address).await {
            Ok(found) if found == token.decimals() => {}
            Ok(found) => wrong.push(format!(
                "{key} {address} has {found} decimals; the token table says {token} has {}",
                token.decimals()
            )),
            Err(e @ VenueError::Rejected(_)) => {
                wrong.push(format!("{key} {address} does not answer decimals(): {e}"))
            }
            Err(e) => {
                // The node failed, not the token: the next read would too.
                wrong.push(format!("{key} {address}: {e} (the rest not read)"));
                break;
            }
        }
    }
    if wrong.is_empty() {
        Check::ok(
            Group::Evm,
            name,
            format!(
                "{} tokens have the token table's decimals",
                plan.tokens.len()
            ),
        )
    } else {
        Check::fail(
            Group::Evm,
            name,
            wrong.join("; "),
            "point each key at that token's contract (the token table, src/model/token.rs, holds every token's decimals)",
        )
    }
}

async fn gas(client: &ChainClient, label: &str, wallet: Address) -> Check {
    let name = format!("{label} wallet gas");
    match client.native_balance(wallet).await {
        Ok(wei) if wei.is_zero() => Check::warn(
            Group::Evm,
            name,
            format!("the wallet {wallet} holds no ETH on {label}: no transaction can pay its gas"),
            format!("send the wallet some ETH on {label}"),
        ),
        Ok(wei) => Check::ok(
            Group::Evm,
            name,
            match u128::try_from(wei) {
                Ok(w) => format!("the wallet {wallet} holds {} ETH", format_units(w, 18)),
                Err(_) => format!("the wallet {wallet} holds {wei} wei"),
            },
        ),
        Err(e) => Check::fail(
            Group::Evm,
            name,
            e.to_string(),
            "the node did not answer eth_getBalance: use another endpoint",
        ),
    }
}
