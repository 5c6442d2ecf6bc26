//! Secrets: the values read from the environment only (the private key,
//! the mnemonic, the webhook URL), never from `config.toml`, and a `Secret`
//! that never prints.

use super::ConfigError;

pub use crate::model::Secret;

/// Secrets read from the environment at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub private_key: Option<Secret>,
    pub mnemonic: Option<Secret>,
    pub webhook_url: Option<Secret>,
}

impl Secrets {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let read = |name: &str| get(name).filter(|v| !v.trim().is_empty()).map(Secret::new);
        let secrets = Secrets {
            private_key: read("ARBITRAGE_PRIVATE_KEY"),
            mnemonic: read("ARBITRAGE_MNEMONIC"),
            webhook_url: read("ARBKEEP_WEBHOOK_URL"),
        };
        if let Some(url) = &secrets.webhook_url {
            let u = url.expose();
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(ConfigError::Env {
                    var: "ARBKEEP_WEBHOOK_URL".into(),
                    problem: "must start with https:// or http://".into(),
                });
            }
        }
        Ok(secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secrets::from_lookup(|k| {
            (k == "ARBITRAGE_PRIVATE_KEY").then(|| "0xdeadbeef".to_string())
        })
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("deadbeef"), "{shown}");
        assert!(s.private_key.is_some());
    }
}
