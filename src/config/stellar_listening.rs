//! `[stellar_arb]`'s keys for listening to ledger closes (`ledger_stream`,
//! `stream_silence`, `stream_poll_interval`, `stream_retry`) and for the
//! path-finding cross-check before a cycle is sent
//! (`path_check_tolerance_bps`).

use super::ConfigError;
use super::reader::Reader;
use crate::strategy::stellar_arb::StellarArbConfig;

pub(super) fn read(
    r: &mut Reader,
    t: &toml::Table,
    s: &mut StellarArbConfig,
) -> Result<(), ConfigError> {
    if let Some(v) = r.boolean(t, "stellar_arb", "ledger_stream")? {
        s.ledger_stream = v;
    }
    for (key, slot, least) in [
        ("stream_silence", &mut s.stream_silence_ms, 1_000),
        ("stream_poll_interval", &mut s.stream_poll_ms, 100),
        ("stream_retry", &mut s.stream_retry_ms, 1_000),
    ] {
        if let Some(v) = r.duration(t, "stellar_arb", key)? {
            if v < least {
                return Err(r.invalid(
                    &format!("stellar_arb.{key}"),
                    format!("must be at least {least} ms"),
                ));
            }
            *slot = v;
        }
    }
    if let Some(v) = r.int(t, "stellar_arb", "path_check_tolerance_bps")? {
        if v > 10_000 {
            return Err(r.invalid(
                "stellar_arb.path_check_tolerance_bps",
                "at most 10000 (basis points of the amount Horizon quotes)",
            ));
        }
        s.path_check_tolerance_bps = i64::try_from(v).unwrap_or(10_000);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    #[test]
    fn stellar_listening_and_path_check_keys_default_and_name_themselves() {
        let c = parse("").unwrap().stellar_arb;
        assert!(c.ledger_stream);
        assert_eq!(
            (c.stream_silence_ms, c.stream_poll_ms, c.stream_retry_ms),
            (10_000, 1_000, 30_000)
        );
        assert_eq!(c.path_check_tolerance_bps, 50);
        let c = parse(
            "[stellar_arb]\nledger_stream = false\nstream_silence = \"12s\"\npath_check_tolerance_bps = 5\n",
        )
        .unwrap()
        .stellar_arb;
        assert!(!c.ledger_stream);
        assert_eq!(c.stream_silence_ms, 12_000);
        assert_eq!(c.path_check_tolerance_bps, 5);
        for (bad, key) in [
            (
                "path_check_tolerance_bps = -1",
                "stellar_arb.path_check_tolerance_bps",
            ),
            (
                "path_check_tolerance_bps = 10001",
                "stellar_arb.path_check_tolerance_bps",
            ),
            (
                "path_check_tolerance_bps = \"5\"",
                "stellar_arb.path_check_tolerance_bps",
            ),
            ("stream_silence = \"10ms\"", "stellar_arb.stream_silence"),
            (
                "stream_poll_interval = 5",
                "stellar_arb.stream_poll_interval",
            ),
            ("ledger_stream = \"yes\"", "stellar_arb.ledger_stream"),
        ] {
            let e = parse(&format!("[stellar_arb]\n{bad}\n")).unwrap_err();
            assert!(e.to_string().contains(key), "{bad}: {e}");
        }
    }
}
