//! Raindex `IOrderBookV5` / `IOrderBookV6` (st0x's `IRaindexV6`): the
//! trade events the hedge reads — `ClearV3`, `AfterClearV2`, `TakeOrderV3`.
//! V6 imports these structs and events from V5 unchanged, so one decoding
//! serves both. Against V4: an IO is `(token, vaultId)` with no decimals,
//! vault ids are `bytes32`, signed context is `bytes32[]`, and every amount
//! is a Rain `Float` ([`super::rain_float`]). No parameter is indexed.
//! The signatures and topic0s are pinned by tests against the interface
//! source and against Rain's own bindings (`tests/fixtures/raindex_v6`).

use alloy_sol_types::sol;

sol! {
    /// `IOV2`: the token and its vault; decimals are no longer carried.
    #[derive(Debug, PartialEq, Eq)]
    struct IOV2 { address token; bytes32 vaultId; }

    #[derive(Debug, PartialEq, Eq)]
    struct EvaluableV4 { address interpreter; address store; bytes bytecode; }

    #[derive(Debug, PartialEq, Eq)]
    struct SignedContextV1 { address signer; bytes32[] context; bytes signature; }

    #[derive(Debug, PartialEq, Eq)]
    struct OrderV4 { address owner; EvaluableV4 evaluable; IOV2[] validInputs; IOV2[] validOutputs; bytes32 nonce; }

    #[derive(Debug, PartialEq, Eq)]
    struct TakeOrderConfigV4 { OrderV4 order; uint256 inputIOIndex; uint256 outputIOIndex; SignedContextV1[] signedContext; }

    #[derive(Debug, PartialEq, Eq)]
    struct ClearConfigV2 {
        uint256 aliceInputIOIndex;
        uint256 aliceOutputIOIndex;
        uint256 bobInputIOIndex;
        uint256 bobOutputIOIndex;
        bytes32 aliceBountyVaultId;
        bytes32 bobBountyVaultId;
    }

    /// Each amount is a `Float`.
    #[derive(Debug, PartialEq, Eq)]
    struct ClearStateChangeV2 { bytes32 aliceOutput; bytes32 bobOutput; bytes32 aliceInput; bytes32 bobInput; }

    /// `input`/`output` (Floats) are from the taker's side.
    #[derive(Debug, PartialEq, Eq)]
    event TakeOrderV3(address sender, TakeOrderConfigV4 config, bytes32 input, bytes32 output);

    /// Emitted before two orders clear; the amounts come in the next `AfterClearV2`.
    #[derive(Debug, PartialEq, Eq)]
    event ClearV3(address sender, OrderV4 alice, OrderV4 bob, ClearConfigV2 clearConfig);

    #[derive(Debug, PartialEq, Eq)]
    event AfterClearV2(address sender, ClearStateChangeV2 clearStateChange);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::SolEvent;

    /// The fixture's signatures are written from `IOrderBookV5.sol`, its
    /// topic0s computed by ethers and found as constants in Rain's own
    /// bindings (`@rainlanguage/orderbook` wasm): alloy's must agree.
    #[test]
    fn signatures_and_topics_are_the_interfaces_and_rains_own() {
        let cases: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/raindex_v6/cases.json"
        ))
        .unwrap();
        for (name, signature, topic0) in [
            (
                "TakeOrderV3",
                TakeOrderV3::SIGNATURE,
                TakeOrderV3::SIGNATURE_HASH,
            ),
            ("ClearV3", ClearV3::SIGNATURE, ClearV3::SIGNATURE_HASH),
            (
                "AfterClearV2",
                AfterClearV2::SIGNATURE,
                AfterClearV2::SIGNATURE_HASH,
            ),
        ] {
            let t = &cases["topics"][name];
            assert_eq!(t["signature"], signature, "{name}");
            assert_eq!(t["topic0"], format!("{topic0:#x}"), "{name}");
            assert_eq!(t["in_rain_orderbook_wasm"], true, "{name}");
        }
        // As the reference computed them, too.
        assert_eq!(
            format!("{:#x}", ClearV3::SIGNATURE_HASH),
            "0x6fa7f4c28634b0a9d6831401c45ae468195fb63aed07308935c35374ff5d9e39"
        );
    }
}
