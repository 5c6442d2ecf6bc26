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

use crate::venue::stellar::asset::{StellarAsset, format_amount};
use crate::venue::stellar::codes::TxOutcome;
use crate::venue::stellar::sim::SimLedger;
use crate::venue::stellar::{
    AccountKey, ContractKey, Keypair, ONE, Offer, Price, SupportedAsset, TESTNET_PASSPHRASE,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use stellar_xdr::{self as xdr, Limits, ReadXdr, WriteXdr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---- the world the Stellar tests trade in -------------------------------

pub fn issuer() -> Keypair {
    Keypair::from_seed([0x22; 32])
}
pub fn aqua() -> StellarAsset {
    StellarAsset::Credit {
        code: "AQUA".into(),
        issuer: issuer().public(),
    }
}
/// The network client's endpoints, all at this fake (Friendbot included).
pub fn endpoints(f: &StellarFake) -> crate::venue::stellar::network::Endpoints {
    crate::venue::stellar::network::Endpoints {
        horizon_url: f.horizon_url(),
        rpc_url: f.rpc_url(),
        friendbot_url: Some(f.friendbot_url()),
        detector: detector(),
        reflector: reflector(),
        timeout: std::time::Duration::from_secs(5),
    }
}

pub fn detector() -> ContractKey {
    ContractKey([0xD7; 32])
}
pub fn reflector() -> ContractKey {
    ContractKey([0xEF; 32])
}

/// XLM at 0.10 USD, AQUA at 0.001 USD: 100 AQUA per XLM. The XLM → AQUA
/// side pays 102 for the first 10 000 AQUA: a cycle worth taking.
pub fn world() -> SimLedger {
    let mut l = SimLedger::new(TESTNET_PASSPHRASE, detector(), reflector());
    l.create_account(issuer().public(), 100 * ONE);
    l.supported = vec![SupportedAsset {
        code: "AQUA".into(),
        issuer: issuer().public().to_string(),
    }];
    l.oracle.insert("XLM".into(), 10_000_000_000_000);
    l.oracle.insert("AQUA".into(), 100_000_000_000);
    l.set_book(
        aqua(),
        StellarAsset::Native,
        vec![
            Offer {
                amount: 10_000 * ONE,
                price: Price { n: 1, d: 102 },
            },
            Offer {
                amount: 100_000 * ONE,
                price: Price { n: 1, d: 99 },
            },
        ],
    );
    l.set_book(
        StellarAsset::Native,
        aqua(),
        vec![Offer {
            amount: 1_000 * ONE,
            price: Price { n: 201, d: 2 },
        }],
    );
    l
}

pub struct StellarFake {
    pub addr: SocketAddr,
    pub ledger: Arc<Mutex<SimLedger>>,
    pub faults: Arc<Mutex<Faults>>,
    task: tokio::task::JoinHandle<()>,
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

impl Fault {
    /// Whether the fake applies the call before the fault shows.
    pub fn acts(&self) -> bool {
        match self {
            Fault::DropBefore | Fault::Silent { .. } => false,
            Fault::Status { after, .. } => *after,
            _ => true,
        }
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

/// Envelopes that reached the fake, counted before any fault.
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

#[derive(Debug, Default)]
pub struct Faults {
    pub rules: Vec<Rule>,
    /// (xorshift state, faults per 1000 calls, the methods it applies to, the menu).
    pub seeded: Option<(u64, u32, Vec<String>, Vec<Fault>)>,
    /// getLatestLedger answers this many ledgers behind.
    pub ledger_lag: u32,
    /// Every fault that fired: (method, fault).
    pub fired: Vec<(String, Fault)>,
    pub submissions: Submissions,
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
        if let Some(r) = self.rules.iter_mut().find(|r| {
            r.times > 0
                && r.method == method
                && (!r.path_payment_only || path_payment)
                && (!r.fee_bump_only || fee_bump)
        }) {
            r.times -= 1;
            let f = r.fault.clone();
            self.fired.push((method.into(), f.clone()));
            return Some(f);
        }
        let (state, per_mille, methods, menu) = self.seeded.as_mut()?;
        if !methods.iter().any(|m| m == method) || menu.is_empty() {
            return None;
        }
        // xorshift64: deterministic for a seed.
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        if (*state % 1000) as u32 >= *per_mille {
            return None;
        }
        let f = menu[((*state >> 20) % menu.len() as u64) as usize].clone();
        self.fired.push((method.into(), f.clone()));
        Some(f)
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
        if let Ok(mut f) = self.faults.lock() {
            f.stopped = true;
        }
        self.task.abort();
    }
}

impl StellarFake {
    pub async fn start(ledger: SimLedger) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let ledger = Arc::new(Mutex::new(ledger));
        let faults = Arc::new(Mutex::new(Faults::default()));
        let shared = ledger.clone();
        let shared_faults = faults.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let l = shared.clone();
                let f = shared_faults.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, l, f).await;
                });
            }
        });
        Self {
            addr,
            ledger,
            faults,
            task,
        }
    }

    /// Script a fault.
    pub fn fault(&self, rule: Rule) {
        self.faults.lock().expect("faults").rules.push(rule);
    }

    /// Faults from a seed: `per_mille` of the calls of `methods` fail with
    /// one of `menu`, the same ones for the same seed.
    pub fn seeded(&self, seed: u64, per_mille: u32, methods: &[&str], menu: Vec<Fault>) {
        self.faults.lock().expect("faults").seeded = Some((
            seed.max(1),
            per_mille,
            methods.iter().map(|m| m.to_string()).collect(),
            menu,
        ));
    }

    /// No more faults (scripted or seeded).
    pub fn heal(&self) {
        let mut f = self.faults.lock().expect("faults");
        f.rules.clear();
        f.seeded = None;
        f.ledger_lag = 0;
    }

    pub fn submissions(&self) -> Submissions {
        self.faults.lock().expect("faults").submissions.clone()
    }

    pub fn fired(&self) -> Vec<(String, Fault)> {
        self.faults.lock().expect("faults").fired.clone()
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
        format!("http://{}/rpc", self.addr)
    }
    pub fn horizon_url(&self) -> String {
        format!("http://{}/", self.addr)
    }
    pub fn friendbot_url(&self) -> String {
        format!("http://{}/friendbot", self.addr)
    }
    pub fn with<R>(&self, f: impl FnOnce(&mut SimLedger) -> R) -> R {
        f(&mut self.ledger.lock().expect("ledger"))
    }

    /// Close a ledger and tell the ledger streams at once; its sequence.
    pub fn close_ledger(&self) -> u32 {
        let seq = self.with(|l| {
            l.close_ledger();
            l.sequence
        });
        self.faults
            .lock()
            .expect("faults")
            .ledger_closed
            .notify_waiters();
        seq
    }

    /// The ledger stream misbehaves at its next ledger.
    pub fn stream_fault(&self, fault: StreamFault) {
        self.faults
            .lock()
            .expect("faults")
            .stream_faults
            .push_back(fault);
    }

    /// `getFeeStats` shows `stats` (what the ledgers before a surge paid)
    /// until `None`: stats that lag a surge that has just begun.
    pub fn stale_fee_stats(&self, stats: Option<crate::venue::stellar::FeeStats>) {
        self.faults.lock().expect("faults").stale_fee_stats = stats;
    }

    /// Path finding quotes `bps` less than the books give.
    pub fn skew_paths(&self, bps: i64) {
        self.faults.lock().expect("faults").path_skew_bps = bps;
    }

    /// Every ledger stream goes silent (or speaks again).
    pub fn mute_stream(&self, muted: bool) {
        self.faults.lock().expect("faults").stream_muted = muted;
    }

    pub fn ledgers_sent(&self) -> Vec<(u32, std::time::Instant)> {
        self.faults.lock().expect("faults").ledgers_sent.clone()
    }

    pub fn streams_opened(&self) -> u32 {
        self.faults.lock().expect("faults").streams_opened
    }
}

