//! `[alerts]`: the watchdog's thresholds (how often a held alarm is told
//! again, and the low-gas and low-XLM levels), see `engine::watchdog`.

use super::ConfigError;
use super::reader::Reader;
use crate::model::time::HOUR;
use crate::model::{Chain, Units, from_decimal};
use std::collections::BTreeMap;

/// `[alerts]`: the watchdog's thresholds (see `engine::watchdog`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    /// A raised alarm is told again this often while it holds (0: once).
    pub realert_after_ms: u64,
    /// Native gas (wei of ETH) below which a chain's alarm is raised.
    pub low_gas_wei: BTreeMap<Chain, Units>,
    /// XLM (stroops) below which a Stellar account's alarm is raised.
    pub low_xlm_stroops: Option<i64>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            realert_after_ms: 6 * HOUR,
            low_gas_wei: BTreeMap::new(),
            low_xlm_stroops: None,
        }
    }
}

/// `[alerts]`: `realert_after`, `low_xlm`, and `[alerts.low_gas]` with a
/// threshold (ETH) per chain name.
pub(super) fn read_alerts(
    r: &mut Reader,
    t: &toml::Table,
    a: &mut AlertsConfig,
) -> Result<(), ConfigError> {
    if let Some(v) = r.duration(t, "alerts", "realert_after")? {
        a.realert_after_ms = v;
    }
    if let Some(v) = r.decimal(t, "alerts", "low_xlm")? {
        let stroops = from_decimal(v, 7)
            .ok()
            .and_then(|u| i64::try_from(u).ok())
            .ok_or_else(|| r.invalid("alerts.low_xlm", "must be a positive amount of XLM"))?;
        a.low_xlm_stroops = Some(stroops);
    }
    if let Some(gas) = r.section(t, "low_gas")? {
        r.seen.insert("alerts.low_gas".into());
        for name in gas.keys() {
            let key = format!("alerts.low_gas.{name}");
            let chain = Chain::ALL
                .into_iter()
                .find(|c| c.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| r.invalid(&key, "unknown chain (expected hemi or ethereum)"))?;
            let Some(v) = r.decimal(gas, "alerts.low_gas", name)? else {
                continue;
            };
            let wei = from_decimal(v, 18).map_err(|e| r.invalid(&key, e.to_string()))?;
            a.low_gas_wei.insert(chain, wei);
        }
    }
    Ok(())
}
