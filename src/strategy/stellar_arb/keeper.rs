//! The `stellar_arb` keeper: account lifecycle (fund, trustlines, reserve
//! guard), one scan per new ledger (or per scan interval), and execution of
//! the best cycle with an intent committed before the transaction leaves.
//! Each result code has its handling: a fresh sequence, a higher fee, a
//! smaller size, dropping the opportunity, or stopping for the operator.
//! Every transaction carries a maxTime (the latest close + 2 min). Recovery
//! settles open intents with getTransaction; one not found is resent as the
//! *same* envelope (never re-signed) until the network's clock is past its
//! maxTime, and then written off as "expired unsent" with nothing booked.

use super::cycle::{Books, Opportunity, candidate_cycles, detect};
use super::store::{self as kstore, Booking, Execution, Intent};
use super::view::{AccountRow, ExecutionRow, OpportunityRow, OracleRow, StellarView};
use super::{StellarArbConfig, StellarShared, trading_key};
use crate::engine::{EngineError, Keeper, KeeperContext, Notice, Snapshot};
use crate::venue::VenueError;
use crate::venue::stellar::tx::{self, Header};
use crate::venue::stellar::{
    AccountKey, AccountState, Handling, Keypair, LedgerWindow, OraclePrice, SendStatus,
    StellarAsset, TxOutcome, TxStatus, format_amount, network_id,
};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Highest inclusion fee the keeper will pay after tx_insufficient_fee.
const MAX_FEE: u32 = 10_000;
/// Executions shown on the console.
const SHOWN: usize = 12;
/// Every transaction is valid until the latest ledger's close time plus
/// this (its maxTime): one that is lost can be written off soon after.
pub const TX_VALIDITY_SECS: u64 = 120;
/// How far past maxTime the latest close must be before a missing
/// transaction is written off (an RPC node may lag the network).
pub const EXPIRY_MARGIN_SECS: u64 = 30;
/// The result of a transaction that expired without ever being applied.
pub const EXPIRED_UNSENT: &str = "expired unsent";

pub struct StellarArbKeeper {
    config: StellarArbConfig,
    shared: Arc<StellarShared>,
    network_id: [u8; 32],
    /// Creates the trading accounts where there is no Friendbot (PUBLIC).
    master: Keypair,
    accounts: Vec<Keypair>,
    ready: bool,
    last_ledger: u32,
    last_scan_ms: u64,
    next_account: usize,
    fee: u32,
    /// getTransaction polls per send before leaving it to the next pass.
    polls: u32,
    poll_delay: Duration,
    halted: Option<String>,
    /// The last funding failure told about, so a failing pass does not
    /// repeat the same notice every ledger.
    funding_failure: Option<String>,
    view: StellarView,
}

/// What a transaction is for, recorded with its intent.
struct Purpose {
    kind: &'static str,
    label: String,
    /// XLM leaving the source beyond the fee (path payment, starting balance).
    send: i64,
    dest_min: i64,
    /// `create_account`: the account created.
    dest: Option<AccountKey>,
}

/// The source's XLM change and the bookings a settled transaction makes:
/// the change itself (fee on its own line) and, for a created account, its
/// starting balance on that account.
fn effect(intent: &Intent, outcome: &TxOutcome, result: &str) -> (i64, Vec<Booking>) {
    let fee = outcome.fee_charged;
    let line = |account: &str, delta: i64, reason: String| Booking {
        account: account.to_string(),
        asset: "XLM".into(),
        delta,
        reason,
    };
    let mut lines = Vec::new();
    let delta = if !outcome.succeeded() {
        -fee
    } else {
        match (intent.kind.as_str(), &intent.dest, outcome.delivered) {
            (_, _, Some(got)) => got - intent.send - fee,
            ("create_account", Some(dest), _) => {
                lines.push(line(
                    dest,
                    intent.send,
                    format!("created by {} with its starting balance", intent.account),
                ));
                -intent.send - fee
            }
            _ => -fee,
        }
    };
    lines.insert(
        0,
        line(
            &intent.account,
            delta + fee,
            format!("{} {}", intent.kind, result),
        ),
    );
    lines.insert(1, line(&intent.account, -fee, "network fee".into()));
    (delta, lines)
}

