//! `[logs]`: how the diagnostic log is kept from filling the disk (its
//! size before rotation and how many rotated files are kept).

use super::ConfigError;
use super::reader::Reader;

/// `[logs]`: how the diagnostic log is kept from filling the disk
/// (`logging`). The money log is never limited: it rolls by day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogsConfig {
    /// `diag.jsonl` is rotated before it would grow past this.
    pub diag_max_bytes: u64,
    /// Rotated files kept (`diag.1.jsonl` … `diag.N.jsonl`); older ones are deleted.
    pub diag_keep: u32,
}

/// The smallest `logs.diag_max_bytes`: a few hundred lines.
pub const MIN_DIAG_MAX_BYTES: u64 = 64 * 1024;
/// The most `logs.diag_keep`.
pub const MAX_DIAG_KEEP: u32 = 100;

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            diag_max_bytes: 50 * 1024 * 1024,
            diag_keep: 5,
        }
    }
}

/// `[logs]`: `diag_max_bytes` and `diag_keep`, each within its bounds.
pub(super) fn read_logs(
    r: &mut Reader,
    t: &toml::Table,
    l: &mut LogsConfig,
) -> Result<(), ConfigError> {
    if let Some(v) = r.int(t, "logs", "diag_max_bytes")? {
        if v < MIN_DIAG_MAX_BYTES {
            return Err(r.invalid(
                "logs.diag_max_bytes",
                format!("must be at least {MIN_DIAG_MAX_BYTES} (64 KiB)"),
            ));
        }
        l.diag_max_bytes = v;
    }
    if let Some(v) = r.int(t, "logs", "diag_keep")? {
        l.diag_keep = u32::try_from(v)
            .ok()
            .filter(|k| *k <= MAX_DIAG_KEEP)
            .ok_or_else(|| r.invalid("logs.diag_keep", format!("must be 0 to {MAX_DIAG_KEEP}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn log_limits_default_and_are_read_and_checked_by_key() {
        assert_eq!(parse("").unwrap().logs, LogsConfig::default());
        assert_eq!(LogsConfig::default().diag_max_bytes, 52_428_800);
        let c = parse("[logs]\ndiag_max_bytes = 1048576\ndiag_keep = 0\n").unwrap();
        assert_eq!(
            c.logs,
            LogsConfig {
                diag_max_bytes: 1_048_576,
                diag_keep: 0
            }
        );
        for (text, key) in [
            ("[logs]\ndiag_max_bytes = 100\n", "logs.diag_max_bytes"),
            (
                "[logs]\ndiag_max_bytes = \"50MiB\"\n",
                "logs.diag_max_bytes",
            ),
            ("[logs]\ndiag_keep = 101\n", "logs.diag_keep"),
            ("[logs]\ndiag_keep = -1\n", "logs.diag_keep"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.to_string().contains(key), "{text}: {e}");
        }
        let e = parse("[logs]\nmoney_keep = 3\n").unwrap_err();
        assert!(e.to_string().contains("logs.money_keep"), "{e}");
    }
}
