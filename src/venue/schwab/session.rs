//! One logged-in Schwab session: the HTTP client, the token endpoint, and
//! authorised calls. Tokens are refreshed under one lock (a single
//! refresher, §4.2) before the access token's last five minutes; every
//! rotated refresh token is sealed to the vault before the new access token
//! is used. A 401 forces one refresh; reads are then repeated, an order POST
//! never is. A 429 sets a back-off (`Retry-After` when given) that every
//! later call waits out. Timeouts and 5xx on an order POST are `Unknown`.

use super::vault::{TokenVault, Tokens};
use super::wire::{TokenResponse, error_text};
use super::{
    ACCESS_TOKEN_LIFETIME, LOGIN_LIFETIME, REFRESH_MARGIN, SchwabConfig, SchwabError,
    SchwabSecrets, scrub,
};
use crate::model::Secret;
use crate::model::time::{SECOND, format_time};
use crate::model::{Clock, Timestamp};
use crate::net::{describe, retry_after};
use crate::venue::VenueError;
use crate::venue::http_body::{BodyError, DEFAULT_BODY_CAP, read_capped};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{Client, RequestBuilder, Url};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Reads are repeated this often after a 429 before giving up (transient).
const THROTTLE_RETRIES: u32 = 4;
/// The longest back-off honoured from a `Retry-After`.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// No answer of Schwab's is read past this many bytes.
pub(crate) const MAX_BODY: usize = DEFAULT_BODY_CAP;

/// Whether a call may be repeated: reads may; an order POST may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Read,
    PlaceOrder,
}

/// A 2xx answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// What the health line shows.
#[derive(Debug, Default, Clone)]
pub struct SessionStatus {
    pub logged_in: bool,
    pub login_deadline: Option<Timestamp>,
    pub auth_fault: Option<String>,
    pub last_ok: Option<Timestamp>,
    pub latency_ms: Option<u64>,
    pub last_error: Option<String>,
    pub warned_for: Option<Timestamp>,
}

pub struct Session {
    http: Client,
    pub(crate) config: SchwabConfig,
    secrets: SchwabSecrets,
    vault: TokenVault,
    pub(crate) clock: Arc<dyn Clock>,
    tokens: tokio::sync::Mutex<Option<Tokens>>,
    pub(crate) status: Mutex<SessionStatus>,
    throttled_until: Mutex<Option<Instant>>,
}

/// A failed token request: HTTP status (none on transport errors) and a scrubbed reason.
struct TokenFailure {
    status: Option<u16>,
    reason: String,
}

