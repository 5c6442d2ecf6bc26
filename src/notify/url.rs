//! The webhook URL as a secret: Slack and Discord put the credential in the
//! path, so the URL is only ever shown as `scheme://host/<redacted>` (by
//! [`crate::redact`], which shows every URL the same way).

use super::WebhookError;
use std::fmt;

/// The environment variable the caller reads the URL from.
pub const WEBHOOK_URL_ENV: &str = "ARBKEEP_WEBHOOK_URL";

#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(reqwest::Url);

impl WebhookUrl {
    /// Accept `https://…`, or `http://` to a loopback host only (a local
    /// relay or a test): plain http elsewhere would send the secret in clear.
    /// Errors never repeat the URL.
    pub fn parse(text: &str) -> Result<Self, WebhookError> {
        let url = reqwest::Url::parse(text.trim())
            .map_err(|e| WebhookError::InvalidUrl(format!("not a URL ({e})")))?;
        if url.host_str().is_none() {
            return Err(WebhookError::InvalidUrl("it has no host".into()));
        }
        let loopback = crate::net::is_loopback(&url);
        match url.scheme() {
            "https" => Ok(Self(url)),
            "http" if loopback => Ok(Self(url)),
            "http" => Err(WebhookError::InvalidUrl(
                "it must use https (plain http is allowed only to a loopback host)".into(),
            )),
            other => Err(WebhookError::InvalidUrl(format!(
                "unsupported scheme {other:?} (expected https)"
            ))),
        }
    }

    /// A local relay or a test receiver: no proxy applies to it.
    pub(crate) fn is_loopback(&self) -> bool {
        crate::net::is_loopback(&self.0)
    }

    /// The full URL, for the HTTP client only.
    pub(crate) fn expose(&self) -> &reqwest::Url {
        &self.0
    }

    /// The host, which is not secret and helps operators ("hooks.slack.com").
    pub fn host(&self) -> String {
        self.0.host_str().unwrap_or_default().to_string()
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({self})")
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::redact::parsed(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK: &str = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX";

    #[test]
    fn debug_and_display_redact() {
        let url = WebhookUrl::parse(SLACK).expect("valid");
        for shown in [format!("{url}"), format!("{url:?}")] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains("hooks.slack.com"), "{shown}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(WebhookUrl::parse("http://127.0.0.1:9/hook").is_ok());
        assert!(WebhookUrl::parse("http://localhost:9/hook").is_ok());
        let err = WebhookUrl::parse("http://example.com/SECRET").expect_err("http");
        assert!(!err.to_string().contains("SECRET"));
        assert!(WebhookUrl::parse("ftp://example.com/x").is_err());
        let err = WebhookUrl::parse("not a url SECRET").expect_err("garbage");
        assert!(!err.to_string().contains("SECRET"));
    }
}
