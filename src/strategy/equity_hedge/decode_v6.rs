//! The owner's fills in Raindex V5/V6 events ([`super::abi_v6`]):
//! `TakeOrderV3` with the taker's Float amounts swapped to the order's
//! side, `ClearV3` paired with the next `AfterClearV2` of its transaction.
//! The rest — the owner filter, the USDC/equity pair, bounds, the price —
//! is the one [`Decoder::fill`] every version goes through.

use super::abi::OrderbookEvent;
use super::abi_v6::{AfterClearV2, ClearV3, OrderV4, TakeOrderV3};
use super::chain::{ReceiptLogs, TokenSymbols};
use super::decode::{Amount, DecodeError, Decoder, Meaning, OrderFill, index};
use crate::venue::logs::ChainLog;
use alloy_primitives::{B256, U256};

/// The order's side of a V5/V6 fill: its IOs picked by index, the Floats.
fn order_fill(
    order: &OrderV4,
    (input_index, input): (U256, B256),
    (output_index, output): (U256, B256),
) -> Result<OrderFill, String> {
    let i = index(input_index, order.validInputs.len(), "input")?;
    let o = index(output_index, order.validOutputs.len(), "output")?;
    Ok(OrderFill {
        input_token: order.validInputs[i].token,
        input: Amount::Float(input),
        output_token: order.validOutputs[o].token,
        output: Amount::Float(output),
    })
}

impl Decoder {
    pub(super) async fn take_v6<T: TokenSymbols>(
        &self,
        log: &ChainLog,
        take: &TakeOrderV3,
        tokens: &T,
    ) -> Result<Meaning, DecodeError> {
        let c = &take.config;
        // The taker's input is what the order gave, its output what the
        // order received.
        let side = || {
            order_fill(
                &c.order,
                (c.inputIOIndex, take.output),
                (c.outputIOIndex, take.input),
            )
        };
        self.take_of(log, c.order.owner, side, tokens).await
    }

    pub(super) async fn clear_v6<R: ReceiptLogs, T: TokenSymbols>(
        &self,
        log: &ChainLog,
        clear: &ClearV3,
        batch: &[ChainLog],
        receipts: &R,
        tokens: &T,
    ) -> Result<Meaning, DecodeError> {
        let pick = |e: OrderbookEvent| match e {
            OrderbookEvent::AfterClearV2(a) => Some(a),
            _ => None,
        };
        let c = &clear.clearConfig;
        let side = |alice: bool, after: &AfterClearV2| {
            let s = &after.clearStateChange;
            if alice {
                order_fill(
                    &clear.alice,
                    (c.aliceInputIOIndex, s.aliceInput),
                    (c.aliceOutputIOIndex, s.aliceOutput),
                )
            } else {
                order_fill(
                    &clear.bob,
                    (c.bobInputIOIndex, s.bobInput),
                    (c.bobOutputIOIndex, s.bobOutput),
                )
            }
        };
        let owners = (clear.alice.owner, clear.bob.owner);
        let after = (pick, "AfterClearV2 after ClearV3");
        self.clear_of(log, batch, receipts, tokens, owners, after, side)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::equity_hedge::chain::{MemoryReceipts, StaticTokens};
    use crate::strategy::equity_hedge::decode::{Fill, OnchainSide};
    use crate::strategy::equity_hedge::symbol::SymbolMap;
    use crate::venue::VenueError;
    use alloy_primitives::Address;
    use rust_decimal::Decimal;
    use std::collections::BTreeMap;
    use std::str::FromStr;

    /// Event data ABI-encoded by ethers (`tests/fixtures/raindex_v6`), its
    /// Floats packed by Rain's own implementation.
    fn cases() -> serde_json::Value {
        serde_json::from_str(include_str!(
            "../../../tests/fixtures/raindex_v6/cases.json"
        ))
        .unwrap()
    }

    fn addr(v: &serde_json::Value) -> Address {
        Address::from_str(v.as_str().unwrap()).unwrap()
    }

    fn log(event: &str, log_index: u64) -> ChainLog {
        let c = cases();
        ChainLog {
            chain_id: 8453,
            address: "0xe522cB4a5fCb2eb31a52Ff41a4653d85A4fd7C9D".into(),
            block_number: 7,
            block_hash: "0xbb".into(),
            tx_hash: "0x00aa".into(),
            log_index,
            topics: vec![c["topics"][event]["topic0"].as_str().unwrap().into()],
            data: c["events"][match event {
                "TakeOrderV3" => "take",
                "ClearV3" => "clear",
                _ => "after",
            }]["data"]
                .as_str()
                .unwrap()
                .into(),
        }
    }

    fn run(log: &ChainLog, batch: &[ChainLog]) -> Result<Meaning, DecodeError> {
        let e = &cases()["events"];
        let decoder = Decoder {
            owner: addr(&e["owner"]),
            usdc: addr(&e["usdc"]),
            symbols: SymbolMap::st0x(),
        };
        let tokens = StaticTokens(BTreeMap::from([
            (addr(&e["usdc"]), "USDC".to_string()),
            (addr(&e["tAAPL"]), "tAAPL".to_string()),
        ]));
        let receipts = MemoryReceipts::default();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(decoder.interpret(log, batch, &receipts, &tokens))
    }

    fn fill(m: Meaning) -> Fill {
        match m {
            Meaning::Fill(f) => f,
            other => panic!("expected a fill, got {other:?}"),
        }
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn a_take_of_the_owners_order_is_its_sale_at_the_takers_amounts_swapped() {
        let take = log("TakeOrderV3", 3);
        // The taker received 2.5 tAAPL and paid 500.25 USDC: the owner's
        // order gave the equity and took the USDC.
        let f = fill(run(&take, std::slice::from_ref(&take)).unwrap());
        assert_eq!((f.symbol.as_str(), f.side), ("AAPL", OnchainSide::Sold));
        assert_eq!(
            (f.shares, f.usdc, f.price),
            (d("2.5"), d("500.25"), d("200.1"))
        );
    }

    #[test]
    fn a_clear_is_read_with_its_after_clear_and_waits_when_that_is_missing() {
        let (clear, after) = (log("ClearV3", 4), log("AfterClearV2", 5));
        // Alice (the owner) gave 1.25 tAAPL and received 250.5 USDC.
        let f = fill(run(&clear, &[clear.clone(), after.clone()]).unwrap());
        assert_eq!(f.side, OnchainSide::Sold);
        assert_eq!(
            (f.shares, f.usdc, f.price),
            (d("1.25"), d("250.5"), d("200.4"))
        );
        // The after-clear itself is not a fill.
        assert_eq!(
            run(&after, std::slice::from_ref(&after)).unwrap(),
            Meaning::NotOurs
        );
        // Without its AfterClearV2 (not in the batch, no receipt): retried,
        // never guessed.
        assert!(matches!(
            run(&clear, std::slice::from_ref(&clear)),
            Err(DecodeError::Chain(VenueError::Transient(_)))
        ));
    }
}
