//! The cross-chain loop's cycle: its canonical states (docs/architecture.md §4.1), the
//! steps that move it, and the waits between them. The transition table
//! lives here so that every part of the program agrees on it.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CycleId(pub u64);

impl fmt::Display for CycleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl std::str::FromStr for CycleId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.trim().trim_start_matches(['c', 'C']);
        digits
            .parse::<u64>()
            .map(CycleId)
            .map_err(|_| format!("{s:?} is not a cycle id (expected e.g. c12 or 12)"))
    }
}

/// How X leaves Hemi for Ethereum (docs/architecture.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Stargate / LayerZero: minutes, a fee, one transaction.
    Stargate,
    /// Hemi's OP-style tunnel: initiate, prove after ~1 h, finalize 24 h later.
    HemiTunnel,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Stargate => "stargate",
            Route::HemiTunnel => "tunnel",
        }
    }
}

impl Route {
    /// The route as the screen names it for `token`: hemiBTC's Stargate-
    /// route leg is its own LayerZero OFT adapter, not a Stargate pool.
    pub fn label(self, token: super::TokenId) -> &'static str {
        match (self, token) {
            (Route::Stargate, super::TokenId::HemiBtc) => "lz oft",
            _ => self.name(),
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CycleState {
    Detected,
    HemiSwapDone,
    BridgeOutSent,
    BridgeOutProveRequired,
    BridgeOutProved,
    BridgeOutFinalizeRequired,
    OnEthereum,
    EthSwapDone,
    UsdcBridgeBackSent,
    OnHemiUsdc,
    HemiCloseSwapDone,
    Completed,
    Failed,
    /// Closed before anything was sent: the opening swap was refused (its
    /// simulation over the slippage bound, a quote that no longer holds, a
    /// pre-flight refusal). It holds nothing and asks nothing of the operator.
    NotStarted,
}

/// An action that moves money: each is one intent, one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    HemiSwap,
    BridgeOut,
    Prove,
    Finalize,
    EthSwap,
    BridgeBack,
    CloseSwap,
}

/// Something outside our control that a cycle waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// The outbound bridge delivers X on Ethereum (Stargate).
    ArrivalOnEthereum,
    /// The tunnel withdrawal's output is proposed: prove becomes possible.
    ProveReady,
    /// The challenge window has passed: finalize becomes possible.
    FinalizeReady,
    /// USDC arrives back on Hemi.
    ArrivalOnHemi,
}

/// What the reconciler must do next for a cycle in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAction {
    Step(StepKind),
    Await(Wait),
    /// Book the P&L and close the cycle.
    Complete,
    /// Terminal: nothing more to do.
    Nothing,
}

impl CycleState {
    pub const ALL: [CycleState; 14] = [
        CycleState::Detected,
        CycleState::HemiSwapDone,
        CycleState::BridgeOutSent,
        CycleState::BridgeOutProveRequired,
        CycleState::BridgeOutProved,
        CycleState::BridgeOutFinalizeRequired,
        CycleState::OnEthereum,
        CycleState::EthSwapDone,
        CycleState::UsdcBridgeBackSent,
        CycleState::OnHemiUsdc,
        CycleState::HemiCloseSwapDone,
        CycleState::Completed,
        CycleState::Failed,
        CycleState::NotStarted,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CycleState::Completed | CycleState::Failed | CycleState::NotStarted
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            CycleState::Detected => "DETECTED",
            CycleState::HemiSwapDone => "HEMI_SWAP_DONE",
            CycleState::BridgeOutSent => "BRIDGE_OUT_SENT",
            CycleState::BridgeOutProveRequired => "BRIDGE_OUT_PROVE_REQUIRED",
            CycleState::BridgeOutProved => "BRIDGE_OUT_PROVED",
            CycleState::BridgeOutFinalizeRequired => "BRIDGE_OUT_FINALIZE_REQUIRED",
            CycleState::OnEthereum => "ON_ETHEREUM",
            CycleState::EthSwapDone => "ETH_SWAP_DONE",
            CycleState::UsdcBridgeBackSent => "USDC_BRIDGE_BACK_SENT",
            CycleState::OnHemiUsdc => "ON_HEMI_USDC",
            CycleState::HemiCloseSwapDone => "HEMI_CLOSE_SWAP_DONE",
            CycleState::Completed => "COMPLETED",
            CycleState::Failed => "FAILED",
            CycleState::NotStarted => "NOT_STARTED",
        }
    }

    /// The next required action in this state on this route.
    pub fn next_action(self, route: Route) -> NextAction {
        use CycleState::*;
        match (self, route) {
            (Detected, _) => NextAction::Step(StepKind::HemiSwap),
            (HemiSwapDone, _) => NextAction::Step(StepKind::BridgeOut),
            (BridgeOutSent, Route::Stargate) => NextAction::Await(Wait::ArrivalOnEthereum),
            (BridgeOutSent, Route::HemiTunnel) => NextAction::Await(Wait::ProveReady),
            (BridgeOutProveRequired, _) => NextAction::Step(StepKind::Prove),
            (BridgeOutProved, _) => NextAction::Await(Wait::FinalizeReady),
            (BridgeOutFinalizeRequired, _) => NextAction::Step(StepKind::Finalize),
            (OnEthereum, _) => NextAction::Step(StepKind::EthSwap),
            (EthSwapDone, _) => NextAction::Step(StepKind::BridgeBack),
            (UsdcBridgeBackSent, _) => NextAction::Await(Wait::ArrivalOnHemi),
            (OnHemiUsdc, _) => NextAction::Step(StepKind::CloseSwap),
            (HemiCloseSwapDone, _) => NextAction::Complete,
            (Completed | Failed | NotStarted, _) => NextAction::Nothing,
        }
    }

    /// The state a cycle is in once `step` has been done.
    pub fn after_step(step: StepKind) -> CycleState {
        match step {
            StepKind::HemiSwap => CycleState::HemiSwapDone,
            StepKind::BridgeOut => CycleState::BridgeOutSent,
            StepKind::Prove => CycleState::BridgeOutProved,
            StepKind::Finalize => CycleState::OnEthereum,
            StepKind::EthSwap => CycleState::EthSwapDone,
            StepKind::BridgeBack => CycleState::UsdcBridgeBackSent,
            StepKind::CloseSwap => CycleState::HemiCloseSwapDone,
        }
    }

    /// The state a cycle is in once `wait` is over.
    pub fn after_wait(wait: Wait) -> CycleState {
        match wait {
            Wait::ArrivalOnEthereum => CycleState::OnEthereum,
            Wait::ProveReady => CycleState::BridgeOutProveRequired,
            Wait::FinalizeReady => CycleState::BridgeOutFinalizeRequired,
            Wait::ArrivalOnHemi => CycleState::OnHemiUsdc,
        }
    }

    /// The states a cycle passes through on a route, in order, ending in COMPLETED.
    pub fn path(route: Route) -> Vec<CycleState> {
        let mut path = vec![CycleState::Detected];
        let mut state = CycleState::Detected;
        loop {
            state = match state.next_action(route) {
                NextAction::Step(step) => CycleState::after_step(step),
                NextAction::Await(wait) => CycleState::after_wait(wait),
                NextAction::Complete => CycleState::Completed,
                NextAction::Nothing => return path,
            };
            path.push(state);
        }
    }
}

