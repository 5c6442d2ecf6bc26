//! The OP Stack's real ERC-20 tunnel on the devnet (evm.md §1.3, §1.4): on
//! the Ethereum-like node `L1CrossDomainMessenger` and `L1StandardBridge`,
//! each behind its own `Proxy` and initialized through it with the portal
//! and configs of `deploy_op_l1`; on the Hemi-like node the package's real
//! `L2CrossDomainMessenger`, `L2StandardBridge`,
//! `OptimismMintableERC20Factory` and `L1Block` (which the L2 messenger and
//! bridge ask for the gas-paying token) set at their predeploy addresses
//! with `anvil_setCode` and initialized in place as OP's genesis leaves
//! them; an `OptimismMintableERC20` made by that factory; and the devnet's
//! stand-in for the sequencer's deposit derivation (`relay_deposits`),
//! which replays a portal `TransactionDeposited` on Hemi from its aliased
//! sender. All bytecode is from the forge artifacts of
//! `@eth-optimism/contracts-bedrock` in `node_modules`.

use super::*;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256, address};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol;
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use anyhow::{Context, anyhow, bail};
use std::path::Path;
use std::time::{Duration, Instant};

/// The predeploys this module installs on the Hemi-like node.
pub const L2_CROSS_DOMAIN_MESSENGER: Address = address!("4200000000000000000000000000000000000007");
pub const L2_STANDARD_BRIDGE: Address = address!("4200000000000000000000000000000000000010");
pub const OPTIMISM_MINTABLE_ERC20_FACTORY: Address =
    address!("4200000000000000000000000000000000000012");
pub const L1_BLOCK: Address = address!("4200000000000000000000000000000000000015");

/// `AddressAliasHelper`'s offset: an L1 contract's address as seen on L2.
const ALIAS_OFFSET: Address = address!("1111000000000000000000000000000000001111");

sol! {
    interface IL1CrossDomainMessenger {
        function initialize(address _superchainConfig, address _portal, address _systemConfig) external;
        function portal() external view returns (address);
        function otherMessenger() external view returns (address);
        function version() external view returns (string memory);
        event RelayedMessage(bytes32 indexed msgHash);
        event FailedRelayedMessage(bytes32 indexed msgHash);
    }

    interface IL1StandardBridge {
        function initialize(address _messenger, address _superchainConfig, address _systemConfig) external;
        function depositERC20(address _l1Token, address _l2Token, uint256 _amount, uint32 _minGasLimit, bytes _extraData) external;
        function deposits(address, address) external view returns (uint256);
        function messenger() external view returns (address);
        function otherBridge() external view returns (address);
        function version() external view returns (string memory);
        event ERC20WithdrawalFinalized(address indexed l1Token, address indexed l2Token, address indexed from, address to, uint256 amount, bytes extraData);
        event ERC20BridgeFinalized(address indexed localToken, address indexed remoteToken, address indexed from, address to, uint256 amount, bytes extraData);
        event ERC20DepositInitiated(address indexed l1Token, address indexed l2Token, address indexed from, address to, uint256 amount, bytes extraData);
    }

    interface IL2CrossDomainMessenger {
        function initialize(address _l1CrossDomainMessenger) external;
        function otherMessenger() external view returns (address);
        function version() external view returns (string memory);
        event RelayedMessage(bytes32 indexed msgHash);
        event FailedRelayedMessage(bytes32 indexed msgHash);
    }

    interface IL2StandardBridge {
        function initialize(address _otherBridge) external;
        function withdraw(address _l2Token, uint256 _amount, uint32 _minGasLimit, bytes _extraData) external payable;
        function messenger() external view returns (address);
        function otherBridge() external view returns (address);
        function version() external view returns (string memory);
        event WithdrawalInitiated(address indexed l1Token, address indexed l2Token, address indexed from, address to, uint256 amount, bytes extraData);
        event DepositFinalized(address indexed l1Token, address indexed l2Token, address indexed from, address to, uint256 amount, bytes extraData);
    }

    interface IOptimismMintableERC20Factory {
        function initialize(address _bridge) external;
        function bridge() external view returns (address);
        function createOptimismMintableERC20WithDecimals(address _remoteToken, string _name, string _symbol, uint8 _decimals) external returns (address);
        function version() external view returns (string memory);
        event OptimismMintableERC20Created(address indexed localToken, address indexed remoteToken, address deployer);
    }

    interface IOptimismMintableERC20 {
        function remoteToken() external view returns (address);
        function bridge() external view returns (address);
        function decimals() external view returns (uint8);
    }

    interface IPortalDeposits {
        event TransactionDeposited(address indexed from, address indexed to, uint256 indexed version, bytes opaqueData);
    }
}

