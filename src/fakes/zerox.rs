//! A hostile 0x Swap API v2 on 127.0.0.1, AllowanceHolder flow only
//! (evm.md §2.5): `GET /swap/allowance-holder/price` and `/quote` with the
//! real query parameters, headers (`0x-api-key`, `0x-version: v2`) and
//! answer shape, priced honestly off the devnet chain (its Uniswap V2
//! router's `getAmountsOut`), the firm quote carrying real calldata for the
//! devnet's AllowanceHolder and Settler (`devnet::ZeroExContracts`) that
//! executes there. Errors in 0x's shape `{name, message, data}`: 401 for a
//! missing or wrong key, 400 `INPUT_INVALID` naming the field, and
//! `liquidityAvailable: false` where the pool cannot take it.
//!
//! Faults, scripted per route or drawn from a seed: 429 (with
//! `Retry-After`), 5xx, the connection dropped, a malformed or cut body, a
//! slow answer; "down" (every call 503); and lies — a quote whose calldata
//! pays someone else, sells another amount, is addressed elsewhere, names
//! another spender, or whose floor differs from its `minBuyAmount`. A quote
//! is a read: nothing here acts, so every fault is "before" in the
//! fault-pattern's terms; requests are counted per route.

use crate::fakes::faults::{Dice, Kind, Odds, PeerFault, Plan, Shows};
use crate::fakes::http::{Outcome, Request, Response, Server, carry_out, read_request};
use crate::fakes::lock;
use crate::venue::evm::abi::{
    IAllowanceHolder, IDevSettlerActions, IERC20, ISettler, IUniswapV2Router02,
};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, address};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use serde_json::{Value, json};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const FAKE_API_KEY: &str = "zx-fake-key-7f3a";
/// How 0x spells native ETH.
const NATIVE: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");

/// Where the fake prices and what its calldata calls.
#[derive(Debug, Clone)]
pub struct ZeroXChain {
    pub rpc_url: String,
    pub chain_id: u64,
    pub router: Address,
    pub weth: Address,
    pub allowance_holder: Address,
    pub settler: Address,
}

/// What one quote request meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// This status with 0x's error body (429 with `Retry-After: 1`).
    Status(u16),
    /// The connection closes without an answer.
    Drop,
    /// A 200 whose body is not JSON.
    Malformed,
    /// A 200 announced whole and cut halfway.
    Truncated,
    /// The right answer, this many ms late.
    Slow(u64),
    /// Calldata paying this address instead of the taker.
    PaysTo(Address),
    /// Calldata letting twice the amount be taken.
    TakesMore,
    /// `transaction.to` this address instead of the AllowanceHolder.
    SendsTo(Address),
    /// `allowanceTarget` and `issues.allowance.spender` this address.
    Spender(Address),
    /// The calldata's floor half the advertised `minBuyAmount`.
    LowFloor,
    /// A firm quote whose floor is above what the pool gives: it reverts.
    Unfillable,
}

