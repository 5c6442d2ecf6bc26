//! How the binary's assembly (`src/app/`) adds the equity hedge in devnet and live mode: a client of the
//! orderbook's chain (its chain id checked), log ingestion of the orderbook
//! from the shared EVM journal, the EVM reads the decoder needs (receipts,
//! `symbol()`), and the configured broker — Schwab, or the paper broker for
//! a dry run against real fills. Paper mode uses `paper::paper_keeper`.

use super::abi::watched_topics;
use super::decode::Decoder;
use super::keeper::{EquityHedge, HedgePolicy};
use super::paper::BROKER_FILE;
use super::paper_broker::PaperBroker;
use super::symbol::SymbolMap;
use crate::config::{EquityHedgeConfig, HedgeBroker};
use crate::engine::Keeper;
use crate::model::{Clock, Mode};
use crate::venue::alpaca::{AlpacaBroker, AlpacaConfig, AlpacaSecrets};
use crate::venue::evm::chain::Endpoint;
use crate::venue::evm::ingest::{IngestConfig, LogIngest};
use crate::venue::evm::raindex::RaindexReads;
use crate::venue::evm::{ChainClient, EvmStore};
use crate::venue::schwab::{SchwabBroker, SchwabConfig, SchwabSecrets};
use alloy_primitives::Address;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Why the hedge cannot start; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("equity_hedge.rpc is not set: the RPC of the orderbook's chain")]
    NoRpc,
    #[error("equity_hedge.{key}: {text:?} is not an address: {problem}")]
    Address {
        key: &'static str,
        text: String,
        problem: String,
    },
    #[error(transparent)]
    Chain(#[from] crate::venue::evm::EvmError),
    #[error("equity_hedge: {0}")]
    Venue(#[from] crate::venue::VenueError),
    #[error("equity_hedge.symbol_patterns: {0}")]
    Symbols(String),
    #[error("schwab: {0}")]
    Schwab(#[from] crate::venue::schwab::SchwabError),
    #[error("{0}")]
    Alpaca(#[from] crate::venue::alpaca::AlpacaError),
}

/// What the hedge needs beside its own config.
pub struct HedgeWiring<'a> {
    pub mode: Mode,
    pub schwab: &'a SchwabConfig,
    pub alpaca: &'a AlpacaConfig,
    pub data_dir: &'a Path,
    /// The EVM journal of this data dir, shared with the loop's venue (one
    /// redb file is opened once per process).
    pub journal: Arc<EvmStore>,
    pub clock: Arc<dyn Clock>,
    /// Seeds the paper broker's fill noise when it is the broker.
    pub seed: u64,
    pub rpc_timeout: Duration,
}

fn address(key: &'static str, text: &str) -> Result<Address, WiringError> {
    Address::from_str(text).map_err(|e| WiringError::Address {
        key,
        text: text.to_string(),
        problem: e.to_string(),
    })
}

/// The hedge over the orderbook's chain, or `None` when it is off.
pub async fn chain_keeper(
    cfg: &EquityHedgeConfig,
    w: HedgeWiring<'_>,
) -> Result<Option<Box<dyn Keeper>>, WiringError> {
    if !cfg.enabled_in(w.mode) {
        return Ok(None);
    }
    let rpc_url = cfg.rpc_url.clone().ok_or(WiringError::NoRpc)?;
    let orderbook = address("orderbook", &cfg.orderbook)?;
    let decoder = Decoder {
        owner: address("order_owner", &cfg.order_owner)?,
        usdc: address("usdc", &cfg.usdc)?,
        symbols: SymbolMap::new(&cfg.symbol_patterns, cfg.remaps.clone())
            .map_err(|e| WiringError::Symbols(e.to_string()))?,
    };
    let endpoint = Endpoint {
        name: format!("chain {}", cfg.chain_id),
        chain_id_key: "equity_hedge.chain_id".into(),
        chain_id: cfg.chain_id,
        rpc_url,
        ws_url: cfg.ws_url.clone(),
    };
    let client = Arc::new(ChainClient::connect_to(&endpoint, w.rpc_timeout).await?);
    // Without a watermark or a configured start, begin at the head: a first
    // start must not backfill the chain's whole history.
    let start_block = match cfg.start_block {
        Some(b) => b,
        None => client.head().await?,
    };
    let ingest = LogIngest::new(
        client.clone(),
        orderbook,
        watched_topics(cfg.raindex_version).to_vec(),
        w.journal,
        IngestConfig {
            confirmations: cfg.confirmations,
            chunk: cfg.log_chunk_blocks,
            chunks_per_poll: 8,
            start_block,
            silent_after_ms: 2 * crate::model::time::MINUTE,
            window: 128,
        },
        w.clock.clone(),
    )?;
    let reads = Arc::new(RaindexReads::new(client));
    let ingest = Arc::new(ingest);
    tracing::info!(chain_id = cfg.chain_id, %orderbook, start_block, broker = ?cfg.broker_in(w.mode), "equity hedge wired");
    let keeper: Box<dyn Keeper> = match cfg.broker_in(w.mode) {
        HedgeBroker::Schwab => {
            let broker = SchwabBroker::open(
                w.schwab.clone(),
                w.data_dir,
                SchwabSecrets::from_env()?,
                w.clock,
            )?;
            Box::new(
                EquityHedge::new(
                    decoder,
                    Arc::new(broker),
                    "schwab",
                    ingest,
                    reads.clone(),
                    reads,
                )
                .with_policy(HedgePolicy::of(cfg))
                .with_source(cfg.chain_id, &cfg.orderbook),
            )
        }
        HedgeBroker::Alpaca => {
            let broker = AlpacaBroker::open(w.alpaca.clone(), AlpacaSecrets::from_env()?, w.clock)?;
            Box::new(
                EquityHedge::new(
                    decoder,
                    Arc::new(broker),
                    "alpaca",
                    ingest,
                    reads.clone(),
                    reads,
                )
                .with_policy(HedgePolicy::of(cfg))
                .with_source(cfg.chain_id, &cfg.orderbook),
            )
        }
        HedgeBroker::Paper => {
            let broker = PaperBroker::open(&w.data_dir.join(BROKER_FILE), w.seed, w.clock)?;
            Box::new(
                EquityHedge::new(
                    decoder,
                    Arc::new(broker),
                    "paper broker",
                    ingest,
                    reads.clone(),
                    reads,
                )
                .with_policy(HedgePolicy::of(cfg))
                .with_source(cfg.chain_id, &cfg.orderbook),
            )
        }
    };
    Ok(Some(keeper))
}