/// What the ERC-20 tunnel is made of on both nodes, with the versions the
/// contracts report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpBridgeContracts {
    /// `L1CrossDomainMessenger` (proxy).
    pub l1_messenger: Address,
    /// `L1StandardBridge` (proxy).
    pub l1_bridge: Address,
    pub l1_messenger_implementation: Address,
    pub l1_bridge_implementation: Address,
    pub l1_messenger_version: String,
    pub l1_bridge_version: String,
    pub l2_messenger_version: String,
    pub l2_bridge_version: String,
    pub factory_version: String,
}

/// A deposit transaction the portal emitted, decoded from its
/// `opaqueData` (`abi.encodePacked(mint, value, gasLimit, isCreation, data)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositTx {
    /// The L2 sender: aliased when an L1 contract deposited.
    pub from: Address,
    pub to: Address,
    pub mint: U256,
    pub value: U256,
    pub gas_limit: u64,
    pub is_creation: bool,
    pub data: Bytes,
}

fn bedrock_json(root: &Path, name: &str) -> anyhow::Result<serde_json::Value> {
    let path = root.join(format!(
        "node_modules/@eth-optimism/contracts-bedrock/forge-artifacts/{name}.sol/{name}.json"
    ));
    Ok(serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("{} (run `npm ci`)", path.display()))?,
    )?)
}

fn bedrock_code(root: &Path, name: &str, which: &str) -> anyhow::Result<Bytes> {
    let json = bedrock_json(root, name)?;
    let code = json[which]["object"]
        .as_str()
        .ok_or_else(|| anyhow!("{name}: no {which}.object"))?;
    hex_bytes(code)
}

/// The storage slot of `label` in `name`'s layout, from the artifact.
pub fn bedrock_slot(root: &Path, name: &str, label: &str) -> anyhow::Result<(u64, u64)> {
    let json = bedrock_json(root, name)?;
    let entry = json["storageLayout"]["storage"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["label"] == label)
        .ok_or_else(|| anyhow!("{name}: no {label} in the storage layout"))?;
    let slot = entry["slot"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("{name}.{label}: bad slot {entry}"))?;
    let offset = entry["offset"]
        .as_u64()
        .ok_or_else(|| anyhow!("{name}.{label}: bad offset {entry}"))?;
    Ok((slot, offset))
}

async fn big_call(
    p: &DynProvider,
    to: Address,
    data: Vec<u8>,
) -> anyhow::Result<TransactionReceipt> {
    send_mined(
        p,
        TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(data))
            .with_gas_limit(15_000_000),
    )
    .await
}

/// The `Initializable` version in `name`'s `_initialized` slot at `at`.
async fn initialized_version(
    root: &Path,
    p: &DynProvider,
    name: &str,
    at: Address,
) -> anyhow::Result<u8> {
    let (slot, offset) = bedrock_slot(root, name, "_initialized")?;
    let word = p.get_storage_at(at, U256::from(slot)).await?;
    let bytes = word.to_be_bytes::<32>();
    let at_byte = 31usize
        .checked_sub(usize::try_from(offset)?)
        .ok_or_else(|| anyhow!("{name}._initialized offset {offset}"))?;
    Ok(bytes[at_byte])
}

/// Set the real deployed code of `name` at `at` on `p`, and check it.
pub(super) async fn set_code(
    root: &Path,
    p: &DynProvider,
    name: &str,
    at: Address,
) -> anyhow::Result<()> {
    let code = bedrock_code(root, name, "deployedBytecode")?;
    let _: serde_json::Value = p
        .raw_request("anvil_setCode".into(), (at, code.clone()))
        .await?;
    if p.get_code_at(at).await? != code {
        bail!("anvil_setCode did not install {name} at {at}");
    }
    Ok(())
}

