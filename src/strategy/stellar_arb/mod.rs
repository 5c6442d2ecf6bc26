//! `stellar_arb`: cyclic arbitrage on the Stellar DEX (docs/architecture.md
//! §4.4): cycles XLM → A (→ B) → XLM are built from order
//! books (Horizon never returns a cycle), checked against the Reflector
//! oracle, sized within the books' depth, and executed as one path payment
//! strict send to self whose `destMin` is above the amount sent plus fees.
//! The detector contract is read by simulation only (it is a stub).
//!
//! Trading accounts are derived from `STELLAR_SECRET_SEED` (the only secret,
//! environment only): account i's seed is `SHA-256(master ‖ "arbkeep/stellar/" ‖ i)`,
//! so nothing secret is ever written anywhere. Friendbot funds them on
//! TESTNET; on PUBLIC the master account creates them (CreateAccount).

pub mod cycle;
pub mod fees;
pub mod keeper;
pub mod store;
pub mod view;
pub mod wiring;
pub mod ws;
pub mod ws_off;

pub use keeper::StellarArbKeeper;
pub use view::StellarView;
pub use ws::{StellarShared, StellarWs};
pub use ws_off::StellarOff;

use crate::venue::stellar::keys::sha256;
use crate::venue::stellar::{Keypair, StellarAsset};

/// The environment variable holding the master secret (`S…`).
pub const SECRET_ENV: &str = "STELLAR_SECRET_SEED";

/// SDF's Friendbot, the default `friendbot_url` on TESTNET.
pub const TESTNET_FRIENDBOT: &str = "https://friendbot.stellar.org/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    Testnet,
    Public,
}

/// The `[stellar_arb]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StellarArbConfig {
    pub enabled: bool,
    pub network: Network,
    pub horizon_url: String,
    pub rpc_url: String,
    /// Friendbot (TESTNET); `None` on PUBLIC, where the master account
    /// creates the trading accounts itself.
    pub friendbot_url: Option<String>,
    pub passphrase: String,
    pub detector_contract: String,
    pub reflector_contract: String,
    pub num_accounts: u32,
    /// Fallback when no new ledger is seen (the seed's 15 s).
    pub scan_interval_ms: u64,
    pub assets: Vec<StellarAsset>,
    /// Smallest and largest XLM sent per cycle, stroops.
    pub min_send: i64,
    pub max_send: i64,
    /// Profit over fees required, basis points of the amount sent.
    pub min_edge_bps: i64,
    /// How far a hop's price may be from the oracle's.
    pub oracle_tolerance_bps: i64,
    /// An oracle price older than this (seconds before the latest ledger's
    /// close) is refused: no cycle is checked against it.
    pub oracle_max_age_secs: u64,
    /// XLM kept above the minimum balance on every account, stroops.
    pub reserve_guard: i64,
    /// Where there is no Friendbot: the XLM (stroops) the master account
    /// gives each trading account it creates.
    pub account_starting_xlm: i64,
    /// Execute without waiting for `start_engine` on the WebSocket.
    pub autostart: bool,
    /// Follow Horizon's ledger stream and scan on each close (else: on the
    /// engine's passes only).
    pub ledger_stream: bool,
    /// No ledger on the stream for this long: poll getLatestLedger instead.
    pub stream_silence_ms: u64,
    /// getLatestLedger this often while the stream is down.
    pub stream_poll_ms: u64,
    /// The stream is tried again after this much polling.
    pub stream_retry_ms: u64,
    /// How far Horizon's strict-send quote for a cycle's legs may be below
    /// the keeper's own prediction before the cycle is dropped, bps.
    pub path_check_tolerance_bps: i64,
    /// The inclusion fee bid from the network's fee stats
    /// (`fee_percentile`, `max_fee_stroops`).
    pub fee_policy: fees::FeePolicy,
}

impl StellarArbConfig {
    pub fn testnet_defaults() -> Self {
        Self {
            enabled: false,
            network: Network::Testnet,
            horizon_url: "https://horizon-testnet.stellar.org".into(),
            rpc_url: "https://soroban-testnet.stellar.org".into(),
            friendbot_url: Some(TESTNET_FRIENDBOT.into()),
            passphrase: crate::venue::stellar::TESTNET_PASSPHRASE.into(),
            detector_contract: "CAIEZ2IDLR2NWZVA3AYTJ5OLJC2A53GSPBMB43FQSESVJRWM4CFLZ45Q".into(),
            reflector_contract: "CCYOZJCOPG34LLQQ7N24YXBM7LL62R7ONMZ3G6WZAAYPB5OYKOMJRN63".into(),
            num_accounts: 10,
            scan_interval_ms: 15_000,
            assets: Vec::new(),
            min_send: 10_000_000,
            max_send: 10_000_000_000,
            min_edge_bps: 10,
            oracle_tolerance_bps: 300,
            // Reflector updates every 300 s: two periods.
            oracle_max_age_secs: 600,
            reserve_guard: 20_000_000,
            account_starting_xlm: 5 * crate::venue::stellar::ONE,
            autostart: true,
            ledger_stream: true,
            // Two ledger times.
            stream_silence_ms: 10_000,
            stream_poll_ms: 1_000,
            stream_retry_ms: 30_000,
            path_check_tolerance_bps: 50,
            fee_policy: fees::FeePolicy::default(),
        }
    }
}

/// Trading account `i` derived from the master key.
pub fn trading_key(master: &Keypair, i: u32) -> Keypair {
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(master.seed_bytes());
    bytes.extend_from_slice(b"arbkeep/stellar/");
    bytes.extend_from_slice(&i.to_be_bytes());
    Keypair::from_seed(sha256(&bytes))
}