/// Horizon's `GET /ledgers?cursor=now` as server-sent events: the hello,
/// then every ledger closed from now on, until the client leaves, a fault
/// cuts it or the fake stops.
async fn sse_ledgers(
    mut s: TcpStream,
    ledger: Arc<Mutex<SimLedger>>,
    faults: Arc<Mutex<Faults>>,
) -> std::io::Result<()> {
    s.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
    )
    .await?;
    s.write_all(b"retry: 1000\nevent: open\ndata: \"hello\"\n\n")
        .await?;
    let wake = {
        let mut f = faults.lock().expect("faults");
        f.streams_opened += 1;
        f.ledger_closed.clone()
    };
    let mut told = ledger.lock().expect("ledger").sequence;
    loop {
        // Made before looking, so a close between the look and the wait wakes it.
        let closed = wake.notified();
        let (seq, close_time) = {
            let l = ledger.lock().expect("ledger");
            (l.sequence, l.close_time)
        };
        while told < seq {
            told += 1;
            let fault = {
                let mut f = faults.lock().expect("faults");
                if f.stopped {
                    return Ok(());
                }
                if f.stream_muted {
                    Some(StreamFault::Withhold)
                } else {
                    f.stream_faults.pop_front()
                }
            };
            let closed_at = close_time.saturating_sub(5 * u64::from(seq - told));
            let frame = match fault {
                Some(StreamFault::Withhold) => continue,
                Some(StreamFault::Cut) => return s.shutdown().await,
                Some(StreamFault::Malformed) => {
                    format!("id: {told}\ndata: {{\"sequence\": \"{told}\", \"closed_at\": 7\n\n")
                }
                None => {
                    let day = closed_at / 86_400;
                    let t = closed_at % 86_400;
                    let record = json!({
                        "id": format!("{told:064x}"),
                        "paging_token": (u64::from(told) << 32).to_string(),
                        "hash": format!("{told:064x}"),
                        "sequence": told,
                        "successful_transaction_count": 0,
                        "failed_transaction_count": 0,
                        "operation_count": 0,
                        "closed_at": format!(
                            "{}T{:02}:{:02}:{:02}Z",
                            crate::model::time::format_day(day),
                            t / 3_600,
                            t / 60 % 60,
                            t % 60
                        ),
                        "base_fee_in_stroops": 100,
                        "base_reserve_in_stroops": 5_000_000,
                    });
                    format!("id: {}\ndata: {record}\n\n", u64::from(told) << 32)
                }
            };
            s.write_all(frame.as_bytes()).await?;
            if fault.is_none() {
                faults
                    .lock()
                    .expect("faults")
                    .ledgers_sent
                    .push((told, std::time::Instant::now()));
            }
        }
        if faults.lock().expect("faults").stopped {
            return Ok(());
        }
        tokio::select! {
            _ = closed => {}
            // Closes made through `with` are found within this.
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
        }
    }
}

