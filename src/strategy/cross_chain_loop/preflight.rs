//! The pre-flight before a cycle's opening swap: what can change under a
//! plan between pricing it and sending its first transaction is read again
//! — the route closed (the tunnel's portal or a bridge paused) and the
//! bridge fees risen above the ones the plan was priced with — and the
//! cycle is refused, NOT_STARTED with the reason on screen, when the plan
//! no longer holds. Nothing has been sent, so nothing is lost.

use super::CrossChainLoop;
use crate::model::{Cycle, PlannedBridgeFees};
use crate::venue::{FeeSchedule, LoopVenue, VenueError};

/// The fees a plan is priced with, as the cycle records them.
pub(super) fn planned(fees: &FeeSchedule) -> PlannedBridgeFees {
    PlannedBridgeFees {
        stargate_native_fee: fees.stargate_native_fee,
        stargate_fee_bps: fees.stargate_fee_bps,
    }
}

/// Why the live fees break the plan, if they do. Every cycle comes back by
/// Stargate, so its fee matters on both routes.
pub(super) fn fee_refusal(plan: &PlannedBridgeFees, live: &FeeSchedule) -> Option<String> {
    let mut rose = Vec::new();
    if live.stargate_native_fee > plan.stargate_native_fee {
        rose.push(format!(
            "native fee {} wei (planned {})",
            live.stargate_native_fee, plan.stargate_native_fee
        ));
    }
    if live.stargate_fee_bps > plan.stargate_fee_bps {
        rose.push(format!(
            "token fee {} bps (planned {})",
            live.stargate_fee_bps, plan.stargate_fee_bps
        ));
    }
    (!rose.is_empty()).then(|| {
        format!(
            "pre-flight: the Stargate fee rose above the plan: {}",
            rose.join(", ")
        )
    })
}

impl<V: LoopVenue> CrossChainLoop<V> {
    /// The pre-flight's refusal of `cycle`, or `None` when its plan holds.
    pub(super) async fn preflight(&self, cycle: &Cycle) -> Result<Option<String>, VenueError> {
        if let Some(why) = self.venue.route_closed(cycle.route).await? {
            return Ok(Some(format!(
                "pre-flight: the {} route is closed: {why}",
                cycle.route
            )));
        }
        let Some(plan) = &cycle.planned_bridge_fees else {
            return Ok(None);
        };
        let live = self.venue.fees().await?;
        Ok(fee_refusal(plan, &live))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn fees(native: u128, bps: u32) -> FeeSchedule {
        FeeSchedule {
            swap_gas_hemi: 1,
            swap_gas_ethereum: 1,
            stargate_send_gas_hemi: 1,
            tunnel_initiate_gas_hemi: 1,
            bridge_send_gas_ethereum: 1,
            prove_gas_ethereum: 1,
            finalize_gas_ethereum: 1,
            stargate_native_fee: native,
            stargate_fee_bps: bps,
            eth_usdc: Decimal::from(3000),
        }
    }

    #[test]
    fn the_same_or_lower_fees_keep_the_plan() {
        let plan = planned(&fees(300, 6));
        assert_eq!(fee_refusal(&plan, &fees(300, 6)), None);
        assert_eq!(fee_refusal(&plan, &fees(100, 0)), None);
    }

    #[test]
    fn a_risen_fee_refuses_with_both_figures() {
        let plan = planned(&fees(300, 6));
        let why = fee_refusal(&plan, &fees(301, 6)).expect("refused");
        assert!(why.contains("native fee 301 wei (planned 300)"), "{why}");
        let why = fee_refusal(&plan, &fees(300, 50)).expect("refused");
        assert!(why.contains("token fee 50 bps (planned 6)"), "{why}");
        assert!(!why.contains("native"), "{why}");
    }
}
