//! The equity hedge (st0x, issue 5): fills of the order owner's Raindex
//! orders (V4, or V5/V6 with Rain Float amounts, by `raindex_version`) are
//! decoded from orderbook logs, recorded and netted per symbol in
//! one store transaction each, and every whole share of net exposure is
//! hedged with an opposite market order at the broker, committed before it
//! is sent and settled by looking after a crash.
//!
//! Seams for the live adapters: the broker is `venue::broker::Broker`
//! (Schwab), the logs `venue::logs::LogSource` (EVM ingestion, filtered on
//! the orderbook address and `abi::watched_topics(version)`), and the chain reads
//! the decoder needs are `chain::ReceiptLogs` and `chain::TokenSymbols`
//! (over EVM: `venue::evm::raindex::RaindexReads`). `wiring` assembles them
//! for devnet and live runs, `paper` for paper runs. `tests/it/devnet_hedge.rs`
//! runs it end to end: emitter fills on anvil, `LogIngest`, the fake Schwab,
//! by hand and through the binary.

pub mod abi;
pub mod abi_v6;
pub mod book;
pub mod chain;
pub mod controls;
pub mod decode;
mod decode_v4;
mod decode_v6;
pub mod devnet_flow;
pub mod events;
pub mod events_v6;
pub mod keeper;
pub mod ledger;
pub mod lifecycle;
mod orders;
pub mod paper;
pub mod paper_book;
pub mod paper_broker;
pub mod paper_market;
pub mod pipeline;
pub mod pretrade;
pub mod rain_float;
mod resolve;
pub mod symbol;
pub mod view;
pub mod wiring;

pub use decode::{Decoder, EventKey, Fill, FillKind, Meaning, OnchainSide};
pub use keeper::{EquityHedge, HedgePolicy};
pub use view::HedgeView;
#[cfg(test)]
mod tests;
pub use paper::{PaperHedge, paper_keeper};