fn venue_err(e: VenueError) -> EngineError {
    EngineError::Venue(e)
}

impl StellarArbKeeper {
    pub fn new(config: StellarArbConfig, shared: Arc<StellarShared>, master: &Keypair) -> Self {
        let accounts = (0..config.num_accounts)
            .map(|i| trading_key(master, i))
            .collect();
        let network_id = network_id(&config.passphrase);
        Self {
            view: StellarView {
                network: format!("{:?}", config.network),
                ..StellarView::default()
            },
            config,
            shared,
            network_id,
            master: master.clone(),
            accounts,
            ready: false,
            last_ledger: 0,
            last_scan_ms: 0,
            next_account: 0,
            fee: tx::BASE_FEE,
            polls: 20,
            poll_delay: Duration::from_millis(500),
            halted: None,
            funding_failure: None,
        }
    }

    /// Poll faster (tests, paper).
    pub fn with_polling(mut self, polls: u32, delay: Duration) -> Self {
        self.polls = polls;
        self.poll_delay = delay;
        self
    }

    pub fn account_ids(&self) -> Vec<String> {
        self.accounts
            .iter()
            .map(|k| k.public().to_string())
            .collect()
    }

    pub fn view(&self) -> &StellarView {
        &self.view
    }

    fn log(&self, text: String) {
        tracing::info!(target: "stellar_arb", "{text}");
        self.shared.publish(json!({"log": text}));
    }

    /// Funded, trusting every configured asset, on the right network.
    /// Ready only once every account exists and trusts every asset; a pass
    /// that falls short tries again on the next one.
    async fn setup(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let venue = self.shared.venue.clone();
        let net = venue.network().await.map_err(venue_err)?;
        if net.passphrase != self.config.passphrase {
            self.halted = Some(format!(
                "network passphrase mismatch: the server is on {:?}, the config says {:?}",
                net.passphrase, self.config.passphrase
            ));
            self.view.status = self.halted.clone().unwrap_or_default();
            return Ok(());
        }
        let mut complete = true;
        for key in self.accounts.clone() {
            let id = key.public();
            if venue.account(id).await.map_err(venue_err)?.is_none() && !self.fund(cx, id).await? {
                // The next account would fail the same way: try next pass.
                complete = false;
                break;
            }
            let Some(state) = venue.account(id).await.map_err(venue_err)? else {
                complete = false;
                continue;
            };
            for asset in self.config.assets.clone() {
                if state.trusts(&asset) {
                    continue;
                }
                let limit = tx::TRUST_LIMIT;
                let purpose = Purpose {
                    kind: "change_trust",
                    label: format!("trust {}", asset.code()),
                    send: 0,
                    dest_min: 0,
                    dest: None,
                };
                let done = self
                    .submit(cx, &key, purpose, |h| tx::change_trust(h, &asset, limit))
                    .await?;
                if done.is_none_or(|e| e.result != "tx_success") {
                    complete = false;
                    break;
                }
            }
        }
        self.ready = complete;
        Ok(())
    }

