// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

/// Emits Raindex IOrderBookV4's fill events with their exact signatures, so
/// log ingestion and the equity hedge can be tested on a devnet. No event
/// parameter is indexed, as in the deployed V4 orderbooks; SignedContextV1's
/// context is `uint256[]`, as deployed V4 declares it
/// (shared/reference/st0x.md §4).
contract RaindexEmitter {
    struct IO {
        address token;
        uint8 decimals;
        uint256 vaultId;
    }

    struct EvaluableV3 {
        address interpreter;
        address store;
        bytes bytecode;
    }

    struct OrderV3 {
        address owner;
        EvaluableV3 evaluable;
        IO[] validInputs;
        IO[] validOutputs;
        bytes32 nonce;
    }

    struct ClearConfig {
        uint256 aliceInputIOIndex;
        uint256 aliceOutputIOIndex;
        uint256 bobInputIOIndex;
        uint256 bobOutputIOIndex;
        uint256 aliceBountyVaultId;
        uint256 bobBountyVaultId;
    }

    struct ClearStateChange {
        uint256 aliceOutput;
        uint256 bobOutput;
        uint256 aliceInput;
        uint256 bobInput;
    }

    struct SignedContextV1 {
        address signer;
        uint256[] context;
        bytes signature;
    }

    struct TakeOrderConfigV3 {
        OrderV3 order;
        uint256 inputIOIndex;
        uint256 outputIOIndex;
        SignedContextV1[] signedContext;
    }

    event ClearV2(address sender, OrderV3 alice, OrderV3 bob, ClearConfig clearConfig);
    event AfterClear(address sender, ClearStateChange clearStateChange);
    event TakeOrderV2(address sender, TakeOrderConfigV3 config, uint256 input, uint256 output);

    /// One clear: `ClearV2` then `AfterClear`, in that order, as `clear2` emits them.
    function clear(OrderV3 calldata alice, OrderV3 calldata bob, ClearConfig calldata clearConfig, ClearStateChange calldata change) external {
        emit ClearV2(msg.sender, alice, bob, clearConfig);
        emit AfterClear(msg.sender, change);
    }

    /// One order taken: `TakeOrderV2` with the taker's input and output.
    function takeOrder(TakeOrderConfigV3 calldata config, uint256 input, uint256 output) external {
        emit TakeOrderV2(msg.sender, config, input, output);
    }
}
