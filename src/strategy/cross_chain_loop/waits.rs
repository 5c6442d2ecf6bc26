//! The waits between steps: a bridge transfer polled at its venue until it
//! has landed (or the proof and challenge periods have passed), with the
//! countdown the Cycles panel shows.

use super::CrossChainLoop;
use super::economics as strategy;
use super::reconciler::line;
use super::view::{IN_FLIGHT_NOTE, in_flight_note};
use crate::engine::{EngineError, KeeperContext, Notice};
use crate::model::{CycleId, CycleState, Holding, LedgerKind, Timestamp, Wait};
use crate::venue::{BridgeStatus, LoopVenue, NOTE_TROUBLE};
use rust_decimal::Decimal;

impl<V: LoopVenue> CrossChainLoop<V> {
    /// Poll whatever the cycle waits for; move on when it has happened.
    pub(super) async fn check_wait(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        wait: Wait,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if self.ready_at.get(&id).is_some_and(|t| *t > now) {
            return Ok(());
        }
        let Some(cycle) = self.cycles.get(&id) else {
            return Ok(());
        };
        let ticket = match wait {
            Wait::ArrivalOnHemi => cycle.bridge_back.clone(),
            _ => cycle.bridge_out.clone(),
        };
        let Some(ticket) = ticket else {
            return self.fail(
                cx,
                id,
                format!("waiting for {} without a bridge ticket", wait.describe()),
                now,
                false,
            );
        };
        let status = match self.venue.bridge_status(&ticket).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(cycle = %id, error = %e, "bridge status unavailable");
                return self.update(cx, id, now, |c| {
                    c.last_error = Some(format!("bridge status: {e}"))
                });
            }
        };
        match (wait, status) {
            (
                Wait::ArrivalOnEthereum | Wait::ArrivalOnHemi,
                BridgeStatus::Arrived {
                    amount,
                    tx_hash,
                    at,
                },
            ) => {
                let m = strategy::Movement {
                    kind: LedgerKind::BridgeCredit,
                    chain: ticket.to,
                    token: ticket.token,
                    delta: i128::try_from(amount).unwrap_or(i128::MAX),
                    value_vcred: Decimal::ZERO,
                    note: format!(
                        "{} arrived on {} via {}",
                        ticket.token, ticket.to, ticket.route
                    ),
                };
                let entry = line(at.max(ticket.sent_at), Some(id), &m, Some(tx_hash));
                let Some(mut cycle) = self.cycles.get(&id).cloned() else {
                    return Ok(());
                };
                cycle.holding = Holding {
                    chain: ticket.to,
                    token: ticket.token,
                    amount,
                    in_flight: false,
                };
                cycle.last_error = None;
                cycle.enter(CycleState::after_wait(wait), now);
                let written = cx.store.write(|w| {
                    w.put_cycle(&cycle)?;
                    w.append(entry)
                })?;
                self.after_ledger(std::slice::from_ref(&written));
                self.ready_at.remove(&id);
                tracing::info!(cycle = %id, state = %cycle.state, "bridge arrival");
                self.cycles.insert(id, cycle);
            }
            // Proven (or finalized) already, by us before a crash or by
            // anyone: the step goes ahead and the venue recognises it done
            // from the portal's records instead of sending it again.
            (Wait::ProveReady, BridgeStatus::ProveReady)
            | (Wait::ProveReady, BridgeStatus::Proved { .. } | BridgeStatus::FinalizeReady)
            | (Wait::ProveReady | Wait::FinalizeReady, BridgeStatus::Arrived { .. })
            | (Wait::FinalizeReady, BridgeStatus::FinalizeReady) => {
                let token = ticket.token;
                self.ready_at.remove(&id);
                self.update(cx, id, now, |c| {
                    c.last_error = None;
                    c.enter(CycleState::after_wait(wait), now);
                })?;
                let stage = if wait == Wait::ProveReady {
                    "prove"
                } else {
                    "finalize"
                };
                self.notify(
                    cx,
                    Notice::BridgeStageReady {
                        cycle: id,
                        token,
                        stage: stage.into(),
                    },
                );
            }
            (_, BridgeStatus::InFlight { ready_at, note }) => {
                if let Some(t) = ready_at {
                    self.ready_at.insert(id, t);
                }
                self.show_note(cx, id, now, note)?;
            }
            (_, BridgeStatus::Proved { finalize_at: t }) => {
                self.ready_at.insert(id, t);
            }
            (wait, other) => {
                // The bridge is further along than we thought (an operator acted
                // elsewhere): say so and let the operator decide.
                let reason = format!(
                    "bridge reports {other:?} while waiting for {}",
                    wait.describe()
                );
                self.update(cx, id, now, |c| c.last_error = Some(reason))?;
            }
        }
        Ok(())
    }

    /// What the venue says of a transfer in flight (a second source's
    /// view, trouble, a disagreement) on the cycle's last-error line,
    /// written only when it changes; a note gone clears the old one.
    fn show_note(
        &mut self,
        cx: &KeeperContext<'_>,
        id: CycleId,
        now: Timestamp,
        note: Option<String>,
    ) -> Result<(), EngineError> {
        let Some(c) = self.cycles.get(&id) else {
            return Ok(());
        };
        let shown = c.last_error.as_deref().and_then(in_flight_note);
        let want = match note {
            Some(n) => Some(format!("{IN_FLIGHT_NOTE}{n}")),
            None if shown.is_some() => None,
            None => return Ok(()),
        };
        if c.last_error == want {
            return Ok(());
        }
        if let Some(n) = want.as_deref().and_then(in_flight_note)
            && n.starts_with(NOTE_TROUBLE)
        {
            tracing::warn!(cycle = %id, note = %n, "bridge transfer in trouble");
        }
        self.update(cx, id, now, |c| c.last_error = want)
    }
}
