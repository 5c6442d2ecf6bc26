//! LayerZero's ULN302 on one devnet node, as mainnet Stargate uses it
//! (evm.md §2.6): `SendUln302` and `ReceiveUln302` from
//! `@layerzerolabs/lz-evm-messagelib-v2`, three required DVNs as mainnet's
//! Stargate paths have (each the package's
//! `DVN`, a one-signer multisig whose signer and admin is the devnet
//! relayer), the package's `Executor` (its admin is the relayer too), a
//! `PriceFeed` and the `DVNFeeLib` and `ExecutorFeeLib` that price every
//! message, so `quoteSend` answers the fee the workers charge and the
//! keeper pays it. No treasury: the send library then takes no protocol
//! fee. `PriceFeed` and `Executor` are hardhat-deploy `Proxied`
//! contracts; here each is initialized in place rather than behind a
//! proxy (the `proxied` modifier allows exactly that), which changes none
//! of their logic.
//!
//! The endpoint side (registering the libraries, making them the
//! defaults) is `endpoint`'s; the relayer's DVN and executor calls are
//! `dvn`'s.

use super::super::*;
use super::endpoint::transact;
use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use alloy::sol;
use alloy::sol_types::SolValue;
use anyhow::bail;
use std::path::Path;

/// Where the ULN302 build artifacts are, under `node_modules/`.
const MESSAGELIB: &str = "@layerzerolabs/lz-evm-messagelib-v2/artifacts/contracts";

/// The confirmations the default ULN config asks of the DVN (and that the
/// devnet's DVN claims when it verifies).
pub const ULN_CONFIRMATIONS: u64 = 1;
/// The largest message the default executor config lets through.
pub const MAX_MESSAGE_SIZE: u32 = 10_000;
/// The gas the DVN says its `verify` costs on the destination (its fee).
pub const DVN_VERIFY_GAS: u64 = 100_000;
/// The gas the executor adds to the options' `lzReceive` gas (its fee).
pub const EXECUTOR_BASE_GAS: u64 = 50_000;
/// The destination gas price the price feed quotes, in wei (0.5 gwei).
pub const GAS_PRICE_WEI: u64 = 500_000_000;

sol! {
    /// The parts of `SendUln302` and `ReceiveUln302` the devnet configures
    /// and the relayer calls.
    interface IUln302 {
        #[derive(Debug, PartialEq, Eq)]
        struct UlnConfig {
            uint64 confirmations;
            uint8 requiredDVNCount;
            uint8 optionalDVNCount;
            uint8 optionalDVNThreshold;
            address[] requiredDVNs;
            address[] optionalDVNs;
        }
        struct SetDefaultUlnConfigParam {
            uint32 eid;
            UlnConfig config;
        }
        struct ExecutorConfig {
            uint32 maxMessageSize;
            address executor;
        }
        struct SetDefaultExecutorConfigParam {
            uint32 eid;
            ExecutorConfig config;
        }

        function setDefaultUlnConfigs(SetDefaultUlnConfigParam[] _params) external;
        function setDefaultExecutorConfigs(SetDefaultExecutorConfigParam[] _params) external;
        function getUlnConfig(address _oapp, uint32 _remoteEid) external view returns (UlnConfig);
        function isSupportedEid(uint32 _eid) external view returns (bool);
        function fees(address _worker) external view returns (uint256);
        function verify(bytes _packetHeader, bytes32 _payloadHash, uint64 _confirmations) external;
        function commitVerification(bytes _packetHeader, bytes32 _payloadHash) external;
        function hashLookup(bytes32 _headerHash, bytes32 _payloadHash, address _dvn) external view returns (bool submitted, uint64 confirmations);

        event PayloadVerified(address dvn, bytes header, uint256 confirmations, bytes32 proofHash);

        error LZ_ULN_Verifying();
    }

    /// The package's `DVN`: a multisig worker whose admin submits what its
    /// signers signed.
    interface IDVN {
        struct ExecuteParam {
            uint32 vid;
            address target;
            bytes callData;
            uint256 expiration;
            bytes signatures;
        }
        struct DstConfigParam {
            uint32 dstEid;
            uint64 gas;
            uint16 multiplierBps;
            uint128 floorMarginUSD;
        }

        function vid() external view returns (uint32);
        function setDstConfig(DstConfigParam[] _params) external;
        function setWorkerFeeLib(address _workerFeeLib) external;
        function execute(ExecuteParam[] _params) external;
        function hashCallData(uint32 _vid, address _target, bytes _callData, uint256 _expiration) external pure returns (bytes32);
        function getFee(uint32 _dstEid, uint64 _confirmations, address _sender, bytes _options) external view returns (uint256);

        event ExecuteFailed(uint256 _index, bytes _data);
        event VerifySignaturesFailed(uint256 idx);
    }

    /// The package's `Executor` (initialized in place).
    interface IExecutor {
        #[derive(Debug, PartialEq, Eq)]
        struct Origin {
            uint32 srcEid;
            bytes32 sender;
            uint64 nonce;
        }
        struct DstConfigParam {
            uint32 dstEid;
            uint64 lzReceiveBaseGas;
            uint64 lzComposeBaseGas;
            uint16 multiplierBps;
            uint128 floorMarginUSD;
            uint128 nativeCap;
        }
        struct ExecutionParams {
            address receiver;
            Origin origin;
            bytes32 guid;
            bytes message;
            bytes extraData;
            uint256 gasLimit;
        }

        function initialize(address _endpoint, address _receiveUln301, address[] _messageLibs, address _priceFeed, address _roleAdmin, address[] _admins) external;
        function setDstConfig(DstConfigParam[] _params) external;
        function setWorkerFeeLib(address _workerFeeLib) external;
        function execute302(ExecutionParams _executionParams) external payable;
        function endpoint() external view returns (address);
        function getFee(uint32 _dstEid, address _sender, uint256 _calldataSize, bytes _options) external view returns (uint256);
    }

    /// The package's `PriceFeed` (initialized in place).
    interface IPriceFeed {
        struct Price {
            uint128 priceRatio;
            uint64 gasPriceInUnit;
            uint32 gasPerByte;
        }
        struct UpdatePrice {
            uint32 eid;
            Price price;
        }

        function initialize(address _priceUpdater) external;
        function setPrice(UpdatePrice[] _price) external;
        function getPriceRatioDenominator() external view returns (uint128);
    }
}

