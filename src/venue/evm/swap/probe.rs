//! Calldata someone else wrote, run before it is trusted: `SwapProbe`'s
//! runtime code (`assets/contracts/SwapProbe.sol`, embedded here) is put at
//! the taker's own address for one `eth_call` (a state override), so the
//! aggregator's transaction runs exactly as the taker would send it — the
//! approve is the taker's, the swap's `msg.sender` is the taker — and what
//! it takes and pays is read off the taker's balances, not off the
//! aggregator's word. Nothing is signed or sent here.

use crate::venue::VenueError;
use crate::venue::evm::abi::ISwapProbe;
use crate::venue::evm::chain::ChainClient;
use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolCall;
use std::str::FromStr;

/// `SwapProbe`'s runtime code, as solc-js compiles the file (a devnet test
/// recompiles it and compares).
pub const RUNTIME_HEX: &str = include_str!("../../../../assets/contracts/SwapProbe.runtime.hex");

/// The runtime code (empty if the embedded text were not hex, which a unit
/// test rules out: the probe's answer would then be unreadable, never wrong).
pub fn runtime() -> Bytes {
    Bytes::from_str(RUNTIME_HEX.trim()).unwrap_or_default()
}

/// What a transaction moved, measured on the taker's balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Of the token in, what left the taker.
    pub spent: U256,
    /// Of the token out, what arrived.
    pub received: U256,
}

/// One swap to run: the taker approves `amount_in` of `token_in` to
/// `spender`, then sends `data` with `value` to `target`.
#[derive(Debug, Clone)]
pub struct Trial {
    pub taker: Address,
    pub token_in: Address,
    pub token_out: Address,
    pub amount_in: U256,
    pub spender: Address,
    pub target: Address,
    pub data: Bytes,
    pub value: U256,
}

/// Run `t` on the node's latest state. A revert is `Rejected` with its
/// reason (the calldata does not execute for this taker now).
pub async fn run(c: &ChainClient, t: &Trial) -> Result<Moved, VenueError> {
    let call = ISwapProbe::probeCall {
        tokenIn: t.token_in,
        tokenOut: t.token_out,
        amountIn: t.amount_in,
        spender: t.spender,
        target: t.target,
        data: t.data.clone(),
    };
    let out = c
        .call_as_code(t.taker, runtime(), call.abi_encode().into(), t.value)
        .await?;
    let r = ISwapProbe::probeCall::abi_decode_returns(&out).map_err(|_| {
        VenueError::Transient(format!(
            "{}: the swap probe's answer is unreadable (does the node take state overrides?)",
            c.name
        ))
    })?;
    Ok(Moved {
        spent: r.spent,
        received: r.received,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_runtime_is_hex_with_the_probe_selector() {
        let code = super::runtime();
        assert!(code.len() > 200, "{} bytes", code.len());
        // The dispatcher compares the calldata's selector with probe's.
        let selector = <super::ISwapProbe::probeCall as alloy::sol_types::SolCall>::SELECTOR;
        assert!(code.windows(4).any(|w| w == selector));
    }
}
