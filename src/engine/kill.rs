//! The kill switch: one guard over every strategy together. Each strategy
//! says what it realised today and what it holds (`Standing`, valued in
//! USD); the switch trips when the day's drawdown over all of them passes
//! `risk.daily_drawdown_usd`, or when a balance passes its cap in
//! `[risk.caps]`. Tripping pauses everything (stored, so a restart keeps
//! it), says why on screen and by webhook, and only the operator's resume
//! clears it — refused while the breach still holds.
//!
//! The drawdown is peak to trough over the UTC day: the running sum of
//! every strategy's realised P&L in time order, from zero at midnight,
//! against the highest it reached. A day that made 500 and then lost 800
//! has a drawdown of 800 though it is only 300 down.

pub use crate::config::BalanceCap;
use crate::config::Config;
use crate::model::Timestamp;
use crate::model::time::{DAY, day_of};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One realised result, valued in USD when it was booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Realised {
    pub at: Timestamp,
    pub usd: Decimal,
}

/// What one asset at one venue holds now, in whole units of the asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueBalance {
    /// `hemi`, `ethereum`, `stellar`: the first half of a cap's key.
    pub venue: String,
    /// `VCRED`, `ETH`, `XLM`, `USDC`: the second half.
    pub asset: String,
    pub amount: Decimal,
}

/// A strategy's part of the kill switch's picture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// Realised since the start of the day (any order).
    pub realised: Vec<Realised>,
    pub holdings: Vec<VenueBalance>,
    /// Results that could not be valued in USD (no price yet), in words.
    pub unvalued: Option<String>,
}

/// The switch's limits; both reloadable (SIGHUP).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillLimits {
    /// Off when `None`.
    pub daily_drawdown_usd: Option<Decimal>,
    pub caps: Vec<BalanceCap>,
}

impl KillLimits {
    pub fn of(c: &Config) -> Self {
        Self {
            daily_drawdown_usd: c.risk.daily_drawdown_usd,
            caps: c.risk.caps.clone(),
        }
    }
}

/// Why the switch trips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    Drawdown {
        drawdown: Decimal,
        today: Decimal,
        limit: Decimal,
        /// Each strategy's realised P&L today.
        by_strategy: Vec<(String, Decimal)>,
    },
    Cap {
        cap: BalanceCap,
        amount: Decimal,
    },
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::Drawdown {
                drawdown,
                today,
                limit,
                by_strategy,
            } => {
                write!(
                    f,
                    "daily drawdown {} USD over all strategies (today {} USD",
                    usd(*drawdown),
                    usd(*today)
                )?;
                for (name, pnl) in by_strategy {
                    write!(f, "; {name} {}", usd(*pnl))?;
                }
                write!(
                    f,
                    ") passed risk.daily_drawdown_usd {} USD",
                    limit.normalize()
                )
            }
            Breach::Cap { cap, amount } => write!(
                f,
                "{} {} holds {} {}, over its cap {} (risk.caps.\"{}\")",
                cap.venue,
                cap.asset,
                amount.normalize(),
                cap.asset,
                cap.max.normalize(),
                cap.key()
            ),
        }
    }
}

/// Two places, the way the screen shows money in USD.
fn usd(v: Decimal) -> Decimal {
    v.round_dp(2).normalize()
}

/// The day's figures over every strategy, for the screen and `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRisk {
    /// Realised today, all strategies, USD.
    pub today_usd: Decimal,
    /// The highest the running sum reached today (at least 0).
    pub peak_usd: Decimal,
    /// Peak minus the lowest point after it.
    pub drawdown_usd: Decimal,
    pub limit_usd: Option<Decimal>,
    pub by_strategy: Vec<(String, Decimal)>,
    /// Strategies whose results could not all be valued, and why.
    pub unvalued: Vec<String>,
}

/// The start of the UTC day `now` is in.
pub fn day_start(now: Timestamp) -> Timestamp {
    day_of(now) * DAY
}

/// The day's figures from every strategy's standing (named).
pub fn day_risk(standings: &[(String, Standing)], limits: &KillLimits) -> DayRisk {
    let mut events: Vec<Realised> = standings
        .iter()
        .flat_map(|(_, s)| s.realised.iter().copied())
        .collect();
    events.sort_by_key(|e| e.at);
    let (mut running, mut peak, mut drawdown) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for e in &events {
        running = running.saturating_add(e.usd);
        peak = peak.max(running);
        drawdown = drawdown.max(peak.saturating_sub(running));
    }
    DayRisk {
        today_usd: running,
        peak_usd: peak,
        drawdown_usd: drawdown,
        limit_usd: limits.daily_drawdown_usd,
        by_strategy: standings
            .iter()
            .map(|(name, s)| {
                let sum = s
                    .realised
                    .iter()
                    .fold(Decimal::ZERO, |a, e| a.saturating_add(e.usd));
                (name.clone(), sum)
            })
            .collect(),
        unvalued: standings
            .iter()
            .filter_map(|(name, s)| s.unvalued.as_ref().map(|why| format!("{name}: {why}")))
            .collect(),
    }
}

