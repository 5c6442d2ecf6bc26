//! The Stargate V2 route (evm.md §2.6) from the venue's side: the pool or
//! OFT that carries a token (`[evm.<chain>.stargate]`), its kind read from
//! the contract (`token()` zero: the native pool) and checked against the
//! token, a taxi send priced by `quoteOFT` and `quoteSend` and refused past
//! the configured caps, dust removed, the ERC-20 approved for a token pool,
//! `send` with the value its kind needs and the wallet as refund address;
//! the LayerZero fee a mined send actually paid (`native_fee_paid`);
//! what the route costs, for pricing a cycle (`stargate_prices`); and
//! whether a cycle's Stargate legs are paused (`stargate_closed`).

use super::{EvmVenue, units};
use crate::model::{Chain, Route, TokenId, Units};
use crate::venue::VenueError;
use crate::venue::evm::stargate::{
    IStargate, IStargateFeeLib, MessagingFee, PoolKind, SendParam, StargateError, is_paused,
    pool_kind, remove_dust, send_value, taxi_send_param,
};
use alloy::primitives::{Address, U256, U512};
use alloy::sol_types::SolCall;

/// The size, in whole tokens, the route's fee rate is quoted at.
const PRICING_WHOLE_TOKENS: u64 = 100;

/// What `sent` loses on the way to `received`, in basis points of `sent`
/// rounded to the nearest; `None` past `u32` (a pool answering nonsense).
fn fee_bps_of(sent: U256, received: U256) -> Option<u32> {
    // In 512 bits: kept × 10 000 cannot overflow.
    let kept = U512::from(sent.saturating_sub(received));
    let sent = U512::from(sent.max(U256::from(1)));
    let bps = (kept * U512::from(10_000u32) + sent / U512::from(2u8)) / sent;
    u32::try_from(bps).ok()
}

/// A Stargate send as priced just before it is signed.
pub(super) struct StargateQuote {
    pub pool: Address,
    pub kind: PoolKind,
    /// The taxi `SendParam`, `minAmountLD` set to what `quoteOFT` promised.
    pub param: SendParam,
    pub native_fee: U256,
}

fn rejected(e: StargateError) -> VenueError {
    VenueError::Rejected(format!("Stargate: {e}"))
}

fn chain_key(chain: Chain) -> &'static str {
    match chain {
        Chain::Hemi => "hemi",
        Chain::Ethereum => "ethereum",
    }
}

impl EvmVenue {
    /// The Stargate pool or OFT that carries `token` on `chain`; a token
    /// without one is refused before anything is asked or sent.
    pub(super) fn stargate_pool(
        &self,
        chain: Chain,
        token: TokenId,
    ) -> Result<Address, VenueError> {
        self.chain_cfg(chain).stargate(token).ok_or_else(|| {
            VenueError::Rejected(format!(
                "{token} has no Stargate pool on {chain} ([evm.{}.stargate] names none): it cannot go by Stargate",
                chain_key(chain)
            ))
        })
    }

    /// What kind of Stargate `pool` is, from its `token()` (zero: the
    /// native pool; `approvalRequired()` is true on every kind), refused
    /// when it is not the configured token's.
    async fn pool_kind(
        &self,
        chain: Chain,
        token: TokenId,
        pool: Address,
    ) -> Result<PoolKind, VenueError> {
        let underlying = self
            .client(chain)
            .view(pool, IStargate::tokenCall {})
            .await?;
        let want = if token.is_native() {
            None
        } else {
            Some(self.erc20(chain, token)?)
        };
        pool_kind(underlying, want).ok_or_else(|| {
            VenueError::Rejected(format!(
                "the Stargate at {pool} on {chain} carries token {underlying}, not {token} ({}): check [evm.{}.stargate]",
                want.unwrap_or(Address::ZERO),
                chain_key(chain)
            ))
        })
    }

