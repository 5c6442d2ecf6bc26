//! The risk gate (docs/architecture.md §2, R5): every new cycle passes pause-all, pause-token,
//! drain, the daily loss limit, open-cycle caps, available capital and the
//! size bounds. A refusal says why, so the screen can too.
//!
//! A cycle that failed while still holding money is not over: until the
//! operator resolves it (force resumes it, after which it completes or
//! fails for good) it counts toward the open-cycle caps, and the VCRED it
//! went in with counts as lost toward the daily loss limit.

use super::view;
use crate::config::Approval;
use crate::model::{Cycle, CycleState, TokenId, Units, format_units, to_decimal};
use rust_decimal::Decimal;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    PausedAll,
    PausedToken(TokenId),
    Recovering,
    Draining,
    /// `today` is the realised P&L; `stranded` the VCRED held by failed
    /// cycles not yet resolved, counted as lost.
    DailyLossLimit {
        today: Decimal,
        stranded: Decimal,
        limit: Decimal,
    },
    /// `open` includes the `stranded` failed cycles still holding money.
    TooManyOpen {
        open: u32,
        stranded: u32,
        max: u32,
    },
    TooManyForToken {
        token: TokenId,
        open: u32,
        stranded: u32,
        max: u32,
    },
    NotEnoughVcred {
        available: Units,
        min: Units,
    },
    OutOfBounds {
        size: Units,
        min: Units,
        max: Units,
    },
}

impl Refusal {
    /// Paused is the operator's choice, not a risk refusal.
    pub fn is_pause(&self) -> bool {
        matches!(self, Refusal::PausedAll | Refusal::PausedToken(_))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = |u: &Units| format_units(*u, 6);
        match self {
            Refusal::PausedAll => write!(f, "paused"),
            Refusal::PausedToken(t) => write!(f, "{t} paused"),
            Refusal::Recovering => write!(f, "recovering: no new cycles until reconciled"),
            Refusal::Draining => write!(f, "draining: finishing open cycles only"),
            Refusal::DailyLossLimit {
                today,
                stranded,
                limit,
            } => {
                write!(f, "daily loss limit: today {today} VCRED")?;
                if !stranded.is_zero() {
                    write!(
                        f,
                        ", {} VCRED stranded in failed cycles",
                        stranded.normalize()
                    )?;
                }
                write!(f, ", limit -{limit}")
            }
            Refusal::TooManyOpen {
                open,
                stranded,
                max,
            } => {
                write!(f, "{open} cycles open")?;
                if *stranded > 0 {
                    write!(f, " ({stranded} failed, holding money)")?;
                }
                write!(f, " (max {max})")
            }
            Refusal::TooManyForToken {
                token,
                open,
                stranded,
                max,
            } => {
                write!(f, "{open} {token} cycles open")?;
                if *stranded > 0 {
                    write!(f, " ({stranded} failed, holding money)")?;
                }
                write!(f, " (max {max})")
            }
            Refusal::NotEnoughVcred { available, min } => {
                write!(f, "only {} VCRED free (min swap {})", v(available), v(min))
            }
            Refusal::OutOfBounds { size, min, max } => {
                write!(f, "size {} VCRED outside [{}, {}]", v(size), v(min), v(max))
            }
        }
    }
}

/// Everything the gate looks at, gathered by the engine.
#[derive(Debug, Clone)]
pub struct Exposure {
    pub recovering: bool,
    pub draining: bool,
    pub paused: bool,
    pub token_paused: bool,
    pub today_profit: Decimal,
    pub daily_loss_limit: Decimal,
    /// Open cycles, and failed ones still holding money.
    pub open: u32,
    pub max_open: u32,
    /// The same, of this token.
    pub token_open: u32,
    pub max_token_open: u32,
    /// How many of `open` are failed cycles still holding money.
    pub stranded: u32,
    /// Of this token.
    pub token_stranded: u32,
    /// The VCRED those failed cycles went in with, counted as lost.
    pub stranded_vcred: Decimal,
}

