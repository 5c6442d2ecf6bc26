//! Hemi's USDC.e for the deployer, the real way: USDC minted on Ethereum
//! and bridged by the real Stargate V2 (`StargatePoolUSDC` →
//! `StargateOFTUSDC`, which mints Circle's FiatToken on arrival), the
//! packet delivered at once by the relayer's key. The deployer is never
//! made a FiatToken minter: Hemi's USDC only comes into being by Stargate.

use super::*;
use crate::venue::evm::abi::{IDevToken, IERC20};
use crate::venue::evm::stargate::{IStargate, taxi_send_param};
use alloy::primitives::U256;
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use anyhow::Context;
use std::str::FromStr;

/// Bridge `amount` USDC (6 decimals) from the deployer on Ethereum to the
/// deployer on Hemi; returns what arrived. `pe` signs as the deployer on
/// Ethereum, `hemi_relayer` as the relayer on Hemi.
pub async fn bridge_usdc_to_hemi(
    pe: &DynProvider,
    hemi_relayer: &DynProvider,
    sg: &StargateV2Contracts,
    amount: U256,
) -> anyhow::Result<U256> {
    let me = PrivateKeySigner::from_str(DEPLOYER_KEY)?.address();
    let eth = &sg.ethereum;
    deploy::call(
        pe,
        eth.usdc,
        IDevToken::mintCall {
            to: me,
            value: amount,
        }
        .abi_encode(),
        U256::ZERO,
    )
    .await?;
    deploy::call(
        pe,
        eth.usdc,
        IERC20::approveCall {
            spender: eth.usdc_stargate,
            value: amount,
        }
        .abi_encode(),
        U256::ZERO,
    )
    .await?;
    let mut param = taxi_send_param(sg.hemi.lz.eid, me, amount, U256::ZERO);
    let quoted = read(
        pe,
        eth.usdc_stargate,
        IStargate::quoteOFTCall {
            sendParam: param.clone(),
        },
    )
    .await
    .context("quoteOFT")?;
    param.minAmountLD = quoted.receipt.amountReceivedLD;
    send_delivered(
        pe,
        hemi_relayer,
        sg,
        crate::model::Chain::Ethereum,
        eth.usdc_stargate,
        param,
    )
    .await
    .context("the USDC send")?;
    Ok(quoted.receipt.amountReceivedLD)
}
