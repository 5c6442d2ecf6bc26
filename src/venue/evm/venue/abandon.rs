//! The operator moves past a step whose intent has no outcome: make sure
//! it can never be carried out later. A live CoW order is asked to be
//! cancelled first; each recorded transaction is looked at, and one still
//! pending is replaced by a cancel at its nonce. What the override found —
//! done after all, cancelled, reverted, never sent — is the answer; while
//! anything may still be mined, it is not yet.

use super::{EvmVenue, records_have_last};
use crate::model::IntentId;
use crate::venue::evm::txmgr::Look;
use crate::venue::{Abandonment, VenueError};

impl EvmVenue {
    pub(super) async fn abandon_intent(&self, intent: IntentId) -> Result<Abandonment, VenueError> {
        let id = intent.to_string();
        let store = self.tx.store();
        let Some(mut known) = store.intent(&id)? else {
            // Never carried out: nothing was signed for it.
            return Ok(Abandonment::NeverSent);
        };
        if !known.abandoned {
            // First, so that nothing carries it out while we look.
            known.abandoned = true;
            store.put_intent(&id, &known)?;
        }
        if let Some(o) = known.order.clone()
            && !o.is_dead()
            && !records_have_last(&store.txs_of(&id)?)
            && let Some(done) = self.abandon_order(&id, known.action.chain(), o).await?
        {
            known.abandoned = false;
            store.put_intent(&id, &known)?;
            return Ok(Abandonment::Done(Box::new(done)));
        }
        let mut cancelled = None;
        let mut reverted = None;
        let mut waiting = Vec::new();
        let mut step_done = false;
        for mut rec in store.txs_of(&id)? {
            let c = self.client_by_id(rec.chain_id)?;
            match self.tx.look(c, &rec).await? {
                Look::Confirmed(r) if Some(r.transaction_hash) == rec.cancel_hash() => {
                    cancelled = Some(r.transaction_hash.to_string());
                }
                Look::Confirmed(r) => {
                    // A reverted call did nothing (but it was sent, and paid
                    // its gas); an approve before the step's call only set
                    // an allowance.
                    step_done |= rec.last && r.status();
                    if !r.status() {
                        reverted = Some(r.transaction_hash.to_string());
                    }
                }
                Look::Mined => waiting.push(format!(
                    "{} mined, waiting for {} confirmations",
                    rec.label(),
                    self.cfg.confirmations
                )),
                // Its nonce went to a transaction we never signed.
                Look::NonceTaken { .. } => {}
                // Nothing can be cancelled at a used nonce; ours may be mined.
                Look::NonceUnproven(why) => waiting.push(format!("{}: {why}", rec.label())),
                Look::Pending | Look::NotSent => {
                    let hash = self.tx.cancel(c, &mut rec).await?;
                    waiting.push(format!(
                        "{} cancelled by {hash} at nonce {}, not mined yet",
                        rec.label(),
                        rec.nonce
                    ));
                }
            }
        }
        if step_done {
            known.abandoned = false;
            store.put_intent(&id, &known)?;
            return self
                .build(&id, &known.action)
                .await
                .map(|r| Abandonment::Done(Box::new(r)));
        }
        if !waiting.is_empty() {
            return Err(VenueError::Unknown(format!(
                "{id}: {}; the override applies once it is mined",
                waiting.join("; ")
            )));
        }
        Ok(match (cancelled, reverted) {
            (Some(tx_hash), _) => Abandonment::Cancelled { tx_hash },
            (None, Some(tx_hash)) => Abandonment::Reverted { tx_hash },
            (None, None) => Abandonment::NeverSent,
        })
    }
}
