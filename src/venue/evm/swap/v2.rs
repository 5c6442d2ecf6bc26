//! A Uniswap-V2-shaped Router02 as a swap provider (SushiSwap V2 on Hemi,
//! the verified fallback of evm.md §1.6.1; Uniswap or SushiSwap V2 on
//! Ethereum): the quote is `getAmountsOut`, the swap is exact-in with the
//! step's minimum out and its deadline; native ETH goes through the router's
//! WETH.

use super::{How, Quote, SwapCall, SwapRequest};
use crate::venue::VenueError;
use crate::venue::evm::abi::IUniswapV2Router02 as Router;
use crate::venue::evm::chain::ChainClient;
use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;

/// Gas assumed for one V2 hop when the router does not say.
pub const SWAP_GAS: u64 = 180_000;

#[derive(Debug, Clone)]
pub struct V2Router {
    pub name: String,
    pub router: Address,
}

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

impl V2Router {
    pub async fn quote_exact_in(
        &self,
        c: &ChainClient,
        req: &SwapRequest,
    ) -> Result<(U256, u64, How), VenueError> {
        let path = vec![req.token_in, req.token_out];
        let out = quote(c, self.router, path.clone(), req.amount_in).await?;
        Ok((out, SWAP_GAS, How::V2 { path }))
    }

    pub fn swap_call(
        &self,
        req: &SwapRequest,
        quote: &Quote,
        min_out: U256,
        me: Address,
        deadline_secs: u64,
    ) -> Result<SwapCall, VenueError> {
        let How::V2 { path } = &quote.how else {
            return Err(VenueError::Rejected(format!(
                "{} cannot carry out a {} quote",
                self.name, quote.how
            )));
        };
        if path.first() != Some(&req.token_in) || path.last() != Some(&req.token_out) {
            return Err(VenueError::Rejected(format!(
                "{}'s quoted path does not go from the step's token in to its token out",
                self.name
            )));
        }
        let (data, value) = swap_call(
            req.native_in,
            req.native_out,
            path.clone(),
            req.amount_in,
            min_out,
            me,
            deadline_secs,
        )?;
        Ok(SwapCall {
            to: self.router,
            data,
            value,
            spender: self.router,
        })
    }
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
) -> Result<(alloy::primitives::Bytes, U256), VenueError> {
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
