//! The metrics endpoint of the real binary in paper mode (the loop, the
//! hedge and Stellar on; webhooks on, to a dead loopback receiver whose URL
//! carries a secret): scraped over loopback in both text formats and read
//! with a strict parser. Passes increase between scrapes, the last one is
//! recent, the cycle counts are `arbkeep status --json`'s, sends are
//! counted, no URL or secret is in the body; only `GET /metrics` is served,
//! and idle or slow clients do not hold a scrape.

use crate::cli_control::{Engine, arbkeep, ok};
use crate::support::exposition::{self, Exposition, Flavor};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// In the webhook URL's path: must never reach a scrape.
const WEBHOOK_SECRET: &str = "T0KEN-IN-THE-WEBHOOK-PATH";

fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The binary headless on paper with `[metrics] port = 0`; its metrics address.
fn start(dir: &Path) -> (Engine, SocketAddr) {
    std::fs::write(
        dir.join("config.toml"),
        "[control]\nport = 0\n[metrics]\nport = 0\n[equity_hedge]\nenabled = true\n[stellar_arb]\nenabled = true\n",
    )
    .unwrap();
    let webhook = format!("http://127.0.0.1:{}/hooks/{WEBHOOK_SECRET}", dead_port());
    let child = arbkeep(dir)
        .args(["--headless", "--run-for", "90s", "--speed", "1000"])
        .env("ARBKEEP_WEBHOOK_URL", webhook)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("engine starts");
    let engine = Engine(child);
    let data = dir.join("data");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(data.join("metrics.addr").exists() && data.join("control.addr").exists()) {
        assert!(
            Instant::now() < deadline,
            "the metrics endpoint never came up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let addr: SocketAddr = std::fs::read_to_string(data.join("metrics.addr"))
        .unwrap()
        .trim()
        .parse()
        .expect("metrics.addr holds a socket address");
    assert!(addr.ip().is_loopback(), "bound to {addr}");
    (engine, addr)
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    length: Option<usize>,
    body: String,
}

/// Send `request` as is and read the answer to the end (the server closes).
fn exchange(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("the answer, then the close");
    let text = String::from_utf8(raw).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1.1 "))
        .and_then(|l| l.get(..3))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let mut content_type = None;
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(": ").expect("a header");
        match name.to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(value.to_string()),
            "content-length" => length = value.parse::<usize>().ok(),
            _ => {}
        }
    }
    if !request.starts_with(b"HEAD") {
        assert_eq!(length, Some(body.len()), "Content-Length");
    }
    Answer {
        status,
        content_type,
        length,
        body: body.to_string(),
    }
}

fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> Answer {
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

/// A scrape in the Prometheus text format, parsed strictly.
fn scrape(addr: SocketAddr) -> (Exposition, String) {
    let a = get(addr, "/metrics", None);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.content_type.as_deref(), Some(PROMETHEUS_TEXT));
    let parsed = exposition::parse(&a.body, Flavor::PrometheusText)
        .unwrap_or_else(|e| panic!("{e}\n{}", a.body));
    (parsed, a.body)
}

/// A scrape as Prometheus asks for it: OpenMetrics, parsed strictly.
fn scrape_openmetrics(addr: SocketAddr) -> (Exposition, String) {
    let a = get(
        addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.content_type.as_deref(), Some(OPENMETRICS));
    let parsed = exposition::parse(&a.body, Flavor::OpenMetrics)
        .unwrap_or_else(|e| panic!("{e}\n{}", a.body));
    (parsed, a.body)
}

fn one(e: &Exposition, name: &str) -> f64 {
    e.value(name, &[])
        .unwrap_or_else(|| panic!("no {name} in the exposition"))
}

fn status(dir: &Path) -> Value {
    serde_json::from_str(&ok(arbkeep(dir)
        .args(["status", "--json"])
        .output()
        .unwrap()))
    .unwrap()
}

const CYCLE_STATES: [&str; 4] = ["open", "completed", "failed", "not_started"];

fn status_cycles(s: &Value) -> Vec<f64> {
    CYCLE_STATES
        .iter()
        .map(|k| s["cycles"][*k].as_u64().expect("a count") as f64)
        .collect()
}

