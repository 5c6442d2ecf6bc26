//! Fee bumps: a transaction the network has not included, while its
//! maxTime still leaves room, and bidding less than the network now asks
//! ([`FeePolicy::bump`](crate::strategy::stellar_arb::fees::FeePolicy::bump)),
//! is wrapped in a fee-bump envelope signed by the master account — the
//! same inner transaction, never re-signed — and sent as an intent like any
//! other: recorded on the open intent before it leaves, through the
//! journal's one send path, settled by the inner hash. A refused bump
//! proves nothing of the inner (it may have applied by itself), so the
//! intent goes back to what it was and is looked for as before.

use super::sending::{EnvelopeIntent, EnvelopeSend, SendFacts};
use super::{StellarArbKeeper, utc_time, venue_err};
use crate::engine::journal::{self, Sent};
use crate::engine::{EngineError, IntentState, KeeperContext};
use crate::strategy::stellar_arb::fees::BumpBid;
use crate::strategy::stellar_arb::store::{self as kstore, FeeBump, Intent};
use crate::venue::stellar::fee_bump::{self, per_op_bid};
use std::sync::Mutex;

/// A bump is sent only while at least this much of the transaction's
/// validity is left (a few ledgers): one that cannot land in time is let
/// expire instead, at no cost.
const BUMP_MIN_LEFT_SECS: u64 = 15;

impl StellarArbKeeper {
    /// After a look left `hash` open and not found: lift it with a fee bump
    /// if the network now asks more than it bids. Called once per look.
    pub(super) async fn lift_if_stuck(
        &mut self,
        cx: &KeeperContext<'_>,
        hash: &str,
    ) -> Result<(), EngineError> {
        let Some(open) = self.open.get(hash) else {
            return Ok(()); // settled by the look
        };
        let (intent, state, doing) = (open.intent.clone(), open.state, open.doing.clone());
        if self.halted_on.as_deref() == Some(hash) || intent.kind == super::recovery::FRIENDBOT {
            return Ok(());
        }
        let venue = self.shared.venue.clone();
        let window = venue.ledger_window().await.map_err(venue_err)?;
        // Given one ledger at least since it (or its last bump) was signed.
        let since = intent
            .bump
            .as_ref()
            .map_or(intent.signed_close, |b| b.signed_close);
        let left = intent.max_time.saturating_sub(window.latest_close);
        if intent.max_time == 0 || window.latest_close <= since || left < BUMP_MIN_LEFT_SECS {
            return Ok(());
        }
        let Some(bid) = per_op_bid(intent.envelope_to_send()) else {
            return Ok(());
        };
        self.refresh_fee().await;
        let now = self.fee_choice();
        let per_op = match self.config.fee_policy.bump(now, bid) {
            BumpBid::NotNeeded => return Ok(()),
            BumpBid::AboveCap { needed } => {
                let why = format!(
                    "not included at {bid} stroops/op; a fee bump would need {needed}, above max_fee_stroops {}; it expires unapplied at {} if the surge holds",
                    self.config.fee_policy.max_fee,
                    utc_time(intent.max_time)
                );
                if !doing.ends_with(&why) {
                    self.log(format!("{}: {why}", intent.hash));
                }
                self.note(&intent, state, why);
                return Ok(());
            }
            BumpBid::Bump(per_op) => per_op,
        };
        let bumped = match fee_bump::bump(&intent.envelope, &self.master, per_op, &self.network_id)
        {
            Ok(b) => b,
            Err(e) => {
                self.note(&intent, state, format!("{doing}; no fee bump: {e}"));
                return Ok(());
            }
        };
        // The fee source must be able to pay the bid in full.
        let master = venue
            .account(self.master.public())
            .await
            .map_err(venue_err)?;
        let spendable = master.as_ref().map_or(0, |m| m.spendable_xlm());
        if spendable < bumped.fee {
            let why = format!(
                "not included at {bid} stroops/op; no fee bump: the master account {} cannot pay {} stroops",
                self.master.public(),
                bumped.fee
            );
            if !doing.ends_with(&why) {
                self.log(format!("{}: {why}", intent.hash));
            }
            self.note(&intent, state, why);
            return Ok(());
        }
        let record = FeeBump {
            outer_hash: bumped.outer_hash.clone(),
            envelope: bumped.envelope,
            fee_source: self.master.public().to_string(),
            per_op,
            max_fee: bumped.fee,
            signed_close: window.latest_close,
            count: intent
                .bump
                .as_ref()
                .map_or(1, |b| b.count.saturating_add(1)),
        };
        self.log(format!(
            "{}: not included at {bid} stroops/op under {}; fee bump {} at {per_op} stroops/op",
            intent.hash,
            now.describe(),
            record.outer_hash
        ));
        let bumped_intent = Intent {
            bump: Some(record),
            ..intent.clone()
        };
        let facts = Mutex::new(SendFacts::default());
        let path = EnvelopeSend {
            venue: venue.as_ref(),
            intent: &bumped_intent,
            polls: self.polls,
            poll_delay: self.poll_delay,
            facts: &facts,
        };
        let mut entry = EnvelopeIntent {
            keeper: self,
            intent: bumped_intent.clone(),
            facts: &facts,
            settled: None,
            before_bump: Some((intent, state)),
        };
        match journal::send(cx, &path, &mut entry).await? {
            Sent::Held => entry.keeper.view.status = "paused".into(),
            Sent::Refused => {}
            _ => entry.keeper.view.fee_bumps = entry.keeper.view.fee_bumps.saturating_add(1),
        }
        Ok(())
    }

    /// The network refused the bump: the intent stands as it was (the
    /// transaction inside may still apply, or have applied).
    pub(super) fn bump_refused(
        &mut self,
        cx: &KeeperContext<'_>,
        (before, state): (&Intent, IntentState),
        bumped: &Intent,
        reason: &str,
    ) -> Result<(), EngineError> {
        cx.store.write(|w| kstore::put_intent(w, before))?;
        let outer = bumped.bump.as_ref().map_or("", |b| b.outer_hash.as_str());
        self.log(format!(
            "{}: fee bump {outer} {reason}; the transaction itself is still looked for",
            before.hash
        ));
        self.note(
            before,
            state,
            format!(
                "fee bump {reason}; asking getTransaction until maxTime {}",
                utc_time(before.max_time)
            ),
        );
        Ok(())
    }
}
