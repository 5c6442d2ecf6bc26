//! Whole cycles (WBTC, cbBTC, VUSD) through the engine on the devnet with Ethereum's
//! swap providers in the seed's order — CowSwap, 0x, SushiSwap V2 — and
//! Hemi's opening swap by SushiSwap V3 (the real Uniswap V3 bytecode):
//! first CowSwap fills the Ethereum swap (a signed order settled by the
//! local solver through the real GPv2Settlement); then, with the orderbook
//! down, 0x takes it; then, with 0x down too, SushiSwap V2. After each
//! cycle the wallet equals the ledger on both chains, to the base unit.

use crate::common::OpenCycles;
use crate::devnet_common;

use arbkeep::config::{CowConfig, ZeroXConfig};
use arbkeep::engine::{EngineOptions, Mode};
use arbkeep::fakes::zerox::FAKE_API_KEY;
use arbkeep::model::time::SECOND;
use arbkeep::model::{Clock, CycleState, StepKind, StepStatus, SystemClock, TokenId};
use arbkeep::store::{ReadOnlyStore, Store};
use arbkeep::venue::evm::devnet::DevnetOptions;
use arbkeep::venue::evm::{EvmStore, EvmVenue, Wallet};
use devnet_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_cycles_go_cowswap_then_zerox_then_sushi_v2_and_the_ledger_stays_exact() {
    let d = start(DevnetOptions::default()).await;
    let e = d.deployment.ethereum.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cow = start_cow(&d, clock.clone()).await;
    let contracts = cow.contracts.clone();
    let zx = e.zerox.clone().unwrap();
    let zerox = start_zerox(&d).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut config = config(&d, dir);
    let evm = config.evm.as_mut().unwrap();
    let sc = &mut evm.ethereum.swap;
    // The seed's order on Ethereum; its V2 router goes by SushiSwap's name.
    sc.v2_name = "sushi_v2".into();
    sc.cowswap = Some(CowConfig {
        name: "cowswap".into(),
        base_url: cow.fake.url(),
        settlement: contracts.settlement,
        vault_relayer: contracts.vault_relayer,
        valid_for_ms: 120 * SECOND,
        slippage_bps: 50,
        timeout_ms: 2_000,
        poll_ms: 200,
        partially_fillable: false,
    });
    sc.zerox = Some(ZeroXConfig {
        name: "zerox".into(),
        base_url: zerox.url(),
        allowance_holder: zx.allowance_holder,
        api_key_env: "ZEROX_API_KEY".into(),
        slippage_bps: 50,
        timeout_ms: 2_000,
    });
    sc.order = vec!["cowswap".into(), "zerox".into(), "sushi_v2".into()];
    let evm_store = Arc::new(EvmStore::open(dir).unwrap());
    let wallet = Wallet::from_secrets(&keeper_secrets()).unwrap();
    let env = |name: &str| (name == "ZEROX_API_KEY").then(|| FAKE_API_KEY.to_string());
    let venue = Arc::new(
        EvmVenue::connect_with(
            config.evm.as_ref().unwrap(),
            wallet,
            evm_store,
            clock.clone(),
            "devnet",
            &env,
        )
        .await
        .expect("venue connects"),
    );

    // A token per phase: each cycle closes much of its own token's gap.
    for (phase, (token, want)) in [
        (TokenId::Wbtc, "via cowswap"),
        (TokenId::CbBtc, "via zerox"),
        (TokenId::Vusd, "via sushi_v2"),
    ]
    .into_iter()
    .enumerate()
    {
        config.cross_chain_loop.tokens = vec![token];
        match phase {
            1 => cow.fake.set_down(true),
            2 => zerox.set_down(true),
            _ => {}
        }
        let started = Instant::now();
        // One pass opens the cycle; then drain it to the end.
        for drain in [false, true] {
            let store = Store::open(dir, Mode::Devnet).unwrap();
            let options = EngineOptions {
                mode: Mode::Devnet,
                speed_milli: None,
                drain,
            };
            let (mut engine, _h) = crate::common::engine_with_loop(
                config.clone(),
                options,
                venue.clone(),
                clock.clone(),
                store,
            );
            engine.recover().await.unwrap();
            let begun = Instant::now();
            loop {
                let open = engine.open_cycles().filter(|c| c.is_open()).count();
                if (!drain && open == 1) || (drain && open == 0) {
                    break;
                }
                assert!(
                    begun.elapsed() < Duration::from_secs(180),
                    "phase {phase}: {:?}",
                    engine
                        .open_cycles()
                        .map(|c| (c.id, c.state, c.last_error.clone()))
                        .collect::<Vec<_>>()
                );
                engine.tick().await.unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let read = ReadOnlyStore::open(dir).unwrap();
        let r = read.read().unwrap();
        let cycles = r.cycles().unwrap();
        assert_eq!(cycles.len(), phase + 1);
        let c = cycles.iter().max_by_key(|c| c.id).unwrap();
        assert_eq!(c.state, CycleState::Completed, "{} {:?}", c.id, c.failure);
        for step in r.steps(c.id).unwrap() {
            let StepStatus::Done { receipt } = &step.status else {
                continue;
            };
            let via = receipt.via.clone().unwrap_or_default();
            match step.intent.id.step {
                StepKind::HemiSwap => assert!(via.starts_with("via sushi_v3"), "{via}"),
                StepKind::EthSwap => {
                    assert!(via.starts_with(want), "phase {phase}: {via}");
                    println!("DEVNET PROVIDERS phase {phase}: {via}");
                }
                _ => {}
            }
        }
        println!(
            "DEVNET PROVIDERS phase {phase}: cycle {} in {:.1} s",
            c.id,
            started.elapsed().as_secs_f64()
        );
        // The wallet equals the ledger, every token on both chains.
        assert_wallet_equals_ledger(&venue, &r.ledger(0).unwrap(), &format!("phase {phase}")).await;
    }
    cow.stop_solving();
    // One order, filled once; the later cycles never reached the orderbook's order route.
    assert_eq!(cow.fake.orders().len(), 1);
    assert_eq!(cow.fake.trades().len(), 1);
    assert_eq!(cow.fake.post_total(), 1);
}
