//! The `Snapshot`: everything a front end shows, published by the engine on a
//! watch channel after every change. Front ends render it and nothing else;
//! it crosses the control API as JSON, so `attach` sees what the TUI sees.

pub mod hedge;
pub mod stellar;

pub use crate::model::Mode;
use crate::model::intent::units_str;
use crate::model::{
    Chain, Cycle, CycleId, CycleState, NextAction, Route, StepKind, Timestamp, TokenId, Units,
};
use crate::venue::VenueHealth;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What the engine is doing as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Phase {
    /// Settling intents and reconciling; nothing new is sent.
    Recovering,
    Running,
    /// Pause-all is on: open cycles wait, no new cycle starts.
    Paused,
    /// Finishing open cycles, starting none, then stopping.
    Draining,
    Stopped,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Recovering => "RECOVERING",
            Phase::Running => "RUNNING",
            Phase::Paused => "PAUSED",
            Phase::Draining => "DRAINING",
            Phase::Stopped => "STOPPED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpportunityState {
    /// Will be (or was) executed automatically.
    Auto,
    /// Waits for the operator's approval (approval mode).
    AwaitingApproval,
    /// The token or everything is paused.
    Paused,
    /// Best profit found is below the configured floor.
    BelowFloor,
    /// Refused by a risk guard (reason in `note`).
    Refused,
    /// Approved and turned into a cycle.
    Taken,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpportunityView {
    pub id: u64,
    pub token: TokenId,
    pub route: Route,
    /// Price gap between Hemi and Ethereum for a small size, in basis points.
    pub edge_bps: i64,
    #[serde(with = "units_str")]
    pub size_vcred: Units,
    pub est_profit_vcred: Decimal,
    pub est_fees_vcred: Decimal,
    pub state: OpportunityState,
    pub note: String,
    pub detected_at: Timestamp,
    pub quotes_used: u32,
    /// The cycle it became, once taken.
    pub cycle: Option<CycleId>,
}

/// One step of a cycle's timeline, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub kind: StepKind,
    pub attempt: u32,
    /// "intended", "done", "failed: …", "operator: …".
    pub status: String,
    pub tx_hash: Option<String>,
    pub at: Timestamp,
    /// How the venue carried it out (the swap provider, what the others
    /// quoted and why they were skipped), once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleView {
    pub cycle: Cycle,
    pub steps: Vec<StepView>,
    /// What the cycle does or waits for next, in words ("prove", "finalize ready").
    pub next: String,
    /// When the awaited thing is expected (a bridge stage), for countdowns.
    pub ready_at: Option<Timestamp>,
    /// In its current state longer than the stuck threshold.
    pub stuck: bool,
    /// A step has an intent but no known outcome (must be settled by looking).
    pub half_done: bool,
}

impl CycleView {
    pub fn next_action(&self) -> NextAction {
        self.cycle.state.next_action(self.cycle.route)
    }

