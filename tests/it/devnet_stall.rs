//! A stalled transaction is replaced: mining paused, the transaction sent,
//! then blocks too small to hold it; after `replace_after_blocks` blocks
//! without it, the manager re-signs it at the same nonce with both fee cap
//! and tip raised at least 10 % — also when the sender that broadcast it
//! died and a new one resumes it from the journal. One transaction is
//! mined, the wallet's nonce moves by one.

use crate::devnet_common;

use alloy::primitives::U256;
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use arbkeep::model::Chain;
use arbkeep::venue::evm::EvmStore;
use arbkeep::venue::evm::abi::IERC20;
use arbkeep::venue::evm::devnet::{self, DEPLOYER_KEY, DevnetOptions};
use arbkeep::venue::evm::txmgr::{GasHint, TxRequest};
use devnet_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stalled_transaction_is_replaced_with_higher_fees() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    config.evm.as_mut().unwrap().replace_after_blocks = 3;
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = Arc::new(venue(&config, store.clone()).await);
    let p = devnet::signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let nonce_before = v
        .client(Chain::Hemi)
        .nonce_latest(v.wallet())
        .await
        .unwrap();

    // Mining paused; the transaction goes out at today's fees.
    let _: serde_json::Value = p
        .raw_request("evm_setIntervalMining".into(), (0,))
        .await
        .unwrap();
    let vcred = d.deployment.hemi.tokens[&arbkeep::model::TokenId::Vcred];
    let req = TxRequest {
        intent: "test/stall/0".into(),
        seq: 0,
        purpose: "approve",
        last: true,
        to: vcred,
        data: IERC20::approveCall {
            spender: d.deployment.hemi.router,
            value: U256::from(5u64),
        }
        .abi_encode()
        .into(),
        value: U256::ZERO,
        gas: GasHint::default(),
    };
    let sender = {
        let v = v.clone();
        let req = req.clone();
        tokio::spawn(async move { v.tx_manager().send(v.client(Chain::Hemi), req).await })
    };
    let started = Instant::now();
    let first = loop {
        if let Some(rec) = store.tx("test/stall/0", 0).unwrap()
            && rec.attempts[0].broadcast
        {
            break rec.attempts[0].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never broadcast"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The venue that takes over connects now: its start-up reads (Hemi's
    // USDC.e is a FiatToken proxy, whose decimals() alone costs more gas
    // than the tiny blocks below leave an eth_call) need ordinary blocks.
    let resumed = Arc::new(venue(&config, store.clone()).await);
    // Blocks too small for it: mining resumes, the transaction stays pending.
    let _: serde_json::Value = p
        .raw_request("evm_setBlockGasLimit".into(), (U256::from(30_000u64),))
        .await
        .unwrap();
    let _: serde_json::Value = p
        .raw_request("evm_setIntervalMining".into(), (1,))
        .await
        .unwrap();
    // The sender dies (as in a crash); a new one over the same journal takes
    // the transaction up where it stood: same nonce, never a second one.
    sender.abort();
    let v = resumed;
    let sender = {
        let v = v.clone();
        tokio::spawn(async move { v.tx_manager().send(v.client(Chain::Hemi), req).await })
    };
    let stalled_at = p.get_block_number().await.unwrap();
    let started = Instant::now();
    loop {
        let rec = store.tx("test/stall/0", 0).unwrap().unwrap();
        if rec.attempts.len() >= 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never replaced"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let replaced_at = p.get_block_number().await.unwrap();
    assert!(
        replaced_at >= stalled_at + 3,
        "replaced after {} blocks",
        replaced_at - stalled_at
    );
    // Blocks big enough again; mining resumes once the node holds the
    // replacement (so the test does not race the block interval).
    let _: serde_json::Value = p
        .raw_request("evm_setIntervalMining".into(), (0,))
        .await
        .unwrap();
    let _: serde_json::Value = p
        .raw_request("evm_setBlockGasLimit".into(), (U256::from(30_000_000u64),))
        .await
        .unwrap();
    let started = Instant::now();
    while !store.tx("test/stall/0", 0).unwrap().unwrap().attempts[1].broadcast {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "replacement never accepted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _: serde_json::Value = p
        .raw_request("evm_setIntervalMining".into(), (1,))
        .await
        .unwrap();
    let receipt = tokio::time::timeout(Duration::from_secs(60), sender)
        .await
        .expect("replaced and mined in time")
        .unwrap()
        .unwrap();
    let rec = store.tx("test/stall/0", 0).unwrap().unwrap();
    assert!(
        rec.attempts.len() >= 2,
        "replaced: {:?}",
        rec.attempts.len()
    );
    let (a, b) = (&rec.attempts[0], &rec.attempts[1]);
    assert!(
        b.max_fee_per_gas * 10 >= a.max_fee_per_gas * 11,
        "fee cap +10 %"
    );
    assert!(
        b.max_priority_fee_per_gas * 10 >= a.max_priority_fee_per_gas * 11,
        "tip +10 %"
    );
    assert_ne!(
        receipt.transaction_hash, first.hash,
        "the replacement was mined"
    );
    assert!(
        rec.attempts
            .iter()
            .skip(1)
            .any(|x| x.hash == receipt.transaction_hash)
    );
    let nonce_after = v
        .client(Chain::Hemi)
        .nonce_latest(v.wallet())
        .await
        .unwrap();
    assert_eq!(nonce_after, nonce_before + 1, "one nonce, one transaction");
    assert!(
        v.client(Chain::Hemi)
            .receipt(first.hash)
            .await
            .unwrap()
            .is_none()
    );
    println!(
        "DEVNET STALL replaced {} attempt(s): fee cap {} → {} wei, tip {} → {} wei",
        rec.attempts.len() - 1,
        a.max_fee_per_gas,
        b.max_fee_per_gas,
        a.max_priority_fee_per_gas,
        b.max_priority_fee_per_gas
    );
}

/// Hostile peers, defect 4: the operator moves past a step whose swap is
/// signed and in the node's pool (the answer never came). Abandoning it
/// cancels it at its nonce (a transfer of nothing to ourselves paying more);
/// the swap is never mined, the wallet's nonce moves by one, the intent is
/// refused from then on, and the next transaction follows with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_abandoned_swap_in_the_pool_is_cancelled_at_its_nonce() {
    use arbkeep::model::{
        Action, Clock, CycleId, Intent, IntentId, StepKind, SystemClock, TokenId,
    };
    use arbkeep::venue::{Abandonment, LoopVenue, VenueError};

    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&d, tmp.path());
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = Arc::new(venue(&config, store.clone()).await);
    let p = devnet::signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let vcred = 1_000 * TokenId::Vcred.one();
    let wbtc = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    let swap = |attempt| {
        Intent::new(
            IntentId {
                cycle: CycleId(7),
                step: StepKind::HemiSwap,
                attempt,
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
    };
    let first = swap(0);
    let id = first.id.to_string();
    // The approve goes through first, with mining on.
    let token = d.deployment.hemi.tokens[&TokenId::Vcred];
    arbkeep::venue::evm::erc20::ensure_allowance(
        v.tx_manager(),
        v.client(Chain::Hemi),
        &id,
        0,
        arbkeep::venue::evm::erc20::Allowance {
            token,
            // The first swap provider's router (SushiSwap V3's on Hemi).
            spender: d.deployment.hemi.v3.as_ref().expect("Hemi has V3").router,
            amount: U256::from(2 * vcred),
            unlimited: false,
        },
    )
    .await
    .unwrap();
    let wbtc_before = v.balance(Chain::Hemi, TokenId::Wbtc).await.unwrap();
    let nonce_before = v
        .client(Chain::Hemi)
        .nonce_latest(v.wallet())
        .await
        .unwrap();

    // Mining paused: the swap is signed and broadcast, and stays in the pool.
    let _: serde_json::Value = p
        .raw_request("evm_setIntervalMining".into(), (0,))
        .await
        .unwrap();
    let sender = {
        let v = v.clone();
        let first = first.clone();
        tokio::spawn(async move { v.execute(&first).await })
    };
    let started = Instant::now();
    let swap_hash = loop {
        if let Some(rec) = store.txs_of(&id).unwrap().into_iter().find(|r| r.last)
            && rec.attempts[0].broadcast
        {
            break rec.attempts[0].hash;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never broadcast"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The answer never comes: the sender is gone; the operator skips the step.
    sender.abort();
    match v.abandon(first.id).await {
        Err(VenueError::Unknown(why)) => assert!(why.contains("cancelled by"), "{why}"),
        other => panic!("a cancel in the pool is not settled yet: {other:?}"),
    }
    // It cannot be carried out while, or after, it is abandoned.
    match v.execute(&first).await {
        Err(VenueError::Rejected(why)) => assert!(why.contains("abandoned"), "{why}"),
        other => panic!("an abandoned intent is refused: {other:?}"),
    }
    let _: serde_json::Value = p
        .raw_request("evm_setIntervalMining".into(), (1,))
        .await
        .unwrap();
    let started = Instant::now();
    let cancel = loop {
        match v.abandon(first.id).await {
            Ok(Abandonment::Cancelled { tx_hash }) => break tx_hash,
            Ok(other) => panic!("expected a cancel, got {other:?}"),
            Err(_) => {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "cancel never mined"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_ne!(cancel, swap_hash.to_string());
    assert!(
        p.get_transaction_receipt(swap_hash)
            .await
            .unwrap()
            .is_none(),
        "the abandoned swap was never mined"
    );
    assert_eq!(
        v.client(Chain::Hemi)
            .nonce_latest(v.wallet())
            .await
            .unwrap(),
        nonce_before + 1,
        "one nonce, taken by the cancel"
    );
    assert_eq!(
        v.balance(Chain::Hemi, TokenId::Wbtc).await.unwrap(),
        wbtc_before,
        "no WBTC bought"
    );
    // The step's next attempt goes out at the next nonce, once.
    let receipt = v.execute(&swap(1)).await.unwrap();
    assert_eq!(receipt.amount_in, vcred);
    assert_eq!(
        v.client(Chain::Hemi)
            .nonce_latest(v.wallet())
            .await
            .unwrap(),
        nonce_before + 2
    );
    assert!(
        p.get_transaction_receipt(swap_hash)
            .await
            .unwrap()
            .is_none()
    );
}
