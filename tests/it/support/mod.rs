//! Shared helpers for integration tests that need them.
pub mod exposition;
pub mod stellar_fake;
pub mod stellar_keeper;
