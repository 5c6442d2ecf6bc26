//! The little of HTTP/1.1 the endpoint reads: a request line and its
//! headers, up to a blank line, within a size cap. Only `GET` (and `HEAD`)
//! of `/metrics` is served; the body of anything else is never read, since
//! every answer closes the connection.

/// What a request asks for, once its head is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Asked {
    /// `GET /metrics` (a query string is ignored); `head`: `HEAD`, no body.
    Metrics { head: bool, accept: Option<String> },
    /// A well-formed request for anything else.
    NotFound,
    /// `/metrics` with another method than GET or HEAD.
    MethodNotAllowed,
    /// Not an HTTP/1.x request head.
    BadRequest,
}

/// Where the head ends (just past its blank line), if it has arrived.
pub(super) fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Read a complete request head.
pub(super) fn parse(head: &[u8]) -> Asked {
    let Ok(text) = std::str::from_utf8(head) else {
        return Asked::BadRequest;
    };
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let Some(request_line) = lines.next() else {
        return Asked::BadRequest;
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Asked::BadRequest;
    };
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic());
    if !token(method) || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Asked::BadRequest;
    }
    let mut accept = None;
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Asked::BadRequest;
        };
        if name.is_empty() || name.contains(' ') {
            return Asked::BadRequest;
        }
        if name.eq_ignore_ascii_case("accept") {
            accept = Some(value.trim().to_string());
        }
    }
    let path = target.split_once('?').map(|(p, _)| p).unwrap_or(target);
    if path != "/metrics" {
        return Asked::NotFound;
    }
    match method {
        "GET" => Asked::Metrics {
            head: false,
            accept,
        },
        "HEAD" => Asked::Metrics { head: true, accept },
        _ => Asked::MethodNotAllowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_is_served_with_its_accept_header() {
        let head = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n";
        assert_eq!(head_end(head), Some(head.len()));
        assert_eq!(
            parse(head),
            Asked::Metrics {
                head: false,
                accept: Some("application/openmetrics-text;version=1.0.0".into())
            }
        );
        assert_eq!(
            parse(b"HEAD /metrics?x=1 HTTP/1.0\n\n"),
            Asked::Metrics {
                head: true,
                accept: None
            }
        );
    }

    #[test]
    fn anything_else_is_refused_by_what_it_is() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Asked::NotFound);
        assert_eq!(parse(b"GET /metrics/x HTTP/1.1\r\n\r\n"), Asked::NotFound);
        assert_eq!(
            parse(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Asked::MethodNotAllowed
        );
        for bad in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET /metrics HTTP/2\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET http://x/metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
            b"\xff\xfe /metrics HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(parse(bad), Asked::BadRequest, "{bad:?}");
        }
    }

    #[test]
    fn the_head_ends_at_its_first_blank_line() {
        assert_eq!(head_end(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\n\nbody"), Some(16));
    }
}