impl Session {
    /// A session over `vault`; loads (and so checks) the stored tokens.
    pub fn new(
        config: SchwabConfig,
        secrets: SchwabSecrets,
        vault: TokenVault,
        clock: Arc<dyn Clock>,
    ) -> Result<Session, SchwabError> {
        crate::net::ensure_crypto_provider();
        let mut builder = Client::builder();
        if crate::net::is_loopback_url(&config.api_url)
            || crate::net::is_loopback_url(&config.auth_url)
        {
            // A proxy from the environment must not swallow a local server.
            builder = builder.no_proxy();
        }
        let http = builder
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .connect_timeout(Duration::from_millis(config.request_timeout_ms.min(10_000)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("arbkeep/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SchwabError::Config(format!("cannot build the HTTP client: {e}")))?;
        let stored = vault.load()?;
        let status = SessionStatus {
            logged_in: stored.is_some(),
            login_deadline: stored.as_ref().map(|t| t.authorized_at + LOGIN_LIFETIME),
            ..SessionStatus::default()
        };
        Ok(Session {
            http,
            config,
            secrets,
            vault,
            clock,
            tokens: tokio::sync::Mutex::new(stored),
            status: Mutex::new(status),
            throttled_until: Mutex::new(None),
        })
    }

    pub fn vault(&self) -> &TokenVault {
        &self.vault
    }

    fn status(&self) -> std::sync::MutexGuard<'_, SessionStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Everything that must never reach a log or an error.
    fn scrub(&self, text: &str, tokens: Option<&Tokens>) -> String {
        let mut secrets = vec![
            self.secrets.app_secret.expose(),
            self.secrets.app_key.expose(),
        ];
        if let Some(t) = tokens {
            secrets.push(t.access_token.expose());
            secrets.push(t.refresh_token.expose());
        }
        scrub(text, &secrets)
    }

    fn auth_fault(&self, e: &SchwabError) {
        let mut s = self.status();
        s.auth_fault = Some(e.to_string());
    }

    /// POST the token endpoint with a form body and Basic app credentials.
    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, TokenFailure> {
        let url = format!(
            "{}/v1/oauth/token",
            self.config.auth_url.trim_end_matches('/')
        );
        let basic = base64(
            format!(
                "{}:{}",
                self.secrets.app_key.expose(),
                self.secrets.app_secret.expose()
            )
            .as_bytes(),
        );
        let started = Instant::now();
        let sent = self
            .http
            .post(&url)
            .header(AUTHORIZATION, format!("Basic {basic}"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(form_body(form))
            .send()
            .await;
        let response = sent.map_err(|e| TokenFailure {
            status: None,
            reason: self.scrub(&describe(&e), None),
        })?;
        let status = response.status().as_u16();
        let body = read_capped(response, MAX_BODY)
            .await
            .map_err(|e| TokenFailure {
                status: Some(status),
                reason: self.scrub(&body_error(&e), None),
            })?;
        tracing::debug!(
            status,
            ms = started.elapsed().as_millis() as u64,
            "schwab token endpoint"
        );
        if !(200..300).contains(&status) {
            return Err(TokenFailure {
                status: Some(status),
                reason: format!("HTTP {status}: {}", self.scrub(&error_text(&body), None)),
            });
        }
        serde_json::from_slice::<TokenResponse>(&body).map_err(|_| TokenFailure {
            status: Some(status),
            reason: "the token answer is not the expected JSON".into(),
        })
    }

    /// Exchange an authorization code (§1.4) and seal the new login.
    pub async fn exchange_code(&self, code: &Secret) -> Result<Tokens, SchwabError> {
        let answer = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("redirect_uri", &self.config.callback_url),
            ])
            .await
            .map_err(|f| match f.status {
                Some(400..=499) => SchwabError::CodeRefused(scrub(&f.reason, &[code.expose()])),
                _ => SchwabError::TokenEndpoint(scrub(&f.reason, &[code.expose()])),
            })?;
        let now = self.clock.now();
        let refresh = answer.refresh_token.ok_or_else(|| {
            SchwabError::TokenEndpoint("the code exchange returned no refresh token".into())
        })?;
        let tokens = Tokens {
            access_token: Secret::new(answer.access_token),
            refresh_token: Secret::new(refresh),
            access_expires_at: access_expiry(now, answer.expires_in),
            authorized_at: now,
            refreshed_at: now,
            refreshes: 0,
        };
        let mut guard = self.tokens.lock().await;
        self.vault.save(&tokens)?;
        *guard = Some(tokens.clone());
        let mut s = self.status();
        s.logged_in = true;
        s.login_deadline = Some(now + LOGIN_LIFETIME);
        s.auth_fault = None;
        s.warned_for = None;
        tracing::info!(expires = %format_time(now + LOGIN_LIFETIME), "schwab: logged in");
        Ok(tokens)
    }

    /// A usable access token: refreshed when fewer than five minutes are
    /// left, or when `rejected` (the token a 401 refused) is still current.
    pub async fn access_token(&self, rejected: Option<&Secret>) -> Result<Secret, SchwabError> {
        let mut guard = self.tokens.lock().await;
        let Some(current) = guard.clone() else {
            let e = SchwabError::NotLoggedIn;
            self.auth_fault(&e);
            return Err(e);
        };
        let now = self.clock.now();
        let deadline = current.authorized_at + LOGIN_LIFETIME;
        if now >= deadline {
            let e = SchwabError::LoginExpired {
                at: format_time(deadline),
            };
            self.auth_fault(&e);
            return Err(e);
        }
        let refused = rejected.is_some_and(|r| r == &current.access_token);
        if !refused && now + REFRESH_MARGIN < current.access_expires_at {
            return Ok(current.access_token);
        }
        let answer = self
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", current.refresh_token.expose()),
            ])
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(f) => {
                let reason = self.scrub(&f.reason, Some(&current));
                let e = match f.status {
                    Some(400 | 401 | 403) => SchwabError::RefreshRefused(reason),
                    _ => SchwabError::TokenEndpoint(reason),
                };
                if matches!(e, SchwabError::RefreshRefused(_)) {
                    self.auth_fault(&e);
                }
                tracing::warn!(error = %e, "schwab: token refresh failed");
                return Err(e);
            }
        };
        let refreshed = Tokens {
            access_token: Secret::new(answer.access_token),
            // Rotation: the new refresh token replaces the old; keep the old
            // only if the answer has none (defensive, §1.6).
            refresh_token: answer
                .refresh_token
                .map(Secret::new)
                .unwrap_or(current.refresh_token),
            access_expires_at: access_expiry(now, answer.expires_in),
            authorized_at: current.authorized_at,
            refreshed_at: now,
            refreshes: current.refreshes.saturating_add(1),
        };
        // Sealed to disk before the new access token is used.
        self.vault.save(&refreshed)?;
        *guard = Some(refreshed.clone());
        self.status().auth_fault = None;
        tracing::info!(refreshes = refreshed.refreshes, "schwab: tokens refreshed");
        Ok(refreshed.access_token)
    }

