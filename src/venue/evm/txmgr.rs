//! The transaction manager: one per wallet, serialised per chain. Every
//! transaction is committed to the journal (nonce, target, calldata and its
//! hash, value, and the signed bytes) before it is broadcast, and marked
//! broadcast after. Fees are EIP-1559; a transaction not mined after
//! `replace_after_blocks` is replaced at the same nonce with both its fee cap
//! and its tip raised by at least 12.5 % (nodes ask 10 %). Receipts are
//! awaited to the configured depth and checked to still be canonical.
//!
//! After a crash nothing is signed anew for the same step blindly: a record
//! found without a receipt is looked up by every hash it has, the nonce is
//! read from the chain, and the identical signed bytes are broadcast again
//! (which cannot make a second transaction). Only when the chain shows the
//! nonce taken by a transaction this wallet never signed — so none of ours
//! can ever be mined — is the record moved to a fresh nonce. "Shows" means
//! proven: a used nonce with no receipt of ours is common on a lagging or
//! load-balanced provider (the nonce from a node ahead, receipts from one
//! behind), so the manager finds the block where the sender's count passed
//! the nonce and reads the sender's transaction at that nonce from it. Ours:
//! mined, wait for its receipt. Another: taken. Not found (the node lacks
//! the state or the block): unproven — keep looking, and past the timeout
//! report the outcome unknown; never re-sign.

use super::chain::ChainClient;
use super::crash;
use super::db::{Attempt, EvmStore, Mined, TxRecord};
use super::wallet::Wallet;
use crate::model::Clock;
use crate::venue::VenueError;
use alloy::consensus::TxEip1559;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy::rpc::types::TransactionReceipt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxPolicy {
    pub confirmations: u64,
    pub replace_after_blocks: u64,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    pub tx_timeout: Duration,
    pub poll: Duration,
}

impl TxPolicy {
    pub fn from_config(c: &crate::config::EvmConfig) -> Self {
        TxPolicy {
            confirmations: c.confirmations,
            replace_after_blocks: c.replace_after_blocks,
            max_fee_per_gas: c.max_fee_per_gas,
            max_priority_fee_per_gas: c.max_priority_fee_per_gas,
            tx_timeout: Duration::from_millis(c.tx_timeout_ms),
            poll: Duration::from_millis(c.poll_interval_ms),
        }
    }
}

/// One transaction an intent needs.
#[derive(Debug, Clone)]
pub struct TxRequest {
    pub intent: String,
    pub seq: u32,
    pub purpose: &'static str,
    pub last: bool,
    pub to: Address,
    pub data: Bytes,
    pub value: U256,
    /// What the sender knows about the call's gas beyond the node's estimate.
    pub gas: GasHint,
}

/// Gas a call may need that `eth_estimateGas` cannot show. The estimate
/// runs in the head block's context, the transaction in a later block:
/// code that branches on `block.timestamp` (an AMM pair writes its price
/// oracle only in the first block of a new second) can cost more when
/// mined than when estimated — by more than the estimate's margin when
/// the writes fill empty slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GasHint {
    /// Added to the estimate-based limit: gas the call's own code is
    /// known to spend only in a block other than the estimate's.
    pub unseen: u64,
    /// The limit is at least this: the figure of whoever wrote the
    /// calldata (an aggregator's `transaction.gas`), for code whose
    /// branches we cannot read. A figure past the block's gas limit only
    /// gets the transaction refused by the node (nothing sent).
    pub floor: u64,
}

impl GasHint {
    /// The limit to sign for a call the node estimated at `estimate`: a
    /// fifth and 10 000 over it (state moves between estimate and
    /// mining), plus what the estimate cannot see, and never under the floor.
    pub fn limit(&self, estimate: u64) -> u64 {
        estimate
            .saturating_add(estimate / 5)
            .saturating_add(10_000)
            .saturating_add(self.unseen)
            .max(self.floor)
    }
}

/// What the chain says about a record, found by looking only.
#[derive(Debug, Clone)]
pub enum Look {
    /// Mined at the configured depth and still canonical.
    Confirmed(Box<TransactionReceipt>),
    /// Mined, not yet deep enough (or being re-checked after a reorg).
    Mined,
    /// The node has it in its pool.
    Pending,
    /// No node has it and its nonce is free: it was never broadcast, or dropped.
    NotSent,
    /// Its nonce was taken by a transaction we did not sign (`by`), read
    /// from the block where the nonce was used: ours can never mine.
    NonceTaken { by: B256 },
    /// Its nonce is used, no receipt of ours is found, and the chain does not
    /// (yet) show whose transaction used it: ours may be mined. Never re-signed.
    NonceUnproven(String),
}

