//! One way to keep a record as JSON in a redb table — the engine's store,
//! the strategies' tables in it, the EVM journal, the paper world and the
//! paper broker: [`encode`], and [`decode`] that names the table and key of
//! a record that no longer reads. Each store maps [`CodecError::Corrupt`]
//! to its own "corrupt" (never a passing fault to retry: what the record
//! said cannot be known from it) and [`CodecError::Encode`] to its own
//! write failure. Neutral: it depends on nothing of ours.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Display;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// A stored record that no longer reads as its type.
    #[error("corrupt record in {table} at key {key}: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    /// A record that cannot be written as JSON (a map with non-string keys).
    #[error("cannot write a record of {table} as JSON: {reason}")]
    Encode { table: &'static str, reason: String },
}

/// `value` as the bytes `table` keeps.
pub fn encode<T: Serialize>(table: &'static str, value: &T) -> Result<Vec<u8>, CodecError> {
    serde_json::to_vec(value).map_err(|e| CodecError::Encode {
        table,
        reason: e.to_string(),
    })
}

/// `value` as the text `table` keeps (tables of `&str` values).
pub fn encode_text<T: Serialize>(table: &'static str, value: &T) -> Result<String, CodecError> {
    serde_json::to_string(value).map_err(|e| CodecError::Encode {
        table,
        reason: e.to_string(),
    })
}

/// The record `table` keeps at `key`, or why it does not read.
pub fn decode<T: DeserializeOwned>(
    table: &'static str,
    key: impl Display,
    bytes: impl AsRef<[u8]>,
) -> Result<T, CodecError> {
    serde_json::from_slice(bytes.as_ref()).map_err(|e| CodecError::Corrupt {
        table,
        key: key.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_a_bad_one_names_its_table_and_key() {
        let bytes = encode("t", &(1u64, "x")).expect("encodes");
        let back: (u64, String) = decode("t", 7, &bytes).expect("decodes");
        assert_eq!(back, (1, "x".to_string()));
        let text = encode_text("t", &[1, 2]).expect("encodes");
        assert_eq!(decode::<Vec<u8>>("t", "k", text).ok(), Some(vec![1, 2]));
        let bad = decode::<(u64, String)>("cycles", 42, b"{not json").unwrap_err();
        match &bad {
            CodecError::Corrupt { table, key, .. } => {
                assert_eq!((*table, key.as_str()), ("cycles", "42"));
            }
            other => panic!("not corrupt: {other:?}"),
        }
        assert!(
            bad.to_string()
                .starts_with("corrupt record in cycles at key 42")
        );
        let map: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert!(matches!(
            encode("m", &map),
            Err(CodecError::Encode { table: "m", .. })
        ));
    }
}
