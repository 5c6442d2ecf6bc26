//! A swap step carried out by a CoW Protocol order instead of a
//! transaction: the allowance to the VaultRelayer (the step's approve), the
//! order drafted from the quote, signed (EIP-712) and written on the
//! step's intent *before* it is posted, then followed by its UID until it
//! filled or can never fill. A step never signs a second order while its
//! order may still fill: after a crash or a lost answer the order is looked
//! up by UID; only an order the orderbook does not list is posted again,
//! as the identical signed bytes (one UID: it can fill only once). An
//! order refused, expired or cancelled with nothing filled is dead; the
//! step then falls back to the other providers, spending through an
//! approve of its own (`FALLBACK_APPROVE_SEQ`). ETH sold by an order is
//! wrapped first (a transaction of the step's) and unwrapped again if the
//! order dies, before the next provider sells it.

use super::{EvmVenue, units};
use crate::model::{Chain, Receipt};
use crate::venue::VenueError;
use crate::venue::evm::abi::IWETH9;
use crate::venue::evm::crash;
use crate::venue::evm::swap::cow::{CowApi, OrderRecord, OrderState, Posted};
use crate::venue::evm::swap::cow_order::OrderUid;
use crate::venue::evm::swap::{Provider, Quote, SwapRequest};
use crate::venue::evm::txmgr::{GasHint, TxRequest};
use alloy::primitives::U256;
use alloy::sol_types::SolCall;
use std::time::Duration;

/// The approve of a step that fell back from a dead order (the order's own
/// approve is seq 0, the swap seq 1).
pub(super) const FALLBACK_APPROVE_SEQ: u32 = 3;
/// ETH sold by an order is wrapped first, and unwrapped if the order dies.
const WRAP_SEQ: u32 = 2;
const UNWRAP_SEQ: u32 = 4;
/// An order's UID is looked for this long past its `validTo` before it is
/// taken for never listed.
const LISTING_GRACE_SECS: u64 = 30;

impl EvmVenue {
    /// The order signed for step `id`, if any.
    pub(super) fn order_of(&self, id: &str) -> Result<Option<OrderRecord>, VenueError> {
        Ok(self.tx.store().intent(id)?.and_then(|k| k.order))
    }

    fn put_order(&self, id: &str, order: &OrderRecord) -> Result<(), VenueError> {
        let store = self.tx.store();
        if let Some(mut rec) = store.intent(id)? {
            rec.order = Some(order.clone());
            store.put_intent(id, &rec)?;
        }
        Ok(())
    }

    fn cow_api(&self, chain: Chain, name: &str) -> Result<&CowApi, VenueError> {
        match self.swaps[chain as usize].get(name) {
            Some(Provider::Cow(api)) => Ok(api),
            _ => Err(VenueError::Rejected(format!(
                "{name} is not a CowSwap provider on {chain}"
            ))),
        }
    }

    /// The API that has the step's order, and its UID; `Unknown` (the step
    /// holds) when either cannot be had.
    fn live_order(
        &self,
        chain: Chain,
        rec: &OrderRecord,
    ) -> Result<(&CowApi, OrderUid), VenueError> {
        let hold = |e: VenueError| {
            VenueError::Unknown(format!(
                "order {} may still fill and cannot be looked at ({e}); the step holds",
                rec.uid
            ))
        };
        let api = self.cow_api(chain, &rec.provider).map_err(hold)?;
        let uid = rec.uid().map_err(hold)?;
        Ok((api, uid))
    }

