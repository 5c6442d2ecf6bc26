//! Stargate V2's own contracts on one devnet node, from the build artifacts
//! of `@stargatefinance/stg-evm-v2`: `TokenMessaging` and `CreditMessaging`
//! (the OApps on the endpoint), `StargatePoolNative` for ETH, the USDC
//! side (`StargatePoolUSDC` over a fresh 6-decimal ERC-20 on Ethereum;
//! `StargateOFTUSDC` over Circle's `FiatTokenV2_2` behind its
//! `FiatTokenProxy` on Hemi, as Hemi's bridged USDC.e is), one `FeeLibV1`
//! per Stargate, and the wiring Stargate's deploy config does: asset ids,
//! planner, peers, bus gas limits and the taxi's enforced `lzReceive` gas
//! (stg-definitions-v2's `DEFAULT_TOKEN_MESSAGING_NETWORK_CONFIG` and
//! `DEFAULT_CREDIT_MESSAGING_NETWORK_CONFIG`), each Stargate's roles.

use super::super::*;
use super::endpoint::transact;
use super::key_address;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::DynProvider;
use alloy::sol;
use alloy::sol_types::SolValue;
use anyhow::{Context, anyhow, bail};
use std::path::Path;

/// Where Stargate's build artifacts are, under `node_modules/`.
const STARGATE: &str = "@stargatefinance/stg-evm-v2/artifacts/src";

/// Stargate's asset ids (stg-definitions-v2 `ASSETS`).
pub const ETH_ASSET_ID: u16 = 13;
pub const USDC_ASSET_ID: u16 = 1;

/// `TokenMessaging`'s per-destination config (stg-definitions-v2
/// `DEFAULT_TOKEN_MESSAGING_NETWORK_CONFIG`): the enforced taxi and bus
/// `lzReceive` gas, a bus ride's and a native drop's gas, the queue.
pub const TAXI_GAS_LIMIT: u128 = 150_000;
pub const BUS_GAS_LIMIT: u128 = 38_000;
pub const BUS_RIDE_GAS_LIMIT: u128 = 60_000;
pub const NATIVE_DROP_GAS_LIMIT: u128 = 25_000;
pub const MAX_PASSENGERS: u8 = 20;
pub const QUEUE_CAPACITY: u16 = 512;
/// `CreditMessaging`'s (`DEFAULT_CREDIT_MESSAGING_NETWORK_CONFIG`).
pub const CREDIT_GAS_LIMIT: u128 = 40_000;

const MSG_TYPE_TAXI: u16 = 1;
const MSG_TYPE_BUS: u16 = 2;

