//! The checks on this machine: the config (a key that does not parse is
//! named), the secrets the mode needs (only ever "set" or "missing"), the
//! data dir (there, ours, writable, private, its files private, room on its
//! disk) and whether an engine runs on it. Nothing is created or changed:
//! a data dir that does not exist yet is the first start's to create.

use super::{Check, Env, Group};
use crate::config::{Config, ConfigError, Secret, Secrets};
use crate::model::Mode;
use crate::notify::{WEBHOOK_URL_ENV, WebhookUrl};
use crate::redact;
use crate::venue::evm::Wallet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Free space on the data dir's filesystem below which the disk check warns
/// or fails. The store and the logs grow by a few MiB a day; redb needs
/// room to commit, and a full disk stops every write the engine makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskLimits {
    pub warn_below: u64,
    pub fail_below: u64,
}

impl Default for DiskLimits {
    fn default() -> Self {
        DiskLimits {
            warn_below: GIB,
            fail_below: 100 * MIB,
        }
    }
}

pub fn config_failed(e: &ConfigError) -> Check {
    let fix = match e {
        ConfigError::Read { .. } => "check the path given to --config".to_string(),
        ConfigError::Syntax { path, .. } => format!("correct the TOML syntax of {path}"),
        ConfigError::Invalid { path, key, .. } => format!(
            "correct `{key}` in {path} (config.toml.example documents every key and its default)"
        ),
        ConfigError::Unknown { path, key } => {
            format!("remove or correct `{key}` in {path} (config.toml.example lists every key)")
        }
        ConfigError::Env { var, .. } => format!("correct {var} in the environment"),
    };
    // A config value may be a URL with a key in it.
    Check::fail(Group::Local, "config", redact::urls_in(&e.to_string()), fix)
}

pub fn config_loaded(config: &Config) -> Check {
    let mode = format!("{:?}", config.mode).to_lowercase();
    Check::ok(
        Group::Local,
        "config",
        format!("{}: mode {mode}", config.source),
    )
}

/// The wallet (the loop signs its transactions with it wherever it runs
/// on chains: devnet, and live with `[evm]`) and the webhook URL. Stellar's and Schwab's secrets are checked with their venue.
pub fn secrets(config: &Config, env: &Env) -> Vec<Check> {
    let mut checks = Vec::new();
    let secret = |name: &str| env(name).filter(|v| !v.trim().is_empty()).map(Secret::new);
    if config.mode == Mode::Devnet || (config.mode == Mode::Live && config.evm.is_some()) {
        let secrets = Secrets {
            private_key: secret("ARBITRAGE_PRIVATE_KEY"),
            mnemonic: secret("ARBITRAGE_MNEMONIC"),
            webhook_url: None,
        };
        let which = if secrets.private_key.is_some() {
            "ARBITRAGE_PRIVATE_KEY"
        } else {
            "ARBITRAGE_MNEMONIC"
        };
        checks.push(match Wallet::from_secrets(&secrets) {
            // The address is public; the key is only ever "set".
            Ok(w) => Check::ok(
                Group::Local,
                "wallet key",
                format!("{which} set (wallet {})", w.address()),
            ),
            Err(e) => Check::fail(
                Group::Local,
                "wallet key",
                e.to_string(),
                "export ARBITRAGE_PRIVATE_KEY=0x… (or ARBITRAGE_MNEMONIC) in the engine's environment, never in the config file",
            ),
        });
    } else {
        checks.push(Check::skip(
            Group::Local,
            "wallet key",
            format!(
                "not needed in {} mode (the loop's wallet signs only where the loop runs on chains: [evm])",
                format!("{:?}", config.mode).to_lowercase()
            ),
        ));
    }
    checks.push(match secret(WEBHOOK_URL_ENV) {
        None => Check::skip(
            Group::Local,
            "webhook URL",
            format!("{WEBHOOK_URL_ENV} not set: no webhooks are posted"),
        ),
        // The host is not secret and tells the operator which receiver it is.
        Some(url) => match WebhookUrl::parse(url.expose()) {
            Ok(u) => Check::ok(
                Group::Local,
                "webhook URL",
                format!("{WEBHOOK_URL_ENV} set (to {})", u.host()),
            ),
            Err(e) => Check::fail(
                Group::Local,
                "webhook URL",
                format!("{WEBHOOK_URL_ENV} set, but {e}"),
                format!("set {WEBHOOK_URL_ENV} to the receiver's https:// URL"),
            ),
        },
    });
    checks
}

pub fn engine(holder: Option<u32>) -> Check {
    match holder {
        Some(0) => Check::ok(
            Group::Local,
            "engine",
            "an engine runs on the data dir (its pid is unreadable); doctor only reads",
        ),
        Some(pid) => Check::ok(
            Group::Local,
            "engine",
            format!("an engine runs on the data dir (pid {pid}); doctor only reads"),
        ),
        None => Check::ok(Group::Local, "engine", "no engine runs on the data dir"),
    }
}

