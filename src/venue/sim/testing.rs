//! Helpers shared by the paper world's tests: unique temporary data files.

use std::path::PathBuf;

/// A fresh `world.redb` path in its own directory under the system temp dir.
pub fn temp_path(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir()
        .join(format!("arbkeep-sim-{name}-{}-{nanos}", std::process::id()))
        .join("world.redb")
}

/// Remove a `temp_path`'s directory.
pub fn clean(path: &std::path::Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

use super::world::{PAPER_EPOCH, SimWorld};
use crate::model::{
    Action, Chain, CycleId, Intent, IntentId, ManualClock, Receipt, StepKind, TokenId,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A world in a fresh temp file, driven by a manual clock from `PAPER_EPOCH`.
pub struct Fixture {
    pub world: SimWorld,
    pub clock: Arc<ManualClock>,
    pub path: PathBuf,
    pub seed: u64,
}

impl Fixture {
    pub fn new(name: &str, seed: u64) -> Fixture {
        let path = temp_path(name);
        let clock = Arc::new(ManualClock::new(PAPER_EPOCH));
        let world = SimWorld::open(&path, seed, clock.clone()).expect("open a fresh world");
        Fixture {
            world,
            clock,
            path,
            seed,
        }
    }

    /// Close the world (as a crash would: no checkpoint) and open it again
    /// with a clock resumed from the file, as the binary does.
    pub fn reopen(self) -> Fixture {
        let Fixture {
            world, path, seed, ..
        } = self;
        drop(world);
        let resumed = SimWorld::resume_time(&path)
            .expect("read the file")
            .expect("a time");
        let clock = Arc::new(ManualClock::new(resumed));
        let world = SimWorld::open(&path, seed, clock.clone()).expect("reopen the world");
        Fixture {
            world,
            clock,
            path,
            seed,
        }
    }

    pub fn intent(&self, cycle: u64, step: StepKind, action: Action) -> Intent {
        let id = IntentId {
            cycle: CycleId(cycle),
            step,
            attempt: 0,
        };
        Intent::new(id, action, crate::model::Clock::now(&*self.clock))
    }

    pub fn balance(&self, chain: Chain, token: TokenId) -> u128 {
        self.world
            .balances()
            .into_iter()
            .find(|&(c, t, _)| c == chain && t == token)
            .map_or(0, |(_, _, a)| a)
    }

    pub fn clean(&self) {
        clean(&self.path);
    }
}

/// An exact-in swap with a deadline an hour after `now`.
pub fn swap(
    chain: Chain,
    token_in: TokenId,
    token_out: TokenId,
    amount_in: u128,
    min_out: u128,
    now: u64,
) -> Action {
    Action::Swap {
        chain,
        token_in,
        token_out,
        amount_in,
        min_out,
        deadline: now + 3_600_000,
    }
}

/// Signed balance changes that a receipt for `action` reports, by (chain, token).
pub fn receipt_deltas(action: &Action, r: &Receipt, ledger: &mut BTreeMap<(Chain, TokenId), i128>) {
    let mut add = |chain, token, delta: i128| *ledger.entry((chain, token)).or_insert(0) += delta;
    add(
        action.chain(),
        TokenId::Eth,
        -((r.gas_fee + r.bridge_fee_native) as i128),
    );
    match action {
        Action::Swap {
            chain,
            token_in,
            token_out,
            ..
        } => {
            add(*chain, *token_in, -(r.amount_in as i128));
            add(*chain, *token_out, r.amount_out as i128);
        }
        Action::BridgeSend { token, from, .. } => add(*from, *token, -(r.amount_in as i128)),
        Action::Prove { .. } => {}
        Action::Finalize { ticket } => add(ticket.to, ticket.token, r.amount_out as i128),
    }
}
