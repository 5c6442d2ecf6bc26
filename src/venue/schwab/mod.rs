//! Charles Schwab as a [`Broker`](super::broker::Broker): the OAuth login
//! (`arbkeep auth schwab`), sealed tokens refreshed before they expire, the
//! account hash, whole-share MARKET DAY orders that are never re-sent after
//! an unknown outcome, status, positions and market hours. The API's facts
//! this relies on are in docs/architecture.md §5; its fake server
//! (`crate::fakes::schwab`, feature `fakes`) answers as the real one does.

mod account;
mod broker;
pub mod clock_text;
pub mod crypto;
mod login;
mod session;
mod vault;
mod wire;
#[cfg(test)]
mod wire_fuzz;

pub use broker::SchwabBroker;
pub use crypto::{CryptoError, ENCRYPTION_KEY_ENV, EncryptionKey};
pub use login::{
    LoginChallenge, authorize_url, code_from_redirect, login, login_interactive, run_auth_command,
};
pub use vault::{TokenVault, Tokens, VAULT_FILE};

use crate::model::Secret;
use crate::model::time::{DAY, MINUTE, SECOND};
use thiserror::Error;

/// Venue name on screen and in notices.
pub const VENUE: &str = "schwab";
pub const APP_KEY_ENV: &str = "SCHWAB_APP_KEY";
pub const APP_SECRET_ENV: &str = "SCHWAB_APP_SECRET";
/// Access tokens live 30 minutes (`expires_in: 1800`).
pub const ACCESS_TOKEN_LIFETIME: u64 = 30 * MINUTE;
/// Refresh before the access token has less than this left.
pub const REFRESH_MARGIN: u64 = 5 * MINUTE;
/// The refresh token dies 7 days after the interactive login.
pub const LOGIN_LIFETIME: u64 = 7 * DAY;
/// A `TokenExpiry` notice this long before the login dies.
pub const EXPIRY_WARNING: u64 = DAY;

/// The `[schwab]` section of the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchwabConfig {
    /// Trader and market-data API base (`{api_url}/trader/v1`, `{api_url}/marketdata/v1`).
    pub api_url: String,
    /// OAuth base (`{auth_url}/v1/oauth/authorize`, `…/token`).
    pub auth_url: String,
    /// The account to trade, by its number (mapped to Schwab's hash).
    pub account_number: String,
    /// The callback URL exactly as registered with the app (trailing slash matters).
    pub callback_url: String,
    /// How often the hedge polls an order's status.
    pub poll_interval_ms: u64,
    /// Timeout of one request (an order POST that times out is `Unknown`).
    pub request_timeout_ms: u64,
}

impl Default for SchwabConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.schwabapi.com".into(),
            auth_url: "https://api.schwabapi.com".into(),
            account_number: String::new(),
            callback_url: "https://127.0.0.1:8182".into(),
            poll_interval_ms: 2 * SECOND,
            request_timeout_ms: 10 * SECOND,
        }
    }
}

/// The app's credentials and the token key, from the environment only.
#[derive(Debug, Clone)]
pub struct SchwabSecrets {
    pub app_key: Secret,
    pub app_secret: Secret,
    pub encryption_key: EncryptionKey,
}

impl SchwabSecrets {
    /// `SCHWAB_APP_KEY`, `SCHWAB_APP_SECRET`, `ENCRYPTION_KEY` (checked).
    pub fn from_env() -> Result<Self, SchwabError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SchwabError> {
        let need = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| SchwabError::Env {
                    var: name.to_string(),
                    problem: "not set".into(),
                })
        };
        let app_key = need(APP_KEY_ENV)?;
        let app_secret = need(APP_SECRET_ENV)?;
        let encryption_key = EncryptionKey::from_hex(&get(ENCRYPTION_KEY_ENV).unwrap_or_default())
            .map_err(|e| SchwabError::Env {
                var: ENCRYPTION_KEY_ENV.into(),
                problem: e.to_string(),
            })?;
        Ok(Self {
            app_key,
            app_secret,
            encryption_key,
        })
    }
}

