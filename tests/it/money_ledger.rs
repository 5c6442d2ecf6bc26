//! One money ledger across the strategies: after a paper run of the loop,
//! the hedge and Stellar, `arbkeep ledger --all` lists every strategy's
//! money lines, per venue and asset, while the engine runs (over the
//! control API) and after it stopped (from the store); the loop's lines are
//! its own ledger's, the hedge's are its fills', and `--totals` is their sum.

use crate::cli_control::{Engine, arbkeep, ok};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

fn strategies(lines: &[Value]) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for l in lines {
        *n.entry(l["strategy"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    n
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
        .parse()
        .unwrap_or_else(|_| panic!("not a decimal: {v}"))
}

fn all(dir: &Path) -> Vec<Value> {
    lines(&ok(arbkeep(dir)
        .args(["ledger", "--all", "--json"])
        .output()
        .unwrap()))
}

#[test]
fn every_strategy_books_into_one_ledger_online_and_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("config.toml"),
        "[control]\nport = 0\n[paper]\nspeed = 40000\n[equity_hedge]\nenabled = true\n[stellar_arb]\nenabled = true\n",
    )
    .unwrap();
    let engine = Engine(
        arbkeep(dir)
            .args(["--headless", "--run-for", "300s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("engine starts"),
    );
    // Online: over the control API, until all three strategies booked.
    let deadline = Instant::now() + Duration::from_secs(240);
    let addr = dir.join("data").join("control.addr");
    let online = loop {
        assert!(
            Instant::now() < deadline,
            "not every strategy booked money in time"
        );
        std::thread::sleep(Duration::from_millis(500));
        if !addr.exists() {
            continue;
        }
        let got = all(dir);
        // Every strategy booked, a hedge among them filled at the broker.
        if strategies(&got).len() == 3 && got.iter().any(|l| l["venue"] == "broker") {
            break got;
        }
    };
    for l in &online {
        for field in ["venue", "asset", "reference"] {
            assert!(l[field].is_string(), "{field} in {l}");
        }
        assert!(
            !dec(&l["delta"]).is_zero() || l["strategy"] == "cross_chain_loop",
            "{l}"
        );
    }
    let at: Vec<u64> = online.iter().map(|l| l["at"].as_u64().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let pnl_online = lines(&ok(arbkeep(dir)
        .args(["pnl", "--all", "--json"])
        .output()
        .unwrap()));
    let currencies: Vec<(&str, &str)> = pnl_online
        .iter()
        .map(|p| {
            (
                p["strategy"].as_str().unwrap(),
                p["currency"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        currencies,
        [
            ("cross_chain_loop", "VCRED"),
            ("equity_hedge", "USD"),
            ("stellar_arb", "XLM")
        ]
    );
    drop(engine);

    // Offline, from the store: the same lines and more.
    let offline = all(dir);
    assert!(offline.len() >= online.len());
    let n = strategies(&offline);
    assert_eq!(n.len(), 3, "{n:?}");

    // The loop's lines are its ledger's token lines, to the unit.
    let loop_ledger = lines(&ok(arbkeep(dir)
        .args(["ledger", "--json"])
        .output()
        .unwrap()));
    let moved: Vec<&Value> = loop_ledger
        .iter()
        .filter(|e| e["token"].is_string())
        .collect();
    let loop_lines: Vec<&Value> = offline
        .iter()
        .filter(|l| l["strategy"] == "cross_chain_loop")
        .collect();
    assert_eq!(moved.len(), loop_lines.len());
    // The same moves (the one ledger orders by time, the loop's by booking).
    let mut want: Vec<(u64, String, Decimal)> = moved
        .iter()
        .map(|e| {
            let token: arbkeep::model::TokenId =
                serde_json::from_value(e["token"].clone()).unwrap();
            let base: i128 = e["delta"].as_str().unwrap().parse().unwrap();
            (
                e["at"].as_u64().unwrap(),
                token.symbol().to_string(),
                Decimal::from_i128_with_scale(base, u32::from(token.decimals())),
            )
        })
        .collect();
    let mut got: Vec<(u64, String, Decimal)> = loop_lines
        .iter()
        .map(|l| {
            (
                l["at"].as_u64().unwrap(),
                l["asset"].as_str().unwrap().to_string(),
                dec(&l["delta"]),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "the loop's lines are its ledger's, to the unit");

    // The hedge's lines come in pairs: the equity and its cash.
    let hedge: Vec<&Value> = offline
        .iter()
        .filter(|l| l["strategy"] == "equity_hedge")
        .collect();
    assert!(hedge.len().is_multiple_of(2) && !hedge.is_empty());
    for pair in hedge.chunks(2) {
        assert_eq!(pair[0]["reference"], pair[1]["reference"]);
        let cash = pair[1]["asset"].as_str().unwrap();
        assert!(cash == "USDC" || cash == "USD", "{}", pair[1]);
        assert!(
            dec(&pair[0]["delta"]).is_sign_negative() != dec(&pair[1]["delta"]).is_sign_negative(),
            "shares and cash move opposite ways: {pair:?}"
        );
    }

    // --totals is the sum per strategy, venue and asset.
    let mut sums: BTreeMap<(String, String, String), Decimal> = BTreeMap::new();
    for l in &offline {
        let key = (
            l["strategy"].as_str().unwrap().to_string(),
            l["venue"].as_str().unwrap().to_string(),
            l["asset"].as_str().unwrap().to_string(),
        );
        *sums.entry(key).or_default() += dec(&l["delta"]);
    }
    let totals = lines(&ok(arbkeep(dir)
        .args(["ledger", "--all", "--totals", "--json"])
        .output()
        .unwrap()));
    assert_eq!(totals.len(), sums.len());
    for t in &totals {
        let key = (
            t["strategy"].as_str().unwrap().to_string(),
            t["venue"].as_str().unwrap().to_string(),
            t["asset"].as_str().unwrap().to_string(),
        );
        assert_eq!(dec(&t["total"]), sums[&key], "{t}");
    }

    // pnl --all: the loop's is `pnl`'s, the hedge counts its filled hedges.
    let pnl = lines(&ok(arbkeep(dir)
        .args(["pnl", "--all", "--json"])
        .output()
        .unwrap()));
    let loop_pnl: Value =
        serde_json::from_str(&ok(arbkeep(dir).args(["pnl", "--json"]).output().unwrap())).unwrap();
    assert_eq!(
        dec(&pnl[0]["lifetime"]),
        dec(&loop_pnl["lifetime"]["profit_vcred"])
    );
    assert_eq!(pnl[0]["count"], loop_pnl["lifetime"]["cycles"]);
    let broker_usd = offline
        .iter()
        .filter(|l| l["venue"] == "broker" && l["asset"] == "USD")
        .count();
    assert_eq!(pnl[1]["count"].as_u64(), Some(broker_usd as u64));
    assert!(
        pnl[1]["count"].as_u64().unwrap() > 0,
        "a filled hedge: {pnl:?}"
    );
    for p in &pnl {
        assert!(
            p["unvalued"].as_u64().unwrap() <= p["count"].as_u64().unwrap(),
            "{p}"
        );
    }
    let period = arbkeep(dir)
        .args(["pnl", "--all", "--since", "2026-01-01"])
        .output()
        .unwrap();
    assert!(!period.status.success(), "--all is lifetime and today only");

    // A cycle is the loop's only: refused with --all, naming both.
    let mixed = arbkeep(dir)
        .args(["ledger", "--all", "--cycle", "c1"])
        .output()
        .unwrap();
    assert!(!mixed.status.success());
    let said = String::from_utf8_lossy(&mixed.stderr);
    assert!(said.contains("--cycle") && said.contains("--all"), "{said}");
}
