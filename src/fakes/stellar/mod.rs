//! Loopback fakes of Stellar RPC (`POST /rpc`), Horizon (`/accounts`,
//! `/order_book`, `/paths/strict-send`, `POST /transactions`) and Friendbot
//! (`GET /friendbot?addr=`) over one shared [`SimLedger`], which verifies
//! ed25519 signatures against the configured passphrase, sequence numbers and
//! fees, executes path payments against its books and answers with real
//! result codes. A minimal HTTP/1.1 server: one request per connection. Also
//! the world the Stellar tests trade in (one profitable XLM → AQUA → XLM).
//!
//! Hostile on demand: [`Fault`]s injected per call, scripted ([`Rule`]) or
//! from a seed ([`StellarFake::seeded`]) — drop before acting, act then drop
//! the reply, 5xx before or after acting, 429 with or without Retry-After,
//! malformed or truncated bodies, oversized bodies, a silent node — and a
//! lagging node (`getLatestLedger` behind, `SimLedger::hide_polls` for
//! getTransaction's listing lag, `getFeeStats` still showing the ledgers
//! before a surge: [`StellarFake::stale_fee_stats`]). Every envelope that reaches the fake is
//! counted per transaction hash and per (account, sequence), before any
//! fault acts: [`Submissions`].
//!
//! `GET /ledgers` with `Accept: text/event-stream` is Horizon's ledger
//! stream (`sse_ledgers`): `"hello"`, then one event per ledger closed
//! (`StellarFake::close_ledger`), each timestamped at the fake; hostile on
//! demand ([`StreamFault`]: a withheld ledger, a cut stream, a malformed
//! event; `mute_stream` for a stream gone silent).

mod horizon;
mod rpc;
mod stream;
mod world;

pub use world::{aqua, detector, endpoints, issuer, reflector, world};

use self::horizon::{route, skew_paths};
use self::rpc::{fee_stats_json, is_fee_bump};
use self::stream::sse_ledgers;
use crate::fakes::faults::{Dice, Kind, Odds, PeerFault, Plan, Sends, Shows};
use crate::fakes::http::{Outcome, Response, Server, carry_out, pairs, read_request};
use crate::fakes::lock;
use crate::venue::stellar::sim::SimLedger;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stellar_xdr::{self as xdr, Limits, ReadXdr};
use tokio::net::TcpStream;

pub struct StellarFake {
    pub addr: SocketAddr,
    pub ledger: Arc<Mutex<SimLedger>>,
    pub faults: Arc<Mutex<Faults>>,
    server: Server,
}

/// One way a call goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without acting or answering.
    DropBefore,
    /// Act (the transaction applies), then close without answering.
    ActThenDrop,
    /// Answer `status` (with Retry-After, if given) — before acting, or after.
    Status {
        status: u16,
        after: bool,
        retry_after: Option<u32>,
    },
    /// Act, then answer 200 with a body that is not JSON.
    Malformed,
    /// Act, then announce the whole body and send half of it.
    Truncated,
    /// Act, then answer 200 with a body of `bytes` bytes (a valid prefix,
    /// then padding).
    Huge { bytes: usize },
    /// Accept and say nothing for `ms` (no acting), then close.
    Silent { ms: u64 },
}

impl PeerFault for Fault {
    fn kind(&self) -> Kind {
        match self {
            Fault::DropBefore => Kind::before(Shows::NoAnswer),
            Fault::ActThenDrop => Kind::after(Shows::NoAnswer),
            Fault::Status { status, after, .. } => Kind {
                acted: *after,
                shows: if *status == 429 {
                    Shows::TooManyRequests
                } else {
                    Shows::ServerError
                },
            },
            Fault::Malformed => Kind::after(Shows::Malformed),
            Fault::Truncated => Kind::after(Shows::Cut),
            Fault::Huge { .. } => Kind::after(Shows::Oversized),
            Fault::Silent { .. } => Kind::before(Shows::Timeout),
        }
    }
}

