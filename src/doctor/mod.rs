//! `arbkeep doctor`: every check of a setup that can be made without sending
//! anything — the config, the secrets (told "set" or "missing", never
//! shown), the data dir, each EVM chain (chain id, addresses, code, token
//! decimals, RPC and WebSocket latency), the broker login, the Stellar
//! accounts, and the clock against every venue that reports a time — as a
//! list of [`Check`]s, each ok, warn, fail or skip with the fix.
//!
//! This module owns the checks' shape, the order they run in and the exit
//! code; each group of checks lives in its own file (`local`, `evm`,
//! `broker`, `stellar`, with the clock's thresholds in `clock`) and reads
//! through the venues' own clients. Nothing here sends a transaction, an
//! order, a payment or a Friendbot request, refreshes a login, writes to the
//! data dir or takes the instance lock, so it may run beside an engine.
//! Every outside read has a timeout; one that runs out fails its check with
//! that reason.

mod broker;
pub mod clock;
mod evm;
pub mod local;
mod render;
mod stellar;

pub use render::{json, table};

use crate::config::{Config, ConfigError};
use crate::model::{Clock, Mode};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where a check belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// The config, secrets, data dir and engine on this machine.
    Local,
    /// The EVM chains: the loop's two and the hedge's orderbook chain.
    Evm,
    /// The equity hedge's broker login.
    Broker,
    Stellar,
    /// This machine's clock against each venue that reports a time.
    Clock,
}

impl Group {
    pub fn label(self) -> &'static str {
        match self {
            Group::Local => "local",
            Group::Evm => "evm",
            Group::Broker => "broker",
            Group::Stellar => "stellar",
            Group::Clock => "clock",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Works, but needs a look (it will not stop a start).
    Warn,
    /// Will not work as configured: the exit code is non-zero.
    Fail,
    /// Not checked, with the reason (paper mode, a strategy that is off, a
    /// check that depends on one that failed).
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// One check's verdict. `detail` and `fix` never carry a secret or an
/// unredacted URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub group: Group,
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// What to do about a warning or a failure.
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(group: Group, name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            group,
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn warn(
        group: Group,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            status: Status::Warn,
            fix: Some(fix.into()),
            ..Check::ok(group, name, detail)
        }
    }

    pub fn fail(
        group: Group,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            status: Status::Fail,
            fix: Some(fix.into()),
            ..Check::ok(group, name, detail)
        }
    }

    pub fn skip(group: Group, name: impl Into<String>, reason: impl Into<String>) -> Check {
        Check {
            status: Status::Skip,
            ..Check::ok(group, name, reason)
        }
    }
}

/// How many checks ended how, and the exit code they make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
    pub exit_code: u8,
}

/// Every check, in the order they are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub checks: Vec<Check>,
    /// The config did not load (its check failed, naming the key).
    pub config_error: Option<ConfigError>,
}

/// The exit code of a failed config, as for every verb.
pub const EXIT_BAD_CONFIG: u8 = 2;
/// The exit code when any other check failed.
pub const EXIT_FAILED: u8 = 1;

impl Report {
    pub fn summary(&self) -> Summary {
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        let mut summary = Summary {
            ok: count(Status::Ok),
            warn: count(Status::Warn),
            fail: count(Status::Fail),
            skip: count(Status::Skip),
            exit_code: 0,
        };
        summary.exit_code = if self.config_error.is_some() {
            EXIT_BAD_CONFIG
        } else if summary.fail > 0 {
            EXIT_FAILED
        } else {
            0
        };
        summary
    }
}

/// Environment lookups (secrets): the process's, or a test's.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
pub fn process_env() -> Env {
    Arc::new(|name| std::env::var(name).ok())
}

/// What the checks look at.
pub struct Setup {
    /// The config as loaded, or why it did not load.
    pub config: Result<Config, ConfigError>,
    /// `--data-dir`: where to look when the config did not load.
    pub data_dir: Option<PathBuf>,
    pub env: Env,
    pub clock: Arc<dyn Clock>,
    pub limits: local::DiskLimits,
}

