//! A hostile JSON-RPC provider for tests: a proxy on 127.0.0.1:0 in front of
//! an anvil node. It forwards JSON-RPC over HTTP (single calls and batches)
//! and, per call — scripted by method name and call number, or drawn from a
//! seed — drops the request before forwarding, forwards it and drops the
//! reply, forwards it and holds the answer past the client's timeout,
//! answers 5xx before or after forwarding, 429 with or without
//! `Retry-After`, or a malformed or truncated body. It can also lag like a
//! load-balanced provider whose backend is behind: a stale head, a stale
//! nonce, receipts and transactions "not yet indexed", and no state or
//! blocks past its head. A [`Gate`] holds one call before forwarding, so a
//! test can change the chain while the node has not seen it yet.
//!
//! It owns the count of what reached the node: every `eth_sendRawTransaction`
//! it forwarded, by (sender, nonce) and by hash, whatever the attempt and
//! whatever the client was told ([`FakeRpc::sends`]). It can also answer as
//! an OP-stack node does: the receipts of the transactions it forwarded
//! carry an `l1Fee` for their bytes ([`FakeRpc::set_l1_fee`]).

mod lag;

pub use lag::Lag;

use self::lag::{Early, after, before, hex_u64};
use crate::fakes::faults::{Dice, Kind, Odds, PeerFault, Plan, Sends, Shows};
use crate::fakes::http::{Outcome, Response, Server, carry_out, read_request, write_response};
use crate::fakes::lock;
use alloy::consensus::{Transaction, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, B256, keccak256};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpStream;

/// Why the proxy cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FakeRpcError {
    #[error("cannot bind the fake RPC on 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    #[error("cannot build the fake RPC's client to {upstream}: {reason}")]
    Client { upstream: String, reason: String },
}

/// A scripted failure of one JSON-RPC call (of the HTTP request carrying it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcFault {
    /// The connection closes without an answer; nothing was forwarded.
    DropBefore,
    /// Forwarded; the connection closes before a byte of the answer.
    DropAfter,
    /// Forwarded; the answer is held this long (past the client's
    /// timeout), then the connection closes.
    TimeoutAfter(Duration),
    /// This status with a JSON-RPC error body, before or after forwarding.
    Status { status: u16, forwarded: bool },
    /// 429, with `Retry-After: secs` when given; nothing was forwarded.
    TooManyRequests { retry_after: Option<u64> },
    /// A 200 whose body is not JSON (cut mid-object).
    Malformed { forwarded: bool },
    /// A 200 announced whole and cut halfway (after forwarding: the node's
    /// own answer, cut).
    Truncated { forwarded: bool },
}

impl RpcFault {
    /// Every fault, before and after forwarding (the timeout held `hold`).
    pub fn all(hold: Duration) -> Vec<RpcFault> {
        vec![
            RpcFault::DropBefore,
            RpcFault::DropAfter,
            RpcFault::TimeoutAfter(hold),
            RpcFault::Status {
                status: 502,
                forwarded: false,
            },
            RpcFault::Status {
                status: 503,
                forwarded: true,
            },
            RpcFault::TooManyRequests { retry_after: None },
            RpcFault::TooManyRequests {
                retry_after: Some(1),
            },
            RpcFault::Malformed { forwarded: false },
            RpcFault::Malformed { forwarded: true },
            RpcFault::Truncated { forwarded: false },
            RpcFault::Truncated { forwarded: true },
        ]
    }

    /// Whether the node saw the request.
    pub fn forwards(&self) -> bool {
        self.acts()
    }
}

/// A call held before forwarding until the test opens it: the test acts
/// on the chain while the node has not seen the call yet.
#[derive(Clone, Default)]
pub struct Gate {
    reached: Arc<tokio::sync::Notify>,
    open: Arc<tokio::sync::Notify>,
}

impl Gate {
    /// Wait until the held call arrives.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Let the held call through.
    pub fn open(&self) {
        self.open.notify_one();
    }
}

/// One `eth_sendRawTransaction` the node received through the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub hash: B256,
    /// `None` when the bytes do not decode (the node refuses them too).
    pub sender: Option<Address>,
    pub nonce: Option<u64>,
    /// Which call of `eth_sendRawTransaction` it was (1-based).
    pub call: u64,
    /// The fault the client met on this call, if any.
    pub fault: Option<RpcFault>,
    /// Its signed bytes' length (what an OP node's L1 data fee is for).
    pub size: usize,
}

