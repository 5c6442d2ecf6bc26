//! Uniswap V3 pools as a swap provider (SushiSwap V3 on Hemi is the same
//! code): each configured fee tier's pool is found at the factory, quoted
//! with QuoterV2 (`eth_call`, evm.md §2.2), and the best tier is swapped
//! exact-in through the swap router. Which `exactInputSingle` the router
//! implements (SwapRouter with a deadline, or SwapRouter02 without) is read
//! from its bytecode at start, with its `factory()` and `WETH9()` checked
//! against the configuration (evm.md §1.6.1).

use super::{How, Quote, SwapCall, SwapRequest};
use crate::config::V3Config;
use crate::venue::VenueError;
use crate::venue::evm::abi::{IQuoterV2, ISwapRouter, ISwapRouter02, IUniswapV3Factory};
use crate::venue::evm::chain::ChainClient;
use crate::venue::evm::txmgr::GasHint;
use alloy::primitives::{Address, Bytes, U256, aliases::U24};
use alloy::sol_types::SolCall;
use std::collections::HashMap;
use std::sync::Mutex;

/// Gas assumed when the quoter's own estimate is missing.
pub const SWAP_GAS: u64 = 200_000;
/// What a multicall and an unwrap add to the swap itself.
const UNWRAP_GAS: u64 = 40_000;

/// Which exact-in single the router speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterShape {
    /// SwapRouter (v1): `exactInputSingle` with a deadline, `0x414bf389`.
    WithDeadline,
    /// SwapRouter02: no deadline in the params, `0x04e45aaf`.
    Router02,
}

#[derive(Debug)]
pub struct V3Pools {
    pub name: String,
    pub at: V3Config,
    pub shape: RouterShape,
    /// Pools found at the factory; an absent one is asked again next time.
    pools: Mutex<HashMap<(Address, Address, u32), Address>>,
}

/// Whether `code` dispatches on `selector` (a `PUSH4 selector` in it).
fn dispatches(code: &[u8], selector: [u8; 4]) -> bool {
    code.windows(5)
        .any(|w| w[0] == 0x63 && w[1..] == selector[..])
}

impl V3Pools {
    /// Check the deployment on the chain and learn the router's shape.
    pub async fn connect(c: &ChainClient, at: V3Config, weth: Address) -> Result<V3Pools, String> {
        let name = at.name.clone();
        for (what, address, factory, weth9) in [
            (
                "quoter",
                at.quoter,
                c.view(at.quoter, IQuoterV2::factoryCall {}).await,
                c.view(at.quoter, IQuoterV2::WETH9Call {}).await,
            ),
            (
                "router",
                at.router,
                c.view(at.router, ISwapRouter::factoryCall {}).await,
                c.view(at.router, ISwapRouter::WETH9Call {}).await,
            ),
        ] {
            let factory =
                factory.map_err(|e| format!("{name} {what} {address} has no factory(): {e}"))?;
            if factory != at.factory {
                return Err(format!(
                    "{name} {what} {address} belongs to factory {factory}, not {}",
                    at.factory
                ));
            }
            let weth9 =
                weth9.map_err(|e| format!("{name} {what} {address} has no WETH9(): {e}"))?;
            if weth9 != weth {
                return Err(format!(
                    "{name} {what} {address} wraps ETH as {weth9}, not the chain's WETH {weth}"
                ));
            }
        }
        let code = c
            .code(at.router)
            .await
            .map_err(|e| format!("{name} router {}: {e}", at.router))?;
        let shape = match (
            dispatches(&code, ISwapRouter::exactInputSingleCall::SELECTOR),
            dispatches(&code, ISwapRouter02::exactInputSingleCall::SELECTOR),
        ) {
            (true, false) => RouterShape::WithDeadline,
            (false, true) => RouterShape::Router02,
            (true, true) => {
                return Err(format!(
                    "{name} router {} answers both exactInputSingle shapes; refusing to guess",
                    at.router
                ));
            }
            (false, false) => {
                return Err(format!(
                    "{name} router {} has no exactInputSingle (neither 0x414bf389 nor 0x04e45aaf)",
                    at.router
                ));
            }
        };
        if at.fees.is_empty() {
            return Err(format!("{name} has no fee tiers to look in"));
        }
        Ok(V3Pools {
            name,
            at,
            shape,
            pools: Mutex::new(HashMap::new()),
        })
    }

