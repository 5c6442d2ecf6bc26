//! The risk gate (rule 5): every new cycle passes pause-all, pause-token,
//! drain, the daily loss limit, open-cycle caps, available capital and the
//! size bounds. A refusal says why, so the screen can too.

use crate::config::Approval;
use crate::model::{TokenId, Units, format_units};
use rust_decimal::Decimal;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    PausedAll,
    PausedToken(TokenId),
    Recovering,
    Draining,
    DailyLossLimit { today: Decimal, limit: Decimal },
    TooManyOpen { open: u32, max: u32 },
    TooManyForToken { token: TokenId, open: u32, max: u32 },
    NotEnoughVcred { available: Units, min: Units },
    OutOfBounds { size: Units, min: Units, max: Units },
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
            Refusal::DailyLossLimit { today, limit } => {
                write!(f, "daily loss limit: today {today} VCRED, limit -{limit}")
            }
            Refusal::TooManyOpen { open, max } => write!(f, "{open} cycles open (max {max})"),
            Refusal::TooManyForToken { token, open, max } => {
                write!(f, "{open} {token} cycles open (max {max})")
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
    pub open: u32,
    pub max_open: u32,
    pub token_open: u32,
    pub max_token_open: u32,
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
    if e.today_profit <= -e.daily_loss_limit && e.today_profit < Decimal::ZERO {
        return Err(Refusal::DailyLossLimit {
            today: e.today_profit,
            limit: e.daily_loss_limit,
        });
    }
    if e.open >= e.max_open {
        return Err(Refusal::TooManyOpen {
            open: e.open,
            max: e.max_open,
        });
    }
    if e.token_open >= e.max_token_open {
        return Err(Refusal::TooManyForToken {
            token,
            open: e.token_open,
            max: e.max_token_open,
        });
    }
    Ok(())
}

/// Is `size` within the hard bounds (seed §12.1)?
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
                    limit: Decimal::from(100),
                },
            ),
            (
                Exposure { open: 4, ..calm() },
                Refusal::TooManyOpen { open: 4, max: 4 },
            ),
            (
                Exposure {
                    token_open: 2,
                    ..calm()
                },
                Refusal::TooManyForToken {
                    token: TokenId::Eth,
                    open: 2,
                    max: 2,
                },
            ),
        ];
        for (exposure, refusal) in cases {
            assert_eq!(may_start(TokenId::Eth, &exposure), Err(refusal));
        }
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