    /// Price a taxi send of `amount` of `token` from `from` to `to`, the
    /// wallet receiving: dust removed, refused when the path cannot take
    /// it, when it delivers less than `max_stargate_fee_bps` allows, or
    /// when the LayerZero fee is above `max_stargate_native_fee`.
    pub(super) async fn stargate_quote(
        &self,
        token: TokenId,
        from: Chain,
        to: Chain,
        amount: Units,
    ) -> Result<StargateQuote, VenueError> {
        let pool = self.stargate_pool(from, token)?;
        let kind = self.pool_kind(from, token, pool).await?;
        let c = self.client(from);
        let shared = c.view(pool, IStargate::sharedDecimalsCall {}).await?;
        let amount_ld =
            remove_dust(U256::from(amount), token.decimals(), shared).map_err(rejected)?;
        if amount_ld.is_zero() {
            return Err(VenueError::Rejected(format!(
                "{} {token} is all dust to Stargate ({shared} shared decimals): nothing to send",
                amount
            )));
        }
        let mut param =
            taxi_send_param(self.chain_cfg(to).eid, self.wallet(), amount_ld, U256::ZERO);
        let q = c
            .view(
                pool,
                IStargate::quoteOFTCall {
                    sendParam: param.clone(),
                },
            )
            .await?;
        if amount_ld > q.limit.maxAmountLD {
            return Err(VenueError::Rejected(format!(
                "Stargate's {from} → {to} path takes at most {} of {token} now, not {amount_ld}",
                q.limit.maxAmountLD
            )));
        }
        let received = q.receipt.amountReceivedLD;
        let max_bps = U256::from(self.cfg.max_stargate_fee_bps);
        let least = amount_ld - amount_ld * max_bps / U256::from(10_000u32);
        if received < least {
            return Err(VenueError::Rejected(format!(
                "Stargate would deliver {received} of {amount_ld} {token} (quoteOFT): below the {least} that evm.max_stargate_fee_bps = {} allows",
                self.cfg.max_stargate_fee_bps
            )));
        }
        param.minAmountLD = received;
        let fee = c
            .view(
                pool,
                IStargate::quoteSendCall {
                    sendParam: param.clone(),
                    payInLzToken: false,
                },
            )
            .await?;
        let cap = U256::from(self.cfg.max_stargate_native_fee);
        if fee.nativeFee > cap {
            return Err(VenueError::Rejected(format!(
                "Stargate's native fee {} wei (quoteSend) is above evm.max_stargate_native_fee ({cap} wei)",
                fee.nativeFee
            )));
        }
        Ok(StargateQuote {
            pool,
            kind,
            param,
            native_fee: fee.nativeFee,
        })
    }

    /// Carry out a Stargate bridge send: the approve of a token pool at
    /// seq 0, the `send` at seq 1 (the intent's last).
    pub(super) async fn send_by_stargate(
        &self,
        id: &str,
        token: TokenId,
        from: Chain,
        to: Chain,
        amount: Units,
    ) -> Result<(), VenueError> {
        let q = self.stargate_quote(token, from, to, amount).await?;
        let amount_ld = q.param.amountLD;
        if q.kind == PoolKind::Token {
            self.approve(
                from,
                id,
                self.erc20(from, token)?,
                q.pool,
                units(amount_ld)?,
            )
            .await?;
        }
        let value = send_value(q.kind, q.native_fee, amount_ld).map_err(rejected)?;
        let data = IStargate::sendCall {
            sendParam: q.param,
            fee: MessagingFee {
                nativeFee: q.native_fee,
                lzTokenFee: U256::ZERO,
            },
            refundAddress: self.wallet(),
        }
        .abi_encode();
        self.send(from, id, 1, "bridge", (q.pool, data.into(), value))
            .await?;
        Ok(())
    }

