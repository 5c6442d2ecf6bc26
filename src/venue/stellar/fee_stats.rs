//! What the network says inclusion fees are: Stellar RPC's `getFeeStats`
//! (`inclusionFee`, classic transactions, per operation) or, as a fallback,
//! Horizon's `GET /fee_stats` (`fee_charged`, `last_ledger_base_fee`,
//! `ledger_capacity_usage`). Both give the figures as decimal strings; they
//! are parsed strictly into stroops, and a malformed answer is an error that
//! names the field.

use serde_json::Value;

/// The percentiles both servers give, in order.
pub const PERCENTILES: [u8; 11] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99];

/// The classic network's minimum fee per operation (protocol base fee).
pub const NETWORK_BASE_FEE: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeStatsError {
    #[error("fee stats: {field} is missing")]
    Missing { field: String },
    #[error("fee stats: {field} is not a whole number of stroops: {value}")]
    NotStroops { field: String, value: String },
}

/// Inclusion fees charged per operation in recent ledgers, stroops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeDistribution {
    pub min: u32,
    pub max: u32,
    pub mode: u32,
    /// One per [`PERCENTILES`], same order.
    pub percentiles: [u32; 11],
}

impl FeeDistribution {
    /// The fee at percentile `p` (one of [`PERCENTILES`]).
    pub fn percentile(&self, p: u8) -> Option<u32> {
        let i = PERCENTILES.iter().position(|&q| q == p)?;
        self.percentiles.get(i).copied()
    }

    /// Every figure the same: what a quiet network (or a sim) shows.
    pub fn flat(fee: u32) -> Self {
        Self {
            min: fee,
            max: fee,
            mode: fee,
            percentiles: [fee; 11],
        }
    }
}

/// What the keeper prices its transactions by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeStats {
    /// Classic (non-Soroban) inclusion fees, per operation.
    pub classic: FeeDistribution,
    pub latest_ledger: u32,
    /// Horizon's `last_ledger_base_fee` (RPC does not give it).
    pub base_fee: Option<u32>,
    /// Horizon's `ledger_capacity_usage`, per mille (RPC does not give it).
    pub capacity_per_mille: Option<u32>,
}

fn field<'a>(v: &'a Value, path: &str, name: &str) -> Result<&'a Value, FeeStatsError> {
    v.get(name).ok_or_else(|| FeeStatsError::Missing {
        field: join(path, name),
    })
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// A decimal string of digits only, fitting a u32 (a fee field is u32).
fn stroops(v: &Value, path: &str, name: &str) -> Result<u32, FeeStatsError> {
    let raw = field(v, path, name)?;
    let bad = || FeeStatsError::NotStroops {
        field: join(path, name),
        value: raw.to_string().chars().take(40).collect(),
    };
    let text = raw.as_str().ok_or_else(bad)?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse::<u32>().map_err(|_| bad())
}

fn distribution(v: &Value, path: &str) -> Result<FeeDistribution, FeeStatsError> {
    let mut percentiles = [0u32; 11];
    for (slot, p) in percentiles.iter_mut().zip(PERCENTILES) {
        *slot = stroops(v, path, &format!("p{p}"))?;
    }
    Ok(FeeDistribution {
        min: stroops(v, path, "min")?,
        max: stroops(v, path, "max")?,
        mode: stroops(v, path, "mode")?,
        percentiles,
    })
}

/// getFeeStats' `result`.
pub fn from_rpc(result: &Value) -> Result<FeeStats, FeeStatsError> {
    let classic = distribution(field(result, "", "inclusionFee")?, "inclusionFee")?;
    let latest = field(result, "", "latestLedger")?;
    let latest_ledger = latest
        .as_u64()
        .and_then(|l| u32::try_from(l).ok())
        .ok_or_else(|| FeeStatsError::NotStroops {
            field: "latestLedger".into(),
            value: latest.to_string().chars().take(40).collect(),
        })?;
    Ok(FeeStats {
        classic,
        latest_ledger,
        base_fee: None,
        capacity_per_mille: None,
    })
}