impl Fault {
    /// Whether the fake applies the call before the fault shows.
    pub fn acts(&self) -> bool {
        PeerFault::acts(self)
    }
}

/// A scripted fault: the next `times` calls of `method` (a JSON-RPC method,
/// or an HTTP path such as `/transactions`), optionally only those that
/// submit a path payment, or a fee bump.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: String,
    pub path_payment_only: bool,
    pub fee_bump_only: bool,
    pub fault: Fault,
    pub times: u32,
}

impl Rule {
    pub fn new(method: &str, fault: Fault, times: u32) -> Self {
        Self {
            method: method.into(),
            path_payment_only: false,
            fee_bump_only: false,
            fault,
            times,
        }
    }
    /// The next fee bump submitted by sendTransaction.
    pub fn bump_send(fault: Fault) -> Self {
        Self {
            fee_bump_only: true,
            ..Self::new("sendTransaction", fault, 1)
        }
    }
    /// The next cycle (path payment) submitted by sendTransaction.
    pub fn cycle_send(fault: Fault) -> Self {
        Self {
            method: "sendTransaction".into(),
            path_payment_only: true,
            fee_bump_only: false,
            fault,
            times: 1,
        }
    }
}

/// Envelopes that reached the fake, counted before any fault (a snapshot of
/// the fake's [`Sends`]).
#[derive(Debug, Clone, Default)]
pub struct Submissions {
    /// tx hash → times submitted.
    pub by_hash: BTreeMap<String, u32>,
    /// (source account, sequence) → the distinct hashes submitted for it.
    pub by_seq: BTreeMap<(String, i64), std::collections::BTreeSet<String>>,
    /// The distinct hashes of path payments (cycles) submitted.
    pub cycles: std::collections::BTreeSet<String>,
    /// Each path payment's arrival at the fake, in order.
    pub cycle_arrivals: Vec<(String, std::time::Instant)>,
    /// `GET /paths/strict-send` calls answered.
    pub path_queries: u32,
    /// Fee-bump envelopes: outer hash → times submitted.
    pub bumps: BTreeMap<String, u32>,
}

/// One way the ledger stream misbehaves, at the next ledger it would send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFault {
    /// Say nothing about this ledger.
    Withhold,
    /// Close the connection instead.
    Cut,
    /// Send an event that is not a ledger.
    Malformed,
}

/// Envelopes and path queries as they reach the fake.
#[derive(Debug, Default)]
struct Arrivals {
    /// By hash, and the distinct hashes per (source account, sequence).
    sends: Sends<String, (String, i64)>,
    /// Fee-bump envelopes by outer hash.
    bumps: Sends<String>,
    cycles: BTreeSet<String>,
    cycle_arrivals: Vec<(String, std::time::Instant)>,
    path_queries: u32,
}

#[derive(Debug, Default)]
pub struct Faults {
    /// The fake's own script: faults on what a call carries, first.
    pub rules: Vec<Rule>,
    /// Calls counted per method or path, seeded faults, every fault met.
    plan: Plan<Fault>,
    /// getLatestLedger answers this many ledgers behind.
    pub ledger_lag: u32,
    arrivals: Arrivals,
    /// The ledger stream's next misbehaviours, one per ledger.
    pub stream_faults: std::collections::VecDeque<StreamFault>,
    /// While set, every stream stays open and says nothing.
    pub stream_muted: bool,
    /// Each ledger event sent on a stream: (sequence, when).
    pub ledgers_sent: Vec<(u32, std::time::Instant)>,
    /// Ledger streams opened.
    pub streams_opened: u32,
    /// Poked on every `close_ledger`, so streams send at once.
    pub ledger_closed: Arc<tokio::sync::Notify>,
    /// The fake is gone: streams end.
    pub stopped: bool,
    /// `/paths/strict-send` quotes this many bps less than its books give
    /// (a path finder that sees another market than the keeper's books).
    pub path_skew_bps: i64,
    /// While set, `getFeeStats` answers these (the ledgers before a surge
    /// that has just begun) instead of the sim's.
    pub stale_fee_stats: Option<crate::venue::stellar::FeeStats>,
}

