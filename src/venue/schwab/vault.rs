//! The Schwab token vault: `schwab-tokens.redb` in the data dir (0600),
//! holding only sealed records. It is a file of its own rather than a table
//! in the engine's store because tokens are refreshed from inside broker
//! calls (which have no store handle), `arbkeep auth schwab` must write them
//! without opening the engine's store, and keeping them apart means the
//! store (read by verbs, copied for backups) never carries a credential;
//! deleting the file is logging out.
//!
//! Two records: `key_check` (a known text sealed under the key, so a wrong
//! `ENCRYPTION_KEY` is told apart from an altered record) and `tokens`.

use super::SchwabError;
use super::crypto::{CryptoError, EncryptionKey};
use crate::files::{ensure_private_dir, ensure_private_file};
use crate::model::Secret;
use crate::model::Timestamp;
use redb::{Database, ReadOnlyDatabase, ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

pub const VAULT_FILE: &str = "schwab-tokens.redb";

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("schwab_tokens");
const KEY_CHECK: &str = "key_check";
const KEY_CHECK_TEXT: &[u8] = b"arbkeep schwab token vault v1";
const TOKENS: &str = "tokens";

/// One login's tokens. Debug shows the times, never the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Secret,
    /// When the access token stops working (obtained + `expires_in`).
    pub access_expires_at: Timestamp,
    /// The interactive login; the refresh token dies 7 days after it,
    /// however often it is refreshed.
    pub authorized_at: Timestamp,
    pub refreshed_at: Timestamp,
    /// Refreshes since the login (each rotated the refresh token).
    pub refreshes: u64,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("access_expires_at", &self.access_expires_at)
            .field("authorized_at", &self.authorized_at)
            .field("refreshed_at", &self.refreshed_at)
            .field("refreshes", &self.refreshes)
            .finish()
    }
}

/// The plaintext inside the sealed record.
#[derive(Serialize, Deserialize)]
struct TokensRecord {
    access_token: String,
    refresh_token: String,
    access_expires_at: Timestamp,
    authorized_at: Timestamp,
    refreshed_at: Timestamp,
    refreshes: u64,
}

pub struct TokenVault {
    db: Database,
    key: EncryptionKey,
    path: PathBuf,
}

impl fmt::Debug for TokenVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenVault({})", self.path.display())
    }
}