/// What the open-cycle caps and the loss limit see of the cycles in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commitments {
    pub open: u32,
    pub token_open: u32,
    pub stranded: u32,
    pub token_stranded: u32,
    pub stranded_vcred: Decimal,
}

/// Failed while still holding money, and not resolved yet.
pub fn is_stranded(c: &Cycle) -> bool {
    c.state == CycleState::Failed && view::needs_attention(c)
}

/// The VCRED a stranded cycle went in with, as lost until resolved. A value
/// too large for a decimal counts as the largest one: the limit trips.
pub fn stranded_value(c: &Cycle) -> Decimal {
    to_decimal(c.vcred_in, TokenId::Vcred.decimals()).unwrap_or(Decimal::MAX)
}

/// Count open and stranded cycles, overall and of `token`.
pub fn commitments<'a>(cycles: impl IntoIterator<Item = &'a Cycle>, token: TokenId) -> Commitments {
    let mut out = Commitments::default();
    for c in cycles {
        let stranded = is_stranded(c);
        if !(c.is_open() || stranded) {
            continue;
        }
        out.open = out.open.saturating_add(1);
        if c.token == token {
            out.token_open = out.token_open.saturating_add(1);
        }
        if stranded {
            out.stranded = out.stranded.saturating_add(1);
            if c.token == token {
                out.token_stranded = out.token_stranded.saturating_add(1);
            }
            out.stranded_vcred = out
                .stranded_vcred
                .checked_add(stranded_value(c))
                .unwrap_or(Decimal::MAX);
        }
    }
    out
}

/// May a new cycle of `token` start at all?
pub fn may_start(token: TokenId, e: &Exposure) -> Result<(), Refusal> {
    if e.recovering {
        return Err(Refusal::Recovering);
    }
    if e.paused {
        return Err(Refusal::PausedAll);
    }
    if e.token_paused {
        return Err(Refusal::PausedToken(token));
    }
    if e.draining {
        return Err(Refusal::Draining);
    }
    // Stranded money counts as lost until the operator resolves it.
    let at_risk = e
        .today_profit
        .checked_sub(e.stranded_vcred)
        .unwrap_or(Decimal::MIN);
    if at_risk <= -e.daily_loss_limit && at_risk < Decimal::ZERO {
        return Err(Refusal::DailyLossLimit {
            today: e.today_profit,
            stranded: e.stranded_vcred,
            limit: e.daily_loss_limit,
        });
    }
    if e.open >= e.max_open {
        return Err(Refusal::TooManyOpen {
            open: e.open,
            stranded: e.stranded,
            max: e.max_open,
        });
    }
    if e.token_open >= e.max_token_open {
        return Err(Refusal::TooManyForToken {
            token,
            open: e.token_open,
            stranded: e.token_stranded,
            max: e.max_token_open,
        });
    }
    Ok(())
}

/// Is `size` within the hard bounds (`risk.min_size`, `risk.max_size`)?
pub fn size_ok(size: Units, min: Units, max: Units) -> Result<(), Refusal> {
    if size < min || size > max {
        return Err(Refusal::OutOfBounds { size, min, max });
    }
    Ok(())
}

