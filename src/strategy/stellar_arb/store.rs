//! The keeper's own redb tables in the engine's store: intents (written
//! before a transaction leaves — the hash is known before sending), results,
//! and a Stellar ledger of balance changes. Settling an intent, recording its
//! result and its ledger lines is one durable transaction.

pub use crate::engine::snapshot::stellar::Prediction;
use crate::store::{Reader, StoreError, Writer};
use crate::store::{decode, encode};
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// tx hash (hex) → JSON [`Intent`].
const INTENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("stellar_intents");
/// tx hash (hex) → JSON [`Execution`].
const RESULTS: TableDefinition<&str, &[u8]> = TableDefinition::new("stellar_results");
/// sequence → JSON [`LedgerLine`].
const LEDGER: TableDefinition<u64, &[u8]> = TableDefinition::new("stellar_ledger");
/// sequence → JSON [`ResolutionRecord`]: the operator's decisions.
const RESOLUTIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("stellar_resolutions");

/// An operator's decision on an open send (`arbkeep resolve`), and what
/// the keeper made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolutionRecord {
    pub id: String,
    pub hash: String,
    /// settle, drop or retry.
    pub resolution: String,
    pub reason: String,
    pub evidence: Option<String>,
    pub at_ms: u64,
    pub outcome: String,
}

/// A signed transaction about to be (or being) sent. Carries the envelope
/// (public data) so recovery can resend the *same* bytes, never re-sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub hash: String,
    pub account: String,
    pub sequence: i64,
    pub kind: String,
    pub envelope: String,
    pub send: i64,
    pub dest_min: i64,
    /// `create_account`: the account being created (its starting balance is
    /// `send`). Absent in intents written before funding by the master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest: Option<String>,
    /// Unix seconds after which it can never be applied (0: no bound, an
    /// intent written before every transaction carried one).
    pub max_time: u64,
    /// The latest ledger close time when it was signed: it cannot have
    /// applied before. Recovery needs the RPC's history to reach back here.
    #[serde(default)]
    pub signed_close: u64,
    pub created_ms: u64,
    pub label: String,
    /// The fee bump that lifts it out of a surge, if one was sent: recorded
    /// before it leaves, like any send. The intent is still known (and
    /// settled) by its own hash, the inner one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bump: Option<FeeBump>,
    /// A cycle's prediction when it was sent, to show against its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<Prediction>,
}

/// A fee-bump envelope around an intent's signed transaction: the same
/// inner envelope, a higher fee paid by `fee_source` (the master account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeBump {
    pub outer_hash: String,
    /// base64 `TransactionEnvelope::TxFeeBump`.
    pub envelope: String,
    pub fee_source: String,
    /// Inclusion fee bid per operation (the inner's ops + 1), stroops.
    pub per_op: u32,
    /// The most the fee source pays, stroops.
    pub max_fee: i64,
    /// The latest ledger close when it was signed.
    pub signed_close: u64,
    /// Bumps sent for this intent so far, this one included.
    pub count: u32,
}

impl Intent {
    /// What goes to the network when it is (re)sent: the latest fee bump,
    /// else the signed transaction itself. Never re-signed either way.
    pub fn envelope_to_send(&self) -> &str {
        self.bump
            .as_ref()
            .map_or(self.envelope.as_str(), |b| b.envelope.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    pub hash: String,
    pub account: String,
    pub kind: String,
    pub label: String,
    pub send: i64,
    /// XLM change of the account: delivered − sent − fee (or −fee).
    pub delta: i64,
    /// `tx_success`, `op_under_dest_min`, `refused: tx_bad_seq`, `expired` …
    pub result: String,
    pub ledger: u32,
    pub settled_ms: u64,
    /// A cycle's prediction, from its intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<Prediction>,
    /// What a path payment delivered, and the route its result reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub route: String,
}

/// One balance change to book with a settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub account: String,
    pub asset: String,
    pub delta: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerLine {
    pub seq: u64,
    pub account: String,
    pub asset: String,
    pub delta: i64,
    pub hash: String,
    pub reason: String,
}

fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string())
}

pub fn ensure_tables(w: &mut Writer) -> Result<(), StoreError> {
    w.transaction().open_table(INTENTS).map_err(db)?;
    w.transaction().open_table(RESULTS).map_err(db)?;
    w.transaction().open_table(LEDGER).map_err(db)?;
    w.transaction().open_table(RESOLUTIONS).map_err(db)?;
    Ok(())
}

