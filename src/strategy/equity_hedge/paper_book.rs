//! The paper orderbook: a Raindex V4 orderbook on a simulated chain (a
//! block every 2 s) whose blocks now and then carry a fill — a `TakeOrderV2`
//! or a `ClearV2` + `AfterClear` — of the owner's orders (and sometimes of
//! someone else's) on a few tokenized equities. Logs are ABI-encoded like a
//! node's, drawn from (seed, block) alone, so the same seed gives the same
//! chain; the watermark and the genesis time persist so a restart continues.

use super::abi::LogPlace;
use super::chain::{ReceiptLogs, StaticTokens};
use super::events::{ClearSide, address_of, clear_logs, hash_of, order, take_log, units};
use super::events_v6;
use super::paper_market;
use crate::model::{Clock, Timestamp};
use crate::venue::VenueError;
use crate::venue::logs::{ChainLog, LogBatch, LogEvent, LogSource};
use crate::venue::sim::rng::{Dice, Stream, label_index};
use alloy_primitives::Address;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub const BLOCK_MS: u64 = 2_000;
/// At most this many blocks per poll.
const MAX_BLOCKS: u64 = 2_000;
/// One block in this many carries a fill (one every ~4 minutes).
const FILL_ONE_IN: u64 = 120;

/// The paper equities: onchain symbol (every st0x marker) and decimals.
pub const PAPER_EQUITIES: [&str; 4] = ["tAAPL", "NVDA0x", "TSLAs1", "wtMSFT"];

#[derive(Debug, Clone)]
pub struct PaperBookConfig {
    pub chain_id: u64,
    pub orderbook: String,
    pub owner: Address,
    pub usdc: Address,
    /// Which interface's events the paper orderbook emits.
    pub version: crate::config::RaindexVersion,
}

pub struct PaperBook {
    db: Database,
    seed: u64,
    clock: Arc<dyn Clock>,
    config: PaperBookConfig,
    genesis: Timestamp,
}

fn err(e: impl std::fmt::Display) -> VenueError {
    VenueError::Transient(format!("paper orderbook store: {e}"))
}

pub fn equity_address(symbol: &str) -> Address {
    address_of(&format!("paper:{symbol}"))
}

/// `symbol()` of every paper token.
pub fn paper_tokens(usdc: Address) -> StaticTokens {
    let mut m: BTreeMap<Address, String> = PAPER_EQUITIES
        .iter()
        .map(|s| (equity_address(s), s.to_string()))
        .collect();
    m.insert(usdc, "USDC".into());
    StaticTokens(m)
}

fn ticker(symbol: &str) -> &str {
    symbol
        .trim_start_matches("wt")
        .trim_start_matches('t')
        .trim_end_matches("0x")
        .trim_end_matches("s1")
}

impl PaperBook {
    pub fn open(
        path: &Path,
        seed: u64,
        clock: Arc<dyn Clock>,
        config: PaperBookConfig,
    ) -> Result<Self, VenueError> {
        crate::store::ensure_private_file(path).map_err(err)?;
        let db = Database::create(path).map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        let genesis = {
            let mut meta = txn.open_table(META).map_err(err)?;
            let found = meta.get("genesis").map_err(err)?.map(|v| v.value());
            match found {
                Some(g) => g,
                None => {
                    let g = clock.now();
                    meta.insert("genesis", g).map_err(err)?;
                    g
                }
            }
        };
        txn.commit().map_err(err)?;
        Ok(Self {
            db,
            seed,
            clock,
            config,
            genesis,
        })
    }

    pub fn head(&self) -> u64 {
        self.clock.now().saturating_sub(self.genesis) / BLOCK_MS
    }

    pub fn watermark(&self) -> Result<u64, VenueError> {
        let txn = self.db.begin_read().map_err(err)?;
        let meta = txn.open_table(META).map_err(err)?;
        Ok(meta.get("watermark").map_err(err)?.map_or(0, |v| v.value()))
    }

