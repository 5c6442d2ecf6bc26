//! The rig: the hedge keeper over the Schwab adapter and the fake Schwab,
//! a log feed that redelivers until committed, a store, a send gate, and
//! readings of the hedge's books, the fake's position and the open intents.

use arbkeep::engine::{
    Command, IntentState, Keeper, KeeperContext, Notice, Phase, Resolution, SendGate, Snapshot,
};
#[path = "../it/support/hedge_feed.rs"]
mod hedge_feed;
pub use hedge_feed::{Feed, bought};
use hedge_feed::{decoder, tokens};

use arbkeep::fakes::schwab::FakeSchwab;
use arbkeep::model::time::{MINUTE, SECOND};
use arbkeep::model::{Clock, ManualClock, Mode};
use arbkeep::store::Store;
use arbkeep::strategy::equity_hedge::book::ExecState;
use arbkeep::strategy::equity_hedge::chain::{MemoryReceipts, StaticTokens};
use arbkeep::strategy::equity_hedge::{EquityHedge, HedgePolicy};
use arbkeep::venue::broker::Broker;
use arbkeep::venue::schwab::SchwabBroker;
use rust_decimal::Decimal;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Shares of each symbol the fake account holds before any hedge.
const INVENTORY: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);

pub type SchwabHedge = EquityHedge<SchwabBroker, Feed, MemoryReceipts, StaticTokens>;

pub struct Desk {
    pub clock: Arc<ManualClock>,
    pub fake: FakeSchwab,
    pub broker: Arc<SchwabBroker>,
    pub feed: Arc<Feed>,
    pub store: Store,
    pub gate: SendGate,
    pub notices: broadcast::Sender<Notice>,
    pub hedge: SchwabHedge,
    _store_dir: tempfile::TempDir,
    _vault_dir: tempfile::TempDir,
}

impl Desk {
    pub fn new(
        clock: Arc<ManualClock>,
        fake: FakeSchwab,
        broker: SchwabBroker,
        vault_dir: tempfile::TempDir,
        policy: HedgePolicy,
    ) -> Desk {
        // The shares the account holds to sell from: the pre-trade check
        // sends no sell the account cannot cover (no short selling).
        for symbol in ["AAPL", "NVDA"] {
            fake.set_position(symbol, INVENTORY);
        }
        let store_dir = tempfile::tempdir().unwrap();
        let store = Store::open(store_dir.path(), Mode::Paper).unwrap();
        let broker = Arc::new(broker);
        let feed = Arc::new(Feed::default());
        let tokens = tokens(&["tAAPL", "NVDA0x"]);
        let decoder = decoder();
        let hedge = EquityHedge::new(
            decoder,
            broker.clone(),
            "schwab",
            feed.clone(),
            Arc::new(MemoryReceipts::default()),
            Arc::new(tokens),
        )
        .with_policy(policy);
        let (notices, _) = broadcast::channel(256);
        Desk {
            clock,
            fake,
            broker,
            feed,
            store,
            gate: SendGate::default(),
            notices,
            hedge,
            _store_dir: store_dir,
            _vault_dir: vault_dir,
        }
    }

    pub async fn pass(&mut self) {
        let cx = KeeperContext {
            store: &self.store,
            now: self.clock.now(),
            phase: Phase::Running,
            gate: &self.gate,
            notices: &self.notices,
        };
        self.hedge.pass(&cx).await.unwrap();
    }

    /// Passes `every` apart until `until` has passed on the clock.
    pub async fn run_for(&mut self, span: u64, every: u64) {
        let end = self.clock.now() + span;
        while self.clock.now() < end {
            self.clock.advance(every);
            self.pass().await;
        }
    }

    pub async fn resolve(
        &mut self,
        id: &str,
        resolution: Resolution,
        evidence: Option<&str>,
    ) -> Result<String, String> {
        let command = Command::Resolve {
            id: id.into(),
            resolution,
            reason: "checked at schwab.com".into(),
            evidence: evidence.map(str::to_string),
        };
        let cx = KeeperContext {
            store: &self.store,
            now: self.clock.now(),
            phase: Phase::Running,
            gate: &self.gate,
            notices: &self.notices,
        };
        let answer = self
            .hedge
            .command(&command, &cx)
            .expect("the hedge owns h ids");
        answer.await
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot::empty(Mode::Paper, self.clock.now());
        self.hedge.render(&mut snap);
        snap
    }

    /// (state, doing) of the open intent `id`, if listed.
    pub fn intent(&self, id: &str) -> Option<(IntentState, String)> {
        self.snapshot()
            .intents
            .into_iter()
            .find(|i| i.id == id)
            .map(|i| (i.state, i.doing))
    }

    pub fn state(&self, id: u64) -> ExecState {
        self.hedge
            .records()
            .executions
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.state.clone())
            .expect("the hedge exists")
    }

    /// Shares of `symbol` the fake's account holds (short negative).
    /// What the hedges moved at the broker (its position less the
    /// inventory held before).
    pub async fn at_broker(&self, symbol: &str) -> Decimal {
        -INVENTORY
            + self
                .broker
                .positions()
                .await
                .unwrap()
                .into_iter()
                .find(|p| p.symbol == symbol)
                .map(|p| p.quantity)
                .unwrap_or_default()
    }

    /// What the hedge's books say is sold at the broker for `symbol`.
    pub fn hedged(&self, symbol: &str) -> Decimal {
        let p = self
            .hedge
            .records()
            .positions
            .iter()
            .find(|p| p.symbol == symbol)
            .cloned()
            .unwrap_or_default();
        -p.hedged_shares
    }

    pub fn net(&self, symbol: &str) -> Decimal {
        self.hedge
            .records()
            .positions
            .iter()
            .find(|p| p.symbol == symbol)
            .map(|p| p.net())
            .unwrap_or_default()
    }
}

pub const PASS: u64 = 30 * SECOND;
pub const WINDOW: u64 = 10 * MINUTE;