impl PeerFault for RpcFault {
    fn kind(&self) -> Kind {
        let (forwarded, shows) = match self {
            RpcFault::DropBefore => (false, Shows::NoAnswer),
            RpcFault::DropAfter => (true, Shows::NoAnswer),
            RpcFault::TimeoutAfter(_) => (true, Shows::Timeout),
            RpcFault::Status { forwarded, .. } => (*forwarded, Shows::ServerError),
            RpcFault::TooManyRequests { .. } => (false, Shows::TooManyRequests),
            RpcFault::Malformed { forwarded } => (*forwarded, Shows::Malformed),
            RpcFault::Truncated { forwarded } => (*forwarded, Shows::Cut),
        };
        Kind {
            acted: forwarded,
            shows,
        }
    }
}

#[derive(Default)]
struct State {
    /// Calls per method, their scripted and seeded faults, every fault met.
    plan: Plan<RpcFault>,
    lag: Option<Lag>,
    /// (method, call number) → a gate the call waits at before forwarding.
    gates: HashMap<(String, u64), Gate>,
    forwarded: Vec<Forwarded>,
    /// The transactions forwarded, by hash and by (sender, nonce).
    sends: Sends<B256, (Address, u64)>,
    /// As an OP node: the L1 data fee per signed byte its receipts report.
    l1_fee_per_byte: Option<u128>,
}

/// The proxy. Dropping it stops serving.
pub struct FakeRpc {
    server: Server,
    state: Arc<Mutex<State>>,
}

struct Upstream {
    url: String,
    http: reqwest::Client,
}

impl FakeRpc {
    /// Serve on 127.0.0.1:0 in front of `upstream` (an anvil URL).
    pub async fn start(upstream: &str) -> Result<FakeRpc, FakeRpcError> {
        crate::net::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| FakeRpcError::Client {
                upstream: upstream.to_string(),
                reason: e.to_string(),
            })?;
        let upstream = Arc::new(Upstream {
            url: upstream.to_string(),
            http,
        });
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let server = Server::start(move |sock| {
            let state = shared.clone();
            let upstream = upstream.clone();
            async move { serve(sock, &state, &upstream).await }
        })
        .await?;
        Ok(FakeRpc { server, state })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Answer as an OP-stack node: each forwarded transaction's receipt
    /// reports `l1Fee` = its signed length × `per_byte_wei` (`None`: as
    /// the node answers, without one).
    pub fn set_l1_fee(&self, per_byte_wei: Option<u128>) {
        self.state().l1_fee_per_byte = per_byte_wei;
    }

