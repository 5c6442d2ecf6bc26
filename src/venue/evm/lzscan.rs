//! The LayerZero Scan API as a second source on a Stargate transfer
//! (evm.md §2.6; `[evm] layerzero_scan`, off unless set): one read,
//! `GET {base}/messages/guid/{guid}`, its answer parsed defensively into a
//! [`Listing`], and the words the operator reads of it ([`note`]).
//!
//! What it owns, and what it never does: it only *explains* a transfer the
//! chain still shows in flight (`INFLIGHT`, `CONFIRMING`), raises the
//! trouble the chain cannot show yet (`FAILED`, `BLOCKED`,
//! `PAYLOAD_STORED`), and says when it claims `DELIVERED` while the
//! destination pool has no `OFTReceived` for the guid (the chain wins). It
//! never credits an arrival and never makes anything be sent: the
//! destination's `OFTReceived` stays the only arrival (`bridge`). Every
//! failure of it — down, slow, 429, a malformed, cut or lying answer —
//! degrades to "no second source" with a warning in the log, never to a
//! failed step or a held one.
//!
//! The guid is asked, not the source transaction: it names exactly one
//! message, where a transaction may carry several. A 429 is honoured: no
//! ask before its `Retry-After` (capped, [`MAX_QUIET`]) or [`QUIET_429`]
//! without one; the engine's next pass asks again, so there is no retry
//! loop here. Nothing of the answer is shown but a known status name and a
//! destination transaction hash that parses as one.

use crate::model::{Clock, Timestamp};
use crate::net::{describe, retry_after};
use crate::venue::NOTE_TROUBLE;
use crate::venue::http_body::read_capped;
use alloy::primitives::B256;
use serde_json::Value;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;

/// Each ask is answered within this long (or `[evm] rpc_timeout`, if shorter).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// A message's answer is a few kilobytes; anything past this is not one.
pub const BODY_CAP: usize = 256 * 1024;
/// No ask for this long after a 429 without `Retry-After`.
pub const QUIET_429: Duration = Duration::from_secs(30);
/// The longest a `Retry-After` keeps us from asking.
pub const MAX_QUIET: Duration = Duration::from_secs(600);

/// A message's status as the Scan API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStatus {
    Inflight,
    Confirming,
    Delivered,
    Failed,
    PayloadStored,
    Blocked,
    /// A name we do not know (kept to `A-Z0-9_`, at most 32 characters).
    Other(String),
}

impl ScanStatus {
    pub fn from_name(name: &str) -> ScanStatus {
        match name {
            "INFLIGHT" => ScanStatus::Inflight,
            "CONFIRMING" => ScanStatus::Confirming,
            "DELIVERED" => ScanStatus::Delivered,
            "FAILED" => ScanStatus::Failed,
            "PAYLOAD_STORED" => ScanStatus::PayloadStored,
            "BLOCKED" => ScanStatus::Blocked,
            other => ScanStatus::Other(
                other
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(32)
                    .collect::<String>()
                    .to_ascii_uppercase(),
            ),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ScanStatus::Inflight => "INFLIGHT",
            ScanStatus::Confirming => "CONFIRMING",
            ScanStatus::Delivered => "DELIVERED",
            ScanStatus::Failed => "FAILED",
            ScanStatus::PayloadStored => "PAYLOAD_STORED",
            ScanStatus::Blocked => "BLOCKED",
            ScanStatus::Other(name) => name,
        }
    }

    /// What the operator must act on: the message will not arrive by itself.
    pub fn is_trouble(&self) -> bool {
        matches!(
            self,
            ScanStatus::Failed | ScanStatus::PayloadStored | ScanStatus::Blocked
        )
    }
}

/// One message as the Scan API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanMessage {
    pub status: ScanStatus,
    pub source_tx: Option<B256>,
    pub destination_tx: Option<B256>,
}

/// What the Scan API says of a guid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// Not listed (yet): normal right after sending.
    NotListed,
    Listed(ScanMessage),
}

/// Why the Scan API gave no usable answer. Each one means "no second
/// source this time", nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScanError {
    #[error("could not ask: {0}")]
    Transport(String),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("429 rate limited")]
    RateLimited,
    #[error("rate limited: not asked again for {secs}s")]
    Quiet { secs: u64 },
    #[error("the answer was not read whole: {0}")]
    Body(String),
    #[error("answer refused: {0}")]
    Malformed(String),
}

fn hash_at(v: &Value, pointer: &str) -> Option<B256> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(|s| B256::from_str(s.trim()).ok())
}

