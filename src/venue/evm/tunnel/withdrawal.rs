//! A tunnel withdrawal's identity (evm.md §1.4.3): the `WithdrawalTransaction`
//! tuple as L2ToL1MessagePasser's `MessagePassed` log carries it, its hash
//! (`Hashing.hashWithdrawal`), the `sentMessages` storage slot that the
//! portal's inclusion proof is about, and the output root of an
//! `OutputRootProof` (`Hashing.hashOutputRootProof`). A decoded withdrawal is
//! only returned once its recomputed hash equals the one the event carries.

use super::TunnelError;
use alloy::primitives::{Address, B256, Log as PrimitiveLog, address, keccak256};
use alloy::rpc::types::{Log, TransactionReceipt};
use alloy::sol;
use alloy::sol_types::{SolEvent, SolValue};

/// The L2ToL1MessagePasser predeploy (the same address on Hemi as on every OP chain).
pub const L2_TO_L1_MESSAGE_PASSER: Address = address!("4200000000000000000000000000000000000016");

/// `OutputRootProof.version` of every output so far (viem's `outputRootProofVersion`).
pub const OUTPUT_ROOT_VERSION: B256 = B256::ZERO;

sol! {
    /// `Types.WithdrawalTransaction`: what the portal proves and finalizes.
    #[derive(Debug, PartialEq, Eq)]
    struct WithdrawalTransaction {
        uint256 nonce;
        address sender;
        address target;
        uint256 value;
        uint256 gasLimit;
        bytes data;
    }

    /// `Types.OutputRootProof`: the preimage of an L2 output root.
    #[derive(Debug, PartialEq, Eq)]
    struct OutputRootProof {
        bytes32 version;
        bytes32 stateRoot;
        bytes32 messagePasserStorageRoot;
        bytes32 latestBlockhash;
    }

    /// L2ToL1MessagePasser's event, one per withdrawal.
    #[derive(Debug, PartialEq, Eq)]
    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );

    /// The L2ToL1MessagePasser functions the tunnel reads or calls.
    interface IL2ToL1MessagePasser {
        function initiateWithdrawal(address _target, uint256 _gasLimit, bytes memory _data) external payable;
        function sentMessages(bytes32 withdrawalHash) external view returns (bool);
        function messageNonce() external view returns (uint256);
    }
}

/// `keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))`:
/// the fields as a parameter list, not as one tuple (no leading offset).
pub fn withdrawal_hash(tx: &WithdrawalTransaction) -> B256 {
    let encoded = (
        tx.nonce,
        tx.sender,
        tx.target,
        tx.value,
        tx.gasLimit,
        tx.data.clone(),
    )
        .abi_encode_params();
    keccak256(encoded)
}

/// `keccak256(abi.encode(withdrawalHash, uint256(0)))`: where
/// `sentMessages[withdrawalHash]` lives (the mapping is at slot 0).
pub fn storage_slot(withdrawal_hash: B256) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(withdrawal_hash.as_slice());
    keccak256(preimage)
}

/// `keccak256(abi.encode(version, stateRoot, messagePasserStorageRoot, latestBlockhash))`.
pub fn output_root(proof: &OutputRootProof) -> B256 {
    keccak256(proof.abi_encode())
}

/// A withdrawal as it left Hemi: the tuple, its checked hash, and where it
/// was emitted (when the log says; a receipt's logs always do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub tx: WithdrawalTransaction,
    pub hash: B256,
    pub l2_tx_hash: Option<B256>,
    pub l2_block: Option<u64>,
}

impl Withdrawal {
    /// Decode one `MessagePassed` log, which must come from the
    /// L2ToL1MessagePasser, and check its hash.
    pub fn from_log(log: &Log) -> Result<Withdrawal, TunnelError> {
        let (tx, hash) = decode_message_passed(&log.inner)?;
        Ok(Withdrawal {
            tx,
            hash,
            l2_tx_hash: log.transaction_hash,
            l2_block: log.block_number,
        })
    }

