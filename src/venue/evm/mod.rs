//! The EVM adapters (alloy 2.x): chains, wallet, transaction manager, ERC-20,
//! Uniswap V2, the bridge routes, log ingestion, the local devnet, and (for
//! tests) a hostile JSON-RPC proxy and a WebSocket that falls silent in front
//! of it.

pub mod abi;
pub mod bridge;
pub mod chain;
pub mod crash;
pub mod db;
pub mod devnet;
pub mod erc20;
#[cfg(any(test, feature = "fakes"))]
pub mod fake_rpc;
#[cfg(any(test, feature = "fakes"))]
pub mod fake_ws;
pub mod ingest;
pub mod raindex;
pub mod txmgr;
pub mod uniswap;
pub mod venue;
pub mod wallet;

pub use chain::{ChainClient, EvmError};
pub use db::{EvmStore, JournalError};
pub use venue::EvmVenue;
pub use wallet::Wallet;