    /// The LayerZero fee a mined `send` paid: the fee it offered (its
    /// calldata's `nativeFee`; a native pool passes the value above the
    /// amount) less what the endpoint refunded to the wallet in the same
    /// transaction — the excess over what the message library asked, which
    /// is `quoteSend` on the state the send ran on (the block before its
    /// own). No refund is assumed when that state can no longer be read.
    pub(super) async fn native_fee_paid(
        &self,
        chain: Chain,
        pool: Address,
        data: &[u8],
        offered: U256,
        block: u64,
    ) -> Result<U256, VenueError> {
        let Ok(call) = IStargate::sendCall::abi_decode(data) else {
            return Ok(offered);
        };
        let asked = self
            .client(chain)
            .view_at(
                pool,
                IStargate::quoteSendCall {
                    sendParam: call.sendParam,
                    payInLzToken: false,
                },
                block.saturating_sub(1),
            )
            .await;
        match asked {
            Ok(fee) => Ok(offered.min(fee.nativeFee)),
            Err(e) => {
                tracing::warn!(%pool, block, error = %e, "Stargate: the fee the send ran on cannot be read; booking the fee offered");
                Ok(offered)
            }
        }
    }

    /// What the Stargate legs of a cycle cost now: the larger LayerZero
    /// native fee and the larger token fee in basis points of the way out
    /// (Hemi's ETH pool, when configured) and the way back (Ethereum's USDC
    /// pool), each quoted for `PRICING_WHOLE_TOKENS` whole tokens and
    /// rounded to the nearest basis point: `FeeLibV1` charges its rate plus
    /// one shared unit per send, which a whole basis point would overstate.
    pub(super) async fn stargate_prices(&self) -> Result<(Units, u32), VenueError> {
        let mut legs = vec![(TokenId::Usdc, Chain::Ethereum, Chain::Hemi)];
        // Every way out that is configured: Hemi's ETH pool, hemiBTC's OFT.
        for token in [TokenId::Eth, TokenId::HemiBtc] {
            if self.chain_cfg(Chain::Hemi).stargate(token).is_some() {
                legs.push((token, Chain::Hemi, Chain::Ethereum));
            }
        }
        let (mut native_fee, mut fee_bps) = (0u128, 0u32);
        for (token, from, to) in legs {
            let pool = self.stargate_pool(from, token)?;
            let c = self.client(from);
            let size = U256::from(token.one()) * U256::from(PRICING_WHOLE_TOKENS);
            let param = taxi_send_param(self.chain_cfg(to).eid, self.wallet(), size, U256::ZERO);
            let q = c
                .view(
                    pool,
                    IStargate::quoteOFTCall {
                        sendParam: param.clone(),
                    },
                )
                .await?;
            let fee = c
                .view(
                    pool,
                    IStargate::quoteSendCall {
                        sendParam: param,
                        payInLzToken: false,
                    },
                )
                .await?;
            let bps = fee_bps_of(q.receipt.amountSentLD, q.receipt.amountReceivedLD).ok_or_else(
                || {
                    VenueError::Rejected(format!(
                        "Stargate's {token} fee is out of range: {:?}",
                        q.receipt
                    ))
                },
            )?;
            native_fee = native_fee.max(units(fee.nativeFee)?);
            fee_bps = fee_bps.max(bps);
        }
        Ok((native_fee, fee_bps))
    }

