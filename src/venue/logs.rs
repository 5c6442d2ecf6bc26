//! Contract event logs as strategies consume them: confirmed logs in chain
//! order, and removals when a reorg takes one back. EVM log ingestion
//! (backfill, subscription, watermark, reorg detection) and the paper
//! orderbook implement it alike. Beside the stream, the two chain reads
//! the equity hedge's decoder needs ([`ReceiptLogs`], [`TokenSymbols`]),
//! implemented by the EVM adapter and the paper book.

use super::VenueError;
use alloy_primitives::Address;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// One EVM log, as the node reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChainLog {
    pub chain_id: u64,
    /// Emitting contract, 0x-prefixed, EIP-55.
    pub address: String,
    pub block_number: u64,
    pub block_hash: String,
    pub tx_hash: String,
    /// Index within the block.
    pub log_index: u64,
    /// 0x-prefixed 32-byte topics, topic0 first.
    pub topics: Vec<String>,
    /// 0x-prefixed ABI data.
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogEvent {
    /// Confirmed at the configured depth.
    Added { log: ChainLog },
    /// A reorg took back a log that was delivered as added.
    Removed { log: ChainLog },
}

/// A batch of log events up to a block, delivered in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogBatch {
    pub events: Vec<LogEvent>,
    /// Every confirmed block up to here has been delivered.
    pub through_block: u64,
}

pub trait LogSource: Send + Sync + 'static {
    /// The next events after the persisted watermark (empty when none).
    /// Events may be delivered again after a crash: consumers dedupe on
    /// (chain id, tx hash, log index).
    fn poll(&self) -> impl Future<Output = Result<LogBatch, VenueError>> + Send;

    /// The consumer has durably processed everything through `block`:
    /// persist the watermark so a restart resumes after it.
    fn commit(&self, block: u64) -> impl Future<Output = Result<(), VenueError>> + Send;
}

/// A transaction receipt's logs (the hedge's `AfterClear` fallback, for
/// nodes whose `eth_getLogs` answers are incomplete).
pub trait ReceiptLogs: Send + Sync + 'static {
    /// Every log of the transaction's receipt, in log-index order; `Ok(None)`
    /// when the node knows no such transaction.
    fn receipt_logs(
        &self,
        chain_id: u64,
        tx_hash: &str,
    ) -> impl Future<Output = Result<Option<Vec<ChainLog>>, VenueError>> + Send;
}

/// An ERC-20's `symbol()`.
pub trait TokenSymbols: Send + Sync + 'static {
    /// The token's ERC-20 `symbol()`.
    fn symbol(&self, token: Address) -> impl Future<Output = Result<String, VenueError>> + Send;
}
