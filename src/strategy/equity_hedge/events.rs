//! Building V4 orderbook logs: orders with IOs, `TakeOrderV2` and the
//! `ClearV2` + `AfterClear` pair, ABI-encoded exactly as a node reports
//! them. The paper orderbook emits these; tests feed them to the decoder.

use super::abi::{
    AfterClear, ClearConfig, ClearStateChange, ClearV2, EvaluableV3, IO, LogPlace, OrderV3,
    TakeOrderConfigV3, TakeOrderV2, encode,
};
use crate::venue::logs::ChainLog;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use rust_decimal::Decimal;

/// A deterministic address for a label (paper tokens, test owners).
pub fn address_of(label: &str) -> Address {
    Address::from_slice(&keccak256(label.as_bytes())[12..])
}

/// A deterministic 32-byte hash for a label, 0x-hex (paper tx and block hashes).
pub fn hash_of(label: &str) -> String {
    format!("{:#x}", keccak256(label.as_bytes()))
}

/// `amount` in base units of a token with `decimals` (exact; truncates nothing
/// representable, refuses what is not).
pub fn units(amount: Decimal, decimals: u8) -> Option<U256> {
    crate::model::from_decimal(amount, decimals)
        .ok()
        .map(U256::from)
}

/// An order of `owner` with the given (token, decimals) inputs and outputs.
pub fn order(owner: Address, inputs: &[(Address, u8)], outputs: &[(Address, u8)]) -> OrderV3 {
    let io = |(token, decimals): &(Address, u8)| IO {
        token: *token,
        decimals: *decimals,
        vaultId: U256::from(1u8),
    };
    OrderV3 {
        owner,
        evaluable: EvaluableV3 {
            interpreter: address_of("interpreter"),
            store: address_of("store"),
            bytecode: Bytes::from_static(&[0x01, 0x02]),
        },
        validInputs: inputs.iter().map(io).collect(),
        validOutputs: outputs.iter().map(io).collect(),
        nonce: B256::from(keccak256(owner.as_slice())),
    }
}

/// A `TakeOrderV2` log; `taker_input`/`taker_output` from the taker's side,
/// as the contract emits them.
pub fn take_log(
    at: &LogPlace,
    order: OrderV3,
    input_io: usize,
    output_io: usize,
    taker_input: U256,
    taker_output: U256,
) -> ChainLog {
    let event = TakeOrderV2 {
        sender: address_of("taker"),
        config: TakeOrderConfigV3 {
            order,
            inputIOIndex: U256::from(input_io),
            outputIOIndex: U256::from(output_io),
            signedContext: Vec::new(),
        },
        input: taker_input,
        output: taker_output,
    };
    encode(&event, at)
}

/// One side of a clear: the order, its IO indexes, and what it received
/// (`input`) and gave (`output`).
pub struct ClearSide {
    pub order: OrderV3,
    pub input_io: usize,
    pub output_io: usize,
    pub input: U256,
    pub output: U256,
}

/// The `ClearV2` log at `at` and its `AfterClear` at the next log index.
pub fn clear_logs(at: &LogPlace, alice: ClearSide, bob: ClearSide) -> (ChainLog, ChainLog) {
    let clear = ClearV2 {
        sender: address_of("clearer"),
        alice: alice.order,
        bob: bob.order,
        clearConfig: ClearConfig {
            aliceInputIOIndex: U256::from(alice.input_io),
            aliceOutputIOIndex: U256::from(alice.output_io),
            bobInputIOIndex: U256::from(bob.input_io),
            bobOutputIOIndex: U256::from(bob.output_io),
            aliceBountyVaultId: U256::from(7u8),
            bobBountyVaultId: U256::from(7u8),
        },
    };
    let after = AfterClear {
        sender: address_of("clearer"),
        clearStateChange: ClearStateChange {
            aliceOutput: alice.output,
            bobOutput: bob.output,
            aliceInput: alice.input,
            bobInput: bob.input,
        },
    };
    let next = LogPlace {
        log_index: at.log_index + 1,
        ..at.clone()
    };
    (encode(&clear, at), encode(&after, &next))
}
