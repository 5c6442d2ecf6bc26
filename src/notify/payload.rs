//! What a webhook receives for a notice, per receiver format. Built from the
//! notice alone: nothing of the configuration (URL, tokens) can end up here.

use crate::engine::Notice;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Which receiver the URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// Slack incoming webhook: `{"text": …}`.
    Slack,
    /// Discord webhook: `{"content": …}`.
    Discord,
    /// Both fields plus `"event"` (the notice as JSON), for any receiver.
    Generic,
}

impl WebhookFormat {
    /// A sensible default from the URL's host.
    pub fn for_host(host: &str) -> Self {
        let host = host.to_ascii_lowercase();
        if host == "hooks.slack.com" {
            Self::Slack
        } else if host == "discord.com"
            || host.ends_with(".discord.com")
            || host == "discordapp.com"
        {
            Self::Discord
        } else {
            Self::Generic
        }
    }
}

impl std::str::FromStr for WebhookFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "slack" => Ok(Self::Slack),
            "discord" => Ok(Self::Discord),
            "generic" => Ok(Self::Generic),
            other => Err(format!(
                "unknown webhook format {other:?} (expected slack, discord or generic)"
            )),
        }
    }
}

/// Discord refuses `content` longer than this.
const DISCORD_MAX_CONTENT: usize = 2000;

pub fn payload(format: WebhookFormat, notice: &Notice) -> Value {
    let headline = notice.headline();
    match format {
        WebhookFormat::Slack => json!({ "text": slack_escape(&headline) }),
        WebhookFormat::Discord => json!({
            "content": discord_content(&headline),
            // A failure reason containing "@everyone" must not ping anyone.
            "allowed_mentions": { "parse": [] },
        }),
        WebhookFormat::Generic => json!({
            "text": slack_escape(&headline),
            "content": discord_content(&headline),
            "allowed_mentions": { "parse": [] },
            "event": serde_json::to_value(notice).unwrap_or(Value::Null),
        }),
    }
}

/// Slack reads `&`, `<` and `>` in `text` as markup; these three are the
/// escapes its documentation asks for.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn discord_content(text: &str) -> String {
    if text.chars().count() <= DISCORD_MAX_CONTENT {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(DISCORD_MAX_CONTENT - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_host_and_name() {
        assert_eq!(
            WebhookFormat::for_host("hooks.slack.com"),
            WebhookFormat::Slack
        );
        assert_eq!(
            WebhookFormat::for_host("discord.com"),
            WebhookFormat::Discord
        );
        assert_eq!(
            WebhookFormat::for_host("example.org"),
            WebhookFormat::Generic
        );
        assert_eq!("Slack".parse::<WebhookFormat>(), Ok(WebhookFormat::Slack));
        assert!("teams".parse::<WebhookFormat>().is_err());
    }

    #[test]
    fn escapes_and_truncates() {
        assert_eq!(slack_escape("a<b>&c"), "a&lt;b&gt;&amp;c");
        let long = "x".repeat(3000);
        assert_eq!(discord_content(&long).chars().count(), DISCORD_MAX_CONTENT);
    }
}
