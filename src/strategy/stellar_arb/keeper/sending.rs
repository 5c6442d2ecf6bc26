//! Sending one transaction: build with a fresh sequence, sign, read the
//! send gate at the last moment, commit the intent, send, classify the
//! answer, and settle. Only a definite answer settles at once: a
//! `sendTransaction` ERROR whose decoded result proves the transaction was
//! not applied (a refusal), or a result found by getTransaction. Anything
//! else — a reset, a timeout, a 5xx or 429 from a gateway, a cut or
//! malformed body — leaves the intent open as OUTCOME UNKNOWN, to be
//! settled by looking ([`super::recovery`]), never booked as "not sent".

use super::{
    EXPIRY_MARGIN_SECS, Purpose, SHOWN, StellarArbKeeper, notify, reason, signed_xlm, utc_time,
    venue_err,
};
use crate::engine::journal::{
    self, AfterWindow, Answer, IntentRecord, SendPath, Sent, Sighting, Via,
};
use crate::engine::{EngineError, IntentState, KeeperContext};
use crate::model::Timestamp;
use crate::strategy::stellar_arb::store::{self as kstore, Booking, Execution, Intent};
use crate::venue::VenueError;
use crate::venue::stellar::codes::route_label;
use crate::venue::stellar::tx::{self, Header};
use crate::venue::stellar::{
    Handling, Keypair, SendStatus, StellarVenue, TxOutcome, TxStatus, format_amount,
};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::sync::Mutex;
use std::time::Duration;

