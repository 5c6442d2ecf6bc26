//! The operator's side of open sends: every open Stellar send listed in
//! `snapshot.intents` (what, its state, what arbkeep is doing, the verb),
//! and `arbkeep resolve s:<hash prefix> settle|drop|retry`: settle looks
//! again now (evidence, if given, must be this intent's hash); drop writes
//! it off as not applied — refused if the network shows it applied; retry
//! resends the same envelope while it can still apply, or writes it off
//! once proven dead (past maxTime and not found), so the keeper builds a
//! new one. Each decision is recorded in the keeper's store and told; a
//! resolution of the intent the keeper halted on un-halts it.

use super::recovery::FRIENDBOT;
use super::{EXPIRED_UNSENT, Missing, StellarArbKeeper, intent_id, judge_missing, notify};
use crate::engine::intent::resolve_hint;
use crate::engine::{IntentState, KeeperContext, OpenIntentView, Resolution};
use crate::strategy::stellar_arb::store::{self as kstore, Intent, ResolutionRecord};
use crate::venue::stellar::{AccountKey, SendStatus, TxStatus};

impl StellarArbKeeper {
    /// Every open send as the screen lists it.
    pub(super) fn open_views(&self) -> Vec<OpenIntentView> {
        self.open
            .values()
            .map(|n| {
                let id = intent_id(&n.intent.hash);
                OpenIntentView {
                    resolve: resolve_hint(&id),
                    id,
                    strategy: "stellar_arb".into(),
                    what: match &n.intent.bump {
                        None => format!(
                            "{} from {} (tx {})",
                            n.intent.label, n.intent.account, n.intent.hash
                        ),
                        Some(b) => format!(
                            "{} from {} (tx {}, fee bump {} at {} stroops/op by {})",
                            n.intent.label,
                            n.intent.account,
                            n.intent.hash,
                            b.outer_hash,
                            b.per_op,
                            b.fee_source
                        ),
                    },
                    state: n.state,
                    since: n.intent.created_ms,
                    doing: n.doing.clone(),
                    awaits_operator: n.state == IntentState::Halted,
                }
            })
            .collect()
    }

    /// `Command::Resolve` for an id starting with `s:`.
    pub(super) async fn resolve(
        &mut self,
        cx: &KeeperContext<'_>,
        id: &str,
        resolution: Resolution,
        reason: &str,
        evidence: Option<&str>,
    ) -> Result<String, String> {
        let open = self.load_open(cx).map_err(|e| e.to_string())?;
        let Some(intent) = open.into_iter().find(|i| intent_id(&i.hash) == id) else {
            return Err(format!("no open Stellar send {id}"));
        };
        let answer = self.decide(cx, &intent, resolution, reason, evidence).await;
        let record = ResolutionRecord {
            id: id.to_string(),
            hash: intent.hash.clone(),
            resolution: resolution.word().to_string(),
            reason: reason.to_string(),
            evidence: evidence.map(str::to_string),
            at_ms: cx.now,
            outcome: match &answer {
                Ok(t) => t.clone(),
                Err(t) => format!("refused: {t}"),
            },
        };
        cx.store
            .write(|w| kstore::put_resolution(w, &record))
            .map_err(|e| e.to_string())?;
        notify(
            cx,
            "intent_resolved",
            format!(
                "{resolution} {id} ({}): {reason} → {}",
                intent.label, record.outcome
            ),
        );
        answer
    }

    async fn decide(
        &mut self,
        cx: &KeeperContext<'_>,
        intent: &Intent,
        resolution: Resolution,
        reason: &str,
        evidence: Option<&str>,
    ) -> Result<String, String> {
        let venue = self.shared.venue.clone();
        if let Some(ev) = evidence {
            let ev = ev.trim().to_ascii_lowercase();
            if ev != intent.hash {
                return Err(format!(
                    "evidence {ev} is not this send's transaction {}",
                    intent.hash
                ));
            }
        }
        if intent.kind == FRIENDBOT {
            return match resolution {
                // Looking at the account settles it either way; Friendbot
                // is asked again by the next pass if it is absent.
                Resolution::Settle | Resolution::Retry => {
                    self.settle_one(cx, intent)
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok("settled by looking at the account".into())
                }
                Resolution::Drop => {
                    self.settle(cx, intent, &format!("dropped by operator: {reason}"), None)
                        .map_err(|e| e.to_string())?;
                    Ok("dropped; nothing booked".into())
                }
            };
        }
        // Look first, whatever was asked: a send the network shows applied
        // is settled by its result, never dropped or sent again.
        let window = venue.ledger_window().await.map_err(|e| e.to_string())?;
        let status = venue
            .transaction(&intent.hash)
            .await
            .map_err(|e| format!("could not look it up ({e}); nothing changed"))?;
        if let TxStatus::Success { ledger, outcome } | TxStatus::Failed { ledger, outcome } = status
        {
            let applied = format!(
                "it is in ledger {ledger} ({}): settled by its result",
                outcome.main_code()
            );
            self.settle_applied(cx, intent, ledger, &outcome)
                .map_err(|e| e.to_string())?;
            return match resolution {
                Resolution::Drop => Err(format!("{applied}, not dropped")),
                _ => Ok(applied),
            };
        }
        match resolution {
            Resolution::Settle => {
                if evidence.is_some() {
                    return Err(format!(
                        "getTransaction does not find {} (older than the RPC's history, or not applied): the evidence cannot be checked and nothing is booked; if it did not apply, resolve with drop",
                        intent.hash
                    ));
                }
                self.settle_one(cx, intent)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(match self.open.get(&intent.hash) {
                    Some(n) => format!("looked again: not found; still open: {}", n.doing),
                    None => "looked again: not found, and now settled by time".into(),
                })
            }
            Resolution::Drop => {
                self.settle(cx, intent, &format!("dropped by operator: {reason}"), None)
                    .map_err(|e| e.to_string())?;
                Ok(format!(
                    "dropped: not found; written off with nothing booked; account {}'s sequence is free",
                    intent.account
                ))
            }
            Resolution::Retry => {
                let id = AccountKey::parse(&intent.account).map_err(|e| e.to_string())?;
                let seq = venue
                    .account(id)
                    .await
                    .map_err(|e| e.to_string())?
                    .map(|s| s.sequence)
                    .unwrap_or(0);
                match judge_missing(intent, &window, seq) {
                    Missing::Resend => match venue.send(intent.envelope_to_send()).await {
                        Ok(SendStatus::Error(o)) => Ok(format!(
                            "the same envelope was resent and refused ({}); it stays open until its maxTime has passed",
                            o.main_code()
                        )),
                        Ok(s) => Ok(format!(
                            "the same envelope was resent ({s:?}); settled once getTransaction finds it"
                        )),
                        Err(e) => Ok(format!(
                            "the same envelope was resent with no definite answer ({e}); still open"
                        )),
                    },
                    Missing::Expired | Missing::SequenceUsed => {
                        self.settle(cx, intent, EXPIRED_UNSENT, None)
                            .map_err(|e| e.to_string())?;
                        Ok("proven dead (past its maxTime, not found): written off; the keeper builds a new transaction on its next pass".into())
                    }
                    Missing::Ambiguous => Err(format!(
                        "not proven dead: {} is older than the RPC's history and its sequence was used; check it on an explorer, then resolve with drop (it did not apply) or wait",
                        intent.hash
                    )),
                }
            }
        }
    }
}
