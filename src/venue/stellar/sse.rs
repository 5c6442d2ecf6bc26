//! Horizon's server-sent events, read strictly: frames split on a blank
//! line, each `field: value` line kept (`id`, `event`, `data`, `retry`;
//! `:` comments ignored), a frame larger than a cap refused; and a frame of
//! `GET /ledgers` decoded into a ledger close. Horizon opens a stream with
//! `retry: 1000` / `event: open` / `data: "hello"` and may end it with
//! `event: close` / `data: "byebye"`; every ledger is `id: <paging_token>`
//! and `data: <the ledger JSON>`, whose `sequence` (a number) and
//! `closed_at` (ISO 8601 UTC, `2026-12-03T11:35:10Z`) are what is kept.

use serde::Deserialize;

/// A frame (or the bytes awaiting one) larger than this is refused: a
/// ledger record is about 1 KiB.
pub const FRAME_CAP: usize = 64 * 1024;

/// One event as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseFrame {
    pub id: Option<String>,
    pub event: Option<String>,
    /// `data` lines joined with `\n`.
    pub data: String,
    pub retry_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an event of more than {FRAME_CAP} bytes (no blank line ends it)")]
    TooLarge,
    #[error("an event that is not UTF-8")]
    NotText,
    #[error("a line without a field name: {0:?}")]
    BadLine(String),
    #[error("a ledger event that does not parse: {0}")]
    BadLedger(String),
}

/// Bytes in, whole frames out.
#[derive(Debug, Default)]
pub struct SseReader {
    buf: Vec<u8>,
}

impl SseReader {
    /// Take `bytes`; return every frame they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseFrame>, SseError> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some((end, skip)) = frame_end(&self.buf) {
            let raw: Vec<u8> = self.buf.drain(..end + skip).take(end).collect();
            if let Some(f) = parse_frame(&raw)? {
                out.push(f);
            }
        }
        if self.buf.len() > FRAME_CAP {
            return Err(SseError::TooLarge);
        }
        Ok(out)
    }
}

/// Where the first frame ends and how long its blank-line separator is.
fn frame_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// A frame of only comments is `None`.
fn parse_frame(raw: &[u8]) -> Result<Option<SseFrame>, SseError> {
    let text = std::str::from_utf8(raw).map_err(|_| SseError::NotText)?;
    let mut f = SseFrame::default();
    let mut data: Vec<&str> = Vec::new();
    let mut any = false;
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((k, v)) => (k, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        any = true;
        match field {
            "id" => f.id = Some(value.to_string()),
            "event" => f.event = Some(value.to_string()),
            "data" => data.push(value),
            "retry" => f.retry_ms = value.parse().ok(),
            // The SSE spec ignores unknown fields; a line that is not a
            // field at all is not Horizon.
            other if other.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {}
            _ => return Err(SseError::BadLine(line.chars().take(80).collect())),
        }
    }
    f.data = data.join("\n");
    Ok(any.then_some(f))
}

/// A ledger that closed: its sequence and close time (unix seconds; `None`
/// when only the sequence is known, as from getLatestLedger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerClose {
    pub sequence: u32,
    pub closed_at: Option<u64>,
}

/// What one frame of `GET /ledgers` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEvent {
    /// `"hello"`, a bare `retry:`, or another control frame: nothing closed.
    Control,
    /// `event: close` / `"byebye"`: Horizon ends the stream.
    Bye,
    Closed(LedgerClose),
}