/// What a settled transaction did to the keeper's XLM and the bookings it
/// makes: the source's change (the fee on its own line, on whoever paid
/// it: the source, or the master account for a fee bump) and, for a
/// created account, its starting balance on that account. `None` when the
/// figures do not fit (a result from outside that no ledger could hold).
fn effect(intent: &Intent, outcome: &TxOutcome, result: &str) -> Option<(i64, Vec<Booking>)> {
    let fee = outcome.fee_charged;
    let line = |account: &str, delta: i64, reason: String| Booking {
        account: account.to_string(),
        asset: "XLM".into(),
        delta,
        reason,
    };
    let mut lines = Vec::new();
    // The source's change beyond the fee.
    let moved = if !outcome.succeeded() {
        0
    } else {
        match (intent.kind.as_str(), &intent.dest, outcome.delivered) {
            (_, _, Some(got)) => got.checked_sub(intent.send)?,
            ("create_account", Some(dest), _) => {
                lines.push(line(
                    dest,
                    intent.send,
                    format!("created by {} with its starting balance", intent.account),
                ));
                intent.send.checked_neg()?
            }
            _ => 0,
        }
    };
    // A fee bump's fee is its fee source's; one not of ours (someone
    // else bumped it) costs us nothing.
    let payer = match (outcome.fee_bumped, &intent.bump) {
        (false, _) => Some((intent.account.as_str(), "network fee".to_string())),
        (true, Some(b)) => Some((
            b.fee_source.as_str(),
            format!("network fee (fee bump {})", b.outer_hash),
        )),
        (true, None) => None,
    };
    lines.insert(
        0,
        line(
            &intent.account,
            moved,
            format!("{} {}", intent.kind, result),
        ),
    );
    let mut delta = moved;
    if let Some((account, why)) = payer {
        lines.insert(1, line(account, fee.checked_neg()?, why));
        delta = delta.checked_sub(fee)?;
    }
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
            bump: None,
            predicted: purpose.predicted,
        };
        let facts = Mutex::new(SendFacts::default());
        let sent_intent = intent.clone();
        let path = EnvelopeSend {
            venue: venue.as_ref(),
            intent: &sent_intent,
            polls: self.polls,
            poll_delay: self.poll_delay,
            facts: &facts,
        };
        let mut record = EnvelopeIntent {
            keeper: self,
            intent,
            facts: &facts,
            settled: None,
            before_bump: None,
        };
        // Through the journal: the gate read at the last moment (a pause can
        // arrive while this pass waited on the network above), the intent
        // committed before the send, the answer classified once.
        if journal::send(cx, &path, &mut record).await? == Sent::Held {
            record.keeper.view.status = "paused".into();
        }
        Ok(record.settled)
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
            // Priced below what is applied now: the next send re-reads the
            // fee stats (`fees`), no blind doubling.
            Handling::RaiseFee => self.log(format!(
                "tx_insufficient_fee at {}; re-reading the network's fee stats",
                self.fee_choice().describe()
            )),
            Handling::Operator => {
                self.halted = Some(outcome.describe());
                self.view.status = outcome.describe();
            }
            _ => {}
        }
    }

    /// Look once at one open transaction through the journal (the
    /// venue's look: [`super::recovery::look_for`]) and settle it if the
    /// network has decided. A Stellar call that failed is the keeper's
    /// venue error, as before (DEGRADED in recovery, shown on a pass).
    pub(super) async fn look_through_journal(
        &mut self,
        cx: &KeeperContext<'_>,
        intent: &Intent,
    ) -> Result<(), EngineError> {
        let venue = self.shared.venue.clone();
        let facts = Mutex::new(SendFacts::default());
        let path = EnvelopeSend {
            venue: venue.as_ref(),
            intent,
            polls: self.polls,
            poll_delay: self.poll_delay,
            facts: &facts,
        };
        let mut record = EnvelopeIntent {
            keeper: self,
            intent: intent.clone(),
            facts: &facts,
            settled: None,
            before_bump: None,
        };
        // maxTime, judged by the network's clock, is the window: the venue
        // says when it has passed (absent, or unprovable).
        journal::look(cx, &path, &mut record, u64::MAX, AfterWindow::Operator).await?;
        Ok(())
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
            predicted: intent.predicted.clone(),
            delivered: applied.and_then(|(_, o)| o.delivered),
            route: applied.map_or_else(String::new, |(_, o)| route_label(&o.route)),
        };
        cx.store.write(|w| kstore::settle(w, &e, &lines))?;
        if e.kind == super::CYCLE {
            self.realised.push((e.settled_ms, e.delta));
            let keep_from =
                crate::engine::kill::day_start(cx.now).saturating_sub(crate::model::time::DAY);
            self.realised.retain(|(at, _)| *at >= keep_from);
        }
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
        // The seed's fields, then what was predicted against what happened.
        self.shared.publish(json!({"result": {
            "hash": e.hash, "account": e.account, "path": e.label, "send": e.send,
            "delta": e.delta, "result": e.result, "ledger": e.ledger,
            "predicted": e.predicted.as_ref().map(|p| json!({"delivered": p.delivered, "route": p.route})),
            "delivered": e.delivered, "route": e.route}}));
        self.view
            .executions
            .insert(0, crate::strategy::stellar_arb::view::execution_row(&e));
        self.view.executions.truncate(SHOWN);
        Ok(e)
    }
}

/// Ask getTransaction up to `polls` times for a result; `None` when it was
/// not found by then (or the RPC kept failing).
pub(super) async fn poll_result(
    venue: &dyn StellarVenue,
    hash: &str,
    polls: u32,
    delay: Duration,
) -> Option<(u32, TxOutcome)> {
    for _ in 0..polls {
        match venue.transaction(hash).await {
            Ok(TxStatus::Success { ledger, outcome })
            | Ok(TxStatus::Failed { ledger, outcome }) => {
                return Some((ledger, outcome));
            }
            Ok(TxStatus::NotFound) => tokio::time::sleep(delay).await,
            Err(e) => {
                tracing::warn!(target: "stellar_arb", %hash, error = %e, "getTransaction");
                tokio::time::sleep(delay).await;
            }
        }
    }
    None
}

/// What the send or the look learnt beyond its classified answer, for the
/// record.
#[derive(Default)]
pub(super) struct SendFacts {
    /// The refusal's decoded result (a fee to raise, a reason to halt).
    refusal: Option<TxOutcome>,
    /// The node took it (PENDING, DUPLICATE): its result is awaited, SENT.
    accepted: Option<String>,
    /// Not seen yet: what was done about it (the same envelope offered
    /// again), and the state to show if it changes.
    pub(super) unseen: Option<(Option<IntentState>, String)>,
    /// A Stellar call of the look failed.
    pub(super) look_error: Option<VenueError>,
}

