//! Driving one Stellar keeper by hand in a test: its config against the
//! loopback fakes, a store in a temporary directory, the send gate and the
//! notice channel, the context of one pass at a given time, and what its
//! Stellar ledger booked per account.

use arbkeep::engine::{KeeperContext, Notice, Phase, SendGate};
use arbkeep::fakes::stellar::{detector, reflector};
use arbkeep::model::Mode;
use arbkeep::store::Store;
use arbkeep::strategy::stellar_arb::StellarArbConfig;
use arbkeep::strategy::stellar_arb::store as kstore;
use arbkeep::venue::stellar::StellarAsset;
use std::sync::Arc;
use tokio::sync::broadcast;

/// A TESTNET keeper of `accounts` trading accounts over `assets`, on the
/// fake's detector and oracle, scanning on every pass.
pub fn testnet_config(accounts: u32, assets: Vec<StellarAsset>) -> StellarArbConfig {
    let mut c = StellarArbConfig::testnet_defaults();
    c.enabled = true;
    c.num_accounts = accounts;
    c.assets = assets;
    c.detector_contract = detector().to_string();
    c.reflector_contract = reflector().to_string();
    c.scan_interval_ms = 0;
    c
}

pub struct Harness {
    _dir: tempfile::TempDir,
    pub store: Store,
    pub gate: Arc<SendGate>,
    pub notices: broadcast::Sender<Notice>,
}

impl Harness {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path(), Mode::Paper).expect("store");
        let (notices, _) = broadcast::channel(16);
        Self {
            _dir: dir,
            store,
            gate: Arc::new(SendGate::default()),
            notices,
        }
    }

    /// What the keeper's Stellar ledger booked for `account` (stroops).
    pub fn booked(&self, account: &str) -> i64 {
        kstore::ledger(&self.store.read().expect("read"))
            .expect("ledger")
            .iter()
            .filter(|l| l.account == account)
            .map(|l| l.delta)
            .sum()
    }

    /// The context of a pass at `now` (ms).
    pub fn cx(&self, now: u64) -> KeeperContext<'_> {
        KeeperContext {
            store: &self.store,
            now,
            phase: Phase::Running,
            gate: &self.gate,
            notices: &self.notices,
        }
    }
}