/// What went wrong with Schwab. Never carries a token, the app secret or
/// the key: response bodies are scrubbed of them before they get here.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SchwabError {
    #[error("Schwab: not logged in; run `arbkeep auth schwab`")]
    NotLoggedIn,
    #[error(
        "Schwab login expired at {at} UTC (7 days after `arbkeep auth schwab`); run `arbkeep auth schwab`"
    )]
    LoginExpired { at: String },
    #[error("Schwab refused the refresh token ({0}); run `arbkeep auth schwab`")]
    RefreshRefused(String),
    #[error("Schwab token endpoint: {0}")]
    TokenEndpoint(String),
    #[error(
        "Schwab refused the login code ({0}); run `arbkeep auth schwab` again and paste within 30 s"
    )]
    CodeRefused(String),
    #[error("{var}: {problem}")]
    Env { var: String, problem: String },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(
        "{0}: ENCRYPTION_KEY is not the key these tokens were sealed with; restore the key, or delete the file and run `arbkeep auth schwab`"
    )]
    WrongKey(String),
    #[error(
        "{0}: the sealed Schwab tokens were altered or are corrupt; delete the file and run `arbkeep auth schwab`"
    )]
    Tampered(String),
    #[error("{0} is open in another process (a running engine): it cannot be read beside it")]
    VaultBusy(String),
    #[error(
        "{0} was not closed cleanly (the process that had it open was killed); the next start repairs it"
    )]
    VaultUnclean(String),
    #[error("Schwab token vault {path}: {reason}")]
    Vault { path: String, reason: String },
    #[error("the pasted redirect URL: {0}")]
    Redirect(String),
    #[error("Schwab account number {0} is not linked to this login (linked: {1})")]
    UnknownAccount(String, String),
    #[error("[schwab] {0}")]
    Config(String),
    #[error("Schwab API: {0}")]
    Api(String),
    #[error("an engine (pid {pid}) runs on {dir}: stop it before `arbkeep auth schwab`")]
    EngineRunning { dir: String, pid: String },
    #[error("{0}")]
    Io(String),
}

impl SchwabError {
    /// The operator's to fix (environment, config, a running engine, a bad
    /// paste): the CLI exits 2 for these.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SchwabError::Env { .. }
                | SchwabError::Config(_)
                | SchwabError::EngineRunning { .. }
                | SchwabError::Redirect(_)
                | SchwabError::Crypto(CryptoError::BadKey(_))
        )
    }
}

/// Remove every secret from a text bound for an error or a log line.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out: String = text.chars().take(300).collect();
    for s in secrets {
        if s.len() >= 4 {
            out = out.replace(s, "<redacted>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_the_environment_and_never_print() {
        let key = "11".repeat(32);
        let env = |k: &str| match k {
            APP_KEY_ENV => Some("app-key-value".to_string()),
            APP_SECRET_ENV => Some("app-secret-value".to_string()),
            ENCRYPTION_KEY_ENV => Some(key.clone()),
            _ => None,
        };
        let s = SchwabSecrets::from_lookup(env).unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("app-secret-value") && !shown.contains(&key),
            "{shown}"
        );
        let e = SchwabSecrets::from_lookup(|k| match k {
            ENCRYPTION_KEY_ENV => Some("xyz".into()),
            _ => env(k),
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("ENCRYPTION_KEY: "), "{e}");
        let e = SchwabSecrets::from_lookup(|k| (k != APP_SECRET_ENV).then(|| "v".repeat(64)))
            .unwrap_err();
        assert_eq!(e.to_string(), "SCHWAB_APP_SECRET: not set");
    }

    #[test]
    fn the_schwab_section_is_read_and_checked() {
        use crate::config::Config;
        let c = Config::from_toml(
            "[schwab]\naccount_number = \"49359741\"\npoll_interval = \"5s\"\ncallback_url = \"https://127.0.0.1:8182\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(c.schwab.account_number, "49359741");
        assert_eq!(c.schwab.poll_interval_ms, 5 * SECOND);
        assert_eq!(c.schwab.api_url, "https://api.schwabapi.com");
        let e = Config::from_toml("[schwab]\naccount_number = \"12-34\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("schwab.account_number"), "{e}");
        let e = Config::from_toml("[schwab]\napp_secret = \"x\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("schwab.app_secret"), "{e}");
    }

    #[test]
    fn scrub_removes_secrets() {
        assert_eq!(
            scrub("bad token abcdef!", &["abcdef"]),
            "bad token <redacted>!"
        );
    }
}
