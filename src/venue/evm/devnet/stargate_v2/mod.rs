//! The real Stargate V2 over a real LayerZero V2 on the devnet's two nodes
//! (evm.md §2.6): on each, `EndpointV2` with the chain's eid (Hemi 30329,
//! Ethereum 30101), its message library, Stargate's
//! `TokenMessaging` and `CreditMessaging`, a `StargatePoolNative` for ETH,
//! the USDC side (Ethereum: `StargatePoolUSDC` over a fresh 6-decimal
//! ERC-20; Hemi: `StargateOFTUSDC` over Circle's bridged `FiatTokenV2_2`,
//! matching the mainnet deployments), a `FeeLibV1` per Stargate with a
//! small fee, liquidity deposited and path credits moved by the real
//! `CreditMessaging`; and the relayer that stands in for the DVNs and the
//! executor (`relayer`). Every contract is the bytecode its npm package
//! publishes (`@layerzerolabs/lz-evm-protocol-v2`,
//! `@layerzerolabs/lz-evm-messagelib-v2`, `@stargatefinance/stg-evm-v2`);
//! nothing is a stand-in but the relayer.
//!
//! The message library is a choice (`StargateV2Options::message_lib`):
//! - `SimpleMessageLib`, the default: it keeps the endpoint's real send
//!   path (nonces, guid, `PacketSent`, the native fee paid to the library
//!   and the excess refunded) and its real receive path (`verify` through
//!   the registered receive library, `lzReceive` in nonce order, the
//!   payload hash cleared once); its `validatePacket` is limited to the
//!   relayer's address, the one trusted verifier of the devnet.
//! - ULN302, as mainnet Stargate uses it (`uln302`): `SendUln302` and
//!   `ReceiveUln302`, three required DVNs (as mainnet's Stargate paths
//!   have), LayerZero's `Executor`, a price feed and the workers' fee
//!   libraries; the fee is what the workers quote, and the relayer
//!   delivers as each DVN (a signed `verify` through its `DVN.execute`),
//!   anyone (`commitVerification`) and the executor
//!   (`Executor.execute302`) do (`dvn`).
//!
//! Modules: `endpoint` (EndpointV2 and which library), `uln302` (ULN302 and
//! its workers deployed and configured), `pools` (Stargate's contracts,
//! tokens and wiring), `relayer` (packets found, verified, executed once),
//! `dvn` (the relayer's DVN and executor calls on ULN302).

mod dvn;
mod endpoint;
mod oft;
mod pools;
mod relayer;
mod uln302;

pub use dvn::*;
pub use endpoint::*;
pub use oft::*;
pub use pools::*;
pub use relayer::*;
pub use uln302::*;

use super::*;
use crate::model::Chain;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use anyhow::{anyhow, bail};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// LayerZero V2 endpoint ids (evm.md §2.6).
pub const HEMI_EID: u32 = 30_329;
pub const ETHEREUM_EID: u32 = 30_101;

pub(super) fn key_address(key: &str) -> anyhow::Result<Address> {
    Ok(PrivateKeySigner::from_str(key)
        .map_err(|_| anyhow!("bad dev key"))?
        .address())
}

/// The eid of a devnet chain.
pub fn chain_eid(chain: Chain) -> u32 {
    match chain {
        Chain::Hemi => HEMI_EID,
        Chain::Ethereum => ETHEREUM_EID,
    }
}

/// What the devnet's Stargate charges and holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StargateV2Options {
    /// Every LayerZero message's native fee on `SimpleMessageLib`, in wei
    /// (ULN302's workers price each message instead).
    pub native_fee_wei: U256,
    /// The endpoints' message library.
    pub message_lib: MessageLibKind,
    /// Stargate's fee in every `FeeLibV1`, in millionths (600 = 6 bps).
    pub fee_millionth: u32,
    /// ETH the deployer deposits into each chain's native pool.
    pub eth_liquidity_wei: U256,
    /// USDC (6 decimals) the deployer deposits into Ethereum's USDC pool.
    pub usdc_liquidity: U256,
}

impl Default for StargateV2Options {
    fn default() -> Self {
        StargateV2Options {
            native_fee_wei: U256::from(300_000_000_000_000u64),
            message_lib: MessageLibKind::Uln302,
            fee_millionth: 600,
            eth_liquidity_wei: U256::from(100u64) * U256::from(10u64).pow(U256::from(18)),
            usdc_liquidity: U256::from(1_000_000u64) * U256::from(1_000_000u64),
        }
    }
}

