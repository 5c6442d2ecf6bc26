//! How the binary's assembly (`src/app/`) adds the Stellar keeper: the venue for the mode (the paper
//! Stellar in the data dir, or the network's RPC/Horizon/Friendbot), the
//! master key from `STELLAR_SECRET_SEED`, the keeper, and the WebSocket
//! extension — returned for the assembly to register in two lines.

use super::{SECRET_ENV, StellarArbConfig, StellarArbKeeper, StellarShared, StellarWs};
use crate::engine::Keeper;
use crate::engine::extension::ControlExtension;
use crate::venue::faults::FaultDice;
use crate::venue::stellar::network::{Endpoints, NetworkVenue};
use crate::venue::stellar::paper::{PAPER_PASSPHRASE, PaperStellar, paper_contract};
use crate::venue::stellar::stream::{FeedSettings, LedgerFeed};
use crate::venue::stellar::{ContractKey, Keypair, StellarVenue};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The paper Stellar's file in the data dir.
pub const PAPER_FILE: &str = "paper-stellar.json";

/// The keeper and its WebSocket extension, for the assembly to register.
pub type Wired = (Box<dyn Keeper>, Arc<dyn ControlExtension>);

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(
        "{SECRET_ENV} is not set: the Stellar keeper needs the master secret (an S… key) in the environment"
    )]
    NoSecret,
    #[error("{SECRET_ENV}: {0}")]
    BadSecret(String),
    #[error("stellar_arb: {0}")]
    Venue(String),
}

/// The paper keeper: a simulated Stellar in `<data_dir>/paper-stellar.json`.
/// Paper money needs no secret; the master key is derived from the seed.
/// `faults` are injected at its `sendTransaction`.
pub fn paper(
    config: &StellarArbConfig,
    data_dir: &Path,
    seed: u64,
    faults: FaultDice,
) -> Result<Wired, WiringError> {
    let paper = PaperStellar::open(Some(&data_dir.join(PAPER_FILE)), seed)
        .map_err(|e| WiringError::Venue(e.to_string()))?
        .with_faults(faults);
    let mut config = config.clone();
    config.passphrase = PAPER_PASSPHRASE.into();
    config.detector_contract = paper_contract(0xD7).to_string();
    config.reflector_contract = paper_contract(0xEF).to_string();
    if config.assets.is_empty() {
        config.assets = paper.assets().to_vec();
    }
    config.scan_interval_ms = config.scan_interval_ms.min(5_000);
    // The paper faucet funds accounts whatever network is configured: the
    // paper master has no paper XLM to create them with.
    config.friendbot_url = Some("paper".into());
    let feed = config.ledger_stream.then(|| paper.ledger_feed());
    let venue: Arc<dyn StellarVenue> = Arc::new(paper);
    let (keeper, ws) = build(
        config,
        venue,
        &paper_master(seed),
        Duration::from_millis(10),
        feed,
    );
    Ok((keeper, ws))
}

/// The paper master key, derived from the seed (paper money needs no secret).
fn paper_master(seed: u64) -> Keypair {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_be_bytes());
    Keypair::from_seed(crate::venue::stellar::keys::sha256(&bytes))
}

/// The network keeper (testnet or public), secret from the environment.
pub fn network(config: &StellarArbConfig) -> Result<Wired, WiringError> {
    let secret = std::env::var(SECRET_ENV).map_err(|_| WiringError::NoSecret)?;
    let master =
        Keypair::from_secret(&secret).map_err(|e| WiringError::BadSecret(e.to_string()))?;
    let contract = |s: &str| ContractKey::parse(s).map_err(|e| WiringError::Venue(e.to_string()));
    let endpoints = Endpoints {
        horizon_url: config.horizon_url.clone(),
        rpc_url: config.rpc_url.clone(),
        friendbot_url: config.friendbot_url.clone(),
        detector: contract(&config.detector_contract)?,
        reflector: contract(&config.reflector_contract)?,
        timeout: Duration::from_secs(20),
    };
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints).map_err(|e| WiringError::Venue(e.to_string()))?);
    let feed = if config.ledger_stream {
        Some(
            LedgerFeed::horizon(&config.horizon_url, venue.clone(), feed_settings(config))
                .map_err(|e| WiringError::Venue(e.to_string()))?,
        )
    } else {
        None
    };
    Ok(build(
        config.clone(),
        venue,
        &master,
        Duration::from_millis(1000),
        feed,
    ))
}

