//! Horizon's liquidity pools: `GET /liquidity_pools?reserves=A,B`, read
//! into a [`LiquidityPool`] with every field checked — amounts through the
//! exact 7-place parser, the reserves' assets against the pair asked for,
//! and the id against the one the parameters hash to. A malformed record is
//! an error that names the field.

use super::asset::{StellarAsset, parse_amount};
use super::horizon::{HorizonClient, HorizonError};
use super::pool::{LiquidityPool, ordered, pool_id};
use super::tx::hex;
use serde_json::Value;

/// Horizon's `reserves=` form of an asset: `native` or `CODE:ISSUER`.
pub fn reserve_form(a: &StellarAsset) -> String {
    match a {
        StellarAsset::Native => "native".into(),
        other => other.to_string(),
    }
}

fn shape(field: &str, why: impl std::fmt::Display) -> HorizonError {
    HorizonError::Shape(format!("liquidity_pools: {field}: {why}"))
}

fn amount_at(v: &Value, field: &str) -> Result<i64, HorizonError> {
    let text = v
        .as_str()
        .ok_or_else(|| shape(field, "missing or not a string"))?;
    let a = parse_amount(text).ok_or_else(|| shape(field, format!("{text:?} is not an amount")))?;
    if a < 0 {
        return Err(shape(field, format!("{text} is negative")));
    }
    Ok(a)
}

/// The pool of `a`/`b` in a `/liquidity_pools` answer; `None` when the
/// answer lists none.
pub fn parse_pools(
    body: &Value,
    a: &StellarAsset,
    b: &StellarAsset,
) -> Result<Option<LiquidityPool>, HorizonError> {
    let records = body
        .pointer("/_embedded/records")
        .and_then(Value::as_array)
        .ok_or_else(|| shape("_embedded.records", "missing or not a list"))?;
    let Some(r) = records.first() else {
        return Ok(None);
    };
    let (asset_a, asset_b) = ordered(a, b);
    let fee_bp = r
        .get("fee_bp")
        .and_then(Value::as_i64)
        .and_then(|f| i32::try_from(f).ok())
        .filter(|f| (0..10_000).contains(f))
        .ok_or_else(|| shape("fee_bp", "missing or outside 0..10000"))?;
    let total_shares = amount_at(&r["total_shares"], "total_shares")?;
    let reserves = r
        .get("reserves")
        .and_then(Value::as_array)
        .ok_or_else(|| shape("reserves", "missing or not a list"))?;
    let (mut reserve_a, mut reserve_b) = (None, None);
    for (i, res) in reserves.iter().enumerate() {
        let text = res["asset"]
            .as_str()
            .ok_or_else(|| shape(&format!("reserves[{i}].asset"), "missing"))?;
        let asset =
            StellarAsset::parse(text).map_err(|e| shape(&format!("reserves[{i}].asset"), e))?;
        let amount = amount_at(&res["amount"], &format!("reserves[{i}].amount"))?;
        if asset == asset_a {
            reserve_a = Some(amount);
        } else if asset == asset_b {
            reserve_b = Some(amount);
        } else {
            return Err(shape(
                &format!("reserves[{i}].asset"),
                format!("{text} is not in the pair asked for"),
            ));
        }
    }
    let (Some(reserve_a), Some(reserve_b)) = (reserve_a, reserve_b) else {
        return Err(shape("reserves", "does not hold both assets"));
    };
    let id = pool_id(&asset_a, &asset_b, fee_bp).map_err(|e| shape("id", e))?;
    let given = r["id"]
        .as_str()
        .ok_or_else(|| shape("id", "missing or not a string"))?;
    if !given.eq_ignore_ascii_case(&hex(&id)) {
        return Err(shape(
            "id",
            format!("{given} is not the pool of these assets ({})", hex(&id)),
        ));
    }
    Ok(Some(LiquidityPool {
        id,
        asset_a,
        asset_b,
        reserve_a,
        reserve_b,
        fee_bp,
        total_shares,
    }))
}

impl HorizonClient {
    pub async fn liquidity_pool(
        &self,
        a: &StellarAsset,
        b: &StellarAsset,
    ) -> Result<Option<LiquidityPool>, HorizonError> {
        let mut url = self.url("liquidity_pools")?;
        url.query_pairs_mut().append_pair(
            "reserves",
            &format!("{},{}", reserve_form(a), reserve_form(b)),
        );
        let body: Value = self
            .get_json(url)
            .await?
            .ok_or_else(|| shape("answer", "404"))?;
        parse_pools(&body, a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::stellar::keys::Keypair;
    use serde_json::json;

    fn usdc() -> StellarAsset {
        StellarAsset::Credit {
            code: "USDC".into(),
            issuer: Keypair::from_seed([3; 32]).public(),
        }
    }

    fn body(id: &str, amount_b: &str) -> Value {
        json!({"_embedded": {"records": [{
        "id": id, "fee_bp": 30, "total_shares": "100.0000000",
        "reserves": [
            {"asset": "native", "amount": "5000.0000000"},
            {"asset": usdc().to_string(), "amount": amount_b},
        ]}]}})
    }

    #[test]
    fn a_pool_record_is_read_exactly() {
        let id = hex(&pool_id(&StellarAsset::Native, &usdc(), 30).expect("id"));
        let p = parse_pools(&body(&id, "500.0000001"), &usdc(), &StellarAsset::Native)
            .expect("parses")
            .expect("a pool");
        assert_eq!(p.asset_a, StellarAsset::Native);
        assert_eq!((p.reserve_a, p.reserve_b), (50_000_000_000, 5_000_000_001));
        assert_eq!(p.total_shares, 1_000_000_000);
        let none = json!({"_embedded": {"records": []}});
        assert!(matches!(
            parse_pools(&none, &usdc(), &StellarAsset::Native),
            Ok(None)
        ));
    }

    #[test]
    fn a_malformed_record_names_its_field() {
        let id = hex(&pool_id(&StellarAsset::Native, &usdc(), 30).expect("id"));
        let err = |v: Value| {
            parse_pools(&v, &usdc(), &StellarAsset::Native)
                .expect_err("malformed")
                .to_string()
        };
        assert!(err(body(&id, "5.00000001")).contains("reserves[1].amount"));
        assert!(err(body(&id, "-5")).contains("reserves[1].amount"));
        assert!(err(body(&"0".repeat(64), "5")).contains("id"));
        let mut v = body(&id, "5");
        v["_embedded"]["records"][0]["fee_bp"] = json!("30");
        assert!(err(v).contains("fee_bp"));
        assert!(err(json!({"records": []})).contains("_embedded.records"));
    }
}
