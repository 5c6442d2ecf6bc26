//! The loop's pre-flight on the devnet's real contracts, through the
//! engine as in production: what can change under a plan between pricing
//! it and its first send is read again before the opening swap, and a
//! cycle whose plan no longer holds closes NOT_STARTED with the reason on
//! screen and nothing sent (the keeper's Hemi nonce stays 0):
//! - the tunnel portal paused by the OP guardian (a WBTC cycle);
//! - Hemi's ETH Stargate pool paused by its planner (an ETH cycle);
//! - Stargate's fee raised by its owner after the plan was priced, and
//!   its fee library paused towards Ethereum after the plan;
//! - the tunnel's finalization period lengthened after the plan (the
//!   oracle's storage rewritten, as an upgrade would);
//! - hemiBTC's OFT adapter left without its Ethereum peer after the plan.
//!
//! The changes that must land between the plan and the send are made by a
//! venue wrapper at the pre-flight's first read, so the engine's own
//! planner prices the cycle first.

use crate::devnet_common;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use arbkeep::engine::snapshot::CycleView;
use arbkeep::engine::{EngineOptions, Mode};
use arbkeep::model::{
    BridgeTicket, Chain, Clock, CycleState, Intent, IntentId, Receipt, Route, SystemClock, TokenId,
    Units,
};
use arbkeep::store::Store;
use arbkeep::venue::evm::devnet::{
    self, DEPLOYER_KEY, ETHEREUM_EID, IL2OutputOracle, ISuperchainConfig, OP_GUARDIAN_KEY,
    send_mined, set_fee, set_fee_paused, set_stargate_paused, signing_provider,
};
use arbkeep::venue::evm::{EvmStore, EvmVenue};
use arbkeep::venue::{Abandonment, BridgeStatus, FeeSchedule, LoopVenue, VenueError, VenueHealth};
use devnet_common::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Change = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The EVM venue, with one change to the world made at the pre-flight's
/// first read: after the planner priced the cycle, before its first send.
struct ChangedAfterPlan {
    inner: Arc<EvmVenue>,
    change: Mutex<Option<Change>>,
}

impl ChangedAfterPlan {
    fn new(inner: Arc<EvmVenue>, change: Option<Change>) -> Self {
        ChangedAfterPlan {
            inner,
            change: Mutex::new(change),
        }
    }
}

impl LoopVenue for ChangedAfterPlan {
    async fn quote(&self, c: Chain, i: TokenId, o: TokenId, a: Units) -> Result<Units, VenueError> {
        self.inner.quote(c, i, o, a).await
    }
    async fn reference_quote(
        &self,
        c: Chain,
        i: TokenId,
        o: TokenId,
        a: Units,
    ) -> Result<Units, VenueError> {
        self.inner.reference_quote(c, i, o, a).await
    }
    async fn fees(&self) -> Result<FeeSchedule, VenueError> {
        self.inner.fees().await
    }
    async fn balance(&self, c: Chain, t: TokenId) -> Result<Units, VenueError> {
        self.inner.balance(c, t).await
    }
    async fn execute(&self, intent: &Intent) -> Result<Receipt, VenueError> {
        self.inner.execute(intent).await
    }
    async fn settle(&self, intent: IntentId) -> Result<Option<Receipt>, VenueError> {
        self.inner.settle(intent).await
    }
    async fn gas_paid(&self, intent: IntentId) -> Result<Units, VenueError> {
        self.inner.gas_paid(intent).await
    }
    async fn abandon(&self, intent: IntentId) -> Result<Abandonment, VenueError> {
        self.inner.abandon(intent).await
    }
    async fn receipt(&self, c: Chain, tx: &str) -> Result<Option<Receipt>, VenueError> {
        self.inner.receipt(c, tx).await
    }
    async fn route_closed(
        &self,
        route: Route,
        token: TokenId,
    ) -> Result<Option<String>, VenueError> {
        let change = self.change.lock().unwrap().take();
        if let Some(change) = change {
            change.await;
        }
        self.inner.route_closed(route, token).await
    }
    async fn bridge_status(&self, t: &BridgeTicket) -> Result<BridgeStatus, VenueError> {
        self.inner.bridge_status(t).await
    }
    async fn health(&self) -> Vec<VenueHealth> {
        self.inner.health().await
    }
}

