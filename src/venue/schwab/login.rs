//! `arbkeep auth schwab`: the authorization-code flow by paste-back (§1.10).
//! Print the authorize URL (with a random `state`), read the URL the
//! browser was sent to, check `state`, take `code` out decoded once,
//! exchange it at once (it lives ~30 s), check the configured account is
//! linked, and seal the login. Runs without an engine: it holds the data
//! dir's instance lock so none can start meanwhile.

use super::account::last_digits;
use super::session::Session;
use super::vault::TokenVault;
use super::{LOGIN_LIFETIME, SchwabConfig, SchwabError, SchwabSecrets, VENUE};
use crate::files::{FileError, InstanceLock};
use crate::model::Secret;
use crate::model::time::format_time;
use crate::model::{Clock, SystemClock};
use reqwest::Url;
use ring::rand::{SecureRandom, SystemRandom};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

/// The URL to open and the `state` it carries.
#[derive(Debug, Clone)]
pub struct LoginChallenge {
    pub url: String,
    pub state: String,
}

/// `{auth_url}/v1/oauth/authorize?response_type=code&client_id=…&redirect_uri=…&state=…`.
/// The callback goes exactly as configured (no slash added).
pub fn authorize_url(config: &SchwabConfig, app_key: &Secret, state: &str) -> String {
    let base = format!(
        "{}/v1/oauth/authorize",
        config.auth_url.trim_end_matches('/')
    );
    let query = super::session::form_body(&[
        ("response_type", "code"),
        ("client_id", app_key.expose()),
        ("redirect_uri", &config.callback_url),
        ("state", state),
    ]);
    format!("{base}?{query}")
}

fn random_state() -> Result<String, SchwabError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SchwabError::Io("no random source for the login state".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A fresh challenge.
pub fn challenge(config: &SchwabConfig, app_key: &Secret) -> Result<LoginChallenge, SchwabError> {
    let state = random_state()?;
    Ok(LoginChallenge {
        url: authorize_url(config, app_key, &state),
        state,
    })
}

/// The `code` of a pasted redirect URL (decoded once), after checking
/// `state` and surfacing an `error` the login page returned.
pub fn code_from_redirect(pasted: &str, state: &str) -> Result<Secret, SchwabError> {
    let url = Url::parse(pasted.trim())
        .map_err(|_| SchwabError::Redirect("not a URL; paste the whole address bar".into()))?;
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" | "error_description" => {
                error = Some(format!(
                    "{}{v}",
                    error.map(|e| format!("{e}: ")).unwrap_or_default()
                ))
            }
            _ => {}
        }
    }
    if let Some(e) = error {
        return Err(SchwabError::Redirect(format!(
            "the login page answered {e:?}"
        )));
    }
    match got_state {
        Some(s) if s == state => {}
        Some(_) => {
            return Err(SchwabError::Redirect(
                "its state does not match this login; paste the URL from this attempt".into(),
            ));
        }
        None => return Err(SchwabError::Redirect("it has no state parameter".into())),
    }
    code.filter(|c| !c.is_empty())
        .map(Secret::new)
        .ok_or_else(|| SchwabError::Redirect("it has no code parameter".into()))
}

/// Exchange `code`, check the account, and leave the sealed login in the vault.
pub async fn login(session: &Session, code: &Secret) -> Result<(), SchwabError> {
    session.exchange_code(code).await?;
    super::account::lookup_account_hash(session)
        .await
        .map_err(|e| match e {
            crate::venue::VenueError::Rejected(m)
            | crate::venue::VenueError::Transient(m)
            | crate::venue::VenueError::Unknown(m) => SchwabError::Api(m),
        })?;
    Ok(())
}

/// The interactive flow over any input and output (tests drive it).
pub async fn login_interactive(
    config: &SchwabConfig,
    secrets: SchwabSecrets,
    dir: &Path,
    clock: Arc<dyn Clock>,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> Result<(), SchwabError> {
    if config.account_number.trim().is_empty() {
        return Err(SchwabError::Config(
            "account_number is not set: the account to trade, by its number".into(),
        ));
    }
    let io = |e: std::io::Error| SchwabError::Io(e.to_string());
    let vault = TokenVault::open(dir, secrets.encryption_key.clone())?;
    let app_key = secrets.app_key.clone();
    let session = Session::new(config.clone(), secrets, vault, clock.clone())?;
    let ch = challenge(config, &app_key)?;
    writeln!(
        out,
        "1. Open this URL in a browser and log in to Schwab:\n\n   {}\n",
        ch.url
    )
    .map_err(io)?;
    writeln!(
        out,
        "2. The browser then lands on {} (the page may not load: that is expected).\n   Paste the whole address here within 30 seconds and press Enter:",
        config.callback_url
    )
    .map_err(io)?;
    out.flush().map_err(io)?;
    let mut line = String::new();
    input.read_line(&mut line).map_err(io)?;
    let code = code_from_redirect(&line, &ch.state)?;
    login(&session, &code).await?;
    let deadline = clock.now() + LOGIN_LIFETIME;
    writeln!(
        out,
        "Logged in to {VENUE}; account …{} found. Tokens sealed in {}.\nThis login lasts until {} UTC: run `arbkeep auth schwab` again before then.",
        last_digits(&config.account_number),
        session.vault().path().display(),
        format_time(deadline)
    )
    .map_err(io)?;
    Ok(())
}

/// `arbkeep auth schwab` from `main`: secrets from the environment, the
/// instance lock held, stdin and stdout.
pub async fn run_auth_command(config: &SchwabConfig, data_dir: &Path) -> Result<(), SchwabError> {
    crate::files::ensure_private_dir(data_dir).map_err(|e| SchwabError::Io(e.to_string()))?;
    let _lock = InstanceLock::acquire(data_dir).map_err(|e| match e {
        FileError::AlreadyRunning { dir, pid } => SchwabError::EngineRunning {
            dir,
            pid: pid
                .map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into()),
        },
        other => SchwabError::Io(other.to_string()),
    })?;
    let secrets = SchwabSecrets::from_env()?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout();
    login_interactive(
        config,
        secrets,
        data_dir,
        Arc::new(SystemClock),
        &mut input,
        &mut out,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_decoded_once_and_state_checked() {
        let pasted = "https://127.0.0.1/?code=C0.b2F1dGgy.BCJ9-r6G_0%40&session=46b9&state=abc";
        assert_eq!(
            code_from_redirect(pasted, "abc").unwrap().expose(),
            "C0.b2F1dGgy.BCJ9-r6G_0@"
        );
        assert!(matches!(
            code_from_redirect(pasted, "xyz"),
            Err(SchwabError::Redirect(_))
        ));
        let e = code_from_redirect("https://127.0.0.1/?error=access_denied&state=abc", "abc")
            .unwrap_err();
        assert!(e.to_string().contains("access_denied"), "{e}");
        assert!(code_from_redirect("nonsense", "abc").is_err());
    }

    #[test]
    fn the_callback_goes_exactly_as_configured() {
        let config = SchwabConfig {
            callback_url: "https://127.0.0.1:8182".into(),
            ..SchwabConfig::default()
        };
        let url = authorize_url(&config, &Secret::new("KEY".into()), "s1");
        assert_eq!(
            url,
            "https://api.schwabapi.com/v1/oauth/authorize?response_type=code&client_id=KEY&redirect_uri=https%3A%2F%2F127.0.0.1%3A8182&state=s1"
        );
    }
}
