//! Equity hedge bench. (1) From a decoded fill to the hedge's order request
//! leaving (the event, the trade, the position and the hedge intent durably
//! committed first), p50 and p99, against a bare write+fsync of 64 bytes on
//! the same disk in the same run, with where the time goes beside it
//! (`breakdown`). (2) The exposure window end to end: event → order
//! received at the fake Alpaca through one pass of the keeper (`window`).
//! (3) Ingest throughput of ABI-encoded V4
//! logs (decode, dedupe, accumulate, durable) on the store (redb) against
//! the same workload on SQLite (WAL, synchronous=FULL), one commit per event
//! and in batches. Event counts: HEDGE_BENCH_EVENTS (default 100000).

#[path = "hedge/breakdown.rs"]
mod breakdown;
#[path = "../tests/it/support/hedge_feed.rs"]
mod hedge_feed;
#[path = "hedge/window.rs"]
mod window;

use arbkeep::model::Mode;
use arbkeep::store::Store;
use arbkeep::strategy::equity_hedge::abi::LogPlace;
use arbkeep::strategy::equity_hedge::chain::{MemoryReceipts, StaticTokens};
use arbkeep::strategy::equity_hedge::events::{address_of, order, take_log, units};
use arbkeep::strategy::equity_hedge::pipeline;
use arbkeep::strategy::equity_hedge::symbol::SymbolMap;
use arbkeep::strategy::equity_hedge::{Decoder, Fill, FillKind, Meaning, OnchainSide};
use arbkeep::venue::broker::OrderRequest;
use arbkeep::venue::logs::ChainLog;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const SYMBOLS: [&str; 4] = ["tAAPL", "NVDA0x", "TSLAs1", "wtMSFT"];
const BATCH: usize = 1_000;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn decoder() -> (Decoder, StaticTokens, MemoryReceipts) {
    let usdc = address_of("USDC");
    let mut m: BTreeMap<_, _> = SYMBOLS
        .iter()
        .map(|s| (address_of(s), s.to_string()))
        .collect();
    m.insert(usdc, "USDC".to_string());
    (
        Decoder {
            owner: address_of("owner"),
            usdc,
            symbols: SymbolMap::st0x(),
        },
        StaticTokens(m),
        MemoryReceipts::default(),
    )
}

fn logs(n: usize) -> Vec<ChainLog> {
    let usdc = address_of("USDC");
    (0..n)
        .map(|i| {
            let sym = SYMBOLS[i % SYMBOLS.len()];
            let place = LogPlace {
                chain_id: 8453,
                address: "0x52CEB8eBEf648744fFDDE89F7Bc9C3aC35944775".into(),
                block_number: 1_000 + i as u64 / 3,
                block_hash: format!("0x{:064x}", i / 3),
                tx_hash: format!("0x{:064x}", i),
                log_index: (i % 3) as u64,
            };
            let shares = Decimal::new(5 + (i % 40) as i64, 2);
            let eq = units(shares, 18).unwrap();
            let cash = units(shares * Decimal::from(200), 6).unwrap();
            let o = if i % 2 == 0 {
                order(address_of("owner"), &[(address_of(sym), 18)], &[(usdc, 6)])
            } else {
                order(address_of("owner"), &[(usdc, 6)], &[(address_of(sym), 18)])
            };
            if i % 2 == 0 {
                take_log(&place, o, 0, 0, cash, eq)
            } else {
                take_log(&place, o, 0, 0, eq, cash)
            }
        })
        .collect()
}

fn decode_all(rt: &tokio::runtime::Runtime, logs: &[ChainLog]) -> Vec<Fill> {
    let (d, t, r) = decoder();
    logs.iter()
        .map(
            |l| match rt.block_on(d.interpret(l, std::slice::from_ref(l), &r, &t)) {
                Ok(Meaning::Fill(f)) => f,
                other => panic!("bench log did not decode to a fill: {other:?}"),
            },
        )
        .collect()
}

fn fsync_once(file: &mut std::fs::File) -> Duration {
    let t = Instant::now();
    use std::os::unix::fs::FileExt;
    file.write_at(&[7u8; 64], 0).unwrap();
    file.sync_all().unwrap();
    t.elapsed()
}

/// Sorted samples of each thing measured side by side, one of each per
/// event, and the hedge commit's mean write syscalls and bytes.
struct Latency {
    hedge: Vec<Duration>,
    bare: Vec<Duration>,
    redb_floor: Vec<Duration>,
    scattered: Vec<Duration>,
    sequential: Vec<Duration>,
    writes: f64,
    bytes: f64,
}

