//! `[stellar_arb]`: the Stellar strategy's network, endpoints, contracts,
//! accounts, scan interval, oracle age and assets. The type itself,
//! `StellarArbConfig`, is the strategy's (`strategy::stellar_arb`); its
//! secret comes from `STELLAR_SECRET_SEED` only.

use super::ConfigError;
use super::reader::Reader;
use crate::strategy::stellar_arb::{Network, StellarArbConfig};

/// `[stellar_arb]`: network, endpoints, contracts, accounts, scan
/// interval, assets. The Friendbot defaults by network.
pub(super) fn read_stellar_arb(
    r: &mut Reader,
    t: &toml::Table,
    s: &mut StellarArbConfig,
) -> Result<(), ConfigError> {
    if let Some(v) = r.boolean(t, "stellar_arb", "enabled")? {
        s.enabled = v;
    }
    if let Some(v) = r.string(t, "stellar_arb", "network")? {
        (s.network, s.passphrase) = match v.to_ascii_uppercase().as_str() {
            "TESTNET" => (
                Network::Testnet,
                crate::venue::stellar::TESTNET_PASSPHRASE.into(),
            ),
            "PUBLIC" => (
                Network::Public,
                crate::venue::stellar::PUBLIC_PASSPHRASE.into(),
            ),
            _ => {
                return Err(r.invalid("stellar_arb.network", "expected \"TESTNET\" or \"PUBLIC\""));
            }
        };
    }
    // Friendbot exists on TESTNET only; on PUBLIC the master
    // account creates the trading accounts.
    s.friendbot_url = (s.network == Network::Testnet)
        .then(|| crate::strategy::stellar_arb::TESTNET_FRIENDBOT.to_string());
    if let Some(v) = r.string(t, "stellar_arb", "friendbot_url")? {
        if s.network == Network::Public {
            return Err(r.invalid(
                        "stellar_arb.friendbot_url",
                        "PUBLIC has no Friendbot: remove the key (the master account creates and funds the trading accounts)",
                    ));
        }
        if !(v.starts_with("https://") || v.starts_with("http://")) {
            return Err(r.invalid("stellar_arb.friendbot_url", "must be an http(s) URL"));
        }
        s.friendbot_url = Some(v);
    }
    for (key, slot) in [
        ("horizon_url", &mut s.horizon_url),
        ("rpc_url", &mut s.rpc_url),
        ("passphrase", &mut s.passphrase),
        ("detector_contract", &mut s.detector_contract),
        ("reflector_contract", &mut s.reflector_contract),
    ] {
        if let Some(v) = r.string(t, "stellar_arb", key)? {
            *slot = v;
        }
    }
    for key in ["detector_contract", "reflector_contract"] {
        let v = if key == "detector_contract" {
            &s.detector_contract
        } else {
            &s.reflector_contract
        };
        crate::venue::stellar::ContractKey::parse(v)
            .map_err(|e| r.invalid(&format!("stellar_arb.{key}"), e.to_string()))?;
    }
    if let Some(v) = r.int(t, "stellar_arb", "num_accounts")? {
        s.num_accounts = r.positive_u32("stellar_arb.num_accounts", v)?;
    }
    if let Some(v) = r.duration(t, "stellar_arb", "scan_interval")? {
        s.scan_interval_ms = v;
    }
    if let Some(v) = r.duration(t, "stellar_arb", "oracle_max_age")? {
        if v < 1_000 {
            return Err(r.invalid("stellar_arb.oracle_max_age", "must be at least 1s"));
        }
        s.oracle_max_age_secs = v / 1_000;
    }
    if let Some(v) = r.boolean(t, "stellar_arb", "autostart")? {
        s.autostart = v;
    }
    if let Some(v) = r.decimal(t, "stellar_arb", "account_starting_xlm")? {
        // Stroops are 7 decimals; a new account needs 1 XLM (two base
        // reserves) or CreateAccount fails with op_low_reserve.
        s.account_starting_xlm = crate::venue::stellar::parse_amount(&v.to_string())
            .filter(|x| *x >= 2 * crate::venue::stellar::BASE_RESERVE)
            .ok_or_else(|| {
                r.invalid(
                    "stellar_arb.account_starting_xlm",
                    format!("{v} is not an amount of XLM of at least 1 with at most 7 decimals"),
                )
            })?;
    }
    if let Some(list) = r.strings(t, "stellar_arb", "assets")? {
        s.assets = list
            .iter()
            .map(|a| crate::venue::stellar::StellarAsset::parse(a))
            .collect::<Result<_, _>>()
            .map_err(|e| r.invalid("stellar_arb.assets", e.to_string()))?;
    }
    super::stellar_listening::read(r, t, s)?;
    super::stellar_fees::read(r, t, s)
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    #[test]
    fn stellar_friendbot_defaults_by_network_and_names_its_key() {
        let c = parse("[stellar_arb]\nnetwork = \"TESTNET\"\n").unwrap();
        assert_eq!(
            c.stellar_arb.friendbot_url.as_deref(),
            Some("https://friendbot.stellar.org/")
        );
        let c = parse("[stellar_arb]\nnetwork = \"PUBLIC\"\n").unwrap();
        assert_eq!(c.stellar_arb.friendbot_url, None);
        let c = parse("[stellar_arb]\nfriendbot_url = \"http://127.0.0.1:9/friendbot\"\n").unwrap();
        assert_eq!(
            c.stellar_arb.friendbot_url.as_deref(),
            Some("http://127.0.0.1:9/friendbot")
        );
        let e = parse("[stellar_arb]\nnetwork = \"PUBLIC\"\nfriendbot_url = \"https://x/\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("stellar_arb.friendbot_url"), "{e}");
        let e = parse("[stellar_arb]\nfriendbot_url = \"ftp://x\"\n").unwrap_err();
        assert!(e.to_string().contains("stellar_arb.friendbot_url"), "{e}");
    }

    #[test]
    fn stellar_oracle_max_age_defaults_to_ten_minutes_and_is_a_duration() {
        assert_eq!(parse("").unwrap().stellar_arb.oracle_max_age_secs, 600);
        let c = parse("[stellar_arb]\noracle_max_age = \"3m\"\n").unwrap();
        assert_eq!(c.stellar_arb.oracle_max_age_secs, 180);
        for bad in ["\"500ms\"", "\"soon\"", "5"] {
            let e = parse(&format!("[stellar_arb]\noracle_max_age = {bad}\n")).unwrap_err();
            assert!(
                e.to_string().contains("stellar_arb.oracle_max_age"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn stellar_account_starting_xlm_is_exact_and_at_least_the_minimum_balance() {
        assert_eq!(
            parse("").unwrap().stellar_arb.account_starting_xlm,
            50_000_000
        );
        let c = parse("[stellar_arb]\naccount_starting_xlm = \"12.5\"\n").unwrap();
        assert_eq!(c.stellar_arb.account_starting_xlm, 125_000_000);
        for bad in ["\"0.5\"", "\"1.00000001\"", "\"ten\"", "2.5"] {
            let e = parse(&format!("[stellar_arb]\naccount_starting_xlm = {bad}\n")).unwrap_err();
            assert!(
                e.to_string().contains("stellar_arb.account_starting_xlm"),
                "{bad}: {e}"
            );
        }
    }
}
