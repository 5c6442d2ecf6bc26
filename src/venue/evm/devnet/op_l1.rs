//! The OP Stack's real withdrawal contracts on the devnet (evm.md §1.2,
//! §1.4): on the Ethereum-like node the legacy `OptimismPortal` that proves
//! against an `L2OutputOracle` (the v2.x line Hemi runs), the oracle, and
//! the `SystemConfig` and `SuperchainConfig` the portal's initializer
//! needs, each behind its own `Proxy` and initialized through it, all from
//! the forge artifacts of `@eth-optimism/contracts-bedrock` in
//! `node_modules`; on the Hemi-like node the package's real
//! `L2ToL1MessagePasser` set at its predeploy address; and the devnet's
//! proposer (`propose_output`), which posts the honest output root of a
//! Hemi block. The portal's prove and finalize are sent with the keeper's
//! own calldata (`tunnel::prove_calldata`, re-exported here), so the devnet
//! checks the proof builder against the real portal.

use super::*;
pub use crate::venue::evm::tunnel::{
    FINALIZE_SIGNATURE, PROVE_SIGNATURE, finalize_calldata, prove_calldata,
};
use crate::venue::evm::tunnel::{
    L2_TO_L1_MESSAGE_PASSER, OUTPUT_ROOT_VERSION, OutputRootProof, output_root,
};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use anyhow::{Context, anyhow, bail};
use std::path::Path;
use std::str::FromStr;

/// The devnet's output proposer (anvil dev account #4; throwaway).
pub const OP_PROPOSER_KEY: &str =
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";
/// The devnet's challenger and guardian, who can pause the portal (anvil
/// dev account #5; throwaway).
pub const OP_GUARDIAN_KEY: &str =
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";

/// Where the forge artifacts are, under `node_modules/`.
const BEDROCK: &str = "@eth-optimism/contracts-bedrock/forge-artifacts";

sol! {
    /// The legacy portal's reads (prove and finalize are encoded from the
    /// tunnel's types: `prove_calldata`, `finalize_calldata`).
    interface IOptimismPortal {
        function initialize(address _l2Oracle, address _systemConfig, address _superchainConfig) external;
        function provenWithdrawals(bytes32 withdrawalHash) external view returns (bytes32 outputRoot, uint128 timestamp, uint128 l2OutputIndex);
        function finalizedWithdrawals(bytes32 withdrawalHash) external view returns (bool);
        function isOutputFinalized(uint256 _l2OutputIndex) external view returns (bool);
        function paused() external view returns (bool);
        function guardian() external view returns (address);
        function l2Oracle() external view returns (address);
        function systemConfig() external view returns (address);
        function superchainConfig() external view returns (address);
        function version() external view returns (string memory);
        event WithdrawalProven(bytes32 indexed withdrawalHash, address indexed from, address indexed to);
        event WithdrawalFinalized(bytes32 indexed withdrawalHash, bool success);
        error CallPaused();
        error BadTarget();
    }

    /// `Types.OutputProposal`.
    #[derive(Debug, PartialEq, Eq)]
    struct OutputProposal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }

    interface IL2OutputOracle {
        function initialize(uint256 _submissionInterval, uint256 _l2BlockTime, uint256 _startingBlockNumber, uint256 _startingTimestamp, address _proposer, address _challenger, uint256 _finalizationPeriodSeconds) external;
        function proposeL2Output(bytes32 _outputRoot, uint256 _l2BlockNumber, bytes32 _l1BlockHash, uint256 _l1BlockNumber) external payable;
        function nextBlockNumber() external view returns (uint256);
        function latestBlockNumber() external view returns (uint256);
        function nextOutputIndex() external view returns (uint256);
        function computeL2Timestamp(uint256 _l2BlockNumber) external view returns (uint256);
        function getL2OutputIndexAfter(uint256 _l2BlockNumber) external view returns (uint256);
        function getL2Output(uint256 _l2OutputIndex) external view returns (OutputProposal memory);
        function FINALIZATION_PERIOD_SECONDS() external view returns (uint256);
        function PROPOSER() external view returns (address);
        function CHALLENGER() external view returns (address);
        function version() external view returns (string memory);
        event OutputProposed(bytes32 indexed outputRoot, uint256 indexed l2OutputIndex, uint256 indexed l2BlockNumber, uint256 l1Timestamp);
    }

    interface ISuperchainConfig {
        function initialize(address _guardian, bool _paused) external;
        function pause(string memory _identifier) external;
        function unpause() external;
        function paused() external view returns (bool);
        function guardian() external view returns (address);
        function version() external view returns (string memory);
    }

    /// `ResourceMetering.ResourceConfig`.
    struct ResourceConfig {
        uint32 maxResourceLimit;
        uint8 elasticityMultiplier;
        uint8 baseFeeMaxChangeDenominator;
        uint32 minimumBaseFee;
        uint32 systemTxMaxGas;
        uint128 maximumBaseFee;
    }

    /// `SystemConfig.Addresses`.
    struct SystemConfigAddresses {
        address l1CrossDomainMessenger;
        address l1ERC721Bridge;
        address l1StandardBridge;
        address disputeGameFactory;
        address optimismPortal;
        address optimismMintableERC20Factory;
        address gasPayingToken;
    }

    interface ISystemConfig {
        function initialize(address _owner, uint32 _basefeeScalar, uint32 _blobbasefeeScalar, bytes32 _batcherHash, uint64 _gasLimit, address _unsafeBlockSigner, ResourceConfig _config, address _batchInbox, SystemConfigAddresses _addresses) external;
        function version() external view returns (string memory);
    }

    /// The OP Stack's `Proxy` (admin functions answer only its admin).
    interface IOpProxy {
        function upgradeToAndCall(address _implementation, bytes _data) external payable returns (bytes memory);
    }
}