/// Stargate and LayerZero on one chain, each contract's address by role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StargateChainContracts {
    pub chain: Chain,
    /// `EndpointV2` and its message library.
    pub lz: EndpointContracts,
    /// `TokenMessaging`: sends and receives taxi and bus messages.
    pub token_messaging: Address,
    /// `CreditMessaging`: moves path credits between the chains' pools.
    pub credit_messaging: Address,
    /// `StargatePoolNative` (ETH, 18/6, asset 13).
    pub eth_pool: Address,
    /// `FeeLibV1` of the ETH pool.
    pub eth_fee_lib: Address,
    /// The USDC token: a DevToken on Ethereum, the FiatToken proxy on Hemi.
    pub usdc: Address,
    /// Ethereum: `StargatePoolUSDC`; Hemi: `StargateOFTUSDC` (asset 1).
    pub usdc_stargate: Address,
    /// `FeeLibV1` of the USDC Stargate.
    pub usdc_fee_lib: Address,
}

impl StargateChainContracts {
    /// Every address with the role it plays, for logs and reports.
    pub fn roles(&self) -> Vec<(&'static str, Address)> {
        let usdc_stargate = match self.chain {
            Chain::Hemi => "StargateOFTUSDC",
            Chain::Ethereum => "StargatePoolUSDC",
        };
        let usdc = match self.chain {
            Chain::Hemi => "USDC.e (FiatTokenV2_2 proxy)",
            Chain::Ethereum => "USDC (DevToken, 6 decimals)",
        };
        let mut roles = vec![("EndpointV2", self.lz.endpoint)];
        match &self.lz.uln302 {
            Some(uln) => roles.extend(uln.roles()),
            None => roles.push(("SimpleMessageLib", self.lz.message_lib)),
        }
        roles.extend([
            ("TokenMessaging", self.token_messaging),
            ("CreditMessaging", self.credit_messaging),
            ("StargatePoolNative (ETH)", self.eth_pool),
            ("FeeLibV1 (ETH)", self.eth_fee_lib),
            (usdc, self.usdc),
            (usdc_stargate, self.usdc_stargate),
            ("FeeLibV1 (USDC)", self.usdc_fee_lib),
        ]);
        roles
    }
}

/// Both chains' Stargate, and who relays between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StargateV2Contracts {
    pub hemi: StargateChainContracts,
    pub ethereum: StargateChainContracts,
    /// The relayer's address: the only packet verifier, and the executor.
    pub relayer: Address,
    pub options: StargateV2Options,
}

impl StargateV2Contracts {
    pub fn chain(&self, chain: Chain) -> &StargateChainContracts {
        match chain {
            Chain::Hemi => &self.hemi,
            Chain::Ethereum => &self.ethereum,
        }
    }

    /// The LayerZero path from `from` to the other chain.
    pub fn path(&self, from: Chain) -> LzPath {
        let (src, dst) = match from {
            Chain::Hemi => (&self.hemi, &self.ethereum),
            Chain::Ethereum => (&self.ethereum, &self.hemi),
        };
        LzPath {
            src_eid: src.lz.eid,
            src_endpoint: src.lz.endpoint,
            dst_eid: dst.lz.eid,
            dst_endpoint: dst.lz.endpoint,
            dst_message_lib: dst.lz.message_lib,
            dst_uln302: dst.lz.uln302,
        }
    }
}

