//! `config.toml` and environment secrets, validated before anything starts.
//! Every error names the key and the problem; unknown keys are errors (a typo
//! in a risk limit must not silently fall back to a default). Secrets come
//! from the environment only and never print.

use crate::model::time::{HOUR, MINUTE, SECOND};
use crate::model::{Chain, Mode, Route, SizingMode, TokenId, Units, from_decimal};
use alloy::primitives::Address;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: not valid TOML: {reason}")]
    Syntax { path: String, reason: String },
    #[error("{path}: `{key}`: {problem}")]
    Invalid {
        path: String,
        key: String,
        problem: String,
    },
    #[error("{path}: unknown key `{key}` (see config.toml.example for every key)")]
    Unknown { path: String, key: String },
    #[error("environment: {var}: {problem}")]
    Env { var: String, problem: String },
}

/// When an opportunity waits for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    Auto,
    Manual,
    /// Sizes strictly above this many VCRED base units wait for approval.
    Above(Units),
}

impl fmt::Display for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Approval::Auto => f.write_str("auto"),
            Approval::Manual => f.write_str("manual"),
            Approval::Above(units) => {
                write!(f, "above {} VCRED", crate::model::format_units(*units, 6))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperConfig {
    pub seed: u64,
    /// Simulated seconds per wall second, ×1000.
    pub speed_milli: u64,
    /// Seeded send faults of the paper venues (`[paper.faults]`).
    pub faults: PaperFaults,
}

/// `[paper.faults]`: how often the paper venues' sends fault, on which
/// seed. Off (0) by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaperFaults {
    /// Faulty sends per thousand, 0–1000.
    pub rate_per_mille: u32,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Simulated/real milliseconds between reconcile passes.
    pub reconcile_interval_ms: u64,
    pub max_actions_per_tick: u32,
    pub max_open_cycles: u32,
    /// Attempts of one step before the cycle fails for the operator.
    pub step_attempts: u32,
    pub retry_backoff_ms: u64,
    pub stuck_after_ms: u64,
    /// Wall milliseconds within which a command that arrives while a pass
    /// waits on a venue is told it was accepted (pause acts at once).
    pub answer_within_ms: u64,
    /// Closed cycles kept in the snapshot.
    pub history_in_snapshot: usize,
    /// Wall milliseconds without a completed pass before the watchdog
    /// raises the liveness alarm.
    pub liveness_after_ms: u64,
    /// Wall milliseconds a pass in progress may take to finish after
    /// SIGTERM (no new send starts meanwhile).
    pub stop_grace_ms: u64,
}

/// `[alerts]`: the watchdog's thresholds (see `engine::watchdog`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    /// A raised alarm is told again this often while it holds (0: once).
    pub realert_after_ms: u64,
    /// Native gas (wei of ETH) below which a chain's alarm is raised.
    pub low_gas_wei: BTreeMap<Chain, Units>,
    /// XLM (stroops) below which a Stellar account's alarm is raised.
    pub low_xlm_stroops: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopConfig {
    pub enabled: bool,
    pub tokens: Vec<TokenId>,
    pub routes: BTreeMap<TokenId, Route>,
    pub min_swap_vcred: Units,
    pub max_swap_vcred_soft_cap: Units,
    pub min_profit_vcred: Decimal,
    pub start_size_vcred: Units,
    pub size_granularity_vcred: Units,
    pub slippage_bps: u32,
    pub sizing: SizingMode,
    pub quote_cache_ttl_ms: u64,
    /// Quote calls one sizing decision may spend.
    pub quote_budget: u32,
    /// Small-size price gap needed before sizing is attempted.
    pub min_edge_bps: i64,
    /// How long an opportunity waiting for approval stays valid.
    pub opportunity_ttl_ms: u64,
    pub max_cycles_per_token: u32,
}

impl LoopConfig {
    pub fn route(&self, token: TokenId) -> Route {
        self.routes
            .get(&token)
            .copied()
            .unwrap_or_else(|| default_route(token))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskConfig {
    pub daily_loss_limit_vcred: Decimal,
    pub approval: Approval,
    /// The kill switch's drawdown limit over every strategy per UTC day
    /// (`engine::kill`); off when `None`.
    pub daily_drawdown_usd: Option<Decimal>,
    /// `[risk.caps]`: the most each venue may hold of an asset.
    pub caps: Vec<BalanceCap>,
}

/// `[risk.caps]` `"venue.asset" = amount`: the most of `asset` that `venue`
/// may hold before the kill switch trips.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BalanceCap {
    pub venue: String,
    pub asset: String,
    pub max: Decimal,
}

impl BalanceCap {
    /// Its key in the config: `venue.asset`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.venue, self.asset)
    }
}

/// The venues whose holdings the kill switch sees, for `[risk.caps]` keys.
pub const CAP_VENUES: [&str; 3] = ["hemi", "ethereum", "stellar"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    pub enabled: bool,
    pub port: u16,
}

/// `[metrics]`: the Prometheus endpoint on loopback. Absent: off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Port on 127.0.0.1; 0 takes a free one (logged, and written to
    /// `<data_dir>/metrics.addr`).
    pub port: u16,
}

/// `[logs]`: how the diagnostic log is kept from filling the disk
/// (`logging`). The money log is never limited: it rolls by day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogsConfig {
    /// `diag.jsonl` is rotated before it would grow past this.
    pub diag_max_bytes: u64,
    /// Rotated files kept (`diag.1.jsonl` … `diag.N.jsonl`); older ones are deleted.
    pub diag_keep: u32,
}

/// The smallest `logs.diag_max_bytes`: a few hundred lines.
pub const MIN_DIAG_MAX_BYTES: u64 = 64 * 1024;
/// The most `logs.diag_keep`.
pub const MAX_DIAG_KEEP: u32 = 100;

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            diag_max_bytes: 50 * 1024 * 1024,
            diag_keep: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// "generic", "slack" or "discord".
    pub format: String,
    pub timeout_ms: u64,
    pub retries: u32,
    /// Only these events are posted (their `event` names); empty: all.
    pub events: Vec<String>,
}

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The only way to the value: named so that every use is easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Secrets read from the environment at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub private_key: Option<Secret>,
    pub mnemonic: Option<Secret>,
    pub webhook_url: Option<Secret>,
}

impl Secrets {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let read = |name: &str| get(name).filter(|v| !v.trim().is_empty()).map(Secret::new);
        let secrets = Secrets {
            private_key: read("ARBITRAGE_PRIVATE_KEY"),
            mnemonic: read("ARBITRAGE_MNEMONIC"),
            webhook_url: read("ARBKEEP_WEBHOOK_URL"),
        };
        if let Some(url) = &secrets.webhook_url {
            let u = url.expose();
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(ConfigError::Env {
                    var: "ARBKEEP_WEBHOOK_URL".into(),
                    problem: "must start with https:// or http://".into(),
                });
            }
        }
        Ok(secrets)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the file came from ("defaults" when none).
    pub source: String,
    pub mode: Mode,
    pub data_dir: PathBuf,
    pub paper: PaperConfig,
    pub engine: EngineConfig,
    pub cross_chain_loop: LoopConfig,
    pub risk: RiskConfig,
    pub control: ControlConfig,
    /// The metrics endpoint (`[metrics]`); `None`: off.
    pub metrics: Option<MetricsConfig>,
    pub notify: NotifyConfig,
    pub alerts: AlertsConfig,
    /// The Schwab broker (`[schwab]`); used by the equity hedge and `arbkeep auth schwab`.
    pub schwab: crate::venue::schwab::SchwabConfig,
    pub log_level: String,
    pub logs: LogsConfig,
    pub equity_hedge: EquityHedgeConfig,
    pub stellar_arb: crate::strategy::stellar_arb::StellarArbConfig,
    /// The EVM adapters (devnet and live); `None` in paper mode.
    pub evm: Option<EvmConfig>,
}

/// The route a token leaves Hemi by unless configured.
pub fn default_route(token: TokenId) -> Route {
    match token {
        TokenId::Eth | TokenId::HemiBtc => Route::Stargate,
        _ => Route::HemiTunnel,
    }
}

