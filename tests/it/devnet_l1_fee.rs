//! Hemi is an OP-stack chain: each transaction pays an L1 data fee besides
//! its gas, and the node reports it in the receipt's `l1Fee` (evm.md §1.7),
//! a field alloy's Ethereum receipt drops. Through a proxy answering as an
//! OP node does, a Hemi swap's receipt books both for each of its
//! transactions (the approve and the swap): gas at the effective price plus
//! the `l1Fee` reported. Without the field (the devnet's anvil) it books
//! gas alone. The planner prices the same fee before a cycle: with OP's
//! real `GasPriceOracle` installed on Hemi, each Hemi step's cost in the
//! fee schedule is its gas plus the oracle's `getL1Fee` per transaction;
//! without it (anvil), gas alone.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_the_planner_prices_hemis_l1_data_fee_from_the_gas_price_oracle() {
    use arbkeep::venue::evm::venue::gas::{STARGATE_SEND_GAS, SWAP_GAS, TUNNEL_INITIATE_GAS};
    use arbkeep::venue::evm::venue::l1_fee::{GAS_PRICE_ORACLE, priced_tx};
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&d, tmp.path());
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store).await;
    // Each Hemi figure is gas × one gas price, plus `txs` L1 fees.
    let gas_price = |f: &arbkeep::venue::FeeSchedule, l1: u128| {
        let each = [
            (f.swap_gas_hemi, SWAP_GAS, 2),
            (f.stargate_send_gas_hemi, STARGATE_SEND_GAS, 2),
            (f.tunnel_initiate_gas_hemi, TUNNEL_INITIATE_GAS, 1),
        ];
        let prices: Vec<u128> = each
            .iter()
            .map(|(cost, gas, txs)| {
                let l2 = cost - l1 * txs;
                assert_eq!(
                    l2 % gas,
                    0,
                    "{cost} is {gas} gas at one price plus {txs} × {l1}"
                );
                l2 / gas
            })
            .collect();
        assert!(prices.windows(2).all(|w| w[0] == w[1]), "{prices:?}");
        prices[0]
    };

    // anvil has no oracle: no L1 fee.
    let f = v.fees().await.unwrap();
    gas_price(&f, 0);

    // OP's oracle, L1 at 30 gwei, Bedrock's overhead 188 and scalar 0.684.
    install_gas_price_oracle_on(&d).await;
    let l1 = read(
        v.client(Chain::Hemi).provider(),
        GAS_PRICE_ORACLE,
        arbkeep::venue::evm::venue::l1_fee::IGasPriceOracle::getL1FeeCall { _data: priced_tx() },
    )
    .await;
    let l1 = u128::try_from(l1).unwrap();
    // Bedrock's formula: (16 gas a non-zero byte of the priced bytes and of
    // a signature's 68, 4 a zero byte, plus the overhead) × 30 gwei × 0.684.
    let bytes = priced_tx();
    let zeros = bytes.iter().filter(|b| **b == 0).count() as u128;
    let calldata_gas = 16 * (bytes.len() as u128 - zeros + 68) + 4 * zeros;
    assert_eq!(
        l1,
        (calldata_gas + 188) * 30_000_000_000 * 684_000 / 1_000_000
    );
    let f = v.fees().await.unwrap();
    gas_price(&f, l1);
}

async fn install_gas_price_oracle_on(d: &arbkeep::venue::evm::devnet::Devnet) {
    use alloy::primitives::U256;
    arbkeep::venue::evm::devnet::install_gas_price_oracle(
        &root(),
        &d.hemi.url(),
        U256::from(30_000_000_000u64),
        U256::from(188u64),
        U256::from(684_000u64),
    )
    .await
    .expect("the oracle is installed");
}
