//! The watchdog: a task apart from the engine's loop that raises alarms the
//! engine cannot raise about itself. *Liveness*: no pass has completed for
//! `engine.liveness_after` (a pass hung on a venue, a deadlock, a recovery
//! that never ends). *Failing*: passes complete, but none has succeeded for
//! `engine.liveness_after` (a venue down, an error every pass — alive, and
//! doing nothing); the message names how long, how many, and the last
//! error the pulse kept. *Low balances*: a chain's native gas below
//! `alerts.low_gas`, a Stellar account's XLM below `alerts.low_xlm`, read
//! from the snapshot the engine last published. Every alarm goes through
//! one `Alarms` state machine (told once, again every `alerts.realert_after`
//! while it holds, and once when it clears) to the notices — webhooks
//! listen there — and onto the published snapshot at once, so the console
//! shows it even while the engine itself is stuck.

use super::alarm::{AlarmId, AlarmKind, AlarmView, Alarms};
use super::pulse::{Failing, Pulse};
use super::{Notice, Phase, Snapshot};
use crate::config::AlertsConfig;
use crate::model::time::format_duration;
use crate::model::{Chain, TokenId, Units, format_units};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// The alarms as the engine puts them in every snapshot it builds.
pub type RaisedAlarms = Arc<Mutex<Vec<AlarmView>>>;

/// What the watchdog watches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchdogRules {
    pub liveness_after_ms: u64,
    pub realert_after_ms: u64,
    pub low_gas_wei: BTreeMap<Chain, Units>,
    pub low_xlm_stroops: Option<i64>,
}

impl WatchdogRules {
    pub fn new(liveness_after_ms: u64, alerts: &AlertsConfig) -> Self {
        Self {
            liveness_after_ms,
            realert_after_ms: alerts.realert_after_ms,
            low_gas_wei: alerts.low_gas_wei.clone(),
            low_xlm_stroops: alerts.low_xlm_stroops,
        }
    }

    /// How often to look: a quarter of the liveness window, 100 ms to 5 s.
    pub fn every(&self) -> Duration {
        Duration::from_millis((self.liveness_after_ms / 4).clamp(100, 5_000))
    }
}

/// The watchdog's state; `run` drives it, `check` is one look.
pub struct Watchdog {
    rules: WatchdogRules,
    alarms: Alarms,
    pulse: Arc<Pulse>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    publish: Arc<watch::Sender<Arc<Snapshot>>>,
    notices: broadcast::Sender<Notice>,
    raised: RaisedAlarms,
}

impl Watchdog {
    pub(super) fn new(
        rules: WatchdogRules,
        pulse: Arc<Pulse>,
        publish: Arc<watch::Sender<Arc<Snapshot>>>,
        notices: broadcast::Sender<Notice>,
        raised: RaisedAlarms,
    ) -> Self {
        Self {
            alarms: Alarms::new(rules.realert_after_ms),
            rules,
            pulse,
            snapshots: publish.subscribe(),
            publish,
            notices,
            raised,
        }
    }