/// The kill switch's limits: off is allowed, but with real money it is a
/// warning.
pub fn kill_switch(config: &Config) -> Check {
    let caps = config.risk.caps.len();
    match config.risk.daily_drawdown_usd {
        Some(limit) => Check::ok(
            Group::Local,
            "kill switch",
            format!("daily drawdown limit {limit} USD over every strategy, {caps} balance caps"),
        ),
        None if config.mode == crate::model::Mode::Paper => Check::ok(
            Group::Local,
            "kill switch",
            format!("no daily drawdown limit (paper money), {caps} balance caps"),
        ),
        None => Check::warn(
            Group::Local,
            "kill switch",
            format!(
                "no daily drawdown limit: nothing pauses every strategy on a bad day ({caps} balance caps)"
            ),
            "set risk.daily_drawdown_usd (USD, over the loop, the hedge and Stellar together)",
        ),
    }
}

/// The data dir: there (or creatable), ours, writable, private (0700),
/// its files private (0600), and room on its filesystem.
pub fn data_dir(dir: &Path, limits: &DiskLimits) -> Vec<Check> {
    let shown = dir.display().to_string();
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return missing_dir(dir, limits);
        }
        Err(e) => {
            return vec![Check::fail(
                Group::Local,
                "data dir",
                format!("{shown}: {e}"),
                "check the path and the permissions of its parents",
            )];
        }
    };
    if !meta.is_dir() {
        return vec![Check::fail(
            Group::Local,
            "data dir",
            format!("{shown} is not a directory"),
            "point data_dir (or --data-dir) at a directory",
        )];
    }
    let mode = meta.permissions().mode() & 0o7777;
    let me = effective_uid();
    let mut checks = vec![if meta.uid() != me {
        Check::fail(
            Group::Local,
            "data dir",
            format!(
                "{shown} belongs to uid {}; arbkeep runs as uid {me}",
                meta.uid()
            ),
            format!("run arbkeep as the dir's owner, or `chown -R {me} {shown}`"),
        )
    } else if mode & 0o200 == 0 {
        // Judged by the mode bits, not by trying: root may write anyway,
        // and the engine (which may not run as root) then cannot.
        Check::fail(
            Group::Local,
            "data dir",
            format!("{shown} is not writable (mode {mode:04o})"),
            format!("chmod 700 {shown}"),
        )
    } else if let Err(e) = writable(dir) {
        Check::fail(
            Group::Local,
            "data dir",
            format!("{shown} is not writable: {e}"),
            "mount its filesystem read-write, or choose another data_dir",
        )
    } else {
        Check::ok(Group::Local, "data dir", format!("{shown}, writable"))
    }];
    checks.push(if mode & 0o077 != 0 {
        Check::warn(
            Group::Local,
            "data dir permissions",
            format!(
                "{shown} is {mode:04o}: other users can look inside (the next start sets 0700)"
            ),
            format!("chmod 700 {shown}"),
        )
    } else {
        Check::ok(
            Group::Local,
            "data dir permissions",
            format!("{mode:04o}: only its owner can look inside"),
        )
    });
    checks.push(file_permissions(dir));
    checks.push(disk_space(dir, limits));
    checks
}

fn missing_dir(dir: &Path, limits: &DiskLimits) -> Vec<Check> {
    let shown = dir.display().to_string();
    let parent = nearest_existing(dir);
    let parent_shown = parent.display().to_string();
    let writable_parent = std::fs::metadata(&parent)
        .map(|m| m.permissions().mode() & 0o200 != 0)
        .unwrap_or(false)
        && writable(&parent).is_ok();
    let dir_check = if writable_parent {
        Check::warn(
            Group::Local,
            "data dir",
            format!("{shown} does not exist yet; the first start creates it (0700)"),
            "nothing to do, unless data_dir should name an existing dir",
        )
    } else {
        Check::fail(
            Group::Local,
            "data dir",
            format!("{shown} does not exist and {parent_shown} is not writable"),
            format!("create {shown} (mode 0700) as the user arbkeep runs as"),
        )
    };
    vec![dir_check, disk_space(&parent, limits)]
}

fn nearest_existing(dir: &Path) -> PathBuf {
    let absolute = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    };
    absolute
        .ancestors()
        .find(|p| p.exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Every file the engine keeps in the data dir (and `logs/`) is 0600: the
/// control token, the sealed Schwab tokens, the store. One that others can
/// read or write fails.
fn file_permissions(dir: &Path) -> Check {
    let mut open = Vec::new();
    let mut unreadable = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("logs")] {
        let entries = match std::fs::read_dir(&sub) {
            Ok(entries) => entries,
            // No logs yet: the first start writes them.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                unreadable.push(format!("{}: {e}", sub.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => {
                    let mode = m.permissions().mode() & 0o777;
                    if mode & 0o077 != 0 {
                        let name = path.strip_prefix(dir).unwrap_or(&path).display();
                        open.push(format!("{name} ({mode:04o})"));
                    }
                }
                Ok(_) => {}
                Err(e) => unreadable.push(format!("{}: {e}", path.display())),
            }
        }
    }
    open.sort();
    if !open.is_empty() {
        return Check::fail(
            Group::Local,
            "file permissions",
            format!("other users can read or write: {}", open.join(", ")),
            format!(
                "chmod 600 each of them in {} (the engine creates its files 0600)",
                dir.display()
            ),
        );
    }
    if !unreadable.is_empty() {
        return Check::warn(
            Group::Local,
            "file permissions",
            format!("cannot read: {}", unreadable.join(", ")),
            "check the files' owner",
        );
    }
    Check::ok(
        Group::Local,
        "file permissions",
        "every file is private to its owner",
    )
}

