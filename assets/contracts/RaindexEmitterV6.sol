// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

/// Emits Raindex IOrderBookV5/V6's fill events with their exact signatures
/// (V6 imports them from IOrderBookV5.sol unchanged), so log ingestion and
/// the equity hedge can be tested on a devnet. No event parameter is
/// indexed. Amounts are Rain Floats (`type Float is bytes32`), written here
/// as bytes32, which is what the ABI makes of them. No package publishes a
/// Raindex V6 build this devnet can deploy, hence this emitter.
contract RaindexEmitterV6 {
    struct IOV2 {
        address token;
        bytes32 vaultId;
    }

    struct EvaluableV4 {
        address interpreter;
        address store;
        bytes bytecode;
    }

    struct OrderV4 {
        address owner;
        EvaluableV4 evaluable;
        IOV2[] validInputs;
        IOV2[] validOutputs;
        bytes32 nonce;
    }

    struct ClearConfigV2 {
        uint256 aliceInputIOIndex;
        uint256 aliceOutputIOIndex;
        uint256 bobInputIOIndex;
        uint256 bobOutputIOIndex;
        bytes32 aliceBountyVaultId;
        bytes32 bobBountyVaultId;
    }

    struct ClearStateChangeV2 {
        bytes32 aliceOutput;
        bytes32 bobOutput;
        bytes32 aliceInput;
        bytes32 bobInput;
    }

    struct SignedContextV1 {
        address signer;
        bytes32[] context;
        bytes signature;
    }

    struct TakeOrderConfigV4 {
        OrderV4 order;
        uint256 inputIOIndex;
        uint256 outputIOIndex;
        SignedContextV1[] signedContext;
    }

    event ClearV3(address sender, OrderV4 alice, OrderV4 bob, ClearConfigV2 clearConfig);
    event AfterClearV2(address sender, ClearStateChangeV2 clearStateChange);
    event TakeOrderV3(address sender, TakeOrderConfigV4 config, bytes32 input, bytes32 output);

    /// One clear: `ClearV3` then `AfterClearV2`, in that order.
    function clear(OrderV4 calldata alice, OrderV4 calldata bob, ClearConfigV2 calldata clearConfig, ClearStateChangeV2 calldata change) external {
        emit ClearV3(msg.sender, alice, bob, clearConfig);
        emit AfterClearV2(msg.sender, change);
    }

    /// One order taken: `TakeOrderV3` with the taker's input and output.
    function takeOrder(TakeOrderConfigV4 calldata config, bytes32 input, bytes32 output) external {
        emit TakeOrderV3(msg.sender, config, input, output);
    }
}
