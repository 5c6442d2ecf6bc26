//! `[control]`: the operator's control endpoint on loopback (on by
//! default), and its port.

use super::ConfigError;
use super::reader::Reader;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    pub enabled: bool,
    pub port: u16,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            enabled: true,
            port: 8768,
        }
    }
}

/// `[control]`: `enabled` and `port`.
pub(super) fn read_control(
    r: &mut Reader,
    t: &toml::Table,
    c: &mut ControlConfig,
) -> Result<(), ConfigError> {
    if let Some(v) = r.boolean(t, "control", "enabled")? {
        c.enabled = v;
    }
    if let Some(v) = r.int(t, "control", "port")? {
        c.port = u16::try_from(v).map_err(|_| r.invalid("control.port", "must be 0 to 65535"))?;
    }
    Ok(())
}