    /// Look every `rules.every()` until the engine has stopped.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(self.rules.every());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let snapshot = self.snapshots.borrow().clone();
            if snapshot.phase == Phase::Stopped {
                return;
            }
            let now_ms =
                u64::try_from(self.pulse.started_at().elapsed().as_millis()).unwrap_or(u64::MAX);
            let quiet = self.pulse.quiet_for();
            let mut notices = self.check(&snapshot, quiet, now_ms);
            notices.extend(self.check_failing(self.pulse.failing().as_ref(), now_ms));
            if notices.is_empty() {
                continue;
            }
            let views = self.alarms.views();
            *self.raised.lock().unwrap_or_else(|p| p.into_inner()) = views.clone();
            self.publish
                .send_modify(|s| Arc::make_mut(s).alarms = views);
            for notice in notices {
                match &notice {
                    Notice::Alarm { .. } => tracing::warn!(notice = %notice.headline(), "alarm"),
                    _ => tracing::info!(notice = %notice.headline(), "alarm cleared"),
                }
                let _ = self.notices.send(notice);
            }
        }
    }

    /// One look: what `snapshot` shows and how long the engine has been
    /// quiet, against the rules; the notices due now.
    pub fn check(&mut self, snapshot: &Snapshot, quiet: Duration, now_ms: u64) -> Vec<Notice> {
        let mut out = Vec::new();
        let quiet_ms = u64::try_from(quiet.as_millis()).unwrap_or(u64::MAX);
        let liveness = (quiet_ms >= self.rules.liveness_after_ms).then(|| {
            format!(
                "no engine pass has completed for {} (limit {}; phase {})",
                format_duration(quiet_ms),
                format_duration(self.rules.liveness_after_ms),
                snapshot.phase.label()
            )
        });
        out.extend(self.alarms.observe(
            AlarmId::new(AlarmKind::Liveness, "engine"),
            liveness,
            now_ms,
        ));

        let mut chains = Vec::new();
        for (chain, floor) in &self.rules.low_gas_wei {
            // A chain whose balance this run does not read is not judged.
            let Some(row) = snapshot
                .balances
                .iter()
                .find(|b| b.chain == *chain && b.token == TokenId::Eth)
            else {
                continue;
            };
            let subject = chain.name().to_ascii_lowercase();
            chains.push(subject.clone());
            let low = (row.amount < *floor).then(|| {
                format!(
                    "{} ETH for gas, below {} ETH",
                    format_units(row.amount, 18),
                    format_units(*floor, 18)
                )
            });
            out.extend(
                self.alarms
                    .observe(AlarmId::new(AlarmKind::LowGas, subject), low, now_ms),
            );
        }
        out.extend(
            self.alarms
                .retain_subjects(AlarmKind::LowGas, &chains, now_ms),
        );

        let mut accounts = Vec::new();
        if let (Some(floor), Some(stellar)) = (self.rules.low_xlm_stroops, &snapshot.stellar) {
            for account in &stellar.accounts {
                accounts.push(account.id.clone());
                let low = (account.xlm < floor)
                    .then(|| format!("{} XLM, below {} XLM", stroops(account.xlm), stroops(floor)));
                out.extend(self.alarms.observe(
                    AlarmId::new(AlarmKind::LowXlm, account.id.clone()),
                    low,
                    now_ms,
                ));
            }
        }
        out.extend(
            self.alarms
                .retain_subjects(AlarmKind::LowXlm, &accounts, now_ms),
        );
        out
    }

    /// One look at the passes' outcomes: `failing` is the pulse's (`None`
    /// while the last pass succeeded); the notice due now, if any.
    pub fn check_failing(&mut self, failing: Option<&Failing>, now_ms: u64) -> Option<Notice> {
        let problem = failing.and_then(|f| {
            let for_ms = u64::try_from(f.for_.as_millis()).unwrap_or(u64::MAX);
            (for_ms >= self.rules.liveness_after_ms).then(|| {
                format!(
                    "no engine pass has succeeded for {} (limit {}; {} failed in a row; last error: {})",
                    format_duration(for_ms),
                    format_duration(self.rules.liveness_after_ms),
                    f.in_a_row,
                    f.last_error
                )
            })
        });
        self.alarms
            .observe(AlarmId::new(AlarmKind::Failing, "engine"), problem, now_ms)
    }

    pub fn alarms(&self) -> Vec<AlarmView> {
        self.alarms.views()
    }
}

