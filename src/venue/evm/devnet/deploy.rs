//! Deploying a chain: tokens with their real decimals, WETH9, Uniswap V2
//! and Uniswap V3 (on Hemi as SushiSwap V3 runs there) and the pools with
//! their price gap, the real Stargate V2 over LayerZero's EndpointV2
//! (`deploy_stargate_v2`: USDC on Ethereum is its pool's token, Hemi's
//! USDC the USDC.e its OFT mints, bridged over by `usdc_e`), the OP Stack's real tunnel
//! (`deploy_op_l1`, `deploy_op_bridge`: the tunnel tokens on Hemi are the
//! factory's `OptimismMintableERC20`s, funded by real deposits through
//! `L1StandardBridge`, so the L1 bridge holds their escrow), 0x's
//! AllowanceHolder and Settler on Ethereum; both chains together as a
//! `Deployment`.

use super::*;
use crate::model::{Chain, TokenId};
use crate::venue::evm::abi::{IDevToken, IERC20, IUniswapV2Router02};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use anyhow::{Context, anyhow};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;

pub(super) async fn deploy(
    p: &DynProvider,
    code: &Bytes,
    args: Vec<u8>,
) -> anyhow::Result<Address> {
    let mut input = code.to_vec();
    input.extend(args);
    let r = send_mined(
        p,
        TransactionRequest::default().with_deploy_code(Bytes::from(input)),
    )
    .await?;
    r.contract_address
        .ok_or_else(|| anyhow!("deployment created no contract"))
}

/// Deploy a contract too large for the default set-up gas limit.
pub(super) async fn deploy_big(
    p: &DynProvider,
    code: &Bytes,
    args: Vec<u8>,
) -> anyhow::Result<Address> {
    let mut input = code.to_vec();
    input.extend(args);
    let r = send_mined(
        p,
        TransactionRequest::default()
            .with_deploy_code(Bytes::from(input))
            .with_gas_limit(15_000_000),
    )
    .await?;
    r.contract_address
        .ok_or_else(|| anyhow!("deployment created no contract"))
}

pub(super) async fn call(
    p: &DynProvider,
    to: Address,
    data: Vec<u8>,
    value: U256,
) -> anyhow::Result<TransactionReceipt> {
    send_mined(
        p,
        TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(data))
            .with_value(value),
    )
    .await
}

/// What was deployed on one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainDeployment {
    pub chain: Chain,
    pub chain_id: u64,
    pub rpc_url: String,
    pub ws_url: String,
    pub eid: u32,
    pub weth: Address,
    pub factory: Address,
    pub router: Address,
    /// The Stargate V2 pool or OFT per token (ETH, USDC).
    pub stargate: BTreeMap<TokenId, Address>,
    /// Hemi: the tunnel's L2 bridge (the `L2StandardBridge` predeploy);
    /// Ethereum: its `OptimismPortal`.
    pub tunnel: Address,
    /// The Raindex V4 event emitter (Hemi only; zero elsewhere).
    pub raindex: Address,
    /// Uniswap V3 (on Hemi as its SushiSwap V3; on Ethereum Uniswap's own,
    /// the reference price).
    pub v3: Option<V3Contracts>,
    /// 0x's AllowanceHolder and Settler (Ethereum only), for the fake 0x API.
    pub zerox: Option<ZeroExContracts>,
    pub tokens: BTreeMap<TokenId, Address>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub hemi: ChainDeployment,
    pub ethereum: ChainDeployment,
    pub keeper: Address,
    pub relayer: Address,
    /// The OP Stack tunnel: portal, oracle and configs on Ethereum; the
    /// messengers and standard bridges of both sides.
    pub op: OpTunnel,
    /// Stargate V2 and LayerZero on both chains.
    pub stargate: StargateV2Contracts,
}

/// The real OP Stack contracts of the devnet's tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpTunnel {
    pub l1: OpL1Contracts,
    pub bridge: OpBridgeContracts,
}

impl Deployment {
    pub fn chain(&self, chain: Chain) -> &ChainDeployment {
        match chain {
            Chain::Hemi => &self.hemi,
            Chain::Ethereum => &self.ethereum,
        }
    }
}

pub(super) fn base_units(token: TokenId, whole: u128) -> U256 {
    U256::from(whole) * U256::from(10u64).pow(U256::from(token.decimals()))
}

