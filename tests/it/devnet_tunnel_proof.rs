//! The tunnel's proof builder on the devnet's Hemi node: the real
//! L2ToL1MessagePasser (the deployed bytecode of
//! `@eth-optimism/contracts-bedrock` 0.17.3's forge artifact, `sentMessages`
//! at slot 0) put at its predeploy address with `anvil_setCode`, a withdrawal
//! initiated by the keeper, `MessagePassed` decoded and its hash checked,
//! `sentMessages(hash)` read on chain, then `eth_getProof` at the block and
//! the prove arguments built. The storage proof is checked here on its own
//! (node hashes from `storageHash` down to the leaf holding `0x01`), and so
//! is the account proof tying `storageHash` to the block's state root.

use crate::devnet_common;

use alloy::network::TransactionBuilder;
use alloy::primitives::{B256, Bytes, U256, address, keccak256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use arbkeep::venue::evm::devnet::{DevnetOptions, KEEPER_KEY, send_mined, signing_provider};
use arbkeep::venue::evm::tunnel::withdrawal::IL2ToL1MessagePasser;
use arbkeep::venue::evm::tunnel::{
    L2_TO_L1_MESSAGE_PASSER, L2OutputBlock, TunnelError, build_prove_args, storage_slot,
    withdrawal_hash, withdrawals_in_receipt,
};
use devnet_common::*;
use std::str::FromStr;

async fn view<C: SolCall>(p: &DynProvider, c: C, block: u64) -> C::Return {
    let out = p
        .call(
            TransactionRequest::default()
                .with_to(L2_TO_L1_MESSAGE_PASSER)
                .with_input(Bytes::from(c.abi_encode())),
        )
        .block(block.into())
        .await
        .expect("eth_call");
    C::abi_decode_returns(&out).expect("decodes")
}

/// An inclusion check written out, independent of the builder's: each node
/// is referenced by its parent (the root by `root`), by hash when its RLP is
/// 32 bytes or more, inline otherwise; the path follows the key's nibbles
/// through branches, extensions and the leaf; the leaf holds `value`.
fn check_inclusion(root: B256, key: B256, value: &[u8], proof: &[Bytes]) {
    let nibbles: Vec<u8> = key.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect();
    let mut at = 0;
    let mut want: Vec<u8> = root.to_vec();
    for (i, node) in proof.iter().enumerate() {
        let reference = if node.len() >= 32 {
            keccak256(node).to_vec()
        } else {
            node.to_vec()
        };
        assert_eq!(reference, want, "node {i} is not the one its parent names");
        let items = rlp_items(node);
        match items.len() {
            17 => {
                let child = rlp_item_ref(items[nibbles[at] as usize]);
                at += 1;
                want = child;
            }
            2 => {
                let path = rlp_string(items[0]);
                let flag = path[0] >> 4;
                let mut p: Vec<u8> = if flag % 2 == 1 {
                    vec![path[0] & 0x0f]
                } else {
                    vec![]
                };
                p.extend(path[1..].iter().flat_map(|b| [b >> 4, b & 0x0f]));
                assert_eq!(
                    &nibbles[at..at + p.len()],
                    &p[..],
                    "node {i}: path diverges"
                );
                at += p.len();
                if flag >= 2 {
                    // A leaf: the whole key is consumed and the value is ours.
                    assert_eq!(at, 64, "leaf before the key's end");
                    assert_eq!(rlp_string(items[1]), value, "leaf holds another value");
                    assert_eq!(i, proof.len() - 1, "nodes after the leaf");
                    return;
                }
                want = rlp_item_ref(items[1]);
            }
            n => panic!("node {i} has {n} items"),
        }
    }
    panic!("the proof ends before a leaf");
}

/// A child reference inside a node: a 32-byte hash string, or an inline node.
fn rlp_item_ref(item: &[u8]) -> Vec<u8> {
    if item[0] >= 0xc0 {
        item.to_vec()
    } else {
        rlp_string(item).to_vec()
    }
}

fn rlp_string(item: &[u8]) -> &[u8] {
    match item[0] {
        0x00..=0x7f => &item[..1],
        b @ 0x80..=0xb7 => &item[1..1 + (b - 0x80) as usize],
        b @ 0xb8..=0xbf => {
            let n = (b - 0xb7) as usize;
            let len = item[1..1 + n]
                .iter()
                .fold(0usize, |a, x| a << 8 | *x as usize);
            &item[1 + n..1 + n + len]
        }
        _ => panic!("a list where a string was expected"),
    }
}

/// The items of one RLP list, each as its whole encoding.
fn rlp_items(node: &[u8]) -> Vec<&[u8]> {
    let (start, len) = match node[0] {
        b @ 0xc0..=0xf7 => (1, (b - 0xc0) as usize),
        b @ 0xf8..=0xff => {
            let n = (b - 0xf7) as usize;
            (
                1 + n,
                node[1..1 + n]
                    .iter()
                    .fold(0usize, |a, x| a << 8 | *x as usize),
            )
        }
        _ => panic!("node is not a list"),
    };
    assert_eq!(start + len, node.len());
    let mut rest = &node[start..];
    let mut items = Vec::new();
    while !rest.is_empty() {
        let size = match rest[0] {
            0x00..=0x7f => 1,
            b @ 0x80..=0xb7 => 1 + (b - 0x80) as usize,
            b @ (0xb8..=0xbf | 0xf8..=0xff) => {
                let n = (b - if b >= 0xf8 { 0xf7 } else { 0xb7 }) as usize;
                1 + n
                    + rest[1..1 + n]
                        .iter()
                        .fold(0usize, |a, x| a << 8 | *x as usize)
            }
            b @ 0xc0..=0xf7 => 1 + (b - 0xc0) as usize,
        };
        items.push(&rest[..size]);
        rest = &rest[size..];
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_tunnel_proof_of_a_real_message_passer_withdrawal() {
    let d = start(DevnetOptions::default()).await;
    let hemi = signing_provider(&d.hemi.url(), KEEPER_KEY).unwrap();
    // The npm package's bytecode, its storage layout checked (`sentMessages`
    // at slot 0), at the predeploy address.
    let code = arbkeep::venue::evm::devnet::install_message_passer(&root(), &hemi)
        .await
        .expect("the message passer installs");

    // The keeper withdraws 0.01 ETH to an L1 address with a message.
    let keeper_address = PrivateKeySigner::from_str(KEEPER_KEY).unwrap().address();
    let target = address!("F005D4e2b2B7d2C5c4f6D4a2B4e5c6D7e8F9b050");
    let gas_limit = U256::from(100_000u64);
    let data = Bytes::from_static(b"arbkeep tunnel proof");
    let value = U256::from(10_000_000_000_000_000u64);
    let call = IL2ToL1MessagePasser::initiateWithdrawalCall {
        _target: target,
        _gasLimit: gas_limit,
        _data: data.clone(),
    };
    let receipt = send_mined(
        &hemi,
        TransactionRequest::default()
            .with_from(keeper_address)
            .with_to(L2_TO_L1_MESSAGE_PASSER)
            .with_value(value)
            .with_input(Bytes::from(call.abi_encode())),
    )
    .await
    .unwrap();
    let block_number = receipt.block_number.unwrap();

    // MessagePassed decoded, its hash recomputed and equal to the event's.
    let withdrawals = withdrawals_in_receipt(&receipt).unwrap();
    assert_eq!(withdrawals.len(), 1);
    let w = &withdrawals[0];
    assert_eq!(w.tx.nonce, U256::from(1) << 240, "version 1, nonce 0");
    assert_eq!(w.tx.sender, keeper_address);
    assert_eq!(w.tx.target, target);
    assert_eq!(w.tx.value, value);
    assert_eq!(w.tx.gasLimit, gas_limit);
    assert_eq!(w.tx.data, data);
    assert_eq!(w.hash, withdrawal_hash(&w.tx));
    assert_eq!(w.l2_tx_hash, Some(receipt.transaction_hash));
    assert_eq!(w.l2_block, Some(block_number));
    let on_chain = view(
        &hemi,
        IL2ToL1MessagePasser::sentMessagesCall {
            withdrawalHash: w.hash,
        },
        block_number,
    )
    .await;
    assert!(on_chain, "sentMessages(hash) on chain");
    let next = view(
        &hemi,
        IL2ToL1MessagePasser::messageNonceCall {},
        block_number,
    )
    .await;
    assert_eq!(next, (U256::from(1) << 240) + U256::from(1));

    // eth_getProof at the block, and the block: what an output would commit to.
    let slot = storage_slot(w.hash);
    assert_eq!(w.storage_slot(), slot);
    let proof = hemi
        .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![slot])
        .block_id(block_number.into())
        .await
        .unwrap();
    let block = hemi
        .get_block_by_number(block_number.into())
        .await
        .unwrap()
        .expect("the block");
    let l2 = L2OutputBlock::from_header(&block.header);
    assert_eq!(l2.number, block_number);
    assert_eq!(proof.storage_proof.len(), 1);
    assert_eq!(proof.storage_proof[0].value, U256::from(1));

    // The storage proof checked here, node by node, against storageHash.
    let raw = &proof.storage_proof[0].proof;
    check_inclusion(proof.storage_hash, keccak256(slot), &[0x01], raw);
    // The same with alloy-trie, and the account proof: storageHash is the
    // message passer's storage root in the block's state root.
    alloy_trie::proof::verify_proof(
        proof.storage_hash,
        alloy_trie::Nibbles::unpack(keccak256(slot)),
        Some(vec![0x01]),
        raw,
    )
    .unwrap();
    let account = alloy_trie::TrieAccount {
        nonce: proof.nonce,
        balance: proof.balance,
        storage_root: proof.storage_hash,
        code_hash: proof.code_hash,
    };
    assert_eq!(proof.code_hash, keccak256(&code));
    assert_eq!(
        proof.balance, value,
        "the passer holds the ETH until burn()"
    );
    alloy_trie::proof::verify_proof(
        l2.state_root,
        alloy_trie::Nibbles::unpack(keccak256(L2_TO_L1_MESSAGE_PASSER)),
        Some(alloy_rlp::encode(account)),
        &proof.account_proof,
    )
    .unwrap();

    // The output root an honest proposer would post for this block.
    let mut preimage = [0u8; 128];
    preimage[32..64].copy_from_slice(l2.state_root.as_slice());
    preimage[64..96].copy_from_slice(proof.storage_hash.as_slice());
    preimage[96..].copy_from_slice(l2.hash.as_slice());
    let expected_root = keccak256(preimage);
    assert_eq!(l2.hash, keccak256(alloy_rlp::encode(&block.header.inner)));

    let args = build_prove_args(w.hash, expected_root, &l2, &proof).unwrap();
    assert_eq!(args.output_root_proof.version, B256::ZERO);
    assert_eq!(args.output_root_proof.stateRoot, l2.state_root);
    assert_eq!(
        args.output_root_proof.messagePasserStorageRoot,
        proof.storage_hash
    );
    assert_eq!(args.output_root_proof.latestBlockhash, l2.hash);
    // A trie this small ends in a hashed leaf: nothing to append.
    assert_eq!(&args.withdrawal_proof, raw);

    // Another output's root, or the proof of a later block, is refused
    // before anything would be sent.
    assert!(matches!(
        build_prove_args(w.hash, B256::repeat_byte(7), &l2, &proof),
        Err(TunnelError::OutputRootMismatch { .. })
    ));
    let mut other_block = l2;
    other_block.state_root = B256::repeat_byte(8);
    assert!(matches!(
        build_prove_args(w.hash, expected_root, &other_block, &proof),
        Err(TunnelError::OutputRootMismatch { .. })
    ));

    // A withdrawal that was never sent: the slot holds 0 and no proof is built.
    let never = B256::repeat_byte(0x42);
    let absent = hemi
        .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![storage_slot(never)])
        .block_id(block_number.into())
        .await
        .unwrap();
    assert!(matches!(
        build_prove_args(never, expected_root, &l2, &absent),
        Err(TunnelError::NotSent { .. })
    ));

    // My own check refuses a wrong value or a wrong key.
    let wrong_value = std::panic::catch_unwind(|| {
        check_inclusion(proof.storage_hash, keccak256(slot), &[0x02], raw)
    });
    assert!(wrong_value.is_err());
    let wrong_key = std::panic::catch_unwind(|| {
        check_inclusion(proof.storage_hash, keccak256(never), &[0x01], raw)
    });
    assert!(wrong_key.is_err());

    // More withdrawals, so the storage trie has branches: every one of them,
    // the first included, proven at the last block.
    let mut all = vec![w.clone()];
    let mut last_block = block_number;
    for i in 0..40u64 {
        let call = IL2ToL1MessagePasser::initiateWithdrawalCall {
            _target: target,
            _gasLimit: gas_limit,
            _data: Bytes::from(i.to_be_bytes().to_vec()),
        };
        let r = send_mined(
            &hemi,
            TransactionRequest::default()
                .with_from(keeper_address)
                .with_to(L2_TO_L1_MESSAGE_PASSER)
                .with_input(Bytes::from(call.abi_encode())),
        )
        .await
        .unwrap();
        last_block = r.block_number.unwrap();
        let ws = withdrawals_in_receipt(&r).unwrap();
        assert_eq!(ws.len(), 1);
        assert_eq!(ws[0].tx.nonce, (U256::from(1) << 240) + U256::from(i + 1));
        all.push(ws[0].clone());
    }
    let block = hemi
        .get_block_by_number(last_block.into())
        .await
        .unwrap()
        .expect("the last block");
    let l2 = L2OutputBlock::from_header(&block.header);
    let mut deepest = 0;
    for w in &all {
        let slot = storage_slot(w.hash);
        let proof = hemi
            .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![slot])
            .block_id(last_block.into())
            .await
            .unwrap();
        let raw = &proof.storage_proof[0].proof;
        check_inclusion(proof.storage_hash, keccak256(slot), &[0x01], raw);
        deepest = deepest.max(raw.len());
        let mut preimage = [0u8; 128];
        preimage[32..64].copy_from_slice(l2.state_root.as_slice());
        preimage[64..96].copy_from_slice(proof.storage_hash.as_slice());
        preimage[96..].copy_from_slice(l2.hash.as_slice());
        let args = build_prove_args(w.hash, keccak256(preimage), &l2, &proof).unwrap();
        assert_eq!(
            args.output_root_proof.messagePasserStorageRoot,
            proof.storage_hash
        );
        assert!(args.withdrawal_proof.starts_with(raw));
    }
    assert!(deepest >= 2, "the trie has branches: {deepest} nodes");
}
