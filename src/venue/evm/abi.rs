//! The contract interfaces the adapters call, as `sol!` bindings: ERC-20,
//! WETH9, Uniswap V2 router and factory, Uniswap V3 (SushiSwap V3 is the
//! same code: factory, position manager, QuoterV2, both swap router shapes),
//! 0x's AllowanceHolder and Settler, the devnet's DevToken, the
//! Raindex V4 event emitter, and CoW Protocol's settlement and solver
//! allow-list (`@cowprotocol/contracts`).

use alloy::sol;

sol! {
    interface IERC20 {
        function balanceOf(address owner) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
        function approve(address spender, uint256 value) external returns (bool);
        function transfer(address to, uint256 value) external returns (bool);
        function decimals() external view returns (uint8);
        function symbol() external view returns (string);
        event Transfer(address indexed from, address indexed to, uint256 value);
    }

    interface IDevToken {
        function mint(address to, uint256 value) external;
        function setMinter(address account, bool allowed) external;
    }

    interface IWETH9 {
        function deposit() external payable;
        function withdraw(uint256 wad) external;
        event Deposit(address indexed dst, uint256 wad);
        event Withdrawal(address indexed src, uint256 wad);
    }

    interface IUniswapV2Router02 {
        function factory() external view returns (address);
        function WETH() external view returns (address);
        function getAmountsOut(uint256 amountIn, address[] calldata path) external view returns (uint256[] memory amounts);
        function swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] calldata path, address to, uint256 deadline) external returns (uint256[] memory amounts);
        function swapExactETHForTokens(uint256 amountOutMin, address[] calldata path, address to, uint256 deadline) external payable returns (uint256[] memory amounts);
        function swapExactTokensForETH(uint256 amountIn, uint256 amountOutMin, address[] calldata path, address to, uint256 deadline) external returns (uint256[] memory amounts);
        function addLiquidity(address tokenA, address tokenB, uint256 amountADesired, uint256 amountBDesired, uint256 amountAMin, uint256 amountBMin, address to, uint256 deadline) external returns (uint256 amountA, uint256 amountB, uint256 liquidity);
        function addLiquidityETH(address token, uint256 amountTokenDesired, uint256 amountTokenMin, uint256 amountETHMin, address to, uint256 deadline) external payable returns (uint256 amountToken, uint256 amountETH, uint256 liquidity);
    }

    interface IUniswapV2Factory {
        function getPair(address tokenA, address tokenB) external view returns (address pair);
    }

    interface IUniswapV3Factory {
        function getPool(address tokenA, address tokenB, uint24 fee) external view returns (address pool);
    }

    interface INonfungiblePositionManager {
        struct MintParams { address token0; address token1; uint24 fee; int24 tickLower; int24 tickUpper; uint256 amount0Desired; uint256 amount1Desired; uint256 amount0Min; uint256 amount1Min; address recipient; uint256 deadline; }
        function createAndInitializePoolIfNecessary(address token0, address token1, uint24 fee, uint160 sqrtPriceX96) external payable returns (address pool);
        function mint(MintParams calldata params) external payable returns (uint256 tokenId, uint128 liquidity, uint256 amount0, uint256 amount1);
    }

    /// Uniswap V3 QuoterV2 (evm.md §2.2): not `view`, called with `eth_call`.
    interface IQuoterV2 {
        struct QuoteExactInputSingleParams { address tokenIn; address tokenOut; uint256 amountIn; uint24 fee; uint160 sqrtPriceLimitX96; }
        function factory() external view returns (address);
        function WETH9() external view returns (address);
        function quoteExactInputSingle(QuoteExactInputSingleParams memory params) external returns (uint256 amountOut, uint160 sqrtPriceX96After, uint32 initializedTicksCrossed, uint256 gasEstimate);
    }

    /// Uniswap V3 SwapRouter (v1), whose exact-in single takes a deadline
    /// (`0x414bf389`, evm.md §1.6.1).
    interface ISwapRouter {
        struct ExactInputSingleParams { address tokenIn; address tokenOut; uint24 fee; address recipient; uint256 deadline; uint256 amountIn; uint256 amountOutMinimum; uint160 sqrtPriceLimitX96; }
        function factory() external view returns (address);
        function WETH9() external view returns (address);
        function exactInputSingle(ExactInputSingleParams calldata params) external payable returns (uint256 amountOut);
        function multicall(bytes[] calldata data) external payable returns (bytes[] memory results);
        function unwrapWETH9(uint256 amountMinimum, address recipient) external payable;
    }

    /// 0x's AllowanceHolder (0xProject/0x-settler `IAllowanceHolder`).
    interface IAllowanceHolder {
        function exec(address operator, address token, uint256 amount, address payable target, bytes calldata data) external payable returns (bytes memory result);
        function transferFrom(address token, address owner, address recipient, uint256 amount) external returns (bool);
    }

    /// 0x's Settler, the taker-submitted entry point (`ISettlerTakerSubmitted`).
    interface ISettler {
        struct AllowedSlippage { address recipient; address buyToken; uint256 minAmountOut; }
        function execute(AllowedSlippage calldata slippage, bytes[] calldata actions, bytes32 zid) external payable returns (bool);
    }

    /// The devnet Settler's one action (assets/contracts/ZeroExDev.sol).
    interface IDevSettlerActions {
        function UNISWAPV2(address sellToken, uint256 amountIn, address[] calldata path) external;
    }

    /// The swap probe (assets/contracts/SwapProbe.sol), run at the taker's
    /// address in `eth_call` only.
    interface ISwapProbe {
        function probe(address tokenIn, address tokenOut, uint256 amountIn, address spender, address target, bytes calldata data) external payable returns (uint256 spent, uint256 received);
    }

    /// SwapRouter02, without the deadline in the params (`0x04e45aaf`); the
    /// deadline goes in its `multicall(uint256,bytes[])`.
    interface ISwapRouter02 {
        struct ExactInputSingleParams { address tokenIn; address tokenOut; uint24 fee; address recipient; uint256 amountIn; uint256 amountOutMinimum; uint160 sqrtPriceLimitX96; }
        function exactInputSingle(ExactInputSingleParams calldata params) external payable returns (uint256 amountOut);
        function multicall(uint256 deadline, bytes[] calldata data) external payable returns (bytes[] memory results);
        function unwrapWETH9(uint256 amountMinimum, address recipient) external payable;
    }

    /// Raindex IOrderBookV4's fill events (docs/architecture.md §4.3).
    #[sol(all_derives)]
    interface IRaindexV4 {
        struct IO { address token; uint8 decimals; uint256 vaultId; }
        struct EvaluableV3 { address interpreter; address store; bytes bytecode; }
        struct OrderV3 { address owner; EvaluableV3 evaluable; IO[] validInputs; IO[] validOutputs; bytes32 nonce; }
        struct ClearConfig { uint256 aliceInputIOIndex; uint256 aliceOutputIOIndex; uint256 bobInputIOIndex; uint256 bobOutputIOIndex; uint256 aliceBountyVaultId; uint256 bobBountyVaultId; }
        struct ClearStateChange { uint256 aliceOutput; uint256 bobOutput; uint256 aliceInput; uint256 bobInput; }
        struct SignedContextV1 { address signer; uint256[] context; bytes signature; }
        struct TakeOrderConfigV3 { OrderV3 order; uint256 inputIOIndex; uint256 outputIOIndex; SignedContextV1[] signedContext; }
        event ClearV2(address sender, OrderV3 alice, OrderV3 bob, ClearConfig clearConfig);
        event AfterClear(address sender, ClearStateChange clearStateChange);
        event TakeOrderV2(address sender, TakeOrderConfigV3 config, uint256 input, uint256 output);
        function clear(OrderV3 calldata alice, OrderV3 calldata bob, ClearConfig calldata clearConfig, ClearStateChange calldata change) external;
        function takeOrder(TakeOrderConfigV3 calldata config, uint256 input, uint256 output) external;
    }

    /// `assets/contracts/RaindexEmitterV6.sol`: V5/V6's fill events (Float
    /// amounts as bytes32).
    #[sol(all_derives)]
    interface IRaindexEmitterV6 {
        struct IOV2 { address token; bytes32 vaultId; }
        struct EvaluableV4 { address interpreter; address store; bytes bytecode; }
        struct OrderV4 { address owner; EvaluableV4 evaluable; IOV2[] validInputs; IOV2[] validOutputs; bytes32 nonce; }
        struct ClearConfigV2 { uint256 aliceInputIOIndex; uint256 aliceOutputIOIndex; uint256 bobInputIOIndex; uint256 bobOutputIOIndex; bytes32 aliceBountyVaultId; bytes32 bobBountyVaultId; }
        struct ClearStateChangeV2 { bytes32 aliceOutput; bytes32 bobOutput; bytes32 aliceInput; bytes32 bobInput; }
        struct SignedContextV1 { address signer; bytes32[] context; bytes signature; }
        struct TakeOrderConfigV4 { OrderV4 order; uint256 inputIOIndex; uint256 outputIOIndex; SignedContextV1[] signedContext; }
        function clear(OrderV4 calldata alice, OrderV4 calldata bob, ClearConfigV2 calldata clearConfig, ClearStateChangeV2 calldata change) external;
        function takeOrder(TakeOrderConfigV4 calldata config, bytes32 input, bytes32 output) external;
    }

    /// CoW Protocol's GPv2Settlement (evm.md §2.4): `settle` with its trades
    /// (`GPv2Trade.Data`) and interactions (`GPv2Interaction.Data`, three
    /// lists: before the sells are pulled in, between, after the buys are
    /// paid out).
    interface IGPv2Settlement {
        struct TradeData { uint256 sellTokenIndex; uint256 buyTokenIndex; address receiver; uint256 sellAmount; uint256 buyAmount; uint32 validTo; bytes32 appData; uint256 feeAmount; uint256 flags; uint256 executedAmount; bytes signature; }
        struct InteractionData { address target; uint256 value; bytes callData; }
        function settle(address[] calldata tokens, uint256[] calldata clearingPrices, TradeData[] calldata trades, InteractionData[][3] calldata interactions) external;
        function domainSeparator() external view returns (bytes32);
        function vaultRelayer() external view returns (address);
        function authenticator() external view returns (address);
        function filledAmount(bytes calldata orderUid) external view returns (uint256);
        event Trade(address indexed owner, address sellToken, address buyToken, uint256 sellAmount, uint256 buyAmount, uint256 feeAmount, bytes orderUid);
    }

    /// CoW Protocol's solver allow-list.
    interface IGPv2AllowListAuthentication {
        function initializeManager(address manager_) external;
        function addSolver(address solver) external;
        function isSolver(address prospectiveSolver) external view returns (bool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolEvent;

    #[test]
    fn raindex_topics_match_the_reference() {
        // The deployed signatures' topic hashes, checked against a second source.
        assert_eq!(
            IRaindexV4::ClearV2::SIGNATURE_HASH.to_string(),
            "0x692ee69af2843c70772be93470669f3c73e583316a047b6bfefdae5629de37ce"
        );
        assert_eq!(
            IRaindexV4::AfterClear::SIGNATURE_HASH.to_string(),
            "0x3f20e55919cca701abb2a40ab72542b25ea7eed63a50f979dd2cd3231e5f488d"
        );
        assert_eq!(
            IRaindexV4::TakeOrderV2::SIGNATURE,
            "TakeOrderV2(address,((address,(address,address,bytes),(address,uint8,uint256)[],(address,uint8,uint256)[],bytes32),uint256,uint256,(address,uint256[],bytes)[]),uint256,uint256)"
        );
        assert!(
            !IRaindexV4::TakeOrderV2::SIGNATURE_HASH
                .to_string()
                .starts_with("0xdb6a7f7c")
        );
    }

    #[test]
    fn v3_selectors_match_the_reference() {
        // evm.md §1.6.1 and §2.2.
        use alloy::sol_types::SolCall;
        assert_eq!(
            hex(&ISwapRouter::exactInputSingleCall::SELECTOR),
            "414bf389"
        );
        assert_eq!(
            hex(&ISwapRouter02::exactInputSingleCall::SELECTOR),
            "04e45aaf"
        );
        assert_eq!(
            hex(&IQuoterV2::quoteExactInputSingleCall::SELECTOR),
            "c6a5026a"
        );
    }

    #[test]
    fn zerox_selectors_match_real_calldata() {
        // 0x's exec and Settler.execute, as they open real AllowanceHolder
        // calldata (seen in two integrations' tests and decoders).
        use alloy::sol_types::SolCall;
        assert_eq!(hex(&IAllowanceHolder::execCall::SELECTOR), "2213bc0b");
        assert_eq!(hex(&ISettler::executeCall::SELECTOR), "1fff991f");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