fn latency(dir: &Path, samples: usize) -> Latency {
    let store = Store::open(&dir.join("lat"), Mode::Paper).unwrap();
    store.write(|w| pipeline::init(w.transaction())).unwrap();
    let mut file = std::fs::File::create(dir.join("fsync.probe")).unwrap();
    let mut floors = breakdown::Floors::open(dir);
    let mut sent: Vec<OrderRequest> = Vec::with_capacity(samples);
    let mut l = Latency {
        hedge: Vec::with_capacity(samples),
        bare: Vec::with_capacity(samples),
        redb_floor: Vec::with_capacity(samples),
        scattered: Vec::with_capacity(samples),
        sequential: Vec::with_capacity(samples),
        writes: 0.0,
        bytes: 0.0,
    };
    let (mut writes, mut bytes) = (0u64, 0u64);
    for i in 0..samples {
        // One new symbol per event, 1.5 shares bought: every event decides a hedge.
        let fill = Fill {
            key: arbkeep::strategy::equity_hedge::EventKey {
                chain_id: 8453,
                tx_hash: format!("0x{i:064x}"),
                log_index: 0,
            },
            block_number: i as u64,
            kind: FillKind::Take,
            symbol: format!("S{i}"),
            token_symbol: format!("tS{i}"),
            side: OnchainSide::Bought,
            shares: Decimal::new(15, 1),
            usdc: Decimal::from(300),
            price: Decimal::from(200),
        };
        let (w0, b0) = breakdown::io_counters();
        let t = Instant::now();
        let recorded = store
            .write(|w| {
                pipeline::record_fill(
                    w.transaction(),
                    &fill,
                    1,
                    Some(&pipeline::HedgeLimits::default()),
                )
            })
            .unwrap();
        let pipeline::Recorded::New {
            hedge: Some(exec), ..
        } = recorded
        else {
            panic!("no hedge decided")
        };
        // The request leaves here: handed to the broker adapter.
        sent.push(std::hint::black_box(exec.request));
        l.hedge.push(t.elapsed());
        let (w1, b1) = breakdown::io_counters();
        writes += w1 - w0;
        bytes += b1 - b0;
        l.bare.push(fsync_once(&mut file));
        l.redb_floor.push(floors.redb_commit());
        let n = i + 1;
        l.scattered
            .push(floors.scattered((writes / n as u64) as usize));
        l.sequential
            .push(floors.sequential((bytes / n as u64) as usize));
    }
    l.writes = writes as f64 / samples as f64;
    l.bytes = bytes as f64 / samples as f64;
    for v in [
        &mut l.hedge,
        &mut l.bare,
        &mut l.redb_floor,
        &mut l.scattered,
        &mut l.sequential,
    ] {
        v.sort();
    }
    l
}

fn redb_ingest(
    dir: &Path,
    rt: &tokio::runtime::Runtime,
    logs: &[ChainLog],
    batch: usize,
) -> Duration {
    let store = Store::open(dir, Mode::Paper).unwrap();
    store.write(|w| pipeline::init(w.transaction())).unwrap();
    let (d, t, r) = decoder();
    let start = Instant::now();
    for chunk in logs.chunks(batch) {
        let fills: Vec<Fill> = chunk
            .iter()
            .map(|l| match rt.block_on(d.interpret(l, chunk, &r, &t)) {
                Ok(Meaning::Fill(f)) => f,
                other => panic!("{other:?}"),
            })
            .collect();
        store
            .write(|w| {
                for f in &fills {
                    pipeline::record_fill(w.transaction(), f, 1, None)?;
                }
                Ok(())
            })
            .unwrap();
    }
    start.elapsed()
}

