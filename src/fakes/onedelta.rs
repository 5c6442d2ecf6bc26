//! A hostile 1delta spot-swap API on 127.0.0.1, in the shape evm.md §1.6.3
//! records (UNVERIFIED upstream, so exactly that shape):
//! `GET /v1/actions/swap/spot?chainId&tokenIn&tokenOut&amount&slippage[&account]`,
//! optional `x-api-key`, answering `{success, data, actions, error{code,message}}`.
//! Without `account` it quotes (`actions: null`; `data.quotes[]` with
//! `tradeOutput` in the token's own units, as a decimal number, which a
//! reader must not take for base units); with it, `actions.permissions`
//! (an approve when the allowance is short), `actions.transactions` (none)
//! and `actions.alternatives` (the swap, best first): real calldata for the
//! devnet chain's Uniswap V2 router, priced off its `getAmountsOut`, that
//! executes there.
//!
//! Faults, scripted or drawn from a seed: 429, 5xx, the connection dropped,
//! a malformed or cut body, a slow answer; "down" (every call 503); and
//! lies — calldata paying someone else, taking twice the amount, addressed
//! to another contract, a permission for another spender, a set-up
//! transaction asked for first, a floor the pool cannot meet, no route. A
//! quote is a read: nothing here acts, so every fault is "before" in the
//! fault-pattern's terms; requests are counted.

use crate::fakes::faults::{Dice, Kind, Odds, PeerFault, Plan, Shows};
use crate::fakes::http::{Outcome, Request, Response, Server, carry_out, read_request};
use crate::fakes::lock;
use crate::venue::evm::abi::{IERC20, IUniswapV2Router02};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use serde_json::{Value, json};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const FAKE_API_KEY: &str = "1d-fake-key-90c1";
/// The plan's one route.
pub const SPOT: &str = "spot";

/// Where the fake prices and what its calldata calls.
#[derive(Debug, Clone)]
pub struct OneDeltaChain {
    pub rpc_url: String,
    pub chain_id: u64,
    /// A Uniswap V2 router: priced through, and the calldata's target.
    pub router: Address,
    /// The key it insists on; `None`: it takes calls without one.
    pub key: Option<String>,
}

/// What one request meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// This status with the envelope's error (429 with `Retry-After: 1`).
    Status(u16),
    Drop,
    Malformed,
    Truncated,
    Slow(u64),
    /// Calldata paying this address instead of the account.
    PaysTo(Address),
    /// Calldata selling twice the amount.
    TakesMore,
    /// The alternative addressed to this contract.
    SendsTo(Address),
    /// The permission approves this address.
    Spender(Address),
    /// A set-up transaction asked for before the swap.
    Setup,
    /// A floor above what the pool gives: the swap reverts.
    Unfillable,
    /// `success: false`, `NO_ROUTE`.
    NoRoute,
}

impl PeerFault for Fault {
    fn kind(&self) -> Kind {
        Kind::before(match self {
            Fault::Status(429) => Shows::TooManyRequests,
            Fault::Status(_) => Shows::ServerError,
            Fault::Drop => Shows::NoAnswer,
            Fault::Malformed => Shows::Malformed,
            Fault::Truncated => Shows::Cut,
            Fault::Slow(_) => Shows::Late,
            _ => Shows::Malformed,
        })
    }
}

impl Fault {
    /// The wire faults a seed draws from (lies are scripted).
    pub fn wire() -> Vec<Fault> {
        vec![
            Fault::Status(429),
            Fault::Status(500),
            Fault::Status(503),
            Fault::Drop,
            Fault::Malformed,
            Fault::Truncated,
        ]
    }
}

struct State {
    plan: Plan<Fault>,
    down: bool,
}

/// The fake; dropping it stops the server.
pub struct FakeOneDelta {
    server: Server,
    state: Arc<Mutex<State>>,
}

fn refusal(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({"success": false, "data": null, "actions": null,
                "error": {"code": code, "message": message}}),
    )
}