    /// Bring account `id` into existence: Friendbot where there is one
    /// (TESTNET), else a CreateAccount from the master account (PUBLIC),
    /// checked against the master's balance first. `false`: not funded now.
    async fn fund(&mut self, cx: &KeeperContext<'_>, id: AccountKey) -> Result<bool, EngineError> {
        let venue = self.shared.venue.clone();
        if self.config.friendbot_url.is_some() {
            return match venue.fund(id).await {
                Ok(created) => {
                    self.funding_failure = None;
                    self.log(format!(
                        "account {id} funded by Friendbot{}",
                        if created { "" } else { " (it already existed)" }
                    ));
                    Ok(true)
                }
                Err(e) => {
                    self.funding_failed(cx, format!("Friendbot could not fund {id}: {e}"));
                    Ok(false)
                }
            };
        }
        let master = self.master.clone();
        let starting = self.config.account_starting_xlm;
        let Some(state) = venue.account(master.public()).await.map_err(venue_err)? else {
            self.funding_failed(
                cx,
                format!(
                    "the master account {} does not exist: send it XLM to create the trading accounts",
                    master.public()
                ),
            );
            return Ok(false);
        };
        // The master keeps its own minimum balance and pays the fee.
        let need = starting + i64::from(self.fee);
        if state.spendable_xlm() < need {
            self.funding_failed(
                cx,
                format!(
                    "the master account {} can spend {} XLM above its minimum balance; each trading account it creates needs {} XLM",
                    master.public(),
                    format_amount(state.spendable_xlm()),
                    format_amount(need)
                ),
            );
            return Ok(false);
        }
        let purpose = Purpose {
            kind: "create_account",
            label: format!("create {id}"),
            send: starting,
            dest_min: 0,
            dest: Some(id),
        };
        match self
            .submit(cx, &master, purpose, |h| {
                tx::create_account(h, id, starting)
            })
            .await?
        {
            Some(e) if e.result == "tx_success" || e.result == "op_already_exists" => {
                self.funding_failure = None;
                self.log(format!(
                    "account {id} created by the master with {} XLM",
                    format_amount(starting)
                ));
                Ok(true)
            }
            Some(e) => {
                self.funding_failed(cx, format!("creating {id} failed: {}", e.result));
                Ok(false)
            }
            // Sent, not settled yet: the open intent is settled first.
            None => Ok(false),
        }
    }

    /// Shown on the console, logged and told (webhooks) once per distinct
    /// failure: a pass that fails the same way every ledger says it once.
    fn funding_failed(&mut self, cx: &KeeperContext<'_>, message: String) {
        self.view.status = format!("funding: {message}");
        if self.funding_failure.as_deref() == Some(message.as_str()) {
            return;
        }
        tracing::warn!(target: "stellar_arb", "funding: {message}");
        self.shared
            .publish(json!({"log": format!("funding failed: {message}")}));
        notify(cx, "funding_failed", message.clone());
        self.funding_failure = Some(message);
    }

    /// Build (with a fresh sequence), sign, commit the intent, send, and
    /// settle when the network says. Returns the outcome if settled now.
    async fn submit(
        &mut self,
        cx: &KeeperContext<'_>,
        key: &Keypair,
        purpose: Purpose,
        build: impl Fn(Header) -> Result<stellar_xdr::Transaction, tx::TxError>,
    ) -> Result<Option<Execution>, EngineError> {
        let venue = self.shared.venue.clone();
        let Some(state) = venue.account(key.public()).await.map_err(venue_err)? else {
            return Ok(None);
        };
        // maxTime by the network's clock (the latest close), which is what
        // the network judges it by; lost, it can be written off soon after.
        let signed_close = venue.ledger_window().await.map_err(venue_err)?.latest_close;
        let header = Header {
            source: key.public(),
            seq: state.sequence + 1,
            fee: self.fee,
            max_time: signed_close + TX_VALIDITY_SECS,
        };
        let t = build(header).map_err(|e| venue_err(VenueError::Rejected(e.to_string())))?;
        let signed = tx::sign(t, key, &self.network_id)
            .map_err(|e| venue_err(VenueError::Rejected(e.to_string())))?;
        let intent = Intent {
            hash: signed.hash_hex(),
            account: key.public().to_string(),
            sequence: header.seq,
            kind: purpose.kind.into(),
            envelope: signed.envelope.clone(),
            send: purpose.send,
            dest_min: purpose.dest_min,
            dest: purpose.dest.map(|d| d.to_string()),
            max_time: header.max_time,
            signed_close,
            created_ms: cx.now,
            label: purpose.label,
        };
        cx.store.write(|w| kstore::put_intent(w, &intent))?;
        match venue.send(&signed.envelope).await {
            Ok(SendStatus::Error(outcome)) => {
                // Refused at admission: nothing applied, no fee charged.
                let e = self.settle(
                    cx,
                    &intent,
                    &format!("refused: {}", outcome.main_code()),
                    None,
                )?;
                self.after_refusal(&outcome);
                Ok(Some(e))
            }
            Ok(_) => self.await_result(cx, &intent).await,
            // Unknown: the intent stays; recovery or the next pass settles it.
            Err(VenueError::Unknown(e)) => {
                self.log(format!(
                    "{}: outcome unknown ({e}); will settle by looking",
                    intent.hash
                ));
                Ok(None)
            }
            Err(e) => {
                let _ = self.settle(cx, &intent, &format!("not sent: {e}"), None)?;
                Ok(None)
            }
        }
    }

