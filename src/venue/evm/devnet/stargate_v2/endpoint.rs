//! LayerZero V2 on one devnet node: the real `EndpointV2` with the chain's
//! eid, and its default send and receive libraries towards the other chain,
//! one of two (`MessageLibKind`):
//! - the protocol package's own `SimpleMessageLib`: it
//!   charges the native fee the options give (its `setMessagingFee`), and
//!   only the devnet relayer may validate a packet on it
//!   (`setWhitelistCaller`), so a packet is verified on the destination by
//!   one trusted party, after it saw the source;
//! - ULN302 as mainnet uses it (the default; `uln302`: `SendUln302`, `ReceiveUln302`, a
//!   DVN, an executor, a price feed and their fee libraries): the workers
//!   price every message and a packet is verified by the DVN, committed on
//!   `ReceiveUln302` and executed by the executor.

use super::super::*;
use super::key_address;
use super::uln302::{Uln302Contracts, deploy_uln302};
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

/// Which message library the devnet's endpoints use towards each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageLibKind {
    /// `SimpleMessageLib`: a fixed native fee, the relayer validates.
    Simple,
    /// ULN302 with a DVN and an executor, as on mainnet.
    #[default]
    Uln302,
}

/// One chain's LayerZero endpoint and its message library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointContracts {
    pub eid: u32,
    /// `EndpointV2`, owned by the deployer.
    pub endpoint: Address,
    /// The default receive library from the remote eid: `SimpleMessageLib`
    /// (also the send library; its native fee is every message's
    /// LayerZero fee), or `ReceiveUln302` when `uln302` is set.
    pub message_lib: Address,
    /// The only caller `validatePacket` accepts, and on ULN302 the DVN's
    /// signer and the executor's admin (the devnet relayer).
    pub verifier: Address,
    /// ULN302 and its workers, when they are the endpoint's libraries.
    pub uln302: Option<Uln302Contracts>,
}

impl EndpointContracts {
    /// The default send library towards the remote eid.
    pub fn send_lib(&self) -> Address {
        self.uln302.map_or(self.message_lib, |u| u.send_lib)
    }
}

pub(super) fn protocol_artifact(root: &Path, name: &str, dir: &str) -> anyhow::Result<Artifact> {
    npm_artifact(root, &format!("{PROTOCOL}/{dir}{name}.sol/{name}.json"))
}

/// A set-up call, mined at once.
pub(super) async fn transact(p: &DynProvider, to: Address, c: impl SolCall) -> anyhow::Result<()> {
    call(p, to, c.abi_encode(), U256::ZERO).await?;
    Ok(())
}

/// Deploy `EndpointV2(eid)` and its libraries, all owned by the deployer
/// (`p` must sign with `DEPLOYER_KEY`), the defaults both ways for
/// `remote_eid`: a `SimpleMessageLib` charging `native_fee` per message,
/// validated only by `verifier`; or ULN302 whose workers price each
/// message (`native_fee` unused), `verifier` their signer and admin.
pub async fn deploy_endpoint(
    root: &Path,
    p: &DynProvider,
    eid: u32,
    remote_eid: u32,
    native_fee: U256,
    verifier: Address,
    library: MessageLibKind,
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
    if library == MessageLibKind::Uln302 {
        let uln = deploy_uln302(root, p, endpoint, eid, remote_eid, verifier).await?;
        set_default_libraries(p, endpoint, remote_eid, uln.send_lib, uln.receive_lib).await?;
        return Ok(EndpointContracts {
            eid,
            endpoint,
            message_lib: uln.receive_lib,
            verifier,
            uln302: Some(uln),
        });
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
    set_default_libraries(p, endpoint, remote_eid, message_lib, message_lib).await?;
    Ok(EndpointContracts {
        eid,
        endpoint,
        message_lib,
        verifier,
        uln302: None,
    })
}

/// Register the libraries with the endpoint and make them the defaults
/// towards and from `remote_eid` (no grace period: nothing came before).
async fn set_default_libraries(
    p: &DynProvider,
    endpoint: Address,
    remote_eid: u32,
    send_lib: Address,
    receive_lib: Address,
) -> anyhow::Result<()> {
    transact(
        p,
        endpoint,
        IEndpointV2::registerLibraryCall { _lib: send_lib },
    )
    .await?;
    if receive_lib != send_lib {
        transact(
            p,
            endpoint,
            IEndpointV2::registerLibraryCall { _lib: receive_lib },
        )
        .await?;
    }
    transact(
        p,
        endpoint,
        IEndpointV2::setDefaultSendLibraryCall {
            _eid: remote_eid,
            _newLib: send_lib,
        },
    )
    .await?;
    transact(
        p,
        endpoint,
        IEndpointV2::setDefaultReceiveLibraryCall {
            _eid: remote_eid,
            _newLib: receive_lib,
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
        != send_lib
    {
        bail!("the endpoint's default send library is not {send_lib}");
    }
    Ok(())
}
