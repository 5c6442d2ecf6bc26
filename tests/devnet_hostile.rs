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
