//! What actions cost in the paper world: gas units per kind of transaction,
//! Stargate's fees, and the `FeeSchedule` the planner prices cycles with.
//! Gas is paid in native ETH on the signing chain at the current gas price.

use super::bridge::CHALLENGE_WINDOW_MS;
use super::market::Market;
use crate::model::{Chain, TokenId, Units, to_decimal};
use crate::venue::FeeSchedule;

pub const SWAP_GAS: Units = 150_000;
/// Each extra pool a routed swap passes through.
pub const EXTRA_HOP_GAS: Units = 100_000;
pub const STARGATE_SEND_GAS: Units = 200_000;
pub const TUNNEL_INITIATE_GAS: Units = 250_000;
pub const PROVE_GAS: Units = 400_000;
pub const FINALIZE_GAS: Units = 300_000;
/// LayerZero messaging fee per Stargate send, wei (0.0003 ETH).
pub const STARGATE_NATIVE_FEE: Units = 300_000_000_000_000;
/// Stargate keeps this share of the amount sent.
pub const STARGATE_FEE_BPS: u32 = 6;

/// Gas cost in wei of `units` of gas on `chain` now.
pub fn gas_cost(market: &Market, chain: Chain, units: Units) -> Units {
    units.saturating_mul(market.gas_price(chain))
}

/// What arrives after Stargate's token fee (rounded down, as the pool does).
pub fn stargate_delivers(amount: Units) -> Units {
    let keep = 10_000 - Units::from(STARGATE_FEE_BPS);
    amount / 10_000 * keep + amount % 10_000 * keep / 10_000
}

/// The costs the planner should expect at current gas prices.
pub fn schedule(market: &Market) -> FeeSchedule {
    FeeSchedule {
        swap_gas_hemi: gas_cost(market, Chain::Hemi, SWAP_GAS),
        swap_gas_ethereum: gas_cost(market, Chain::Ethereum, SWAP_GAS),
        stargate_send_gas_hemi: gas_cost(market, Chain::Hemi, STARGATE_SEND_GAS),
        tunnel_initiate_gas_hemi: gas_cost(market, Chain::Hemi, TUNNEL_INITIATE_GAS),
        bridge_send_gas_ethereum: gas_cost(market, Chain::Ethereum, STARGATE_SEND_GAS),
        prove_gas_ethereum: gas_cost(market, Chain::Ethereum, PROVE_GAS),
        finalize_gas_ethereum: gas_cost(market, Chain::Ethereum, FINALIZE_GAS),
        stargate_native_fee: STARGATE_NATIVE_FEE,
        stargate_fee_bps: STARGATE_FEE_BPS,
        tunnel_finalization_secs: Some(CHALLENGE_WINDOW_MS / 1000),
        eth_usdc: to_decimal(market.price(TokenId::Eth), TokenId::Usdc.decimals())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn stargate_fee_rounds_down_exactly() {
        assert_eq!(stargate_delivers(10_000), 9_994);
        assert_eq!(stargate_delivers(1), 0);
        assert_eq!(
            stargate_delivers(u128::MAX),
            u128::MAX / 10_000 * 9_994 + u128::MAX % 10_000 * 9_994 / 10_000
        );
        let big = 123_456_789_012_345_678_901u128;
        assert_eq!(stargate_delivers(big), big * 9_994 / 10_000);
    }

    #[test]
    fn schedule_prices_gas_at_current_rates() {
        let m = Market::genesis();
        let s = schedule(&m);
        assert_eq!(s.swap_gas_ethereum, 150_000 * m.gas_price(Chain::Ethereum));
        assert_eq!(s.prove_gas_ethereum, 400_000 * m.gas_price(Chain::Ethereum));
        assert_eq!(s.eth_usdc, Decimal::from(3_000));
        assert_eq!(s.stargate_fee_bps, 6);
    }
}