/// The oracle's and portal's devnet parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpL1Options {
    /// L2 blocks between outputs (`submissionInterval`).
    pub submission_interval: u64,
    /// Seconds per L2 block as the oracle computes output timestamps.
    pub l2_block_time: u64,
    /// The oracle's `finalizationPeriodSeconds`, which the portal uses.
    pub finalization_period_secs: u64,
    /// How far before the L1's clock the oracle's `startingTimestamp` is
    /// set. The oracle takes an output only once its computed L2 time
    /// (`startingTimestamp + blocks × l2BlockTime`) is past the L1's clock;
    /// a devnet Hemi mining faster than `l2_block_time` would otherwise
    /// need the L1 clock pushed ahead of the wall clock at each output.
    pub starting_timestamp_lag_secs: u64,
}

impl Default for OpL1Options {
    fn default() -> Self {
        OpL1Options {
            submission_interval: 10,
            l2_block_time: 1,
            finalization_period_secs: 4,
            starting_timestamp_lag_secs: 0,
        }
    }
}

/// What was deployed on the devnet's Ethereum, with the versions the
/// contracts report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpL1Contracts {
    /// `OptimismPortal` (proxy).
    pub portal: Address,
    /// `L2OutputOracle` (proxy).
    pub oracle: Address,
    pub system_config: Address,
    pub superchain_config: Address,
    pub portal_implementation: Address,
    pub oracle_implementation: Address,
    pub proposer: Address,
    pub challenger: Address,
    pub guardian: Address,
    /// The proxies' admin (the deployer): it cannot call the contracts
    /// behind them, the proxy answers it itself for its own functions.
    pub proxy_admin: Address,
    /// The oracle's first L2 block and its timestamp.
    pub starting_block: u64,
    pub starting_timestamp: u64,
    pub options: OpL1Options,
    pub portal_version: String,
    pub oracle_version: String,
    pub system_config_version: String,
    pub superchain_config_version: String,
}

/// An output the devnet proposer posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedOutput {
    pub index: u64,
    pub l2_block: u64,
    pub output_root: B256,
    pub output_root_proof: OutputRootProof,
}

fn bedrock_artifact(root: &Path, name: &str) -> anyhow::Result<Artifact> {
    let path = root
        .join("node_modules")
        .join(BEDROCK)
        .join(format!("{name}.sol/{name}.json"));
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("{} (run `npm ci`)", path.display()))?,
    )?;
    let code = json["bytecode"]["object"]
        .as_str()
        .ok_or_else(|| anyhow!("{}: no bytecode.object", path.display()))?;
    Ok(Artifact {
        bytecode: hex_bytes(code)?,
    })
}