impl FakeOneDelta {
    pub async fn start(chain: OneDeltaChain) -> std::io::Result<FakeOneDelta> {
        let url = chain
            .rpc_url
            .parse()
            .map_err(|_| std::io::Error::other("bad rpc url"))?;
        let rpc = ProviderBuilder::new().connect_http(url).erased();
        let state = Arc::new(Mutex::new(State {
            plan: Plan::default(),
            down: false,
        }));
        let (s, chain) = (state.clone(), Arc::new(chain));
        let server = Server::start(move |mut sock| {
            let (s, chain, rpc) = (s.clone(), chain.clone(), rpc.clone());
            async move {
                let Some(req) = read_request(&mut sock).await else {
                    return;
                };
                let outcome = answer(&s, &chain, &rpc, &req).await;
                carry_out(sock, outcome).await;
            }
        })
        .await?;
        Ok(FakeOneDelta { server, state })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The next request meets `fault`.
    pub fn next(&self, fault: Fault) {
        lock(&self.state).plan.next(SPOT, fault);
    }

    /// Seeded wire faults from now on.
    pub fn seed(&self, seed: u64, odds: Odds) {
        lock(&self.state)
            .plan
            .seed(Dice::new(seed, odds, Fault::wire()));
    }

    /// Every call answers 503 while down.
    pub fn set_down(&self, down: bool) {
        lock(&self.state).down = down;
    }

    /// Requests so far.
    pub fn calls(&self) -> u64 {
        lock(&self.state).plan.calls(SPOT)
    }

    /// Every fault met so far.
    pub fn met(&self) -> Vec<Fault> {
        lock(&self.state)
            .plan
            .met()
            .iter()
            .map(|m| m.fault)
            .collect()
    }
}

async fn view<C: SolCall>(rpc: &DynProvider, to: Address, call: C) -> Option<C::Return> {
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_input(Bytes::from(call.abi_encode()));
    let out = rpc.call(tx).await.ok()?;
    C::abi_decode_returns(&out).ok()
}

/// `amount` base units of a token with `decimals`, as a JSON number in the
/// token's own units (how the third-party client reads `tradeOutput`).
fn in_units(amount: U256, decimals: u8) -> Value {
    let text = amount.to_string();
    let d = decimals as usize;
    let (int, frac) = if text.len() > d {
        text.split_at(text.len() - d)
    } else {
        ("0", text.as_str())
    };
    let frac = format!("{frac:0>d$}");
    let n: f64 = format!("{int}.{frac}").parse().unwrap_or(0.0);
    json!(n)
}

fn tx(to: Address, data: Vec<u8>, description: &str) -> Value {
    json!({"to": to.to_string(), "data": Bytes::from(data).to_string(), "value": "0",
           "description": description})
}

async fn answer(
    state: &Mutex<State>,
    chain: &OneDeltaChain,
    rpc: &DynProvider,
    req: &Request,
) -> Outcome {
    if req.path != "/v1/actions/swap/spot" {
        return refusal(404, "NOT_FOUND", "no such route").now();
    }
    if req.method != "GET" {
        return refusal(405, "METHOD_NOT_ALLOWED", "GET only").now();
    }
    let fault = {
        let mut s = lock(state);
        let n = s.plan.arrive(SPOT);
        if s.down {
            return refusal(503, "UNAVAILABLE", "down").now();
        }
        s.plan.decide(SPOT, n, None)
    };
    match fault {
        Some(Fault::Status(429)) => {
            return refusal(429, "RATE_LIMITED", "Too many requests")
                .with_retry_after(Some(1))
                .now();
        }
        Some(Fault::Status(code)) => return refusal(code, "INTERNAL", "upstream").now(),
        Some(Fault::Drop) => return Outcome::Drop,
        Some(Fault::Malformed) => return Response::raw_json(200, "<html>502</html>").now(),
        _ => {}
    }
    if let Some(key) = &chain.key
        && req.header("x-api-key") != Some(key.as_str())
    {
        return refusal(401, "UNAUTHORIZED", "invalid api key").now();
    }
    let q: std::collections::HashMap<String, String> = req.query_pairs().into_iter().collect();
    let address = |k: &str| q.get(k).and_then(|v| Address::from_str(v).ok());
    let invalid = |field: &str| refusal(400, "INVALID_PARAMS", &format!("{field} is invalid"));
    let Some(chain_id) = q.get("chainId").and_then(|v| v.parse::<u64>().ok()) else {
        return invalid("chainId").now();
    };
    if chain_id != chain.chain_id {
        return refusal(400, "UNSUPPORTED_CHAIN", "chain not supported").now();
    }
    let (Some(token_in), Some(token_out)) = (address("tokenIn"), address("tokenOut")) else {
        return invalid("tokenIn/tokenOut").now();
    };
    let Some(amount) = q
        .get("amount")
        .and_then(|v| U256::from_str_radix(v, 10).ok())
        .filter(|a| !a.is_zero())
    else {
        return invalid("amount").now();
    };
    let slippage = match q.get("slippage").map(|v| v.parse::<u64>()) {
        None => 30,
        Some(Ok(b)) if b <= 10_000 => b,
        Some(_) => return invalid("slippage").now(),
    };
    let account = match q.get("account") {
        None => None,
        Some(a) => match Address::from_str(a) {
            Ok(a) => Some(a),
            Err(_) => return invalid("account").now(),
        },
    };
    if fault == Some(Fault::NoRoute) {
        return refusal(200, "NO_ROUTE", "no route found").now();
    }
    let path = vec![token_in, token_out];
    let out = view(
        rpc,
        chain.router,
        IUniswapV2Router02::getAmountsOutCall {
            amountIn: amount,
            path: path.clone(),
        },
    )
    .await
    .and_then(|a| a.last().copied())
    .filter(|o| !o.is_zero());
    let Some(out) = out else {
        return refusal(200, "NO_ROUTE", "no route found").now();
    };
    let dec_in = view(rpc, token_in, IERC20::decimalsCall {})
        .await
        .unwrap_or(18);
    let dec_out = view(rpc, token_out, IERC20::decimalsCall {})
        .await
        .unwrap_or(18);
    let mut v = json!({
        "success": true,
        "data": {
            "quotes": [{"aggregator": "UniswapV2", "tradeInput": in_units(amount, dec_in),
                        "tradeOutput": in_units(out, dec_out)}],
            "currencyIn": {"address": token_in.to_string(), "decimals": dec_in},
            "currencyOut": {"address": token_out.to_string(), "decimals": dec_out},
        },
        "actions": null,
    });
    if let Some(account) = account {
        let spender = match fault {
            Some(Fault::Spender(s)) => s,
            _ => chain.router,
        };
        let allowance = view(
            rpc,
            token_in,
            IERC20::allowanceCall {
                owner: account,
                spender: chain.router,
            },
        )
        .await
        .unwrap_or_default();
        let mut permissions = Vec::new();
        if allowance < amount || matches!(fault, Some(Fault::Spender(_))) {
            let data = IERC20::approveCall {
                spender,
                value: amount,
            }
            .abi_encode();
            permissions.push(tx(token_in, data, "approve"));
        }
        let floor = match fault {
            Some(Fault::Unfillable) => out * U256::from(2u64),
            _ => out * U256::from(10_000 - slippage) / U256::from(10_000u64),
        };
        let recipient = match fault {
            Some(Fault::PaysTo(a)) => a,
            _ => account,
        };
        let sold = match fault {
            Some(Fault::TakesMore) => amount * U256::from(2u64),
            _ => amount,
        };
        let now = rpc
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .ok()
            .flatten()
            .map(|b| b.header.timestamp)
            .unwrap_or_default();
        let swap = IUniswapV2Router02::swapExactTokensForTokensCall {
            amountIn: sold,
            amountOutMin: floor,
            path,
            to: recipient,
            deadline: U256::from(now + 600),
        }
        .abi_encode();
        let to = match fault {
            Some(Fault::SendsTo(a)) => a,
            _ => chain.router,
        };
        let mut swap = tx(to, swap, "swap");
        swap["spender"] = json!(spender.to_string());
        let setup = match fault {
            Some(Fault::Setup) => vec![tx(chain.router, vec![0xde, 0xad], "set-up")],
            _ => Vec::new(),
        };
        v["actions"] = json!({
            "permissions": permissions,
            "transactions": setup,
            "alternatives": [swap],
        });
    }
    let r = Response::json(200, &v);
    match fault {
        Some(Fault::Truncated) => r.cut().now(),
        Some(Fault::Slow(ms)) => Outcome::Respond {
            response: r,
            delay: Some(Duration::from_millis(ms)),
        },
        _ => r.now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fake(key: Option<&str>) -> FakeOneDelta {
        // No chain behind it: only the paths that answer before pricing.
        FakeOneDelta::start(OneDeltaChain {
            rpc_url: "http://127.0.0.1:9".into(),
            chain_id: 43111,
            router: Address::repeat_byte(1),
            key: key.map(str::to_string),
        })
        .await
        .unwrap()
    }

    async fn get(url: &str, key: Option<&str>) -> (u16, Option<String>, String) {
        let mut r = reqwest::Client::new().get(url);
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        match r.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                (status, retry, resp.text().await.unwrap_or_default())
            }
            Err(_) => (0, None, String::new()),
        }
    }

