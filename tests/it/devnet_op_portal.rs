//! The tunnel's proof builder against the REAL legacy OptimismPortal: on
//! the devnet's Ethereum the portal, L2OutputOracle, SystemConfig and
//! SuperchainConfig of `@eth-optimism/contracts-bedrock` 0.17.3 behind
//! their proxies (`devnet::deploy_op_l1`), on its Hemi the package's real
//! L2ToL1MessagePasser. A withdrawal with ETH initiated on Hemi, an honest
//! output proposed over it (`devnet::propose_output`), the prove arguments
//! built by `tunnel::build_prove_args` and accepted by the portal's
//! `proveWithdrawalTransaction` (its `SecureMerkleTrie` check included),
//! then finalized after the finalization period: the target receives the
//! value. Also: proving twice reverts, finalizing early reverts, and a
//! guardian's pause stops finalize.

use crate::devnet_common;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, address};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError, SolEvent};
use arbkeep::venue::evm::devnet::{
    self, DEPLOYER_KEY, FINALIZE_SIGNATURE, IL2OutputOracle, IOptimismPortal, ISuperchainConfig,
    KEEPER_KEY, OP_GUARDIAN_KEY, OP_PROPOSER_KEY, OpL1Options, PROVE_SIGNATURE, send_mined,
    signing_provider,
};
use arbkeep::venue::evm::tunnel::withdrawal::IL2ToL1MessagePasser;
use arbkeep::venue::evm::tunnel::{
    L2_TO_L1_MESSAGE_PASSER, L2OutputBlock, build_prove_args, storage_slot, withdrawals_in_receipt,
};
use devnet_common::*;
use serde_json::Value;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// What a call would revert with: the raw revert data, from `eth_call`.
async fn revert_data(p: &DynProvider, from: Address, to: Address, data: &Bytes) -> Bytes {
    let err = p
        .call(
            TransactionRequest::default()
                .with_from(from)
                .with_to(to)
                .with_input(data.clone()),
        )
        .await
        .expect_err("the call reverts");
    err.as_error_resp()
        .and_then(|e| e.as_revert_data())
        .unwrap_or_else(|| panic!("no revert data in {err}"))
}

/// `Error(string)`'s message in revert data.
fn reason(data: &Bytes) -> String {
    alloy::sol_types::Revert::abi_decode(data)
        .map(|r| r.reason)
        .unwrap_or_else(|_| format!("not Error(string): {data}"))
}

