//! Hostile RPC peers, EVM side: the loop's send path (`EvmVenue::execute`,
//! the transaction manager) through a faulting JSON-RPC proxy in front of
//! the Hemi devnet node. One test per fault row. Each counts at the proxy
//! what reached the node (by (sender, nonce) and by hash) and reads the
//! wallet from the node directly, never through arbkeep's own bookkeeping:
//! the action happened once, nothing was dropped, the wallet moved by what
//! arbkeep's receipt books, and an outcome that cannot be known is shown as
//! unknown, never re-sent.

mod devnet_common;

use alloy::primitives::{Address, U256};
use arbkeep::config::Config;
use arbkeep::model::{
    Action, Chain, Clock, CycleId, Intent, IntentId, Receipt, StepKind, SystemClock, TokenId,
};
use arbkeep::venue::evm::devnet::{Devnet, DevnetOptions};
use arbkeep::venue::evm::fake_rpc::{FakeRpc, Lag, RpcFault};
use arbkeep::venue::evm::{ChainClient, EvmStore, EvmVenue, erc20};
use arbkeep::venue::{LoopVenue, VenueError};
use devnet_common::*;
use std::sync::Arc;
use std::time::Duration;

/// A devnet whose Hemi node is reached only through the proxy.
struct Hostile {
    d: Devnet,
    proxy: FakeRpc,
    _tmp: tempfile::TempDir,
    config: Config,
    store: Arc<EvmStore>,
    v: Arc<EvmVenue>,
    /// The Hemi node itself, past the proxy: what the chain really says.
    node: ChainClient,
}

/// The wallet on Hemi as the node (not arbkeep) tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wallet {
    eth: U256,
    vcred: U256,
    wbtc: U256,
    nonce: u64,
}

async fn hostile(edit: impl FnOnce(&mut arbkeep::config::EvmConfig)) -> Hostile {
    let d = start(DevnetOptions::default()).await;
    let proxy = FakeRpc::start(&d.hemi.url()).await.expect("proxy starts");
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    let direct = evm.hemi.clone();
    evm.hemi.rpc_url = proxy.url();
    evm.hemi.ws_url = None;
    evm.rpc_timeout_ms = 1_000;
    edit(evm);
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = Arc::new(venue(&config, store.clone()).await);
    let node = ChainClient::connect(Chain::Hemi, &direct, Duration::from_secs(5))
        .await
        .expect("the node answers");
    Hostile {
        d,
        proxy,
        _tmp: tmp,
        config,
        store,
        v,
        node,
    }
}

impl Hostile {
    fn dir(&self) -> &std::path::Path {
        self._tmp.path()
    }

    fn token(&self, t: TokenId) -> Address {
        self.d.deployment.hemi.tokens[&t]
    }

    async fn wallet(&self) -> Wallet {
        let me = self.v.wallet();
        Wallet {
            eth: self.node.native_balance(me).await.unwrap(),
            vcred: erc20::balance_of(&self.node, self.token(TokenId::Vcred), me)
                .await
                .unwrap(),
            wbtc: erc20::balance_of(&self.node, self.token(TokenId::Wbtc), me)
                .await
                .unwrap(),
            nonce: self.node.nonce_latest(me).await.unwrap(),
        }
    }

    /// A VCRED → WBTC swap on Hemi at 1 % slippage, as the loop's opening step.
    async fn swap(&self, cycle: u64, vcred: u128) -> Intent {
        let wbtc = self
            .node_quote(vcred)
            .await
            .expect("the pool quotes VCRED → WBTC");
        Intent::new(
            IntentId {
                cycle: CycleId(cycle),
                step: StepKind::HemiSwap,
                attempt: 0,
            },
            Action::Swap {
                chain: Chain::Hemi,
                token_in: TokenId::Vcred,
                token_out: TokenId::Wbtc,
                amount_in: vcred,
                min_out: wbtc * 99 / 100,
                deadline: SystemClock.now() + 30 * arbkeep::model::time::MINUTE,
            },
            SystemClock.now(),
        )
    }

    async fn node_quote(&self, vcred: u128) -> Result<u128, VenueError> {
        let out = arbkeep::venue::evm::uniswap::quote(
            &self.node,
            self.d.deployment.hemi.router,
            vec![self.token(TokenId::Vcred), self.token(TokenId::Wbtc)],
            U256::from(vcred),
        )
        .await?;
        Ok(u128::try_from(out).unwrap())
    }

    /// Every transaction of the wallet the node received, one per nonce:
    /// (nonce, how many distinct signed transactions at it).
    fn sent_per_nonce(&self) -> Vec<(u64, usize)> {
        let me = self.v.wallet();
        self.proxy
            .sends_by_nonce()
            .into_iter()
            .filter(|((sender, _), _)| *sender == me)
            .map(|((_, nonce), hashes)| (nonce, hashes.len()))
            .collect()
    }

    /// The wallet moved by exactly what the receipt books: the swap's input
    /// and output once, and its gas.
    fn assert_booked(&self, before: Wallet, after: Wallet, r: &Receipt, txs: u64) {
        assert_eq!(
            after.nonce,
            before.nonce + txs,
            "{txs} transaction(s) mined"
        );
        assert_eq!(
            before.vcred - after.vcred,
            U256::from(r.amount_in),
            "VCRED left once"
        );
        assert_eq!(
            after.wbtc - before.wbtc,
            U256::from(r.amount_out),
            "WBTC arrived once"
        );
        assert_eq!(
            before.eth - after.eth,
            U256::from(r.gas_fee),
            "gas booked = gas paid"
        );
    }
}

