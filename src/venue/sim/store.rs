//! The paper world's file: one redb database (0600) holding the markets, the
//! wallet and its genesis, bridge transfers, transaction receipts by hash,
//! executions per intent id and the time high-water. Every change is one
//! write transaction, so a process killed mid-write leaves the world as it
//! was before or after, never between. Nothing read back is trusted: a bad
//! record is a `SimError::Corrupt` naming its table and key.

use super::bridge::Transfer;
use super::error::SimError;
use super::market::Market;
use super::state::State;
use super::wallet::Wallet;
use crate::model::{Chain, Receipt, Timestamp, TokenId};
use redb::{
    Builder, Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableError,
    WriteTransaction,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
const MARKET: TableDefinition<&str, &str> = TableDefinition::new("market");
const BALANCES: TableDefinition<&str, u128> = TableDefinition::new("balances");
const GENESIS: TableDefinition<&str, u128> = TableDefinition::new("genesis_balances");
const TRANSFERS: TableDefinition<&str, &str> = TableDefinition::new("bridge_transfers");
const TXS: TableDefinition<&str, &str> = TableDefinition::new("txs");
const EXECUTIONS: TableDefinition<&str, &str> = TableDefinition::new("executions");

const SCHEMA: &str = "1";
const MARKET_KEY: &str = "market";

/// What the world remembers about one intent id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// How many times `execute` was called with this id.
    pub count: u32,
    /// The receipt of the one call that acted, if any did.
    pub receipt: Option<Receipt>,
    /// The operator moved past it unsent: it is refused from now on.
    #[serde(default)]
    pub abandoned: bool,
}

pub struct Store {
    db: Database,
}

fn chain_key(chain: Chain) -> &'static str {
    match chain {
        Chain::Hemi => "hemi",
        Chain::Ethereum => "ethereum",
    }
}

fn balance_key(chain: Chain, token: TokenId) -> String {
    format!("{}/{}", chain_key(chain), token.symbol())
}

fn parse_balance_key(table: &'static str, key: &str) -> Result<(Chain, TokenId), SimError> {
    let (c, t) = key
        .split_once('/')
        .ok_or_else(|| SimError::corrupt(table, key, "no chain/token"))?;
    let chain = match c {
        "hemi" => Chain::Hemi,
        "ethereum" => Chain::Ethereum,
        _ => {
            return Err(SimError::corrupt(
                table,
                key,
                format!("unknown chain {c:?}"),
            ));
        }
    };
    let token = t.parse().map_err(|e| SimError::corrupt(table, key, e))?;
    Ok((chain, token))
}

pub fn tx_key(chain: Chain, hash: &str) -> String {
    format!("{}:{}", chain_key(chain), hash.to_ascii_lowercase())
}

fn decode<T: DeserializeOwned>(table: &'static str, key: &str, text: &str) -> Result<T, SimError> {
    crate::codec::decode(table, key, text).map_err(SimError::from)
}

fn encode<T: Serialize>(table: &'static str, key: &str, value: &T) -> Result<String, SimError> {
    crate::codec::encode_text(table, value)
        .map_err(|e| SimError::corrupt(table, key, e.to_string()))
}

fn parse_num<T: std::str::FromStr>(key: &str, text: &str) -> Result<T, SimError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| SimError::corrupt("meta", key, e))
}

