//! The local devnet: two anvil nodes on loopback (a Hemi-like chain 43111
//! and an Ethereum-like chain 1), every token with its real decimals, WETH9,
//! Uniswap V2 factory and router from the npm build artifacts on both,
//! pools seeded with a price gap, the bridge stand-ins of
//! `assets/contracts/` and the relayer task that drives them, and the
//! `mode = "devnet"` config that points the keeper at all of it.
//!
//! anvil, the Uniswap artifacts and solc-js come from `node_modules` (the
//! pinned `package.json`; `npm ci` installs them). The project's own
//! contracts are compiled from source on first use, cached by source hash.

use super::abi::{
    IDevToken, IERC20, IStargateStandIn, ITunnelL2Bridge, ITunnelPortal, IUniswapV2Router02,
};
use crate::model::{Chain, TokenId};
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use anyhow::{Context, anyhow, bail};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// anvil's well-known dev keys (mnemonic "test test … junk"): throwaway.
pub const DEPLOYER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const RELAYER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
/// The keeper's wallet on the devnet (dev account #2).
pub const KEEPER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

pub const HEMI_TOKENS: [TokenId; 7] = [
    TokenId::Vcred,
    TokenId::HemiBtc,
    TokenId::Wbtc,
    TokenId::CbBtc,
    TokenId::Xaut,
    TokenId::Vusd,
    TokenId::Usdc,
];
pub const ETHEREUM_TOKENS: [TokenId; 6] = [
    TokenId::Wbtc,
    TokenId::CbBtc,
    TokenId::Xaut,
    TokenId::Vusd,
    TokenId::Usdc,
    TokenId::HemiBtc,
];
/// Tokens that leave Hemi by the tunnel (minted by its L2 bridge, escrowed at the portal).
pub const TUNNEL_TOKENS: [TokenId; 4] =
    [TokenId::Wbtc, TokenId::CbBtc, TokenId::Xaut, TokenId::Vusd];

/// Reference prices in USD (whole dollars) on Ethereum; Hemi sells X cheaper.
pub fn usd_price(token: TokenId) -> u128 {
    match token {
        TokenId::Eth | TokenId::Weth => 3_000,
        TokenId::Wbtc | TokenId::HemiBtc | TokenId::CbBtc => 60_000,
        TokenId::Xaut => 2_000,
        TokenId::Vusd | TokenId::Usdc | TokenId::Vcred => 1,
    }
}

#[derive(Debug, Clone)]
pub struct DevnetOptions {
    /// Seconds between blocks (anvil interval mining; fractions allowed).
    pub block_time: String,
    /// X is this much cheaper on Hemi than on Ethereum, in basis points.
    pub gap_bps: u128,
    pub stargate_delay: Duration,
    pub stargate_native_fee_wei: u128,
    pub stargate_fee_bps: u16,
    /// How often the tunnel's proposer posts an output.
    pub output_interval: Duration,
    /// The portal's finalization period, in seconds.
    pub finalization_period_secs: u64,
    /// VCRED the keeper's wallet starts with on Hemi.
    pub keeper_vcred: u64,
}

impl Default for DevnetOptions {
    fn default() -> Self {
        DevnetOptions {
            block_time: "0.5".into(),
            gap_bps: 300,
            stargate_delay: Duration::from_secs(2),
            stargate_native_fee_wei: 300_000_000_000_000,
            stargate_fee_bps: 6,
            output_interval: Duration::from_millis(1_500),
            finalization_period_secs: 4,
            keeper_vcred: 100_000,
        }
    }
}

/// Where the project's tools live: `ARBKEEP_ROOT`, else the current
/// directory when it has the npm manifest, else the source tree it was built from.
pub fn project_root() -> PathBuf {
    if let Some(root) = std::env::var_os("ARBKEEP_ROOT") {
        return PathBuf::from(root);
    }
    if let Ok(cwd) = std::env::current_dir()
        && cwd.join("package.json").exists()
        && cwd.join("assets/contracts").exists()
    {
        return cwd;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The anvil binary the npm package installed.
pub fn anvil_path(root: &Path) -> anyhow::Result<PathBuf> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => bail!("no anvil npm package for {other}"),
    };
    let os = match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        other => bail!("no anvil npm package for {other}"),
    };
    let path = root.join(format!(
        "node_modules/@foundry-rs/anvil-{os}-{arch}/bin/anvil"
    ));
    if !path.exists() {
        bail!(
            "anvil is not installed ({} is missing): run `npm ci` in {} (./scripts/test.sh does it)",
            path.display(),
            root.display()
        );
    }
    Ok(path)
}

