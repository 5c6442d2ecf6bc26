//! `[notify]`: how webhooks are posted (format, timeout, retries) and which
//! events are. The webhook's URL is a secret: `ARBKEEP_WEBHOOK_URL` only.

use super::ConfigError;
use super::reader::Reader;
use crate::model::time::SECOND;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// "generic", "slack" or "discord".
    pub format: String,
    pub timeout_ms: u64,
    pub retries: u32,
    /// Only these events are posted (their `event` names); empty: all.
    pub events: Vec<String>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            format: "generic".into(),
            timeout_ms: 5 * SECOND,
            retries: 5,
            events: Vec::new(),
        }
    }
}

/// `[notify]`: `format`, `timeout`, `retries`, and `events` (known names).
pub(super) fn read_notify(
    r: &mut Reader,
    t: &toml::Table,
    n: &mut NotifyConfig,
) -> Result<(), ConfigError> {
    if let Some(v) = r.string(t, "notify", "format")? {
        if !["generic", "slack", "discord"].contains(&v.as_str()) {
            return Err(r.invalid(
                "notify.format",
                "expected \"generic\", \"slack\" or \"discord\"",
            ));
        }
        n.format = v;
    }
    if let Some(v) = r.duration(t, "notify", "timeout")? {
        n.timeout_ms = v;
    }
    if let Some(v) = r.int(t, "notify", "retries")? {
        n.retries = u32::try_from(v).map_err(|_| r.invalid("notify.retries", "is too large"))?;
    }
    if let Some(list) = r.strings(t, "notify", "events")? {
        let known = crate::engine::Notice::events();
        if let Some(unknown) = list.iter().find(|e| !known.contains(&e.as_str())) {
            return Err(r.invalid(
                "notify.events",
                format!("unknown event {unknown:?} (known: {})", known.join(", ")),
            ));
        }
        n.events = list;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    #[test]
    fn webhook_events_are_known_names_and_the_example_lists_every_one() {
        let c = parse("[notify]\nevents = [\"equity_hedge\", \"stellar\"]\n").unwrap();
        assert_eq!(c.notify.events, ["equity_hedge", "stellar"]);
        let e = parse("[notify]\nevents = [\"cycle_done\"]\n").unwrap_err();
        assert!(e.to_string().contains("notify.events"), "{e}");
        assert!(e.to_string().contains("cycle_done"), "{e}");
        let example = include_str!("../../config.toml.example");
        let listed: Vec<&str> = example
            .split("# Events:")
            .nth(1)
            .and_then(|rest| rest.split("events = []").next())
            .expect("the example lists the events")
            .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        assert_eq!(
            listed,
            crate::engine::Notice::events(),
            "config.toml.example"
        );
    }
}
