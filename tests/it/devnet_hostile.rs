//! Hostile RPC peers, EVM side: the loop's send path (`EvmVenue::execute`,
//! the transaction manager) through a faulting JSON-RPC proxy in front of
//! the Hemi devnet node. One test per fault row. Each counts at the proxy
//! what reached the node (by (sender, nonce) and by hash) and reads the
//! wallet from the node directly, never through arbkeep's own bookkeeping:
//! the action happened once, nothing was dropped, the wallet moved by what
//! arbkeep's receipt books, and an outcome that cannot be known is shown as
//! unknown, never re-sent.

use crate::common::OpenCycles;
use crate::devnet_common;

use alloy::primitives::{Address, U256};
use arbkeep::config::Config;
use arbkeep::fakes::evm_rpc::{FakeRpc, Lag, RpcFault};
use arbkeep::fakes::evm_ws::FakeWs;
use arbkeep::model::{
    Action, Chain, Clock, CycleId, Intent, IntentId, Receipt, StepKind, SystemClock, TokenId,
};
use arbkeep::venue::evm::devnet::{Devnet, DevnetOptions};
use arbkeep::venue::evm::{ChainClient, EvmStore, EvmVenue, erc20};
use arbkeep::venue::{LoopVenue, VenueError};
use devnet_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A devnet whose Hemi node is reached only through the proxy.
struct Hostile {
    d: Devnet,
    proxy: FakeRpc,
    /// The relay the venue's WebSocket goes through, when it has one.
    ws: Option<FakeWs>,
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
    hostile_with(false, edit).await
}