/// Read a 200 answer of `/messages/guid/{guid}`. Only an entry naming
/// `guid` (or naming none) is taken; one naming a source transaction other
/// than `source_tx` (when given) is a lie and refused.
pub fn parse(body: &[u8], guid: B256, source_tx: Option<B256>) -> Result<Listing, ScanError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ScanError::Malformed("the answer is not JSON".into()))?;
    let Some(data) = v.get("data") else {
        return Err(ScanError::Malformed("no data".into()));
    };
    let Some(entries) = data.as_array() else {
        return Err(ScanError::Malformed("data is not a list".into()));
    };
    if entries.is_empty() {
        return Ok(Listing::NotListed);
    }
    let ours = entries.iter().find(|e| match e.get("guid") {
        None | Some(Value::Null) => true,
        Some(g) => g
            .as_str()
            .and_then(|s| B256::from_str(s.trim()).ok())
            .is_some_and(|g| g == guid),
    });
    let Some(entry) = ours else {
        return Err(ScanError::Malformed(
            "it lists only messages of other guids".into(),
        ));
    };
    let name = entry
        .pointer("/status/name")
        .and_then(Value::as_str)
        .ok_or_else(|| ScanError::Malformed("no status.name".into()))?;
    let message = ScanMessage {
        status: ScanStatus::from_name(name.trim()),
        source_tx: hash_at(entry, "/source/tx/txHash"),
        destination_tx: hash_at(entry, "/destination/tx/txHash"),
    };
    if let (Some(said), Some(ours)) = (message.source_tx, source_tx)
        && said != ours
    {
        return Err(ScanError::Malformed(format!(
            "it names source transaction {said}, not ours ({ours})"
        )));
    }
    Ok(Listing::Listed(message))
}

/// The words shown for a transfer the chain still has in flight, from the
/// scan's answer (or its failure) and whether the destination already has
/// the guid's `OFTReceived` (waiting for its confirmations).
pub fn note(answer: &Result<Listing, ScanError>, seen_on_chain: bool, to: &str) -> String {
    let m = match answer {
        Err(e) => {
            return format!("LayerZero Scan unavailable ({e}); tracked on chain only");
        }
        Ok(Listing::NotListed) => return "LayerZero Scan: not listed yet".into(),
        Ok(Listing::Listed(m)) => m,
    };
    let dst = m
        .destination_tx
        .map(|h| format!(" (destination tx {h})"))
        .unwrap_or_default();
    match &m.status {
        ScanStatus::Delivered if seen_on_chain => format!(
            "LayerZero Scan: DELIVERED{dst}; OFTReceived seen on {to}, waiting for its confirmations"
        ),
        ScanStatus::Delivered => format!(
            "LayerZero Scan says DELIVERED{dst} but {to} shows no OFTReceived for this guid — \
             they disagree; the chain decides, nothing is credited until it shows the arrival"
        ),
        ScanStatus::PayloadStored => format!(
            "{NOTE_TROUBLE} — LayerZero Scan: PAYLOAD_STORED{dst}: the message reached {to} and \
             reverted; it must be retried (Stargate retryReceiveToken) — operator action needed, \
             nothing is credited"
        ),
        ScanStatus::Failed => format!(
            "{NOTE_TROUBLE} — LayerZero Scan: FAILED{dst}: the message will not be delivered by itself \
             — operator action needed, nothing is credited"
        ),
        ScanStatus::Blocked => format!(
            "{NOTE_TROUBLE} — LayerZero Scan: BLOCKED{dst}: the pathway holds the message \
             — operator action needed, nothing is credited"
        ),
        ScanStatus::Other(name) => {
            format!("LayerZero Scan: unknown status {name:?}; tracked on chain")
        }
        known => format!("LayerZero Scan: {}", known.name()),
    }
}

/// How the last ask went, for the Venues panel.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// When it last answered something readable.
    ok_at: Option<Timestamp>,
    /// Why the last ask failed, when it did.
    failing: Option<String>,
    latency_ms: Option<u64>,
}

/// The Scan API client; one per venue.
pub struct LzScan {
    base: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// No ask before this instant (after a 429).
    quiet_until: Mutex<Timestamp>,
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for LzScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LzScan({})", self.base)
    }
}

impl LzScan {
    /// `base` as configured (`https://scan.layerzero-api.com/v1`), each
    /// ask bounded by `timeout`.
    pub fn open(base: &str, timeout: Duration, clock: Arc<dyn Clock>) -> Result<LzScan, String> {
        let http = crate::net::api_client("LayerZero Scan", timeout)?;
        Ok(LzScan {
            base: base.trim_end_matches('/').to_string(),
            http,
            clock,
            quiet_until: Mutex::new(0),
            seen: Mutex::new(Seen::default()),
        })
    }