/// The deployed bytecode of the package's `L2ToL1MessagePasser`, after
/// checking that its storage layout keeps `sentMessages` at slot 0 (what
/// the portal's storage key assumes).
pub fn message_passer_code(root: &Path) -> anyhow::Result<Bytes> {
    let path = root
        .join("node_modules")
        .join(BEDROCK)
        .join("L2ToL1MessagePasser.sol/L2ToL1MessagePasser.json");
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("{} (run `npm ci`)", path.display()))?,
    )?;
    let sent = json["storageLayout"]["storage"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["label"] == "sentMessages")
        .ok_or_else(|| anyhow!("{}: no sentMessages in the storage layout", path.display()))?;
    if sent["slot"] != "0" || sent["type"] != "t_mapping(t_bytes32,t_bool)" {
        bail!("sentMessages is not mapping(bytes32 => bool) at slot 0: {sent}");
    }
    let code = json["deployedBytecode"]["object"]
        .as_str()
        .ok_or_else(|| anyhow!("{}: no deployedBytecode.object", path.display()))?;
    hex_bytes(code)
}

/// Put the real `L2ToL1MessagePasser` at its predeploy address on the
/// Hemi-like node (`anvil_setCode`), and check it is there.
pub async fn install_message_passer(root: &Path, hemi: &DynProvider) -> anyhow::Result<Bytes> {
    let code = message_passer_code(root)?;
    let _: serde_json::Value = hemi
        .raw_request(
            "anvil_setCode".into(),
            (L2_TO_L1_MESSAGE_PASSER, code.clone()),
        )
        .await?;
    if hemi.get_code_at(L2_TO_L1_MESSAGE_PASSER).await? != code {
        bail!("anvil_setCode did not install the message passer");
    }
    Ok(code)
}

fn key_address(key: &str) -> anyhow::Result<Address> {
    Ok(PrivateKeySigner::from_str(key)
        .map_err(|_| anyhow!("bad dev key"))?
        .address())
}

