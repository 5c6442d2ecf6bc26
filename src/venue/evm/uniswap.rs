//! Uniswap-V2-style swaps through a Router02: the quote is `getAmountsOut`,
//! the swap is exact-in with the step's minimum out (from the slippage
//! bound) and its deadline; native ETH goes through the router's WETH.

use super::abi::IUniswapV2Router02 as Router;
use super::chain::ChainClient;
use crate::venue::VenueError;
use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolCall;

pub async fn quote(
    c: &ChainClient,
    router: Address,
    path: Vec<Address>,
    amount_in: U256,
) -> Result<U256, VenueError> {
    let amounts = c
        .view(
            router,
            Router::getAmountsOutCall {
                amountIn: amount_in,
                path,
            },
        )
        .await?;
    amounts
        .last()
        .copied()
        .ok_or_else(|| VenueError::Rejected("getAmountsOut returned nothing".into()))
}

/// Calldata and value of an exact-in swap from `me`.
pub fn swap_call(
    native_in: bool,
    native_out: bool,
    path: Vec<Address>,
    amount_in: U256,
    min_out: U256,
    me: Address,
    deadline_secs: u64,
) -> Result<(Bytes, U256), VenueError> {
    let deadline = U256::from(deadline_secs);
    Ok(match (native_in, native_out) {
        (true, false) => (
            Router::swapExactETHForTokensCall {
                amountOutMin: min_out,
                path,
                to: me,
                deadline,
            }
            .abi_encode()
            .into(),
            amount_in,
        ),
        (false, true) => (
            Router::swapExactTokensForETHCall {
                amountIn: amount_in,
                amountOutMin: min_out,
                path,
                to: me,
                deadline,
            }
            .abi_encode()
            .into(),
            U256::ZERO,
        ),
        (false, false) => (
            Router::swapExactTokensForTokensCall {
                amountIn: amount_in,
                amountOutMin: min_out,
                path,
                to: me,
                deadline,
            }
            .abi_encode()
            .into(),
            U256::ZERO,
        ),
        (true, true) => return Err(VenueError::Rejected("ETH → ETH is not a swap".into())),
    })
}