/// Decode a frame strictly: a data frame must be a ledger with a positive
/// `sequence` and a readable `closed_at`.
pub fn ledger_event(f: &SseFrame) -> Result<LedgerEvent, SseError> {
    #[derive(Deserialize)]
    struct Ledger {
        sequence: u32,
        closed_at: String,
    }
    match f.event.as_deref() {
        Some("close") => return Ok(LedgerEvent::Bye),
        Some("open") => return Ok(LedgerEvent::Control),
        _ => {}
    }
    match f.data.trim() {
        "" => return Ok(LedgerEvent::Control),
        "\"hello\"" => return Ok(LedgerEvent::Control),
        "\"byebye\"" => return Ok(LedgerEvent::Bye),
        _ => {}
    }
    let l: Ledger =
        serde_json::from_str(&f.data).map_err(|e| SseError::BadLedger(e.to_string()))?;
    if l.sequence == 0 {
        return Err(SseError::BadLedger("sequence 0".into()));
    }
    let closed_at = parse_closed_at(&l.closed_at)
        .ok_or_else(|| SseError::BadLedger(format!("closed_at {:?}", l.closed_at)))?;
    Ok(LedgerEvent::Closed(LedgerClose {
        sequence: l.sequence,
        closed_at: Some(closed_at),
    }))
}

/// `YYYY-MM-DDTHH:MM:SSZ` (Horizon's `closed_at`) as unix seconds.
pub fn parse_closed_at(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let day = crate::model::time::parse_day(text.get(0..10)?).ok()?;
    let two = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = text.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (h, m, s) = (two(11..13)?, two(14..16)?, two(17..19)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    day.checked_mul(86_400)?.checked_add(h * 3_600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_frames_split_across_chunks_decode_to_ledger_closes() {
        let mut r = SseReader::default();
        let stream = "retry: 1000\nevent: open\ndata: \"hello\"\n\n\
            id: 4294967296\ndata: {\"id\":\"ab\",\"paging_token\":\"4294967296\",\"sequence\":1001,\"closed_at\":\"2026-12-03T11:35:10Z\"}\n\n\
            : keepalive\n\n\
            retry: 10\nevent: close\ndata: \"byebye\"\n\n";
        let bytes = stream.as_bytes();
        let mut frames = Vec::new();
        for chunk in bytes.chunks(7) {
            frames.extend(r.push(chunk).expect("frames"));
        }
        let events: Vec<LedgerEvent> = frames
            .iter()
            .map(|f| ledger_event(f).expect("event"))
            .collect();
        assert_eq!(
            events,
            vec![
                LedgerEvent::Control,
                LedgerEvent::Closed(LedgerClose {
                    sequence: 1001,
                    closed_at: parse_closed_at("2026-12-03T11:35:10Z"),
                }),
                LedgerEvent::Bye,
            ]
        );
        assert_eq!(frames[1].id.as_deref(), Some("4294967296"));
        assert_eq!(frames[0].retry_ms, Some(1000));
    }

    #[test]
    fn a_malformed_or_oversized_event_is_refused() {
        for data in [
            "{\"sequence\":\"1001\",\"closed_at\":\"2026-12-03T11:35:10Z\"}",
            "{\"sequence\":1001}",
            "{\"sequence\":0,\"closed_at\":\"2026-12-03T11:35:10Z\"}",
            "{\"sequence\":1001,\"closed_at\":\"2026-12-03 11:35:10\"}",
            "{\"sequence\":-1,\"closed_at\":\"2026-12-03T11:35:10Z\"}",
            "{\"sequ",
        ] {
            let f = SseFrame {
                data: data.into(),
                ..SseFrame::default()
            };
            assert!(ledger_event(&f).is_err(), "{data}");
        }
        let mut r = SseReader::default();
        assert_eq!(r.push(&vec![b'x'; FRAME_CAP + 1]), Err(SseError::TooLarge));
        let mut r = SseReader::default();
        assert!(r.push(b"data: {\"a\"\n\xff\xfe\n\n").is_err());
    }

    #[test]
    fn closed_at_is_exact_utc_seconds() {
        assert_eq!(parse_closed_at("1970-01-01T00:00:05Z"), Some(5));
        assert_eq!(parse_closed_at("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        for bad in [
            "2023-11-14T22:13:20",
            "2023-11-14T25:13:20Z",
            "2023-02-30T22:13:20Z",
            "2023-11-14T22:13:2xZ",
        ] {
            assert_eq!(parse_closed_at(bad), None, "{bad}");
        }
    }
}