/// Create the data directory (0700) and the file (0600) before redb opens it,
/// so that the world's contents are never readable by others, not even briefly.
fn prepare_file(path: &Path) -> Result<(), SimError> {
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        builder.create(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    #[cfg(unix)]
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

impl Store {
    /// Open the world's file, creating an empty one if there is none.
    pub fn open(path: &Path) -> Result<Store, SimError> {
        prepare_file(path)?;
        // Verify checksums on open: a damaged file becomes an error, not a panic.
        let db = Builder::new()
            .set_check_integrity_on_open(true)
            .create(path)?;
        Ok(Store { db })
    }

    /// The time high-water in an existing file, without keeping it open.
    pub fn peek_time(path: &Path) -> Result<Option<Timestamp>, SimError> {
        if !path.exists() {
            return Ok(None);
        }
        let db = Builder::new()
            .set_check_integrity_on_open(true)
            .open(path)?;
        let txn = db.begin_read()?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match meta.get("time")? {
            Some(v) => Ok(Some(parse_num("time", v.value())?)),
            None => Ok(None),
        }
    }

    /// Everything the file holds, or `None` for a file without a world yet.
    pub fn load(&self) -> Result<Option<State>, SimError> {
        let txn = self.db.begin_read()?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let get = |key: &str| -> Result<String, SimError> {
            meta.get(key)?
                .map(|v| v.value().to_string())
                .ok_or_else(|| SimError::corrupt("meta", key, "missing"))
        };
        if meta.get("seed")?.is_none() {
            return Ok(None);
        }
        let schema = get("schema")?;
        if schema != SCHEMA {
            return Err(SimError::corrupt(
                "meta",
                "schema",
                format!("unknown schema {schema:?}"),
            ));
        }
        let seed = parse_num("seed", &get("seed")?)?;
        let genesis_time: u64 = parse_num("genesis_time", &get("genesis_time")?)?;
        let time: u64 = parse_num("time", &get("time")?)?;
        let epoch: u64 = parse_num("epoch", &get("epoch")?)?;
        // Time and epoch are always written together; if they disagree the
        // file was damaged, and catching up from a wild epoch could run for ages.
        if epoch != time / super::market::EPOCH_MS || genesis_time > time {
            return Err(SimError::corrupt(
                "meta",
                "epoch",
                format!("epoch {epoch} does not match time {time} (genesis {genesis_time})"),
            ));
        }

        let market_table = txn.open_table(MARKET)?;
        let market_text = market_table
            .get(MARKET_KEY)?
            .map(|v| v.value().to_string())
            .ok_or_else(|| SimError::corrupt("market", MARKET_KEY, "missing"))?;
        let market: Market = decode("market", MARKET_KEY, &market_text)?;

        let read_wallet = |def: TableDefinition<&str, u128>, name: &'static str| {
            let table = txn.open_table(def)?;
            let mut rows = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                rows.push((parse_balance_key(name, k.value())?, v.value()));
            }
            Ok::<_, SimError>(Wallet::from_entries(rows))
        };
        let wallet = read_wallet(BALANCES, "balances")?;
        let genesis = read_wallet(GENESIS, "genesis_balances")?;

        let mut transfers = BTreeMap::new();
        for row in txn.open_table(TRANSFERS)?.iter()? {
            let (k, v) = row?;
            let t: Transfer = decode("bridge_transfers", k.value(), v.value())?;
            transfers.insert(k.value().to_string(), t);
        }
        let mut counts = BTreeMap::new();
        for row in txn.open_table(EXECUTIONS)?.iter()? {
            let (k, v) = row?;
            let e: Execution = decode("executions", k.value(), v.value())?;
            counts.insert(k.value().to_string(), e.count);
        }
        Ok(Some(State {
            seed,
            genesis_time,
            time,
            epoch,
            market,
            wallet,
            genesis,
            transfers,
            counts,
            dirty: BTreeSet::new(),
        }))
    }

    /// One durable write transaction: all of `f`'s writes land, or none do,
    /// and they are on disk when this returns.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, SimError>,
    ) -> Result<T, SimError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let out = f(&mut Writer { txn: &txn })?;
        txn.commit()?;
        Ok(out)
    }

    pub fn execution(&self, intent: &str) -> Result<Option<Execution>, SimError> {
        self.get_json(EXECUTIONS, "executions", intent)
    }

    /// Every intent id the world was asked to execute, with what it did.
    pub fn executions(&self) -> Result<BTreeMap<String, Execution>, SimError> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(EXECUTIONS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = BTreeMap::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.insert(
                k.value().to_string(),
                decode("executions", k.value(), v.value())?,
            );
        }
        Ok(out)
    }

    pub fn tx(&self, chain: Chain, hash: &str) -> Result<Option<Receipt>, SimError> {
        self.get_json(TXS, "txs", &tx_key(chain, hash))
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        def: TableDefinition<&str, &str>,
        name: &'static str,
        key: &str,
    ) -> Result<Option<T>, SimError> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(def) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match table.get(key)? {
            Some(v) => Ok(Some(decode(name, key, v.value())?)),
            None => Ok(None),
        }
    }
}

/// The writes one transaction may make.
pub struct Writer<'t> {
    txn: &'t WriteTransaction,
}

