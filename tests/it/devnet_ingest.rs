//! Log ingestion on a devnet: Raindex V4 events from the emitter, delivered
//! at the confirmation depth in bounded `eth_getLogs` ranges; a persisted
//! watermark; a reorg (`anvil_reorg`) while the consumer is down answered
//! with `Removed` for the logs taken back and the new chain's logs; a batch
//! the consumer did not commit delivered again from the committed
//! watermark; a stalled chain shown as a fault.

use crate::devnet_common;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::providers::ext::AnvilApi;
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::anvil::{ReorgOptions, TransactionData};
use alloy::sol_types::{SolCall, SolEvent};
use arbkeep::model::{Chain, Clock, SystemClock};
use arbkeep::venue::evm::abi::IRaindexV4;
use arbkeep::venue::evm::devnet::{self, DEPLOYER_KEY, DevnetOptions};
use arbkeep::venue::evm::ingest::{IngestConfig, LogIngest};
use arbkeep::venue::evm::{ChainClient, EvmStore};
use arbkeep::venue::logs::{LogEvent, LogSource};
use devnet_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn take_order(input: u64) -> Vec<u8> {
    IRaindexV4::takeOrderCall {
        config: IRaindexV4::TakeOrderConfigV3::default(),
        input: U256::from(input),
        output: U256::from(2 * input),
    }
    .abi_encode()
}