/// Deploy the portal, the oracle and their configs on the chain `l1`
/// signs for (with the deployer's key, which becomes the proxies' admin),
/// the oracle starting at Hemi's latest block, and fund the proposer and
/// the guardian there.
pub async fn deploy_op_l1(
    root: &Path,
    l1: &DynProvider,
    hemi: &DynProvider,
    options: OpL1Options,
) -> anyhow::Result<OpL1Contracts> {
    let deployer = key_address(DEPLOYER_KEY)?;
    let proposer = key_address(OP_PROPOSER_KEY)?;
    let guardian = key_address(OP_GUARDIAN_KEY)?;
    let challenger = guardian;
    for who in [proposer, guardian] {
        let _: serde_json::Value = l1
            .raw_request(
                "anvil_setBalance".into(),
                (
                    who,
                    U256::from(100u64) * U256::from(10u64).pow(U256::from(18)),
                ),
            )
            .await?;
    }

    let proxy_code = bedrock_artifact(root, "Proxy")?.bytecode;
    let mut proxies = Vec::new();
    for _ in 0..4 {
        proxies.push(deploy(l1, &proxy_code, deployer.abi_encode()).await?);
    }
    let [superchain_config, oracle, system_config, portal] = proxies[..] else {
        bail!("four proxies were not deployed");
    };
    let implementation = |name: &'static str| async move {
        deploy_big(l1, &bedrock_artifact(root, name)?.bytecode, vec![]).await
    };
    let superchain_impl = implementation("SuperchainConfig").await?;
    let oracle_implementation = implementation("L2OutputOracle").await?;
    let system_config_impl = implementation("SystemConfig").await?;
    let portal_implementation = implementation("OptimismPortal").await?;

    let start = hemi
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| anyhow!("Hemi has no latest block"))?;
    let l1_now = l1
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| anyhow!("the L1 has no latest block"))?
        .header
        .timestamp;
    let starting_block = start.header.number;
    // The oracle refuses a starting timestamp after the L1's clock.
    let starting_timestamp = start
        .header
        .timestamp
        .min(l1_now)
        .saturating_sub(options.starting_timestamp_lag_secs);

    let upgrade = |proxy: Address, implementation: Address, data: Vec<u8>| async move {
        let call = IOpProxy::upgradeToAndCallCall {
            _implementation: implementation,
            _data: Bytes::from(data),
        };
        call_big(l1, proxy, call.abi_encode()).await
    };
    upgrade(
        superchain_config,
        superchain_impl,
        ISuperchainConfig::initializeCall {
            _guardian: guardian,
            _paused: false,
        }
        .abi_encode(),
    )
    .await?;
    upgrade(
        oracle,
        oracle_implementation,
        IL2OutputOracle::initializeCall {
            _submissionInterval: U256::from(options.submission_interval),
            _l2BlockTime: U256::from(options.l2_block_time),
            _startingBlockNumber: U256::from(starting_block),
            _startingTimestamp: U256::from(starting_timestamp),
            _proposer: proposer,
            _challenger: challenger,
            _finalizationPeriodSeconds: U256::from(options.finalization_period_secs),
        }
        .abi_encode(),
    )
    .await?;
    upgrade(
        system_config,
        system_config_impl,
        ISystemConfig::initializeCall {
            _owner: deployer,
            _basefeeScalar: 0,
            _blobbasefeeScalar: 0,
            _batcherHash: B256::ZERO,
            _gasLimit: 30_000_000,
            _unsafeBlockSigner: Address::ZERO,
            // The OP Stack's default resource config.
            _config: ResourceConfig {
                maxResourceLimit: 20_000_000,
                elasticityMultiplier: 10,
                baseFeeMaxChangeDenominator: 8,
                minimumBaseFee: 1_000_000_000,
                systemTxMaxGas: 1_000_000,
                maximumBaseFee: u128::MAX,
            },
            _batchInbox: Address::ZERO,
            // No custom gas token: the portal pays out ETH.
            _addresses: SystemConfigAddresses {
                l1CrossDomainMessenger: Address::ZERO,
                l1ERC721Bridge: Address::ZERO,
                l1StandardBridge: Address::ZERO,
                disputeGameFactory: Address::ZERO,
                optimismPortal: portal,
                optimismMintableERC20Factory: Address::ZERO,
                gasPayingToken: Address::ZERO,
            },
        }
        .abi_encode(),
    )
    .await?;
    upgrade(
        portal,
        portal_implementation,
        IOptimismPortal::initializeCall {
            _l2Oracle: oracle,
            _systemConfig: system_config,
            _superchainConfig: superchain_config,
        }
        .abi_encode(),
    )
    .await?;

    // What the portal was initialized with, read back through its proxy.
    if read(l1, portal, IOptimismPortal::l2OracleCall {}).await? != oracle
        || read(l1, portal, IOptimismPortal::systemConfigCall {}).await? != system_config
        || read(l1, portal, IOptimismPortal::superchainConfigCall {}).await? != superchain_config
        || read(l1, portal, IOptimismPortal::guardianCall {}).await? != guardian
    {
        bail!("the portal does not name the oracle, configs and guardian it was initialized with");
    }
    if read(l1, portal, IOptimismPortal::pausedCall {}).await? {
        bail!("the portal starts paused");
    }
    let period = read(
        l1,
        oracle,
        IL2OutputOracle::FINALIZATION_PERIOD_SECONDSCall {},
    )
    .await?;
    if period != U256::from(options.finalization_period_secs) {
        bail!("the oracle's finalization period is {period}");
    }
    if read(l1, oracle, IL2OutputOracle::PROPOSERCall {}).await? != proposer {
        bail!("the oracle's proposer is not {proposer}");
    }
    Ok(OpL1Contracts {
        portal,
        oracle,
        system_config,
        superchain_config,
        portal_implementation,
        oracle_implementation,
        proposer,
        challenger,
        guardian,
        proxy_admin: deployer,
        starting_block,
        starting_timestamp,
        options,
        portal_version: read(l1, portal, IOptimismPortal::versionCall {}).await?,
        oracle_version: read(l1, oracle, IL2OutputOracle::versionCall {}).await?,
        system_config_version: read(l1, system_config, ISystemConfig::versionCall {}).await?,
        superchain_config_version: read(l1, superchain_config, ISuperchainConfig::versionCall {})
            .await?,
    })
}

/// A set-up call with the large gas limit (initializers behind a proxy).
async fn call_big(p: &DynProvider, to: Address, data: Vec<u8>) -> anyhow::Result<()> {
    send_mined(
        p,
        TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(data))
            .with_gas_limit(15_000_000),
    )
    .await?;
    Ok(())
}

