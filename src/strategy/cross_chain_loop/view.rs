//! The loop's part of the `Snapshot`: pure functions from records to what a
//! person reads (next action in words, countdowns, the stuck and half-done
//! marks), and the cycles, balances, bridges in flight, opportunities, P&L
//! and open intents the loop adds to each snapshot.

use super::CrossChainLoop;
use crate::engine::intent::{IntentState, OpenIntentView};
use crate::engine::resolve_hint;
use crate::engine::snapshot::{CycleView, InFlightRow, Snapshot, StepView};
use crate::model::time::format_duration;
use crate::model::{
    Controls, Cycle, CycleState, NextAction, StepRecord, StepStatus, Timestamp, TokenId,
};
use crate::venue::{LoopVenue, NOTE_TROUBLE};

pub fn step_view(r: &StepRecord) -> StepView {
    let (status, tx_hash, at) = match &r.status {
        StepStatus::Intended => ("intended".to_string(), None, r.committed_at),
        StepStatus::Done { receipt } => (
            "done".to_string(),
            Some(receipt.tx_hash.clone()),
            r.finished_at.unwrap_or(receipt.at),
        ),
        StepStatus::Failed { reason } => (
            format!("failed: {reason}"),
            None,
            r.finished_at.unwrap_or(r.committed_at),
        ),
        StepStatus::Operator { action, tx_hash } => (
            format!("operator: {action}"),
            tx_hash.clone(),
            r.finished_at.unwrap_or(r.committed_at),
        ),
    };
    let via = match &r.status {
        StepStatus::Done { receipt } => receipt.via.clone(),
        _ => None,
    };
    StepView {
        kind: r.kind(),
        attempt: r.intent.id.attempt,
        status,
        tx_hash,
        at,
        via,
    }
}

pub fn step_views(records: &[StepRecord]) -> Vec<StepView> {
    records.iter().map(step_view).collect()
}

/// Open, or failed while still holding something other than VCRED on Hemi:
/// either way the operator must be able to see and act on it.
pub fn needs_attention(c: &Cycle) -> bool {
    c.is_open()
        || (c.state == CycleState::Failed
            && c.holding.amount > 0
            && (c.holding.token != TokenId::Vcred
                || c.holding.in_flight
                || c.failure
                    .as_ref()
                    .is_some_and(|f| f.in_state != CycleState::Detected)))
}

pub use crate::model::{IN_FLIGHT_NOTE, in_flight_note};

/// Whether the cycle's bridge reports trouble it will not get over by
/// itself (a LayerZero message failed, blocked or stored).
pub fn reports_trouble(c: &Cycle) -> bool {
    c.last_error
        .as_deref()
        .and_then(in_flight_note)
        .is_some_and(|n| n.starts_with(NOTE_TROUBLE))
}

/// Open and in one state past `stuck_after_ms`, or its bridge in trouble.
pub fn is_stuck(c: &Cycle, now: Timestamp, stuck_after_ms: u64) -> bool {
    c.is_open() && (now.saturating_sub(c.state_since()) > stuck_after_ms || reports_trouble(c))
}

/// What the cycle does next, in words.
pub fn next_text(
    c: &Cycle,
    ready_at: Option<Timestamp>,
    now: Timestamp,
    controls: &Controls,
) -> String {
    if let Some(f) = &c.failure
        && c.state == CycleState::Failed
    {
        return format!("FAILED in {}: {} — f to resume", f.in_state, f.reason);
    }
    if let Some(reason) = &c.refusal
        && c.state == CycleState::NotStarted
    {
        return format!("NOT STARTED (closed): {reason}");
    }
    let held = controls.paused || controls.paused_tokens.contains(&c.token);
    match c.state.next_action(c.route) {
        NextAction::Step(step) => match c.not_before {
            Some(t) if t > now => format!("retry {step} in {}", format_duration(t - now)),
            _ if held => format!("{step} (paused)"),
            _ => format!("send {step}"),
        },
        // The countdown is drawn from `ready_at` by the front end, which
        // keeps it moving between snapshots.
        NextAction::Await(wait) => {
            let mut text = if ready_at.is_some_and(|t| t > now) {
                wait.describe().to_string()
            } else {
                format!("waiting for {}", wait.describe())
            };
            if let Some(note) = c.last_error.as_deref().and_then(in_flight_note) {
                text.push_str(" — ");
                text.push_str(note);
            }
            text
        }
        NextAction::Complete => "book P&L".into(),
        NextAction::Nothing => match &c.result {
            Some(r) => format!("P&L {} VCRED", r.profit_vcred.round_dp(4)),
            None => "—".into(),
        },
    }
}

