//! Paper mode's equity hedge: the paper orderbook and paper broker in the
//! data dir, the configured owner, USDC and symbol rules, so paper runs the
//! same decoder and pipeline as a live hedge.

use super::decode::Decoder;
use super::keeper::{EquityHedge, HedgePolicy};
use super::paper_book::{PaperBook, PaperBookConfig, paper_tokens};
use super::paper_broker::PaperBroker;
use super::symbol::SymbolMap;
use crate::config::EquityHedgeConfig;
use crate::engine::Keeper;
use crate::model::Clock;
use crate::venue::faults::FaultDice;
use alloy_primitives::Address;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

pub const BOOK_FILE: &str = "paper-orderbook.redb";
pub const BROKER_FILE: &str = "paper-broker.redb";

/// The paper hedge and its venues (tests look at the broker).
pub struct PaperHedge {
    pub keeper: EquityHedge<PaperBroker, PaperBook, PaperBook, super::chain::StaticTokens>,
    pub broker: Arc<PaperBroker>,
    pub book: Arc<PaperBook>,
}

fn address(key: &str, text: &str) -> anyhow::Result<Address> {
    Address::from_str(text).map_err(|e| anyhow::anyhow!("equity_hedge.{key}: {text:?}: {e}"))
}

impl PaperHedge {
    pub fn open(
        cfg: &EquityHedgeConfig,
        dir: &Path,
        seed: u64,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<PaperHedge> {
        Self::open_with_faults(cfg, dir, seed, clock, FaultDice::off())
    }

    /// `open`, with `faults` at the paper broker's order placement.
    pub fn open_with_faults(
        cfg: &EquityHedgeConfig,
        dir: &Path,
        seed: u64,
        clock: Arc<dyn Clock>,
        faults: FaultDice,
    ) -> anyhow::Result<PaperHedge> {
        let owner = address("order_owner", &cfg.order_owner)?;
        let usdc = address("usdc", &cfg.usdc)?;
        let symbols = SymbolMap::new(&cfg.symbol_patterns, cfg.remaps.clone())?;
        let book = Arc::new(PaperBook::open(
            &dir.join(BOOK_FILE),
            seed,
            clock.clone(),
            PaperBookConfig {
                chain_id: cfg.chain_id,
                orderbook: cfg.orderbook.clone(),
                owner,
                usdc,
                version: cfg.raindex_version,
            },
        )?);
        let broker =
            Arc::new(PaperBroker::open(&dir.join(BROKER_FILE), seed, clock)?.with_faults(faults));
        let keeper = EquityHedge::new(
            Decoder {
                owner,
                usdc,
                symbols,
            },
            broker.clone(),
            "paper broker",
            book.clone(),
            book.clone(),
            Arc::new(paper_tokens(usdc)),
        )
        .with_policy(HedgePolicy::of(cfg))
        .with_source(cfg.chain_id, &cfg.orderbook);
        Ok(PaperHedge {
            keeper,
            broker,
            book,
        })
    }
}

/// The keeper for paper mode (`src/app/`), or `None` when the hedge is off; `faults`
/// at its broker's order placement.
pub fn paper_keeper(
    cfg: &EquityHedgeConfig,
    dir: &Path,
    seed: u64,
    clock: Arc<dyn Clock>,
    faults: FaultDice,
) -> anyhow::Result<Option<Box<dyn Keeper>>> {
    if !cfg.enabled_in(crate::model::Mode::Paper) {
        return Ok(None);
    }
    Ok(Some(Box::new(
        PaperHedge::open_with_faults(cfg, dir, seed, clock, faults)?.keeper,
    )))
}