/// The oracle's `nextBlockNumber()`: the only L2 block it takes an output for.
pub async fn next_output_block(l1: &DynProvider, oracle: Address) -> anyhow::Result<u64> {
    let next = read(l1, oracle, IL2OutputOracle::nextBlockNumberCall {}).await?;
    u64::try_from(next).map_err(|_| anyhow!("nextBlockNumber {next} is past u64"))
}

/// The output root an honest proposer posts for Hemi block `l2_block`:
/// the block's state root and hash and the message passer's storage root
/// there (`eth_getProof` with no keys).
pub async fn output_at(hemi: &DynProvider, l2_block: u64) -> anyhow::Result<OutputRootProof> {
    let block = hemi
        .get_block_by_number(l2_block.into())
        .await?
        .ok_or_else(|| anyhow!("Hemi has no block {l2_block} yet"))?;
    let account = hemi
        .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![])
        .block_id(l2_block.into())
        .await?;
    if account.address != L2_TO_L1_MESSAGE_PASSER {
        bail!("eth_getProof answered for {}", account.address);
    }
    Ok(OutputRootProof {
        version: OUTPUT_ROOT_VERSION,
        stateRoot: block.header.state_root,
        messagePasserStorageRoot: account.storage_hash,
        latestBlockhash: block.header.hash,
    })
}

/// Propose the output of Hemi block `l2_block`, which must be the oracle's
/// `nextBlockNumber()`, as the proposer `l1_proposer` signs for. The oracle
/// takes no output whose computed L2 timestamp is not before the L1
/// block's: when the devnet's L1 clock is behind it, the clock is moved on
/// (`evm_increaseTime`). The output's L1 anchor is the latest L1 block.
pub async fn propose_output(
    hemi: &DynProvider,
    l1_proposer: &DynProvider,
    oracle: Address,
    l2_block: u64,
) -> anyhow::Result<ProposedOutput> {
    let next = next_output_block(l1_proposer, oracle).await?;
    if l2_block != next {
        bail!("the oracle takes an output for L2 block {next} next, not {l2_block}");
    }
    let proof = output_at(hemi, l2_block).await?;
    let root = output_root(&proof);

    let l2_time = read(
        l1_proposer,
        oracle,
        IL2OutputOracle::computeL2TimestampCall {
            _l2BlockNumber: U256::from(l2_block),
        },
    )
    .await?;
    let latest = l1_proposer
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| anyhow!("the L1 has no latest block"))?;
    let l1_time = U256::from(latest.header.timestamp);
    if l2_time >= l1_time {
        let ahead = u64::try_from(l2_time - l1_time)
            .map_err(|_| anyhow!("L2 timestamp {l2_time} is far ahead of the L1's"))?;
        increase_time(l1_proposer, ahead + 1).await?;
    }
    let anchor = l1_proposer
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| anyhow!("the L1 has no latest block"))?;
    let call = IL2OutputOracle::proposeL2OutputCall {
        _outputRoot: root,
        _l2BlockNumber: U256::from(l2_block),
        _l1BlockHash: anchor.header.hash,
        _l1BlockNumber: U256::from(anchor.header.number),
    };
    let receipt = send_mined(
        l1_proposer,
        TransactionRequest::default()
            .with_to(oracle)
            .with_input(Bytes::from(call.abi_encode())),
    )
    .await?;
    let event = receipt
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == oracle)
        .find_map(|l| IL2OutputOracle::OutputProposed::decode_log(&l.inner).ok())
        .ok_or_else(|| anyhow!("proposeL2Output emitted no OutputProposed"))?;
    let index = u64::try_from(event.l2OutputIndex)
        .map_err(|_| anyhow!("output index {} is past u64", event.l2OutputIndex))?;
    let stored = read(
        l1_proposer,
        oracle,
        IL2OutputOracle::getL2OutputCall {
            _l2OutputIndex: event.l2OutputIndex,
        },
    )
    .await?;
    if stored.outputRoot != root || stored.l2BlockNumber != u128::from(l2_block) {
        bail!("the oracle stored {stored:?} for output {index}");
    }
    Ok(ProposedOutput {
        index,
        l2_block,
        output_root: root,
        output_root_proof: proof,
    })
}

/// Move the node's clock on by `secs` and mine a block at the new time.
pub async fn increase_time(p: &DynProvider, secs: u64) -> anyhow::Result<()> {
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await?;
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await?;
    Ok(())
}