/// The first breach, if any: the drawdown first, then the caps in order.
pub fn breach(
    day: &DayRisk,
    standings: &[(String, Standing)],
    limits: &KillLimits,
) -> Option<Breach> {
    if let Some(limit) = limits.daily_drawdown_usd
        && day.drawdown_usd > limit
    {
        return Some(Breach::Drawdown {
            drawdown: day.drawdown_usd,
            today: day.today_usd,
            limit,
            by_strategy: day.by_strategy.clone(),
        });
    }
    for cap in &limits.caps {
        let amount = standings
            .iter()
            .flat_map(|(_, s)| s.holdings.iter())
            .filter(|h| {
                h.venue.eq_ignore_ascii_case(&cap.venue) && h.asset.eq_ignore_ascii_case(&cap.asset)
            })
            .fold(Decimal::ZERO, |a, h| a.saturating_add(h.amount));
        if amount > cap.max {
            return Some(Breach::Cap {
                cap: cap.clone(),
                amount,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: &str) -> Decimal {
        v.parse().unwrap()
    }

    fn standing(events: &[(Timestamp, &str)]) -> Standing {
        Standing {
            realised: events
                .iter()
                .map(|(at, usd)| Realised {
                    at: *at,
                    usd: d(usd),
                })
                .collect(),
            ..Standing::default()
        }
    }

    fn limits(drawdown: &str) -> KillLimits {
        KillLimits {
            daily_drawdown_usd: Some(d(drawdown)),
            caps: Vec::new(),
        }
    }

    #[test]
    fn the_drawdown_is_peak_to_trough_over_every_strategy_in_time_order() {
        // loop makes 500 at t1; the hedge loses 800 at t2; Stellar makes 100 at t3.
        let all = vec![
            ("loop".to_string(), standing(&[(1, "500")])),
            ("equity_hedge".to_string(), standing(&[(2, "-800")])),
            ("stellar_arb".to_string(), standing(&[(3, "100")])),
        ];
        let day = day_risk(&all, &limits("1000"));
        assert_eq!(day.today_usd, d("-200"));
        assert_eq!(day.peak_usd, d("500"));
        assert_eq!(day.drawdown_usd, d("800"));
        assert_eq!(breach(&day, &all, &limits("1000")), None);
        let tight = limits("799.99");
        let b = breach(&day, &all, &tight).expect("800 down from the peak passes 799.99");
        let text = b.to_string();
        assert!(text.contains("daily drawdown 800 USD"), "{text}");
        assert!(text.contains("equity_hedge -800"), "{text}");
        assert!(text.contains("risk.daily_drawdown_usd 799.99"), "{text}");
    }

    #[test]
    fn a_day_that_only_loses_counts_from_zero_and_an_exact_limit_holds() {
        let all = vec![("loop".to_string(), standing(&[(5, "-10"), (6, "-15")]))];
        let day = day_risk(&all, &limits("25"));
        assert_eq!((day.peak_usd, day.drawdown_usd), (Decimal::ZERO, d("25")));
        assert_eq!(
            breach(&day, &all, &limits("25")),
            None,
            "at the limit is not past it"
        );
        assert!(breach(&day, &all, &limits("24.99")).is_some());
        assert_eq!(breach(&day, &all, &KillLimits::default()), None, "off");
    }

    #[test]
    fn a_cap_sums_a_venue_s_holdings_of_an_asset_and_names_its_key() {
        let mut s = Standing::default();
        for amount in ["600", "500"] {
            s.holdings.push(VenueBalance {
                venue: "stellar".into(),
                asset: "XLM".into(),
                amount: d(amount),
            });
        }
        let all = vec![("stellar_arb".to_string(), s)];
        let mut l = KillLimits::default();
        l.caps.push(BalanceCap {
            venue: "stellar".into(),
            asset: "xlm".into(),
            max: d("1000"),
        });
        let day = day_risk(&all, &l);
        let b = breach(&day, &all, &l).expect("1100 XLM is over 1000");
        assert_eq!(
            b.to_string(),
            "stellar xlm holds 1100 xlm, over its cap 1000 (risk.caps.\"stellar.xlm\")"
        );
        l.caps[0].max = d("1100");
        assert_eq!(breach(&day, &all, &l), None);
    }

    #[test]
    fn extreme_values_saturate_instead_of_panicking() {
        let all = vec![(
            "loop".to_string(),
            standing(&[
                (1, &Decimal::MAX.to_string()),
                (2, &Decimal::MAX.to_string()),
            ]),
        )];
        let day = day_risk(&all, &limits("1"));
        assert_eq!(day.today_usd, Decimal::MAX);
    }
}
