//! Venues: the outside world as the engine sees it, behind traits that the
//! simulated world (`sim`) and the real adapters implement alike. Venues never
//! call the engine; they answer questions and carry out intents.

pub mod alpaca;
pub mod broker;
pub mod evm;
pub mod faults;
pub mod http_body;
pub mod logs;
pub mod schwab;
pub mod sim;
pub mod stellar;

use crate::model::{
    BridgeTicket, Chain, Intent, IntentId, Receipt, Route, Timestamp, TokenId, Units,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::future::Future;
use thiserror::Error;

/// Every venue error says which of the three kinds it is (docs/architecture.md §2, R4).
#[derive(Debug, Clone, Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum VenueError {
    /// Did not happen, may succeed later: retry with backoff.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Definitely did not happen and will not as asked (revert, slippage,
    /// insufficient balance): the step fails with this reason.
    #[error("rejected: {0}")]
    Rejected(String),
    /// May or may not have happened (timeout after send): settle by looking,
    /// never by sending again.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

impl VenueError {
    pub fn is_transient(&self) -> bool {
        matches!(self, VenueError::Transient(_))
    }
}

/// How a [`BridgeStatus::InFlight`] note that needs the operator begins.
pub const NOTE_TROUBLE: &str = "TROUBLE";

/// Where a bridge transfer stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BridgeStatus {
    /// On its way; `ready_at` is when the next stage is expected. `note`
    /// says what else is known of it (a second source's view, trouble it
    /// reports, a disagreement with the chain): shown to the operator,
    /// never acted on — only the chain moves money. A note beginning with
    /// [`NOTE_TROUBLE`] says it will not arrive by itself.
    InFlight {
        ready_at: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Tunnel: the output root is proposed; prove may be sent.
    ProveReady,
    /// Tunnel: proven; finalize possible from `finalize_at`.
    Proved { finalize_at: Timestamp },
    /// Tunnel: the challenge window has passed; finalize may be sent.
    FinalizeReady,
    /// Delivered to the wallet on the destination chain.
    Arrived {
        #[serde(with = "crate::model::intent::units_str")]
        amount: Units,
        tx_hash: String,
        at: Timestamp,
    },
}

/// What the planner needs to price a cycle's costs before sending anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSchedule {
    /// Expected gas cost of one action of each kind, in wei of ETH, per chain.
    pub swap_gas_hemi: Units,
    pub swap_gas_ethereum: Units,
    /// Sending X out of Hemi: a Stargate / OFT send, or the tunnel's initiation.
    pub stargate_send_gas_hemi: Units,
    pub tunnel_initiate_gas_hemi: Units,
    pub bridge_send_gas_ethereum: Units,
    pub prove_gas_ethereum: Units,
    pub finalize_gas_ethereum: Units,
    /// Stargate's native (messaging) fee in wei, per send.
    pub stargate_native_fee: Units,
    /// Stargate's token fee in basis points of the amount sent.
    pub stargate_fee_bps: u32,
    /// How long the tunnel holds a proven withdrawal before it may be
    /// finalized, in seconds, as the chain states it now; `None` where the
    /// venue has no tunnel.
    pub tunnel_finalization_secs: Option<u64>,
    /// USDC per ETH, for valuing gas.
    pub eth_usdc: Decimal,
}

/// What became of an intent the operator moved past (`LoopVenue::abandon`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Abandonment {
    /// It was carried out after all: book this receipt.
    Done(Box<Receipt>),
    /// Nothing of it was ever sent, and now nothing ever will be.
    NeverSent,
    /// A transaction that does nothing took its nonce: it can never be mined.
    Cancelled { tx_hash: String },
    /// It was sent, mined and reverted: it did nothing but pay its gas, and
    /// it can never be mined again.
    Reverted { tx_hash: String },
}

/// Health of one venue as shown on screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueHealth {
    pub name: String,
    pub ok: bool,
    /// Last block or ledger seen, when the venue has one.
    pub head: Option<u64>,
    pub latency_ms: Option<u64>,
    pub last_seen: Option<Timestamp>,
    pub detail: String,
}

/// The venues the cross-chain loop uses: swaps on both chains, bridges, the
/// wallet. Paper (`sim`) and devnet/live (`evm`) implement it alike.
pub trait LoopVenue: Send + Sync + 'static {
    /// Exact-in quote on `chain`'s swap venue. Costs one quote call.
    fn quote(
        &self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
    ) -> impl Future<Output = Result<Units, VenueError>> + Send;

    /// The reference price for detection (seed 003 §7.1: Uniswap on
    /// Ethereum), exact-in; never cached with `quote`'s answers. Venues
    /// without a separate reference, or pairs the reference has no pool
    /// for, answer as `quote` does.
    fn reference_quote(
        &self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
    ) -> impl Future<Output = Result<Units, VenueError>> + Send {
        self.quote(chain, token_in, token_out, amount_in)
    }

    /// Current gas and bridge fee estimates.
    fn fees(&self) -> impl Future<Output = Result<FeeSchedule, VenueError>> + Send;

    /// The wallet's balance of `token` on `chain`.
    fn balance(
        &self,
        chain: Chain,
        token: TokenId,
    ) -> impl Future<Output = Result<Units, VenueError>> + Send;

    /// Carry out an intent that was already committed to the store. A venue
    /// that cannot tell whether it acted answers `Unknown`.
    fn execute(&self, intent: &Intent) -> impl Future<Output = Result<Receipt, VenueError>> + Send;

    /// Look, never send: the receipt of an intent that was executed, or
    /// `None` when the venue can prove it never was (nonce unused, no record).
    fn settle(
        &self,
        intent: IntentId,
    ) -> impl Future<Output = Result<Option<Receipt>, VenueError>> + Send;

    /// Gas the intent's mined transactions paid, in wei of its chain's ETH —
    /// a reverted call pays too, so a failed step still books this. Venues
    /// whose refusals cost nothing keep the default.
    fn gas_paid(&self, intent: IntentId) -> impl Future<Output = Result<Units, VenueError>> + Send {
        let _ = intent;
        async { Ok(0) }
    }

    /// The operator moves past a step whose intent has no outcome: make sure
    /// it can never be carried out later. Looks first; where a signed
    /// transaction may still be mined, replaces it at its nonce with one that
    /// does nothing. `Unknown` while that replacement is not mined yet.
    fn abandon(
        &self,
        intent: IntentId,
    ) -> impl Future<Output = Result<Abandonment, VenueError>> + Send;

    /// The receipt of a transaction by hash (operator "mark done").
    fn receipt(
        &self,
        chain: Chain,
        tx_hash: &str,
    ) -> impl Future<Output = Result<Option<Receipt>, VenueError>> + Send;

    /// Why `route` cannot take a new cycle of `token` right now (its portal
    /// or a bridge it uses paused), read before the opening swap; `None`
    /// when it can. Venues whose routes cannot close keep the default.
    fn route_closed(
        &self,
        route: Route,
        token: TokenId,
    ) -> impl Future<Output = Result<Option<String>, VenueError>> + Send {
        let _ = (route, token);
        async { Ok(None) }
    }

    /// Where a bridge transfer stands.
    fn bridge_status(
        &self,
        ticket: &BridgeTicket,
    ) -> impl Future<Output = Result<BridgeStatus, VenueError>> + Send;

    /// One line per chain / venue for the health panel.
    fn health(&self) -> impl Future<Output = Vec<VenueHealth>> + Send;
}