fn sqlite_ingest(
    path: &Path,
    rt: &tokio::runtime::Runtime,
    logs: &[ChainLog],
    batch: usize,
) -> Duration {
    let mut db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE seen (chain INTEGER, tx TEXT, log INTEGER, trade INTEGER, PRIMARY KEY (chain, tx, log));
         CREATE TABLE trades (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
         CREATE TABLE open_trades (symbol TEXT, side INTEGER, block INTEGER, log INTEGER, trade INTEGER, PRIMARY KEY (symbol, side, block, log));
         CREATE TABLE positions (symbol TEXT PRIMARY KEY, body TEXT NOT NULL);",
    )
    .unwrap();
    let (d, t, r) = decoder();
    let mut next = 0i64;
    let start = Instant::now();
    for chunk in logs.chunks(batch) {
        let fills: Vec<Fill> = chunk
            .iter()
            .map(|l| match rt.block_on(d.interpret(l, chunk, &r, &t)) {
                Ok(Meaning::Fill(f)) => f,
                other => panic!("{other:?}"),
            })
            .collect();
        let tx = db.transaction().unwrap();
        for f in &fills {
            let k = &f.key;
            let seen: Option<i64> = tx
                .query_row(
                    "SELECT trade FROM seen WHERE chain=?1 AND tx=?2 AND log=?3",
                    rusqlite::params![k.chain_id as i64, k.tx_hash, k.log_index as i64],
                    |row| row.get(0),
                )
                .ok();
            if seen.is_some() {
                continue;
            }
            next += 1;
            tx.execute(
                "INSERT INTO seen VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![k.chain_id as i64, k.tx_hash, k.log_index as i64, next],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO trades VALUES (?1, ?2)",
                rusqlite::params![next, serde_json::to_string(f).unwrap()],
            )
            .unwrap();
            let side = matches!(f.side, OnchainSide::Sold) as i64;
            tx.execute(
                "INSERT INTO open_trades VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    f.symbol,
                    side,
                    f.block_number as i64,
                    k.log_index as i64,
                    next
                ],
            )
            .unwrap();
            let body: Option<String> = tx
                .query_row(
                    "SELECT body FROM positions WHERE symbol=?1",
                    [&f.symbol],
                    |row| row.get(0),
                )
                .ok();
            let (mut long, mut short): (Decimal, Decimal) = body
                .and_then(|b| serde_json::from_str(&b).ok())
                .unwrap_or_default();
            match f.side {
                OnchainSide::Bought => long += f.shares,
                OnchainSide::Sold => short += f.shares,
            }
            tx.execute(
                "INSERT INTO positions VALUES (?1, ?2) ON CONFLICT(symbol) DO UPDATE SET body=excluded.body",
                rusqlite::params![f.symbol, serde_json::to_string(&(long, short)).unwrap()],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    start.elapsed()
}

fn main() {
    let n: usize = std::env::var("HEDGE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = root.path();

    let l = latency(dir, 500);
    let row = |label: &str, v: &[Duration]| {
        println!(
            "  {label:<44} p50 {:>6.0} µs  p99 {:>6.0} µs  ({:.2}× / {:.2}× the bare fsync)",
            us(pct(v, 0.5)),
            us(pct(v, 0.99)),
            us(pct(v, 0.5)) / us(pct(&l.bare, 0.5)),
            us(pct(v, 0.99)) / us(pct(&l.bare, 0.99)),
        )
    };
    println!("event→order request (durable first), 500 events, side by side:");
    row("hedge commit (dedupe, trade, position, intent)", &l.hedge);
    row("bare 64 B write + fsync", &l.bare);
    row("redb floor: one 64 B value, one table", &l.redb_floor);
    row(
        &format!("disk: {:.0} scattered 4 KiB writes + fdatasync", l.writes),
        &l.scattered,
    );
    row(
        &format!("disk: {:.0} B sequential + fdatasync", l.bytes),
        &l.sequential,
    );
    println!(
        "  the hedge commit writes {:.1} times ({:.0} B) before its one fdatasync",
        l.writes, l.bytes
    );
    let p99_ratio = us(pct(&l.hedge, 0.99)) / us(pct(&l.bare, 0.99));

    let (windows, passes) = window::measure(&rt, &dir.join("window"), 500);
    println!(
        "event→order received at the fake Alpaca (one keeper pass, loopback HTTP): p50 {:.0} µs  p99 {:.0} µs; whole pass p50 {:.0} µs  p99 {:.0} µs",
        us(pct(&windows, 0.5)),
        us(pct(&windows, 0.99)),
        us(pct(&passes, 0.5)),
        us(pct(&passes, 0.99)),
    );
    std::io::stdout().flush().ok();

    let all = logs(n);
    let _ = decode_all(&rt, &all[..100.min(n)]);
    let mut ratios = Vec::new();
    for (label, batch) in [("per event", 1usize), ("batched", BATCH)] {
        let r = redb_ingest(&dir.join(format!("redb-{batch}")), &rt, &all, batch);
        let s = sqlite_ingest(&dir.join(format!("sqlite-{batch}.db")), &rt, &all, batch);
        let rr = n as f64 / r.as_secs_f64();
        let sr = n as f64 / s.as_secs_f64();
        println!(
            "ingest {n} events {label} (batch {batch}): redb {:.0} ev/s ({:.1} s), sqlite {:.0} ev/s ({:.1} s), ratio {:.2}",
            rr,
            r.as_secs_f64(),
            sr,
            s.as_secs_f64(),
            rr / sr
        );
        ratios.push(rr / sr);
        std::io::stdout().flush().ok();
    }
    println!(
        "BENCH hedge p99_over_fsync={:.2} p50_over_fsync={:.2} redb_floor_p50_over_fsync={:.2} commit_writes={:.1} commit_bytes={:.0} submitted_p50_us={:.0} submitted_p99_us={:.0} ingest_vs_sqlite_per_event={:.2} ingest_vs_sqlite_batched={:.2}",
        p99_ratio,
        us(pct(&l.hedge, 0.5)) / us(pct(&l.bare, 0.5)),
        us(pct(&l.redb_floor, 0.5)) / us(pct(&l.bare, 0.5)),
        l.writes,
        l.bytes,
        us(pct(&windows, 0.5)),
        us(pct(&windows, 0.99)),
        ratios[0],
        ratios[1]
    );
}
