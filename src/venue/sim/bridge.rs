//! Bridge transfers in flight in the paper world: Stargate (delivered a few
//! minutes after the send) and Hemi's OP-style tunnel (initiate, prove after
//! the output proposal, finalize after the 24 h challenge window). Owns the
//! seeded delays and what `bridge_status` reports at a given time.

use super::rng::{Dice, Stream, label_index};
use crate::model::intent::units_str;
use crate::model::time::{DAY, MINUTE, SECOND};
use crate::model::{BridgeTicket, IntentId, Receipt, Route, Timestamp, Units};
use crate::venue::BridgeStatus;
use serde::{Deserialize, Serialize};

/// Between a prove and the earliest finalize.
pub const CHALLENGE_WINDOW_MS: u64 = DAY;

/// Funds delivered on the destination chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    pub tx_hash: String,
    pub at: Timestamp,
    #[serde(with = "units_str")]
    pub amount: Units,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub ticket: BridgeTicket,
    /// Stargate: when it is delivered. Tunnel: when prove becomes possible.
    pub ready_at: Timestamp,
    /// Tunnel: when the withdrawal was proven.
    pub proved_at: Option<Timestamp>,
    pub arrival: Option<Arrival>,
}

impl Transfer {
    pub fn new(ticket: BridgeTicket, ready_at: Timestamp) -> Self {
        Self {
            ticket,
            ready_at,
            proved_at: None,
            arrival: None,
        }
    }

    pub fn message_id(&self) -> &str {
        &self.ticket.message_id
    }

    pub fn in_flight(&self) -> bool {
        self.arrival.is_none()
    }

    /// Tunnel: earliest finalize, once proven.
    pub fn finalize_at(&self) -> Option<Timestamp> {
        self.proved_at
            .map(|p| p.saturating_add(CHALLENGE_WINDOW_MS))
    }

    /// A Stargate transfer whose delivery time has come and that has not been credited.
    pub fn due(&self, now: Timestamp) -> bool {
        self.ticket.route == Route::Stargate && self.in_flight() && now >= self.ready_at
    }

    /// The destination-chain receipt of a delivered Stargate transfer (the
    /// relayer pays its gas). Tunnel arrivals are the keeper's own finalize tx.
    pub fn arrival_receipt(&self) -> Option<Receipt> {
        let a = self
            .arrival
            .as_ref()
            .filter(|_| self.ticket.route == Route::Stargate)?;
        Some(Receipt {
            tx_hash: a.tx_hash.clone(),
            chain: self.ticket.to,
            at: a.at,
            gas_fee: 0,
            amount_in: 0,
            amount_out: a.amount,
            bridge_fee_native: 0,
            bridge_fee_token: 0,
            ticket: Some(self.ticket.clone()),
            via: None,
        })
    }

    pub fn status(&self, now: Timestamp) -> BridgeStatus {
        if let Some(a) = &self.arrival {
            return BridgeStatus::Arrived {
                amount: a.amount,
                tx_hash: a.tx_hash.clone(),
                at: a.at,
            };
        }
        match (self.ticket.route, self.finalize_at()) {
            (Route::Stargate, _) => BridgeStatus::InFlight {
                ready_at: Some(self.ready_at),
                note: None,
            },
            (Route::HemiTunnel, None) if now < self.ready_at => BridgeStatus::InFlight {
                ready_at: Some(self.ready_at),
                note: None,
            },
            (Route::HemiTunnel, None) => BridgeStatus::ProveReady,
            (Route::HemiTunnel, Some(f)) if now < f => BridgeStatus::Proved { finalize_at: f },
            (Route::HemiTunnel, Some(_)) => BridgeStatus::FinalizeReady,
        }
    }
}

fn delay(seed: u64, intent: IntentId, min_s: u64, max_s: u64) -> u64 {
    let mut dice = Dice::new(seed, Stream::BridgeDelay, label_index(&intent.to_string()));
    dice.between(min_s, max_s) * SECOND
}

/// Stargate delivers 2–6 minutes after the send.
pub fn stargate_delay(seed: u64, intent: IntentId) -> u64 {
    delay(seed, intent, 2 * MINUTE / SECOND, 6 * MINUTE / SECOND)
}

/// The tunnel's output proposal lands 45–75 minutes after the initiation.
pub fn prove_delay(seed: u64, intent: IntentId) -> u64 {
    delay(seed, intent, 45 * MINUTE / SECOND, 75 * MINUTE / SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Chain, CycleId, StepKind, TokenId};

    fn ticket(route: Route) -> BridgeTicket {
        BridgeTicket {
            route,
            token: TokenId::Wbtc,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount_sent: 100,
            expected_amount: 100,
            message_id: "0xm".into(),
            source_tx: "0xs".into(),
            sent_at: 0,
        }
    }

    #[test]
    fn delays_are_seeded_and_in_range() {
        for attempt in 0..200 {
            let id = IntentId {
                cycle: CycleId(1),
                step: StepKind::BridgeOut,
                attempt,
            };
            let s = stargate_delay(4, id);
            assert!((2 * MINUTE..=6 * MINUTE).contains(&s));
            assert_eq!(s, stargate_delay(4, id));
            let p = prove_delay(4, id);
            assert!((45 * MINUTE..=75 * MINUTE).contains(&p));
        }
    }

    #[test]
    fn tunnel_walks_through_its_stages() {
        let mut t = Transfer::new(ticket(Route::HemiTunnel), 1_000);
        assert_eq!(
            t.status(999),
            BridgeStatus::InFlight {
                ready_at: Some(1_000),
                note: None
            }
        );
        assert_eq!(t.status(1_000), BridgeStatus::ProveReady);
        t.proved_at = Some(2_000);
        let f = 2_000 + DAY;
        assert_eq!(t.status(f - 1), BridgeStatus::Proved { finalize_at: f });
        assert_eq!(t.status(f), BridgeStatus::FinalizeReady);
        assert!(!t.due(f));
        t.arrival = Some(Arrival {
            tx_hash: "0xf".into(),
            at: f + 5,
            amount: 100,
        });
        assert!(matches!(
            t.status(f + 5),
            BridgeStatus::Arrived { amount: 100, .. }
        ));
    }

    #[test]
    fn stargate_is_due_at_its_delivery_time() {
        let t = Transfer::new(ticket(Route::Stargate), 500);
        assert!(!t.due(499));
        assert!(t.due(500));
        assert_eq!(
            t.status(600),
            BridgeStatus::InFlight {
                ready_at: Some(500),
                note: None
            }
        );
    }
}