/// One compiled contract.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub bytecode: Bytes,
}

fn hex_bytes(text: &str) -> anyhow::Result<Bytes> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    Bytes::from_str(t).map_err(|e| anyhow!("bad bytecode: {e}"))
}

/// The project's contracts (`assets/contracts/*.sol`), compiled with the
/// pinned solc-js into `target/devnet-contracts/<source hash>.json` once.
pub fn contracts(root: &Path) -> anyhow::Result<HashMap<String, Artifact>> {
    let dir = root.join("assets/contracts");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sol"))
        .collect();
    names.sort();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in &names {
        ctx.update(
            p.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        ctx.update(&std::fs::read(p)?);
    }
    ctx.update(&std::fs::read(root.join("scripts/compile-contracts.mjs"))?);
    let hash = crate::model::intent::hex(ctx.finish().as_ref());
    let out = root.join(format!("target/devnet-contracts/{}.json", &hash[2..18]));
    if !out.exists() {
        if !root.join("node_modules/solc").exists() {
            bail!(
                "solc-js is not installed under {}/node_modules: run `npm ci` there (./scripts/test.sh does it)",
                root.display()
            );
        }
        let status = Command::new("node")
            .arg(root.join("scripts/compile-contracts.mjs"))
            .arg(&out)
            .current_dir(root)
            .stdout(Stdio::null())
            .status()
            .context("running node (needed to compile the devnet contracts)")?;
        if !status.success() {
            bail!("compiling assets/contracts failed ({status})");
        }
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out)?)?;
    let mut map = HashMap::new();
    for (name, v) in json.as_object().into_iter().flatten() {
        let code = v["bytecode"].as_str().unwrap_or_default();
        map.insert(
            name.clone(),
            Artifact {
                bytecode: hex_bytes(code)?,
            },
        );
    }
    Ok(map)
}

/// A contract from the Uniswap V2 npm build artifacts.
fn uniswap_artifact(root: &Path, package: &str, name: &str) -> anyhow::Result<Artifact> {
    let path = root.join(format!("node_modules/@uniswap/{package}/build/{name}.json"));
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("{} (run `npm ci`)", path.display()))?,
    )?;
    let code = json["bytecode"]
        .as_str()
        .or_else(|| json["evm"]["bytecode"]["object"].as_str())
        .ok_or_else(|| anyhow!("{}: no bytecode", path.display()))?;
    Ok(Artifact {
        bytecode: hex_bytes(code)?,
    })
}

/// A running anvil node, killed when dropped.
pub struct Anvil {
    child: Child,
    pub chain_id: u64,
    pub port: u16,
}