impl Setup {
    /// The config at `path` (or `./config.toml`, or paper defaults, as
    /// every verb loads it), `--data-dir` applied, the process environment
    /// and the system clock.
    pub fn load(path: Option<&Path>, data_dir: Option<&Path>) -> Setup {
        let config = Config::load(path).map(|mut c| {
            if let Some(dir) = data_dir {
                c.data_dir = dir.to_path_buf();
            }
            c
        });
        Setup {
            config,
            data_dir: data_dir.map(Path::to_path_buf),
            env: process_env(),
            clock: Arc::new(crate::model::SystemClock),
            limits: local::DiskLimits::default(),
        }
    }
}

/// The longest one chain's checks, or Stellar's, may take beyond every
/// read's own timeout: checks that run out fail with that reason.
pub const GROUP_BUDGET: Duration = Duration::from_secs(60);

/// Why the `doctor` verb ends with a non-zero exit code (after it printed
/// the report).
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// The config did not load: exit code 2, as for every verb.
    #[error(transparent)]
    Config(ConfigError),
    #[error("doctor: {fail} check(s) failed; each says how to fix it")]
    Failed { fail: usize },
    #[error("doctor: cannot write the report: {0}")]
    Output(std::io::Error),
}

/// Run every check.
pub async fn examine(setup: &Setup) -> Report {
    let mut checks = Vec::new();
    let config = match &setup.config {
        Ok(c) => c,
        Err(e) => {
            checks.push(local::config_failed(e));
            if let Some(dir) = &setup.data_dir {
                checks.extend(local::data_dir(dir, &setup.limits));
            } else {
                checks.push(Check::skip(
                    Group::Local,
                    "data dir",
                    "not checked: the config did not load (or pass --data-dir)",
                ));
            }
            return Report {
                checks,
                config_error: Some(e.clone()),
            };
        }
    };
    checks.push(local::config_loaded(config));
    let engine = crate::files::InstanceLock::holder(&config.data_dir);
    checks.extend(local::secrets(config, &setup.env));
    checks.extend(local::data_dir(&config.data_dir, &setup.limits));
    checks.push(local::engine(engine));
    checks.push(local::kill_switch(config));
    if config.mode == Mode::Paper {
        checks.push(Check::skip(Group::Evm, "chains", PAPER));
        checks.push(Check::skip(Group::Broker, "broker", PAPER));
        checks.push(Check::skip(Group::Stellar, "stellar", PAPER));
        checks.push(Check::skip(Group::Clock, "venue clocks", PAPER));
        return Report {
            checks,
            config_error: None,
        };
    }
    let clock = setup.clock.as_ref();
    let (evm, stellar) = tokio::join!(
        evm::checks(config, &setup.env, clock),
        within_budget(
            Group::Stellar,
            "stellar",
            stellar::checks(config, &setup.env, clock)
        ),
    );
    checks.extend(evm);
    checks.extend(broker::checks(config, &setup.env, clock.now(), engine));
    checks.extend(stellar);
    // The clock checks are made with their venue's reads; they are shown together.
    checks.sort_by_key(|c| c.group == Group::Clock);
    Report {
        checks,
        config_error: None,
    }
}

const PAPER: &str = "paper mode: no outside venue";

async fn within_budget(
    group: Group,
    name: &str,
    checks: impl std::future::Future<Output = Vec<Check>>,
) -> Vec<Check> {
    match tokio::time::timeout(GROUP_BUDGET, checks).await {
        Ok(checks) => checks,
        Err(_) => vec![Check::fail(
            group,
            name,
            format!("no answer within {}s", GROUP_BUDGET.as_secs()),
            "check that the endpoints answer (each read has its own timeout; this one ran out overall)",
        )],
    }
}

/// The `doctor` verb: load, check, print (a table, or JSON), and say how it
/// ended — `Ok` when no check failed (warnings allowed), else the error the
/// binary turns into exit code 2 (the config) or 1 (any other failure).
pub async fn run(
    config: Option<&Path>,
    data_dir: Option<&Path>,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<(), DoctorError> {
    let setup = Setup::load(config, data_dir);
    let report = examine(&setup).await;
    let text = if as_json {
        json(&report).to_string()
    } else {
        table(&report)
    };
    match writeln!(out, "{text}") {
        // `| head` went away: the verdict still stands.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(DoctorError::Output(e));
        }
        _ => {}
    }
    let summary = report.summary();
    match report.config_error {
        Some(e) => Err(DoctorError::Config(e)),
        None if summary.fail > 0 => Err(DoctorError::Failed { fail: summary.fail }),
        None => Ok(()),
    }
}
