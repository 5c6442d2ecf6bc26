//! The arguments of `OptimismPortal.proveWithdrawalTransaction` (evm.md
//! §1.4.4), built the way viem's `buildProveWithdrawal` builds them: from
//! Hemi's `eth_getProof(L2ToL1MessagePasser, [slot], output block)` answer and
//! that block's state root and hash. Before anything is returned the answer
//! is checked: the right account and slot, `sentMessages[hash] == 1`, the
//! storage proof verifies against `storageHash` (Merkle-Patricia inclusion),
//! and the output root proof hashes to the root the output oracle holds.
//! The withdrawal proof then gets viem's `maybeAddProofNode` adjustment.

use super::TunnelError;
use super::withdrawal::{
    L2_TO_L1_MESSAGE_PASSER, OUTPUT_ROOT_VERSION, OutputRootProof, output_root, storage_slot,
};
use alloy::primitives::{B256, Bytes, U256, hex, keccak256};
use alloy::rpc::types::{EIP1186AccountProofResponse, Header};
use alloy_rlp::Header as RlpHeader;
use alloy_trie::Nibbles;

/// What the proof needs of the L2 block an output commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2OutputBlock {
    pub number: u64,
    pub state_root: B256,
    pub hash: B256,
}

impl L2OutputBlock {
    /// From the header `eth_getBlockByNumber(output.l2BlockNumber)` answered.
    pub fn from_header(header: &Header) -> L2OutputBlock {
        L2OutputBlock {
            number: header.number,
            state_root: header.state_root,
            hash: header.hash,
        }
    }
}

/// `_outputRootProof` and `_withdrawalProof` of `proveWithdrawalTransaction`
/// (the withdrawal tuple and the output index the caller already has).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProveArgs {
    pub output_root_proof: OutputRootProof,
    pub withdrawal_proof: Vec<Bytes>,
}

/// Build and check the prove arguments for `withdrawal_hash` from the
/// `eth_getProof` answer at `block`, whose output the oracle recorded as
/// `expected_output_root`.
pub fn build_prove_args(
    withdrawal_hash: B256,
    expected_output_root: B256,
    block: &L2OutputBlock,
    proof: &EIP1186AccountProofResponse,
) -> Result<ProveArgs, TunnelError> {
    if proof.address != L2_TO_L1_MESSAGE_PASSER {
        return Err(TunnelError::ProofForWrongAccount { got: proof.address });
    }
    let [storage] = proof.storage_proof.as_slice() else {
        return Err(TunnelError::StorageProofCount {
            got: proof.storage_proof.len(),
        });
    };
    let slot = storage_slot(withdrawal_hash);
    let got = storage.key.as_b256();
    if got != slot {
        return Err(TunnelError::ProofForWrongSlot {
            got,
            expected: slot,
        });
    }
    if storage.value != U256::from(1) {
        return Err(TunnelError::NotSent {
            hash: withdrawal_hash,
            value: storage.value,
        });
    }
    verify_storage_inclusion(proof.storage_hash, slot, &storage.proof)?;
    let output_root_proof = OutputRootProof {
        version: OUTPUT_ROOT_VERSION,
        stateRoot: block.state_root,
        messagePasserStorageRoot: proof.storage_hash,
        latestBlockhash: block.hash,
    };
    let computed = output_root(&output_root_proof);
    if computed != expected_output_root {
        return Err(TunnelError::OutputRootMismatch {
            computed,
            expected: expected_output_root,
        });
    }
    let withdrawal_proof = maybe_add_proof_node(keccak256(slot), &storage.proof)?;
    Ok(ProveArgs {
        output_root_proof,
        withdrawal_proof,
    })
}

/// Check that `proof` (as `eth_getProof` answered it, before
/// [`maybe_add_proof_node`]) proves `slot` → `1` in the storage trie whose
/// root is `storage_root`: the secure trie's key is `keccak256(slot)`, the
/// value the RLP of the stored word (`0x01`).
pub fn verify_storage_inclusion(
    storage_root: B256,
    slot: B256,
    proof: &[Bytes],
) -> Result<(), TunnelError> {
    if proof.is_empty() {
        return Err(TunnelError::EmptyProof);
    }
    // RLP of the storage word 1: the single byte 0x01.
    let value = vec![0x01];
    alloy_trie::proof::verify_proof(
        storage_root,
        Nibbles::unpack(keccak256(slot)),
        Some(value),
        proof,
    )
    .map_err(|e| TunnelError::ProofDoesNotVerify {
        root: storage_root,
        reason: e.to_string(),
    })
}