    /// Why a `token` cycle on `route` cannot take its Stargate legs now, if
    /// it cannot: a Stargate at either end of a leg paused by its planner
    /// (the send, or the delivery, would revert), or the sending pool's
    /// fee library paused towards the leg's destination. The way back
    /// (USDC, Ethereum to Hemi) is every cycle's; the way out only the
    /// Stargate route's.
    pub(super) async fn stargate_closed(
        &self,
        route: Route,
        token: TokenId,
    ) -> Result<Option<String>, VenueError> {
        let mut legs = Vec::new();
        if route == Route::Stargate {
            legs.push((token, Chain::Hemi, Chain::Ethereum));
        }
        legs.push((TokenId::Usdc, Chain::Ethereum, Chain::Hemi));
        for (token, from, to) in legs {
            let mut stargate = true;
            for (chain, other) in [(from, to), (to, from)] {
                let pool = self.stargate_pool(chain, token)?;
                if !self.is_stargate(chain, pool).await? {
                    stargate = false;
                    if let Some(why) = self.oft_unpeered(token, chain, pool, other).await? {
                        return Ok(Some(why));
                    }
                    continue;
                }
                let status = self
                    .client(chain)
                    .view(pool, IStargate::statusCall {})
                    .await?;
                if is_paused(status) {
                    return Ok(Some(format!(
                        "the {token} Stargate {pool} on {chain} is paused by its planner"
                    )));
                }
            }
            // A plain OFT has no fee library (and no fee).
            if !stargate {
                continue;
            }
            let pool = self.stargate_pool(from, token)?;
            let c = self.client(from);
            let fee_lib = c
                .view(pool, IStargate::getAddressConfigCall {})
                .await?
                .feeLib;
            let eid = self.chain_cfg(to).eid;
            match c
                .view(fee_lib, IStargateFeeLib::feeConfigsCall { eid })
                .await
            {
                Ok(config) if config.paused => {
                    return Ok(Some(format!(
                        "the fee library {fee_lib} of the {token} Stargate on {from} is paused towards {to}"
                    )));
                }
                Ok(_) => {}
                // Not a FeeLibV1: its pause, if it has one, shows as the
                // quote's revert when the cycle is priced.
                Err(VenueError::Rejected(why)) => {
                    tracing::warn!(%fee_lib, %from, %why, "the Stargate's fee library does not answer feeConfigs");
                }
                Err(other) => return Err(other),
            }
        }
        Ok(None)
    }
}

impl EvmVenue {
    /// Whether `pool` is a Stargate (it answers `stargateType()`), not a
    /// plain LayerZero OFT or adapter such as hemiBTC's.
    async fn is_stargate(&self, chain: Chain, pool: Address) -> Result<bool, VenueError> {
        match self
            .client(chain)
            .view(pool, IStargate::stargateTypeCall {})
            .await
        {
            Ok(_) => Ok(true),
            Err(VenueError::Rejected(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Why a plain OFT on `chain` cannot carry `token` to or from `other`:
    /// its peer there is unset (a send would revert) or is not the OFT
    /// configured there (the tokens would go to a contract we do not track).
    async fn oft_unpeered(
        &self,
        token: TokenId,
        chain: Chain,
        oft: Address,
        other: Chain,
    ) -> Result<Option<String>, VenueError> {
        let eid = self.chain_cfg(other).eid;
        let peer = self
            .client(chain)
            .view(oft, IStargate::peersCall { eid })
            .await?;
        let want = self.stargate_pool(other, token)?;
        if peer.is_zero() {
            return Ok(Some(format!(
                "the {token} OFT {oft} on {chain} has no peer on {other} (eid {eid})"
            )));
        }
        if peer != want.into_word() {
            return Ok(Some(format!(
                "the {token} OFT {oft} on {chain} names {peer} as its peer on {other}, not {want}"
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_bps_is_the_nearest_basis_point() {
        let e18 = U256::from(10u64).pow(U256::from(18));
        let hundred = U256::from(100u64) * e18;
        // FeeLibV1 at 600 millionths: 6 bps plus one shared unit (1e12 wei).
        let fee = hundred * U256::from(600u64) / U256::from(1_000_000u64)
            + U256::from(1_000_000_000_000u64);
        assert_eq!(fee_bps_of(hundred, hundred - fee), Some(6));
        assert_eq!(
            fee_bps_of(U256::from(10_000u64), U256::from(9_993u64)),
            Some(7)
        );
        assert_eq!(
            fee_bps_of(U256::from(10_000u64), U256::from(10_000u64)),
            Some(0)
        );
        // A reward (more out than in) is no fee; nothing sent, nothing lost.
        assert_eq!(fee_bps_of(U256::from(10u64), U256::from(11u64)), Some(0));
        assert_eq!(fee_bps_of(U256::ZERO, U256::ZERO), Some(0));
        assert_eq!(fee_bps_of(U256::MAX, U256::ZERO), Some(10_000));
    }
}