async fn serve(
    mut s: TcpStream,
    ledger: Arc<Mutex<SimLedger>>,
    faults: Arc<Mutex<Faults>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[header_end..]).to_string();
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("/").to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let q = parse_form(query);
    // Which call this is, what it submits, and whether a fault hits it.
    let json_body = serde_json::from_str::<Value>(&body).ok();
    let call = match (method.as_str(), path) {
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
        "/transactions" => parse_form(&body).get("tx").cloned(),
        _ => None,
    };
    let (fault, lag) = {
        let l = ledger.lock().expect("ledger");
        let facts = submitted.as_deref().and_then(|e| envelope_facts(&l, e));
        let mut f = faults.lock().expect("faults");
        let bump = submitted.as_deref().is_some_and(is_fee_bump);
        if let Some((hash, account, seq, pp)) = &facts {
            let sub = &mut f.submissions;
            *sub.by_hash.entry(hash.clone()).or_default() += 1;
            if bump {
                *sub.bumps.entry(hash.clone()).or_default() += 1;
            }
            sub.by_seq
                .entry((account.clone(), *seq))
                .or_default()
                .insert(hash.clone());
            if *pp && !bump {
                sub.cycles.insert(hash.clone());
                sub.cycle_arrivals
                    .push((hash.clone(), std::time::Instant::now()));
            }
        }
        let pp = facts.as_ref().is_some_and(|x| x.3) && !bump;
        (f.pick(&call, pp, bump), f.ledger_lag)
    };
    match &fault {
        Some(Fault::DropBefore) => return Ok(()),
        Some(Fault::Silent { ms }) => {
            tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
            return Ok(());
        }
        Some(Fault::Status {
            status,
            after: false,
            retry_after,
        }) => return reply_status(&mut s, *status, *retry_after).await,
        _ => {}
    }
    if method == "GET"
        && path == "/ledgers"
        && head.to_ascii_lowercase().contains("text/event-stream")
    {
        return sse_ledgers(s, ledger, faults).await;
    }
    if path == "/paths/strict-send" {
        faults.lock().expect("faults").submissions.path_queries += 1;
    }
    let (status, mut answer) = {
        let mut l = ledger.lock().expect("ledger");
        route(&mut l, &method, path, &q, &body)
    };
    let skew = faults.lock().expect("faults").path_skew_bps;
    if path == "/paths/strict-send" && skew > 0 {
        skew_paths(&mut answer, skew);
    }
    if call == "getFeeStats"
        && let Some(stale) = &faults.lock().expect("faults").stale_fee_stats
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
    match fault {
        Some(Fault::ActThenDrop) => return Ok(()),
        Some(Fault::Status {
            status,
            retry_after,
            ..
        }) => return reply_status(&mut s, status, retry_after).await,
        Some(Fault::Malformed) => {
            return reply(
                &mut s,
                200,
                "{\"jsonrpc\": \"2.0\", \"result\": {\"status\": PEND",
                None,
            )
            .await;
        }
        Some(Fault::Truncated) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                text.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(&text.as_bytes()[..text.len() / 2]).await?;
            return s.shutdown().await;
        }
        Some(Fault::Huge { bytes }) => {
            let mut big = String::from("{\"jsonrpc\": \"2.0\", \"result\": {\"pad\": \"");
            big.push_str(&"x".repeat(bytes));
            big.push_str("\"}}");
            return reply(&mut s, 200, &big, None).await;
        }
        _ => {}
    }
    reply(&mut s, status, &text, None).await
}