    fn after_refusal(&mut self, outcome: &TxOutcome) {
        match outcome.handling() {
            Handling::RaiseFee => self.fee = (self.fee * 2).min(MAX_FEE),
            Handling::Operator => {
                self.halted = Some(outcome.describe());
                self.view.status = outcome.describe();
            }
            _ => {}
        }
    }

    async fn await_result(
        &mut self,
        cx: &KeeperContext<'_>,
        intent: &Intent,
    ) -> Result<Option<Execution>, EngineError> {
        let venue = self.shared.venue.clone();
        for _ in 0..self.polls {
            match venue.transaction(&intent.hash).await {
                Ok(TxStatus::NotFound) => tokio::time::sleep(self.poll_delay).await,
                Ok(TxStatus::Success { ledger, outcome })
                | Ok(TxStatus::Failed { ledger, outcome }) => {
                    let e =
                        self.settle(cx, intent, outcome.main_code(), Some((ledger, &outcome)))?;
                    if !outcome.succeeded() {
                        self.after_refusal(&outcome);
                    }
                    return Ok(Some(e));
                }
                Err(e) => {
                    tracing::warn!(target: "stellar_arb", hash = %intent.hash, error = %e, "getTransaction");
                    tokio::time::sleep(self.poll_delay).await;
                }
            }
        }
        Ok(None)
    }

    /// One durable transaction: the intent goes, the result and its ledger
    /// lines (the XLM change, with the fee on its own line) stay. No
    /// `applied` (ledger, outcome): nothing reached a ledger, nothing moved.
    fn settle(
        &mut self,
        cx: &KeeperContext<'_>,
        intent: &Intent,
        result: &str,
        applied: Option<(u32, &TxOutcome)>,
    ) -> Result<Execution, EngineError> {
        let (ledger, (delta, lines)) = match applied {
            Some((ledger, outcome)) => (ledger, effect(intent, outcome, result)),
            None => (0, (0, Vec::new())),
        };
        let e = Execution {
            hash: intent.hash.clone(),
            account: intent.account.clone(),
            kind: intent.kind.clone(),
            label: intent.label.clone(),
            send: intent.send,
            delta,
            result: result.into(),
            ledger,
            settled_ms: cx.now,
        };
        cx.store.write(|w| kstore::settle(w, &e, &lines))?;
        // Told after it is durable: a notice never runs ahead of the books.
        match intent.kind.as_str() {
            "cycle" if result == "tx_success" => notify(
                cx,
                "cycle_executed",
                format!(
                    "{}: sent {} XLM, {} XLM after fees (ledger {}, tx {})",
                    e.label,
                    format_amount(e.send),
                    signed_xlm(e.delta),
                    e.ledger,
                    e.hash
                ),
            ),
            "cycle" => notify(
                cx,
                "execution_failed",
                format!(
                    "{}: {} — {} ({} XLM, tx {})",
                    e.label,
                    e.result,
                    reason(&e.result),
                    signed_xlm(e.delta),
                    e.hash
                ),
            ),
            // A failed CreateAccount is told by `fund`, with the master's side.
            "change_trust" if result != "tx_success" => notify(
                cx,
                "funding_failed",
                format!(
                    "{} for {}: {} — {} (tx {})",
                    e.kind,
                    e.label,
                    e.result,
                    reason(&e.result),
                    e.hash
                ),
            ),
            _ => {}
        }
        self.shared.publish(json!({"result": {
            "hash": e.hash, "account": e.account, "path": e.label, "send": e.send,
            "delta": e.delta, "result": e.result, "ledger": e.ledger}}));
        self.view.executions.insert(
            0,
            ExecutionRow {
                hash: e.hash.clone(),
                path: e.label.clone(),
                send: e.send,
                delta: e.delta,
                result: e.result.clone(),
            },
        );
        self.view.executions.truncate(SHOWN);
        Ok(e)
    }