/// One signed envelope's send path (the transaction, or its latest fee
/// bump; either way it is asked for by the transaction's own hash):
/// sendTransaction, its answer classified
/// (only a decoded ERROR that proves the transaction unapplied is a
/// refusal; TRY_AGAIN_LATER is not sent; anything but a result is
/// unknown), and getTransaction to look.
pub(super) struct EnvelopeSend<'a> {
    pub(super) venue: &'a dyn StellarVenue,
    pub(super) intent: &'a Intent,
    pub(super) polls: u32,
    pub(super) poll_delay: Duration,
    pub(super) facts: &'a Mutex<SendFacts>,
}

impl EnvelopeSend<'_> {
    fn facts(&self) -> std::sync::MutexGuard<'_, SendFacts> {
        self.facts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SendPath for EnvelopeSend<'_> {
    type Receipt = (u32, TxOutcome);

    fn venue(&self) -> &str {
        "stellar"
    }

    fn send(&self) -> BoxFuture<'_, Answer<(u32, TxOutcome)>> {
        Box::pin(async move {
            match self.venue.send(self.intent.envelope_to_send()).await {
                Ok(SendStatus::Error(outcome)) if outcome.proves_not_applied() => {
                    // Refused at admission: nothing applied, no fee charged.
                    let why = format!("refused: {}", outcome.main_code());
                    self.facts().refusal = Some(outcome);
                    Answer::Refused(why)
                }
                Ok(SendStatus::Error(outcome)) => Answer::Unknown(format!(
                    "an ERROR whose result ({}) does not prove it unapplied",
                    outcome.main_code()
                )),
                Ok(SendStatus::TryAgainLater) => {
                    Answer::NotSent("the node said TRY_AGAIN_LATER".into())
                }
                Ok(status) => {
                    self.facts().accepted = Some(format!("{status:?}"));
                    match poll_result(self.venue, &self.intent.hash, self.polls, self.poll_delay)
                        .await
                    {
                        Some(result) => Answer::Done(result),
                        None => Answer::Unknown(format!("{status:?}: no result yet")),
                    }
                }
                // No definite answer: the intent stays; the next pass (or a
                // restart) settles it by looking.
                Err(e) => Answer::Unknown(e.to_string()),
            }
        })
    }

    fn look(&self) -> BoxFuture<'_, Sighting<(u32, TxOutcome)>> {
        Box::pin(super::recovery::look_for(
            self.venue,
            self.intent,
            self.polls,
            self.poll_delay,
            self.facts,
        ))
    }

    /// A transaction can apply only until its maxTime (the latest close
    /// plus `TX_VALIDITY_SECS`), and a node may lag by the margin.
    fn invisible_for(&self) -> u64 {
        (super::TX_VALIDITY_SECS + EXPIRY_MARGIN_SECS) * 1_000
    }
}

/// The keeper's record of one envelope's send, for the journal.
pub(super) struct EnvelopeIntent<'k> {
    pub(super) keeper: &'k mut StellarArbKeeper,
    pub(super) intent: Intent,
    pub(super) facts: &'k Mutex<SendFacts>,
    /// Settled by this send (a refusal, or a result found in time).
    pub(super) settled: Option<Execution>,
    /// This send is a fee bump of an open intent, which stood like this
    /// before it: a refused bump proves nothing of the transaction inside
    /// (it may have applied on its own), so the intent goes back to this,
    /// shown as it was.
    pub(super) before_bump: Option<(Intent, IntentState)>,
}

