//! The `stellar_arb` keeper: what it holds and how the engine drives it.
//! Its phases live in one file each: `recovery` (settling what a previous
//! run or a lost answer left open, by looking; recovery failures that keep
//! the keeper DEGRADED instead of stopping the engine), `funding` (accounts
//! and trustlines), `scanning` (books, oracle, detection, execution),
//! `sending` (intent before action, the answer classified, settlement and
//! its bookings), `fees` and `bumping` (the fee bid, and a fee bump for a
//! transaction a surge holds) and `operator` (every open send on screen and
//! `arbkeep resolve`).
//!
//! Every transaction carries a maxTime (the latest close + 2 min). A send
//! whose answer is not definite is never booked as "not sent": it stays
//! open as OUTCOME UNKNOWN and is settled with getTransaction; one not found
//! is resent as the *same* envelope (never re-signed) until the network's
//! clock is past its maxTime, and then written off as "expired unsent" with
//! nothing booked. Nothing new leaves while any send is open.

mod bumping;
mod fees;
mod friendbot;
mod funding;
mod listening;
mod operator;
mod path_check;
mod recovery;
mod scanning;
mod sending;

pub use recovery::{Missing, judge_missing};

use super::store::{self as kstore, Intent};
use super::view::StellarView;
use super::{StellarArbConfig, StellarShared, trading_key};
use crate::engine::kill::{Realised, Standing, VenueBalance};
use crate::engine::{Command, EngineError, IntentState, Keeper, KeeperContext, Notice, Snapshot};
use crate::venue::stellar::tx;
use crate::venue::stellar::{AccountKey, Keypair, format_amount, network_id};
use crate::venue::{VenueError, VenueHealth};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Executions shown on the console.
const SHOWN: usize = 12;
/// The kind of an arbitrage cycle's send (its P&L counts for the kill switch).
pub const CYCLE: &str = "cycle";
/// Every transaction is valid until the latest ledger's close time plus
/// this (its maxTime): one that is lost can be written off soon after.
pub const TX_VALIDITY_SECS: u64 = 120;
/// How far past maxTime the latest close must be before a missing
/// transaction is written off (an RPC node may lag the network).
pub const EXPIRY_MARGIN_SECS: u64 = 30;
/// The result of a transaction that expired without ever being applied.
pub const EXPIRED_UNSENT: &str = "expired unsent";
/// Recovery retried after a failure: first after this, doubling…
const RECOVERY_BACKOFF_MS: u64 = 1_000;
/// …up to this.
const RECOVERY_BACKOFF_MAX_MS: u64 = 60_000;

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
    /// Inclusion fee per operation bid now (`fees`), and why.
    fee: u32,
    fee_choice: crate::strategy::stellar_arb::fees::FeeChoice,
    /// getTransaction polls per send before leaving it to the next pass.
    polls: u32,
    poll_delay: Duration,
    halted: Option<String>,
    /// The open intent (its hash) the keeper halted on, if that is why.
    halted_on: Option<String>,
    /// The last funding failure told about, so a failing pass does not
    /// repeat the same notice every ledger.
    funding_failure: Option<String>,
    /// Every open send as the screen shows it, by its key (the tx hash).
    open: BTreeMap<String, OpenNote>,
    recovery: Recovery,
    /// The last Stellar call failure of a pass, for the venue panel.
    venue_fault: Option<String>,
    /// What the last scan left out, and why (a dropped book, a refused
    /// oracle price), shown with the status.
    scan_notes: Vec<String>,
    view: StellarView,
    /// Each arbitrage cycle settled since yesterday's start: when, and the
    /// XLM (stroops) it made or lost, for the kill switch.
    realised: Vec<(u64, i64)>,
    /// USD per XLM from the oracle's last accepted price.
    xlm_usd: Option<rust_decimal::Decimal>,
    /// Ledger closes as they happen (`listening`); `None`: passes only.
    feed: Option<crate::venue::stellar::stream::LedgerFeed>,
    /// The ledger an early turn heard, scanned by that turn.
    heard: Option<u32>,
}

/// What the keeper is doing about one open send.
#[derive(Debug, Clone)]
struct OpenNote {
    intent: Intent,
    state: IntentState,
    doing: String,
}

/// Whether boot recovery has finished. Until it has, nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Recovery {
    Done,
    /// Failed `attempts` times, the last with `error`; next try at `next_ms`.
    Failed {
        error: String,
        attempts: u32,
        next_ms: u64,
    },
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
    /// A cycle's prediction, shown against its result.
    predicted: Option<super::store::Prediction>,
}