/// Deploy everything on one chain (without pools).
pub(super) async fn deploy_chain(
    root: &Path,
    code: &HashMap<String, Artifact>,
    anvil: &Anvil,
    chain: Chain,
    eid: u32,
) -> anyhow::Result<(DynProvider, ChainDeployment)> {
    let p = signing_provider(&anvil.url(), DEPLOYER_KEY)?;
    let get = |n: &str| {
        code.get(n)
            .ok_or_else(|| anyhow!("contract {n} was not compiled"))
    };
    let weth = deploy(
        &p,
        &uniswap_artifact(root, "v2-periphery", "WETH9")?.bytecode,
        vec![],
    )
    .await?;
    let deployer = PrivateKeySigner::from_str(DEPLOYER_KEY)?.address();
    let factory = deploy(
        &p,
        &uniswap_artifact(root, "v2-core", "UniswapV2Factory")?.bytecode,
        deployer.abi_encode(),
    )
    .await?;
    let router = deploy(
        &p,
        &uniswap_artifact(root, "v2-periphery", "UniswapV2Router02")?.bytecode,
        (factory, weth).abi_encode_params(),
    )
    .await?;
    let list: &[TokenId] = match chain {
        Chain::Hemi => &HEMI_TOKENS,
        Chain::Ethereum => &ETHEREUM_TOKENS,
    };
    let mut tokens = BTreeMap::new();
    // Hemi's tunnel tokens are made by the OP token factory, USDC on both
    // chains comes with Stargate (`deploy_all`).
    for t in list.iter().filter(|t| {
        **t != TokenId::Usdc && (chain == Chain::Ethereum || !TUNNEL_TOKENS.contains(t))
    }) {
        let a = deploy(
            &p,
            &get("DevToken")?.bytecode,
            (
                t.symbol().to_string(),
                t.symbol().to_string(),
                U256::from(t.decimals()),
            )
                .abi_encode_params(),
        )
        .await?;
        tokens.insert(*t, a);
    }
    // The portal is deployed with the rest of the tunnel (`deploy_all`).
    let tunnel = match chain {
        Chain::Hemi => L2_STANDARD_BRIDGE,
        Chain::Ethereum => Address::ZERO,
    };
    let raindex = match chain {
        Chain::Hemi => deploy(&p, &get("RaindexEmitter")?.bytecode, vec![]).await?,
        Chain::Ethereum => Address::ZERO,
    };
    let v3 = Some(deploy_v3(root, &p, weth).await?);
    let zerox = match chain {
        Chain::Hemi => None,
        Chain::Ethereum => Some(deploy_zerox(&p, code, router).await?),
    };
    Ok((
        p,
        ChainDeployment {
            chain,
            chain_id: anvil.chain_id,
            rpc_url: anvil.url(),
            ws_url: anvil.ws_url(),
            eid,
            weth,
            factory,
            router,
            stargate: BTreeMap::new(),
            tunnel,
            raindex,
            v3,
            zerox,
            tokens,
        },
    ))
}

pub(super) async fn mint(
    p: &DynProvider,
    token: Address,
    to: Address,
    amount: U256,
) -> anyhow::Result<()> {
    call(
        p,
        token,
        IDevToken::mintCall { to, value: amount }.abi_encode(),
        U256::ZERO,
    )
    .await?;
    Ok(())
}

/// Mint `who` what it lacks of `amount` (nothing when it holds enough: a
/// tunnel token on Hemi, which only its bridge mints, is held from a deposit).
pub(super) async fn top_up(
    p: &DynProvider,
    token: Address,
    who: Address,
    amount: U256,
) -> anyhow::Result<()> {
    let out = p
        .call(
            TransactionRequest::default()
                .with_to(token)
                .with_input(Bytes::from(
                    IERC20::balanceOfCall { owner: who }.abi_encode(),
                )),
        )
        .await?;
    let held = IERC20::balanceOfCall::abi_decode_returns(&out)?;
    if held < amount {
        mint(p, token, who, amount - held).await?;
    }
    Ok(())
}

