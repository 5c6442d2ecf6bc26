//! The read verbs — `status`, `pnl`, `ledger`, `export` — answered by the
//! running engine when there is one, else from the store opened read-only.

mod export;

pub use export::export;

use anyhow::Context;
use arbkeep::config::Config;
use arbkeep::control::ControlClient;
use arbkeep::engine::OpenIntentView;
use arbkeep::engine::alarm::AlarmView;
use arbkeep::export::{Day, Period};
use arbkeep::model::money::format_delta;
use arbkeep::model::time::format_time;
use arbkeep::model::{CycleId, CycleState, LedgerEntry, MoneyLine};
use arbkeep::store::{InstanceLock, ReadOnlyStore};
use arbkeep::strategy::cross_chain_loop::ledger::PnlBook;
use arbkeep::strategy::cross_chain_loop::{needs_attention, open_intent, step_views};
use serde_json::json;

/// `println!` that ends quietly when the reader goes away (`| head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        match writeln!(std::io::stdout().lock(), $($arg)*) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }};
}

/// What the read verbs need, from wherever it comes.
struct Facts {
    engine_pid: Option<u32>,
    mode: String,
    phase: String,
    paused: bool,
    paused_tokens: Vec<String>,
    open: u64,
    completed: u64,
    failed: u64,
    /// Closed NOT_STARTED: refused before anything was sent.
    not_started: u64,
    /// Every send whose outcome is not settled yet.
    intents: Vec<OpenIntentView>,
    /// The watchdog's raised alarms (a running engine only).
    alarms: Vec<AlarmView>,
    /// The kill switch, when tripped (stored: known with no engine too).
    kill_switch: Option<arbkeep::model::Trip>,
}

fn offline(config: &Config) -> anyhow::Result<ReadOnlyStore> {
    ReadOnlyStore::open(&config.data_dir).context("cannot read the store")
}

fn running(config: &Config) -> Option<u32> {
    InstanceLock::holder(&config.data_dir)
}

/// The running engine's control API; its absence while the lock is held is an error.
async fn engine(config: &Config, pid: u32) -> anyhow::Result<ControlClient> {
    ControlClient::connect(&config.data_dir)
        .await
        .with_context(|| {
            format!("an engine (pid {pid}) holds this data dir but its control API does not answer")
        })
}