fn venue_err(e: VenueError) -> EngineError {
    EngineError::Venue(e)
}

/// The id `arbkeep resolve` names an open Stellar send by: `s:` and the
/// first 12 characters of its key (a transaction's hash).
pub fn intent_id(key: &str) -> String {
    format!("s:{}", key.chars().take(12).collect::<String>())
}

/// Unix seconds as a UTC time of day, "14:02:05".
fn utc_time(secs: u64) -> String {
    let s = secs % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3_600, s / 60 % 60, s % 60)
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
            fee_choice: crate::strategy::stellar_arb::fees::FeeChoice::base(),
            polls: 20,
            poll_delay: Duration::from_millis(500),
            halted: None,
            halted_on: None,
            funding_failure: None,
            realised: Vec::new(),
            xlm_usd: None,
            open: BTreeMap::new(),
            recovery: Recovery::Failed {
                error: "not started".into(),
                attempts: 0,
                next_ms: 0,
            },
            venue_fault: None,
            scan_notes: Vec::new(),
            feed: None,
            heard: None,
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

    /// Recovery has finished: sending may start (when the gate allows).
    pub fn recovered(&self) -> bool {
        self.recovery == Recovery::Done
    }

    fn log(&self, text: String) {
        tracing::info!(target: "stellar_arb", "{text}");
        self.shared.publish(json!({"log": text}));
    }

    /// Record what is being done about an open send (shown on screen).
    fn note(&mut self, intent: &Intent, state: IntentState, doing: String) {
        self.open.insert(
            intent.hash.clone(),
            OpenNote {
                intent: intent.clone(),
                state,
                doing,
            },
        );
    }

    /// How an open send is shown while it is looked for: SENT if the node
    /// took it, else OUTCOME UNKNOWN.
    fn open_state(&self, intent: &Intent) -> IntentState {
        match self.open.get(&intent.hash) {
            Some(n) if n.state == IntentState::Sent => IntentState::Sent,
            _ => IntentState::OutcomeUnknown,
        }
    }

    /// Re-read the open intents from the store: any the keeper has no note
    /// for (left by a previous run) is of unknown outcome until looked at.
    fn load_open(&mut self, cx: &KeeperContext<'_>) -> Result<Vec<Intent>, EngineError> {
        let open = kstore::intents(&cx.store.read()?)?;
        self.open.retain(|k, _| open.iter().any(|i| &i.hash == k));
        for i in &open {
            if !self.open.contains_key(&i.hash) {
                let doing = "left open by a previous run: looking it up before anything is sent"
                    .to_string();
                self.note(i, IntentState::OutcomeUnknown, doing);
            }
        }
        Ok(open)
    }

    fn status_line(&self, cx: &KeeperContext<'_>) -> String {
        match (&self.halted, self.shared.started(), cx.may_send()) {
            (Some(h), _, _) => format!("halted: {h}"),
            (None, false, _) => "waiting for start_engine".into(),
            (None, true, false) => "paused".into(),
            (None, true, true) => "running".into(),
        }
    }

    /// One pass once recovered: open sends first (a send whose answer was
    /// lost); nothing new leaves while one is unsettled, so no two
    /// transactions ever compete for a sequence number.
    async fn tick_recovered(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        if !self.load_open(cx)?.is_empty() {
            self.settle_open(cx).await?;
            // What is still open was not found: lift any the surge holds.
            for intent in self.load_open(cx)? {
                self.lift_if_stuck(cx, &intent.hash).await?;
            }
            if !self.load_open(cx)?.is_empty() {
                self.view.status = match &self.halted {
                    Some(h) => format!("halted: {h}"),
                    None => "waiting for a sent transaction to settle".into(),
                };
                return Ok(());
            }
        }
        self.pass(cx).await
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
        format!("-{}", format_amount(stroops.saturating_neg()))
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
        code if code.starts_with("dropped by operator") => {
            "the operator said it did not apply; nothing booked"
        }
        code => crate::venue::stellar::codes::describe(code),
    }
}

