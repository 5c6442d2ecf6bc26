//! `SimWorld`: the paper world as one shareable handle — its file, its clock
//! and its state behind a lock. Owns opening (genesis or resume), catching up
//! with the clock, and storing each change in one transaction, including the
//! one-transaction rule for `execute`: a send is counted and its effect
//! stored together, or neither is.

use super::actions;
use super::error::SimError;
use super::state::State;
use super::store::{Execution, Store, Writer};
use crate::model::{Chain, Clock, Intent, Receipt, Timestamp, TokenId, Units};
use crate::venue::VenueError;
use crate::venue::faults::FaultDice;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// 2026-01-01T00:00:00Z: the genesis time of a world when no file exists.
pub const PAPER_EPOCH: Timestamp = 1_767_225_600_000;

/// The paper world. Clones share one world.
#[derive(Clone)]
pub struct SimWorld {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Seeded faults at the send boundary (`execute`); off by default.
    faults: FaultDice,
}

/// How the chains' faults name the venue in their errors.
const FAULT_VENUE: &str = "paper chain RPC";

impl std::fmt::Debug for SimWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("SimWorld")
            .field("seed", &state.seed)
            .field("time", &state.time)
            .finish()
    }
}

impl SimWorld {
    /// Open the world persisted at `path`, or create it with genesis at
    /// `max(clock.now(), PAPER_EPOCH)`. A file made under another seed is
    /// refused: its history only makes sense under its own seed.
    pub fn open(path: &Path, seed: u64, clock: Arc<dyn Clock>) -> Result<SimWorld, SimError> {
        Self::open_with_faults(path, seed, clock, FaultDice::off())
    }

    /// `open`, with `faults` injected at every `execute`.
    pub fn open_with_faults(
        path: &Path,
        seed: u64,
        clock: Arc<dyn Clock>,
        faults: FaultDice,
    ) -> Result<SimWorld, SimError> {
        let store = Store::open(path)?;
        let state = match store.load()? {
            Some(state) if state.seed != seed => {
                return Err(SimError::SeedMismatch {
                    path: path.to_path_buf(),
                    stored: state.seed,
                    given: seed,
                });
            }
            Some(state) => state,
            None => {
                let state = State::genesis(seed, clock.now().max(PAPER_EPOCH));
                store.write(|w| {
                    w.identity(&state)?;
                    w.world(state.time, state.epoch, &state.market, &state.wallet)
                })?;
                state
            }
        };
        let world = SimWorld {
            inner: Arc::new(Inner {
                store,
                clock,
                state: Mutex::new(state),
                faults,
            }),
        };
        world.checkpoint()?;
        Ok(world)
    }

    /// The highest simulated time the world file has seen (None if no file):
    /// the binary resumes its clock from it. Call before `open`.
    pub fn resume_time(path: &Path) -> Result<Option<Timestamp>, SimError> {
        Store::peek_time(path)
    }

    /// Starting balances written at genesis, sorted by (chain, token).
    pub fn genesis_balances(&self) -> Vec<(Chain, TokenId, Units)> {
        self.lock().genesis.rows()
    }

    /// Current balances, sorted by (chain, token).
    pub fn balances(&self) -> Vec<(Chain, TokenId, Units)> {
        self.synced().wallet.rows()
    }

    /// Sends per intent id (its Display string): executions that took effect,
    /// plus any send of an intent already executed. A call refused before
    /// sending (slippage, deadline, balance) is not a send.
    pub fn execution_counts(&self) -> BTreeMap<String, u32> {
        self.lock().counts.clone()
    }

    /// Every intent id sent here, with its count and the receipt of the
    /// call that acted (the soak compares them with the engine's books).
    pub fn executions(&self) -> Result<BTreeMap<String, Execution>, SimError> {
        self.inner.store.executions()
    }

    /// Every bridge transfer the world has seen, delivered or not.
    pub fn transfers(&self) -> Vec<super::bridge::Transfer> {
        self.synced().transfers.values().cloned().collect()
    }

    /// The send faults (tests script them).
    pub fn faults(&self) -> &FaultDice {
        &self.inner.faults
    }

    /// Bring the world up to `clock.now()` and store it durably.
    pub fn checkpoint(&self) -> Result<(), SimError> {
        let mut state = self.lock();
        state.advance(self.inner.clock.now());
        self.persist(&mut state)
    }

    /// The simulated time the world has reached.
    pub fn now(&self) -> Timestamp {
        self.synced().time
    }