/// viem's `maybeAddProofNode(key, proof)`, `key = keccak256(slot)`: when the
/// last node is a 17-item branch that holds the leaf inline (an item that is
/// itself a list, whose first element's hex, less its first nibble, ends
/// `key`'s hex), append that inline node's RLP, which the portal's
/// `SecureMerkleTrie` needs as a node of its own. Otherwise the proof is
/// returned as it came.
pub fn maybe_add_proof_node(key: B256, proof: &[Bytes]) -> Result<Vec<Bytes>, TunnelError> {
    let Some(last) = proof.last() else {
        return Err(TunnelError::EmptyProof);
    };
    let index = proof.len() - 1;
    let bad = |reason: String| TunnelError::BadProofNode { index, reason };
    let items = list_items(last).map_err(bad)?;
    let mut out = proof.to_vec();
    if items.len() != 17 {
        return Ok(out);
    }
    let key_hex = hex::encode(key);
    for item in items {
        let Ok(inner) = list_items(item) else {
            // Not an inline node (a hash, an empty slot or the value).
            continue;
        };
        let Some(first) = inner.first() else {
            continue;
        };
        let path = string_payload(first).map_err(bad)?;
        let Some(path) = path else {
            continue;
        };
        let path_hex = hex::encode(path);
        let suffix = path_hex.get(1..).unwrap_or("");
        if key_hex.ends_with(suffix) {
            out.push(Bytes::copy_from_slice(item));
        }
    }
    Ok(out)
}

/// The items of an RLP list, each as its whole encoding; an error when
/// `node` is not exactly one well-formed list.
fn list_items(node: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut buf = node;
    let header = RlpHeader::decode(&mut buf).map_err(|e| e.to_string())?;
    if !header.list {
        return Err("not a list".into());
    }
    if buf.len() != header.payload_length {
        return Err(format!(
            "list says {} payload bytes, {} follow",
            header.payload_length,
            buf.len()
        ));
    }
    let mut items = Vec::new();
    while !buf.is_empty() {
        let mut rest = buf;
        let item = RlpHeader::decode(&mut rest).map_err(|e| e.to_string())?;
        let header_len = buf.len() - rest.len();
        let total = header_len
            .checked_add(item.payload_length)
            .filter(|t| *t <= buf.len())
            .ok_or_else(|| "item runs past the list".to_string())?;
        items.push(&buf[..total]);
        buf = &buf[total..];
    }
    Ok(items)
}