/// Deploy, wire and fund Stargate V2 on both nodes. `hemi` and `ethereum`
/// sign with `DEPLOYER_KEY` (the owner, planner and treasurer of it all);
/// `hemi_relayer` and `ethereum_relayer` sign with `RELAYER_KEY`, which
/// delivers the credit messages here and every packet later.
pub async fn deploy_stargate_v2(
    root: &Path,
    hemi: &DynProvider,
    ethereum: &DynProvider,
    hemi_relayer: &DynProvider,
    ethereum_relayer: &DynProvider,
    options: StargateV2Options,
) -> anyhow::Result<StargateV2Contracts> {
    let relayer = key_address(RELAYER_KEY)?;
    let deployer = key_address(DEPLOYER_KEY)?;
    let hemi_lz = deploy_endpoint(
        root,
        hemi,
        HEMI_EID,
        ETHEREUM_EID,
        options.native_fee_wei,
        relayer,
        options.message_lib,
    )
    .await?;
    let eth_lz = deploy_endpoint(
        root,
        ethereum,
        ETHEREUM_EID,
        HEMI_EID,
        options.native_fee_wei,
        relayer,
        options.message_lib,
    )
    .await?;

    let (hemi_tm, hemi_cm) = deploy_messaging(root, hemi, hemi_lz.endpoint).await?;
    let (eth_tm, eth_cm) = deploy_messaging(root, ethereum, eth_lz.endpoint).await?;

    let hemi_usdc = deploy_fiat_usdc(root, hemi).await?;
    let eth_usdc = deploy_dev_usdc(root, ethereum).await?;

    let hemi_eth_pool =
        deploy_stargate(root, hemi, hemi_lz.endpoint, StargateKind::PoolNative).await?;
    let eth_eth_pool =
        deploy_stargate(root, ethereum, eth_lz.endpoint, StargateKind::PoolNative).await?;
    let hemi_oft = deploy_stargate(
        root,
        hemi,
        hemi_lz.endpoint,
        StargateKind::OftUsdc { token: hemi_usdc },
    )
    .await?;
    let eth_usdc_pool = deploy_stargate(
        root,
        ethereum,
        eth_lz.endpoint,
        StargateKind::PoolUsdc { token: eth_usdc },
    )
    .await?;
    // The OFT mints what arrives and burns what leaves (bridged USDC).
    endpoint::transact(
        hemi,
        hemi_usdc,
        IFiatToken::configureMinterCall {
            minter: hemi_oft,
            minterAllowedAmount: U256::from(u64::MAX),
        },
    )
    .await?;

    let fee = options.fee_millionth;
    let hemi_eth_fee = deploy_fee_lib(root, hemi, hemi_eth_pool, ETHEREUM_EID, fee).await?;
    let eth_eth_fee = deploy_fee_lib(root, ethereum, eth_eth_pool, HEMI_EID, fee).await?;
    let hemi_usdc_fee = deploy_fee_lib(root, hemi, hemi_oft, ETHEREUM_EID, fee).await?;
    let eth_usdc_fee = deploy_fee_lib(root, ethereum, eth_usdc_pool, HEMI_EID, fee).await?;

    wire_stargate(
        hemi,
        hemi_eth_pool,
        hemi_eth_fee,
        hemi_tm,
        hemi_cm,
        ETH_ASSET_ID,
    )
    .await?;
    wire_stargate(
        hemi,
        hemi_oft,
        hemi_usdc_fee,
        hemi_tm,
        hemi_cm,
        USDC_ASSET_ID,
    )
    .await?;
    wire_stargate(
        ethereum,
        eth_eth_pool,
        eth_eth_fee,
        eth_tm,
        eth_cm,
        ETH_ASSET_ID,
    )
    .await?;
    wire_stargate(
        ethereum,
        eth_usdc_pool,
        eth_usdc_fee,
        eth_tm,
        eth_cm,
        USDC_ASSET_ID,
    )
    .await?;
    wire_messaging(hemi, hemi_tm, hemi_cm, ETHEREUM_EID, eth_tm, eth_cm).await?;
    wire_messaging(ethereum, eth_tm, eth_cm, HEMI_EID, hemi_tm, hemi_cm).await?;
    // Hemi's USDC is an OFT: Ethereum's pool sends to it without spending
    // credit, as Stargate's config marks a path to an OFT.
    endpoint::transact(
        ethereum,
        eth_usdc_pool,
        IStargateAdmin::setOFTPathCall {
            _dstEid: HEMI_EID,
            _oft: true,
        },
    )
    .await?;

    // Liquidity: ETH on both sides, USDC on Ethereum.
    for (p, pool) in [(hemi, hemi_eth_pool), (ethereum, eth_eth_pool)] {
        let call = IStargateAdmin::depositCall {
            _receiver: deployer,
            _amountLD: options.eth_liquidity_wei,
        };
        call_value(p, pool, call, options.eth_liquidity_wei).await?;
    }
    endpoint::transact(
        ethereum,
        eth_usdc,
        crate::venue::evm::abi::IDevToken::mintCall {
            to: deployer,
            value: options.usdc_liquidity,
        },
    )
    .await?;
    endpoint::transact(
        ethereum,
        eth_usdc,
        crate::venue::evm::abi::IERC20::approveCall {
            spender: eth_usdc_pool,
            value: options.usdc_liquidity,
        },
    )
    .await?;
    endpoint::transact(
        ethereum,
        eth_usdc_pool,
        IStargateAdmin::depositCall {
            _receiver: deployer,
            _amountLD: options.usdc_liquidity,
        },
    )
    .await?;

    let contracts = StargateV2Contracts {
        hemi: StargateChainContracts {
            chain: Chain::Hemi,
            lz: hemi_lz,
            token_messaging: hemi_tm,
            credit_messaging: hemi_cm,
            eth_pool: hemi_eth_pool,
            eth_fee_lib: hemi_eth_fee,
            usdc: hemi_usdc,
            usdc_stargate: hemi_oft,
            usdc_fee_lib: hemi_usdc_fee,
        },
        ethereum: StargateChainContracts {
            chain: Chain::Ethereum,
            lz: eth_lz,
            token_messaging: eth_tm,
            credit_messaging: eth_cm,
            eth_pool: eth_eth_pool,
            eth_fee_lib: eth_eth_fee,
            usdc: eth_usdc,
            usdc_stargate: eth_usdc_pool,
            usdc_fee_lib: eth_usdc_fee,
        },
        relayer,
        options,
    };

    // Credits, as the planner moves them: half of each pool's local credit
    // to the other chain's path towards it (and Ethereum's USDC credit to
    // Hemi's OFT, so USDC can come back).
    let half_eth = shared_units(contracts.options.eth_liquidity_wei, 18)? / 2;
    let half_usdc = shared_units(contracts.options.usdc_liquidity, 6)? / 2;
    send_credits(
        hemi,
        ethereum_relayer,
        &contracts,
        Chain::Hemi,
        &[(ETH_ASSET_ID, half_eth)],
    )
    .await?;
    send_credits(
        ethereum,
        hemi_relayer,
        &contracts,
        Chain::Ethereum,
        &[(ETH_ASSET_ID, half_eth), (USDC_ASSET_ID, half_usdc)],
    )
    .await?;
    for (p, pool, remote) in [
        (hemi, hemi_eth_pool, ETHEREUM_EID),
        (ethereum, eth_eth_pool, HEMI_EID),
        (hemi, hemi_oft, ETHEREUM_EID),
    ] {
        let credit = read(p, pool, IStargateAdmin::pathsCall { eid: remote }).await?;
        if credit == 0 {
            bail!("{pool} has no credit towards eid {remote} after the credit messages");
        }
    }
    Ok(contracts)
}

