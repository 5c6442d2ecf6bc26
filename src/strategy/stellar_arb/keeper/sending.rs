//! Sending one transaction: build with a fresh sequence, sign, read the
//! send gate at the last moment, commit the intent, send, classify the
//! answer, and settle. Only a definite answer settles at once: a
//! `sendTransaction` ERROR whose decoded result proves the transaction was
//! not applied (a refusal), or a result found by getTransaction. Anything
//! else — a reset, a timeout, a 5xx or 429 from a gateway, a cut or
//! malformed body — leaves the intent open as OUTCOME UNKNOWN, to be
//! settled by looking ([`super::recovery`]), never booked as "not sent".

use super::{
    EXPIRY_MARGIN_SECS, MAX_FEE, Purpose, SHOWN, StellarArbKeeper, notify, reason, signed_xlm,
    utc_time, venue_err,
};
use crate::engine::{EngineError, IntentState, KeeperContext};
use crate::strategy::stellar_arb::store::{self as kstore, Booking, Execution, Intent};
use crate::strategy::stellar_arb::view::ExecutionRow;
use crate::venue::VenueError;
use crate::venue::stellar::tx::{self, Header};
use crate::venue::stellar::{Handling, Keypair, SendStatus, TxOutcome, TxStatus, format_amount};
use serde_json::json;

/// The source's XLM change and the bookings a settled transaction makes:
/// the change itself (fee on its own line) and, for a created account, its
/// starting balance on that account. `None` when the figures do not fit
/// (a result from outside that no ledger could hold).
fn effect(intent: &Intent, outcome: &TxOutcome, result: &str) -> Option<(i64, Vec<Booking>)> {
    let fee = outcome.fee_charged;
    let line = |account: &str, delta: i64, reason: String| Booking {
        account: account.to_string(),
        asset: "XLM".into(),
        delta,
        reason,
    };
    let mut lines = Vec::new();
    let delta = if !outcome.succeeded() {
        fee.checked_neg()?
    } else {
        match (intent.kind.as_str(), &intent.dest, outcome.delivered) {
            (_, _, Some(got)) => got.checked_sub(intent.send)?.checked_sub(fee)?,
            ("create_account", Some(dest), _) => {
                lines.push(line(
                    dest,
                    intent.send,
                    format!("created by {} with its starting balance", intent.account),
                ));
                intent.send.checked_neg()?.checked_sub(fee)?
            }
            _ => fee.checked_neg()?,
        }
    };
    lines.insert(
        0,
        line(
            &intent.account,
            delta.checked_add(fee)?,
            format!("{} {}", intent.kind, result),
        ),
    );
    lines.insert(
        1,
        line(&intent.account, fee.checked_neg()?, "network fee".into()),
    );
    Some((delta, lines))
}