    async fn wait_out_throttle(&self) {
        let until = *self
            .throttled_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                tokio::time::sleep(until - now).await;
            }
        }
    }

    fn throttle(&self, wait: Duration) {
        let mut t = self
            .throttled_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let until = Instant::now() + wait;
        if t.is_none_or(|old| old < until) {
            *t = Some(until);
        }
    }

    /// One authorised call. `build` makes the request (it may be built
    /// twice for reads: after a refresh, after a 429).
    pub async fn call(
        &self,
        what: &'static str,
        kind: Call,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Reply, VenueError> {
        let mut rejected: Option<Secret> = None;
        let mut refreshed = false;
        let mut throttled = 0u32;
        loop {
            self.wait_out_throttle().await;
            let token = self
                .access_token(rejected.as_ref())
                .await
                .map_err(|e| VenueError::Transient(e.to_string()))?;
            let started = Instant::now();
            let sent = build(&self.http)
                .bearer_auth(token.expose())
                .header(ACCEPT, "application/json")
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    let reason = self.scrub(&describe(&e), None);
                    self.status().last_error = Some(format!("{what}: {reason}"));
                    tracing::warn!(call = what, error = %reason, "schwab: request failed");
                    return Err(match kind {
                        Call::Read => VenueError::Transient(format!("Schwab {what}: {reason}")),
                        // Never connected: nothing reached Schwab.
                        Call::PlaceOrder if e.is_connect() => {
                            VenueError::Transient(format!("Schwab {what}: not sent ({reason})"))
                        }
                        Call::PlaceOrder => VenueError::Unknown(format!(
                            "Schwab {what}: no answer ({reason}); the order may exist"
                        )),
                    });
                }
            };
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let retry_after = retry_after(response.headers(), self.clock.now());
            let body = match read_capped(response, MAX_BODY).await {
                Ok(b) => b,
                // An error status is classified by its status; its oversized
                // body only loses its text.
                Err(e) if e.is_too_large() && !(200..300).contains(&status) => {
                    format!("HTTP {status} with an error body over the cap").into_bytes()
                }
                Err(e) => {
                    let reason = self.scrub(&body_error(&e), None);
                    self.status().last_error = Some(format!("{what}: {reason}"));
                    tracing::warn!(call = what, status, error = %reason, "schwab: answer not read");
                    return Err(match kind {
                        Call::Read => VenueError::Transient(format!("Schwab {what}: {reason}")),
                        Call::PlaceOrder => VenueError::Unknown(format!(
                            "Schwab {what}: HTTP {status}, {reason}; the order may exist"
                        )),
                    });
                }
            };
            let ms = started.elapsed().as_millis() as u64;
            tracing::debug!(call = what, status, ms, "schwab");
            {
                let mut s = self.status();
                s.last_ok = Some(self.clock.now());
                s.latency_ms = Some(ms);
            }
            let reason = || {
                format!(
                    "Schwab {what}: HTTP {status}: {}",
                    self.scrub(&error_text(&body), None)
                )
            };
            match status {
                200..=299 => {
                    self.status().last_error = None;
                    return Ok(Reply {
                        status,
                        location,
                        body,
                    });
                }
                401 if !refreshed => {
                    refreshed = true;
                    tracing::info!(call = what, "schwab: 401, refreshing the access token once");
                    rejected = Some(token);
                    if kind == Call::PlaceOrder {
                        // Refused at the door, so not placed; but an order
                        // POST is never repeated by the adapter.
                        self.access_token(rejected.as_ref())
                            .await
                            .map_err(|e| VenueError::Transient(e.to_string()))?;
                        return Err(VenueError::Transient(format!(
                            "{} (refreshed; the order was not placed, place it again)",
                            reason()
                        )));
                    }
                }
                429 => {
                    let wait = retry_after
                        .unwrap_or_else(|| Duration::from_secs(1 << throttled.min(5)))
                        .min(MAX_BACKOFF);
                    self.throttle(wait);
                    tracing::warn!(
                        call = what,
                        wait_ms = wait.as_millis() as u64,
                        "schwab: 429, backing off"
                    );
                    match kind {
                        Call::Read if throttled < THROTTLE_RETRIES => throttled += 1,
                        Call::Read => return Err(VenueError::Transient(reason())),
                        // Whether a throttled POST created an order is not
                        // documented (§5): look before placing again.
                        Call::PlaceOrder => {
                            return Err(VenueError::Unknown(format!(
                                "{}; look for the order before placing again",
                                reason()
                            )));
                        }
                    }
                }
                500..=599 => {
                    let r = reason();
                    self.status().last_error = Some(r.clone());
                    return Err(match kind {
                        Call::Read => VenueError::Transient(r),
                        Call::PlaceOrder => {
                            VenueError::Unknown(format!("{r}; the order may exist"))
                        }
                    });
                }
                401 => return Err(VenueError::Transient(reason())),
                // An order just placed may not be listed yet; a read that
                // finds nothing has not shown that anything did not happen.
                404 if kind == Call::Read => return Err(VenueError::Transient(reason())),
                // An order POST is refused only by a 400/403 that says so
                // in Schwab's error shape; any other answer may have acted.
                _ if kind == Call::PlaceOrder && !refused_order(status, &body) => {
                    return Err(VenueError::Unknown(format!(
                        "{}; the order may exist",
                        reason()
                    )));
                }
                _ => return Err(VenueError::Rejected(reason())),
            }
        }
    }
}

