//! The paper world: every venue simulated in-process, persisted in the data
//! dir, deterministic under a seed.

pub mod pool;
