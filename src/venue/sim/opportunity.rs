//! The loop's end-to-end profit as docs/architecture.md §4.2 models it, computed straight
//! from the paper markets: VCRED→X on Hemi, bridge X out, X→USDC on Ethereum,
//! USDC back by Stargate, USDC→VCRED on Hemi, less every gas and bridge fee
//! converted to VCRED. Used to tune the paper world so that it offers the
//! keeper opportunities at a realistic rate, and to test that it does.

use super::fees::{
    FINALIZE_GAS, PROVE_GAS, STARGATE_NATIVE_FEE, STARGATE_SEND_GAS, SWAP_GAS, TUNNEL_INITIATE_GAS,
    gas_cost, stargate_delivers,
};
use super::market::Market;
use crate::model::{Chain, Route, TokenId, Units};

/// The default route out of Hemi per token.
pub fn default_route(token: TokenId) -> Route {
    match token {
        TokenId::Eth | TokenId::HemiBtc => Route::Stargate,
        _ => Route::HemiTunnel,
    }
}

/// Every cost of one cycle in wei of ETH, both chains together.
pub fn cycle_gas_wei(market: &Market, route: Route) -> Units {
    let hemi = |units| gas_cost(market, Chain::Hemi, units);
    let eth = |units| gas_cost(market, Chain::Ethereum, units);
    let out = match route {
        Route::Stargate => hemi(STARGATE_SEND_GAS) + STARGATE_NATIVE_FEE,
        Route::HemiTunnel => hemi(TUNNEL_INITIATE_GAS) + eth(PROVE_GAS) + eth(FINALIZE_GAS),
    };
    let back = eth(STARGATE_SEND_GAS) + STARGATE_NATIVE_FEE;
    hemi(SWAP_GAS) + out + eth(SWAP_GAS) + back + hemi(SWAP_GAS)
}

/// Profit in VCRED base units of one cycle of `vcred_in` (negative: a loss).
pub fn round_trip_profit(market: &Market, token: TokenId, route: Route, vcred_in: Units) -> i128 {
    let quote = |chain, a, b, amount| market.quote(chain, a, b, amount).unwrap_or(0);
    let x = quote(Chain::Hemi, TokenId::Vcred, token, vcred_in);
    let x_on_ethereum = match route {
        Route::Stargate => stargate_delivers(x),
        Route::HemiTunnel => x,
    };
    let usdc = quote(Chain::Ethereum, token, TokenId::Usdc, x_on_ethereum);
    let vcred_out = quote(
        Chain::Hemi,
        TokenId::Usdc,
        TokenId::Vcred,
        stargate_delivers(usdc),
    );
    let fee_usdc = market
        .value_of(TokenId::Eth, cycle_gas_wei(market, route))
        .unwrap_or(Units::MAX);
    let fee_vcred = market
        .units_of(TokenId::Vcred, fee_usdc)
        .unwrap_or(Units::MAX);
    let signed = |u: Units| i128::try_from(u).unwrap_or(i128::MAX);
    signed(vcred_out) - signed(vcred_in) - signed(fee_vcred)
}

/// The most profitable size on a coarse grid of 1 000 – 100 000 VCRED, and its profit.
pub fn best_round_trip(market: &Market, token: TokenId, route: Route) -> (Units, i128) {
    const GRID: [Units; 12] = [
        1_000, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 40_000, 60_000, 100_000,
    ];
    GRID.iter()
        .map(|&whole| {
            let size = whole * TokenId::Vcred.one();
            (size, round_trip_profit(market, token, route, size))
        })
        .max_by_key(|&(_, profit)| profit)
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::{DAY, MINUTE};
    use crate::venue::sim::market::EPOCH_MS;

    #[test]
    fn a_balanced_market_offers_nothing() {
        let m = Market::genesis();
        for token in TokenId::LOOP {
            let (_, profit) = best_round_trip(&m, token, default_route(token));
            assert!(profit < 0, "{token} profitable at genesis: {profit}");
        }
    }

    #[test]
    fn the_tunnel_costs_more_than_stargate() {
        let m = Market::genesis();
        assert!(cycle_gas_wei(&m, Route::HemiTunnel) > cycle_gas_wei(&m, Route::Stargate));
    }

    /// Over three simulated days every loop token offers, at some epoch, a
    /// cycle of 5 000 VCRED that pays more than all its fees — on its own
    /// route, so both Stargate and the tunnel are exercised — but no token
    /// does so most of the time.
    #[test]
    fn opportunities_appear_for_every_token_on_both_routes() {
        let days = 3;
        let epochs = days * DAY / EPOCH_MS;
        let mut m = Market::genesis();
        let size = 5_000 * TokenId::Vcred.one();
        let mut at_5k = [0u32; 6];
        let mut best = [0u32; 6];
        let mut episodes = [0u32; 6];
        let mut was_open = [false; 6];
        let mut best_profit = [0i128; 6];
        for e in 1..=epochs {
            m.step(2026, e);
            for (k, token) in TokenId::LOOP.into_iter().enumerate() {
                let route = default_route(token);
                if round_trip_profit(&m, token, route, size) > 0 {
                    at_5k[k] += 1;
                }
                let (_, profit) = best_round_trip(&m, token, route);
                best_profit[k] = best_profit[k].max(profit);
                let open = profit > 0;
                if open {
                    best[k] += 1;
                    if !was_open[k] {
                        episodes[k] += 1;
                    }
                }
                was_open[k] = open;
            }
        }
        for (k, token) in TokenId::LOOP.into_iter().enumerate() {
            println!(
                "{token:8} {:8} profitable epochs: {:4} at 5k VCRED, {:4} at best size ({} per mille); \
                 {:3} episodes (one per {} min); best profit {} VCRED",
                default_route(token).name(),
                at_5k[k],
                best[k],
                u64::from(best[k]) * 1_000 / epochs,
                episodes[k],
                days * DAY / MINUTE / u64::from(episodes[k].max(1)),
                best_profit[k] / 1_000_000,
            );
        }
        for (k, token) in TokenId::LOOP.into_iter().enumerate() {
            assert!(at_5k[k] > 0, "{token}: never profitable at 5 000 VCRED");
            assert!(
                u64::from(best[k]) < epochs / 4,
                "{token}: profitable {} of {epochs} epochs",
                best[k]
            );
        }
    }
}