/// When an access token issued at `now` stops working: `expires_in`
/// seconds as the answer says, never past the documented 30 minutes (an
/// answer of `u64::MAX` neither overflows nor keeps a dead token in use).
fn access_expiry(now: Timestamp, expires_in: Option<u64>) -> Timestamp {
    let lifetime = expires_in.map_or(ACCESS_TOKEN_LIFETIME, |s| {
        s.saturating_mul(SECOND).min(ACCESS_TOKEN_LIFETIME)
    });
    now.saturating_add(lifetime)
}

/// A definite refusal of an order POST: 400 or 403 with Schwab's JSON
/// error body (`message` or `errors`), not a gateway page or a broken body.
fn refused_order(status: u16, body: &[u8]) -> bool {
    matches!(status, 400 | 403)
        && serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|v| v.get("message").is_some() || v.get("errors").is_some())
}

/// `application/x-www-form-urlencoded`, each value encoded exactly once.
pub(crate) fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut url = match Url::parse("http://form.invalid/") {
        Ok(u) => u,
        Err(_) => return String::new(),
    };
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_string()
}

/// A body that could not be read, with its cause, without the URL.
fn body_error(e: &BodyError) -> String {
    match e {
        BodyError::Transport(cause) => format!("{e}: {}", describe(cause)),
        too_large => too_large.to_string(),
    }
}

pub(crate) use crate::net::base64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_match_the_reference() {
        // ST0x's test: test_app_key:test_app_secret.
        assert_eq!(
            base64(b"test_app_key:test_app_secret"),
            "dGVzdF9hcHBfa2V5OnRlc3RfYXBwX3NlY3JldA=="
        );
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn any_expires_in_gives_an_expiry_within_the_lifetime() {
        assert_eq!(access_expiry(1_000, Some(1_800)), 1_000 + 1_800 * SECOND);
        assert_eq!(access_expiry(1_000, Some(60)), 1_000 + 60 * SECOND);
        assert_eq!(access_expiry(1_000, None), 1_000 + ACCESS_TOKEN_LIFETIME);
        assert_eq!(
            access_expiry(1_000, Some(u64::MAX)),
            1_000 + ACCESS_TOKEN_LIFETIME
        );
        assert_eq!(access_expiry(u64::MAX - 1, Some(1_800)), u64::MAX);
        assert_eq!(access_expiry(1_000, Some(0)), 1_000);
    }

    #[test]
    fn form_values_are_encoded_once() {
        assert_eq!(
            form_body(&[
                ("code", "C0.abc-x_y@"),
                ("redirect_uri", "https://127.0.0.1")
            ]),
            "code=C0.abc-x_y%40&redirect_uri=https%3A%2F%2F127.0.0.1"
        );
    }
}