impl fmt::Display for CycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl StepKind {
    pub fn name(self) -> &'static str {
        match self {
            StepKind::HemiSwap => "hemi_swap",
            StepKind::BridgeOut => "bridge_out",
            StepKind::Prove => "prove",
            StepKind::Finalize => "finalize",
            StepKind::EthSwap => "eth_swap",
            StepKind::BridgeBack => "bridge_back",
            StepKind::CloseSwap => "close_swap",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Wait {
    pub fn describe(self) -> &'static str {
        match self {
            Wait::ArrivalOnEthereum => "arrival on Ethereum",
            Wait::ProveReady => "prove ready",
            Wait::FinalizeReady => "finalize ready",
            Wait::ArrivalOnHemi => "USDC arrival on Hemi",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hemi_btcs_leg_is_labelled_as_the_oft_it_is() {
        use crate::model::TokenId;
        assert_eq!(Route::Stargate.label(TokenId::HemiBtc), "lz oft");
        assert_eq!(Route::Stargate.label(TokenId::Eth), "stargate");
        assert_eq!(Route::HemiTunnel.label(TokenId::HemiBtc), "tunnel");
    }

    #[test]
    fn stargate_path_skips_the_tunnel_states() {
        let path = CycleState::path(Route::Stargate);
        assert_eq!(path.first(), Some(&CycleState::Detected));
        assert_eq!(path.last(), Some(&CycleState::Completed));
        assert!(!path.contains(&CycleState::BridgeOutProveRequired));
        assert!(!path.contains(&CycleState::BridgeOutFinalizeRequired));
        assert_eq!(path.len(), 9);
    }

    #[test]
    fn tunnel_path_visits_every_state_but_the_unhappy_ends() {
        let path = CycleState::path(Route::HemiTunnel);
        let expected: Vec<_> = CycleState::ALL
            .into_iter()
            .filter(|s| !matches!(s, CycleState::Failed | CycleState::NotStarted))
            .collect();
        assert_eq!(path, expected);
    }

    #[test]
    fn terminal_states_have_nothing_next() {
        for route in [Route::Stargate, Route::HemiTunnel] {
            assert_eq!(
                CycleState::Completed.next_action(route),
                NextAction::Nothing
            );
            assert_eq!(CycleState::Failed.next_action(route), NextAction::Nothing);
            assert_eq!(
                CycleState::NotStarted.next_action(route),
                NextAction::Nothing
            );
        }
        assert!(CycleState::NotStarted.is_terminal());
    }

    #[test]
    fn not_started_is_stored_by_its_name_and_old_names_still_load() {
        assert_eq!(
            serde_json::to_string(&CycleState::NotStarted)
                .ok()
                .as_deref(),
            Some("\"NOT_STARTED\"")
        );
        for s in CycleState::ALL {
            let json = format!("\"{}\"", s.name());
            assert_eq!(serde_json::from_str::<CycleState>(&json).ok(), Some(s));
        }
    }

    #[test]
    fn cycle_ids_parse_with_or_without_prefix() {
        assert_eq!("c12".parse::<CycleId>(), Ok(CycleId(12)));
        assert_eq!("7".parse::<CycleId>(), Ok(CycleId(7)));
        assert!("x".parse::<CycleId>().is_err());
    }
}
