//! The metric families, read at scrape time from what the process already
//! keeps: the latest [`Snapshot`], the engine's [`Pulse`], the journal's
//! [`SendTally`] and the webhook task's counters. Nothing here is updated
//! by the engine; every scrape encodes the state of that instant.
//!
//! Money stays exact everywhere else (docs/architecture.md §2, R3): P&L is a
//! `Decimal` and balances are base units; both become `f64` only here, at
//! the exposition edge, because the format's values are floats.

use super::Sources;
use crate::engine::Snapshot;
use crate::engine::intent::IntentState;
use crate::engine::journal::SendOutcome;
use crate::engine::pulse::{DurationCounts, PASS_DURATION_BOUNDS_MS};
use crate::engine::snapshot::Phase;
use crate::model::Units;
use crate::model::money::to_decimal;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::collections::BTreeMap;
use std::fmt;

/// Stroops per XLM (and per unit of any Stellar asset): 7 decimals.
const STELLAR_DECIMALS: u8 = 7;

/// Every family, encoded from [`Sources`] on each scrape.
#[derive(Debug)]
pub(super) struct Families {
    pub(super) sources: Sources,
}

impl Collector for Families {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let snapshot = self.sources.snapshots.borrow().clone();
        build(&mut e, &snapshot)?;
        passes(&mut e, &self.sources)?;
        state(&mut e, &snapshot)?;
        money(&mut e, &snapshot)?;
        venues(&mut e, &self.sources, &snapshot)?;
        webhooks(&mut e, &self.sources)
    }
}

/// `arbkeep_build_info{version,mode}`.
fn build(e: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let mut m = e.encode_descriptor(
        "arbkeep_build",
        "The running arbkeep: its version and mode.",
        None,
        MetricType::Info,
    )?;
    m.encode_info(&[
        ("version", env!("CARGO_PKG_VERSION").to_string()),
        ("mode", s.mode.label().to_ascii_lowercase()),
    ])
}

/// Passes completed, their durations, and the time since the last one and
/// the last successful one.
fn passes(e: &mut DescriptorEncoder, sources: &Sources) -> fmt::Result {
    let pulse = &sources.pulse;
    let quiet = pulse.quiet();
    counter(
        e,
        "arbkeep_passes",
        "Engine passes completed (one pass: refresh, plan, reconcile, every keeper, publish).",
        pulse.passes(),
    )?;
    counter(
        e,
        "arbkeep_pass_failures",
        "Engine passes that failed: returned an error, or a keeper's recovery or tick did (the engine goes on to the next).",
        pulse.failed_passes(),
    )?;
    histogram(
        e,
        "arbkeep_pass_duration",
        "Wall time each engine pass took.",
        &pulse.durations(),
    )?;
    gauge(
        e,
        "arbkeep_seconds_since_last_pass",
        "Wall seconds since the last engine pass ended (before the first: since the engine started).",
        None,
        quiet.since_pass.as_secs_f64(),
    )?;
    gauge(
        e,
        "arbkeep_seconds_since_last_successful_pass",
        "Wall seconds since the last engine pass that did not fail ended (before the first: since the engine started).",
        None,
        quiet.since_success.as_secs_f64(),
    )
}

/// Phase, pause, cycles and open intents.
fn state(e: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    const PHASES: [Phase; 5] = [
        Phase::Recovering,
        Phase::Running,
        Phase::Paused,
        Phase::Draining,
        Phase::Stopped,
    ];
    gauge_family(
        e,
        "arbkeep_phase",
        "1 for the engine's phase now, 0 for the others.",
        None,
        PHASES.map(|p| {
            let label = p.label().to_ascii_lowercase();
            ([("phase", label)], i64::from(p == s.phase))
        }),
    )?;
    gauge(
        e,
        "arbkeep_paused",
        "1 while pause-all is on (nothing is sent, no cycle starts).",
        None,
        i64::from(s.paused),
    )?;
    let c = s.counts;
    gauge_family(
        e,
        "arbkeep_cycles",
        "Cross-chain loop cycles by state, as `arbkeep status` counts them.",
        None,
        [
            ("open", c.open),
            ("completed", c.completed),
            ("failed", c.failed),
            ("not_started", c.not_started),
        ]
        .map(|(state, n)| ([("state", state)], n)),
    )?;
    const INTENT_STATES: [(IntentState, &str); 4] = [
        (IntentState::Committed, "committed"),
        (IntentState::Sent, "sent"),
        (IntentState::OutcomeUnknown, "outcome_unknown"),
        (IntentState::Halted, "halted"),
    ];
    gauge_family(
        e,
        "arbkeep_open_intents",
        "Sends of every strategy whose outcome is not settled yet, by state.",
        None,
        INTENT_STATES.map(|(state, label)| {
            let n = s.intents.iter().filter(|i| i.state == state).count();
            ([("state", label)], n)
        }),
    )
}

