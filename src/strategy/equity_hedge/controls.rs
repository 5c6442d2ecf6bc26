//! The operator's verbs on the hedge, as the engine hands them over:
//! `resolve hN …` (`resolve`) and `resolve p:SYMBOL settle` (accept the
//! broker's position), pause and resume hedging one symbol, account one
//! transaction's fills that ingestion missed (`process-tx`), and set a
//! symbol's net by hand (`position set`). Each answers in words; the
//! engine writes the audit line, and each change is also an alert on the
//! hedge's trail and a notice.

use super::chain::{ReceiptLogs, TokenSymbols};
use super::keeper::{Accounted, EquityHedge};
use super::pipeline;
use crate::engine::{Command, KeeperContext, Resolution};
use crate::venue::broker::Broker;
use crate::venue::logs::{ChainLog, LogSource};
use futures_util::future::BoxFuture;
use rust_decimal::Decimal;

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A ticker as the broker and the Positions panel spell it: "aapl " →
/// "AAPL". Letters, digits, '.' and '-' only (BRK.B).
pub fn ticker(text: &str) -> Result<String, String> {
    let t = text.trim().to_ascii_uppercase();
    let ok = !t.is_empty()
        && t.len() <= 12
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if ok {
        Ok(t)
    } else {
        Err(format!(
            "{text:?} is not a ticker (letters, digits, '.' or '-', e.g. AAPL)"
        ))
    }
}

pub use crate::model::intent::tx_hash;

