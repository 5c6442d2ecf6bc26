//! Rendering from a built snapshot: every family, its values in the units
//! the names promise, both text formats, and no address in a label.

use super::*;
use crate::engine::intent::{IntentState, OpenIntentView};
use crate::engine::journal::SendOutcome;
use crate::engine::snapshot::hedge::HedgeView;
use crate::engine::snapshot::stellar::AccountRow;
use crate::engine::snapshot::stellar::StellarView;
use crate::engine::snapshot::{BalanceRow, CycleCounts, Phase, PositionRow};
use crate::model::{Chain, Mode, TokenId};
use crate::venue::VenueHealth;
use rust_decimal::Decimal;
use std::time::Duration;

const NOW: u64 = 1_000_000_000;

fn venue(name: &str, ok: bool, latency_ms: Option<u64>) -> VenueHealth {
    VenueHealth {
        name: name.into(),
        ok,
        head: None,
        latency_ms,
        last_seen: None,
        detail: "https://rpc.example/v2/SECRETKEY in the detail".into(),
    }
}

fn position(symbol: &str, exposure_since: Option<u64>) -> PositionRow {
    PositionRow {
        venue: "raindex".into(),
        symbol: symbol.into(),
        net: Decimal::ONE,
        long: Decimal::ONE,
        short: Decimal::ZERO,
        pending_hedge: None,
        exposure_since,
        note: String::new(),
        paused: false,
        hedge: None,
    }
}

fn intent(id: &str, state: IntentState) -> OpenIntentView {
    OpenIntentView {
        id: id.into(),
        strategy: "equity_hedge".into(),
        what: "SELL 2 AAPL".into(),
        state,
        since: NOW,
        doing: String::new(),
        resolve: String::new(),
        awaits_operator: false,
    }
}

fn trip() -> crate::model::Trip {
    crate::model::Trip {
        at: NOW,
        reason: "daily drawdown".into(),
    }
}

fn snapshot() -> Snapshot {
    let mut s = Snapshot::empty(Mode::Paper, NOW);
    s.phase = Phase::Running;
    s.counts = CycleCounts {
        open: 3,
        completed: 12,
        failed: 1,
        not_started: 2,
    };
    s.pnl.lifetime.profit_vcred = "784.83".parse().unwrap();
    s.pnl.today.profit_vcred = "-1.5".parse().unwrap();
    s.risk_today.by_strategy = vec![
        ("cross_chain_loop".into(), "-1.25".parse().unwrap()),
        ("stellar_arb".into(), "0.5".parse().unwrap()),
    ];
    s.risk_today.drawdown_usd = "2.75".parse().unwrap();
    s.risk_today.limit_usd = Some("100".parse().unwrap());
    s.kill_switch = Some(trip());
    s.balances = vec![
        BalanceRow {
            chain: Chain::Hemi,
            token: TokenId::Vcred,
            amount: 99_014_886_631,
        },
        BalanceRow {
            chain: Chain::Ethereum,
            token: TokenId::Eth,
            amount: 1_500_000_000_000_000_000,
        },
    ];
    s.stellar = Some(StellarView {
        accounts: vec![
            AccountRow {
                id: "GA".into(),
                xlm: 100_000_000,
                lines: vec![("USDC".into(), 25_000_000)],
            },
            AccountRow {
                id: "GB".into(),
                xlm: 50_000_000,
                lines: vec![],
            },
        ],
        path_check_drops: 2,
        fee_bumps: 1,
        ..StellarView::default()
    });
    s.hedge = Some(HedgeView::default());
    s.positions = vec![
        position("AAPL", Some(NOW - 90_000)),
        position("TSLA", Some(NOW - 5_000)),
        position("MSFT", None),
    ];
    s.venues = vec![
        venue("Hemi (paper)", true, Some(250)),
        venue("stellar", false, None),
        venue(
            "rpc https://user:pw@rpc.example/v2/SECRETKEY",
            true,
            Some(3),
        ),
    ];
    s.intents = vec![
        intent("h1", IntentState::OutcomeUnknown),
        intent("h2", IntentState::OutcomeUnknown),
        intent("c3", IntentState::Sent),
    ];
    s
}

fn sources(s: Snapshot) -> (Sources, watch::Sender<Arc<Snapshot>>) {
    let (tx, rx) = watch::channel(Arc::new(s));
    let pulse = Arc::new(Pulse::new());
    pulse.record(Duration::from_millis(4), None);
    pulse.record(Duration::from_millis(40), Some("venue down"));
    let sends: &'static SendTally = Box::leak(Box::default());
    sends.count("hemi", SendOutcome::Done);
    sends.count("hemi", SendOutcome::Done);
    sends.count("paper broker", SendOutcome::Unknown);
    let sources = Sources {
        snapshots: rx,
        pulse,
        sends,
        webhooks: None,
    };
    (sources, tx)
}

fn render(format: Format) -> String {
    let (sources, _tx) = sources(snapshot());
    Exposition::new(sources).render(format).expect("encodes")
}

fn has(body: &str, line: &str) {
    assert!(
        body.lines().any(|l| l == line),
        "missing {line:?} in:\n{body}"
    );
}

