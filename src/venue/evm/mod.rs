//! The EVM adapters (alloy 2.x): chains, wallet, transaction manager, ERC-20,
//! the swap providers (Uniswap V2 and V3 shapes), the bridge routes, log ingestion and the local devnet. The
//! hostile JSON-RPC proxy and the WebSocket that falls silent, which the
//! tests put in front of a node, are `crate::fakes::{evm_rpc, evm_ws}`.

pub mod abi;
pub mod bridge;
pub mod chain;
pub mod crash;
pub mod db;
pub mod devnet;
pub mod erc20;
pub mod ingest;
pub mod lzscan;
pub mod raindex;
pub mod stargate;
pub mod swap;
pub mod tunnel;
pub mod txmgr;
pub mod venue;
pub mod wallet;

pub use chain::{ChainClient, EvmError};
pub use db::{EvmStore, JournalError};
pub use venue::EvmVenue;
pub use wallet::Wallet;
