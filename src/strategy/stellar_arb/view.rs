//! The keeper's part of the `Snapshot` (its types are the engine's,
//! `engine::snapshot::stellar`): each execution as a row.

pub use crate::engine::snapshot::stellar::{
    AccountRow, ExecutionRow, OpportunityRow, OracleRow, Prediction, StellarView,
};

/// An execution as the snapshot shows it.
pub fn execution_row(e: &crate::strategy::stellar_arb::store::Execution) -> ExecutionRow {
    {
        ExecutionRow {
            hash: e.hash.clone(),
            path: e.label.clone(),
            send: e.send,
            delta: e.delta,
            result: e.result.clone(),
            predicted: e.predicted.clone(),
            delivered: e.delivered,
            route: e.route.clone(),
        }
    }
}
