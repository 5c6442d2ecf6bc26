//! `[alpaca]`: the Alpaca Broker API's base URL (the sandbox unless set),
//! the trading account's id and the request timeout, for the equity hedge
//! with `broker = "alpaca"`. The type itself, `AlpacaConfig`, is the
//! venue's (`venue::alpaca`); the key and secret come from the environment.

use super::ConfigError;
use super::reader::Reader;
use crate::venue::alpaca::AlpacaConfig;

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