/// Poll until `n` logs were added in total, returning every event seen;
/// each batch is committed, as a consumer does once it processed it.
async fn poll_until(ingest: &LogIngest, added: usize) -> Vec<LogEvent> {
    let started = Instant::now();
    let mut all = Vec::new();
    loop {
        let batch = ingest.poll().await.unwrap();
        ingest.commit(batch.through_block).await.unwrap();
        all.extend(batch.events);
        let n = all
            .iter()
            .filter(|e| matches!(e, LogEvent::Added { .. }))
            .count();
        if n >= added {
            return all;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "only {n} of {added} logs arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_ingestion_backfills_confirms_and_survives_a_reorg() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&d, tmp.path());
    let evm = config.evm.clone().unwrap();
    let emitter = d.deployment.hemi.raindex;
    let p = devnet::signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();

    // Three fills in three blocks before anyone listens: ingestion backfills them.
    let mut blocks = Vec::new();
    for input in [1u64, 2, 3] {
        let tx = TransactionRequest::default()
            .with_to(emitter)
            .with_input(Bytes::from(take_order(input)));
        let r = devnet::send_mined(&p, tx).await.unwrap();
        blocks.push(r.block_number.unwrap());
    }
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let client = Arc::new(
        ChainClient::connect(Chain::Hemi, &evm.hemi, Duration::from_secs(5))
            .await
            .unwrap(),
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cfg = IngestConfig {
        confirmations: 3,
        chunk: 4,
        silent_after_ms: 1_500,
        ..IngestConfig::from_evm(&evm, 0)
    };
    let topics = vec![
        IRaindexV4::ClearV2::SIGNATURE_HASH,
        IRaindexV4::AfterClear::SIGNATURE_HASH,
        IRaindexV4::TakeOrderV2::SIGNATURE_HASH,
    ];
    let ingest = LogIngest::new(
        client.clone(),
        emitter,
        topics.clone(),
        store.clone(),
        cfg.clone(),
        clock.clone(),
    )
    .unwrap();
    let events = poll_until(&ingest, 3).await;
    let head = client.head().await.unwrap();
    for e in &events {
        let LogEvent::Added { log } = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            log.topics[0],
            IRaindexV4::TakeOrderV2::SIGNATURE_HASH.to_string()
        );
        assert_eq!(log.address, emitter.to_checksum(None));
        assert!(
            log.block_number + 3 <= head + 1,
            "delivered before 3 confirmations"
        );
    }
    let decoded = IRaindexV4::TakeOrderV2::abi_decode_data(
        &alloy::primitives::hex::decode(&match &events[1] {
            LogEvent::Added { log } => log.data.clone(),
            _ => unreachable!(),
        })
        .unwrap(),
    )
    .unwrap();
    assert_eq!((decoded.2, decoded.3), (U256::from(2), U256::from(4)));
    let through = ingest.poll().await.unwrap().through_block;
    ingest.commit(through).await.unwrap();
    assert!(ingest.health().await.ok);
    drop(ingest);

    // While the consumer is down, a reorg replaces the block of the third
    // fill with one holding a different fill.
    let head = p.get_block_number().await.unwrap();
    let depth = head - blocks[2] + 1;
    let deployer = p.get_accounts().await.unwrap()[0];
    let replacement = TransactionRequest::default()
        .with_from(deployer)
        .with_to(emitter)
        .with_input(Bytes::from(take_order(7)));
    p.anvil_reorg(ReorgOptions {
        depth,
        tx_block_pairs: vec![(TransactionData::JSON(replacement), 0)],
    })
    .await
    .unwrap();

    // A new instance resumes from the watermark, sees the changed hash, and
    // takes back exactly the third fill before delivering the new one.
    let ingest = LogIngest::new(client.clone(), emitter, topics, store, cfg, clock).unwrap();
    let events = poll_until(&ingest, 1).await;
    let removed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            LogEvent::Removed { log } => Some(log),
            _ => None,
        })
        .collect();
    assert_eq!(removed.len(), 1, "{events:?}");
    assert_eq!(removed[0].block_number, blocks[2]);
    let added: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            LogEvent::Added { log } => Some(log),
            _ => None,
        })
        .collect();
    assert_eq!(added.len(), 1, "only the new chain's fill: {events:?}");
    let new = IRaindexV4::TakeOrderV2::abi_decode_data(
        &alloy::primitives::hex::decode(&added[0].data).unwrap(),
    )
    .unwrap();
    assert_eq!(new.2, U256::from(7));
    assert!(ingest.reorgs().await >= 1);

    // A consumer that stops in the middle of a batch (a failed read) does
    // not commit it: the next poll delivers it again, from the committed
    // watermark, and only a commit moves past it.
    let tx = TransactionRequest::default()
        .with_to(emitter)
        .with_input(Bytes::from(take_order(4)));
    let fourth = devnet::send_mined(&p, tx).await.unwrap();
    let fourth = fourth.transaction_hash.to_string();
    let is_fourth = |e: &LogEvent| matches!(e, LogEvent::Added { log } if log.tx_hash == fourth);
    let started = Instant::now();
    let first = loop {
        let batch = ingest.poll().await.unwrap();
        if batch.events.iter().any(is_fourth) {
            break batch;
        }
        // Nothing of interest in it: processed, committed.
        ingest.commit(batch.through_block).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the fourth fill never came"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let again = ingest.poll().await.unwrap();
    assert_eq!(
        again.events.iter().filter(|e| is_fourth(e)).count(),
        1,
        "an uncommitted batch is delivered again: {again:?}"
    );
    assert!(again.through_block >= first.through_block);
    ingest.commit(again.through_block).await.unwrap();
    let after = ingest.poll().await.unwrap();
    assert!(
        !after.events.iter().any(is_fourth),
        "a committed batch is not delivered again: {after:?}"
    );
    ingest.commit(after.through_block).await.unwrap();

    // A chain that stops making blocks is a fault on the health panel.
    let _: serde_json::Value = p
        .raw_request("evm_setIntervalMining".into(), (0,))
        .await
        .unwrap();
    ingest.poll().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    ingest.poll().await.unwrap();
    let h = ingest.health().await;
    assert!(!h.ok && h.detail.contains("silent"), "{h:?}");
    let _: serde_json::Value = p
        .raw_request("evm_setIntervalMining".into(), (1,))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    ingest.poll().await.unwrap();
    assert!(ingest.health().await.ok);
    let _ = Address::ZERO;
}
