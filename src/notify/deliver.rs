//! One webhook POST with retries: exponential backoff with jitter on
//! timeouts, connection failures, 408, 429 (honouring `Retry-After`) and
//! 5xx; give up at once on other 4xx (a deleted webhook will not come back).
//! Errors are described without the URL (`crate::net::describe`): reqwest
//! puts it in its messages.

use super::{WebhookConfig, WebhookError, WebhookUrl};
use crate::net::{describe, ensure_crypto_provider, retry_after};
use reqwest::StatusCode;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based): doubling from
    /// `initial_backoff`, capped, then "equal jitter" (half fixed, half
    /// random) so many keepers failing together do not retry in lockstep.
    pub(crate) fn backoff(&self, retry: u32, random: u64) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        let base = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let half = base / 2;
        let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            random % (spread + 1)
        };
        half + Duration::from_nanos(jitter)
    }
}

/// How one attempt ended.
#[derive(Debug)]
enum Attempt {
    Delivered,
    Retry {
        after: Option<Duration>,
        why: String,
    },
    GiveUp(String),
}

pub(crate) struct Deliverer {
    client: reqwest::Client,
    url: WebhookUrl,
    policy: RetryPolicy,
    rng: SystemRandom,
}

impl Deliverer {
    pub(crate) fn new(config: &WebhookConfig) -> Result<Self, WebhookError> {
        ensure_crypto_provider();
        let mut builder = reqwest::Client::builder();
        if config.url.is_loopback() {
            // An HTTP(S)_PROXY from the environment must not swallow a
            // local relay.
            builder = builder.no_proxy();
        }
        // The whole attempt's timeout is set per request (it may change
        // while the task runs); connecting is capped here.
        let client = builder
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // A webhook that redirects is misconfigured; do not follow it
            // somewhere else with our payload.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("arbkeep/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookError::Client(describe(&e)))?;
        Ok(Self {
            client,
            url: config.url.clone(),
            policy: RetryPolicy {
                initial_backoff: config.initial_backoff,
                max_backoff: config.max_backoff,
            },
            rng: SystemRandom::new(),
        })
    }

    /// Deliver `body`, each attempt within `timeout`, retrying at most
    /// `max_retries` times with the policy's backoff. `Ok(retries used)`,
    /// or the last reason it failed with the retries used.
    pub(crate) async fn deliver(
        &self,
        body: &Value,
        timeout: Duration,
        max_retries: u32,
    ) -> Result<u32, (String, u32)> {
        let mut retry = 0;
        loop {
            let (after, why) = match self.attempt(body, timeout).await {
                Attempt::Delivered => return Ok(retry),
                Attempt::GiveUp(why) => return Err((why, retry)),
                Attempt::Retry { after, why } => (after, why),
            };
            if retry >= max_retries {
                return Err((format!("{why} (after {} attempts)", retry + 1), retry));
            }
            // Retry-After is honoured, but capped so one notice cannot stall
            // the queue for longer than the configured maximum.
            let wait = after
                .map(|a| a.min(self.policy.max_backoff))
                .unwrap_or_else(|| self.policy.backoff(retry, self.random()));
            tracing::debug!(url = %self.url, %why, wait_ms = wait.as_millis() as u64, "webhook: retrying");
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    async fn attempt(&self, body: &Value, timeout: Duration) -> Attempt {
        let response = match self
            .client
            .post(self.url.expose().clone())
            .timeout(timeout)
            .json(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_builder() => return Attempt::GiveUp(describe(&e)),
            // Timeouts, refused connections, resets: the receiver may be
            // back in a moment.
            Err(e) => {
                return Attempt::Retry {
                    after: None,
                    why: describe(&e),
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Delivered;
        }
        let after = retry_after(response.headers(), unix_now_ms());
        if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error()
        {
            Attempt::Retry {
                after,
                why: format!("HTTP {status}"),
            }
        } else {
            Attempt::GiveUp(format!("HTTP {status}"))
        }
    }

    fn random(&self) -> u64 {
        let mut bytes = [0u8; 8];
        // A failed random source only loses the jitter.
        let _ = self.rng.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }
}

/// The wall clock in unix milliseconds, for an HTTP-date `Retry-After`
/// (webhooks run on real time, whatever the engine's clock).
fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        assert_eq!(p.backoff(0, 0), Duration::from_millis(50));
        assert_eq!(p.backoff(1, 0), Duration::from_millis(100));
        assert!(p.backoff(1, u64::MAX) <= Duration::from_millis(200));
        assert_eq!(p.backoff(10, 0), Duration::from_millis(500));
        assert!(p.backoff(40, u64::MAX) <= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn builds_an_https_client_with_the_ring_provider() {
        // Without a provider reqwest (rustls-no-provider) would panic here.
        let url = WebhookUrl::parse("https://hooks.slack.com/services/x").expect("url");
        let config = WebhookConfig::new(url, super::super::WebhookFormat::Slack);
        assert!(Deliverer::new(&config).is_ok());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
