//! Log ingestion (`venue::logs::LogSource`) for one contract on one chain:
//! a persisted watermark; backfill with `eth_getLogs` in bounded ranges from
//! it, on start and whenever the stream falls behind; then polling; logs
//! delivered only once their block has the configured confirmations; a
//! reorg (a block hash that changed under a delivered block) answered with
//! `Removed` for every log of the blocks taken back, then the new chain's
//! logs; a head that stops moving past a threshold is a fault in `health`.
//!
//! Delivery is at least once from the COMMITTED watermark: a batch the
//! consumer did not `commit` (it stopped on a failed read, or errored) is
//! delivered again by the next `poll`, which first puts the cursor and the
//! remembered blocks back where the last commit left them. The consumer
//! dedupes on (chain, tx hash, log index), which makes it exactly once.

use super::chain::ChainClient;
use super::db::EvmStore;
use crate::model::{Clock, Timestamp};
use crate::venue::VenueError;
use crate::venue::VenueHealth;
use crate::venue::logs::{ChainLog, LogBatch, LogEvent, LogSource};
use alloy::primitives::{Address, B256};
use alloy::rpc::types::{Filter, Log};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// A log is delivered once its block has this many confirmations (1 = mined).
    pub confirmations: u64,
    /// Largest block range of one `eth_getLogs`.
    pub chunk: u64,
    /// Ranges fetched per `poll` at most (the rest next time).
    pub chunks_per_poll: u64,
    /// First block to read when there is no watermark (the deployment block).
    pub start_block: u64,
    /// A head that has not moved for this long is a fault.
    pub silent_after_ms: u64,
    /// Delivered blocks remembered for reorg detection.
    pub window: usize,
}

impl IngestConfig {
    pub fn from_evm(c: &crate::config::EvmConfig, start_block: u64) -> Self {
        IngestConfig {
            confirmations: c.confirmations,
            chunk: c.log_chunk_blocks,
            chunks_per_poll: 8,
            start_block,
            silent_after_ms: c.silent_after_ms,
            window: 128,
        }
    }
}

/// A delivered block: its hash, and the logs delivered from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    number: u64,
    hash: B256,
    logs: Vec<ChainLog>,
}

/// What survives a restart: everything through `through` was processed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Watermark {
    through: u64,
    /// The last delivered blocks at or below `through` (reorg detection after a restart).
    blocks: Vec<Seen>,
}

#[derive(Debug)]
struct State {
    /// Delivered through this block.
    cursor: u64,
    seen: VecDeque<Seen>,
    /// Where the last `commit` (or the persisted watermark) left the cursor
    /// and the remembered blocks: a `poll` after a batch nobody committed
    /// starts again from here.
    committed_cursor: u64,
    committed_seen: VecDeque<Seen>,
    head: Option<(u64, Timestamp)>,
    fault: Option<String>,
    reorgs: u64,
}

