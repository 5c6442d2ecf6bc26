//! The owner's fills in Raindex V4 events ([`super::abi`]): `TakeOrderV2`
//! with the taker's amounts swapped to the order's side, `ClearV2` paired
//! with the next `AfterClear` of its transaction; amounts are integers at
//! each IO's decimals. The rest is the one [`Decoder::fill`].

use super::abi::{AfterClear, ClearV2, OrderV3, OrderbookEvent, TakeOrderV2};
use super::chain::{ReceiptLogs, TokenSymbols};
use super::decode::{Amount, DecodeError, Decoder, Meaning, OrderFill, index};
use crate::venue::logs::ChainLog;
use alloy_primitives::U256;

/// The order's side of a V4 fill: its IOs picked by index.
fn order_fill_v4(
    order: &OrderV3,
    (input_index, input): (U256, U256),
    (output_index, output): (U256, U256),
) -> Result<OrderFill, String> {
    let i = &order.validInputs[index(input_index, order.validInputs.len(), "input")?];
    let o = &order.validOutputs[index(output_index, order.validOutputs.len(), "output")?];
    Ok(OrderFill {
        input_token: i.token,
        input: Amount::Units {
            value: input,
            decimals: i.decimals,
        },
        output_token: o.token,
        output: Amount::Units {
            value: output,
            decimals: o.decimals,
        },
    })
}

impl Decoder {
    pub(super) async fn take<T: TokenSymbols>(
        &self,
        log: &ChainLog,
        take: &TakeOrderV2,
        tokens: &T,
    ) -> Result<Meaning, DecodeError> {
        let c = &take.config;
        // `input`/`output` are the taker's: the order received the taker's
        // output and gave the taker's input.
        let side = || {
            order_fill_v4(
                &c.order,
                (c.inputIOIndex, take.output),
                (c.outputIOIndex, take.input),
            )
        };
        self.take_of(log, c.order.owner, side, tokens).await
    }

    pub(super) async fn clear<R: ReceiptLogs, T: TokenSymbols>(
        &self,
        log: &ChainLog,
        clear: &ClearV2,
        batch: &[ChainLog],
        receipts: &R,
        tokens: &T,
    ) -> Result<Meaning, DecodeError> {
        let pick = |e: OrderbookEvent| match e {
            OrderbookEvent::AfterClear(a) => Some(a),
            _ => None,
        };
        let c = &clear.clearConfig;
        let side = |alice: bool, after: &AfterClear| {
            let s = &after.clearStateChange;
            if alice {
                order_fill_v4(
                    &clear.alice,
                    (c.aliceInputIOIndex, s.aliceInput),
                    (c.aliceOutputIOIndex, s.aliceOutput),
                )
            } else {
                order_fill_v4(
                    &clear.bob,
                    (c.bobInputIOIndex, s.bobInput),
                    (c.bobOutputIOIndex, s.bobOutput),
                )
            }
        };
        let owners = (clear.alice.owner, clear.bob.owner);
        let after = (pick, "AfterClear after ClearV2");
        self.clear_of(log, batch, receipts, tokens, owners, after, side)
            .await
    }
}