fn vcred(whole: u64) -> Units {
    u128::from(whole) * TokenId::Vcred.one()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: "defaults".into(),
            mode: Mode::Paper,
            data_dir: PathBuf::from("./data/paper"),
            paper: PaperConfig {
                seed: 1,
                speed_milli: 3_000_000,
                faults: PaperFaults::default(),
            },
            engine: EngineConfig {
                reconcile_interval_ms: 12 * SECOND,
                max_actions_per_tick: 4,
                max_open_cycles: 12,
                step_attempts: 3,
                retry_backoff_ms: MINUTE,
                stuck_after_ms: 30 * HOUR,
                answer_within_ms: 800,
                history_in_snapshot: 200,
                liveness_after_ms: 5 * MINUTE,
                stop_grace_ms: 10 * SECOND,
            },
            cross_chain_loop: LoopConfig {
                enabled: true,
                tokens: TokenId::LOOP.to_vec(),
                routes: TokenId::LOOP
                    .iter()
                    .map(|t| (*t, default_route(*t)))
                    .collect(),
                min_swap_vcred: vcred(100),
                max_swap_vcred_soft_cap: vcred(50_000),
                min_profit_vcred: Decimal::ONE,
                start_size_vcred: vcred(1_000),
                size_granularity_vcred: vcred(1),
                slippage_bps: 50,
                sizing: SizingMode::MaxProfit,
                quote_cache_ttl_ms: 10 * SECOND,
                quote_budget: 24,
                min_edge_bps: 50,
                opportunity_ttl_ms: 5 * MINUTE,
                max_cycles_per_token: 3,
            },
            risk: RiskConfig {
                daily_loss_limit_vcred: Decimal::from(500),
                approval: Approval::Auto,
                daily_drawdown_usd: None,
                caps: Vec::new(),
            },
            control: ControlConfig {
                enabled: true,
                port: 8768,
            },
            metrics: None,
            notify: NotifyConfig {
                format: "generic".into(),
                timeout_ms: 5 * SECOND,
                retries: 5,
                events: Vec::new(),
            },
            alerts: AlertsConfig {
                realert_after_ms: 6 * HOUR,
                low_gas_wei: BTreeMap::new(),
                low_xlm_stroops: None,
            },
            schwab: Default::default(),
            log_level: "info".into(),
            logs: LogsConfig::default(),
            equity_hedge: EquityHedgeConfig::default(),
            stellar_arb: crate::strategy::stellar_arb::StellarArbConfig::testnet_defaults(),
            evm: None,
        }
    }
}

