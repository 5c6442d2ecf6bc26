//! The loop's standing for the kill switch (`engine::kill`): its realised
//! P&L today in USD (through the USDC→VCRED quote), the VCRED of failed
//! cycles still holding money counted as lost now, and the wallet's
//! balances per chain.

use super::CrossChainLoop;
use crate::engine::kill::{Realised, Standing, VenueBalance};
use crate::model::{Timestamp, to_decimal};
use crate::venue::LoopVenue;
use rust_decimal::Decimal;

impl<V: LoopVenue> CrossChainLoop<V> {
    /// The loop's realised P&L today (USD, through the USDC→VCRED quote),
    /// the VCRED of failed cycles still holding money counted as lost now,
    /// and the wallet's balances per chain.
    pub(super) fn loop_standing(&self, since: Timestamp) -> Standing {
        let now = self.now.max(since);
        let mut vcred: Vec<(Timestamp, Decimal)> = self.book.realised_since(since).collect();
        let stranded = self
            .cycles
            .values()
            .filter(|c| super::risk::is_stranded(c))
            .fold(Decimal::ZERO, |a, c| {
                a.saturating_add(super::risk::stranded_value(c))
            });
        if !stranded.is_zero() {
            vcred.push((now, -stranded));
        }
        let per_usdc = self
            .valuation
            .as_ref()
            .map(|v| v.vcred_per_usdc)
            .filter(|p| *p > Decimal::ZERO);
        let (realised, unvalued) = match per_usdc {
            Some(per_usdc) => (
                vcred
                    .iter()
                    .map(|(at, v)| Realised {
                        at: *at,
                        usd: v.checked_div(per_usdc).unwrap_or(if v.is_sign_negative() {
                            Decimal::MIN
                        } else {
                            Decimal::MAX
                        }),
                    })
                    .collect(),
                None,
            ),
            None if vcred.is_empty() => (Vec::new(), None),
            None => (
                Vec::new(),
                Some("no USDC→VCRED quote yet to value the loop's P&L".to_string()),
            ),
        };
        let holdings = self
            .balances
            .iter()
            .filter_map(|b| {
                Some(VenueBalance {
                    venue: b.chain.name().to_ascii_lowercase(),
                    asset: b.token.symbol().to_string(),
                    amount: to_decimal(b.amount, b.token.decimals()).ok()?,
                })
            })
            .collect();
        Standing {
            realised,
            holdings,
            unvalued,
        }
    }
}
