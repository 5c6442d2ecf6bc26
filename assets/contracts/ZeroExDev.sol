// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

// The devnet's 0x AllowanceHolder flow (evm.md §2.5). 0x publishes its
// Settler and AllowanceHolder as source only (0xProject/0x-settler), in no
// package, so these two keep the shape that matters to a taker — the calls,
// who is approved, who receives — and route through the devnet's real
// Uniswap V2 router instead of 0x's liquidity sources.

interface IERC20Dev {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
    function approve(address spender, uint256 value) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
}

interface IV2RouterDev {
    function swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] calldata path, address to, uint256 deadline)
        external
        returns (uint256[] memory amounts);
    function swapExactETHForTokens(uint256 amountOutMin, address[] calldata path, address to, uint256 deadline)
        external
        payable
        returns (uint256[] memory amounts);
    function swapExactTokensForETH(uint256 amountIn, uint256 amountOutMin, address[] calldata path, address to, uint256 deadline)
        external
        returns (uint256[] memory amounts);
}

interface IAllowanceHolderDev {
    function transferFrom(address token, address owner, address recipient, uint256 amount) external returns (bool);
}

/// AllowanceHolder: `exec` lets `operator` move up to `amount` of `token`
/// from the caller for the length of this one call, then calls `target`
/// with `data` and the caller's address appended (as ERC-2771 does);
/// `transferFrom` is how the operator moves it. The taker approves this
/// contract, never the settler.
contract DevAllowanceHolder {
    address private operator_;
    address private owner_;
    address private token_;
    uint256 private left_;

    error ConfusedDeputy();
    error Reentered();
    error NotAllowed();

    function exec(address operator, address token, uint256 amount, address payable target, bytes calldata data)
        external
        payable
        returns (bytes memory result)
    {
        if (operator_ != address(0)) revert Reentered();
        if (target != operator || target.code.length == 0) revert ConfusedDeputy();
        operator_ = operator;
        owner_ = msg.sender;
        token_ = token;
        left_ = amount;
        (bool ok, bytes memory r) = target.call{value: msg.value}(abi.encodePacked(data, msg.sender));
        operator_ = address(0);
        owner_ = address(0);
        token_ = address(0);
        left_ = 0;
        if (!ok) {
            assembly {
                revert(add(r, 32), mload(r))
            }
        }
        return r;
    }

    function transferFrom(address token, address owner, address recipient, uint256 amount) external returns (bool) {
        if (msg.sender != operator_ || owner != owner_ || token != token_ || amount > left_) revert NotAllowed();
        left_ -= amount;
        require(IERC20Dev(token).transferFrom(owner, recipient, amount), "transferFrom failed");
        return true;
    }
}

/// Settler: `execute` runs its actions for the taker (the caller, or the
/// address the AllowanceHolder appended), then pays what it bought to the
/// recipient, reverting below `minAmountOut`. The one action is a V2 swap
/// along a path; native ETH is 0xEeee…EEeE, as 0x spells it.
contract DevSettler {
    struct AllowedSlippage {
        address payable recipient;
        address buyToken;
        uint256 minAmountOut;
    }

    address constant ETH = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;
    address public immutable allowanceHolder;
    IV2RouterDev public immutable router;

    error TooMuchSlippage(address buyToken, uint256 expected, uint256 actual);
    error UnknownAction(bytes4 selector);

    constructor(address allowanceHolder_, address router_) {
        allowanceHolder = allowanceHolder_;
        router = IV2RouterDev(router_);
    }

    receive() external payable {}

    /// An action's selector and argument shape (never called itself).
    function UNISWAPV2(address sellToken, uint256 amountIn, address[] calldata path) external pure {}

    function execute(AllowedSlippage calldata slippage, bytes[] calldata actions, bytes32) external payable returns (bool) {
        address taker = msg.sender;
        if (msg.sender == allowanceHolder) {
            taker = address(bytes20(msg.data[msg.data.length - 20:]));
        }
        uint256 before = held(slippage.buyToken) - (slippage.buyToken == ETH ? msg.value : 0);
        for (uint256 i = 0; i < actions.length; i++) {
            bytes4 selector = bytes4(actions[i][:4]);
            if (selector != this.UNISWAPV2.selector) revert UnknownAction(selector);
            (address sellToken, uint256 amountIn, address[] memory path) =
                abi.decode(actions[i][4:], (address, uint256, address[]));
            if (sellToken == ETH) {
                router.swapExactETHForTokens{value: amountIn}(0, path, address(this), block.timestamp);
            } else {
                IAllowanceHolderDev(allowanceHolder).transferFrom(sellToken, taker, address(this), amountIn);
                IERC20Dev(sellToken).approve(address(router), amountIn);
                if (slippage.buyToken == ETH) {
                    router.swapExactTokensForETH(amountIn, 0, path, address(this), block.timestamp);
                } else {
                    router.swapExactTokensForTokens(amountIn, 0, path, address(this), block.timestamp);
                }
            }
        }
        uint256 got = held(slippage.buyToken) - before;
        if (got < slippage.minAmountOut) revert TooMuchSlippage(slippage.buyToken, slippage.minAmountOut, got);
        if (slippage.buyToken == ETH) {
            (bool ok,) = slippage.recipient.call{value: got}("");
            require(ok, "ETH transfer failed");
        } else {
            require(IERC20Dev(slippage.buyToken).transfer(slippage.recipient, got), "transfer failed");
        }
        return true;
    }

    function held(address token) private view returns (uint256) {
        return token == ETH ? address(this).balance : IERC20Dev(token).balanceOf(address(this));
    }
}
