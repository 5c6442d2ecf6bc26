//! The fakes of the outside services arbkeep talks to, for tests and
//! benches only (`cfg(test)` or feature `fakes`; never in the release
//! binary).

pub mod alpaca;
pub mod evm_rpc;
pub mod evm_ws;
pub mod http;
pub mod schwab;
pub mod stellar;

use std::sync::{Mutex, MutexGuard};

/// A fake's state, even if a test panicked holding it (the fake goes on
/// answering, so the test's own failure is the one reported).
pub(crate) fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
