//! Shared helpers for integration tests that need them.
pub mod stellar_fake;