impl PeerFault for Fault {
    /// A quote changes nothing: every fault is "before".
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

/// Plan names: the two routes.
pub const PRICE: &str = "price";
pub const QUOTE: &str = "quote";

struct State {
    plan: Plan<Fault>,
    down: bool,
}

/// The fake; dropping it stops the server.
pub struct FakeZeroX {
    server: Server,
    state: Arc<Mutex<State>>,
}

fn error(status: u16, name: &str, message: &str, data: Value) -> Response {
    Response::json(
        status,
        &json!({"name": name, "message": message, "data": data}),
    )
}

fn invalid(field: &str, reason: &str) -> Response {
    error(
        400,
        "INPUT_INVALID",
        "The input is invalid",
        json!({"details": [{"field": field, "reason": reason}]}),
    )
}

impl FakeZeroX {
    pub async fn start(chain: ZeroXChain) -> std::io::Result<FakeZeroX> {
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
        Ok(FakeZeroX { server, state })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The next request of `route` ([`PRICE`] or [`QUOTE`]) meets `fault`.
    pub fn next(&self, route: &str, fault: Fault) {
        lock(&self.state).plan.next(route, fault);
    }

    /// Seeded wire faults on both routes from now on.
    pub fn seed(&self, seed: u64, odds: Odds) {
        lock(&self.state)
            .plan
            .seed(Dice::new(seed, odds, Fault::wire()));
    }

    /// Every call answers 503 while down.
    pub fn set_down(&self, down: bool) {
        lock(&self.state).down = down;
    }

    /// Requests of `route` so far.
    pub fn calls(&self, route: &str) -> u64 {
        lock(&self.state).plan.calls(route)
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

async fn answer(
    state: &Mutex<State>,
    chain: &ZeroXChain,
    rpc: &DynProvider,
    req: &Request,
) -> Outcome {
    let route = match req.path.as_str() {
        "/swap/allowance-holder/price" => PRICE,
        "/swap/allowance-holder/quote" => QUOTE,
        _ => return error(404, "NOT_FOUND", "no such route", Value::Null).now(),
    };
    if req.method != "GET" {
        return error(405, "METHOD_NOT_ALLOWED", "GET only", Value::Null).now();
    }
    let fault = {
        let mut s = lock(state);
        let n = s.plan.arrive(route);
        if s.down {
            return error(503, "SERVICE_UNAVAILABLE", "down", Value::Null).now();
        }
        s.plan.decide(route, n, None)
    };
    match fault {
        Some(Fault::Status(429)) => {
            return error(429, "RATE_LIMITED", "Too many requests", Value::Null)
                .with_retry_after(Some(1))
                .now();
        }
        Some(Fault::Status(code)) => {
            return error(code, "INTERNAL_SERVER_ERROR", "upstream", Value::Null).now();
        }
        Some(Fault::Drop) => return Outcome::Drop,
        Some(Fault::Malformed) => {
            return Response::raw_json(200, "<html>bad gateway</html>").now();
        }
        _ => {}
    }
    if req.header("0x-api-key") != Some(FAKE_API_KEY) {
        return error(401, "UNAUTHORIZED", "Invalid API key", Value::Null).now();
    }
    if req.header("0x-version") != Some("v2") {
        return invalid("0x-version", "must be v2").now();
    }
    let q: std::collections::HashMap<String, String> = req.query_pairs().into_iter().collect();
    let address = |k: &str| q.get(k).and_then(|v| Address::from_str(v).ok());
    let Some(chain_id) = q.get("chainId").and_then(|v| v.parse::<u64>().ok()) else {
        return invalid("chainId", "required").now();
    };
    if chain_id != chain.chain_id {
        return invalid("chainId", "chain not supported").now();
    }
    let (Some(sell), Some(buy), Some(taker)) =
        (address("sellToken"), address("buyToken"), address("taker"))
    else {
        return invalid("sellToken/buyToken/taker", "required, an address").now();
    };
    if sell == buy {
        return invalid("buyToken", "must differ from sellToken").now();
    }
    let Some(sell_amount) = q
        .get("sellAmount")
        .and_then(|v| U256::from_str_radix(v, 10).ok())
        .filter(|a| !a.is_zero())
    else {
        return invalid("sellAmount", "required, a positive integer").now();
    };
    let slippage_bps = match q.get("slippageBps").map(|v| v.parse::<u64>()) {
        None => 100,
        Some(Ok(b)) if b <= 10_000 => b,
        Some(_) => return invalid("slippageBps", "0..=10000").now(),
    };
    let on_chain = |t: Address| if t == NATIVE { chain.weth } else { t };
    let path = vec![on_chain(sell), on_chain(buy)];
    let call = IUniswapV2Router02::getAmountsOutCall {
        amountIn: sell_amount,
        path: path.clone(),
    };
    let tx = TransactionRequest::default()
        .with_to(chain.router)
        .with_input(Bytes::from(call.abi_encode()));
    let buy_amount = match rpc.call(tx).await {
        Ok(out) => IUniswapV2Router02::getAmountsOutCall::abi_decode_returns(&out)
            .ok()
            .and_then(|a| a.last().copied()),
        Err(_) => None,
    };
    let block = rpc.get_block_number().await.unwrap_or_default();
    let zid = B256::from(U256::from(block) << 64 | sell_amount);
    let Some(buy_amount) = buy_amount.filter(|b| !b.is_zero()) else {
        return Response::json(
            200,
            &json!({"liquidityAvailable": false, "zid": zid.to_string()}),
        )
        .now();
    };
    let min_buy = buy_amount * U256::from(10_000 - slippage_bps) / U256::from(10_000u64);
    // The taker's allowance to the AllowanceHolder, as 0x reports it.
    let allowance = if sell == NATIVE {
        None
    } else {
        let call = IERC20::allowanceCall {
            owner: taker,
            spender: chain.allowance_holder,
        };
        let tx = TransactionRequest::default()
            .with_to(sell)
            .with_input(Bytes::from(call.abi_encode()));
        rpc.call(tx)
            .await
            .ok()
            .and_then(|out| IERC20::allowanceCall::abi_decode_returns(&out).ok())
            .filter(|a| *a < sell_amount)
    };
    let mut spender = chain.allowance_holder;
    if let Some(Fault::Spender(s)) = fault {
        spender = s;
    }
    let mut v = json!({
        "liquidityAvailable": true,
        "chainId": chain.chain_id,
        "blockNumber": block.to_string(),
        "buyToken": buy.to_string(),
        "sellToken": sell.to_string(),
        "buyAmount": buy_amount.to_string(),
        "minBuyAmount": min_buy.to_string(),
        "sellAmount": sell_amount.to_string(),
        "gas": "250000",
        "gasPrice": "1000000000",
        "totalNetworkFee": "250000000000000",
        "allowanceTarget": if sell == NATIVE { Value::Null } else { json!(spender.to_string()) },
        "fees": {"integratorFee": null, "zeroExFee": null, "gasFee": null},
        "issues": {
            "allowance": allowance.map(|a| json!({"actual": a.to_string(), "spender": spender.to_string()})),
            "balance": null,
            "simulationIncomplete": false,
            "invalidSourcesPassed": [],
        },
        "route": {"fills": [{"from": sell.to_string(), "to": buy.to_string(), "source": "Uniswap_V2", "proportionBps": "10000"}]},
        "zid": zid.to_string(),
    });
    if route == QUOTE {
        let recipient = match fault {
            Some(Fault::PaysTo(a)) => a,
            _ => taker,
        };
        let floor = match fault {
            Some(Fault::LowFloor) => min_buy / U256::from(2u64),
            Some(Fault::Unfillable) => buy_amount * U256::from(2u64),
            _ => min_buy,
        };
        if fault == Some(Fault::Unfillable) {
            v["minBuyAmount"] = json!(floor.to_string());
            v["buyAmount"] = json!(floor.to_string());
        }
        let action = IDevSettlerActions::UNISWAPV2Call {
            sellToken: sell,
            amountIn: sell_amount,
            path,
        }
        .abi_encode();
        let settle = ISettler::executeCall {
            slippage: ISettler::AllowedSlippage {
                recipient,
                buyToken: buy,
                minAmountOut: floor,
            },
            actions: vec![action.into()],
            zid,
        }
        .abi_encode();
        let taken = match fault {
            Some(Fault::TakesMore) => sell_amount * U256::from(2u64),
            _ => sell_amount,
        };
        let exec = IAllowanceHolder::execCall {
            operator: chain.settler,
            token: sell,
            amount: taken,
            target: chain.settler,
            data: settle.into(),
        }
        .abi_encode();
        let to = match fault {
            Some(Fault::SendsTo(a)) => a,
            _ => chain.allowance_holder,
        };
        let value = if sell == NATIVE {
            sell_amount
        } else {
            U256::ZERO
        };
        v["transaction"] = json!({
            "to": to.to_string(),
            "data": Bytes::from(exec).to_string(),
            "gas": "250000",
            "gasPrice": "1000000000",
            "value": value.to_string(),
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

    async fn fake() -> FakeZeroX {
        // No chain behind it: only the paths that answer before pricing.
        FakeZeroX::start(ZeroXChain {
            rpc_url: "http://127.0.0.1:9".into(),
            chain_id: 1,
            router: Address::repeat_byte(1),
            weth: Address::repeat_byte(2),
            allowance_holder: Address::repeat_byte(3),
            settler: Address::repeat_byte(4),
        })
        .await
        .unwrap()
    }

    async fn get(url: &str, key: Option<&str>) -> (u16, Option<String>, String) {
        let mut r = reqwest::Client::new().get(url).header("0x-version", "v2");
        if let Some(k) = key {
            r = r.header("0x-api-key", k);
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
    async fn errors_come_in_zerox_shape_and_are_counted_per_route() {
        crate::net::ensure_crypto_provider();
        let f = fake().await;
        let base = format!("{}/swap/allowance-holder", f.url());
        let q = "?chainId=1&sellToken=0x0000000000000000000000000000000000000005&buyToken=0x0000000000000000000000000000000000000006&sellAmount=100&taker=0x0000000000000000000000000000000000000007";
        let (status, _, body) = get(&format!("{base}/quote{q}"), None).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"name\":\"UNAUTHORIZED\""), "{body}");
        let (status, _, body) = get(
            &format!("{base}/quote?chainId=1&sellAmount=1"),
            Some(FAKE_API_KEY),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            body.contains("INPUT_INVALID") && body.contains("sellToken"),
            "{body}"
        );
        let (status, _, body) = get(
            &format!("{base}/price{}", q.replace("chainId=1", "chainId=5")),
            Some(FAKE_API_KEY),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body.contains("chainId"), "{body}");
        f.next(QUOTE, Fault::Status(429));
        let (status, retry, _) = get(&format!("{base}/quote{q}"), Some(FAKE_API_KEY)).await;
        assert_eq!((status, retry.as_deref()), (429, Some("1")));
        f.next(QUOTE, Fault::Malformed);
        let (status, _, body) = get(&format!("{base}/quote{q}"), Some(FAKE_API_KEY)).await;
        assert_eq!(status, 200);
        assert!(serde_json::from_str::<Value>(&body).is_err());
        f.next(QUOTE, Fault::Drop);
        assert_eq!(
            get(&format!("{base}/quote{q}"), Some(FAKE_API_KEY)).await.0,
            0
        );
        f.set_down(true);
        assert_eq!(
            get(&format!("{base}/price{q}"), Some(FAKE_API_KEY)).await.0,
            503
        );
        assert_eq!((f.calls(QUOTE), f.calls(PRICE)), (5, 2));
        assert_eq!(
            f.met(),
            vec![Fault::Status(429), Fault::Malformed, Fault::Drop]
        );
    }

    #[test]
    fn seeded_faults_are_the_wire_ones() {
        let mut d = Dice::new(7, Odds::OneIn(1), Fault::wire());
        for _ in 0..20 {
            let f = d.roll(QUOTE).unwrap();
            assert!(!f.kind().acted, "{f:?}");
            assert!(Fault::wire().contains(&f));
        }
    }
}
