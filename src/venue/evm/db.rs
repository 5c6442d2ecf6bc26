//! The EVM adapter's own journal, `evm.redb` in the data dir: every
//! transaction it signs (committed before it is broadcast), the action each
//! engine intent asked for, and the log watermarks. It is kept apart from
//! the engine's store on purpose: the engine commits a step's intent before
//! calling the venue and its outcome after, and it alone writes its store;
//! the venue's chain-side journal must be durable inside one `execute`
//! (between signing and broadcast), like the paper world's own file.

use crate::codec::{CodecError, decode, encode};
use crate::files::{FileError, ensure_private_dir, ensure_private_file};
use crate::model::Action;
use crate::venue::VenueError;
use alloy::primitives::{Address, B256, Bytes, U256};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FILE: &str = "evm.redb";

/// (intent id, sequence within the intent) → TxRecord.
const TXS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("evm_txs");
/// intent id → the action it asked for.
const INTENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("evm_intents");
/// "chain_id:address" → log watermark.
const WATERMARKS: TableDefinition<&str, &[u8]> = TableDefinition::new("evm_watermarks");

/// One transaction the wallet signed, and every fee attempt at its nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    pub intent: String,
    pub seq: u32,
    /// "approve", "swap", "bridge", "prove", "finalize" …
    pub purpose: String,
    /// The intent's last transaction: its receipt is the step's receipt.
    pub last: bool,
    pub chain_id: u64,
    pub from: Address,
    pub nonce: u64,
    pub to: Address,
    pub value: U256,
    pub data_hash: B256,
    pub data: Bytes,
    pub gas_limit: u64,
    /// Signed versions at `nonce`, oldest first; each later one pays more.
    pub attempts: Vec<Attempt>,
    /// Hashes signed at an earlier nonce that a transaction we never signed
    /// took: they can never be mined.
    pub superseded: Vec<B256>,
    pub mined: Option<Mined>,
    pub committed_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub hash: B256,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    pub raw: Bytes,
    /// The node accepted it (at least once).
    pub broadcast: bool,
    /// Head when it was first broadcast: replacement counts blocks from here.
    pub sent_block: Option<u64>,
    /// A transfer of nothing to ourselves that takes the nonce in place of
    /// the record's call (the operator abandoned its intent).
    #[serde(default)]
    pub cancel: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mined {
    pub hash: B256,
    pub block_number: u64,
    pub block_hash: B256,
    pub success: bool,
}

