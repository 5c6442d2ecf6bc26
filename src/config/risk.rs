//! `[risk]`: the loop's daily loss limit and when an opportunity waits for
//! the operator (`Approval`), and the kill switch's limits over every
//! strategy: `daily_drawdown_usd` and `[risk.caps]` (`BalanceCap` per
//! venue and asset, the venues being `CAP_VENUES`).

use super::ConfigError;
use super::reader::Reader;
use crate::model::{Chain, TokenId, Units, from_decimal};
use rust_decimal::Decimal;
use std::fmt;

/// When an opportunity waits for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    Auto,
    Manual,
    /// Sizes strictly above this many VCRED base units wait for approval.
    Above(Units),
}

impl fmt::Display for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Approval::Auto => f.write_str("auto"),
            Approval::Manual => f.write_str("manual"),
            Approval::Above(units) => {
                write!(f, "above {} VCRED", crate::model::format_units(*units, 6))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskConfig {
    pub daily_loss_limit_vcred: Decimal,
    pub approval: Approval,
    /// The kill switch's drawdown limit over every strategy per UTC day
    /// (`engine::kill`); off when `None`.
    pub daily_drawdown_usd: Option<Decimal>,
    /// `[risk.caps]`: the most each venue may hold of an asset.
    pub caps: Vec<BalanceCap>,
}

/// `[risk.caps]` `"venue.asset" = amount`: the most of `asset` that `venue`
/// may hold before the kill switch trips.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BalanceCap {
    pub venue: String,
    pub asset: String,
    pub max: Decimal,
}

impl BalanceCap {
    /// Its key in the config: `venue.asset`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.venue, self.asset)
    }
}

/// The venues whose holdings the kill switch sees, for `[risk.caps]` keys.
pub const CAP_VENUES: [&str; 3] = ["hemi", "ethereum", "stellar"];

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            daily_loss_limit_vcred: Decimal::from(500),
            approval: Approval::Auto,
            daily_drawdown_usd: None,
            caps: Vec::new(),
        }
    }
}

/// `[risk]`, `[risk.caps]` included.
pub(super) fn read_risk(
    r: &mut Reader,
    t: &toml::Table,
    risk: &mut RiskConfig,
) -> Result<(), ConfigError> {
    if let Some(v) = r.decimal(t, "risk", "daily_loss_limit_vcred")? {
        if v.is_sign_negative() {
            return Err(r.invalid("risk.daily_loss_limit_vcred", "must not be negative"));
        }
        risk.daily_loss_limit_vcred = v;
    }
    if let Some(v) = r.decimal(t, "risk", "daily_drawdown_usd")? {
        if v.is_sign_negative() || v.is_zero() {
            return Err(r.invalid(
                "risk.daily_drawdown_usd",
                "must be above 0 (leave it out to turn the kill switch's drawdown off)",
            ));
        }
        risk.daily_drawdown_usd = Some(v);
    }
    if let Some(caps) = r.section(t, "caps")? {
        risk.caps = read_caps(r, caps)?;
    }
    let threshold = r.decimal(t, "risk", "approval_threshold_vcred")?;
    if let Some(v) = r.string(t, "risk", "approval")? {
        risk.approval = match v.as_str() {
            "auto" => Approval::Auto,
            "manual" => Approval::Manual,
            "above" => {
                let th = threshold.ok_or_else(|| {
                    r.invalid(
                        "risk.approval_threshold_vcred",
                        "is required when risk.approval = \"above\"",
                    )
                })?;
                Approval::Above(
                    from_decimal(th, 6)
                        .map_err(|e| r.invalid("risk.approval_threshold_vcred", e.to_string()))?,
                )
            }
            _ => {
                return Err(r.invalid(
                    "risk.approval",
                    "expected \"auto\", \"manual\" or \"above\"",
                ));
            }
        };
    }
    Ok(())
}

/// `[risk.caps]`: `"venue.asset" = amount`, the venue one the kill switch
/// sees (`CAP_VENUES`), the asset one that venue holds.
fn read_caps(r: &mut Reader, t: &toml::Table) -> Result<Vec<BalanceCap>, ConfigError> {
    r.seen.insert("risk.caps".into());
    let mut caps = Vec::new();
    for name in t.keys() {
        let key = format!("risk.caps.\"{name}\"");
        let (venue, asset) = name
            .split_once('.')
            .map(|(v, a)| (v.trim().to_ascii_lowercase(), a.trim().to_string()))
            .filter(|(v, a)| !v.is_empty() && !a.is_empty())
            .ok_or_else(|| {
                r.invalid(
                    &key,
                    "expected \"venue.asset\", e.g. \"hemi.VCRED\" or \"stellar.XLM\"",
                )
            })?;
        if !CAP_VENUES.contains(&venue.as_str()) {
            return Err(r.invalid(
                &key,
                format!(
                    "unknown venue {venue:?} (expected one of {})",
                    CAP_VENUES.join(", ")
                ),
            ));
        }
        if let Some(chain) = Chain::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(&venue))
            && !TokenId::ALL
                .into_iter()
                .any(|tok| tok.exists_on(chain) && tok.symbol().eq_ignore_ascii_case(&asset))
        {
            return Err(r.invalid(&key, format!("{asset} is not a token on {}", chain.name())));
        }
        let Some(max) = r.decimal(t, "risk.caps", name)? else {
            continue;
        };
        if max.is_sign_negative() {
            return Err(r.invalid(&key, "must not be negative"));
        }
        caps.push(BalanceCap { venue, asset, max });
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn the_kill_switch_reads_its_drawdown_and_caps_and_names_a_bad_key() {
        let c = parse("[risk]\ndaily_drawdown_usd = \"250.5\"\n[risk.caps]\n\"hemi.VCRED\" = \"50000\"\n\"stellar.XLM\" = 20000\n").unwrap();
        assert_eq!(c.risk.daily_drawdown_usd, Some("250.5".parse().unwrap()));
        let keys: Vec<String> = c.risk.caps.iter().map(|c| c.key()).collect();
        assert_eq!(keys, ["hemi.VCRED", "stellar.XLM"]);
        assert_eq!(
            parse("").unwrap().risk.daily_drawdown_usd,
            None,
            "off by default"
        );
        for (text, key) in [
            (
                "[risk]\ndaily_drawdown_usd = \"0\"\n",
                "risk.daily_drawdown_usd",
            ),
            ("[risk.caps]\nhemi = \"1\"\n", "risk.caps.\"hemi\""),
            (
                "[risk.caps]\n\"binance.BTC\" = \"1\"\n",
                "risk.caps.\"binance.BTC\"",
            ),
            (
                "[risk.caps]\n\"hemi.DOGE\" = \"1\"\n",
                "risk.caps.\"hemi.DOGE\"",
            ),
            (
                "[risk.caps]\n\"hemi.ETH\" = \"-1\"\n",
                "risk.caps.\"hemi.ETH\"",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text:?}: {e}");
        }
    }

    #[test]
    fn approval_above_needs_a_threshold() {
        let e = parse("[risk]\napproval = \"above\"\n").unwrap_err();
        assert!(e.to_string().contains("approval_threshold_vcred"), "{e}");
        let c =
            parse("[risk]\napproval = \"above\"\napproval_threshold_vcred = \"2500\"\n").unwrap();
        assert_eq!(c.risk.approval, Approval::Above(2_500_000_000));
    }
}