/// A pool of `a`/`b` at these reserves (`None`: native ETH through WETH).
pub(super) async fn pool(
    p: &DynProvider,
    d: &ChainDeployment,
    a: Address,
    amount_a: U256,
    b: Option<Address>,
    amount_b: U256,
) -> anyhow::Result<()> {
    let me = PrivateKeySigner::from_str(DEPLOYER_KEY)?.address();
    let deadline = U256::from(u64::MAX / 2);
    top_up(p, a, me, amount_a).await?;
    call(
        p,
        a,
        IERC20::approveCall {
            spender: d.router,
            value: amount_a,
        }
        .abi_encode(),
        U256::ZERO,
    )
    .await?;
    match b {
        Some(b) => {
            top_up(p, b, me, amount_b).await?;
            call(
                p,
                b,
                IERC20::approveCall {
                    spender: d.router,
                    value: amount_b,
                }
                .abi_encode(),
                U256::ZERO,
            )
            .await?;
            let data = IUniswapV2Router02::addLiquidityCall {
                tokenA: a,
                tokenB: b,
                amountADesired: amount_a,
                amountBDesired: amount_b,
                amountAMin: amount_a,
                amountBMin: amount_b,
                to: me,
                deadline,
            };
            call(p, d.router, data.abi_encode(), U256::ZERO).await?;
        }
        None => {
            let data = IUniswapV2Router02::addLiquidityETHCall {
                token: a,
                amountTokenDesired: amount_a,
                amountTokenMin: amount_a,
                amountETHMin: amount_b,
                to: me,
                deadline,
            };
            call(p, d.router, data.abi_encode(), amount_b).await?;
        }
    }
    Ok(())
}

/// Give an address native ETH (anvil's cheat code).
pub async fn set_balance(p: &DynProvider, who: Address, wei: U256) -> anyhow::Result<()> {
    let _: serde_json::Value = p.raw_request("anvil_setBalance".into(), (who, wei)).await?;
    Ok(())
}

