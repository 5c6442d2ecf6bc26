//! From orderbook logs to the order owner's fills: `ClearV2` paired with the
//! next `AfterClear` of the same transaction (from the batch, else from the
//! receipt), `TakeOrderV2` with the taker's input/output swapped to the
//! order's side, the owner filter after decoding, exactly one USDC leg and
//! one tokenized equity, amounts exact by `IO.decimals`, price in USDC per
//! share. Each version's events are read in their own file
//! ([`super::decode_v4`], [`super::decode_v6`]: Float amounts) and go
//! through the same [`Decoder::fill`].

use super::abi::{self, OrderbookEvent};
use super::chain::{ReceiptLogs, TokenSymbols};
use super::rain_float;
use super::symbol::SymbolMap;
use crate::model::to_decimal;
use crate::venue::VenueError;
use crate::venue::logs::ChainLog;
use alloy_primitives::{Address, B256, U256};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A log's identity: dedupe is on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventKey {
    pub chain_id: u64,
    /// Lowercase 0x-hex.
    pub tx_hash: String,
    pub log_index: u64,
}

impl EventKey {
    pub fn of(log: &ChainLog) -> Self {
        Self {
            chain_id: log.chain_id,
            tx_hash: log.tx_hash.to_ascii_lowercase(),
            log_index: log.log_index,
        }
    }
}

impl std::fmt::Display for EventKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = self.tx_hash.get(..10).unwrap_or(&self.tx_hash);
        write!(f, "{short}…#{}", self.log_index)
    }
}

pub use crate::model::OnchainSide;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillKind {
    Clear,
    Take,
    /// Not onchain: the operator set the position by hand (`position set`).
    Operator,
}

/// One fill of the owner's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    pub key: EventKey,
    pub block_number: u64,
    pub kind: FillKind,
    /// Broker ticker (`AAPL`).
    pub symbol: String,
    /// Onchain symbol (`tAAPL`).
    pub token_symbol: String,
    pub side: OnchainSide,
    pub shares: Decimal,
    pub usdc: Decimal,
    /// USDC per share.
    pub price: Decimal,
}

/// What one log means for the hedge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    Fill(Fill),
    /// A fill of someone else's orders, an `AfterClear` (read with its
    /// `ClearV2`) or another orderbook event.
    NotOurs,
    /// The owner's, but not hedgeable (not a USDC/equity pair, zero amount …):
    /// recorded with the reason, never retried.
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The chain could not answer now (receipt, `symbol()`): retry the log later.
    #[error("{0}")]
    Chain(VenueError),
}

/// The hedge's view of the orderbook.
#[derive(Debug, Clone)]
pub struct Decoder {
    pub owner: Address,
    pub usdc: Address,
    pub symbols: SymbolMap,
}

/// An amount as an event carries it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Amount {
    /// V4: integer units at the IO's decimals.
    Units { value: U256, decimals: u8 },
    /// V5/V6: a Rain Float.
    Float(B256),
}

impl Amount {
    fn decimal(self) -> Result<Decimal, String> {
        match self {
            Amount::Units { value, decimals } => amount(value, decimals),
            Amount::Float(raw) => rain_float::to_decimal(raw).map_err(|e| e.to_string()),
        }
    }
}

/// The order's side of one fill: the token it received and how much, the
/// token it gave and how much.
pub(super) struct OrderFill {
    pub input_token: Address,
    pub input: Amount,
    pub output_token: Address,
    pub output: Amount,
}

/// The most shares or USDC one fill may claim: 10^15 (every share of every
/// listed company, or every dollar there is, is far less).
fn max_amount() -> Decimal {
    Decimal::from(1_000_000_000_000_000_u64)
}

pub(super) fn amount(value: U256, decimals: u8) -> Result<Decimal, String> {
    let units = u128::try_from(value).map_err(|_| format!("amount {value} does not fit"))?;
    to_decimal(units, decimals).map_err(|e| format!("amount {value} at {decimals} decimals: {e}"))
}

pub(super) fn index(i: U256, len: usize, what: &str) -> Result<usize, String> {
    usize::try_from(i)
        .ok()
        .filter(|i| *i < len)
        .ok_or_else(|| format!("{what} index {i} out of range ({len} IOs)"))
}