/// Does a cycle of this size wait for the operator?
pub fn needs_approval(approval: Approval, size: Units) -> bool {
    match approval {
        Approval::Auto => false,
        Approval::Manual => true,
        Approval::Above(threshold) => size > threshold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::{Failure, Holding};
    use crate::model::{Chain, CycleId, Route};

    fn calm() -> Exposure {
        Exposure {
            recovering: false,
            draining: false,
            paused: false,
            token_paused: false,
            today_profit: Decimal::ZERO,
            daily_loss_limit: Decimal::from(100),
            open: 0,
            max_open: 4,
            token_open: 0,
            max_token_open: 2,
            stranded: 0,
            token_stranded: 0,
            stranded_vcred: Decimal::ZERO,
        }
    }

    #[test]
    fn every_guard_refuses_with_its_reason() {
        assert_eq!(may_start(TokenId::Eth, &calm()), Ok(()));
        let cases: Vec<(Exposure, Refusal)> = vec![
            (
                Exposure {
                    paused: true,
                    ..calm()
                },
                Refusal::PausedAll,
            ),
            (
                Exposure {
                    token_paused: true,
                    ..calm()
                },
                Refusal::PausedToken(TokenId::Eth),
            ),
            (
                Exposure {
                    recovering: true,
                    ..calm()
                },
                Refusal::Recovering,
            ),
            (
                Exposure {
                    draining: true,
                    ..calm()
                },
                Refusal::Draining,
            ),
            (
                Exposure {
                    today_profit: Decimal::from(-100),
                    ..calm()
                },
                Refusal::DailyLossLimit {
                    today: Decimal::from(-100),
                    stranded: Decimal::ZERO,
                    limit: Decimal::from(100),
                },
            ),
            (
                Exposure { open: 4, ..calm() },
                Refusal::TooManyOpen {
                    open: 4,
                    stranded: 0,
                    max: 4,
                },
            ),
            (
                Exposure {
                    token_open: 2,
                    ..calm()
                },
                Refusal::TooManyForToken {
                    token: TokenId::Eth,
                    open: 2,
                    stranded: 0,
                    max: 2,
                },
            ),
        ];
        for (exposure, refusal) in cases {
            assert_eq!(may_start(TokenId::Eth, &exposure), Err(refusal));
        }
    }

    fn cycle(id: u64, token: TokenId, state: CycleState, holding: Holding) -> Cycle {
        Cycle {
            id: CycleId(id),
            token,
            route: Route::Stargate,
            state,
            created_at: 0,
            updated_at: 0,
            vcred_in: 250 * TokenId::Vcred.one(),
            expected_x: 1,
            expected_profit_vcred: Decimal::ONE,
            expected_fees_vcred: Decimal::ZERO,
            edge_bps: 80,
            holding,
            bridge_out: None,
            bridge_back: None,
            attempt: 0,
            not_before: None,
            last_error: None,
            failure: (state == CycleState::Failed).then(|| Failure {
                reason: "test".into(),
                in_state: CycleState::BridgeOutSent,
                at: 0,
                by_operator: true,
            }),
            refusal: None,
            planned_bridge_fees: None,
            result: None,
            history: Vec::new(),
            proof_data: None,
            operator_touched: false,
            costs: Default::default(),
        }
    }

    fn holding(chain: Chain, token: TokenId, amount: Units, in_flight: bool) -> Holding {
        Holding {
            chain,
            token,
            amount,
            in_flight,
        }
    }

    #[test]
    fn failed_cycles_holding_money_count_until_resolved() {
        let eth_in_flight = holding(Chain::Ethereum, TokenId::Eth, 5, true);
        let cycles = [
            // Open: counts, not stranded.
            cycle(
                1,
                TokenId::Eth,
                CycleState::OnEthereum,
                eth_in_flight.clone(),
            ),
            // Failed holding ETH on a bridge: stranded.
            cycle(2, TokenId::Eth, CycleState::Failed, eth_in_flight.clone()),
            // Failed holding WBTC: stranded, another token.
            cycle(
                3,
                TokenId::Wbtc,
                CycleState::Failed,
                holding(Chain::Hemi, TokenId::Wbtc, 7, false),
            ),
            // Failed holding nothing: over.
            cycle(
                4,
                TokenId::Eth,
                CycleState::Failed,
                holding(Chain::Hemi, TokenId::Eth, 0, false),
            ),
            // Completed: over.
            cycle(5, TokenId::Eth, CycleState::Completed, eth_in_flight),
        ];
        let c = commitments(cycles.iter(), TokenId::Eth);
        assert_eq!(
            c,
            Commitments {
                open: 3,
                token_open: 2,
                stranded: 2,
                token_stranded: 1,
                stranded_vcred: Decimal::from(500),
            }
        );
        let e = Exposure {
            open: c.open,
            token_open: c.token_open,
            stranded: c.stranded,
            token_stranded: c.token_stranded,
            stranded_vcred: c.stranded_vcred,
            max_open: 3,
            daily_loss_limit: Decimal::from(1_000),
            ..calm()
        };
        let refused = may_start(TokenId::Eth, &e).unwrap_err();
        assert_eq!(
            refused,
            Refusal::TooManyOpen {
                open: 3,
                stranded: 2,
                max: 3
            }
        );
        assert_eq!(
            refused.to_string(),
            "3 cycles open (2 failed, holding money) (max 3)"
        );
        let e = Exposure { max_open: 4, ..e };
        assert_eq!(
            may_start(TokenId::Eth, &e),
            Err(Refusal::TooManyForToken {
                token: TokenId::Eth,
                open: 2,
                stranded: 1,
                max: 2
            })
        );
        assert_eq!(
            may_start(
                TokenId::Eth,
                &Exposure {
                    max_token_open: 3,
                    ..e.clone()
                }
            ),
            Ok(())
        );

        // 500 VCRED stranded and a 100 VCRED loss today: past a 600 limit.
        let e = Exposure {
            max_token_open: 3,
            today_profit: Decimal::from(-100),
            daily_loss_limit: Decimal::from(600),
            ..e
        };
        let refused = may_start(TokenId::Eth, &e).unwrap_err();
        assert_eq!(
            refused,
            Refusal::DailyLossLimit {
                today: Decimal::from(-100),
                stranded: Decimal::from(500),
                limit: Decimal::from(600),
            }
        );
        assert_eq!(
            refused.to_string(),
            "daily loss limit: today -100 VCRED, 500 VCRED stranded in failed cycles, limit -600"
        );
        // A day in profit does not hide stranded money past the limit.
        let e = Exposure {
            today_profit: Decimal::from(50),
            daily_loss_limit: Decimal::from(400),
            ..e
        };
        assert!(matches!(
            may_start(TokenId::Eth, &e),
            Err(Refusal::DailyLossLimit { .. })
        ));
        assert_eq!(
            may_start(
                TokenId::Eth,
                &Exposure {
                    daily_loss_limit: Decimal::from(451),
                    ..e
                }
            ),
            Ok(())
        );
    }

    #[test]
    fn a_cycle_that_never_started_holds_no_place_in_the_caps_or_the_loss_limit() {
        let mut never = cycle(
            1,
            TokenId::Eth,
            CycleState::NotStarted,
            holding(Chain::Hemi, TokenId::Vcred, 0, false),
        );
        never.refusal = Some("hemi_swap rejected: slippage".into());
        // Even one that somehow still names the VCRED it was sized at.
        let mut sized = never.clone();
        sized.id = CycleId(2);
        sized.holding.amount = sized.vcred_in;
        assert!(!is_stranded(&never) && !is_stranded(&sized));
        assert_eq!(
            commitments([&never, &sized], TokenId::Eth),
            Commitments::default()
        );
        // An old record, written before the state existed, still loads.
        let mut old = serde_json::to_value(cycle(
            3,
            TokenId::Eth,
            CycleState::Completed,
            holding(Chain::Hemi, TokenId::Vcred, 0, false),
        ))
        .unwrap();
        old.as_object_mut().unwrap().remove("refusal");
        let loaded: Cycle = serde_json::from_value(old).unwrap();
        assert_eq!(loaded.refusal, None);
    }

    #[test]
    fn a_small_loss_does_not_stop_trading() {
        let e = Exposure {
            today_profit: Decimal::from(-99),
            ..calm()
        };
        assert_eq!(may_start(TokenId::Eth, &e), Ok(()));
    }

    #[test]
    fn approval_modes() {
        assert!(!needs_approval(Approval::Auto, 10));
        assert!(needs_approval(Approval::Manual, 10));
        assert!(needs_approval(Approval::Above(5), 10));
        assert!(!needs_approval(Approval::Above(10), 10));
    }

    #[test]
    fn bounds() {
        assert!(size_ok(5, 1, 10).is_ok());
        assert_eq!(
            size_ok(11, 1, 10),
            Err(Refusal::OutOfBounds {
                size: 11,
                min: 1,
                max: 10
            })
        );
    }
}