    /// The `sentMessages` slot of this withdrawal.
    pub fn storage_slot(&self) -> B256 {
        storage_slot(self.hash)
    }
}

/// Decode a primitive `MessagePassed` log into the tuple and its hash,
/// refusing another emitter, another event, or a hash that does not match.
pub fn decode_message_passed(
    log: &PrimitiveLog,
) -> Result<(WithdrawalTransaction, B256), TunnelError> {
    if log.address != L2_TO_L1_MESSAGE_PASSER {
        return Err(TunnelError::WrongEmitter { got: log.address });
    }
    let topic0 = log.topics().first().copied();
    if topic0 != Some(MessagePassed::SIGNATURE_HASH) {
        return Err(TunnelError::NotMessagePassed { got: topic0 });
    }
    let event = MessagePassed::decode_log_data(&log.data)
        .map_err(|e| TunnelError::BadLog(e.to_string()))?;
    let tx = WithdrawalTransaction {
        nonce: event.nonce,
        sender: event.sender,
        target: event.target,
        value: event.value,
        gasLimit: event.gasLimit,
        data: event.data,
    };
    let computed = withdrawal_hash(&tx);
    if computed != event.withdrawalHash {
        return Err(TunnelError::HashMismatch {
            emitted: event.withdrawalHash,
            computed,
        });
    }
    Ok((tx, computed))
}