impl Writer<'_> {
    /// The world's identity, written once at genesis.
    pub fn identity(&mut self, state: &State) -> Result<(), SimError> {
        // Every table exists from genesis on, so that reading never meets a missing one.
        for def in [MARKET, TRANSFERS, TXS, EXECUTIONS] {
            self.txn.open_table(def)?;
        }
        self.txn.open_table(BALANCES)?;
        let mut meta = self.txn.open_table(META)?;
        meta.insert("schema", SCHEMA)?;
        meta.insert("seed", state.seed.to_string().as_str())?;
        meta.insert("genesis_time", state.genesis_time.to_string().as_str())?;
        drop(meta);
        let mut genesis = self.txn.open_table(GENESIS)?;
        for (c, t, a) in state.genesis.rows() {
            genesis.insert(balance_key(c, t).as_str(), a)?;
        }
        Ok(())
    }

    /// Time, markets and balances as they are after this transaction.
    pub fn world(
        &mut self,
        time: Timestamp,
        epoch: u64,
        market: &Market,
        wallet: &Wallet,
    ) -> Result<(), SimError> {
        let mut meta = self.txn.open_table(META)?;
        meta.insert("time", time.to_string().as_str())?;
        meta.insert("epoch", epoch.to_string().as_str())?;
        drop(meta);
        let text = encode("market", MARKET_KEY, market)?;
        self.txn
            .open_table(MARKET)?
            .insert(MARKET_KEY, text.as_str())?;
        let mut balances = self.txn.open_table(BALANCES)?;
        for (c, t, a) in wallet.rows() {
            balances.insert(balance_key(c, t).as_str(), a)?;
        }
        Ok(())
    }

    pub fn transfer(&mut self, transfer: &Transfer) -> Result<(), SimError> {
        let key = transfer.message_id();
        let text = encode("bridge_transfers", key, transfer)?;
        self.txn.open_table(TRANSFERS)?.insert(key, text.as_str())?;
        Ok(())
    }

    pub fn tx(&mut self, receipt: &Receipt) -> Result<(), SimError> {
        let key = tx_key(receipt.chain, &receipt.tx_hash);
        let text = encode("txs", &key, receipt)?;
        self.txn
            .open_table(TXS)?
            .insert(key.as_str(), text.as_str())?;
        Ok(())
    }

    pub fn execution(&mut self, intent: &str, execution: &Execution) -> Result<(), SimError> {
        let text = encode("executions", intent, execution)?;
        self.txn
            .open_table(EXECUTIONS)?
            .insert(intent, text.as_str())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::MINUTE;
    use crate::venue::sim::market::EPOCH_MS;
    use crate::venue::sim::testing::{clean, temp_path};

    #[test]
    fn round_trips_a_state_and_peeks_its_time() {
        let path = temp_path("store-round-trip");
        assert_eq!(Store::peek_time(&path).unwrap(), None);
        let mut state = State::genesis(42, 1_767_225_600_000);
        state.advance(state.time + 10 * MINUTE);
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.load().unwrap(), None);
            store
                .write(|w| {
                    w.identity(&state)?;
                    w.world(state.time, state.epoch, &state.market, &state.wallet)
                })
                .unwrap();
            assert_eq!(store.load().unwrap(), Some(state.clone()));
        }
        assert_eq!(Store::peek_time(&path).unwrap(), Some(state.time));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dir_mode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
        clean(&path);
    }

    #[test]
    fn a_write_that_fails_halfway_leaves_nothing() {
        let path = temp_path("store-atomic");
        let store = Store::open(&path).unwrap();
        let state = State::genesis(3, 1_767_225_600_000);
        store
            .write(|w| {
                w.identity(&state)?;
                w.world(state.time, state.epoch, &state.market, &state.wallet)
            })
            .unwrap();
        let mut richer = state.wallet.clone();
        richer.credit(Chain::Ethereum, TokenId::Usdc, 1_000_000);
        let failed: Result<(), SimError> = store.write(|w| {
            w.world(state.time, state.epoch, &state.market, &richer)?;
            Err(SimError::corrupt(
                "test",
                "halfway",
                "the process dies here",
            ))
        });
        assert!(failed.is_err());
        assert_eq!(store.load().unwrap(), Some(state));
        drop(store);
        clean(&path);
    }

    #[test]
    fn a_corrupt_record_names_its_table_and_key() {
        let path = temp_path("store-corrupt");
        let store = Store::open(&path).unwrap();
        let state = State::genesis(1, 1_767_225_600_000);
        store
            .write(|w| {
                w.identity(&state)?;
                w.world(state.time, state.epoch, &state.market, &state.wallet)?;
                w.txn.open_table(BALANCES)?.insert("mars/VCRED", 5)?;
                Ok(())
            })
            .unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("balances/mars/VCRED"), "{err}");
        store
            .write(|w| Ok(w.txn.delete_table(BALANCES).map(|_| ())?))
            .unwrap();
        store
            .write(|w| {
                w.world(state.time, state.epoch, &state.market, &state.wallet)?;
                w.txn
                    .open_table(EXECUTIONS)?
                    .insert("c1/prove/0", "{not json")?;
                Ok(())
            })
            .unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("executions/c1/prove/0"), "{err}");
        store
            .write(|w| {
                w.txn.delete_table(EXECUTIONS)?;
                w.txn.open_table(EXECUTIONS)?;
                w.world(
                    state.time + 10 * EPOCH_MS,
                    state.epoch,
                    &state.market,
                    &state.wallet,
                )
            })
            .unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("meta/epoch"), "{err}");
        drop(store);
        clean(&path);
    }
}
