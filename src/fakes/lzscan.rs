//! A hostile LayerZero Scan API on 127.0.0.1 (evm.md §2.6): `GET
//! /v1/messages/guid/{guid}` answering in the real shape (`data[]` with
//! `pathway`, `source.tx.txHash`, `destination.tx.txHash`, `guid`,
//! `status.name`), from messages the test sets ([`FakeScan::set`]) — it
//! watches no chain, so it can say what the chain does not (a
//! `DELIVERED` with no `OFTReceived`, say). An unknown guid is an empty
//! `data`, as for a message just sent, and a set one can stay unlisted for
//! its first asks ([`FakeScan::lag`], a [`ListingLag`]).
//!
//! Faults, scripted or drawn from a seed ([`FakeScan::seed`]): 429 with
//! `Retry-After`, 5xx, the connection dropped, a malformed or cut body, an
//! answer held past the client's timeout; "down" (every ask 503). Asking
//! changes nothing, so every fault is "before"; asks are counted at the
//! fake ([`FakeScan::calls`]).

use crate::fakes::faults::{Dice, Kind, ListingLag, Odds, PeerFault, Plan, Shows};
use crate::fakes::http::{Outcome, Request, Response, Server, carry_out, read_request};
use crate::fakes::lock;
use alloy::primitives::B256;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The plan's name for the one route.
pub const GUID: &str = "guid";

/// What one ask meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// This status with an error body (429 with `Retry-After: 1`).
    Status(u16),
    /// The connection closes without an answer.
    Drop,
    /// A 200 whose body is not JSON.
    Malformed,
    /// A 200 announced whole and cut halfway.
    Truncated,
    /// Nothing for this long, then the connection closes.
    Hold(u64),
}

impl PeerFault for Fault {
    fn kind(&self) -> Kind {
        Kind::before(match self {
            Fault::Status(429) => Shows::TooManyRequests,
            Fault::Status(_) => Shows::ServerError,
            Fault::Drop => Shows::NoAnswer,
            Fault::Malformed => Shows::Malformed,
            Fault::Truncated => Shows::Cut,
            Fault::Hold(_) => Shows::Timeout,
        })
    }
}

impl Fault {
    /// What a seed draws from.
    pub fn wire() -> Vec<Fault> {
        vec![
            Fault::Status(429),
            Fault::Status(500),
            Fault::Status(503),
            Fault::Drop,
            Fault::Malformed,
            Fault::Truncated,
        ]
    }
}

/// One message as the fake lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `status.name`, as it is sent (an unknown name too).
    pub status: String,
    pub source_tx: Option<B256>,
    pub destination_tx: Option<B256>,
}

struct State {
    plan: Plan<Fault>,
    down: bool,
    messages: HashMap<B256, Message>,
    lags: HashMap<B256, ListingLag>,
}

/// The fake; dropping it stops the server.
pub struct FakeScan {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl FakeScan {
    pub async fn start() -> std::io::Result<FakeScan> {
        let state = Arc::new(Mutex::new(State {
            plan: Plan::default(),
            down: false,
            messages: HashMap::new(),
            lags: HashMap::new(),
        }));
        let s = state.clone();
        let server = Server::start(move |mut sock| {
            let s = s.clone();
            async move {
                let Some(req) = read_request(&mut sock).await else {
                    return;
                };
                let outcome = answer(&s, &req);
                carry_out(sock, outcome).await;
            }
        })
        .await?;
        Ok(FakeScan { server, state })
    }

    /// The base URL to configure (`[evm] layerzero_scan`).
    pub fn url(&self) -> String {
        format!("{}/v1", self.server.url().trim_end_matches('/'))
    }

    /// List `guid` with `status` from now on.
    pub fn set(&self, guid: B256, status: &str, source_tx: Option<B256>, dst: Option<B256>) {
        lock(&self.state).messages.insert(
            guid,
            Message {
                status: status.to_string(),
                source_tx,
                destination_tx: dst,
            },
        );
    }

    /// Leave `guid` out of the next `looks` answers (an empty `data`).
    pub fn lag(&self, guid: B256, looks: u32) {
        lock(&self.state)
            .lags
            .insert(guid, ListingLag::looks(looks));
    }

    /// The next ask meets `fault`.
    pub fn next(&self, fault: Fault) {
        lock(&self.state).plan.next(GUID, fault);
    }

    /// Seeded wire faults from now on.
    pub fn seed(&self, seed: u64, odds: Odds) {
        lock(&self.state)
            .plan
            .seed(Dice::new(seed, odds, Fault::wire()));
    }

    /// Every ask answers 503 while down.
    pub fn set_down(&self, down: bool) {
        lock(&self.state).down = down;
    }

    /// Asks so far.
    pub fn calls(&self) -> u64 {
        lock(&self.state).plan.calls(GUID)
    }

    /// Every fault met so far.
    pub fn met(&self) -> Vec<Fault> {
        lock(&self.state)
            .plan
            .met()
            .iter()
            .map(|m| m.fault)
            .collect()
    }
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({"message": message}))
}

fn entry(guid: B256, m: &Message) -> Value {
    let hash = |h: Option<B256>| h.map(|h| json!(h.to_string())).unwrap_or(Value::Null);
    let destination = match m.destination_tx {
        Some(h) => json!({"status": "SUCCEEDED", "tx": {
            "txHash": h.to_string(), "blockHash": B256::repeat_byte(0xdd).to_string(),
            "blockNumber": 100, "blockTimestamp": 1_733_580_000u64}}),
        None => json!({"status": "WAITING"}),
    };
    json!({
        "pathway": {"srcEid": 30329, "dstEid": 30101, "nonce": 1, "id": "fake"},
        "source": {"status": "SUCCEEDED", "tx": {"txHash": hash(m.source_tx), "blockNumber": "1"}},
        "destination": destination,
        "verification": {"dvn": {"dvns": {}, "status": "SUCCEEDED"}},
        "guid": guid.to_string(),
        "status": {"name": m.status, "message": "fake"},
        "created": "2026-12-07T00:00:00.000Z",
        "updated": "2026-12-07T00:00:00.000Z",
    })
}

