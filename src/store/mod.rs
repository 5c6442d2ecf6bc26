//! The store: one redb file holding cycles, steps (intents and outcomes), the
//! append-only ledger, operator controls and the schema version. The engine
//! is its only writer; every write is one durable transaction, so a crash
//! leaves either all of a change or none of it. Read verbs open it read-only
//! when no engine runs.

/// The private-file helpers and the instance lock live in `crate::files`
/// (the venues use them too); these paths stay for the engine's callers.
pub use crate::files::{
    FileError, InstanceLock, LOCK_FILE, ensure_private_dir, ensure_private_file,
};

use crate::codec::CodecError;
use crate::model::{
    Chain, Controls, Cycle, CycleId, IntentId, LedgerEntry, LedgerKind, Mode, StepKind, StepRecord,
    TokenId,
};
use redb::{
    Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    WriteTransaction,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

pub const STORE_FILE: &str = "store.redb";
pub const SCHEMA_VERSION: u32 = 1;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CYCLES: TableDefinition<u64, &[u8]> = TableDefinition::new("cycles");
/// Keyed by (cycle, step ordinal, attempt): a cycle's steps sort as its timeline.
const STEPS: TableDefinition<(u64, u8, u32), &[u8]> = TableDefinition::new("steps");
const LEDGER: TableDefinition<u64, &[u8]> = TableDefinition::new("ledger");

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("another arbkeep (pid {}) is running on {dir}; stop it first or use another --data-dir", pid.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into()))]
    AlreadyRunning { dir: String, pid: Option<u32> },
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("store: {0}")]
    Database(String),
    #[error("store record {table}/{key} is unreadable: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    #[error("store {path} has schema version {found}; this arbkeep reads version {expected}")]
    Schema {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("store {path} belongs to {found} mode, not {wanted}; use another --data-dir")]
    ModeMismatch {
        path: String,
        found: String,
        wanted: String,
    },
    #[error("no store at {0} yet (the engine has never run with this data dir)")]
    Missing(String),
}

/// The same messages as before the helpers moved to `crate::files`.
impl From<FileError> for StoreError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::AlreadyRunning { dir, pid } => StoreError::AlreadyRunning { dir, pid },
            FileError::Io { path, reason } => StoreError::Io { path, reason },
        }
    }
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string())
}

impl From<CodecError> for StoreError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Corrupt { table, key, reason } => {
                StoreError::Corrupt { table, key, reason }
            }
            e @ CodecError::Encode { .. } => StoreError::Database(e.to_string()),
        }
    }
}

/// `value` as `table` keeps it (`codec`), for the strategies' tables too.
pub fn encode<T: Serialize>(table: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    Ok(crate::codec::encode(table, value)?)
}

/// The record `table` keeps at `key`; a record that no longer reads is
/// [`StoreError::Corrupt`], naming both.
pub fn decode<T: DeserializeOwned>(
    table: &'static str,
    key: impl std::fmt::Display,
    bytes: &[u8],
) -> Result<T, StoreError> {
    Ok(crate::codec::decode(table, key, bytes)?)
}

fn step_key(id: IntentId) -> (u64, u8, u32) {
    (id.cycle.0, id.step as u8, id.attempt)
}

/// At most `limit` records of a u64-keyed JSON table from key `from` on
/// that `keep` accepts, and the key to continue from when there may be
/// more (as [`Reader::ledger_page`]). A table not created yet reads as
/// empty. For the store's own tables and the keepers' (`export`).
pub fn page<T: DeserializeOwned>(
    txn: &ReadTransaction,
    def: TableDefinition<u64, &[u8]>,
    name: &'static str,
    from: u64,
    limit: usize,
    mut keep: impl FnMut(&T) -> bool,
) -> Result<(Vec<T>, Option<u64>), StoreError> {
    let table = match txn.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok((Vec::new(), None)),
        Err(e) => return Err(db_err(e)),
    };
    let mut out = Vec::new();
    for row in table.range(from..).map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        if out.len() >= limit {
            return Ok((out, Some(k.value())));
        }
        let record: T = decode(name, k.value(), v.value())?;
        if keep(&record) {
            out.push(record);
        }
    }
    Ok((out, None))
}

/// Σ delta per (chain, token), in base units.
pub type Balances = BTreeMap<(Chain, TokenId), i128>;