    /// Everything one scan needs: books for each hop, oracle prices.
    async fn scan(&mut self, ledger: u32) -> Result<Vec<Opportunity>, EngineError> {
        let venue = self.shared.venue.clone();
        let cycles = candidate_cycles(&self.config.assets);
        let mut books = Books::default();
        let mut pairs: Vec<(StellarAsset, StellarAsset)> = Vec::new();
        for c in &cycles {
            for w in c.windows(2) {
                let p = (w[1].clone(), w[0].clone());
                if !pairs.contains(&p) {
                    pairs.push(p);
                }
            }
        }
        for (selling, buying) in &pairs {
            books.insert(venue.order_book(selling, buying).await.map_err(venue_err)?);
        }
        let mut symbols: Vec<String> = vec!["XLM".into()];
        symbols.extend(self.config.assets.iter().map(|a| a.code().to_string()));
        let prices: HashMap<String, OraclePrice> = venue
            .oracle_prices(&symbols)
            .await
            .map_err(venue_err)?
            .into_iter()
            .filter_map(|(s, p)| p.map(|p| (s, p)))
            .collect();
        self.view.oracle = symbols
            .iter()
            .map(|s| OracleRow {
                symbol: s.clone(),
                price: prices
                    .get(s)
                    .map(|p| {
                        rust_decimal::Decimal::from_i128_with_scale(p.price, p.decimals)
                            .round_dp(6)
                            .normalize()
                            .to_string()
                    })
                    .unwrap_or_else(|| "—".into()),
            })
            .collect();
        let opps = detect(
            &books,
            &cycles,
            &prices,
            self.config.min_send,
            self.config.max_send,
            i64::from(self.fee),
            self.config.oracle_tolerance_bps,
            ledger,
        );
        self.view.opportunities = opps
            .iter()
            .take(SHOWN)
            .map(|o| OpportunityRow {
                path: o.label(),
                send: o.send,
                expected: o.expected,
                fee: o.fee,
                edge_bps: o.edge_bps,
                oracle_ok: o.oracle_ok,
            })
            .collect();
        for o in opps.iter().filter(|o| o.profit() > 0) {
            self.shared.publish(json!({"opportunity": {
                "path": o.label(), "send": o.send, "expected": o.expected, "fee": o.fee,
                "edge_bps": o.edge_bps, "oracle_ok": o.oracle_ok, "ledger": o.ledger}}));
        }
        Ok(opps)
    }

    async fn refresh_accounts(&mut self) -> Result<Vec<Option<AccountState>>, EngineError> {
        let venue = self.shared.venue.clone();
        let mut out = Vec::new();
        let mut rows = Vec::new();
        for k in &self.accounts {
            let s = venue.account(k.public()).await.map_err(venue_err)?;
            if let Some(s) = &s {
                rows.push(AccountRow {
                    id: s.id.to_string(),
                    xlm: s
                        .balance(&StellarAsset::Native)
                        .map(|b| b.amount)
                        .unwrap_or(0),
                    lines: s
                        .balances
                        .iter()
                        .filter(|b| !b.asset.is_native())
                        .map(|b| (b.asset.code().to_string(), b.amount))
                        .collect(),
                });
            }
            out.push(s);
        }
        self.view.accounts = rows;
        Ok(out)
    }

