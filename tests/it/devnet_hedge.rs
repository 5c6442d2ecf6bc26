//! The equity hedge on the devnet (issue 5): the Raindex emitter on anvil
//! emits real V4-encoded `TakeOrderV2` and `ClearV2` + `AfterClear` events
//! (and its V6 twin `TakeOrderV3` and `ClearV3` + `AfterClearV2`, amounts
//! as Rain Floats);
//! EVM log ingestion delivers them at the devnet's confirmation depth, the
//! decoder reads tokens' `symbol()` over `eth_call`, and the hedge places
//! the right market orders on the fake Schwab, exactly once each: another
//! owner's fill is ignored, and neither a restart nor a full re-delivery of
//! every log from block 0 posts anything again.

use crate::devnet_common;
use crate::schwab_login;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{SolCall, SolValue};
use arbkeep::config::{Config, RaindexVersion};
use arbkeep::engine::{Engine, EngineOptions, Mode};
use arbkeep::fakes::alpaca::{FAKE_KEY, FAKE_SECRET, FakeAlpaca, PlaceFault};
use arbkeep::fakes::schwab::{FAKE_APP_KEY, FAKE_APP_SECRET, FakeSchwab};
use arbkeep::model::time::SECOND;
use arbkeep::model::{Chain, Clock, ManualClock, SystemClock};
use arbkeep::store::Store;
use arbkeep::strategy::equity_hedge::abi::watched_topics;
use arbkeep::strategy::equity_hedge::keeper::HedgePolicy;
use arbkeep::strategy::equity_hedge::rain_float;
use arbkeep::strategy::equity_hedge::symbol::SymbolMap;
use arbkeep::strategy::equity_hedge::{Decoder, EquityHedge};
use arbkeep::venue::alpaca::AlpacaBroker;
use arbkeep::venue::broker::OrderSide;
use arbkeep::venue::evm::abi::{IRaindexEmitterV6 as V6, IRaindexV4};
use arbkeep::venue::evm::devnet::{self, DEPLOYER_KEY, DevnetOptions};
use arbkeep::venue::evm::ingest::{IngestConfig, LogIngest};
use arbkeep::venue::evm::raindex::RaindexReads;
use arbkeep::venue::evm::{ChainClient, EvmStore};
use arbkeep::venue::schwab::clock_text::parse_time;
use arbkeep::venue::schwab::{SchwabBroker, SchwabConfig};
use arbkeep::venue::sim::SimWorld;
use devnet_common::*;
use rust_decimal::Decimal;
use schwab_login::*;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const E18: u128 = 1_000_000_000_000_000_000;
const E6: u128 = 1_000_000;

fn order(
    owner: Address,
    inputs: &[(Address, u8)],
    outputs: &[(Address, u8)],
) -> IRaindexV4::OrderV3 {
    let io = |l: &[(Address, u8)]| {
        l.iter()
            .map(|(token, decimals)| IRaindexV4::IO {
                token: *token,
                decimals: *decimals,
                vaultId: U256::from(1),
            })
            .collect::<Vec<_>>()
    };
    IRaindexV4::OrderV3 {
        owner,
        evaluable: IRaindexV4::EvaluableV3::default(),
        validInputs: io(inputs),
        validOutputs: io(outputs),
        nonce: B256::with_last_byte(7),
    }
}

/// The world of one run: the devnet, the fake Schwab, the tokens.
struct World {
    /// Kept alive for the run (its anvils).
    _devnet: devnet::Devnet,
    p: alloy::providers::DynProvider,
    fake: FakeSchwab,
    clock: Arc<ManualClock>,
    schwab: SchwabConfig,
    config: Config,
    owner: Address,
    taapl: Address,
    usdc: Address,
    /// Which orderbook interface the emitter speaks, and where it is.
    version: RaindexVersion,
    emitter: Address,
}

/// `units` of a token with `decimals`, as a Rain Float.
fn float(units: u128, decimals: u32) -> B256 {
    let amount = Decimal::from_i128_with_scale(i128::try_from(units).unwrap(), decimals);
    rain_float::from_decimal(amount.normalize())
}

impl World {
    async fn send(&self, input: Vec<u8>) {
        let tx = TransactionRequest::default()
            .with_to(self.emitter)
            .with_input(Bytes::from(input));
        devnet::send_mined(&self.p, tx).await.unwrap();
    }

