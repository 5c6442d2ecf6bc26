//! The tunnel's contracts as the keeper calls and reads them (evm.md
//! §1.4.2–§1.4.5): `L2StandardBridge.withdraw` and the token it burns on
//! Hemi; on Ethereum the legacy `OptimismPortal`'s prove and finalize (their
//! calldata built from the tunnel's own `WithdrawalTransaction` and
//! `OutputRootProof`), its reads and events, the `L2OutputOracle` it proves
//! against, and the `L1CrossDomainMessenger`'s verdict on a relay.

use super::TunnelError;
use super::proof::ProveArgs;
use super::withdrawal::{OutputRootProof, WithdrawalTransaction, output_root, withdrawal_hash};
use alloy::primitives::{B256, Bytes, U256, hex, keccak256};
use alloy::sol;
use alloy::sol_types::SolValue;

/// `proveWithdrawalTransaction`'s signature in the portal's ABI (0x4870496f).
pub const PROVE_SIGNATURE: &str = "proveWithdrawalTransaction((uint256,address,address,uint256,uint256,bytes),uint256,(bytes32,bytes32,bytes32,bytes32),bytes[])";
/// `finalizeWithdrawalTransaction`'s signature in the portal's ABI (0x8c3152e9).
pub const FINALIZE_SIGNATURE: &str =
    "finalizeWithdrawalTransaction((uint256,address,address,uint256,uint256,bytes))";

sol! {
    /// The legacy portal's reads and events.
    interface IPortal {
        function provenWithdrawals(bytes32 withdrawalHash) external view returns (bytes32 outputRoot, uint128 timestamp, uint128 l2OutputIndex);
        function finalizedWithdrawals(bytes32 withdrawalHash) external view returns (bool);
        function paused() external view returns (bool);
        function l2Oracle() external view returns (address);
        function version() external view returns (string memory);
        event WithdrawalProven(bytes32 indexed withdrawalHash, address indexed from, address indexed to);
        event WithdrawalFinalized(bytes32 indexed withdrawalHash, bool success);
    }

    /// `Types.OutputProposal`.
    #[derive(Debug, PartialEq, Eq)]
    struct OracleOutput {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }

    /// The `L2OutputOracle` reads the prove step and the countdowns need.
    interface IOutputOracle {
        function latestBlockNumber() external view returns (uint256);
        function nextBlockNumber() external view returns (uint256);
        function getL2OutputIndexAfter(uint256 _l2BlockNumber) external view returns (uint256);
        function getL2Output(uint256 _l2OutputIndex) external view returns (OracleOutput memory);
        function FINALIZATION_PERIOD_SECONDS() external view returns (uint256);
        function SUBMISSION_INTERVAL() external view returns (uint256);
        function L2_BLOCK_TIME() external view returns (uint256);
    }

    /// `L2StandardBridge` (0x4200…0010) as the Hemi portal calls it, and
    /// the L1 bridge it pays out through (legacy getters, in every 1.x/2.x).
    interface IL2Bridge {
        function withdraw(address _l2Token, uint256 _amount, uint32 _minGasLimit, bytes _extraData) external payable;
        function OTHER_BRIDGE() external view returns (address);
        event WithdrawalInitiated(address indexed l1Token, address indexed l2Token, address indexed from, address to, uint256 amount, bytes extraData);
    }

    /// What an `OptimismMintableERC20` says of its pair.
    interface ITunnelToken {
        function remoteToken() external view returns (address);
        function bridge() external view returns (address);
    }

    /// `L1StandardBridge`: the messenger it trusts.
    interface IL1Bridge {
        function MESSENGER() external view returns (address);
    }

    /// The L1 messenger's verdict on the relay a finalize made, and the
    /// portal it takes messages from.
    interface IL1Messenger {
        function PORTAL() external view returns (address);
        function successfulMessages(bytes32 msgHash) external view returns (bool);
        event RelayedMessage(bytes32 indexed msgHash);
        event FailedRelayedMessage(bytes32 indexed msgHash);
    }
}

fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// The calldata of `proveWithdrawalTransaction(tx, l2OutputIndex,
/// outputRootProof, withdrawalProof)`.
pub fn prove_calldata(tx: &WithdrawalTransaction, l2_output_index: u64, args: &ProveArgs) -> Bytes {
    let mut data = selector(PROVE_SIGNATURE).to_vec();
    data.extend(
        (
            tx.clone(),
            U256::from(l2_output_index),
            args.output_root_proof.clone(),
            args.withdrawal_proof.clone(),
        )
            .abi_encode_params(),
    );
    Bytes::from(data)
}

/// The calldata of `finalizeWithdrawalTransaction(tx)`.
pub fn finalize_calldata(tx: &WithdrawalTransaction) -> Bytes {
    let mut data = selector(FINALIZE_SIGNATURE).to_vec();
    data.extend((tx.clone(),).abi_encode_params());
    Bytes::from(data)
}

/// A prove transaction's calldata produced elsewhere (the operator's
/// `import-proof`), checked to be `proveWithdrawalTransaction` of this
/// withdrawal; the output it names is for the caller to hold to the oracle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedProve {
    pub data: Bytes,
    pub l2_output_index: U256,
    /// The root its output root proof hashes to.
    pub output_root: B256,
}

