//! Horizon's ledger stream at the fake: `GET /ledgers` as server-sent
//! events, `"hello"` then one event per ledger closed, each timestamped at
//! the fake, hostile on demand ([`StreamFault`], a muted stream).

use super::{Faults, StreamFault};
use crate::fakes::lock;
use crate::venue::stellar::sim::SimLedger;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Horizon's `GET /ledgers?cursor=now` as server-sent events: the hello,
/// then every ledger closed from now on, until the client leaves, a fault
/// cuts it or the fake stops.
pub(super) async fn sse_ledgers(
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
        let mut f = lock(&faults);
        f.streams_opened += 1;
        f.ledger_closed.clone()
    };
    let mut told = lock(&ledger).sequence;
    loop {
        // Made before looking, so a close between the look and the wait wakes it.
        let closed = wake.notified();
        let (seq, close_time) = {
            let l = lock(&ledger);
            (l.sequence, l.close_time)
        };
        while told < seq {
            told += 1;
            let fault = {
                let mut f = lock(&faults);
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
                lock(&faults)
                    .ledgers_sent
                    .push((told, std::time::Instant::now()));
            }
        }
        if lock(&faults).stopped {
            return Ok(());
        }
        tokio::select! {
            _ = closed => {}
            // Closes made through `with` are found within this.
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
        }
    }
}
