//! Shared helpers for integration tests that need them.
pub mod exposition;
pub mod hedge_feed;
pub mod stellar_keeper;