    async fn pool(
        &self,
        c: &ChainClient,
        a: Address,
        b: Address,
        fee: u32,
    ) -> Result<Option<Address>, VenueError> {
        let key = (a.min(b), a.max(b), fee);
        if let Some(p) = self
            .pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Some(*p));
        }
        let pool = c
            .view(
                self.at.factory,
                IUniswapV3Factory::getPoolCall {
                    tokenA: a,
                    tokenB: b,
                    fee: U24::from(fee),
                },
            )
            .await?;
        if pool == Address::ZERO {
            return Ok(None);
        }
        self.pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, pool);
        Ok(Some(pool))
    }

    /// The best tier's quote: (amount out, gas, how).
    pub async fn quote_exact_in(
        &self,
        c: &ChainClient,
        req: &SwapRequest,
    ) -> Result<(U256, u64, How), VenueError> {
        let mut best: Option<(U256, u64, u32)> = None;
        let mut why = Vec::new();
        for &fee in &self.at.fees {
            if self
                .pool(c, req.token_in, req.token_out, fee)
                .await?
                .is_none()
            {
                why.push(format!("no {fee} pool"));
                continue;
            }
            let call = IQuoterV2::quoteExactInputSingleCall {
                params: IQuoterV2::QuoteExactInputSingleParams {
                    tokenIn: req.token_in,
                    tokenOut: req.token_out,
                    amountIn: req.amount_in,
                    fee: U24::from(fee),
                    sqrtPriceLimitX96: Default::default(),
                },
            };
            let r = match c.view(self.at.quoter, call).await {
                Ok(r) => r,
                // This tier cannot take the amount (no liquidity in range).
                Err(VenueError::Rejected(e)) => {
                    why.push(format!("{fee} pool: {e}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let gas = u64::try_from(r.gasEstimate).unwrap_or(SWAP_GAS).max(1);
            if best.is_none_or(|(out, _, _)| r.amountOut > out) {
                best = Some((r.amountOut, gas, fee));
            }
        }
        let Some((out, gas, fee)) = best else {
            return Err(VenueError::Rejected(format!(
                "{} has no pool that takes it ({})",
                self.name,
                why.join(", ")
            )));
        };
        let gas = if req.native_out {
            gas + UNWRAP_GAS
        } else {
            gas
        };
        Ok((out, gas, How::V3 { fee }))
    }

    pub fn swap_call(
        &self,
        req: &SwapRequest,
        quote: &Quote,
        min_out: U256,
        me: Address,
        deadline_secs: u64,
    ) -> Result<SwapCall, VenueError> {
        let How::V3 { fee } = quote.how else {
            return Err(VenueError::Rejected(format!(
                "{} cannot carry out a {} quote",
                self.name, quote.how
            )));
        };
        if !self.at.fees.contains(&fee) {
            return Err(VenueError::Rejected(format!(
                "{} was quoted at fee {fee}, which is not one of its tiers",
                self.name
            )));
        }
        let router = self.at.router;
        // Native out: the router receives WETH, unwraps it and pays us ETH.
        let recipient = if req.native_out { router } else { me };
        let deadline = U256::from(deadline_secs);
        let fee = U24::from(fee);
        let data: Bytes = match self.shape {
            RouterShape::WithDeadline => {
                let swap = ISwapRouter::exactInputSingleCall {
                    params: ISwapRouter::ExactInputSingleParams {
                        tokenIn: req.token_in,
                        tokenOut: req.token_out,
                        fee,
                        recipient,
                        deadline,
                        amountIn: req.amount_in,
                        amountOutMinimum: min_out,
                        sqrtPriceLimitX96: Default::default(),
                    },
                }
                .abi_encode();
                if req.native_out {
                    let unwrap = ISwapRouter::unwrapWETH9Call {
                        amountMinimum: min_out,
                        recipient: me,
                    }
                    .abi_encode();
                    ISwapRouter::multicallCall {
                        data: vec![swap.into(), unwrap.into()],
                    }
                    .abi_encode()
                    .into()
                } else {
                    swap.into()
                }
            }
            RouterShape::Router02 => {
                let swap = ISwapRouter02::exactInputSingleCall {
                    params: ISwapRouter02::ExactInputSingleParams {
                        tokenIn: req.token_in,
                        tokenOut: req.token_out,
                        fee,
                        recipient,
                        amountIn: req.amount_in,
                        amountOutMinimum: min_out,
                        sqrtPriceLimitX96: Default::default(),
                    },
                }
                .abi_encode();
                let mut calls = vec![swap.into()];
                if req.native_out {
                    calls.push(
                        ISwapRouter02::unwrapWETH9Call {
                            amountMinimum: min_out,
                            recipient: me,
                        }
                        .abi_encode()
                        .into(),
                    );
                }
                // The deadline lives in the multicall for this shape.
                ISwapRouter02::multicallCall {
                    deadline,
                    data: calls,
                }
                .abi_encode()
                .into()
            }
        };
        Ok(SwapCall {
            to: router,
            data,
            value: if req.native_in {
                req.amount_in
            } else {
                U256::ZERO
            },
            spender: router,
            // A V3 pool's oracle also writes only in a newer second, but
            // over an observation slot it reads anyway and that is never
            // empty (`grow` fills slots ahead): a warm overwrite, inside
            // the estimate's margin.
            gas: GasHint::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_router_shape_is_read_from_its_dispatcher() {
        let v1 = [0x80, 0x63, 0x41, 0x4b, 0xf3, 0x89, 0x14];
        let v2 = [0x63, 0x04, 0xe4, 0x5a, 0xaf];
        assert!(dispatches(&v1, ISwapRouter::exactInputSingleCall::SELECTOR));
        assert!(!dispatches(
            &v1,
            ISwapRouter02::exactInputSingleCall::SELECTOR
        ));
        assert!(dispatches(
            &v2,
            ISwapRouter02::exactInputSingleCall::SELECTOR
        ));
        // The selector's bytes without the PUSH4 before them are not a dispatch.
        assert!(!dispatches(
            &[0x62, 0x41, 0x4b, 0xf3, 0x89],
            ISwapRouter::exactInputSingleCall::SELECTOR
        ));
    }
}