fn metric_cycles(e: &Exposition) -> Vec<f64> {
    CYCLE_STATES
        .iter()
        .map(|k| {
            e.value("arbkeep_cycles", &[("state", k)])
                .unwrap_or_else(|| panic!("no arbkeep_cycles{{state={k:?}}}"))
        })
        .collect()
}

/// Scrape until `done` holds, at most `secs`.
fn scrape_until(addr: SocketAddr, secs: u64, done: impl Fn(&Exposition) -> bool) -> Exposition {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (e, body) = scrape(addr);
        if done(&e) {
            return e;
        }
        assert!(Instant::now() < deadline, "never came true; last:\n{body}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_paper_run_is_scraped_over_loopback_and_parsed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_engine, addr) = start(dir);

    // Sends are counted per venue as the journal classified them.
    let e = scrape_until(addr, 60, |e| {
        e.samples("arbkeep_sends_total")
            .iter()
            .any(|s| s.labels.get("outcome").map(String::as_str) == Some("done") && s.value > 0.0)
    });
    for s in e.samples("arbkeep_sends_total") {
        let outcome = s.labels["outcome"].as_str();
        assert!(
            ["done", "refused", "not_sent", "unknown"].contains(&outcome),
            "{s:?}"
        );
        assert!(!s.labels["venue"].is_empty());
    }

    // Passes go on between scrapes, and the last one is recent.
    let first = one(&e, "arbkeep_passes_total");
    std::thread::sleep(Duration::from_millis(1500));
    let (e, body) = scrape(addr);
    let second = one(&e, "arbkeep_passes_total");
    assert!(second > first, "passes {first} then {second}");
    let quiet = one(&e, "arbkeep_seconds_since_last_pass");
    assert!((0.0..5.0).contains(&quiet), "last pass {quiet} s ago");
    let since_ok = one(&e, "arbkeep_seconds_since_last_successful_pass");
    assert!(
        since_ok >= quiet,
        "a success is never after the last pass: {since_ok} s"
    );
    assert_eq!(
        one(&e, "arbkeep_pass_duration_seconds_count"),
        second,
        "every pass is in the histogram"
    );
    assert_eq!(
        e.families["arbkeep_pass_duration_seconds"].kind,
        "histogram"
    );
    assert_eq!(e.value("arbkeep_phase", &[("phase", "running")]), Some(1.0));
    assert_eq!(one(&e, "arbkeep_paused"), 0.0);

    // Every family is there, in its units.
    for family in [
        "arbkeep_build_info",
        "arbkeep_cycles",
        "arbkeep_open_intents",
        "arbkeep_pnl_vcred",
        "arbkeep_balance",
        "arbkeep_hedge_exposure_seconds",
        "arbkeep_venue_up",
        "arbkeep_venue_latency_seconds",
        "arbkeep_sends_total",
        "arbkeep_webhook_queue_depth",
        "arbkeep_webhook_failed_total",
    ] {
        assert!(
            e.families.contains_key(family),
            "no family {family}:\n{body}"
        );
    }
    assert!(
        e.value("arbkeep_pnl_vcred", &[("period", "lifetime")])
            .is_some()
    );
    assert!(
        e.value("arbkeep_pnl_vcred", &[("period", "today")])
            .is_some()
    );
    let vcred = e
        .value("arbkeep_balance", &[("chain", "hemi"), ("token", "VCRED")])
        .expect("the loop's VCRED on Hemi");
    assert!(
        vcred > 1_000.0,
        "VCRED in token units, not base units: {vcred}"
    );
    assert!(one(&e, "arbkeep_hedge_exposure_seconds") >= 0.0);
    assert!(
        e.samples("arbkeep_venue_up").len() >= 3,
        "the loop's, the hedge's and Stellar's venues"
    );
    let stellar = scrape_until(addr, 30, |e| {
        e.value("arbkeep_balance", &[("chain", "stellar"), ("token", "XLM")])
            .is_some_and(|x| x > 0.0)
    });
    assert!(
        stellar
            .value("arbkeep_venue_up", &[("venue", "stellar")])
            .is_some()
    );

    // No secret or URL in either format.
    let token = std::fs::read_to_string(dir.join("data").join("control.token")).unwrap();
    let (om, om_body) = scrape_openmetrics(addr);
    for text in [&body, &om_body] {
        assert!(!text.contains("://"), "a URL in the scrape:\n{text}");
        assert!(
            !text.contains(WEBHOOK_SECRET),
            "the webhook secret:\n{text}"
        );
        assert!(!text.contains(token.trim()), "the control token:\n{text}");
    }
    assert!(om.value("arbkeep_passes_total", &[]).is_some());
    assert_eq!(
        om.families["arbkeep_pass_duration_seconds"].unit.as_deref(),
        Some("seconds")
    );

    // Paused, the counts hold still: the scrape's are `status --json`'s.
    assert!(ok(arbkeep(dir).arg("pause").output().unwrap()).contains("paused"));
    let mut agreed = false;
    for _ in 0..20 {
        let before = status(dir);
        let (e, _) = scrape(addr);
        let after = status(dir);
        if status_cycles(&before) != status_cycles(&after) {
            continue;
        }
        assert_eq!(
            metric_cycles(&e),
            status_cycles(&after),
            "arbkeep_cycles against status --json {after}"
        );
        assert_eq!(one(&e, "arbkeep_paused"), 1.0);
        assert_eq!(e.value("arbkeep_phase", &[("phase", "paused")]), Some(1.0));
        let open_intents: f64 = e
            .samples("arbkeep_open_intents")
            .iter()
            .map(|s| s.value)
            .sum();
        let listed = after["intents"].as_array().map(Vec::len).unwrap_or(0) as f64;
        if open_intents != listed {
            continue;
        }
        // P&L: the exact decimal `arbkeep pnl --json` shows, as a float.
        let pnl: Value =
            serde_json::from_str(&ok(arbkeep(dir).args(["pnl", "--json"]).output().unwrap()))
                .unwrap();
        let lifetime: f64 = pnl["lifetime"]["profit_vcred"]
            .as_str()
            .expect("an exact decimal as text")
            .parse()
            .unwrap();
        let shown = e
            .value("arbkeep_pnl_vcred", &[("period", "lifetime")])
            .unwrap();
        assert!(
            (shown - lifetime).abs() <= 1e-9 * lifetime.abs().max(1.0),
            "arbkeep_pnl_vcred {shown} against pnl --json {lifetime}"
        );
        agreed = true;
        break;
    }
    assert!(agreed, "the scrape never agreed with status --json");
}

#[test]
fn only_get_metrics_is_served_and_idle_clients_do_not_hold_a_scrape() {
    let tmp = tempfile::tempdir().unwrap();
    let (_engine, addr) = start(tmp.path());

    assert_eq!(get(addr, "/", None).status, 404);
    assert_eq!(get(addr, "/metrics/x", None).status, 404);
    assert_eq!(get(addr, "/favicon.ico", None).status, 404);
    assert_eq!(get(addr, "/metrics?x=1", None).status, 200);
    assert_eq!(
        exchange(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status,
        405
    );
    assert_eq!(exchange(addr, b"hello\r\n\r\n").status, 400);
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nX-Fill: {}\r\n\r\n",
        "a".repeat(16 * 1024)
    );
    assert_eq!(exchange(addr, huge.as_bytes()).status, 431);
    let head = exchange(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    assert!(
        head.length.is_some_and(|n| n > 1000),
        "HEAD tells GET's length: {:?}",
        head.length
    );

    // A crowd of idle sockets and a client that trickles its request.
    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(addr).expect("an idle client connects"))
        .collect();
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /metr").unwrap();
    let trickle = std::thread::spawn(move || {
        for b in b"ics HTTP/1.1\r\nHost: x\r\n" {
            if slow.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    });
    for _ in 0..3 {
        let started = Instant::now();
        let (e, _) = scrape(addr);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a scrape took {:?} beside idle clients",
            started.elapsed()
        );
        assert!(e.value("arbkeep_passes_total", &[]).is_some());
    }
    // The oldest idle sockets were closed to make room.
    let mut first = idle.into_iter().next().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        first.read(&mut buf).expect("closed, not left hanging"),
        0,
        "the oldest idle socket was evicted"
    );
    // A lone idle client is answered 408 and closed after the request timeout.
    let started = Instant::now();
    let mut lone = TcpStream::connect(addr).unwrap();
    lone.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut answer = Vec::new();
    lone.read_to_end(&mut answer).expect("closed by the server");
    let waited = started.elapsed();
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408 "),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(10)).contains(&waited),
        "closed after {waited:?}"
    );
    trickle.join().unwrap();
}
