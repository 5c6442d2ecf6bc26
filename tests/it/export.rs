//! `arbkeep export` and `pnl --since/--until` on the real binary, over the
//! data dir of a short paper run with the equity hedge on: the CSV parses
//! (RFC 4180, read by a parser of its own here), every row falls in the
//! period, the ledger's deltas add up to what `ledger --json` shows for the
//! same period, amounts are exact, the period's P&L is the sum of its
//! completed cycles, a bad `--since` is exit 2 naming the flag; and while an
//! engine runs, the export comes from it and matches the store's.

use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_arbkeep");
use arbkeep::model::time::{DAY, format_day};
use arbkeep::venue::sim::PAPER_EPOCH;

fn arbkeep(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"));
    cmd
}

/// A paper run of `secs` wall seconds at 20000×: about 44 simulated hours
/// for 8 s (some 250 ledger lines), so the first two days (Thursday and Friday, market hours for
/// the hedge) both have cycles, fills and hedges.
fn paper_run(dir: &Path, secs: u32) {
    std::fs::write(
        dir.join("config.toml"),
        "[control]\nport = 0\n[paper]\nspeed = 40000\n[equity_hedge]\nenabled = true\n",
    )
    .unwrap();
    let out = arbkeep(dir)
        .args(["--headless", "--run-for", &format!("{secs}s")])
        .stdin(Stdio::null())
        .output()
        .expect("the paper run");
    assert!(
        out.status.success(),
        "the paper run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run(dir: &Path, args: &[&str]) -> String {
    ok(arbkeep(dir).args(args).output().unwrap())
}

/// RFC 4180: fields split on commas, records on CRLF, quoted fields may
/// hold commas, quotes (doubled) and line ends. Panics on anything else.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '"' => panic!("a quote inside an unquoted field: {field:?}"),
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            '\r' | '\n' => panic!("a bare line end outside quotes after {row:?}"),
            _ => field.push(c),
        }
    }
    assert!(!quoted, "an unterminated quoted field");
    assert!(
        field.is_empty() && row.is_empty(),
        "the last record has no CRLF"
    );
    rows
}

/// The rows of a CSV export as maps from column to value.
fn export_csv(dir: &Path, what: &str, period: &[&str]) -> Vec<BTreeMap<String, String>> {
    let mut args = vec!["export", "--what", what];
    args.extend_from_slice(period);
    let mut rows = parse_csv(&run(dir, &args)).into_iter();
    let header = rows.next().expect("a header row");
    rows.map(|r| {
        assert_eq!(r.len(), header.len(), "{what}: {r:?}");
        header.iter().cloned().zip(r).collect()
    })
    .collect()
}

/// `amount` is `delta` in whole tokens, exactly: the same digits with the
/// point `decimals` from the right.
fn amount_is_exact(delta: &str, amount: &str, decimals: u32) -> bool {
    let (neg, digits) = match delta.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, delta),
    };
    let scaled: Decimal = format!("{}{digits}", if neg { "-" } else { "" })
        .parse::<Decimal>()
        .map(|d| d / Decimal::from(10u64.pow(decimals)))
        .unwrap_or_else(|_| panic!("delta {delta} does not fit a Decimal"));
    amount.parse::<Decimal>().ok() == Some(scaled)
}

