//! 1delta's spot-swap API as a swap provider, coded to exactly what
//! evm.md §1.6.3 documents and no more: it is UNVERIFIED (third-party
//! client code only), so it is off unless configured and nothing it says
//! about amounts is believed.
//!
//! `GET {base}/v1/actions/swap/spot?chainId&tokenIn&tokenOut&amount&slippage&account`
//! (`x-api-key` when a key is set) answers `{success, data, actions, error}`;
//! with `account`, `actions` holds `permissions` (approvals), `transactions`
//! (set-up, in order) and `alternatives` (competing swaps, best first; run
//! exactly one). The reference documents no amount field, so the amount is
//! what the chain says: the first alternative is run in `eth_call` as the
//! wallet would send it (`probe`), and what it takes and pays there is the
//! quote. Every address it names must be one of the configured `targets`;
//! a permission must be an `approve` of the token in to one of them; an
//! answer asking for set-up transactions is not taken (we cannot read
//! them). What 1delta's calldata enforces as a floor cannot be read either:
//! the quote's floor is the probed amount less the slippage 1delta was
//! asked to keep, and a quote whose floor is under the step's minimum is
//! skipped. Its transaction is simulated once more before it is signed.
//!
//! The API key goes in the `x-api-key` header only; no error, log or debug
//! output carries it.

use super::probe::{self, Trial};
use super::{How, Quote, SwapCall, SwapRequest, base_units};
use crate::config::OneDeltaConfig;
use crate::model::Secret;
use crate::net::describe;
use crate::venue::VenueError;
use crate::venue::evm::chain::ChainClient;
use crate::venue::evm::erc20;
use crate::venue::evm::txmgr::GasHint;
use crate::venue::http_body::{DEFAULT_BODY_CAP, read_capped};
use alloy::primitives::{Address, Bytes, U256};
use serde_json::Value;
use std::str::FromStr;
use std::time::Duration;

/// Gas assumed when 1delta does not say.
pub const SWAP_GAS: u64 = 400_000;
/// A quote is taken within this long.
pub const QUOTE_TTL_MS: u64 = 30_000;
pub const SPOT_PATH: &str = "/v1/actions/swap/spot";

pub struct OneDeltaApi {
    pub name: String,
    pub at: OneDeltaConfig,
    chain_id: u64,
    key: Option<Secret>,
    http: reqwest::Client,
}

impl std::fmt::Debug for OneDeltaApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OneDeltaApi({}, {})", self.name, self.at.base_url)
    }
}

/// The swap 1delta built, read and checked, and what it moved when run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub received: U256,
    pub floor: U256,
    pub gas: u64,
    pub how: How,
}

/// Why an answer is not taken.
#[derive(Debug)]
enum Bad {
    /// A well-formed answer for a swap we do not carry out: still healthy.
    NotThis(String),
    /// Not what was asked, not whole, or not safe: 1delta is unhealthy.
    Wrong(String),
}

impl From<String> for Bad {
    fn from(why: String) -> Bad {
        Bad::Wrong(why)
    }
}

impl From<&str> for Bad {
    fn from(why: &str) -> Bad {
        Bad::Wrong(why.to_string())
    }
}

/// One transaction of `actions`, as 1delta spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tx {
    to: Address,
    data: Bytes,
    value: U256,
    spender: Option<Address>,
    gas: Option<u64>,
}

fn read_tx(v: &Value, what: &str) -> Result<Tx, String> {
    let addr = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .and_then(|s| Address::from_str(s).ok())
    };
    let to = addr("to").ok_or_else(|| format!("{what} has no `to`"))?;
    let data = v
        .get("data")
        .and_then(Value::as_str)
        .and_then(|s| Bytes::from_str(s).ok())
        .ok_or_else(|| format!("{what} has no hex `data`"))?;
    let value = match v.get("value") {
        None | Some(Value::Null) => U256::ZERO,
        Some(x) => base_units(x).ok_or_else(|| format!("{what}'s value {x} is not base units"))?,
    };
    let spender = match v.get("spender") {
        None | Some(Value::Null) => None,
        Some(x) => Some(
            x.as_str()
                .and_then(|s| Address::from_str(s).ok())
                .ok_or_else(|| format!("{what}'s spender {x} is not an address"))?,
        ),
    };
    let gas = ["gas", "gasLimit"]
        .iter()
        .filter_map(|k| v.get(*k))
        .find_map(base_units)
        .and_then(|g| u64::try_from(g).ok());
    Ok(Tx {
        to,
        data,
        value,
        spender,
        gas,
    })
}