/// Deploy the L1 messenger and bridge behind proxies on the chain `l1`
/// signs for (its key becomes the proxies' admin, as in `deploy_op_l1`),
/// initialized with `op`'s portal and configs; then install and initialize
/// the L2 messenger, bridge, token factory and `L1Block` on Hemi. The
/// message passer must already be installed (`install_message_passer`).
pub async fn deploy_op_bridge(
    root: &Path,
    l1: &DynProvider,
    hemi: &DynProvider,
    op: &OpL1Contracts,
) -> anyhow::Result<OpBridgeContracts> {
    let proxy_code = bedrock_code(root, "Proxy", "bytecode")?;
    let deployer = op.proxy_admin;
    let l1_messenger = deploy(l1, &proxy_code, deployer.abi_encode()).await?;
    let l1_bridge = deploy(l1, &proxy_code, deployer.abi_encode()).await?;
    let l1_messenger_implementation = deploy_big(
        l1,
        &bedrock_code(root, "L1CrossDomainMessenger", "bytecode")?,
        vec![],
    )
    .await?;
    let l1_bridge_implementation = deploy_big(
        l1,
        &bedrock_code(root, "L1StandardBridge", "bytecode")?,
        vec![],
    )
    .await?;
    let upgrade = |proxy: Address, implementation: Address, data: Vec<u8>| async move {
        let call = IOpProxy::upgradeToAndCallCall {
            _implementation: implementation,
            _data: Bytes::from(data),
        };
        big_call(l1, proxy, call.abi_encode()).await
    };
    upgrade(
        l1_messenger,
        l1_messenger_implementation,
        IL1CrossDomainMessenger::initializeCall {
            _superchainConfig: op.superchain_config,
            _portal: op.portal,
            _systemConfig: op.system_config,
        }
        .abi_encode(),
    )
    .await?;
    upgrade(
        l1_bridge,
        l1_bridge_implementation,
        IL1StandardBridge::initializeCall {
            _messenger: l1_messenger,
            _superchainConfig: op.superchain_config,
            _systemConfig: op.system_config,
        }
        .abi_encode(),
    )
    .await?;
    if read(l1, l1_messenger, IL1CrossDomainMessenger::portalCall {}).await? != op.portal
        || read(
            l1,
            l1_messenger,
            IL1CrossDomainMessenger::otherMessengerCall {},
        )
        .await?
            != L2_CROSS_DOMAIN_MESSENGER
    {
        bail!("the L1 messenger does not name the portal and the L2 messenger");
    }
    if read(l1, l1_bridge, IL1StandardBridge::messengerCall {}).await? != l1_messenger
        || read(l1, l1_bridge, IL1StandardBridge::otherBridgeCall {}).await? != L2_STANDARD_BRIDGE
    {
        bail!("the L1 bridge does not name the L1 messenger and the L2 bridge");
    }

    // Hemi: the implementations' code straight at the predeploys. Their
    // storage starts empty (`_initialized == 0`), so each is initialized
    // in place, which is the state OP's genesis gives the proxies there.
    set_code(root, hemi, "L1Block", L1_BLOCK).await?;
    set_code(
        root,
        hemi,
        "L2CrossDomainMessenger",
        L2_CROSS_DOMAIN_MESSENGER,
    )
    .await?;
    set_code(root, hemi, "L2StandardBridge", L2_STANDARD_BRIDGE).await?;
    set_code(
        root,
        hemi,
        "OptimismMintableERC20Factory",
        OPTIMISM_MINTABLE_ERC20_FACTORY,
    )
    .await?;
    for (name, at) in [
        ("L2CrossDomainMessenger", L2_CROSS_DOMAIN_MESSENGER),
        ("L2StandardBridge", L2_STANDARD_BRIDGE),
        (
            "OptimismMintableERC20Factory",
            OPTIMISM_MINTABLE_ERC20_FACTORY,
        ),
    ] {
        let v = initialized_version(root, hemi, name, at).await?;
        if v != 0 {
            bail!("{name} at {at} is already initialized (version {v})");
        }
    }
    big_call(
        hemi,
        L2_CROSS_DOMAIN_MESSENGER,
        IL2CrossDomainMessenger::initializeCall {
            _l1CrossDomainMessenger: l1_messenger,
        }
        .abi_encode(),
    )
    .await?;
    big_call(
        hemi,
        L2_STANDARD_BRIDGE,
        IL2StandardBridge::initializeCall {
            _otherBridge: l1_bridge,
        }
        .abi_encode(),
    )
    .await?;
    big_call(
        hemi,
        OPTIMISM_MINTABLE_ERC20_FACTORY,
        IOptimismMintableERC20Factory::initializeCall {
            _bridge: L2_STANDARD_BRIDGE,
        }
        .abi_encode(),
    )
    .await?;
    for (name, at) in [
        ("L2CrossDomainMessenger", L2_CROSS_DOMAIN_MESSENGER),
        ("L2StandardBridge", L2_STANDARD_BRIDGE),
        (
            "OptimismMintableERC20Factory",
            OPTIMISM_MINTABLE_ERC20_FACTORY,
        ),
    ] {
        if initialized_version(root, hemi, name, at).await? == 0 {
            bail!("{name} at {at} did not record its initialization");
        }
    }
    if read(
        hemi,
        L2_CROSS_DOMAIN_MESSENGER,
        IL2CrossDomainMessenger::otherMessengerCall {},
    )
    .await?
        != l1_messenger
        || read(
            hemi,
            L2_STANDARD_BRIDGE,
            IL2StandardBridge::otherBridgeCall {},
        )
        .await?
            != l1_bridge
        || read(
            hemi,
            L2_STANDARD_BRIDGE,
            IL2StandardBridge::messengerCall {},
        )
        .await?
            != L2_CROSS_DOMAIN_MESSENGER
        || read(
            hemi,
            OPTIMISM_MINTABLE_ERC20_FACTORY,
            IOptimismMintableERC20Factory::bridgeCall {},
        )
        .await?
            != L2_STANDARD_BRIDGE
    {
        bail!("the L2 messenger, bridge and factory do not name their counterparts");
    }
    Ok(OpBridgeContracts {
        l1_messenger,
        l1_bridge,
        l1_messenger_implementation,
        l1_bridge_implementation,
        l1_messenger_version: read(l1, l1_messenger, IL1CrossDomainMessenger::versionCall {})
            .await?,
        l1_bridge_version: read(l1, l1_bridge, IL1StandardBridge::versionCall {}).await?,
        l2_messenger_version: read(
            hemi,
            L2_CROSS_DOMAIN_MESSENGER,
            IL2CrossDomainMessenger::versionCall {},
        )
        .await?,
        l2_bridge_version: read(hemi, L2_STANDARD_BRIDGE, IL2StandardBridge::versionCall {})
            .await?,
        factory_version: read(
            hemi,
            OPTIMISM_MINTABLE_ERC20_FACTORY,
            IOptimismMintableERC20Factory::versionCall {},
        )
        .await?,
    })
}