    /// Execute `o` from an account that can afford it, with one retry per
    /// handling that can help.
    async fn execute(
        &mut self,
        cx: &KeeperContext<'_>,
        o: &Opportunity,
    ) -> Result<(), EngineError> {
        let mut send = o.send;
        let mut expected = o.expected;
        for _attempt in 0..3 {
            // Guard before every send: balances read now, reserve kept.
            let states = self.refresh_accounts().await?;
            let n = self.accounts.len();
            let need = send + i64::from(self.fee) + self.config.reserve_guard;
            let Some(idx) = (0..n)
                .map(|k| (self.next_account + k) % n.max(1))
                .find(|&i| {
                    states
                        .get(i)
                        .and_then(|s| s.as_ref())
                        .is_some_and(|s| s.spendable_xlm() >= need)
                })
            else {
                self.view.status = "no trading account can afford the cycle".into();
                return Ok(());
            };
            self.next_account = (idx + 1) % n.max(1);
            let fee = i64::from(self.fee);
            let margin = i128::from(send) * i128::from(self.config.min_edge_bps) / 10_000;
            let dest_min = send + fee + margin as i64;
            if dest_min > expected {
                return Ok(());
            }
            let path: Vec<StellarAsset> = o.path().to_vec();
            let label = o.label();
            let key = self.accounts[idx].clone();
            let purpose = Purpose {
                kind: "cycle",
                label: label.clone(),
                send,
                dest_min,
                dest: None,
            };
            let r = self
                .submit(cx, &key, purpose, |h| {
                    tx::cyclic_path_payment(h, &StellarAsset::Native, send, &path, dest_min)
                })
                .await?;
            let Some(done) = r else { return Ok(()) };
            let code = done.result.trim_start_matches("refused: ").to_string();
            self.log(format!("{label}: {} ({} stroops)", done.result, done.delta));
            match crate::venue::stellar::codes::handling(&code) {
                Handling::RetryFreshSequence | Handling::RaiseFee => continue,
                Handling::Shrink => {
                    send /= 2;
                    expected /= 2;
                    if send < self.config.min_send {
                        return Ok(());
                    }
                }
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    async fn pass(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        if !self.ready {
            // Setup sends too (trustlines; on PUBLIC, XLM from the master):
            // the same guard as any send.
            if !cx.may_send() {
                self.view.status = "paused (accounts not set up yet)".into();
                return Ok(());
            }
            self.setup(cx).await?;
            if !self.ready {
                return Ok(());
            }
        }
        let venue = self.shared.venue.clone();
        let ledger = venue.latest_ledger().await.map_err(venue_err)?;
        let due = cx.now.saturating_sub(self.last_scan_ms) >= self.config.scan_interval_ms;
        if ledger == self.last_ledger && !due {
            return Ok(());
        }
        self.last_ledger = ledger;
        self.last_scan_ms = cx.now;
        self.view.ledger = ledger;
        self.view.started = self.shared.started();
        self.refresh_accounts().await?;
        let opps = self.scan(ledger).await?;
        let best = opps
            .into_iter()
            .find(|o| o.oracle_ok && o.edge_bps >= self.config.min_edge_bps && o.profit() > 0);
        self.view.status = match (&self.halted, self.shared.started(), cx.may_send()) {
            (Some(h), _, _) => format!("halted: {h}"),
            (None, false, _) => "waiting for start_engine".into(),
            (None, true, false) => "paused".into(),
            (None, true, true) => "running".into(),
        };
        if let Some(o) = best
            && self.halted.is_none()
            && self.shared.started()
            && cx.may_send()
        {
            self.execute(cx, &o).await?;
            self.refresh_accounts().await?;
        }
        Ok(())
    }

    /// Settle what a previous run (or a lost answer) left open. Found →
    /// settle by its result. Not found → decided by time: see [`judge_missing`].
    async fn settle_open(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let open = kstore::intents(&cx.store.read()?)?;
        let venue = self.shared.venue.clone();
        for intent in open {
            // Read before asking for the transaction: if it is then not
            // found, it is in no ledger up to `window.latest`.
            let window = venue.ledger_window().await.map_err(venue_err)?;
            match venue.transaction(&intent.hash).await.map_err(venue_err)? {
                TxStatus::Success { .. } | TxStatus::Failed { .. } => {
                    self.await_result(cx, &intent).await?;
                }
                TxStatus::NotFound => self.settle_missing(cx, &intent, &window).await?,
            }
        }
        Ok(())
    }

    async fn settle_missing(
        &mut self,
        cx: &KeeperContext<'_>,
        intent: &Intent,
        window: &LedgerWindow,
    ) -> Result<(), EngineError> {
        let venue = self.shared.venue.clone();
        let id = AccountKey::parse(&intent.account)
            .map_err(|e| venue_err(VenueError::Rejected(e.to_string())))?;
        // The source's sequence, asked after the window: a transaction
        // applied by then has consumed it.
        let seq = venue
            .account(id)
            .await
            .map_err(venue_err)?
            .map(|s| s.sequence)
            .unwrap_or(0);
        match judge_missing(intent, window, seq) {
            Missing::Resend => {
                self.log(format!(
                    "{}: not found before its maxTime; resending the same envelope",
                    intent.hash
                ));
                match venue.send(&intent.envelope).await {
                    Ok(SendStatus::Error(o)) => {
                        // It may have landed between the look and the resend
                        // (tx_bad_seq then): time decides, not this refusal.
                        self.log(format!(
                            "{}: resend refused ({}); settled once its maxTime has passed",
                            intent.hash,
                            o.main_code()
                        ));
                    }
                    Ok(_) => {
                        self.await_result(cx, intent).await?;
                    }
                    Err(e) => {
                        self.log(format!("{}: resend: {e}", intent.hash));
                    }
                }
            }
            Missing::Expired => {
                self.settle(cx, intent, EXPIRED_UNSENT, None)?;
                self.log(format!(
                    "{}: {EXPIRED_UNSENT} (past its maxTime, never applied); nothing booked",
                    intent.hash
                ));
            }
            Missing::SequenceUsed => {
                self.settle(
                    cx,
                    intent,
                    "not applied (sequence used by another transaction)",
                    None,
                )?;
            }
            Missing::Ambiguous => {
                let why = format!(
                    "transaction {} ({}) is past its maxTime and older than the RPC's history, and account {}'s sequence has moved past it: it may have applied. Look it up on Horizon or an explorer; nothing more is sent until it is settled",
                    intent.hash, intent.label, intent.account
                );
                if self.halted.as_deref() != Some(why.as_str()) {
                    tracing::error!(target: "stellar_arb", "{why}");
                }
                self.halted = Some(why.clone());
                self.view.status = format!("halted: {why}");
            }
        }
        Ok(())
    }
}

fn notify(cx: &KeeperContext<'_>, kind: &str, message: String) {
    tracing::info!(target: "stellar_arb", kind, %message, "notice");
    cx.notify(Notice::Stellar {
        kind: kind.into(),
        message,
    });
}

/// "+1.2345000" / "-0.0000100": a change of XLM, sign always shown.
fn signed_xlm(stroops: i64) -> String {
    if stroops < 0 {
        format!("-{}", format_amount(-stroops))
    } else {
        format!("+{}", format_amount(stroops))
    }
}

/// A result as a person reads it: the result code's sentence.
fn reason(result: &str) -> &'static str {
    match result.strip_prefix("refused: ").unwrap_or(result) {
        EXPIRED_UNSENT => "its time bounds passed before it was ever applied; nothing moved",
        code if code.starts_with("not sent") => "the request never reached the network",
        code if code.starts_with("not applied") => {
            "its sequence number was used by another transaction"
        }
        code => crate::venue::stellar::codes::describe(code),
    }
}

/// What a transaction getTransaction cannot find means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// It can still apply: send the same envelope again.
    Resend,
    /// Past its maxTime and provably not applied: it never will be.
    Expired,
    /// No time bound (an intent from before time bounds) and its sequence
    /// is used: not applied, judged by sequence as before.
    SequenceUsed,
    /// Past its maxTime, but outside the RPC's history and its sequence
    /// used: it may have applied. Only a person (or Horizon) can tell.
    Ambiguous,
}

/// Decide a transaction that getTransaction reports NOT_FOUND, given the
/// ledger window read before asking and the source account's sequence read
/// after. The network applies a transaction only in a ledger closing at or
/// before its maxTime; once the latest close is past maxTime (plus a margin
/// for a lagging RPC node) it never will. Whether it did *before* is known
/// from getTransaction only while the RPC's history covers its whole life
/// (from signing on); beyond that, an unused sequence still proves it did not.
pub fn judge_missing(intent: &Intent, window: &LedgerWindow, account_seq: i64) -> Missing {
    let consumed = account_seq >= intent.sequence;
    if intent.max_time == 0 {
        return if consumed {
            Missing::SequenceUsed
        } else {
            Missing::Resend
        };
    }
    if window.latest_close <= intent.max_time + EXPIRY_MARGIN_SECS {
        return Missing::Resend;
    }
    let history_covers = window.oldest_close <= intent.signed_close;
    if history_covers || !consumed {
        Missing::Expired
    } else {
        Missing::Ambiguous
    }
}

impl Keeper for StellarArbKeeper {
    fn name(&self) -> &'static str {
        "stellar_arb"
    }

