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

impl From<crate::codec::CodecError> for SimError {
    fn from(e: crate::codec::CodecError) -> Self {
        match e {
            crate::codec::CodecError::Corrupt { table, key, reason } => {
                SimError::Corrupt { table, key, reason }
            }
            crate::codec::CodecError::Encode { table, reason } => SimError::Corrupt {
                table,
                key: String::new(),
                reason,
            },
        }
    }
}

impl SimError {
    pub fn corrupt(table: &'static str, key: &str, reason: impl ToString) -> Self {
        SimError::Corrupt {
            table,
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }

    /// What a failed read of the world means for the caller: a record that
    /// no longer reads says nothing of what happened (an unknown outcome,
    /// looked for and never sent again); any other failure changed nothing
    /// (try again later).
    pub fn as_venue(&self) -> VenueError {
        match self {
            SimError::Corrupt { .. } => VenueError::Unknown(self.to_string()),
            _ => VenueError::Transient(self.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_record_is_an_unknown_outcome_and_nothing_else_is() {
        let corrupt: SimError = crate::codec::decode::<u64>("executions", "c3/eth_swap/0", "{cut")
            .map_err(SimError::from)
            .unwrap_err();
        match corrupt.as_venue() {
            VenueError::Unknown(why) => assert!(why.contains("executions"), "{why}"),
            other => panic!("{other:?}"),
        }
        let seed = SimError::SeedMismatch {
            path: "paper-world.redb".into(),
            stored: 1,
            given: 2,
        };
        assert!(seed.as_venue().is_transient());
    }
}