impl<B: Broker, L: LogSource, R: ReceiptLogs, T: TokenSymbols> EquityHedge<B, L, R, T> {
    /// The command if it is the hedge's, answered; `None` leaves it to
    /// the engine and the other strategies.
    pub(super) fn operate<'a>(
        &'a mut self,
        command: &'a Command,
        cx: &'a KeeperContext<'a>,
    ) -> Option<BoxFuture<'a, Result<String, String>>> {
        match command {
            Command::Resolve {
                id,
                resolution,
                reason,
                evidence,
            } => {
                if let Some(symbol) = id.strip_prefix("p:") {
                    let symbol = symbol.to_string();
                    return Some(Box::pin(self.accept_broker(
                        cx,
                        symbol,
                        *resolution,
                        reason,
                    )));
                }
                let n: u64 = id.strip_prefix('h')?.parse().ok()?;
                Some(Box::pin(self.resolve(
                    cx,
                    n,
                    *resolution,
                    reason,
                    evidence.as_deref(),
                )))
            }
            Command::PauseSymbol { symbol } => Some(Box::pin(self.pause(cx, symbol, true))),
            Command::ResumeSymbol { symbol } => Some(Box::pin(self.pause(cx, symbol, false))),
            Command::ProcessTx { tx_hash } => Some(Box::pin(self.process_tx(cx, tx_hash))),
            Command::SetPosition {
                symbol,
                net,
                reason,
            } => Some(Box::pin(self.set_position(cx, symbol, *net, reason))),
            _ => None,
        }
    }

    async fn accept_broker(
        &mut self,
        cx: &KeeperContext<'_>,
        symbol: String,
        resolution: Resolution,
        reason: &str,
    ) -> Result<String, String> {
        if resolution != Resolution::Settle {
            return Err(format!(
                "p:{symbol}: only `settle` (accept the broker's position) applies"
            ));
        }
        self.init(cx).map_err(text)?;
        let done = cx
            .store
            .write(|w| pipeline::accept_broker_position(w.transaction(), &symbol, reason, cx.now))
            .map_err(text)?;
        self.reload(cx).map_err(text)?;
        done.ok_or_else(|| format!("p:{symbol}: hedging {symbol} is not stopped"))
    }

    async fn pause(
        &mut self,
        cx: &KeeperContext<'_>,
        symbol: &str,
        paused: bool,
    ) -> Result<String, String> {
        let symbol = ticker(symbol)?;
        self.init(cx).map_err(text)?;
        let known = self.records().positions.iter().any(|p| p.symbol == symbol);
        let answer = cx
            .store
            .write(|w| pipeline::set_paused(w.transaction(), &symbol, paused, cx.now))
            .map_err(text)??;
        self.reload(cx).map_err(text)?;
        Self::notify(cx, &symbol, answer.clone());
        Ok(if known {
            answer
        } else {
            format!("{answer} (no fills of {symbol} yet)")
        })
    }

    async fn set_position(
        &mut self,
        cx: &KeeperContext<'_>,
        symbol: &str,
        net: Decimal,
        reason: &str,
    ) -> Result<String, String> {
        let symbol = ticker(symbol)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err("a reason is required: it goes into the audit trail".into());
        }
        if net.scale() > 18 || net.abs() > Decimal::from(self.policy.limits.max_exposure_shares) {
            return Err(format!(
                "{net} is not a net this hedge may hold: at most {} shares (max_exposure_shares), 18 decimals",
                self.policy.limits.max_exposure_shares
            ));
        }
        self.init(cx).map_err(text)?;
        let answer = cx
            .store
            .write(|w| pipeline::set_position(w.transaction(), &symbol, net, reason, cx.now))
            .map_err(text)??;
        self.reload(cx).map_err(text)?;
        Self::notify(cx, &symbol, answer.clone());
        Ok(answer)
    }

    /// Read the transaction's receipt, keep the orderbook's logs, and
    /// account each one as ingestion would (a fill seen before is a
    /// duplicate; a hedge it decides is placed). Only a confirmed block:
    /// a receipt not yet past the ingest's watermark may still be
    /// reorged, and ingestion will account it anyway.
    async fn process_tx(&mut self, cx: &KeeperContext<'_>, hash: &str) -> Result<String, String> {
        let hash = tx_hash(hash)?;
        self.init(cx).map_err(text)?;
        let (chain_id, orderbook) = self
            .source
            .clone()
            .ok_or("this hedge was started without its orderbook: nothing to read receipts from")?;
        let receipt = self
            .receipts
            .receipt_logs(chain_id, &hash)
            .await
            .map_err(|e| format!("{hash}: the receipt could not be read: {e}"))?
            .ok_or_else(|| {
                format!("{hash}: no receipt on chain {chain_id} (not mined yet, or another chain)")
            })?;
        let ours: Vec<ChainLog> = receipt
            .into_iter()
            .filter(|l| l.address.eq_ignore_ascii_case(&orderbook))
            .collect();
        let Some(block) = ours.first().map(|l| l.block_number) else {
            return Err(format!("{hash}: no log of the orderbook {orderbook}"));
        };
        match self.records().watermark {
            Some(w) if block <= w => {}
            w => {
                return Err(format!(
                    "{hash}: block {block} is not confirmed yet (accounted through {}): ingestion will take it",
                    w.map_or("none".to_string(), |w| w.to_string())
                ));
            }
        }
        let (mut fills, mut known, mut skipped, mut not_ours) = (Vec::new(), 0, Vec::new(), 0);
        for log in &ours {
            match self.account(cx, log, &ours).await.map_err(text)? {
                Ok(Accounted::Fill { trade }) => fills.push(format!("t{trade}")),
                Ok(Accounted::Duplicate) => known += 1,
                Ok(Accounted::Skipped(why)) => skipped.push(why),
                Ok(Accounted::NotOurs) => not_ours += 1,
                Err(wait) => {
                    self.reload(cx).map_err(text)?;
                    return Err(format!(
                        "{hash}: stopped at log {}: the chain did not answer ({wait}); what came before is accounted, run it again",
                        log.log_index
                    ));
                }
            }
        }
        self.reload(cx).map_err(text)?;
        let mut answer = format!("{hash}: {} new fill(s)", fills.len());
        if !fills.is_empty() {
            answer.push_str(&format!(" ({})", fills.join(", ")));
        }
        answer.push_str(&format!(", {known} already accounted"));
        if not_ours > 0 {
            answer.push_str(&format!(", {not_ours} not the owner's"));
        }
        if !skipped.is_empty() {
            answer.push_str(&format!(", skipped: {}", skipped.join("; ")));
        }
        if !fills.is_empty() {
            Self::notify(cx, "-", answer.clone());
        }
        Ok(answer)
    }
}
