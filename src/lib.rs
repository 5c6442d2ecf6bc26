//! arbkeep: a terminal console for arbitrage keepers that never loses track of money.

pub mod engine;
pub mod model;
pub mod ui;
pub mod venue;
