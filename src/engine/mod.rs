//! The engine: turns venues' answers into decisions (quotes, sizing, …).

pub mod quotes;
pub mod sizing;
