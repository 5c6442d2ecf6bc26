//! The LayerZero Scan API as a second source on a real Stargate ETH send
//! (Hemi → Ethereum, the devnet's Stargate V2), the hostile fake scan
//! configured as `[evm] layerzero_scan`: while the devnet relayer has not
//! delivered, the transfer is in flight with the scan's words on it; the
//! arrival comes from the destination's `OFTReceived` only — a scan saying
//! `DELIVERED` with no such log is shown as a disagreement and credits
//! nothing, its trouble statuses are flagged, and a scan that is down, rate
//! limiting or answering garbage the whole time never keeps the chain's
//! tracking from completing.

use crate::devnet_common;

use alloy::primitives::{B256, U256};
use arbkeep::fakes::faults::Odds;
use arbkeep::fakes::lzscan::FakeScan;
use arbkeep::model::{BridgeTicket, Chain, TokenId};
use arbkeep::venue::evm::devnet::{Devnet, DevnetOptions};
use arbkeep::venue::evm::{EvmStore, EvmVenue};
use arbkeep::venue::{BridgeStatus, LoopVenue, NOTE_TROUBLE};
use devnet_common::*;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct World {
    _d: Devnet,
    scan: FakeScan,
    _tmp: tempfile::TempDir,
    v: EvmVenue,
}

async fn world(stargate_delay: Duration) -> World {
    let d = start(DevnetOptions {
        stargate_delay,
        ..DevnetOptions::default()
    })
    .await;
    let scan = FakeScan::start().await.expect("fake scan starts");
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    assert_eq!(evm.layerzero_scan, None, "off unless configured");
    evm.layerzero_scan = Some(scan.url());
    evm.rpc_timeout_ms = 2_000;
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store).await;
    World {
        _d: d,
        scan,
        _tmp: tmp,
        v,
    }
}

impl World {
    /// Half an ETH from Hemi to Ethereum by Stargate; its ticket.
    async fn send(&self, cycle: u64) -> BridgeTicket {
        let intent = stargate_intent(
            cycle,
            TokenId::Eth,
            Chain::Hemi,
            Chain::Ethereum,
            TokenId::Eth.one() / 2,
        );
        let r = self.v.execute(&intent).await.expect("the send goes out");
        r.ticket.expect("a ticket")
    }

    async fn status(&self, ticket: &BridgeTicket) -> BridgeStatus {
        self.v
            .bridge_status(ticket)
            .await
            .expect("the chain answers")
    }

    async fn eth_on_ethereum(&self) -> U256 {
        let c = self.v.client(Chain::Ethereum);
        c.native_balance(self.v.wallet()).await.unwrap()
    }

