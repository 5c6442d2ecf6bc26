//! What the decoder needs from the chain besides the log stream: a
//! transaction receipt's logs (the `AfterClear` fallback, for nodes whose
//! `eth_getLogs` answers are incomplete) and an ERC-20's `symbol()`. The EVM
//! adapter implements both; paper and tests use the in-memory ones here.
//! The traits live with the log stream's in `venue::logs` (a venue
//! implements them and must not import a strategy); re-exported here.

pub use crate::venue::logs::{ReceiptLogs, TokenSymbols};

use crate::venue::VenueError;
use crate::venue::logs::ChainLog;
use alloy_primitives::Address;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Symbols known up front (paper, tests).
#[derive(Debug, Default, Clone)]
pub struct StaticTokens(pub BTreeMap<Address, String>);

impl TokenSymbols for StaticTokens {
    async fn symbol(&self, token: Address) -> Result<String, VenueError> {
        self.0
            .get(&token)
            .cloned()
            .ok_or_else(|| VenueError::Rejected(format!("no symbol() known for token {token}")))
    }
}

/// Receipts kept in memory by transaction hash (paper, tests).
#[derive(Debug, Default)]
pub struct MemoryReceipts {
    receipts: Mutex<BTreeMap<String, Vec<ChainLog>>>,
    /// Lookups so far, for tests that check the fallback was (not) used.
    lookups: Mutex<u64>,
}

impl MemoryReceipts {
    pub fn insert(&self, tx_hash: &str, logs: Vec<ChainLog>) {
        if let Ok(mut r) = self.receipts.lock() {
            r.insert(tx_hash.to_ascii_lowercase(), logs);
        }
    }

    pub fn lookups(&self) -> u64 {
        self.lookups.lock().map(|n| *n).unwrap_or(0)
    }
}

impl ReceiptLogs for MemoryReceipts {
    async fn receipt_logs(
        &self,
        _chain_id: u64,
        tx_hash: &str,
    ) -> Result<Option<Vec<ChainLog>>, VenueError> {
        if let Ok(mut n) = self.lookups.lock() {
            *n += 1;
        }
        let receipts = self
            .receipts
            .lock()
            .map_err(|_| VenueError::Transient("receipt cache poisoned".into()))?;
        Ok(receipts.get(&tx_hash.to_ascii_lowercase()).cloned())
    }
}
