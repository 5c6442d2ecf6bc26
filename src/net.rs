//! The HTTP client's small shared pieces, for every module that talks to a
//! server (the venues' adapters and fakes, the webhooks): TLS set-up
//! ([`ensure_crypto_provider`]), a transport error described without its
//! URL ([`describe`]), whether a URL is loopback ([`is_loopback_url`]),
//! and the one `Retry-After` parser ([`retry_after`],
//! [`parse_retry_after`]). It depends on nothing of ours but `model`'s
//! time, so venues and front ends can both use it (`docs/architecture.md` §1).
//! Backoff policies stay with their callers: each has its own caps.

use crate::model::Timestamp;
use crate::model::time::SECOND;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// reqwest is built without a default crypto provider (to keep aws-lc out);
/// use ring unless the process already chose one. Call it before building
/// any client (reqwest panics without a provider).
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only means another thread installed one first; that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Whether `url`'s host is this machine (`localhost`, 127.0.0.0/8, `[::1]`):
/// where a fake may be served over plain http.
pub fn is_loopback_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| is_loopback(&u))
}

/// Whether a parsed URL's host is this machine.
pub fn is_loopback(u: &reqwest::Url) -> bool {
    let host = u.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The HTTP client for one outside API (`name` in its error), every
/// request bounded by `timeout`, with the TLS provider installed.
pub fn api_client(name: &str, timeout: std::time::Duration) -> Result<reqwest::Client, String> {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("{name}: HTTP client: {}", describe(&e)))
}