fn stroops(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}", format_units(u128::from(v.unsigned_abs()), 7))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Mode;
    use crate::engine::snapshot::BalanceRow;

    fn rules() -> WatchdogRules {
        WatchdogRules {
            liveness_after_ms: 60_000,
            realert_after_ms: 3_600_000,
            low_gas_wei: [(Chain::Hemi, 10u128.pow(16))].into_iter().collect(),
            low_xlm_stroops: None,
        }
    }

    fn dog(rules: WatchdogRules) -> Watchdog {
        let (tx, _) = watch::channel(Arc::new(Snapshot::empty(Mode::Paper, 0)));
        let (notices, _) = broadcast::channel(8);
        Watchdog::new(
            rules,
            Arc::new(Pulse::new()),
            Arc::new(tx),
            notices,
            RaisedAlarms::default(),
        )
    }

    fn with_hemi_eth(wei: Units) -> Snapshot {
        let mut s = Snapshot::empty(Mode::Paper, 0);
        s.phase = Phase::Running;
        s.balances.push(BalanceRow {
            chain: Chain::Hemi,
            token: TokenId::Eth,
            amount: wei,
        });
        s
    }

    #[test]
    fn a_quiet_engine_raises_liveness_once_and_clears_when_a_pass_completes() {
        let mut d = dog(rules());
        let s = with_hemi_eth(10u128.pow(17));
        assert!(d.check(&s, Duration::from_secs(59), 59_000).is_empty());
        let raised = d.check(&s, Duration::from_secs(60), 60_000);
        assert!(
            matches!(
                &raised[..],
                [Notice::Alarm {
                    alarm: AlarmKind::Liveness,
                    repeat: 0,
                    ..
                }]
            ),
            "{raised:?}"
        );
        assert!(
            d.check(&s, Duration::from_secs(600), 600_000).is_empty(),
            "told once"
        );
        let cleared = d.check(&s, Duration::from_secs(1), 601_000);
        assert!(
            matches!(
                &cleared[..],
                [Notice::AlarmCleared {
                    alarm: AlarmKind::Liveness,
                    lasted_ms: 541_000,
                    ..
                }]
            ),
            "{cleared:?}"
        );
        assert!(d.alarms().is_empty());
    }

    #[test]
    fn passes_that_keep_failing_raise_their_own_alarm_once_and_clear_on_a_success() {
        let mut d = dog(rules());
        let failing = |secs| Failing {
            for_: Duration::from_secs(secs),
            in_a_row: secs,
            last_error: "keeper failing: venue down".into(),
        };
        assert_eq!(d.check_failing(None, 0), None);
        assert_eq!(
            d.check_failing(Some(&failing(59)), 59_000),
            None,
            "within the window"
        );
        match d.check_failing(Some(&failing(60)), 60_000) {
            Some(Notice::Alarm {
                alarm: AlarmKind::Failing,
                subject,
                message,
                repeat: 0,
            }) => {
                assert_eq!(subject, "engine");
                assert!(message.contains("succeeded for 1m"), "{message}");
                assert!(message.contains("60 failed in a row"), "{message}");
                assert!(message.contains("venue down"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            d.check_failing(Some(&failing(600)), 600_000),
            None,
            "told once"
        );
        assert_eq!(d.alarms()[0].kind, AlarmKind::Failing);
        assert!(matches!(
            d.check_failing(None, 601_000),
            Some(Notice::AlarmCleared {
                alarm: AlarmKind::Failing,
                lasted_ms: 541_000,
                ..
            })
        ));
        assert!(d.alarms().is_empty());
    }

    #[test]
    fn low_gas_is_judged_per_chain_read_and_cleared_when_topped_up() {
        let mut d = dog(rules());
        let low = d.check(&with_hemi_eth(10u128.pow(15)), Duration::ZERO, 0);
        match &low[..] {
            [
                Notice::Alarm {
                    alarm: AlarmKind::LowGas,
                    subject,
                    message,
                    ..
                },
            ] => {
                assert_eq!(subject, "hemi");
                assert!(
                    message.contains("0.001") && message.contains("0.01"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        let up = d.check(&with_hemi_eth(10u128.pow(16)), Duration::ZERO, 1);
        assert!(
            matches!(
                &up[..],
                [Notice::AlarmCleared {
                    alarm: AlarmKind::LowGas,
                    ..
                }]
            ),
            "{up:?}"
        );
        // A run that does not read the chain judges nothing about it.
        let mut d = dog(rules());
        let mut blind = Snapshot::empty(Mode::Live, 0);
        blind.phase = Phase::Running;
        assert!(d.check(&blind, Duration::ZERO, 0).is_empty());
    }

    #[test]
    fn low_xlm_per_account() {
        use crate::engine::snapshot::stellar::{AccountRow, StellarView};
        let mut d = dog(WatchdogRules {
            low_xlm_stroops: Some(50_000_000),
            low_gas_wei: BTreeMap::new(),
            ..rules()
        });
        let mut s = Snapshot::empty(Mode::Paper, 0);
        s.phase = Phase::Running;
        let account = |id: &str, xlm| AccountRow {
            id: id.into(),
            xlm,
            lines: Vec::new(),
        };
        s.stellar = Some(StellarView {
            network: "TESTNET".into(),
            ledger: 1,
            started: true,
            status: String::new(),
            accounts: vec![account("GA", 49_999_999), account("GB", 50_000_000)],
            oracle: Vec::new(),
            opportunities: Vec::new(),
            executions: Vec::new(),
            ..StellarView::default()
        });
        let n = d.check(&s, Duration::ZERO, 0);
        match &n[..] {
            [
                Notice::Alarm {
                    alarm: AlarmKind::LowXlm,
                    subject,
                    message,
                    ..
                },
            ] => {
                assert_eq!(subject, "GA");
                assert!(message.contains("4.9999999 XLM"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
