//! The equity hedge's log source and orderbook fills, for the tests and
//! benches that drive a real `EquityHedge` keeper: a `Feed` that delivers
//! each batch again until the keeper commits past it (as a real source
//! does after a crash), owner-side take logs ABI-encoded as a node reports
//! them, and the decoder and token symbols they are read with.
#![allow(dead_code)]

use arbkeep::strategy::equity_hedge::Decoder;
use arbkeep::strategy::equity_hedge::abi::LogPlace;
use arbkeep::strategy::equity_hedge::chain::StaticTokens;
use arbkeep::strategy::equity_hedge::events::{address_of, order, take_log, units};
use arbkeep::strategy::equity_hedge::symbol::SymbolMap;
use arbkeep::venue::VenueError;
use arbkeep::venue::logs::{ChainLog, LogBatch, LogEvent, LogSource};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, VecDeque};
use std::str::FromStr;
use std::sync::Mutex;

/// Log batches that are delivered again until committed (a real source).
#[derive(Default)]
pub struct Feed {
    batches: Mutex<VecDeque<LogBatch>>,
    uncommitted: Mutex<Option<LogBatch>>,
    through: Mutex<u64>,
}

impl Feed {
    /// One log, in a batch through its block.
    pub fn push(&self, log: ChainLog) {
        let through = log.block_number;
        self.batches.lock().unwrap().push_back(LogBatch {
            events: vec![LogEvent::Added { log }],
            through_block: through,
        });
    }
}

impl LogSource for Feed {
    async fn poll(&self) -> Result<LogBatch, VenueError> {
        if let Some(again) = self.uncommitted.lock().unwrap().clone() {
            return Ok(again);
        }
        let next = self.batches.lock().unwrap().pop_front();
        Ok(match next {
            Some(b) => {
                *self.through.lock().unwrap() = b.through_block;
                *self.uncommitted.lock().unwrap() = Some(b.clone());
                b
            }
            None => LogBatch {
                events: Vec::new(),
                through_block: *self.through.lock().unwrap(),
            },
        })
    }

    async fn commit(&self, block: u64) -> Result<(), VenueError> {
        let mut u = self.uncommitted.lock().unwrap();
        if u.as_ref().is_some_and(|b| b.through_block <= block) {
            *u = None;
        }
        Ok(())
    }
}

/// The owner's order of `token` taken at block `block`: the owner bought
/// `shares` (the hedge sells them) or, with `bought` false, sold them (the
/// hedge buys), at 200 USDC a share (the USDC side to its 6 places).
pub fn owner_trade(token: &str, block: u64, shares: &str, bought: bool) -> ChainLog {
    let (equity, usdc) = (address_of(token), address_of("USDC"));
    let place = LogPlace {
        chain_id: 8453,
        address: "0x52CEB8eBEf648744fFDDE89F7Bc9C3aC35944775".into(),
        block_number: block,
        block_hash: format!("0xb{block}"),
        tx_hash: format!("0x{block:064x}"),
        log_index: 0,
    };
    let s = Decimal::from_str(shares).unwrap();
    let eq = units(s, 18).unwrap();
    let cash = units((s * Decimal::from(200)).round_dp(6), 6).unwrap();
    let owner = address_of("owner");
    if bought {
        take_log(
            &place,
            order(owner, &[(equity, 18)], &[(usdc, 6)]),
            0,
            0,
            cash,
            eq,
        )
    } else {
        take_log(
            &place,
            order(owner, &[(usdc, 6)], &[(equity, 18)]),
            0,
            0,
            eq,
            cash,
        )
    }
}

/// The owner bought `shares` of `token` at block `block` (hedge: SELL).
pub fn bought(token: &str, block: u64, shares: &str) -> ChainLog {
    owner_trade(token, block, shares, true)
}

/// The decoder of the owner's fills, USDC the cash side, st0x's symbols.
pub fn decoder() -> Decoder {
    Decoder {
        owner: address_of("owner"),
        usdc: address_of("USDC"),
        symbols: SymbolMap::st0x(),
    }
}

/// `symbol()` of each onchain token named, and of USDC.
pub fn tokens(onchain: &[&str]) -> StaticTokens {
    let mut known: BTreeMap<_, _> = onchain
        .iter()
        .map(|t| (address_of(t), t.to_string()))
        .collect();
    known.insert(address_of("USDC"), "USDC".to_string());
    StaticTokens(known)
}
