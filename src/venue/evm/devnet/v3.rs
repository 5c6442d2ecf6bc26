//! Uniswap V3 on a devnet chain from the npm build artifacts of
//! `@uniswap/v3-core` and `@uniswap/v3-periphery` (SushiSwap V3 on Hemi is
//! the same code): factory, position manager, QuoterV2 and SwapRouter, and
//! pools seeded through the position manager with liquidity in two ranges
//! (the full range and a band around the price).

use super::*;
use crate::venue::evm::abi::{IERC20, INonfungiblePositionManager, IWETH9};
use alloy::network::TransactionBuilder;
use alloy::primitives::aliases::{I24, U24};
use alloy::primitives::{Address, Bytes, U256, U512};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::{SolCall, SolValue};
use anyhow::anyhow;
use std::path::Path;
use std::str::FromStr;

sol! {
    interface IUniswapV3PoolState {
        function slot0() external view returns (uint160 sqrtPriceX96, int24 tick, uint16 observationIndex, uint16 observationCardinality, uint16 observationCardinalityNext, uint8 feeProtocol, bool unlocked);
    }
}

/// The fee tier the devnet's pools use, and its tick spacing.
pub const POOL_FEE: u32 = 3_000;
const TICK_SPACING: i32 = 60;
/// The widest ticks a 60-spaced pool allows.
const MAX_TICK: i32 = 887_220;
/// The band's half width in ticks (about ±45 % in price).
const BAND: i32 = 60 * 62;

/// What a V3 deployment on one devnet chain is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Contracts {
    pub factory: Address,
    pub positions: Address,
    pub quoter: Address,
    pub router: Address,
}

/// A contract from the V3 npm artifacts (`artifacts/contracts/<path>.json`).
fn v3_artifact(root: &Path, package: &str, path: &str) -> anyhow::Result<Artifact> {
    npm_artifact(
        root,
        &format!("@uniswap/{package}/artifacts/contracts/{path}.json"),
    )
}

/// The pool creation code the periphery's `PoolAddress` library assumes:
/// the npm pool bytecode must hash to it (evm.md §1.6.1, the same for Sushi).
pub const POOL_INIT_CODE_HASH: &str =
    "0xe34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54";

pub fn pool_init_code_hash(root: &Path) -> anyhow::Result<String> {
    let pool = v3_artifact(root, "v3-core", "UniswapV3Pool.sol/UniswapV3Pool")?;
    Ok(alloy::primitives::keccak256(&pool.bytecode).to_string())
}

/// Deploy factory, position manager, QuoterV2 and SwapRouter.
pub(super) async fn deploy_v3(
    root: &Path,
    p: &DynProvider,
    weth: Address,
) -> anyhow::Result<V3Contracts> {
    let hash = pool_init_code_hash(root)?;
    if hash != POOL_INIT_CODE_HASH {
        anyhow::bail!(
            "the npm UniswapV3Pool hashes to {hash}, not the {POOL_INIT_CODE_HASH} the periphery computes pool addresses with"
        );
    }
    let factory = deploy_big(
        p,
        &v3_artifact(root, "v3-core", "UniswapV3Factory.sol/UniswapV3Factory")?.bytecode,
        vec![],
    )
    .await?;
    let positions = deploy_big(
        p,
        &v3_artifact(
            root,
            "v3-periphery",
            "NonfungiblePositionManager.sol/NonfungiblePositionManager",
        )?
        .bytecode,
        // No token descriptor: it only draws the position NFTs' pictures.
        (factory, weth, Address::ZERO).abi_encode_params(),
    )
    .await?;
    let quoter = deploy_big(
        p,
        &v3_artifact(root, "v3-periphery", "lens/QuoterV2.sol/QuoterV2")?.bytecode,
        (factory, weth).abi_encode_params(),
    )
    .await?;
    let router = deploy_big(
        p,
        &v3_artifact(root, "v3-periphery", "SwapRouter.sol/SwapRouter")?.bytecode,
        (factory, weth).abi_encode_params(),
    )
    .await?;
    Ok(V3Contracts {
        factory,
        positions,
        quoter,
        router,
    })
}

/// √(amount1 / amount0) in Q64.96, the price a pool of these reserves starts at.
pub fn sqrt_price_x96(amount0: U256, amount1: U256) -> anyhow::Result<U256> {
    if amount0.is_zero() {
        anyhow::bail!("a pool needs some of both tokens");
    }
    let ratio: U512 = (U512::from(amount1) << 192usize) / U512::from(amount0);
    let root: U512 = ratio.root(2);
    U256::checked_from_limbs_slice(&root.as_limbs()[..4])
        .filter(|_| root.as_limbs()[4..].iter().all(|l| *l == 0))
        .ok_or_else(|| anyhow!("price out of range"))
}

