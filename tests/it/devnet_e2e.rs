//! The loop end to end on a devnet with real transactions, on both bridge
//! routes: ETH by Stargate V2, hemiBTC by its own LayerZero OFT adapter, WBTC
//! by the OP tunnel (initiate, prove, finalize), and XAUt by the tunnel too; Hemi's swaps go
//! through SushiSwap V3 (the real Uniswap V3 bytecode) where it has a pool
//! and fall back to V2 where not. The engine runs as in production (system
//! clock, real passes); every cycle completes, the wallet equals the ledger
//! to the last wei, and each cycle's wall time is printed. Every step's gas
//! is read from its receipts and printed, and none may exceed what the
//! planner prices its kind of step with (`venue::gas::priced`).

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
    // hemiBTC goes out by its own LayerZero OFT adapter (the "stargate"
    // route's IOFT calls, no Stargate pool).
    config.cross_chain_loop.tokens =
        vec![TokenId::Eth, TokenId::HemiBtc, TokenId::Wbtc, TokenId::Xaut];
    assert_eq!(config.cross_chain_loop.route(TokenId::Eth), Route::Stargate);
    assert_eq!(
        config.cross_chain_loop.route(TokenId::HemiBtc),
        Route::Stargate
    );
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
        while engine.open_cycles().count() < 4 {
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
    assert_eq!(cycles.len(), 4);
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
    // Every step's gas on the real contracts, from its receipts: never more
    // than the planner prices that kind of step with.
    step_gas_is_priced_over(&venue, &evm_store, &r, &cycles).await;
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

/// The gas one step used: every mined transaction of its intent (the
/// approve its call needs, then the call), each with its purpose.
async fn step_gas(
    venue: &arbkeep::venue::evm::EvmVenue,
    evm_store: &EvmStore,
    step: &arbkeep::model::StepRecord,
) -> (u128, Vec<(String, u64)>, Option<String>) {
    let c = venue.client(step.intent.action.chain());
    let mut total = 0u128;
    let mut txs = Vec::new();
    let mut proof = None;
    for rec in evm_store.txs_of(&step.intent.id.to_string()).unwrap() {
        for hash in rec.hashes() {
            if let Some(mined) = c.receipt(hash).await.unwrap() {
                total += u128::from(mined.gas_used);
                txs.push((rec.purpose.clone(), mined.gas_used));
                if step.kind() == StepKind::Prove && rec.last {
                    proof = Some(proof_size(&rec.data));
                }
                break;
            }
        }
    }
    (total, txs, proof)
}

/// A prove's withdrawal proof, as its node count and bytes.
fn proof_size(data: &[u8]) -> String {
    use alloy::sol_types::SolValue;
    use arbkeep::venue::evm::tunnel::{OutputRootProof, WithdrawalTransaction};
    let (_, _, _, nodes) = <(
        WithdrawalTransaction,
        alloy::primitives::U256,
        OutputRootProof,
        Vec<alloy::primitives::Bytes>,
    )>::abi_decode_params(&data[4..])
    .unwrap();
    let bytes: usize = nodes.iter().map(|n| n.len()).sum();
    format!(
        "{} proof nodes, {bytes} bytes, calldata {} bytes",
        nodes.len(),
        data.len()
    )
}

/// Each done step's measured gas against `gas::priced` for its kind (what
/// `fees` builds the planner's `FeeSchedule` from), printed per step and as
/// the most any step of a kind used; fails when any step used more than
/// its kind is priced at, or when a kind of step was not measured.
async fn step_gas_is_priced_over(
    venue: &arbkeep::venue::evm::EvmVenue,
    evm_store: &EvmStore,
    r: &arbkeep::store::Reader,
    cycles: &[arbkeep::model::Cycle],
) {
    use arbkeep::venue::evm::venue::gas;
    use std::collections::BTreeMap;
    // Kind of step (with its route or provider) -> (most gas used, priced at).
    let mut most: BTreeMap<String, (u128, u128)> = BTreeMap::new();
    let mut over = Vec::new();
    for c in cycles {
        for step in r.steps(c.id).unwrap() {
            let StepStatus::Done { receipt } = &step.status else {
                continue;
            };
            let kind = step.kind();
            let (used, txs, proof) = step_gas(venue, evm_store, &step).await;
            let priced = gas::priced(kind, c.route);
            let via = receipt.via.as_deref().unwrap_or("");
            let provider = via
                .strip_prefix("via ")
                .and_then(|v| v.split([' ', ',', ':', ';']).next())
                .unwrap_or("");
            let label = match kind {
                StepKind::HemiSwap | StepKind::EthSwap | StepKind::CloseSwap => {
                    format!("{kind:?} {provider}")
                }
                StepKind::BridgeOut => format!("{kind:?} {} {}", c.route, c.token),
                _ => format!("{kind:?}"),
            };
            eprintln!(
                "DEVNET GAS {} {} {label} on {}: {used} ({}){}, priced {priced}",
                c.id,
                c.token,
                step.intent.action.chain(),
                txs.iter()
                    .map(|(p, g)| format!("{p} {g}"))
                    .collect::<Vec<_>>()
                    .join(" + "),
                proof.map(|p| format!(" [{p}]")).unwrap_or_default()
            );
            let m = most.entry(label.clone()).or_insert((0, priced));
            m.0 = m.0.max(used);
            if used > priced {
                over.push(format!("{} {label}: used {used}, priced {priced}", c.id));
            }
        }
    }
    for (label, (used, priced)) in &most {
        eprintln!("DEVNET GAS MOST {label}: {used} of {priced} priced");
    }
    for kind in [
        StepKind::HemiSwap,
        StepKind::BridgeOut,
        StepKind::Prove,
        StepKind::Finalize,
        StepKind::EthSwap,
        StepKind::BridgeBack,
        StepKind::CloseSwap,
    ] {
        assert!(
            most.keys().any(|l| l.starts_with(&format!("{kind:?}"))),
            "no {kind:?} step measured"
        );
    }
    assert!(over.is_empty(), "steps the planner under-prices: {over:?}");
}
