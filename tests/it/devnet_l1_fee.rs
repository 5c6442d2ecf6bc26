//! Hemi is an OP-stack chain: each transaction pays an L1 data fee besides
//! its gas, and the node reports it in the receipt's `l1Fee` (evm.md §1.7),
//! a field alloy's Ethereum receipt drops. Through a proxy answering as an
//! OP node does, a Hemi swap's receipt books both for each of its
//! transactions (the approve and the swap): gas at the effective price plus
//! the `l1Fee` reported. Without the field (the devnet's anvil) it books
//! gas alone.

use crate::devnet_common;

use alloy::providers::{Provider, ProviderBuilder};
use arbkeep::fakes::evm_rpc::FakeRpc;
use arbkeep::model::time::MINUTE;
use arbkeep::model::{
    Action, Chain, Clock, CycleId, Intent, IntentId, StepKind, SystemClock, TokenId,
};
use arbkeep::venue::LoopVenue;
use arbkeep::venue::evm::EvmStore;
use arbkeep::venue::evm::devnet::DevnetOptions;
use devnet_common::*;
use std::sync::Arc;

fn swap(attempt: u32) -> Intent {
    let id = IntentId {
        cycle: CycleId(17),
        step: StepKind::HemiSwap,
        attempt,
    };
    let action = Action::Swap {
        chain: Chain::Hemi,
        token_in: TokenId::Vcred,
        token_out: TokenId::Wbtc,
        amount_in: 1_000 * TokenId::Vcred.one(),
        min_out: 1,
        deadline: SystemClock.now() + 10 * MINUTE,
    };
    Intent::new(id, action, SystemClock.now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_hemi_receipts_book_the_l1_data_fee_the_node_reports() {
    let d = start(DevnetOptions::default()).await;
    let proxy = FakeRpc::start(&d.hemi.url()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    evm.hemi.rpc_url = proxy.url();
    evm.hemi.ws_url = None;
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store.clone()).await;
    let node = ProviderBuilder::new().connect_http(d.hemi.url().parse().unwrap());

    // What each of the intent's mined transactions cost on the node:
    // gas × effective price, and the L1 fee the proxy reports for it.
    let paid = |intent: &Intent| {
        let (store, node, proxy) = (store.clone(), node.clone(), &proxy);
        let id = intent.id.to_string();
        async move {
            let (mut gas, mut l1) = (0u128, 0u128);
            for rec in store.txs_of(&id).unwrap() {
                for hash in rec.hashes() {
                    if let Some(r) = node.get_transaction_receipt(hash).await.unwrap() {
                        gas += u128::from(r.gas_used) * r.effective_gas_price;
                        l1 += proxy.l1_fee_of(hash).unwrap_or(0);
                    }
                }
            }
            (gas, l1)
        }
    };

    // As anvil answers: no l1Fee, gas alone.
    let plain = swap(0);
    let r = v.execute(&plain).await.unwrap();
    let (gas, l1) = paid(&plain).await;
    assert_eq!((l1, r.gas_fee), (0, gas));

    // As an OP node answers: 0.001 gwei per signed byte on top.
    proxy.set_l1_fee(Some(1_000_000));
    let op = swap(1);
    let r = v.execute(&op).await.unwrap();
    let (gas, l1) = paid(&op).await;
    assert_eq!(
        store.txs_of(&op.id.to_string()).unwrap().len(),
        2,
        "approve and swap"
    );
    assert!(l1 > 0, "the proxy reported an L1 fee");
    assert_eq!(r.gas_fee, gas + l1, "gas {gas} + L1 fee {l1}");
    // The same receipt read again (after a restart, by looking) books the same.
    let again = v.settle(op.id).await.unwrap().expect("settled");
    assert_eq!(again.gas_fee, r.gas_fee);
}