/// The ledger stream's timings from `[stellar_arb]`.
pub fn feed_settings(config: &StellarArbConfig) -> FeedSettings {
    FeedSettings {
        silence: Duration::from_millis(config.stream_silence_ms),
        poll_every: Duration::from_millis(config.stream_poll_ms),
        stream_retry: Duration::from_millis(config.stream_retry_ms),
    }
}

fn build(
    config: StellarArbConfig,
    venue: Arc<dyn StellarVenue>,
    master: &Keypair,
    poll: Duration,
    feed: Option<LedgerFeed>,
) -> Wired {
    let shared = StellarShared::new(venue, config.autostart);
    let mut keeper = StellarArbKeeper::new(config, shared.clone(), master).with_polling(30, poll);
    if let Some(feed) = feed {
        keeper = keeper.with_ledger_feed(feed);
    }
    (Box::new(keeper), Arc::new(StellarWs::new(shared)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{KeeperContext, Phase, SendGate};
    use crate::model::Mode;
    use crate::store::Store;

    #[tokio::test]
    async fn paper_funds_from_its_faucet_even_when_public_is_configured() {
        let dir = tempfile::tempdir().expect("dir");
        let mut config = StellarArbConfig::testnet_defaults();
        config.network = super::super::Network::Public;
        config.friendbot_url = None;
        config.num_accounts = 1;
        let (mut keeper, _ws) = paper(&config, dir.path(), 7, FaultDice::off()).expect("paper");
        let store = Store::open(dir.path(), Mode::Paper).expect("store");
        let (notices, _) = tokio::sync::broadcast::channel(8);
        let gate = SendGate::default();
        let cx = KeeperContext {
            store: &store,
            now: 1,
            phase: Phase::Running,
            gate: &gate,
            notices: &notices,
        };
        keeper.recover(&cx).await.expect("recover");
        keeper.tick(&cx).await.expect("tick");
        drop(keeper);
        let world =
            PaperStellar::open(Some(&dir.path().join("paper-stellar.json")), 7).expect("reopen");
        let id = super::super::trading_key(&paper_master(7), 0).public();
        assert!(
            world.account(id).await.expect("account").is_some(),
            "funded by the paper faucet"
        );
    }

    #[tokio::test]
    async fn a_send_that_acted_then_lost_its_answer_is_settled_by_looking_never_re_signed() {
        use crate::venue::faults::SendFault;
        for fault in [
            SendFault::LoseReply,
            SendFault::ServerErrorAfter,
            SendFault::TimeoutAfter,
        ] {
            let dir = tempfile::tempdir().expect("dir");
            let mut config = StellarArbConfig::testnet_defaults();
            config.num_accounts = 1;
            let faults = FaultDice::off();
            faults.script([Some(SendFault::RefuseBefore), Some(fault)]);
            let (mut keeper, _ws) = paper(&config, dir.path(), 7, faults).expect("paper");
            let store = Store::open(dir.path(), Mode::Paper).expect("store");
            let (notices, _) = tokio::sync::broadcast::channel(64);
            let gate = SendGate::default();
            for pass in 0..40u64 {
                let cx = KeeperContext {
                    store: &store,
                    now: 1 + pass * 5_000,
                    phase: Phase::Running,
                    gate: &gate,
                    notices: &notices,
                };
                if pass == 0 {
                    keeper.recover(&cx).await.expect("recover");
                }
                keeper.tick(&cx).await.expect("tick");
            }
            drop(keeper);
            let ledger = PaperStellar::open(Some(&dir.path().join(PAPER_FILE)), 7)
                .expect("reopen")
                .ledger();
            assert!(!ledger.txs.is_empty(), "{fault:?}: something was sent");
            for (slot, hashes) in &ledger.offered {
                assert_eq!(hashes.len(), 1, "{fault:?}: {slot} re-signed: {hashes:?}");
            }
            let read = store.read().expect("read");
            let booked: std::collections::BTreeSet<String> = super::super::store::results(&read)
                .expect("results")
                .into_iter()
                .map(|r| r.hash)
                .collect();
            for hash in ledger.txs.keys() {
                assert!(
                    booked.contains(hash),
                    "{fault:?}: {hash} applied but never settled"
                );
            }
        }
    }
}
