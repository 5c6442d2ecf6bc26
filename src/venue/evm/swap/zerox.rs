//! 0x's Swap API v2 in its AllowanceHolder flow as a swap provider
//! (evm.md §2.5, checked against 0x's "setting token allowances" page:
//! in this flow `transaction.to` *and* the spender are the AllowanceHolder).
//! Sizing asks `/swap/allowance-holder/price` (indicative, no calldata); a
//! swap about to be sent asks `/quote` (firm, with the transaction). The
//! calldata is 0x's, not ours, so before it is taken every part that moves
//! money is read back out of it and checked against what was asked:
//! `exec(operator, token, amount, target, data)` on the configured
//! AllowanceHolder, with `token`/`amount` the step's sell side and
//! `operator == target` the Settler; inside, Settler's
//! `execute((recipient, buyToken, minAmountOut), actions, zid)` paying the
//! taker in the step's buy token with a floor equal to 0x's `minBuyAmount`;
//! the value sent only for native ETH in. Anything else is a lying answer:
//! the provider is marked unhealthy with what was wrong. The transaction is
//! simulated (`eth_call`) before it is signed (`SwapProvider::simulates`).
//!
//! The API key goes in the `0x-api-key` header only; no error, log or
//! debug output carries it or the URL.

use super::{How, Quote, SwapCall, SwapRequest, base_units};
use crate::config::ZeroXConfig;
use crate::model::Secret;
use crate::net::describe;
use crate::venue::VenueError;
use crate::venue::evm::abi::{IAllowanceHolder, ISettler};
use crate::venue::evm::txmgr::GasHint;
use crate::venue::http_body::{DEFAULT_BODY_CAP, read_capped};
use alloy::primitives::{Address, Bytes, U256, address};
use alloy::sol_types::SolCall;
use serde_json::Value;
use std::str::FromStr;
use std::time::Duration;

/// How 0x spells native ETH.
pub const NATIVE: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");
/// Gas assumed when 0x does not say.
pub const SWAP_GAS: u64 = 300_000;
/// A firm quote is taken within this long (0x's quotes move with blocks).
pub const QUOTE_TTL_MS: u64 = 30_000;

pub struct ZeroXApi {
    pub name: String,
    pub at: ZeroXConfig,
    chain_id: u64,
    key: Secret,
    http: reqwest::Client,
}

impl std::fmt::Debug for ZeroXApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZeroXApi({}, {})", self.name, self.at.base_url)
    }
}

/// What a quote says, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub buy_amount: U256,
    pub min_buy_amount: U256,
    pub gas: u64,
    pub how: How,
}

impl ZeroXApi {
    pub fn open(at: ZeroXConfig, key: Secret, chain_id: u64) -> Result<ZeroXApi, String> {
        let http = crate::net::api_client(&at.name, Duration::from_millis(at.timeout_ms))?;
        Ok(ZeroXApi {
            name: at.name.clone(),
            at,
            chain_id,
            key,
            http,
        })
    }

    fn spell(native: bool, token: Address) -> Address {
        if native { NATIVE } else { token }
    }