impl TxRecord {
    pub fn hashes(&self) -> impl Iterator<Item = B256> + '_ {
        self.attempts
            .iter()
            .rev()
            .map(|a| a.hash)
            .chain(self.superseded.iter().copied())
    }

    /// The hash of the attempt that cancels this record, once signed.
    pub fn cancel_hash(&self) -> Option<B256> {
        self.attempts.iter().find(|a| a.cancel).map(|a| a.hash)
    }

    pub fn label(&self) -> String {
        format!("{}#{}", self.intent, self.seq)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentRecord {
    pub action: Action,
    pub payload_hash: String,
    /// The operator moved past it: never carried out (again) from now on.
    #[serde(default)]
    pub abandoned: bool,
    /// A swap's provider, and what each one asked said (before it was sent).
    #[serde(default)]
    pub swap: Option<crate::venue::evm::swap::Selection>,
    /// A swap carried out by a signed order: the order, recorded before it
    /// was posted, and where it stands.
    #[serde(default)]
    pub order: Option<crate::venue::evm::swap::cow::OrderRecord>,
}

/// Why the journal could not be opened. The messages are the ones the
/// engine's store gives for the same faults.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The data dir or the file could not be made private (or created).
    #[error(transparent)]
    File(#[from] FileError),
    /// redb refused to open or initialise the file.
    #[error("store: {0}")]
    Database(String),
}

impl JournalError {
    fn database(e: impl std::fmt::Display) -> Self {
        JournalError::Database(e.to_string())
    }
}

pub struct EvmStore {
    db: Database,
}

fn err(e: impl std::fmt::Display) -> VenueError {
    VenueError::Transient(format!("evm journal: {e}"))
}

/// A record that no longer reads is not a passing fault to retry: what it
/// said was sent cannot be known from it, so the send's outcome is unknown
/// (settled by looking or by the operator, never sent again). One that
/// cannot be written is a write that did not happen.
fn codec(e: CodecError) -> VenueError {
    match e {
        CodecError::Corrupt { .. } => VenueError::Unknown(format!("evm journal: {e}")),
        CodecError::Encode { .. } => err(e),
    }
}

impl EvmStore {
    pub fn open(dir: &Path) -> Result<EvmStore, JournalError> {
        ensure_private_dir(dir)?;
        let path = dir.join(FILE);
        ensure_private_file(&path)?;
        let db = Database::create(&path).map_err(JournalError::database)?;
        let txn = db.begin_write().map_err(JournalError::database)?;
        {
            txn.open_table(TXS).map_err(JournalError::database)?;
            txn.open_table(INTENTS).map_err(JournalError::database)?;
            txn.open_table(WATERMARKS).map_err(JournalError::database)?;
        }
        txn.commit().map_err(JournalError::database)?;
        Ok(EvmStore { db })
    }

    /// Durable before it returns.
    pub fn put_tx(&self, rec: &TxRecord) -> Result<(), VenueError> {
        let bytes = encode("evm_txs", rec).map_err(codec)?;
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut t = txn.open_table(TXS).map_err(err)?;
            t.insert((rec.intent.as_str(), rec.seq), bytes.as_slice())
                .map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    /// Forget a record whose only broadcast the node refused outright: no
    /// node holds it, so its nonce is free again.
    pub fn remove_tx(&self, intent: &str, seq: u32) -> Result<(), VenueError> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut t = txn.open_table(TXS).map_err(err)?;
            t.remove((intent, seq)).map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    pub fn tx(&self, intent: &str, seq: u32) -> Result<Option<TxRecord>, VenueError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(TXS).map_err(err)?;
        match t.get((intent, seq)).map_err(err)? {
            Some(v) => decode("evm_txs", format_args!("{intent}#{seq}"), v.value())
                .map(Some)
                .map_err(codec),
            None => Ok(None),
        }
    }

    /// Every transaction of one intent, in sequence.
    pub fn txs_of(&self, intent: &str) -> Result<Vec<TxRecord>, VenueError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(TXS).map_err(err)?;
        let mut out = Vec::new();
        for row in t.range((intent, 0u32)..=(intent, u32::MAX)).map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let (_, seq) = k.value();
            out.push(decode("evm_txs", format_args!("{intent}#{seq}"), v.value()).map_err(codec)?);
        }
        Ok(out)
    }

    pub fn all_txs(&self) -> Result<Vec<TxRecord>, VenueError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(TXS).map_err(err)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let (intent, seq) = k.value();
            out.push(decode("evm_txs", format_args!("{intent}#{seq}"), v.value()).map_err(codec)?);
        }
        Ok(out)
    }

    pub fn put_intent(&self, id: &str, rec: &IntentRecord) -> Result<(), VenueError> {
        let bytes = encode("evm_intents", rec).map_err(codec)?;
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut t = txn.open_table(INTENTS).map_err(err)?;
            t.insert(id, bytes.as_slice()).map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    pub fn intent(&self, id: &str) -> Result<Option<IntentRecord>, VenueError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(INTENTS).map_err(err)?;
        match t.get(id).map_err(err)? {
            Some(v) => decode("evm_intents", id, v.value())
                .map(Some)
                .map_err(codec),
            None => Ok(None),
        }
    }

    pub fn put_watermark<T: Serialize>(&self, key: &str, value: &T) -> Result<(), VenueError> {
        let bytes = encode("evm_watermarks", value).map_err(codec)?;
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut t = txn.open_table(WATERMARKS).map_err(err)?;
            t.insert(key, bytes.as_slice()).map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    pub fn watermark<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, VenueError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(WATERMARKS).map_err(err)?;
        match t.get(key).map_err(err)? {
            Some(v) => decode("evm_watermarks", key, v.value())
                .map(Some)
                .map_err(codec),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoil(store: &EvmStore) {
        let txn = store.db.begin_write().unwrap();
        {
            let mut t = txn.open_table(TXS).unwrap();
            t.insert(("c1/eth_swap", 0u32), b"{\"intent\":".as_slice())
                .unwrap();
            let mut i = txn.open_table(INTENTS).unwrap();
            i.insert("c1/eth_swap", b"not json".as_slice()).unwrap();
            let mut w = txn.open_table(WATERMARKS).unwrap();
            w.insert("hedge", b"\xff".as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }

    #[test]
    fn a_corrupt_record_is_an_unknown_outcome_naming_it_not_a_fault_to_retry() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvmStore::open(dir.path()).unwrap();
        spoil(&store);
        let unknown = |r: VenueError, what: &str| match r {
            VenueError::Unknown(m) => assert!(m.contains(what) && m.contains("corrupt"), "{m}"),
            other => panic!("{what}: {other:?}"),
        };
        unknown(
            store.tx("c1/eth_swap", 0).unwrap_err(),
            "evm_txs at key c1/eth_swap#0",
        );
        unknown(
            store.txs_of("c1/eth_swap").unwrap_err(),
            "evm_txs at key c1/eth_swap#0",
        );
        unknown(store.all_txs().unwrap_err(), "evm_txs at key c1/eth_swap#0");
        unknown(
            store.intent("c1/eth_swap").unwrap_err(),
            "evm_intents at key c1/eth_swap",
        );
        unknown(
            store.watermark::<u64>("hedge").unwrap_err(),
            "evm_watermarks at key hedge",
        );
        assert_eq!(
            store.tx("c2/eth_swap", 0).unwrap(),
            None,
            "absent is not corrupt"
        );
    }
}