    pub fn is_open(&self) -> bool {
        self.cycle.is_open()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceRow {
    pub chain: Chain,
    pub token: TokenId,
    #[serde(with = "units_str")]
    pub amount: Units,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlightRow {
    pub cycle: CycleId,
    pub route: Route,
    pub token: TokenId,
    pub from: Chain,
    pub to: Chain,
    #[serde(with = "units_str")]
    pub amount: Units,
    pub state: CycleState,
    pub ready_at: Option<Timestamp>,
}

/// A broker position or an onchain accumulator (equity hedge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionRow {
    pub venue: String,
    pub symbol: String,
    /// Signed quantity as an exact decimal (shares or tokens).
    pub net: Decimal,
    pub long: Decimal,
    pub short: Decimal,
    pub pending_hedge: Option<Decimal>,
    pub exposure_since: Option<Timestamp>,
    pub note: String,
    /// The operator stopped this symbol's hedging (equity hedge).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// The open hedge's intent id ("h3"), for the operator's verbs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hedge: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PnlTotals {
    pub cycles: u64,
    pub profit_vcred: Decimal,
    pub gas_vcred: Decimal,
    pub bridge_fees_vcred: Decimal,
    #[serde(with = "units_str")]
    pub vcred_sold: Units,
    #[serde(with = "units_str")]
    pub vcred_regained: Units,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyPnl {
    /// `YYYY-MM-DD` (UTC, in the engine's clock).
    pub day: String,
    #[serde(flatten)]
    pub totals: PnlTotals,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PnlView {
    pub today: PnlTotals,
    pub lifetime: PnlTotals,
    pub per_token: Vec<(TokenId, PnlTotals)>,
    pub daily: Vec<DailyPnl>,
    /// Cumulative profit after each completed cycle (most recent last, bounded).
    pub cumulative: Vec<(Timestamp, Decimal)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleCounts {
    pub open: u64,
    pub completed: u64,
    pub failed: u64,
    /// Closed NOT_STARTED: refused before anything was sent.
    #[serde(default)]
    pub not_started: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Increases with every publication.
    pub seq: u64,
    pub mode: Mode,
    pub phase: Phase,
    pub now: Timestamp,
    /// Simulated clock speed ×1000 in paper mode.
    pub speed_milli: Option<u64>,
    pub paused: bool,
    pub paused_tokens: Vec<TokenId>,
    /// Approval mode in words ("auto", "manual", "above 10000 VCRED").
    pub approval: String,
    pub opportunities: Vec<OpportunityView>,
    /// Open cycles first (oldest first), then the most recent closed ones.
    pub cycles: Vec<CycleView>,
    pub counts: CycleCounts,
    pub balances: Vec<BalanceRow>,
    pub in_flight: Vec<InFlightRow>,
    pub positions: Vec<PositionRow>,
    /// The equity hedge's trades, executions and audit trail, when it runs.
    pub hedge: Option<hedge::HedgeView>,
    pub pnl: PnlView,
    pub venues: Vec<VenueHealth>,
    /// The Stellar arbitrage keeper's picture, when it runs.
    pub stellar: Option<stellar::StellarView>,
    /// Every send of every strategy whose outcome is not settled yet.
    #[serde(default)]
    pub intents: Vec<crate::engine::intent::OpenIntentView>,
    pub stuck_after_ms: u64,
    /// The watchdog's raised alarms (no pass for too long, low gas or XLM).
    #[serde(default)]
    pub alarms: Vec<crate::engine::alarm::AlarmView>,
    /// The kill switch, when tripped: when and why.
    #[serde(default)]
    pub kill_switch: Option<crate::model::Trip>,
    /// The day's P&L over every strategy, its drawdown and limit (`kill`).
    #[serde(default)]
    pub risk_today: crate::engine::kill::DayRisk,
}

impl Snapshot {
    /// The picture before the engine has said anything.
    pub fn empty(mode: Mode, now: Timestamp) -> Self {
        Self {
            seq: 0,
            mode,
            phase: Phase::Recovering,
            now,
            speed_milli: None,
            paused: false,
            paused_tokens: Vec::new(),
            approval: "auto".into(),
            opportunities: Vec::new(),
            cycles: Vec::new(),
            counts: CycleCounts::default(),
            balances: Vec::new(),
            in_flight: Vec::new(),
            positions: Vec::new(),
            hedge: None,
            pnl: PnlView::default(),
            venues: Vec::new(),
            stellar: None,
            intents: Vec::new(),
            stuck_after_ms: 0,
            alarms: Vec::new(),
            kill_switch: None,
            risk_today: crate::engine::kill::DayRisk::default(),
        }
    }

    pub fn balance(&self, chain: Chain, token: TokenId) -> Units {
        self.balances
            .iter()
            .find(|b| b.chain == chain && b.token == token)
            .map(|b| b.amount)
            .unwrap_or(0)
    }
}
