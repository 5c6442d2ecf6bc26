//! `[stellar_arb]`'s fee keys: `fee_percentile` (the percentile of recent
//! inclusion fees bid in a surge) and `max_fee_stroops` (the cap per
//! operation).

use super::ConfigError;
use super::reader::Reader;
use crate::strategy::stellar_arb::StellarArbConfig;
use crate::strategy::stellar_arb::fees::FeePolicy;

pub(super) fn read(
    r: &mut Reader,
    t: &toml::Table,
    s: &mut StellarArbConfig,
) -> Result<(), ConfigError> {
    let percentile = r.int(t, "stellar_arb", "fee_percentile")?;
    let cap = r.int(t, "stellar_arb", "max_fee_stroops")?;
    // `int` has refused negatives already; an absurd size stays absurd.
    let wide = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let p = percentile.map_or(i64::from(s.fee_policy.percentile), wide);
    let c = cap.map_or(i64::from(s.fee_policy.max_fee), wide);
    s.fee_policy = FeePolicy::new(p, c).map_err(|e| {
        let key = match e {
            crate::strategy::stellar_arb::fees::FeePolicyError::Percentile(_) => {
                "stellar_arb.fee_percentile"
            }
            crate::strategy::stellar_arb::fees::FeePolicyError::Cap(_) => {
                "stellar_arb.max_fee_stroops"
            }
        };
        r.invalid(key, e.to_string())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    #[test]
    fn stellar_fee_keys_default_and_name_themselves() {
        let c = parse("").unwrap().stellar_arb;
        assert_eq!(
            (c.fee_policy.percentile, c.fee_policy.max_fee),
            (90, 10_000)
        );
        let c = parse("[stellar_arb]\nfee_percentile = 95\nmax_fee_stroops = 2000\n")
            .unwrap()
            .stellar_arb;
        assert_eq!((c.fee_policy.percentile, c.fee_policy.max_fee), (95, 2_000));
        for (bad, key) in [
            ("fee_percentile = 85", "stellar_arb.fee_percentile"),
            ("fee_percentile = \"90\"", "stellar_arb.fee_percentile"),
            ("max_fee_stroops = 50", "stellar_arb.max_fee_stroops"),
            ("max_fee_stroops = -1", "stellar_arb.max_fee_stroops"),
        ] {
            let e = parse(&format!("[stellar_arb]\n{bad}\n")).unwrap_err();
            assert!(e.to_string().contains(key), "{bad}: {e}");
        }
    }
}