    /// The logs of block `n`, in log-index order.
    pub fn block_logs(&self, n: u64) -> Vec<ChainLog> {
        let mut dice = Dice::new(
            self.seed ^ label_index("equity_hedge.book"),
            Stream::Epoch,
            n,
        );
        if dice.below(FILL_ONE_IN) != 0 {
            return Vec::new();
        }
        let c = &self.config;
        let symbol = PAPER_EQUITIES[dice.below(PAPER_EQUITIES.len() as u64) as usize];
        let equity = equity_address(symbol);
        let at = self.genesis + n * BLOCK_MS;
        let reference = paper_market::price(self.seed, ticker(symbol), at);
        // The owner's orders sell above and buy below the reference (±0.5 %).
        let owner_sells = dice.below(2) == 0;
        let spread = Decimal::new(if owner_sells { 1005 } else { 995 }, 3);
        let price = (reference * spread).round_dp(2);
        let shares = Decimal::new(dice.between(5, 300) as i64, 2);
        let usdc = (shares * price).round_dp(6);
        let owner = if dice.below(8) == 0 {
            address_of("paper:someone-else")
        } else {
            c.owner
        };
        let (Some(eq_units), Some(usdc_units)) = (units(shares, 18), units(usdc, 6)) else {
            return Vec::new();
        };
        let counterparty = address_of("paper:counterparty");
        // Block number in the last 16 hex digits: the receipt can be rebuilt.
        let tx_hash = format!(
            "{}{n:016x}",
            &hash_of(&format!("paper-tx:{}:{n}", self.seed))[..50]
        );
        let place = LogPlace {
            chain_id: c.chain_id,
            address: c.orderbook.clone(),
            block_number: n,
            block_hash: hash_of(&format!("paper-block:{}:{n}", self.seed)),
            tx_hash,
            log_index: dice.below(4),
        };
        let take = dice.below(5) < 3;
        if c.version != crate::config::RaindexVersion::V4 {
            // V5/V6: the same trade, its amounts as Floats.
            let ours = |who| {
                if owner_sells {
                    events_v6::order(who, &[c.usdc], &[equity])
                } else {
                    events_v6::order(who, &[equity], &[c.usdc])
                }
            };
            let (ours_in, ours_out) = if owner_sells {
                (usdc, shares)
            } else {
                (shares, usdc)
            };
            if take {
                return vec![events_v6::take_log(
                    &place,
                    ours(owner),
                    (0, 0),
                    ours_out,
                    ours_in,
                )];
            }
            let counter = if owner_sells {
                events_v6::order(counterparty, &[equity], &[c.usdc])
            } else {
                events_v6::order(counterparty, &[c.usdc], &[equity])
            };
            let ours = events_v6::ClearSide {
                order: ours(owner),
                input: ours_in,
                output: ours_out,
            };
            let theirs = events_v6::ClearSide {
                order: counter,
                input: ours_out,
                output: ours_in,
            };
            let (clear, after) = if dice.below(2) == 0 {
                events_v6::clear_logs(&place, ours, theirs)
            } else {
                events_v6::clear_logs(&place, theirs, ours)
            };
            return vec![clear, after];
        }
        let ours = if owner_sells {
            order(owner, &[(c.usdc, 6)], &[(equity, 18)])
        } else {
            order(owner, &[(equity, 18)], &[(c.usdc, 6)])
        };
        if take {
            // The taker's input is what the order gave; its output what it received.
            let (taker_in, taker_out) = if owner_sells {
                (eq_units, usdc_units)
            } else {
                (usdc_units, eq_units)
            };
            vec![take_log(&place, ours, 0, 0, taker_in, taker_out)]
        } else {
            let (ours_in, ours_out) = if owner_sells {
                (usdc_units, eq_units)
            } else {
                (eq_units, usdc_units)
            };
            let counter = if owner_sells {
                order(counterparty, &[(equity, 18)], &[(c.usdc, 6)])
            } else {
                order(counterparty, &[(c.usdc, 6)], &[(equity, 18)])
            };
            let ours = ClearSide {
                order: ours,
                input_io: 0,
                output_io: 0,
                input: ours_in,
                output: ours_out,
            };
            let theirs = ClearSide {
                order: counter,
                input_io: 0,
                output_io: 0,
                input: ours_out,
                output: ours_in,
            };
            let (clear, after) = if dice.below(2) == 0 {
                clear_logs(&place, ours, theirs)
            } else {
                clear_logs(&place, theirs, ours)
            };
            vec![clear, after]
        }
    }
}

impl LogSource for PaperBook {
    /// Always from the committed (persisted) watermark: a batch the keeper
    /// did not commit is delivered again, as `LogIngest` does.
    async fn poll(&self) -> Result<LogBatch, VenueError> {
        let from = self.watermark()? + 1;
        let head = self.head();
        if from > head {
            return Ok(LogBatch {
                events: Vec::new(),
                through_block: from - 1,
            });
        }
        let to = head.min(from + MAX_BLOCKS - 1);
        let events = (from..=to)
            .flat_map(|n| self.block_logs(n))
            .map(|log| LogEvent::Added { log })
            .collect();
        Ok(LogBatch {
            events,
            through_block: to,
        })
    }

    async fn commit(&self, block: u64) -> Result<(), VenueError> {
        let txn = self.db.begin_write().map_err(err)?;
        txn.open_table(META)
            .map_err(err)?
            .insert("watermark", block)
            .map_err(err)?;
        txn.commit().map_err(err)
    }
}

impl ReceiptLogs for PaperBook {
    async fn receipt_logs(
        &self,
        _chain_id: u64,
        tx_hash: &str,
    ) -> Result<Option<Vec<ChainLog>>, VenueError> {
        let block = tx_hash
            .len()
            .checked_sub(16)
            .and_then(|i| tx_hash.get(i..))
            .and_then(|h| u64::from_str_radix(h, 16).ok());
        // No log of that transaction: no such transaction (a receipt has
        // at least the log it was asked for).
        Ok(block
            .map(|n| {
                self.block_logs(n)
                    .into_iter()
                    .filter(|l| l.tx_hash.eq_ignore_ascii_case(tx_hash))
                    .collect::<Vec<_>>()
            })
            .filter(|logs| !logs.is_empty()))
    }
}
