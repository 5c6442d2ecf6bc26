//! The loop end to end on a devnet with real transactions, on both bridge
//! routes: ETH by the Stargate-like bridge, WBTC by the OP-like tunnel
//! (initiate, prove, finalize), and XAUt by the tunnel too; Hemi's swaps go
//! through SushiSwap V3 (the real Uniswap V3 bytecode) where it has a pool
//! and fall back to V2 where not. The engine runs as in production (system
//! clock, real passes); every cycle completes, the wallet equals the ledger
//! to the last wei, and each cycle's wall time is printed.

use crate::common::OpenCycles;
use crate::devnet_common;

use arbkeep::engine::{EngineOptions, Mode};
use arbkeep::model::{Chain, Clock, CycleState, Route, StepKind, StepStatus, SystemClock, TokenId};
use arbkeep::store::{ReadOnlyStore, Store};
use arbkeep::venue::evm::EvmStore;
use arbkeep::venue::evm::devnet::DevnetOptions;
use devnet_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_loop_completes_on_both_routes_with_real_transactions() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut config = config(&d, dir);
    // XAUt has no V3 pool on the devnet's Hemi: its swaps fall back to V2.
    config.cross_chain_loop.tokens = vec![TokenId::Eth, TokenId::Wbtc, TokenId::Xaut];
    assert_eq!(config.cross_chain_loop.route(TokenId::Eth), Route::Stargate);
    assert_eq!(
        config.cross_chain_loop.route(TokenId::Wbtc),
        Route::HemiTunnel
    );
    let evm_store = Arc::new(EvmStore::open(dir).unwrap());
    let venue = Arc::new(venue(&config, evm_store.clone()).await);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let options = |drain| EngineOptions {
        mode: Mode::Devnet,
        speed_milli: None,
        drain,
    };

    // One pass opens a cycle per token (and sends its opening swap).
    {
        let store = Store::open(dir, Mode::Devnet).unwrap();
        let (mut engine, _h) = crate::common::engine_with_loop(
            config.clone(),
            options(false),
            venue.clone(),
            clock.clone(),
            store,
        );
        engine.recover().await.unwrap();
        let started = Instant::now();
        while engine.open_cycles().count() < 3 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no cycles opened"
            );
            engine.tick().await.unwrap();
        }
    }
    // Then drain: finish them, start nothing new.
    let store = Store::open(dir, Mode::Devnet).unwrap();
    let (mut engine, _h) =
        crate::common::engine_with_loop(config.clone(), options(true), venue.clone(), clock, store);
    engine.recover().await.unwrap();
    let started = Instant::now();
    while engine.open_cycles().any(|c| c.is_open()) {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "cycles still open: {:?}",
            engine
                .open_cycles()
                .map(|c| (c.id, c.state, c.last_error.clone()))
                .collect::<Vec<_>>()
        );
        engine.tick().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(engine);

    let read = ReadOnlyStore::open(dir).unwrap();
    let r = read.read().unwrap();
    let cycles = r.cycles().unwrap();
    assert_eq!(cycles.len(), 3);
    for c in &cycles {
        assert_eq!(c.state, CycleState::Completed, "{} {:?}", c.id, c.failure);
        let res = c.result.as_ref().unwrap();
        let secs = (res.completed_at - c.created_at) as f64 / 1000.0;
        println!(
            "DEVNET CYCLE {} {} via {}: {} VCRED in, P&L {} VCRED, wall time {secs:.1} s",
            c.id,
            c.token,
            c.route,
            arbkeep::model::format_units(c.vcred_in, 6),
            res.profit_vcred
        );
        assert!(
            res.profit_vcred > rust_decimal::Decimal::ZERO,
            "{} lost money",
            c.id
        );
    }
    // Hemi's swaps went through SushiSwap V3 first, V2 where V3 has no pool;
    // every receipt says which, and what the other quoted or why it was skipped.
    for c in &cycles {
        for step in r.steps(c.id).unwrap() {
            let StepStatus::Done { receipt } = &step.status else {
                continue;
            };
            let via = receipt.via.clone().unwrap_or_default();
            // VCRED/USDC (the close) and XAUt's pools are V2 pools only;
            // Ethereum's X/USDC swaps go by Uniswap V3 where it has a pool.
            let xaut = c.token == TokenId::Xaut;
            let want = match step.intent.id.step {
                StepKind::HemiSwap if !xaut => "via sushi_v3",
                StepKind::HemiSwap | StepKind::CloseSwap => "via sushi_v2",
                StepKind::EthSwap if !xaut => "via uniswap_v3",
                StepKind::EthSwap => "via uniswap_v2",
                _ => continue,
            };
            assert!(
                via.starts_with(want),
                "{} {:?}: {via}",
                c.id,
                step.intent.id.step
            );
            println!("DEVNET SWAP {} {:?}: {via}", c.id, step.intent.id.step);
        }
    }
    let routes: Vec<Route> = cycles.iter().map(|c| c.route).collect();
    assert!(routes.contains(&Route::Stargate) && routes.contains(&Route::HemiTunnel));
    // The tunnel cycle proved and finalized on Ethereum.
    let tunnel = cycles
        .iter()
        .find(|c| c.route == Route::HemiTunnel)
        .unwrap();
    assert!(
        tunnel
            .history
            .iter()
            .any(|(s, _)| *s == CycleState::BridgeOutProved)
    );

    // The wallet equals the ledger, every token on both chains, gas included.
    assert_wallet_equals_ledger(&venue, &r.ledger(0).unwrap(), "e2e").await;
    // Every recorded transaction was mined exactly once at its own nonce.
    let txs = evm_store.all_txs().unwrap();
    for chain in Chain::ALL {
        let c = venue.client(chain);
        let mut nonces: Vec<u64> = txs
            .iter()
            .filter(|t| t.chain_id == c.chain_id)
            .map(|t| t.nonce)
            .collect();
        nonces.sort();
        let on_chain = c.nonce_latest(venue.wallet()).await.unwrap();
        assert_eq!(
            nonces,
            (0..on_chain).collect::<Vec<_>>(),
            "{chain}: no gap, no duplicate"
        );
    }
}