    #[tokio::test]
    async fn refusals_come_in_the_envelope_and_requests_are_counted() {
        crate::net::ensure_crypto_provider();
        let f = fake(Some(FAKE_API_KEY)).await;
        let base = format!("{}/v1/actions/swap/spot", f.url());
        let q = "?chainId=43111&tokenIn=0x0000000000000000000000000000000000000005&tokenOut=0x0000000000000000000000000000000000000006&amount=100&slippage=50";
        let (status, _, body) = get(&format!("{base}{q}"), None).await;
        assert_eq!(status, 401, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["success"], json!(false));
        assert_eq!(v["error"]["code"], json!("UNAUTHORIZED"));
        let (status, _, body) = get(
            &format!("{base}?chainId=43111&amount=1"),
            Some(FAKE_API_KEY),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            body.contains("INVALID_PARAMS") && body.contains("tokenIn"),
            "{body}"
        );
        let (status, _, body) = get(
            &format!("{base}{}", q.replace("43111", "1")),
            Some(FAKE_API_KEY),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body.contains("UNSUPPORTED_CHAIN"), "{body}");
        f.next(Fault::NoRoute);
        let (status, _, body) = get(&format!("{base}{q}"), Some(FAKE_API_KEY)).await;
        assert_eq!(status, 200);
        assert!(body.contains("NO_ROUTE"), "{body}");
        f.next(Fault::Status(429));
        let (status, retry, _) = get(&format!("{base}{q}"), Some(FAKE_API_KEY)).await;
        assert_eq!((status, retry.as_deref()), (429, Some("1")));
        f.next(Fault::Malformed);
        let (status, _, body) = get(&format!("{base}{q}"), Some(FAKE_API_KEY)).await;
        assert_eq!(status, 200);
        assert!(serde_json::from_str::<Value>(&body).is_err());
        f.next(Fault::Drop);
        assert_eq!(get(&format!("{base}{q}"), Some(FAKE_API_KEY)).await.0, 0);
        f.set_down(true);
        assert_eq!(get(&format!("{base}{q}"), Some(FAKE_API_KEY)).await.0, 503);
        assert_eq!(f.calls(), 8);
        assert_eq!(
            f.met(),
            vec![
                Fault::NoRoute,
                Fault::Status(429),
                Fault::Malformed,
                Fault::Drop
            ]
        );
    }

    #[test]
    fn amounts_in_units_are_decimal_numbers_not_base_units() {
        assert_eq!(in_units(U256::from(1_500_000u64), 6), json!(1.5));
        assert_eq!(in_units(U256::from(5u64), 8), json!(0.00000005));
    }

    #[test]
    fn seeded_faults_are_the_wire_ones() {
        let mut d = Dice::new(7, Odds::OneIn(1), Fault::wire());
        for _ in 0..20 {
            let f = d.roll(SPOT).unwrap();
            assert!(!f.kind().acted, "{f:?}");
            assert!(Fault::wire().contains(&f));
        }
    }
}