impl Config {
    /// `path` if given; else `./config.toml` if present; else paper defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            Some(p) => Self::from_file(p),
            None if Path::new("config.toml").exists() => Self::from_file(Path::new("config.toml")),
            None => Ok(Config::default()),
        }
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text, &shown)
    }

    pub fn from_toml(text: &str, source: &str) -> Result<Config, ConfigError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: source.to_string(),
                    reason: e.message().to_string(),
                })?;
        let mut r = Reader {
            path: source.to_string(),
            seen: BTreeSet::new(),
        };
        let mut c = Config {
            source: source.to_string(),
            ..Config::default()
        };

        if let Some(mode) = r.string(&table, "", "mode")? {
            c.mode = Mode::from_str(&mode).map_err(|p| r.invalid("mode", p))?;
            c.data_dir = PathBuf::from(format!("./data/{}", mode.to_ascii_lowercase()));
        }
        if let Some(dir) = r.string(&table, "", "data_dir")? {
            c.data_dir = PathBuf::from(dir);
        }
        if let Some(level) = r.string(&table, "", "log_level")? {
            if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
                return Err(r.invalid("log_level", "expected error, warn, info, debug or trace"));
            }
            c.log_level = level;
        }

        if let Some(t) = r.section(&table, "logs")? {
            if let Some(v) = r.int(t, "logs", "diag_max_bytes")? {
                if v < MIN_DIAG_MAX_BYTES {
                    return Err(r.invalid(
                        "logs.diag_max_bytes",
                        format!("must be at least {MIN_DIAG_MAX_BYTES} (64 KiB)"),
                    ));
                }
                c.logs.diag_max_bytes = v;
            }
            if let Some(v) = r.int(t, "logs", "diag_keep")? {
                c.logs.diag_keep = u32::try_from(v)
                    .ok()
                    .filter(|k| *k <= MAX_DIAG_KEEP)
                    .ok_or_else(|| {
                        r.invalid("logs.diag_keep", format!("must be 0 to {MAX_DIAG_KEEP}"))
                    })?;
            }
        }

        if let Some(t) = r.section(&table, "paper")? {
            if let Some(v) = r.int(t, "paper", "seed")? {
                c.paper.seed = v;
            }
            if let Some(v) = r.decimal(t, "paper", "speed")? {
                c.paper.speed_milli = speed_milli(v).map_err(|p| r.invalid("paper.speed", p))?;
            }
            if let Some(f) = r.section(t, "faults")? {
                r.seen.insert("paper.faults".into());
                if let Some(v) = r.int(f, "paper.faults", "rate_per_mille")? {
                    c.paper.faults.rate_per_mille = u32::try_from(v)
                        .ok()
                        .filter(|v| *v <= 1000)
                        .ok_or_else(|| {
                            r.invalid("paper.faults.rate_per_mille", "must be 0 to 1000")
                        })?;
                }
                if let Some(v) = r.int(f, "paper.faults", "seed")? {
                    c.paper.faults.seed = v;
                }
            }
        }

        if let Some(t) = r.section(&table, "engine")? {
            let e = &mut c.engine;
            if let Some(v) = r.duration(t, "engine", "reconcile_interval")? {
                e.reconcile_interval_ms = v;
            }
            if let Some(v) = r.int(t, "engine", "max_actions_per_tick")? {
                e.max_actions_per_tick = r.positive_u32("engine.max_actions_per_tick", v)?;
            }
            if let Some(v) = r.int(t, "engine", "max_open_cycles")? {
                e.max_open_cycles = r.positive_u32("engine.max_open_cycles", v)?;
            }
            if let Some(v) = r.int(t, "engine", "step_attempts")? {
                e.step_attempts = r.positive_u32("engine.step_attempts", v)?;
            }
            if let Some(v) = r.duration(t, "engine", "retry_backoff")? {
                e.retry_backoff_ms = v;
            }
            if let Some(v) = r.duration(t, "engine", "stuck_after")? {
                e.stuck_after_ms = v;
            }
            if let Some(v) = r.duration(t, "engine", "answer_within")? {
                if !(1..=5 * SECOND).contains(&v) {
                    return Err(r.invalid("engine.answer_within", "must be between 1ms and 5s"));
                }
                e.answer_within_ms = v;
            }
            if let Some(v) = r.int(t, "engine", "history_in_snapshot")? {
                e.history_in_snapshot = usize::try_from(v)
                    .map_err(|_| r.invalid("engine.history_in_snapshot", "is too large"))?;
            }
            if let Some(v) = r.duration(t, "engine", "liveness_after")? {
                if v < SECOND {
                    return Err(r.invalid("engine.liveness_after", "must be at least 1s"));
                }
                e.liveness_after_ms = v;
            }
            if let Some(v) = r.duration(t, "engine", "stop_grace")? {
                e.stop_grace_ms = v;
            }
        }

        if let Some(t) = r.section(&table, "cross_chain_loop")? {
            let s = "cross_chain_loop";
            let l = &mut c.cross_chain_loop;
            if let Some(v) = r.boolean(t, s, "enabled")? {
                l.enabled = v;
            }
            if let Some(list) = r.strings(t, s, "tokens")? {
                let mut tokens = Vec::new();
                for name in list {
                    let token = TokenId::from_str(&name)
                        .map_err(|e| r.invalid("cross_chain_loop.tokens", e.to_string()))?;
                    if !TokenId::LOOP.contains(&token) {
                        return Err(r.invalid(
                            "cross_chain_loop.tokens",
                            format!("{token} cannot be traded by the loop (ETH, WBTC, hemiBTC, cbBTC, XAUt, VUSD)"),
                        ));
                    }
                    if !tokens.contains(&token) {
                        tokens.push(token);
                    }
                }
                l.tokens = tokens;
            }
            for (key, vcred_field) in [
                ("min_swap_vcred", &mut l.min_swap_vcred),
                ("max_swap_vcred_soft_cap", &mut l.max_swap_vcred_soft_cap),
                ("start_size_vcred", &mut l.start_size_vcred),
                ("size_granularity_vcred", &mut l.size_granularity_vcred),
            ] {
                if let Some(v) = r.decimal(t, s, key)? {
                    *vcred_field = from_decimal(v, 6)
                        .map_err(|e| r.invalid(&format!("{s}.{key}"), e.to_string()))?;
                }
            }
            if let Some(v) = r.decimal(t, s, "min_profit_vcred")? {
                l.min_profit_vcred = v;
            }
            if let Some(v) = r.int(t, s, "slippage_bps")? {
                if v == 0 || v > 1_000 {
                    return Err(r.invalid(
                        "cross_chain_loop.slippage_bps",
                        "must be 1 to 1000 (0.01 % to 10 %)",
                    ));
                }
                l.slippage_bps = u32::try_from(v)
                    .map_err(|_| r.invalid("cross_chain_loop.slippage_bps", "must be 1 to 1000"))?;
            }
            if let Some(v) = r.string(t, s, "sizing")? {
                l.sizing = match v.as_str() {
                    "max_profit" => SizingMode::MaxProfit,
                    "max_size" => SizingMode::MaxSize,
                    _ => {
                        return Err(r.invalid(
                            "cross_chain_loop.sizing",
                            "expected \"max_profit\" or \"max_size\"",
                        ));
                    }
                };
            }
            if let Some(v) = r.duration(t, s, "quote_cache_ttl")? {
                l.quote_cache_ttl_ms = v;
            }
            if let Some(v) = r.int(t, s, "quote_budget")? {
                if v < 3 {
                    return Err(r.invalid("cross_chain_loop.quote_budget", "must be at least 3"));
                }
                l.quote_budget = u32::try_from(v)
                    .map_err(|_| r.invalid("cross_chain_loop.quote_budget", "is too large"))?;
            }
            if let Some(v) = r.int_signed(t, s, "min_edge_bps")? {
                l.min_edge_bps = v;
            }
            if let Some(v) = r.duration(t, s, "opportunity_ttl")? {
                l.opportunity_ttl_ms = v;
            }
            if let Some(v) = r.int(t, s, "max_cycles_per_token")? {
                l.max_cycles_per_token =
                    r.positive_u32("cross_chain_loop.max_cycles_per_token", v)?;
            }
            if let Some(routes) = r.section(t, "routes")? {
                r.seen.insert("cross_chain_loop.routes".into());
                for (name, value) in routes {
                    let key = format!("cross_chain_loop.routes.{name}");
                    r.seen.insert(key.clone());
                    let token =
                        TokenId::from_str(name).map_err(|e| r.invalid(&key, e.to_string()))?;
                    let route = match value.as_str() {
                        Some("stargate") => Route::Stargate,
                        Some("hemi_tunnel") => Route::HemiTunnel,
                        _ => {
                            return Err(r.invalid(&key, "expected \"stargate\" or \"hemi_tunnel\""));
                        }
                    };
                    l.routes.insert(token, route);
                }
            }
            if l.min_swap_vcred > l.max_swap_vcred_soft_cap {
                return Err(r.invalid(
                    "cross_chain_loop.min_swap_vcred",
                    "must not exceed cross_chain_loop.max_swap_vcred_soft_cap",
                ));
            }
            if l.size_granularity_vcred == 0 {
                return Err(r.invalid("cross_chain_loop.size_granularity_vcred", "must be above 0"));
            }
        }

        if let Some(t) = r.section(&table, "risk")? {
            if let Some(v) = r.decimal(t, "risk", "daily_loss_limit_vcred")? {
                if v.is_sign_negative() {
                    return Err(r.invalid("risk.daily_loss_limit_vcred", "must not be negative"));
                }
                c.risk.daily_loss_limit_vcred = v;
            }
            if let Some(v) = r.decimal(t, "risk", "daily_drawdown_usd")? {
                if v.is_sign_negative() || v.is_zero() {
                    return Err(r.invalid(
                        "risk.daily_drawdown_usd",
                        "must be above 0 (leave it out to turn the kill switch's drawdown off)",
                    ));
                }
                c.risk.daily_drawdown_usd = Some(v);
            }
            if let Some(caps) = r.section(t, "caps")? {
                c.risk.caps = read_caps(&mut r, caps)?;
            }
            let threshold = r.decimal(t, "risk", "approval_threshold_vcred")?;
            if let Some(v) = r.string(t, "risk", "approval")? {
                c.risk.approval = match v.as_str() {
                    "auto" => Approval::Auto,
                    "manual" => Approval::Manual,
                    "above" => {
                        let th = threshold.ok_or_else(|| {
                            r.invalid(
                                "risk.approval_threshold_vcred",
                                "is required when risk.approval = \"above\"",
                            )
                        })?;
                        Approval::Above(from_decimal(th, 6).map_err(|e| {
                            r.invalid("risk.approval_threshold_vcred", e.to_string())
                        })?)
                    }
                    _ => {
                        return Err(r.invalid(
                            "risk.approval",
                            "expected \"auto\", \"manual\" or \"above\"",
                        ));
                    }
                };
            }
        }

        if let Some(t) = r.section(&table, "control")? {
            if let Some(v) = r.boolean(t, "control", "enabled")? {
                c.control.enabled = v;
            }
            if let Some(v) = r.int(t, "control", "port")? {
                c.control.port = u16::try_from(v)
                    .map_err(|_| r.invalid("control.port", "must be 0 to 65535"))?;
            }
        }

        if let Some(t) = r.section(&table, "metrics")? {
            let port = r.int(t, "metrics", "port")?.ok_or_else(|| {
                r.invalid("metrics.port", "is required: 0 to 65535 (0: any free port)")
            })?;
            c.metrics = Some(MetricsConfig {
                port: u16::try_from(port)
                    .map_err(|_| r.invalid("metrics.port", "must be 0 to 65535"))?,
            });
        }

        if let Some(t) = r.section(&table, "notify")? {
            if let Some(v) = r.string(t, "notify", "format")? {
                if !["generic", "slack", "discord"].contains(&v.as_str()) {
                    return Err(r.invalid(
                        "notify.format",
                        "expected \"generic\", \"slack\" or \"discord\"",
                    ));
                }
                c.notify.format = v;
            }
            if let Some(v) = r.duration(t, "notify", "timeout")? {
                c.notify.timeout_ms = v;
            }
            if let Some(v) = r.int(t, "notify", "retries")? {
                c.notify.retries =
                    u32::try_from(v).map_err(|_| r.invalid("notify.retries", "is too large"))?;
            }
            if let Some(list) = r.strings(t, "notify", "events")? {
                let known = crate::engine::Notice::events();
                if let Some(unknown) = list.iter().find(|e| !known.contains(&e.as_str())) {
                    return Err(r.invalid(
                        "notify.events",
                        format!("unknown event {unknown:?} (known: {})", known.join(", ")),
                    ));
                }
                c.notify.events = list;
            }
        }

        if let Some(t) = r.section(&table, "alerts")? {
            read_alerts(&mut r, t, &mut c.alerts)?;
        }

        if let Some(t) = r.section(&table, "schwab")? {
            for (key, field) in [
                ("api_url", &mut c.schwab.api_url),
                ("auth_url", &mut c.schwab.auth_url),
                ("callback_url", &mut c.schwab.callback_url),
            ] {
                if let Some(v) = r.string(t, "schwab", key)? {
                    if !(v.starts_with("https://") || v.starts_with("http://")) {
                        return Err(r.invalid(&format!("schwab.{key}"), "must be an http(s) URL"));
                    }
                    *field = v;
                }
            }
            if let Some(v) = r.string(t, "schwab", "account_number")? {
                if v.trim().is_empty() || !v.trim().bytes().all(|b| b.is_ascii_digit()) {
                    return Err(r.invalid("schwab.account_number", "must be the account's digits"));
                }
                c.schwab.account_number = v.trim().to_string();
            }
            if let Some(v) = r.duration(t, "schwab", "poll_interval")? {
                c.schwab.poll_interval_ms = v.max(1);
            }
            if let Some(v) = r.duration(t, "schwab", "request_timeout")? {
                c.schwab.request_timeout_ms = v.max(1);
            }
        }

        if let Some(t) = r.section(&table, "equity_hedge")? {
            read_equity_hedge(&mut r, t, &mut c.equity_hedge)?;
        }

        // [stellar_arb]: network, endpoints, contracts, accounts, scan
        // interval, assets. The secret comes from STELLAR_SECRET_SEED only.
        if let Some(t) = r.section(&table, "stellar_arb")? {
            use crate::strategy::stellar_arb::Network;
            let s = &mut c.stellar_arb;
            if let Some(v) = r.boolean(t, "stellar_arb", "enabled")? {
                s.enabled = v;
            }
            if let Some(v) = r.string(t, "stellar_arb", "network")? {
                (s.network, s.passphrase) = match v.to_ascii_uppercase().as_str() {
                    "TESTNET" => (
                        Network::Testnet,
                        crate::venue::stellar::TESTNET_PASSPHRASE.into(),
                    ),
                    "PUBLIC" => (
                        Network::Public,
                        crate::venue::stellar::PUBLIC_PASSPHRASE.into(),
                    ),
                    _ => {
                        return Err(
                            r.invalid("stellar_arb.network", "expected \"TESTNET\" or \"PUBLIC\"")
                        );
                    }
                };
            }
            // Friendbot exists on TESTNET only; on PUBLIC the master
            // account creates the trading accounts.
            s.friendbot_url = (s.network == Network::Testnet)
                .then(|| crate::strategy::stellar_arb::TESTNET_FRIENDBOT.to_string());
            if let Some(v) = r.string(t, "stellar_arb", "friendbot_url")? {
                if s.network == Network::Public {
                    return Err(r.invalid(
                        "stellar_arb.friendbot_url",
                        "PUBLIC has no Friendbot: remove the key (the master account creates and funds the trading accounts)",
                    ));
                }
                if !(v.starts_with("https://") || v.starts_with("http://")) {
                    return Err(r.invalid("stellar_arb.friendbot_url", "must be an http(s) URL"));
                }
                s.friendbot_url = Some(v);
            }
            for (key, slot) in [
                ("horizon_url", &mut s.horizon_url),
                ("rpc_url", &mut s.rpc_url),
                ("passphrase", &mut s.passphrase),
                ("detector_contract", &mut s.detector_contract),
                ("reflector_contract", &mut s.reflector_contract),
            ] {
                if let Some(v) = r.string(t, "stellar_arb", key)? {
                    *slot = v;
                }
            }
            for key in ["detector_contract", "reflector_contract"] {
                let v = if key == "detector_contract" {
                    &s.detector_contract
                } else {
                    &s.reflector_contract
                };
                crate::venue::stellar::ContractKey::parse(v)
                    .map_err(|e| r.invalid(&format!("stellar_arb.{key}"), e.to_string()))?;
            }
            if let Some(v) = r.int(t, "stellar_arb", "num_accounts")? {
                s.num_accounts = r.positive_u32("stellar_arb.num_accounts", v)?;
            }
            if let Some(v) = r.duration(t, "stellar_arb", "scan_interval")? {
                s.scan_interval_ms = v;
            }
            if let Some(v) = r.duration(t, "stellar_arb", "oracle_max_age")? {
                if v < 1_000 {
                    return Err(r.invalid("stellar_arb.oracle_max_age", "must be at least 1s"));
                }
                s.oracle_max_age_secs = v / 1_000;
            }
            if let Some(v) = r.boolean(t, "stellar_arb", "autostart")? {
                s.autostart = v;
            }
            if let Some(v) = r.decimal(t, "stellar_arb", "account_starting_xlm")? {
                // Stroops are 7 decimals; a new account needs 1 XLM (two base
                // reserves) or CreateAccount fails with op_low_reserve.
                s.account_starting_xlm = crate::venue::stellar::parse_amount(&v.to_string())
                    .filter(|x| *x >= 2 * crate::venue::stellar::BASE_RESERVE)
                    .ok_or_else(|| {
                        r.invalid(
                            "stellar_arb.account_starting_xlm",
                            format!(
                                "{v} is not an amount of XLM of at least 1 with at most 7 decimals"
                            ),
                        )
                    })?;
            }
            if let Some(list) = r.strings(t, "stellar_arb", "assets")? {
                s.assets = list
                    .iter()
                    .map(|a| crate::venue::stellar::StellarAsset::parse(a))
                    .collect::<Result<_, _>>()
                    .map_err(|e| r.invalid("stellar_arb.assets", e.to_string()))?;
            }
        }

        if let Some(t) = r.section(&table, "evm")? {
            c.evm = Some(EvmConfig::read(&mut r, t)?);
        }
        if c.mode == Mode::Devnet && c.evm.is_none() {
            return Err(r.invalid(
                "evm",
                "is required in devnet mode (`arbkeep devnet` writes one)",
            ));
        }
        c.check_mode(&r)?;

        r.reject_unknown(&table, "")?;
        Ok(c)
    }
}

