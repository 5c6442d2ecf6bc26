//! The domain's vocabulary: money, tokens, chains, time, cycles, steps and
//! intents. Depends on nothing else in the crate.

pub mod cycle;
pub mod fill;
pub mod intent;
pub mod mode;
pub mod money;
pub mod money_line;
pub mod record;
pub mod secret;
pub mod time;
pub mod token;

pub use cycle::{CycleId, CycleState, NextAction, Route, StepKind, Wait};
pub use fill::OnchainSide;
pub use intent::{Action, BridgeTicket, Intent, IntentId, Receipt};
pub use mode::{Mode, SizingMode};
pub use money::{MoneyError, Units, decimal_or_integer, format_units, from_decimal, to_decimal};
pub use money_line::MoneyLine;
pub use record::{
    Controls, Cycle, CycleCosts, CycleResult, Failure, Holding, IN_FLIGHT_NOTE, LedgerEntry,
    LedgerKind, PlannedBridgeFees, StepRecord, StepStatus, Trip, in_flight_note,
};
pub use secret::Secret;
pub use time::{Clock, ManualClock, ScaledClock, SystemClock, Timestamp};
pub use token::{Chain, TokenId, TokenInfo, UnknownToken};