/// A list in `actions`: absent and null are empty.
fn list<'a>(actions: &'a Value, k: &str) -> Result<&'a [Value], String> {
    match actions.get(k) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(format!("actions.{k} is {other}, not a list")),
    }
}

impl OneDeltaApi {
    pub fn open(at: OneDeltaConfig, key: Option<Secret>, chain_id: u64) -> Result<Self, String> {
        let http = crate::net::api_client(&at.name, Duration::from_millis(at.timeout_ms))?;
        Ok(OneDeltaApi {
            name: at.name.clone(),
            at,
            chain_id,
            key,
            http,
        })
    }

    fn allowed(&self, a: Address) -> bool {
        self.at.targets.contains(&a)
    }

    /// Ask 1delta to build the swap for the taker and run what it built.
    pub async fn quote_exact_in(
        &self,
        c: &ChainClient,
        req: &SwapRequest,
    ) -> Result<Answer, VenueError> {
        if req.native_in || req.native_out {
            return Err(VenueError::Rejected(
                "1delta is asked for ERC-20 to ERC-20 swaps only (its native legs are not documented)"
                    .into(),
            ));
        }
        // Its transaction is run as the wallet before anything it says is
        // believed, and that needs the wallet to hold what it sells.
        let held = erc20::balance_of(c, req.token_in, req.taker).await?;
        if held < req.amount_in {
            return Err(VenueError::Rejected(format!(
                "1delta's swap is run before it is trusted and the wallet holds {held}, not the {} asked",
                req.amount_in
            )));
        }
        let transient = |what: String| VenueError::Transient(format!("1delta: {what}"));
        let query = [
            ("chainId", self.chain_id.to_string()),
            ("tokenIn", req.token_in.to_string()),
            ("tokenOut", req.token_out.to_string()),
            ("amount", req.amount_in.to_string()),
            ("slippage", self.at.slippage_bps.to_string()),
            ("account", req.taker.to_string()),
        ];
        let url = format!("{}{SPOT_PATH}", self.at.base_url);
        let url = reqwest::Url::parse_with_params(&url, &query)
            .map_err(|_| VenueError::Rejected(format!("{}: base_url is not a URL", self.name)))?;
        let mut get = self.http.get(url).header("accept", "application/json");
        if let Some(key) = &self.key {
            get = get.header("x-api-key", key.expose());
        }
        let response = get.send().await.map_err(|e| transient(describe(&e)))?;
        let status = response.status().as_u16();
        let body = read_capped(response, DEFAULT_BODY_CAP)
            .await
            .map_err(|e| transient(e.to_string()))?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        let refusal = json
            .as_ref()
            .filter(|v| v.get("success") == Some(&Value::Bool(false)))
            .map(error_text);
        match (status, refusal) {
            (200, _) => {}
            (401 | 403, r) => {
                return Err(transient(format!(
                    "{status}: the API key was refused ({})",
                    r.unwrap_or_else(|| "no envelope".into())
                )));
            }
            (429, _) => return Err(transient("429 rate limited".into())),
            // A refusal of this swap in the envelope's shape: still healthy.
            (400 | 404 | 422, Some(why)) => {
                return Err(VenueError::Rejected(format!(
                    "1delta refused it ({status} {why})"
                )));
            }
            (other, _) => return Err(transient(format!("HTTP {other}"))),
        }
        let Some(v) = json else {
            return Err(transient("the answer is not JSON".into()));
        };
        let built = match self.read(&v, req) {
            Ok(tx) => tx,
            Err(Bad::NotThis(why)) => return Err(VenueError::Rejected(why)),
            Err(Bad::Wrong(why)) => return Err(transient(format!("answer refused: {why}"))),
        };
        let spender = built.spender.unwrap_or(built.to);
        let trial = Trial {
            taker: req.taker,
            token_in: req.token_in,
            token_out: req.token_out,
            amount_in: req.amount_in,
            spender,
            target: built.to,
            data: built.data.clone(),
            value: built.value,
        };
        let moved = match probe::run(c, &trial).await {
            Ok(m) => m,
            Err(VenueError::Rejected(why)) => {
                return Err(transient(format!(
                    "its transaction reverts when run as the wallet: {why}"
                )));
            }
            Err(e) => return Err(e),
        };
        if moved.spent != req.amount_in {
            return Err(transient(format!(
                "answer refused: run as the wallet it takes {} of the {} asked",
                moved.spent, req.amount_in
            )));
        }
        if moved.received.is_zero() {
            return Err(transient(
                "answer refused: run as the wallet it pays the wallet nothing".into(),
            ));
        }
        let keep = U256::from(10_000 - self.at.slippage_bps.min(10_000));
        let floor = moved.received.saturating_mul(keep) / U256::from(10_000u64);
        Ok(Answer {
            received: moved.received,
            floor,
            gas: built.gas.unwrap_or(SWAP_GAS),
            how: How::OneDelta {
                to: built.to,
                data: built.data,
                value: built.value,
                spender,
            },
        })
    }

