//! arbkeep: a terminal console for arbitrage keepers that never loses track of money.

pub mod codec;
pub mod config;
pub mod control;
pub mod doctor;
pub mod engine;
pub mod export;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod files;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod net;
pub mod notify;
pub mod redact;
pub mod store;
pub mod strategy;
pub mod ui;
pub mod venue;
