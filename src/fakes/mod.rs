//! The fakes of the outside services arbkeep talks to, for tests and
//! benches only (`cfg(test)` or feature `fakes`; never in the release
//! binary): Charles Schwab ([`schwab`]), Alpaca's Broker API ([`alpaca`]),
//! CoW Protocol's orderbook with a local solver on a devnet chain ([`cow`]),
//! a hostile JSON-RPC proxy and a WebSocket that falls silent in front of an
//! EVM node ([`evm_rpc`], [`evm_ws`]), and Stellar RPC, Horizon and
//! Friendbot over a simulated ledger ([`stellar`]), 0x's Swap API
//! over the devnet chain ([`zerox`]), and the LayerZero Scan API over
//! messages the test sets ([`lzscan`]). The paper world's
//! seeded send faults (`venue::faults`) are not fakes: they ship in the
//! binary with the paper venues.
//!
//! Every fake follows one pattern:
//! - **A loopback server**: an [`http::Server`] bound to 127.0.0.1:0 (its
//!   URL is the fake's; dropping the fake stops it, open connections
//!   included), state behind one lock ([`lock`]), time from an injected
//!   clock where the fake keeps any.
//! - **A fault plan** ([`faults::Plan`]): per request, the fake's script
//!   (the next calls of a route, a call by its number, or the fake's own
//!   rules), then seeded dice over a menu of its faults, the same faults
//!   for the same seed; every fault met is logged. Each fault says whether
//!   the peer acted before it showed ([`faults::PeerFault`]): the kinds of
//!   the hostile-peers issue (the reply lost after acting, 5xx before or
//!   after, a timeout, 429 with or without `Retry-After`, a malformed or
//!   cut body), plus listing lag and a node behind where the wire has them.
//! - **Sends counted at the fake** ([`faults::Sends`]): what reached the
//!   acting path, before any fault, whatever the attempt number — so "sent
//!   once" is checked where it happens, not trusted from the client.
//!
//! The fakes may use `model`, `venue` (wire types, clients' configs),
//! `config`, `net`, `files` and each other, and nothing above
//! (`tests/it/layering.rs`).

pub mod alpaca;
pub mod cow;
pub mod evm_rpc;
pub mod evm_ws;
pub mod faults;
pub mod http;
pub mod lzscan;
pub mod onedelta;
pub mod schwab;
pub mod stellar;
pub mod zerox;

use std::sync::{Mutex, MutexGuard};

/// A fake's state, even if a test panicked holding it (the fake goes on
/// answering, so the test's own failure is the one reported).
pub(crate) fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