sol! {
    /// How a Stargate pool or OFT is configured and funded.
    interface IStargateAdmin {
        #[derive(Debug, PartialEq, Eq)]
        struct AddressConfig {
            address feeLib;
            address planner;
            address treasurer;
            address tokenMessaging;
            address creditMessaging;
            address lzToken;
        }
        function setAddressConfig(AddressConfig _config) external;
        function getAddressConfig() external view returns (AddressConfig);
        function setPause(bool _paused) external;
        function setOFTPath(uint32 _dstEid, bool _oft) external;
        function deposit(address _receiver, uint256 _amountLD) external payable returns (uint256 amountLD);
        function paths(uint32 eid) external view returns (uint64 credit);
        function poolBalance() external view returns (uint256);
        function treasuryFee() external view returns (uint64);
        function localEid() external view returns (uint32);
    }

    /// What both messaging OApps share (`MessagingBase`, `OAppCore`,
    /// `OAppOptionsType3`).
    interface IStargateMessaging {
        #[derive(Debug, PartialEq, Eq)]
        struct EnforcedOptionParam {
            uint32 eid;
            uint16 msgType;
            bytes options;
        }
        function setAssetId(address _stargateImpl, uint16 _assetId) external;
        function setPlanner(address _planner) external;
        function setPeer(uint32 _eid, bytes32 _peer) external;
        function peers(uint32 _eid) external view returns (bytes32);
        function setEnforcedOptions(EnforcedOptionParam[] _enforcedOptions) external;
        function assetIds(address _stargateImpl) external view returns (uint16);
    }

    interface ITokenMessagingAdmin {
        function setGasLimit(uint32 _eid, uint128 _gasLimit, uint128 _nativeDropGasLimit) external;
        function setMaxNumPassengers(uint32 _dstEid, uint8 _maxNumPassengers) external;
        function setNativeDropAmount(uint32 _dstEid, uint128 _nativeDropAmount) external;
    }

    interface ICreditMessagingAdmin {
        struct TargetCredit {
            uint32 srcEid;
            uint64 amount;
            uint64 minAmount;
        }
        struct TargetCreditBatch {
            uint16 assetId;
            TargetCredit[] credits;
        }
        #[derive(Debug, PartialEq, Eq, Default)]
        struct CreditFee {
            uint256 nativeFee;
            uint256 lzTokenFee;
        }
        function setGasLimit(uint32 _eid, uint128 _gasLimit) external;
        function sendCredits(uint32 _dstEid, TargetCreditBatch[] _creditBatches) external payable;
        function quoteSendCredits(uint32 _dstEid, TargetCreditBatch[] _creditBatches) external view returns (CreditFee fee);
    }

    /// Stargate's `FeeLibV1`: a fee (in millionths) per amount zone and
    /// destination, and a reward out of a pool's deficit.
    interface IFeeLibV1 {
        function setFeeConfig(uint32 _dstEid, uint64 _zone1UpperBound, uint64 _zone2UpperBound, uint24 _zone1FeeMillionth, uint24 _zone2FeeMillionth, uint24 _zone3FeeMillionth, uint24 _rewardMillionth) external;
        function setPaused(uint32 _dstEid, bool _isPaused) external;
        function feeConfigs(uint32 eid) external view returns (bool paused, uint64 zone1UpperBound, uint64 zone2UpperBound, uint24 zone1FeeMillionth, uint24 zone2FeeMillionth, uint24 zone3FeeMillionth, uint24 rewardMillionth);
        function owner() external view returns (address);
    }

    /// Circle's FiatToken (v2.2) behind its proxy, as far as the devnet
    /// sets it up.
    interface IFiatToken {
        function initialize(string tokenName, string tokenSymbol, string tokenCurrency, uint8 tokenDecimals, address newMasterMinter, address newPauser, address newBlacklister, address newOwner) external;
        function initializeV2(string newName) external;
        function initializeV2_1(address lostAndFound) external;
        function initializeV2_2(address[] accountsToBlacklist, string newSymbol) external;
        function configureMinter(address minter, uint256 minterAllowedAmount) external returns (bool);
        function isMinter(address account) external view returns (bool);
        function decimals() external view returns (uint8);
        function changeAdmin(address newAdmin) external;
    }
}

pub(super) fn stargate_artifact(root: &Path, path: &str) -> anyhow::Result<Artifact> {
    npm_artifact(root, &format!("{STARGATE}/{path}.json"))
}

/// A Hardhat artifact whose bytecode names libraries (`__$…$__`), with
/// each placeholder its `linkReferences` list replaced by `libs`' address.
fn linked_artifact(root: &Path, path: &str, libs: &[(&str, Address)]) -> anyhow::Result<Artifact> {
    let file = root
        .join("node_modules")
        .join(format!("{STARGATE}/{path}.json"));
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&file).with_context(|| format!("{} (run `npm ci`)", file.display()))?,
    )?;
    let code = json["bytecode"]
        .as_str()
        .ok_or_else(|| anyhow!("{}: no bytecode", file.display()))?;
    let mut hex: Vec<u8> = code.trim_start_matches("0x").as_bytes().to_vec();
    let refs = json["linkReferences"]
        .as_object()
        .ok_or_else(|| anyhow!("{}: no linkReferences", file.display()))?;
    for (_source, by_name) in refs {
        for (name, places) in by_name.as_object().into_iter().flatten() {
            let address = libs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, a)| *a)
                .ok_or_else(|| anyhow!("{}: links {name}, which was not given", file.display()))?;
            let text = alloy::primitives::hex::encode(address.as_slice());
            for place in places.as_array().into_iter().flatten() {
                let start = place["start"]
                    .as_u64()
                    .and_then(|s| usize::try_from(s).ok())
                    .ok_or_else(|| anyhow!("{}: bad link start", file.display()))?;
                let at = start * 2;
                let slot = hex
                    .get_mut(at..at + 40)
                    .ok_or_else(|| anyhow!("{}: link at {start} past the code", file.display()))?;
                if !slot.starts_with(b"__$") {
                    bail!("{}: no placeholder at byte {start}", file.display());
                }
                slot.copy_from_slice(text.as_bytes());
            }
        }
    }
    let text = String::from_utf8(hex).map_err(|_| anyhow!("linked bytecode is not text"))?;
    Ok(Artifact {
        bytecode: hex_bytes(&text)?,
    })
}