pub struct TxManager {
    store: Arc<EvmStore>,
    wallet: Wallet,
    policy: TxPolicy,
    clock: Arc<dyn Clock>,
    /// One sender per chain: nonces are assigned by one task at a time.
    /// One sender at a time per chain id: nonces are taken in order.
    locks: std::sync::Mutex<std::collections::HashMap<u64, Arc<Mutex<()>>>>,
}

/// `v × 1.125`, rounded up.
fn bump(v: u128) -> u128 {
    v + v.div_ceil(8)
}

/// Why a broadcast was not accepted.
#[derive(Debug, Clone)]
enum NotAccepted {
    /// The node itself answered with a refusal (a JSON-RPC error of the
    /// transaction pool, see [`refusal`]): it did not keep the transaction.
    Refused(String),
    /// Anything else — a dropped connection, a timeout, a gateway's error
    /// (5xx, 429, an internal error), an answer that cannot be read: the
    /// node may well have it.
    Unclear(String),
}

impl NotAccepted {
    fn reason(&self) -> &str {
        match self {
            NotAccepted::Refused(r) | NotAccepted::Unclear(r) => r,
        }
    }
}

/// Whether a node's error answer to a broadcast is a refusal: an error
/// object with a transaction-pool code (geth and anvil answer -32000,
/// -32003 "transaction rejected" or -32602 invalid params; an internal
/// error, -32603, is what gateways answer when their backend failed them)
/// and a refusal's message.
fn refusal(e: &alloy::transports::RpcError<alloy::transports::TransportErrorKind>) -> bool {
    e.as_error_resp()
        .is_some_and(|p| matches!(p.code, -32000 | -32003 | -32602) && refused(&p.message))
}

/// Node errors that mean "refused, not kept": the nonce stays free.
fn refused(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "insufficient funds",
        "intrinsic gas too low",
        "gas limit",
        "exceeds block gas limit",
        "fee cap",
        "max fee per gas less than block base fee",
        "invalid",
        "chain id",
    ]
    .iter()
    .any(|m| t.contains(m))
        && !t.contains("nonce")
}

impl TxManager {
    pub fn new(
        store: Arc<EvmStore>,
        wallet: Wallet,
        policy: TxPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TxManager {
            store,
            wallet,
            policy,
            clock,
            locks: Default::default(),
        }
    }

    pub fn address(&self) -> Address {
        self.wallet.address()
    }

    /// The wallet's signature over a typed-data digest (no transaction).
    pub fn sign_digest(&self, digest: alloy::primitives::B256) -> Result<[u8; 65], VenueError> {
        self.wallet
            .sign_digest(digest)
            .map_err(VenueError::Rejected)
    }

    pub fn policy(&self) -> &TxPolicy {
        &self.policy
    }

    pub fn store(&self) -> &EvmStore {
        &self.store
    }