impl Decoder {
    /// What `log` means, reading `batch` (the logs delivered with it) for a
    /// clear's `AfterClear` before asking the receipt.
    pub async fn interpret<R: ReceiptLogs, T: TokenSymbols>(
        &self,
        log: &ChainLog,
        batch: &[ChainLog],
        receipts: &R,
        tokens: &T,
    ) -> Result<Meaning, DecodeError> {
        let event = match abi::decode(log) {
            Ok(e) => e,
            Err(e) => return Ok(Meaning::Skipped(e.to_string())),
        };
        match event {
            OrderbookEvent::Take(take) => self.take(log, &take, tokens).await,
            OrderbookEvent::Clear(clear) => self.clear(log, &clear, batch, receipts, tokens).await,
            OrderbookEvent::TakeV3(take) => self.take_v6(log, &take, tokens).await,
            OrderbookEvent::ClearV3(clear) => {
                self.clear_v6(log, &clear, batch, receipts, tokens).await
            }
            OrderbookEvent::AfterClear(_)
            | OrderbookEvent::AfterClearV2(_)
            | OrderbookEvent::Other(_) => Ok(Meaning::NotOurs),
        }
    }

    /// Whether the owner is a clear's alice (`Ok(true)`) or bob, or what
    /// the clear means otherwise: not ours, or both ours (no exposure).
    pub(super) fn owners_side(&self, alice: Address, bob: Address) -> Result<bool, Box<Meaning>> {
        match (alice == self.owner, bob == self.owner) {
            (true, true) => Err(Box::new(Meaning::Skipped(
                "both sides of the clear are the owner's: no net exposure".into(),
            ))),
            (false, false) => Err(Box::new(Meaning::NotOurs)),
            (alice, _) => Ok(alice),
        }
    }

    /// A take of an order, whatever the version: not ours unless the
    /// order is the owner's; else its side's fill (`side`).
    pub(super) async fn take_of<T: TokenSymbols>(
        &self,
        log: &ChainLog,
        order_owner: Address,
        side: impl FnOnce() -> Result<OrderFill, String>,
        tokens: &T,
    ) -> Result<Meaning, DecodeError> {
        if order_owner != self.owner {
            return Ok(Meaning::NotOurs);
        }
        self.fill_or_skip(log, FillKind::Take, side(), tokens).await
    }