    /// The state, without catching up. Nothing here panics by design; were
    /// something to, the file still holds the last committed world and the
    /// in-memory one is the best we have, so a poisoned lock is taken as is.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state caught up with the clock. Market moves are recomputed
    /// identically after a crash, so they are stored only with checkpoints
    /// and executes; a delivery is stored at once, so that an arrival the
    /// engine saw is never taken back by a restart.
    pub(super) fn synced(&self) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        if state.advance(self.inner.clock.now()) > 0
            && let Err(e) = self.persist(&mut state)
        {
            tracing::warn!(error = %e, "paper world: could not store a bridge delivery yet");
        }
        state
    }

    pub(super) fn store(&self) -> &Store {
        &self.inner.store
    }

    fn persist(&self, state: &mut State) -> Result<(), SimError> {
        self.inner.store.write(|w| {
            w.world(state.time, state.epoch, &state.market, &state.wallet)?;
            write_dirty(w, state)
        })?;
        state.dirty.clear();
        Ok(())
    }

    /// `LoopVenue::execute`: count the send and store its effect in one
    /// durable transaction.
    /// A seeded fault may refuse the call before anything happens, or let
    /// it act (counted and stored like any other) and then lose its answer.
    pub(super) fn execute_intent(&self, intent: &Intent) -> Result<Receipt, VenueError> {
        let fault = self.inner.faults.draw();
        if let Some(f) = fault.filter(|f| !f.acts()) {
            return Err(f.error(FAULT_VENUE));
        }
        let answer = self.execute_unfaulted(intent);
        match fault {
            Some(f) => Err(f.error(FAULT_VENUE)),
            None => answer,
        }
    }

    fn execute_unfaulted(&self, intent: &Intent) -> Result<Receipt, VenueError> {
        let mut state = self.synced();
        let key = intent.id.to_string();
        let previous = self.inner.store.execution(&key).map_err(|e| e.as_venue())?;
        let abandoned = previous.as_ref().is_some_and(|e| e.abandoned);
        let done_before = previous.and_then(|e| e.receipt);
        if abandoned && done_before.is_none() {
            return Err(VenueError::Rejected(format!(
                "intent {key} was abandoned by the operator; it is never sent"
            )));
        }
        let outcome = match &done_before {
            // A chain refuses a nonce it has already used.
            Some(done) => Err(VenueError::Rejected(format!(
                "intent {key} already executed (nonce used) in tx {}",
                done.tx_hash
            ))),
            None => actions::apply(&state, intent, state.time),
        };
        // Counted: sends that took effect, and any send of an intent whose
        // nonce is already used (a double send). A call refused by the
        // pre-send simulation (slippage, deadline, balance) sent nothing and
        // leaves the nonce free, so sending it again later is legitimate.
        let sent = outcome.is_ok() || done_before.is_some();
        let count = state.counts.get(&key).copied().unwrap_or(0) + u32::from(sent);
        let execution = Execution {
            count,
            abandoned: false,
            receipt: outcome
                .as_ref()
                .ok()
                .map(|a| a.receipt.clone())
                .or(done_before),
        };
        let (market, wallet) = match &outcome {
            Ok(a) => (&a.market, &a.wallet),
            Err(_) => (&state.market, &state.wallet),
        };
        let written = self.inner.store.write(|w| {
            w.world(state.time, state.epoch, market, wallet)?;
            write_dirty(w, &state)?;
            if let Ok(applied) = &outcome {
                if let Some(t) = &applied.transfer {
                    w.transfer(t)?;
                }
                w.tx(&applied.receipt)?;
            }
            w.execution(&key, &execution)
        });
        match (written, outcome) {
            (Err(e), Ok(_)) => Err(VenueError::Unknown(format!(
                "intent {key}: the paper world could not store its outcome ({e}); settle before retrying"
            ))),
            // Nothing moved either way; the count may be lost with the write.
            (Err(e), Err(rejection)) => {
                tracing::warn!(error = %e, intent = %key, "paper world: could not count a rejected call");
                Err(rejection)
            }
            (Ok(()), outcome) => {
                state.dirty.clear();
                state.counts.insert(key, count);
                let applied = outcome?;
                state.market = applied.market;
                state.wallet = applied.wallet;
                if let Some(t) = applied.transfer {
                    state.transfers.insert(t.message_id().to_string(), t);
                }
                Ok(applied.receipt)
            }
        }
    }
}