/// Horizon's `/fee_stats` body.
pub fn from_horizon(body: &Value) -> Result<FeeStats, FeeStatsError> {
    let classic = distribution(field(body, "", "fee_charged")?, "fee_charged")?;
    let latest_ledger = stroops(body, "", "last_ledger")?;
    let base_fee = stroops(body, "", "last_ledger_base_fee")?;
    let usage = field(body, "", "ledger_capacity_usage")?;
    let capacity = usage
        .as_str()
        .and_then(per_mille)
        .ok_or_else(|| FeeStatsError::NotStroops {
            field: "ledger_capacity_usage".into(),
            value: usage.to_string().chars().take(40).collect(),
        })?;
    Ok(FeeStats {
        classic,
        latest_ledger,
        base_fee: Some(base_fee),
        capacity_per_mille: Some(capacity),
    })
}

/// "0.97" → 970, "1" → 1000; at most 1.0, at most three decimals read.
fn per_mille(text: &str) -> Option<u32> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let mut digits = frac.bytes().map(|b| u32::from(b - b'0'));
    let mut milli = 0u32;
    for scale in [100, 10, 1] {
        milli += digits.next().unwrap_or(0) * scale;
    }
    let v = whole.checked_mul(1000)?.checked_add(milli)?;
    (v <= 1000).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dist(base: u32) -> Value {
        let mut d = json!({"max": (base * 10).to_string(), "min": base.to_string(),
            "mode": base.to_string(), "transactionCount": "10", "ledgerCount": 50});
        for (i, p) in PERCENTILES.iter().enumerate() {
            d[format!("p{p}")] = json!((base + i as u32).to_string());
        }
        d
    }

    #[test]
    fn rpc_fee_stats_parse_to_stroops_per_percentile() {
        let s = from_rpc(
            &json!({"inclusionFee": dist(100), "sorobanInclusionFee": dist(1),
            "latestLedger": 4519945}),
        )
        .unwrap();
        assert_eq!(s.classic.percentile(10), Some(100));
        assert_eq!(s.classic.percentile(99), Some(110));
        assert_eq!(s.classic.percentile(15), None);
        assert_eq!((s.classic.min, s.latest_ledger), (100, 4519945));
    }

    #[test]
    fn horizon_fee_stats_parse_with_capacity_and_base_fee() {
        let s = from_horizon(
            &json!({"last_ledger": "22606298", "last_ledger_base_fee": "100",
            "ledger_capacity_usage": "0.97", "fee_charged": dist(100), "max_fee": dist(100)}),
        )
        .unwrap();
        assert_eq!(s.capacity_per_mille, Some(970));
        assert_eq!(s.base_fee, Some(100));
        assert_eq!(per_mille("1"), Some(1000));
        assert_eq!(per_mille("1.5"), None);
        assert_eq!(per_mille("-0.1"), None);
    }

    #[test]
    fn malformed_fee_stats_are_refused_naming_the_field() {
        for (bad, name) in [
            (json!("12.5"), "inclusionFee.p90"),
            (json!(-1), "inclusionFee.p90"),
            (json!("-100"), "inclusionFee.p90"),
            (json!("99999999999"), "inclusionFee.p90"),
            (json!(""), "inclusionFee.p90"),
        ] {
            let mut d = dist(100);
            d["p90"] = bad;
            let e = from_rpc(&json!({"inclusionFee": d, "latestLedger": 1})).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
        let mut d = dist(100);
        d.as_object_mut().unwrap().remove("min");
        let e = from_rpc(&json!({"inclusionFee": d, "latestLedger": 1})).unwrap_err();
        assert!(e.to_string().contains("inclusionFee.min"), "{e}");
        let e = from_rpc(&json!({"latestLedger": 1})).unwrap_err();
        assert!(e.to_string().contains("inclusionFee"), "{e}");
        let e = from_horizon(&json!({"last_ledger": "1", "last_ledger_base_fee": "100",
            "ledger_capacity_usage": "lots", "fee_charged": dist(100)}))
        .unwrap_err();
        assert!(e.to_string().contains("ledger_capacity_usage"), "{e}");
    }
}
