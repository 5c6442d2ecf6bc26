//! Driving one Stellar keeper by hand in a test: a store in a temporary
//! directory, the send gate and the notice channel, and the context of one
//! pass at a given time.

use arbkeep::engine::{KeeperContext, Notice, Phase, SendGate};
use arbkeep::model::Mode;
use arbkeep::store::Store;
use std::sync::Arc;
use tokio::sync::broadcast;

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