impl SimWorld {
    /// The operator moves past an intent: its receipt if it acted, else it
    /// is marked so that no later call carries it out.
    pub(super) fn abandon_intent(
        &self,
        intent: &crate::model::IntentId,
    ) -> Result<crate::venue::Abandonment, VenueError> {
        let _state = self.synced();
        let key = intent.to_string();
        let previous = self.inner.store.execution(&key).map_err(|e| e.as_venue())?;
        if let Some(receipt) = previous.as_ref().and_then(|e| e.receipt.clone()) {
            return Ok(crate::venue::Abandonment::Done(Box::new(receipt)));
        }
        let execution = Execution {
            count: previous.map(|e| e.count).unwrap_or(0),
            receipt: None,
            abandoned: true,
        };
        self.inner
            .store
            .write(|w| w.execution(&key, &execution))
            .map_err(|e| e.as_venue())?;
        Ok(crate::venue::Abandonment::NeverSent)
    }
}

/// Transfers changed since the last write, and the arrival receipts of those delivered.
fn write_dirty(w: &mut Writer<'_>, state: &State) -> Result<(), SimError> {
    for id in &state.dirty {
        if let Some(t) = state.transfers.get(id) {
            w.transfer(t)?;
            if let Some(receipt) = t.arrival_receipt() {
                w.tx(&receipt)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::{HOUR, MINUTE};
    use crate::model::{Action, ManualClock, Route, StepKind};
    use crate::venue::sim::testing::{Fixture, clean, swap, temp_path};
    use crate::venue::sim::wallet::Wallet;
    use crate::venue::{BridgeStatus, LoopVenue};

    /// Step `k` of a fixed script: when (after the start), and what.
    fn script(k: usize, now: Timestamp) -> (u64, StepKind, Action) {
        let eth = TokenId::Eth.one();
        match k {
            0 => (
                17 * MINUTE + 5_000,
                StepKind::HemiSwap,
                swap(
                    Chain::Hemi,
                    TokenId::Vcred,
                    TokenId::Eth,
                    20_000_000_000,
                    1,
                    now,
                ),
            ),
            1 => (
                95 * MINUTE,
                StepKind::BridgeOut,
                Action::BridgeSend {
                    route: Route::Stargate,
                    token: TokenId::Eth,
                    from: Chain::Hemi,
                    to: Chain::Ethereum,
                    amount: eth,
                },
            ),
            2 => (
                3 * HOUR + 1,
                StepKind::EthSwap,
                swap(
                    Chain::Ethereum,
                    TokenId::Eth,
                    TokenId::Usdc,
                    eth / 2,
                    1,
                    now,
                ),
            ),
            _ => (
                7 * HOUR,
                StepKind::CloseSwap,
                swap(
                    Chain::Hemi,
                    TokenId::Vcred,
                    TokenId::HemiBtc,
                    9_000_000_000,
                    1,
                    now,
                ),
            ),
        }
    }

    /// The same script of intents at the same times, with the world polled
    /// every `poll_every` (or never) in between: the result must not depend on it.
    async fn scripted(name: &str, poll_every: Option<u64>) -> State {
        let f = Fixture::new(name, 77);
        let start = f.clock.now();
        let mut t = start;
        for k in 0..4 {
            let (at, _, _) = script(k, 0);
            if let Some(every) = poll_every {
                while t + every < start + at {
                    t += every;
                    f.clock.set(t);
                    f.world.checkpoint().unwrap();
                    let _ = f
                        .world
                        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, 1_000_000)
                        .await;
                }
            }
            t = start + at;
            f.clock.set(t);
            let (_, step, action) = script(k, f.clock.now());
            f.world.execute(&f.intent(1, step, action)).await.unwrap();
        }
        f.clock.set(start + 10 * HOUR);
        f.world.checkpoint().unwrap();
        let state = f.world.lock().clone();
        f.clean();
        state
    }

    #[tokio::test]
    async fn the_world_does_not_depend_on_how_often_it_is_asked() {
        let every_minute = scripted("det-minute", Some(MINUTE)).await;
        let every_hour = scripted("det-hour", Some(HOUR)).await;
        let never = scripted("det-never", None).await;
        assert_eq!(every_minute.market, every_hour.market);
        assert_eq!(every_minute.wallet, every_hour.wallet);
        assert_eq!(every_minute.transfers, every_hour.transfers);
        assert_eq!(every_minute.market, never.market);
        assert_eq!(every_minute.wallet, never.wallet);
        assert_eq!(every_minute.time, never.time);
        assert_ne!(every_minute.wallet, Wallet::genesis());
    }

    #[tokio::test]
    async fn a_transfer_in_flight_survives_a_restart() {
        let f = Fixture::new("restart", 12);
        let now = f.clock.now();
        let buy = swap(
            Chain::Hemi,
            TokenId::Vcred,
            TokenId::CbBtc,
            8_000_000_000,
            1,
            now,
        );
        let cbbtc = f
            .world
            .execute(&f.intent(1, StepKind::HemiSwap, buy))
            .await
            .unwrap()
            .amount_out;
        let stargate = Action::BridgeSend {
            route: Route::Stargate,
            token: TokenId::Eth,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount: TokenId::Eth.one() / 2,
        };
        let fast = f
            .world
            .execute(&f.intent(2, StepKind::BridgeOut, stargate))
            .await
            .unwrap()
            .ticket
            .unwrap();
        let tunnel = Action::BridgeSend {
            route: Route::HemiTunnel,
            token: TokenId::CbBtc,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount: cbbtc,
        };
        let slow = f
            .world
            .execute(&f.intent(1, StepKind::BridgeOut, tunnel))
            .await
            .unwrap()
            .ticket
            .unwrap();
        f.clock.advance(MINUTE);
        let balances = f.world.balances();
        let counts = f.world.execution_counts();
        let market = f.world.lock().market.clone();

        // Killed without a checkpoint: the file has what the executes stored.
        let f = f.reopen();
        assert_eq!(f.clock.now(), now);
        assert_eq!(f.world.genesis_balances(), Wallet::genesis().rows());
        assert_eq!(f.world.execution_counts(), counts);
        f.clock.set(now + MINUTE);
        assert_eq!(f.world.balances(), balances);
        assert_eq!(f.world.lock().market, market);
        assert!(matches!(
            f.world.bridge_status(&fast).await,
            Ok(BridgeStatus::InFlight { .. })
        ));

        f.clock.advance(10 * MINUTE);
        let eth = f.balance(Chain::Ethereum, TokenId::Eth);
        assert_eq!(eth, 2 * TokenId::Eth.one() + fast.expected_amount);
        // The tunnel's output is proposed 45–75 minutes after the send, not yet.
        assert!(matches!(
            f.world.bridge_status(&slow).await,
            Ok(BridgeStatus::InFlight { ready_at: Some(at), .. }) if at >= now + 45 * MINUTE
        ));

        // The delivery was stored at once: a second crash does not take it back.
        let f = f.reopen();
        assert_eq!(f.balance(Chain::Ethereum, TokenId::Eth), eth);
        f.clock.advance(2 * HOUR);
        f.world.checkpoint().unwrap();
        let f = f.reopen();
        assert_eq!(
            f.world.bridge_status(&slow).await,
            Ok(BridgeStatus::ProveReady)
        );
        let prove = f.intent(
            1,
            StepKind::Prove,
            Action::Prove {
                ticket: slow.clone(),
                proof: None,
            },
        );
        f.world.execute(&prove).await.unwrap();
        f.clean();
    }

    #[test]
    fn resume_time_and_seed_are_checked() {
        let path = temp_path("resume");
        assert_eq!(SimWorld::resume_time(&path).unwrap(), None);
        let clock = Arc::new(ManualClock::new(0));
        let world = SimWorld::open(&path, 5, clock.clone()).unwrap();
        // A clock before the paper epoch starts the world at the epoch.
        assert_eq!(world.now(), PAPER_EPOCH);
        clock.set(PAPER_EPOCH + 90 * MINUTE + 7);
        world.checkpoint().unwrap();
        // The world never goes back, even if the clock does.
        clock.set(PAPER_EPOCH);
        assert_eq!(world.now(), PAPER_EPOCH + 90 * MINUTE + 7);
        drop(world);
        assert_eq!(
            SimWorld::resume_time(&path).unwrap(),
            Some(PAPER_EPOCH + 90 * MINUTE + 7)
        );
        let err = SimWorld::open(&path, 6, clock).unwrap_err();
        assert!(
            matches!(
                err,
                SimError::SeedMismatch {
                    stored: 5,
                    given: 6,
                    ..
                }
            ),
            "{err}"
        );
        clean(&path);
    }
}