impl TokenVault {
    /// Open or create the vault in `dir` and check that `key` is the one it
    /// was written with.
    pub fn open(dir: &Path, key: EncryptionKey) -> Result<TokenVault, SchwabError> {
        let path = dir.join(VAULT_FILE);
        let io = |reason: String| SchwabError::Vault {
            path: path.display().to_string(),
            reason,
        };
        ensure_private_dir(dir).map_err(|e| io(e.to_string()))?;
        ensure_private_file(&path).map_err(|e| io(e.to_string()))?;
        let db = Database::create(&path).map_err(|e| io(e.to_string()))?;
        let vault = TokenVault { db, key, path };
        match vault.read(KEY_CHECK)? {
            Some(sealed) => match vault.key.open(KEY_CHECK, &sealed) {
                Ok(text) if text == KEY_CHECK_TEXT => {}
                _ => return Err(SchwabError::WrongKey(vault.path.display().to_string())),
            },
            None => {
                let sealed = vault.key.seal(KEY_CHECK, KEY_CHECK_TEXT)?;
                vault.write(&[(KEY_CHECK, sealed)])?;
            }
        }
        Ok(vault)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl fmt::Display) -> SchwabError {
        SchwabError::Vault {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, SchwabError> {
        read_record(&self.db, &self.path, key)
    }

    fn write(&self, records: &[(&str, Vec<u8>)]) -> Result<(), SchwabError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(TABLE).map_err(|e| self.err(e))?;
            for (key, value) in records {
                table
                    .insert(*key, value.as_slice())
                    .map_err(|e| self.err(e))?;
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// The stored tokens, if a login happened.
    pub fn load(&self) -> Result<Option<Tokens>, SchwabError> {
        match self.read(TOKENS)? {
            Some(sealed) => unseal(&self.key, &self.path, &sealed).map(Some),
            None => Ok(None),
        }
    }

    /// The stored tokens of the vault in `dir`, read without creating or
    /// writing anything (for `arbkeep doctor`): `Ok(None)` when no login was
    /// stored; [`SchwabError::WrongKey`] when `key` did not seal it;
    /// [`SchwabError::VaultBusy`] while another process (the engine) has it
    /// open; [`SchwabError::VaultUnclean`] after a crash, until a start repairs it.
    pub fn peek(dir: &Path, key: &EncryptionKey) -> Result<Option<Tokens>, SchwabError> {
        let path = dir.join(VAULT_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let shown = path.display().to_string();
        let db = ReadOnlyDatabase::open(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => SchwabError::VaultBusy(shown.clone()),
            // Only a writer repairs; doctor must not be one.
            redb::DatabaseError::RepairAborted => SchwabError::VaultUnclean(shown.clone()),
            other => SchwabError::Vault {
                path: shown.clone(),
                reason: other.to_string(),
            },
        })?;
        match read_record(&db, &path, KEY_CHECK)? {
            Some(sealed) => match key.open(KEY_CHECK, &sealed) {
                Ok(text) if text == KEY_CHECK_TEXT => {}
                _ => return Err(SchwabError::WrongKey(shown)),
            },
            None => return Ok(None),
        }
        match read_record(&db, &path, TOKENS)? {
            Some(sealed) => unseal(key, &path, &sealed).map(Some),
            None => Ok(None),
        }
    }

    /// Seal and store `tokens` durably (a fresh nonce every time).
    pub fn save(&self, tokens: &Tokens) -> Result<(), SchwabError> {
        let record = TokensRecord {
            access_token: tokens.access_token.expose().to_string(),
            refresh_token: tokens.refresh_token.expose().to_string(),
            access_expires_at: tokens.access_expires_at,
            authorized_at: tokens.authorized_at,
            refreshed_at: tokens.refreshed_at,
            refreshes: tokens.refreshes,
        };
        let plain = serde_json::to_vec(&record).map_err(|e| self.err(e))?;
        let sealed = self.key.seal(TOKENS, &plain)?;
        self.write(&[(TOKENS, sealed)])
    }
}

fn read_record(
    db: &impl ReadableDatabase,
    path: &Path,
    key: &str,
) -> Result<Option<Vec<u8>>, SchwabError> {
    let err = |e: &dyn fmt::Display| SchwabError::Vault {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let txn = db.begin_read().map_err(|e| err(&e))?;
    let table = match txn.open_table(TABLE) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(err(&e)),
    };
    let value = table.get(key).map_err(|e| err(&e))?;
    Ok(value.map(|v| v.value().to_vec()))
}

/// The tokens record opened with `key` (which already opened `key_check`,
/// so a record that does not open was altered).
fn unseal(key: &EncryptionKey, path: &Path, sealed: &[u8]) -> Result<Tokens, SchwabError> {
    let plain = key.open(TOKENS, sealed).map_err(|e| match e {
        CryptoError::Open(_) | CryptoError::Malformed(_) => {
            SchwabError::Tampered(path.display().to_string())
        }
        other => SchwabError::Crypto(other),
    })?;
    let r: TokensRecord = serde_json::from_slice(&plain)
        .map_err(|_| SchwabError::Tampered(path.display().to_string()))?;
    Ok(Tokens {
        access_token: Secret::new(r.access_token),
        refresh_token: Secret::new(r.refresh_token),
        access_expires_at: r.access_expires_at,
        authorized_at: r.authorized_at,
        refreshed_at: r.refreshed_at,
        refreshes: r.refreshes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> EncryptionKey {
        EncryptionKey::from_hex(&format!("{byte:02x}").repeat(32)).unwrap()
    }

    #[test]
    fn peek_reads_without_writing_and_never_beside_an_open_vault() {
        let dir = tempfile::tempdir().unwrap();
        assert!(TokenVault::peek(dir.path(), &key(7)).unwrap().is_none());
        assert!(
            !dir.path().join(VAULT_FILE).exists(),
            "peek creates nothing"
        );
        let vault = TokenVault::open(dir.path(), key(7)).unwrap();
        let tokens = Tokens {
            access_token: Secret::new("access".into()),
            refresh_token: Secret::new("refresh".into()),
            access_expires_at: 2,
            authorized_at: 1,
            refreshed_at: 1,
            refreshes: 0,
        };
        vault.save(&tokens).unwrap();
        assert!(matches!(
            TokenVault::peek(dir.path(), &key(7)),
            Err(SchwabError::VaultBusy(_))
        ));
        drop(vault);
        assert_eq!(TokenVault::peek(dir.path(), &key(7)).unwrap(), Some(tokens));
        assert!(matches!(
            TokenVault::peek(dir.path(), &key(8)),
            Err(SchwabError::WrongKey(_))
        ));
    }
}
