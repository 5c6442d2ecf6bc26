//! What a cycle costs on the real chains, as the planner prices it (the
//! `FeeSchedule`): gas per step kind at each chain's gas price, Hemi's L1
//! data fee, the Stargate route's native and token fees, the tunnel's
//! finalization period, and USDC per ETH to value gas.

use super::{EvmVenue, gas};
use crate::model::{Chain, Route, StepKind, TokenId};
use crate::venue::{FeeSchedule, LoopVenue, VenueError};

impl EvmVenue {
    /// What a cycle costs now, for the planner: each step kind's gas
    /// (`gas`) at the chain's gas price, Hemi's L1 data fee per
    /// transaction (`l1_fee`), the Stargate route's fees, the tunnel's
    /// finalization period and the ETH price that values gas.
    pub(super) async fn fee_schedule(&self) -> Result<FeeSchedule, VenueError> {
        let gas = gas::priced;
        let gp_h = self.hemi.gas_price().await?;
        let gp_e = self.ethereum.gas_price().await?;
        // Hemi's L1 data fee per transaction: two for a swap or a Stargate
        // send (the approve and the call), one for the tunnel's initiation.
        let l1_h = self.l1_fee_per_tx(Chain::Hemi).await?;
        let on_hemi = |gas: u128, txs: u128| {
            gas.saturating_mul(gp_h)
                .saturating_add(l1_h.saturating_mul(txs))
        };
        let (native_fee, fee_bps) = self.stargate_prices().await?;
        let usdc_per_eth = self
            .quote(
                Chain::Ethereum,
                TokenId::Eth,
                TokenId::Usdc,
                TokenId::Eth.one(),
            )
            .await?;
        let eth_usdc = crate::model::to_decimal(usdc_per_eth, TokenId::Usdc.decimals())
            .map_err(|e| VenueError::Rejected(e.to_string()))?;
        Ok(FeeSchedule {
            swap_gas_hemi: on_hemi(gas(StepKind::HemiSwap, Route::Stargate), 2),
            swap_gas_ethereum: gas(StepKind::EthSwap, Route::Stargate) * gp_e,
            stargate_send_gas_hemi: on_hemi(gas(StepKind::BridgeOut, Route::Stargate), 2),
            tunnel_initiate_gas_hemi: on_hemi(gas(StepKind::BridgeOut, Route::HemiTunnel), 1),
            bridge_send_gas_ethereum: gas(StepKind::BridgeBack, Route::Stargate) * gp_e,
            prove_gas_ethereum: gas(StepKind::Prove, Route::HemiTunnel) * gp_e,
            finalize_gas_ethereum: gas(StepKind::Finalize, Route::HemiTunnel) * gp_e,
            stargate_native_fee: native_fee,
            stargate_fee_bps: fee_bps,
            tunnel_finalization_secs: self.tunnel_finalization_secs().await?,
            eth_usdc,
        })
    }
}