/// Who may upgrade the Hemi USDC proxy (never the deployer: a FiatToken
/// proxy refuses its admin's calls to the token). A throwaway address.
pub const USDC_PROXY_ADMIN: Address = Address::new([0x5d; 20]);

/// Deploy Circle's `FiatTokenV2_2` (its `SignatureChecker` library linked)
/// behind a `FiatTokenProxy`, initialized as a 6-decimal "USDC.e" with the
/// deployer as master minter, pauser, blacklister and owner.
pub async fn deploy_fiat_usdc(root: &Path, p: &DynProvider) -> anyhow::Result<Address> {
    let deployer = key_address(DEPLOYER_KEY)?;
    let checker = deploy(
        p,
        &stargate_artifact(root, "usdc/impl/util/SignatureChecker.sol/SignatureChecker")?.bytecode,
        vec![],
    )
    .await?;
    let implementation = deploy_big(
        p,
        &linked_artifact(
            root,
            "usdc/impl/v2/FiatTokenV2_2.sol/FiatTokenV2_2",
            &[("SignatureChecker", checker)],
        )?
        .bytecode,
        vec![],
    )
    .await?;
    let proxy = deploy(
        p,
        &stargate_artifact(root, "usdc/impl/v1/FiatTokenProxy.sol/FiatTokenProxy")?.bytecode,
        implementation.abi_encode(),
    )
    .await?;
    transact(
        p,
        proxy,
        IFiatToken::changeAdminCall {
            newAdmin: USDC_PROXY_ADMIN,
        },
    )
    .await?;
    transact(
        p,
        proxy,
        IFiatToken::initializeCall {
            tokenName: "Bridged USDC (Stargate)".into(),
            tokenSymbol: "USDC.e".into(),
            tokenCurrency: "USD".into(),
            tokenDecimals: 6,
            newMasterMinter: deployer,
            newPauser: deployer,
            newBlacklister: deployer,
            newOwner: deployer,
        },
    )
    .await?;
    transact(
        p,
        proxy,
        IFiatToken::initializeV2Call {
            newName: "Bridged USDC (Stargate)".into(),
        },
    )
    .await?;
    transact(
        p,
        proxy,
        IFiatToken::initializeV2_1Call {
            lostAndFound: deployer,
        },
    )
    .await?;
    transact(
        p,
        proxy,
        IFiatToken::initializeV2_2Call {
            accountsToBlacklist: vec![],
            newSymbol: "USDC.e".into(),
        },
    )
    .await?;
    if read(p, proxy, IFiatToken::decimalsCall {}).await? != 6 {
        bail!("the FiatToken proxy does not answer 6 decimals");
    }
    Ok(proxy)
}

/// A fresh 6-decimal ERC-20 USDC (the project's DevToken).
pub async fn deploy_dev_usdc(root: &Path, p: &DynProvider) -> anyhow::Result<Address> {
    let code = contracts(root)?
        .get("DevToken")
        .ok_or_else(|| anyhow!("DevToken is not among the devnet contracts"))?
        .bytecode
        .clone();
    deploy(
        p,
        &code,
        ("USD Coin".to_string(), "USDC".to_string(), U256::from(6u8)).abi_encode_params(),
    )
    .await
}

/// Deploy `TokenMessaging` and `CreditMessaging` on `endpoint`, owned by
/// the deployer.
pub async fn deploy_messaging(
    root: &Path,
    p: &DynProvider,
    endpoint: Address,
) -> anyhow::Result<(Address, Address)> {
    let owner = key_address(DEPLOYER_KEY)?;
    let token_messaging = deploy_big(
        p,
        &stargate_artifact(root, "messaging/TokenMessaging.sol/TokenMessaging")?.bytecode,
        (endpoint, owner, QUEUE_CAPACITY).abi_encode_params(),
    )
    .await?;
    let credit_messaging = deploy_big(
        p,
        &stargate_artifact(root, "messaging/CreditMessaging.sol/CreditMessaging")?.bytecode,
        (endpoint, owner).abi_encode_params(),
    )
    .await?;
    Ok((token_messaging, credit_messaging))
}

