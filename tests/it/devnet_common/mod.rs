//! Shared by the devnet tests: anvil from the pinned npm package (a clear
//! failure, never a skip, when it is missing), a devnet per test on free
//! loopback ports, and the EVM venue over it.
#![allow(dead_code)]

use arbkeep::config::{Config, Secret, Secrets};
use arbkeep::model::{Clock, SystemClock};
use arbkeep::venue::evm::devnet::{self, Devnet, DevnetOptions, KEEPER_KEY};
use arbkeep::venue::evm::{EvmStore, EvmVenue, Wallet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// anvil and solc-js must be installed (`npm ci`, which ./scripts/test.sh runs).
pub fn require_tools() {
    if let Err(e) = devnet::anvil_path(&root()) {
        panic!("devnet tests need the pinned npm tools: {e}");
    }
}

pub async fn start(opts: DevnetOptions) -> Devnet {
    require_tools();
    Devnet::start(&root(), opts).await.expect("devnet starts")
}

/// The devnet config for a data dir, parsed as the binary would.
pub fn config(d: &Devnet, data: &Path) -> Config {
    let text = d.config_toml(data);
    Config::from_toml(&text, "devnet.toml").expect("devnet config parses")
}

pub fn keeper_secrets() -> Secrets {
    Secrets {
        private_key: Some(Secret::new(KEEPER_KEY.into())),
        ..Secrets::default()
    }
}

pub async fn venue(config: &Config, store: Arc<EvmStore>) -> EvmVenue {
    let wallet = Wallet::from_secrets(&keeper_secrets()).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    EvmVenue::connect(config.evm.as_ref().unwrap(), wallet, store, clock, "devnet")
        .await
        .expect("venue connects")
}

/// Flip the case of the first letter of an address's hex: a checksum error.
pub fn miscase(address: &str) -> String {
    let mut out = String::from("0x");
    let mut flipped = false;
    for c in address[2..].chars() {
        if !flipped && c.is_ascii_alphabetic() {
            flipped = true;
            out.push(if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            });
        } else {
            out.push(c);
        }
    }
    out
}

/// The fake 0x API over the devnet's Ethereum, answering with calldata for
/// the devnet's AllowanceHolder and Settler.
pub async fn start_zerox(d: &Devnet) -> arbkeep::fakes::zerox::FakeZeroX {
    let e = &d.deployment.ethereum;
    let zx = e.zerox.clone().expect("0x on the devnet's Ethereum");
    arbkeep::fakes::zerox::FakeZeroX::start(arbkeep::fakes::zerox::ZeroXChain {
        rpc_url: d.ethereum.url(),
        chain_id: e.chain_id,
        router: e.router,
        weth: e.weth,
        allowance_holder: zx.allowance_holder,
        settler: zx.settler,
    })
    .await
    .expect("the fake 0x API starts")
}

/// CoW Protocol on the devnet's Ethereum: the real settlement deployed, the
/// fake orderbook on `clock`, and the local solver settling what it can
/// every 300 ms until this is dropped.
pub struct Cow {
    pub fake: Arc<arbkeep::fakes::cow::FakeCow>,
    pub contracts: devnet::CowContracts,
    solving: tokio::task::JoinHandle<()>,
}

impl Drop for Cow {
    fn drop(&mut self) {
        self.solving.abort();
    }
}

impl Cow {
    /// No solver from now on.
    pub fn stop_solving(&self) {
        self.solving.abort();
    }
}