impl Keeper for StellarArbKeeper {
    fn name(&self) -> &'static str {
        "stellar_arb"
    }

    /// Boot recovery. A Stellar failure here does not stop the engine (and
    /// the other strategies with it): it is recorded, shown as DEGRADED,
    /// and retried on the next ticks with backoff; nothing is sent until
    /// recovery has finished. Store errors still stop it.
    fn recover<'a>(
        &'a mut self,
        cx: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            cx.store.write(kstore::ensure_tables)?;
            let past = kstore::results(&cx.store.read()?)?;
            let since =
                crate::engine::kill::day_start(cx.now).saturating_sub(crate::model::time::DAY);
            self.realised = past
                .iter()
                .filter(|e| e.kind == CYCLE && e.settled_ms >= since)
                .map(|e| (e.settled_ms, e.delta))
                .collect();
            self.view.executions = past
                .iter()
                .filter(|e| e.kind != recovery::FRIENDBOT)
                .rev()
                .take(SHOWN)
                .map(crate::strategy::stellar_arb::view::execution_row)
                .collect();
            self.start_listening();
            self.try_recover(cx).await
        })
    }

    fn standing(&self, since: u64) -> Standing {
        let day: Vec<&(u64, i64)> = self
            .realised
            .iter()
            .filter(|(at, _)| *at >= since)
            .collect();
        let per_xlm = self.xlm_usd;
        let stroops = |v: i64| rust_decimal::Decimal::new(v, 7);
        let realised = match per_xlm {
            Some(price) => day
                .iter()
                .filter_map(|(at, delta)| {
                    Some(Realised {
                        at: *at,
                        usd: stroops(*delta).checked_mul(price)?,
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        let mut holdings = Vec::new();
        for a in &self.view.accounts {
            holdings.push(VenueBalance {
                venue: "stellar".into(),
                asset: "XLM".into(),
                amount: stroops(a.xlm),
            });
            for (code, balance) in &a.lines {
                holdings.push(VenueBalance {
                    venue: "stellar".into(),
                    asset: code.clone(),
                    amount: stroops(*balance),
                });
            }
        }
        Standing {
            realised,
            holdings,
            unvalued: (per_xlm.is_none() && !day.is_empty())
                .then(|| "no XLM price from the oracle yet".to_string()),
        }
    }

    fn tick<'a>(&'a mut self, cx: &'a KeeperContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            if !self.recovered() {
                self.try_recover(cx).await?;
                if !self.recovered() {
                    return Ok(());
                }
            }
            match self.tick_recovered(cx).await {
                Ok(()) => {
                    self.venue_fault = None;
                    Ok(())
                }
                // A Stellar failure is not the engine's problem: show it
                // and try again next pass (open sends stay open).
                Err(EngineError::Venue(e)) => {
                    self.view.status = format!("Stellar unreachable: {e}");
                    self.venue_fault = Some(e.to_string());
                    Ok(())
                }
                Err(other) => Err(other),
            }
        })
    }

    fn wake(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.feed.as_ref().map(|f| f.wake())
    }

    fn woken<'a>(
        &'a mut self,
        cx: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.on_ledger_close(cx))
    }

    fn render(&self, snapshot: &mut Snapshot) {
        let mut view = self.view.clone();
        view.ledger_source = self.listening_line();
        snapshot.stellar = Some(view);
        let (ok, detail) = match (&self.recovery, &self.venue_fault) {
            (
                Recovery::Failed {
                    error, attempts, ..
                },
                _,
            ) if *attempts > 0 => (
                false,
                format!("DEGRADED: not recovered ({error}); nothing is sent until it is"),
            ),
            (Recovery::Failed { .. }, _) => (false, "recovering".to_string()),
            (Recovery::Done, Some(e)) => (false, e.clone()),
            (Recovery::Done, None) => (true, format!("ledger {}", self.view.ledger)),
        };
        snapshot.venues.push(VenueHealth {
            name: "stellar".into(),
            ok,
            head: (self.view.ledger > 0).then_some(u64::from(self.view.ledger)),
            latency_ms: None,
            last_seen: None,
            detail,
        });
        snapshot.intents.extend(self.open_views());
    }

    fn command<'a>(
        &'a mut self,
        command: &'a Command,
        cx: &'a KeeperContext<'a>,
    ) -> Option<BoxFuture<'a, Result<String, String>>> {
        if let Command::Start { strategy } = command {
            if strategy != self.name() {
                return None;
            }
            // Through the engine's command path: audited like every command.
            let fresh = self.shared.start();
            return Some(Box::pin(async move {
                Ok(if fresh {
                    "Arbitrage engine started".to_string()
                } else {
                    "Arbitrage engine already running".to_string()
                })
            }));
        }
        let Command::Resolve {
            id,
            resolution,
            reason,
            evidence,
        } = command
        else {
            return None;
        };
        if !id.starts_with("s:") {
            return None;
        }
        Some(Box::pin(async move {
            self.resolve(cx, id, *resolution, reason, evidence.as_deref())
                .await
        }))
    }
}