    /// Read and check a 200 answer: the one swap to run, and its spender.
    fn read(&self, v: &Value, req: &SwapRequest) -> Result<Tx, Bad> {
        match v.get("success") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                return Err(Bad::NotThis(format!(
                    "1delta refused it ({})",
                    error_text(v)
                )));
            }
            _ => return Err("no `success` in its envelope".into()),
        }
        let actions = match v.get("actions") {
            Some(a) if a.is_object() => a,
            _ => return Err("no `actions` though an account was given".into()),
        };
        let setup = list(actions, "transactions")?;
        if !setup.is_empty() {
            return Err(Bad::NotThis(format!(
                "1delta asks for {} set-up transaction(s) first, which are not run here",
                setup.len()
            )));
        }
        // Its permissions are read, not sent: the step signs its own
        // approve of the exact amount to the spender named.
        let mut named: Option<Address> = None;
        for (i, p) in list(actions, "permissions")?.iter().enumerate() {
            let p = read_tx(p, &format!("permission {i}"))?;
            if p.to != req.token_in {
                return Err(
                    format!("permission {i} is addressed to {}, not the token in", p.to).into(),
                );
            }
            if !p.value.is_zero() {
                return Err(format!("permission {i} sends {} wei", p.value).into());
            }
            let Some(spender) = erc20::approved_spender(&p.data) else {
                return Err(format!("permission {i} is not an approve").into());
            };
            if named.is_some_and(|n| n != spender) {
                return Err("its permissions name two spenders".into());
            }
            named = Some(spender);
        }
        let alternatives = list(actions, "alternatives")?;
        let Some(first) = alternatives.first() else {
            return Err(Bad::NotThis("1delta has no route for it".into()));
        };
        let mut tx = read_tx(first, "the first alternative")?;
        if !self.allowed(tx.to) {
            return Err(format!(
                "its transaction goes to {}, which is not a configured target",
                tx.to
            )
            .into());
        }
        if !tx.value.is_zero() {
            return Err(
                format!("its transaction sends {} wei for an ERC-20 swap", tx.value).into(),
            );
        }
        let spender = match (named, tx.spender) {
            (Some(a), Some(b)) if a != b => {
                return Err(
                    format!("its permission approves {a} but its transaction names {b}").into(),
                );
            }
            (a, b) => a.or(b).unwrap_or(tx.to),
        };
        if !self.allowed(spender) {
            return Err(format!(
                "it names {spender} as the spender, which is not a configured target"
            )
            .into());
        }
        tx.spender = Some(spender);
        Ok(tx)
    }

    /// The transaction for a quote, checked again for `me` and the step's
    /// own minimum.
    pub fn swap_call(
        &self,
        req: &SwapRequest,
        quote: &Quote,
        min_out: U256,
        me: Address,
    ) -> Result<SwapCall, VenueError> {
        if req.taker != me {
            return Err(VenueError::Rejected(format!(
                "the quote was asked for {}, not {me}",
                req.taker
            )));
        }
        let How::OneDelta {
            to,
            data,
            value,
            spender,
        } = &quote.how
        else {
            return Err(VenueError::Rejected(format!(
                "{} cannot carry out a {} quote",
                self.name, quote.how
            )));
        };
        if !self.allowed(*to) || !self.allowed(*spender) {
            return Err(VenueError::Rejected(format!(
                "{}: {to} or {spender} is not a configured target",
                self.name
            )));
        }
        let floor = quote.floor.unwrap_or_default();
        if floor < min_out {
            return Err(VenueError::Rejected(format!(
                "{}'s floor {floor} is below the step's minimum {min_out}",
                self.name
            )));
        }
        Ok(SwapCall {
            to: *to,
            data: data.clone(),
            value: *value,
            spender: *spender,
            gas: GasHint {
                unseen: 0,
                floor: quote.gas.min(SWAP_GAS),
            },
        })
    }
}

