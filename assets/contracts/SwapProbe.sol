// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

// Never deployed. Its runtime code is put at the taker's own address for one
// `eth_call` (a state override), so that calldata someone else wrote (an
// aggregator's) runs as the taker would send it: the approve is the taker's,
// the swap's msg.sender is the taker, and what it takes and pays is read off
// the taker's balances rather than off the aggregator's word
// (`venue::evm::swap::probe`). The runtime code is embedded in the binary
// (`SwapProbe.runtime.hex`); a devnet test recompiles this file and checks
// the two are the same bytes.

interface IERC20Probe {
    function balanceOf(address who) external view returns (uint256);
}

contract SwapProbe {
    /// Approve `amountIn` of `tokenIn` to `spender` (none when zero), call
    /// `target` with `data`, and say how much of `tokenIn` left and how
    /// much of `tokenOut` arrived. A reverting call reverts with its reason.
    function probe(
        address tokenIn,
        address tokenOut,
        uint256 amountIn,
        address spender,
        address target,
        bytes calldata data
    ) external payable returns (uint256 spent, uint256 received) {
        uint256 inBefore = IERC20Probe(tokenIn).balanceOf(address(this));
        uint256 outBefore = IERC20Probe(tokenOut).balanceOf(address(this));
        if (spender != address(0)) {
            // approve(address,uint256), return value not required (USDT).
            (bool approved,) = tokenIn.call(abi.encodeWithSelector(0x095ea7b3, spender, amountIn));
            require(approved, "probe: approve reverted");
        }
        (bool ok, bytes memory ret) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        uint256 inAfter = IERC20Probe(tokenIn).balanceOf(address(this));
        uint256 outAfter = IERC20Probe(tokenOut).balanceOf(address(this));
        spent = inBefore > inAfter ? inBefore - inAfter : 0;
        received = outAfter > outBefore ? outAfter - outBefore : 0;
    }
}