/// Defect 4: a load-balanced provider answers the nonce from a node at the
/// head and receipts from a node behind, so for a few blocks our own mined
/// swap looks like "nonce taken, no receipt of ours". The manager must not
/// re-sign it at a fresh nonce: it finds the block where the nonce passed,
/// sees its own transaction there, and waits for the receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_receipts_with_a_nonce_from_ahead_never_sign_the_swap_twice() {
    let h = hostile(|_| {}).await;
    let intent = h.swap(1, 1_000 * TokenId::Vcred.one()).await;
    let before = h.wallet().await;
    h.proxy.set_lag(Some(Lag {
        blocks: 8,
        head: false,
        nonce: false,
        receipts: true,
        history: false,
    }));
    let r = tokio::time::timeout(Duration::from_secs(60), h.v.execute(&intent))
        .await
        .expect("settled in time")
        .expect("the swap is done");
    let after = h.wallet().await;
    // The approve and the swap, each signed once, at consecutive nonces.
    assert_eq!(
        h.sent_per_nonce(),
        vec![(before.nonce, 1), (before.nonce + 1, 1)],
        "one signed transaction per nonce, no second swap"
    );
    h.assert_booked(before, after, &r, 2);
}

/// Defect 8: a transaction mined and reverted still paid its gas. The
/// engine's opening swap is held at the proxy while the chain's clock jumps
/// past the swap's deadline, so it is mined and reverts. The step
/// fails, and the ledger books the gas of the reverted swap (and of the
/// approve before it) on the step's own line with the reason: the wallet
/// equals the ledger, every token on both chains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reverted_swap_books_its_gas_and_the_wallet_equals_the_ledger() {
    use alloy::providers::Provider;
    use arbkeep::engine::{Engine, EngineOptions, Mode};
    use arbkeep::model::{CycleState, LedgerKind};
    use arbkeep::store::Store;
    use arbkeep::venue::evm::devnet::{self, DEPLOYER_KEY};
    use std::collections::BTreeMap;

    let h = hostile(|evm| evm.rpc_timeout_ms = 5_000).await;
    let mut config = h.config.clone();
    config.cross_chain_loop.tokens = vec![TokenId::Wbtc];
    // The approve is the wallet's first send through the proxy, the opening swap its second.
    let gate = h.proxy.gate("eth_sendRawTransaction", 2);
    let store = Store::open(h.dir(), Mode::Devnet).unwrap();
    let options = EngineOptions {
        mode: Mode::Devnet,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, _handle) =
        Engine::new(config, options, h.v.clone(), Arc::new(SystemClock), store);
    engine.recover().await.unwrap();
    let anvil = devnet::signing_provider(&h.d.hemi.url(), DEPLOYER_KEY).unwrap();
    let expire = async {
        gate.reached().await;
        // Before the node sees the swap: its block will be an hour later.
        let _: serde_json::Value = anvil
            .raw_request("evm_increaseTime".into(), (U256::from(3_600u64),))
            .await
            .unwrap();
        gate.open();
    };
    let run = async {
        let started = std::time::Instant::now();
        loop {
            engine.tick().await.unwrap();
            let cycles = engine.store().read().unwrap().cycles().unwrap();
            if cycles.iter().any(|c| c.state == CycleState::Failed) {
                break cycles;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the opening swap never failed: {:?}",
                cycles
                    .iter()
                    .map(|c| (c.id, c.state, c.last_error.clone()))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let ((), cycles) = tokio::join!(expire, run);
    let failed = cycles
        .iter()
        .find(|c| c.state == CycleState::Failed)
        .unwrap();
    let reason = failed.failure.as_ref().unwrap().reason.clone();
    // (Its reason is replayed on the block before, where it had not expired.)
    assert!(reason.contains("reverted"), "{reason}");

    // Counted at the proxy and on the node: the approve and the swap, once
    // each; the swap was mined and reverted.
    let sends = h.proxy.sends();
    assert_eq!(
        h.sent_per_nonce()
            .into_iter()
            .map(|(_, n)| n)
            .collect::<Vec<_>>(),
        vec![1, 1],
        "{sends:?}"
    );
    let mut paid: u128 = 0;
    for (i, sent) in sends.iter().enumerate() {
        let r = anvil
            .get_transaction_receipt(sent.hash)
            .await
            .unwrap()
            .expect("mined");
        assert_eq!(r.status(), i == 0, "the approve succeeds, the swap reverts");
        paid += u128::from(r.gas_used) * r.effective_gas_price;
    }

    // The gas is on the step's own line, with the reason.
    let read = engine.store().read().unwrap();
    let ledger = read.ledger(0).unwrap();
    let gas: Vec<_> = ledger
        .iter()
        .filter(|e| e.kind == LedgerKind::Gas && e.cycle == Some(failed.id))
        .collect();
    assert_eq!(
        gas.iter().map(|e| e.delta).sum::<i128>(),
        -(paid as i128),
        "{gas:?}"
    );
    assert!(gas.iter().all(|e| e.note.contains("reverted")), "{gas:?}");
    assert_eq!(failed.costs.gas_wei, paid);
    // The wallet equals the ledger, every token on both chains.
    let books = arbkeep::engine::ledger::ledger_balances(&ledger);
    let mut wallet = BTreeMap::new();
    for chain in Chain::ALL {
        for token in TokenId::ALL.into_iter().filter(|t| t.exists_on(chain)) {
            let amount = h.v.balance(chain, token).await.unwrap();
            wallet.insert((chain, token), amount as i128);
        }
    }
    for (key, amount) in &wallet {
        assert_eq!(
            books.get(key).copied().unwrap_or(0),
            *amount,
            "{key:?}: ledger vs wallet"
        );
    }
}