/// Create the `OptimismMintableERC20` of `remote_token` on Hemi through the
/// real factory; its bridge is the L2 bridge predeploy.
pub async fn create_l2_token(
    hemi: &DynProvider,
    remote_token: Address,
    name: &str,
    symbol: &str,
    decimals: u8,
) -> anyhow::Result<Address> {
    let call = IOptimismMintableERC20Factory::createOptimismMintableERC20WithDecimalsCall {
        _remoteToken: remote_token,
        _name: name.into(),
        _symbol: symbol.into(),
        _decimals: decimals,
    };
    let r = big_call(hemi, OPTIMISM_MINTABLE_ERC20_FACTORY, call.abi_encode()).await?;
    let created = r
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == OPTIMISM_MINTABLE_ERC20_FACTORY)
        .find_map(|l| {
            IOptimismMintableERC20Factory::OptimismMintableERC20Created::decode_log(&l.inner).ok()
        })
        .ok_or_else(|| anyhow!("the factory emitted no OptimismMintableERC20Created"))?;
    let token = created.localToken;
    if read(hemi, token, IOptimismMintableERC20::remoteTokenCall {}).await? != remote_token
        || read(hemi, token, IOptimismMintableERC20::bridgeCall {}).await? != L2_STANDARD_BRIDGE
        || read(hemi, token, IOptimismMintableERC20::decimalsCall {}).await? != decimals
    {
        bail!("the created token {token} does not name {remote_token} and the L2 bridge");
    }
    Ok(token)
}