/// As [`hostile`]; with `ws`, the venue's Hemi WebSocket goes through a
/// relay that can fall silent.
async fn hostile_with(ws: bool, edit: impl FnOnce(&mut arbkeep::config::EvmConfig)) -> Hostile {
    let d = start(DevnetOptions::default()).await;
    let proxy = FakeRpc::start(&d.hemi.url()).await.expect("proxy starts");
    let ws = match ws {
        true => Some(FakeWs::start(&d.hemi.ws_url()).await.expect("relay starts")),
        false => None,
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    let direct = evm.hemi.clone();
    evm.hemi.rpc_url = proxy.url();
    evm.hemi.ws_url = ws.as_ref().map(|w| w.url());
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
        ws,
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
        let out = arbkeep::venue::evm::swap::v2::quote(
            &self.node,
            self.d.deployment.hemi.router,
            vec![self.token(TokenId::Vcred), self.token(TokenId::Wbtc)],
            U256::from(vcred),
        )
        .await?;
        Ok(u128::try_from(out).unwrap())
    }

    /// The engine over this venue, trading WBTC only, recovered; and a gate
    /// holding its opening swap at the proxy (the approve is the wallet's
    /// first send through it, the swap its second).
    async fn engine_at_the_opening_swap(
        &self,
    ) -> (
        arbkeep::fakes::evm_rpc::Gate,
        arbkeep::engine::Engine,
        arbkeep::engine::EngineHandle,
    ) {
        use arbkeep::engine::{EngineOptions, Mode};
        let mut config = self.config.clone();
        config.cross_chain_loop.tokens = vec![TokenId::Wbtc];
        let gate = self.proxy.gate("eth_sendRawTransaction", 2);
        let store = arbkeep::store::Store::open(self.dir(), Mode::Devnet).unwrap();
        let options = EngineOptions {
            mode: Mode::Devnet,
            speed_milli: None,
            drain: false,
        };
        let (mut engine, handle) = crate::common::engine_with_loop(
            config,
            options,
            self.v.clone(),
            Arc::new(SystemClock),
            store,
        );
        engine.recover().await.unwrap();
        (gate, engine, handle)
    }

    /// The swap's approve, sent first (with no fault) so the swap is the
    /// only transaction the intent still needs.
    async fn approve(&self, intent: &Intent) {
        erc20::ensure_allowance(
            self.v.tx_manager(),
            self.v.client(Chain::Hemi),
            &intent.id.to_string(),
            0,
            erc20::Allowance {
                token: self.token(TokenId::Vcred),
                spender: self.d.deployment.hemi.router,
                amount: U256::from(u128::MAX),
                unlimited: false,
            },
        )
        .await
        .expect("the approve goes through");
    }

    /// Carry the intent out as the engine does: after a transient or unknown
    /// answer, settle by looking first, and carry it out again only when
    /// settling says it was not done. Returns the receipt and every error
    /// met on the way (what the step showed meanwhile).
    async fn carry_out(&self, intent: &Intent, within: Duration) -> (Receipt, Vec<VenueError>) {
        let started = Instant::now();
        let mut seen = Vec::new();
        loop {
            match self.v.execute(intent).await {
                Ok(r) => return (r, seen),
                Err(VenueError::Rejected(why)) => panic!("rejected: {why} (after {seen:?})"),
                Err(e) => seen.push(e),
            }
            loop {
                assert!(started.elapsed() < within, "not done in time: {seen:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                match self.v.settle(intent.id).await {
                    Ok(Some(r)) => return (r, seen),
                    Ok(None) => break,
                    Err(e) => seen.push(e),
                }
            }
        }
    }

    /// The intent's last transaction as recorded.
    fn swap_record(&self, intent: &Intent) -> arbkeep::venue::evm::db::TxRecord {
        self.store
            .txs_of(&intent.id.to_string())
            .unwrap()
            .into_iter()
            .find(|r| r.last)
            .expect("the swap is recorded")
    }

    /// The nonces at which the node received the wallet's transactions.
    /// Every signature at a nonce must be one journal record's (a
    /// replacement at the same nonce is fine; two records at one nonce, or a
    /// signature the journal does not hold, are not).
    fn nonces_sent(&self) -> Vec<u64> {
        let me = self.v.wallet();
        let records = self.store.all_txs().unwrap();
        self.proxy
            .sends_by_nonce()
            .into_iter()
            .filter(|((sender, _), _)| *sender == me)
            .map(|((_, nonce), hashes)| {
                let owners: std::collections::BTreeSet<(String, u32)> = hashes
                    .iter()
                    .map(|h| {
                        records
                            .iter()
                            .find(|r| r.hashes().any(|x| x == *h))
                            .map(|r| (r.intent.clone(), r.seq))
                            .unwrap_or_else(|| panic!("{h} is not in the journal"))
                    })
                    .collect();
                assert_eq!(owners.len(), 1, "nonce {nonce} signed for {owners:?}");
                nonce
            })
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
    lag_row(Lag {
        blocks: 8,
        head: false,
        nonce: false,
        receipts: true,
        history: false,
    })
    .await;
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
    use arbkeep::model::{CycleState, LedgerKind};
    use arbkeep::venue::evm::devnet::{self, DEPLOYER_KEY};
    use std::collections::BTreeMap;

    let h = hostile(|evm| evm.rpc_timeout_ms = 5_000).await;
    let (gate, mut engine, _handle) = h.engine_at_the_opening_swap().await;
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

    // Counted at the proxy and on the node: the approve and the swap, one
    // nonce each; the approve succeeded, the swap was mined and reverted.
    let nonces = h.nonces_sent();
    assert_eq!(nonces.len(), 2, "{:?}", h.proxy.sends());
    let records = h.store.all_txs().unwrap();
    assert_eq!(records.len(), 2);
    let mut paid: u128 = 0;
    for rec in &records {
        let mut mined = Vec::new();
        for hash in rec.hashes() {
            if let Some(r) = anvil.get_transaction_receipt(hash).await.unwrap() {
                mined.push(r);
            }
        }
        assert_eq!(mined.len(), 1, "{} mined once", rec.label());
        assert_eq!(
            mined[0].status(),
            !rec.last,
            "the approve succeeds, the swap reverts"
        );
        paid += u128::from(mined[0].gas_used) * mined[0].effective_gas_price;
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
    let books = arbkeep::strategy::cross_chain_loop::ledger::ledger_balances(&ledger);
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

/// A fault on the swap's broadcast, before or after the node saw it: the
/// swap happens once, at one nonce, signed once; the wallet moves by what
/// the receipt books.
async fn send_fault_row(fault: RpcFault) {
    let h = hostile(|_| {}).await;
    let intent = h.swap(2, 1_000 * TokenId::Vcred.one()).await;
    let before = h.wallet().await;
    h.approve(&intent).await;
    h.proxy.fail_next("eth_sendRawTransaction", fault.clone());
    let (r, seen) = h.carry_out(&intent, Duration::from_secs(60)).await;
    let after = h.wallet().await;
    assert!(
        h.proxy
            .faults_met()
            .iter()
            .any(|(m, _, f)| m == "eth_sendRawTransaction" && *f == fault),
        "the fault was met"
    );
    assert_eq!(
        h.nonces_sent(),
        vec![before.nonce, before.nonce + 1],
        "the approve and the swap, one nonce each ({seen:?})"
    );
    let swap = h.swap_record(&intent);
    assert_eq!(swap.attempts.len(), 1);
    assert_eq!(r.tx_hash, swap.attempts[0].hash.to_string());
    h.assert_booked(before, after, &r, 2);
}

macro_rules! send_fault_rows {
    ($($name:ident: $fault:expr,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            send_fault_row($fault).await;
        }
    )*};
}

send_fault_rows! {
    send_dropped_before_forwarding: RpcFault::DropBefore,
    send_forwarded_then_connection_closed: RpcFault::DropAfter,
    send_forwarded_then_no_answer_in_time: RpcFault::TimeoutAfter(Duration::from_secs(3)),
    send_502_before_forwarding: RpcFault::Status { status: 502, forwarded: false },
    send_503_after_forwarding: RpcFault::Status { status: 503, forwarded: true },
    send_429_without_retry_after: RpcFault::TooManyRequests { retry_after: None },
    send_429_with_retry_after: RpcFault::TooManyRequests { retry_after: Some(1) },
    send_malformed_body_before_forwarding: RpcFault::Malformed { forwarded: false },
    send_malformed_body_after_forwarding: RpcFault::Malformed { forwarded: true },
    send_truncated_body_before_forwarding: RpcFault::Truncated { forwarded: false },
    send_truncated_body_after_forwarding: RpcFault::Truncated { forwarded: true },
}

/// Seeded faults on every call of the send path (reads, estimates, the
/// broadcast): the swap and its approve happen once each, signed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_faults_on_every_call_of_the_send_path() {
    let h = hostile(|_| {}).await;
    let intent = h.swap(3, 1_000 * TokenId::Vcred.one()).await;
    let before = h.wallet().await;
    h.proxy.chaos(
        0x5eed_0001,
        4,
        &[
            "eth_sendRawTransaction",
            "eth_getTransactionReceipt",
            "eth_getTransactionByHash",
            "eth_getTransactionCount",
            "eth_blockNumber",
            "eth_getBlockByNumber",
            "eth_estimateGas",
            "eth_call",
        ],
        RpcFault::all(Duration::from_millis(1_500)),
    );
    let (r, seen) = h.carry_out(&intent, Duration::from_secs(120)).await;
    h.proxy.chaos(0, 1, &[], Vec::new());
    let after = h.wallet().await;
    assert!(
        h.proxy.faults_met().len() >= 5,
        "faults met: {:?}",
        h.proxy.faults_met()
    );
    assert_eq!(
        h.nonces_sent(),
        vec![before.nonce, before.nonce + 1],
        "the approve and the swap, one nonce each ({seen:?})"
    );
    assert_eq!(after.nonce, before.nonce + 2);
    assert_eq!(before.vcred - after.vcred, U256::from(r.amount_in));
    assert_eq!(after.wbtc - before.wbtc, U256::from(r.amount_out));
    assert_eq!(before.eth - after.eth, U256::from(r.gas_fee));
}

/// Receipts and blocks from a node far behind while the nonce comes from
/// one at the head: whose transaction used the nonce cannot be proven. The
/// swap is never re-signed; past the transaction timeout its outcome is
/// unknown, and settling says so (the step stays held). When the provider
/// catches up, the swap is found done, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprovable_nonce_is_unknown_and_never_re_signed() {
    let h = hostile(|evm| evm.tx_timeout_ms = 5_000).await;
    let intent = h.swap(4, 1_000 * TokenId::Vcred.one()).await;
    let before = h.wallet().await;
    h.approve(&intent).await;
    // The provider starts lagging as the swap goes out (its approve, done
    // before, is looked at again first).
    let gate = h.proxy.gate(
        "eth_sendRawTransaction",
        h.proxy.calls("eth_sendRawTransaction") + 1,
    );
    let lag = async {
        gate.reached().await;
        h.proxy.set_lag(Some(Lag::receipts_and_state(100_000)));
        gate.open();
    };
    let (outcome, ()) = tokio::join!(h.v.execute(&intent), lag);
    match outcome {
        Err(VenueError::Unknown(why)) => {
            assert!(why.contains("not re-signed"), "{why}")
        }
        other => panic!("the outcome is unknown: {other:?}"),
    }
    match h.v.settle(intent.id).await {
        Err(VenueError::Unknown(why)) => assert!(why.contains("no receipt of ours"), "{why}"),
        other => panic!("settling holds the step: {other:?}"),
    }
    assert_eq!(
        h.nonces_sent(),
        vec![before.nonce, before.nonce + 1],
        "never re-signed"
    );
    // It was mined all along.
    assert_eq!(h.wallet().await.nonce, before.nonce + 2);
    h.proxy.set_lag(None);
    let (r, _) = h.carry_out(&intent, Duration::from_secs(30)).await;
    let after = h.wallet().await;
    assert_eq!(h.nonces_sent().len(), 2, "nothing more signed");
    h.assert_booked(before, after, &r, 2);
}