// ---- [evm]: the EVM adapters (devnet and live) -------------------------------

/// One chain's endpoints and contract addresses, every address EIP-55 checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmChainConfig {
    pub chain_id: u64,
    pub rpc_url: String,
    pub ws_url: Option<String>,
    /// LayerZero endpoint id of this chain (Stargate messages name it).
    pub eid: u32,
    /// Uniswap-V2-style router02.
    pub router: Address,
    /// The Stargate-like bridge (devnet: the lock-and-release stand-in).
    pub stargate: Option<Address>,
    /// Hemi: the tunnel's L2 bridge; Ethereum: its portal.
    pub tunnel: Option<Address>,
    /// ERC-20 per token (ETH is native and has none; WETH is the router's).
    pub tokens: BTreeMap<TokenId, Address>,
}

impl EvmChainConfig {
    pub fn token(&self, token: TokenId) -> Option<Address> {
        self.tokens.get(&token).copied()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmConfig {
    pub hemi: EvmChainConfig,
    pub ethereum: EvmChainConfig,
    /// Receipts and logs are acted on at this many confirmations (1 = mined).
    pub confirmations: u64,
    /// A transaction not mined after this many blocks is replaced with both
    /// its fee cap and its tip raised by at least 10 %.
    pub replace_after_blocks: u64,
    /// Ceilings of the EIP-1559 fee cap and tip, in wei.
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    /// A send not confirmed after this long answers "outcome unknown".
    pub tx_timeout_ms: u64,
    /// Every RPC call's timeout.
    pub rpc_timeout_ms: u64,
    /// How often a waiting transaction or a log stream is polled.
    pub poll_interval_ms: u64,
    /// Largest block range of one `eth_getLogs`.
    pub log_chunk_blocks: u64,
    /// A chain whose head has not moved for this long is a fault.
    pub silent_after_ms: u64,
    /// Expected Stargate delivery time, for countdowns.
    pub stargate_delay_ms: u64,
    /// Expected wait before a tunnel withdrawal can be proven, for countdowns.
    pub tunnel_prove_delay_ms: u64,
    /// Approve exactly what a step spends (default), never an unlimited allowance.
    pub unlimited_approvals: bool,
}

impl Default for EvmConfig {
    fn default() -> Self {
        let chain = |chain: crate::model::Chain, eid: u32| EvmChainConfig {
            chain_id: chain.chain_id(),
            rpc_url: String::new(),
            ws_url: None,
            eid,
            router: Address::ZERO,
            stargate: None,
            tunnel: None,
            tokens: BTreeMap::new(),
        };
        EvmConfig {
            hemi: chain(crate::model::Chain::Hemi, 30_329),
            ethereum: chain(crate::model::Chain::Ethereum, 30_101),
            confirmations: 2,
            replace_after_blocks: 3,
            max_fee_per_gas: 500_000_000_000,
            max_priority_fee_per_gas: 50_000_000_000,
            tx_timeout_ms: 5 * MINUTE,
            rpc_timeout_ms: 10 * SECOND,
            poll_interval_ms: 250,
            log_chunk_blocks: 500,
            silent_after_ms: MINUTE,
            stargate_delay_ms: 5 * MINUTE,
            tunnel_prove_delay_ms: HOUR,
            unlimited_approvals: false,
        }
    }
}

/// A configured address, refused unless it carries its EIP-55 checksum.
pub fn checksummed(key: &str, text: &str) -> Result<Address, String> {
    let text = text.trim();
    match Address::parse_checksummed(text, None) {
        Ok(a) => Ok(a),
        Err(_) => match Address::from_str(text) {
            Ok(a) => Err(format!(
                "{text} fails its EIP-55 checksum (the checksummed form is {}); \
                 check that {key} is the address you meant",
                a.to_checksum(None)
            )),
            Err(_) => Err(format!("{text:?} is not an address (0x and 40 hex digits)")),
        },
    }
}

impl EvmConfig {
    fn read(r: &mut Reader, t: &toml::Table) -> Result<EvmConfig, ConfigError> {
        let s = "evm";
        let mut e = EvmConfig::default();
        for (key, field) in [
            ("confirmations", &mut e.confirmations),
            ("replace_after_blocks", &mut e.replace_after_blocks),
            ("log_chunk_blocks", &mut e.log_chunk_blocks),
        ] {
            if let Some(v) = r.int(t, s, key)? {
                if v == 0 {
                    return Err(r.invalid(&format!("evm.{key}"), "must be at least 1"));
                }
                *field = v;
            }
        }
        for (key, field) in [
            ("max_fee_gwei", &mut e.max_fee_per_gas),
            ("max_priority_fee_gwei", &mut e.max_priority_fee_per_gas),
        ] {
            if let Some(v) = r.decimal(t, s, key)? {
                *field = from_decimal(v, 9)
                    .map_err(|p| r.invalid(&format!("evm.{key}"), p.to_string()))?;
            }
        }
        for (key, field) in [
            ("tx_timeout", &mut e.tx_timeout_ms),
            ("rpc_timeout", &mut e.rpc_timeout_ms),
            ("poll_interval", &mut e.poll_interval_ms),
            ("silent_after", &mut e.silent_after_ms),
            ("stargate_delay", &mut e.stargate_delay_ms),
            ("tunnel_prove_delay", &mut e.tunnel_prove_delay_ms),
        ] {
            if let Some(v) = r.duration(t, s, key)? {
                *field = v;
            }
        }
        if let Some(v) = r.boolean(t, s, "unlimited_approvals")? {
            e.unlimited_approvals = v;
        }
        let hemi = e.hemi.clone();
        e.hemi = Self::read_chain(r, t, "hemi", hemi)?;
        let ethereum = e.ethereum.clone();
        e.ethereum = Self::read_chain(r, t, "ethereum", ethereum)?;
        Ok(e)
    }

    fn read_chain(
        r: &mut Reader,
        t: &toml::Table,
        name: &str,
        mut c: EvmChainConfig,
    ) -> Result<EvmChainConfig, ConfigError> {
        let s = format!("evm.{name}");
        let Some(t) = r.section(t, name)? else {
            return Err(r.invalid(&s, "is required ([evm.hemi] and [evm.ethereum])"));
        };
        r.seen.insert(s.clone());
        if let Some(v) = r.int(t, &s, "chain_id")? {
            c.chain_id = v;
        }
        if let Some(v) = r.int(t, &s, "eid")? {
            c.eid = u32::try_from(v).map_err(|_| r.invalid(&format!("{s}.eid"), "too large"))?;
        }
        match r.string(t, &s, "rpc")? {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                c.rpc_url = url
            }
            Some(_) => return Err(r.invalid(&format!("{s}.rpc"), "must be an http(s):// URL")),
            None => return Err(r.invalid(&format!("{s}.rpc"), "is required")),
        }
        if let Some(url) = r.string(t, &s, "ws")? {
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                return Err(r.invalid(&format!("{s}.ws"), "must be a ws(s):// URL"));
            }
            c.ws_url = Some(url);
        }
        let address = |r: &mut Reader, key: &str| -> Result<Option<Address>, ConfigError> {
            let full = format!("{s}.{key}");
            match r.string(t, &s, key)? {
                None => Ok(None),
                Some(text) => checksummed(&full, &text)
                    .map(Some)
                    .map_err(|p| r.invalid(&full, p)),
            }
        };
        c.router = address(r, "router")?
            .ok_or_else(|| r.invalid(&format!("{s}.router"), "is required"))?;
        c.stargate = address(r, "stargate")?;
        c.tunnel = address(r, "tunnel")?;
        if let Some(tokens) = r.section(t, "tokens")? {
            let ts = format!("{s}.tokens");
            r.seen.insert(ts.clone());
            for (symbol, value) in tokens {
                let key = format!("{ts}.{symbol}");
                r.seen.insert(key.clone());
                let token =
                    TokenId::from_str(symbol).map_err(|e| r.invalid(&key, e.to_string()))?;
                if token.is_native() {
                    return Err(r.invalid(&key, "ETH is native and has no token address"));
                }
                let text = value
                    .as_str()
                    .ok_or_else(|| r.invalid(&key, "expected an address string"))?;
                let a = checksummed(&key, text).map_err(|p| r.invalid(&key, p))?;
                c.tokens.insert(token, a);
            }
        }
        Ok(c)
    }
}

