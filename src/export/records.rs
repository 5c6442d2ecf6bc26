//! What can be exported, by which of its times a record falls in a period,
//! and one bounded page of it read from a store view. The same pages travel
//! over the control API (`control::ExportQueries`) when an engine holds the
//! store, so both paths export the same records.

use super::period::Period;
use crate::model::{Cycle, LedgerEntry};
use crate::store::{Reader, StoreError};
use crate::strategy::equity_hedge::book::{Execution, Trade};
use crate::strategy::equity_hedge::pipeline;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// The kinds of records an export can list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    /// The append-only ledger: every money move and audit line of the loop.
    Ledger,
    /// The cross-chain loop's cycles.
    Cycles,
    /// The equity hedge's onchain fills (its trades table).
    Trades,
    /// The equity hedge's broker orders (its executions table).
    Hedges,
}

impl What {
    pub const ALL: [What; 4] = [What::Ledger, What::Cycles, What::Trades, What::Hedges];

    pub fn name(self) -> &'static str {
        match self {
            What::Ledger => "ledger",
            What::Cycles => "cycles",
            What::Trades => "trades",
            What::Hedges => "hedges",
        }
    }

    /// The time that puts a record in a period (a record never changes
    /// period once written: each of these is set once).
    pub fn dated_by(self) -> &'static str {
        match self {
            What::Ledger => "at: when the line was booked",
            What::Cycles => "created_at: when the cycle started",
            What::Trades => "seen_at: when the fill was recorded",
            What::Hedges => "created_at: when the hedge was decided",
        }
    }
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for What {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        What::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| format!("{s:?}: expected ledger, cycles, trades or hedges"))
    }
}

/// One page of records of one kind, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub enum Records {
    Ledger(Vec<LedgerEntry>),
    Cycles(Vec<Cycle>),
    Trades(Vec<Trade>),
    Hedges(Vec<Execution>),
}

impl Records {
    pub fn what(&self) -> What {
        match self {
            Records::Ledger(_) => What::Ledger,
            Records::Cycles(_) => What::Cycles,
            Records::Trades(_) => What::Trades,
            Records::Hedges(_) => What::Hedges,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Records::Ledger(v) => v.len(),
            Records::Cycles(v) => v.len(),
            Records::Trades(v) => v.len(),
            Records::Hedges(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records as the control API sends them: a JSON array.
    pub fn to_json(&self) -> Result<Value, serde_json::Error> {
        match self {
            Records::Ledger(v) => serde_json::to_value(v),
            Records::Cycles(v) => serde_json::to_value(v),
            Records::Trades(v) => serde_json::to_value(v),
            Records::Hedges(v) => serde_json::to_value(v),
        }
    }

    /// Read back what [`Records::to_json`] sent.
    pub fn from_json(what: What, records: Value) -> Result<Records, serde_json::Error> {
        Ok(match what {
            What::Ledger => Records::Ledger(serde_json::from_value(records)?),
            What::Cycles => Records::Cycles(serde_json::from_value(records)?),
            What::Trades => Records::Trades(serde_json::from_value(records)?),
            What::Hedges => Records::Hedges(serde_json::from_value(records)?),
        })
    }
}

/// Records and the key to continue from (`None`: that was the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Records,
    pub next: Option<u64>,
}

/// At most `limit` records of `what` in `period`, from key `from` on (the
/// ledger's seq, a cycle's, trade's or hedge's id).
pub fn read_page(
    reader: &Reader,
    what: What,
    period: Period,
    from: u64,
    limit: usize,
) -> Result<Page, StoreError> {
    let txn = reader.transaction();
    let (records, next) = match what {
        What::Ledger => {
            let (v, next) = reader.ledger_page(from, limit, |e| period.contains(e.at))?;
            (Records::Ledger(v), next)
        }
        What::Cycles => {
            let (v, next) = reader.cycles_page(from, limit, |c| period.contains(c.created_at))?;
            (Records::Cycles(v), next)
        }
        What::Trades => {
            let (v, next) =
                pipeline::trades_page(txn, from, limit, |t| period.contains(t.seen_at))?;
            (Records::Trades(v), next)
        }
        What::Hedges => {
            let (v, next) =
                pipeline::executions_page(txn, from, limit, |e| period.contains(e.created_at))?;
            (Records::Hedges(v), next)
        }
    };
    Ok(Page { records, next })
}
