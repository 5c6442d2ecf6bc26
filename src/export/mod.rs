//! Exports for accounting: the ledger, the loop's cycles, the equity
//! hedge's onchain trades and its broker hedges, for a period of UTC days,
//! as CSV or a JSON array (`arbkeep export`). Records are read a bounded
//! page at a time from a store read view (the engine's own, over the
//! control API, or the store opened read-only), turned into rows of exact
//! decimal strings (money is integers in the store; no float anywhere), and
//! written as they come.
//!
//! - `period` — `--since`/`--until` days and which records they take;
//! - `records` — what is exported and the pages of it read from the store;
//! - `rows` — each record's columns;
//! - `write` — the CSV (RFC 4180) and JSON writers.

pub mod money;
pub mod period;
pub mod records;
pub mod rows;
pub mod write;

pub use period::{Day, Period, PeriodError};
pub use records::{Page, Records, What, read_page};
pub use rows::{Cell, columns, rows};
pub use write::{Format, RowWriter};
