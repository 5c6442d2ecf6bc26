//! Ledger queries over the control API, so `arbkeep ledger` works while the
//! engine holds the store: `{"type":"ledger","cycle":"c12","from":1}` →
//! `{"type":"ledger","entries":[…]}`. Reading needs no token, like status.

use super::extension::{Access, ControlExtension, ExtensionReply, Outbox};
use crate::model::CycleId;
use crate::store::StoreReader;
use serde_json::{Value, json};

pub struct LedgerQueries {
    reader: StoreReader,
}

impl LedgerQueries {
    pub fn new(reader: StoreReader) -> Self {
        Self { reader }
    }
}

impl ControlExtension for LedgerQueries {
    fn name(&self) -> &str {
        "ledger"
    }

    fn claim(&self, message: &Value) -> Option<Access> {
        (message.get("type").and_then(Value::as_str) == Some("ledger")).then_some(Access::Open)
    }

    fn handle(&self, message: Value, _outbox: Outbox) -> ExtensionReply {
        let reader = self.reader.clone();
        Box::pin(async move {
            let id = message.get("id").cloned();
            let cycle = match message
                .get("cycle")
                .and_then(Value::as_str)
                .map(str::parse::<CycleId>)
            {
                Some(Err(e)) => return json!({"type": "error", "id": id, "error": e}),
                Some(Ok(c)) => Some(c),
                None => None,
            };
            let from = message.get("from").and_then(Value::as_u64).unwrap_or(0);
            let entries = reader.read().and_then(|r| r.ledger(from));
            match entries {
                Ok(entries) => {
                    let entries: Vec<_> = entries
                        .into_iter()
                        .filter(|e| cycle.is_none() || e.cycle == cycle)
                        .collect();
                    json!({"type": "ledger", "id": id, "entries": entries})
                }
                Err(e) => json!({"type": "error", "id": id, "error": format!("ledger: {e}")}),
            }
        })
    }
}
