//! The equity hedge in paper mode end to end: the paper orderbook's
//! ABI-encoded V4 fills go through the decoder and pipeline, driven by the
//! engine on a manual clock over weekdays and a weekend; hedges are placed
//! only while the market is open, each filled once, linked to the trades
//! they offset; a restart continues from the watermark without redoing
//! anything.

use crate::common;

use arbkeep::config::Config;
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
    engine: Engine<SimWorld>,
    handle: arbkeep::engine::EngineHandle,
    broker: Arc<arbkeep::strategy::equity_hedge::paper_broker::PaperBroker>,
    clock: Arc<ManualClock>,
}

async fn start(dir: &Path, clock: Arc<ManualClock>) -> Run {
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let mut config = Config::default();
    config.cross_chain_loop.enabled = false;
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
    let (mut engine, handle) = Engine::new(config, options, world, dyn_clock, store);
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
            assert_eq!(linked, Decimal::from(e.shares), "h{}", e.id);
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