    /// Ask 0x: `/price` for sizing, `/quote` (`firm`) for a swap about to go out.
    pub async fn quote_exact_in(
        &self,
        req: &SwapRequest,
        firm: bool,
    ) -> Result<Answer, VenueError> {
        if req.native_out {
            // The receipt books ETH out from WETH's Withdrawal by the
            // transaction's target; 0x's unwrap happens deeper than that.
            return Err(VenueError::Rejected(
                "0x is asked for ERC-20 buys only here (its ETH payout is not booked yet)".into(),
            ));
        }
        let sell = Self::spell(req.native_in, req.token_in);
        let buy = Self::spell(req.native_out, req.token_out);
        let path = if firm { "quote" } else { "price" };
        let url = format!("{}/swap/allowance-holder/{path}", self.at.base_url);
        let query = [
            ("chainId", self.chain_id.to_string()),
            ("sellToken", sell.to_string()),
            ("buyToken", buy.to_string()),
            ("sellAmount", req.amount_in.to_string()),
            ("taker", req.taker.to_string()),
            ("slippageBps", self.at.slippage_bps.to_string()),
        ];
        let transient = |what: String| VenueError::Transient(format!("0x /{path}: {what}"));
        let url = reqwest::Url::parse_with_params(&url, &query)
            .map_err(|_| VenueError::Rejected(format!("{}: base_url is not a URL", self.name)))?;
        let response = self
            .http
            .get(url)
            .header("0x-api-key", self.key.expose())
            .header("0x-version", "v2")
            .send()
            .await
            .map_err(|e| transient(describe(&e)))?;
        let status = response.status().as_u16();
        let body = read_capped(response, DEFAULT_BODY_CAP)
            .await
            .map_err(|e| transient(e.to_string()))?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        match status {
            200 => {}
            // A refusal of this swap in 0x's error shape: no route, still healthy.
            400 | 404 | 422 if json.as_ref().is_some_and(|v| v.get("name").is_some()) => {
                return Err(VenueError::Rejected(format!(
                    "0x refused it ({status} {})",
                    error_text(json.as_ref())
                )));
            }
            401 | 403 => {
                return Err(transient(format!(
                    "{status}: the API key was refused ({})",
                    error_text(json.as_ref())
                )));
            }
            429 => return Err(transient("429 rate limited".into())),
            other => return Err(transient(format!("HTTP {other}"))),
        }
        let Some(v) = json else {
            return Err(transient("the answer is not JSON".into()));
        };
        match self.read(&v, req, firm, sell, buy) {
            Ok(answer) => Ok(answer),
            Err(Bad::NoLiquidity) => Err(VenueError::Rejected("0x has no liquidity for it".into())),
            Err(Bad::Wrong(why)) => Err(transient(format!("answer refused: {why}"))),
        }
    }

    /// Read and check a 200 answer against what was asked.
    fn read(
        &self,
        v: &Value,
        req: &SwapRequest,
        firm: bool,
        sell: Address,
        buy: Address,
    ) -> Result<Answer, Bad> {
        match v.get("liquidityAvailable").and_then(Value::as_bool) {
            Some(true) => {}
            Some(false) => return Err(Bad::NoLiquidity),
            None => return Err("no liquidityAvailable".into()),
        }
        if let Some(id) = v.get("chainId")
            && base_units(id) != Some(U256::from(self.chain_id))
        {
            return Err(format!("chainId {id}, not {}", self.chain_id).into());
        }
        let addr = |k: &str| -> Result<Address, String> {
            v.get(k)
                .and_then(Value::as_str)
                .and_then(|s| Address::from_str(s).ok())
                .ok_or_else(|| format!("no {k}"))
        };
        let amount = |k: &str| -> Result<U256, String> {
            v.get(k)
                .and_then(base_units)
                .ok_or_else(|| format!("no {k}"))
        };
        if addr("sellToken")? != sell || addr("buyToken")? != buy {
            return Err("its tokens are not the ones asked".into());
        }
        if amount("sellAmount")? != req.amount_in {
            return Err(format!(
                "sellAmount {} is not the {} asked",
                amount("sellAmount")?,
                req.amount_in
            )
            .into());
        }
        let buy_amount = amount("buyAmount")?;
        let min_buy_amount = amount("minBuyAmount")?;
        if buy_amount.is_zero() || min_buy_amount > buy_amount {
            return Err(
                format!("buyAmount {buy_amount} with minBuyAmount {min_buy_amount}").into(),
            );
        }
        // The spender 0x names, wherever it names one, is the AllowanceHolder.
        let holder = self.at.allowance_holder;
        for spender in [
            v.get("allowanceTarget"),
            v.pointer("/issues/allowance/spender"),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_null())
        {
            let named = spender.as_str().and_then(|s| Address::from_str(s).ok());
            if named != Some(holder) {
                return Err(format!(
                    "it names {spender} as the spender, not the AllowanceHolder {holder}"
                )
                .into());
            }
        }
        let gas_of = |x: Option<&Value>| x.and_then(base_units).and_then(|g| u64::try_from(g).ok());
        if !firm {
            return Ok(Answer {
                buy_amount,
                min_buy_amount,
                gas: gas_of(v.get("gas")).unwrap_or(SWAP_GAS),
                how: How::ZeroXPrice,
            });
        }
        let tx = v.get("transaction").ok_or("no transaction")?;
        let to = tx
            .get("to")
            .and_then(Value::as_str)
            .and_then(|s| Address::from_str(s).ok())
            .ok_or("no transaction.to")?;
        let data = tx
            .get("data")
            .and_then(Value::as_str)
            .and_then(|s| Bytes::from_str(s).ok())
            .ok_or("no transaction.data")?;
        let value = tx
            .get("value")
            .and_then(base_units)
            .ok_or("no transaction.value")?;
        let how = How::ZeroX { to, data, value };
        let floor = self.check_call(&how, req, sell, buy)?;
        if floor != min_buy_amount {
            return Err(format!(
                "its calldata's floor {floor} is not its minBuyAmount {min_buy_amount}"
            )
            .into());
        }
        Ok(Answer {
            buy_amount,
            min_buy_amount,
            gas: gas_of(tx.get("gas")).unwrap_or(SWAP_GAS),
            how,
        })
    }