impl StellarArbKeeper {
    /// Build (with a fresh sequence), sign, commit the intent, send, and
    /// settle when the network says. Returns the outcome if settled now;
    /// `None` when it is open (sent, or of unknown outcome) or was not sent
    /// (paused at the last moment).
    pub(super) async fn submit(
        &mut self,
        cx: &KeeperContext<'_>,
        key: &Keypair,
        purpose: Purpose,
        build: impl Fn(Header) -> Result<stellar_xdr::Transaction, tx::TxError>,
    ) -> Result<Option<Execution>, EngineError> {
        let venue = self.shared.venue.clone();
        let Some(state) = venue.account(key.public()).await.map_err(venue_err)? else {
            return Ok(None);
        };
        // maxTime by the network's clock (the latest close), which is what
        // the network judges it by; lost, it can be written off soon after.
        let signed_close = venue.ledger_window().await.map_err(venue_err)?.latest_close;
        let header = Header {
            source: key.public(),
            seq: state.sequence.saturating_add(1),
            fee: self.fee,
            max_time: signed_close.saturating_add(super::TX_VALIDITY_SECS),
        };
        let t = build(header).map_err(|e| venue_err(VenueError::Rejected(e.to_string())))?;
        let signed = tx::sign(t, key, &self.network_id)
            .map_err(|e| venue_err(VenueError::Rejected(e.to_string())))?;
        let intent = Intent {
            hash: signed.hash_hex(),
            account: key.public().to_string(),
            sequence: header.seq,
            kind: purpose.kind.into(),
            envelope: signed.envelope.clone(),
            send: purpose.send,
            dest_min: purpose.dest_min,
            dest: purpose.dest.map(|d| d.to_string()),
            max_time: header.max_time,
            signed_close,
            created_ms: cx.now,
            label: purpose.label,
        };
        // The send gate, read at the last moment: a pause can arrive while
        // this pass waited on the network above.
        if !cx.may_send() {
            self.view.status = "paused".into();
            return Ok(None);
        }
        cx.store.write(|w| kstore::put_intent(w, &intent))?;
        self.note(&intent, IntentState::Committed, "committed; sending".into());
        match venue.send(&signed.envelope).await {
            Ok(SendStatus::Error(outcome)) if outcome.proves_not_applied() => {
                // Refused at admission: nothing applied, no fee charged.
                let e = self.settle(
                    cx,
                    &intent,
                    &format!("refused: {}", outcome.main_code()),
                    None,
                )?;
                self.after_refusal(&outcome);
                Ok(Some(e))
            }
            Ok(SendStatus::Error(outcome)) => {
                self.mark_unknown(
                    &intent,
                    &format!(
                        "an ERROR whose result ({}) does not prove it unapplied",
                        outcome.main_code()
                    ),
                );
                Ok(None)
            }
            Ok(SendStatus::TryAgainLater) => {
                // Not taken now: the same envelope goes again next pass.
                self.note(
                    &intent,
                    IntentState::Committed,
                    format!(
                        "the node said TRY_AGAIN_LATER; the same envelope goes again until maxTime {}",
                        utc_time(intent.max_time)
                    ),
                );
                Ok(None)
            }
            Ok(status) => {
                self.note(
                    &intent,
                    IntentState::Sent,
                    format!("{status:?}: asking getTransaction for its result"),
                );
                self.await_result(cx, &intent).await
            }
            // No definite answer: the intent stays; the next pass (or a
            // restart) settles it by looking.
            Err(e) => {
                self.mark_unknown(&intent, &e.to_string());
                Ok(None)
            }
        }
    }

    /// The send's answer was lost or unreadable: it may have applied.
    pub(super) fn mark_unknown(&mut self, intent: &Intent, why: &str) {
        self.log(format!(
            "{}: outcome unknown ({why}); will settle by looking",
            intent.hash
        ));
        self.note(
            intent,
            IntentState::OutcomeUnknown,
            format!(
                "no definite answer ({why}); asking getTransaction until maxTime {} + {EXPIRY_MARGIN_SECS} s, resending only the same envelope",
                utc_time(intent.max_time)
            ),
        );
    }

    pub(super) fn after_refusal(&mut self, outcome: &TxOutcome) {
        match outcome.handling() {
            Handling::RaiseFee => self.fee = (self.fee.saturating_mul(2)).min(MAX_FEE),
            Handling::Operator => {
                self.halted = Some(outcome.describe());
                self.view.status = outcome.describe();
            }
            _ => {}
        }
    }

    /// Poll getTransaction a few times; settle what it finds. Not found by
    /// then: left open for the next pass.
    pub(super) async fn await_result(
        &mut self,
        cx: &KeeperContext<'_>,
        intent: &Intent,
    ) -> Result<Option<Execution>, EngineError> {
        let venue = self.shared.venue.clone();
        for _ in 0..self.polls {
            match venue.transaction(&intent.hash).await {
                Ok(TxStatus::NotFound) => tokio::time::sleep(self.poll_delay).await,
                Ok(TxStatus::Success { ledger, outcome })
                | Ok(TxStatus::Failed { ledger, outcome }) => {
                    return self.settle_applied(cx, intent, ledger, &outcome);
                }
                Err(e) => {
                    tracing::warn!(target: "stellar_arb", hash = %intent.hash, error = %e, "getTransaction");
                    tokio::time::sleep(self.poll_delay).await;
                }
            }
        }
        Ok(None)
    }