impl Config {
    /// What each mode can run with this build, checked before anything starts.
    fn check_mode(&self, r: &Reader) -> Result<(), ConfigError> {
        let hedge = self.equity_hedge.enabled_in(self.mode);
        match self.mode {
            Mode::Paper => {
                if self.equity_hedge.broker == Some(HedgeBroker::Schwab) {
                    return Err(r.invalid(
                        "equity_hedge.broker",
                        "paper mode hedges at the paper broker; \"schwab\" needs mode \"devnet\" or \"live\"",
                    ));
                }
                return Ok(());
            }
            Mode::Live if self.cross_chain_loop.enabled => {
                return Err(r.invalid(
                    "cross_chain_loop.enabled",
                    "the cross-chain loop cannot run live yet (its live bridges, Stargate/OFT and the OptimismPortal, are not wired): set it to false in mode \"live\"",
                ));
            }
            Mode::Live if !hedge && !self.stellar_arb.enabled => {
                return Err(r.invalid(
                    "mode",
                    "\"live\" with nothing to run: enable [equity_hedge] or [stellar_arb]",
                ));
            }
            _ => {}
        }
        if hedge {
            if self.equity_hedge.rpc_url.is_none() {
                return Err(r.invalid(
                    "equity_hedge.rpc",
                    "is required when the hedge runs in devnet or live mode: the RPC of the orderbook's chain",
                ));
            }
            if self.equity_hedge.broker_in(self.mode) == HedgeBroker::Schwab
                && self.schwab.account_number.is_empty()
            {
                return Err(r.invalid(
                    "schwab.account_number",
                    "is required when the hedge trades at Schwab: the account to trade, by its number",
                ));
            }
        }
        Ok(())
    }
}

/// Where the equity hedge places its orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HedgeBroker {
    /// The simulated broker in the data dir (fills at the quoted price).
    Paper,
    /// Charles Schwab (`[schwab]`, logged in with `arbkeep auth schwab`).
    Schwab,
}

/// `[equity_hedge]`: the st0x hedge of Raindex V4 fills at a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquityHedgeConfig {
    /// Unset: on in paper mode, off elsewhere.
    pub enabled: Option<bool>,
    /// Unset: Schwab in live mode, the paper broker elsewhere.
    pub broker: Option<HedgeBroker>,
    /// The orderbook chain's RPC (devnet and live); its chain id is checked.
    pub rpc_url: Option<String>,
    pub ws_url: Option<String>,
    /// First block read on the first start; unset: the head at the first start.
    pub start_block: Option<u64>,
    /// Fills are acted on at this many confirmations (1 = mined).
    pub confirmations: u64,
    /// Largest block range of one `eth_getLogs`.
    pub log_chunk_blocks: u64,
    pub chain_id: u64,
    /// The Raindex orderbook whose logs are read (0x, 20 bytes).
    pub orderbook: String,
    /// Whose orders' fills are hedged.
    pub order_owner: String,
    /// Only "v4" (ClearV2 / AfterClear / TakeOrderV2) is decoded.
    pub raindex_version: String,
    pub usdc: String,
    /// Tokenized-equity symbol patterns, one `*` each ("t*", "*0x").
    pub symbol_patterns: Vec<String>,
    /// Base ticker → broker ticker (corporate renames).
    pub remaps: BTreeMap<String, String>,
    /// After an unknown outcome, the order is looked for over this long
    /// (ms; the broker's listing lag) before anything is placed again.
    pub listing_window_ms: u64,
    /// Once the window has passed with the order absent, place it again by
    /// itself (audited, notified) instead of waiting for `arbkeep resolve`.
    pub replace_after_window: bool,
}

impl EquityHedgeConfig {
    pub fn enabled_in(&self, mode: Mode) -> bool {
        self.enabled.unwrap_or(mode == Mode::Paper)
    }

    pub fn broker_in(&self, mode: Mode) -> HedgeBroker {
        self.broker.unwrap_or(match mode {
            Mode::Live => HedgeBroker::Schwab,
            Mode::Paper | Mode::Devnet => HedgeBroker::Paper,
        })
    }
}

impl Default for EquityHedgeConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            broker: None,
            rpc_url: None,
            ws_url: None,
            start_block: None,
            confirmations: 2,
            log_chunk_blocks: 500,
            chain_id: 8453,
            // The V4 orderbook on Base, and Base's native USDC.
            orderbook: "0x52CEB8eBEf648744fFDDE89F7Bc9C3aC35944775".into(),
            order_owner: "0x00000000000000000000000000000000000057a0".into(),
            raindex_version: "v4".into(),
            usdc: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913".into(),
            symbol_patterns: ["wt*", "t*", "*0x", "*s1"].map(String::from).to_vec(),
            remaps: BTreeMap::new(),
            listing_window_ms: 10 * crate::model::time::MINUTE,
            replace_after_window: false,
        }
    }
}

