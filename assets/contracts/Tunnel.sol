// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

interface IBurnable {
    function burn(address from, uint256 value) external;
}

interface IERC20Transfer {
    function transfer(address to, uint256 value) external returns (bool);
}

/// The withdrawal both sides agree on; its hash is its identity.
struct Withdrawal {
    uint256 nonce;
    address from;
    address l1Token;
    address to;
    uint256 amount;
}

/// The L2 (Hemi) side of an OP-like tunnel for the devnet: `withdraw` burns
/// the tunnel token and records the withdrawal, as L2StandardBridge and
/// L2ToL1MessagePasser do.
contract TunnelL2Bridge {
    address public immutable owner;
    uint256 public messageNonce;
    mapping(address => address) public l1TokenOf;
    mapping(bytes32 => bool) public sentMessages;

    event WithdrawalInitiated(bytes32 indexed withdrawalHash, address indexed from, address indexed l2Token, uint256 nonce, address l1Token, address to, uint256 amount);

    constructor() {
        owner = msg.sender;
    }

    function setTunnelToken(address l2Token, address l1Token) external {
        require(msg.sender == owner, "TunnelL2Bridge: caller is not the owner");
        l1TokenOf[l2Token] = l1Token;
    }

    function withdraw(address l2Token, uint256 amount) external returns (bytes32 withdrawalHash) {
        address l1Token = l1TokenOf[l2Token];
        require(l1Token != address(0), "TunnelL2Bridge: not a tunnel token");
        require(amount > 0, "TunnelL2Bridge: zero amount");
        IBurnable(l2Token).burn(msg.sender, amount);
        Withdrawal memory w = Withdrawal(messageNonce, msg.sender, l1Token, msg.sender, amount);
        messageNonce += 1;
        withdrawalHash = keccak256(abi.encode(w));
        sentMessages[withdrawalHash] = true;
        emit WithdrawalInitiated(withdrawalHash, msg.sender, l2Token, w.nonce, l1Token, w.to, amount);
    }
}

/// The L1 (Ethereum) side: a proposer posts outputs naming the withdrawals
/// they cover (the stand-in for an output root and its storage proof); the
/// keeper proves a withdrawal against a proposed output, then finalizes it
/// once both the proof and the output are older than the finalization
/// period. Finalizing releases the L1 token from this contract's escrow.
contract TunnelPortal {
    struct Output {
        uint128 l2BlockNumber;
        uint128 timestamp;
    }

    struct Proven {
        uint128 outputIndex;
        uint128 timestamp;
    }

    address public immutable proposer;
    uint256 public immutable finalizationPeriod;
    Output[] public outputs;
    mapping(bytes32 => uint256) public outputIndexPlusOne;
    mapping(bytes32 => Proven) public provenWithdrawals;
    mapping(bytes32 => bool) public finalizedWithdrawals;

    event OutputProposed(uint256 indexed l2OutputIndex, uint256 indexed l2BlockNumber, uint256 l1Timestamp, uint256 withdrawals);
    event WithdrawalProven(bytes32 indexed withdrawalHash, address indexed from, address indexed to);
    event WithdrawalFinalized(bytes32 indexed withdrawalHash, bool success);

    constructor(address proposer_, uint256 finalizationPeriod_) {
        proposer = proposer_;
        finalizationPeriod = finalizationPeriod_;
    }

    function latestBlockNumber() external view returns (uint256) {
        return outputs.length == 0 ? 0 : outputs[outputs.length - 1].l2BlockNumber;
    }

    function proposeL2Output(uint256 l2BlockNumber, bytes32[] calldata withdrawalHashes) external {
        require(msg.sender == proposer, "TunnelPortal: caller is not the proposer");
        outputs.push(Output(uint128(l2BlockNumber), uint128(block.timestamp)));
        uint256 index = outputs.length;
        for (uint256 i = 0; i < withdrawalHashes.length; i++) {
            if (outputIndexPlusOne[withdrawalHashes[i]] == 0) {
                outputIndexPlusOne[withdrawalHashes[i]] = index;
            }
        }
        emit OutputProposed(index - 1, l2BlockNumber, block.timestamp, withdrawalHashes.length);
    }

    function hashWithdrawal(Withdrawal calldata w) public pure returns (bytes32) {
        return keccak256(abi.encode(w));
    }

    /// When a proven withdrawal may be finalized (0 when not proven).
    function finalizeAt(bytes32 withdrawalHash) external view returns (uint256) {
        Proven memory p = provenWithdrawals[withdrawalHash];
        if (p.timestamp == 0) return 0;
        uint256 outputTs = outputs[p.outputIndex].timestamp;
        uint256 from = p.timestamp > outputTs ? p.timestamp : outputTs;
        return from + finalizationPeriod;
    }

    function proveWithdrawalTransaction(Withdrawal calldata w) external {
        bytes32 h = keccak256(abi.encode(w));
        uint256 index = outputIndexPlusOne[h];
        require(index != 0, "TunnelPortal: withdrawal is not in a proposed output");
        require(provenWithdrawals[h].timestamp == 0, "TunnelPortal: withdrawal hash has already been proven");
        provenWithdrawals[h] = Proven(uint128(index - 1), uint128(block.timestamp));
        emit WithdrawalProven(h, w.from, w.to);
    }

    function finalizeWithdrawalTransaction(Withdrawal calldata w) external {
        bytes32 h = keccak256(abi.encode(w));
        Proven memory p = provenWithdrawals[h];
        require(p.timestamp != 0, "TunnelPortal: withdrawal has not been proven yet");
        require(!finalizedWithdrawals[h], "TunnelPortal: withdrawal has already been finalized");
        require(block.timestamp >= p.timestamp + finalizationPeriod, "TunnelPortal: proven withdrawal finalization period has not elapsed");
        require(block.timestamp >= outputs[p.outputIndex].timestamp + finalizationPeriod, "TunnelPortal: output proposal finalization period has not elapsed");
        finalizedWithdrawals[h] = true;
        require(IERC20Transfer(w.l1Token).transfer(w.to, w.amount), "TunnelPortal: release failed");
        emit WithdrawalFinalized(h, true);
    }
}
