//! What can go wrong with the paper world's file, and how each failure shows
//! to the engine as one of the three kinds of venue error (docs/architecture.md §2, R4).

use crate::venue::VenueError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SimError {
    #[error("paper world storage: {0}")]
    Storage(#[from] redb::Error),
    #[error("paper world file: {0}")]
    Io(#[from] std::io::Error),
    #[error("paper world record {table}/{key} is corrupt: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    #[error(
        "paper world {path} was created with seed {stored}, not {given}: \
         pass --seed {stored} or use another data file"
    )]
    SeedMismatch {
        path: PathBuf,
        stored: u64,
        given: u64,
    },
}

// redb reports each stage's failure with its own type; all are storage.
macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for SimError {
            fn from(e: $t) -> Self {
                SimError::Storage(e.into())
            }
        }
    )*};
}
storage_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl SimError {
    pub fn corrupt(table: &'static str, key: &str, reason: impl ToString) -> Self {
        SimError::Corrupt {
            table,
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }

    /// A failed look: nothing happened, try again later.
    pub fn transient(&self) -> VenueError {
        VenueError::Transient(self.to_string())
    }
}
