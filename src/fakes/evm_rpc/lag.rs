//! A node behind the head, as a load-balanced provider may route to: which
//! answers come from the node behind ([`Lag`]), and how a call is answered
//! or rewritten before it reaches the node at the head, and its answer
//! hidden after (a receipt not yet indexed).

use super::method_of;
use serde_json::{Value, json};

/// A node behind the head by `blocks`, as a load balancer may route to.
/// Each flag says which answers come from the node behind; the others come
/// from the node at the head (so the two may disagree, as they do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lag {
    pub blocks: u64,
    /// `eth_blockNumber` answers the stale head.
    pub head: bool,
    /// `eth_getTransactionCount` at `latest` / `pending` answers as of the stale head.
    pub nonce: bool,
    /// `eth_getTransactionReceipt` and `eth_getTransactionByHash` of a
    /// transaction mined past the stale head answer `null` (not yet indexed).
    pub receipts: bool,
    /// State and blocks past the stale head are missing: `eth_getBlockByNumber`
    /// answers `null`, `eth_getTransactionCount` at such a block an error.
    pub history: bool,
}

impl Lag {
    /// Receipts, blocks and state from the node behind; the head and the
    /// nonce from the node at the head (whose transaction used a nonce
    /// cannot be read).
    pub fn receipts_and_state(blocks: u64) -> Lag {
        Lag {
            blocks,
            head: false,
            nonce: false,
            receipts: true,
            history: true,
        }
    }

    /// Every answer from the node behind.
    pub fn everything(blocks: u64) -> Lag {
        Lag {
            blocks,
            head: true,
            nonce: true,
            receipts: true,
            history: true,
        }
    }
}

pub(super) fn hex_u64(v: &Value) -> Option<u64> {
    let s = v.as_str()?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

fn hex(n: u64) -> Value {
    Value::String(format!("0x{n:x}"))
}

/// What the lagging node does with a call before it reaches the node at the head.
pub(super) enum Early {
    /// Answered without forwarding.
    Answer(Value),
    /// Forwarded as rewritten.
    Rewrite(Value),
}

fn result(call: &Value, v: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": call.get("id"), "result": v})
}

pub(super) fn before(lag: Lag, head: u64, call: &Value) -> Option<Early> {
    let method = method_of(call);
    let params = call.get("params").and_then(Value::as_array)?;
    match method.as_str() {
        "eth_blockNumber" if lag.head => Some(Early::Answer(result(call, hex(head)))),
        "eth_getTransactionCount" => {
            let tag = params.get(1).cloned().unwrap_or(Value::Null);
            let at = match tag.as_str() {
                Some("latest") | Some("pending") | None if lag.nonce => Some(head),
                Some(t) => hex_u64(&Value::String(t.to_string())),
                None => None,
            };
            match at {
                Some(n) if lag.history && n > head => Some(Early::Answer(json!({
                    "jsonrpc": "2.0", "id": call.get("id"),
                    "error": {"code": -32000, "message": format!("header not found (block {n})")}
                }))),
                Some(n)
                    if lag.nonce && matches!(tag.as_str(), Some("latest" | "pending") | None) =>
                {
                    let mut c = call.clone();
                    c["params"] = json!([params.first().cloned().unwrap_or(Value::Null), hex(n)]);
                    Some(Early::Rewrite(c))
                }
                _ => None,
            }
        }
        "eth_getBlockByNumber" if lag.history => {
            let n = params.first().and_then(hex_u64)?;
            (n > head).then(|| Early::Answer(result(call, Value::Null)))
        }
        _ => None,
    }
}

pub(super) fn after(lag: Lag, head: u64, call: &Value, answer: Value) -> Value {
    let method = method_of(call);
    let hidden = match method.as_str() {
        "eth_getTransactionReceipt" | "eth_getTransactionByHash" if lag.receipts => answer
            .get("result")
            .and_then(|r| r.get("blockNumber"))
            .and_then(hex_u64)
            .is_some_and(|n| n > head),
        _ => false,
    };
    if hidden {
        result(call, Value::Null)
    } else {
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lagging_node_answers_as_of_its_stale_head() {
        let lag = Lag::everything(5);
        let call = json!({"jsonrpc": "2.0", "id": 3, "method": "eth_getTransactionCount", "params": ["0x00", "latest"]});
        match before(lag, 100, &call) {
            Some(Early::Rewrite(c)) => assert_eq!(c["params"][1], json!("0x64")),
            _ => panic!("the nonce is read at the stale head"),
        }
        let past = json!({"jsonrpc": "2.0", "id": 4, "method": "eth_getTransactionCount", "params": ["0x00", "0x65"]});
        match before(lag, 100, &past) {
            Some(Early::Answer(a)) => assert!(a.get("error").is_some()),
            _ => panic!("no state past the stale head"),
        }
        let receipt = json!({"jsonrpc": "2.0", "id": 5, "method": "eth_getTransactionReceipt", "params": ["0x00"]});
        let mined = json!({"jsonrpc": "2.0", "id": 5, "result": {"blockNumber": "0x65"}});
        assert_eq!(after(lag, 100, &receipt, mined)["result"], Value::Null);
        let older = json!({"jsonrpc": "2.0", "id": 5, "result": {"blockNumber": "0x64"}});
        assert_eq!(after(lag, 100, &receipt, older.clone()), older);
    }
}
