//! The keeper's tunnel route on the devnet's real OP Stack contracts, past
//! the happy path `devnet_e2e` covers: a prove and a finalize someone else
//! already made are recognised from the portal's records and never sent by
//! the keeper (its Ethereum nonce never moves); a paused portal holds the
//! prove with its reason; a withdraw, a prove and a finalize the node took
//! with no answer back are each sent once. (The pre-flight's refusals are
//! in `devnet_preflight`.)

use crate::devnet_common;

use alloy::network::TransactionBuilder;
use alloy::primitives::{B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use arbkeep::model::time::MINUTE;
use arbkeep::model::{
    Action, BridgeTicket, Chain, Clock, CycleId, Intent, IntentId, Route, StepKind, SystemClock,
    TokenId,
};
use arbkeep::venue::evm::devnet::{
    self, DEPLOYER_KEY, DevnetOptions, IL2OutputOracle, ISuperchainConfig, OP_GUARDIAN_KEY,
    send_mined, signing_provider,
};
use arbkeep::venue::evm::tunnel::{
    L2_TO_L1_MESSAGE_PASSER, L2OutputBlock, Withdrawal, build_prove_args, finalize_calldata,
    prove_calldata, withdrawals_in_receipt,
};
use arbkeep::venue::evm::{EvmStore, EvmVenue};
use arbkeep::venue::{BridgeStatus, LoopVenue, VenueError};
use devnet_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn intent(step: StepKind, action: Action) -> Intent {
    let id = IntentId {
        cycle: CycleId(7),
        step,
        attempt: 0,
    };
    Intent::new(id, action, SystemClock.now())
}

/// Wait until the keeper's venue reports `want` for the ticket.
async fn wait_for(v: &EvmVenue, ticket: &BridgeTicket, want: fn(&BridgeStatus) -> bool) {
    let started = Instant::now();
    loop {
        match v.bridge_status(ticket).await {
            Ok(s) if want(&s) => return,
            Ok(_) | Err(VenueError::Transient(_)) => {}
            Err(e) => panic!("bridge status: {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the withdrawal never got there"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Swap VCRED for WBTC and send it into the tunnel: the ticket.
async fn withdraw_wbtc(v: &EvmVenue) -> BridgeTicket {
    let vcred = 1_000 * TokenId::Vcred.one();
    let wbtc = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    let swap = Action::Swap {
        chain: Chain::Hemi,
        token_in: TokenId::Vcred,
        token_out: TokenId::Wbtc,
        amount_in: vcred,
        min_out: wbtc * 99 / 100,
        deadline: SystemClock.now() + 10 * MINUTE,
    };
    let bought = v
        .execute(&intent(StepKind::HemiSwap, swap))
        .await
        .unwrap()
        .amount_out;
    let send = Action::BridgeSend {
        route: Route::HemiTunnel,
        token: TokenId::Wbtc,
        from: Chain::Hemi,
        to: Chain::Ethereum,
        amount: bought,
    };
    let r = v.execute(&intent(StepKind::BridgeOut, send)).await.unwrap();
    let ticket = r.ticket.expect("a tunnel ticket");
    assert_eq!(ticket.expected_amount, bought);
    ticket
}

/// The withdrawal of a ticket, from its initiating receipt on Hemi.
async fn withdrawal(hemi: &DynProvider, ticket: &BridgeTicket) -> Withdrawal {
    let hash: B256 = ticket.source_tx.parse().unwrap();
    let r = hemi.get_transaction_receipt(hash).await.unwrap().unwrap();
    let mut found = withdrawals_in_receipt(&r).unwrap();
    assert_eq!(found.len(), 1);
    found.remove(0)
}

/// Someone else (the deployer) proves the withdrawal on the real portal.
async fn prove_elsewhere(d: &devnet::Devnet, w: &Withdrawal) -> B256 {
    let l1 = signing_provider(&d.ethereum.url(), DEPLOYER_KEY).unwrap();
    let data = prove_made_elsewhere(d, w).await;
    let r = send_mined(
        &l1,
        TransactionRequest::default()
            .with_to(d.deployment.op.l1.portal)
            .with_input(data)
            .with_gas_limit(1_000_000),
    )
    .await
    .unwrap();
    r.transaction_hash
}

/// The prove calldata another tool would produce (viem's
/// `buildProveWithdrawal`, here the same steps by hand).
async fn prove_made_elsewhere(d: &devnet::Devnet, w: &Withdrawal) -> Bytes {
    let l1 = signing_provider(&d.ethereum.url(), DEPLOYER_KEY).unwrap();
    let hemi = signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let oracle = d.deployment.op.l1.oracle;
    let index = read(
        &l1,
        oracle,
        IL2OutputOracle::getL2OutputIndexAfterCall {
            _l2BlockNumber: U256::from(w.l2_block.unwrap()),
        },
    )
    .await;
    let output = read(
        &l1,
        oracle,
        IL2OutputOracle::getL2OutputCall {
            _l2OutputIndex: index,
        },
    )
    .await;
    let n = u64::try_from(output.l2BlockNumber).unwrap();
    let block = hemi.get_block_by_number(n.into()).await.unwrap().unwrap();
    let proof = hemi
        .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![w.storage_slot()])
        .block_id(n.into())
        .await
        .unwrap();
    let args = build_prove_args(
        w.hash,
        output.outputRoot,
        &L2OutputBlock::from_header(&block.header),
        &proof,
    )
    .unwrap();
    prove_calldata(&w.tx, u64::try_from(index).unwrap(), &args)
}

async fn pause(d: &devnet::Devnet, paused: bool) {
    let guardian = signing_provider(&d.ethereum.url(), OP_GUARDIAN_KEY).unwrap();
    let data = if paused {
        ISuperchainConfig::pauseCall {
            _identifier: "devnet test".into(),
        }
        .abi_encode()
    } else {
        ISuperchainConfig::unpauseCall {}.abi_encode()
    };
    send_mined(
        &guardian,
        TransactionRequest::default()
            .with_to(d.deployment.op.l1.superchain_config)
            .with_input(Bytes::from(data)),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_tunnel_steps_done_elsewhere_are_recognised_not_sent() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&d, tmp.path());
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store.clone()).await;
    let keeper = v.wallet();
    let hemi = signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let l1 = signing_provider(&d.ethereum.url(), DEPLOYER_KEY).unwrap();
    let wbtc_l1 = d.deployment.ethereum.tokens[&TokenId::Wbtc];

    let ticket = withdraw_wbtc(&v).await;
    let w = withdrawal(&hemi, &ticket).await;
    wait_for(&v, &ticket, |s| *s == BridgeStatus::ProveReady).await;

    // The guardian pauses the portal: the prove holds, saying why, and
    // nothing is signed for it.
    pause(&d, true).await;
    let prove = intent(
        StepKind::Prove,
        Action::Prove {
            ticket: ticket.clone(),
            proof: None,
        },
    );
    match v.execute(&prove).await {
        Err(VenueError::Transient(why)) => assert!(why.contains("paused"), "{why}"),
        other => panic!("a paused portal must hold the prove, got {other:?}"),
    }
    assert!(store.txs_of(&prove.id.to_string()).unwrap().is_empty());
    match v.bridge_status(&ticket).await {
        Err(VenueError::Transient(why)) => assert!(why.contains("paused"), "{why}"),
        other => panic!("the status says the portal is paused, got {other:?}"),
    }
    pause(&d, false).await;

    // Someone else proves it: the keeper's prove step is done by that
    // transaction, and the keeper sends nothing on Ethereum.
    let theirs = prove_elsewhere(&d, &w).await;
    let done = v.execute(&prove).await.unwrap();
    assert_eq!(done.tx_hash, theirs.to_string());
    assert_eq!(done.gas_fee, 0, "not the keeper's gas");
    assert!(store.txs_of(&prove.id.to_string()).unwrap().is_empty());
    assert_eq!(l1.get_transaction_count(keeper).await.unwrap(), 0);

    // And finalizes it: the keeper's finalize is that transaction, with the
    // amount the L1 bridge released to the keeper.
    wait_for(&v, &ticket, |s| *s == BridgeStatus::FinalizeReady).await;
    let before = v.balance(Chain::Ethereum, TokenId::Wbtc).await.unwrap();
    let r = send_mined(
        &l1,
        TransactionRequest::default()
            .with_to(d.deployment.op.l1.portal)
            .with_input(finalize_calldata(&w.tx))
            .with_gas_limit(1_000_000),
    )
    .await
    .unwrap();
    let finalize = intent(
        StepKind::Finalize,
        Action::Finalize {
            ticket: ticket.clone(),
        },
    );
    let done = v.execute(&finalize).await.unwrap();
    assert_eq!(done.tx_hash, r.transaction_hash.to_string());
    assert_eq!(done.amount_out, ticket.expected_amount);
    let after = v.balance(Chain::Ethereum, TokenId::Wbtc).await.unwrap();
    assert_eq!(after - before, ticket.expected_amount, "{wbtc_l1}");
    assert!(store.txs_of(&finalize.id.to_string()).unwrap().is_empty());
    assert_eq!(l1.get_transaction_count(keeper).await.unwrap(), 0);
    match v.bridge_status(&ticket).await.unwrap() {
        BridgeStatus::Arrived {
            amount, tx_hash, ..
        } => {
            assert_eq!(amount, ticket.expected_amount);
            assert_eq!(tx_hash, r.transaction_hash.to_string());
        }
        other => panic!("finalized is arrived, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_tunnel_imported_proof_is_checked_then_sent_as_given() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&d, tmp.path());
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store.clone()).await;
    let hemi = signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let l1 = signing_provider(&d.ethereum.url(), DEPLOYER_KEY).unwrap();

    let ticket = withdraw_wbtc(&v).await;
    let w = withdrawal(&hemi, &ticket).await;
    wait_for(&v, &ticket, |s| *s == BridgeStatus::ProveReady).await;
    let good = prove_made_elsewhere(&d, &w).await;

    // A proof whose output root proof is not the oracle's output: refused
    // before anything is signed.
    // Head: the tuple's offset, the index, then outputRootProof inline
    // (version, stateRoot, …): flip a byte of stateRoot.
    let mut forged = good.to_vec();
    forged[4 + 32 * 3 + 31] ^= 1;
    let bad = intent(
        StepKind::Prove,
        Action::Prove {
            ticket: ticket.clone(),
            proof: Some(alloy::primitives::hex::encode_prefixed(&forged)),
        },
    );
    match v.execute(&bad).await {
        Err(VenueError::Rejected(why)) => {
            assert!(why.contains("not the oracle's"), "{why}")
        }
        other => panic!("a forged proof must be refused, got {other:?}"),
    }
    assert!(store.txs_of(&bad.id.to_string()).unwrap().is_empty());

    // The imported one is sent as given, by the keeper, once.
    let imported = Intent::new(
        IntentId {
            cycle: CycleId(8),
            step: StepKind::Prove,
            attempt: 0,
        },
        Action::Prove {
            ticket: ticket.clone(),
            proof: Some(alloy::primitives::hex::encode_prefixed(&good)),
        },
        SystemClock.now(),
    );
    let r = v.execute(&imported).await.unwrap();
    let hash: B256 = r.tx_hash.parse().unwrap();
    let sent = l1.get_transaction_by_hash(hash).await.unwrap().unwrap();
    assert_eq!(alloy::consensus::Transaction::input(&sent), &good);
    assert_eq!(l1.get_transaction_count(v.wallet()).await.unwrap(), 1);
    wait_for(&v, &ticket, |s| {
        matches!(s, BridgeStatus::Proved { .. } | BridgeStatus::FinalizeReady)
    })
    .await;
}

/// As the engine does: after an answer that is not a refusal, settle by
/// looking, and carry the intent out again only when that says not done.
async fn carry_out(v: &EvmVenue, intent: &Intent) -> (arbkeep::model::Receipt, Vec<VenueError>) {
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        match v.execute(intent).await {
            Ok(r) => return (r, seen),
            Err(VenueError::Rejected(why)) => panic!("rejected: {why} (after {seen:?})"),
            Err(e) => seen.push(e),
        }
        loop {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "not done: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            match v.settle(intent.id).await {
                Ok(Some(r)) => return (r, seen),
                Ok(None) => break,
                Err(e) => seen.push(e),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_tunnel_prove_and_finalize_taken_with_no_answer_are_sent_once() {
    use arbkeep::fakes::evm_rpc::{FakeRpc, RpcFault};
    let d = start(DevnetOptions::default()).await;
    let proxy = FakeRpc::start(&d.ethereum.url())
        .await
        .expect("proxy starts");
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    evm.ethereum.rpc_url = proxy.url();
    evm.ethereum.ws_url = None;
    evm.rpc_timeout_ms = 1_000;
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store.clone()).await;
    let me = v.wallet();
    let l1 = signing_provider(&d.ethereum.url(), DEPLOYER_KEY).unwrap();

    let ticket = withdraw_wbtc(&v).await;
    wait_for(&v, &ticket, |s| *s == BridgeStatus::ProveReady).await;
    let method = "eth_sendRawTransaction";
    let fault = RpcFault::TimeoutAfter(Duration::from_secs(3));

    // The node takes the prove and the answer never comes.
    proxy.script(method, proxy.calls(method) + 1, fault.clone());
    let prove = intent(
        StepKind::Prove,
        Action::Prove {
            ticket: ticket.clone(),
            proof: None,
        },
    );
    let (_, seen) = carry_out(&v, &prove).await;
    assert!(
        proxy
            .faults_met()
            .iter()
            .any(|(m, _, f)| m == method && *f == fault),
        "the fault was met"
    );
    assert_eq!(l1.get_transaction_count(me).await.unwrap(), 1, "{seen:?}");
    wait_for(&v, &ticket, |s| *s == BridgeStatus::FinalizeReady).await;

    // And the finalize.
    proxy.script(method, proxy.calls(method) + 1, fault.clone());
    let before = v.balance(Chain::Ethereum, TokenId::Wbtc).await.unwrap();
    let finalize = intent(
        StepKind::Finalize,
        Action::Finalize {
            ticket: ticket.clone(),
        },
    );
    let (r, seen) = carry_out(&v, &finalize).await;
    assert_eq!(l1.get_transaction_count(me).await.unwrap(), 2, "{seen:?}");
    assert_eq!(r.amount_out, ticket.expected_amount);
    let after = v.balance(Chain::Ethereum, TokenId::Wbtc).await.unwrap();
    assert_eq!(after - before, ticket.expected_amount, "released once");
    // Every nonce the node received from the keeper was signed for one record.
    let keeper_sends: Vec<u64> = proxy
        .sends_by_nonce()
        .into_iter()
        .filter(|((sender, _), _)| *sender == me)
        .map(|((_, nonce), _)| nonce)
        .collect();
    assert_eq!(keeper_sends, vec![0, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_tunnel_initiate_taken_with_no_answer_is_sent_once() {
    use arbkeep::fakes::evm_rpc::{FakeRpc, RpcFault};
    let d = start(DevnetOptions::default()).await;
    let proxy = FakeRpc::start(&d.hemi.url()).await.expect("proxy starts");
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    evm.hemi.rpc_url = proxy.url();
    evm.hemi.ws_url = None;
    evm.rpc_timeout_ms = 1_000;
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store.clone()).await;
    let me = v.wallet();
    let hemi = signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();

    // WBTC to send: the approve and the swap (nonces 0 and 1).
    let vcred = 1_000 * TokenId::Vcred.one();
    let wbtc = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    let swap = Action::Swap {
        chain: Chain::Hemi,
        token_in: TokenId::Vcred,
        token_out: TokenId::Wbtc,
        amount_in: vcred,
        min_out: wbtc * 99 / 100,
        deadline: SystemClock.now() + 10 * MINUTE,
    };
    let bought = v
        .execute(&intent(StepKind::HemiSwap, swap))
        .await
        .unwrap()
        .amount_out;

    // The node takes the withdraw and the answer never comes.
    let method = "eth_sendRawTransaction";
    let fault = RpcFault::TimeoutAfter(Duration::from_secs(3));
    proxy.script(method, proxy.calls(method) + 1, fault.clone());
    let send = intent(
        StepKind::BridgeOut,
        Action::BridgeSend {
            route: Route::HemiTunnel,
            token: TokenId::Wbtc,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount: bought,
        },
    );
    let (r, seen) = carry_out(&v, &send).await;
    assert!(
        proxy
            .faults_met()
            .iter()
            .any(|(m, _, f)| m == method && *f == fault),
        "the fault was met"
    );
    let ticket = r.ticket.expect("a tunnel ticket");
    assert_eq!(ticket.expected_amount, bought);
    assert_eq!(hemi.get_transaction_count(me).await.unwrap(), 3, "{seen:?}");
    let keeper_sends: Vec<u64> = proxy
        .sends_by_nonce()
        .into_iter()
        .filter(|((sender, _), _)| *sender == me)
        .map(|((_, nonce), _)| nonce)
        .collect();
    assert_eq!(keeper_sends, vec![0, 1, 2], "one withdrawal, signed once");
    // Exactly one withdrawal left Hemi: the WBTC burnt once.
    assert_eq!(v.balance(Chain::Hemi, TokenId::Wbtc).await.unwrap(), 0);
    wait_for(&v, &ticket, |s| *s == BridgeStatus::ProveReady).await;
}
