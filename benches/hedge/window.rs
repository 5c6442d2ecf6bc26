//! The exposure window as a user lives it: a fill log in the keeper's log
//! source → one pass of the real `EquityHedge` keeper (poll, decode, the
//! durable commit of dedupe, trade, position and hedge intent, the
//! pre-trade funds read, the order POST) → the order received by the fake
//! Alpaca on loopback HTTP. Measured from the start of the pass to the
//! instant the fake received the POST, one order per event.

use super::hedge_feed::{Feed, decoder, owner_trade, tokens};
use arbkeep::engine::{Keeper, KeeperContext, Notice, Phase, SendGate};
use arbkeep::fakes::alpaca::FakeAlpaca;
use arbkeep::model::{Clock, ManualClock, Mode};
use arbkeep::store::Store;
use arbkeep::strategy::equity_hedge::EquityHedge;
use arbkeep::strategy::equity_hedge::chain::MemoryReceipts;
use arbkeep::venue::alpaca::AlpacaBroker;
use arbkeep::venue::logs::ChainLog;
use arbkeep::venue::schwab::clock_text::parse_time;
use rust_decimal::Decimal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Event `i`: the owner's tAAPL order taken for 1 share, bought on even
/// events and sold on odd ones, so every event decides a one-share hedge.
fn fill(i: u64) -> ChainLog {
    owner_trade("tAAPL", 1_000 + i, "1", i.is_multiple_of(2))
}

/// Event → order received at the fake Alpaca, `samples` times: the sorted
/// windows and the sorted whole passes.
pub fn measure(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    samples: u64,
) -> (Vec<Duration>, Vec<Duration>) {
    rt.block_on(async {
        let clock = Arc::new(ManualClock::new(
            parse_time("2024-07-01T14:00:00Z").unwrap(),
        ));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let fake = FakeAlpaca::start(dyn_clock.clone()).await.unwrap();
        fake.set_price("AAPL", Decimal::from(200));
        fake.set_position("AAPL", Decimal::from(1_000));
        fake.set_cash("10000000");
        let broker =
            Arc::new(AlpacaBroker::open(fake.config(), FakeAlpaca::secrets(), dyn_clock).unwrap());
        let feed = Arc::new(Feed::default());
        let tokens = tokens(&["tAAPL"]);
        let decoder = decoder();
        let mut hedge = EquityHedge::new(
            decoder,
            broker,
            "alpaca",
            feed.clone(),
            Arc::new(MemoryReceipts::default()),
            Arc::new(tokens),
        );
        let store = Store::open(dir, Mode::Paper).unwrap();
        let gate = SendGate::default();
        let (notices, _) = tokio::sync::broadcast::channel::<Notice>(1024);
        let mut windows = Vec::new();
        let mut passes = Vec::new();
        for i in 0..samples + 1 {
            feed.push(fill(i));
            clock.advance(1_000);
            let cx = KeeperContext {
                store: &store,
                now: clock.now(),
                phase: Phase::Running,
                gate: &gate,
                notices: &notices,
            };
            let start = std::time::Instant::now();
            hedge.tick(&cx).await.unwrap();
            let pass = start.elapsed();
            let orders = fake.orders();
            assert_eq!(
                orders.len() as u64,
                i + 1,
                "event {i} was not hedged in its pass"
            );
            // The first pass also reads the market hours and starts up.
            if i > 0 {
                windows.push(orders[orders.len() - 1].received - start);
                passes.push(pass);
            }
        }
        windows.sort();
        passes.sort();
        (windows, passes)
    })
}