pub fn cycle_view(
    cycle: Cycle,
    steps: Vec<StepView>,
    ready_at: Option<Timestamp>,
    now: Timestamp,
    stuck_after_ms: u64,
    controls: &Controls,
) -> CycleView {
    let next = next_text(&cycle, ready_at, now, controls);
    let stuck = is_stuck(&cycle, now, stuck_after_ms);
    let intended = steps.iter().any(|s| s.status == "intended");
    let half_done = intended || (cycle.state == CycleState::Failed && needs_attention(&cycle));
    CycleView {
        cycle,
        steps,
        next,
        ready_at,
        stuck,
        half_done,
    }
}

/// The cross-chain loop's open intent of cycle `c`: its latest step with an
/// intent and no outcome, if any. The engine's snapshot and the read verbs
/// (from the store, when no engine runs) say it the same way.
pub fn open_intent(c: &Cycle, steps: &[StepView]) -> Option<OpenIntentView> {
    let step = steps.iter().rev().find(|s| s.status == "intended")?;
    let unsettled = c.last_error.as_deref() == Some(super::reconciler::UNSETTLED);
    Some(OpenIntentView {
        id: c.id.to_string(),
        strategy: "cross_chain_loop".into(),
        what: format!("{} {} #{}", c.token, step.kind, step.attempt),
        state: if unsettled {
            IntentState::OutcomeUnknown
        } else {
            IntentState::Committed
        },
        since: step.at,
        doing: if unsettled {
            "the venue cannot say yet whether it was sent: looking again each pass, never resending"
                .into()
        } else {
            "settled by looking before anything is sent again".into()
        },
        awaits_operator: false,
        resolve: format!(
            "{} (keys: f force, d mark done, x fail)",
            resolve_hint(&c.id.to_string())
        ),
    })
}

impl<V: LoopVenue> CrossChainLoop<V> {
    /// The loop's part of `snapshot`, as of its time and controls.
    pub(super) fn render_into(&self, snapshot: &mut Snapshot) {
        let now = snapshot.now;
        let stuck_after = self.config.engine.stuck_after_ms;
        // The controls as the engine publishes them now (a pause may have
        // come since the loop's last call).
        let controls = Controls {
            paused: snapshot.paused,
            paused_tokens: snapshot.paused_tokens.iter().copied().collect(),
            tripped: snapshot.kill_switch.clone(),
        };
        let mut cycles: Vec<CycleView> = self
            .cycles
            .values()
            .map(|c| {
                let steps = self.steps.get(&c.id).cloned().unwrap_or_default();
                cycle_view(
                    c.clone(),
                    steps,
                    self.ready_at.get(&c.id).copied(),
                    now,
                    stuck_after,
                    &controls,
                )
            })
            .collect();
        cycles.extend(self.closed.iter().rev().cloned());
        let in_flight = self
            .cycles
            .values()
            .filter(|c| c.holding.in_flight && c.is_open())
            .map(|c| InFlightRow {
                cycle: c.id,
                route: if c.holding.token == TokenId::Usdc {
                    crate::model::Route::Stargate
                } else {
                    c.route
                },
                token: c.holding.token,
                from: if c.holding.chain == crate::model::Chain::Hemi {
                    crate::model::Chain::Ethereum
                } else {
                    crate::model::Chain::Hemi
                },
                to: c.holding.chain,
                amount: c.holding.amount,
                state: c.state,
                ready_at: self.ready_at.get(&c.id).copied(),
            })
            .collect();
        snapshot.opportunities = self.opportunities.values().cloned().collect();
        snapshot.cycles = cycles;
        snapshot.counts = self.counts;
        snapshot.balances = self.balances.clone();
        snapshot.in_flight = in_flight;
        snapshot.pnl = self.book.view(now);
        snapshot.venues.extend(self.health.iter().cloned());
        snapshot.intents.extend(
            self.cycles
                .values()
                .filter_map(|c| open_intent(c, self.steps.get(&c.id).map(Vec::as_slice)?)),
        );
    }
}