/// P&L, balances and the hedge's exposure.
fn money(e: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    gauge_family(
        e,
        "arbkeep_pnl_vcred",
        "Realised P&L of the cross-chain loop's closed cycles, in VCRED (today: the engine clock's UTC day).",
        None,
        [
            ("lifetime", &s.pnl.lifetime.profit_vcred),
            ("today", &s.pnl.today.profit_vcred),
        ]
        .map(|(period, v)| ([("period", period)], decimal_f64(v))),
    )?;
    let r = &s.risk_today;
    gauge_family(
        e,
        "arbkeep_pnl_today_usd",
        "Realised P&L today (UTC day) per strategy in USD, as the kill switch values it.",
        None,
        r.by_strategy
            .iter()
            .map(|(name, v)| ([("strategy", label_value(name))], decimal_f64(v))),
    )?;
    gauge(
        e,
        "arbkeep_drawdown_today_usd",
        "Today's drawdown over every strategy in USD: peak to trough of the realised P&L since midnight UTC.",
        None,
        decimal_f64(&r.drawdown_usd),
    )?;
    if let Some(limit) = &r.limit_usd {
        gauge(
            e,
            "arbkeep_drawdown_limit_usd",
            "The kill switch's daily drawdown limit (risk.daily_drawdown_usd).",
            None,
            decimal_f64(limit),
        )?;
    }
    gauge(
        e,
        "arbkeep_kill_switch_tripped",
        "1 while the kill switch holds everything paused, until the operator resumes.",
        None,
        i64::from(s.kill_switch.is_some()),
    )?;
    gauge_family(
        e,
        "arbkeep_balance",
        "Wallet balances in token units: the loop's per chain, Stellar's summed over its trading accounts.",
        None,
        balances(s)
            .into_iter()
            .map(|((chain, token), v)| ([("chain", chain), ("token", token)], v)),
    )?;
    if s.hedge.is_some() {
        gauge(
            e,
            "arbkeep_hedge_exposure",
            "Age, in the engine's clock, of the oldest uncovered hedge position: since a symbol's net first reached a whole share (or its hedge was placed) and is not yet offset; 0 when none is.",
            Some(&Unit::Seconds),
            hedge_exposure_secs(s),
        )?;
    }
    if let Some(stellar) = &s.stellar {
        counter(
            e,
            "arbkeep_stellar_path_check_drops",
            "Stellar cycles dropped before sending because Horizon's strict-send path finding quoted less than the keeper's prediction by more than path_check_tolerance_bps.",
            stellar.path_check_drops,
        )?;
        counter(
            e,
            "arbkeep_stellar_fee_bumps",
            "Fee bumps the Stellar keeper sent (signed by the master account) for transactions a surge held below the fee the network asked.",
            stellar.fee_bumps,
        )?;
    }
    Ok(())
}

/// Venue health and latency, and sends per venue and outcome.
fn venues(e: &mut DescriptorEncoder, sources: &Sources, s: &Snapshot) -> fmt::Result {
    gauge_family(
        e,
        "arbkeep_venue_up",
        "1 when the venue's health line is ok, 0 when it is not.",
        None,
        s.venues
            .iter()
            .map(|v| ([("venue", label_value(&v.name))], i64::from(v.ok))),
    )?;
    gauge_family(
        e,
        "arbkeep_venue_latency",
        "The venue's last measured round trip.",
        Some(&Unit::Seconds),
        s.venues.iter().filter_map(|v| {
            let ms = v.latency_ms?;
            Some(([("venue", label_value(&v.name))], ms as f64 / 1000.0))
        }),
    )?;
    let sends = sources.sends.read();
    let mut m = e.encode_descriptor(
        "arbkeep_sends",
        "Sends through the intent journal by venue and answer: done, refused (the peer proves nothing happened), not_sent (it never left), unknown (it may have happened).",
        None,
        MetricType::Counter,
    )?;
    for (venue, per) in &sends {
        for outcome in SendOutcome::ALL {
            let labels = [
                ("venue", label_value(venue)),
                ("outcome", outcome.label().into()),
            ];
            m.encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&per[outcome as usize], None)?;
        }
    }
    Ok(())
}

