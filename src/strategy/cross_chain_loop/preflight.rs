//! The pre-flight before a cycle's opening swap: what can change under a
//! plan between pricing it and sending its first transaction is read again
//! — the route closed (the tunnel's portal or a Stargate pool or path
//! paused), the bridge fees risen above the ones the plan was priced with,
//! and the tunnel's finalization period grown longer than the plan's — and
//! the cycle is refused, NOT_STARTED with the reason on screen, when the
//! plan no longer holds. Nothing has been sent, so nothing is lost.

use super::CrossChainLoop;
use crate::model::{Cycle, PlannedBridgeFees, Route};
use crate::venue::{FeeSchedule, LoopVenue, VenueError};

/// The fees a plan is priced with, as the cycle records them.
pub(super) fn planned(fees: &FeeSchedule) -> PlannedBridgeFees {
    PlannedBridgeFees {
        stargate_native_fee: fees.stargate_native_fee,
        stargate_fee_bps: fees.stargate_fee_bps,
        tunnel_finalization_secs: fees.tunnel_finalization_secs,
    }
}

/// Why what the chains say now breaks the plan of a cycle on `route`, if
/// it does. Every cycle comes back by Stargate, so its fee matters on both
/// routes; the finalization period only on the tunnel's. A period the plan
/// did not record (an older cycle) holds no cycle back.
pub(super) fn plan_refusal(
    plan: &PlannedBridgeFees,
    live: &FeeSchedule,
    route: Route,
) -> Option<String> {
    if route == Route::HemiTunnel
        && let (Some(planned), Some(now)) =
            (plan.tunnel_finalization_secs, live.tunnel_finalization_secs)
        && now > planned
    {
        return Some(format!(
            "pre-flight: the tunnel's finalization period rose above the plan: {now} s, {} (planned {planned} s)",
            crate::model::time::format_duration(now.saturating_mul(1000)),
        ));
    }
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
        if let Some(why) = self.venue.route_closed(cycle.route, cycle.token).await? {
            return Ok(Some(format!(
                "pre-flight: the {} route is closed: {why}",
                cycle.route
            )));
        }
        let Some(plan) = &cycle.planned_bridge_fees else {
            return Ok(None);
        };
        let live = self.venue.fees().await?;
        Ok(plan_refusal(plan, &live, cycle.route))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn fees(native: u128, bps: u32, period: Option<u64>) -> FeeSchedule {
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
            tunnel_finalization_secs: period,
            eth_usdc: Decimal::from(3000),
        }
    }

    #[test]
    fn the_same_or_lower_fees_keep_the_plan() {
        let plan = planned(&fees(300, 6, Some(604_800)));
        for route in [Route::Stargate, Route::HemiTunnel] {
            assert_eq!(
                plan_refusal(&plan, &fees(300, 6, Some(604_800)), route),
                None
            );
            assert_eq!(plan_refusal(&plan, &fees(100, 0, Some(3_600)), route), None);
        }
    }

    #[test]
    fn a_risen_fee_refuses_with_both_figures() {
        let plan = planned(&fees(300, 6, None));
        for route in [Route::Stargate, Route::HemiTunnel] {
            let why = plan_refusal(&plan, &fees(301, 6, None), route).expect("refused");
            assert!(why.contains("native fee 301 wei (planned 300)"), "{why}");
            let why = plan_refusal(&plan, &fees(300, 50, None), route).expect("refused");
            assert!(why.contains("token fee 50 bps (planned 6)"), "{why}");
            assert!(!why.contains("native"), "{why}");
        }
    }

    #[test]
    fn a_longer_finalization_period_refuses_only_a_tunnel_cycle() {
        let plan = planned(&fees(300, 6, Some(604_800)));
        let longer = fees(300, 6, Some(1_209_600));
        let why = plan_refusal(&plan, &longer, Route::HemiTunnel).expect("refused");
        assert!(
            why.contains("finalization period")
                && why.contains("1209600 s, 14d 0h (planned 604800 s)"),
            "{why}"
        );
        // A Stargate cycle never waits on the tunnel.
        assert_eq!(plan_refusal(&plan, &longer, Route::Stargate), None);
    }

    #[test]
    fn a_plan_without_a_period_is_not_held_to_one() {
        // A cycle recorded before the plan kept the period, or a venue
        // with no tunnel: nothing to compare, so nothing refuses.
        let old = planned(&fees(300, 6, None));
        let now = fees(300, 6, Some(1_209_600));
        assert_eq!(plan_refusal(&old, &now, Route::HemiTunnel), None);
        let plan = planned(&fees(300, 6, Some(604_800)));
        assert_eq!(
            plan_refusal(&plan, &fees(300, 6, None), Route::HemiTunnel),
            None
        );
    }

    #[test]
    fn an_older_record_without_the_period_still_reads() {
        let old = r#"{"stargate_native_fee":"300","stargate_fee_bps":6}"#;
        let plan: PlannedBridgeFees = serde_json::from_str(old).expect("reads");
        assert_eq!(plan.tunnel_finalization_secs, None);
    }
}