    /// A clear of two orders, whatever the version: which side is the
    /// owner's, the clear's after-clear event (`pick`, named `what`), and
    /// that side's fill (`side`: alice's when given `true`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn clear_of<R: ReceiptLogs, T: TokenSymbols, A>(
        &self,
        log: &ChainLog,
        batch: &[ChainLog],
        receipts: &R,
        tokens: &T,
        (alice, bob): (Address, Address),
        (pick, what): (impl Fn(OrderbookEvent) -> Option<A> + Copy, &str),
        side: impl FnOnce(bool, &A) -> Result<OrderFill, String>,
    ) -> Result<Meaning, DecodeError> {
        let alice = match self.owners_side(alice, bob) {
            Ok(alice) => alice,
            Err(m) => return Ok(*m),
        };
        let after = find_after_clear(log, batch, receipts, pick, what).await?;
        self.fill_or_skip(log, FillKind::Clear, side(alice, &after), tokens)
            .await
    }

    /// The fill, or the reason its IOs could not be read (skipped).
    async fn fill_or_skip<T: TokenSymbols>(
        &self,
        log: &ChainLog,
        kind: FillKind,
        f: Result<OrderFill, String>,
        tokens: &T,
    ) -> Result<Meaning, DecodeError> {
        match f {
            Ok(f) => self.fill(log, kind, f, tokens).await,
            Err(e) => Ok(Meaning::Skipped(e)),
        }
    }

    /// One fill of the owner's order, whatever the version.
    pub(super) async fn fill<T: TokenSymbols>(
        &self,
        log: &ChainLog,
        kind: FillKind,
        f: OrderFill,
        tokens: &T,
    ) -> Result<Meaning, DecodeError> {
        let (side, equity, equity_amount, usdc_amount) =
            match (f.input_token == self.usdc, f.output_token == self.usdc) {
                // The order received USDC and gave the equity: it sold.
                (true, false) => (OnchainSide::Sold, f.output_token, f.output, f.input),
                (false, true) => (OnchainSide::Bought, f.input_token, f.input, f.output),
                _ => {
                    return Ok(Meaning::Skipped(format!(
                        "{} ↔ {} is not a USDC/equity pair",
                        f.input_token, f.output_token
                    )));
                }
            };
        let token_symbol = tokens.symbol(equity).await.map_err(DecodeError::Chain)?;
        let symbol = match self.symbols.ticker(&token_symbol) {
            Ok(s) => s,
            Err(e) => return Ok(Meaning::Skipped(e.to_string())),
        };
        let (shares, usdc) = match (equity_amount.decimal(), usdc_amount.decimal()) {
            (Ok(s), Ok(u)) => (s, u),
            (Err(e), _) | (_, Err(e)) => return Ok(Meaning::Skipped(e)),
        };
        if shares.is_sign_negative() || usdc.is_sign_negative() {
            return Ok(Meaning::Skipped(format!(
                "negative amount ({shares} {token_symbol} for {usdc} USDC)"
            )));
        }
        if shares.is_zero() || usdc.is_zero() {
            return Ok(Meaning::Skipped(format!(
                "zero amount ({shares} {token_symbol} for {usdc} USDC)"
            )));
        }
        // No real fill comes near this; bounding what the chain may claim
        // keeps every sum the book makes of fills far from overflowing.
        if shares > max_amount() || usdc > max_amount() {
            return Ok(Meaning::Skipped(format!(
                "implausible amount ({shares} {token_symbol} for {usdc} USDC; at most {} of either)",
                max_amount()
            )));
        }
        // Both fit a decimal, yet their ratio may not (1e-18 shares for
        // 1e22 USDC): refused with the numbers, never a panic.
        let Some(price) = usdc.checked_div(shares).map(|p| p.round_dp(8)) else {
            return Ok(Meaning::Skipped(format!(
                "price of {usdc} USDC for {shares} {token_symbol} does not fit a decimal"
            )));
        };
        Ok(Meaning::Fill(Fill {
            key: EventKey::of(log),
            block_number: log.block_number,
            kind,
            symbol,
            token_symbol,
            side,
            shares: shares.normalize(),
            usdc: usdc.normalize(),
            price: price.normalize(),
        }))
    }
}

/// A clear's after-clear event (`pick` says which version's, `what` names
/// it): from the logs delivered with it, else from its receipt. A
/// confirmed clear always has one: missing, the node is behind or
/// incomplete, and the log is retried, never guessed.
pub(super) async fn find_after_clear<R: ReceiptLogs, A>(
    log: &ChainLog,
    batch: &[ChainLog],
    receipts: &R,
    pick: impl Fn(OrderbookEvent) -> Option<A> + Copy,
    what: &str,
) -> Result<A, DecodeError> {
    if let Some(a) = after_clear(log, batch, pick) {
        return Ok(a);
    }
    let logs = receipts
        .receipt_logs(log.chain_id, &log.tx_hash)
        .await
        .map_err(DecodeError::Chain)?;
    logs.as_deref()
        .and_then(|l| after_clear(log, l, pick))
        .ok_or_else(|| {
            DecodeError::Chain(VenueError::Transient(format!(
                "no {what} {} in its receipt",
                EventKey::of(log)
            )))
        })
}

