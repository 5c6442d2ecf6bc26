//! The fake orderbook's reading of request bodies: decimal amounts,
//! addresses, app data (a JSON document or its hash, checked against
//! `appDataHash`), the signing scheme and signature, and an
//! `OrderCreation` as the order it signs.

use crate::venue::evm::swap::cow_order::{
    self, BuyTokenBalance, Order, OrderKind, SellTokenBalance, SigningScheme,
};
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use serde_json::Value;
use std::str::FromStr;

pub(super) fn dec(v: U256) -> String {
    v.to_string()
}

pub(super) fn parse_amount(v: &Value, key: &str) -> Result<U256, String> {
    let s = v
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{key} is missing or not a string"))?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{key} is not a decimal amount"));
    }
    U256::from_str_radix(s, 10).map_err(|e| format!("{key}: {e}"))
}

pub(super) fn parse_address(v: &Value, key: &str) -> Result<Option<Address>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Address::from_str(s)
            .map(Some)
            .map_err(|e| format!("{key}: {e}")),
        Some(_) => Err(format!("{key} is not an address")),
    }
}

pub(super) fn required_address(v: &Value, key: &str) -> Result<Address, String> {
    parse_address(v, key)?.ok_or_else(|| format!("{key} is missing"))
}

pub(super) fn text<'a>(v: &'a Value, key: &str, default: &'a str) -> Result<&'a str, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{key} is not a string")),
    }
}

/// The app data as posted: its hash and, when it is a document, the text.
pub(super) fn app_data(v: &Value) -> Result<(B256, Option<String>), (&'static str, String)> {
    let raw =
        text(v, "appData", cow_order::APP_DATA_EMPTY_JSON).map_err(|e| ("InvalidAppData", e))?;
    let declared = match v.get("appDataHash") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(B256::from_str(s).map_err(|e| ("InvalidAppData", format!("appDataHash: {e}")))?)
        }
        Some(_) => return Err(("InvalidAppData", "appDataHash is not a hash".into())),
    };
    if raw.starts_with("0x") && raw.len() == 66 {
        let hash = B256::from_str(raw).map_err(|e| ("InvalidAppData", e.to_string()))?;
        return Ok((hash, None));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(_)) => {}
        _ => return Err(("InvalidAppData", "appData is not a JSON object".into())),
    }
    let hash = cow_order::app_data_hash(raw);
    if declared.is_some_and(|d| d != hash) {
        return Err((
            "AppDataHashMismatch",
            "appDataHash is not the keccak256 of appData".into(),
        ));
    }
    Ok((hash, Some(raw.to_string())))
}

pub(super) fn signing_scheme(v: &Value) -> Result<SigningScheme, String> {
    match text(v, "signingScheme", "eip712")? {
        "eip712" => Ok(SigningScheme::Eip712),
        "ethsign" => Ok(SigningScheme::EthSign),
        other => Err(format!(
            "signing scheme {other:?}: this fake takes eip712 and ethsign"
        )),
    }
}

/// The digest a scheme's signature is over.
pub(super) fn signed_digest(scheme: SigningScheme, digest: B256) -> B256 {
    match scheme {
        SigningScheme::EthSign => {
            let mut m = b"\x19Ethereum Signed Message:\n32".to_vec();
            m.extend_from_slice(digest.as_slice());
            keccak256(&m)
        }
        _ => digest,
    }
}

pub(super) fn parse_signature(v: &Value) -> Result<Bytes, String> {
    let s = text(v, "signature", "")?;
    Bytes::from_str(s).map_err(|e| format!("signature: {e}"))
}

/// An `OrderCreation` as read.
pub(super) struct Creation {
    pub order: Order,
    pub scheme: SigningScheme,
    pub signature: Bytes,
    pub from: Option<Address>,
    pub full_app_data: Option<String>,
    pub quote_id: Option<i64>,
}

/// The order an `OrderCreation` body describes, or the refusal
/// (status, `errorType`, description).
pub(super) fn creation_of(v: &Value) -> Result<Creation, (u16, &'static str, String)> {
    let bad = |e: String| (422, "InvalidJson", e);
    let sell_token = required_address(v, "sellToken").map_err(bad)?;
    let buy_token = required_address(v, "buyToken").map_err(bad)?;
    let receiver = parse_address(v, "receiver").map_err(bad)?;
    let sell_amount = parse_amount(v, "sellAmount").map_err(bad)?;
    let buy_amount = parse_amount(v, "buyAmount").map_err(bad)?;
    let fee_amount = parse_amount(v, "feeAmount").map_err(bad)?;
    let valid_to = v
        .get("validTo")
        .and_then(Value::as_u64)
        .and_then(|t| u32::try_from(t).ok())
        .ok_or_else(|| bad("validTo is not a u32".into()))?;
    let kind =
        OrderKind::from_str(text(v, "kind", "").map_err(bad)?).map_err(|e| bad(e.to_string()))?;
    let partially_fillable = v
        .get("partiallyFillable")
        .and_then(Value::as_bool)
        .ok_or_else(|| bad("partiallyFillable is not a boolean".into()))?;
    let sell_balance =
        SellTokenBalance::from_str(text(v, "sellTokenBalance", "erc20").map_err(bad)?)
            .map_err(|e| bad(e.to_string()))?;
    let buy_balance = BuyTokenBalance::from_str(text(v, "buyTokenBalance", "erc20").map_err(bad)?)
        .map_err(|e| bad(e.to_string()))?;
    let scheme = signing_scheme(v).map_err(|e| (400, "IncompatibleSigningScheme", e))?;
    let signature = parse_signature(v).map_err(|e| (400, "InvalidSignature", e))?;
    let from = parse_address(v, "from").map_err(bad)?;
    let (app_data, full) = app_data(v).map_err(|(t, e)| (400, t, e))?;
    let quote_id = v.get("quoteId").and_then(Value::as_i64);
    if sell_balance != SellTokenBalance::Erc20 {
        return Err((
            400,
            "UnsupportedSellTokenSource",
            "only erc20 sell balances are taken for new orders".into(),
        ));
    }
    if buy_balance != BuyTokenBalance::Erc20 {
        return Err((
            400,
            "UnsupportedBuyTokenDestination",
            "only erc20 buy balances are taken for new orders".into(),
        ));
    }
    let order = Order {
        sellToken: sell_token,
        buyToken: buy_token,
        receiver: receiver.unwrap_or(Address::ZERO),
        sellAmount: sell_amount,
        buyAmount: buy_amount,
        validTo: valid_to,
        appData: app_data,
        feeAmount: fee_amount,
        kind: kind.as_str().into(),
        partiallyFillable: partially_fillable,
        sellTokenBalance: sell_balance.as_str().into(),
        buyTokenBalance: buy_balance.as_str().into(),
    };
    Ok(Creation {
        order,
        scheme,
        signature,
        from,
        full_app_data: full,
        quote_id,
    })
}