fn answer(state: &Mutex<State>, req: &Request) -> Outcome {
    let Some(text) = req.path.strip_prefix("/v1/messages/guid/") else {
        return error(404, "no such route").now();
    };
    if req.method != "GET" {
        return error(405, "GET only").now();
    }
    let mut s = lock(state);
    let n = s.plan.arrive(GUID);
    if s.down {
        return error(503, "Service Unavailable").now();
    }
    let fault = s.plan.decide(GUID, n, None);
    match fault {
        Some(Fault::Status(429)) => {
            return error(429, "Too Many Requests")
                .with_retry_after(Some(1))
                .now();
        }
        Some(Fault::Status(code)) => return error(code, "upstream error").now(),
        Some(Fault::Drop) => return Outcome::Drop,
        Some(Fault::Malformed) => {
            return Response::raw_json(200, "<html>502 Bad Gateway</html>").now();
        }
        Some(Fault::Hold(ms)) => return Outcome::Hold(Duration::from_millis(ms)),
        Some(Fault::Truncated) | None => {}
    }
    let cut = fault == Some(Fault::Truncated);
    let Ok(guid) = B256::from_str(text) else {
        return error(400, "invalid guid").now();
    };
    let hidden = s.lags.get_mut(&guid).is_some_and(|l| l.hides(0));
    let data = match s.messages.get(&guid) {
        Some(m) if !hidden => vec![entry(guid, m)],
        _ => Vec::new(),
    };
    let r = Response::json(200, &json!({ "data": data }));
    if cut { r.cut().now() } else { r.now() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SystemClock;
    use crate::venue::evm::lzscan::{Listing, LzScan, ScanError, ScanStatus};

    fn client(f: &FakeScan) -> LzScan {
        LzScan::open(&f.url(), Duration::from_millis(500), Arc::new(SystemClock)).expect("client")
    }

    #[tokio::test]
    async fn the_client_reads_the_fake_and_every_fault_is_a_typed_failure() {
        let f = FakeScan::start().await.expect("fake");
        let c = client(&f);
        let guid = B256::repeat_byte(0x5a);
        let src = B256::repeat_byte(0x11);
        let line = c.health_line();
        assert!(line.ok && line.detail.contains("not asked yet"), "{line:?}");
        assert_eq!(c.message(guid, Some(src)).await, Ok(Listing::NotListed));
        let line = c.health_line();
        assert!(line.ok && line.last_seen.is_some(), "{line:?}");
        f.set(guid, "CONFIRMING", Some(src), None);
        f.lag(guid, 1);
        assert_eq!(
            c.message(guid, Some(src)).await,
            Ok(Listing::NotListed),
            "lagging"
        );
        match c.message(guid, Some(src)).await {
            Ok(Listing::Listed(m)) => {
                assert_eq!(m.status, ScanStatus::Confirming);
                assert_eq!(m.source_tx, Some(src));
            }
            other => panic!("{other:?}"),
        }
        for (fault, want) in [
            (Fault::Status(503), "HTTP 503"),
            (Fault::Drop, "could not ask"),
            (Fault::Malformed, "not JSON"),
            (Fault::Truncated, "not read whole"),
            (Fault::Hold(2_000), "timed out"),
        ] {
            f.next(fault);
            let e = c.message(guid, Some(src)).await.expect_err("a fault");
            assert!(e.to_string().contains(want), "{fault:?}: {e}");
            assert!(!e.to_string().contains("127.0.0.1"), "no URL: {e}");
            // The Venues panel says the second source failed, and why.
            let line = c.health_line();
            assert!(
                !line.ok && line.detail.contains(want),
                "{fault:?}: {line:?}"
            );
            assert!(line.detail.contains("tracked on chain only"), "{line:?}");
        }
        // A 429 keeps the client quiet for its Retry-After: no ask reaches the fake.
        f.next(Fault::Status(429));
        assert_eq!(c.message(guid, None).await, Err(ScanError::RateLimited));
        let asked = f.calls();
        assert!(matches!(
            c.message(guid, None).await,
            Err(ScanError::Quiet { secs: 1 })
        ));
        assert_eq!(f.calls(), asked, "not asked while quiet");
        let line = c.health_line();
        assert!(
            !line.ok && line.detail.contains("429") && line.detail.contains("quiet 1s"),
            "{line:?}"
        );
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert!(matches!(
            c.message(guid, None).await,
            Ok(Listing::Listed(_))
        ));
        assert_eq!(f.calls(), asked + 1);
        assert!(c.health_line().ok, "answering again");
    }

    #[tokio::test]
    async fn seeded_faults_are_the_same_for_the_same_seed() {
        let run = |seed| async move {
            let f = FakeScan::start().await.expect("fake");
            f.seed(seed, Odds::OneIn(2));
            for _ in 0..12 {
                // A fresh client each time: one kept quiet by a 429 would skip asks.
                let _ = client(&f).message(B256::repeat_byte(1), None).await;
            }
            f.met()
        };
        let (a, b) = (run(9).await, run(9).await);
        assert_eq!(a, b);
        assert!(!a.is_empty());
    }
}