/// Every withdrawal a receipt's logs carry, in log order. Logs of other
/// contracts and other events are skipped (a contract may emit a look-alike
/// `MessagePassed`); a real one that does not decode or check is an error.
pub fn withdrawals_in_receipt(
    receipt: &TransactionReceipt,
) -> Result<Vec<Withdrawal>, TunnelError> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|l| {
            l.address() == L2_TO_L1_MESSAGE_PASSER
                && l.topics().first() == Some(&MessagePassed::SIGNATURE_HASH)
        })
        .map(Withdrawal::from_log)
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::vectors::{self, Vector};
    use super::*;
    use alloy::primitives::{Bytes, LogData, U256, b256};
    use std::str::FromStr;

    pub(in super::super) fn tx_of(v: &Vector) -> WithdrawalTransaction {
        WithdrawalTransaction {
            nonce: U256::from_str(v.nonce).unwrap(),
            sender: Address::from_str(v.sender).unwrap(),
            target: Address::from_str(v.target).unwrap(),
            value: U256::from_str(v.value).unwrap(),
            gasLimit: U256::from_str(v.gas_limit).unwrap(),
            data: Bytes::from_str(v.data).unwrap(),
        }
    }

    fn h(s: &str) -> B256 {
        B256::from_str(s).unwrap()
    }

    /// The log L2ToL1MessagePasser would emit for `tx` with `hash`.
    fn message_passed_log(
        emitter: Address,
        tx: &WithdrawalTransaction,
        hash: B256,
    ) -> PrimitiveLog {
        let event = MessagePassed {
            nonce: tx.nonce,
            sender: tx.sender,
            target: tx.target,
            value: tx.value,
            gasLimit: tx.gasLimit,
            data: tx.data.clone(),
            withdrawalHash: hash,
        };
        PrimitiveLog {
            address: emitter,
            data: event.encode_log_data(),
        }
    }

    #[test]
    fn message_passed_topic_is_the_published_one() {
        assert_eq!(
            MessagePassed::SIGNATURE_HASH,
            b256!("02a52367d10742d8032712c1bb8e0144ff1ec5ffda1ed7d70bb05a2744955054")
        );
    }

    #[test]
    fn real_withdrawals_hash_to_their_published_hash() {
        for v in [
            &vectors::OP_MAINNET_LEGACY,
            &vectors::OP_MAINNET_FAULT_PROOF,
        ] {
            assert_eq!(
                withdrawal_hash(&tx_of(v)),
                h(v.withdrawal_hash),
                "{}",
                v.nonce
            );
        }
    }

    #[test]
    fn the_versioned_nonce_is_taken_as_is() {
        // Encoding.encodeVersionedNonce: version 1 in the top two bytes.
        let nonce = tx_of(&vectors::OP_MAINNET_LEGACY).nonce;
        assert_eq!(nonce >> 240, U256::from(1));
        assert_eq!(
            nonce & ((U256::from(1) << 240) - U256::from(1)),
            U256::from(11_593)
        );
    }

    #[test]
    fn storage_slot_matches_the_published_slots() {
        assert_eq!(
            storage_slot(h(vectors::VIEM_SLOT_HASH)),
            h(vectors::VIEM_SLOT)
        );
        assert_eq!(
            storage_slot(h(vectors::OPBNB_INLINE_HASH)),
            h(vectors::OPBNB_INLINE_SLOT)
        );
        // The same as abi.encode(hash, uint256(0)) through the encoder.
        let hash = h(vectors::OP_MAINNET_LEGACY.withdrawal_hash);
        assert_eq!(
            storage_slot(hash),
            keccak256((hash, U256::ZERO).abi_encode_params())
        );
    }

    #[test]
    fn output_root_of_a_real_output() {
        let v = &vectors::OP_MAINNET_LEGACY;
        let proof = OutputRootProof {
            version: h(v.version),
            stateRoot: h(v.state_root),
            messagePasserStorageRoot: h(v.storage_root),
            latestBlockhash: h(v.latest_blockhash),
        };
        assert_eq!(proof.version, OUTPUT_ROOT_VERSION);
        assert_eq!(Some(output_root(&proof)), v.output_root.map(h));
    }

    #[test]
    fn a_message_passed_log_decodes_and_checks() {
        let v = &vectors::OP_MAINNET_LEGACY;
        let tx = tx_of(v);
        let log = message_passed_log(L2_TO_L1_MESSAGE_PASSER, &tx, h(v.withdrawal_hash));
        let (decoded, hash) = decode_message_passed(&log).unwrap();
        assert_eq!(decoded, tx);
        assert_eq!(hash, h(v.withdrawal_hash));
    }

    #[test]
    fn a_log_whose_hash_is_not_its_fields_is_refused() {
        let v = &vectors::OP_MAINNET_LEGACY;
        let mut tx = tx_of(v);
        let log = {
            tx.value += U256::from(1);
            message_passed_log(L2_TO_L1_MESSAGE_PASSER, &tx, h(v.withdrawal_hash))
        };
        assert!(matches!(
            decode_message_passed(&log),
            Err(TunnelError::HashMismatch { .. })
        ));
    }

    #[test]
    fn another_emitter_or_event_or_garbage_is_refused() {
        let v = &vectors::OP_MAINNET_LEGACY;
        let tx = tx_of(v);
        let elsewhere = message_passed_log(Address::repeat_byte(7), &tx, h(v.withdrawal_hash));
        assert_eq!(
            decode_message_passed(&elsewhere),
            Err(TunnelError::WrongEmitter {
                got: Address::repeat_byte(7)
            })
        );
        let other = PrimitiveLog {
            address: L2_TO_L1_MESSAGE_PASSER,
            data: LogData::new_unchecked(vec![B256::repeat_byte(1)], Bytes::new()),
        };
        assert!(matches!(
            decode_message_passed(&other),
            Err(TunnelError::NotMessagePassed { .. })
        ));
        let no_topics = PrimitiveLog {
            address: L2_TO_L1_MESSAGE_PASSER,
            data: LogData::new_unchecked(vec![], Bytes::new()),
        };
        assert_eq!(
            decode_message_passed(&no_topics),
            Err(TunnelError::NotMessagePassed { got: None })
        );
        let mut truncated = message_passed_log(L2_TO_L1_MESSAGE_PASSER, &tx, h(v.withdrawal_hash));
        let short = truncated.data.data.slice(..40);
        truncated.data = LogData::new_unchecked(truncated.data.topics().to_vec(), short);
        assert!(matches!(
            decode_message_passed(&truncated),
            Err(TunnelError::BadLog(_))
        ));
    }
}
