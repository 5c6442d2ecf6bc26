//! The one reader of `config.toml`: typed reads of a table's keys (strings,
//! lists, booleans, whole numbers, exact decimals, durations) that record
//! every key they look at, so that `reject_unknown` can refuse whatever no
//! section read, and `invalid`, which names the key in every error.
//! `ConfigError` is what loading a config can fail with.

use crate::model::time::{HOUR, MINUTE, SECOND};
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::str::FromStr;
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: not valid TOML: {reason}")]
    Syntax { path: String, reason: String },
    #[error("{path}: `{key}`: {problem}")]
    Invalid {
        path: String,
        key: String,
        problem: String,
    },
    #[error("{path}: unknown key `{key}` (see config.toml.example for every key)")]
    Unknown { path: String, key: String },
    #[error("environment: {var}: {problem}")]
    Env { var: String, problem: String },
}

/// "90s", "5m", "24h", "2d", "250ms" → milliseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 5m, 24h"))?;
    let factor = match unit {
        "ms" => 1,
        "s" | "" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        "d" => 24 * HOUR,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m, h or d)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// Reads typed values out of a TOML table, remembering which keys it read.
pub(super) struct Reader {
    pub(super) path: String,
    pub(super) seen: BTreeSet<String>,
}

impl Reader {
    pub(super) fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            key: key.to_string(),
            problem: problem.into(),
        }
    }

    fn full(section: &str, key: &str) -> String {
        if section.is_empty() {
            key.to_string()
        } else {
            format!("{section}.{key}")
        }
    }

    fn get<'a>(&mut self, t: &'a toml::Table, section: &str, key: &str) -> Option<&'a toml::Value> {
        self.seen.insert(Self::full(section, key));
        t.get(key)
    }

    pub(super) fn section<'a>(
        &mut self,
        t: &'a toml::Table,
        name: &str,
    ) -> Result<Option<&'a toml::Table>, ConfigError> {
        self.seen.insert(name.to_string());
        match t.get(name) {
            None => Ok(None),
            Some(toml::Value::Table(inner)) => Ok(Some(inner)),
            Some(_) => Err(self.invalid(name, "must be a table ([section])")),
        }
    }

    pub(super) fn string(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<String>, ConfigError> {
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::String(v)) => Ok(Some(v.clone())),
            Some(other) => Err(self.invalid(
                &Self::full(s, k),
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    }

    pub(super) fn strings(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_string).ok_or_else(|| {
                        self.invalid(&Self::full(s, k), "expected a list of strings")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.invalid(&Self::full(s, k), "expected a list of strings")),
        }
    }

    pub(super) fn ints(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<Vec<i64>>, ConfigError> {
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_integer().ok_or_else(|| {
                        self.invalid(&Self::full(s, k), "expected a list of whole numbers")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.invalid(&Self::full(s, k), "expected a list of whole numbers")),
        }
    }

    pub(super) fn boolean(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<bool>, ConfigError> {
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::Boolean(v)) => Ok(Some(*v)),
            Some(_) => Err(self.invalid(&Self::full(s, k), "expected true or false")),
        }
    }

    pub(super) fn int_signed(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<i64>, ConfigError> {
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::Integer(v)) => Ok(Some(*v)),
            Some(_) => Err(self.invalid(&Self::full(s, k), "expected a whole number")),
        }
    }

    pub(super) fn int(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<u64>, ConfigError> {
        match self.int_signed(t, s, k)? {
            None => Ok(None),
            Some(v) => u64::try_from(v)
                .map(Some)
                .map_err(|_| self.invalid(&Self::full(s, k), "must not be negative")),
        }
    }

    pub(super) fn positive_u32(&self, key: &str, v: u64) -> Result<u32, ConfigError> {
        match u32::try_from(v) {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(self.invalid(key, "must be a whole number above 0")),
        }
    }

    /// Amounts: a string ("100.5", exact) or a whole number.
    pub(super) fn decimal(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<Decimal>, ConfigError> {
        let key = Self::full(s, k);
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::String(v)) => Decimal::from_str(v.trim())
                .map(Some)
                .map_err(|_| self.invalid(&key, format!("{v:?} is not a decimal number"))),
            Some(toml::Value::Integer(v)) => Ok(Some(Decimal::from(*v))),
            Some(toml::Value::Float(_)) => Err(self.invalid(
                &key,
                "write amounts as a string (\"0.5\") or a whole number: floats are not exact",
            )),
            Some(_) => Err(self.invalid(&key, "expected a number")),
        }
    }

    pub(super) fn duration(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<u64>, ConfigError> {
        let key = Self::full(s, k);
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::String(v)) => parse_duration(v)
                .map(Some)
                .map_err(|p| self.invalid(&key, p)),
            Some(_) => Err(self.invalid(
                &key,
                "expected a duration string like \"12s\", \"5m\" or \"24h\"",
            )),
        }
    }

    pub(super) fn reject_unknown(&self, t: &toml::Table, prefix: &str) -> Result<(), ConfigError> {
        for (key, value) in t {
            let full = Self::full(prefix, key);
            if !self.seen.contains(&full) {
                return Err(ConfigError::Unknown {
                    path: self.path.clone(),
                    key: full,
                });
            }
            if let toml::Value::Table(inner) = value {
                self.reject_unknown(inner, &full)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn unknown_keys_are_refused() {
        let e = parse("[risk]\ndaily_loss_limit = 5\n").unwrap_err();
        assert_eq!(
            e,
            ConfigError::Unknown {
                path: "test.toml".into(),
                key: "risk.daily_loss_limit".into()
            }
        );
    }

    #[test]
    fn floats_for_money_are_refused() {
        let e = parse("[cross_chain_loop]\nmin_profit_vcred = 0.1\n").unwrap_err();
        assert!(e.to_string().contains("floats are not exact"), "{e}");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("24h"), Ok(86_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert!(parse_duration("5 weeks").is_err());
    }
}