#[test]
fn every_family_is_rendered_from_the_snapshot_and_the_pulse() {
    let body = render(Format::PrometheusText);
    has(&body, "arbkeep_passes_total 2");
    has(&body, "arbkeep_pass_failures_total 1");
    has(&body, "# TYPE arbkeep_pass_duration_seconds histogram");
    has(&body, "arbkeep_pass_duration_seconds_count 2");
    has(
        &body,
        "arbkeep_pass_duration_seconds_bucket{le=\"0.005\"} 1",
    );
    has(&body, "arbkeep_pass_duration_seconds_bucket{le=\"0.05\"} 2");
    has(&body, "arbkeep_pass_duration_seconds_bucket{le=\"+Inf\"} 2");
    assert!(body.contains("\narbkeep_seconds_since_last_pass "));
    assert!(body.contains("\narbkeep_seconds_since_last_successful_pass "));
    has(&body, "arbkeep_phase{phase=\"running\"} 1");
    has(&body, "arbkeep_phase{phase=\"paused\"} 0");
    has(&body, "arbkeep_paused 0");
    has(&body, "arbkeep_cycles{state=\"open\"} 3");
    has(&body, "arbkeep_cycles{state=\"completed\"} 12");
    has(&body, "arbkeep_cycles{state=\"failed\"} 1");
    has(&body, "arbkeep_cycles{state=\"not_started\"} 2");
    has(&body, "arbkeep_open_intents{state=\"outcome_unknown\"} 2");
    has(&body, "arbkeep_open_intents{state=\"sent\"} 1");
    has(&body, "arbkeep_open_intents{state=\"halted\"} 0");
    has(&body, "arbkeep_pnl_vcred{period=\"lifetime\"} 784.83");
    has(&body, "arbkeep_pnl_vcred{period=\"today\"} -1.5");
    has(
        &body,
        "arbkeep_pnl_today_usd{strategy=\"cross_chain_loop\"} -1.25",
    );
    has(&body, "arbkeep_pnl_today_usd{strategy=\"stellar_arb\"} 0.5");
    has(&body, "arbkeep_drawdown_today_usd 2.75");
    has(&body, "arbkeep_drawdown_limit_usd 100.0");
    has(&body, "arbkeep_kill_switch_tripped 1");
    has(
        &body,
        "arbkeep_balance{chain=\"hemi\",token=\"VCRED\"} 99014.886631",
    );
    has(
        &body,
        "arbkeep_balance{chain=\"ethereum\",token=\"ETH\"} 1.5",
    );
    has(
        &body,
        "arbkeep_balance{chain=\"stellar\",token=\"XLM\"} 15.0",
    );
    has(
        &body,
        "arbkeep_balance{chain=\"stellar\",token=\"USDC\"} 2.5",
    );
    has(&body, "arbkeep_hedge_exposure_seconds 90.0");
    has(&body, "arbkeep_stellar_path_check_drops_total 2");
    has(&body, "arbkeep_stellar_fee_bumps_total 1");
    has(&body, "arbkeep_venue_up{venue=\"Hemi (paper)\"} 1");
    has(&body, "arbkeep_venue_up{venue=\"stellar\"} 0");
    has(
        &body,
        "arbkeep_venue_latency_seconds{venue=\"Hemi (paper)\"} 0.25",
    );
    has(
        &body,
        "arbkeep_sends_total{venue=\"hemi\",outcome=\"done\"} 2",
    );
    has(
        &body,
        "arbkeep_sends_total{venue=\"hemi\",outcome=\"unknown\"} 0",
    );
    has(
        &body,
        "arbkeep_sends_total{venue=\"paper broker\",outcome=\"unknown\"} 1",
    );
    has(
        &body,
        "arbkeep_build_info{version=\"0.1.0\",mode=\"paper\"} 1",
    );
    assert!(
        !body.contains("webhook"),
        "webhook families only with webhooks on"
    );
}

#[test]
fn no_address_or_secret_reaches_a_label() {
    let body = render(Format::OpenMetrics);
    assert!(!body.contains("://"), "{body}");
    assert!(!body.contains("SECRETKEY"), "{body}");
    assert!(!body.contains("pw@"), "{body}");
    has(&body, "arbkeep_venue_up{venue=\"rpc <redacted>\"} 1");
}

#[test]
fn open_metrics_names_units_and_ends_with_eof() {
    let body = render(Format::OpenMetrics);
    assert!(body.ends_with("# EOF\n"), "{body}");
    has(&body, "# TYPE arbkeep_passes counter");
    has(&body, "arbkeep_passes_total 2");
    has(&body, "# UNIT arbkeep_pass_duration_seconds seconds");
    has(&body, "# TYPE arbkeep_build info");
    assert_eq!(
        Format::for_accept(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        )),
        Format::OpenMetrics
    );
    assert_eq!(Format::for_accept(Some("*/*")), Format::PrometheusText);
    assert_eq!(Format::for_accept(None), Format::PrometheusText);
}

#[test]
fn a_run_without_the_hedge_or_a_pass_says_so() {
    let (tx, rx) = watch::channel(Arc::new(Snapshot::empty(Mode::Live, NOW)));
    let exposition = Exposition::new(Sources {
        snapshots: rx,
        pulse: Arc::new(Pulse::new()),
        sends: Box::leak(Box::default()),
        webhooks: Some(crate::notify::WebhookStats::default()),
    });
    let body = exposition.render(Format::PrometheusText).unwrap();
    has(&body, "arbkeep_passes_total 0");
    has(&body, "arbkeep_pass_duration_seconds_count 0");
    has(&body, "arbkeep_phase{phase=\"recovering\"} 1");
    has(&body, "arbkeep_webhook_queue_depth 0");
    has(&body, "arbkeep_webhook_failed_total 0");
    has(&body, "# TYPE arbkeep_sends_total counter");
    assert!(!body.contains("arbkeep_hedge_exposure"), "{body}");
    assert!(!body.contains("arbkeep_balance{"), "{body}");
    // A new snapshot is read by the next scrape.
    let mut next = Snapshot::empty(Mode::Live, NOW);
    next.paused = true;
    tx.send(Arc::new(next)).unwrap();
    let body = exposition.render(Format::PrometheusText).unwrap();
    has(&body, "arbkeep_paused 1");
}