/// The envelope's `error {code, message}`, briefly.
fn error_text(v: &Value) -> String {
    let code = v
        .pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let message = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut text = format!("{code}: {message}");
    text.truncate(200);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::evm::abi::IERC20;
    use alloy::sol_types::SolCall;
    use serde_json::json;

    const TOKEN_IN: Address = Address::repeat_byte(0x11);
    const TARGET: Address = Address::repeat_byte(0x22);

    fn api() -> OneDeltaApi {
        OneDeltaApi::open(
            OneDeltaConfig {
                name: "1delta".into(),
                base_url: "http://127.0.0.1:9".into(),
                targets: vec![TARGET],
                api_key_env: "ONEDELTA_API_KEY".into(),
                slippage_bps: 50,
                timeout_ms: 1_000,
            },
            None,
            43111,
        )
        .unwrap()
    }

    fn req() -> SwapRequest {
        SwapRequest {
            token_in: TOKEN_IN,
            token_out: Address::repeat_byte(0x33),
            native_in: false,
            native_out: false,
            amount_in: U256::from(1_000u64),
            taker: Address::repeat_byte(0x44),
        }
    }

    fn approve(to: Address, spender: Address) -> Value {
        let data = IERC20::approveCall {
            spender,
            value: U256::from(1_000u64),
        }
        .abi_encode();
        json!({"to": to.to_string(), "data": Bytes::from(data).to_string(), "value": "0"})
    }

    fn answer(permissions: Value, transactions: Value, alternatives: Value) -> Value {
        json!({
            "success": true,
            "data": {"quotes": [{"aggregator": "x", "tradeInput": 1, "tradeOutput": "0.5"}]},
            "actions": {"permissions": permissions, "transactions": transactions, "alternatives": alternatives},
        })
    }

    fn swap_tx(to: Address) -> Value {
        json!({"to": to.to_string(), "data": "0x12345678", "value": "0", "gas": "210000"})
    }

    #[test]
    fn the_first_alternative_is_taken_with_the_permission_spender() {
        let v = answer(
            json!([approve(TOKEN_IN, TARGET)]),
            Value::Null,
            json!([swap_tx(TARGET), swap_tx(Address::repeat_byte(9))]),
        );
        let tx = api().read(&v, &req()).unwrap();
        assert_eq!(
            (tx.to, tx.spender, tx.gas),
            (TARGET, Some(TARGET), Some(210_000))
        );
    }

    #[test]
    fn lies_and_unknowns_are_refused_with_the_reason() {
        let other = Address::repeat_byte(0x55);
        let cases = [
            (
                answer(json!([]), Value::Null, json!([swap_tx(other)])),
                "not a configured target",
                true,
            ),
            (
                answer(
                    json!([approve(TOKEN_IN, other)]),
                    Value::Null,
                    json!([swap_tx(TARGET)]),
                ),
                "as the spender",
                true,
            ),
            (
                answer(
                    json!([approve(other, TARGET)]),
                    Value::Null,
                    json!([swap_tx(TARGET)]),
                ),
                "not the token in",
                true,
            ),
            (
                answer(
                    json!([swap_tx(TOKEN_IN)]),
                    Value::Null,
                    json!([swap_tx(TARGET)]),
                ),
                "not an approve",
                true,
            ),
            (
                answer(
                    json!([]),
                    json!([swap_tx(TARGET)]),
                    json!([swap_tx(TARGET)]),
                ),
                "set-up",
                false,
            ),
            (answer(json!([]), Value::Null, json!([])), "no route", false),
            (
                answer(json!([]), Value::Null, json!({"to": 1})),
                "not a list",
                true,
            ),
            (
                json!({"success": true, "data": {}, "actions": null}),
                "no `actions`",
                true,
            ),
            (
                json!({"success": false, "error": {"code": "NO_ROUTE", "message": "none"}}),
                "NO_ROUTE",
                false,
            ),
            (json!({"data": {}}), "no `success`", true),
        ];
        // `wrong`: 1delta is unhealthy for it; else it has no route for this swap.
        for (v, says, wrong) in cases {
            match api().read(&v, &req()) {
                Err(Bad::NotThis(why)) if !wrong => assert!(why.contains(says), "{why}"),
                Err(Bad::Wrong(why)) if wrong => assert!(why.contains(says), "{why}"),
                other => panic!("{says}: {other:?}"),
            }
        }
        let mut paid = swap_tx(TARGET);
        paid["value"] = json!("5");
        let v = answer(json!([]), Value::Null, json!([paid]));
        assert!(matches!(api().read(&v, &req()), Err(Bad::Wrong(w)) if w.contains("wei")));
    }
}