/// One chain's ULN302 and its workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uln302Contracts {
    /// `SendUln302`: the default send library towards the remote eid.
    pub send_lib: Address,
    /// `ReceiveUln302`: the default receive library from the remote eid.
    pub receive_lib: Address,
    /// `DVN`s: the required DVNs both ways, as many as mainnet's Stargate
    /// paths require (evm.md §2.6), ascending (as the ULN config lists
    /// them); `vid` is their chain's instance id.
    pub dvns: [Address; DVN_COUNT],
    pub dvn_vid: u32,
    /// `Executor`: the send library's default executor.
    pub executor: Address,
    pub price_feed: Address,
    pub dvn_fee_lib: Address,
    pub executor_fee_lib: Address,
}

impl Uln302Contracts {
    /// Every address with the role it plays, for logs and reports.
    pub fn roles(&self) -> Vec<(&'static str, Address)> {
        let mut out = vec![
            ("SendUln302", self.send_lib),
            ("ReceiveUln302", self.receive_lib),
        ];
        out.extend(self.dvns.iter().map(|d| ("DVN", *d)));
        out.extend([
            ("Executor", self.executor),
            ("PriceFeed", self.price_feed),
            ("DVNFeeLib", self.dvn_fee_lib),
            ("ExecutorFeeLib", self.executor_fee_lib),
        ]);
        out
    }

    /// The workers a send pays: every DVN and the executor.
    pub fn workers(&self) -> Vec<Address> {
        let mut out = self.dvns.to_vec();
        out.push(self.executor);
        out
    }
}

fn messagelib_artifact(root: &Path, dir: &str, name: &str) -> anyhow::Result<Artifact> {
    npm_artifact(root, &format!("{MESSAGELIB}/{dir}{name}.sol/{name}.json"))
}

/// How many DVNs every message needs: mainnet's Stargate paths require
/// three (evm.md §2.6).
pub const DVN_COUNT: usize = 3;

/// The default ULN config both libraries hold for the remote eid: the
/// required DVNs (ascending, as the library insists), `ULN_CONFIRMATIONS`
/// confirmations, no optional DVNs.
pub fn default_uln_config(dvns: &[Address]) -> IUln302::UlnConfig {
    let mut required = dvns.to_vec();
    required.sort();
    IUln302::UlnConfig {
        confirmations: ULN_CONFIRMATIONS,
        requiredDVNCount: u8::try_from(required.len()).unwrap_or(u8::MAX),
        optionalDVNCount: 0,
        optionalDVNThreshold: 0,
        requiredDVNs: required,
        optionalDVNs: Vec::new(),
    }
}