/// Deploy and seed both chains.
pub async fn deploy_all(
    root: &Path,
    hemi: &Anvil,
    ethereum: &Anvil,
    opts: &DevnetOptions,
) -> anyhow::Result<Deployment> {
    let code = tokio::task::block_in_place(|| contracts(root))?;
    let (ph, mut h) = deploy_chain(root, &code, hemi, Chain::Hemi, HEMI_EID).await?;
    let (pe, mut e) = deploy_chain(root, &code, ethereum, Chain::Ethereum, ETHEREUM_EID).await?;
    let keeper = PrivateKeySigner::from_str(KEEPER_KEY)?.address();
    let relayer = PrivateKeySigner::from_str(RELAYER_KEY)?.address();
    let gap = 10_000 - opts.gap_bps;
    let depth_usd: u128 = 1_000_000;
    let sg = deploy_stargate(root, &ph, &pe, &mut h, &mut e, opts)
        .await
        .context("Stargate V2")?;
    // hemiBTC leaves Hemi by its own OFT adapter; the deployer's hemiBTC on
    // Ethereum (its V2 and V3 pools there) comes over that route.
    let eth_relayer = signing_provider(&e.rpc_url, RELAYER_KEY)?;
    let hemi_btc_on_ethereum =
        base_units(TokenId::HemiBtc, 6 * depth_usd) / U256::from(usd_price(TokenId::HemiBtc));
    let oft = deploy_hemi_btc_oft(
        &code,
        &ph,
        &pe,
        &eth_relayer,
        &sg,
        h.tokens[&TokenId::HemiBtc],
        hemi_btc_on_ethereum,
    )
    .await
    .context("hemiBTC's LayerZero OFT")?;
    h.stargate.insert(TokenId::HemiBtc, oft.adapter);
    e.stargate.insert(TokenId::HemiBtc, oft.oft);
    e.tokens.insert(TokenId::HemiBtc, oft.oft);
    let op = deploy_tunnel(root, &ph, &pe, &mut h, &e, opts)
        .await
        .context("the OP tunnel")?;
    e.tunnel = op.l1.portal;
    // What the deployer needs of each tunnel token on Hemi (its V2 and V3
    // pools), deposited from Ethereum.
    for t in TUNNEL_TOKENS {
        let pool_amount = base_units(t, depth_usd) / U256::from(usd_price(t));
        let pools = if V3_TOKENS.contains(&t) { 2u64 } else { 1 };
        let need = pool_amount * U256::from(pools);
        deposit(&pe, &ph, &op, e.tokens[&t], h.tokens[&t], need)
            .await
            .with_context(|| format!("depositing {t} to Hemi"))?;
    }

    // Hemi: VCRED/X pools a gap below Ethereum's price, and a deep VCRED/USDC at par.
    let vcred = h.tokens[&TokenId::Vcred];
    for x in [
        TokenId::Eth,
        TokenId::Wbtc,
        TokenId::HemiBtc,
        TokenId::CbBtc,
        TokenId::Xaut,
        TokenId::Vusd,
    ] {
        let vcred_amount = base_units(TokenId::Vcred, depth_usd * gap) / U256::from(10_000u64);
        let x_amount = base_units(x, depth_usd) / U256::from(usd_price(x));
        let other = if x.is_native() {
            None
        } else {
            Some(h.tokens[&x])
        };
        pool(&ph, &h, vcred, vcred_amount, other, x_amount).await?;
    }
    // SushiSwap V3 (Uniswap V3 code) beside V2 at the same gap, for every X
    // but XAUt, which only V2 trades: a route the V3 provider has no pool for.
    if let Some(v3) = &h.v3 {
        for x in V3_TOKENS {
            let vcred_amount = base_units(TokenId::Vcred, depth_usd * gap) / U256::from(10_000u64);
            let x_amount = base_units(x, depth_usd) / U256::from(usd_price(x));
            let other = if x.is_native() {
                None
            } else {
                Some(h.tokens[&x])
            };
            v3_pool(&ph, v3, h.weth, vcred, vcred_amount, other, x_amount).await?;
        }
    }
    pool(
        &ph,
        &h,
        vcred,
        base_units(TokenId::Vcred, 20_000_000),
        Some(h.tokens[&TokenId::Usdc]),
        base_units(TokenId::Usdc, 20_000_000),
    )
    .await?;
    // Ethereum: X/USDC at the reference prices, five times deeper.
    let usdc = e.tokens[&TokenId::Usdc];
    for x in [
        TokenId::Eth,
        TokenId::Wbtc,
        TokenId::HemiBtc,
        TokenId::CbBtc,
        TokenId::Xaut,
        TokenId::Vusd,
    ] {
        let usdc_amount = base_units(TokenId::Usdc, 5 * depth_usd);
        let x_amount = base_units(x, 5 * depth_usd) / U256::from(usd_price(x));
        match x.is_native() {
            true => pool(&pe, &e, usdc, usdc_amount, None, x_amount).await?,
            false => pool(&pe, &e, e.tokens[&x], x_amount, Some(usdc), usdc_amount).await?,
        }
    }
    // Uniswap V3 beside them at the same prices, a fifth as deep: the
    // reference price, and a second provider (XAUt again V2 only).
    if let Some(v3) = &e.v3 {
        for x in V3_TOKENS {
            let usdc_amount = base_units(TokenId::Usdc, depth_usd);
            let x_amount = base_units(x, depth_usd) / U256::from(usd_price(x));
            let other = if x.is_native() {
                None
            } else {
                Some(e.tokens[&x])
            };
            v3_pool(&pe, v3, e.weth, usdc, usdc_amount, other, x_amount).await?;
        }
    }

    // The keeper's wallet: VCRED on Hemi (ETH for gas comes with anvil).
    mint(
        &ph,
        vcred,
        keeper,
        base_units(TokenId::Vcred, u128::from(opts.keeper_vcred)),
    )
    .await?;
    Ok(Deployment {
        hemi: h,
        ethereum: e,
        keeper,
        relayer,
        op,
        stargate: sg,
    })
}

/// USDC.e the deployer bridges to Hemi for its VCRED/USDC pool (the pool's
/// 20 M and Stargate's fee on them, with room to spare).
const HEMI_USDC_BRIDGED: u128 = 20_100_000;