    fn recover<'a>(
        &'a mut self,
        cx: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            cx.store.write(kstore::ensure_tables)?;
            let past = kstore::results(&cx.store.read()?)?;
            self.view.executions = past
                .iter()
                .rev()
                .take(SHOWN)
                .map(|e| ExecutionRow {
                    hash: e.hash.clone(),
                    path: e.label.clone(),
                    send: e.send,
                    delta: e.delta,
                    result: e.result.clone(),
                })
                .collect();
            self.settle_open(cx).await
        })
    }

    fn tick<'a>(&'a mut self, cx: &'a KeeperContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let pass = async {
                // Open intents first (a send whose answer was lost); nothing
                // new leaves while one is unsettled, so no two transactions
                // ever compete for a sequence number.
                if !kstore::intents(&cx.store.read()?)?.is_empty() {
                    self.settle_open(cx).await?;
                    if !kstore::intents(&cx.store.read()?)?.is_empty() {
                        self.view.status = match &self.halted {
                            Some(h) => format!("halted: {h}"),
                            None => "waiting for a sent transaction to settle".into(),
                        };
                        return Ok(());
                    }
                }
                self.pass(cx).await
            };
            match pass.await {
                // A transient venue error is not the engine's problem: show
                // it and try again next pass.
                Err(EngineError::Venue(e)) if e.is_transient() => {
                    self.view.status = format!("Stellar unreachable: {e}");
                    Ok(())
                }
                other => other,
            }
        })
    }

    fn render(&self, snapshot: &mut Snapshot) {
        snapshot.stellar = Some(self.view.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(max_time: u64, signed_close: u64) -> Intent {
        Intent {
            hash: "h".into(),
            account: "G".into(),
            sequence: 10,
            kind: "cycle".into(),
            envelope: String::new(),
            send: 0,
            dest_min: 0,
            dest: None,
            max_time,
            signed_close,
            created_ms: 0,
            label: String::new(),
        }
    }

    fn window(latest_close: u64, oldest_close: u64) -> LedgerWindow {
        LedgerWindow {
            latest: 2,
            latest_close,
            oldest: 1,
            oldest_close,
        }
    }

    #[test]
    fn a_missing_transaction_is_judged_by_time_then_history_then_sequence() {
        let i = intent(1_120, 1_000);
        // Before maxTime + margin: it can still apply, whatever the sequence.
        assert_eq!(judge_missing(&i, &window(1_100, 0), 10), Missing::Resend);
        assert_eq!(
            judge_missing(&i, &window(1_120 + EXPIRY_MARGIN_SECS, 0), 9),
            Missing::Resend
        );
        let late = 1_121 + EXPIRY_MARGIN_SECS;
        // After: history covering its life proves it never applied, even
        // with its sequence used (by another transaction).
        assert_eq!(
            judge_missing(&i, &window(late, 1_000), 10),
            Missing::Expired
        );
        // History gone: an unused sequence still proves it…
        assert_eq!(judge_missing(&i, &window(late, 1_001), 9), Missing::Expired);
        // …a used one does not.
        assert_eq!(
            judge_missing(&i, &window(late, 1_001), 10),
            Missing::Ambiguous
        );
        // Intents from before time bounds keep the sequence rule.
        let old = intent(0, 0);
        assert_eq!(judge_missing(&old, &window(late, 0), 9), Missing::Resend);
        assert_eq!(
            judge_missing(&old, &window(late, 0), 10),
            Missing::SequenceUsed
        );
    }
}
