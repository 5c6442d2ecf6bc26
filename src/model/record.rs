//! The durable records: a cycle with where its money is now, a step with its
//! intent and outcome, and an append-only ledger entry. The store persists
//! these; the engine alone writes them.

use super::cycle::{CycleId, CycleState, Route, StepKind};
use super::intent::{BridgeTicket, Intent, Receipt, delta_str, units_str};
use super::money::Units;
use super::time::Timestamp;
use super::token::{Chain, TokenId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Where a cycle's money is right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub chain: Chain,
    pub token: TokenId,
    #[serde(with = "units_str")]
    pub amount: Units,
    /// On a bridge, not yet in any wallet.
    pub in_flight: bool,
}

/// A cycle's realised result, booked when it completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleResult {
    #[serde(with = "units_str")]
    pub vcred_out: Units,
    /// vcred_out − vcred_in − gas and bridge fees valued in VCRED.
    pub profit_vcred: Decimal,
    pub gas_vcred: Decimal,
    pub bridge_fees_vcred: Decimal,
    pub completed_at: Timestamp,
}

/// One arbitrage cycle: VCRED → X → (bridge) → USDC → (bridge) → VCRED.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cycle {
    pub id: CycleId,
    pub token: TokenId,
    pub route: Route,
    pub state: CycleState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(with = "units_str")]
    pub vcred_in: Units,
    /// X the planner expected from the opening swap; its min-out is derived from it.
    #[serde(with = "units_str")]
    pub expected_x: Units,
    pub expected_profit_vcred: Decimal,
    pub expected_fees_vcred: Decimal,
    pub edge_bps: i64,
    pub holding: Holding,
    pub bridge_out: Option<BridgeTicket>,
    pub bridge_back: Option<BridgeTicket>,
    /// Attempt number of the current step (new intent per attempt).
    pub attempt: u32,
    /// Do not act before this time (retry backoff, or a bridge's ready time).
    pub not_before: Option<Timestamp>,
    /// The last thing that went wrong, shown on screen until the step succeeds.
    pub last_error: Option<String>,
    /// Why the cycle failed, and the state it failed in (so force can resume it).
    pub failure: Option<Failure>,
    /// Why the cycle closed NOT_STARTED: the refusal that came before any of
    /// its steps was sent. Absent in records written before the state existed.
    #[serde(default)]
    pub refusal: Option<String>,
    /// The bridge fees the plan was priced with, which the pre-flight holds
    /// the live fees to before the opening swap. Absent in older records.
    #[serde(default)]
    pub planned_bridge_fees: Option<PlannedBridgeFees>,
    pub result: Option<CycleResult>,
    /// Timeline: every state entered, with its time.
    pub history: Vec<(CycleState, Timestamp)>,
    /// Operator-supplied bridge proof data, if any.
    pub proof_data: Option<String>,
    pub operator_touched: bool,
    /// Costs paid so far, valued in VCRED when paid.
    pub costs: CycleCosts,
}

/// What a cycle's plan assumed the bridges charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedBridgeFees {
    /// Stargate's native fee per send, in wei.
    #[serde(with = "units_str")]
    pub stargate_native_fee: Units,
    /// Stargate's token fee, in basis points.
    pub stargate_fee_bps: u32,
    /// The tunnel's finalization period, in seconds, when the plan was
    /// made. Absent in older records and where there is no tunnel.
    #[serde(default)]
    pub tunnel_finalization_secs: Option<u64>,
}

/// What a cycle has paid besides its trades.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleCosts {
    #[serde(with = "units_str")]
    pub gas_wei: Units,
    pub gas_vcred: Decimal,
    /// Bridges' native fees (the token fees show as smaller arrivals).
    pub bridge_fees_vcred: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub reason: String,
    pub in_state: CycleState,
    pub at: Timestamp,
    pub by_operator: bool,
}

