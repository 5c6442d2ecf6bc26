//! hemiBTC's LayerZero route on the devnet, as mainnet has it (evm.md §1.5,
//! §2.6): LayerZero's own `OFTAdapter` locking Hemi's hemiBTC and its `OFT`
//! minting Ethereum's (`assets/contracts/LayerZeroOft.sol`, the package's
//! sources made deployable), each the other's peer, over the devnet's
//! EndpointV2s and message libraries, with an enforced `lzReceive` gas so a
//! send with empty options carries what the executor needs (as the
//! adapter's owner sets it on mainnet). The deployer's hemiBTC on Ethereum,
//! for its pools there, is bridged the real way: minted on Hemi, sent
//! through the adapter, delivered by the relayer's key.

use super::*;
use crate::model::Chain;
use crate::venue::evm::abi::{IDevToken, IERC20};
use crate::venue::evm::stargate::{IStargate, MessagingFee, taxi_send_param};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::DynProvider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{SolCall, SolValue};
use anyhow::{Context, anyhow, bail};
use std::collections::HashMap;
use std::time::Duration;

/// `OFTCore.SEND`: the message type of a plain send.
const MSG_TYPE_SEND: u16 = 1;
/// The `lzReceive` gas enforced on every send (an OFT's credit is a mint
/// or an unlock: ~60 k measured on the devnet, with room).
pub const OFT_RECEIVE_GAS: u128 = 100_000;

/// The two ends of hemiBTC's OFT route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HemiBtcOft {
    /// `OFTAdapter` on Hemi: takes hemiBTC (approve it) and locks it.
    pub adapter: Address,
    /// `OFT` on Ethereum: the hemiBTC token itself, minted on arrival.
    pub oft: Address,
}

/// Deploy both ends, make them peers with the enforced options, and
/// bridge `bridged` hemiBTC of the deployer's to Ethereum. `ph`/`pe` sign
/// as the deployer; `eth_relayer` (the relayer's key on Ethereum) delivers.
pub async fn deploy_hemi_btc_oft(
    code: &HashMap<String, Artifact>,
    ph: &DynProvider,
    pe: &DynProvider,
    eth_relayer: &DynProvider,
    sg: &StargateV2Contracts,
    hemi_btc: Address,
    bridged: U256,
) -> anyhow::Result<HemiBtcOft> {
    let get = |name: &str| {
        code.get(name)
            .ok_or_else(|| anyhow!("{name} is not among assets/contracts"))
    };
    let me = key_address(DEPLOYER_KEY)?;
    let adapter = deploy(
        ph,
        &get("DevOFTAdapter")?.bytecode,
        (hemi_btc, sg.hemi.lz.endpoint, me).abi_encode_params(),
    )
    .await
    .context("OFTAdapter on Hemi")?;
    let oft = deploy(
        pe,
        &get("DevOFT8")?.bytecode,
        (
            "hemiBTC".to_string(),
            "hemiBTC".to_string(),
            sg.ethereum.lz.endpoint,
            me,
        )
            .abi_encode_params(),
    )
    .await
    .context("OFT on Ethereum")?;
    for (p, local, remote_eid, remote) in [
        (ph, adapter, sg.ethereum.lz.eid, oft),
        (pe, oft, sg.hemi.lz.eid, adapter),
    ] {
        let peer = remote.into_word();
        transact(
            p,
            local,
            IStargateMessaging::setPeerCall {
                _eid: remote_eid,
                _peer: peer,
            },
        )
        .await?;
        transact(
            p,
            local,
            IStargateMessaging::setEnforcedOptionsCall {
                _enforcedOptions: vec![IStargateMessaging::EnforcedOptionParam {
                    eid: remote_eid,
                    msgType: MSG_TYPE_SEND,
                    options: lz_receive_option(OFT_RECEIVE_GAS),
                }],
            },
        )
        .await?;
        if read(p, local, IStargateMessaging::peersCall { _eid: remote_eid }).await? != peer {
            bail!("{local} does not name {remote} as its peer");
        }
    }
    let ends = HemiBtcOft { adapter, oft };
    if !bridged.is_zero() {
        bridge_to_ethereum(ph, pe, eth_relayer, sg, ends, hemi_btc, bridged)
            .await
            .context("bridging the deployer's hemiBTC to Ethereum")?;
    }
    Ok(ends)
}

/// Mint `amount` hemiBTC to the deployer on Hemi and send it through the
/// adapter to the deployer on Ethereum, delivered at once.
async fn bridge_to_ethereum(
    ph: &DynProvider,
    pe: &DynProvider,
    eth_relayer: &DynProvider,
    sg: &StargateV2Contracts,
    ends: HemiBtcOft,
    hemi_btc: Address,
    amount: U256,
) -> anyhow::Result<()> {
    let me = key_address(DEPLOYER_KEY)?;
    transact(
        ph,
        hemi_btc,
        IDevToken::mintCall {
            to: me,
            value: amount,
        },
    )
    .await?;
    transact(
        ph,
        hemi_btc,
        IERC20::approveCall {
            spender: ends.adapter,
            value: amount,
        },
    )
    .await?;
    let param = taxi_send_param(sg.ethereum.lz.eid, me, amount, amount);
    send_delivered(ph, eth_relayer, sg, Chain::Hemi, ends.adapter, param)
        .await
        .context("the hemiBTC send")?;
    let held = read(pe, ends.oft, IERC20::balanceOfCall { owner: me }).await?;
    if held < amount {
        bail!("{held} hemiBTC arrived on Ethereum, not {amount}");
    }
    Ok(())
}

/// The deployer's taxi `send` of `param` through the IOFT `oft` (a Stargate
/// or a plain OFT) on `from` (`src` signs as the deployer), paying the
/// quoted native fee, and its one packet delivered at once by
/// `dst_relayer` (the relayer's key on the other chain).
pub async fn send_delivered(
    src: &DynProvider,
    dst_relayer: &DynProvider,
    sg: &StargateV2Contracts,
    from: Chain,
    oft: Address,
    param: crate::venue::evm::stargate::SendParam,
) -> anyhow::Result<()> {
    let me = key_address(DEPLOYER_KEY)?;
    let fee = read(
        src,
        oft,
        IStargate::quoteSendCall {
            sendParam: param.clone(),
            payInLzToken: false,
        },
    )
    .await
    .context("quoteSend")?;
    let send = IStargate::sendCall {
        sendParam: param,
        fee: MessagingFee {
            nativeFee: fee.nativeFee,
            lzTokenFee: U256::ZERO,
        },
        refundAddress: me,
    };
    let r = send_mined(
        src,
        TransactionRequest::default()
            .with_to(oft)
            .with_input(Bytes::from(send.abi_encode()))
            .with_value(fee.nativeFee)
            .with_gas_limit(1_000_000),
    )
    .await?;
    let delivered = deliver_stargate_packets(
        src,
        dst_relayer,
        &sg.path(from),
        PacketSource::Receipt(&r),
        Duration::ZERO,
    )
    .await?;
    if delivered.len() != 1 {
        bail!("the send made {} deliveries, not 1", delivered.len());
    }
    Ok(())
}