/// The writable store, held by the engine.
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Open or create the store in `dir` for `mode`. Call with the instance lock held.
    pub fn open(dir: &Path, mode: Mode) -> Result<Store, StoreError> {
        ensure_private_dir(dir)?;
        let path = dir.join(STORE_FILE);
        ensure_private_file(&path)?;
        let db = Database::create(&path).map_err(db_err)?;
        let store = Store { db, path };
        store.init(mode)?;
        Ok(store)
    }

    fn init(&self, mode: Mode) -> Result<(), StoreError> {
        let shown = self.path.display().to_string();
        let mode_name = mode.label().to_ascii_lowercase();
        self.write(|w| {
            match w.meta::<u32>("schema_version")? {
                None => w.put_meta("schema_version", &SCHEMA_VERSION)?,
                Some(v) if v == SCHEMA_VERSION => {}
                Some(found) => {
                    return Err(StoreError::Schema {
                        path: shown.clone(),
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            match w.meta::<String>("mode")? {
                None => w.put_meta("mode", &mode_name)?,
                Some(found) if found == mode_name => {}
                Some(found) => {
                    return Err(StoreError::ModeMismatch {
                        path: shown.clone(),
                        found,
                        wanted: mode_name.clone(),
                    });
                }
            }
            // Create every table so read-only opens find them.
            w.txn.open_table(CYCLES).map_err(db_err)?;
            w.txn.open_table(STEPS).map_err(db_err)?;
            w.txn.open_table(LEDGER).map_err(db_err)?;
            Ok(())
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One durable write transaction: all of `f`'s changes, or none.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let mut writer = Writer { txn };
        let value = f(&mut writer)?;
        writer.txn.commit().map_err(db_err)?;
        Ok(value)
    }

    pub fn read(&self) -> Result<Reader, StoreError> {
        Ok(Reader {
            txn: self.db.begin_read().map_err(db_err)?,
        })
    }
}

/// A read-only view of the engine's store for the same process (the control
/// API's ledger queries): it can read, never write.
#[derive(Clone)]
pub struct StoreReader(std::sync::Arc<Store>);

impl StoreReader {
    pub fn new(store: std::sync::Arc<Store>) -> Self {
        Self(store)
    }

    pub fn read(&self) -> Result<Reader, StoreError> {
        self.0.read()
    }
}

/// The store opened read-only, for `status`, `pnl` and `ledger` when no engine runs.
pub struct ReadOnlyStore {
    db: ReadOnlyDatabase,
}

impl ReadOnlyStore {
    pub fn open(dir: &Path) -> Result<ReadOnlyStore, StoreError> {
        let path = dir.join(STORE_FILE);
        if !path.exists() {
            return Err(StoreError::Missing(path.display().to_string()));
        }
        let db = match ReadOnlyDatabase::open(&path) {
            // Left unclean by a crash: a read-only open cannot repair it.
            // With no engine on the data dir (its lock is free), repair it
            // as the next start would, then read.
            Err(redb::DatabaseError::RepairAborted) => {
                let _lock = InstanceLock::acquire(dir)?;
                drop(redb::Database::open(&path).map_err(db_err)?);
                ReadOnlyDatabase::open(&path).map_err(db_err)?
            }
            other => other.map_err(db_err)?,
        };
        Ok(ReadOnlyStore { db })
    }

    pub fn read(&self) -> Result<Reader, StoreError> {
        Ok(Reader {
            txn: self.db.begin_read().map_err(db_err)?,
        })
    }
}

/// A consistent read view.
pub struct Reader {
    txn: ReadTransaction,
}

impl Reader {
    /// The read transaction itself, for a keeper's own tables.
    pub fn transaction(&self) -> &ReadTransaction {
        &self.txn
    }

    pub fn meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let table = match self.txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        match table.get(key).map_err(db_err)? {
            Some(v) => decode("meta", key, v.value()).map(Some),
            None => Ok(None),
        }
    }

    pub fn controls(&self) -> Result<Controls, StoreError> {
        Ok(self.meta("controls")?.unwrap_or_default())
    }

    pub fn cycle(&self, id: CycleId) -> Result<Option<Cycle>, StoreError> {
        let table = self.txn.open_table(CYCLES).map_err(db_err)?;
        match table.get(id.0).map_err(db_err)? {
            Some(v) => decode("cycles", id, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Every cycle, oldest first.
    pub fn cycles(&self) -> Result<Vec<Cycle>, StoreError> {
        let table = self.txn.open_table(CYCLES).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            out.push(decode("cycles", k.value(), v.value())?);
        }
        Ok(out)
    }

    /// A cycle's steps in timeline order.
    pub fn steps(&self, cycle: CycleId) -> Result<Vec<StepRecord>, StoreError> {
        let table = self.txn.open_table(STEPS).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table
            .range((cycle.0, 0u8, 0u32)..(cycle.0 + 1, 0u8, 0u32))
            .map_err(db_err)?
        {
            let (k, v) = row.map_err(db_err)?;
            out.push(decode("steps", format!("{:?}", k.value()), v.value())?);
        }
        Ok(out)
    }

    pub fn step(&self, id: IntentId) -> Result<Option<StepRecord>, StoreError> {
        let table = self.txn.open_table(STEPS).map_err(db_err)?;
        match table.get(step_key(id)).map_err(db_err)? {
            Some(v) => decode("steps", id, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// At most `limit` cycles from id `from` on that `keep` accepts (see [`page`]).
    pub fn cycles_page(
        &self,
        from: u64,
        limit: usize,
        keep: impl FnMut(&Cycle) -> bool,
    ) -> Result<(Vec<Cycle>, Option<u64>), StoreError> {
        page(&self.txn, CYCLES, "cycles", from, limit, keep)
    }

    /// Ledger entries with `seq >= from`, in order.
    pub fn ledger(&self, from: u64) -> Result<Vec<LedgerEntry>, StoreError> {
        let table = self.txn.open_table(LEDGER).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table.range(from..).map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            out.push(decode("ledger", k.value(), v.value())?);
        }
        Ok(out)
    }

    /// Σ delta per (chain, token) of the ledger lines that move money, and
    /// how many lines the ledger has: what recovery needs of a long ledger.
    /// Each line is read for its kind, place and delta only (its note, hash
    /// and value are skipped, not decoded), so a restart does not build
    /// every `LedgerEntry` to add them up.
    pub fn ledger_balances(&self) -> Result<(Balances, u64), StoreError> {
        /// The part of a stored `LedgerEntry` a balance needs.
        #[derive(Deserialize)]
        struct Move {
            kind: LedgerKind,
            chain: Option<Chain>,
            token: Option<TokenId>,
            #[serde(with = "crate::model::intent::delta_str")]
            delta: i128,
        }
        let table = self.txn.open_table(LEDGER).map_err(db_err)?;
        let mut out = BTreeMap::new();
        let mut lines = 0;
        for row in table.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let m: Move = decode("ledger", k.value(), v.value())?;
            lines += 1;
            if let (true, Some(chain), Some(token)) = (m.kind.moves_money(), m.chain, m.token) {
                *out.entry((chain, token)).or_default() += m.delta;
            }
        }
        Ok((out, lines))
    }

    /// At most `limit` ledger lines from `from` on that `keep` accepts, and
    /// the `seq` to continue from when there may be more. Memory stays
    /// bounded by `limit` however long the ledger is.
    pub fn ledger_page(
        &self,
        from: u64,
        limit: usize,
        mut keep: impl FnMut(&LedgerEntry) -> bool,
    ) -> Result<(Vec<LedgerEntry>, Option<u64>), StoreError> {
        let table = self.txn.open_table(LEDGER).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table.range(from..).map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            if out.len() >= limit {
                return Ok((out, Some(k.value())));
            }
            let entry: LedgerEntry = decode("ledger", k.value(), v.value())?;
            if keep(&entry) {
                out.push(entry);
            }
        }
        Ok((out, None))
    }
}

/// The inside of one write transaction.
pub struct Writer {
    txn: WriteTransaction,
}

impl Writer {
    /// The transaction itself, for a keeper's own tables (its table
    /// definitions live with the keeper; it writes nothing else).
    pub fn transaction(&self) -> &WriteTransaction {
        &self.txn
    }

    pub fn meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let table = self.txn.open_table(META).map_err(db_err)?;
        let value = table.get(key).map_err(db_err)?;
        match value {
            Some(v) => decode("meta", key, v.value()).map(Some),
            None => Ok(None),
        }
    }

    pub fn put_meta<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), StoreError> {
        let bytes = encode("meta", value)?;
        let mut table = self.txn.open_table(META).map_err(db_err)?;
        table.insert(key, bytes.as_slice()).map_err(db_err)?;
        Ok(())
    }

    pub fn put_controls(&mut self, controls: &Controls) -> Result<(), StoreError> {
        self.put_meta("controls", controls)
    }

    pub fn put_cycle(&mut self, cycle: &Cycle) -> Result<(), StoreError> {
        let bytes = encode("cycles", cycle)?;
        let mut table = self.txn.open_table(CYCLES).map_err(db_err)?;
        table.insert(cycle.id.0, bytes.as_slice()).map_err(db_err)?;
        Ok(())
    }

    /// The id the next new cycle gets.
    pub fn next_cycle_id(&self) -> Result<CycleId, StoreError> {
        let table = self.txn.open_table(CYCLES).map_err(db_err)?;
        let last = table.last().map_err(db_err)?.map(|(k, _)| k.value());
        Ok(CycleId(last.map_or(1, |k| k + 1)))
    }

    pub fn put_step(&mut self, step: &StepRecord) -> Result<(), StoreError> {
        let bytes = encode("steps", step)?;
        let mut table = self.txn.open_table(STEPS).map_err(db_err)?;
        table
            .insert(step_key(step.intent.id), bytes.as_slice())
            .map_err(db_err)?;
        Ok(())
    }

    /// Append lines in order; each gets its `seq`.
    pub fn append_all(&mut self, lines: Vec<LedgerEntry>) -> Result<Vec<LedgerEntry>, StoreError> {
        lines.into_iter().map(|l| self.append(l)).collect()
    }

    /// Append to the ledger; the entry's `seq` is assigned here.
    pub fn append(&mut self, mut entry: LedgerEntry) -> Result<LedgerEntry, StoreError> {
        let mut table = self.txn.open_table(LEDGER).map_err(db_err)?;
        let last = table.last().map_err(db_err)?.map(|(k, _)| k.value());
        entry.seq = last.map_or(1, |k| k + 1);
        let bytes = encode("ledger", &entry)?;
        table.insert(entry.seq, bytes.as_slice()).map_err(db_err)?;
        Ok(entry)
    }
}

/// The step ordinal used in keys, exposed for tests of the timeline order.
pub fn step_ordinal(step: StepKind) -> u8 {
    step as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn line(kind: LedgerKind, place: Option<(Chain, TokenId)>, delta: i128) -> LedgerEntry {
        LedgerEntry {
            seq: 0,
            at: 1,
            kind,
            cycle: Some(CycleId(3)),
            chain: place.map(|p| p.0),
            token: place.map(|p| p.1),
            delta,
            value_vcred: Decimal::new(-15, 1),
            tx_hash: Some("0x\"quoted\" é".into()),
            note: "a note with \\ escapes\n".into(),
            operator: false,
        }
    }

    #[test]
    fn ledger_balances_add_up_as_the_full_lines_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Mode::Paper).unwrap();
        assert_eq!(
            store.read().unwrap().ledger_balances().unwrap(),
            (BTreeMap::new(), 0)
        );
        let hemi_vcred = Some((Chain::Hemi, TokenId::Vcred));
        let lines = vec![
            line(LedgerKind::Opening, hemi_vcred, 1_000_000),
            line(LedgerKind::SwapIn, hemi_vcred, -400),
            line(
                LedgerKind::SwapOut,
                Some((Chain::Hemi, TokenId::Eth)),
                i128::MAX / 2,
            ),
            line(LedgerKind::Gas, Some((Chain::Ethereum, TokenId::Eth)), -7),
            // No money moves on these, whatever they carry.
            line(LedgerKind::CycleClosed, hemi_vcred, 5),
            line(LedgerKind::Control, None, 0),
        ];
        store.write(|w| w.append_all(lines).map(|_| ())).unwrap();
        let r = store.read().unwrap();
        let full = r.ledger(0).unwrap();
        let mut expected = BTreeMap::new();
        for e in &full {
            if let (true, Some(c), Some(t)) = (e.kind.moves_money(), e.chain, e.token) {
                *expected.entry((c, t)).or_insert(0i128) += e.delta;
            }
        }
        assert_eq!(r.ledger_balances().unwrap(), (expected, 6));
    }
}