impl Anvil {
    /// Start anvil on a free loopback port.
    pub fn start(root: &Path, chain_id: u64, block_time: &str) -> anyhow::Result<Anvil> {
        let mut cmd = Command::new(anvil_path(root)?);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            // The signal follows the spawning thread: start anvil from a thread
            // that lives as long as the devnet (a runtime worker or main).
            unsafe {
                cmd.pre_exec(|| {
                    // Die with whoever started us, even on SIGKILL.
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--chain-id", &chain_id.to_string()])
            .args(["--block-time", block_time])
            .args(["--accounts", "4"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting anvil")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("anvil has no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(rest) = line.trim().strip_prefix("Listening on ") {
                    let _ = tx.send(rest.to_string());
                    sent = true;
                }
                // Keep draining so anvil never blocks on a full pipe.
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("anvil did not start listening within 20 s");
            }
        };
        let port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| anyhow!("cannot read anvil's port from {addr:?}"))?;
        Ok(Anvil {
            child,
            chain_id,
            port,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A provider that signs with `key` (nonces and fees filled by alloy).
pub fn signing_provider(url: &str, key: &str) -> anyhow::Result<DynProvider> {
    crate::net::ensure_crypto_provider();
    let signer = PrivateKeySigner::from_str(key).map_err(|_| anyhow!("bad dev key"))?;
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse()?)
        .erased())
}

/// Send one transaction and mine it at once (`evm_mine`), for set-up.
pub async fn send_mined(
    p: &DynProvider,
    tx: TransactionRequest,
) -> anyhow::Result<TransactionReceipt> {
    let tx = if tx.gas.is_none() {
        tx.with_gas_limit(6_000_000)
    } else {
        tx
    };
    let pending = p.send_transaction(tx).await?;
    let hash = *pending.tx_hash();
    let started = Instant::now();
    loop {
        let _: String = p.raw_request("evm_mine".into(), ()).await?;
        if let Some(r) = p.get_transaction_receipt(hash).await? {
            if !r.status() {
                bail!("set-up transaction {hash} reverted");
            }
            return Ok(r);
        }
        if started.elapsed() > Duration::from_secs(20) {
            bail!("set-up transaction {hash} was not mined");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn deploy(p: &DynProvider, code: &Bytes, args: Vec<u8>) -> anyhow::Result<Address> {
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

async fn call(
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
    pub stargate: Address,
    /// Hemi: the tunnel's L2 bridge; Ethereum: its portal.
    pub tunnel: Address,
    /// The Raindex V4 event emitter (Hemi only; zero elsewhere).
    pub raindex: Address,
    pub tokens: BTreeMap<TokenId, Address>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub hemi: ChainDeployment,
    pub ethereum: ChainDeployment,
    pub keeper: Address,
    pub relayer: Address,
}

impl Deployment {
    pub fn chain(&self, chain: Chain) -> &ChainDeployment {
        match chain {
            Chain::Hemi => &self.hemi,
            Chain::Ethereum => &self.ethereum,
        }
    }
}

fn base_units(token: TokenId, whole: u128) -> U256 {
    U256::from(whole) * U256::from(10u64).pow(U256::from(token.decimals()))
}

/// Deploy everything on one chain (without pools).
async fn deploy_chain(
    root: &Path,
    code: &HashMap<String, Artifact>,
    anvil: &Anvil,
    chain: Chain,
    eid: u32,
    opts: &DevnetOptions,
) -> anyhow::Result<(DynProvider, ChainDeployment)> {
    let p = signing_provider(&anvil.url(), DEPLOYER_KEY)?;
    let relayer = PrivateKeySigner::from_str(RELAYER_KEY)?.address();
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
    for t in list {
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
    let stargate = deploy(
        &p,
        &get("StargateStandIn")?.bytecode,
        (
            relayer,
            U256::from(eid),
            U256::from(opts.stargate_native_fee_wei),
            U256::from(opts.stargate_fee_bps),
        )
            .abi_encode_params(),
    )
    .await?;
    let tunnel = match chain {
        Chain::Hemi => deploy(&p, &get("TunnelL2Bridge")?.bytecode, vec![]).await?,
        Chain::Ethereum => {
            deploy(
                &p,
                &get("TunnelPortal")?.bytecode,
                (relayer, U256::from(opts.finalization_period_secs)).abi_encode_params(),
            )
            .await?
        }
    };
    let raindex = match chain {
        Chain::Hemi => deploy(&p, &get("RaindexEmitter")?.bytecode, vec![]).await?,
        Chain::Ethereum => Address::ZERO,
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
            stargate,
            tunnel,
            raindex,
            tokens,
        },
    ))
}

async fn mint(p: &DynProvider, token: Address, to: Address, amount: U256) -> anyhow::Result<()> {
    call(
        p,
        token,
        IDevToken::mintCall { to, value: amount }.abi_encode(),
        U256::ZERO,
    )
    .await?;
    Ok(())
}

/// A pool of `a`/`b` at these reserves (`None`: native ETH through WETH).
async fn pool(
    p: &DynProvider,
    d: &ChainDeployment,
    a: Address,
    amount_a: U256,
    b: Option<Address>,
    amount_b: U256,
) -> anyhow::Result<()> {
    let me = PrivateKeySigner::from_str(DEPLOYER_KEY)?.address();
    let deadline = U256::from(u64::MAX / 2);
    mint(p, a, me, amount_a).await?;
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
            mint(p, b, me, amount_b).await?;
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
    let (ph, h) = deploy_chain(root, &code, hemi, Chain::Hemi, 30_329, opts).await?;
    let (pe, e) = deploy_chain(root, &code, ethereum, Chain::Ethereum, 30_101, opts).await?;
    let keeper = PrivateKeySigner::from_str(KEEPER_KEY)?.address();
    let relayer = PrivateKeySigner::from_str(RELAYER_KEY)?.address();
    let gap = 10_000 - opts.gap_bps;

    // Hemi: VCRED/X pools a gap below Ethereum's price, and a deep VCRED/USDC at par.
    let vcred = h.tokens[&TokenId::Vcred];
    let depth_usd: u128 = 1_000_000;
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

    // Bridges: Stargate liquidity on both sides; the tunnel's L2 bridge may
    // burn its tokens and the portal holds their L1 escrow.
    for (p, d) in [(&ph, &h), (&pe, &e)] {
        for (t, a) in &d.tokens {
            mint(
                p,
                *a,
                d.stargate,
                base_units(*t, 10_000_000) / U256::from(usd_price(*t)),
            )
            .await?;
        }
        set_balance(p, d.stargate, base_units(TokenId::Eth, 5_000)).await?;
    }
    for t in TUNNEL_TOKENS {
        let data = ITunnelL2Bridge::setTunnelTokenCall {
            l2Token: h.tokens[&t],
            l1Token: e.tokens[&t],
        };
        call(&ph, h.tunnel, data.abi_encode(), U256::ZERO).await?;
        let minter = IDevToken::setMinterCall {
            account: h.tunnel,
            allowed: true,
        };
        call(&ph, h.tokens[&t], minter.abi_encode(), U256::ZERO).await?;
        mint(
            &pe,
            e.tokens[&t],
            e.tunnel,
            base_units(t, 10_000_000) / U256::from(usd_price(t)),
        )
        .await?;
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
    })
}

/// Both nodes, what is deployed on them, and the relayer task.
pub struct Devnet {
    pub hemi: Anvil,
    pub ethereum: Anvil,
    pub deployment: Deployment,
    pub options: DevnetOptions,
    relayer: Option<JoinHandle<()>>,
}

impl Devnet {
    /// Start both nodes, deploy and seed, and start the relayer.
    pub async fn start(root: &Path, options: DevnetOptions) -> anyhow::Result<Devnet> {
        let hemi = Anvil::start(root, Chain::Hemi.chain_id(), &options.block_time)?;
        let ethereum = Anvil::start(root, Chain::Ethereum.chain_id(), &options.block_time)?;
        let deployment = deploy_all(root, &hemi, &ethereum, &options).await?;
        let relayer = Some(tokio::spawn(relay(deployment.clone(), options.clone())));
        Ok(Devnet {
            hemi,
            ethereum,
            deployment,
            options,
            relayer,
        })
    }

    pub fn anvil(&self, chain: Chain) -> &Anvil {
        match chain {
            Chain::Hemi => &self.hemi,
            Chain::Ethereum => &self.ethereum,
        }
    }

    /// The `mode = "devnet"` config for a keeper on these nodes.
    pub fn config_toml(&self, data_dir: &Path) -> String {
        config_toml(&self.deployment, data_dir)
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if let Some(r) = self.relayer.take() {
            r.abort();
        }
    }
}

/// The devnet config file: every address in its EIP-55 form.
pub fn config_toml(d: &Deployment, data_dir: &Path) -> String {
    let chain = |c: &ChainDeployment, name: &str| {
        let mut s = format!(
            "[evm.{name}]\nchain_id = {}\nrpc = \"{}\"\nws = \"{}\"\neid = {}\nrouter = \"{}\"\nstargate = \"{}\"\ntunnel = \"{}\"\n\n[evm.{name}.tokens]\n",
            c.chain_id, c.rpc_url, c.ws_url, c.eid, c.router, c.stargate, c.tunnel
        );
        for (t, a) in &c.tokens {
            s.push_str(&format!("{} = \"{a}\"\n", t.symbol()));
        }
        s.push_str(&format!("WETH = \"{}\"\n\n", c.weth));
        s
    };
    format!(
        r#"# Written by `arbkeep devnet`: two local anvil nodes and throwaway keys.
# Run the console on it with the devnet wallet's key in the environment:
#   ARBITRAGE_PRIVATE_KEY={KEEPER_KEY} arbkeep --config <this file>
mode = "devnet"
data_dir = "{data}"

[engine]
reconcile_interval = "1s"
retry_backoff = "3s"
max_open_cycles = 4
stuck_after = "10m"

[cross_chain_loop]
tokens = ["ETH", "WBTC", "hemiBTC", "cbBTC", "XAUt", "VUSD"]
min_swap_vcred = "100"
max_swap_vcred_soft_cap = "20000"
start_size_vcred = "1000"
size_granularity_vcred = "10"
max_cycles_per_token = 1

[control]
port = 0

[evm]
confirmations = 2
replace_after_blocks = 4
tx_timeout = "2m"
rpc_timeout = "5s"
poll_interval = "100ms"
silent_after = "30s"
stargate_delay = "2s"
tunnel_prove_delay = "2s"

{hemi}{eth}"#,
        data = data_dir.display(),
        hemi = chain(&d.hemi, "hemi"),
        eth = chain(&d.ethereum, "ethereum"),
    )
}

/// The relayer: delivers Stargate stand-in sends after their delay, and
/// proposes tunnel outputs naming new withdrawals. Idempotent: it asks the
/// destination before acting, so a restart never delivers twice.
pub async fn relay(d: Deployment, opts: DevnetOptions) {
    let (Ok(ph), Ok(pe)) = (
        signing_provider(&d.hemi.rpc_url, RELAYER_KEY),
        signing_provider(&d.ethereum.rpc_url, RELAYER_KEY),
    ) else {
        tracing::error!("relayer: cannot build providers");
        return;
    };
    let mut from_block = [0u64; 2];
    let mut seen: HashMap<B256, (Instant, Chain, Address, Address, U256)> = HashMap::new();
    let mut done: HashSet<B256> = HashSet::new();
    let mut tunnel_from = 0u64;
    let mut unproposed: Vec<B256> = Vec::new();
    let mut last_output = Instant::now();
    loop {
        for (src, p) in [(Chain::Hemi, &ph), (Chain::Ethereum, &pe)] {
            let s = d.chain(src);
            if let Err(e) = scan_sends(p, s, &mut from_block[src as usize], &mut seen, src).await {
                tracing::debug!(error = %e, "relayer: scan");
            }
        }
        let due: Vec<B256> = seen
            .iter()
            .filter(|(g, v)| !done.contains(*g) && v.0.elapsed() >= opts.stargate_delay)
            .map(|(g, _)| *g)
            .collect();
        for guid in due {
            let (_, src, token, to, amount) = seen[&guid];
            let (dst, p) = match src {
                Chain::Hemi => (&d.ethereum, &pe),
                Chain::Ethereum => (&d.hemi, &ph),
            };
            match deliver(p, d.chain(src), dst, guid, token, to, amount).await {
                Ok(()) => {
                    done.insert(guid);
                }
                Err(e) => tracing::warn!(%guid, error = %e, "relayer: delivery failed; retrying"),
            }
        }
        if let Err(e) = scan_withdrawals(&ph, &d.hemi, &mut tunnel_from, &mut unproposed).await {
            tracing::debug!(error = %e, "relayer: tunnel scan");
        }
        if !unproposed.is_empty() && last_output.elapsed() >= opts.output_interval {
            let head = ph.get_block_number().await.unwrap_or(0);
            let data = ITunnelPortal::proposeL2OutputCall {
                l2BlockNumber: U256::from(head),
                withdrawalHashes: unproposed.clone(),
            };
            match relay_tx(&pe, d.ethereum.tunnel, data.abi_encode()).await {
                Ok(()) => {
                    unproposed.clear();
                    last_output = Instant::now();
                }
                Err(e) => tracing::warn!(error = %e, "relayer: output proposal failed"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn scan_sends(
    p: &DynProvider,
    s: &ChainDeployment,
    from: &mut u64,
    seen: &mut HashMap<B256, (Instant, Chain, Address, Address, U256)>,
    src: Chain,
) -> anyhow::Result<()> {
    let head = p.get_block_number().await?;
    if head < *from {
        return Ok(());
    }
    let logs = p
        .get_logs(
            &Filter::new()
                .address(s.stargate)
                .from_block(*from)
                .to_block(head),
        )
        .await?;
    let mut sends: HashMap<B256, (Address, Address)> = HashMap::new();
    let mut amounts: HashMap<B256, U256> = HashMap::new();
    for l in &logs {
        if let Ok(e) = l.log_decode::<IStargateStandIn::StandInSend>() {
            sends.insert(e.inner.data.guid, (e.inner.data.token, e.inner.data.to));
        } else if let Ok(e) = l.log_decode::<IStargateStandIn::OFTSent>() {
            amounts.insert(e.inner.data.guid, e.inner.data.amountReceivedLD);
        }
    }
    for (guid, (token, to)) in sends {
        if let Some(amount) = amounts.get(&guid) {
            seen.entry(guid)
                .or_insert((Instant::now(), src, token, to, *amount));
        }
    }
    *from = head + 1;
    Ok(())
}

async fn deliver(
    p: &DynProvider,
    src: &ChainDeployment,
    dst: &ChainDeployment,
    guid: B256,
    token: Address,
    to: Address,
    amount: U256,
) -> anyhow::Result<()> {
    let delivered = IStargateStandIn::deliveredCall { guid }.abi_encode();
    let out = p
        .call(
            TransactionRequest::default()
                .with_to(dst.stargate)
                .with_input(Bytes::from(delivered)),
        )
        .await?;
    if IStargateStandIn::deliveredCall::abi_decode_returns(&out)? {
        return Ok(());
    }
    let dst_token = if token == Address::ZERO {
        Address::ZERO
    } else {
        let t = src
            .tokens
            .iter()
            .find(|(_, a)| **a == token)
            .map(|(t, _)| *t)
            .ok_or_else(|| anyhow!("unknown token {token}"))?;
        *dst.tokens
            .get(&t)
            .ok_or_else(|| anyhow!("{t} has no token on the destination"))?
    };
    let data = IStargateStandIn::deliverCall {
        guid,
        srcEid: src.eid,
        token: dst_token,
        to,
        amount,
    };
    relay_tx(p, dst.stargate, data.abi_encode()).await
}

async fn scan_withdrawals(
    p: &DynProvider,
    h: &ChainDeployment,
    from: &mut u64,
    unproposed: &mut Vec<B256>,
) -> anyhow::Result<()> {
    let head = p.get_block_number().await?;
    if head < *from {
        return Ok(());
    }
    let logs = p
        .get_logs(
            &Filter::new()
                .address(h.tunnel)
                .event_signature(ITunnelL2Bridge::WithdrawalInitiated::SIGNATURE_HASH)
                .from_block(*from)
                .to_block(head),
        )
        .await?;
    for l in logs {
        if let Ok(e) = l.log_decode::<ITunnelL2Bridge::WithdrawalInitiated>() {
            unproposed.push(e.inner.data.withdrawalHash);
        }
    }
    *from = head + 1;
    Ok(())
}

/// A relayer transaction, waited for (interval mining).
async fn relay_tx(p: &DynProvider, to: Address, data: Vec<u8>) -> anyhow::Result<()> {
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_input(Bytes::from(data))
        .with_gas_limit(500_000);
    let pending = p.send_transaction(tx).await?;
    let hash = *pending.tx_hash();
    let started = Instant::now();
    loop {
        if let Some(r) = p.get_transaction_receipt(hash).await? {
            if !r.status() {
                bail!("relayer transaction {hash} reverted");
            }
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("relayer transaction {hash} not mined in 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