    /// The client `[evm] layerzero_scan` asks for, if any.
    pub fn from_config(
        cfg: &crate::config::EvmConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<LzScan>, String> {
        let Some(base) = &cfg.layerzero_scan else {
            return Ok(None);
        };
        let timeout = TIMEOUT.min(Duration::from_millis(cfg.rpc_timeout_ms));
        LzScan::open(base, timeout, clock).map(Some)
    }

    fn quiet(&self) -> std::sync::MutexGuard<'_, Timestamp> {
        self.quiet_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Its line on the Venues panel: answering, or why the transfers in
    /// flight are tracked on the chain alone.
    pub fn health_line(&self) -> crate::venue::VenueHealth {
        let now = self.clock.now();
        let seen = self.seen().clone();
        let quiet = (*self.quiet()).saturating_sub(now);
        let (ok, detail) = match (&seen.failing, seen.ok_at) {
            (Some(why), _) if quiet > 0 => (
                false,
                format!(
                    "{why}; quiet {}s, transfers tracked on chain only",
                    quiet.div_ceil(1000)
                ),
            ),
            (Some(why), _) => (false, format!("{why}; transfers tracked on chain only")),
            (None, Some(_)) => (true, "second source on Stargate transfers".to_string()),
            (None, None) => (
                true,
                "second source on Stargate transfers; not asked yet".to_string(),
            ),
        };
        crate::venue::VenueHealth {
            name: "LayerZero Scan".into(),
            ok,
            head: None,
            latency_ms: seen.latency_ms,
            last_seen: seen.ok_at,
            detail,
        }
    }

    /// What the Scan API lists under `guid` (the send's `source_tx`, when
    /// known, must be the one it names).
    pub async fn message(&self, guid: B256, source_tx: Option<B256>) -> Result<Listing, ScanError> {
        let started = std::time::Instant::now();
        let answer = self.ask(guid, source_tx).await;
        let mut seen = self.seen();
        match &answer {
            Ok(_) => {
                seen.ok_at = Some(self.clock.now());
                seen.failing = None;
                seen.latency_ms = Some(started.elapsed().as_millis() as u64);
            }
            // Held back by an earlier 429: that failure still stands.
            Err(ScanError::Quiet { .. }) => {}
            Err(e) => seen.failing = Some(e.to_string()),
        }
        answer
    }

    async fn ask(&self, guid: B256, source_tx: Option<B256>) -> Result<Listing, ScanError> {
        let now = self.clock.now();
        let until = *self.quiet();
        if now < until {
            return Err(ScanError::Quiet {
                secs: (until - now).div_ceil(1000),
            });
        }
        let url = format!("{}/messages/guid/{guid}", self.base);
        let response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| ScanError::Transport(describe(&e)))?;
        let status = response.status().as_u16();
        if status == 429 {
            let wait = retry_after(response.headers(), now)
                .unwrap_or(QUIET_429)
                .min(MAX_QUIET);
            *self.quiet() = now.saturating_add(wait.as_millis() as u64);
            return Err(ScanError::RateLimited);
        }
        let body = read_capped(response, BODY_CAP)
            .await
            .map_err(|e| ScanError::Body(e.to_string()))?;
        match status {
            200 => parse(&body, guid, source_tx),
            // Not known (yet) to the API: as an empty list.
            404 => Ok(Listing::NotListed),
            other => Err(ScanError::Status(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "0x5a1f7e6f2b1e4c4d8a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f7";
    const SRC: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";
    const DST: &str = "0x2222222222222222222222222222222222222222222222222222222222222222";

    fn guid() -> B256 {
        B256::from_str(GUID).expect("guid")
    }

    /// Shaped as the Scan API's `/messages/guid/{guid}` answer.
    fn real(status: &str, dst: bool) -> String {
        let destination = if dst {
            format!(
                r#"{{"status":"SUCCEEDED","tx":{{"txHash":"{DST}","blockHash":"0xab","blockNumber":21000100,"blockTimestamp":1733580000}}}}"#
            )
        } else {
            r#"{"status":"WAITING"}"#.into()
        };
        format!(
            r#"{{"data":[{{"pathway":{{"srcEid":30329,"dstEid":30101,"sender":{{"address":"0x2f6f07cdcf3588944bf4c42ac74ff24bf56e7590","chain":"hemi"}},"receiver":{{"address":"0x77b2043768d28e9c9ab44e1abfc95944bce57931","chain":"ethereum"}},"id":"x","nonce":42}},"source":{{"status":"SUCCEEDED","tx":{{"txHash":"{SRC}","blockHash":"0xcd","blockNumber":"1234567","blockTimestamp":1733579900,"from":"0xabc","blockConfirmations":20}}}},"destination":{destination},"verification":{{"dvn":{{"dvns":{{}},"status":"SUCCEEDED"}}}},"guid":"{GUID}","config":{{}},"status":{{"name":"{status}","message":"Executor transaction confirmed"}},"created":"2026-12-07T11:58:20.000Z","updated":"2026-12-07T11:59:40.000Z"}}]}}"#
        )
    }

    fn listed(body: &str) -> ScanMessage {
        match parse(body.as_bytes(), guid(), B256::from_str(SRC).ok()) {
            Ok(Listing::Listed(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn real_shaped_answers_are_read_for_every_status() {
        for (name, want) in [
            ("INFLIGHT", ScanStatus::Inflight),
            ("CONFIRMING", ScanStatus::Confirming),
            ("DELIVERED", ScanStatus::Delivered),
            ("FAILED", ScanStatus::Failed),
            ("PAYLOAD_STORED", ScanStatus::PayloadStored),
            ("BLOCKED", ScanStatus::Blocked),
        ] {
            let m = listed(&real(name, name == "DELIVERED"));
            assert_eq!(m.status, want);
            assert_eq!(m.status.name(), name);
            assert_eq!(m.source_tx, B256::from_str(SRC).ok());
            assert_eq!(m.destination_tx.is_some(), name == "DELIVERED");
        }
        assert!(ScanStatus::PayloadStored.is_trouble() && !ScanStatus::Confirming.is_trouble());
    }

    #[test]
    fn an_empty_list_is_not_listed_yet() {
        let got = parse(br#"{"data":[]}"#, guid(), None);
        assert_eq!(got, Ok(Listing::NotListed));
        assert_eq!(
            note(&got, false, "Ethereum"),
            "LayerZero Scan: not listed yet"
        );
    }

    #[test]
    fn malformed_and_cut_bodies_are_refused_never_a_panic() {
        let whole = real("DELIVERED", true);
        for cut in [1, whole.len() / 3, whole.len() / 2, whole.len() - 1] {
            let got = parse(&whole.as_bytes()[..cut], guid(), None);
            assert!(
                matches!(got, Err(ScanError::Malformed(_))),
                "{cut}: {got:?}"
            );
        }
        for bad in [
            "",
            "<html>502 Bad Gateway</html>",
            "null",
            "[]",
            r#"{"message":"Not Found"}"#,
            r#"{"data":{}}"#,
            r#"{"data":[{}]}"#,
            r#"{"data":[{"status":"DELIVERED"}]}"#,
            r#"{"data":[{"status":{"name":7}}]}"#,
            r#"{"data":[{"guid":"0x01","status":{"name":"DELIVERED"}}]}"#,
        ] {
            let got = parse(bad.as_bytes(), guid(), None);
            assert!(
                matches!(got, Err(ScanError::Malformed(_))),
                "{bad}: {got:?}"
            );
        }
        // Garbage in the hashes is dropped, not shown.
        let m = listed(&real("DELIVERED", true).replace(DST, "0xnothex<script>"));
        assert_eq!(m.destination_tx, None);
    }

    #[test]
    fn an_answer_for_another_message_or_another_send_is_a_lie() {
        let other = real("DELIVERED", true).replace(GUID, SRC);
        assert!(matches!(
            parse(other.as_bytes(), guid(), None),
            Err(ScanError::Malformed(why)) if why.contains("other guids")
        ));
        let elsewhere = real("DELIVERED", true).replace(SRC, DST);
        assert!(matches!(
            parse(elsewhere.as_bytes(), guid(), B256::from_str(SRC).ok()),
            Err(ScanError::Malformed(why)) if why.contains("not ours")
        ));
    }

    #[test]
    fn unknown_names_are_kept_short_and_plain() {
        let m = listed(&real(
            "RE\\u001b[2JTRYING_with_a_very_long_name_indeed_more",
            false,
        ));
        let ScanStatus::Other(name) = &m.status else {
            panic!("{m:?}");
        };
        assert!(name.len() <= 32 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let said = note(&Ok(Listing::Listed(m)), false, "Ethereum");
        assert!(said.contains("unknown status"), "{said}");
    }

    #[test]
    fn the_notes_say_trouble_disagreement_and_failure_plainly() {
        let at = |name: &str, seen| {
            note(
                &Ok(Listing::Listed(listed(&real(name, true)))),
                seen,
                "Ethereum",
            )
        };
        assert_eq!(
            at("CONFIRMING", false),
            format!("LayerZero Scan: CONFIRMING")
        );
        let disagree = at("DELIVERED", false);
        assert!(
            disagree.contains("disagree") && disagree.contains("chain decides"),
            "{disagree}"
        );
        assert!(disagree.contains(DST), "{disagree}");
        assert!(at("DELIVERED", true).contains("waiting for its confirmations"));
        for name in ["FAILED", "BLOCKED", "PAYLOAD_STORED"] {
            let said = at(name, false);
            assert!(said.starts_with("TROUBLE") && said.contains(name), "{said}");
            assert!(said.contains("nothing is credited"), "{said}");
        }
        let down = note(&Err(ScanError::Status(503)), false, "Ethereum");
        assert_eq!(
            down,
            "LayerZero Scan unavailable (HTTP 503); tracked on chain only"
        );
    }
}