impl IntentRecord for EnvelopeIntent<'_> {
    type Receipt = (u32, TxOutcome);

    fn sending(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        cx.store.write(|w| kstore::put_intent(w, &self.intent))?;
        let doing = match &self.intent.bump {
            Some(b) if self.before_bump.is_some() => format!(
                "fee bump {} committed ({} stroops/op, paid by the master account); sending",
                b.outer_hash, b.per_op
            ),
            _ => "committed; sending".into(),
        };
        self.keeper
            .note(&self.intent, IntentState::Committed, doing);
        Ok(())
    }

    fn done(
        &mut self,
        cx: &KeeperContext<'_>,
        (ledger, outcome): &(u32, TxOutcome),
        _: Via,
    ) -> Result<(), EngineError> {
        self.settled = self
            .keeper
            .settle_applied(cx, &self.intent, *ledger, outcome)?;
        Ok(())
    }

    /// Refused at admission, or proven absent by the look (expired unsent,
    /// its sequence used by another): nothing applied, nothing booked.
    fn refused(&mut self, cx: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError> {
        if let Some((before, state)) = self.before_bump.take() {
            return self
                .keeper
                .bump_refused(cx, (&before, state), &self.intent, reason);
        }
        self.settled = Some(self.keeper.settle(cx, &self.intent, reason, None)?);
        if reason == super::EXPIRED_UNSENT {
            self.keeper.log(format!(
                "{}: {reason} (past its maxTime, never applied); nothing booked",
                self.intent.hash
            ));
        }
        let refusal = self
            .facts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .refusal
            .take();
        if let Some(outcome) = refusal {
            self.keeper.after_refusal(&outcome);
        }
        Ok(())
    }

    /// Not taken now: the same envelope goes again next pass.
    fn not_sent(&mut self, _: &KeeperContext<'_>, reason: &str) -> Result<(), EngineError> {
        self.keeper.note(
            &self.intent,
            IntentState::Committed,
            format!(
                "{reason}; the same envelope goes again until maxTime {}",
                utc_time(self.intent.max_time)
            ),
        );
        Ok(())
    }

    fn unknown(
        &mut self,
        _: &KeeperContext<'_>,
        reason: &str,
        _: Timestamp,
    ) -> Result<(), EngineError> {
        let accepted = self
            .facts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .accepted
            .clone();
        match accepted {
            // Taken by the node: SENT, its result asked for until maxTime.
            Some(status) => self.keeper.note(
                &self.intent,
                IntentState::Sent,
                format!("{status}: asking getTransaction for its result"),
            ),
            None => self.keeper.mark_unknown(&self.intent, reason),
        }
        Ok(())
    }

    /// Not seen yet (what the look did about it is noted), or a Stellar
    /// call failed: that is the keeper's venue error, as it always was.
    fn still_unknown(
        &mut self,
        _: &KeeperContext<'_>,
        note: Option<&str>,
    ) -> Result<(), EngineError> {
        let (failed, unseen) = {
            let mut f = self.facts.lock().unwrap_or_else(|p| p.into_inner());
            (f.look_error.take(), f.unseen.take())
        };
        if let Some(e) = failed {
            return Err(venue_err(e));
        }
        match (unseen, note) {
            (Some((state, doing)), _) => {
                let state = state.unwrap_or_else(|| self.keeper.open_state(&self.intent));
                self.keeper.note(&self.intent, state, doing);
            }
            (None, Some(why)) => self.keeper.mark_unknown(&self.intent, why),
            (None, None) => {}
        }
        Ok(())
    }

    /// Past its maxTime, older than the RPC's history, and its sequence
    /// used: it may have applied. HALTED: nothing more is sent until the
    /// operator settles it.
    fn window_passed(&mut self, _: &KeeperContext<'_>, why: &str) -> Result<(), EngineError> {
        let k = &mut *self.keeper;
        if k.halted.as_deref() != Some(why) {
            tracing::error!(target: "stellar_arb", "{why}");
        }
        k.note(
            &self.intent,
            IntentState::Halted,
            format!(
                "HALTED: older than the RPC's history and its sequence was used — check tx {} on an explorer",
                self.intent.hash
            ),
        );
        k.halted = Some(why.to_string());
        k.halted_on = Some(self.intent.hash.clone());
        k.view.status = format!("halted: {why}");
        Ok(())
    }

    /// Never re-signed: the same envelope is what goes again.
    fn send_again(&mut self, _: &KeeperContext<'_>) -> Result<(), EngineError> {
        Ok(())
    }
}