/// The webhook queue, when webhooks are on.
fn webhooks(e: &mut DescriptorEncoder, sources: &Sources) -> fmt::Result {
    let Some(w) = &sources.webhooks else {
        return Ok(());
    };
    gauge(
        e,
        "arbkeep_webhook_queue_depth",
        "Notices waiting for delivery to the webhook (bounded; the oldest is dropped beyond).",
        None,
        w.queued(),
    )?;
    counter(
        e,
        "arbkeep_webhook_delivered",
        "Notices the webhook receiver accepted.",
        w.delivered(),
    )?;
    counter(
        e,
        "arbkeep_webhook_failed",
        "Notices given up on after their retries.",
        w.failed(),
    )?;
    counter(
        e,
        "arbkeep_webhook_dropped",
        "Notices never attempted: pushed out of a full queue, or missed.",
        w.dropped(),
    )
}

/// Balances by (chain, token) in token units.
fn balances(s: &Snapshot) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for b in &s.balances {
        out.insert(
            (
                b.chain.name().to_ascii_lowercase(),
                b.token.symbol().to_string(),
            ),
            units_f64(b.amount, b.token.decimals()),
        );
    }
    if let Some(stellar) = &s.stellar {
        let mut stroops: BTreeMap<String, i128> = BTreeMap::new();
        for a in &stellar.accounts {
            *stroops.entry("XLM".into()).or_default() += i128::from(a.xlm);
            for (code, amount) in &a.lines {
                *stroops.entry(code.clone()).or_default() += i128::from(*amount);
            }
        }
        for (code, amount) in stroops {
            let v = Decimal::try_from_i128_with_scale(amount, u32::from(STELLAR_DECIMALS))
                .map(|d| decimal_f64(&d))
                .unwrap_or(amount as f64 / 1e7);
            out.insert(("stellar".into(), label_value(&code)), v);
        }
    }
    out
}

/// Seconds since the oldest position still exposed became exposed.
fn hedge_exposure_secs(s: &Snapshot) -> f64 {
    s.positions
        .iter()
        .filter_map(|p| p.exposure_since)
        .map(|since| s.now.saturating_sub(since))
        .max()
        .unwrap_or(0) as f64
        / 1000.0
}

/// A label value that may come from outside (a venue's or an asset's
/// name): any word that looks like an address with a scheme is replaced,
/// so an endpoint (which may carry a key) never reaches a scraper, and
/// control characters are dropped.
pub(super) fn label_value(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains("://") {
                "<redacted>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// The exposition edge: an exact decimal as the format's float.
fn decimal_f64(d: &Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// Base units as token units (a float only here, for the exposition).
fn units_f64(amount: Units, decimals: u8) -> f64 {
    match to_decimal(amount, decimals) {
        Ok(d) => decimal_f64(&d),
        // Beyond an exact decimal's 96 bits: the float's own rounding.
        Err(_) => amount as f64 / 10f64.powi(i32::from(decimals)),
    }
}

fn gauge<V: EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: V,
) -> fmt::Result {
    e.encode_descriptor(name, help, unit, MetricType::Gauge)?
        .encode_gauge(&value)
}

fn gauge_family<L: EncodeLabelSet, V: EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: impl IntoIterator<Item = (L, V)>,
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, value) in rows {
        m.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&value, None)
}

fn histogram(e: &mut DescriptorEncoder, name: &str, help: &str, d: &DurationCounts) -> fmt::Result {
    // Seconds as floats only here, at the exposition edge.
    let buckets: Vec<(f64, u64)> = PASS_DURATION_BOUNDS_MS
        .iter()
        .map(|ms| *ms as f64 / 1_000.0)
        .chain(std::iter::once(f64::INFINITY))
        .zip(d.per_bucket)
        .collect();
    e.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(d.sum.as_secs_f64(), d.count(), &buckets, None)
}