fn read_equity_hedge(
    r: &mut Reader,
    t: &toml::Table,
    h: &mut EquityHedgeConfig,
) -> Result<(), ConfigError> {
    let s = "equity_hedge";
    if let Some(v) = r.boolean(t, s, "enabled")? {
        h.enabled = Some(v);
    }
    if let Some(v) = r.int(t, s, "chain_id")? {
        h.chain_id = v;
    }
    if let Some(v) = r.string(t, s, "broker")? {
        h.broker = Some(match v.as_str() {
            "paper" => HedgeBroker::Paper,
            "schwab" => HedgeBroker::Schwab,
            _ => {
                return Err(r.invalid(
                    "equity_hedge.broker",
                    format!("{v:?}: expected \"paper\" or \"schwab\""),
                ));
            }
        });
    }
    for (key, scheme, field) in [
        ("rpc", ["http://", "https://"], &mut h.rpc_url),
        ("ws", ["ws://", "wss://"], &mut h.ws_url),
    ] {
        if let Some(v) = r.string(t, s, key)? {
            if !scheme.iter().any(|p| v.starts_with(p)) {
                return Err(r.invalid(
                    &format!("{s}.{key}"),
                    format!("{v:?} must start with {} or {}", scheme[0], scheme[1]),
                ));
            }
            *field = Some(v);
        }
    }
    if let Some(v) = r.int(t, s, "start_block")? {
        h.start_block = Some(v);
    }
    if let Some(v) = r.int(t, s, "confirmations")? {
        if v == 0 {
            return Err(r.invalid("equity_hedge.confirmations", "must be at least 1"));
        }
        h.confirmations = v;
    }
    if let Some(v) = r.int(t, s, "log_chunk_blocks")? {
        if v == 0 {
            return Err(r.invalid("equity_hedge.log_chunk_blocks", "must be at least 1"));
        }
        h.log_chunk_blocks = v;
    }
    for (key, field) in [
        ("orderbook", &mut h.orderbook),
        ("order_owner", &mut h.order_owner),
        ("usdc", &mut h.usdc),
    ] {
        if let Some(v) = r.string(t, s, key)? {
            alloy_primitives::Address::from_str(&v).map_err(|e| {
                r.invalid(
                    &format!("{s}.{key}"),
                    format!("{v:?} is not an address: {e}"),
                )
            })?;
            *field = v;
        }
    }
    if let Some(v) = r.string(t, s, "raindex_version")? {
        if v != "v4" {
            return Err(r.invalid(
                "equity_hedge.raindex_version",
                "only \"v4\" (ClearV2 / AfterClear / TakeOrderV2) is supported",
            ));
        }
        h.raindex_version = v;
    }
    if let Some(v) = r.strings(t, s, "symbol_patterns")? {
        h.symbol_patterns = v;
    }
    if let Some(v) = r.duration(t, s, "listing_window")? {
        if v == 0 {
            return Err(r.invalid(
                "equity_hedge.listing_window",
                "must be above 0: an order just placed may not be listed yet",
            ));
        }
        h.listing_window_ms = v;
    }
    if let Some(v) = r.boolean(t, s, "replace_after_window")? {
        h.replace_after_window = v;
    }
    if let Some(remaps) = r.section(t, "remaps")? {
        r.seen.insert("equity_hedge.remaps".into());
        for (from, to) in remaps {
            let key = format!("equity_hedge.remaps.{from}");
            r.seen.insert(key.clone());
            let to = to
                .as_str()
                .ok_or_else(|| r.invalid(&key, "expected a ticker string"))?;
            h.remaps.insert(from.clone(), to.to_string());
        }
    }
    crate::strategy::equity_hedge::symbol::SymbolMap::new(&h.symbol_patterns, h.remaps.clone())
        .map_err(|e| r.invalid("equity_hedge.symbol_patterns", e.to_string()))?;
    Ok(())
}

/// "3000" or "0.5" → speed ×1000.
pub fn speed_milli(v: Decimal) -> Result<u64, String> {
    let milli = v
        .checked_mul(Decimal::from(1000))
        .ok_or_else(|| "must be above 0 and at most 100000".to_string())?
        .trunc();
    let milli = u64::try_from(milli).map_err(|_| "must be a positive number".to_string())?;
    if milli == 0 || milli > 100_000_000 {
        return Err("must be above 0 and at most 100000".into());
    }
    Ok(milli)
}

/// "90s", "5m", "24h", "2d", "250ms" → milliseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 5m, 24h"))?;
    let factor = match unit {
        "ms" => 1,
        "s" | "" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        "d" => 24 * HOUR,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m, h or d)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// `[alerts]`: `realert_after`, `low_xlm`, and `[alerts.low_gas]` with a
/// threshold (ETH) per chain name.
fn read_alerts(r: &mut Reader, t: &toml::Table, a: &mut AlertsConfig) -> Result<(), ConfigError> {
    if let Some(v) = r.duration(t, "alerts", "realert_after")? {
        a.realert_after_ms = v;
    }
    if let Some(v) = r.decimal(t, "alerts", "low_xlm")? {
        let stroops = from_decimal(v, 7)
            .ok()
            .and_then(|u| i64::try_from(u).ok())
            .ok_or_else(|| r.invalid("alerts.low_xlm", "must be a positive amount of XLM"))?;
        a.low_xlm_stroops = Some(stroops);
    }
    if let Some(gas) = r.section(t, "low_gas")? {
        r.seen.insert("alerts.low_gas".into());
        for name in gas.keys() {
            let key = format!("alerts.low_gas.{name}");
            let chain = Chain::ALL
                .into_iter()
                .find(|c| c.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| r.invalid(&key, "unknown chain (expected hemi or ethereum)"))?;
            let Some(v) = r.decimal(gas, "alerts.low_gas", name)? else {
                continue;
            };
            let wei = from_decimal(v, 18).map_err(|e| r.invalid(&key, e.to_string()))?;
            a.low_gas_wei.insert(chain, wei);
        }
    }
    Ok(())
}

/// `[risk.caps]`: `"venue.asset" = amount`, the venue one the kill switch
/// sees (`CAP_VENUES`), the asset one that venue holds.
fn read_caps(r: &mut Reader, t: &toml::Table) -> Result<Vec<BalanceCap>, ConfigError> {
    r.seen.insert("risk.caps".into());
    let mut caps = Vec::new();
    for name in t.keys() {
        let key = format!("risk.caps.\"{name}\"");
        let (venue, asset) = name
            .split_once('.')
            .map(|(v, a)| (v.trim().to_ascii_lowercase(), a.trim().to_string()))
            .filter(|(v, a)| !v.is_empty() && !a.is_empty())
            .ok_or_else(|| {
                r.invalid(
                    &key,
                    "expected \"venue.asset\", e.g. \"hemi.VCRED\" or \"stellar.XLM\"",
                )
            })?;
        if !CAP_VENUES.contains(&venue.as_str()) {
            return Err(r.invalid(
                &key,
                format!(
                    "unknown venue {venue:?} (expected one of {})",
                    CAP_VENUES.join(", ")
                ),
            ));
        }
        if let Some(chain) = Chain::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(&venue))
            && !TokenId::ALL
                .into_iter()
                .any(|tok| tok.exists_on(chain) && tok.symbol().eq_ignore_ascii_case(&asset))
        {
            return Err(r.invalid(&key, format!("{asset} is not a token on {}", chain.name())));
        }
        let Some(max) = r.decimal(t, "risk.caps", name)? else {
            continue;
        };
        if max.is_sign_negative() {
            return Err(r.invalid(&key, "must not be negative"));
        }
        caps.push(BalanceCap { venue, asset, max });
    }
    Ok(caps)
}

/// Reads typed values out of a TOML table, remembering which keys it read.
struct Reader {
    path: String,
    seen: BTreeSet<String>,
}

