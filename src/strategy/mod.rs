//! Strategies: what each keeper trades and how each of its steps maps to a
//! venue action. The engine drives them; they know nothing of the store.

pub mod cross_chain_loop;
pub mod equity_hedge;
pub mod stellar_arb;