pub fn put_resolution(w: &mut Writer, r: &ResolutionRecord) -> Result<(), StoreError> {
    let bytes = encode("stellar_resolutions", r)?;
    let mut t = w.transaction().open_table(RESOLUTIONS).map_err(db)?;
    let next = t
        .last()
        .map_err(db)?
        .map(|(k, _)| k.value() + 1)
        .unwrap_or(1);
    t.insert(next, bytes.as_slice()).map_err(db)?;
    Ok(())
}

pub fn resolutions(r: &Reader) -> Result<Vec<ResolutionRecord>, StoreError> {
    let Ok(t) = r.transaction().open_table(RESOLUTIONS) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for row in t.iter().map_err(db)? {
        let (k, v) = row.map_err(db)?;
        out.push(decode("stellar_resolutions", k.value(), v.value())?);
    }
    Ok(out)
}

pub fn put_intent(w: &mut Writer, i: &Intent) -> Result<(), StoreError> {
    let bytes = encode("stellar_intents", i)?;
    let mut t = w.transaction().open_table(INTENTS).map_err(db)?;
    t.insert(i.hash.as_str(), bytes.as_slice()).map_err(db)?;
    Ok(())
}

/// Settle: drop the intent, keep the result and its ledger lines.
pub fn settle(w: &mut Writer, e: &Execution, lines: &[Booking]) -> Result<(), StoreError> {
    {
        let mut t = w.transaction().open_table(INTENTS).map_err(db)?;
        t.remove(e.hash.as_str()).map_err(db)?;
    }
    {
        let bytes = encode("stellar_results", e)?;
        let mut t = w.transaction().open_table(RESULTS).map_err(db)?;
        t.insert(e.hash.as_str(), bytes.as_slice()).map_err(db)?;
    }
    let mut t = w.transaction().open_table(LEDGER).map_err(db)?;
    let mut next = t
        .last()
        .map_err(db)?
        .map(|(k, _)| k.value() + 1)
        .unwrap_or(1);
    for b in lines {
        if b.delta == 0 {
            continue;
        }
        let line = LedgerLine {
            seq: next,
            account: b.account.clone(),
            asset: b.asset.clone(),
            delta: b.delta,
            hash: e.hash.clone(),
            reason: b.reason.clone(),
        };
        let bytes = encode("stellar_ledger", &line)?;
        t.insert(next, bytes.as_slice()).map_err(db)?;
        next += 1;
    }
    Ok(())
}

pub fn intents(r: &Reader) -> Result<Vec<Intent>, StoreError> {
    let Ok(t) = r.transaction().open_table(INTENTS) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for row in t.iter().map_err(db)? {
        let (k, v) = row.map_err(db)?;
        out.push(decode("stellar_intents", k.value(), v.value())?);
    }
    Ok(out)
}

pub fn results(r: &Reader) -> Result<Vec<Execution>, StoreError> {
    let Ok(t) = r.transaction().open_table(RESULTS) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<Execution> = Vec::new();
    for row in t.iter().map_err(db)? {
        let (k, v) = row.map_err(db)?;
        out.push(decode("stellar_results", k.value(), v.value())?);
    }
    out.sort_by_key(|e| e.settled_ms);
    Ok(out)
}

pub fn ledger(r: &Reader) -> Result<Vec<LedgerLine>, StoreError> {
    let Ok(t) = r.transaction().open_table(LEDGER) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for row in t.iter().map_err(db)? {
        let (k, v) = row.map_err(db)?;
        out.push(decode("stellar_ledger", k.value(), v.value())?);
    }
    Ok(out)
}

/// The Stellar ledger's lines in the shape every strategy shares
/// (`model::MoneyLine`): each balance change of a trading account, dated by
/// when its transaction settled, in XLM or the credit asset (7 places).
pub fn money_lines(lines: &[LedgerLine], results: &[Execution]) -> Vec<crate::model::MoneyLine> {
    let settled: std::collections::HashMap<&str, u64> = results
        .iter()
        .map(|e| (e.hash.as_str(), e.settled_ms))
        .collect();
    lines
        .iter()
        .map(|l| crate::model::MoneyLine {
            at: settled.get(l.hash.as_str()).copied().unwrap_or(0),
            strategy: "stellar_arb".to_string(),
            venue: "stellar".to_string(),
            asset: l.asset.clone(),
            delta: rust_decimal::Decimal::new(l.delta, 7),
            reference: l.hash.clone(),
            note: format!("{}: {}", l.account, l.reason),
        })
        .collect()
}