async fn facts(config: &Config) -> anyhow::Result<Facts> {
    if let Some(pid) = running(config) {
        let status = engine(config, pid).await?.status().await?;
        let text = |k: &str| {
            status
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let count = |k: &str| {
            status
                .pointer(&format!("/cycles/{k}"))
                .and_then(|v| v.as_u64())
                .unwrap_or(0)
        };
        return Ok(Facts {
            engine_pid: Some(pid),
            mode: text("mode"),
            phase: text("phase"),
            paused: status
                .get("paused")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            paused_tokens: status
                .get("paused_tokens")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            open: count("open"),
            completed: count("completed"),
            failed: count("failed"),
            not_started: count("not_started"),
            // An engine from before the list existed sends none.
            intents: match status.get("intents") {
                None => Vec::new(),
                Some(v) => serde_json::from_value(v.clone())
                    .context("the engine's status lists open intents arbkeep cannot read")?,
            },
            alarms: match status.get("alarms") {
                None => Vec::new(),
                Some(v) => serde_json::from_value(v.clone())
                    .context("the engine's status lists alarms arbkeep cannot read")?,
            },
            kill_switch: match status.get("kill_switch") {
                None => None,
                Some(v) => serde_json::from_value(v.clone())
                    .context("the engine's status has a kill switch arbkeep cannot read")?,
            },
        });
    }
    let store = offline(config)?;
    let r = store.read()?;
    let controls = r.controls()?;
    let cycles = r.cycles()?;
    let mode: Option<String> = r.meta("mode")?;
    let count =
        |f: &dyn Fn(CycleState) -> bool| cycles.iter().filter(|c| f(c.state)).count() as u64;
    // The loop's open intents, as the engine would list them. (The other
    // strategies' keep their own books, read by their engine when it runs.)
    let mut intents = Vec::new();
    for c in cycles.iter().filter(|c| needs_attention(c)) {
        if let Some(intent) = open_intent(c, &step_views(&r.steps(c.id)?)) {
            intents.push(intent);
        }
    }
    Ok(Facts {
        engine_pid: None,
        mode: mode.unwrap_or_default(),
        phase: "STOPPED".into(),
        paused: controls.paused,
        paused_tokens: controls
            .paused_tokens
            .iter()
            .map(|t| t.to_string())
            .collect(),
        open: count(&|s| !s.is_terminal()),
        completed: count(&|s| s == CycleState::Completed),
        failed: count(&|s| s == CycleState::Failed),
        not_started: count(&|s| s == CycleState::NotStarted),
        intents,
        alarms: Vec::new(),
        kill_switch: controls.tripped.clone(),
    })
}

/// `status --require-running` with no engine on the data dir (a health check).
#[derive(Debug, thiserror::Error)]
#[error("no engine runs on {0}")]
pub struct NotRunning(String);

pub async fn status(config: &Config, json: bool, require_running: bool) -> anyhow::Result<()> {
    if require_running && running(config).is_none() {
        return Err(NotRunning(config.data_dir.display().to_string()).into());
    }
    let f = facts(config).await?;
    if json {
        let v = json!({
            "mode": f.mode,
            "engine_running": f.engine_pid.is_some(),
            "pid": f.engine_pid,
            "phase": f.phase,
            "paused": f.paused,
            "paused_tokens": f.paused_tokens,
            "cycles": {
                "open": f.open,
                "completed": f.completed,
                "failed": f.failed,
                "not_started": f.not_started,
            },
            "intents": f.intents,
            "alarms": f.alarms,
            "kill_switch": f.kill_switch,
        });
        out!("{v}");
    } else {
        out!("mode    {}", f.mode.to_uppercase());
        match f.engine_pid {
            Some(pid) => out!("engine  running (pid {pid})"),
            None => out!("engine  not running"),
        }
        out!("phase   {}", f.phase);
        if let Some(trip) = &f.kill_switch {
            out!(
                "KILL    tripped at {}: {} (everything paused; `arbkeep resume` once it is dealt with)",
                arbkeep::model::time::format_time(trip.at),
                trip.reason
            );
        }
        for a in &f.alarms {
            out!("ALARM   {} {}: {}", a.kind, a.subject, a.message);
        }
        out!(
            "paused  {}{}",
            if f.paused { "YES" } else { "no" },
            if f.paused_tokens.is_empty() {
                String::new()
            } else {
                format!(" (tokens: {})", f.paused_tokens.join(", "))
            }
        );
        out!(
            "cycles  open {}, completed {}, failed {}, not started {}",
            f.open,
            f.completed,
            f.failed,
            f.not_started
        );
        out!("intents {} open", f.intents.len());
        for i in &f.intents {
            out!(
                "  {} {} {} since {}: {}; {}",
                i.id,
                i.what,
                i.state.label(),
                format_time(i.since),
                i.doing,
                i.resolve
            );
        }
    }
    Ok(())
}

/// `pnl`: lifetime, today, per day and per token; with `--since`/`--until`,
/// only the cycles that completed in that period (P&L is realised when a
/// cycle completes, as the daily roll-up books it).
pub async fn pnl(
    config: &Config,
    json: bool,
    since: Option<Day>,
    until: Option<Day>,
) -> anyhow::Result<()> {
    if since.is_some() || until.is_some() {
        let period = Period::days(since, until).map_err(|e| crate::UsageError(e.to_string()))?;
        return pnl_in(config, json, period, since, until).await;
    }
    let view = match running(config) {
        Some(pid) => engine(config, pid).await?.snapshot().await?.pnl,
        None => {
            let store = offline(config)?;
            let cycles = store.read()?.cycles()?;
            let now = cycles.iter().map(|c| c.updated_at).max().unwrap_or(0);
            PnlBook::from_cycles(&cycles).view(now)
        }
    };
    print_pnl(&view, json, None)
}

/// The P&L of the cycles that completed in `period`.
async fn pnl_in(
    config: &Config,
    json: bool,
    period: Period,
    since: Option<Day>,
    until: Option<Day>,
) -> anyhow::Result<()> {
    let cycles = export::all_cycles(config).await?;
    let now = cycles.iter().map(|c| c.updated_at).max().unwrap_or(0);
    let closed = cycles.iter().filter(|c| {
        c.result
            .as_ref()
            .is_some_and(|r| period.contains(r.completed_at))
    });
    let view = PnlBook::from_cycles(closed).view(now);
    let shown = (since.map(|d| d.to_string()), until.map(|d| d.to_string()));
    print_pnl(&view, json, Some(shown))
}

/// The P&L view; `period` (since, until as given) heads it when set.
fn print_pnl(
    view: &arbkeep::engine::snapshot::PnlView,
    json: bool,
    period: Option<(Option<String>, Option<String>)>,
) -> anyhow::Result<()> {
    if json {
        let mut v = serde_json::to_value(view)?;
        if let (Some((since, until)), Some(map)) = (&period, v.as_object_mut()) {
            map.insert("period".into(), json!({"since": since, "until": until}));
        }
        out!("{v}");
        return Ok(());
    }
    if let Some((since, until)) = &period {
        out!(
            "period    {} to {} (UTC, both days included; cycles by completion)",
            since.as_deref().unwrap_or("the start"),
            until.as_deref().unwrap_or("now")
        );
    }
    let l = &view.lifetime;
    out!(
        "{}  {} cycles, P&L {} VCRED (gas {}, bridge fees {})",
        if period.is_some() {
            "total   "
        } else {
            "lifetime"
        },
        l.cycles,
        l.profit_vcred.round_dp(6),
        l.gas_vcred.round_dp(6),
        l.bridge_fees_vcred.round_dp(6)
    );
    for d in &view.daily {
        let t = &d.totals;
        out!(
            "{}  {} cycles, P&L {} VCRED (gas {}, bridge fees {})",
            d.day,
            t.cycles,
            t.profit_vcred.round_dp(6),
            t.gas_vcred.round_dp(6),
            t.bridge_fees_vcred.round_dp(6)
        );
    }
    for (token, t) in &view.per_token {
        out!(
            "{token:<9} {} cycles, P&L {} VCRED",
            t.cycles,
            t.profit_vcred.round_dp(6)
        );
    }
    Ok(())
}

pub async fn ledger(config: &Config, json: bool, cycle: Option<CycleId>) -> anyhow::Result<()> {
    let entries: Vec<LedgerEntry> = match running(config) {
        Some(pid) => {
            // The engine answers in bounded pages; follow "next" to the end.
            let mut client = engine(config, pid).await?;
            let mut entries = Vec::new();
            let mut from = Some(0u64);
            while let Some(start) = from {
                let mut request = json!({"type": "ledger", "from": start});
                if let Some(c) = cycle {
                    request["cycle"] = json!(c.to_string());
                }
                let mut answer = client.request(request).await?;
                let page = answer.get_mut("entries").map(serde_json::Value::take);
                let page: Vec<LedgerEntry> = serde_json::from_value(page.unwrap_or_default())
                    .context("the engine's ledger answer")?;
                entries.extend(page);
                from = answer
                    .get("next")
                    .and_then(serde_json::Value::as_u64)
                    .filter(|next| *next > start);
            }
            entries
        }
        None => {
            let store = offline(config)?;
            let entries = store.read()?.ledger(0)?;
            entries
                .into_iter()
                .filter(|e| cycle.is_none() || e.cycle == cycle)
                .collect()
        }
    };
    print_ledger(&entries, json)
}

fn print_ledger(entries: &[LedgerEntry], json: bool) -> anyhow::Result<()> {
    for e in entries {
        if json {
            out!("{}", serde_json::to_string(e)?);
        } else {
            let amount = match e.token {
                Some(t) => format!("{} {t}", format_delta(e.delta, t.decimals())),
                None => String::new(),
            };
            out!(
                "{:>6} {} {:<13} {:<5} {:<9} {:>26} {}{}",
                e.seq,
                format_time(e.at),
                format!("{:?}", e.kind),
                e.cycle.map(|c| c.to_string()).unwrap_or_default(),
                e.chain.map(|c| c.name()).unwrap_or_default(),
                amount,
                if e.operator { "[operator] " } else { "" },
                e.note
            );
        }
    }
    Ok(())
}

/// `ledger --all`: every strategy's money lines in one ledger, oldest
/// first, or (`totals`) their sums per strategy, venue and asset.
pub async fn money_ledger(config: &Config, json: bool, totals: bool) -> anyhow::Result<()> {
    let lines: Vec<MoneyLine> = match running(config) {
        Some(pid) => {
            let mut client = engine(config, pid).await?;
            let mut lines = Vec::new();
            let mut from = Some(0u64);
            while let Some(start) = from {
                let mut answer = client
                    .request(json!({"type": "ledger", "all": true, "from": start}))
                    .await?;
                let page = answer.get_mut("lines").map(serde_json::Value::take);
                let page: Vec<MoneyLine> = serde_json::from_value(page.unwrap_or_default())
                    .context("the engine's ledger answer")?;
                lines.extend(page);
                from = answer
                    .get("next")
                    .and_then(serde_json::Value::as_u64)
                    .filter(|next| *next > start);
            }
            lines
        }
        None => arbkeep::export::money::read(&offline(config)?.read()?)?,
    };
    if totals {
        for ((strategy, venue, asset), sum) in arbkeep::model::money_line::totals(&lines) {
            if json {
                out!(
                    "{}",
                    json!({"strategy": strategy, "venue": venue, "asset": asset, "total": sum.to_string()})
                );
            } else {
                out!(
                    "{strategy:<17} {venue:<9} {asset:<14} {:>28}",
                    sum.normalize()
                );
            }
        }
        return Ok(());
    }
    for l in &lines {
        if json {
            out!("{}", serde_json::to_string(l)?);
        } else {
            out!(
                "{} {:<17} {:<9} {:<14} {:>28} {:<20} {}",
                format_time(l.at),
                l.strategy,
                l.venue,
                l.asset,
                l.delta.normalize(),
                l.reference,
                l.note
            );
        }
    }
    Ok(())
}

/// `pnl --all`: each strategy's realised P&L, lifetime and today, in the
/// currency it books in (no exchange rate guessed).
pub async fn pnl_all(config: &Config, json: bool) -> anyhow::Result<()> {
    use arbkeep::export::money::StrategyPnl;
    let pnl: Vec<StrategyPnl> = match running(config) {
        Some(pid) => {
            let mut answer = engine(config, pid)
                .await?
                .request(json!({"type": "ledger", "pnl": true}))
                .await?;
            let pnl = answer.get_mut("pnl").map(serde_json::Value::take);
            serde_json::from_value(pnl.unwrap_or_default()).context("the engine's P&L answer")?
        }
        None => arbkeep::export::money::pnl(&offline(config)?.read()?)?,
    };
    for p in &pnl {
        if json {
            out!("{}", serde_json::to_string(p)?);
        } else {
            out!(
                "{:<17} lifetime {:>20} {:<5} today {:>18} {:<5} ({} {}{})",
                p.strategy,
                p.lifetime.round_dp(6).normalize(),
                p.currency,
                p.today.round_dp(6).normalize(),
                p.currency,
                p.count,
                match p.strategy.as_str() {
                    "equity_hedge" => "filled hedges",
                    "stellar_arb" => "settled cycles",
                    _ => "closed cycles",
                },
                if p.unvalued > 0 {
                    format!(", {} without prices to value", p.unvalued)
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(())
}
