//! The paper world's state held in memory — markets, wallet, bridge
//! transfers, execution counts, simulated time — and how it catches up with
//! the clock: whole epochs of market moves, then bridge deliveries. The store
//! keeps a copy of all of it; this is the copy that is computed on.

use super::bridge::{Arrival, Transfer};
use super::ids;
use super::market::{EPOCH_MS, Market};
use super::wallet::Wallet;
use crate::model::{Timestamp, TokenId};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub seed: u64,
    /// When the world was created (floored to an epoch).
    pub genesis_time: Timestamp,
    /// The highest simulated time seen: the world never goes back.
    pub time: Timestamp,
    /// The last epoch whose market moves are applied.
    pub epoch: u64,
    pub market: Market,
    pub wallet: Wallet,
    pub genesis: Wallet,
    /// Every bridge transfer ever sent, by message id.
    pub transfers: BTreeMap<String, Transfer>,
    /// `execute` calls per intent id.
    pub counts: BTreeMap<String, u32>,
    /// Transfers changed since the store last saw them.
    pub dirty: BTreeSet<String>,
}

impl State {
    /// A new world at `at`: genesis markets and wallet.
    pub fn genesis(seed: u64, at: Timestamp) -> State {
        let epoch = at / EPOCH_MS;
        State {
            seed,
            genesis_time: epoch * EPOCH_MS,
            time: epoch * EPOCH_MS,
            epoch,
            market: Market::genesis(),
            wallet: Wallet::genesis(),
            genesis: Wallet::genesis(),
            transfers: BTreeMap::new(),
            counts: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }

    /// Bring the world up to `now` (or keep it where it is if `now` is
    /// earlier): apply each epoch not yet applied, then deliver every Stargate
    /// transfer whose time has come. Returns how many were delivered.
    pub fn advance(&mut self, now: Timestamp) -> usize {
        self.time = self.time.max(now);
        let target = self.time / EPOCH_MS;
        while self.epoch < target {
            self.epoch += 1;
            self.market.step(self.seed, self.epoch);
        }
        // Deliveries touch only the wallet, never the markets, so crediting
        // them after the epochs gives the same world as interleaving them.
        let due: Vec<String> = self
            .transfers
            .values()
            .filter(|t| t.due(self.time))
            .map(|t| t.message_id().to_string())
            .collect();
        for id in &due {
            let seed = self.seed;
            if let Some(t) = self.transfers.get_mut(id) {
                let amount = t.ticket.expected_amount;
                t.arrival = Some(Arrival {
                    tx_hash: ids::arrival_hash(seed, id),
                    at: t.ready_at,
                    amount,
                });
                self.wallet.credit(t.ticket.to, t.ticket.token, amount);
                self.dirty.insert(id.clone());
            }
        }
        due.len()
    }

    /// Transfers not yet delivered, per route.
    pub fn in_flight(&self) -> impl Iterator<Item = &Transfer> {
        self.transfers.values().filter(|t| t.in_flight())
    }

    /// Amount of `token` in flight towards anywhere (for conservation checks).
    pub fn in_flight_amount(&self, token: TokenId) -> u128 {
        self.in_flight()
            .filter(|t| t.ticket.token == token)
            .map(|t| t.ticket.expected_amount)
            .sum()
    }
}
