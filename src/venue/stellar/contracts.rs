//! The two contracts, as ScVal in and out: the arbitrage detector
//! (`is_asset_supported`, `get_supported_assets`, `scan_opportunities`,
//! `set_reflector_contract_id`) and Reflector's SEP-40 interface (`base`,
//! `assets`, `decimals`, `resolution`, `lastprice`, `prices`). All of them
//! except `set_reflector_contract_id` are views: called by simulation only.
//!
//! Contract structs are maps keyed by `Symbol` (the Python backend only
//! accepted `String` keys, which is why its `get_supported_assets` "returned
//! nothing"); both are accepted here.

use super::{OraclePrice, SupportedAsset};
use stellar_xdr::{self as xdr};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("unexpected contract value: {0}")]
    Shape(String),
    #[error("XDR: {0}")]
    Xdr(String),
}

fn string(s: &str) -> Result<xdr::ScVal, ContractError> {
    Ok(xdr::ScVal::String(xdr::ScString(s.try_into().map_err(
        |_| ContractError::Shape(format!("string {s:?}")),
    )?)))
}

pub fn sym(s: &str) -> Result<xdr::ScVal, ContractError> {
    Ok(xdr::ScVal::Symbol(
        super::tx::symbol(s).map_err(|e| ContractError::Shape(e.to_string()))?,
    ))
}

fn vec(items: Vec<xdr::ScVal>) -> Result<xdr::ScVal, ContractError> {
    Ok(xdr::ScVal::Vec(Some(xdr::ScVec(
        items
            .try_into()
            .map_err(|_| ContractError::Shape("vec too long".into()))?,
    ))))
}

fn map(entries: Vec<(&str, xdr::ScVal)>) -> Result<xdr::ScVal, ContractError> {
    let mut v = Vec::new();
    for (k, val) in entries {
        v.push(xdr::ScMapEntry { key: sym(k)?, val });
    }
    Ok(xdr::ScVal::Map(Some(xdr::ScMap(v.try_into().map_err(
        |_| ContractError::Shape("map too long".into()),
    )?))))
}

pub fn i128_val(v: i128) -> xdr::ScVal {
    xdr::ScVal::I128(xdr::Int128Parts {
        hi: (v >> 64) as i64,
        lo: v as u64,
    })
}

fn as_i128(v: &xdr::ScVal) -> Option<i128> {
    match v {
        xdr::ScVal::I128(p) => Some((i128::from(p.hi) << 64) | i128::from(p.lo)),
        _ => None,
    }
}

fn text(v: &xdr::ScVal) -> Option<String> {
    match v {
        xdr::ScVal::String(s) => Some(s.0.to_utf8_string_lossy()),
        xdr::ScVal::Symbol(s) => Some(s.0.to_utf8_string_lossy()),
        _ => None,
    }
}

fn field<'a>(m: &'a xdr::ScMap, name: &str) -> Option<&'a xdr::ScVal> {
    m.0.iter()
        .find(|e| text(&e.key).as_deref() == Some(name))
        .map(|e| &e.val)
}

/// `is_asset_supported(asset_code: String)`.
pub fn is_asset_supported_args(code: &str) -> Result<Vec<xdr::ScVal>, ContractError> {
    Ok(vec![string(code)?])
}

/// `scan_opportunities(assets: Vec<String>, min_profit: i128)`.
pub fn scan_opportunities_args(
    codes: &[String],
    min_profit: i128,
) -> Result<Vec<xdr::ScVal>, ContractError> {
    let list = codes.iter().map(|c| string(c)).collect::<Result<_, _>>()?;
    Ok(vec![vec(list)?, i128_val(min_profit)])
}

/// `set_reflector_contract_id(contract_id: BytesN<32>)`: raw 32 bytes, not
/// an Address (the Python client sent an Address, which cannot convert).
pub fn set_reflector_args(contract: [u8; 32]) -> Result<Vec<xdr::ScVal>, ContractError> {
    Ok(vec![xdr::ScVal::Bytes(xdr::ScBytes(
        contract
            .as_slice()
            .try_into()
            .map_err(|_| ContractError::Shape("bytes".into()))?,
    ))])
}

pub fn decode_bool(v: &xdr::ScVal) -> Result<bool, ContractError> {
    match v {
        xdr::ScVal::Bool(b) => Ok(*b),
        other => Err(ContractError::Shape(format!(
            "expected bool, got {other:?}"
        ))),
    }
}

pub fn encode_supported_assets(assets: &[SupportedAsset]) -> Result<xdr::ScVal, ContractError> {
    let items = assets
        .iter()
        .map(|a| {
            map(vec![
                ("code", string(&a.code)?),
                ("issuer", string(&a.issuer)?),
            ])
        })
        .collect::<Result<_, _>>()?;
    vec(items)
}

