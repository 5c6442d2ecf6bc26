//! arbkeep: a terminal console for arbitrage keepers that never loses track of money.

pub mod control;
pub mod engine;
pub mod model;
pub mod notify;
pub mod venue;
