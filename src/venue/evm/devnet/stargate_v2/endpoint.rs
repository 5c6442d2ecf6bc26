//! LayerZero V2 on one devnet node: the real `EndpointV2` with the chain's
//! eid, and the protocol package's own `SimpleMessageLib` registered as the
//! default send and receive library towards the other chain. The library
//! charges the native fee the options give (its `setMessagingFee`), and
//! only the devnet relayer may validate a packet on it
//! (`setWhitelistCaller`), so a packet is verified on the destination the
//! way a DVN quorum would: by one trusted party, after it saw the source.

use super::super::*;
use super::key_address;
use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use alloy::sol;
use alloy::sol_types::{SolCall, SolValue};
use anyhow::bail;
use std::path::Path;

/// Where LayerZero's build artifacts are, under `node_modules/`.
const PROTOCOL: &str = "@layerzerolabs/lz-evm-protocol-v2/artifacts/contracts";

sol! {
    /// The parts of `EndpointV2` the devnet configures, sends through and
    /// delivers on.
    interface IEndpointV2 {
        #[derive(Debug, PartialEq, Eq)]
        struct Origin {
            uint32 srcEid;
            bytes32 sender;
            uint64 nonce;
        }

        function eid() external view returns (uint32);
        function owner() external view returns (address);
        function registerLibrary(address _lib) external;
        function setDefaultSendLibrary(uint32 _eid, address _newLib) external;
        function setDefaultReceiveLibrary(uint32 _eid, address _newLib, uint256 _gracePeriod) external;
        function defaultSendLibrary(uint32 _eid) external view returns (address);
        function lzReceive(Origin _origin, address _receiver, bytes32 _guid, bytes _message, bytes _extraData) external payable;
        function lazyInboundNonce(address _receiver, uint32 _srcEid, bytes32 _sender) external view returns (uint64);
        function inboundNonce(address _receiver, uint32 _srcEid, bytes32 _sender) external view returns (uint64);
        function inboundPayloadHash(address _receiver, uint32 _srcEid, bytes32 _sender, uint64 _nonce) external view returns (bytes32);
        function outboundNonce(address _sender, uint32 _dstEid, bytes32 _receiver) external view returns (uint64);

        event PacketSent(bytes encodedPayload, bytes options, address sendLibrary);
        event PacketVerified(Origin origin, address receiver, bytes32 payloadHash);
        event PacketDelivered(Origin origin, address receiver);

        error LZ_InvalidNonce(uint64 nonce);
        error LZ_PayloadHashNotFound(bytes32 expected, bytes32 actual);
        error LZ_InsufficientFee(uint256 requiredNative, uint256 suppliedNative, uint256 requiredLzToken, uint256 suppliedLzToken);
    }

    /// LayerZero's `SimpleMessageLib` (send and receive in one).
    interface ISimpleMessageLib {
        function setMessagingFee(uint256 _nativeFee, uint256 _lzTokenFee) external;
        function setWhitelistCaller(address _whitelistCaller) external;
        function validatePacket(bytes packetBytes) external;
        function nativeFee() external view returns (uint256);
        function whitelistCaller() external view returns (address);
        error OnlyWhitelistCaller();
    }
}

/// One chain's LayerZero endpoint and its message library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointContracts {
    pub eid: u32,
    /// `EndpointV2`, owned by the deployer.
    pub endpoint: Address,
    /// `SimpleMessageLib`: the default send and receive library towards
    /// the remote eid; its native fee is every message's LayerZero fee.
    pub message_lib: Address,
    /// The only caller `validatePacket` accepts (the devnet relayer).
    pub verifier: Address,
}

pub(super) fn protocol_artifact(root: &Path, name: &str, dir: &str) -> anyhow::Result<Artifact> {
    npm_artifact(root, &format!("{PROTOCOL}/{dir}{name}.sol/{name}.json"))
}

/// A set-up call, mined at once.
pub(super) async fn transact(p: &DynProvider, to: Address, c: impl SolCall) -> anyhow::Result<()> {
    call(p, to, c.abi_encode(), U256::ZERO).await?;
    Ok(())
}

/// Deploy `EndpointV2(eid)` and a `SimpleMessageLib` on it, both owned by
/// the deployer (`p` must sign with `DEPLOYER_KEY`); make the library the default both ways for
/// `remote_eid`, charging `native_fee` per message, validated only by
/// `verifier`.
pub async fn deploy_endpoint(
    root: &Path,
    p: &DynProvider,
    eid: u32,
    remote_eid: u32,
    native_fee: U256,
    verifier: Address,
) -> anyhow::Result<EndpointContracts> {
    let owner = key_address(DEPLOYER_KEY)?;
    let endpoint = deploy_big(
        p,
        &protocol_artifact(root, "EndpointV2", "")?.bytecode,
        (eid, owner).abi_encode_params(),
    )
    .await?;
    if read(p, endpoint, IEndpointV2::eidCall {}).await? != eid {
        bail!("EndpointV2 does not answer eid {eid}");
    }
    let message_lib = deploy_big(
        p,
        &protocol_artifact(root, "SimpleMessageLib", "messagelib/")?.bytecode,
        // The treasury is unused by the library's send path; the owner.
        (endpoint, owner).abi_encode_params(),
    )
    .await?;
    transact(
        p,
        message_lib,
        ISimpleMessageLib::setMessagingFeeCall {
            _nativeFee: native_fee,
            _lzTokenFee: U256::ZERO,
        },
    )
    .await?;
    transact(
        p,
        message_lib,
        ISimpleMessageLib::setWhitelistCallerCall {
            _whitelistCaller: verifier,
        },
    )
    .await?;
    transact(
        p,
        endpoint,
        IEndpointV2::registerLibraryCall { _lib: message_lib },
    )
    .await?;
    transact(
        p,
        endpoint,
        IEndpointV2::setDefaultSendLibraryCall {
            _eid: remote_eid,
            _newLib: message_lib,
        },
    )
    .await?;
    transact(
        p,
        endpoint,
        IEndpointV2::setDefaultReceiveLibraryCall {
            _eid: remote_eid,
            _newLib: message_lib,
            _gracePeriod: U256::ZERO,
        },
    )
    .await?;
    if read(
        p,
        endpoint,
        IEndpointV2::defaultSendLibraryCall { _eid: remote_eid },
    )
    .await?
        != message_lib
    {
        bail!("the endpoint's default send library is not the SimpleMessageLib");
    }
    Ok(EndpointContracts {
        eid,
        endpoint,
        message_lib,
        verifier,
    })
}