pub struct LogIngest {
    client: Arc<ChainClient>,
    address: Address,
    topics: Vec<B256>,
    store: Arc<EvmStore>,
    key: String,
    cfg: IngestConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

pub(crate) fn to_chain_log(chain_id: u64, l: &Log) -> ChainLog {
    ChainLog {
        chain_id,
        address: l.address().to_checksum(None),
        block_number: l.block_number.unwrap_or_default(),
        block_hash: l.block_hash.unwrap_or_default().to_string(),
        tx_hash: l.transaction_hash.unwrap_or_default().to_string(),
        log_index: l.log_index.unwrap_or_default(),
        topics: l.topics().iter().map(|t| t.to_string()).collect(),
        data: l.data().data.to_string(),
    }
}

impl LogIngest {
    /// Logs of `address` whose topic0 is one of `topics`, resuming from the
    /// persisted watermark.
    pub fn new(
        client: Arc<ChainClient>,
        address: Address,
        topics: Vec<B256>,
        store: Arc<EvmStore>,
        cfg: IngestConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<LogIngest, VenueError> {
        let key = format!("{}:{}", client.chain_id, address.to_checksum(None));
        let wm: Option<Watermark> = store.watermark(&key)?;
        let (cursor, seen): (u64, VecDeque<Seen>) = match wm {
            Some(w) => (w.through, w.blocks.into_iter().collect()),
            None => (cfg.start_block.saturating_sub(1), VecDeque::new()),
        };
        Ok(LogIngest {
            client,
            address,
            topics,
            store,
            key,
            cfg,
            clock,
            state: Mutex::new(State {
                cursor,
                committed_cursor: cursor,
                committed_seen: seen.clone(),
                seen,
                head: None,
                fault: None,
                reorgs: 0,
            }),
        })
    }

    /// Reorgs detected since start.
    pub async fn reorgs(&self) -> u64 {
        self.state.lock().await.reorgs
    }

    async fn canonical(&self, number: u64) -> Result<Option<B256>, VenueError> {
        Ok(self.client.block(number).await?.map(|(h, _)| h))
    }

    /// Take back delivered blocks whose hash changed; `Removed` for their logs.
    async fn unwind(&self, st: &mut State, events: &mut Vec<LogEvent>) -> Result<(), VenueError> {
        let Some(tip) = st.seen.back() else {
            return Ok(());
        };
        if self.canonical(tip.number).await? == Some(tip.hash) {
            return Ok(());
        }
        let mut oldest = tip.number;
        while let Some(s) = st.seen.back() {
            if self.canonical(s.number).await? == Some(s.hash) {
                break;
            }
            let s = st.seen.pop_back().expect("checked above");
            oldest = s.number;
            for log in s.logs.into_iter().rev() {
                events.push(LogEvent::Removed { log });
            }
        }
        st.reorgs += 1;
        st.cursor = match st.seen.back() {
            Some(s) => s.number,
            None => {
                st.fault = Some(format!(
                    "reorg deeper than the {} remembered blocks",
                    self.cfg.window
                ));
                oldest.saturating_sub(1)
            }
        };
        tracing::warn!(chain = %self.client.name, address = %self.address, back_to = st.cursor, "reorg: delivered logs taken back");
        Ok(())
    }

    pub async fn health(&self) -> VenueHealth {
        let st = self.state.lock().await;
        let now = self.clock.now();
        let name = format!("logs {} {}", self.client.name, self.address);
        let silent = st.head.map(|(_, at)| now.saturating_sub(at));
        let (ok, detail) = match (&st.fault, silent) {
            (Some(f), _) => (false, f.clone()),
            (None, Some(s)) if s > self.cfg.silent_after_ms => (
                false,
                format!(
                    "silent: no new block for {}",
                    crate::model::time::format_duration(s)
                ),
            ),
            (None, None) => (false, "not polled yet".to_string()),
            (None, Some(_)) => (
                true,
                format!("through block {}, {} reorgs", st.cursor, st.reorgs),
            ),
        };
        VenueHealth {
            name,
            ok,
            head: st.head.map(|(h, _)| h),
            latency_ms: None,
            last_seen: st.head.map(|(_, at)| at),
            detail,
        }
    }
}

impl LogSource for LogIngest {
    async fn poll(&self) -> Result<LogBatch, VenueError> {
        let mut st = self.state.lock().await;
        // Whatever was delivered and not committed comes again: from the
        // committed cursor, with the blocks remembered at that commit (so a
        // reorg answered in an uncommitted batch is answered again too).
        st.cursor = st.committed_cursor;
        st.seen = st.committed_seen.clone();
        let head = match self.client.head().await {
            Ok(h) => h,
            Err(e) => {
                st.fault = Some(e.to_string());
                return Err(e);
            }
        };
        let now = self.clock.now();
        st.head = match st.head {
            Some((h, at)) if h == head => Some((h, at)),
            _ => Some((head, now)),
        };
        st.fault = None;
        let mut events = Vec::new();
        self.unwind(&mut st, &mut events).await?;
        let safe = (head + 1).saturating_sub(self.cfg.confirmations);
        let mut rounds = 0;
        while st.cursor < safe && rounds < self.cfg.chunks_per_poll {
            let from = st.cursor + 1;
            let to = safe.min(from + self.cfg.chunk - 1);
            let filter = Filter::new()
                .address(self.address)
                .event_signature(self.topics.clone())
                .from_block(from)
                .to_block(to);
            let logs = self.client.logs(&filter).await?;
            let Some(tip) = self.canonical(to).await? else {
                break;
            };
            let mut blocks: BTreeMap<u64, Seen> = BTreeMap::new();
            for l in logs.iter().filter(|l| !l.removed) {
                let n = l.block_number.unwrap_or_default();
                let entry = blocks.entry(n).or_insert_with(|| Seen {
                    number: n,
                    hash: l.block_hash.unwrap_or_default(),
                    logs: Vec::new(),
                });
                entry.logs.push(to_chain_log(self.client.chain_id, l));
            }
            // A log from a block that is no longer canonical: a reorg raced
            // the read; take this range again next time.
            let mut raced = false;
            for s in blocks.values() {
                if self.canonical(s.number).await? != Some(s.hash) {
                    raced = true;
                }
            }
            if raced || self.canonical(to).await? != Some(tip) {
                break;
            }
            blocks.entry(to).or_insert(Seen {
                number: to,
                hash: tip,
                logs: Vec::new(),
            });
            for (_, s) in blocks {
                for log in &s.logs {
                    events.push(LogEvent::Added { log: log.clone() });
                }
                st.seen.push_back(s);
            }
            while st.seen.len() > self.cfg.window {
                st.seen.pop_front();
            }
            st.cursor = to;
            rounds += 1;
        }
        Ok(LogBatch {
            events,
            through_block: st.cursor,
        })
    }

    async fn commit(&self, block: u64) -> Result<(), VenueError> {
        let mut st = self.state.lock().await;
        let through = block.min(st.cursor);
        let blocks: VecDeque<Seen> = st
            .seen
            .iter()
            .filter(|s| s.number <= through)
            .cloned()
            .collect();
        let wm = Watermark {
            through,
            blocks: blocks.iter().cloned().collect(),
        };
        self.store.put_watermark(&self.key, &wm)?;
        // Only once it is durable does the next poll start after it.
        st.committed_cursor = through;
        st.committed_seen = blocks;
        Ok(())
    }
}