/// A stale nonce from a lagging node, and a transaction the wallet sent
/// outside arbkeep at that nonce: the intent's first transaction (its
/// approve) is signed at a used nonce, the node refuses it, and once the
/// chain shows the nonce taken by a transaction we never signed (read from
/// its block), it is re-signed at the next nonce — once. The first
/// signature never reaches the chain; the swap follows once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_nonce_taken_by_another_transaction_is_re_signed_once() {
    use alloy::network::TransactionBuilder;
    use alloy::providers::Provider;
    use arbkeep::venue::evm::devnet::{self, KEEPER_KEY};

    let h = hostile(|_| {}).await;
    let intent = h.swap(5, 1_000 * TokenId::Vcred.one()).await;
    let me = h.v.wallet();
    let before = h.wallet().await;
    let outside = devnet::signing_provider(&h.d.hemi.url(), KEEPER_KEY).unwrap();
    let theirs = outside
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default()
                .with_to(me)
                .with_value(U256::ZERO),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let their_gas = u128::from(theirs.gas_used) * theirs.effective_gas_price;
    h.proxy.set_lag(Some(Lag {
        blocks: 6,
        head: false,
        nonce: true,
        receipts: false,
        history: false,
    }));
    let (r, _) = h.carry_out(&intent, Duration::from_secs(60)).await;
    let after = h.wallet().await;
    // The approve was signed at the taken nonce, refused, and re-signed once.
    let records = h.store.txs_of(&intent.id.to_string()).unwrap();
    let approve = records.iter().find(|r| !r.last).expect("an approve");
    assert_eq!(
        approve.nonce,
        before.nonce + 1,
        "re-signed at the next free nonce"
    );
    assert_eq!(approve.superseded.len(), 1, "re-signed once");
    let first = approve.superseded[0];
    assert_ne!(first, theirs.transaction_hash);
    assert!(
        h.node.receipt(first).await.unwrap().is_none(),
        "the first signature was never mined"
    );
    let swap = h.swap_record(&intent);
    assert_eq!((swap.nonce, swap.superseded.len()), (before.nonce + 2, 0));
    assert_eq!(
        h.nonces_sent(),
        vec![before.nonce, before.nonce + 1, before.nonce + 2],
        "one signature at the taken nonce (refused), then the approve and the swap"
    );
    assert_eq!(after.nonce, before.nonce + 3);
    assert_eq!(before.vcred - after.vcred, U256::from(r.amount_in));
    assert_eq!(after.wbtc - before.wbtc, U256::from(r.amount_out));
    assert_eq!(
        before.eth - after.eth,
        U256::from(r.gas_fee + their_gas),
        "gas booked + the outside transaction's = gas paid"
    );
}