impl Reader {
    fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            key: key.to_string(),
            problem: problem.into(),
        }
    }

    fn full(section: &str, key: &str) -> String {
        if section.is_empty() {
            key.to_string()
        } else {
            format!("{section}.{key}")
        }
    }

    fn get<'a>(&mut self, t: &'a toml::Table, section: &str, key: &str) -> Option<&'a toml::Value> {
        self.seen.insert(Self::full(section, key));
        t.get(key)
    }

    fn section<'a>(
        &mut self,
        t: &'a toml::Table,
        name: &str,
    ) -> Result<Option<&'a toml::Table>, ConfigError> {
        self.seen.insert(name.to_string());
        match t.get(name) {
            None => Ok(None),
            Some(toml::Value::Table(inner)) => Ok(Some(inner)),
            Some(_) => Err(self.invalid(name, "must be a table ([section])")),
        }
    }

    fn string(&mut self, t: &toml::Table, s: &str, k: &str) -> Result<Option<String>, ConfigError> {
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::String(v)) => Ok(Some(v.clone())),
            Some(other) => Err(self.invalid(
                &Self::full(s, k),
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    }

    fn strings(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_string).ok_or_else(|| {
                        self.invalid(&Self::full(s, k), "expected a list of strings")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.invalid(&Self::full(s, k), "expected a list of strings")),
        }
    }

    fn boolean(&mut self, t: &toml::Table, s: &str, k: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::Boolean(v)) => Ok(Some(*v)),
            Some(_) => Err(self.invalid(&Self::full(s, k), "expected true or false")),
        }
    }

    fn int_signed(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<i64>, ConfigError> {
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::Integer(v)) => Ok(Some(*v)),
            Some(_) => Err(self.invalid(&Self::full(s, k), "expected a whole number")),
        }
    }

    fn int(&mut self, t: &toml::Table, s: &str, k: &str) -> Result<Option<u64>, ConfigError> {
        match self.int_signed(t, s, k)? {
            None => Ok(None),
            Some(v) => u64::try_from(v)
                .map(Some)
                .map_err(|_| self.invalid(&Self::full(s, k), "must not be negative")),
        }
    }

    fn positive_u32(&self, key: &str, v: u64) -> Result<u32, ConfigError> {
        match u32::try_from(v) {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(self.invalid(key, "must be a whole number above 0")),
        }
    }

    /// Amounts: a string ("100.5", exact) or a whole number.
    fn decimal(
        &mut self,
        t: &toml::Table,
        s: &str,
        k: &str,
    ) -> Result<Option<Decimal>, ConfigError> {
        let key = Self::full(s, k);
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::String(v)) => Decimal::from_str(v.trim())
                .map(Some)
                .map_err(|_| self.invalid(&key, format!("{v:?} is not a decimal number"))),
            Some(toml::Value::Integer(v)) => Ok(Some(Decimal::from(*v))),
            Some(toml::Value::Float(_)) => Err(self.invalid(
                &key,
                "write amounts as a string (\"0.5\") or a whole number: floats are not exact",
            )),
            Some(_) => Err(self.invalid(&key, "expected a number")),
        }
    }

    fn duration(&mut self, t: &toml::Table, s: &str, k: &str) -> Result<Option<u64>, ConfigError> {
        let key = Self::full(s, k);
        match self.get(t, s, k) {
            None => Ok(None),
            Some(toml::Value::String(v)) => parse_duration(v)
                .map(Some)
                .map_err(|p| self.invalid(&key, p)),
            Some(_) => Err(self.invalid(
                &key,
                "expected a duration string like \"12s\", \"5m\" or \"24h\"",
            )),
        }
    }

    fn reject_unknown(&self, t: &toml::Table, prefix: &str) -> Result<(), ConfigError> {
        for (key, value) in t {
            let full = Self::full(prefix, key);
            if !self.seen.contains(&full) {
                return Err(ConfigError::Unknown {
                    path: self.path.clone(),
                    key: full,
                });
            }
            if let toml::Value::Table(inner) = value {
                self.reject_unknown(inner, &full)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "test.toml")
    }

    #[test]
    fn the_kill_switch_reads_its_drawdown_and_caps_and_names_a_bad_key() {
        let c = parse("[risk]\ndaily_drawdown_usd = \"250.5\"\n[risk.caps]\n\"hemi.VCRED\" = \"50000\"\n\"stellar.XLM\" = 20000\n").unwrap();
        assert_eq!(c.risk.daily_drawdown_usd, Some("250.5".parse().unwrap()));
        let keys: Vec<String> = c.risk.caps.iter().map(|c| c.key()).collect();
        assert_eq!(keys, ["hemi.VCRED", "stellar.XLM"]);
        assert_eq!(
            parse("").unwrap().risk.daily_drawdown_usd,
            None,
            "off by default"
        );
        for (text, key) in [
            (
                "[risk]\ndaily_drawdown_usd = \"0\"\n",
                "risk.daily_drawdown_usd",
            ),
            ("[risk.caps]\nhemi = \"1\"\n", "risk.caps.\"hemi\""),
            (
                "[risk.caps]\n\"binance.BTC\" = \"1\"\n",
                "risk.caps.\"binance.BTC\"",
            ),
            (
                "[risk.caps]\n\"hemi.DOGE\" = \"1\"\n",
                "risk.caps.\"hemi.DOGE\"",
            ),
            (
                "[risk.caps]\n\"hemi.ETH\" = \"-1\"\n",
                "risk.caps.\"hemi.ETH\"",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text:?}: {e}");
        }
    }

    #[test]
    fn empty_file_is_paper_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.mode, Mode::Paper);
        assert_eq!(c.cross_chain_loop.min_swap_vcred, 100_000_000);
        assert_eq!(c.cross_chain_loop.route(TokenId::Eth), Route::Stargate);
        assert_eq!(c.cross_chain_loop.route(TokenId::Wbtc), Route::HemiTunnel);
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../config.toml.example");
        let c = parse(text).unwrap();
        assert_eq!(c.mode, Mode::Paper);
    }

    #[test]
    fn metrics_are_off_unless_configured_and_the_port_is_checked() {
        assert_eq!(parse("").unwrap().metrics, None);
        let c = parse("[metrics]\nport = 9464\n").unwrap();
        assert_eq!(c.metrics, Some(MetricsConfig { port: 9464 }));
        assert_eq!(
            parse("[metrics]\nport = 0\n").unwrap().metrics,
            Some(MetricsConfig { port: 0 })
        );
        for bad in [
            "[metrics]\n",
            "[metrics]\nport = 70000\n",
            "[metrics]\nport = -1\n",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.to_string().contains("metrics.port"), "{bad:?}: {e}");
        }
        let e = parse("[metrics]\nport = 1\nbind = \"0.0.0.0\"\n").unwrap_err();
        assert!(e.to_string().contains("metrics.bind"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("[cross_chain_loop]\nslippage_bps = 0\n").unwrap_err();
        assert!(
            e.to_string().contains("cross_chain_loop.slippage_bps"),
            "{e}"
        );
        let e = parse("[engine]\nreconcile_interval = \"12 parsecs\"\n").unwrap_err();
        assert!(e.to_string().contains("engine.reconcile_interval"), "{e}");
        let e = parse("mode = \"moon\"\n").unwrap_err();
        assert!(e.to_string().contains("`mode`"), "{e}");
        let e = parse("[cross_chain_loop.routes]\nWBTC = \"ferry\"\n").unwrap_err();
        assert!(
            e.to_string().contains("cross_chain_loop.routes.WBTC"),
            "{e}"
        );
    }

    #[test]
    fn webhook_events_are_known_names_and_the_example_lists_every_one() {
        let c = parse("[notify]\nevents = [\"equity_hedge\", \"stellar\"]\n").unwrap();
        assert_eq!(c.notify.events, ["equity_hedge", "stellar"]);
        let e = parse("[notify]\nevents = [\"cycle_done\"]\n").unwrap_err();
        assert!(e.to_string().contains("notify.events"), "{e}");
        assert!(e.to_string().contains("cycle_done"), "{e}");
        let example = include_str!("../config.toml.example");
        let listed: Vec<&str> = example
            .split("# Events:")
            .nth(1)
            .and_then(|rest| rest.split("events = []").next())
            .expect("the example lists the events")
            .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        assert_eq!(
            listed,
            crate::engine::Notice::events(),
            "config.toml.example"
        );
    }

    #[test]
    fn log_limits_default_and_are_read_and_checked_by_key() {
        assert_eq!(parse("").unwrap().logs, LogsConfig::default());
        assert_eq!(LogsConfig::default().diag_max_bytes, 52_428_800);
        let c = parse("[logs]\ndiag_max_bytes = 1048576\ndiag_keep = 0\n").unwrap();
        assert_eq!(
            c.logs,
            LogsConfig {
                diag_max_bytes: 1_048_576,
                diag_keep: 0
            }
        );
        for (text, key) in [
            ("[logs]\ndiag_max_bytes = 100\n", "logs.diag_max_bytes"),
            (
                "[logs]\ndiag_max_bytes = \"50MiB\"\n",
                "logs.diag_max_bytes",
            ),
            ("[logs]\ndiag_keep = 101\n", "logs.diag_keep"),
            ("[logs]\ndiag_keep = -1\n", "logs.diag_keep"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.to_string().contains(key), "{text}: {e}");
        }
        let e = parse("[logs]\nmoney_keep = 3\n").unwrap_err();
        assert!(e.to_string().contains("logs.money_keep"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = parse("[risk]\ndaily_loss_limit = 5\n").unwrap_err();
        assert_eq!(
            e,
            ConfigError::Unknown {
                path: "test.toml".into(),
                key: "risk.daily_loss_limit".into()
            }
        );
    }

    #[test]
    fn paper_faults_are_off_by_default_and_read_and_checked_by_key() {
        assert_eq!(parse("").unwrap().paper.faults, PaperFaults::default());
        let c = parse("[paper.faults]\nrate_per_mille = 50\nseed = 9\n").unwrap();
        assert_eq!(
            c.paper.faults,
            PaperFaults {
                rate_per_mille: 50,
                seed: 9
            }
        );
        let e = parse("[paper.faults]\nrate_per_mille = 1001\n").unwrap_err();
        assert!(e.to_string().contains("paper.faults.rate_per_mille"), "{e}");
        let e = parse("[paper.faults]\nrate = 5\n").unwrap_err();
        assert!(e.to_string().contains("paper.faults.rate"), "{e}");
    }

    #[test]
    fn floats_for_money_are_refused() {
        let e = parse("[cross_chain_loop]\nmin_profit_vcred = 0.1\n").unwrap_err();
        assert!(e.to_string().contains("floats are not exact"), "{e}");
    }

    #[test]
    fn min_above_max_is_refused() {
        let e = parse("[cross_chain_loop]\nmin_swap_vcred = 5000\nmax_swap_vcred_soft_cap = 100\n")
            .unwrap_err();
        assert!(e.to_string().contains("min_swap_vcred"), "{e}");
    }

    #[test]
    fn approval_above_needs_a_threshold() {
        let e = parse("[risk]\napproval = \"above\"\n").unwrap_err();
        assert!(e.to_string().contains("approval_threshold_vcred"), "{e}");
        let c =
            parse("[risk]\napproval = \"above\"\napproval_threshold_vcred = \"2500\"\n").unwrap();
        assert_eq!(c.risk.approval, Approval::Above(2_500_000_000));
    }

    #[test]
    fn stellar_friendbot_defaults_by_network_and_names_its_key() {
        let c = parse("[stellar_arb]\nnetwork = \"TESTNET\"\n").unwrap();
        assert_eq!(
            c.stellar_arb.friendbot_url.as_deref(),
            Some("https://friendbot.stellar.org/")
        );
        let c = parse("[stellar_arb]\nnetwork = \"PUBLIC\"\n").unwrap();
        assert_eq!(c.stellar_arb.friendbot_url, None);
        let c = parse("[stellar_arb]\nfriendbot_url = \"http://127.0.0.1:9/friendbot\"\n").unwrap();
        assert_eq!(
            c.stellar_arb.friendbot_url.as_deref(),
            Some("http://127.0.0.1:9/friendbot")
        );
        let e = parse("[stellar_arb]\nnetwork = \"PUBLIC\"\nfriendbot_url = \"https://x/\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("stellar_arb.friendbot_url"), "{e}");
        let e = parse("[stellar_arb]\nfriendbot_url = \"ftp://x\"\n").unwrap_err();
        assert!(e.to_string().contains("stellar_arb.friendbot_url"), "{e}");
    }

    #[test]
    fn stellar_oracle_max_age_defaults_to_ten_minutes_and_is_a_duration() {
        assert_eq!(parse("").unwrap().stellar_arb.oracle_max_age_secs, 600);
        let c = parse("[stellar_arb]\noracle_max_age = \"3m\"\n").unwrap();
        assert_eq!(c.stellar_arb.oracle_max_age_secs, 180);
        for bad in ["\"500ms\"", "\"soon\"", "5"] {
            let e = parse(&format!("[stellar_arb]\noracle_max_age = {bad}\n")).unwrap_err();
            assert!(
                e.to_string().contains("stellar_arb.oracle_max_age"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn stellar_account_starting_xlm_is_exact_and_at_least_the_minimum_balance() {
        assert_eq!(
            parse("").unwrap().stellar_arb.account_starting_xlm,
            50_000_000
        );
        let c = parse("[stellar_arb]\naccount_starting_xlm = \"12.5\"\n").unwrap();
        assert_eq!(c.stellar_arb.account_starting_xlm, 125_000_000);
        for bad in ["\"0.5\"", "\"1.00000001\"", "\"ten\"", "2.5"] {
            let e = parse(&format!("[stellar_arb]\naccount_starting_xlm = {bad}\n")).unwrap_err();
            assert!(
                e.to_string().contains("stellar_arb.account_starting_xlm"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("24h"), Ok(86_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert!(parse_duration("5 weeks").is_err());
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(matches!(parse("mode = "), Err(ConfigError::Syntax { .. })));
    }

    const EVM: &str = r#"
mode = "devnet"
[evm]
confirmations = 3
max_fee_gwei = "120.5"
[evm.hemi]
rpc = "http://127.0.0.1:1"
router = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"
[evm.hemi.tokens]
VCRED = "0x71881974e96152643C74A8e0214B877CfB2A0Aa1"
[evm.ethereum]
rpc = "http://127.0.0.1:2"
router = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"
"#;

    #[test]
    fn evm_section_parses_with_checksummed_addresses() {
        let c = parse(EVM).unwrap();
        let e = c.evm.unwrap();
        assert_eq!(e.confirmations, 3);
        assert_eq!(e.max_fee_per_gas, 120_500_000_000);
        assert_eq!((e.hemi.chain_id, e.ethereum.chain_id), (43_111, 1));
        assert_eq!(
            e.hemi.token(TokenId::Vcred).unwrap().to_checksum(None),
            "0x71881974e96152643C74A8e0214B877CfB2A0Aa1"
        );
    }

    #[test]
    fn a_bad_checksum_is_refused_with_the_right_form() {
        // The seed's VCRED address (evm.md §0): not a valid checksum.
        let text = EVM.replace(
            "0x71881974e96152643C74A8e0214B877CfB2A0Aa1",
            "0x390D9C7c5b48dB6d15D76b96D1D8a9bfD94d93B0",
        );
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("evm.hemi.tokens.VCRED"), "{e}");
        assert!(e.contains("fails its EIP-55 checksum"), "{e}");
        assert!(
            e.contains("0x390D9C7C5B48Db6D15d76B96D1d8a9bfd94d93b0"),
            "{e}"
        );
        let e = parse(&EVM.replace("0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D", "0x7a25"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("evm.hemi.router") && e.contains("not an address"),
            "{e}"
        );
    }

    #[test]
    fn devnet_mode_needs_an_evm_section() {
        let e = parse("mode = \"devnet\"\n").unwrap_err().to_string();
        assert!(e.contains("`evm`"), "{e}");
        let e = parse(&EVM.replace("[evm.ethereum]", "[evm.nowhere]")).unwrap_err();
        assert!(e.to_string().contains("evm.ethereum"), "{e}");
        let e = parse(&EVM.replace("confirmations = 3", "confirmation = 3")).unwrap_err();
        assert!(e.to_string().contains("evm.confirmation"), "{e}");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secrets::from_lookup(|k| {
            (k == "ARBITRAGE_PRIVATE_KEY").then(|| "0xdeadbeef".to_string())
        })
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("deadbeef"), "{shown}");
        assert!(s.private_key.is_some());
    }

    #[test]
    fn live_mode_runs_the_hedge_and_stellar_without_the_loop() {
        let hedge = "[equity_hedge]\nenabled = true\nrpc = \"https://base.example\"\n[schwab]\naccount_number = \"12345678\"\n";
        // The loop is on by default, and cannot run live: the key is named.
        let e = parse(&format!("mode = \"live\"\n{hedge}")).unwrap_err();
        assert!(e.to_string().contains("cross_chain_loop.enabled"), "{e}");
        let off = "[cross_chain_loop]\nenabled = false\n";
        // Nothing enabled: nothing to run.
        let e = parse(&format!("mode = \"live\"\n{off}")).unwrap_err();
        assert!(e.to_string().contains("`mode`"), "{e}");
        // The hedge needs its chain's RPC, and Schwab an account.
        let e = parse(&format!(
            "mode = \"live\"\n{off}[equity_hedge]\nenabled = true\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("equity_hedge.rpc"), "{e}");
        let e = parse(&format!(
            "mode = \"live\"\n{off}[equity_hedge]\nenabled = true\nrpc = \"https://base.example\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("schwab.account_number"), "{e}");
        // No [evm] needed in live mode; Schwab is the live default broker.
        let c = parse(&format!("mode = \"live\"\n{off}{hedge}")).unwrap();
        assert_eq!(c.equity_hedge.broker_in(c.mode), HedgeBroker::Schwab);
        assert_eq!(
            c.equity_hedge.rpc_url.as_deref(),
            Some("https://base.example")
        );
        let c = parse(
            "mode = \"live\"\n[cross_chain_loop]\nenabled = false\n[stellar_arb]\nenabled = true\n",
        )
        .unwrap();
        assert!(c.evm.is_none() && c.stellar_arb.enabled);
    }

    #[test]
    fn hedge_keys_are_checked() {
        let e = parse("[equity_hedge]\nbroker = \"schwab\"\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.broker"), "paper: {e}");
        let e = parse("[equity_hedge]\nbroker = \"ibkr\"\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.broker"), "{e}");
        let e = parse("[equity_hedge]\nrpc = \"base.example\"\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.rpc"), "{e}");
        let e = parse("[equity_hedge]\nconfirmations = 0\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.confirmations"), "{e}");
        let c = parse("[equity_hedge]\nlisting_window = \"3m\"\nreplace_after_window = true\n")
            .unwrap();
        assert_eq!(c.equity_hedge.listing_window_ms, 3 * 60_000);
        assert!(c.equity_hedge.replace_after_window);
        let d = parse("").unwrap();
        assert_eq!(d.equity_hedge.listing_window_ms, 10 * 60_000);
        assert!(!d.equity_hedge.replace_after_window);
        let e = parse("[equity_hedge]\nlisting_window = \"0s\"\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.listing_window"), "{e}");
        let c = parse("[equity_hedge]\nstart_block = 123\nws = \"wss://base.example\"\n").unwrap();
        assert_eq!(c.equity_hedge.start_block, Some(123));
        assert_eq!(c.equity_hedge.broker_in(Mode::Devnet), HedgeBroker::Paper);
    }
}