/// How a cycle's last-error line carries its bridge's in-flight note
/// (`BridgeStatus::InFlight::note`: a second source's words on a transfer
/// still in flight), so the screen can tell it from an error.
pub const IN_FLIGHT_NOTE: &str = "in flight: ";

/// The bridge's in-flight note on a last-error line, if that is what it holds.
pub fn in_flight_note(last_error: &str) -> Option<&str> {
    last_error.strip_prefix(IN_FLIGHT_NOTE)
}

impl Cycle {
    /// A cycle just detected: it holds its VCRED on Hemi, nothing is sent or
    /// paid yet, and nothing is expected of it until the caller says so.
    pub fn detected(
        id: CycleId,
        token: TokenId,
        route: Route,
        vcred_in: Units,
        now: Timestamp,
    ) -> Cycle {
        Cycle {
            id,
            token,
            route,
            state: CycleState::Detected,
            created_at: now,
            updated_at: now,
            vcred_in,
            expected_x: 0,
            expected_profit_vcred: Decimal::ZERO,
            expected_fees_vcred: Decimal::ZERO,
            edge_bps: 0,
            holding: Holding {
                chain: Chain::Hemi,
                token: TokenId::Vcred,
                amount: vcred_in,
                in_flight: false,
            },
            bridge_out: None,
            bridge_back: None,
            attempt: 0,
            not_before: None,
            last_error: None,
            failure: None,
            refusal: None,
            planned_bridge_fees: None,
            result: None,
            history: vec![(CycleState::Detected, now)],
            proof_data: None,
            operator_touched: false,
            costs: CycleCosts::default(),
        }
    }

    pub fn is_open(&self) -> bool {
        !self.state.is_terminal()
    }

    /// Time spent in the current state.
    pub fn state_since(&self) -> Timestamp {
        self.history
            .last()
            .map(|(_, at)| *at)
            .unwrap_or(self.created_at)
    }

    pub fn enter(&mut self, state: CycleState, at: Timestamp) {
        self.state = state;
        self.updated_at = at;
        self.history.push((state, at));
    }
}

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepStatus {
    /// Committed, not known to be sent: settle by looking before anything else.
    Intended,
    Done {
        receipt: Receipt,
    },
    Failed {
        reason: String,
    },
    /// The operator marked it done, skipped it or failed it.
    Operator {
        action: String,
        tx_hash: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub intent: Intent,
    pub status: StepStatus,
    pub committed_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

impl StepRecord {
    pub fn kind(&self) -> StepKind {
        self.intent.id.step
    }
}

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// The wallet's balance when the ledger began.
    Opening,
    SwapIn,
    SwapOut,
    BridgeDebit,
    BridgeCredit,
    Gas,
    /// A bridge's native messaging fee.
    BridgeFee,
    /// A cycle's realised P&L (no balance moves).
    CycleClosed,
    /// An operator command (no balance moves), for the audit trail.
    Operator,
    /// A control change (pause, resume …) for the audit trail.
    Control,
}

impl LedgerKind {
    pub fn moves_money(self) -> bool {
        !matches!(
            self,
            LedgerKind::CycleClosed | LedgerKind::Operator | LedgerKind::Control
        )
    }
}

/// One append-only line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub kind: LedgerKind,
    pub cycle: Option<CycleId>,
    pub chain: Option<Chain>,
    pub token: Option<TokenId>,
    /// Signed balance change in base units (0 for audit lines).
    #[serde(with = "delta_str")]
    pub delta: i128,
    /// The entry valued in VCRED at the time (fees, P&L); zero when not a cost.
    pub value_vcred: Decimal,
    pub tx_hash: Option<String>,
    pub note: String,
    /// Set when an operator caused this line.
    pub operator: bool,
}

/// Operator controls that survive restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    pub paused: bool,
    pub paused_tokens: std::collections::BTreeSet<TokenId>,
    /// The kill switch tripped (and `paused` with it): only the operator's
    /// resume clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tripped: Option<Trip>,
}

/// When and why the kill switch tripped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    pub at: Timestamp,
    pub reason: String,
}