/// Run the engine over the devnet with only `token` in the loop, `change`
/// made after the plan, until a cycle closes NOT_STARTED; then check that
/// nothing was sent and no cycle went past DETECTED. Returns the refused
/// cycle as the screen shows it.
async fn refused_cycle(d: &devnet::Devnet, token: TokenId, change: Option<Change>) -> CycleView {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut config = config(d, dir);
    config.cross_chain_loop.tokens = vec![token];
    let evm_store = Arc::new(EvmStore::open(dir).unwrap());
    let evm = Arc::new(venue(&config, evm_store).await);
    let wallet = evm.wallet();
    let venue = Arc::new(ChangedAfterPlan::new(evm, change));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Store::open(dir, Mode::Devnet).unwrap();
    let options = EngineOptions {
        mode: Mode::Devnet,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, _h) =
        crate::common::engine_with_loop(config.clone(), options, venue, clock, store);
    engine.recover().await.unwrap();
    let started = Instant::now();
    let refused = loop {
        engine.tick().await.unwrap();
        let snap = engine.snapshot_for_tests();
        if let Some(c) = snap
            .cycles
            .iter()
            .find(|c| c.cycle.state == CycleState::NotStarted)
        {
            break c.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no cycle was refused: {:?}",
            snap.cycles
                .iter()
                .map(|c| (c.cycle.id, c.cycle.state, c.cycle.last_error.clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(refused.cycle.token, token);
    let why = refused.cycle.refusal.clone().unwrap_or_default();
    assert!(why.starts_with("pre-flight: "), "{why}");
    // On screen: the cycle's next-action line carries the reason.
    let reason = why.trim_start_matches("pre-flight: ");
    assert!(
        refused.next.contains(reason),
        "{} / {}",
        refused.next,
        reason
    );
    // Nothing was sent: the keeper's Hemi nonce never moved, and no cycle
    // opened past DETECTED.
    let hemi = signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    assert_eq!(hemi.get_transaction_count(wallet).await.unwrap(), 0);
    assert!(
        engine
            .snapshot_for_tests()
            .cycles
            .iter()
            .all(|c| matches!(c.cycle.state, CycleState::NotStarted | CycleState::Detected)),
    );
    refused
}

/// The devnet's deployer: every Stargate's planner and fee libraries'
/// owner, and an anvil account.
fn deployer(url: &str) -> alloy::providers::DynProvider {
    signing_provider(url, DEPLOYER_KEY).unwrap()
}

async fn send(url: &str, key: &str, to: Address, data: Vec<u8>) {
    let p = signing_provider(url, key).unwrap();
    send_mined(
        &p,
        TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(data)),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_preflight_refuses_a_tunnel_cycle_while_the_portal_is_paused() {
    let d = start(devnet::DevnetOptions::default()).await;
    let data = ISuperchainConfig::pauseCall {
        _identifier: "devnet test".into(),
    }
    .abi_encode();
    send(
        &d.ethereum.url(),
        OP_GUARDIAN_KEY,
        d.deployment.op.l1.superchain_config,
        data,
    )
    .await;
    let refused = refused_cycle(&d, TokenId::Wbtc, None).await;
    assert_eq!(refused.cycle.route, Route::HemiTunnel);
    let why = refused.cycle.refusal.unwrap_or_default();
    assert!(why.contains("paused by its guardian"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_preflight_refuses_a_stargate_cycle_while_its_pool_is_paused() {
    let d = start(devnet::DevnetOptions::default()).await;
    let pool = d.deployment.stargate.hemi.eth_pool;
    // The devnet's deployer is every Stargate's planner.
    set_stargate_paused(&deployer(&d.hemi.url()), pool, true)
        .await
        .unwrap();
    let refused = refused_cycle(&d, TokenId::Eth, None).await;
    assert_eq!(refused.cycle.route, Route::Stargate);
    let why = refused.cycle.refusal.unwrap_or_default();
    assert!(
        why.contains(&format!(
            "the ETH Stargate {pool} on Hemi is paused by its planner"
        )),
        "{why}"
    );
}

/// hemiBTC's OFT adapter (no Stargate, no planner pause) is read for its
/// peer: its owner unsets it after the plan, and the cycle is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_preflight_refuses_a_hemi_btc_cycle_when_its_oft_adapter_lost_its_peer() {
    let d = start(devnet::DevnetOptions::default()).await;
    let adapter = d.deployment.hemi.stargate[&TokenId::HemiBtc];
    let url = d.hemi.url();
    let change: Change = Box::pin(async move {
        let data = devnet::IStargateMessaging::setPeerCall {
            _eid: ETHEREUM_EID,
            _peer: B256::ZERO,
        }
        .abi_encode();
        send(&url, DEPLOYER_KEY, adapter, data).await;
    });
    let refused = refused_cycle(&d, TokenId::HemiBtc, Some(change)).await;
    assert_eq!(refused.cycle.route, Route::Stargate);
    let why = refused.cycle.refusal.unwrap_or_default();
    assert!(
        why.contains(&format!(
            "the hemiBTC OFT {adapter} on Hemi has no peer on Ethereum"
        )),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_preflight_refuses_a_cycle_when_the_stargate_fee_rose_after_the_plan() {
    let d = start(devnet::DevnetOptions::default()).await;
    let fee_lib = d.deployment.stargate.hemi.eth_fee_lib;
    let url = d.hemi.url();
    // 6 bps when the plan is priced; 50 bps by the time it would send.
    let change: Change = Box::pin(async move {
        set_fee(&deployer(&url), fee_lib, ETHEREUM_EID, 5_000)
            .await
            .unwrap();
    });
    let refused = refused_cycle(&d, TokenId::Eth, Some(change)).await;
    let plan = refused.cycle.planned_bridge_fees.expect("the plan's fees");
    assert_eq!(plan.stargate_fee_bps, 6);
    let why = refused.cycle.refusal.unwrap_or_default();
    assert!(
        why.contains("the Stargate fee rose above the plan")
            && why.contains("token fee 50 bps (planned 6)"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_preflight_refuses_a_cycle_when_the_fee_library_paused_after_the_plan() {
    let d = start(devnet::DevnetOptions::default()).await;
    let fee_lib = d.deployment.stargate.hemi.eth_fee_lib;
    let url = d.hemi.url();
    let change: Change = Box::pin(async move {
        set_fee_paused(&deployer(&url), fee_lib, ETHEREUM_EID, true)
            .await
            .unwrap();
    });
    let refused = refused_cycle(&d, TokenId::Eth, Some(change)).await;
    let why = refused.cycle.refusal.unwrap_or_default();
    assert!(
        why.contains(&format!(
            "the fee library {fee_lib} of the ETH Stargate on Hemi is paused towards Ethereum"
        )),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_a_fee_library_paused_before_any_plan_holds_planning_on_screen() {
    let d = start(devnet::DevnetOptions::default()).await;
    let fee_lib = d.deployment.stargate.hemi.eth_fee_lib;
    let owner = deployer(&d.hemi.url());
    set_fee_paused(&owner, fee_lib, ETHEREUM_EID, true)
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut config = config(&d, dir);
    config.cross_chain_loop.tokens = vec![TokenId::Eth];
    let evm_store = Arc::new(EvmStore::open(dir).unwrap());
    let venue = Arc::new(venue(&config, evm_store).await);
    let wallet = venue.wallet();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Store::open(dir, Mode::Devnet).unwrap();
    let options = EngineOptions {
        mode: Mode::Devnet,
        speed_milli: None,
        drain: false,
    };
    let (mut engine, _h) = crate::common::engine_with_loop(config, options, venue, clock, store);
    engine.recover().await.unwrap();
    for _ in 0..3 {
        engine.tick().await.unwrap();
    }
    let snap = engine.snapshot_for_tests();
    let line = snap
        .venues
        .iter()
        .find(|v| v.name == "loop pricing")
        .unwrap_or_else(|| panic!("no pricing line: {:?}", snap.venues));
    assert!(!line.ok, "{line:?}");
    // The revert is named, not left as its selector.
    assert!(
        line.detail.contains("planning waits") && line.detail.contains("FeeLib_Paused()"),
        "{line:?}"
    );
    assert!(snap.cycles.is_empty(), "{:?}", snap.cycles);
    let hemi = signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    assert_eq!(hemi.get_transaction_count(wallet).await.unwrap(), 0);
    // Unpaused, the line goes at the next pass.
    set_fee_paused(&owner, fee_lib, ETHEREUM_EID, false)
        .await
        .unwrap();
    engine.tick().await.unwrap();
    let snap = engine.snapshot_for_tests();
    assert!(
        snap.venues.iter().all(|v| v.name != "loop pricing"),
        "{:?}",
        snap.venues
    );
}

/// The storage slot of `L2OutputOracle.finalizationPeriodSeconds`, from
/// the storage layout in the published forge artifact.
fn finalization_period_slot() -> U256 {
    let path = root().join(
        "node_modules/@eth-optimism/contracts-bedrock/forge-artifacts/L2OutputOracle.sol/L2OutputOracle.json",
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let artifact: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entry = artifact["storageLayout"]["storage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == "finalizationPeriodSeconds")
        .expect("the oracle's layout names its finalization period");
    assert_eq!(entry["offset"], 0);
    entry["slot"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_preflight_refuses_a_tunnel_cycle_when_the_finalization_period_grew() {
    let d = start(devnet::DevnetOptions::default()).await;
    let oracle = d.deployment.op.l1.oracle;
    let planned = devnet::DevnetOptions::default().finalization_period_secs;
    let url = d.ethereum.url();
    let slot = finalization_period_slot();
    let change: Change = Box::pin(async move {
        let p = deployer(&url);
        let longer = B256::from(U256::from(planned + 3_600));
        let _: bool = p
            .raw_request(
                "anvil_setStorageAt".into(),
                (oracle, B256::from(slot), longer),
            )
            .await
            .unwrap();
        // The oracle itself now states the longer period.
        let now = p
            .call(
                TransactionRequest::default()
                    .with_to(oracle)
                    .with_input(IL2OutputOracle::FINALIZATION_PERIOD_SECONDSCall {}.abi_encode()),
            )
            .await
            .unwrap();
        assert_eq!(U256::from_be_slice(&now), U256::from(planned + 3_600));
    });
    let refused = refused_cycle(&d, TokenId::Wbtc, Some(change)).await;
    assert_eq!(refused.cycle.route, Route::HemiTunnel);
    let plan = refused.cycle.planned_bridge_fees.expect("the plan's fees");
    assert_eq!(plan.tunnel_finalization_secs, Some(planned));
    let why = refused.cycle.refusal.unwrap_or_default();
    assert!(
        why.contains("finalization period rose above the plan")
            && why.contains(&format!("{} s", planned + 3_600))
            && why.contains(&format!("(planned {planned} s)")),
        "{why}"
    );
}