fn floor_to_spacing(tick: i32) -> i32 {
    tick.div_euclid(TICK_SPACING) * TICK_SPACING
}

/// A pool of `a`/`b` (`None`: native ETH, as WETH) at the price of these
/// amounts, half of them over the full range and half in a band around the
/// price.
pub(super) async fn v3_pool(
    p: &DynProvider,
    v3: &V3Contracts,
    weth: Address,
    a: Address,
    amount_a: U256,
    b: Option<Address>,
    amount_b: U256,
) -> anyhow::Result<()> {
    let me = PrivateKeySigner::from_str(DEPLOYER_KEY)?.address();
    top_up(p, a, me, amount_a).await?;
    let b = match b {
        Some(b) => {
            top_up(p, b, me, amount_b).await?;
            b
        }
        None => {
            set_balance(
                p,
                me,
                amount_b + base_units(crate::model::TokenId::Eth, 100),
            )
            .await?;
            call(p, weth, IWETH9::depositCall {}.abi_encode(), amount_b).await?;
            weth
        }
    };
    for (t, amount) in [(a, amount_a), (b, amount_b)] {
        let approve = IERC20::approveCall {
            spender: v3.positions,
            value: amount,
        };
        call(p, t, approve.abi_encode(), U256::ZERO).await?;
    }
    let ((token0, amount0), (token1, amount1)) = if a < b {
        ((a, amount_a), (b, amount_b))
    } else {
        ((b, amount_b), (a, amount_a))
    };
    let fee = U24::from(POOL_FEE);
    let create = INonfungiblePositionManager::createAndInitializePoolIfNecessaryCall {
        token0,
        token1,
        fee,
        sqrtPriceX96: alloy::primitives::aliases::U160::from(sqrt_price_x96(amount0, amount1)?),
    };
    call(p, v3.positions, create.abi_encode(), U256::ZERO).await?;
    let pool = {
        let c = crate::venue::evm::abi::IUniswapV3Factory::getPoolCall {
            tokenA: token0,
            tokenB: token1,
            fee,
        };
        let out = p
            .call(
                TransactionRequest::default()
                    .with_to(v3.factory)
                    .with_input(Bytes::from(c.abi_encode())),
            )
            .await?;
        crate::venue::evm::abi::IUniswapV3Factory::getPoolCall::abi_decode_returns(&out)?
    };
    let out = p
        .call(
            TransactionRequest::default()
                .with_to(pool)
                .with_input(Bytes::from(IUniswapV3PoolState::slot0Call {}.abi_encode())),
        )
        .await?;
    let tick: i32 = IUniswapV3PoolState::slot0Call::abi_decode_returns(&out)?
        .tick
        .as_i32();
    let centre = floor_to_spacing(tick);
    let half = |v: U256| v / U256::from(2u64);
    for (lower, upper, a0, a1) in [
        (-MAX_TICK, MAX_TICK, half(amount0), half(amount1)),
        (
            (centre - BAND).max(-MAX_TICK),
            (centre + BAND).min(MAX_TICK),
            amount0 - half(amount0),
            amount1 - half(amount1),
        ),
    ] {
        let mint = INonfungiblePositionManager::mintCall {
            params: INonfungiblePositionManager::MintParams {
                token0,
                token1,
                fee,
                tickLower: I24::try_from(lower)?,
                tickUpper: I24::try_from(upper)?,
                amount0Desired: a0,
                amount1Desired: a1,
                amount0Min: U256::ZERO,
                amount1Min: U256::ZERO,
                recipient: me,
                deadline: U256::from(u64::MAX / 2),
            },
        };
        call(p, v3.positions, mint.abi_encode(), U256::ZERO).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqrt_price_of_equal_reserves_is_one_in_q96() {
        let one = U256::from(1u64) << 96;
        let e18 = U256::from(10u64).pow(U256::from(18u64));
        assert_eq!(sqrt_price_x96(e18, e18).unwrap(), one);
        // 4× as much token1: the price is 4, its root 2.
        assert_eq!(
            sqrt_price_x96(e18, e18 * U256::from(4u64)).unwrap(),
            one * U256::from(2u64)
        );
        assert!(sqrt_price_x96(U256::ZERO, e18).is_err());
        assert_eq!(floor_to_spacing(-61), -120);
        assert_eq!(floor_to_spacing(59), 0);
    }
}
