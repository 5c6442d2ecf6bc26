//! `[schwab]`: the Charles Schwab broker's endpoints, the account to trade
//! and its polling, used by the equity hedge and `arbkeep auth schwab`. The
//! type itself, `SchwabConfig`, is the venue's (`venue::schwab`).

use super::ConfigError;
use super::reader::Reader;
use crate::venue::schwab::SchwabConfig;

/// `[schwab]`: URLs must be http(s), the account number its digits.
pub(super) fn read_schwab(
    r: &mut Reader,
    t: &toml::Table,
    c: &mut SchwabConfig,
) -> Result<(), ConfigError> {
    for (key, field) in [
        ("api_url", &mut c.api_url),
        ("auth_url", &mut c.auth_url),
        ("callback_url", &mut c.callback_url),
    ] {
        if let Some(v) = r.string(t, "schwab", key)? {
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                return Err(r.invalid(&format!("schwab.{key}"), "must be an http(s) URL"));
            }
            *field = v;
        }
    }
    if let Some(v) = r.string(t, "schwab", "account_number")? {
        if v.trim().is_empty() || !v.trim().bytes().all(|b| b.is_ascii_digit()) {
            return Err(r.invalid("schwab.account_number", "must be the account's digits"));
        }
        c.account_number = v.trim().to_string();
    }
    if let Some(v) = r.duration(t, "schwab", "poll_interval")? {
        c.poll_interval_ms = v.max(1);
    }
    if let Some(v) = r.duration(t, "schwab", "request_timeout")? {
        c.request_timeout_ms = v.max(1);
    }
    Ok(())
}
