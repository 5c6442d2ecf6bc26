//! How a URL may be shown. RPC providers put API keys in the path
//! (`https://eth-mainnet.g.alchemy.com/v2/KEY`, `https://x.infura.io/v3/KEY`)
//! or the query (`?apikey=KEY`), webhooks put their credential in the path,
//! and any URL may carry `user:password@`. So a URL is only ever shown as
//! `scheme://host[:port]`, with `/<redacted>` when it had anything more.
//! This is the one place that decides it: errors, logs, venue health and the
//! snapshot all go through [`url`] or [`urls_in`].

/// The URL as it may be shown: `scheme://host[:port]`, plus `/<redacted>`
/// when it has a path, a query, a fragment or userinfo. Text that does not
/// parse as a URL is not shown at all.
pub fn url(text: &str) -> String {
    match reqwest::Url::parse(text.trim()) {
        Ok(u) => parsed(&u),
        Err(_) => "<redacted URL>".into(),
    }
}

/// [`url`] for an already parsed URL.
pub fn parsed(u: &reqwest::Url) -> String {
    let Some(host) = u.host_str() else {
        return format!("{}:<redacted>", u.scheme());
    };
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let secret_part = (u.path() != "/" && !u.path().is_empty())
        || u.query().is_some()
        || u.fragment().is_some()
        || !u.username().is_empty()
        || u.password().is_some();
    let rest = if secret_part { "/<redacted>" } else { "" };
    format!("{}://{host}{port}{rest}", u.scheme())
}

const SCHEMES: [&str; 4] = ["https://", "http://", "wss://", "ws://"];

/// `text` with every `http(s)://` and `ws(s)://` URL in it shown as [`url`]
/// shows it: for error messages from libraries that quote the URL they
/// failed on (reqwest's "error sending request for url (…)").
pub fn urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, _)) = SCHEMES
        .iter()
        .filter_map(|s| find_ascii_ci(rest, s).map(|i| (i, s)))
        .min_by_key(|(i, _)| *i)
    {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ']' | '}')
            })
            .unwrap_or(tail.len());
        // A sentence's full stop or comma after the URL is not part of it.
        let candidate = tail[..end].trim_end_matches(['.', ',', ';', ':']);
        out.push_str(&url(candidate));
        rest = &tail[candidate.len()..];
    }
    out.push_str(rest);
    out
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..h.len().checked_sub(n.len())? + 1).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYED: [&str; 6] = [
        "https://eth-mainnet.g.alchemy.com/v2/SECRETKEY",
        "https://mainnet.infura.io/v3/SECRETKEY",
        "https://api.example.com/rpc?apikey=SECRETKEY",
        "https://user:SECRETKEY@node.example.com",
        "wss://eth-mainnet.g.alchemy.com/v2/SECRETKEY",
        "https://hooks.slack.com/services/T000/B000/SECRETKEY",
    ];

    #[test]
    fn keyed_urls_show_only_scheme_host_and_port() {
        for keyed in KEYED {
            let shown = url(keyed);
            assert!(!shown.contains("SECRETKEY"), "{shown}");
            assert!(shown.ends_with("/<redacted>"), "{shown}");
        }
        assert_eq!(
            url("https://eth-mainnet.g.alchemy.com/v2/SECRETKEY"),
            "https://eth-mainnet.g.alchemy.com/<redacted>"
        );
        assert_eq!(url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(url("http://127.0.0.1:8545/"), "http://127.0.0.1:8545");
        assert_eq!(url("not a url SECRETKEY"), "<redacted URL>");
    }

    #[test]
    fn urls_inside_text_are_redacted() {
        for keyed in KEYED {
            let text = format!("error sending request for url ({keyed}): connection refused");
            let shown = urls_in(&text);
            assert!(!shown.contains("SECRETKEY"), "{shown}");
            assert!(
                shown.starts_with("error sending request for url ("),
                "{shown}"
            );
            assert!(
                shown.ends_with("/<redacted>): connection refused"),
                "{shown}"
            );
        }
        assert_eq!(
            urls_in("see HTTPS://x.io/v2/K. and ws://127.0.0.1:9, done"),
            "see https://x.io/<redacted>. and ws://127.0.0.1:9, done"
        );
        assert_eq!(urls_in("no urls here"), "no urls here");
        assert_eq!(urls_in("https://"), "<redacted URL>");
    }
}
