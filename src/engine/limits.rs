//! What a running process may change without a restart (SIGHUP): the risk
//! limits, the kill switch's limits and the engine's caps; `log_level` (set
//! by the binary on its log layers, see `logging::LogLevel`); and
//! `[notify]` (format, timeout, retries, events: set on the running webhook
//! task, `notify::WebhookReload`). `Limits` travels in `Command::Reload`, so
//! a reload is applied by the engine like every other command and audited,
//! with what else changed in place and what did not; `needs_restart` names
//! every other setting that differs, so the operator is told what a re-read
//! config did *not* change. The webhook URL is not in the config at all: it
//! is a secret from the environment, which a running process cannot see
//! change ([`WEBHOOK_URL_NEEDS_RESTART`]).

use super::kill::KillLimits;
use crate::config::Config;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub daily_loss_limit_vcred: Decimal,
    pub min_profit_vcred: Decimal,
    pub max_open_cycles: u32,
    pub max_cycles_per_token: u32,
    pub max_actions_per_tick: u32,
    pub stuck_after_ms: u64,
    /// The kill switch's drawdown limit and balance caps.
    #[serde(default)]
    pub kill: KillLimits,
}

impl Limits {
    pub fn of(c: &Config) -> Self {
        Self {
            daily_loss_limit_vcred: c.risk.daily_loss_limit_vcred,
            min_profit_vcred: c.cross_chain_loop.min_profit_vcred,
            max_open_cycles: c.engine.max_open_cycles,
            max_cycles_per_token: c.cross_chain_loop.max_cycles_per_token,
            max_actions_per_tick: c.engine.max_actions_per_tick,
            stuck_after_ms: c.engine.stuck_after_ms,
            kill: KillLimits::of(c),
        }
    }

    pub fn apply(&self, c: &mut Config) {
        c.risk.daily_loss_limit_vcred = self.daily_loss_limit_vcred;
        c.cross_chain_loop.min_profit_vcred = self.min_profit_vcred;
        c.engine.max_open_cycles = self.max_open_cycles;
        c.cross_chain_loop.max_cycles_per_token = self.max_cycles_per_token;
        c.engine.max_actions_per_tick = self.max_actions_per_tick;
        c.engine.stuck_after_ms = self.stuck_after_ms;
        c.risk.daily_drawdown_usd = self.kill.daily_drawdown_usd;
        c.risk.caps = self.kill.caps.clone();
    }

    /// "risk.daily_loss_limit_vcred 500 → 200", one per changed limit.
    pub fn changes(&self, new: &Limits) -> Vec<String> {
        let mut out = Vec::new();
        let mut diff = |key: &str, old: String, new: String| {
            if old != new {
                out.push(format!("{key} {old} → {new}"));
            }
        };
        diff(
            "risk.daily_loss_limit_vcred",
            self.daily_loss_limit_vcred.to_string(),
            new.daily_loss_limit_vcred.to_string(),
        );
        diff(
            "cross_chain_loop.min_profit_vcred",
            self.min_profit_vcred.to_string(),
            new.min_profit_vcred.to_string(),
        );
        diff(
            "engine.max_open_cycles",
            self.max_open_cycles.to_string(),
            new.max_open_cycles.to_string(),
        );
        diff(
            "cross_chain_loop.max_cycles_per_token",
            self.max_cycles_per_token.to_string(),
            new.max_cycles_per_token.to_string(),
        );
        diff(
            "engine.max_actions_per_tick",
            self.max_actions_per_tick.to_string(),
            new.max_actions_per_tick.to_string(),
        );
        let off = || "off".to_string();
        diff(
            "risk.daily_drawdown_usd",
            self.kill
                .daily_drawdown_usd
                .map_or_else(off, |v| v.to_string()),
            new.kill
                .daily_drawdown_usd
                .map_or_else(off, |v| v.to_string()),
        );
        let caps = |l: &KillLimits| {
            l.caps
                .iter()
                .map(|c| format!("{}={}", c.key(), c.max))
                .collect::<Vec<_>>()
                .join(",")
        };
        diff("risk.caps", caps(&self.kill), caps(&new.kill));
        diff(
            "engine.stuck_after",
            format!("{}ms", self.stuck_after_ms),
            format!("{}ms", new.stuck_after_ms),
        );
        out
    }
}

/// Said on every SIGHUP: the one notify setting no re-read can change.
pub const WEBHOOK_URL_NEEDS_RESTART: &str =
    "notify webhook URL comes from the environment (ARBKEEP_WEBHOOK_URL): restart to change it";

/// The settings of `new` that differ from `running` beyond what a reload
/// changes in place (the limits, `log_level`, `[notify]`): a restart is
/// needed for them to take effect.
pub fn needs_restart(running: &Config, new: &Config) -> Vec<&'static str> {
    let mut probe = new.clone();
    Limits::of(running).apply(&mut probe);
    probe.log_level = running.log_level.clone();
    probe.notify = running.notify.clone();
    let mut out = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    check("mode", probe.mode != running.mode);
    check("data_dir", probe.data_dir != running.data_dir);
    check("paper", probe.paper != running.paper);
    check("engine", probe.engine != running.engine);
    check(
        "cross_chain_loop",
        probe.cross_chain_loop != running.cross_chain_loop,
    );
    check("risk", probe.risk != running.risk);
    check("control", probe.control != running.control);
    check("metrics", probe.metrics != running.metrics);
    check("logs", probe.logs != running.logs);
    check("alerts", probe.alerts != running.alerts);
    check("schwab", probe.schwab != running.schwab);
    check("equity_hedge", probe.equity_hedge != running.equity_hedge);
    check("stellar_arb", probe.stellar_arb != running.stellar_arb);
    check("evm", probe.evm != running.evm);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_change_in_place_and_the_rest_is_named_for_a_restart() {
        let running = Config::default();
        let mut new = running.clone();
        new.risk.daily_loss_limit_vcred = Decimal::from(200);
        new.engine.max_open_cycles = 3;
        assert!(needs_restart(&running, &new).is_empty(), "limits only");
        let changes = Limits::of(&running).changes(&Limits::of(&new));
        assert_eq!(
            changes,
            vec![
                "risk.daily_loss_limit_vcred 500 → 200".to_string(),
                "engine.max_open_cycles 12 → 3".to_string()
            ]
        );
        new.log_level = "debug".into();
        new.notify.retries = 1;
        new.notify.format = "slack".into();
        assert!(
            needs_restart(&running, &new).is_empty(),
            "the log level and the notify settings change in place"
        );
        new.control.port = 9000;
        new.logs.diag_keep = 1;
        assert_eq!(needs_restart(&running, &new), vec!["control", "logs"]);
        let mut applied = running.clone();
        Limits::of(&new).apply(&mut applied);
        assert_eq!(applied.risk.daily_loss_limit_vcred, Decimal::from(200));
        assert_eq!(applied.engine.max_open_cycles, 3);
    }
}