    fn lock(&self, client: &ChainClient) -> Arc<Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(client.chain_id).or_default().clone()
    }

    /// Send `req` (or resume the one already recorded under its key) and wait
    /// for its receipt at the configured depth. A revert is `Rejected` with
    /// its reason; a wait past the timeout is `Unknown`.
    pub async fn send(
        &self,
        client: &ChainClient,
        req: TxRequest,
    ) -> Result<TransactionReceipt, VenueError> {
        let lock = self.lock(client);
        let _one_sender = lock.lock().await;
        let rec = match self.store.tx(&req.intent, req.seq)? {
            Some(rec) => {
                // Recorded earlier (before a crash): that transaction, as
                // signed then, is the one to finish.
                if rec.to != req.to
                    || rec.data_hash != keccak256(&req.data)
                    || rec.value != req.value
                {
                    tracing::info!(tx = %rec.label(), "resuming the recorded transaction, not today's rebuild of it");
                }
                rec
            }
            None => self.create(client, &req).await?,
        };
        self.drive(client, rec).await
    }

    /// Simulate, assign the nonce, sign, commit, broadcast. When the node
    /// refuses the first broadcast outright the record is forgotten (nothing
    /// was sent and its nonce is free) and the step is `Rejected`.
    async fn create(&self, client: &ChainClient, req: &TxRequest) -> Result<TxRecord, VenueError> {
        let from = self.address();
        // A revert here sends nothing and commits nothing.
        let estimate = client
            .estimate_gas(from, req.to, req.data.clone(), req.value)
            .await?;
        let gas_limit = req.gas.limit(estimate);
        self.fill_gaps(client).await?;
        let nonce = self.next_nonce(client).await?;
        let (max_fee, tip) = self.fees(client).await?;
        let mut rec = TxRecord {
            intent: req.intent.clone(),
            seq: req.seq,
            purpose: req.purpose.to_string(),
            last: req.last,
            chain_id: client.chain_id,
            from,
            nonce,
            to: req.to,
            value: req.value,
            data_hash: keccak256(&req.data),
            data: req.data.clone(),
            gas_limit,
            attempts: Vec::new(),
            superseded: Vec::new(),
            mined: None,
            committed_at: self.clock.now(),
        };
        let attempt = self.sign(&rec, max_fee, tip)?;
        rec.attempts.push(attempt);
        self.store.put_tx(&rec)?;
        tracing::info!(tx = %rec.label(), chain = %client.name, nonce, hash = %rec.attempts[0].hash, purpose = req.purpose, "transaction committed");
        crash::point(&format!("{}:before_broadcast", rec.label()));
        match self.broadcast(client, &mut rec, 0).await {
            // Forgotten only when the node refused it and does not hold it
            // (behind a load balancer another node may have taken it).
            Err(NotAccepted::Refused(reason))
                if !client.knows(rec.attempts[0].hash).await.unwrap_or(true) =>
            {
                tracing::warn!(tx = %rec.label(), %reason, "node refused the transaction; forgetting it");
                self.store.remove_tx(&rec.intent, rec.seq)?;
                return Err(VenueError::Rejected(format!(
                    "{}: the node refused it: {reason}",
                    client.name
                )));
            }
            _ => {}
        }
        crash::point(&format!("{}:after_broadcast", rec.label()));
        Ok(rec)
    }

    /// The next nonce: past the chain's pending count and past every nonce
    /// the journal holds (a recorded transaction not yet broadcast keeps its own).
    async fn next_nonce(&self, client: &ChainClient) -> Result<u64, VenueError> {
        let from = self.address();
        let chain_nonce = client.nonce_pending(from).await?;
        let journal_next = self
            .store
            .all_txs()?
            .iter()
            .filter(|r| r.chain_id == client.chain_id && r.from == from)
            .map(|r| r.nonce + 1)
            .max()
            .unwrap_or(0);
        Ok(chain_nonce.max(journal_next))
    }

    fn sign(&self, rec: &TxRecord, max_fee: u128, tip: u128) -> Result<Attempt, VenueError> {
        let tx = TxEip1559 {
            chain_id: rec.chain_id,
            nonce: rec.nonce,
            gas_limit: rec.gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(rec.to),
            value: rec.value,
            input: rec.data.clone(),
            ..TxEip1559::default()
        };
        let signed = self.wallet.sign(tx).map_err(VenueError::Rejected)?;
        Ok(Attempt {
            hash: signed.hash,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            raw: signed.raw,
            broadcast: false,
            sent_block: None,
            cancel: false,
        })
    }

    /// Make sure `rec` can never be mined: a transfer of nothing to
    /// ourselves at its nonce, paying more than every attempt (+12.5 %) so
    /// nodes take it in its place. Signed once; later calls offer the same
    /// bytes again. Returns the cancel's hash.
    pub async fn cancel(
        &self,
        client: &ChainClient,
        rec: &mut TxRecord,
    ) -> Result<B256, VenueError> {
        let lock = self.lock(client);
        let _one_sender = lock.lock().await;
        if let Some(i) = rec.attempts.iter().position(|a| a.cancel) {
            if !client.knows(rec.attempts[i].hash).await? {
                let _ = self.broadcast(client, rec, i).await;
            }
            return Ok(rec.attempts[i].hash);
        }
        let (suggested_fee, suggested_tip) = self.fees(client).await?;
        let top_tip = rec
            .attempts
            .iter()
            .map(|a| a.max_priority_fee_per_gas)
            .max()
            .unwrap_or(0);
        let top_fee = rec
            .attempts
            .iter()
            .map(|a| a.max_fee_per_gas)
            .max()
            .unwrap_or(0);
        // The ceilings are not applied: a cancel costs 21 000 gas, and one
        // that nodes refuse would leave the abandoned call able to mine.
        let tip = bump(top_tip).max(suggested_tip);
        let max_fee = bump(top_fee).max(suggested_fee).max(tip);
        let tx = TxEip1559 {
            chain_id: rec.chain_id,
            nonce: rec.nonce,
            gas_limit: 21_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(rec.from),
            value: U256::ZERO,
            input: Bytes::new(),
            ..TxEip1559::default()
        };
        let signed = self.wallet.sign(tx).map_err(VenueError::Rejected)?;
        rec.attempts.push(Attempt {
            hash: signed.hash,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            raw: signed.raw,
            broadcast: false,
            sent_block: None,
            cancel: true,
        });
        self.store.put_tx(rec)?;
        let i = rec.attempts.len() - 1;
        tracing::warn!(tx = %rec.label(), nonce = rec.nonce, cancel = %signed.hash, "cancelling an abandoned transaction at its nonce");
        if let Err(why) = self.broadcast(client, rec, i).await {
            tracing::warn!(tx = %rec.label(), reason = why.reason(), "the cancel was not accepted yet; offered again on the next look");
        }
        Ok(signed.hash)
    }

    /// Broadcast attempt `i` (identical bytes every time) and note it.
    async fn broadcast(
        &self,
        client: &ChainClient,
        rec: &mut TxRecord,
        i: usize,
    ) -> Result<(), NotAccepted> {
        let raw = rec.attempts[i].raw.clone();
        let outcome = client.send_raw(&raw).await;
        let accepted = match &outcome {
            Ok(()) => true,
            Err(e) => {
                let t = e.to_string().to_ascii_lowercase();
                t.contains("already known") || t.contains("already imported")
            }
        };
        if accepted && !rec.attempts[i].broadcast {
            rec.attempts[i].broadcast = true;
            rec.attempts[i].sent_block = client.head().await.ok();
            if let Err(e) = self.store.put_tx(rec) {
                tracing::warn!(tx = %rec.label(), error = %e, "cannot note the broadcast; it will be looked up");
            }
        }
        match outcome {
            Ok(()) => Ok(()),
            Err(_) if accepted => Ok(()),
            Err(e) => {
                // The node's answer, without the RPC URL the transport quotes.
                let reason = super::chain::describe(&e);
                tracing::warn!(tx = %rec.label(), hash = %rec.attempts[i].hash, %reason, "broadcast not accepted");
                Err(if refusal(&e) {
                    NotAccepted::Refused(reason)
                } else {
                    NotAccepted::Unclear(reason)
                })
            }
        }
    }

    /// Suggested EIP-1559 fees, within the configured ceilings.
    async fn fees(&self, client: &ChainClient) -> Result<(u128, u128), VenueError> {
        use alloy::providers::Provider;
        let est = client
            .rpc("fee estimate", client.provider().estimate_eip1559_fees())
            .await?;
        let tip = est
            .max_priority_fee_per_gas
            .clamp(1, self.policy.max_priority_fee_per_gas);
        let max_fee = est
            .max_fee_per_gas
            .max(tip)
            .min(self.policy.max_fee_per_gas);
        Ok((max_fee, tip))
    }

    /// Every journal record on this chain that is not mined and whose nonce
    /// the chain has not passed is made known to the node again (identical
    /// bytes), lowest nonce first: a later nonce never waits on a gap.
    async fn fill_gaps(&self, client: &ChainClient) -> Result<(), VenueError> {
        let from = self.address();
        let latest = client.nonce_latest(from).await?;
        let mut open: Vec<TxRecord> = self
            .store
            .all_txs()?
            .into_iter()
            .filter(|r| {
                r.chain_id == client.chain_id
                    && r.from == from
                    && r.mined.is_none()
                    && r.nonce >= latest
            })
            .collect();
        open.sort_by_key(|r| r.nonce);
        for mut rec in open {
            let newest = rec.attempts.len() - 1;
            if !client.knows(rec.attempts[newest].hash).await? {
                tracing::info!(tx = %rec.label(), nonce = rec.nonce, "re-broadcasting a recorded transaction (same bytes)");
                let _ = self.broadcast(client, &mut rec, newest).await;
            }
        }
        Ok(())
    }

    /// Look only: where a recorded transaction stands.
    pub async fn look(&self, client: &ChainClient, rec: &TxRecord) -> Result<Look, VenueError> {
        for hash in rec.hashes() {
            if let Some(r) = client.receipt(hash).await? {
                let head = client.head().await?;
                let depth = head.saturating_sub(r.block_number.unwrap_or(u64::MAX)) + 1;
                if depth < self.policy.confirmations {
                    return Ok(Look::Mined);
                }
                let canonical = match (r.block_number, r.block_hash) {
                    (Some(n), Some(h)) => client.block(n).await?.map(|(hash, _)| hash) == Some(h),
                    _ => false,
                };
                if !canonical {
                    return Ok(Look::Mined);
                }
                if rec.mined.is_none() {
                    // Found by looking (after a crash): note it in the journal.
                    let mut noted = rec.clone();
                    noted.mined = Some(Mined {
                        hash: r.transaction_hash,
                        block_number: r.block_number.unwrap_or_default(),
                        block_hash: r.block_hash.unwrap_or_default(),
                        success: r.status(),
                    });
                    self.store.put_tx(&noted)?;
                }
                return Ok(Look::Confirmed(Box::new(r)));
            }
        }
        // Any attempt in the node's pool (an older one stays there when its
        // replacement was refused).
        for a in rec.attempts.iter().rev() {
            if client.knows(a.hash).await? {
                return Ok(Look::Pending);
            }
        }
        let latest = client.nonce_latest(rec.from).await?;
        if latest > rec.nonce {
            // Re-check: a receipt may have landed between the two reads.
            for hash in rec.hashes() {
                if client.receipt(hash).await?.is_some() {
                    return Ok(Look::Mined);
                }
            }
            return Ok(self.nonce_user(client, rec).await);
        }
        Ok(Look::NotSent)
    }

    /// Whose transaction used `rec.nonce`: the block where the sender's
    /// count passed it (searched back from the head, then halved), and in it
    /// the sender's transaction at that nonce. Anything the node cannot
    /// answer leaves it unproven.
    async fn nonce_user(&self, client: &ChainClient, rec: &TxRecord) -> Look {
        let unproven = |why: String| {
            Look::NonceUnproven(format!(
                "nonce {} of {} is used on {} and no receipt of ours is found; {why}",
                rec.nonce, rec.from, client.name
            ))
        };
        let passed = |count: u64| count > rec.nonce;
        let count_at = |block: u64| client.nonce_at(rec.from, block);
        let mut hi = match client.head().await {
            Ok(head) => head,
            Err(e) => return unproven(format!("no head: {e}")),
        };
        match count_at(hi).await {
            Ok(count) if passed(count) => {}
            Ok(_) => return unproven(format!("its state at block {hi} does not show it used")),
            Err(e) => return unproven(format!("no state at block {hi}: {e}")),
        }
        // Back from the head in doubling steps to a block before the nonce
        // was used (recent state is what a full node keeps).
        let mut step = 1;
        let mut lo = loop {
            if hi == 0 {
                return unproven("the genesis state already shows it used".into());
            }
            let b = hi.saturating_sub(step);
            match count_at(b).await {
                Ok(count) if passed(count) => {
                    hi = b;
                    step *= 2;
                }
                Ok(_) => break b,
                Err(e) => return unproven(format!("no state at block {b}: {e}")),
            }
        };
        // count(lo) ≤ nonce < count(hi): halve to the block that used it.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match count_at(mid).await {
                Ok(count) if passed(count) => hi = mid,
                Ok(_) => lo = mid,
                Err(e) => return unproven(format!("no state at block {mid}: {e}")),
            }
        }
        let txs = match client.block_senders(hi).await {
            Ok(Some(txs)) => txs,
            Ok(None) => return unproven(format!("block {hi} is not found")),
            Err(e) => return unproven(format!("block {hi}: {e}")),
        };
        match txs
            .iter()
            .find(|(_, from, nonce)| *from == rec.from && *nonce == rec.nonce)
        {
            // Ours, mined; its receipt is not indexed yet where we asked.
            Some((hash, ..)) if rec.hashes().any(|h| h == *hash) => Look::Mined,
            Some((hash, ..)) => Look::NonceTaken { by: *hash },
            None => unproven(format!(
                "block {hi} holds no transaction of the sender at that nonce"
            )),
        }
    }

    /// Wait for the record's receipt, re-broadcasting, replacing and
    /// re-checking as needed.
    async fn drive(
        &self,
        client: &ChainClient,
        mut rec: TxRecord,
    ) -> Result<TransactionReceipt, VenueError> {
        let started = Instant::now();
        let mut unproven: Option<String> = None;
        loop {
            let state = self.look(client, &rec).await?;
            match &state {
                Look::Confirmed(receipt) => {
                    return self.finish(client, &mut rec, (**receipt).clone()).await;
                }
                Look::Mined => {}
                Look::Pending => {
                    // A replacement the node refused earlier (an older attempt
                    // is what it holds): offer the same bytes again.
                    let newest = rec.attempts.len() - 1;
                    if !rec.attempts[newest].broadcast {
                        let _ = self.broadcast(client, &mut rec, newest).await;
                    }
                    let head = client.head().await?;
                    // Blocks since the newest attempt a node accepted.
                    let since = rec
                        .attempts
                        .iter()
                        .rev()
                        .find_map(|a| a.sent_block)
                        .unwrap_or(head);
                    if head >= since + self.policy.replace_after_blocks {
                        self.replace(client, &mut rec).await?;
                    }
                }
                Look::NotSent => {
                    let newest = rec.attempts.len() - 1;
                    match self.broadcast(client, &mut rec, newest).await {
                        Ok(()) => crash::point(&format!("{}:after_broadcast", rec.label())),
                        // Dropped for paying too little (the base fee rose):
                        // the same nonce again, with fees that can pay.
                        Err(why)
                            if rec.attempts.iter().any(|a| a.broadcast)
                                && why.reason().to_ascii_lowercase().contains("fee") =>
                        {
                            self.replace(client, &mut rec).await?;
                        }
                        Err(NotAccepted::Refused(reason))
                            if !rec.attempts.iter().any(|a| a.broadcast) =>
                        {
                            self.store.remove_tx(&rec.intent, rec.seq)?;
                            return Err(VenueError::Rejected(format!(
                                "{}: the node refused it: {reason}",
                                client.name
                            )));
                        }
                        Err(_) => {}
                    }
                }
                Look::NonceUnproven(why) => {
                    // Ours may be mined: keep looking, never re-sign.
                    if unproven.is_none() {
                        tracing::warn!(tx = %rec.label(), %why, "nonce used, not proven by whom; looking again");
                    }
                    unproven = Some(why.clone());
                }
                Look::NonceTaken { by } => {
                    // None of ours can be mined any more: move to a fresh nonce.
                    let pending = self.next_nonce(client).await?;
                    tracing::warn!(tx = %rec.label(), nonce = rec.nonce, taken_by = %by, new_nonce = pending, "nonce taken by a transaction we did not sign; re-signing at a fresh nonce");
                    let old: Vec<B256> = rec.attempts.iter().map(|a| a.hash).collect();
                    rec.superseded.extend(old);
                    rec.nonce = pending;
                    let (max_fee, tip) = self.fees(client).await?;
                    rec.attempts = vec![self.sign(&rec, max_fee, tip)?];
                    self.store.put_tx(&rec)?;
                    let _ = self.broadcast(client, &mut rec, 0).await;
                }
            }
            if started.elapsed() > self.policy.tx_timeout {
                let hash = rec
                    .attempts
                    .last()
                    .map(|a| a.hash.to_string())
                    .unwrap_or_default();
                let why = unproven
                    .map(|why| format!("; {why}; not re-signed"))
                    .unwrap_or_default();
                return Err(VenueError::Unknown(format!(
                    "{} ({hash}) not confirmed after {:?}; it may still be mined{why}",
                    rec.label(),
                    self.policy.tx_timeout
                )));
            }
            tokio::time::sleep(self.policy.poll).await;
        }
    }

    /// Same nonce, target, calldata and value; fee cap and tip both up.
    async fn replace(&self, client: &ChainClient, rec: &mut TxRecord) -> Result<(), VenueError> {
        let Some(last) = rec.attempts.last().cloned() else {
            return Ok(());
        };
        let (suggested_fee, suggested_tip) = self.fees(client).await?;
        let tip = bump(last.max_priority_fee_per_gas).max(suggested_tip);
        let base = client
            .rpc(
                "latest block",
                alloy::providers::Provider::get_block_by_number(
                    client.provider(),
                    alloy::eips::BlockNumberOrTag::Latest,
                ),
            )
            .await?
            .and_then(|b| b.header.base_fee_per_gas)
            .map(u128::from)
            .unwrap_or(0);
        let max_fee = bump(last.max_fee_per_gas)
            .max(2 * base + tip)
            .max(suggested_fee);
        let (tip, max_fee) = (
            tip.min(self.policy.max_priority_fee_per_gas),
            max_fee.min(self.policy.max_fee_per_gas),
        );
        // Nodes refuse a replacement below +10 % on both fields.
        if tip * 10 < last.max_priority_fee_per_gas * 11 || max_fee * 10 < last.max_fee_per_gas * 11
        {
            tracing::warn!(tx = %rec.label(), "cannot replace: the fee ceilings leave no room for a 10 % bump");
            return Ok(());
        }
        let attempt = self.sign(rec, max_fee, tip)?;
        tracing::warn!(tx = %rec.label(), nonce = rec.nonce, old = %last.hash, new = %attempt.hash, max_fee, tip, "replacing a transaction not mined in time");
        rec.attempts.push(attempt);
        self.store.put_tx(rec)?;
        let i = rec.attempts.len() - 1;
        if self.broadcast(client, rec, i).await.is_err() {
            // Refused (the older attempt stays in the pool): try again only
            // after another `replace_after_blocks`, not on every poll.
            rec.attempts[i].sent_block = client.head().await.ok();
            self.store.put_tx(rec)?;
        }
        Ok(())
    }

    /// Note the receipt; a revert becomes `Rejected` with its reason.
    async fn finish(
        &self,
        client: &ChainClient,
        rec: &mut TxRecord,
        receipt: TransactionReceipt,
    ) -> Result<TransactionReceipt, VenueError> {
        let block_number = receipt.block_number.unwrap_or_default();
        rec.mined = Some(Mined {
            hash: receipt.transaction_hash,
            block_number,
            block_hash: receipt.block_hash.unwrap_or_default(),
            success: receipt.status(),
        });
        self.store.put_tx(rec)?;
        if receipt.status() {
            return Ok(receipt);
        }
        let reason = client
            .replay_reason(rec.from, rec.to, rec.data.clone(), rec.value, block_number)
            .await;
        Err(VenueError::Rejected(format!(
            "{} {} reverted: {reason}",
            rec.purpose, receipt.transaction_hash
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gas_hint_adds_what_the_estimate_cannot_see() {
        let none = GasHint::default();
        assert_eq!(none.limit(100_000), 130_000);
        let unseen = GasHint {
            unseen: 46_000,
            floor: 0,
        };
        assert_eq!(unseen.limit(100_000), 176_000);
        // A floor under the margin changes nothing; over it, it is the limit.
        let floor = |floor| GasHint { unseen: 0, floor };
        assert_eq!(floor(120_000).limit(100_000), 130_000);
        assert_eq!(floor(250_000).limit(100_000), 250_000);
        assert_eq!(unseen.limit(u64::MAX), u64::MAX);
    }

    #[test]
    fn bumps_clear_the_ten_percent_rule() {
        for v in [1u128, 7, 8, 100, 1_000_000_007, 2_000_000_000] {
            assert!(bump(v) * 10 >= v * 11, "{v}");
            assert!(bump(v) > v);
        }
    }

    #[test]
    fn only_the_pools_own_error_is_a_refusal() {
        use alloy::transports::RpcError;
        let answer = |code: i64, message: &'static str| {
            let payload =
                serde_json::from_value(serde_json::json!({"code": code, "message": message}))
                    .expect("an error object");
            RpcError::<alloy::transports::TransportErrorKind>::ErrorResp(payload)
        };
        assert!(refusal(&answer(
            -32000,
            "insufficient funds for gas * price + value"
        )));
        assert!(refusal(&answer(-32003, "intrinsic gas too low")));
        // A gateway's internal error, whatever it says, is not the node's refusal.
        assert!(!refusal(&answer(
            -32603,
            "upstream returned an invalid response"
        )));
        assert!(!refusal(&answer(-32000, "nonce too low")));
        assert!(!refusal(&RpcError::local_usage_str(
            "invalid response body"
        )));
    }

    #[test]
    fn refusals_are_told_from_nonce_trouble() {
        assert!(refused("insufficient funds for gas * price + value"));
        assert!(!refused("nonce too low"));
        assert!(!refused("replacement transaction underpriced"));
    }
}