    /// Poll until the chain says it arrived, each in-flight note checked
    /// by `check`; the amount and tx hash of the arrival.
    async fn until_arrived(
        &self,
        ticket: &BridgeTicket,
        mut check: impl FnMut(Option<&str>),
    ) -> (u128, String) {
        let started = Instant::now();
        loop {
            match self.status(ticket).await {
                BridgeStatus::Arrived {
                    amount, tx_hash, ..
                } => return (amount, tx_hash),
                BridgeStatus::InFlight { note, .. } => check(note.as_deref()),
                other => panic!("a Stargate transfer is never {other:?}"),
            }
            assert!(started.elapsed() < Duration::from_secs(90), "never arrived");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn guid(t: &BridgeTicket) -> B256 {
    B256::from_str(&t.message_id).expect("a guid")
}

fn in_flight_note(s: BridgeStatus) -> String {
    match s {
        BridgeStatus::InFlight {
            note: Some(note), ..
        } => note,
        other => panic!("expected in flight with a note, got {other:?}"),
    }
}

/// (b) The scan's state while the relayer holds the packet; the arrival
/// from the chain once it delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_lzscan_explains_a_stargate_send_in_flight_and_the_chain_credits_it() {
    let w = world(Duration::from_secs(12)).await;
    let before = w.eth_on_ethereum().await;
    let ticket = w.send(1).await;
    let g = guid(&ticket);
    let src = B256::from_str(&ticket.source_tx).ok();
    // Just sent: the scan has not listed it yet (two asks), then it is confirming.
    w.scan.set(g, "INFLIGHT", src, None);
    w.scan.lag(g, 2);
    for _ in 0..2 {
        assert_eq!(
            in_flight_note(w.status(&ticket).await),
            "LayerZero Scan: not listed yet"
        );
    }
    assert_eq!(
        in_flight_note(w.status(&ticket).await),
        "LayerZero Scan: INFLIGHT"
    );
    w.scan.set(g, "CONFIRMING", src, None);
    assert_eq!(
        in_flight_note(w.status(&ticket).await),
        "LayerZero Scan: CONFIRMING"
    );
    assert_eq!(w.eth_on_ethereum().await, before, "nothing delivered yet");
    // The scan says delivered with its own tx hash; the chain decides.
    let scan_dst = B256::repeat_byte(0xd5);
    w.scan.set(g, "DELIVERED", src, Some(scan_dst));
    let mut notes = Vec::new();
    let (amount, tx_hash) = w
        .until_arrived(&ticket, |note| notes.push(note.map(str::to_string)))
        .await;
    assert_eq!(amount, ticket.expected_amount);
    assert_ne!(tx_hash, scan_dst.to_string(), "the arrival is the chain's");
    let receipt =
        w.v.client(Chain::Ethereum)
            .receipt(B256::from_str(&tx_hash).unwrap())
            .await
            .unwrap()
            .expect("the OFTReceived transaction is on Ethereum");
    assert!(receipt.status());
    assert_eq!(
        w.eth_on_ethereum().await - before,
        U256::from(amount),
        "arrived once"
    );
    for note in &notes {
        let note = note.as_deref().expect("a note on every in-flight answer");
        assert!(
            note.contains("disagree") || note.contains("waiting for its confirmations"),
            "{note}"
        );
    }
    assert!(w.scan.calls() >= 4 + notes.len() as u64);
}

/// (c) The scan says DELIVERED, the chain has no OFTReceived (the relayer
/// holds the packet for an hour): in flight, the disagreement shown,
/// nothing credited; its trouble statuses are flagged as trouble.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_lzscan_delivered_without_oft_received_is_a_disagreement_never_an_arrival() {
    let w = world(Duration::from_secs(3_600)).await;
    let before = w.eth_on_ethereum().await;
    let ticket = w.send(1).await;
    let g = guid(&ticket);
    let src = B256::from_str(&ticket.source_tx).ok();
    let scan_dst = B256::repeat_byte(0xee);
    w.scan.set(g, "DELIVERED", src, Some(scan_dst));
    // Past the expected delay and many blocks deep: still no arrival.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let note = in_flight_note(w.status(&ticket).await);
        assert!(
            note.contains("says DELIVERED") && note.contains("disagree"),
            "{note}"
        );
        assert!(note.contains("chain decides"), "{note}");
        assert!(note.contains(&scan_dst.to_string()), "{note}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(w.eth_on_ethereum().await, before, "nothing credited");
    for status in ["PAYLOAD_STORED", "FAILED", "BLOCKED"] {
        w.scan.set(g, status, src, None);
        let note = in_flight_note(w.status(&ticket).await);
        assert!(
            note.starts_with(NOTE_TROUBLE) && note.contains(status),
            "{note}"
        );
    }
    // A scan naming another source transaction for our guid is not believed.
    w.scan
        .set(g, "DELIVERED", Some(B256::repeat_byte(0x77)), None);
    let note = in_flight_note(w.status(&ticket).await);
    assert!(
        note.contains("unavailable") && note.contains("not ours"),
        "{note}"
    );
    assert_eq!(w.eth_on_ethereum().await, before, "still nothing credited");
}

/// (d) The scan faulting on every ask (429, 5xx, dropped, malformed, cut),
/// then down: each transfer still arrives by the chain, the scan's failure
/// shown as "tracked on chain only" on the transfer and on the scan's own
/// Venues line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_lzscan_down_or_garbage_the_whole_time_never_stops_the_chain_tracking() {
    let w = world(Duration::from_secs(2)).await;
    w.scan.seed(20_261_207, Odds::OneIn(1));
    for (cycle, down) in [(1, false), (2, true)] {
        w.scan.set_down(down);
        let before = w.eth_on_ethereum().await;
        let ticket = w.send(cycle).await;
        w.scan
            .set(guid(&ticket), "DELIVERED", None, Some(B256::repeat_byte(1)));
        let asked = w.scan.calls();
        let mut notes = 0;
        let (amount, _) = w
            .until_arrived(&ticket, |note| {
                let note = note.expect("a note");
                assert!(
                    note.starts_with("LayerZero Scan unavailable")
                        && note.ends_with("tracked on chain only"),
                    "{note}"
                );
                notes += 1;
            })
            .await;
        assert!(notes > 0, "polled while in flight");
        assert_eq!(amount, ticket.expected_amount);
        assert_eq!(w.eth_on_ethereum().await - before, U256::from(amount));
        if !down {
            assert!(w.scan.calls() > asked, "the scan was asked");
        }
        // The Venues panel has the scan's own line, failing, and says so.
        let line =
            w.v.health()
                .await
                .into_iter()
                .find(|h| h.name == "LayerZero Scan")
                .expect("the scan's line on the Venues panel");
        assert!(
            !line.ok && line.detail.contains("tracked on chain only"),
            "{line:?}"
        );
    }
    let met = w.scan.met();
    assert!(!met.is_empty(), "seeded faults were met");
    assert!(
        met.iter()
            .any(|f| *f != arbkeep::fakes::lzscan::Fault::Status(429)),
        "{met:?}"
    );
}