impl Faults {
    fn pick(&mut self, method: &str, path_payment: bool, fee_bump: bool) -> Option<Fault> {
        let own = self
            .rules
            .iter_mut()
            .find(|r| {
                r.times > 0
                    && r.method == method
                    && (!r.path_payment_only || path_payment)
                    && (!r.fee_bump_only || fee_bump)
            })
            .map(|r| {
                r.times -= 1;
                r.fault.clone()
            });
        let n = self.plan.arrive(method);
        self.plan.decide(method, n, own)
    }

    /// One envelope arrived: `hash`, from `account` at `seq`.
    fn arrived(&mut self, hash: &str, account: &str, seq: i64, cycle: bool, bump: bool) {
        let a = &mut self.arrivals;
        a.sends
            .record(hash.to_string(), Some((account.to_string(), seq)));
        if bump {
            a.bumps.record(hash.to_string(), None);
        }
        if cycle && !bump {
            a.cycles.insert(hash.to_string());
            a.cycle_arrivals
                .push((hash.to_string(), std::time::Instant::now()));
        }
    }

    pub fn submissions(&self) -> Submissions {
        let a = &self.arrivals;
        Submissions {
            by_hash: a.sends.by_key().clone(),
            by_seq: a.sends.slots().clone(),
            cycles: a.cycles.clone(),
            cycle_arrivals: a.cycle_arrivals.clone(),
            path_queries: a.path_queries,
            bumps: a.bumps.by_key().clone(),
        }
    }
}

/// What an envelope is: (hash, source account, sequence, a path payment?)
/// — of a fee bump, its outer hash and its inner transaction's facts.
fn envelope_facts(l: &SimLedger, b64: &str) -> Option<(String, String, i64, bool)> {
    let (v, hash) = match xdr::TransactionEnvelope::from_xdr_base64(b64, Limits::none()).ok()? {
        xdr::TransactionEnvelope::Tx(v) => {
            let hash = crate::venue::stellar::tx::tx_hash(&v.tx, &l.network_id()).ok()?;
            (v, hash)
        }
        xdr::TransactionEnvelope::TxFeeBump(b) => {
            let hash = crate::venue::stellar::fee_bump::outer_hash(&b.tx, &l.network_id()).ok()?;
            let xdr::FeeBumpTransactionInnerTx::Tx(v) = b.tx.inner_tx;
            (v, hash)
        }
        xdr::TransactionEnvelope::TxV0(_) => return None,
    };
    let source = crate::venue::stellar::asset::muxed_key(&v.tx.source_account).to_string();
    let pp =
        v.tx.operations
            .iter()
            .any(|o| matches!(o.body, xdr::OperationBody::PathPaymentStrictSend(_)));
    Some((
        crate::venue::stellar::tx::hex(&hash),
        source,
        v.tx.seq_num.0,
        pp,
    ))
}

impl Drop for StellarFake {
    fn drop(&mut self) {
        // Streams end with the server; say so to any that looks first.
        lock(&self.faults).stopped = true;
    }
}

impl StellarFake {
    pub async fn start(ledger: SimLedger) -> Self {
        let ledger = Arc::new(Mutex::new(ledger));
        let faults = Arc::new(Mutex::new(Faults::default()));
        let (l, f) = (ledger.clone(), faults.clone());
        let server = Server::start(move |sock| serve(sock, l.clone(), f.clone()))
            .await
            .expect("the Stellar fake binds 127.0.0.1:0");
        Self {
            addr: server.addr(),
            ledger,
            faults,
            server,
        }
    }

    /// Script a fault.
    pub fn fault(&self, rule: Rule) {
        lock(&self.faults).rules.push(rule);
    }