    /// The `l1Fee` its receipts report for `hash`, when it reports one.
    pub fn l1_fee_of(&self, hash: B256) -> Option<u128> {
        let s = self.state();
        let per_byte = s.l1_fee_per_byte?;
        let sent = s.forwarded.iter().find(|f| f.hash == hash)?;
        Some(per_byte.saturating_mul(sent.size as u128))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Fail call number `call` (1-based, counted since start) of `method`.
    pub fn script(&self, method: &str, call: u64, fault: RpcFault) {
        self.state().plan.at(method, call, fault);
    }

    /// Fail the next call of `method`.
    pub fn fail_next(&self, method: &str, fault: RpcFault) {
        let mut s = self.state();
        let next = s.plan.calls(method) + 1;
        s.plan.at(method, next, fault);
    }

    /// Forget every scripted fault not met yet.
    pub fn clear_script(&self) {
        self.state().plan.clear_script();
    }

    /// Hold call number `call` of `method` before forwarding until the
    /// returned gate is opened.
    pub fn gate(&self, method: &str, call: u64) -> Gate {
        let gate = Gate::default();
        self.state()
            .gates
            .insert((method.to_string(), call), gate.clone());
        gate
    }

    /// Seeded faults on `methods`: one call in `one_in` meets one of `faults`.
    pub fn chaos(&self, seed: u64, one_in: u64, methods: &[&str], faults: Vec<RpcFault>) {
        let dice = Dice::new(seed, Odds::OneIn(one_in), faults).only(methods);
        self.state().plan.seed(dice);
    }

    /// Lag from now on (`None`: every answer from the node at the head).
    pub fn set_lag(&self, lag: Option<Lag>) {
        self.state().lag = lag;
    }

    /// Calls of `method` so far.
    pub fn calls(&self, method: &str) -> u64 {
        self.state().plan.calls(method)
    }

    /// Every `eth_sendRawTransaction` forwarded to the node, in order.
    pub fn sends(&self) -> Vec<Forwarded> {
        self.state().forwarded.clone()
    }

    /// Distinct transactions forwarded, by (sender, nonce): their hashes.
    pub fn sends_by_nonce(&self) -> BTreeMap<(Address, u64), BTreeSet<B256>> {
        self.state().sends.slots().clone()
    }

    /// How many times the node received the transaction `hash`.
    pub fn sends_of(&self, hash: B256) -> usize {
        self.state().sends.times(&hash) as usize
    }

    /// Every fault met so far: (method, call number, fault).
    pub fn faults_met(&self) -> Vec<(String, u64, RpcFault)> {
        self.state()
            .plan
            .met()
            .iter()
            .map(|m| (m.call.clone(), m.number, m.fault.clone()))
            .collect()
    }
}

fn method_of(call: &Value) -> String {
    call.get("method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// What the client gets for a fault met before forwarding, or for one met
/// after (`upstream`: the node's own answer).
fn fault_outcome(fault: &RpcFault, upstream: Option<Response>) -> Outcome {
    let error = |status: u16| {
        Response::json(
            status,
            // What gateways say when their backend failed them.
            &json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32603, "message": "upstream returned an invalid response"}}),
        )
    };
    match fault {
        RpcFault::DropBefore | RpcFault::DropAfter => Outcome::Drop,
        RpcFault::TimeoutAfter(hold) => Outcome::Hold(*hold),
        RpcFault::Status { status, .. } => error(*status).now(),
        RpcFault::TooManyRequests { retry_after } => Response::json(
            429,
            &json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32005, "message": "rate limited"}}),
        )
        .with_retry_after(*retry_after)
        .now(),
        RpcFault::Malformed { .. } => {
            Response::raw_json(200, br#"{"jsonrpc": "2.0", "id": 1, "resul"#.to_vec()).now()
        }
        RpcFault::Truncated { .. } => upstream
            .unwrap_or_else(|| {
                Response::json(200, &json!({"jsonrpc": "2.0", "id": 1, "result": "0x0"}))
            })
            .cut()
            .now(),
    }
}

async fn serve(mut sock: TcpStream, state: &Mutex<State>, upstream: &Upstream) {
    let Some(req) = read_request(&mut sock).await else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        let _ = write_response(&mut sock, &Response::new(400)).await;
        return;
    };
    let batch = body.is_array();
    let calls: Vec<Value> = match body {
        Value::Array(calls) => calls,
        one => vec![one],
    };
    // Count every call; the first fault any of them meets is the request's.
    let (fault, numbers, lag, gates) = {
        let mut s = lock(state);
        let mut fault = None;
        let mut numbers = Vec::new();
        let mut gates = Vec::new();
        for call in &calls {
            let method = method_of(call);
            let n = s.plan.arrive(&method);
            numbers.push(n);
            if let Some(g) = s.gates.remove(&(method.clone(), n)) {
                gates.push(g);
            }
            if fault.is_none() {
                fault = s.plan.decide(&method, n, None);
            } else {
                s.plan.pass(&method, n);
            }
        }
        (fault, numbers, s.lag, gates)
    };
    for g in gates {
        g.reached.notify_one();
        g.open.notified().await;
    }
    if let Some(f) = &fault
        && !f.forwards()
    {
        return carry_out(sock, fault_outcome(f, None)).await;
    }
    // Forward, as the lagging node would be asked.
    let stale_head = match lag {
        Some(lag) => match upstream_call(upstream, "eth_blockNumber", json!([])).await {
            Some(head) => hex_u64(&head).map(|h| h.saturating_sub(lag.blocks)),
            None => None,
        },
        None => None,
    };
    let lag = lag.zip(stale_head);
    let mut answers: Vec<Option<Value>> = vec![None; calls.len()];
    let mut forward = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        match lag.and_then(|(lag, head)| before(lag, head, call)) {
            Some(Early::Answer(v)) => answers[i] = Some(v),
            Some(Early::Rewrite(c)) => forward.push((i, c)),
            None => forward.push((i, call.clone())),
        }
    }
    {
        let mut s = lock(state);
        for (i, call) in &forward {
            if method_of(call) == "eth_sendRawTransaction" {
                let sent = decode_send(call, numbers[*i], fault.clone());
                let slot = sent.sender.zip(sent.nonce);
                s.sends.record(sent.hash, slot);
                s.forwarded.push(sent);
            }
        }
    }
    let mut status = 200;
    if !forward.is_empty() {
        let out: Vec<Value> = forward.iter().map(|(_, c)| c.clone()).collect();
        let payload = if batch || out.len() > 1 {
            Value::Array(out)
        } else {
            out.into_iter().next().unwrap_or(Value::Null)
        };
        let Some((s, reply)) = post(upstream, &payload).await else {
            drop(sock);
            return;
        };
        status = s;
        let replies: Vec<Value> = match reply {
            Value::Array(r) => r,
            one => vec![one],
        };
        // Batch answers may come in any order: match them by id.
        for (i, call) in &forward {
            let found = replies
                .iter()
                .find(|r| r.get("id") == call.get("id"))
                .cloned()
                .or_else(|| (replies.len() == 1).then(|| replies[0].clone()));
            answers[*i] = found;
        }
    }
    let l1_fees: HashMap<B256, u128> = {
        let s = lock(state);
        match s.l1_fee_per_byte {
            Some(per_byte) => s
                .forwarded
                .iter()
                .map(|f| (f.hash, per_byte.saturating_mul(f.size as u128)))
                .collect(),
            None => HashMap::new(),
        }
    };
    let answers: Vec<Value> = calls
        .iter()
        .zip(answers)
        .map(|(call, a)| {
            let a = a.unwrap_or_else(|| json!({"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": -32603, "message": "no answer from upstream"}}));
            let a = match lag {
                Some((lag, head)) => after(lag, head, call, a),
                None => a,
            };
            with_l1_fee(call, a, &l1_fees)
        })
        .collect();
    let body = if batch {
        Value::Array(answers)
    } else {
        answers.into_iter().next().unwrap_or(Value::Null)
    };
    let response = Response::json(status, &body);
    let outcome = match fault {
        None => response.now(),
        Some(f) => fault_outcome(&f, Some(response)),
    };
    carry_out(sock, outcome).await;
}

