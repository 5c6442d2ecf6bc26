//! A stateful, hostile CoW Protocol orderbook on 127.0.0.1 for tests
//! (evm.md §2.4, the services' `openapi.yml`), with a local solver
//! ([`solver`]) that settles its open orders through the real
//! `GPv2Settlement` on a devnet chain; request bodies are read in `wire`.
//!
//! Routes, with the real shapes and error codes: `POST /api/v1/quote`
//! (priced by a caller's [`Quoting`], so a quote is what the chain gives;
//! sell orders only), `POST /api/v1/orders` (the EIP-712 or eth_sign
//! signature must recover to the owner, and to `from` when given; validTo in
//! the future; the UID new; 201 with the UID), `GET /api/v1/orders/{UID}`
//! (status `open`, `fulfilled`, `cancelled` or `expired` by the fake's
//! clock; executed amounts as decimal strings), `DELETE /api/v1/orders`
//! (signed `OrderCancellations`, best effort: only open orders change) and
//! `GET /api/v2/trades` (by `orderUid` or `owner`, newest first, with the
//! settlement's `txHash`). Every order POST is counted at the fake by UID
//! before any fault ([`FakeCow::posts`]).
//!
//! Faults, scripted or drawn from a seed: on order POSTs and cancels
//! ([`PostFault`]) a 429 with `Retry-After` or a 503 before acting, or the
//! order taken and then its answer lost, a 5xx, a malformed or a cut body;
//! on quotes and reads ([`ReadFault`]) a status, a dropped connection, a
//! malformed or cut body; a listing lag (an accepted order 404s for a
//! while); the API down (every call 503); an order never filled (the solver
//! leaves every order open until it expires).

mod control;
mod faults;
mod orders;
mod quote;
mod routes;
pub mod solver;
mod state;
mod trades;
mod wire;

pub use control::FakeCow;
pub use faults::{PostFault, ReadFault};
pub use quote::{DEFAULT_VALID_FOR_SECS, Quoting};
pub use state::{FakeCowOrder, FakeCowTrade};

#[cfg(test)]
mod tests;