pub async fn start_cow(d: &Devnet, clock: Arc<dyn Clock>) -> Cow {
    use arbkeep::fakes::cow::solver::{LocalSolver, v2_router_quoting};
    let e = &d.deployment.ethereum;
    let url = d.ethereum.url();
    let deployer = devnet::signing_provider(&url, devnet::DEPLOYER_KEY).unwrap();
    let contracts = devnet::deploy_cow(&root(), &deployer)
        .await
        .expect("CoW deploys");
    let fake = Arc::new(
        arbkeep::fakes::cow::FakeCow::start(
            clock,
            e.chain_id,
            contracts.settlement,
            v2_router_quoting(deployer, e.router),
        )
        .await
        .expect("the fake orderbook starts"),
    );
    let solver = LocalSolver::new(&url, devnet::COW_SOLVER_KEY, contracts.settlement, e.router)
        .expect("the solver's key");
    let solving = {
        let fake = fake.clone();
        tokio::spawn(async move {
            loop {
                let _ = fake.settle_open_orders(&solver).await;
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
        })
    };
    Cow {
        fake,
        contracts,
        solving,
    }
}

/// Mint `amount` of the devnet token `token` on `chain` to `to` (a
/// DevToken there: not a tunnel token on Hemi, nor Hemi's USDC.e or
/// Ethereum's hemiBTC OFT, which only their bridges mint).
pub async fn mint_on(
    d: &Devnet,
    chain: arbkeep::model::Chain,
    token: arbkeep::model::TokenId,
    to: alloy::primitives::Address,
    amount: u128,
) {
    use alloy::sol_types::SolCall;
    let p = devnet::signing_provider(&d.anvil(chain).url(), devnet::DEPLOYER_KEY).unwrap();
    let mint = arbkeep::venue::evm::abi::IDevToken::mintCall {
        to,
        value: alloy::primitives::U256::from(amount),
    };
    let at = match chain {
        arbkeep::model::Chain::Hemi => d.deployment.hemi.tokens[&token],
        arbkeep::model::Chain::Ethereum => d.deployment.ethereum.tokens[&token],
    };
    devnet::send_mined(
        &p,
        alloy::rpc::types::TransactionRequest::default()
            .to(at)
            .input(mint.abi_encode().into()),
    )
    .await
    .expect("minted");
}

/// Mint `amount` of the devnet token `token` on Ethereum to `to`.
pub async fn mint_on_ethereum(
    d: &Devnet,
    token: arbkeep::model::TokenId,
    to: alloy::primitives::Address,
    amount: u128,
) {
    mint_on(d, arbkeep::model::Chain::Ethereum, token, to, amount).await
}

/// The wallet equals the loop's ledger, every token on both chains, to the
/// base unit (gas included).
pub async fn assert_wallet_equals_ledger(
    venue: &EvmVenue,
    ledger: &[arbkeep::model::LedgerEntry],
    label: &str,
) {
    use arbkeep::venue::LoopVenue;
    let books = arbkeep::strategy::cross_chain_loop::ledger::ledger_balances(ledger);
    for chain in arbkeep::model::Chain::ALL {
        for token in arbkeep::model::TokenId::ALL
            .into_iter()
            .filter(|t| t.exists_on(chain))
        {
            let wallet = venue.balance(chain, token).await.unwrap() as i128;
            assert_eq!(
                books.get(&(chain, token)).copied().unwrap_or(0),
                wallet,
                "{label} {chain} {token}: ledger vs wallet"
            );
        }
    }
}

/// Two bare nodes, Hemi-like and Ethereum-like, with nothing deployed and
/// no relayer: for tests that stand the OP Stack contracts up themselves.
pub struct BareNodes {
    pub hemi: devnet::Anvil,
    pub ethereum: devnet::Anvil,
}

pub fn start_bare() -> BareNodes {
    require_tools();
    let block_time = DevnetOptions::default().block_time;
    let node = |chain: arbkeep::model::Chain| {
        devnet::Anvil::start(&root(), chain.chain_id(), &block_time).expect("anvil starts")
    };
    BareNodes {
        hemi: node(arbkeep::model::Chain::Hemi),
        ethereum: node(arbkeep::model::Chain::Ethereum),
    }
}

/// A view call on a devnet node, decoded (test set-up: panics on failure).
pub async fn read<C: alloy::sol_types::SolCall>(
    p: &alloy::providers::DynProvider,
    to: alloy::primitives::Address,
    c: C,
) -> C::Return {
    use alloy::network::TransactionBuilder;
    use alloy::providers::Provider;
    let out = p
        .call(
            alloy::rpc::types::TransactionRequest::default()
                .with_to(to)
                .with_input(alloy::primitives::Bytes::from(c.abi_encode())),
        )
        .await
        .expect("eth_call");
    C::abi_decode_returns(&out).expect("decodes")
}

/// A Stargate bridge-out intent of cycle `cycle` (attempt 0), made now.
pub fn stargate_intent(
    cycle: u64,
    token: arbkeep::model::TokenId,
    from: arbkeep::model::Chain,
    to: arbkeep::model::Chain,
    amount: u128,
) -> arbkeep::model::Intent {
    use arbkeep::model::{Action, CycleId, Intent, IntentId, Route, StepKind};
    Intent::new(
        IntentId {
            cycle: CycleId(cycle),
            step: StepKind::BridgeOut,
            attempt: 0,
        },
        Action::BridgeSend {
            route: Route::Stargate,
            token,
            from,
            to,
            amount,
        },
        SystemClock.now(),
    )
}
