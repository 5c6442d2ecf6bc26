//! The wire format of the control API: parsing client messages and building
//! the server's answers. Pure functions, no I/O; the protocol table is in the
//! module doc of `control`.

use crate::engine::Snapshot;
use serde_json::{Map, Value, json};

/// The built-in message types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Status,
    Snapshot,
    Subscribe,
    Unsubscribe,
    /// The handshake's first step: the client's nonce.
    Hello,
    /// The handshake's second step: the client's proof.
    Auth,
    Command,
    /// Anything else: offered to the extensions, then refused. Holds the
    /// `type` if there was one.
    Other(Option<String>),
}

/// One parsed client message.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub id: Option<Value>,
    pub kind: Kind,
    pub body: Map<String, Value>,
}

/// Parse a text frame. The error text is safe to send back: serde_json's
/// messages give a position, never the input.
pub(crate) fn parse(text: &str) -> Result<Incoming, (Option<Value>, String)> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| (None, format!("malformed JSON: {e}")))?;
    let Value::Object(body) = value else {
        return Err((None, "a message must be a JSON object".into()));
    };
    let id = body.get("id").cloned();
    let kind = match body.get("type") {
        None => Kind::Other(None),
        Some(Value::String(t)) => match t.as_str() {
            "status" => Kind::Status,
            "snapshot" => Kind::Snapshot,
            "subscribe" => Kind::Subscribe,
            "unsubscribe" => Kind::Unsubscribe,
            "hello" => Kind::Hello,
            "auth" => Kind::Auth,
            "command" => Kind::Command,
            other => Kind::Other(Some(other.to_string())),
        },
        Some(_) => return Err((id, "\"type\" must be a string".into())),
    };
    Ok(Incoming { id, kind, body })
}

/// Put `id` on an answer (when the request had one and the answer has none).
pub(crate) fn with_id(mut answer: Value, id: &Option<Value>) -> Value {
    if let (Some(id), Value::Object(map)) = (id, &mut answer) {
        map.entry("id").or_insert_with(|| id.clone());
    }
    answer
}

pub(crate) fn error(id: &Option<Value>, message: impl Into<String>) -> Value {
    with_id(json!({"type": "error", "error": message.into()}), id)
}

/// The server's half of the handshake: its nonce and its proof.
pub(crate) fn challenge(id: &Option<Value>, nonce: &str, proof: &str) -> Value {
    with_id(
        json!({"type": "challenge", "nonce": nonce, "proof": proof}),
        id,
    )
}

pub(crate) fn unknown_type(id: &Option<Value>, kind: &Option<String>) -> Value {
    match kind {
        Some(t) => error(
            id,
            format!(
                "unknown message type {:?} (expected status, snapshot, subscribe, unsubscribe, hello, auth or command)",
                truncate(t, 64)
            ),
        ),
        None => error(
            id,
            "unknown message type: the message has no \"type\" (expected status, snapshot, subscribe, unsubscribe, hello, auth or command)",
        ),
    }
}

/// The short status: what `arbkeep status` prints.
pub(crate) fn status(id: &Option<Value>, s: &Snapshot) -> Value {
    with_id(
        json!({
            "type": "status",
            "status": {
                "seq": s.seq,
                "mode": s.mode,
                "phase": s.phase,
                "paused": s.paused,
                "paused_tokens": s.paused_tokens,
                "approval": s.approval,
                "now": s.now,
                "cycles": {
                    "open": s.counts.open,
                    "completed": s.counts.completed,
                    "failed": s.counts.failed,
                    "not_started": s.counts.not_started,
                },
                "intents": s.intents,
                "alarms": s.alarms,
                "kill_switch": s.kill_switch,
                "risk_today": s.risk_today,
            },
        }),
        id,
    )
}

pub(crate) fn snapshot(id: &Option<Value>, s: &Snapshot) -> Value {
    match serde_json::to_value(s) {
        Ok(snapshot) => with_id(json!({"type": "snapshot", "snapshot": snapshot}), id),
        Err(e) => error(id, format!("the snapshot could not be encoded: {e}")),
    }
}

pub(crate) fn result(id: &Option<Value>, outcome: &Result<String, String>) -> Value {
    let (ok, message) = match outcome {
        Ok(m) => (true, m),
        Err(m) => (false, m),
    };
    with_id(json!({"type": "result", "ok": ok, "message": message}), id)
}

/// The audit-trail name of the front end: `<operator>@api`, or `api` when
/// the client gave none or gave something we would not want in a ledger.
pub(crate) fn operator(body: &Map<String, Value>) -> String {
    match body.get("operator").and_then(Value::as_str) {
        Some(op)
            if !op.is_empty()
                && op.len() <= 32
                && op
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            format!("{op}@api")
        }
        _ => "api".into(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_kinds_and_ids() {
        let m = parse(r#"{"type":"status","id":7}"#).expect("parse");
        assert_eq!(m.kind, Kind::Status);
        assert_eq!(m.id, Some(json!(7)));
        let m = parse(r#"{"command":"get_supported_assets"}"#).expect("parse");
        assert_eq!(m.kind, Kind::Other(None));
        assert!(parse("{").is_err());
        assert!(parse("[1]").is_err());
        let (id, _) = parse(r#"{"type":3,"id":"x"}"#).expect_err("type");
        assert_eq!(id, Some(json!("x")));
    }

    #[test]
    fn operator_is_sanitised() {
        let body = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(operator(&body(json!({"operator": "tui"}))), "tui@api");
        assert_eq!(operator(&body(json!({"operator": "a b"}))), "api");
        assert_eq!(operator(&body(json!({}))), "api");
    }

    #[test]
    fn with_id_keeps_an_existing_id() {
        let v = with_id(json!({"id": 1}), &Some(json!(2)));
        assert_eq!(v["id"], json!(1));
        let v = with_id(json!({}), &Some(json!(2)));
        assert_eq!(v["id"], json!(2));
    }
}