/// Which Stargate contract to deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StargateKind {
    /// `StargatePoolNative`: ETH, 18 local and 6 shared decimals.
    PoolNative,
    /// `StargatePoolUSDC` over an ERC-20 with 6 decimals.
    PoolUsdc { token: Address },
    /// `StargateOFTUSDC` over a bridged FiatToken it mints and burns.
    OftUsdc { token: Address },
}

/// Deploy one Stargate contract on `endpoint`, owned by the deployer.
pub async fn deploy_stargate(
    root: &Path,
    p: &DynProvider,
    endpoint: Address,
    kind: StargateKind,
) -> anyhow::Result<Address> {
    let owner = key_address(DEPLOYER_KEY)?;
    // uint8 arguments take a whole ABI word: encoded as uint256.
    let (path, args) = match kind {
        StargateKind::PoolNative => (
            "StargatePoolNative.sol/StargatePoolNative",
            (
                "ETH-LP".to_string(),
                "S*ETH".to_string(),
                U256::from(18u8),
                U256::from(6u8),
                endpoint,
                owner,
            )
                .abi_encode_params(),
        ),
        StargateKind::PoolUsdc { token } => (
            "usdc/StargatePoolUSDC.sol/StargatePoolUSDC",
            (
                "USDC-LP".to_string(),
                "S*USDC".to_string(),
                token,
                U256::from(6u8),
                U256::from(6u8),
                endpoint,
                owner,
            )
                .abi_encode_params(),
        ),
        StargateKind::OftUsdc { token } => (
            "usdc/StargateOFTUSDC.sol/StargateOFTUSDC",
            (token, U256::from(6u8), endpoint, owner).abi_encode_params(),
        ),
    };
    deploy_big(p, &stargate_artifact(root, path)?.bytecode, args).await
}

/// Deploy a `FeeLibV1` for `stargate` (owned by the deployer) charging
/// `fee_millionth` in every zone towards `remote_eid`, no reward.
pub async fn deploy_fee_lib(
    root: &Path,
    p: &DynProvider,
    stargate: Address,
    remote_eid: u32,
    fee_millionth: u32,
) -> anyhow::Result<Address> {
    let fee_lib = deploy(
        p,
        &stargate_artifact(root, "feelibs/FeeLibV1.sol/FeeLibV1")?.bytecode,
        stargate.abi_encode(),
    )
    .await?;
    set_fee(p, fee_lib, remote_eid, fee_millionth).await?;
    Ok(fee_lib)
}

/// Set the fee `fee_lib` charges towards `dst_eid` to `fee_millionth` in
/// every zone (as its owner, the deployer, signs in `p`).
pub async fn set_fee(
    p: &DynProvider,
    fee_lib: Address,
    dst_eid: u32,
    fee_millionth: u32,
) -> anyhow::Result<()> {
    let fee = alloy::primitives::aliases::U24::try_from(fee_millionth)
        .map_err(|_| anyhow!("fee {fee_millionth} millionths does not fit uint24"))?;
    transact(
        p,
        fee_lib,
        IFeeLibV1::setFeeConfigCall {
            _dstEid: dst_eid,
            // One zone in practice: every amount pays the same rate.
            _zone1UpperBound: 0,
            _zone2UpperBound: 0,
            _zone1FeeMillionth: fee,
            _zone2FeeMillionth: fee,
            _zone3FeeMillionth: fee,
            _rewardMillionth: alloy::primitives::aliases::U24::ZERO,
        },
    )
    .await
}

/// Pause or unpause `stargate` as its planner (the deployer, signing in
/// `p`): every send and delivery then reverts `Stargate_Paused`.
pub async fn set_stargate_paused(
    p: &DynProvider,
    stargate: Address,
    paused: bool,
) -> anyhow::Result<()> {
    transact(
        p,
        stargate,
        IStargateAdmin::setPauseCall { _paused: paused },
    )
    .await
}

/// Pause or unpause `fee_lib` towards `dst_eid` as its owner (the
/// deployer, signing in `p`): its quotes and sends then revert
/// `FeeLib_Paused`.
pub async fn set_fee_paused(
    p: &DynProvider,
    fee_lib: Address,
    dst_eid: u32,
    paused: bool,
) -> anyhow::Result<()> {
    transact(
        p,
        fee_lib,
        IFeeLibV1::setPausedCall {
            _dstEid: dst_eid,
            _isPaused: paused,
        },
    )
    .await
}