/// Lower every quoted destination amount by `bps`.
fn skew_paths(answer: &mut Value, bps: i64) {
    let Some(records) = answer
        .pointer_mut("/_embedded/records")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for r in records {
        let Some(amount) = r
            .get("destination_amount")
            .and_then(Value::as_str)
            .and_then(crate::venue::stellar::parse_amount)
        else {
            continue;
        };
        let lowered = i128::from(amount) * i128::from(10_000 - bps) / 10_000;
        r["destination_amount"] = json!(format_amount(i64::try_from(lowered).unwrap_or_default()));
    }
}

async fn reply_status(
    s: &mut TcpStream,
    status: u16,
    retry_after: Option<u32>,
) -> std::io::Result<()> {
    let body = json!({"title": "injected", "status": status}).to_string();
    reply(s, status, &body, retry_after).await
}

async fn reply(
    s: &mut TcpStream,
    status: u16,
    text: &str,
    retry_after: Option<u32>,
) -> std::io::Result<()> {
    let reason = if status == 200 { "OK" } else { "Error" };
    let retry = retry_after
        .map(|r| format!("Retry-After: {r}\r\n"))
        .unwrap_or_default();
    let out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n{text}",
        text.len()
    );
    s.write_all(out.as_bytes()).await?;
    s.shutdown().await
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let v = u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?');
                out.push(v);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn parse_form(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((unescape(k), unescape(v)))
        })
        .collect()
}

fn asset_from_query(q: &BTreeMap<String, String>, prefix: &str) -> Option<StellarAsset> {
    match q.get(&format!("{prefix}_type"))?.as_str() {
        "native" => Some(StellarAsset::Native),
        _ => StellarAsset::parse(&format!(
            "{}:{}",
            q.get(&format!("{prefix}_code"))?,
            q.get(&format!("{prefix}_issuer"))?
        ))
        .ok(),
    }
}

fn asset_json(a: &StellarAsset, prefix: &str) -> Value {
    let mut m = serde_json::Map::new();
    match a {
        StellarAsset::Native => {
            m.insert(format!("{prefix}asset_type"), json!("native"));
        }
        StellarAsset::Credit { code, issuer } => {
            let t = if code.len() <= 4 {
                "credit_alphanum4"
            } else {
                "credit_alphanum12"
            };
            m.insert(format!("{prefix}asset_type"), json!(t));
            m.insert(format!("{prefix}asset_code"), json!(code));
            m.insert(format!("{prefix}asset_issuer"), json!(issuer.to_string()));
        }
    }
    Value::Object(m)
}

fn problem(status: u16, kind: &str, title: &str, extras: Value) -> (u16, Value) {
    (
        status,
        json!({"type": format!("https://stellar.org/horizon-errors/{kind}"), "title": title,
               "status": status, "detail": title, "extras": extras}),
    )
}