/// reqwest's error and its causes, without the URL (reqwest puts it in its
/// own message, and a URL may carry a key, an account id or a webhook
/// token): what went wrong first, then each cause.
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_builder() {
        "invalid request"
    } else if e.is_decode() {
        "could not decode the answer"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The longest wait a `Retry-After` can ask for; anything longer (or a
/// date further ahead) is clamped to it. Callers cap it further.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// The `Retry-After` header of an answer, as a wait from `now` (unix
/// milliseconds, from the caller's `Clock`). `None` when absent or
/// unreadable: the caller falls back to its own backoff.
pub fn retry_after(headers: &HeaderMap, now: Timestamp) -> Option<Duration> {
    parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?, now)
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delta-seconds (a fraction is
/// tolerated) or an HTTP-date (IMF-fixdate, and the obsolete RFC 850 and
/// asctime forms). A date in the past is no wait; any wait is clamped to
/// [`MAX_RETRY_AFTER`]. Garbage, signs, exponents, `inf`/`NaN` are `None`.
/// Never panics, whatever the peer sent.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().next().is_some_and(|b| b.is_ascii_digit()) && !value.contains(' ') {
        return delta_seconds(value);
    }
    let at = http_date_ms(value)?;
    Some(Duration::from_millis(at.saturating_sub(now)).min(MAX_RETRY_AFTER))
}

/// `1*DIGIT ["." 1*DIGIT]`, clamped; no float parsing of outside data.
fn delta_seconds(value: &str) -> Option<Duration> {
    let (whole, frac) = match value.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (value, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(f) = frac
        && (f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let max = MAX_RETRY_AFTER.as_secs();
    // Digits past the cap's width only make it larger: clamp without parsing them all.
    let secs = if whole.trim_start_matches('0').len() > 20 {
        max
    } else {
        whole.parse::<u64>().unwrap_or(u64::MAX).min(max)
    };
    let millis = match frac {
        Some(f) if secs < max => f
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0')),
        _ => 0,
    };
    Some(Duration::from_millis(secs * 1_000 + millis).min(MAX_RETRY_AFTER))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An HTTP-date as unix milliseconds, or `None`.
fn http_date_ms(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let (day, month, year, time) = match parts.as_slice() {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        [dow, day, month, year, time, "GMT"] if dow.ends_with(',') => {
            if year.len() != 4 {
                return None;
            }
            (number(day)?, month_index(month)?, number(year)?, *time)
        }
        // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
        [dow, date, time, "GMT"] if dow.ends_with(',') => {
            let mut fields = date.split('-');
            let day = number(fields.next()?)?;
            let month = month_index(fields.next()?)?;
            let yy = fields.next()?;
            if fields.next().is_some() || yy.len() != 2 {
                return None;
            }
            let yy = number(yy)?;
            (
                day,
                month,
                if yy < 70 { 2000 + yy } else { 1900 + yy },
                *time,
            )
        }
        // asctime: "Sun Nov  6 08:49:37 1994"
        [_dow, month, day, time, year] => {
            if year.len() != 4 {
                return None;
            }
            (number(day)?, month_index(month)?, number(year)?, *time)
        }
        _ => return None,
    };
    let mut hms = time.split(':');
    let (h, m, s) = (
        number(hms.next()?)?,
        number(hms.next()?)?,
        number(hms.next()?)?,
    );
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    if !(1970..=9999).contains(&year) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month + 1, day);
    let secs = days * 86_400 + h * 3_600 + m * 60 + s;
    secs.checked_mul(SECOND)
}

/// Up to 4 ASCII digits.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// 0-based month of its three-letter name.
fn month_index(s: &str) -> Option<u64> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as u64)
}

fn days_in_month(year: u64, month0: u64) -> u64 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month0 {
        1 if leap => 29,
        1 => 28,
        3 | 5 | 8 | 10 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date from 1970 on (Howard Hinnant's algorithm).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Standard base64 with padding (RFC 4648), for Basic credentials.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1994-11-06T08:49:37Z, RFC 9110's example date.
    const EXAMPLE: Timestamp = 784_111_777 * SECOND;

    #[test]
    fn delta_seconds_are_read() {
        assert_eq!(parse_retry_after("2", 0), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0 ", 0), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("1.5", 0),
            Some(Duration::from_millis(1_500))
        );
        assert_eq!(
            parse_retry_after("0.0125", 0),
            Some(Duration::from_millis(12))
        );
    }

    #[test]
    fn http_dates_are_read_in_all_three_forms() {
        let ahead = |v: &str| parse_retry_after(v, EXAMPLE - 30 * SECOND);
        assert_eq!(
            ahead("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            ahead("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            ahead("Sun Nov  6 08:49:37 1994"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            http_date_ms("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(0),
            "the epoch"
        );
        assert_eq!(
            http_date_ms("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400 * SECOND),
            "a leap day"
        );
    }

    #[test]
    fn a_date_in_the_past_is_no_wait() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE * 2),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn huge_values_are_clamped() {
        assert_eq!(parse_retry_after("86401", 0), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("18446744073709551616", 0),
            Some(MAX_RETRY_AFTER)
        );
        let many = "9".repeat(10_000);
        assert_eq!(parse_retry_after(&many, 0), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after(&format!("{many}.{many}"), 0),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 0),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn garbage_is_none() {
        for v in [
            "",
            "  ",
            "-1",
            "+5",
            "1e3",
            "inf",
            "NaN",
            "1.",
            ".5",
            "1.2.3",
            "5 s",
            "soon",
            "0x10",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37",
            "１２",
        ] {
            assert_eq!(parse_retry_after(v, EXAMPLE), None, "{v:?}");
        }
    }

    #[test]
    fn no_panic_on_any_short_input() {
        let alphabet = ["0", "9", ".", " ", ",", ":", "-", "GMT", "Nov", "é", "\t"];
        let mut inputs = vec![String::new()];
        for _ in 0..4 {
            inputs = inputs
                .iter()
                .flat_map(|s| alphabet.iter().map(move |a| format!("{s}{a}")))
                .collect();
            for s in &inputs {
                let _ = parse_retry_after(s, u64::MAX);
                let _ = parse_retry_after(s, 0);
            }
        }
    }

    #[test]
    fn the_header_is_read_from_a_header_map() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, 0), None);
        h.insert(RETRY_AFTER, reqwest::header::HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h, 0), Some(Duration::from_secs(2)));
        h.insert(
            RETRY_AFTER,
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").expect("opaque bytes"),
        );
        assert_eq!(retry_after(&h, 0), None);
    }

    #[tokio::test]
    async fn a_transport_error_is_described_without_its_url() {
        ensure_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        // A port nothing listens on (bound, then dropped).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let url = format!("http://127.0.0.1:{port}/secret-token-in-path?key=hunter2");
        let e = client.get(&url).send().await.expect_err("nothing listens");
        let text = describe(&e);
        assert!(text.starts_with("could not connect"), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("secret-token"),
            "{text}"
        );
    }
}