#[test]
fn a_period_exports_as_csv_within_its_days_and_the_ledger_adds_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The period: the last day the run booked money on. The run's speed
    // depends on the machine's load, so a loaded machine runs it again (a
    // boot resumes the same store) until it booked past its first day; the
    // first day always has lines, the opening balances, so some lie
    // outside the period.
    let mut ledger: Vec<Value> = Vec::new();
    let mut last = 0;
    for _ in 0..4 {
        paper_run(dir, 8);
        ledger = run(dir, &["ledger", "--json"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        last = ledger
            .iter()
            .map(|e| e["at"].as_u64().unwrap())
            .max()
            .unwrap();
        if last / DAY > PAPER_EPOCH / DAY {
            break;
        }
    }
    let (first_day, last_day) = (PAPER_EPOCH / DAY, last / DAY);
    assert!(
        last_day > first_day,
        "the paper run booked nothing after its first day (too little progress)"
    );
    let day = format_day(last_day);
    let period = ["--since", day.as_str(), "--until", day.as_str()];
    let (start, end) = (last_day * DAY, (last_day + 1) * DAY);

    // Every row's dating column is on that day.
    for (what, dated_by) in [
        ("ledger", "at"),
        ("cycles", "created_at"),
        ("trades", "seen_at"),
        ("hedges", "created_at"),
    ] {
        let rows = export_csv(dir, what, &period);
        for r in &rows {
            assert!(
                r[dated_by].starts_with(&format!("{day}T")),
                "{what}: {dated_by} {} outside {day}",
                r[dated_by]
            );
        }
        let all = export_csv(dir, what, &["--since", "2026-01-01"]);
        assert!(!all.is_empty(), "{what}: nothing in the whole run");
        assert!(all.len() >= rows.len());
        if what == "ledger" {
            assert!(!rows.is_empty(), "ledger: nothing on {day}");
            assert!(all.len() > rows.len(), "ledger: every line on {day}");
        }
    }

    // The ledger: the same lines as `ledger --json` in that period, and the
    // same sum of deltas per token, to the base unit.
    let exported = export_csv(dir, "ledger", &period);
    let shown: Vec<&Value> = ledger
        .iter()
        .filter(|e| (start..end).contains(&e["at"].as_u64().unwrap()))
        .collect();
    let seqs = |v: &mut dyn Iterator<Item = u64>| v.collect::<BTreeSet<u64>>();
    assert_eq!(
        seqs(&mut exported.iter().map(|r| r["seq"].parse().unwrap())),
        seqs(&mut shown.iter().map(|e| e["seq"].as_u64().unwrap())),
        "the export and `ledger --json` list the same lines"
    );
    let mut sums_exported: BTreeMap<String, i128> = BTreeMap::new();
    for r in &exported {
        *sums_exported.entry(r["token"].clone()).or_default() +=
            r["delta"].parse::<i128>().unwrap();
        if !r["token"].is_empty() {
            let decimals: u32 = r["decimals"].parse().unwrap();
            assert!(
                amount_is_exact(&r["delta"], &r["amount"], decimals),
                "seq {}: amount {} is not delta {} at {decimals} decimals",
                r["seq"],
                r["amount"],
                r["delta"]
            );
        }
    }
    let mut sums_shown: BTreeMap<String, i128> = BTreeMap::new();
    for e in &shown {
        let token = e["token"].as_str().unwrap_or_default().to_string();
        *sums_shown.entry(token).or_default() +=
            e["delta"].as_str().unwrap().parse::<i128>().unwrap();
    }
    assert_eq!(sums_exported, sums_shown, "Σ delta per token");

    // JSON: one array, the same rows.
    let json_args = [
        &["export", "--what", "ledger", "--format", "json"][..],
        &period,
    ]
    .concat();
    let json: Value = serde_json::from_str(&run(dir, &json_args)).unwrap();
    let json = json.as_array().expect("a JSON array");
    assert_eq!(json.len(), exported.len());
    assert_eq!(
        json[0]["seq"].as_u64().unwrap().to_string(),
        exported[0]["seq"]
    );
    assert_eq!(json[0]["delta"], exported[0]["delta"].as_str());

    // A period's P&L is the sum of the cycles that completed in it: that
    // day, and the whole run.
    let cycles = export_csv(dir, "cycles", &["--since", "2026-01-01"]);
    for (since, until) in [(day.as_str(), day.as_str()), ("2026-01-01", day.as_str())] {
        let pnl: Value = serde_json::from_str(&run(
            dir,
            &["pnl", "--json", "--since", since, "--until", until],
        ))
        .unwrap();
        assert_eq!(pnl["period"]["since"], since);
        assert_eq!(pnl["period"]["until"], until);
        let (from, to) = (since.parse::<arbkeep::export::Day>().unwrap().start(), end);
        let completed: Vec<_> = cycles
            .iter()
            .filter(|c| !c["completed_at"].is_empty())
            .filter(|c| {
                let day = &c["completed_at"][..10];
                let at = day.parse::<arbkeep::export::Day>().unwrap().start();
                (from..to).contains(&at)
            })
            .collect();
        let profit: Decimal = completed
            .iter()
            .map(|c| c["profit_vcred"].parse::<Decimal>().unwrap())
            .sum();
        assert_eq!(
            pnl["lifetime"]["cycles"].as_u64().unwrap(),
            completed.len() as u64,
            "{since}..{until}"
        );
        let shown: Decimal = pnl["lifetime"]["profit_vcred"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(shown, profit, "{since}..{until}");
    }

    // Bad dates are usage errors that name the flag.
    for (args, flag) in [
        (
            vec!["export", "--what", "ledger", "--since", "2026-13-01"],
            "--since",
        ),
        (
            vec!["export", "--what", "ledger", "--since", "yesterday"],
            "--since",
        ),
        (
            vec![
                "export",
                "--what",
                "ledger",
                "--since",
                "2026-01-03",
                "--until",
                "2026-01-02",
            ],
            "--until",
        ),
        (vec!["pnl", "--since", "01/02/2026"], "--since"),
    ] {
        let out = arbkeep(dir).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed rows");
    }
}

struct Engine(Child);

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn while_an_engine_runs_the_export_comes_from_it_and_matches_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    paper_run(dir, 8);
    let day1 = ["--since", "2026-01-01", "--until", "2026-01-01"];
    let from_store = run(dir, &[&["export", "--what", "ledger"][..], &day1].concat());
    let trades_from_store = export_csv(dir, "trades", &["--since", "2026-01-01"]);
    let hedges_from_store = export_csv(dir, "hedges", &day1);
    let pnl_from_store: Value =
        serde_json::from_str(&run(dir, &[&["pnl", "--json"][..], &day1].concat())).unwrap();
    let status = arbkeep(dir)
        .args(["status", "--require-running"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1), "no engine runs");
    assert!(String::from_utf8_lossy(&status.stderr).contains("no engine runs"));

    // The engine resumes the paper world's clock, past 2026-01-01: that day's
    // ledger is closed, so both paths must give the same bytes.
    let addr = dir.join("data").join("control.addr");
    let _ = std::fs::remove_file(&addr);
    let engine = Engine(
        arbkeep(dir)
            .args(["--headless", "--run-for", "60s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("engine starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !addr.exists() {
        assert!(Instant::now() < deadline, "the control API never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = run(dir, &["status", "--require-running", "--json"]);
    assert!(status.contains("\"engine_running\":true"), "{status}");
    let from_engine = run(dir, &[&["export", "--what", "ledger"][..], &day1].concat());
    assert_eq!(
        from_engine, from_store,
        "the engine's export differs from the store's"
    );
    // Over several pages of 200: the engine's trades go on from the store's,
    // each fill as recorded (what is still unallocated may have moved on).
    let trades_from_engine = export_csv(dir, "trades", &["--since", "2026-01-01"]);
    assert!(trades_from_store.len() > 200, "more than one page of 200");
    assert!(trades_from_engine.len() >= trades_from_store.len());
    let fill = |r: &BTreeMap<String, String>| {
        [
            "trade",
            "seen_at",
            "tx_hash",
            "log_index",
            "side",
            "shares",
            "usdc",
            "price",
        ]
        .map(|k| r[k].clone())
    };
    for (engine, store) in trades_from_engine.iter().zip(&trades_from_store) {
        assert_eq!(fill(engine), fill(store));
    }
    // Hedges started that day are the same ones (their state may move on).
    let hedges = export_csv(dir, "hedges", &day1);
    let ids = |rows: &[BTreeMap<String, String>]| {
        rows.iter().map(|r| r["hedge"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&hedges), ids(&hedges_from_store));
    // A past day's P&L is closed too: the engine's is the store's.
    let pnl: Value =
        serde_json::from_str(&run(dir, &[&["pnl", "--json"][..], &day1].concat())).unwrap();
    for key in ["lifetime", "daily", "per_token", "period"] {
        assert_eq!(pnl[key], pnl_from_store[key], "{key}");
    }
    drop(engine);
}