    /// The owner's order buys `shares` (18 decimals) of tAAPL for `usdc`
    /// (6 decimals) from a taker.
    async fn take(&self, owner: Address, shares: u128, usdc: u128) {
        if self.version != RaindexVersion::V4 {
            let call = V6::takeOrderCall {
                config: V6::TakeOrderConfigV4 {
                    order: arbkeep::strategy::equity_hedge::devnet_flow::order(
                        owner,
                        &[self.taapl],
                        &[self.usdc],
                    ),
                    inputIOIndex: U256::ZERO,
                    outputIOIndex: U256::ZERO,
                    signedContext: vec![],
                },
                input: float(usdc, 6),
                output: float(shares, 18),
            };
            return self.send(call.abi_encode()).await;
        }
        let ours = order(owner, &[(self.taapl, 18)], &[(self.usdc, 6)]);
        // The taker's input is what the order gave; its output what it received.
        let call = IRaindexV4::takeOrderCall {
            config: IRaindexV4::TakeOrderConfigV3 {
                order: ours,
                inputIOIndex: U256::ZERO,
                outputIOIndex: U256::ZERO,
                signedContext: vec![],
            },
            input: U256::from(usdc),
            output: U256::from(shares),
        };
        self.send(call.abi_encode()).await;
    }

    /// The owner's order (bob) buys `shares` of tAAPL from a counterparty
    /// (alice) in a clear.
    async fn clear(&self, shares: u128, usdc: u128) {
        if self.version != RaindexVersion::V4 {
            let call = V6::clearCall {
                alice: arbkeep::strategy::equity_hedge::devnet_flow::order(
                    Address::repeat_byte(0xa1),
                    &[self.usdc],
                    &[self.taapl],
                ),
                bob: arbkeep::strategy::equity_hedge::devnet_flow::order(
                    self.owner,
                    &[self.taapl],
                    &[self.usdc],
                ),
                clearConfig: V6::ClearConfigV2::default(),
                change: V6::ClearStateChangeV2 {
                    aliceOutput: float(shares, 18),
                    bobOutput: float(usdc, 6),
                    aliceInput: float(usdc, 6),
                    bobInput: float(shares, 18),
                },
            };
            return self.send(call.abi_encode()).await;
        }
        let alice = order(
            Address::repeat_byte(0xa1),
            &[(self.usdc, 6)],
            &[(self.taapl, 18)],
        );
        let bob = order(self.owner, &[(self.taapl, 18)], &[(self.usdc, 6)]);
        let call = IRaindexV4::clearCall {
            alice,
            bob,
            clearConfig: IRaindexV4::ClearConfig::default(),
            change: IRaindexV4::ClearStateChange {
                aliceOutput: U256::from(shares),
                bobOutput: U256::from(usdc),
                aliceInput: U256::from(usdc),
                bobInput: U256::from(shares),
            },
        };
        self.send(call.abi_encode()).await;
    }
}

/// The V6 emitter, deployed next to the devnet's V4 one.
async fn deploy_emitter_v6(p: &alloy::providers::DynProvider) -> Address {
    let code = devnet::contracts(&root()).unwrap();
    let input = code["RaindexEmitterV6"].bytecode.to_vec();
    let r = devnet::send_mined(
        p,
        TransactionRequest::default().with_deploy_code(Bytes::from(input)),
    )
    .await
    .unwrap();
    r.contract_address.unwrap()
}

async fn deploy_token(p: &alloy::providers::DynProvider, symbol: &str, decimals: u8) -> Address {
    let code = devnet::contracts(&root()).unwrap();
    let mut input = code["DevToken"].bytecode.to_vec();
    input
        .extend((symbol.to_string(), symbol.to_string(), U256::from(decimals)).abi_encode_params());
    let r = devnet::send_mined(
        p,
        TransactionRequest::default().with_deploy_code(Bytes::from(input)),
    )
    .await
    .unwrap();
    r.contract_address.unwrap()
}

/// One keeper process: the engine (paper loop off) with the hedge over
/// `LogIngest` on the devnet, the EVM reads and the Schwab adapter.
struct Run {
    engine: Engine,
    handle: arbkeep::engine::EngineHandle,
}

/// The orderbook's logs from the devnet (its emitter, its version's
/// topics, ingested into `ingest_dir`) and the chain reads the decoder
/// needs.
async fn chain(w: &World, ingest_dir: &Path) -> (Arc<LogIngest>, Arc<RaindexReads>) {
    let evm = w.config.evm.clone().unwrap();
    let client = Arc::new(
        ChainClient::connect(Chain::Hemi, &evm.hemi, Duration::from_secs(5))
            .await
            .unwrap(),
    );
    let ingest = LogIngest::new(
        client.clone(),
        w.emitter,
        watched_topics(w.version).to_vec(),
        Arc::new(EvmStore::open(ingest_dir).unwrap()),
        IngestConfig::from_evm(&evm, 0),
        Arc::new(SystemClock),
    )
    .unwrap();
    (Arc::new(ingest), Arc::new(RaindexReads::new(client)))
}

fn decoder(w: &World) -> Decoder {
    let h = &w.config.equity_hedge;
    Decoder {
        owner: w.owner,
        usdc: w.usdc,
        symbols: SymbolMap::new(&h.symbol_patterns, h.remaps.clone()).unwrap(),
    }
}

