// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

interface IERC20Like {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// A Stargate-like lock-and-release bridge for the devnet: one per chain.
/// `send` locks the tokens (or native ETH) here, takes a native messaging fee
/// and a token fee in basis points, and emits LayerZero's `OFTSent` with a
/// message id (guid). A relayer task watches it and, after its delay, calls
/// `deliver` on the destination chain's stand-in, which releases the tokens
/// from its liquidity and emits `OFTReceived` with the same guid.
contract StargateStandIn {
    address public immutable relayer;
    uint32 public immutable localEid;
    uint256 public immutable nativeFee;
    uint16 public immutable feeBps;
    uint64 public nonce;
    mapping(bytes32 => bool) public delivered;

    /// LayerZero IOFT's events, with their real signatures.
    event OFTSent(bytes32 indexed guid, uint32 dstEid, address indexed fromAddress, uint256 amountSentLD, uint256 amountReceivedLD);
    event OFTReceived(bytes32 indexed guid, uint32 srcEid, address indexed toAddress, uint256 amountReceivedLD);
    /// What the relayer needs besides OFTSent: the token and the recipient.
    event StandInSend(bytes32 indexed guid, address token, address to);

    constructor(address relayer_, uint32 localEid_, uint256 nativeFee_, uint16 feeBps_) {
        require(feeBps_ <= 10000, "StargateStandIn: fee above 100%");
        relayer = relayer_;
        localEid = localEid_;
        nativeFee = nativeFee_;
        feeBps = feeBps_;
    }

    receive() external payable {}

    /// The native fee and what arrives for `amount` (the token fee rounds up).
    function quoteSend(uint256 amount) public view returns (uint256 fee, uint256 amountReceived) {
        uint256 tokenFee = (amount * feeBps + 9999) / 10000;
        return (nativeFee, amount - tokenFee);
    }

    /// Send `amount` of `token` (address(0): native ETH) to `to` on `dstEid`.
    function send(address token, uint32 dstEid, address to, uint256 amount) external payable returns (bytes32 guid) {
        require(amount > 0, "StargateStandIn: zero amount");
        require(dstEid != localEid, "StargateStandIn: destination is this chain");
        (uint256 fee, uint256 received) = quoteSend(amount);
        if (token == address(0)) {
            require(msg.value == amount + fee, "StargateStandIn: msg.value must be amount + native fee");
        } else {
            require(msg.value == fee, "StargateStandIn: msg.value must be the native fee");
            require(IERC20Like(token).transferFrom(msg.sender, address(this), amount), "StargateStandIn: transferFrom failed");
        }
        nonce += 1;
        guid = keccak256(abi.encode(block.chainid, address(this), nonce));
        emit OFTSent(guid, dstEid, msg.sender, amount, received);
        emit StandInSend(guid, token, to);
    }

    /// Relayer only: release `amount` of `token` to `to` for message `guid`, once.
    function deliver(bytes32 guid, uint32 srcEid, address token, address to, uint256 amount) external {
        require(msg.sender == relayer, "StargateStandIn: caller is not the relayer");
        require(!delivered[guid], "StargateStandIn: already delivered");
        delivered[guid] = true;
        if (token == address(0)) {
            (bool ok, ) = to.call{value: amount}("");
            require(ok, "StargateStandIn: native transfer failed");
        } else {
            require(IERC20Like(token).transfer(to, amount), "StargateStandIn: transfer failed");
        }
        emit OFTReceived(guid, srcEid, to, amount);
    }
}
