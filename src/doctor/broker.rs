//! The equity hedge's broker login. For Schwab: the app's credentials and
//! `ENCRYPTION_KEY` are set, the sealed tokens are there and open with that
//! key, and the login (7 days from `arbkeep auth schwab`) has not run out —
//! a warning within its last day, a failure once past. The vault is read
//! read-only and nothing is sent to Schwab: a token refresh rotates the
//! refresh token, and racing a running engine's refresh would log it out.
//! A vault held by a running process, or left unclean by a killed one (only
//! a writer repairs it), is not read: the check says why. For Alpaca: the
//! API key and secret are set (named, never shown) and the account id is
//! configured. The paper broker has no login.

use super::{Check, Env, Group};
use crate::config::{Config, HedgeBroker};
use crate::model::Timestamp;
use crate::model::time::{format_duration, format_time};
use crate::venue::schwab::{
    APP_KEY_ENV, APP_SECRET_ENV, ENCRYPTION_KEY_ENV, EXPIRY_WARNING, LOGIN_LIFETIME, SchwabError,
    SchwabSecrets, TokenVault, VAULT_FILE,
};

const RELOGIN: &str = "run `arbkeep --config … auth schwab` (with no engine on the data dir)";

fn alpaca_checks(config: &Config, env: &Env) -> Vec<Check> {
    use crate::venue::alpaca::{AlpacaSecrets, KEY_ENV, SECRET_ENV};
    let secrets = match AlpacaSecrets::from_lookup(|name| env(name)) {
        Ok(_) => Check::ok(
            Group::Broker,
            "Alpaca secrets",
            format!("{KEY_ENV} and {SECRET_ENV} set"),
        ),
        Err(e) => Check::fail(
            Group::Broker,
            "Alpaca secrets",
            e.to_string(),
            format!("export {KEY_ENV} and {SECRET_ENV} in the engine's environment"),
        ),
    };
    let account = if config.alpaca.account_id.is_empty() {
        Check::fail(
            Group::Broker,
            "Alpaca account",
            "alpaca.account_id is not set".to_string(),
            "set [alpaca] account_id to the trading account's id".to_string(),
        )
    } else {
        Check::ok(
            Group::Broker,
            "Alpaca account",
            format!("{} at {}", config.alpaca.account_id, config.alpaca.base_url),
        )
    };
    vec![secrets, account]
}

pub fn checks(config: &Config, env: &Env, now: Timestamp, engine: Option<u32>) -> Vec<Check> {
    let h = &config.equity_hedge;
    if !h.enabled_in(config.mode) {
        return vec![Check::skip(
            Group::Broker,
            "broker",
            "the equity hedge is off",
        )];
    }
    if h.broker_in(config.mode) == HedgeBroker::Paper {
        return vec![Check::skip(
            Group::Broker,
            "broker",
            "the hedge trades at the paper broker: no login",
        )];
    }
    if h.broker_in(config.mode) == HedgeBroker::Alpaca {
        return alpaca_checks(config, env);
    }
    let mut checks = Vec::new();
    let secrets = match SchwabSecrets::from_lookup(|name| env(name)) {
        Ok(s) => {
            checks.push(Check::ok(
                Group::Broker,
                "Schwab secrets",
                format!("{APP_KEY_ENV}, {APP_SECRET_ENV} and {ENCRYPTION_KEY_ENV} set"),
            ));
            s
        }
        Err(e) => {
            // Names the variable and the problem, never the value.
            checks.push(Check::fail(
                Group::Broker,
                "Schwab secrets",
                e.to_string(),
                format!(
                    "export {APP_KEY_ENV}, {APP_SECRET_ENV} and {ENCRYPTION_KEY_ENV} (64 hex) in the engine's environment"
                ),
            ));
            checks.push(Check::skip(
                Group::Broker,
                "Schwab login",
                "not checked: the tokens cannot be opened without ENCRYPTION_KEY",
            ));
            return checks;
        }
    };
    if let Some(pid) = engine {
        checks.push(Check::skip(
            Group::Broker,
            "Schwab login",
            format!(
                "an arbkeep process (pid {pid}) holds the data dir and {VAULT_FILE}; an engine shows the login's countdown on its Venues panel"
            ),
        ));
        return checks;
    }
    let tokens = match TokenVault::peek(&config.data_dir, &secrets.encryption_key) {
        Ok(Some(t)) => t,
        Ok(None) => {
            checks.push(Check::fail(
                Group::Broker,
                "Schwab login",
                format!("no login in {}", config.data_dir.join(VAULT_FILE).display()),
                RELOGIN,
            ));
            return checks;
        }
        Err(SchwabError::VaultBusy(path)) => {
            checks.push(Check::skip(
                Group::Broker,
                "Schwab login",
                format!("{path} is open in another process (an engine, or `arbkeep auth schwab`)"),
            ));
            return checks;
        }
        Err(e @ SchwabError::VaultUnclean(_)) => {
            checks.push(Check::warn(
                Group::Broker,
                "Schwab login",
                format!("{e}: the login cannot be read before that"),
                "start the engine (it repairs the vault and shows the login's countdown), then run doctor again",
            ));
            return checks;
        }
        Err(e) => {
            let fix = match e {
                SchwabError::WrongKey(_) => {
                    "export the ENCRYPTION_KEY the tokens were sealed with, or log in again: "
                        .to_string()
                        + RELOGIN
                }
                _ => format!("delete the vault and log in again: {RELOGIN}"),
            };
            checks.push(Check::fail(
                Group::Broker,
                "Schwab login",
                e.to_string(),
                fix,
            ));
            return checks;
        }
    };
    let deadline = tokens.authorized_at.saturating_add(LOGIN_LIFETIME);
    let at = format_time(deadline);
    checks.push(if now >= deadline {
        Check::fail(
            Group::Broker,
            "Schwab login",
            format!("expired at {at} UTC, 7 days after the login"),
            RELOGIN,
        )
    } else if now + EXPIRY_WARNING >= deadline {
        Check::warn(
            Group::Broker,
            "Schwab login",
            format!(
                "expires in {} (at {at} UTC): no order can be placed after that",
                format_duration(deadline - now)
            ),
            RELOGIN,
        )
    } else {
        Check::ok(
            Group::Broker,
            "Schwab login",
            format!(
                "tokens open with ENCRYPTION_KEY; the login expires in {} (at {at} UTC)",
                format_duration(deadline - now)
            ),
        )
    });
    checks
}