async fn wait_for_block(p: &DynProvider, n: u64) {
    let started = Instant::now();
    while p.get_block_number().await.unwrap() < n {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Hemi did not reach block {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The portal's method ids as the package's ABI lists them.
fn artifact_method_id(name: &str, signature: &str) -> String {
    let path = root().join(format!(
        "node_modules/@eth-optimism/contracts-bedrock/forge-artifacts/{name}.sol/{name}.json"
    ));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["methodIdentifiers"][signature]
        .as_str()
        .unwrap_or_else(|| panic!("{signature} not in {name}'s ABI"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_op_portal_proves_and_finalizes_a_real_withdrawal() {
    // The signatures this crate encodes are the real portal's, and the
    // selectors evm.md §1.4.4 gives.
    assert_eq!(
        artifact_method_id("OptimismPortal", PROVE_SIGNATURE),
        "4870496f"
    );
    assert_eq!(
        artifact_method_id("OptimismPortal", FINALIZE_SIGNATURE),
        "8c3152e9"
    );

    let d = start_bare();
    let hemi = signing_provider(&d.hemi.url(), KEEPER_KEY).unwrap();
    let l1_deployer = signing_provider(&d.ethereum.url(), DEPLOYER_KEY).unwrap();
    let l1_keeper = signing_provider(&d.ethereum.url(), KEEPER_KEY).unwrap();
    let l1_proposer = signing_provider(&d.ethereum.url(), OP_PROPOSER_KEY).unwrap();
    let l1_guardian = signing_provider(&d.ethereum.url(), OP_GUARDIAN_KEY).unwrap();
    devnet::install_message_passer(&root(), &hemi)
        .await
        .unwrap();

    let opts = OpL1Options::default();
    let op = devnet::deploy_op_l1(&root(), &l1_deployer, &hemi, opts)
        .await
        .unwrap();
    eprintln!(
        "OptimismPortal {} L2OutputOracle {} SystemConfig {} SuperchainConfig {}",
        op.portal_version,
        op.oracle_version,
        op.system_config_version,
        op.superchain_config_version
    );
    // The real portal's own version() says which proof system it speaks.
    assert_eq!(
        arbkeep::venue::evm::tunnel::portal_kind(&op.portal_version),
        Ok(arbkeep::venue::evm::tunnel::PortalKind::Legacy),
        "the legacy portal, major 2 (Hemi runs 2.5.0): {}",
        op.portal_version
    );
    assert_eq!(op.oracle_version, "1.8.0");
    assert_eq!(
        read(
            &l1_keeper,
            op.oracle,
            IL2OutputOracle::FINALIZATION_PERIOD_SECONDSCall {}
        )
        .await,
        U256::from(4)
    );

    // The keeper withdraws 0.01 ETH on Hemi to a fresh L1 address.
    let keeper = PrivateKeySigner::from_str(KEEPER_KEY).unwrap().address();
    let target = address!("00000000000000000000000000000000a11ce001");
    let value = U256::from(10_000_000_000_000_000u64);
    let call = IL2ToL1MessagePasser::initiateWithdrawalCall {
        _target: target,
        _gasLimit: U256::from(100_000u64),
        _data: Bytes::new(),
    };
    let receipt = send_mined(
        &hemi,
        TransactionRequest::default()
            .with_from(keeper)
            .with_to(L2_TO_L1_MESSAGE_PASSER)
            .with_value(value)
            .with_input(Bytes::from(call.abi_encode())),
    )
    .await
    .unwrap();
    let withdrawal_block = receipt.block_number.unwrap();
    let ws = withdrawals_in_receipt(&receipt).unwrap();
    assert_eq!(ws.len(), 1);
    let w = ws[0].clone();
    assert_eq!(w.tx.value, value);
    assert_eq!(w.tx.target, target);
    // More withdrawals (no value, a message each), so the message passer's
    // storage trie has branches and the proofs more than one node.
    let mut others = Vec::new();
    let mut last_block = withdrawal_block;
    for i in 0..24u64 {
        let call = IL2ToL1MessagePasser::initiateWithdrawalCall {
            _target: target,
            _gasLimit: U256::from(50_000u64),
            _data: Bytes::from(i.to_be_bytes().to_vec()),
        };
        let r = send_mined(
            &hemi,
            TransactionRequest::default()
                .with_from(keeper)
                .with_to(L2_TO_L1_MESSAGE_PASSER)
                .with_input(Bytes::from(call.abi_encode())),
        )
        .await
        .unwrap();
        last_block = r.block_number.unwrap();
        others.extend(withdrawals_in_receipt(&r).unwrap());
    }
    assert_eq!(others.len(), 24);

    // Outputs in the oracle's order until one covers the withdrawal.
    let output = loop {
        let next = devnet::next_output_block(&l1_proposer, op.oracle)
            .await
            .unwrap();
        wait_for_block(&hemi, next).await;
        let out = devnet::propose_output(&hemi, &l1_proposer, op.oracle, next)
            .await
            .unwrap();
        if next >= last_block {
            break out;
        }
    };
    // Not the next block: refused before anything is sent.
    assert!(
        devnet::propose_output(&hemi, &l1_proposer, op.oracle, output.l2_block)
            .await
            .is_err()
    );
    // The first output at or after a block is the one viem would pick; a
    // later one holds the withdrawal too. All are proven against the
    // output that covers the last of them.
    let index_after = |block: u64| {
        read(
            &l1_keeper,
            op.oracle,
            IL2OutputOracle::getL2OutputIndexAfterCall {
                _l2BlockNumber: U256::from(block),
            },
        )
    };
    assert_eq!(index_after(last_block).await, U256::from(output.index));
    assert!(index_after(withdrawal_block).await <= U256::from(output.index));

    // The prove arguments, as the keeper would build them, from the
    // output's block and eth_getProof there.
    let proof = hemi
        .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![storage_slot(w.hash)])
        .block_id(output.l2_block.into())
        .await
        .unwrap();
    let block = hemi
        .get_block_by_number(output.l2_block.into())
        .await
        .unwrap()
        .unwrap();
    let l2 = L2OutputBlock::from_header(&block.header);
    let args = build_prove_args(w.hash, output.output_root, &l2, &proof).unwrap();
    assert_eq!(args.output_root_proof, output.output_root_proof);

    // Prove on the real portal.
    let prove = devnet::prove_calldata(&w.tx, output.index, &args);
    assert_eq!(prove[..4], [0x48, 0x70, 0x49, 0x6f]);
    let r = send_mined(
        &l1_keeper,
        TransactionRequest::default()
            .with_to(op.portal)
            .with_input(prove.clone()),
    )
    .await
    .unwrap();
    let proven_log = r
        .inner
        .logs()
        .iter()
        .find_map(|l| IOptimismPortal::WithdrawalProven::decode_log(&l.inner).ok())
        .expect("WithdrawalProven");
    assert_eq!(proven_log.withdrawalHash, w.hash);
    assert_eq!(proven_log.from, keeper);
    assert_eq!(proven_log.to, target);
    let proven = read(
        &l1_keeper,
        op.portal,
        IOptimismPortal::provenWithdrawalsCall {
            withdrawalHash: w.hash,
        },
    )
    .await;
    assert_eq!(proven.outputRoot, output.output_root);
    assert_eq!(proven.l2OutputIndex, u128::from(output.index));
    assert_ne!(proven.timestamp, 0);

    // A second prove of the same withdrawal reverts.
    let data = revert_data(&l1_keeper, keeper, op.portal, &prove).await;
    assert_eq!(
        reason(&data),
        "OptimismPortal: withdrawal hash has already been proven"
    );
    // A proof against another output root is refused.
    let mut bad = args.clone();
    bad.output_root_proof.stateRoot = B256::repeat_byte(1);
    let data = revert_data(
        &l1_keeper,
        keeper,
        op.portal,
        &devnet::prove_calldata(&w.tx, output.index, &bad),
    )
    .await;
    assert_eq!(reason(&data), "OptimismPortal: invalid output root proof");

    // The valid proof of another withdrawal's slot does not prove this one.
    let other_proof = hemi
        .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![storage_slot(others[0].hash)])
        .block_id(output.l2_block.into())
        .await
        .unwrap();
    let other_args =
        build_prove_args(others[0].hash, output.output_root, &l2, &other_proof).unwrap();
    let mut crossed = args.clone();
    crossed.withdrawal_proof = other_args.withdrawal_proof;
    let never_proven = &others[1].tx;
    let data = revert_data(
        &l1_keeper,
        keeper,
        op.portal,
        &devnet::prove_calldata(never_proven, output.index, &crossed),
    )
    .await;
    // The portal's MerkleTrie walk stops where the other key's path leaves
    // ours (a node the proof does not hold), or the walk ends off the key.
    let why = reason(&data);
    assert!(
        why == "MerkleTrie: invalid large internal hash"
            || why == "OptimismPortal: invalid withdrawal inclusion proof",
        "{why}"
    );

    // The portal holds the ETH it pays out.
    let portal_funds = U256::from(10u64).pow(U256::from(18));
    let _: Value = l1_deployer
        .raw_request("anvil_setBalance".into(), (op.portal, portal_funds))
        .await
        .unwrap();
    let finalize = devnet::finalize_calldata(&w.tx);
    assert_eq!(finalize[..4], [0x8c, 0x31, 0x52, 0xe9]);

    // Too early: the finalization period (4 s) has not elapsed.
    let data = revert_data(&l1_keeper, keeper, op.portal, &finalize).await;
    assert!(
        reason(&data).contains("finalization period has not elapsed"),
        "{}",
        reason(&data)
    );

    // Every other withdrawal proven on the portal against the same output,
    // each proof built by the tunnel's builder.
    let mut deepest = args.withdrawal_proof.len();
    for o in &others {
        let proof = hemi
            .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![storage_slot(o.hash)])
            .block_id(output.l2_block.into())
            .await
            .unwrap();
        let a = build_prove_args(o.hash, output.output_root, &l2, &proof).unwrap();
        deepest = deepest.max(a.withdrawal_proof.len());
        send_mined(
            &l1_keeper,
            TransactionRequest::default()
                .with_to(op.portal)
                .with_input(devnet::prove_calldata(&o.tx, output.index, &a)),
        )
        .await
        .unwrap();
        let p = read(
            &l1_keeper,
            op.portal,
            IOptimismPortal::provenWithdrawalsCall {
                withdrawalHash: o.hash,
            },
        )
        .await;
        assert_eq!(p.outputRoot, output.output_root);
    }
    assert!(deepest >= 2, "the trie has branches: {deepest} nodes");
    eprintln!(
        "{} withdrawals proven against output {} (L2 block {}), proofs up to {deepest} nodes",
        others.len() + 1,
        output.index,
        output.l2_block
    );

    devnet::increase_time(&l1_keeper, opts.finalization_period_secs + 1)
        .await
        .unwrap();
    assert!(
        read(
            &l1_keeper,
            op.portal,
            IOptimismPortal::isOutputFinalizedCall {
                _l2OutputIndex: U256::from(output.index),
            },
        )
        .await
    );

    // Paused by the guardian: finalize reverts with CallPaused.
    send_mined(
        &l1_guardian,
        TransactionRequest::default()
            .with_to(op.superchain_config)
            .with_input(Bytes::from(
                ISuperchainConfig::pauseCall {
                    _identifier: "devnet".into(),
                }
                .abi_encode(),
            )),
    )
    .await
    .unwrap();
    assert!(read(&l1_keeper, op.portal, IOptimismPortal::pausedCall {}).await);
    let data = revert_data(&l1_keeper, keeper, op.portal, &finalize).await;
    assert_eq!(data[..], IOptimismPortal::CallPaused::SELECTOR[..]);
    // Only the guardian can pause or unpause.
    let data = revert_data(
        &l1_keeper,
        keeper,
        op.superchain_config,
        &Bytes::from(ISuperchainConfig::unpauseCall {}.abi_encode()),
    )
    .await;
    assert_eq!(reason(&data), "SuperchainConfig: only guardian can unpause");
    send_mined(
        &l1_guardian,
        TransactionRequest::default()
            .with_to(op.superchain_config)
            .with_input(Bytes::from(ISuperchainConfig::unpauseCall {}.abi_encode())),
    )
    .await
    .unwrap();

    // Finalize: the target receives the value.
    let before = l1_keeper.get_balance(target).await.unwrap();
    let r = send_mined(
        &l1_keeper,
        TransactionRequest::default()
            .with_to(op.portal)
            .with_input(finalize.clone()),
    )
    .await
    .unwrap();
    let finalized_log = r
        .inner
        .logs()
        .iter()
        .find_map(|l| IOptimismPortal::WithdrawalFinalized::decode_log(&l.inner).ok())
        .expect("WithdrawalFinalized");
    assert_eq!(finalized_log.withdrawalHash, w.hash);
    assert!(finalized_log.success, "the call to the target succeeded");
    assert!(
        read(
            &l1_keeper,
            op.portal,
            IOptimismPortal::finalizedWithdrawalsCall {
                withdrawalHash: w.hash,
            },
        )
        .await
    );
    assert_eq!(l1_keeper.get_balance(target).await.unwrap(), before + value);
    assert_eq!(
        l1_keeper.get_balance(op.portal).await.unwrap(),
        portal_funds - value
    );

    // Finalizing again is replay: refused.
    let data = revert_data(&l1_keeper, keeper, op.portal, &finalize).await;
    assert_eq!(
        reason(&data),
        "OptimismPortal: withdrawal has already been finalized"
    );
}
