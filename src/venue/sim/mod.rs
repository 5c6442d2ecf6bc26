//! The paper world: every venue simulated in-process, persisted in the data
//! dir, deterministic under a seed.

pub mod actions;
pub mod bridge;
pub mod error;
pub mod fees;
pub mod ids;
pub mod market;
pub mod opportunity;
pub mod pool;
pub mod rng;
pub mod state;
pub mod store;
#[cfg(test)]
mod testing;
pub mod venue;
pub mod wallet;
pub mod world;

pub use error::SimError;
pub use world::{PAPER_EPOCH, SimWorld};
