//! Hemi's OP-Bedrock-style tunnel, Hemi → Ethereum (the EVM research notes,
//! evm.md §1.4): what a withdrawal is and how it is identified
//! (`withdrawal`: the `WithdrawalTransaction` decoded from
//! L2ToL1MessagePasser's `MessagePassed`, its hash, its storage slot, the
//! output root), and the arguments of `OptimismPortal.proveWithdrawalTransaction`
//! built from an `eth_getProof` answer and the output's L2 block (`proof`),
//! checked before anything is sent; which proof system a portal speaks
//! (`portal`); what a bridge withdrawal pays on Ethereum (`message`); the contracts' calls and reads (`contracts`); and where a
//! withdrawal stands from the portal's answers (`status`). Pure functions over RPC answers: no
//! provider, no store.

pub mod contracts;
pub mod message;
pub mod portal;
pub mod proof;
pub mod status;
pub mod withdrawal;

#[cfg(test)]
mod vectors;

pub use contracts::{
    FINALIZE_SIGNATURE, ImportedProve, PROVE_SIGNATURE, check_imported_prove, finalize_calldata,
    prove_calldata,
};
pub use message::{Payout, erc20_payout};
pub use portal::{PortalKind, portal_kind};
pub use proof::{L2OutputBlock, ProveArgs, build_prove_args, maybe_add_proof_node};
pub use withdrawal::{
    L2_TO_L1_MESSAGE_PASSER, MessagePassed, OUTPUT_ROOT_VERSION, OutputRootProof, Withdrawal,
    WithdrawalTransaction, output_root, storage_slot, withdrawal_hash, withdrawals_in_receipt,
};

use alloy::primitives::{Address, B256, U256};

/// What is wrong with a withdrawal, a receipt or a proof answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TunnelError {
    #[error("log is from {got}, not the L2ToL1MessagePasser {L2_TO_L1_MESSAGE_PASSER}")]
    WrongEmitter { got: Address },
    #[error("log is not MessagePassed (topic0 {got:?})")]
    NotMessagePassed { got: Option<B256> },
    #[error("MessagePassed log does not decode: {0}")]
    BadLog(String),
    #[error("MessagePassed says withdrawal hash {emitted}, but its fields hash to {computed}")]
    HashMismatch { emitted: B256, computed: B256 },
    #[error("eth_getProof answered for {got}, not the L2ToL1MessagePasser")]
    ProofForWrongAccount { got: Address },
    #[error("eth_getProof answered {got} storage proofs, expected exactly 1")]
    StorageProofCount { got: usize },
    #[error("eth_getProof answered slot {got}, asked for {expected}")]
    ProofForWrongSlot { got: B256, expected: B256 },
    #[error("sentMessages[{hash}] is {value} at that block: the withdrawal is not there")]
    NotSent { hash: B256, value: U256 },
    #[error("the storage proof is empty")]
    EmptyProof,
    #[error("the storage proof does not prove the slot against storageHash {root}: {reason}")]
    ProofDoesNotVerify { root: B256, reason: String },
    #[error("proof node {index} is not valid RLP: {reason}")]
    BadProofNode { index: usize, reason: String },
    #[error(
        "output root proof hashes to {computed}, but the output oracle says {expected}: \
         the block or proof is not the output's"
    )]
    OutputRootMismatch { computed: B256, expected: B256 },
    #[error("the imported proof is refused: {0}")]
    BadImportedProof(String),
    #[error("not a standard-bridge ERC-20 withdrawal: {0}")]
    NotABridgeWithdrawal(String),
    #[error("portal version {version:?}: {why}")]
    PortalVersion { version: String, why: String },
}