/// The first after-clear event (`pick` says which version's) after
/// `clear` in the same transaction, from the same orderbook.
pub(super) fn after_clear<A>(
    clear: &ChainLog,
    logs: &[ChainLog],
    pick: impl Fn(OrderbookEvent) -> Option<A>,
) -> Option<A> {
    logs.iter()
        .filter(|l| {
            l.tx_hash.eq_ignore_ascii_case(&clear.tx_hash)
                && l.address.eq_ignore_ascii_case(&clear.address)
                && l.log_index > clear.log_index
        })
        .filter_map(|l| Some((l.log_index, pick(abi::decode(l).ok()?)?)))
        .min_by_key(|(i, _)| *i)
        .map(|(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::equity_hedge::abi::LogPlace;
    use crate::strategy::equity_hedge::chain::{MemoryReceipts, StaticTokens};
    use crate::strategy::equity_hedge::events::{
        ClearSide, address_of, clear_logs, order, take_log, units,
    };
    use std::collections::BTreeMap;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    struct World {
        decoder: Decoder,
        tokens: StaticTokens,
        receipts: MemoryReceipts,
        aapl: Address,
        weth: Address,
    }

    fn world() -> World {
        let aapl = address_of("tAAPL");
        let weth = address_of("WETH");
        let usdc = address_of("USDC");
        let tokens = StaticTokens(BTreeMap::from([
            (aapl, "tAAPL".to_string()),
            (weth, "WETH".to_string()),
            (usdc, "USDC".to_string()),
        ]));
        World {
            decoder: Decoder {
                owner: address_of("owner"),
                usdc,
                symbols: SymbolMap::st0x(),
            },
            tokens,
            receipts: MemoryReceipts::default(),
            aapl,
            weth,
        }
    }

    fn place(tx: &str, log_index: u64) -> LogPlace {
        LogPlace {
            chain_id: 8453,
            address: "0x52CEB8eBEf648744fFDDE89F7Bc9C3aC35944775".into(),
            block_number: 100,
            block_hash: "0xbb".into(),
            tx_hash: tx.into(),
            log_index,
        }
    }

    fn run(w: &World, log: &ChainLog, batch: &[ChainLog]) -> Result<Meaning, DecodeError> {
        let fut = w.decoder.interpret(log, batch, &w.receipts, &w.tokens);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(fut)
    }

    fn fill(m: Meaning) -> Fill {
        match m {
            Meaning::Fill(f) => f,
            other => panic!("expected a fill, got {other:?}"),
        }
    }

    #[test]
    fn take_order_amounts_are_swapped_to_the_orders_side() {
        let w = world();
        let usdc = w.decoder.usdc;
        // The owner's order takes USDC in and gives tAAPL out.
        let o = order(w.decoder.owner, &[(usdc, 6)], &[(w.aapl, 18)]);
        // The taker received 2.5 tAAPL (its input) and paid 500 USDC (its output).
        let log = take_log(
            &place("0xaa01", 3),
            o,
            0,
            0,
            units(d("2.5"), 18).unwrap(),
            units(d("500"), 6).unwrap(),
        );
        let f = fill(run(&w, &log, std::slice::from_ref(&log)).unwrap());
        assert_eq!(f.side, OnchainSide::Sold);
        assert_eq!(f.symbol, "AAPL");
        assert_eq!(f.token_symbol, "tAAPL");
        assert_eq!(f.shares, d("2.5"));
        assert_eq!(f.usdc, d("500"));
        assert_eq!(f.price, d("200"));
        assert_eq!(f.kind, FillKind::Take);
        assert_eq!(f.key.tx_hash, "0xaa01");
        assert_eq!(f.key.log_index, 3);
    }

    #[test]
    fn clear_pairs_with_the_next_after_clear_in_the_batch() {
        let w = world();
        let usdc = w.decoder.usdc;
        let other = address_of("someone");
        // alice (someone else) sells tAAPL for USDC; bob (owner) buys it.
        let alice = ClearSide {
            order: order(other, &[(usdc, 6)], &[(w.aapl, 18)]),
            input_io: 0,
            output_io: 0,
            input: units(d("370.2"), 6).unwrap(),
            output: units(d("1.85"), 18).unwrap(),
        };
        let bob = ClearSide {
            order: order(w.decoder.owner, &[(w.aapl, 18)], &[(usdc, 6)]),
            input_io: 0,
            output_io: 0,
            input: units(d("1.8"), 18).unwrap(),
            output: units(d("369.9"), 6).unwrap(),
        };
        let (clear, after) = clear_logs(&place("0xbb02", 10), alice, bob);
        // A second clear later in the same transaction must not be picked.
        let (_, later) = clear_logs(
            &place("0xbb02", 20),
            ClearSide {
                order: order(other, &[(usdc, 6)], &[(w.aapl, 18)]),
                input_io: 0,
                output_io: 0,
                input: U256::from(1u8),
                output: U256::from(1u8),
            },
            ClearSide {
                order: order(w.decoder.owner, &[(w.aapl, 18)], &[(usdc, 6)]),
                input_io: 0,
                output_io: 0,
                input: U256::from(9u8),
                output: U256::from(9u8),
            },
        );
        let batch = vec![later, after.clone(), clear.clone()];
        let f = fill(run(&w, &clear, &batch).unwrap());
        assert_eq!(f.side, OnchainSide::Bought);
        assert_eq!(f.shares, d("1.8"));
        assert_eq!(f.usdc, d("369.9"));
        assert_eq!(f.price, d("205.5"));
        assert_eq!(w.receipts.lookups(), 0, "the batch had the AfterClear");
        // The AfterClear itself is not a fill.
        assert_eq!(run(&w, &after, &batch).unwrap(), Meaning::NotOurs);
    }

    #[test]
    fn clear_whose_after_clear_is_only_in_the_receipt() {
        let w = world();
        let usdc = w.decoder.usdc;
        let alice = ClearSide {
            order: order(w.decoder.owner, &[(usdc, 6)], &[(w.aapl, 18)]),
            input_io: 0,
            output_io: 0,
            input: units(d("100"), 6).unwrap(),
            output: units(d("0.5"), 18).unwrap(),
        };
        let bob = ClearSide {
            order: order(address_of("bob"), &[(w.aapl, 18)], &[(usdc, 6)]),
            input_io: 0,
            output_io: 0,
            input: units(d("0.5"), 18).unwrap(),
            output: units(d("100"), 6).unwrap(),
        };
        let (clear, after) = clear_logs(&place("0xcc03", 4), alice, bob);
        // Not in the receipt yet: retry later, never guess.
        assert!(matches!(
            run(&w, &clear, std::slice::from_ref(&clear)),
            Err(DecodeError::Chain(VenueError::Transient(_)))
        ));
        w.receipts.insert("0xCC03", vec![clear.clone(), after]);
        let f = fill(run(&w, &clear, std::slice::from_ref(&clear)).unwrap());
        assert_eq!(f.side, OnchainSide::Sold);
        assert_eq!(f.shares, d("0.5"));
        assert_eq!(f.price, d("200"));
        assert_eq!(w.receipts.lookups(), 2);
    }

    #[test]
    fn other_owners_and_unhedgeable_pairs_are_told_apart() {
        let w = world();
        let usdc = w.decoder.usdc;
        let theirs = order(address_of("them"), &[(usdc, 6)], &[(w.aapl, 18)]);
        let log = take_log(
            &place("0xdd", 0),
            theirs,
            0,
            0,
            U256::from(5u8),
            U256::from(5u8),
        );
        assert_eq!(run(&w, &log, &[]).unwrap(), Meaning::NotOurs);

        let weth_pair = order(w.decoder.owner, &[(w.weth, 18)], &[(w.aapl, 18)]);
        let log = take_log(
            &place("0xdd", 1),
            weth_pair,
            0,
            0,
            U256::from(5u8),
            U256::from(5u8),
        );
        assert!(
            matches!(run(&w, &log, &[]).unwrap(), Meaning::Skipped(r) if r.contains("not a USDC/equity pair"))
        );

        let weth_usdc = order(w.decoder.owner, &[(usdc, 6)], &[(w.weth, 18)]);
        let log = take_log(
            &place("0xdd", 2),
            weth_usdc,
            0,
            0,
            U256::from(5u8),
            U256::from(5u8),
        );
        assert!(matches!(run(&w, &log, &[]).unwrap(), Meaning::Skipped(r) if r.contains("WETH")));

        let ours = order(w.decoder.owner, &[(usdc, 6)], &[(w.aapl, 18)]);
        let log = take_log(
            &place("0xdd", 3),
            ours,
            4,
            0,
            U256::from(5u8),
            U256::from(5u8),
        );
        assert!(
            matches!(run(&w, &log, &[]).unwrap(), Meaning::Skipped(r) if r.contains("out of range"))
        );

        let mut garbage = log.clone();
        garbage.data = "0x1234".into();
        assert!(
            matches!(run(&w, &garbage, &[]).unwrap(), Meaning::Skipped(r) if r.contains("does not decode"))
        );
    }
}
