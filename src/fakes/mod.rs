//! The fakes of the outside services arbkeep talks to, for tests and
//! benches only (`cfg(test)` or feature `fakes`; never in the release
//! binary).

pub mod alpaca;
pub mod evm_rpc;
pub mod evm_ws;
pub mod http;
pub mod schwab;
pub mod stellar;