    /// Faults from a seed: `per_mille` of the calls of `methods` fail with
    /// one of `menu`, the same ones for the same seed.
    pub fn seeded(&self, seed: u64, per_mille: u32, methods: &[&str], menu: Vec<Fault>) {
        let dice = Dice::new(seed, Odds::PerMille(per_mille), menu).only(methods);
        lock(&self.faults).plan.seed(dice);
    }

    /// No more faults (scripted or seeded).
    pub fn heal(&self) {
        let mut f = lock(&self.faults);
        f.rules.clear();
        f.plan.calm();
        f.ledger_lag = 0;
    }

    pub fn submissions(&self) -> Submissions {
        lock(&self.faults).submissions()
    }

    pub fn fired(&self) -> Vec<(String, Fault)> {
        lock(&self.faults)
            .plan
            .met()
            .iter()
            .map(|m| (m.call.clone(), m.fault.clone()))
            .collect()
    }

    /// Successful path payments applied at the fake (the cycles that ran).
    /// A fee-bumped one is listed once, by its inner hash.
    pub fn applied_cycles(&self) -> Vec<String> {
        self.with(|l| {
            l.txs
                .iter()
                .filter(|(h, t)| {
                    t.success
                        && envelope_facts(l, &t.envelope).is_some_and(|(outer, _, _, pp)| {
                            pp && !(is_fee_bump(&t.envelope) && **h == outer)
                        })
                })
                .map(|(h, _)| h.clone())
                .collect()
        })
    }

    pub fn rpc_url(&self) -> String {
        format!("{}/rpc", self.server.url())
    }
    pub fn horizon_url(&self) -> String {
        format!("{}/", self.server.url())
    }
    pub fn friendbot_url(&self) -> String {
        format!("{}/friendbot", self.server.url())
    }
    pub fn with<R>(&self, f: impl FnOnce(&mut SimLedger) -> R) -> R {
        f(&mut lock(&self.ledger))
    }

    /// Close a ledger and tell the ledger streams at once; its sequence.
    pub fn close_ledger(&self) -> u32 {
        let seq = self.with(|l| {
            l.close_ledger();
            l.sequence
        });
        lock(&self.faults).ledger_closed.notify_waiters();
        seq
    }

    /// The ledger stream misbehaves at its next ledger.
    pub fn stream_fault(&self, fault: StreamFault) {
        lock(&self.faults).stream_faults.push_back(fault);
    }

    /// `getFeeStats` shows `stats` (what the ledgers before a surge paid)
    /// until `None`: stats that lag a surge that has just begun.
    pub fn stale_fee_stats(&self, stats: Option<crate::venue::stellar::FeeStats>) {
        lock(&self.faults).stale_fee_stats = stats;
    }

    /// Path finding quotes `bps` less than the books give.
    pub fn skew_paths(&self, bps: i64) {
        lock(&self.faults).path_skew_bps = bps;
    }

    /// Every ledger stream goes silent (or speaks again).
    pub fn mute_stream(&self, muted: bool) {
        lock(&self.faults).stream_muted = muted;
    }

    pub fn ledgers_sent(&self) -> Vec<(u32, std::time::Instant)> {
        lock(&self.faults).ledgers_sent.clone()
    }

    pub fn streams_opened(&self) -> u32 {
        lock(&self.faults).streams_opened
    }
}

