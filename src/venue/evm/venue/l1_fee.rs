//! What an OP-stack chain (Hemi) charges a transaction beside its gas, for
//! the planner: the L1 data fee, as the chain's `GasPriceOracle` predeploy
//! prices it now (`getL1Fee`, evm.md §1.7) for a transaction of the size
//! the planner assumes. What a mined transaction paid is booked from its
//! receipt instead (`ChainClient::fee_paid`). A chain that is not OP's, or
//! has no oracle (the devnet's anvil), charges none.

use super::{EvmVenue, units};
use crate::model::{Chain, Units};
use crate::venue::VenueError;
use alloy::primitives::{Address, Bytes, address, keccak256};
use alloy::sol;

sol! {
    /// OP Stack's `GasPriceOracle` (contracts-bedrock `src/L2/GasPriceOracle.sol`).
    interface IGasPriceOracle {
        function getL1Fee(bytes memory _data) external view returns (uint256);
    }
}

/// The `GasPriceOracle` predeploy on every OP-stack chain.
pub const GAS_PRICE_ORACLE: Address = address!("0x420000000000000000000000000000000000000F");

/// The signed size the planner prices each transaction at: more than any
/// of the loop's transactions on Hemi (a swap's or a Stargate send's
/// calldata is 200 to 500 bytes), in bytes that do not compress, as the
/// oracle's Fjord pricing compresses them.
pub const PRICED_TX_BYTES: usize = 640;

/// `PRICED_TX_BYTES` of incompressible, deterministic bytes.
pub fn priced_tx() -> Bytes {
    let mut out = Vec::with_capacity(PRICED_TX_BYTES + 32);
    let mut block = keccak256(b"arbkeep: a transaction the planner prices");
    while out.len() < PRICED_TX_BYTES {
        out.extend_from_slice(block.as_slice());
        block = keccak256(block);
    }
    out.truncate(PRICED_TX_BYTES);
    out.into()
}

impl EvmVenue {
    /// The L1 data fee of one transaction on `chain` now, in wei.
    pub(super) async fn l1_fee_per_tx(&self, chain: Chain) -> Result<Units, VenueError> {
        let c = self.client(chain);
        if !c.is_op_stack() || c.code(GAS_PRICE_ORACLE).await?.is_empty() {
            return Ok(0);
        }
        let fee = c
            .view(
                GAS_PRICE_ORACLE,
                IGasPriceOracle::getL1FeeCall { _data: priced_tx() },
            )
            .await?;
        units(fee)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_priced_transaction_is_its_size_and_does_not_repeat() {
        let tx = super::priced_tx();
        assert_eq!(tx.len(), super::PRICED_TX_BYTES);
        assert_ne!(tx[..32], tx[32..64]);
    }
}