/// Give `stargate` its fee library and roles (the deployer plans and
/// keeps the treasury), and register it under `asset_id` with both
/// messaging OApps.
pub async fn wire_stargate(
    p: &DynProvider,
    stargate: Address,
    fee_lib: Address,
    token_messaging: Address,
    credit_messaging: Address,
    asset_id: u16,
) -> anyhow::Result<()> {
    let deployer = key_address(DEPLOYER_KEY)?;
    let config = IStargateAdmin::AddressConfig {
        feeLib: fee_lib,
        planner: deployer,
        treasurer: deployer,
        tokenMessaging: token_messaging,
        creditMessaging: credit_messaging,
        lzToken: Address::ZERO,
    };
    transact(
        p,
        stargate,
        IStargateAdmin::setAddressConfigCall { _config: config },
    )
    .await?;
    for messaging in [token_messaging, credit_messaging] {
        transact(
            p,
            messaging,
            IStargateMessaging::setAssetIdCall {
                _stargateImpl: stargate,
                _assetId: asset_id,
            },
        )
        .await?;
    }
    Ok(())
}

/// One `lzReceive` executor option in type-3 form, as Stargate's config
/// enforces it.
pub fn lz_receive_option(gas: u128) -> Bytes {
    let mut b = 3u16.to_be_bytes().to_vec();
    b.push(1); // the executor
    b.extend_from_slice(&17u16.to_be_bytes()); // type + u128 gas
    b.push(1); // lzReceive
    b.extend_from_slice(&gas.to_be_bytes());
    Bytes::from(b)
}

/// Peer both messaging OApps with their remote twins and set what
/// Stargate's config sets per destination: the planner, the bus's gas, the
/// taxi's and bus's enforced `lzReceive` gas, the credit message's gas.
#[allow(clippy::too_many_arguments)]
pub async fn wire_messaging(
    p: &DynProvider,
    token_messaging: Address,
    credit_messaging: Address,
    remote_eid: u32,
    remote_token_messaging: Address,
    remote_credit_messaging: Address,
) -> anyhow::Result<()> {
    let deployer = key_address(DEPLOYER_KEY)?;
    for (local, remote) in [
        (token_messaging, remote_token_messaging),
        (credit_messaging, remote_credit_messaging),
    ] {
        transact(
            p,
            local,
            IStargateMessaging::setPlannerCall { _planner: deployer },
        )
        .await?;
        let peer: B256 = remote.into_word();
        transact(
            p,
            local,
            IStargateMessaging::setPeerCall {
                _eid: remote_eid,
                _peer: peer,
            },
        )
        .await?;
        if read(p, local, IStargateMessaging::peersCall { _eid: remote_eid }).await? != peer {
            bail!("{local} does not name {remote} as its peer");
        }
    }
    transact(
        p,
        token_messaging,
        ITokenMessagingAdmin::setGasLimitCall {
            _eid: remote_eid,
            _gasLimit: BUS_RIDE_GAS_LIMIT,
            _nativeDropGasLimit: NATIVE_DROP_GAS_LIMIT,
        },
    )
    .await?;
    transact(
        p,
        token_messaging,
        ITokenMessagingAdmin::setMaxNumPassengersCall {
            _dstEid: remote_eid,
            _maxNumPassengers: MAX_PASSENGERS,
        },
    )
    .await?;
    transact(
        p,
        token_messaging,
        IStargateMessaging::setEnforcedOptionsCall {
            _enforcedOptions: vec![
                IStargateMessaging::EnforcedOptionParam {
                    eid: remote_eid,
                    msgType: MSG_TYPE_TAXI,
                    options: lz_receive_option(TAXI_GAS_LIMIT),
                },
                IStargateMessaging::EnforcedOptionParam {
                    eid: remote_eid,
                    msgType: MSG_TYPE_BUS,
                    options: lz_receive_option(BUS_GAS_LIMIT),
                },
            ],
        },
    )
    .await?;
    transact(
        p,
        credit_messaging,
        ICreditMessagingAdmin::setGasLimitCall {
            _eid: remote_eid,
            _gasLimit: CREDIT_GAS_LIMIT,
        },
    )
    .await
}