/// The engine (paper loop off) running `keeper`, recovered.
async fn engine_with(w: &World, dir: &Path, keeper: Box<dyn arbkeep::engine::Keeper>) -> Run {
    let dyn_clock: Arc<dyn Clock> = w.clock.clone();
    let mut config = Config::default();
    config.cross_chain_loop.enabled = false;
    let world = Arc::new(SimWorld::open(&dir.join("world.redb"), 5, dyn_clock.clone()).unwrap());
    let store = Store::open(&dir.join("engine"), Mode::Paper).unwrap();
    let options = EngineOptions {
        mode: Mode::Paper,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, handle) =
        crate::common::engine_with_loop(config, options, world, dyn_clock, store);
    engine.add_keeper(keeper);
    engine.recover().await.unwrap();
    Run { engine, handle }
}

async fn start_run(w: &World, dir: &Path, ingest_dir: &Path) -> Run {
    let (ingest, reads) = chain(w, ingest_dir).await;
    let broker = SchwabBroker::open(
        w.schwab.clone(),
        &dir.join("schwab"),
        FakeSchwab::secrets(&key()),
        w.clock.clone(),
    )
    .unwrap();
    let keeper = EquityHedge::new(
        decoder(w),
        Arc::new(broker),
        "schwab",
        ingest,
        reads.clone(),
        reads,
    );
    engine_with(w, dir, Box::new(keeper)).await
}

impl Run {
    /// The owner's trades the hedge has recorded.
    fn trades(&self) -> u64 {
        let snap = self.handle.snapshots.borrow().clone();
        snap.hedge
            .clone()
            .expect("the hedge renders its view")
            .trade_count
    }

