//! A step's receipt, from the journal and the chain: the gas of every
//! mined transaction of the intent, and what moved — a swap's amount out
//! from its last transaction's logs (or a filled order's, `order`), a
//! bridge send's sent and received amounts and its ticket (a Stargate
//! send's from its `OFTSent`, keyed by guid), a finalize's release.

use super::{EvmVenue, units};
use crate::model::{Action, BridgeTicket, Chain, Receipt, Route};
use crate::venue::VenueError;
use crate::venue::evm::abi::{IERC20, IWETH9};
use crate::venue::evm::chain::ChainClient;
use crate::venue::evm::db::TxRecord;
use crate::venue::evm::stargate;
use alloy::primitives::{Address, U256};
use alloy::rpc::types::TransactionReceipt;

/// A receipt of a transaction that moved nothing yet booked: its hash,
/// chain, time and gas.
pub(super) fn bare_receipt(tx_hash: String, chain: Chain, at: u64, gas_fee: u128) -> Receipt {
    Receipt {
        tx_hash,
        chain,
        at,
        gas_fee,
        amount_in: 0,
        amount_out: 0,
        bridge_fee_native: 0,
        bridge_fee_token: 0,
        ticket: None,
        via: None,
    }
}

impl EvmVenue {
    /// When `r` was mined: its block's time (the clock's, if the node has
    /// not the block).
    pub(super) async fn mined_at(
        &self,
        c: &ChainClient,
        r: &TransactionReceipt,
    ) -> Result<u64, VenueError> {
        Ok(c.block(r.block_number.unwrap_or_default())
            .await?
            .map(|(_, ts)| ts * 1000)
            .unwrap_or_else(|| self.clock.now()))
    }

    /// Gas paid by every mined transaction of the intent (succeeded or
    /// reverted), and its last transaction with its receipt once mined.
    pub(super) async fn mined(
        &self,
        c: &ChainClient,
        id: &str,
    ) -> Result<(u128, Option<(TxRecord, TransactionReceipt)>), VenueError> {
        let mut gas: u128 = 0;
        let mut last = None;
        for rec in self.tx.store().txs_of(id)? {
            for hash in rec.hashes() {
                if let Some(r) = c.receipt(hash).await? {
                    gas = gas.saturating_add(c.fee_paid(&r).await?);
                    if rec.last {
                        last = Some((rec.clone(), r));
                    }
                    break;
                }
            }
        }
        Ok((gas, last))
    }

    /// The step's receipt, from the journal and the chain: gas of every mined
    /// transaction of the intent, amounts from the last one's logs.
    pub(super) async fn build(&self, id: &str, action: &Action) -> Result<Receipt, VenueError> {
        let chain = action.chain();
        if let Some(o) = self.order_of(id)?
            && let Some(r) = self.order_receipt(id, chain, &o).await?
        {
            return Ok(r);
        }
        let c = self.client(chain);
        let me = self.wallet();
        let (gas, last) = self.mined(c, id).await?;
        let (rec, r) = last.ok_or_else(|| {
            VenueError::Unknown(format!("{id}: its last transaction is not mined yet"))
        })?;
        let at = self.mined_at(c, &r).await?;
        let mut receipt = bare_receipt(r.transaction_hash.to_string(), chain, at, gas);
        match action {
            Action::Swap {
                chain,
                token_out,
                amount_in,
                ..
            } => {
                receipt.amount_in = *amount_in;
                // The swap's router: the last transaction went to it.
                let router = rec.to;
                let weth = self.weth[*chain as usize];
                let out = if token_out.is_native() {
                    let mut out = U256::ZERO;
                    for l in r.inner.logs() {
                        if l.address() == weth
                            && let Ok(w) = l.log_decode::<IWETH9::Withdrawal>()
                            && w.inner.data.src == router
                        {
                            out += w.inner.data.wad;
                        }
                    }
                    out
                } else {
                    received(&r, self.erc20(*chain, *token_out)?, None, me)
                };
                receipt.amount_out = units(out)?;
                receipt.via = self
                    .tx
                    .store()
                    .intent(id)?
                    .and_then(|k| k.swap)
                    .map(|s| s.summary());
            }
            Action::BridgeSend {
                route: Route::Stargate,
                token,
                from,
                to,
                ..
            } => {
                let pool = self.stargate_pool(*from, *token)?;
                let oft = stargate::sent_in_receipt(&r, pool)
                    .map_err(|e| VenueError::Rejected(format!("{}: {e}", r.transaction_hash)))?
                    .ok_or_else(|| {
                        VenueError::Rejected(format!(
                            "{} emitted no OFTSent from {pool}",
                            r.transaction_hash
                        ))
                    })?;
                let guid = oft.guid;
                let sent = units(oft.amount_sent_ld)?;
                let received = units(oft.amount_received_ld)?;
                // A native pool's value is the fee plus the amount sent (dust
                // removed); a token pool's the fee alone. The endpoint refunds
                // what the library asked less than that fee, in the same
                // transaction.
                let native_in = if token.is_native() {
                    oft.amount_sent_ld
                } else {
                    U256::ZERO
                };
                let offered = rec.value.checked_sub(native_in).ok_or_else(|| {
                    VenueError::Rejected(format!(
                        "{}: value {} is below the {} sent",
                        r.transaction_hash, rec.value, native_in
                    ))
                })?;
                let block = r.block_number.unwrap_or_default();
                let fee_native = self
                    .native_fee_paid(*from, pool, &rec.data, offered, block)
                    .await?;
                receipt.amount_in = sent;
                receipt.bridge_fee_native = units(fee_native)?;
                receipt.bridge_fee_token = sent.saturating_sub(received);
                receipt.ticket = Some(BridgeTicket {
                    route: Route::Stargate,
                    token: *token,
                    from: *from,
                    to: *to,
                    amount_sent: sent,
                    expected_amount: received,
                    message_id: guid.to_string(),
                    source_tx: receipt.tx_hash.clone(),
                    sent_at: at,
                });
            }
            Action::BridgeSend {
                route: Route::HemiTunnel,
                token,
                from,
                to,
                amount,
            } => {
                let (w, payout) = self.withdrawal_in(&r, *token)?;
                let h = w.hash;
                let sent = units(payout.amount)?;
                receipt.amount_in = sent;
                receipt.ticket = Some(BridgeTicket {
                    route: Route::HemiTunnel,
                    token: *token,
                    from: *from,
                    to: *to,
                    amount_sent: *amount,
                    expected_amount: sent,
                    message_id: h.to_string(),
                    source_tx: receipt.tx_hash.clone(),
                    sent_at: at,
                });
            }
            Action::Prove { .. } => {}
            Action::Finalize { ticket } => {
                receipt.amount_out = self.released(&r, ticket).await?;
            }
        }
        Ok(receipt)
    }
}

/// ERC-20 `token` transferred to `to` in a receipt (only from `from`, when given).
pub(super) fn received(
    r: &TransactionReceipt,
    token: Address,
    from: Option<Address>,
    to: Address,
) -> U256 {
    let mut total = U256::ZERO;
    for l in r.inner.logs() {
        if l.address() == token
            && let Ok(t) = l.log_decode::<IERC20::Transfer>()
            && t.inner.data.to == to
            && from.is_none_or(|f| t.inner.data.from == f)
        {
            total += t.inner.data.value;
        }
    }
    total
}