/// Deploy and configure ULN302 and its workers on the chain of `endpoint`
/// (`eid`) for messages to and from `remote_eid`, owned by the deployer
/// (`p` signs with `DEPLOYER_KEY`); `relayer` is the DVN's signer and the
/// admin of the DVN and the executor. The libraries are not registered
/// with the endpoint here.
pub async fn deploy_uln302(
    root: &Path,
    p: &DynProvider,
    endpoint: Address,
    eid: u32,
    remote_eid: u32,
    relayer: Address,
) -> anyhow::Result<Uln302Contracts> {
    let owner = super::key_address(DEPLOYER_KEY)?;
    let send_lib = deploy_big(
        p,
        &messagelib_artifact(root, "uln/uln302/", "SendUln302")?.bytecode,
        // Treasury gas limit and native fee cap: unused without a treasury.
        (endpoint, U256::from(100_000u64), U256::from(100_000u64)).abi_encode_params(),
    )
    .await?;
    let receive_lib = deploy_big(
        p,
        &messagelib_artifact(root, "uln/uln302/", "ReceiveUln302")?.bytecode,
        (endpoint,).abi_encode_params(),
    )
    .await?;

    // The price of the remote chain's gas, in this chain's native token
    // (both ETH: a 1:1 ratio), keyed as the feed keys it (eid % 30000).
    let price_feed = deploy_big(
        p,
        &messagelib_artifact(root, "", "PriceFeed")?.bytecode,
        Vec::new(),
    )
    .await?;
    transact(
        p,
        price_feed,
        IPriceFeed::initializeCall {
            _priceUpdater: owner,
        },
    )
    .await?;
    let denominator = read(p, price_feed, IPriceFeed::getPriceRatioDenominatorCall {}).await?;
    transact(
        p,
        price_feed,
        IPriceFeed::setPriceCall {
            _price: vec![IPriceFeed::UpdatePrice {
                eid: remote_eid % 30_000,
                price: IPriceFeed::Price {
                    priceRatio: denominator,
                    gasPriceInUnit: GAS_PRICE_WEI,
                    gasPerByte: 16,
                },
            }],
        },
    )
    .await?;
    let native_decimals_rate = U256::from(10u64).pow(U256::from(18));
    let fee_lib_args = (eid, native_decimals_rate).abi_encode_params();
    let dvn_fee_lib = deploy_big(
        p,
        &messagelib_artifact(root, "uln/dvn/", "DVNFeeLib")?.bytecode,
        fee_lib_args.clone(),
    )
    .await?;
    let executor_fee_lib = deploy_big(
        p,
        &messagelib_artifact(root, "", "ExecutorFeeLib")?.bytecode,
        fee_lib_args,
    )
    .await?;

    // The DVNs: vid as LayerZero numbers its instances (eid % 30000), the
    // relayer each one's signer (quorum 1), the deployer and the relayer
    // their admins; one fee lib prices them all.
    let dvn_vid = eid % 30_000;
    let mut dvns = [Address::ZERO; DVN_COUNT];
    for dvn in dvns.iter_mut() {
        *dvn = deploy_big(
            p,
            &messagelib_artifact(root, "uln/dvn/", "DVN")?.bytecode,
            (
                eid,
                dvn_vid,
                vec![send_lib, receive_lib],
                price_feed,
                vec![relayer],
                1u64,
                vec![owner, relayer],
            )
                .abi_encode_params(),
        )
        .await?;
        transact(
            p,
            *dvn,
            IDVN::setWorkerFeeLibCall {
                _workerFeeLib: dvn_fee_lib,
            },
        )
        .await?;
        transact(
            p,
            *dvn,
            IDVN::setDstConfigCall {
                _params: vec![IDVN::DstConfigParam {
                    dstEid: remote_eid,
                    gas: DVN_VERIFY_GAS,
                    multiplierBps: 0,
                    floorMarginUSD: 0,
                }],
            },
        )
        .await?;
    }
    dvns.sort();

    let executor = deploy_big(
        p,
        &messagelib_artifact(root, "", "Executor")?.bytecode,
        Vec::new(),
    )
    .await?;
    transact(
        p,
        executor,
        IExecutor::initializeCall {
            _endpoint: endpoint,
            _receiveUln301: Address::ZERO,
            _messageLibs: vec![send_lib],
            _priceFeed: price_feed,
            _roleAdmin: owner,
            _admins: vec![owner, relayer],
        },
    )
    .await?;
    transact(
        p,
        executor,
        IExecutor::setWorkerFeeLibCall {
            _workerFeeLib: executor_fee_lib,
        },
    )
    .await?;
    transact(
        p,
        executor,
        IExecutor::setDstConfigCall {
            _params: vec![IExecutor::DstConfigParam {
                dstEid: remote_eid,
                lzReceiveBaseGas: EXECUTOR_BASE_GAS,
                lzComposeBaseGas: 0,
                multiplierBps: 0,
                floorMarginUSD: 0,
                // The most native value a message may ask delivered: 1 ETH.
                nativeCap: 10u128.pow(18),
            }],
        },
    )
    .await?;
    if read(p, executor, IExecutor::endpointCall {}).await? != endpoint {
        bail!("the Executor was not initialized on the endpoint");
    }

    for lib in [send_lib, receive_lib] {
        transact(
            p,
            lib,
            IUln302::setDefaultUlnConfigsCall {
                _params: vec![IUln302::SetDefaultUlnConfigParam {
                    eid: remote_eid,
                    config: default_uln_config(&dvns),
                }],
            },
        )
        .await?;
    }
    transact(
        p,
        send_lib,
        IUln302::setDefaultExecutorConfigsCall {
            _params: vec![IUln302::SetDefaultExecutorConfigParam {
                eid: remote_eid,
                config: IUln302::ExecutorConfig {
                    maxMessageSize: MAX_MESSAGE_SIZE,
                    executor,
                },
            }],
        },
    )
    .await?;
    for lib in [send_lib, receive_lib] {
        if !read(p, lib, IUln302::isSupportedEidCall { _eid: remote_eid }).await? {
            bail!("ULN302 at {lib} does not support eid {remote_eid} once configured");
        }
    }
    Ok(Uln302Contracts {
        send_lib,
        receive_lib,
        dvns,
        dvn_vid,
        executor,
        price_feed,
        dvn_fee_lib,
        executor_fee_lib,
    })
}