fn route(
    l: &mut SimLedger,
    method: &str,
    path: &str,
    q: &BTreeMap<String, String>,
    body: &str,
) -> (u16, Value) {
    match (method, path) {
        ("POST", "/rpc") => (200, rpc(l, body)),
        ("GET", "/friendbot") | ("POST", "/friendbot") => {
            let Some(id) = q.get("addr").and_then(|a| AccountKey::parse(a).ok()) else {
                return problem(400, "bad_request", "invalid addr", json!({}));
            };
            if l.friendbot(id) {
                (
                    200,
                    json!({"successful": true, "ledger": l.sequence, "hash": format!("{:064x}", l.sequence)}),
                )
            } else {
                problem(
                    400,
                    "transaction_failed",
                    "createAccountAlreadyExist (AAAAAAAAAGT/////AAAAAQAAAAAAAAAA/////AAAAAA=)",
                    json!({}),
                )
            }
        }
        ("GET", p) if p.starts_with("/accounts/") => {
            let id = AccountKey::parse(&p["/accounts/".len()..]);
            match id.ok().and_then(|id| l.account(id)) {
                None => problem(404, "not_found", "Resource Missing", json!({})),
                Some(a) => {
                    let balances: Vec<Value> = a
                        .balances
                        .iter()
                        .map(|b| {
                            let mut v = asset_json(&b.asset, "");
                            v["balance"] = json!(format_amount(b.amount));
                            v["selling_liabilities"] = json!("0.0000000");
                            v["buying_liabilities"] = json!("0.0000000");
                            if let Some(limit) = b.limit {
                                v["limit"] = json!(format_amount(limit));
                            }
                            v
                        })
                        .collect();
                    (
                        200,
                        json!({"id": a.id.to_string(), "account_id": a.id.to_string(),
                        "sequence": a.sequence.to_string(), "subentry_count": a.subentries,
                        "balances": balances}),
                    )
                }
            }
        }
        ("GET", "/liquidity_pools") => {
            // `reserves=A,B` (native | CODE:ISSUER): the sim's pool of the pair.
            let assets: Option<Vec<StellarAsset>> = q
                .get("reserves")
                .and_then(|r| r.split(',').map(|a| StellarAsset::parse(a).ok()).collect());
            let Some([a, b]) = assets.as_deref() else {
                return problem(400, "bad_request", "invalid reserves", json!({}));
            };
            let records: Vec<Value> = l
                .pool(a, b)
                .into_iter()
                .map(|p| {
                    let reserve = |x: &StellarAsset, amount: i64| {
                        json!({"asset": crate::venue::stellar::horizon_pools::reserve_form(x),
                               "amount": format_amount(amount)})
                    };
                    json!({"id": p.id_hex(), "fee_bp": p.fee_bp, "type": "constant_product",
                           "total_shares": format_amount(p.total_shares),
                           "reserves": [reserve(&p.asset_a, p.reserve_a), reserve(&p.asset_b, p.reserve_b)]})
                })
                .collect();
            (200, json!({"_embedded": {"records": records}}))
        }
        ("GET", "/order_book") => {
            let (Some(base), Some(counter)) = (
                asset_from_query(q, "selling_asset"),
                asset_from_query(q, "buying_asset"),
            ) else {
                return problem(400, "bad_request", "invalid assets", json!({}));
            };
            let level = |p: Price, amount: i64| {
                json!({"price_r": {"n": p.n, "d": p.d},
                       "price": rust_decimal::Decimal::from(p.n)
                           .checked_div(rust_decimal::Decimal::from(p.d))
                           .map(|x| format!("{x:.7}"))
                           .unwrap_or_else(|| "0".into()),
                       "amount": format_amount(amount)})
            };
            let asks: Vec<Value> = l
                .order_book(&base, &counter)
                .offers
                .iter()
                .map(|o| level(o.price, o.amount))
                .collect();
            // Bids: offers selling the counter for the base, price inverted,
            // amount in the counter asset (Horizon's quirk).
            let bids: Vec<Value> = l
                .order_book(&counter, &base)
                .offers
                .iter()
                .map(|o| {
                    level(
                        Price {
                            n: o.price.d,
                            d: o.price.n,
                        },
                        o.amount,
                    )
                })
                .collect();
            let base_j = asset_json(&base, "");
            let counter_j = asset_json(&counter, "");
            (
                200,
                json!({"bids": bids, "asks": asks, "base": base_j, "counter": counter_j}),
            )
        }
        ("GET", "/paths/strict-send") => {
            let Some(src) = asset_from_query(q, "source_asset") else {
                return problem(400, "bad_request", "source asset", json!({}));
            };
            let Some(amount) = q
                .get("source_amount")
                .and_then(|a| crate::venue::stellar::parse_amount(a))
            else {
                return problem(400, "bad_request", "source_amount", json!({}));
            };
            let dests: Vec<StellarAsset> = q
                .get("destination_assets")
                .map(|d| {
                    d.split(',')
                        .filter_map(|a| StellarAsset::parse(a).ok())
                        .collect()
                })
                .unwrap_or_default();
            let all: Vec<StellarAsset> = l.books.iter().map(|b| b.selling.clone()).collect();
            let mut records = Vec::new();
            for d in dests.iter().filter(|d| **d != src) {
                // Direct, then through one intermediate — never back through
                // the source (Horizon skips visited assets: no cycles).
                let mut candidates: Vec<Vec<StellarAsset>> = vec![vec![]];
                for m in &all {
                    if m != &src && m != d && !candidates.iter().any(|c| c.first() == Some(m)) {
                        candidates.push(vec![m.clone()]);
                    }
                }
                for mid in candidates {
                    let mut hops = vec![src.clone()];
                    hops.extend(mid.iter().cloned());
                    hops.push(d.clone());
                    let mut amt = amount;
                    let mut ok = true;
                    for w in hops.windows(2) {
                        match crate::venue::stellar::paths::hop(l, &w[0], &w[1], amt) {
                            Some((got, _)) if got > 0 => amt = got,
                            _ => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    if ok {
                        let mut r = asset_json(&src, "source_");
                        let dj = asset_json(d, "destination_");
                        for (k, v) in dj.as_object().into_iter().flatten() {
                            r[k] = v.clone();
                        }
                        r["source_amount"] = json!(format_amount(amount));
                        r["destination_amount"] = json!(format_amount(amt));
                        r["path"] =
                            json!(mid.iter().map(|m| asset_json(m, "")).collect::<Vec<_>>());
                        records.push(r);
                    }
                }
            }
            (200, json!({"_embedded": {"records": records}}))
        }
        ("POST", "/transactions") => {
            let form = parse_form(body);
            let Some(tx) = form.get("tx") else {
                return problem(
                    400,
                    "transaction_malformed",
                    "Transaction Malformed",
                    json!({}),
                );
            };
            match l.submit(tx) {
                Ok((hash, rec)) => {
                    if rec.success {
                        (
                            200,
                            json!({"hash": hash, "ledger": rec.ledger, "successful": true,
                            "envelope_xdr": rec.envelope, "result_xdr": rec.result_xdr}),
                        )
                    } else {
                        let o = TxOutcome::decode(&rec.result_xdr).expect("own result");
                        problem(
                            400,
                            "transaction_failed",
                            "Transaction Failed",
                            json!({"envelope_xdr": rec.envelope, "result_xdr": rec.result_xdr,
                                   "result_codes": {"transaction": o.tx_code, "operations": o.op_codes}}),
                        )
                    }
                }
                Err(refused) => problem(
                    400,
                    "transaction_failed",
                    "Transaction Failed",
                    json!({"envelope_xdr": tx, "result_xdr": refused.result_xdr,
                           "result_codes": {"transaction": refused.code}}),
                ),
            }
        }
        _ => problem(404, "not_found", "Resource Missing", json!({})),
    }
}

fn rpc(l: &mut SimLedger, body: &str) -> Value {
    let Ok(req) = serde_json::from_str::<Value>(body) else {
        return json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}});
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let params = req.get("params").cloned().unwrap_or(json!({}));
    let method = req.get("method").and_then(Value::as_str).unwrap_or("");
    let err = |code: i64, message: &str| json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    let result = match method {
        "getHealth" => json!({"status": "healthy", "latestLedger": l.sequence,
            "latestLedgerCloseTime": l.close_time.to_string(), "oldestLedger": l.oldest.0,
            "oldestLedgerCloseTime": l.oldest.1.to_string(), "ledgerRetentionWindow": 120960}),
        "getNetwork" => json!({"passphrase": l.passphrase, "protocolVersion": 23,
            "friendbotUrl": "http://127.0.0.1/friendbot"}),
        "getLatestLedger" => json!({"id": format!("{:064x}", l.sequence), "protocolVersion": 23,
            "sequence": l.sequence, "closeTime": l.close_time.to_string()}),
        "getLedgerEntries" => {
            let Some(keys) = params.get("keys").and_then(Value::as_array) else {
                return err(-32602, "keys required");
            };
            if keys.len() > 200 {
                return err(-32602, "too many keys");
            }
            let mut entries = Vec::new();
            for k in keys {
                let Some(kb) = k.as_str() else {
                    return err(-32602, "key");
                };
                let Ok(key) = xdr::LedgerKey::from_xdr_base64(kb, Limits::none()) else {
                    return err(-32602, "bad LedgerKey");
                };
                let data = match &key {
                    xdr::LedgerKey::Account(a) => {
                        let id = crate::venue::stellar::asset::account_key(&a.account_id);
                        l.accounts.get(&id).map(|acct| {
                            xdr::LedgerEntryData::Account(xdr::AccountEntry {
                                account_id: a.account_id.clone(),
                                balance: acct.xlm,
                                seq_num: xdr::SequenceNumber(acct.seq),
                                num_sub_entries: acct.lines.len() as u32,
                                inflation_dest: None,
                                flags: 0,
                                home_domain: xdr::String32::default(),
                                thresholds: xdr::Thresholds([1, 0, 0, 0]),
                                signers: xdr::VecM::default(),
                                ext: xdr::AccountEntryExt::V0,
                            })
                        })
                    }
                    xdr::LedgerKey::Trustline(t) => {
                        let id = crate::venue::stellar::asset::account_key(&t.account_id);
                        let asset = match &t.asset {
                            xdr::TrustLineAsset::CreditAlphanum4(a) => {
                                StellarAsset::from_xdr(&xdr::Asset::CreditAlphanum4(a.clone()))
                            }
                            xdr::TrustLineAsset::CreditAlphanum12(a) => {
                                StellarAsset::from_xdr(&xdr::Asset::CreditAlphanum12(a.clone()))
                            }
                            _ => continue,
                        };
                        l.accounts
                            .get(&id)
                            .and_then(|acct| acct.lines.get(&asset))
                            .map(|(bal, lim)| {
                                xdr::LedgerEntryData::Trustline(xdr::TrustLineEntry {
                                    account_id: t.account_id.clone(),
                                    asset: t.asset.clone(),
                                    balance: *bal,
                                    limit: *lim,
                                    flags: 1,
                                    ext: xdr::TrustLineEntryExt::V0,
                                })
                            })
                    }
                    _ => None,
                };
                if let Some(d) = data {
                    entries.push(
                        json!({"key": kb, "xdr": d.to_xdr_base64(Limits::none()).expect("xdr"),
                        "lastModifiedLedgerSeq": l.sequence}),
                    );
                }
            }
            json!({"entries": entries, "latestLedger": l.sequence})
        }
        "simulateTransaction" => {
            let Some(t) = params.get("transaction").and_then(Value::as_str) else {
                return err(-32602, "transaction required");
            };
            let Ok(xdr::TransactionEnvelope::Tx(env)) =
                xdr::TransactionEnvelope::from_xdr_base64(t, Limits::none())
            else {
                return err(-32602, "bad transaction envelope");
            };
            let ops = env.tx.operations.as_slice();
            let [op] = ops else {
                return json!({"jsonrpc": "2.0", "id": id, "result": {"error": "transaction must contain exactly one operation", "latestLedger": l.sequence}});
            };
            let xdr::OperationBody::InvokeHostFunction(f) = &op.body else {
                return json!({"jsonrpc": "2.0", "id": id, "result": {"error": "not an invokeHostFunction operation", "latestLedger": l.sequence}});
            };
            let xdr::HostFunction::InvokeContract(call) = &f.host_function else {
                return err(-32602, "unsupported host function");
            };
            let xdr::ScAddress::Contract(xdr::ContractId(xdr::Hash(c))) = &call.contract_address
            else {
                return err(-32602, "not a contract");
            };
            let contract = crate::venue::stellar::ContractKey(*c).to_string();
            let function = call.function_name.0.to_utf8_string_lossy();
            match l.call(&contract, &function, call.args.as_slice()) {
                Ok(v) => {
                    let data = xdr::SorobanTransactionData {
                        ext: xdr::SorobanTransactionDataExt::V0,
                        resources: xdr::SorobanResources {
                            footprint: xdr::LedgerFootprint {
                                read_only: xdr::VecM::default(),
                                read_write: xdr::VecM::default(),
                            },
                            instructions: 1_000_000,
                            disk_read_bytes: 1000,
                            write_bytes: 0,
                        },
                        resource_fee: 5000,
                    };
                    json!({"latestLedger": l.sequence, "minResourceFee": "5000",
                        "transactionData": data.to_xdr_base64(Limits::none()).expect("xdr"),
                        "results": [{"xdr": v.to_xdr_base64(Limits::none()).expect("xdr"), "auth": []}]})
                }
                Err(e) => json!({"error": e, "events": [], "latestLedger": l.sequence}),
            }
        }
        "sendTransaction" => {
            let Some(t) = params.get("transaction").and_then(Value::as_str) else {
                return err(-32602, "transaction required");
            };
            if xdr::TransactionEnvelope::from_xdr_base64(t, Limits::none()).is_err() {
                return err(-32602, "invalid transaction envelope");
            }
            let known_before = |l: &SimLedger, h: &str| l.txs.contains_key(h);
            let hash = xdr::TransactionEnvelope::from_xdr_base64(t, Limits::none())
                .ok()
                .and_then(|e| match e {
                    xdr::TransactionEnvelope::Tx(v) => {
                        crate::venue::stellar::tx::tx_hash(&v.tx, &l.network_id()).ok()
                    }
                    xdr::TransactionEnvelope::TxFeeBump(b) => {
                        crate::venue::stellar::fee_bump::outer_hash(&b.tx, &l.network_id()).ok()
                    }
                    _ => None,
                })
                .map(|h| crate::venue::stellar::tx::hex(&h))
                .unwrap_or_default();
            let dup = known_before(l, &hash);
            match l.submit(t) {
                Ok((hash, _)) => {
                    json!({"status": if dup { "DUPLICATE" } else { "PENDING" }, "hash": hash,
                    "latestLedger": l.sequence, "latestLedgerCloseTime": l.close_time.to_string()})
                }
                Err(refused) => {
                    json!({"status": "ERROR", "hash": hash, "errorResultXdr": refused.result_xdr,
                    "latestLedger": l.sequence, "latestLedgerCloseTime": l.close_time.to_string()})
                }
            }
        }
        "getTransaction" => {
            let Some(h) = params.get("hash").and_then(Value::as_str) else {
                return err(-32602, "hash required");
            };
            let base = json!({"txHash": h, "latestLedger": l.sequence, "latestLedgerCloseTime": l.close_time.to_string(),
                "oldestLedger": l.oldest.0, "oldestLedgerCloseTime": l.oldest.1.to_string()});
            match l.poll(h) {
                None => {
                    let mut b = base;
                    b["status"] = json!("NOT_FOUND");
                    b
                }
                Some(t) => {
                    let mut b = base;
                    b["status"] = json!(if t.success { "SUCCESS" } else { "FAILED" });
                    b["ledger"] = json!(t.ledger);
                    b["createdAt"] = json!(l.close_time.to_string());
                    b["applicationOrder"] = json!(1);
                    b["feeBump"] = json!(is_fee_bump(&t.envelope));
                    b["envelopeXdr"] = json!(t.envelope);
                    b["resultXdr"] = json!(t.result_xdr);
                    b
                }
            }
        }
        "getFeeStats" => fee_stats_json(&l.fee_stats()),
        "getEvents" => json!({"events": [], "latestLedger": l.sequence, "cursor": ""}),
        _ => return err(-32601, "method not found"),
    };
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// `getFeeStats`' result for these stats.
fn fee_stats_json(f: &crate::venue::stellar::FeeStats) -> Value {
    let dist = |d: &crate::venue::stellar::fee_stats::FeeDistribution| {
        let mut v = json!({"max": d.max.to_string(), "min": d.min.to_string(),
            "mode": d.mode.to_string(), "transactionCount": "10", "ledgerCount": 50});
        for (p, fee) in crate::venue::stellar::fee_stats::PERCENTILES
            .iter()
            .zip(d.percentiles)
        {
            v[format!("p{p}")] = json!(fee.to_string());
        }
        v
    };
    json!({"inclusionFee": dist(&f.classic), "sorobanInclusionFee": dist(&f.classic),
        "latestLedger": f.latest_ledger})
}

fn is_fee_bump(b64: &str) -> bool {
    matches!(
        xdr::TransactionEnvelope::from_xdr_base64(b64, Limits::none()),
        Ok(xdr::TransactionEnvelope::TxFeeBump(_))
    )
}
