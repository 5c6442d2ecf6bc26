//! Export queries over the control API, so `arbkeep export` and `arbkeep
//! pnl --since` work while the engine holds the store, one bounded page at
//! a time: `{"type":"export","what":"trades","since":0,"until":null,
//! "from":1,"limit":200}` → `{"type":"export","what":"trades",
//! "records":[…],"next":201}` (`next` is `null` on the last page). `since`
//! and `until` are milliseconds (`until` exclusive; `null` or absent: open);
//! the records are the store's own (ledger entries, cycles, the hedge's
//! trades and executions), as `export::read_page` reads them. `limit`
//! defaults to, and may not exceed, [`MAX_EXPORT_PAGE`]. Reading needs no
//! token, like status and ledger.

use crate::engine::EngineHandle;
use crate::engine::extension::{Access, ControlExtension, ExtensionReply, Outbox};
use crate::export::{Period, What, read_page};
use crate::store::StoreReader;
use serde_json::{Value, json};

/// The most records one answer carries.
pub const MAX_EXPORT_PAGE: usize = 200;

pub struct ExportQueries {
    reader: StoreReader,
}

impl ExportQueries {
    pub fn new(reader: StoreReader) -> Self {
        Self { reader }
    }
}

/// The request's fields, or what is wrong with them.
fn parse(message: &Value) -> Result<(What, Period, u64, usize), String> {
    let what: What = message
        .get("what")
        .and_then(Value::as_str)
        .ok_or("export: \"what\" is required (ledger, cycles, trades or hedges)")?
        .parse()
        .map_err(|e| format!("export: \"what\": {e}"))?;
    let ms = |key: &str| -> Result<Option<u64>, String> {
        match message.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or(format!("export: \"{key}\" must be milliseconds since 1970")),
        }
    };
    let period = Period {
        since: ms("since")?.unwrap_or(0),
        until: ms("until")?,
    };
    let from = ms("from")?.unwrap_or(0);
    let limit = match ms("limit")? {
        None => MAX_EXPORT_PAGE,
        Some(n) if (1..=MAX_EXPORT_PAGE as u64).contains(&n) => n as usize,
        Some(_) => {
            return Err(format!(
                "export: \"limit\" must be 1 to {MAX_EXPORT_PAGE}; continue from \"next\""
            ));
        }
    };
    Ok((what, period, from, limit))
}

impl ControlExtension for ExportQueries {
    fn name(&self) -> &str {
        "export"
    }

    fn claim(&self, message: &Value) -> Option<Access> {
        (message.get("type").and_then(Value::as_str) == Some("export")).then_some(Access::Open)
    }

    fn handle(&self, message: Value, _outbox: Outbox, _engine: EngineHandle) -> ExtensionReply {
        let reader = self.reader.clone();
        Box::pin(async move {
            let id = message.get("id").cloned();
            let error = |e: String| json!({"type": "error", "id": id, "error": e});
            let (what, period, from, limit) = match parse(&message) {
                Ok(q) => q,
                Err(e) => return error(e),
            };
            let page = reader
                .read()
                .and_then(|r| read_page(&r, what, period, from, limit));
            match page.map(|p| (p.records.to_json(), p.next)) {
                Ok((Ok(records), next)) => json!({
                    "type": "export",
                    "id": id,
                    "what": what.name(),
                    "records": records,
                    "next": next,
                }),
                Ok((Err(e), _)) => error(format!("export: {e}")),
                Err(e) => error(format!("export: {e}")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_by_field() {
        let q =
            parse(&json!({"type": "export", "what": "hedges", "since": 5, "until": 9})).unwrap();
        assert_eq!(q.0, What::Hedges);
        assert_eq!(
            q.1,
            Period {
                since: 5,
                until: Some(9)
            }
        );
        assert_eq!((q.2, q.3), (0, MAX_EXPORT_PAGE));
        for (bad, names) in [
            (json!({"type": "export"}), "\"what\""),
            (json!({"what": "orders"}), "\"what\""),
            (
                json!({"what": "ledger", "since": "2026-01-01"}),
                "\"since\"",
            ),
            (json!({"what": "ledger", "limit": 0}), "\"limit\""),
            (json!({"what": "ledger", "limit": 100_000}), "\"limit\""),
        ] {
            let e = parse(&bad).unwrap_err();
            assert!(e.contains(names), "{bad}: {e}");
        }
    }
}