/// A lagging node: the swap (and its approve) carried out with some of the
/// provider's answers from a node behind the head. Once each, one nonce
/// each (counted at the proxy), the wallet moved by what the receipt books.
async fn lag_row(lag: Lag) {
    let h = hostile(|_| {}).await;
    let intent = h.swap(6, 1_000 * TokenId::Vcred.one()).await;
    let before = h.wallet().await;
    h.proxy.set_lag(Some(lag));
    let (r, seen) = h.carry_out(&intent, Duration::from_secs(60)).await;
    h.proxy.set_lag(None);
    let after = h.wallet().await;
    assert_eq!(
        h.nonces_sent(),
        vec![before.nonce, before.nonce + 1],
        "the approve and the swap, one nonce each ({seen:?})"
    );
    h.assert_booked(before, after, &r, 2);
}

/// A stale head: blocks seem to come late, confirmations take longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_head_sends_once() {
    lag_row(Lag {
        blocks: 6,
        head: true,
        nonce: false,
        receipts: false,
        history: false,
    })
    .await;
}

/// A node behind on everything (head, nonce, receipts, state): consistent,
/// only late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_on_everything_sends_once() {
    lag_row(Lag::everything(6)).await;
}

/// A stale nonce alone (the journal knows the wallet's last nonce better).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_nonce_alone_sends_once() {
    lag_row(Lag {
        blocks: 6,
        head: false,
        nonce: true,
        receipts: false,
        history: false,
    })
    .await;
}

