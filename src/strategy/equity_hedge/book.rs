//! The hedge's records: onchain trades (with what is still unallocated to a
//! hedge), per-symbol positions (long and short buckets, the one in-flight
//! hedge), hedge executions with their links to the trades they offset, and
//! alerts for a person. Plain data; `pipeline` owns every change.

use super::decode::{EventKey, FillKind, OnchainSide};
use crate::model::Timestamp;
use crate::venue::broker::{OrderRequest, OrderSide};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TradeState {
    Live,
    /// A reorg took the log back before any of it was hedged: undone.
    Reversed {
        at: Timestamp,
    },
    /// A reorg took the log back after part of it was hedged: the hedged
    /// shares have no onchain trade behind them any more (an operator matter).
    ReorgedAfterHedge {
        at: Timestamp,
        hedged: Decimal,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub id: u64,
    pub key: EventKey,
    pub block_number: u64,
    pub kind: FillKind,
    pub symbol: String,
    pub token_symbol: String,
    pub side: OnchainSide,
    pub shares: Decimal,
    pub usdc: Decimal,
    pub price: Decimal,
    pub seen_at: Timestamp,
    /// Shares not yet offset by any hedge.
    pub unallocated: Decimal,
    pub state: TradeState,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub symbol: String,
    /// Onchain buys not yet offset by a broker sell.
    pub long: Decimal,
    /// Onchain sells not yet offset by a broker buy.
    pub short: Decimal,
    /// The one hedge in flight, if any.
    pub pending: Option<u64>,
    #[serde(deserialize_with = "crate::model::decimal_or_integer")]
    pub pending_shares: Decimal,
    /// Since when a whole share (or more) has been uncovered.
    pub exposed_since: Option<Timestamp>,
    pub last_fill_at: Option<Timestamp>,
    pub fills: u64,
    /// Shares hedged (filled at the broker), both sides.
    #[serde(deserialize_with = "crate::model::decimal_or_integer")]
    pub hedged_shares: Decimal,
    /// After a failed hedge, no new one before this (a refusal may stand).
    #[serde(default)]
    pub retry_after: Option<Timestamp>,
    /// Hedges failed since the last fill at the broker: each doubles the
    /// wait, so a standing refusal is not re-sent every minute forever.
    #[serde(default)]
    pub failures_in_a_row: u32,
    /// Hedging held by a limit, and why (told once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// Shares our hedges moved at the broker (buys +, sells −).
    #[serde(default)]
    pub broker_net: Decimal,
    /// What the broker held of the symbol besides our hedges, taken at the
    /// first comparison (or when the operator accepted the broker's
    /// position): the broker should show `baseline + broker_net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_baseline: Option<Decimal>,
    /// The broker's position at the last comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_seen: Option<Decimal>,
    /// Comparisons in a row the broker's position was not explained.
    #[serde(default)]
    pub diverging_polls: u32,
    /// Hedging stopped until the operator looks: the broker's position
    /// diverged from the books, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gated: Option<String>,
    /// The operator stopped hedging this symbol (`t`, `arbkeep
    /// pause-symbol`): fills are still accounted, no order is sent until
    /// resumed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

impl Position {
    /// Positive: long onchain (hedge by selling); negative: short.
    pub fn net(&self) -> Decimal {
        self.long - self.short
    }

    /// Keep `exposed_since` honest after any change.
    pub fn touch_exposure(&mut self, now: Timestamp) {
        let exposed = self.net().abs() >= Decimal::ONE || self.pending.is_some();
        match (exposed, self.exposed_since) {
            (true, None) => self.exposed_since = Some(now),
            (false, Some(_)) => self.exposed_since = None,
            _ => {}
        }
    }
}

/// How many shares of a trade a hedge offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub trade: u64,
    pub key: EventKey,
    pub shares: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ExecState {
    /// Committed, not known to the broker. `Execution::sending` says
    /// whether a send may have left: `Some(false)` (never sent, or refused
    /// before it reached the broker) may be placed; anything else is an
    /// unknown outcome and is looked for first.
    Pending,
    /// Sent, and the answer never came or could not be read (a timeout, a
    /// 5xx or 429 after forwarding, a 2xx without an order id): looked for
    /// with `find` over the listing window, never placed again unless the
    /// operator says so (`arbkeep resolve hN retry`) or, once the window has
    /// passed, `equity_hedge.replace_after_window` is on.
    OutcomeUnknown {
        /// When the unknown answer came.
        since: Timestamp,
        /// The broker may not list the order before this.
        look_until: Timestamp,
        /// Why the outcome is unknown (the send's answer).
        reason: String,
    },
    Submitted {
        order_id: String,
    },
    Filled {
        order_id: String,
        #[serde(deserialize_with = "crate::model::decimal_or_integer")]
        shares: Decimal,
        average_price: Decimal,
        filled_at: Timestamp,
    },
    Failed {
        reason: String,
        order_id: Option<String>,
        #[serde(deserialize_with = "crate::model::decimal_or_integer")]
        filled_shares: Decimal,
        /// Shares given back to the position's net.
        #[serde(deserialize_with = "crate::model::decimal_or_integer")]
        returned: Decimal,
    },
}

impl ExecState {
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            ExecState::Pending | ExecState::OutcomeUnknown { .. } | ExecState::Submitted { .. }
        )
    }

    pub fn label(&self) -> &'static str {
        match self {
            ExecState::Pending => "pending",
            ExecState::OutcomeUnknown { .. } => "outcome unknown",
            ExecState::Submitted { .. } => "working",
            ExecState::Filled { .. } => "filled",
            ExecState::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    pub id: u64,
    pub request: OrderRequest,
    pub state: ExecState,
    /// The trades it offsets, oldest first.
    pub links: Vec<Link>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Intent before action: `Some(true)` is written before every `place`
    /// and cleared when its answer is recorded; `Some(false)`: no send can
    /// be out. `None` (records written before this field): unknown, so a
    /// pending one is looked for, never placed blindly.
    #[serde(default)]
    pub sending: Option<bool>,
    /// Order POSTs begun for this hedge (1 unless the operator retried).
    #[serde(default)]
    pub posts: u32,
    /// The exposure window's ends: when the earliest fill it offsets was
    /// detected, and when its first order left for the broker (decided at
    /// `created_at`, filled at the state's `filled_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Timestamp>,
}

impl Execution {
    pub fn symbol(&self) -> &str {
        &self.request.symbol
    }

    pub fn side(&self) -> OrderSide {
        self.request.side
    }

    /// Pending and provably never at the broker: it may be placed.
    pub fn may_place(&self) -> bool {
        self.state == ExecState::Pending && self.sending == Some(false)
    }

    /// The broker order id it holds, if any.
    pub fn order_id(&self) -> Option<&str> {
        match &self.state {
            ExecState::Submitted { order_id } | ExecState::Filled { order_id, .. } => {
                Some(order_id).filter(|o| !o.is_empty()).map(String::as_str)
            }
            ExecState::Failed { order_id, .. } => order_id.as_deref(),
            ExecState::Pending | ExecState::OutcomeUnknown { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: u64,
    pub at: Timestamp,
    pub symbol: Option<String>,
    pub message: String,
}

impl Execution {
    /// What this hedge realised, in USD, when it filled: the broker's
    /// average price against the onchain prices of the trades it offsets
    /// (weighted by the shares linked), times the shares filled. A broker
    /// sell offsets onchain buys (sold above them: a gain); a broker buy
    /// offsets onchain sells. `None` until filled, or without linked trades
    /// or prices to compare.
    pub fn realised_usd(
        &self,
        onchain_price: impl Fn(u64) -> Option<Decimal>,
    ) -> Option<(Timestamp, Decimal)> {
        let ExecState::Filled {
            shares,
            average_price,
            filled_at,
            ..
        } = &self.state
        else {
            return None;
        };
        let (mut linked, mut cost) = (Decimal::ZERO, Decimal::ZERO);
        for link in &self.links {
            let price = onchain_price(link.trade)?;
            linked = linked.checked_add(link.shares)?;
            cost = cost.checked_add(link.shares.checked_mul(price)?)?;
        }
        if linked <= Decimal::ZERO {
            return None;
        }
        let onchain = cost.checked_div(linked)?;
        let per_share = match self.request.side {
            OrderSide::Sell => average_price.checked_sub(onchain)?,
            OrderSide::Buy => onchain.checked_sub(*average_price)?,
        };
        Some((*filled_at, per_share.checked_mul(*shares)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hedge(side: OrderSide, filled: u64, at_price: &str, links: &[(u64, &str)]) -> Execution {
        Execution {
            id: 1,
            request: OrderRequest {
                client_id: "h1".into(),
                symbol: "AAPL".into(),
                side,
                shares: Decimal::from(filled),
                committed_at: 0,
            },
            state: ExecState::Filled {
                order_id: "o1".into(),
                shares: Decimal::from(filled),
                average_price: at_price.parse().unwrap(),
                filled_at: 77,
            },
            links: links
                .iter()
                .map(|(trade, shares)| Link {
                    trade: *trade,
                    key: EventKey {
                        chain_id: 8453,
                        tx_hash: format!("0x{trade}"),
                        log_index: 0,
                    },
                    shares: shares.parse().unwrap(),
                })
                .collect(),
            created_at: 0,
            updated_at: 0,
            attempts: 1,
            last_error: None,
            sending: Some(false),
            posts: 1,
            detected_at: None,
            sent_at: None,
        }
    }

    fn price(id: u64) -> Option<Decimal> {
        match id {
            1 => Some(Decimal::from(100)),
            2 => Some(Decimal::from(103)),
            _ => None,
        }
    }

    #[test]
    fn a_hedge_realises_the_broker_price_against_the_linked_onchain_prices() {
        // Onchain buys of 1.5 at 100 and 0.5 at 103 (average 100.75), sold
        // at the broker at 101: +0.25 a share on 2 shares.
        let sell = hedge(OrderSide::Sell, 2, "101", &[(1, "1.5"), (2, "0.5")]);
        assert_eq!(sell.realised_usd(price), Some((77, "0.5".parse().unwrap())));
        // Onchain sells at 100 bought back at 101: a loss of 1 a share.
        let buy = hedge(OrderSide::Buy, 3, "101", &[(1, "3")]);
        assert_eq!(buy.realised_usd(price), Some((77, Decimal::from(-3))));
        // No price for a linked trade, no links, not filled: not valued.
        assert_eq!(
            hedge(OrderSide::Buy, 1, "1", &[(9, "1")]).realised_usd(price),
            None
        );
        assert_eq!(hedge(OrderSide::Buy, 1, "1", &[]).realised_usd(price), None);
        let mut open = buy.clone();
        open.state = ExecState::Pending;
        assert_eq!(open.realised_usd(price), None);
    }

    #[test]
    fn records_written_with_whole_share_numbers_still_read_and_fractions_round_trip() {
        // A filled execution as a store held it when shares were whole numbers.
        let now = serde_json::to_string(&hedge(OrderSide::Sell, 3, "200.5", &[])).unwrap();
        let old = now.replace(r#""shares":"3""#, r#""shares":3"#);
        assert_eq!(old.matches(r#""shares":3"#).count(), 2, "{now}");
        let e: Execution = serde_json::from_str(&old).unwrap();
        assert_eq!(e.request.shares, Decimal::from(3));
        assert!(matches!(e.state, ExecState::Filled { shares, .. } if shares == Decimal::from(3)));
        let mut fractional = e.clone();
        fractional.request.shares = "0.370000001".parse().unwrap();
        let text = serde_json::to_string(&fractional).unwrap();
        assert!(text.contains(r#""shares":"0.370000001""#), "{text}");
        let back: Execution = serde_json::from_str(&text).unwrap();
        assert_eq!(back, fractional);
        // A position as written when its counts were whole numbers.
        let now = serde_json::to_string(&Position {
            symbol: "AAPL".into(),
            hedged_shares: Decimal::from(7),
            ..Position::default()
        })
        .unwrap();
        let old = now
            .replace(r#""pending_shares":"0""#, r#""pending_shares":0"#)
            .replace(r#""hedged_shares":"7""#, r#""hedged_shares":7"#);
        assert_ne!(old, now, "{now}");
        let p: Position = serde_json::from_str(&old).unwrap();
        assert_eq!(
            (p.pending_shares, p.hedged_shares),
            (Decimal::ZERO, Decimal::from(7))
        );
        let bad: Result<Position, _> =
            serde_json::from_str(&old.replace(r#""hedged_shares":7"#, r#""hedged_shares":-1"#));
        assert!(bad.is_err(), "a negative count is not a quantity");
    }

    #[test]
    fn money_lines_move_the_equity_and_its_cash_opposite_ways_and_skip_reorged_fills() {
        let trade = |id, side, state| Trade {
            id,
            key: super::super::decode::EventKey {
                chain_id: 1,
                tx_hash: format!("0x{id:064x}"),
                log_index: 3,
            },
            block_number: 10,
            kind: super::super::decode::FillKind::Take,
            symbol: "AAPL".into(),
            token_symbol: "tAAPL".into(),
            side,
            shares: "1.5".parse().unwrap(),
            usdc: "150.75".parse().unwrap(),
            price: "100.5".parse().unwrap(),
            seen_at: 5,
            unallocated: Decimal::ZERO,
            state,
        };
        let trades = [
            trade(1, OnchainSide::Bought, TradeState::Live),
            trade(2, OnchainSide::Sold, TradeState::Reversed { at: 6 }),
        ];
        let sell = hedge(OrderSide::Sell, 2, "101.25", &[(1, "1.5")]);
        let mut pending = sell.clone();
        pending.state = ExecState::Pending;
        let lines = super::super::ledger::money_lines(&trades, &[sell, pending]);
        let got: Vec<(&str, &str, String)> = lines
            .iter()
            .map(|l| (l.venue.as_str(), l.asset.as_str(), l.delta.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("raindex", "tAAPL", "1.5".to_string()),
                ("raindex", "USDC", "-150.75".to_string()),
                ("broker", "AAPL", "-2".to_string()),
                ("broker", "USD", "202.50".to_string()),
            ]
        );
        assert!(lines.iter().all(|l| l.strategy == "equity_hedge"));
        assert_eq!(lines[0].reference, format!("0x{:064x}#3", 1));
        assert_eq!((lines[2].at, lines[2].reference.as_str()), (77, "o1"));
    }
}