    /// Tick (a second of engine time each, real time for anvil's blocks)
    /// until the fake has `posts` order posts and all are filled, then
    /// `settle` more seconds to show nothing else comes.
    async fn until(&mut self, w: &World, posts: usize, settle: u64) {
        let started = Instant::now();
        loop {
            w.clock.advance(SECOND);
            self.engine.tick().await.unwrap();
            let orders = w.fake.orders();
            if w.fake.order_posts() >= posts && orders.iter().all(|o| o.status == "FILLED") {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(40),
                "{} of {posts} orders posted: {orders:?}",
                w.fake.order_posts()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for _ in 0..settle * 5 {
            w.clock.advance(SECOND);
            self.engine.tick().await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn sells(w: &World) -> Vec<(String, OrderSide, u64)> {
    w.fake
        .orders()
        .into_iter()
        .map(|o| (o.symbol, o.side, o.shares))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_fills_are_hedged_on_schwab_exactly_once() {
    hedged_exactly_once(RaindexVersion::V4).await;
}

/// The same flow from an orderbook speaking V6: Float amounts, `ClearV3`
/// with its `AfterClearV2`, `TakeOrderV3`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_v6_fills_are_hedged_on_schwab_exactly_once() {
    hedged_exactly_once(RaindexVersion::V6).await;
}

async fn hedged_exactly_once(version: RaindexVersion) {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&d, &tmp.path().join("devnet"));
    let p = devnet::signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let taapl = deploy_token(&p, "tAAPL", 18).await;
    let usdc = deploy_token(&p, "USDC", 6).await;
    let emitter = match version {
        RaindexVersion::V4 => d.deployment.hemi.raindex,
        RaindexVersion::V5 | RaindexVersion::V6 => deploy_emitter_v6(&p).await,
    };

    // Monday 2024-07-01 10:00 in New York: the market is open.
    let clock = Arc::new(ManualClock::new(
        parse_time("2024-07-01T14:00:00Z").unwrap(),
    ));
    let fake = FakeSchwab::start(clock.clone()).await.unwrap();
    fake.set_price("AAPL", Decimal::from(200));
    // Shares to sell from: the pre-trade check sends no uncovered sell.
    fake.set_position("AAPL", Decimal::from(1000));
    let schwab = fake.config();
    let dir = tmp.path().join("keeper");
    std::fs::create_dir_all(dir.join("schwab")).unwrap();
    log_in(&fake, &schwab, &dir.join("schwab"), clock.clone()).await;
    let w = World {
        p,
        fake,
        clock,
        schwab,
        owner: Address::from_str(&config.equity_hedge.order_owner).unwrap(),
        config,
        taapl,
        usdc,
        version,
        emitter,
        _devnet: d,
    };
    let ingest_dir = tmp.path().join("ingest");
    let mut run = start_run(&w, &dir, &ingest_dir).await;

    // +0.6 tAAPL taken from the owner's order (under a whole share: no
    // hedge yet), +1.8 in a clear: 2.4 → SELL 2. Between them, another
    // owner's fill that is not ours to hedge.
    w.take(w.owner, 6 * E18 / 10, 120 * E6).await;
    w.take(Address::repeat_byte(0x0e), 7 * E18, 1_400 * E6)
        .await;
    w.clear(18 * E18 / 10, 360 * E6).await;
    run.until(&w, 1, 0).await;
    // Wait until both fills are in, and nothing more.
    run.until(&w, 1, 6).await;
    let first = sells(&w);
    assert_eq!(run.trades(), 2, "the other owner's fill is not a trade");
    assert_eq!(first, vec![("AAPL".to_string(), OrderSide::Sell, 2)]);
    let after_first = w.fake.order_posts();

    // Later +1.1 more: net 3.5, 2 hedged → SELL 1.
    w.take(w.owner, 11 * E18 / 10, 220 * E6).await;
    run.until(&w, after_first + 1, 6).await;
    let all = sells(&w);
    assert_eq!(w.fake.order_posts(), after_first + 1, "{all:?}");
    assert_eq!(
        all.last().unwrap(),
        &("AAPL".to_string(), OrderSide::Sell, 1)
    );
    let total: u64 = all.iter().map(|(_, _, n)| n).sum();
    assert_eq!(
        total, 3,
        "3.5 shares bought onchain, 3 whole shares sold: {all:?}"
    );
    assert!(
        all.iter()
            .all(|(s, side, _)| s == "AAPL" && *side == OrderSide::Sell)
    );
    assert_eq!(run.trades(), 3);
    let posts = w.fake.order_posts();
    drop(run);

    // A restart on the same stores: nothing posted again.
    let mut run = start_run(&w, &dir, &ingest_dir).await;
    run.until(&w, posts, 6).await;
    assert_eq!(w.fake.order_posts(), posts);
    assert_eq!(run.trades(), 3);
    drop(run);

    // A duplicate delivery: ingestion starts over from block 0 and delivers
    // every fill again; the hedge has recorded them and posts nothing.
    let mut run = start_run(&w, &dir, &tmp.path().join("ingest-again")).await;
    run.until(&w, posts, 10).await;
    assert_eq!(w.fake.order_posts(), posts, "{:?}", sells(&w));
    assert_eq!(sells(&w), all);
    assert_eq!(run.trades(), 3, "re-delivered fills are not new trades");
}

/// The hedge over the devnet with the Alpaca Broker API adapter at the
/// fake Alpaca instead of Schwab.
async fn start_alpaca_run(w: &World, alpaca: &FakeAlpaca, dir: &Path, ingest_dir: &Path) -> Run {
    let (ingest, reads) = chain(w, ingest_dir).await;
    let broker =
        AlpacaBroker::open(alpaca.config(), FakeAlpaca::secrets(), w.clock.clone()).unwrap();
    let keeper = EquityHedge::new(
        decoder(w),
        Arc::new(broker),
        "alpaca",
        ingest,
        reads.clone(),
        reads,
    )
    // Alpaca lists an order by our id at once: a short window, and a hedge
    // the broker proves absent after it is placed again by itself.
    .with_policy(HedgePolicy {
        listing_window: 30 * SECOND,
        replace_after_window: true,
        ..HedgePolicy::default()
    });
    engine_with(w, dir, Box::new(keeper)).await
}

/// Tick until the fake Alpaca holds `shares` filled shares in all, then a
/// few seconds more.
async fn until_alpaca(run: &mut Run, w: &World, alpaca: &FakeAlpaca, shares: u64) {
    let started = Instant::now();
    loop {
        w.clock.advance(SECOND);
        run.engine.tick().await.unwrap();
        let filled: Decimal = alpaca
            .orders()
            .iter()
            .filter(|o| o.status == "filled")
            .map(|o| o.qty)
            .sum();
        if filled >= Decimal::from(shares) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{filled} of {shares} shares filled: {:?} (faults {:?})",
            alpaca.orders(),
            alpaca.drawn_faults()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..20 {
        w.clock.advance(SECOND);
        run.engine.tick().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// V6 fills on the devnet hedged at the fake Alpaca while its order POSTs
/// fail (taken with the answer lost, a 503 before acting, taken with the
/// answer cut, a 504 after acting): every hedge taken is found by its
/// client order id and never POSTed again; the one refused is placed again
/// once the broker proves it absent; the shares add up, and a restart
/// posts nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_v6_fills_are_hedged_at_alpaca_once_through_lost_answers_and_a_restart() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&d, &tmp.path().join("devnet"));
    let p = devnet::signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let taapl = deploy_token(&p, "tAAPL", 18).await;
    let usdc = deploy_token(&p, "USDC", 6).await;
    let emitter = deploy_emitter_v6(&p).await;
    let clock = Arc::new(ManualClock::new(
        parse_time("2024-07-01T14:00:00Z").unwrap(),
    ));
    let alpaca = FakeAlpaca::start(clock.clone()).await.unwrap();
    alpaca.set_price("AAPL", Decimal::from(200));
    // Shares to sell from: the pre-trade check sends no uncovered sell.
    alpaca.set_position("AAPL", Decimal::from(1000));
    // The first hedge is taken and its answer lost; the second refused
    // before acting (503), then, placed again, taken with its answer cut;
    // the third taken with a 504 after.
    for f in [
        PlaceFault::ActThenDrop,
        PlaceFault::Before(503),
        PlaceFault::ActThenTruncated,
        PlaceFault::ActThen(504),
    ] {
        alpaca.fail_next_place(f);
    }
    let schwab_fake = FakeSchwab::start(clock.clone()).await.unwrap();
    let w = World {
        p,
        schwab: schwab_fake.config(),
        fake: schwab_fake,
        clock,
        owner: Address::from_str(&config.equity_hedge.order_owner).unwrap(),
        config,
        taapl,
        usdc,
        version: RaindexVersion::V6,
        emitter,
        _devnet: d,
    };
    let dir = tmp.path().join("keeper");
    std::fs::create_dir_all(&dir).unwrap();
    let ingest_dir = tmp.path().join("ingest");
    let mut run = start_alpaca_run(&w, &alpaca, &dir, &ingest_dir).await;
    // 2.4: SELL 2; 1.1 more (net 1.5): SELL 1; 4.5 more (net 5.0): SELL
    // 5 — 8 shares bought onchain, 8 sold.
    w.take(w.owner, 6 * E18 / 10, 120 * E6).await;
    w.clear(18 * E18 / 10, 360 * E6).await;
    until_alpaca(&mut run, &w, &alpaca, 2).await;
    w.take(w.owner, 11 * E18 / 10, 220 * E6).await;
    until_alpaca(&mut run, &w, &alpaca, 3).await;
    w.take(w.owner, 45 * E18 / 10, 900 * E6).await;
    until_alpaca(&mut run, &w, &alpaca, 8).await;
    let orders = alpaca.orders();
    let sold: Decimal = orders.iter().map(|o| o.qty).sum();
    assert_eq!(
        sold,
        Decimal::from(8),
        "8 shares bought onchain, 8 sold: {orders:?}"
    );
    assert!(
        orders
            .iter()
            .all(|o| o.side == "sell" && o.symbol == "AAPL")
    );
    // One order per hedge; only the hedge refused before acting was POSTed
    // again.
    let posts = alpaca.posts();
    let expected: std::collections::BTreeMap<String, u32> =
        [("hedge-1", 1), ("hedge-2", 2), ("hedge-3", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    assert_eq!(posts, expected);
    assert_eq!(
        orders
            .iter()
            .map(|o| o.client_order_id.as_str())
            .collect::<Vec<_>>(),
        ["hedge-1", "hedge-2", "hedge-3"]
    );
    let posted: u32 = posts.values().sum();
    drop(run);
    // A restart on the same stores: nothing posted again.
    let mut run = start_alpaca_run(&w, &alpaca, &dir, &ingest_dir).await;
    until_alpaca(&mut run, &w, &alpaca, 8).await;
    assert_eq!(alpaca.posts().values().sum::<u32>(), posted);
    assert_eq!(
        alpaca.orders().iter().map(|o| o.qty).sum::<Decimal>(),
        Decimal::from(8)
    );
}

/// `arbkeep devnet`'s order flow: deployed, a dozen fills emitted from a
/// seed, and the hedge (its config section, the paper broker) records
/// every one and hedges them: per symbol, the fills' net is what stays on
/// the books plus what the broker holds against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devnet_order_flow_is_a_v6_flow_the_hedge_follows() {
    use arbkeep::strategy::equity_hedge::devnet_flow as flow;
    use arbkeep::strategy::equity_hedge::paper_broker::PaperBroker;
    use arbkeep::venue::broker::Broker;
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let p = devnet::signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let owner = Address::repeat_byte(0x57);
    let plan = flow::deploy(&p, &root(), owner).await.unwrap();
    // The section it writes is a config the hedge accepts.
    let mut config = config(&d, &tmp.path().join("devnet"));
    let section = flow::config_section(
        &plan,
        d.deployment.hemi.chain_id,
        &d.deployment.hemi.rpc_url,
    );
    let parsed = Config::from_toml(&section, "the flow's section").unwrap();
    assert_eq!(parsed.equity_hedge.raindex_version, RaindexVersion::V6);
    assert_eq!(
        Address::from_str(&parsed.equity_hedge.orderbook).unwrap(),
        plan.emitter
    );
    config.equity_hedge = parsed.equity_hedge;
    let mut dice = flow::FlowDice::new(7);
    let mut expected: std::collections::BTreeMap<String, Decimal> = Default::default();
    for _ in 0..12 {
        let (symbol, bought, shares) = flow::emit_one(&p, &plan, &mut dice).await.unwrap();
        let ticker = SymbolMap::st0x().ticker(&symbol).unwrap();
        *expected.entry(ticker).or_default() += if bought { shares } else { -shares };
    }
    // Monday 15:00 UTC: the paper broker's market is open.
    let clock = Arc::new(ManualClock::new(
        parse_time("2024-07-01T15:00:00Z").unwrap(),
    ));
    let schwab_fake = FakeSchwab::start(clock.clone()).await.unwrap();
    let w = World {
        p,
        schwab: schwab_fake.config(),
        fake: schwab_fake,
        clock: clock.clone(),
        owner,
        config,
        taapl: plan.equities[0].1,
        usdc: plan.usdc,
        version: RaindexVersion::V6,
        emitter: plan.emitter,
        _devnet: d,
    };
    let dir = tmp.path().join("keeper");
    std::fs::create_dir_all(&dir).unwrap();
    let (ingest, reads) = chain(&w, &tmp.path().join("ingest")).await;
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let broker = Arc::new(PaperBroker::open(&dir.join("broker.redb"), 3, dyn_clock).unwrap());
    let keeper = EquityHedge::new(
        decoder(&w),
        broker.clone(),
        "paper broker",
        ingest,
        reads.clone(),
        reads,
    );
    let mut run = engine_with(&w, &dir, Box::new(keeper)).await;
    let started = Instant::now();
    while run.trades() < 12 {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "{} of 12 fills",
            run.trades()
        );
        w.clock.advance(SECOND);
        run.engine.tick().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..10 {
        w.clock.advance(SECOND);
        run.engine.tick().await.unwrap();
    }
    let snap = run.handle.snapshots.borrow().clone();
    let held = broker.positions().await.unwrap();
    for (symbol, onchain) in &expected {
        let net = snap
            .positions
            .iter()
            .find(|p| p.venue == "raindex" && &p.symbol == symbol)
            .map_or(Decimal::ZERO, |p| p.net);
        let at_broker = held
            .iter()
            .find(|p| &p.symbol == symbol)
            .map_or(Decimal::ZERO, |p| p.quantity);
        assert_eq!(*onchain, net - at_broker, "{symbol}: {snap:?}");
        assert!(
            net.abs() < Decimal::ONE,
            "{symbol}: whole shares hedged, net {net}"
        );
    }
}

/// The `arbkeep` binary in devnet mode with `[equity_hedge]` on, trading at
/// the fake Schwab: the wiring a user runs, not a hand-built keeper.
fn arbkeep_binary(config: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_arbkeep"));
    cmd.arg("--headless")
        .arg("--config")
        .arg(config)
        .args(["--run-for", "120s"])
        .env("ARBITRAGE_PRIVATE_KEY", devnet::KEEPER_KEY)
        .env("SCHWAB_APP_KEY", FAKE_APP_KEY)
        .env("SCHWAB_APP_SECRET", FAKE_APP_SECRET)
        .env("ENCRYPTION_KEY", KEY)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// Wait until the fake has `posts` order POSTs, all filled (or fail with
/// what the binary said).
fn wait_for_posts(fake: &FakeSchwab, posts: usize, child: &mut std::process::Child) {
    let started = Instant::now();
    loop {
        let orders = fake.orders();
        if fake.order_posts() >= posts && orders.iter().all(|o| o.status == "FILLED") {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("arbkeep exited ({status}) before {posts} orders: {err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} of {posts} orders posted: {orders:?}",
            fake.order_posts()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_hedges_devnet_fills_at_schwab() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let p = devnet::signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let taapl = deploy_token(&p, "tAAPL", 18).await;
    let usdc = deploy_token(&p, "USDC", 6).await;

    // The binary runs on the wall clock, whatever the hour: the fake's
    // regular session spans every day.
    let fake = FakeSchwab::start(Arc::new(SystemClock)).await.unwrap();
    fake.open_around_the_clock();
    fake.set_price("AAPL", Decimal::from(200));
    // Shares to sell from: the pre-trade check sends no uncovered sell.
    fake.set_position("AAPL", Decimal::from(1000));
    let schwab = fake.config();
    std::fs::create_dir_all(&data).unwrap();
    log_in(
        &fake,
        &schwab,
        &data,
        Arc::new(ManualClock::new(SystemClock.now())),
    )
    .await;

    let owner = Address::repeat_byte(0x57);
    let mut toml = d.config_toml(&data).replace(
        "[cross_chain_loop]\n",
        "[cross_chain_loop]\nenabled = false\n",
    );
    toml.push_str(&format!(
        "\n[equity_hedge]\nenabled = true\nbroker = \"schwab\"\nchain_id = {}\nrpc = \"{}\"\norderbook = \"{}\"\norder_owner = \"{owner}\"\nusdc = \"{usdc}\"\nstart_block = 0\nconfirmations = 2\n\n[schwab]\napi_url = \"{}\"\nauth_url = \"{}\"\naccount_number = \"{}\"\ncallback_url = \"{}\"\npoll_interval = \"200ms\"\n",
        d.deployment.hemi.chain_id,
        d.deployment.hemi.rpc_url,
        d.deployment.hemi.raindex,
        schwab.api_url,
        schwab.auth_url,
        schwab.account_number,
        schwab.callback_url,
    ));
    let config_path = tmp.path().join("devnet.toml");
    std::fs::write(&config_path, toml).unwrap();

    let config = Config::default();
    let w = World {
        p,
        fake,
        clock: Arc::new(ManualClock::new(SystemClock.now())),
        schwab,
        owner,
        config,
        taapl,
        usdc,
        version: RaindexVersion::V4,
        emitter: d.deployment.hemi.raindex,
        _devnet: d,
    };
    let mut child = arbkeep_binary(&config_path).spawn().unwrap();
    // +0.6 then +1.8 tAAPL bought by the owner's orders, another owner's 7
    // in between: SELL 2 AAPL, and nothing for the other owner.
    w.take(w.owner, 6 * E18 / 10, 120 * E6).await;
    w.take(Address::repeat_byte(0x0e), 7 * E18, 1_400 * E6)
        .await;
    w.clear(18 * E18 / 10, 360 * E6).await;
    wait_for_posts(&w.fake, 1, &mut child);
    // The binary dies without warning; the next one finds the order by its
    // records and posts nothing again.
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(sells(&w), vec![("AAPL".to_string(), OrderSide::Sell, 2)]);

    let mut child = arbkeep_binary(&config_path).spawn().unwrap();
    w.take(w.owner, 11 * E18 / 10, 220 * E6).await;
    wait_for_posts(&w.fake, 2, &mut child);
    // A few more passes: nothing else is due (net 3.5, 3 hedged).
    std::thread::sleep(Duration::from_secs(4));
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(
        sells(&w),
        vec![
            ("AAPL".to_string(), OrderSide::Sell, 2),
            ("AAPL".to_string(), OrderSide::Sell, 1)
        ]
    );
    assert_eq!(w.fake.order_posts(), 2);

    // The same hedge in live mode (the engine without the loop), in a new
    // data dir with no `start_block`: it begins at the chain head, so the
    // fills above are history, and only the next one is hedged.
    let live = tmp.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    log_in(
        &w.fake,
        &w.schwab,
        &live,
        Arc::new(ManualClock::new(SystemClock.now())),
    )
    .await;
    let toml = std::fs::read_to_string(&config_path).unwrap();
    let hedge = &toml[toml.find("[equity_hedge]").unwrap()..];
    let live_toml = format!(
        "mode = \"live\"\ndata_dir = \"{}\"\n[engine]\nreconcile_interval = \"1s\"\n[cross_chain_loop]\nenabled = false\n{}",
        live.display(),
        hedge.replace("start_block = 0\n", "")
    );
    let live_path = tmp.path().join("live.toml");
    std::fs::write(&live_path, live_toml).unwrap();
    let seen = w.fake.requests().len();
    let mut child = arbkeep_binary(&live_path)
        .env_remove("ARBITRAGE_PRIVATE_KEY")
        .spawn()
        .unwrap();
    // Up once it asks Schwab something (it read the head before that).
    let started = Instant::now();
    while w.fake.requests().len() == seen {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "live run never called Schwab"
        );
        assert!(child.try_wait().unwrap().is_none(), "live run exited");
        std::thread::sleep(Duration::from_millis(100));
    }
    w.take(w.owner, 12 * E18 / 10, 240 * E6).await;
    wait_for_posts(&w.fake, 3, &mut child);
    std::thread::sleep(Duration::from_secs(3));
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(w.fake.order_posts(), 3);
    assert_eq!(
        sells(&w).last().unwrap(),
        &("AAPL".to_string(), OrderSide::Sell, 1),
        "live: +1.2 from the head on → SELL 1"
    );

    // No token, app key, app secret, encryption key or wallet key in any
    // file the binary wrote (store, token vault, diagnostic and money logs)
    // in either data dir.
    let tokens = w.fake.issued_tokens();
    assert!(!tokens.is_empty(), "the fake issued tokens");
    let mut secrets: Vec<(&str, String)> =
        tokens.into_iter().map(|t| ("a Schwab token", t)).collect();
    secrets.extend([
        ("the Schwab app key", FAKE_APP_KEY.to_string()),
        ("the Schwab app secret", FAKE_APP_SECRET.to_string()),
        ("ENCRYPTION_KEY", KEY.to_string()),
        ("the wallet key", devnet::KEEPER_KEY.to_string()),
        (
            "the wallet key",
            devnet::KEEPER_KEY.trim_start_matches("0x").to_string(),
        ),
    ]);
    let mut files = 0;
    for dir in [&data, &live] {
        for path in files_under(dir) {
            let bytes = std::fs::read(&path).unwrap();
            files += 1;
            for (what, s) in &secrets {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{what} in plain text in {}",
                    path.display()
                );
            }
        }
    }
    assert!(
        files >= 8,
        "the store, vault and logs of both runs: {files}"
    );
}

/// Wait until the fake Alpaca holds `orders` filled orders (or fail with
/// what the binary said).
fn wait_for_alpaca(alpaca: &FakeAlpaca, orders: usize, child: &mut std::process::Child) {
    let started = Instant::now();
    loop {
        let filled = alpaca
            .orders()
            .iter()
            .filter(|o| o.status == "filled")
            .count();
        if filled >= orders {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("the binary exited ({status}) before {orders} orders: {err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{filled} of {orders} orders filled: {:?}",
            alpaca.orders()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `arbkeep` binary in devnet mode reading a V6 orderbook and hedging
/// at the fake Alpaca: the first order is taken and its answer lost, the
/// binary is SIGKILLed right after, and the next one finds the order by
/// its client order id and posts nothing again; a later fill is hedged
/// once. The API key and secret are in no file the binary wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_hedges_devnet_v6_fills_at_alpaca_through_a_sigkill() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let p = devnet::signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let taapl = deploy_token(&p, "tAAPL", 18).await;
    let usdc = deploy_token(&p, "USDC", 6).await;
    let emitter = deploy_emitter_v6(&p).await;
    let alpaca = FakeAlpaca::start(Arc::new(SystemClock)).await.unwrap();
    alpaca.set_price("AAPL", Decimal::from(200));
    // Shares to sell from: the pre-trade check sends no uncovered sell.
    alpaca.set_position("AAPL", Decimal::from(1000));
    alpaca.fail_next_place(PlaceFault::ActThenDrop);
    let owner = Address::repeat_byte(0x57);
    let mut toml = d.config_toml(&data).replace(
        "[cross_chain_loop]\n",
        "[cross_chain_loop]\nenabled = false\n",
    );
    let a = alpaca.config();
    toml.push_str(&format!(
        "\n[equity_hedge]\nenabled = true\nbroker = \"alpaca\"\nraindex_version = \"v6\"\nchain_id = {}\nrpc = \"{}\"\norderbook = \"{emitter}\"\norder_owner = \"{owner}\"\nusdc = \"{usdc}\"\nstart_block = 0\nconfirmations = 2\nlisting_window = \"30s\"\n\n[alpaca]\nbase_url = \"{}\"\naccount_id = \"{}\"\n",
        d.deployment.hemi.chain_id, d.deployment.hemi.rpc_url, a.base_url, a.account_id,
    ));
    let config_path = tmp.path().join("devnet.toml");
    std::fs::write(&config_path, toml).unwrap();
    let schwab_fake = FakeSchwab::start(Arc::new(SystemClock)).await.unwrap();
    let w = World {
        p,
        schwab: schwab_fake.config(),
        fake: schwab_fake,
        clock: Arc::new(ManualClock::new(SystemClock.now())),
        owner,
        config: Config::default(),
        taapl,
        usdc,
        version: RaindexVersion::V6,
        emitter,
        _devnet: d,
    };
    let binary = |path: &Path| {
        let mut cmd = arbkeep_binary(path);
        cmd.env("ALPACA_BROKER_API_KEY", FAKE_KEY)
            .env("ALPACA_BROKER_API_SECRET", FAKE_SECRET);
        cmd
    };
    let mut child = binary(&config_path).spawn().unwrap();
    // +0.6 then +1.8: SELL 2, taken at the broker, its answer lost.
    w.take(w.owner, 6 * E18 / 10, 120 * E6).await;
    w.clear(18 * E18 / 10, 360 * E6).await;
    wait_for_alpaca(&alpaca, 1, &mut child);
    child.kill().unwrap();
    let _ = child.wait();
    let mut child = binary(&config_path).spawn().unwrap();
    // Net 1.5: SELL 1.
    w.take(w.owner, 11 * E18 / 10, 220 * E6).await;
    wait_for_alpaca(&alpaca, 2, &mut child);
    std::thread::sleep(Duration::from_secs(4));
    child.kill().unwrap();
    let _ = child.wait();
    let orders: Vec<(String, u64)> = alpaca
        .orders()
        .into_iter()
        .map(|o| (o.side, u64::try_from(o.qty).unwrap_or(u64::MAX)))
        .collect();
    assert_eq!(
        orders,
        vec![("sell".to_string(), 2), ("sell".to_string(), 1)]
    );
    assert!(
        alpaca.posts().values().all(|n| *n == 1),
        "each hedge POSTed once: {:?}",
        alpaca.posts()
    );
    for path in files_under(&data) {
        let bytes = std::fs::read(&path).unwrap();
        for s in [FAKE_KEY, FAKE_SECRET] {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "an Alpaca credential in plain text in {}",
                path.display()
            );
        }
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
