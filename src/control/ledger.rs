//! Ledger queries over the control API, so `arbkeep ledger` works while the
//! engine holds the store, one bounded page at a time:
//! `{"type":"ledger","cycle":"c12","from":1,"limit":500}` →
//! `{"type":"ledger","entries":[…],"next":501}` (`next` is `null` on the last
//! page; ask again with `"from": next` for the rest). `limit` defaults to,
//! and may not exceed, the page cap ([`MAX_LEDGER_PAGE`]); a larger one is
//! refused with an error that names the cap. With `"all": true` the pages
//! are every strategy's money lines (`export::money`), `from` counting
//! lines: `{"type":"ledger","lines":[…],"next":…}`; with `"pnl": true` the
//! answer is each strategy's realised P&L (`{"type":"ledger","pnl":[…]}`).
//! Reading needs no token, like status.

use crate::engine::EngineHandle;
use crate::engine::extension::{Access, ControlExtension, ExtensionReply, Outbox};
use crate::model::CycleId;
use crate::store::StoreReader;
use serde_json::{Value, json};

/// The most entries one answer carries.
pub const MAX_LEDGER_PAGE: usize = 1000;

pub struct LedgerQueries {
    reader: StoreReader,
    page_cap: usize,
}

impl LedgerQueries {
    pub fn new(reader: StoreReader) -> Self {
        Self {
            reader,
            page_cap: MAX_LEDGER_PAGE,
        }
    }

    /// A smaller page cap (tests).
    pub fn with_page_cap(mut self, cap: usize) -> Self {
        self.page_cap = cap.max(1);
        self
    }
}

impl ControlExtension for LedgerQueries {
    fn name(&self) -> &str {
        "ledger"
    }

    fn claim(&self, message: &Value) -> Option<Access> {
        (message.get("type").and_then(Value::as_str) == Some("ledger")).then_some(Access::Open)
    }

    fn handle(&self, message: Value, _outbox: Outbox, _engine: EngineHandle) -> ExtensionReply {
        let reader = self.reader.clone();
        let cap = self.page_cap;
        Box::pin(async move {
            let id = message.get("id").cloned();
            let error = |e: String| json!({"type": "error", "id": id, "error": e});
            let cycle = match message
                .get("cycle")
                .and_then(Value::as_str)
                .map(str::parse::<CycleId>)
            {
                Some(Err(e)) => return error(e.to_string()),
                Some(Ok(c)) => Some(c),
                None => None,
            };
            let from = message.get("from").and_then(Value::as_u64).unwrap_or(0);
            let limit = match message.get("limit") {
                None | Some(Value::Null) => cap,
                Some(v) => match v.as_u64() {
                    Some(n) if n >= 1 && n <= cap as u64 => n as usize,
                    Some(n) if n > cap as u64 => {
                        return error(format!(
                            "ledger: a page holds at most {cap} entries (asked for {n}); ask for fewer and continue from \"next\""
                        ));
                    }
                    _ => {
                        return error(format!(
                            "ledger: \"limit\" must be a whole number from 1 to {cap}"
                        ));
                    }
                },
            };
            if message.get("pnl").and_then(Value::as_bool) == Some(true) {
                return match reader.read().and_then(|r| crate::export::money::pnl(&r)) {
                    Ok(pnl) => json!({"type": "ledger", "id": id, "pnl": pnl}),
                    Err(e) => error(format!("ledger: {e}")),
                };
            }
            if message.get("all").and_then(Value::as_bool) == Some(true) {
                if cycle.is_some() {
                    return error(
                        "ledger: \"all\" lists every strategy; a cycle is the loop's only".into(),
                    );
                }
                let page = reader
                    .read()
                    .and_then(|r| crate::export::money::page(&r, from, limit));
                return match page {
                    Ok((lines, next)) => {
                        json!({"type": "ledger", "id": id, "lines": lines, "next": next})
                    }
                    Err(e) => error(format!("ledger: {e}")),
                };
            }
            let page = reader
                .read()
                .and_then(|r| r.ledger_page(from, limit, |e| cycle.is_none() || e.cycle == cycle));
            match page {
                Ok((entries, next)) => {
                    json!({"type": "ledger", "id": id, "entries": entries, "next": next})
                }
                Err(e) => error(format!("ledger: {e}")),
            }
        })
    }
}
