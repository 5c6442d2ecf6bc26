//! A swap step: the request in the chain's addresses, the providers asked
//! (firm quotes, the choice recorded on the intent before anything is
//! signed), the approve to the chosen spender, a quote that aged while its
//! approve was mined asked for again, the aggregator's transaction
//! simulated, and the swap sent — or, for CowSwap, the step's order placed
//! or followed (`order`).

use super::{EvmVenue, no_provider, order};
use crate::model::{Chain, Timestamp, TokenId, Units};
use crate::venue::VenueError;
use crate::venue::evm::erc20;
use crate::venue::evm::swap::{self, Ask, SwapProvider, SwapRequest, v2};
use alloy::primitives::U256;

impl EvmVenue {
    pub(super) fn swap_request(
        &self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
    ) -> Result<SwapRequest, VenueError> {
        Ok(SwapRequest {
            token_in: self.path_address(chain, token_in)?,
            token_out: self.path_address(chain, token_out)?,
            native_in: token_in.is_native(),
            native_out: token_out.is_native(),
            amount_in: U256::from(amount_in),
            taker: self.wallet(),
        })
    }

    /// For `swap_choose = "best"`: a wei of gas in `token_out` base units,
    /// from the node's gas price and the V2 router's ETH price of the token
    /// (`None` when it has none: quotes are then compared gross).
    pub(super) async fn gas_price_in(
        &self,
        chain: Chain,
        token_out: TokenId,
    ) -> Result<Option<U256>, VenueError> {
        if self.swaps[chain as usize].choose != crate::config::SwapChoose::Best {
            return Ok(None);
        }
        let c = self.client(chain);
        let gp = U256::from(c.gas_price().await?);
        if token_out.is_native() || token_out == TokenId::Weth {
            return Ok(Some(gp));
        }
        let one = U256::from(TokenId::Eth.one());
        let path = vec![self.weth[chain as usize], self.erc20(chain, token_out)?];
        match v2::quote(c, self.chain_cfg(chain).router, path, one).await {
            Ok(per_eth) => Ok(Some(gp.saturating_mul(per_eth) / one)),
            Err(VenueError::Rejected(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Ask the chain's providers again for a swap about to be sent, and
    /// build its transaction (the choice recorded first).
    async fn choose_swap(
        &self,
        id: &str,
        chain: Chain,
        req: &SwapRequest,
        ask: Ask,
        min_out: Units,
        deadline: Timestamp,
    ) -> Result<(swap::Quote, swap::SwapCall), VenueError> {
        let (quote, selection) = self.swaps[chain as usize]
            .select(self.client(chain), req, ask, self.clock.now())
            .await
            .map_err(|e| no_provider(e, min_out))?;
        let call = self.swap_call(id, chain, req, &quote, selection, min_out, deadline)?;
        Ok((quote, call))
    }

    /// What was chosen and why, on the step's intent before anything is
    /// signed for it.
    fn record_selection(&self, id: &str, selection: swap::Selection) -> Result<(), VenueError> {
        let store = self.tx.store();
        if let Some(mut rec) = store.intent(id)? {
            rec.swap = Some(selection);
            store.put_intent(id, &rec)?;
        }
        Ok(())
    }

    /// The transaction for the chosen quote, the choice recorded first.
    #[allow(clippy::too_many_arguments)]
    fn swap_call(
        &self,
        id: &str,
        chain: Chain,
        req: &SwapRequest,
        quote: &swap::Quote,
        selection: swap::Selection,
        min_out: Units,
        deadline: Timestamp,
    ) -> Result<swap::SwapCall, VenueError> {
        let provider = self.swaps[chain as usize]
            .get(&quote.provider)
            .ok_or_else(|| VenueError::Rejected(format!("no swap provider {}", quote.provider)))?;
        let call = provider.swap_call(
            req,
            quote,
            U256::from(min_out),
            self.wallet(),
            deadline / 1000,
        )?;
        self.record_selection(id, selection)?;
        Ok(call)
    }

    /// Carry out a swap step (see the module's doc).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn carry_out_swap(
        &self,
        id: &str,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
        min_out: Units,
        deadline: Timestamp,
    ) -> Result<(), VenueError> {
        let me = self.wallet();
        let req = self.swap_request(chain, token_in, token_out, amount_in)?;
        // A step with a live order follows it, deadline or not; a
        // dead one falls back to the others through its own approve.
        let dead = match self.order_of(id)? {
            Some(o) if !o.is_dead() => return self.follow_order(id, chain, o).await,
            Some(o) => Some(o),
            None => None,
        };
        // Refuse before the approve what a router would refuse
        // after it: an approve's gas is spent even when the swap is not.
        let c = self.client(chain);
        let now = match c.block(c.head().await?).await? {
            Some((_, ts)) => ts,
            None => 0,
        };
        if deadline / 1000 <= now {
            return Err(VenueError::Rejected(
                "EXPIRED (the swap's deadline has passed)".into(),
            ));
        }
        if dead.is_some() {
            self.unwind(chain, id, &req).await?;
        }
        let swaps = &self.swaps[chain as usize];
        let approve_seq = if dead.is_some() {
            order::FALLBACK_APPROVE_SEQ
        } else {
            0
        };
        // An approve already signed for this step pins its spender.
        let spender = match self.tx.store().tx(id, approve_seq)? {
            Some(rec) => Some(erc20::approved_spender(&rec.data).ok_or_else(|| {
                VenueError::Rejected(format!("{id}'s approve is not an approve"))
            })?),
            None => None,
        };
        let avoid = match &dead {
            Some(o) => swaps.get(&o.provider).map(|p| p.spender()),
            None => None,
        };
        let ask = Ask {
            min_out: Some(U256::from(min_out)),
            gas_price_in_out: self.gas_price_in(chain, token_out).await?,
            spender,
            avoid,
            firm: true,
        };
        let (quote, selection) = swaps
            .select(c, &req, ask, self.clock.now())
            .await
            .map_err(|e| no_provider(e, min_out))?;
        if matches!(quote.how, swap::How::Cow { .. }) {
            self.record_selection(id, selection)?;
            return self
                .place_order(id, chain, &req, &quote, U256::from(min_out))
                .await;
        }
        let call = self.swap_call(id, chain, &req, &quote, selection, min_out, deadline)?;
        // An aggregator naming its spender per answer may name another than
        // the one this step's approve was signed for: not sent on that.
        if let Some(s) = spender
            && call.spender != s
        {
            return Err(VenueError::Transient(format!(
                "{} now names {} as the spender, not {s} this step approved",
                quote.provider, call.spender
            )));
        }
        if !token_in.is_native() {
            self.approve_at(
                chain,
                id,
                approve_seq,
                req.token_in,
                call.spender,
                amount_in,
            )
            .await?;
        }
        // A quote that aged while its approve was mined is asked
        // for again, of the providers spending through that approve.
        let (quote, call) = if self.clock.now() > quote.valid_until {
            let ask = Ask {
                spender: Some(call.spender),
                ..ask
            };
            let (quote, again) = self
                .choose_swap(id, chain, &req, ask, min_out, deadline)
                .await?;
            if again.spender != call.spender {
                return Err(VenueError::Transient(format!(
                    "{} now names {} as the spender, not {} this step approved",
                    quote.provider, again.spender, call.spender
                )));
            }
            (quote, again)
        } else {
            (quote, call)
        };
        let provider = swaps.get(&quote.provider);
        if provider.is_some_and(|p| p.simulates()) {
            match c
                .call_raw(Some(me), call.to, call.data.clone(), call.value)
                .await
            {
                Ok(_) => {}
                Err(VenueError::Rejected(why)) => {
                    let why = format!("its transaction reverts in simulation: {why}");
                    swaps.mark_down(&quote.provider, &why, self.clock.now());
                    return Err(VenueError::Transient(format!(
                        "{} on {chain}: {why}",
                        quote.provider
                    )));
                }
                Err(other) => return Err(other),
            }
        }
        self.send_hinted(
            chain,
            id,
            1,
            "swap",
            (call.to, call.data, call.value),
            call.gas,
        )
        .await?;
        Ok(())
    }
}
