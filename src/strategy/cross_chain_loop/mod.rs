//! The VCRED cross-chain loop (seed 003; docs/architecture.md §4.1): buy a
//! token cheap on Hemi, bridge it to Ethereum, sell it there, bridge the
//! proceeds back, driven by steady-state reconciliation over the store. A
//! strategy like the others: the engine drives it through `Keeper`
//! (`keeper`), it sends through the engine's intent journal (`send`), and it
//! knows its venue only through `LoopVenue`.
//!
//! - `economics`: the end-to-end profit model, the venue action behind each
//!   step, and what each receipt means for the ledger and the holding.
//! - `planner`: opportunities, sized by the engine's concave search
//!   (`engine::sizing`) over cached quotes (`engine::quotes`), gated by
//!   `risk`, opened as cycles (or held for approval).
//! - `reconciler`: each open cycle's next action, step by step, through
//!   the journal; `booking` (a step's outcome), `waits` (bridges between
//!   steps) and `lifecycle` (complete, fail, stuck) are its phases.
//! - `preflight`: before the opening swap, the route and bridge fees read
//!   again; a plan that no longer holds is refused NOT_STARTED.
//! - `operator`: approvals and the overrides on a cycle.
//! - `view`, `standing`: its part of the snapshot and of the kill switch.

mod booking;
mod economics;
mod keeper;
pub mod ledger;
mod lifecycle;
mod operator;
mod planner;
mod preflight;
mod reconciler;
pub mod risk;
mod send;
mod standing;
pub mod view;
mod waits;

pub use economics::*;
pub use keeper::{CrossChainLoop, NAME};
pub use view::{needs_attention, open_intent, step_views};