/// The real Stargate V2 on both nodes (`deploy_stargate_v2`), its pools
/// entered per token in both deployments, USDC being Stargate's token on
/// each chain, and the deployer's USDC.e on Hemi bridged from Ethereum.
async fn deploy_stargate(
    root: &Path,
    ph: &DynProvider,
    pe: &DynProvider,
    h: &mut ChainDeployment,
    e: &mut ChainDeployment,
    opts: &DevnetOptions,
) -> anyhow::Result<StargateV2Contracts> {
    let hemi_relayer = signing_provider(&h.rpc_url, RELAYER_KEY)?;
    let eth_relayer = signing_provider(&e.rpc_url, RELAYER_KEY)?;
    let options = StargateV2Options {
        native_fee_wei: U256::from(opts.stargate_native_fee_wei),
        fee_millionth: u32::from(opts.stargate_fee_bps) * 100,
        message_lib: opts.stargate_message_lib,
        ..StargateV2Options::default()
    };
    let sg = deploy_stargate_v2(root, ph, pe, &hemi_relayer, &eth_relayer, options).await?;
    for (d, c) in [(&mut *h, &sg.hemi), (&mut *e, &sg.ethereum)] {
        d.tokens.insert(TokenId::Usdc, c.usdc);
        d.stargate.insert(TokenId::Eth, c.eth_pool);
        d.stargate.insert(TokenId::Usdc, c.usdc_stargate);
    }
    let amount = base_units(TokenId::Usdc, HEMI_USDC_BRIDGED);
    bridge_usdc_to_hemi(pe, &hemi_relayer, &sg, amount)
        .await
        .context("bridging the deployer's USDC.e to Hemi")?;
    Ok(sg)
}

/// The oracle's parameters for these devnet options: an output about every
/// `output_interval` of Hemi blocks, the options' finalization period, and
/// a starting timestamp a day back (see `OpL1Options`).
pub fn op_l1_options(opts: &DevnetOptions) -> OpL1Options {
    let block_secs = opts.block_time.trim().parse::<f64>().unwrap_or(1.0);
    let blocks = if block_secs > 0.0 {
        (opts.output_interval.as_secs_f64() / block_secs).round()
    } else {
        1.0
    };
    OpL1Options {
        submission_interval: (blocks as u64).max(1),
        l2_block_time: 1,
        finalization_period_secs: opts.finalization_period_secs,
        starting_timestamp_lag_secs: 86_400,
    }
}

/// The real tunnel on both nodes, and Hemi's tunnel tokens made by the
/// OP token factory against their Ethereum tokens (added to `h.tokens`).
async fn deploy_tunnel(
    root: &Path,
    ph: &DynProvider,
    pe: &DynProvider,
    h: &mut ChainDeployment,
    e: &ChainDeployment,
    opts: &DevnetOptions,
) -> anyhow::Result<OpTunnel> {
    install_message_passer(root, ph).await?;
    let l1 = deploy_op_l1(root, pe, ph, op_l1_options(opts)).await?;
    let bridge = deploy_op_bridge(root, pe, ph, &l1).await?;
    for t in TUNNEL_TOKENS {
        let l2 = create_l2_token(ph, e.tokens[&t], t.symbol(), t.symbol(), t.decimals()).await?;
        h.tokens.insert(t, l2);
    }
    Ok(OpTunnel { l1, bridge })
}

/// Deposit `amount` of `l1_token` to the deployer on Hemi through the real
/// `L1StandardBridge` and replay the portal's deposit on Hemi.
async fn deposit(
    pe: &DynProvider,
    ph: &DynProvider,
    op: &OpTunnel,
    l1_token: Address,
    l2_token: Address,
    amount: U256,
) -> anyhow::Result<()> {
    let me = PrivateKeySigner::from_str(DEPLOYER_KEY)?.address();
    top_up(pe, l1_token, me, amount).await?;
    let approve = IERC20::approveCall {
        spender: op.bridge.l1_bridge,
        value: amount,
    };
    call(pe, l1_token, approve.abi_encode(), U256::ZERO).await?;
    let data = IL1StandardBridge::depositERC20Call {
        _l1Token: l1_token,
        _l2Token: l2_token,
        _amount: amount,
        _minGasLimit: 200_000,
        _extraData: Bytes::new(),
    };
    let r = send_mined(
        pe,
        TransactionRequest::default()
            .with_to(op.bridge.l1_bridge)
            .with_input(Bytes::from(data.abi_encode()))
            .with_gas_limit(1_000_000),
    )
    .await?;
    let relayed = relay_deposits(ph, &r, op.l1.portal).await?;
    if relayed.is_empty() {
        anyhow::bail!("the deposit of {l1_token} left no portal deposit to relay");
    }
    Ok(())
}