    /// Approve the VaultRelayer, sign and record the order for `quote`,
    /// post it and follow it.
    pub(super) async fn place_order(
        &self,
        id: &str,
        chain: Chain,
        req: &SwapRequest,
        quote: &Quote,
        min_out: U256,
    ) -> Result<(), VenueError> {
        let api = self.cow_api(chain, &quote.provider)?;
        let amount = units(req.amount_in)?;
        self.approve_at(chain, id, 0, req.token_in, api.at.vault_relayer, amount)
            .await?;
        if req.native_in {
            let wrap = IWETH9::depositCall {}.abi_encode();
            self.step_tx(
                chain,
                id,
                WRAP_SEQ,
                "wrap",
                req.token_in,
                wrap,
                req.amount_in,
            )
            .await?;
        }
        let quote_id = match &quote.how {
            crate::venue::evm::swap::How::Cow { quote_id } => *quote_id,
            _ => None,
        };
        let deadline = match self.tx.store().intent(id)?.map(|k| k.action) {
            Some(crate::model::Action::Swap { deadline, .. }) => deadline / 1000,
            _ => u64::MAX,
        };
        let order = api.draft(req, quote, min_out, self.clock.now() / 1000, deadline)?;
        let digest = order.digest(&api.domain);
        let signature = self.tx.sign_digest(digest)?;
        let uid = OrderUid::new(digest, self.wallet(), order.validTo);
        let rec = OrderRecord {
            provider: api.name.clone(),
            uid: uid.to_string(),
            sell_token: order.sellToken,
            buy_token: order.buyToken,
            receiver: order.receiver,
            sell_amount: order.sellAmount,
            buy_amount: order.buyAmount,
            valid_to: order.validTo,
            partially_fillable: order.partiallyFillable,
            quote_id,
            signature: signature.to_vec().into(),
            state: OrderState::Signed,
        };
        // Intent before action: the order is on record before it leaves.
        self.put_order(id, &rec)?;
        self.follow_order(id, chain, rec).await
    }

    /// One of the step's transactions before its last (a wrap, an unwrap),
    /// resumed as recorded if it was signed before.
    #[allow(clippy::too_many_arguments)]
    async fn step_tx(
        &self,
        chain: Chain,
        id: &str,
        seq: u32,
        purpose: &'static str,
        to: alloy::primitives::Address,
        data: Vec<u8>,
        value: U256,
    ) -> Result<(), VenueError> {
        self.tx
            .send(
                self.client(chain),
                TxRequest {
                    intent: id.to_string(),
                    seq,
                    purpose,
                    last: false,
                    to,
                    data: data.into(),
                    value,
                    gas: GasHint::default(),
                },
            )
            .await
            .map(|_| ())
    }

    /// Before a step whose order died goes elsewhere: ETH it wrapped for
    /// the order is unwrapped again, so the next provider sells ETH.
    pub(super) async fn unwind(
        &self,
        chain: Chain,
        id: &str,
        req: &SwapRequest,
    ) -> Result<(), VenueError> {
        if req.native_in && self.tx.store().tx(id, WRAP_SEQ)?.is_some() {
            let unwrap = IWETH9::withdrawCall { wad: req.amount_in }.abi_encode();
            self.step_tx(
                chain,
                id,
                UNWRAP_SEQ,
                "unwrap",
                req.token_in,
                unwrap,
                U256::ZERO,
            )
            .await?;
        }
        Ok(())
    }

    /// Take the step's order on from where it stands: post it if the
    /// orderbook does not have it, then look until it filled or died.
    pub(super) async fn follow_order(
        &self,
        id: &str,
        chain: Chain,
        mut rec: OrderRecord,
    ) -> Result<(), VenueError> {
        // Never a refusal from here on: a refused step is tried again
        // under a new attempt, and this order may still fill. What cannot
        // be looked at holds the step.
        let (api, uid) = self.live_order(chain, &rec)?;
        if rec.state == OrderState::Signed {
            match api.order(&uid).await? {
                Some(_) => rec.state = OrderState::Posted,
                None => {
                    crash::point(&format!("{id}:order:before_broadcast"));
                    let posted = api
                        .post(&rec.order(), &rec.signature, self.wallet(), rec.quote_id)
                        .await?;
                    crash::point(&format!("{id}:order:after_broadcast"));
                    rec.state = match posted {
                        Posted::Taken => OrderState::Posted,
                        Posted::Refused(why) => OrderState::Dead {
                            why: format!("the orderbook refused it ({why})"),
                        },
                    };
                }
            }
            self.put_order(id, &rec)?;
        }
        let deadline = self.clock.now() + self.cfg.tx_timeout_ms;
        loop {
            match &rec.state {
                OrderState::Filled { .. } => return Ok(()),
                OrderState::Dead { why } => {
                    let why = format!("order {uid}: {why}");
                    self.swaps[chain as usize].mark_down(&rec.provider, &why, self.clock.now());
                    return Err(VenueError::Transient(format!(
                        "{}: {why}; the step goes to the next provider",
                        rec.provider
                    )));
                }
                OrderState::Signed | OrderState::Posted => {}
            }
            let now_secs = self.clock.now() / 1000;
            match api.order(&uid).await? {
                Some(st)
                    if st.status == "fulfilled"
                        || (st.is_final() && !st.executed_sell.is_zero()) =>
                {
                    let Some(tx_hash) = api.trade_txs(&uid).await?.first().copied() else {
                        return Err(VenueError::Transient(format!(
                            "order {uid} {}; its settlement is not listed yet",
                            st.status
                        )));
                    };
                    rec.state = OrderState::Filled {
                        executed_sell: st.executed_sell,
                        executed_buy: st.executed_buy,
                        tx_hash,
                    };
                }
                Some(st) if st.is_final() => {
                    rec.state = OrderState::Dead {
                        why: format!("{} with nothing filled", st.status),
                    };
                }
                Some(_) => {}
                None if now_secs > u64::from(rec.valid_to) + LISTING_GRACE_SECS => {
                    rec.state = OrderState::Dead {
                        why: "never listed before it expired".into(),
                    };
                }
                None => {}
            }
            if !matches!(rec.state, OrderState::Posted | OrderState::Signed) {
                self.put_order(id, &rec)?;
                continue;
            }
            if self.clock.now() >= deadline {
                return Err(VenueError::Transient(format!(
                    "order {uid} is still open; it is looked at again"
                )));
            }
            tokio::time::sleep(Duration::from_millis(api.at.poll_ms)).await;
        }
    }

