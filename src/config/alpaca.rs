//! `[alpaca]`: the Alpaca Broker API's base URL (the sandbox unless set),
//! the trading account's id, the request timeout and the order types the
//! account allows (`fractional`, `extended_hours` with its
//! `extended_hours_slippage_bps`), for the equity hedge
//! with `broker = "alpaca"`. The type itself, `AlpacaConfig`, is the
//! venue's (`venue::alpaca`); the key and secret come from the environment.

use super::ConfigError;
use super::reader::Reader;
use crate::venue::alpaca::{AlpacaConfig, MAX_SLIPPAGE_BPS};

/// `[alpaca]`: the URL https (loopback http for the fake), the account a UUID.
pub(super) fn read_alpaca(
    r: &mut Reader,
    t: &toml::Table,
    c: &mut AlpacaConfig,
) -> Result<(), ConfigError> {
    if let Some(v) = r.string(t, "alpaca", "base_url")? {
        if !(v.starts_with("https://") || v.starts_with("http://127.0.0.1")) {
            return Err(r.invalid(
                "alpaca.base_url",
                "must be an https URL (or http://127.0.0.1 for the fake)",
            ));
        }
        c.base_url = v;
    }
    if let Some(v) = r.string(t, "alpaca", "account_id")? {
        let v = v.trim().to_string();
        let uuid = v.len() == 36
            && v.char_indices().all(|(i, ch)| {
                if [8, 13, 18, 23].contains(&i) {
                    ch == '-'
                } else {
                    ch.is_ascii_hexdigit()
                }
            });
        if !uuid {
            return Err(r.invalid(
                "alpaca.account_id",
                "must be the trading account's id, a UUID (8-4-4-4-12 hex)",
            ));
        }
        c.account_id = v;
    }
    if let Some(v) = r.duration(t, "alpaca", "request_timeout")? {
        c.timeout_ms = v.max(1);
    }
    if let Some(v) = r.boolean(t, "alpaca", "fractional")? {
        c.fractional = v;
    }
    if let Some(v) = r.boolean(t, "alpaca", "extended_hours")? {
        c.extended_hours = v;
    }
    if let Some(v) = r.int(t, "alpaca", "extended_hours_slippage_bps")? {
        match u32::try_from(v) {
            Ok(bps) if (1..=MAX_SLIPPAGE_BPS).contains(&bps) => c.extended_hours_slippage_bps = bps,
            _ => {
                return Err(r.invalid(
                    "alpaca.extended_hours_slippage_bps",
                    format!("must be 1 to {MAX_SLIPPAGE_BPS} basis points"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    #[test]
    fn alpaca_keys_are_checked_and_named() {
        let c = parse("[alpaca]\naccount_id = \"904837e3-3b76-47ec-b432-046db621571b\"\n").unwrap();
        assert_eq!(c.alpaca.account_id, "904837e3-3b76-47ec-b432-046db621571b");
        assert!(c.alpaca.base_url.starts_with("https://broker-api.sandbox"));
        assert!(!c.alpaca.fractional && !c.alpaca.extended_hours);
        assert_eq!(c.alpaca.extended_hours_slippage_bps, 50);
        let c = parse(
            "[alpaca]\nfractional = true\nextended_hours = true\nextended_hours_slippage_bps = 25\n",
        )
        .unwrap();
        assert!(c.alpaca.fractional && c.alpaca.extended_hours);
        assert_eq!(c.alpaca.extended_hours_slippage_bps, 25);
        for (bad, key) in [
            ("[alpaca]\nfractional = \"yes\"\n", "alpaca.fractional"),
            ("[alpaca]\nextended_hours = 1\n", "alpaca.extended_hours"),
            (
                "[alpaca]\nextended_hours_slippage_bps = 0\n",
                "alpaca.extended_hours_slippage_bps",
            ),
            (
                "[alpaca]\nextended_hours_slippage_bps = 1001\n",
                "alpaca.extended_hours_slippage_bps",
            ),
            (
                "[alpaca]\nextended_hours_slippage_bps = -5\n",
                "alpaca.extended_hours_slippage_bps",
            ),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.to_string().contains(key), "{bad}: {e}");
        }
        for bad in [
            "[alpaca]\naccount_id = \"12345\"\n",
            "[alpaca]\nbase_url = \"http://broker.example\"\n",
            "[alpaca]\nsecret = \"x\"\n",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.to_string().contains("alpaca."), "{bad}: {e}");
        }
    }
}