/// `AddressAliasHelper.applyL1ToL2Alias`.
pub fn l1_to_l2_alias(l1: Address) -> Address {
    let sum = U256::from_be_slice(l1.as_slice())
        .wrapping_add(U256::from_be_slice(ALIAS_OFFSET.as_slice()));
    let bytes = sum.to_be_bytes::<32>();
    Address::from_slice(&bytes[12..])
}

/// The deposit transactions the portal at `portal` emitted in `receipt`.
pub fn deposits_in_receipt(
    receipt: &TransactionReceipt,
    portal: Address,
) -> anyhow::Result<Vec<DepositTx>> {
    let mut out = Vec::new();
    for log in receipt
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == portal)
    {
        let Ok(ev) = IPortalDeposits::TransactionDeposited::decode_log(&log.inner) else {
            continue;
        };
        if ev.version != U256::ZERO {
            bail!("deposit version {} is not 0", ev.version);
        }
        let raw = &ev.opaqueData;
        if raw.len() < 73 {
            bail!("opaqueData of {} bytes is too short", raw.len());
        }
        let gas = <[u8; 8]>::try_from(&raw[64..72])?;
        out.push(DepositTx {
            from: ev.from,
            to: ev.to,
            mint: U256::from_be_slice(&raw[0..32]),
            value: U256::from_be_slice(&raw[32..64]),
            gas_limit: u64::from_be_bytes(gas),
            is_creation: raw[72] != 0,
            data: Bytes::copy_from_slice(&raw[73..]),
        });
    }
    Ok(out)
}

/// The devnet's stand-in for deposit derivation: each deposit of the L1
/// receipt is sent on Hemi from its (aliased) sender, impersonated, with
/// the deposit's gas limit, value and data; `mint` is credited to the
/// sender first. Returns the Hemi receipts.
pub async fn relay_deposits(
    hemi: &DynProvider,
    l1_receipt: &TransactionReceipt,
    portal: Address,
) -> anyhow::Result<Vec<TransactionReceipt>> {
    let mut out = Vec::new();
    for d in deposits_in_receipt(l1_receipt, portal)? {
        if d.is_creation {
            bail!("contract-creating deposits are not relayed by the devnet");
        }
        let balance = hemi.get_balance(d.from).await?;
        // The sender pays for gas on anvil, a deposit does not: give it some.
        let gas_money = U256::from(10u64).pow(U256::from(18));
        let _: serde_json::Value = hemi
            .raw_request(
                "anvil_setBalance".into(),
                (d.from, balance + d.mint + gas_money),
            )
            .await?;
        let _: serde_json::Value = hemi
            .raw_request("anvil_impersonateAccount".into(), (d.from,))
            .await?;
        let tx = TransactionRequest::default()
            .with_from(d.from)
            .with_to(d.to)
            .with_value(d.value)
            .with_gas_limit(d.gas_limit)
            .with_input(d.data.clone());
        let sent: Result<alloy::primitives::B256, _> =
            hemi.raw_request("eth_sendTransaction".into(), (tx,)).await;
        let _: serde_json::Value = hemi
            .raw_request("anvil_stopImpersonatingAccount".into(), (d.from,))
            .await?;
        let hash = sent?;
        let started = Instant::now();
        let receipt = loop {
            let _: String = hemi.raw_request("evm_mine".into(), ()).await?;
            if let Some(r) = hemi.get_transaction_receipt(hash).await? {
                break r;
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("relayed deposit {hash} was not mined");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        if !receipt.status() {
            bail!("relayed deposit {hash} reverted");
        }
        out.push(receipt);
    }
    Ok(out)
}
