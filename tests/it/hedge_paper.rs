//! The equity hedge in paper mode end to end: the paper orderbook's
//! ABI-encoded V4 fills go through the decoder and pipeline, driven by the
//! engine on a manual clock over weekdays and a weekend; hedges are placed
//! only while the market is open, each filled once, linked to the trades
//! they offset; a restart continues from the watermark without redoing
//! anything. The same paper orderbook speaking V6 (Float amounts) is
//! hedged exactly as its V4 twin.

use crate::common;

use arbkeep::config::{Config, RaindexVersion};
use arbkeep::engine::{Engine, EngineOptions, Mode};
use arbkeep::model::time::{HOUR, MINUTE};
use arbkeep::model::{Clock, ManualClock};
use arbkeep::store::Store;
use arbkeep::strategy::equity_hedge::PaperHedge;
use arbkeep::venue::broker::{Broker, OrderState};
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use rust_decimal::Decimal;
use std::path::Path;
use std::sync::Arc;

struct Run {
    engine: Engine,
    handle: arbkeep::engine::EngineHandle,
    broker: Arc<arbkeep::strategy::equity_hedge::paper_broker::PaperBroker>,
    clock: Arc<ManualClock>,
}

async fn start(dir: &Path, clock: Arc<ManualClock>) -> Run {
    start_as(dir, clock, RaindexVersion::V4).await
}

async fn start_as(dir: &Path, clock: Arc<ManualClock>, version: RaindexVersion) -> Run {
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let mut config = Config::default();
    config.cross_chain_loop.enabled = false;
    config.equity_hedge.raindex_version = version;
    let world =
        Arc::new(SimWorld::open(&dir.join(common::WORLD_FILE), 5, dyn_clock.clone()).unwrap());
    let hedge = PaperHedge::open(&config.equity_hedge, dir, 5, dyn_clock.clone()).unwrap();
    let broker = hedge.broker.clone();
    let store = Store::open(dir, Mode::Paper).unwrap();
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, handle) =
        crate::common::engine_with_loop(config, options, world, dyn_clock, store);
    engine.add_keeper(Box::new(hedge.keeper));
    engine.recover().await.unwrap();
    Run {
        engine,
        handle,
        broker,
        clock,
    }
}

impl Run {
    async fn run(&mut self, hours: u64) {
        for _ in 0..(hours * HOUR / (5 * MINUTE)) {
            self.clock.advance(5 * MINUTE);
            self.engine.tick().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn paper_fills_are_hedged_once_during_market_hours_and_a_restart_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let clock = Arc::new(ManualClock::new(PAPER_EPOCH));
    let mut r = start(dir, clock.clone()).await;
    // Thursday and Friday, then the weekend: 3 days.
    r.run(72).await;
    let snap = r.engine_snapshot();
    let hedge = snap.hedge.clone().expect("the hedge renders its view");
    assert!(hedge.trade_count > 20, "trades: {}", hedge.trade_count);
    // The exposure window of the recent hedges: detection → order → fill,
    // in order, the paper broker filling at once.
    let w = hedge
        .exposure
        .expect("an exposure window over filled hedges");
    assert!(w.hedges >= 3, "{w:?}");
    assert!(w.to_order_median_ms <= w.to_order_p99_ms, "{w:?}");
    assert!(w.to_order_median_ms <= w.to_fill_median_ms, "{w:?}");
    assert!(w.to_fill_median_ms <= w.to_fill_p99_ms, "{w:?}");
    let orders = r.broker.orders().unwrap();
    assert!(orders.len() >= 3, "orders: {}", orders.len());
    for o in &orders {
        assert!(
            arbkeep::strategy::equity_hedge::paper_market::is_open(o.entered_at),
            "order {} entered while closed",
            o.order_id
        );
        assert!(matches!(o.state, OrderState::Filled { .. }));
    }
    // Every execution's links add up to its shares, oldest trade first.
    for e in &hedge.executions {
        if e.state == "filled" {
            let linked: Decimal = e.links.iter().map(|(_, s)| *s).sum();
            assert_eq!(linked, e.shares, "h{}", e.id);
            let ids: Vec<u64> = e.links.iter().map(|(t, _)| *t).collect();
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(ids.len(), sorted.len());
        }
    }
    // Onchain net plus broker position is the fractional rest (and any
    // weekend queue): the broker never holds more than the fills explain.
    let broker_pos = r.broker.positions().await.unwrap();
    for p in &snap.positions {
        let b = broker_pos
            .iter()
            .find(|x| x.symbol == p.symbol)
            .map_or(Decimal::ZERO, |x| x.quantity);
        if p.venue == "raindex" {
            // Saturday night: the weekend's fills wait, nothing is in flight,
            // and the broker holds only whole shares.
            assert_eq!(p.pending_hedge, None, "{}: nothing in flight", p.symbol);
            assert!(b.fract().is_zero());
        }
    }
    let orders_before = orders.len();
    let watermark = hedge.watermark;
    drop(r);

    // Restart on the same files (Sunday): nothing is redone.
    let mut r = start(dir, clock).await;
    let after = r.engine_snapshot().hedge.unwrap();
    assert_eq!(after.trade_count, hedge.trade_count);
    assert_eq!(after.watermark, watermark);
    assert_eq!(r.broker.orders().unwrap().len(), orders_before);
    // Monday 16:00: the weekend's queue was hedged at the open.
    r.run(40).await;
    let monday = r.engine_snapshot();
    assert!(monday.hedge.unwrap().trade_count > hedge.trade_count);
    for p in &monday.positions {
        if p.venue == "raindex" {
            assert!(p.net.abs() < Decimal::from(3), "{} net {}", p.symbol, p.net);
        }
    }
}

impl Run {
    fn engine_snapshot(&self) -> arbkeep::engine::Snapshot {
        (**self.handle.snapshots.borrow()).clone()
    }
}

/// A weekday of the paper orderbook in V6 (ClearV3 / AfterClearV2 /
/// TakeOrderV3, Float amounts) and in V4, from the same seed: the same
/// trades, the same nets, the same hedges to the share.
#[tokio::test(flavor = "current_thread")]
async fn a_v6_orderbook_is_hedged_exactly_as_its_v4_twin() {
    let mut seen = Vec::new();
    for version in [RaindexVersion::V4, RaindexVersion::V6] {
        let tmp = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(PAPER_EPOCH));
        let mut r = start_as(tmp.path(), clock, version).await;
        r.run(24).await;
        let snap = r.engine_snapshot();
        let hedge = snap.hedge.clone().expect("the hedge renders its view");
        assert!(
            hedge.trade_count > 5,
            "{version:?}: trades {}",
            hedge.trade_count
        );
        let nets: Vec<(String, Decimal)> = snap
            .positions
            .iter()
            .map(|p| (p.symbol.clone(), p.net))
            .collect();
        let orders: Vec<(String, String, Decimal)> = r
            .broker
            .orders()
            .unwrap()
            .iter()
            .map(|o| (o.symbol.clone(), format!("{:?}", o.side), o.shares))
            .collect();
        assert!(!orders.is_empty(), "{version:?} placed hedges");
        seen.push((hedge.trade_count, nets, orders));
    }
    assert_eq!(seen[0], seen[1]);
}