/// The bytes of an RLP string item, `None` when the item is a list.
fn string_payload(item: &[u8]) -> Result<Option<&[u8]>, String> {
    let mut buf = item;
    let header = RlpHeader::decode(&mut buf).map_err(|e| e.to_string())?;
    if header.list {
        return Ok(None);
    }
    buf.get(..header.payload_length)
        .map(Some)
        .ok_or_else(|| "string runs past its item".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::vectors::{self, Vector};
    use super::super::withdrawal::tests::tx_of;
    use super::super::withdrawal::withdrawal_hash;
    use super::*;
    use alloy::primitives::Address;
    use alloy::rpc::types::EIP1186StorageProof;
    use std::str::FromStr;

    fn h(s: &str) -> B256 {
        B256::from_str(s).unwrap()
    }

    fn nodes(list: &[&str]) -> Vec<Bytes> {
        list.iter().map(|n| Bytes::from_str(n).unwrap()).collect()
    }

    /// The `eth_getProof` answer the vector's prove arguments came from
    /// (its last node is a leaf, so viem appended nothing).
    fn answer(v: &Vector) -> EIP1186AccountProofResponse {
        let hash = h(v.withdrawal_hash);
        EIP1186AccountProofResponse {
            address: L2_TO_L1_MESSAGE_PASSER,
            storage_hash: h(v.storage_root),
            storage_proof: vec![EIP1186StorageProof {
                key: storage_slot(hash).into(),
                value: U256::from(1),
                proof: nodes(v.withdrawal_proof),
            }],
            ..Default::default()
        }
    }

    fn block(v: &Vector) -> L2OutputBlock {
        L2OutputBlock {
            number: 113_389_063,
            state_root: h(v.state_root),
            hash: h(v.latest_blockhash),
        }
    }

    #[test]
    fn real_withdrawal_proofs_verify_against_their_storage_root() {
        for v in [
            &vectors::OP_MAINNET_LEGACY,
            &vectors::OP_MAINNET_FAULT_PROOF,
        ] {
            let hash = withdrawal_hash(&tx_of(v));
            let proof = nodes(v.withdrawal_proof);
            verify_storage_inclusion(h(v.storage_root), storage_slot(hash), &proof).unwrap();
            // Another slot, or another root, does not verify.
            let other = storage_slot(B256::repeat_byte(9));
            assert!(verify_storage_inclusion(h(v.storage_root), other, &proof).is_err());
            assert!(
                verify_storage_inclusion(B256::repeat_byte(9), storage_slot(hash), &proof).is_err()
            );
        }
    }

    #[test]
    fn builds_viems_prove_arguments_for_a_real_output() {
        let v = &vectors::OP_MAINNET_LEGACY;
        let expected = v.output_root.map(h).unwrap();
        let args = build_prove_args(h(v.withdrawal_hash), expected, &block(v), &answer(v)).unwrap();
        assert_eq!(
            args.output_root_proof,
            OutputRootProof {
                version: h(v.version),
                stateRoot: h(v.state_root),
                messagePasserStorageRoot: h(v.storage_root),
                latestBlockhash: h(v.latest_blockhash),
            }
        );
        assert_eq!(args.withdrawal_proof, nodes(v.withdrawal_proof));
    }

    #[test]
    fn refuses_before_sending_when_the_output_root_differs() {
        let v = &vectors::OP_MAINNET_LEGACY;
        let mut b = block(v);
        b.hash = B256::repeat_byte(1);
        let expected = v.output_root.map(h).unwrap();
        assert!(matches!(
            build_prove_args(h(v.withdrawal_hash), expected, &b, &answer(v)),
            Err(TunnelError::OutputRootMismatch { .. })
        ));
    }

    #[test]
    fn refuses_a_wrong_or_unproven_answer() {
        let v = &vectors::OP_MAINNET_LEGACY;
        let hash = h(v.withdrawal_hash);
        let root = v.output_root.map(h).unwrap();
        let b = block(v);

        let mut a = answer(v);
        a.address = Address::repeat_byte(2);
        assert!(matches!(
            build_prove_args(hash, root, &b, &a),
            Err(TunnelError::ProofForWrongAccount { .. })
        ));

        let mut a = answer(v);
        a.storage_proof.clear();
        assert_eq!(
            build_prove_args(hash, root, &b, &a),
            Err(TunnelError::StorageProofCount { got: 0 })
        );

        let mut a = answer(v);
        a.storage_proof[0].key = B256::repeat_byte(3).into();
        assert!(matches!(
            build_prove_args(hash, root, &b, &a),
            Err(TunnelError::ProofForWrongSlot { .. })
        ));

        let mut a = answer(v);
        a.storage_proof[0].value = U256::ZERO;
        assert!(matches!(
            build_prove_args(hash, root, &b, &a),
            Err(TunnelError::NotSent { .. })
        ));

        let mut a = answer(v);
        a.storage_proof[0].proof.clear();
        assert_eq!(
            build_prove_args(hash, root, &b, &a),
            Err(TunnelError::EmptyProof)
        );

        // A node dropped from the middle: the proof no longer verifies.
        let mut a = answer(v);
        a.storage_proof[0].proof.remove(1);
        assert!(matches!(
            build_prove_args(hash, root, &b, &a),
            Err(TunnelError::ProofDoesNotVerify { .. })
        ));

        // storageHash that is not the proof's root.
        let mut a = answer(v);
        a.storage_hash = B256::repeat_byte(4);
        assert!(matches!(
            build_prove_args(hash, root, &b, &a),
            Err(TunnelError::ProofDoesNotVerify { .. })
        ));
    }

    #[test]
    fn appends_the_leaf_a_final_branch_holds_inline() {
        let key = keccak256(h(vectors::OPBNB_INLINE_SLOT));
        let proof = nodes(vectors::OPBNB_INLINE_PROOF);
        let mut expected = proof.clone();
        expected.push(Bytes::from_str(vectors::OPBNB_INLINE_APPENDED).unwrap());
        assert_eq!(maybe_add_proof_node(key, &proof).unwrap(), expected);
        // For another key the inline leaf is not ours: nothing is appended.
        assert_eq!(
            maybe_add_proof_node(B256::repeat_byte(5), &proof).unwrap(),
            proof
        );
    }

    #[test]
    fn leaves_a_proof_that_ends_in_a_leaf_alone() {
        let key = keccak256(h(vectors::OPBNB_LEAF_SLOT));
        let proof = nodes(vectors::OPBNB_LEAF_PROOF);
        assert_eq!(maybe_add_proof_node(key, &proof).unwrap(), proof);
        let v = &vectors::OP_MAINNET_LEGACY;
        let key = keccak256(storage_slot(h(v.withdrawal_hash)));
        let proof = nodes(v.withdrawal_proof);
        assert_eq!(maybe_add_proof_node(key, &proof).unwrap(), proof);
    }

    #[test]
    fn a_last_node_that_is_not_rlp_is_an_error() {
        let proof = vec![Bytes::from_static(&[0xf8, 0x40, 0x01])];
        assert!(matches!(
            maybe_add_proof_node(B256::ZERO, &proof),
            Err(TunnelError::BadProofNode { index: 0, .. })
        ));
        assert_eq!(
            maybe_add_proof_node(B256::ZERO, &[]),
            Err(TunnelError::EmptyProof)
        );
    }
}