    /// Settle a transaction getTransaction found in a ledger. A result
    /// whose figures cannot be booked (a negative fee …) is not believed:
    /// the intent stays open, marked, and is asked for again.
    pub(super) fn settle_applied(
        &mut self,
        cx: &KeeperContext<'_>,
        intent: &Intent,
        ledger: u32,
        outcome: &TxOutcome,
    ) -> Result<Option<Execution>, EngineError> {
        if let Err(why) = outcome.check_figures() {
            self.mark_unknown(
                intent,
                &format!("getTransaction's result is unusable: {why}"),
            );
            return Ok(None);
        }
        let e = self.settle(cx, intent, outcome.main_code(), Some((ledger, outcome)))?;
        if !outcome.succeeded() {
            self.after_refusal(outcome);
        }
        Ok(Some(e))
    }

    /// One durable transaction: the intent goes, the result and its ledger
    /// lines (the XLM change, with the fee on its own line) stay. No
    /// `applied` (ledger, outcome): nothing reached a ledger, nothing moved.
    pub(super) fn settle(
        &mut self,
        cx: &KeeperContext<'_>,
        intent: &Intent,
        result: &str,
        applied: Option<(u32, &TxOutcome)>,
    ) -> Result<Execution, EngineError> {
        let (ledger, (delta, lines)) = match applied {
            Some((ledger, outcome)) => (
                ledger,
                effect(intent, outcome, result).ok_or_else(|| {
                    venue_err(VenueError::Rejected(format!(
                        "{}: the result's amounts do not fit a ledger; not booked",
                        intent.hash
                    )))
                })?,
            ),
            None => (0, (0, Vec::new())),
        };
        let e = Execution {
            hash: intent.hash.clone(),
            account: intent.account.clone(),
            kind: intent.kind.clone(),
            label: intent.label.clone(),
            send: intent.send,
            delta,
            result: result.into(),
            ledger,
            settled_ms: cx.now,
        };
        cx.store.write(|w| kstore::settle(w, &e, &lines))?;
        self.open.remove(&intent.hash);
        if self.halted_on.as_deref() == Some(intent.hash.as_str()) {
            // What it halted on is settled: the keeper runs again.
            self.halted_on = None;
            self.halted = None;
        }
        // Told after it is durable: a notice never runs ahead of the books.
        match intent.kind.as_str() {
            "cycle" if result == "tx_success" => notify(
                cx,
                "cycle_executed",
                format!(
                    "{}: sent {} XLM, {} XLM after fees (ledger {}, tx {})",
                    e.label,
                    format_amount(e.send),
                    signed_xlm(e.delta),
                    e.ledger,
                    e.hash
                ),
            ),
            "cycle" => notify(
                cx,
                "execution_failed",
                format!(
                    "{}: {} — {} ({} XLM, tx {})",
                    e.label,
                    e.result,
                    reason(&e.result),
                    signed_xlm(e.delta),
                    e.hash
                ),
            ),
            // A failed CreateAccount is told by `fund`, with the master's side.
            "change_trust" if result != "tx_success" => notify(
                cx,
                "funding_failed",
                format!(
                    "{} for {}: {} — {} (tx {})",
                    e.kind,
                    e.label,
                    e.result,
                    reason(&e.result),
                    e.hash
                ),
            ),
            _ => {}
        }
        if intent.kind == super::recovery::FRIENDBOT {
            // Funding is not an execution: logged, not listed or streamed.
            self.log(format!("{}: {result}", intent.label));
            return Ok(e);
        }
        self.shared.publish(json!({"result": {
            "hash": e.hash, "account": e.account, "path": e.label, "send": e.send,
            "delta": e.delta, "result": e.result, "ledger": e.ledger}}));
        self.view.executions.insert(
            0,
            ExecutionRow {
                hash: e.hash.clone(),
                path: e.label.clone(),
                send: e.send,
                delta: e.delta,
                result: e.result.clone(),
            },
        );
        self.view.executions.truncate(SHOWN);
        Ok(e)
    }
}