/// Free space where the data dir lives, against `limits`.
pub fn disk_space(dir: &Path, limits: &DiskLimits) -> Check {
    let free = match free_bytes(dir) {
        Ok(free) => free,
        Err(e) => {
            return Check::warn(
                Group::Local,
                "disk space",
                format!("cannot read the free space of {}: {e}", dir.display()),
                "check it with `df -h`",
            );
        }
    };
    let detail = format!("{} free on {}", bytes(free), dir.display());
    let fix = "free some space, or move data_dir to a larger disk (stop the engine first)";
    if free < limits.fail_below {
        Check::fail(
            Group::Local,
            "disk space",
            format!("{detail}, below {}", bytes(limits.fail_below)),
            fix,
        )
    } else if free < limits.warn_below {
        Check::warn(
            Group::Local,
            "disk space",
            format!("{detail}, below {}", bytes(limits.warn_below)),
            fix,
        )
    } else {
        Check::ok(Group::Local, "disk space", detail)
    }
}

fn bytes(n: u64) -> String {
    if n >= GIB {
        format!("{:.1} GiB", n as f64 / GIB as f64)
    } else {
        format!("{} MiB", n / MIB)
    }
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn c_path(path: &Path) -> Result<std::ffi::CString, String> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| "the path has a NUL byte".into())
}

/// Whether this process may write in `dir` (a read-only mount says no even
/// to root), asked of the kernel without writing anything.
fn writable(dir: &Path) -> Result<(), String> {
    let path = c_path(dir)?;
    // SAFETY: `path` is a valid NUL-terminated string for the call's duration.
    let rc = unsafe { libc::access(path.as_ptr(), libc::W_OK) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().to_string())
    }
}

fn free_bytes(dir: &Path) -> Result<u64, String> {
    let path = c_path(dir)?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is NUL-terminated and `stat` is a writable statvfs.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    // SAFETY: statvfs returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use std::sync::Arc;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Arc::new(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn no_drawdown_limit_warns_with_real_money_only() {
        let mut c = Config::default();
        assert_eq!(kill_switch(&c).status, Status::Ok, "paper");
        c.mode = crate::model::Mode::Live;
        let w = kill_switch(&c);
        assert_eq!(w.status, Status::Warn);
        assert!(w.fix.unwrap().contains("risk.daily_drawdown_usd"));
        c.risk.daily_drawdown_usd = Some(rust_decimal::Decimal::from(500));
        let ok = kill_switch(&c);
        assert_eq!(ok.status, Status::Ok);
        assert!(ok.detail.contains("500 USD"), "{}", ok.detail);
    }

    #[test]
    fn a_bad_config_names_its_key() {
        let e = Config::from_toml("[engine]\nmax_open_cycles = 0\n", "c.toml").unwrap_err();
        let c = config_failed(&e);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("engine.max_open_cycles"), "{}", c.detail);
        assert!(
            c.fix
                .unwrap()
                .contains("`engine.max_open_cycles` in c.toml")
        );
    }

    #[test]
    fn secrets_are_only_set_or_missing() {
        let key = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
        let config = Config {
            mode: Mode::Devnet,
            ..Config::default()
        };
        let checks = secrets(
            &config,
            &env(&[
                ("ARBITRAGE_PRIVATE_KEY", key),
                (WEBHOOK_URL_ENV, "http://hooks.example.com/T0/SECRETPATH"),
            ]),
        );
        assert_eq!(checks[0].status, Status::Ok);
        assert_eq!(checks[1].status, Status::Fail, "plain http off loopback");
        let shown = format!("{checks:?}");
        assert!(
            !shown.contains(&key[2..]) && !shown.contains("SECRETPATH"),
            "{shown}"
        );
        let checks = secrets(&config, &env(&[]));
        assert_eq!(checks[0].status, Status::Fail);
        assert!(checks[0].detail.contains("ARBITRAGE_PRIVATE_KEY"));
        assert_eq!(checks[1].status, Status::Skip);
    }

    #[test]
    fn disk_limits_decide() {
        let dir = tempfile::tempdir().unwrap();
        let all = DiskLimits {
            warn_below: u64::MAX,
            fail_below: u64::MAX,
        };
        assert_eq!(disk_space(dir.path(), &all).status, Status::Fail);
        let none = DiskLimits {
            warn_below: 0,
            fail_below: 0,
        };
        assert_eq!(disk_space(dir.path(), &none).status, Status::Ok);
    }
}
