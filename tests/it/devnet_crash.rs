//! Crash safety of the real binary on a devnet: SIGKILL it at every step
//! boundary (the engine has committed the step's intent; the venue has the
//! receipt but the engine has not booked it) and at every transaction
//! between its commit and its broadcast (and just after), on both bridge
//! routes, Ethereum's swaps going by a CoW order (killed around its post)
//! and by 0x, Hemi's by 1delta's calldata and SushiSwap V3; restart it each time. The cycles complete, the wallet sent no
//! transaction twice (counted on the nodes) and left no nonce gap, and the
//! wallet equals the ledger.

use crate::devnet_common;

use alloy::eips::BlockNumberOrTag;
use alloy::providers::Provider;
use arbkeep::fakes::zerox::{FAKE_API_KEY, QUOTE};
use arbkeep::model::{Chain, CycleState, Route};
use arbkeep::store::ReadOnlyStore;
use arbkeep::venue::evm::EvmStore;
use arbkeep::venue::evm::crash;
use arbkeep::venue::evm::devnet::{DevnetOptions, KEEPER_KEY};
use devnet_common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arbkeep(dir: &Path, drain: bool) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arbkeep"));
    cmd.arg("--headless")
        .arg("--config")
        .arg(dir.join("devnet.toml"))
        .args(["--run-for", "150s"])
        .env("ARBITRAGE_PRIVATE_KEY", KEEPER_KEY)
        .env(crash::ENV, dir.join("crash-points"))
        .env("ZEROX_API_KEY", FAKE_API_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if drain {
        cmd.arg("--drain");
    }
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_sigkill_at_every_step_boundary_sends_nothing_twice() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    // Ethereum's swaps go by 0x (the fake API over this devnet, answering
    // with calldata for the devnet's AllowanceHolder and Settler).
    let e = &d.deployment.ethereum;
    let zx = e.zerox.clone().expect("0x on the devnet's Ethereum");
    let zerox = start_zerox(&d).await;
    // CowSwap first: the real GPv2Settlement, the fake orderbook and the
    // local solver settling in this process while the binary is killed and
    // restarted. The orderbook here does not trade WETH, so the ETH cycle's
    // Ethereum swap goes to 0x and the WBTC cycle's is a CoW order.
    let cow = start_cow(&d, Arc::new(arbkeep::model::SystemClock)).await;
    let contracts = cow.contracts.clone();
    cow.fake.refuse_token(e.weth);
    // Hemi's ERC-20 swaps go by 1delta first (the fake API, building
    // calldata for Hemi's V2 router, which is its one target here); its
    // native-ETH legs it refuses, and those go by SushiSwap V3.
    let onedelta =
        arbkeep::fakes::onedelta::FakeOneDelta::start(arbkeep::fakes::onedelta::OneDeltaChain {
            rpc_url: d.hemi.url(),
            chain_id: d.deployment.hemi.chain_id,
            router: d.deployment.hemi.router,
            key: None,
        })
        .await
        .expect("the fake 1delta API starts");
    let text = d.config_toml(&data).replace(
        r#"tokens = ["ETH", "WBTC", "cbBTC", "XAUt", "VUSD"]"#,
        r#"tokens = ["ETH", "WBTC"]"#,
    ) + &format!(
        "\n[evm.hemi.onedelta]\nbase_url = \"{}\"\ntargets = [\"{}\"]\n\n[evm.ethereum.zerox]\nbase_url = \"{}\"\nallowance_holder = \"{}\"\n\n[evm.ethereum.cowswap]\nbase_url = \"{}\"\nsettlement = \"{}\"\nvault_relayer = \"{}\"\npoll_interval = \"200ms\"\n",
        onedelta.url(),
        d.deployment.hemi.router,
        zerox.url(),
        zx.allowance_holder,
        cow.fake.url(),
        contracts.settlement,
        contracts.vault_relayer,
    );
    std::fs::write(dir.join("devnet.toml"), text).unwrap();
    let halted = dir.join("crash-points.halted");

    let mut kills = 0;
    let started = Instant::now();
    for round in 0.. {
        assert!(round < 400, "too many rounds");
        // The first run opens the cycles; later runs only finish them.
        let mut child = arbkeep(dir, round > 0).spawn().expect("arbkeep starts");
        let round_started = Instant::now();
        loop {
            if halted.exists() {
                child.kill().expect("SIGKILL");
                child.wait().unwrap();
                std::fs::remove_file(&halted).unwrap();
                kills += 1;
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                assert!(status.success(), "arbkeep failed ({status}): {err}");
                assert!(round > 0, "the first run must stop at a crash point");
                break;
            }
            assert!(
                round_started.elapsed() < Duration::from_secs(120),
                "round {round} neither halted nor finished"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !halted.exists() && round > 0 && kills <= round {
            // Exited by itself: drained.
            break;
        }
    }
    let points = std::fs::read_to_string(dir.join("crash-points")).unwrap();
    let points: Vec<&str> = points.lines().collect();
    println!(
        "DEVNET CRASH {kills} SIGKILLs at distinct points in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(points.len(), kills);
    for kind in [
        ":execute",
        ":executed",
        ":before_broadcast",
        ":after_broadcast",
    ] {
        let n = points.iter().filter(|p| p.ends_with(kind)).count();
        println!("DEVNET CRASH kills at {kind}: {n}");
        assert!(n > 0, "no kill at {kind}");
    }
    // Every step was killed right after the engine committed its intent,
    // before anything was broadcast.
    for step in [
        "hemi_swap",
        "bridge_out",
        "prove",
        "finalize",
        "eth_swap",
        "bridge_back",
        "close_swap",
    ] {
        assert!(
            points
                .iter()
                .any(|p| p.contains(step) && p.ends_with(":execute")),
            "no kill between {step}'s intent commit and its broadcast"
        );
    }
    // Both cycles completed.
    let store = ReadOnlyStore::open(&data).unwrap();
    let r = store.read().unwrap();
    let cycles = r.cycles().unwrap();
    let routes: BTreeSet<Route> = cycles.iter().map(|c| c.route).collect();
    assert_eq!(routes.len(), 2, "both routes ran");
    for c in &cycles {
        assert_eq!(c.state, CycleState::Completed, "{} {:?}", c.id, c.failure);
    }

    // No duplicate, no gap: every transaction the wallet has on each node is
    // one the journal recorded, at consecutive nonces, once per step.
    let config = config(&d, &data);
    let journal = Arc::new(EvmStore::open(&data).unwrap());
    let v = venue(&config, journal.clone()).await;
    let txs = journal.all_txs().unwrap();
    // The ETH cycle's opening swap (native ETH out) went through SushiSwap
    // V3 (the real Uniswap V3 router), the WBTC cycle's by 1delta's
    // calldata: the kills around every broadcast below cover both sends.
    let v3_router = d.deployment.hemi.v3.as_ref().expect("Hemi has V3").router;
    let mut opening = BTreeMap::new();
    for t in txs
        .iter()
        .filter(|t| t.purpose == "swap" && t.intent.contains("hemi_swap"))
    {
        let chosen = journal
            .intent(&t.intent)
            .unwrap()
            .and_then(|k| k.swap)
            .map(|s| s.chosen)
            .unwrap_or_default();
        let by_v3 = t.to == v3_router;
        opening.insert(chosen, by_v3);
    }
    assert_eq!(
        opening,
        BTreeMap::from([
            ("1delta".to_string(), false),
            ("sushi_v3".to_string(), true)
        ]),
        "one opening swap by each"
    );
    assert!(onedelta.calls() >= 1, "1delta was asked");
    // Ethereum's went by 0x: its transaction, to the AllowanceHolder.
    let zerox_swaps = txs
        .iter()
        .filter(|t| t.purpose == "swap" && t.to == zx.allowance_holder)
        .count();
    assert_eq!(zerox_swaps, 1, "the ETH cycle's Ethereum swap went by 0x");
    assert!(zerox.calls(QUOTE) >= 1, "0x's firm quotes");
    // The WBTC cycle's went by one CoW order: posted once, filled once,
    // killed around its post like a transaction around its broadcast.
    cow.stop_solving();
    let orders = cow.fake.orders();
    assert_eq!(orders.len(), 1, "one order: {orders:?}");
    let uid = orders[0].uid.to_string();
    assert_eq!(
        cow.fake.posts().get(&uid),
        Some(&1),
        "{:?}",
        cow.fake.posts()
    );
    assert_eq!(
        cow.fake
            .trades()
            .iter()
            .filter(|t| t.order_uid == orders[0].uid)
            .count(),
        1,
        "filled once"
    );
    assert!(
        points.iter().any(|p| p.contains(":order:")),
        "no kill around the order's post: {points:?}"
    );
    for t in &txs {
        let label = t.label();
        assert!(
            points.iter().any(|p| p.starts_with(&format!("{label}:"))),
            "{label} was never killed around its broadcast"
        );
    }
    for chain in Chain::ALL {
        let c = v.client(chain);
        let p = c.provider();
        let head = p.get_block_number().await.unwrap();
        let mut sent = Vec::new();
        for n in 0..=head {
            let block = p
                .get_block_by_number(BlockNumberOrTag::Number(n))
                .full()
                .await
                .unwrap()
                .unwrap();
            for tx in block.transactions.into_transactions() {
                if tx.inner.signer() == v.wallet() {
                    sent.push((
                        alloy::consensus::Transaction::nonce(&tx),
                        *tx.inner.tx_hash(),
                    ));
                }
            }
        }
        let nonce = c.nonce_latest(v.wallet()).await.unwrap();
        let nonces: Vec<u64> = sent.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            nonces,
            (0..nonce).collect::<Vec<_>>(),
            "{chain}: nonces 0..{nonce}, each once"
        );
        for (n, hash) in &sent {
            let rec = txs
                .iter()
                .find(|t| t.chain_id == c.chain_id && t.hashes().any(|h| h == *hash))
                .unwrap_or_else(|| panic!("{chain} nonce {n}: {hash} is not in the journal"));
            assert_eq!(rec.nonce, *n);
        }
        // One mined transaction per (intent, seq) on this chain.
        let mut per_key: BTreeMap<(String, u32), usize> = BTreeMap::new();
        for (_, hash) in &sent {
            let rec = txs.iter().find(|t| t.hashes().any(|h| h == *hash)).unwrap();
            *per_key.entry((rec.intent.clone(), rec.seq)).or_default() += 1;
        }
        assert!(per_key.values().all(|n| *n == 1), "{per_key:?}");
        println!(
            "DEVNET CRASH {chain}: {} transactions, nonces 0..{nonce}",
            sent.len()
        );
    }
    // Each step of each cycle was carried out by exactly one mined last transaction.
    for c in &cycles {
        for step in r.steps(c.id).unwrap() {
            let order_filled = journal
                .intent(&step.intent.id.to_string())
                .unwrap()
                .and_then(|k| k.order)
                .is_some_and(|o| !o.is_dead());
            if matches!(step.status, arbkeep::model::StepStatus::Done { .. }) && !order_filled {
                let id = step.intent.id.to_string();
                let lasts = txs
                    .iter()
                    .filter(|t| t.intent == id && t.last && t.mined.is_some())
                    .count();
                assert_eq!(lasts, 1, "{id}");
            }
        }
    }

    // The wallet equals the ledger.
    assert_wallet_equals_ledger(&v, &r.ledger(0).unwrap(), "after the kills").await;
}
