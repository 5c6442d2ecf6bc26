//! ERC-20 reads and the bounded approve: an allowance that already covers
//! the amount is reused, and a new approve is for exactly the amount (never
//! unlimited unless `evm.unlimited_approvals` says so).

use super::abi::IERC20;
use super::chain::ChainClient;
use super::txmgr::{GasHint, TxManager, TxRequest};
use crate::venue::VenueError;
use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;

pub async fn balance_of(
    c: &ChainClient,
    token: Address,
    owner: Address,
) -> Result<U256, VenueError> {
    c.view(token, IERC20::balanceOfCall { owner }).await
}

pub async fn allowance(
    c: &ChainClient,
    token: Address,
    owner: Address,
    spender: Address,
) -> Result<U256, VenueError> {
    c.view(token, IERC20::allowanceCall { owner, spender })
        .await
}

pub async fn decimals(c: &ChainClient, token: Address) -> Result<u8, VenueError> {
    c.view(token, IERC20::decimalsCall {}).await
}

/// What a step needs to be allowed to spend.
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    pub token: Address,
    pub spender: Address,
    pub amount: U256,
    /// Approve `U256::MAX` instead of `amount` (off by default).
    pub unlimited: bool,
}

/// The spender of an `approve` call's calldata.
pub fn approved_spender(data: &[u8]) -> Option<Address> {
    IERC20::approveCall::abi_decode(data)
        .ok()
        .map(|c| c.spender)
}

/// Make sure `spender` may take `amount` of `token`, as transaction `seq`
/// of `intent`: resume a recorded approve, reuse a sufficient allowance, or
/// approve exactly `amount`.
pub async fn ensure_allowance(
    tx: &TxManager,
    c: &ChainClient,
    intent: &str,
    seq: u32,
    want: Allowance,
) -> Result<(), VenueError> {
    let Allowance {
        token,
        spender,
        amount,
        unlimited,
    } = want;
    if let Some(rec) = tx.store().tx(intent, seq)? {
        if rec.to != token || approved_spender(&rec.data) != Some(spender) {
            return Err(VenueError::Rejected(format!(
                "{intent}'s recorded approve is for another token or spender than {spender} taking {token}"
            )));
        }
        // Recorded before a crash: finish that one, never a second approve.
        tx.send(
            c,
            TxRequest {
                intent: intent.to_string(),
                seq,
                purpose: "approve",
                last: false,
                to: rec.to,
                data: rec.data.clone(),
                value: rec.value,
                gas: GasHint::default(),
            },
        )
        .await?;
        return Ok(());
    }
    if allowance(c, token, tx.address(), spender).await? >= amount {
        return Ok(());
    }
    let value = if unlimited { U256::MAX } else { amount };
    tx.send(
        c,
        TxRequest {
            intent: intent.to_string(),
            seq,
            purpose: "approve",
            last: false,
            to: token,
            data: IERC20::approveCall { spender, value }.abi_encode().into(),
            value: U256::ZERO,
            gas: GasHint::default(),
        },
    )
    .await?;
    Ok(())
}