/// The proxy forwards JSON-RPC batches and answers each call by its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_forwards_batches() {
    let h = hostile(|_| {}).await;
    let body = serde_json::json!([
        {"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 8, "method": "eth_blockNumber", "params": []},
    ]);
    let batch = || async {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(h.proxy.url())
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let answers = answer.as_array().expect("a batch answer").clone();
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0]["id"], 7);
        assert_eq!(
            answers[0]["result"],
            format!("0x{:x}", Chain::Hemi.chain_id())
        );
        assert_eq!(answers[1]["id"], 8);
        answers[1]["result"]
            .as_str()
            .and_then(|n| u64::from_str_radix(n.trim_start_matches("0x"), 16).ok())
            .expect("a head")
    };
    batch().await;
    assert_eq!(
        h.proxy.calls("eth_chainId"),
        2,
        "the venue's check, and the batch's"
    );
    // A lagging node answers inside a batch too.
    h.proxy.set_lag(Some(Lag::everything(3)));
    let stale = batch().await;
    let head = h.node.head().await.unwrap();
    assert!(stale + 3 <= head, "stale head {stale}, head {head}");
}

/// Defect 8, the operator's side: the engine's opening swap is in the pool
/// (mining paused) and its answer never came; the operator fails the cycle.
/// The swap is cancelled at its nonce, and the gas the cancel and the
/// approve before it paid is booked on the step's own line: the wallet
/// equals the ledger, and the swap never happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_cancelled_by_the_operator_books_the_cancels_gas() {
    use arbkeep::engine::Command;
    use arbkeep::model::{CycleState, LedgerKind};
    use arbkeep::venue::evm::devnet::{self, DEPLOYER_KEY};

    let h = hostile(|evm| {
        evm.rpc_timeout_ms = 5_000;
        evm.tx_timeout_ms = 4_000;
    })
    .await;
    let (gate, mut engine, handle) = h.engine_at_the_opening_swap().await;
    let before = h.wallet().await;
    let anvil = devnet::signing_provider(&h.d.hemi.url(), DEPLOYER_KEY).unwrap();
    let mining = |secs: u64| interval_mining(&anvil, secs);
    let hold = async {
        gate.reached().await;
        mining(0).await;
        gate.open();
    };
    let run = async {
        let started = Instant::now();
        loop {
            engine.tick().await.unwrap();
            if let Some(c) = engine.open_cycles().find(|c| c.last_error.is_some())
                && h.proxy.calls("eth_sendRawTransaction") >= 2
            {
                break c.id;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the swap never went out"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let ((), id) = tokio::join!(hold, run);
    // The operator fails the cycle: refused while the cancel is not mined.
    let fail = || Command::Fail {
        cycle: id,
        reason: "the swap's answer never came".into(),
    };
    let mut command = async |c: Command| {
        let handle = handle.clone();
        let task = tokio::spawn(async move { handle.send(c, "test").await });
        while !task.is_finished() {
            tokio::task::yield_now().await;
            engine.drain_commands().await;
        }
        task.await.unwrap()
    };
    let first = command(fail()).await;
    assert!(
        first.as_ref().is_err_and(|e| e.contains("not settled yet")),
        "{first:?}"
    );
    mining(1).await;
    let started = Instant::now();
    while let Err(e) = command(fail()).await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never failed: {e}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let read = engine.store().read().unwrap();
    let cycle = read
        .cycles()
        .unwrap()
        .into_iter()
        .find(|c| c.id == id)
        .unwrap();
    assert_eq!(cycle.state, CycleState::Failed);
    // The swap never happened; the approve and the cancel did, one nonce each.
    let after = h.wallet().await;
    assert_eq!(after.vcred, before.vcred, "no VCRED left");
    assert_eq!(after.wbtc, before.wbtc, "no WBTC bought");
    assert_eq!(after.nonce, before.nonce + 2);
    assert_eq!(h.nonces_sent(), vec![before.nonce, before.nonce + 1]);
    // The gas both paid is on the step's own line; the wallet equals the ledger.
    let ledger = read.ledger(0).unwrap();
    let gas: i128 = ledger
        .iter()
        .filter(|e| e.kind == LedgerKind::Gas && e.cycle == Some(id))
        .map(|e| e.delta)
        .sum();
    let paid = before.eth - after.eth;
    assert_eq!(
        U256::from(gas.unsigned_abs()),
        paid,
        "gas booked = gas paid"
    );
    assert_eq!(U256::from(cycle.costs.gas_wei), paid);
    let books = arbkeep::strategy::cross_chain_loop::ledger::ledger_balances(&ledger);
    assert_eq!(
        books
            .get(&(Chain::Hemi, TokenId::Eth))
            .copied()
            .unwrap_or(0),
        i128::try_from(after.eth).unwrap(),
        "Hemi ETH: ledger vs wallet"
    );
}

/// The unprovable nonce as the operator sees it: while receipts and state
/// come from a node far behind, the engine's opening swap cannot be
/// settled. Its intent is listed OUTCOME UNKNOWN, pass after pass, and
/// nothing is sent again; once the provider catches up the step is booked,
/// once, and the wallet equals the ledger on Hemi.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsettled_swap_is_listed_outcome_unknown_until_the_provider_catches_up() {
    use arbkeep::engine::IntentState;
    use arbkeep::model::CycleState;

    let h = hostile(|evm| {
        evm.rpc_timeout_ms = 5_000;
        evm.tx_timeout_ms = 3_000;
    })
    .await;
    let (gate, mut engine, _handle) = h.engine_at_the_opening_swap().await;
    let before = h.wallet().await;
    let lag = async {
        gate.reached().await;
        h.proxy.set_lag(Some(Lag::receipts_and_state(100_000)));
        gate.open();
    };
    let unknown = |engine: &arbkeep::engine::Engine| {
        engine
            .snapshot_for_tests()
            .intents
            .into_iter()
            .find(|i| i.state == IntentState::OutcomeUnknown)
    };
    let run = async {
        let started = Instant::now();
        loop {
            engine.tick().await.unwrap();
            if let Some(i) = unknown(&engine) {
                break i;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "never listed unknown: {:?}",
                engine.snapshot_for_tests().intents
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let ((), listed) = tokio::join!(lag, run);
    assert_eq!(listed.strategy, "cross_chain_loop");
    assert!(listed.doing.contains("never resending"), "{listed:?}");
    // Pass after pass: still unknown, nothing signed again.
    for _ in 0..5 {
        engine.tick().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(unknown(&engine).is_some(), "still unknown");
    assert_eq!(h.nonces_sent(), vec![before.nonce, before.nonce + 1]);
    // The provider catches up: settled by looking, booked once.
    h.proxy.set_lag(None);
    let started = Instant::now();
    let cycle = loop {
        engine.tick().await.unwrap();
        if let Some(c) = engine
            .open_cycles()
            .find(|c| c.state == CycleState::HemiSwapDone)
        {
            break c.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never settled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let after = h.wallet().await;
    assert_eq!(h.nonces_sent(), vec![before.nonce, before.nonce + 1]);
    assert_eq!(after.nonce, before.nonce + 2);
    assert_eq!(before.vcred - after.vcred, U256::from(cycle.vcred_in));
    let ledger = engine.store().read().unwrap().ledger(0).unwrap();
    let books = arbkeep::strategy::cross_chain_loop::ledger::ledger_balances(&ledger);
    for (token, amount) in [
        (TokenId::Eth, after.eth),
        (TokenId::Vcred, after.vcred),
        (TokenId::Wbtc, after.wbtc),
    ] {
        assert_eq!(
            books.get(&(Chain::Hemi, token)).copied().unwrap_or(0),
            i128::try_from(amount).unwrap(),
            "Hemi {token}: ledger vs wallet"
        );
    }
}

/// The Hemi line of the venue's health panel.
async fn hemi_health(h: &Hostile) -> arbkeep::venue::VenueHealth {
    let name = &h.v.client(Chain::Hemi).name;
    h.v.health()
        .await
        .into_iter()
        .find(|l| l.name.starts_with(name.as_str()))
        .expect("a Hemi line")
}

/// A silent WebSocket: the provider's stream stays open and nothing comes
/// back. The Hemi health line says so, with the head read over HTTP; the
/// next look does not wait on the dead stream again (nothing more is asked
/// of it before `WS_RETRY`); and the swap goes on over HTTP, sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_websocket_is_shown_and_sends_go_on_over_http() {
    let h = hostile_with(true, |_| {}).await;
    let ws = h.ws.as_ref().expect("a relay");
    let speaking = hemi_health(&h).await;
    assert!(speaking.ok, "{speaking:?}");
    assert!(!speaking.detail.contains("WebSocket"), "{speaking:?}");
    assert!(ws.relayed() > 0, "the head was read over the WebSocket");

    ws.silence();
    let silent = hemi_health(&h).await;
    assert!(!silent.ok, "a silent stream is not healthy: {silent:?}");
    assert!(
        silent.detail.contains("WebSocket") && silent.detail.contains("no answer within"),
        "{silent:?}"
    );
    let head = h.node.head().await.unwrap();
    assert!(
        silent.head.is_some_and(|seen| seen + 4 >= head),
        "the head is still read, over HTTP: {silent:?} vs {head}"
    );
    assert_eq!(ws.swallowed(), 1);
    let again = hemi_health(&h).await;
    assert!(!again.ok && again.detail.contains("WebSocket"), "{again:?}");
    assert_eq!(
        ws.swallowed(),
        1,
        "the dead stream is left alone for a while"
    );

    let intent = h.swap(8, 1_000 * TokenId::Vcred.one()).await;
    let before = h.wallet().await;
    let (r, seen) = h.carry_out(&intent, Duration::from_secs(60)).await;
    let after = h.wallet().await;
    assert_eq!(
        h.nonces_sent(),
        vec![before.nonce, before.nonce + 1],
        "the approve and the swap, one nonce each ({seen:?})"
    );
    h.assert_booked(before, after, &r, 2);
}

/// A reorg takes the swap's block back after the manager saw it mined and
/// before its confirmations (anvil drops the reorged transactions, as a
/// node that never had them would). The manager sees the receipt gone and
/// the nonce unused, offers the identical signed bytes again (one nonce,
/// one signature), and books the swap once, from its canonical block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_before_the_confirmations_offers_the_same_bytes_again_and_books_once() {
    use alloy::providers::Provider;
    use arbkeep::venue::evm::devnet::{self, DEPLOYER_KEY};

    let h = hostile(|evm| evm.rpc_timeout_ms = 5_000).await;
    let intent = h.swap(9, 1_000 * TokenId::Vcred.one()).await;
    let before = h.wallet().await;
    h.approve(&intent).await;
    let sent_before = h.proxy.sends().len();
    // The head seen through the proxy stays behind, so the swap, once
    // mined, stays short of its confirmations until the reorg.
    h.proxy.set_lag(Some(Lag {
        blocks: 20,
        head: true,
        nonce: false,
        receipts: false,
        history: false,
    }));
    let anvil = devnet::signing_provider(&h.d.hemi.url(), DEPLOYER_KEY).unwrap();
    let reorg = async {
        let started = Instant::now();
        let (hash, block) = loop {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the swap never mined"
            );
            if let Some(sent) = h.proxy.sends().get(sent_before)
                && let Some(r) = h.node.receipt(sent.hash).await.unwrap()
            {
                break (sent.hash, r.block_number.unwrap());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // The manager has looked at it mined (twice, to be sure).
        let looked = h.proxy.calls("eth_getTransactionReceipt");
        while h.proxy.calls("eth_getTransactionReceipt") < looked + 2 {
            assert!(started.elapsed() < Duration::from_secs(60), "never looked");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Mining held while the reorg lands, and the node then loses the
        // reorged swap from its pool (as a node may): only the manager
        // offering the same bytes again can get it mined, however the
        // manager's polls and the node's blocks interleave.
        let mining = |secs: u64| interval_mining(&anvil, secs);
        mining(0).await;
        let depth = h.node.head().await.unwrap() - block + 1;
        let _: serde_json::Value = anvil
            .raw_request("anvil_reorg".into(), (depth, Vec::<()>::new()))
            .await
            .unwrap();
        let _: serde_json::Value = anvil
            .raw_request("anvil_dropTransaction".into(), (hash,))
            .await
            .unwrap();
        assert!(
            h.node.receipt(hash).await.unwrap().is_none(),
            "the reorg took the swap back"
        );
        mining(1).await;
        h.proxy.set_lag(None);
        hash
    };
    let ((r, seen), hash) = tokio::join!(h.carry_out(&intent, Duration::from_secs(90)), reorg);
    let after = h.wallet().await;
    assert!(
        h.proxy.sends_of(hash) >= 2,
        "the same bytes were offered again after the reorg"
    );
    assert_eq!(
        h.nonces_sent(),
        vec![before.nonce, before.nonce + 1],
        "the approve and the swap, one nonce each ({seen:?})"
    );
    // The receipt books the gas of every transaction of the intent.
    h.assert_booked(before, after, &r, 2);
    let mined = h.swap_record(&intent).mined.expect("booked as mined");
    assert_eq!(mined.hash, hash);
    assert_eq!(
        h.node.block(mined.block_number).await.unwrap().map(|b| b.0),
        Some(mined.block_hash),
        "booked from the canonical block"
    );
}

/// Mine a block every `secs` seconds on `node`'s chain (0: none).
async fn interval_mining(node: &alloy::providers::DynProvider, secs: u64) {
    use alloy::providers::Provider;
    let _: serde_json::Value = node
        .raw_request("evm_setIntervalMining".into(), (secs,))
        .await
        .unwrap();
}
