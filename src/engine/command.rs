//! Operator commands: the only way a front end changes anything. Each one
//! reaches the engine over a channel, is applied by the engine alone, and is
//! recorded in the ledger's audit trail with the operator's marker.

use super::intent::Resolution;
use crate::model::{CycleId, TokenId, Units};
use serde::{Deserialize, Serialize};
use std::fmt;
use tokio::sync::oneshot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Pause,
    Resume,
    PauseToken {
        token: TokenId,
    },
    ResumeToken {
        token: TokenId,
    },
    /// Approve an opportunity, optionally at another size (VCRED base units).
    Approve {
        opportunity: u64,
        #[serde(default, with = "opt_units")]
        size_vcred: Option<Units>,
    },
    Reject {
        opportunity: u64,
    },
    /// Act on the cycle's next step now: skip backoff, or resume a failed cycle.
    Force {
        cycle: CycleId,
    },
    /// The operator says the current step was done by this transaction.
    MarkDone {
        cycle: CycleId,
        tx_hash: String,
    },
    /// Move past the current step without doing it.
    Skip {
        cycle: CycleId,
    },
    /// Stop the cycle, with a reason.
    Fail {
        cycle: CycleId,
        reason: String,
    },
    /// Bridge proof data for a tunnel withdrawal the keeper cannot derive.
    ImportProof {
        cycle: CycleId,
        data: String,
    },
    /// The operator's decision on an open intent of any strategy (see
    /// `engine::intent`): settle by looking (with evidence), drop, or retry.
    Resolve {
        id: String,
        resolution: Resolution,
        reason: String,
        #[serde(default)]
        evidence: Option<String>,
    },
    /// Stop hedging one symbol (the equity hedge): its fills are still
    /// accounted, no order is sent for it until resumed.
    PauseSymbol {
        symbol: String,
    },
    ResumeSymbol {
        symbol: String,
    },
    /// Account one transaction's fills that ingestion missed (the equity
    /// hedge): decoded from its receipt, deduplicated as every fill is.
    ProcessTx {
        tx_hash: String,
    },
    /// Set a symbol's uncovered net by hand (the equity hedge), booked as
    /// an operator adjustment with the reason.
    SetPosition {
        symbol: String,
        net: rust_decimal::Decimal,
        reason: String,
    },
    /// Start a strategy that waits to be started (Stellar's `start_engine`
    /// when `stellar_arb.autostart` is off); its keeper answers.
    Start {
        strategy: String,
    },
    /// New risk limits and caps from a re-read config (SIGHUP). The engine
    /// applies the limits; `in_place` (what the binary already changed
    /// itself, e.g. "log_level info → debug") and `restart` (what did not
    /// change) go into its answer, so the audit line says all of it.
    Reload {
        limits: super::limits::Limits,
        #[serde(default)]
        in_place: Vec<String>,
        #[serde(default)]
        restart: Vec<String>,
    },
}

impl Command {
    /// Pause and resume commands: the command desk applies them to the send
    /// gate at once, even while a pass waits on a venue.
    pub fn is_gate(&self) -> bool {
        matches!(
            self,
            Command::Pause
                | Command::Resume
                | Command::PauseToken { .. }
                | Command::ResumeToken { .. }
        )
    }

    /// Does it change anything? (Every command does; reads are not commands.)
    pub fn describe(&self) -> String {
        match self {
            Command::Pause => "pause all execution".into(),
            Command::Resume => "resume execution".into(),
            Command::PauseToken { token } => format!("pause {token}"),
            Command::ResumeToken { token } => format!("resume {token}"),
            Command::Approve {
                opportunity,
                size_vcred: Some(size),
            } => format!(
                "approve opportunity #{opportunity} at {} VCRED",
                crate::model::format_units(*size, 6)
            ),
            Command::Approve {
                opportunity,
                size_vcred: None,
            } => {
                format!("approve opportunity #{opportunity} at its chosen size")
            }
            Command::Reject { opportunity } => format!("reject opportunity #{opportunity}"),
            Command::Force { cycle } => format!("force the next step of {cycle}"),
            Command::MarkDone { cycle, tx_hash } => {
                format!("mark the current step of {cycle} done by {tx_hash}")
            }
            Command::Skip { cycle } => format!("skip the current step of {cycle}"),
            Command::Fail { cycle, reason } => format!("fail {cycle}: {reason}"),
            Command::ImportProof { cycle, .. } => format!("import bridge proof data for {cycle}"),
            Command::Resolve {
                id,
                resolution,
                reason,
                evidence,
            } => match evidence {
                Some(e) => format!("{resolution} intent {id} by {e}: {reason}"),
                None => format!("{resolution} intent {id}: {reason}"),
            },
            Command::Reload { .. } => "reload the config (SIGHUP)".into(),
            Command::Start { strategy } => format!("start {strategy}"),
            Command::PauseSymbol { symbol } => format!("pause hedging {symbol}"),
            Command::ResumeSymbol { symbol } => format!("resume hedging {symbol}"),
            Command::ProcessTx { tx_hash } => format!("account the fills of {tx_hash}"),
            Command::SetPosition {
                symbol,
                net,
                reason,
            } => format!("set {symbol}'s net to {net}: {reason}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A command on its way to the engine, with who sent it and where to answer.
#[derive(Debug)]
pub struct CommandEnvelope {
    pub command: Command,
    /// "tui", "cli", "api": recorded in the audit trail.
    pub operator: String,
    pub reply: oneshot::Sender<Result<String, String>>,
}

mod opt_units {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u128>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|n| n.to_string()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u128>, D::Error> {
        let v = Option::<String>::deserialize(d)?;
        v.map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}
