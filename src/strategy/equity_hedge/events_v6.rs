//! Building V5/V6 orderbook logs ([`super::abi_v6`]): orders with `IOV2`s,
//! `TakeOrderV3` and the `ClearV3` + `AfterClearV2` pair, amounts as Rain
//! Floats, ABI-encoded exactly as a node reports them. The paper orderbook
//! emits these when `raindex_version` is "v5" or "v6"; tests feed them to
//! the decoder.

use super::abi::{LogPlace, encode};
use super::abi_v6::{
    AfterClearV2, ClearConfigV2, ClearStateChangeV2, ClearV3, EvaluableV4, IOV2, OrderV4,
    TakeOrderConfigV4, TakeOrderV3,
};
use super::events::address_of;
use super::rain_float::from_decimal;
use crate::venue::logs::ChainLog;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use rust_decimal::Decimal;

/// An order of `owner` with the given input and output tokens.
pub fn order(owner: Address, inputs: &[Address], outputs: &[Address]) -> OrderV4 {
    let io = |token: &Address| IOV2 {
        token: *token,
        vaultId: B256::with_last_byte(1),
    };
    OrderV4 {
        owner,
        evaluable: EvaluableV4 {
            interpreter: address_of("interpreter"),
            store: address_of("store"),
            bytecode: Bytes::from_static(&[0x01, 0x02]),
        },
        validInputs: inputs.iter().map(io).collect(),
        validOutputs: outputs.iter().map(io).collect(),
        nonce: keccak256(owner.as_slice()),
    }
}

/// A `TakeOrderV3` log; `taker_input`/`taker_output` from the taker's side.
pub fn take_log(
    at: &LogPlace,
    order: OrderV4,
    (input_io, output_io): (usize, usize),
    taker_input: Decimal,
    taker_output: Decimal,
) -> ChainLog {
    let event = TakeOrderV3 {
        sender: address_of("taker"),
        config: TakeOrderConfigV4 {
            order,
            inputIOIndex: U256::from(input_io),
            outputIOIndex: U256::from(output_io),
            signedContext: Vec::new(),
        },
        input: from_decimal(taker_input),
        output: from_decimal(taker_output),
    };
    encode(&event, at)
}

/// One side of a clear: the order, and what it received (`input`) and
/// gave (`output`) through its first input and output.
pub struct ClearSide {
    pub order: OrderV4,
    pub input: Decimal,
    pub output: Decimal,
}

/// The `ClearV3` log at `at` and its `AfterClearV2` at the next log index.
pub fn clear_logs(at: &LogPlace, alice: ClearSide, bob: ClearSide) -> (ChainLog, ChainLog) {
    let clear = ClearV3 {
        sender: address_of("clearer"),
        alice: alice.order,
        bob: bob.order,
        clearConfig: ClearConfigV2 {
            aliceInputIOIndex: U256::ZERO,
            aliceOutputIOIndex: U256::ZERO,
            bobInputIOIndex: U256::ZERO,
            bobOutputIOIndex: U256::ZERO,
            aliceBountyVaultId: B256::with_last_byte(7),
            bobBountyVaultId: B256::with_last_byte(7),
        },
    };
    let after = AfterClearV2 {
        sender: address_of("clearer"),
        clearStateChange: ClearStateChangeV2 {
            aliceOutput: from_decimal(alice.output),
            bobOutput: from_decimal(bob.output),
            aliceInput: from_decimal(alice.input),
            bobInput: from_decimal(bob.input),
        },
    };
    let next = LogPlace {
        log_index: at.log_index + 1,
        ..at.clone()
    };
    (encode(&clear, at), encode(&after, &next))
}