pub fn decode_supported_assets(v: &xdr::ScVal) -> Result<Vec<SupportedAsset>, ContractError> {
    let xdr::ScVal::Vec(Some(items)) = v else {
        return Err(ContractError::Shape(
            "get_supported_assets: not a vec".into(),
        ));
    };
    items
        .0
        .iter()
        .map(|item| {
            let xdr::ScVal::Map(Some(m)) = item else {
                return Err(ContractError::Shape("asset: not a map".into()));
            };
            let get = |k| field(m, k).and_then(text);
            Ok(SupportedAsset {
                code: get("code").ok_or_else(|| ContractError::Shape("asset: no code".into()))?,
                issuer: get("issuer").unwrap_or_default(),
            })
        })
        .collect()
}

/// A detector `ArbitrageOpportunity` (read for display only: the deployed
/// contract fabricates its "exchanges").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorOpportunity {
    pub asset: String,
    pub estimated_profit: i128,
}

pub fn decode_scan(v: &xdr::ScVal) -> Result<Vec<DetectorOpportunity>, ContractError> {
    let xdr::ScVal::Vec(Some(items)) = v else {
        return Ok(Vec::new());
    };
    items
        .0
        .iter()
        .map(|item| {
            let xdr::ScVal::Map(Some(m)) = item else {
                return Err(ContractError::Shape("opportunity: not a map".into()));
            };
            Ok(DetectorOpportunity {
                asset: field(m, "asset").and_then(text).unwrap_or_default(),
                estimated_profit: field(m, "estimated_profit").and_then(as_i128).unwrap_or(0),
            })
        })
        .collect()
}

/// Reflector `Asset::Other(Symbol)`.
pub fn reflector_other(symbol: &str) -> Result<xdr::ScVal, ContractError> {
    vec(vec![sym("Other")?, sym(symbol)?])
}

pub fn reflector_symbol(v: &xdr::ScVal) -> Option<String> {
    match v {
        xdr::ScVal::Vec(Some(items)) if items.0.len() == 2 => text(&items.0[1]),
        _ => None,
    }
}

/// `Option<PriceData{price: i128, timestamp: u64}>`.
pub fn encode_price(p: Option<(i128, u64)>) -> Result<xdr::ScVal, ContractError> {
    match p {
        None => Ok(xdr::ScVal::Void),
        Some((price, ts)) => map(vec![
            ("price", i128_val(price)),
            ("timestamp", xdr::ScVal::U64(ts)),
        ]),
    }
}

pub fn decode_price(
    symbol: &str,
    decimals: u32,
    v: &xdr::ScVal,
) -> Result<Option<OraclePrice>, ContractError> {
    match v {
        xdr::ScVal::Void => Ok(None),
        xdr::ScVal::Map(Some(m)) => {
            let price = field(m, "price")
                .and_then(as_i128)
                .ok_or_else(|| ContractError::Shape("PriceData.price".into()))?;
            let timestamp = match field(m, "timestamp") {
                Some(xdr::ScVal::U64(t)) => *t,
                _ => return Err(ContractError::Shape("PriceData.timestamp".into())),
            };
            Ok(Some(OraclePrice {
                symbol: symbol.into(),
                price,
                decimals,
                timestamp,
            }))
        }
        other => Err(ContractError::Shape(format!("lastprice: {other:?}"))),
    }
}

pub fn decode_u32(v: &xdr::ScVal) -> Result<u32, ContractError> {
    match v {
        xdr::ScVal::U32(x) => Ok(*x),
        other => Err(ContractError::Shape(format!("expected u32, got {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stellar_xdr::{Limits, WriteXdr};

    #[test]
    fn reference_encodings() {
        let btc = reflector_other("BTC").expect("asset");
        assert_eq!(
            btc.to_xdr_base64(Limits::none()).expect("xdr"),
            "AAAAEAAAAAEAAAACAAAADwAAAAVPdGhlcgAAAAAAAA8AAAADQlRDAA=="
        );
        let p = encode_price(Some((650_000_000_000_000_000, 1_717_000_000))).expect("price");
        assert_eq!(
            p.to_xdr_base64(Limits::none()).expect("xdr"),
            "AAAAEQAAAAEAAAACAAAADwAAAAVwcmljZQAAAAAAAAoAAAAAAAAAAAkFQ45gAQAAAAAADwAAAAl0aW1lc3RhbXAAAAAAAAAFAAAAAGZXV0A="
        );
        let back = decode_price("BTC", 14, &p).expect("decode").expect("some");
        assert_eq!(back.price, 650_000_000_000_000_000);
        assert_eq!(decode_price("BTC", 14, &xdr::ScVal::Void), Ok(None));
        assert_eq!(reflector_symbol(&btc).as_deref(), Some("BTC"));
    }

    #[test]
    fn supported_assets_round_trip_with_symbol_keys() {
        let list = vec![SupportedAsset {
            code: "AQUA".into(),
            issuer: "GBNZILSTVQZ4R7IKQDGHYGY2QXL5QOFJYQMXPKWRRM5PAV7Y4M67AQUA".into(),
        }];
        let v = encode_supported_assets(&list).expect("encode");
        assert_eq!(decode_supported_assets(&v).expect("decode"), list);
    }
}