/// A receipt of a transaction with an L1 fee, as an OP node writes it.
fn with_l1_fee(call: &Value, mut answer: Value, fees: &HashMap<B256, u128>) -> Value {
    if fees.is_empty() || method_of(call) != "eth_getTransactionReceipt" {
        return answer;
    }
    let hash = answer
        .pointer("/result/transactionHash")
        .and_then(Value::as_str)
        .and_then(|h| h.parse::<B256>().ok());
    if let Some(fee) = hash.and_then(|h| fees.get(&h))
        && let Some(r) = answer.get_mut("result").and_then(Value::as_object_mut)
    {
        r.insert("l1Fee".into(), json!(format!("{fee:#x}")));
        r.insert("l1GasPrice".into(), json!("0x3b9aca00"));
        r.insert("l1FeeScalar".into(), json!("1"));
    }
    answer
}

fn decode_send(call: &Value, n: u64, fault: Option<RpcFault>) -> Forwarded {
    let raw = call
        .get("params")
        .and_then(|p| p.get(0))
        .and_then(Value::as_str)
        .and_then(|s| alloy::primitives::hex::decode(s).ok())
        .unwrap_or_default();
    let envelope = TxEnvelope::decode_2718(&mut raw.as_slice()).ok();
    Forwarded {
        hash: keccak256(&raw),
        sender: envelope.as_ref().and_then(|e| {
            e.signature()
                .recover_address_from_prehash(&e.signature_hash())
                .ok()
        }),
        nonce: envelope.as_ref().map(|e| e.nonce()),
        call: n,
        fault,
        size: raw.len(),
    }
}

async fn upstream_call(upstream: &Upstream, method: &str, params: Value) -> Option<Value> {
    let (_, reply) = post(
        upstream,
        &json!({"jsonrpc": "2.0", "id": 0, "method": method, "params": params}),
    )
    .await?;
    reply.get("result").cloned()
}

async fn post(upstream: &Upstream, payload: &Value) -> Option<(u16, Value)> {
    let r = upstream
        .http
        .post(&upstream.url)
        .header("Content-Type", "application/json")
        .body(payload.to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    let bytes = r.bytes().await.ok()?;
    Some((status, serde_json::from_slice(&bytes).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_says_whether_the_node_saw_the_call_and_the_menu_has_both() {
        let all = RpcFault::all(Duration::from_secs(1));
        assert!(all.iter().any(RpcFault::forwards));
        assert!(all.iter().any(|f| !f.forwards()));
        assert!(!RpcFault::TooManyRequests { retry_after: None }.forwards());
        assert!(RpcFault::TimeoutAfter(Duration::ZERO).forwards());
        assert_eq!(RpcFault::DropAfter.kind(), Kind::after(Shows::NoAnswer));
    }
}
