//! `[metrics]`: the Prometheus endpoint on loopback, off unless the section
//! is present; its `port` is then required.

use super::ConfigError;
use super::reader::Reader;

/// `[metrics]`: the Prometheus endpoint on loopback. Absent: off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Port on 127.0.0.1; 0 takes a free one (logged, and written to
    /// `<data_dir>/metrics.addr`).
    pub port: u16,
}

/// `[metrics]`: present, it turns the endpoint on at `port`.
pub(super) fn read_metrics(r: &mut Reader, t: &toml::Table) -> Result<MetricsConfig, ConfigError> {
    let port = r
        .int(t, "metrics", "port")?
        .ok_or_else(|| r.invalid("metrics.port", "is required: 0 to 65535 (0: any free port)"))?;
    Ok(MetricsConfig {
        port: u16::try_from(port).map_err(|_| r.invalid("metrics.port", "must be 0 to 65535"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn metrics_are_off_unless_configured_and_the_port_is_checked() {
        assert_eq!(parse("").unwrap().metrics, None);
        let c = parse("[metrics]\nport = 9464\n").unwrap();
        assert_eq!(c.metrics, Some(MetricsConfig { port: 9464 }));
        assert_eq!(
            parse("[metrics]\nport = 0\n").unwrap().metrics,
            Some(MetricsConfig { port: 0 })
        );
        for bad in [
            "[metrics]\n",
            "[metrics]\nport = 70000\n",
            "[metrics]\nport = -1\n",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.to_string().contains("metrics.port"), "{bad:?}: {e}");
        }
        let e = parse("[metrics]\nport = 1\nbind = \"0.0.0.0\"\n").unwrap_err();
        assert!(e.to_string().contains("metrics.bind"), "{e}");
    }
}
