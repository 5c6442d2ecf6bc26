//! From a new ledger's order-book data arriving to a signed transaction
//! ready: detect every cycle over the books, check the oracle, size within
//! depth, build the path payment and sign it. Side by side: detection alone
//! and signing alone. Then ledger close → transaction submitted, end to
//! end through the loopback fake's ledger stream, the real engine and
//! keeper (`stellar/ledger_to_submit.rs`; `STELLAR_BENCH_CLOSES` closes,
//! default 50). Last line: `BENCH stellar detect_to_signed_ms_p99=<x>
//! ledger_to_submit_ms_median=<m> ledger_to_submit_ms_p99=<y>`.

#[path = "stellar/ledger_to_submit.rs"]
mod ledger_to_submit;

use arbkeep::strategy::stellar_arb::cycle::{Books, candidate_cycles, detect};
use arbkeep::venue::stellar::pool::LiquidityPool;
use arbkeep::venue::stellar::tx::{Header, cyclic_path_payment, sign};
use arbkeep::venue::stellar::{
    Keypair, ONE, Offer, OraclePrice, OrderBook, Price, StellarAsset, network_id,
};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

const RUNS: usize = 300;

fn world(seed: u64) -> (Vec<StellarAsset>, Books, HashMap<String, OraclePrice>) {
    let issuer = Keypair::from_seed([0x11; 32]).public();
    let codes = ["AQUA", "yUSDC", "EURC", "BTCLN", "KALE"];
    let assets: Vec<StellarAsset> = codes
        .iter()
        .map(|c| StellarAsset::Credit {
            code: (*c).into(),
            issuer,
        })
        .collect();
    let mut books = Books::default();
    let mut prices = HashMap::new();
    let p = |s: &str, price| OraclePrice {
        symbol: s.into(),
        price,
        decimals: 14,
        timestamp: 0,
    };
    prices.insert("XLM".to_string(), p("XLM", 100_000_000_000_000));
    let mut x = seed;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as i32
    };
    let all: Vec<StellarAsset> = std::iter::once(StellarAsset::Native)
        .chain(assets.iter().cloned())
        .collect();
    for (i, a) in assets.iter().enumerate() {
        prices.insert(
            a.code().into(),
            p(a.code(), 100_000_000_000_000 / (i as i128 + 2)),
        );
    }
    // 20 levels on every directed pair.
    for s in &all {
        for b in &all {
            if s == b {
                continue;
            }
            let ps = prices[s.code()].price;
            let pb = prices[b.code()].price;
            let offers = (0..20)
                .map(|k| Offer {
                    amount: (100 + (next() % 900) as i64) * ONE,
                    price: Price {
                        n: (ps / 10_000_000_000) as i32 * (1000 + k * 3 + next() % 5),
                        d: (pb / 10_000_000_000) as i32 * 1000,
                    },
                })
                .collect();
            books.insert(OrderBook {
                selling: s.clone(),
                buying: b.clone(),
                offers,
            });
        }
    }
    // An XLM pool near the oracle for every asset: each hop compares both.
    for (i, a) in assets.iter().enumerate() {
        let xlm = 1_000_000 * ONE;
        if let Ok(pool) =
            LiquidityPool::new(&StellarAsset::Native, a, xlm, xlm * (i as i64 + 2), xlm)
        {
            books.insert_pool(pool);
        }
    }
    (assets, books, prices)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let key = Keypair::from_seed([7; 32]);
    let net = network_id("Test SDF Network ; September 2015");
    let (assets, books, prices) = world(1);
    let cycles = candidate_cycles(&assets);
    let (mut full, mut det, mut sig) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..RUNS {
        let t0 = Instant::now();
        let opps = detect(
            &books,
            &cycles,
            &prices,
            ONE,
            5_000 * ONE,
            100,
            300,
            i as u32,
        );
        let t1 = Instant::now();
        let o = opps.first().cloned();
        let (send, path, min) = o
            .map(|o| (o.send, o.path().to_vec(), o.send + 101))
            .unwrap_or((ONE, vec![assets[0].clone()], ONE + 101));
        let h = Header {
            source: key.public(),
            seq: 1 + i as i64,
            fee: 100,
            max_time: 0,
        };
        let t2 = Instant::now();
        let tx = cyclic_path_payment(h, &StellarAsset::Native, send, &path, min).expect("tx");
        black_box(sign(tx, &key, &net).expect("sign"));
        let t3 = Instant::now();
        det.push((t1 - t0).as_secs_f64() * 1e3);
        sig.push((t3 - t2).as_secs_f64() * 1e3);
        full.push((t1 - t0 + (t3 - t2)).as_secs_f64() * 1e3);
    }
    let (fm, fp) = (pct(&mut full, 0.5), pct(&mut full, 0.99));
    let (dm, dp) = (pct(&mut det, 0.5), pct(&mut det, 0.99));
    let (sm, sp) = (pct(&mut sig, 0.5), pct(&mut sig, 0.99));
    println!(
        "cycles per scan: {} over {} books of 20 levels and {} pools",
        cycles.len(),
        books.books.len(),
        books.pools.len()
    );
    println!("detect (+oracle, sizing)  median {dm:.3} ms  p99 {dp:.3} ms");
    println!("build + sign              median {sm:.3} ms  p99 {sp:.3} ms");
    println!(
        "detect → signed           median {fm:.3} ms  p99 {fp:.3} ms  (sign share of median {:.1}%)",
        sm / fm * 100.0
    );
    let closes: usize = std::env::var("STELLAR_BENCH_CLOSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut e2e = runtime.block_on(ledger_to_submit::measure(closes));
    let (em, ep) = (pct(&mut e2e, 0.5), pct(&mut e2e, 0.99));
    println!(
        "ledger close → submitted  median {em:.3} ms  p99 {ep:.3} ms  ({closes} closes through the fake's stream, engine and keeper)"
    );
    println!(
        "BENCH stellar detect_to_signed_ms_p99={fp:.3} ledger_to_submit_ms_median={em:.3} ledger_to_submit_ms_p99={ep:.3}"
    );
}
