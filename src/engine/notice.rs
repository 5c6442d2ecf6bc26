//! Notices: the events worth telling a person about. The
//! engine broadcasts them; webhooks and the log listen. The engine never
//! waits for a listener.

use super::alarm::AlarmKind;
use crate::model::intent::units_str;
use crate::model::{CycleId, CycleState, Route, StepKind, Timestamp, TokenId, Units};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Each variant's `event` name (its JSON tag) is also its
/// [`NoticeKind`]'s name: the webhook filter's list is derived from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "event", rename_all = "snake_case")]
#[strum_discriminants(
    name(NoticeKind),
    derive(strum::EnumIter, strum::IntoStaticStr),
    strum(serialize_all = "snake_case")
)]
pub enum Notice {
    OpportunityDetected {
        token: TokenId,
        route: Route,
        #[serde(with = "units_str")]
        size_vcred: Units,
        est_profit_vcred: Decimal,
        edge_bps: i64,
    },
    TxSubmitted {
        cycle: CycleId,
        step: StepKind,
        intent: String,
    },
    TxConfirmed {
        cycle: CycleId,
        step: StepKind,
        tx_hash: String,
    },
    /// A tunnel withdrawal can be proved or finalized.
    BridgeStageReady {
        cycle: CycleId,
        token: TokenId,
        stage: String,
    },
    CycleCompleted {
        cycle: CycleId,
        token: TokenId,
        profit_vcred: Decimal,
    },
    CycleFailed {
        cycle: CycleId,
        token: TokenId,
        reason: String,
    },
    /// Refused before anything was sent: closed, holding nothing.
    CycleNotStarted {
        cycle: CycleId,
        token: TokenId,
        reason: String,
    },
    /// In one state longer than the configured threshold.
    Stuck {
        cycle: CycleId,
        state: CycleState,
        since: Timestamp,
    },
    /// A credential (e.g. a broker refresh token) expires soon.
    TokenExpiry {
        venue: String,
        expires_at: Timestamp,
    },
    /// Equity hedge: a hedge placed, filled or failed; a reorg after a hedge.
    EquityHedge { symbol: String, message: String },
    /// Stellar arbitrage: a cycle executed (with its result), an execution
    /// that failed (with its decoded reason), a funding failure.
    Stellar { kind: String, message: String },
    /// An alarm raised (`repeat` 0) or still holding and told again
    /// (`repeat` n): no pass for too long, gas or XLM running low.
    Alarm {
        alarm: AlarmKind,
        subject: String,
        message: String,
        repeat: u32,
    },
    /// An alarm's condition no longer holds.
    AlarmCleared {
        alarm: AlarmKind,
        subject: String,
        lasted_ms: u64,
    },
    /// The kill switch tripped: everything is paused until the operator
    /// resumes.
    KillSwitch { reason: String },
}

impl Notice {
    /// The `event` name: the JSON tag webhooks carry and filters select.
    pub fn event(&self) -> &'static str {
        NoticeKind::from(self).into()
    }

    /// Every event name, in declaration order.
    pub fn events() -> Vec<&'static str> {
        use strum::IntoEnumIterator;
        NoticeKind::iter().map(<&'static str>::from).collect()
    }

    /// One line a person can read on a phone.
    pub fn headline(&self) -> String {
        match self {
            Notice::OpportunityDetected {
                token,
                route,
                size_vcred,
                est_profit_vcred,
                edge_bps,
            } => format!(
                "Opportunity {token} via {route}: edge {edge_bps} bps, size {} VCRED, est. profit {est_profit_vcred} VCRED",
                crate::model::format_units(*size_vcred, 6)
            ),
            Notice::TxSubmitted {
                cycle,
                step,
                intent,
            } => format!("{cycle} {step}: submitted ({intent})"),
            Notice::TxConfirmed {
                cycle,
                step,
                tx_hash,
            } => format!("{cycle} {step}: confirmed {tx_hash}"),
            Notice::BridgeStageReady {
                cycle,
                token,
                stage,
            } => format!("{cycle} {token}: {stage} ready"),
            Notice::CycleCompleted {
                cycle,
                token,
                profit_vcred,
            } => {
                format!("{cycle} {token} completed: P&L {profit_vcred} VCRED")
            }
            Notice::CycleFailed {
                cycle,
                token,
                reason,
            } => format!("{cycle} {token} FAILED: {reason}"),
            Notice::CycleNotStarted {
                cycle,
                token,
                reason,
            } => format!("{cycle} {token} not started: {reason}"),
            Notice::Stuck {
                cycle,
                state,
                since,
            } => format!(
                "{cycle} stuck in {state} since {}",
                crate::model::time::format_time(*since)
            ),
            Notice::TokenExpiry { venue, expires_at } => format!(
                "{venue} credentials expire at {}",
                crate::model::time::format_time(*expires_at)
            ),
            Notice::EquityHedge { symbol, message } => format!("hedge {symbol}: {message}"),
            Notice::Stellar { kind, message } => format!("stellar {kind}: {message}"),
            Notice::Alarm {
                alarm,
                subject,
                message,
                repeat,
            } => match repeat {
                0 => format!("ALARM {alarm} {subject}: {message}"),
                n => format!("ALARM {alarm} {subject} (still, reminder {n}): {message}"),
            },
            Notice::KillSwitch { reason } => {
                format!("KILL SWITCH: {reason}. Everything is paused until the operator resumes")
            }
            Notice::AlarmCleared {
                alarm,
                subject,
                lasted_ms,
            } => format!(
                "cleared: {alarm} {subject} after {}",
                crate::model::time::format_duration(*lasted_ms)
            ),
        }
    }
}
