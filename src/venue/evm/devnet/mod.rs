//! The local devnet: two anvil nodes on loopback (a Hemi-like chain 43111
//! and an Ethereum-like chain 1), every token with its real decimals, WETH9,
//! Uniswap V2 and V3 from the npm build artifacts on both (V3 is Hemi's
//! SushiSwap V3 and Ethereum's reference price), pools seeded with a price
//! gap, the real Stargate V2 over LayerZero V2 (`stargate_v2`, Hemi's
//! USDC.e bridged over by it: `usdc_e`), the real OP Stack tunnel, 0x's
//! AllowanceHolder and Settler of `assets/contracts/`, CoW Protocol's settlement on Ethereum when a test
//! deploys it (`deploy_cow`), the relayer task that drives the bridges, and the
//! `mode = "devnet"` config that points the keeper at all of it.
//!
//! anvil, the Uniswap artifacts and solc-js come from `node_modules` (the
//! pinned `package.json`; `npm ci` installs them). The project's own
//! contracts are compiled from source on first use, cached by source hash.

mod anvil;
mod artifacts;
mod cow;
mod deploy;
mod l1_fee;
mod op_bridge;
mod op_l1;
mod relay;
mod stargate_v2;
mod usdc_e;
mod v3;
mod zerox;

pub use anvil::*;
pub use artifacts::*;
pub use cow::*;
pub use deploy::*;
pub use l1_fee::*;
pub use op_bridge::*;
pub use op_l1::*;
pub use relay::*;
pub use stargate_v2::*;
pub use usdc_e::*;
pub use v3::*;
pub use zerox::*;

use crate::model::{Chain, TokenId};
use std::path::Path;
use std::time::Duration;
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
/// Ethereum's DevTokens (and USDC, Stargate's); its hemiBTC is the OFT
/// that `oft` deploys.
pub const ETHEREUM_TOKENS: [TokenId; 5] = [
    TokenId::Wbtc,
    TokenId::CbBtc,
    TokenId::Xaut,
    TokenId::Vusd,
    TokenId::Usdc,
];
/// Tokens the V3 pools trade (against VCRED on Hemi, USDC on Ethereum;
/// XAUt is left to V2).
pub const V3_TOKENS: [TokenId; 5] = [
    TokenId::Eth,
    TokenId::Wbtc,
    TokenId::HemiBtc,
    TokenId::CbBtc,
    TokenId::Vusd,
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
    /// How long the relayer waits before delivering a Stargate packet.
    pub stargate_delay: Duration,
    /// Every LayerZero message's native fee (SimpleMessageLib's), in wei.
    pub stargate_native_fee_wei: u128,
    /// The LayerZero endpoints' message library: `SimpleMessageLib` (the
    /// default) or ULN302 with a DVN and an executor.
    pub stargate_message_lib: stargate_v2::MessageLibKind,
    /// Stargate's token fee in every `FeeLibV1`, in basis points.
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
            stargate_message_lib: stargate_v2::MessageLibKind::Uln302,
            stargate_fee_bps: 6,
            output_interval: Duration::from_millis(1_500),
            finalization_period_secs: 4,
            keeper_vcred: 100_000,
        }
    }
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
            "[evm.{name}]\nchain_id = {}\nrpc = \"{}\"\nws = \"{}\"\neid = {}\nrouter = \"{}\"\ntunnel = \"{}\"\n\n[evm.{name}.stargate]\n",
            c.chain_id, c.rpc_url, c.ws_url, c.eid, c.router, c.tunnel
        );
        for (t, a) in &c.stargate {
            s.push_str(&format!("{} = \"{a}\"\n", t.symbol()));
        }
        s.push_str(&format!("\n[evm.{name}.tokens]\n"));
        for (t, a) in &c.tokens {
            s.push_str(&format!("{} = \"{a}\"\n", t.symbol()));
        }
        s.push_str(&format!("WETH = \"{}\"\n\n", c.weth));
        if let Some(v3) = &c.v3 {
            s.push_str(&format!(
                "[evm.{name}.v3]\nfactory = \"{}\"\nquoter = \"{}\"\nrouter = \"{}\"\nfees = [500, {POOL_FEE}]\n\n",
                v3.factory, v3.quoter, v3.router
            ));
        }
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
# hemiBTC has no Stargate pool on the devnet and is no tunnel token.
tokens = ["ETH", "WBTC", "cbBTC", "XAUt", "VUSD"]
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

{hemi}{eth}"#,
        data = data_dir.display(),
        hemi = chain(&d.hemi, "hemi"),
        eth = chain(&d.ethereum, "ethereum"),
    )
}