    /// Read 0x's transaction back and check each part against the swap
    /// asked; the floor it enforces on chain.
    fn check_call(
        &self,
        how: &How,
        req: &SwapRequest,
        sell: Address,
        buy: Address,
    ) -> Result<U256, String> {
        let How::ZeroX { to, data, value } = how else {
            return Err("not a firm 0x quote".into());
        };
        let holder = self.at.allowance_holder;
        if *to != holder {
            return Err(format!(
                "transaction.to is {to}, not the AllowanceHolder {holder}"
            ));
        }
        let want_value = if req.native_in {
            req.amount_in
        } else {
            U256::ZERO
        };
        if *value != want_value {
            return Err(format!("it sends {value} wei, not {want_value}"));
        }
        let exec = IAllowanceHolder::execCall::abi_decode(data)
            .map_err(|_| "its calldata is not AllowanceHolder.exec".to_string())?;
        if exec.token != sell || exec.amount != req.amount_in {
            return Err(format!(
                "exec lets {} of {} be taken, not {} of {sell}",
                exec.amount, exec.token, req.amount_in
            ));
        }
        if exec.operator != exec.target
            || exec.target == holder
            || exec.target == req.token_in
            || exec.target == req.token_out
        {
            return Err(format!(
                "exec's operator {} and target {} are not one Settler",
                exec.operator, exec.target
            ));
        }
        let settle = ISettler::executeCall::abi_decode(&exec.data)
            .map_err(|_| "the Settler's calldata is not execute".to_string())?;
        let s = &settle.slippage;
        if s.recipient != req.taker {
            return Err(format!(
                "it pays {}, not the taker {}",
                s.recipient, req.taker
            ));
        }
        if s.buyToken != buy {
            return Err(format!("it buys {}, not {buy}", s.buyToken));
        }
        Ok(s.minAmountOut)
    }

    /// The transaction for a firm quote, checked again for `me` and the
    /// step's own minimum.
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
        let sell = Self::spell(req.native_in, req.token_in);
        let buy = Self::spell(req.native_out, req.token_out);
        let floor = self
            .check_call(&quote.how, req, sell, buy)
            .map_err(|why| VenueError::Rejected(format!("{}: {why}", self.name)))?;
        if floor < min_out {
            return Err(VenueError::Rejected(format!(
                "{}'s floor {floor} is below the step's minimum {min_out}",
                self.name
            )));
        }
        let How::ZeroX { to, data, value } = &quote.how else {
            return Err(VenueError::Rejected(format!(
                "{} cannot carry out a {} quote",
                self.name, quote.how
            )));
        };
        Ok(SwapCall {
            to: *to,
            data: data.clone(),
            value: *value,
            spender: self.at.allowance_holder,
            // 0x's route (V2 pairs among them) is its own: its
            // `transaction.gas` is the limit it says settles it.
            gas: GasHint {
                unseen: 0,
                floor: quote.gas,
            },
        })
    }
}

/// Why a 200 answer is not taken.
#[derive(Debug)]
enum Bad {
    /// `liquidityAvailable: false`: no route for it, 0x still healthy.
    NoLiquidity,
    /// The answer is not what was asked, or not whole: 0x is unhealthy.
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

/// 0x's error shape `{name, message, data}`, briefly.
fn error_text(v: Option<&Value>) -> String {
    let Some(v) = v else {
        return "no JSON body".into();
    };
    let name = v.get("name").and_then(Value::as_str).unwrap_or("?");
    let message = v.get("message").and_then(Value::as_str).unwrap_or("");
    let mut text = format!("{name}: {message}");
    text.truncate(200);
    text
}
