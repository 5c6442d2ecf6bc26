//! Fractional hedges at the fake Alpaca, through the real keeper: with
//! `[alpaca] fractional` on, the net itself is hedged (to 9 places) once it
//! is worth `min_fractional_order_usd` at the newest onchain price; under
//! it, nothing is sent; an order whose answer was lost after the fake took
//! it is found by its client order id and POSTed once; in the pre-market a
//! fractional order waits for the regular session without being tried. Without `fractional`
//! the same fills are hedged in whole shares.

use crate::support::hedge_feed::{Feed, bought, decoder, tokens};
use arbkeep::engine::{Keeper, KeeperContext, Notice, Phase, SendGate};
use arbkeep::fakes::alpaca::{FakeAlpaca, PlaceFault};
use arbkeep::model::{Clock, ManualClock, Mode};
use arbkeep::store::Store;
use arbkeep::strategy::equity_hedge::chain::{MemoryReceipts, StaticTokens};
use arbkeep::strategy::equity_hedge::{EquityHedge, HedgePolicy};
use arbkeep::venue::alpaca::{AlpacaBroker, AlpacaConfig};
use arbkeep::venue::schwab::clock_text::parse_time;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::Arc;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

struct Rig {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    fake: FakeAlpaca,
    feed: Arc<Feed>,
    store: Store,
    hedge: EquityHedge<AlpacaBroker, Feed, MemoryReceipts, StaticTokens>,
    gate: SendGate,
    notices: tokio::sync::broadcast::Sender<Notice>,
}

impl Rig {
    async fn new(at: &str, fractional: bool, extended_hours: bool) -> Rig {
        let clock = Arc::new(ManualClock::new(parse_time(at).unwrap()));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let fake = FakeAlpaca::start(dyn_clock.clone()).await.unwrap();
        fake.set_price("AAPL", Decimal::from(200));
        fake.set_position("AAPL", Decimal::from(100));
        fake.set_fractional(fractional);
        let config = AlpacaConfig {
            fractional,
            extended_hours,
            ..fake.config()
        };
        let broker =
            Arc::new(AlpacaBroker::open(config, FakeAlpaca::secrets(), dyn_clock).unwrap());
        let feed = Arc::new(Feed::default());
        let tokens = tokens(&["tAAPL"]);
        let decoder = decoder();
        let policy = HedgePolicy {
            min_fractional_order_usd: Decimal::ONE,
            ..HedgePolicy::default()
        };
        let hedge = EquityHedge::new(
            decoder,
            broker,
            "alpaca",
            feed.clone(),
            Arc::new(MemoryReceipts::default()),
            Arc::new(tokens),
        )
        .with_policy(policy);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Mode::Paper).unwrap();
        let (notices, _) = tokio::sync::broadcast::channel(256);
        Rig {
            _dir: dir,
            clock,
            fake,
            feed,
            store,
            hedge,
            gate: SendGate::default(),
            notices,
        }
    }

    async fn fill(&mut self, block: u64, shares: &str) {
        self.feed.push(bought("tAAPL", block, shares));
        self.pass().await;
    }

    async fn pass(&mut self) {
        self.clock.advance(1_000);
        let cx = KeeperContext {
            store: &self.store,
            now: self.clock.now(),
            phase: Phase::Running,
            gate: &self.gate,
            notices: &self.notices,
        };
        self.hedge.tick(&cx).await.unwrap();
    }

    fn quantities(&self) -> Vec<Decimal> {
        self.fake.orders().iter().map(|o| o.qty).collect()
    }

    fn net(&self) -> Decimal {
        self.hedge
            .records()
            .positions
            .iter()
            .find(|p| p.symbol == "AAPL")
            .map(|p| p.net())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn the_net_is_hedged_in_fractional_shares_once_it_is_worth_a_dollar() {
    // 10:00 in New York on a Monday: the regular session.
    let mut r = Rig::new("2024-07-01T14:00:00Z", true, false).await;
    r.fill(100, "0.37").await;
    assert_eq!(r.quantities(), vec![d("0.37")], "0.37 share sold as is");
    assert_eq!(r.fake.orders()[0].side, "sell");
    assert_eq!(r.net(), Decimal::ZERO, "nothing left uncovered");
    // $0.80 of net: under the $1 floor, nothing sent.
    r.fill(101, "0.004").await;
    r.pass().await;
    assert_eq!(r.fake.orders().len(), 1, "under $1: not sent");
    assert_eq!(r.net(), d("0.004"));
    // $1.40 in all: sent, the whole net.
    r.fill(102, "0.003").await;
    assert_eq!(r.quantities(), vec![d("0.37"), d("0.007")]);
    // More than 9 places: the order carries 9, the rest waits.
    r.fill(103, "1.0000000015").await;
    assert_eq!(r.quantities()[2], d("1.000000001"));
    assert_eq!(r.net(), d("0.0000000005"));
    // The answer of a fractional order lost after the fake took it: found
    // by its client order id, POSTed once, booked at its quantity.
    r.fake.fail_next_place(PlaceFault::ActThenDrop);
    r.fill(104, "2.5").await;
    for _ in 0..3 {
        r.pass().await;
    }
    let orders = r.fake.orders();
    assert_eq!(orders.len(), 4, "{orders:?}");
    assert_eq!(orders[3].qty, d("2.5"));
    let posts = r.fake.posts();
    assert!(
        posts.values().all(|n| *n == 1),
        "each order POSTed once: {posts:?}"
    );
    let hedged: Decimal = r
        .hedge
        .records()
        .positions
        .iter()
        .map(|p| p.hedged_shares)
        .sum();
    assert_eq!(
        hedged,
        d("3.877000001"),
        "every fill booked at its quantity"
    );
}

#[tokio::test]
async fn a_fractional_hedge_waits_for_the_regular_session() {
    // 08:00 in New York on a Monday: the pre-market session.
    let mut r = Rig::new("2024-07-01T12:00:00Z", true, true).await;
    r.fake.set_open(false);
    r.fill(100, "1.5").await;
    r.pass().await;
    assert!(r.fake.orders().is_empty(), "not sent in the pre-market");
    assert!(r.fake.posts().is_empty(), "no POST at all");
    let waiting = &r.hedge.records().executions[0];
    assert_eq!(
        (waiting.attempts, waiting.last_error.as_deref()),
        (0, None),
        "not even tried: it waits on the cached market hours, no call spent"
    );
    // The open at 09:30.
    r.clock.set(parse_time("2024-07-01T13:30:05Z").unwrap());
    r.fake.set_open(true);
    for _ in 0..3 {
        r.pass().await;
    }
    assert_eq!(r.quantities(), vec![d("1.5")], "sent at the open");
    assert_eq!(r.fake.orders()[0].kind, "market");
}

#[tokio::test]
async fn without_fractional_the_same_fills_are_hedged_in_whole_shares() {
    let mut r = Rig::new("2024-07-01T14:00:00Z", false, false).await;
    r.fill(100, "0.37").await;
    r.fill(101, "1.0").await;
    assert_eq!(r.quantities(), vec![d("1")], "floor of 1.37");
    assert_eq!(r.net(), d("0.37"), "the remainder waits");
}