pub fn check_imported_prove(text: &str, expected_hash: B256) -> Result<ImportedProve, TunnelError> {
    let bad = |why: String| TunnelError::BadImportedProof(why);
    let data = hex::decode(text.trim()).map_err(|e| bad(format!("not hex calldata: {e}")))?;
    let Some((selector_bytes, params)) = data.split_first_chunk::<4>() else {
        return Err(bad(format!("{} bytes is no call", data.len())));
    };
    if *selector_bytes != selector(PROVE_SIGNATURE) {
        return Err(bad(format!(
            "selector 0x{} is not proveWithdrawalTransaction (0x4870496f)",
            hex::encode(selector_bytes)
        )));
    }
    let (tx, index, root_proof, _proof) =
        <(WithdrawalTransaction, U256, OutputRootProof, Vec<Bytes>)>::abi_decode_params(params)
            .map_err(|e| bad(format!("its arguments do not decode: {e}")))?;
    let hash = withdrawal_hash(&tx);
    if hash != expected_hash {
        return Err(bad(format!(
            "it proves withdrawal {hash}, not this cycle's {expected_hash}"
        )));
    }
    Ok(ImportedProve {
        data: Bytes::from(data),
        l2_output_index: index,
        output_root: output_root(&root_proof),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolCall;

    #[test]
    fn selectors_are_the_ones_the_reference_lists() {
        // evm.md §1.4.2 and §1.4.4.
        assert_eq!(selector(PROVE_SIGNATURE), [0x48, 0x70, 0x49, 0x6f]);
        assert_eq!(selector(FINALIZE_SIGNATURE), [0x8c, 0x31, 0x52, 0xe9]);
        assert_eq!(IL2Bridge::withdrawCall::SELECTOR, [0x32, 0xb7, 0x00, 0x6d]);
        assert_eq!(
            IPortal::provenWithdrawalsCall::SELECTOR,
            [0xe9, 0x65, 0x08, 0x4c]
        );
        assert_eq!(
            IPortal::finalizedWithdrawalsCall::SELECTOR,
            [0xa1, 0x42, 0x38, 0xe7]
        );
        assert_eq!(
            IOutputOracle::getL2OutputIndexAfterCall::SELECTOR,
            [0x7f, 0x00, 0x64, 0x20]
        );
        assert_eq!(
            IOutputOracle::getL2OutputCall::SELECTOR,
            [0xa2, 0x5a, 0xe5, 0x57]
        );
        assert_eq!(
            IOutputOracle::latestBlockNumberCall::SELECTOR,
            [0x45, 0x99, 0xc7, 0x88]
        );
        assert_eq!(
            IOutputOracle::FINALIZATION_PERIOD_SECONDSCall::SELECTOR,
            [0xf4, 0xda, 0xa2, 0x91]
        );
    }

    #[test]
    fn an_imported_prove_is_checked_against_the_withdrawal() {
        let tx = WithdrawalTransaction {
            nonce: U256::from(9),
            sender: alloy::primitives::Address::repeat_byte(7),
            target: alloy::primitives::Address::repeat_byte(8),
            value: U256::ZERO,
            gasLimit: U256::from(1),
            data: Bytes::new(),
        };
        let args = ProveArgs {
            output_root_proof: OutputRootProof {
                version: B256::ZERO,
                stateRoot: B256::repeat_byte(1),
                messagePasserStorageRoot: B256::repeat_byte(2),
                latestBlockhash: B256::repeat_byte(3),
            },
            withdrawal_proof: vec![Bytes::from(vec![0xc0])],
        };
        let data = prove_calldata(&tx, 42, &args);
        let text = hex::encode_prefixed(&data);
        let ok = check_imported_prove(&text, withdrawal_hash(&tx)).expect("checks");
        assert_eq!(ok.l2_output_index, U256::from(42));
        assert_eq!(ok.output_root, output_root(&args.output_root_proof));
        assert_eq!(ok.data, data);
        let other = check_imported_prove(&text, B256::repeat_byte(9)).unwrap_err();
        assert!(other.to_string().contains("not this cycle's"), "{other}");
        let finalize = hex::encode_prefixed(finalize_calldata(&tx));
        let e = check_imported_prove(&finalize, withdrawal_hash(&tx)).unwrap_err();
        assert!(
            e.to_string().contains("not proveWithdrawalTransaction"),
            "{e}"
        );
        for junk in ["", "0x12", "zz", "0x4870496f00"] {
            assert!(
                check_imported_prove(junk, withdrawal_hash(&tx)).is_err(),
                "{junk}"
            );
        }
    }

    #[test]
    fn finalize_calldata_is_the_selector_then_the_tuple() {
        let tx = WithdrawalTransaction {
            nonce: U256::from(7),
            sender: alloy::primitives::Address::repeat_byte(1),
            target: alloy::primitives::Address::repeat_byte(2),
            value: U256::ZERO,
            gasLimit: U256::from(100_000),
            data: Bytes::from(vec![0xd7, 0x64, 0xad, 0x0b]),
        };
        let data = finalize_calldata(&tx);
        assert_eq!(&data[..4], &[0x8c, 0x31, 0x52, 0xe9]);
        let (back,) = <(WithdrawalTransaction,)>::abi_decode_params(&data[4..]).expect("decodes");
        assert_eq!(back, tx);
    }
}