    /// The operator moves past a step whose order is live: ask the
    /// orderbook to cancel it and look. `Some`: it filled after all (the
    /// step is done); `None`: it is dead now. Still open: not yet, said why.
    pub(super) async fn abandon_order(
        &self,
        id: &str,
        chain: Chain,
        mut rec: OrderRecord,
    ) -> Result<Option<Receipt>, VenueError> {
        let (api, uid) = self.live_order(chain, &rec)?;
        match api.order(&uid).await? {
            Some(st) if st.is_final() || st.status == "fulfilled" => {
                // Book it as following it would have.
                match self.follow_order(id, chain, rec.clone()).await {
                    Ok(()) => {
                        let rec = self.order_of(id)?.unwrap_or(rec);
                        self.order_receipt(id, chain, &rec).await
                    }
                    Err(VenueError::Transient(_))
                        if self.order_of(id)?.is_some_and(|o| o.is_dead()) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            }
            Some(_) => {
                let signature = self.tx.sign_digest(api.cancellation(&uid))?;
                api.cancel(&uid, &signature).await?;
                Err(VenueError::Unknown(format!(
                    "{id}: order {uid} asked to be cancelled; the override applies once the orderbook lets it go"
                )))
            }
            None if self.clock.now() / 1000 > u64::from(rec.valid_to) + LISTING_GRACE_SECS => {
                rec.state = OrderState::Dead {
                    why: "abandoned: never listed, now past its validTo".into(),
                };
                self.put_order(id, &rec)?;
                Ok(None)
            }
            None => Err(VenueError::Unknown(format!(
                "{id}: order {uid} is not listed; it may still be taken until its validTo"
            ))),
        }
    }

    /// The receipt of a filled order: what it sold and bought, the
    /// settlement transaction, and the gas of our own transactions (the
    /// approve; the solver paid the settlement's).
    pub(super) async fn order_receipt(
        &self,
        id: &str,
        chain: Chain,
        rec: &OrderRecord,
    ) -> Result<Option<Receipt>, VenueError> {
        let OrderState::Filled {
            executed_sell,
            executed_buy,
            tx_hash,
        } = &rec.state
        else {
            return Ok(None);
        };
        let c = self.client(chain);
        let (gas, _) = self.mined(c, id).await?;
        let at = match c.receipt(*tx_hash).await? {
            Some(r) => self.mined_at(c, &r).await?,
            None => self.clock.now(),
        };
        Ok(Some(Receipt {
            amount_in: units(*executed_sell)?,
            amount_out: units(*executed_buy)?,
            // The order's UID beside the provider: what to look it up by.
            via: self
                .tx
                .store()
                .intent(id)?
                .and_then(|k| k.swap)
                .map(|s| format!("{}; order {}", s.summary(), rec.uid)),
            ..super::receipt::bare_receipt(tx_hash.to_string(), chain, at, gas)
        }))
    }
}