/// `amount_ld` in Stargate's 6 shared decimals.
fn shared_units(amount_ld: U256, local_decimals: u8) -> anyhow::Result<u64> {
    crate::venue::evm::stargate::to_shared(amount_ld, local_decimals, 6).map_err(Into::into)
}

async fn call_value(
    p: &DynProvider,
    to: Address,
    c: impl SolCall,
    value: U256,
) -> anyhow::Result<()> {
    send_mined(
        p,
        TransactionRequest::default()
            .with_to(to)
            .with_input(alloy::primitives::Bytes::from(c.abi_encode()))
            .with_value(value),
    )
    .await?;
    Ok(())
}

/// Move `credits` (asset id, shared units) of `from`'s pools' local credit
/// to the other chain through the real `CreditMessaging` (as the planner,
/// the deployer, signs in `planner`), and deliver the message at once
/// with the relayer `dst_relayer` signs for.
pub async fn send_credits(
    planner: &DynProvider,
    dst_relayer: &DynProvider,
    contracts: &StargateV2Contracts,
    from: Chain,
    credits: &[(u16, u64)],
) -> anyhow::Result<Vec<Delivery>> {
    let here = contracts.chain(from);
    let path = contracts.path(from);
    let batches: Vec<ICreditMessagingAdmin::TargetCreditBatch> = credits
        .iter()
        .map(
            |&(asset_id, amount)| ICreditMessagingAdmin::TargetCreditBatch {
                assetId: asset_id,
                credits: vec![ICreditMessagingAdmin::TargetCredit {
                    srcEid: here.lz.eid,
                    amount,
                    minAmount: 0,
                }],
            },
        )
        .collect();
    let fee = read(
        planner,
        here.credit_messaging,
        ICreditMessagingAdmin::quoteSendCreditsCall {
            _dstEid: path.dst_eid,
            _creditBatches: batches.clone(),
        },
    )
    .await?;
    let receipt = send_mined(
        planner,
        TransactionRequest::default()
            .with_to(here.credit_messaging)
            .with_input(alloy::primitives::Bytes::from(
                ICreditMessagingAdmin::sendCreditsCall {
                    _dstEid: path.dst_eid,
                    _creditBatches: batches,
                }
                .abi_encode(),
            ))
            .with_value(fee.nativeFee),
    )
    .await?;
    let delivered = deliver_stargate_packets(
        planner,
        dst_relayer,
        &path,
        PacketSource::Receipt(&receipt),
        Duration::ZERO,
    )
    .await?;
    if delivered.len() != 1 {
        bail!(
            "the credit message made {} deliveries, not 1",
            delivered.len()
        );
    }
    Ok(delivered)
}