/// One connection: its request read, what it submits counted, its fault
/// decided, then answered (or Horizon's ledger stream served on it).
async fn serve(mut sock: TcpStream, ledger: Arc<Mutex<SimLedger>>, faults: Arc<Mutex<Faults>>) {
    let Some(r) = read_request(&mut sock).await else {
        return;
    };
    let (method, path) = (r.method.as_str(), r.path.as_str());
    let body = String::from_utf8_lossy(&r.body).to_string();
    let q = form(&r.query);
    // Which call this is, what it submits, and whether a fault hits it.
    let json_body = serde_json::from_str::<Value>(&body).ok();
    let call = match (method, path) {
        ("POST", "/rpc") => json_body
            .as_ref()
            .and_then(|b| b.get("method").and_then(Value::as_str))
            .unwrap_or("")
            .to_string(),
        (_, p) => p.to_string(),
    };
    let submitted: Option<String> = match call.as_str() {
        "sendTransaction" => json_body
            .as_ref()
            .and_then(|b| b.pointer("/params/transaction").and_then(Value::as_str))
            .map(String::from),
        "/transactions" => form(&body).get("tx").cloned(),
        _ => None,
    };
    let (fault, lag) = {
        let l = lock(&ledger);
        let facts = submitted.as_deref().and_then(|e| envelope_facts(&l, e));
        let mut f = lock(&faults);
        let bump = submitted.as_deref().is_some_and(is_fee_bump);
        if let Some((hash, account, seq, pp)) = &facts {
            f.arrived(hash, account, *seq, *pp, bump);
        }
        let pp = facts.as_ref().is_some_and(|x| x.3) && !bump;
        (f.pick(&call, pp, bump), f.ledger_lag)
    };
    let before = match &fault {
        Some(Fault::DropBefore) => Some(Outcome::Drop),
        Some(Fault::Silent { ms }) => Some(Outcome::Hold(Duration::from_millis(*ms))),
        Some(Fault::Status {
            status,
            after: false,
            retry_after,
        }) => Some(status_reply(*status, *retry_after)),
        _ => None,
    };
    if let Some(outcome) = before {
        return carry_out(sock, outcome).await;
    }
    if method == "GET"
        && path == "/ledgers"
        && r.header("accept")
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/event-stream"))
    {
        let _ = sse_ledgers(sock, ledger, faults).await;
        return;
    }
    if path == "/paths/strict-send" {
        lock(&faults).arrivals.path_queries += 1;
    }
    let (status, mut answer) = route(&mut lock(&ledger), method, path, &q, &body);
    let skew = lock(&faults).path_skew_bps;
    if path == "/paths/strict-send" && skew > 0 {
        skew_paths(&mut answer, skew);
    }
    if call == "getFeeStats"
        && let Some(stale) = &lock(&faults).stale_fee_stats
    {
        answer["result"] = fee_stats_json(stale);
    }
    if call == "getLatestLedger"
        && lag > 0
        && let Some(seq) = answer.pointer_mut("/result/sequence")
    {
        *seq = json!(seq.as_u64().unwrap_or(0).saturating_sub(u64::from(lag)));
    }
    let text = answer.to_string();
    let outcome = match fault {
        Some(Fault::ActThenDrop) => Outcome::Drop,
        Some(Fault::Status {
            status,
            retry_after,
            ..
        }) => status_reply(status, retry_after),
        Some(Fault::Malformed) => {
            Response::raw_json(200, "{\"jsonrpc\": \"2.0\", \"result\": {\"status\": PEND").now()
        }
        Some(Fault::Truncated) => Response::raw_json(200, text).cut().now(),
        Some(Fault::Huge { bytes }) => {
            let mut big = String::from("{\"jsonrpc\": \"2.0\", \"result\": {\"pad\": \"");
            big.push_str(&"x".repeat(bytes));
            big.push_str("\"}}");
            Response::raw_json(200, big).now()
        }
        _ => Response::raw_json(status, text).now(),
    };
    carry_out(sock, outcome).await;
}

/// The injected status, with `Retry-After` when given.
fn status_reply(status: u16, retry_after: Option<u32>) -> Outcome {
    Response::json(status, &json!({"title": "injected", "status": status}))
        .with_retry_after(retry_after.map(u64::from))
        .now()
}

/// A query or form body (`a=b&c=d`), decoded; the last of a repeated key.
pub(super) fn form(encoded: &str) -> BTreeMap<String, String> {
    pairs(encoded).into_iter().collect()
}
