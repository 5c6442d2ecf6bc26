//! Stellar, read through the venue's own RPC and Horizon clients: the
//! master secret is set (its public key shown, never the secret), the RPC
//! answers on the configured network, its latest ledger close against this
//! machine's clock, Horizon answers, the master and trading accounts exist,
//! the configured assets' issuers exist and every trading account trusts
//! them, and each has XLM to trade. Only reads: `getNetwork`, `getHealth`
//! and Horizon's `/accounts`. Never Friendbot, never a transaction: what the
//! keeper sets up by itself at start (funding, trustlines) is a warning
//! that says so, and only what it cannot is a failure.

use super::{Check, Env, Group, clock};
use crate::config::Config;
use crate::model::Clock;
use crate::redact;
use crate::strategy::stellar_arb::{SECRET_ENV, StellarArbConfig, trading_key};
use crate::venue::stellar::network::{Endpoints, NetworkVenue};
use crate::venue::stellar::{
    AccountKey, AccountState, BASE_RESERVE, ContractKey, Keypair, StellarAsset, format_amount,
};
use std::future::Future;
use std::time::{Duration, Instant};

/// Every Stellar read's timeout.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// An answer slower than this is a warning.
pub const SLOW_ANSWER: Duration = Duration::from_secs(2);

pub async fn checks(config: &Config, env: &Env, clock: &dyn Clock) -> Vec<Check> {
    let s = &config.stellar_arb;
    if !s.enabled {
        return vec![Check::skip(Group::Stellar, "stellar", "stellar_arb is off")];
    }
    let mut checks = Vec::new();
    let master = match env(SECRET_ENV).filter(|v| !v.trim().is_empty()) {
        None => {
            checks.push(Check::fail(
                Group::Stellar,
                "Stellar secret",
                format!("{SECRET_ENV} missing"),
                format!("export {SECRET_ENV}=S… (the master secret) in the engine's environment"),
            ));
            None
        }
        Some(secret) => match Keypair::from_secret(&secret) {
            Ok(k) => {
                checks.push(Check::ok(
                    Group::Stellar,
                    "Stellar secret",
                    format!("{SECRET_ENV} set (master account {})", k.public()),
                ));
                Some(k)
            }
            // KeyError never repeats the text it was given.
            Err(e) => {
                checks.push(Check::fail(
                    Group::Stellar,
                    "Stellar secret",
                    format!("{SECRET_ENV} set, but {e}"),
                    format!("set {SECRET_ENV} to the master account's S… secret"),
                ));
                None
            }
        },
    };
    let venue = match venue(s) {
        Ok(v) => v,
        Err(e) => {
            checks.push(Check::fail(
                Group::Stellar,
                "Stellar RPC",
                e,
                "correct stellar_arb.rpc_url and stellar_arb.horizon_url",
            ));
            return checks;
        }
    };
    checks.extend(network(&venue, s, clock).await);
    checks.extend(accounts(&venue, s, master.as_ref()).await);
    checks
}

fn venue(s: &StellarArbConfig) -> Result<NetworkVenue, String> {
    let contract = |text: &str| ContractKey::parse(text).map_err(|e| e.to_string());
    NetworkVenue::new(Endpoints {
        horizon_url: s.horizon_url.clone(),
        rpc_url: s.rpc_url.clone(),
        friendbot_url: s.friendbot_url.clone(),
        detector: contract(&s.detector_contract)?,
        reflector: contract(&s.reflector_contract)?,
        timeout: READ_TIMEOUT,
    })
    .map_err(|e| redact::urls_in(&e.to_string()))
}

/// One read under the timeout, and how long it took. Errors are redacted
/// (a client may quote its URL).
async fn timed<T, E: std::fmt::Display>(
    read: impl Future<Output = Result<T, E>>,
) -> (Result<T, String>, Duration) {
    let started = Instant::now();
    // A second above the client's own timeout, so its reason shows first.
    let out = match tokio::time::timeout(READ_TIMEOUT + Duration::from_secs(1), read).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(redact::urls_in(&e.to_string())),
        Err(_) => Err(format!("no answer within {}s", READ_TIMEOUT.as_secs())),
    };
    (out, started.elapsed())
}

fn speed(name: &str, url: &str, took: Duration, fix: &str) -> Check {
    let detail = format!("{} answers in {} ms", redact::url(url), took.as_millis());
    if took > SLOW_ANSWER {
        Check::warn(Group::Stellar, name, format!("{detail}: slow"), fix)
    } else {
        Check::ok(Group::Stellar, name, detail)
    }
}

/// The RPC: it answers, on the configured network, with a ledger close
/// near this machine's clock.
async fn network(venue: &NetworkVenue, s: &StellarArbConfig, clock: &dyn Clock) -> Vec<Check> {
    let mut checks = Vec::new();
    let (info, took) = timed(venue.rpc().get_network()).await;
    let info = match info {
        Ok(i) => i,
        Err(e) => {
            checks.push(Check::fail(
                Group::Stellar,
                "Stellar RPC",
                format!("{}: {e}", redact::url(&s.rpc_url)),
                "check stellar_arb.rpc_url: is the server up, and does this machine reach it?",
            ));
            return checks;
        }
    };
    checks.push(speed(
        "Stellar RPC",
        &s.rpc_url,
        took,
        "use a Stellar RPC server nearer this machine (stellar_arb.rpc_url)",
    ));
    checks.push(if info.passphrase == s.passphrase {
        Check::ok(
            Group::Stellar,
            "Stellar network",
            format!("{:?}, as the config says", info.passphrase),
        )
    } else {
        Check::fail(
            Group::Stellar,
            "Stellar network",
            format!(
                "the RPC is on {:?}; the config says {:?}",
                info.passphrase, s.passphrase
            ),
            "point stellar_arb.rpc_url at a server of the configured network, or correct stellar_arb.network",
        )
    });
    let (health, _) = timed(venue.rpc().get_health()).await;
    checks.push(match health {
        Ok(h) => match h.window {
            Some(w) => clock::skew(
                "Stellar",
                &format!("the close of ledger {}", w.latest),
                clock.now(),
                w.latest_close.saturating_mul(1000),
            ),
            None => Check::skip(
                Group::Clock,
                "Stellar clock",
                "the RPC's getHealth gives no ledger close time (an old stellar-rpc)",
            ),
        },
        Err(e) => Check::fail(
            Group::Clock,
            "Stellar clock",
            format!("getHealth: {e}"),
            "the RPC did not give its latest ledger: use another server",
        ),
    });
    checks
}

/// The accounts the keeper uses: the master, the trading accounts derived
/// from it, their trustlines and XLM.
async fn accounts(
    venue: &NetworkVenue,
    s: &StellarArbConfig,
    master: Option<&Keypair>,
) -> Vec<Check> {
    let Some(master) = master else {
        return vec![Check::skip(
            Group::Stellar,
            "Stellar accounts",
            format!("not checked: {SECRET_ENV} is missing or invalid"),
        )];
    };
    let mut checks = Vec::new();
    let (found, took) = timed(venue.horizon().account(master.public())).await;
    let master_state = match found {
        Ok(state) => {
            checks.push(speed(
                "Horizon",
                &s.horizon_url,
                took,
                "use a Horizon server nearer this machine (stellar_arb.horizon_url)",
            ));
            state
        }
        Err(e) => {
            checks.push(Check::fail(
                Group::Stellar,
                "Horizon",
                format!("{}: {e}", redact::url(&s.horizon_url)),
                "check stellar_arb.horizon_url: is the server up, and does this machine reach it?",
            ));
            checks.push(Check::skip(
                Group::Stellar,
                "Stellar accounts",
                "not checked: Horizon does not answer",
            ));
            return checks;
        }
    };
    let friendbot = s.friendbot_url.is_some();
    checks.push(match &master_state {
        Some(m) => Check::ok(
            Group::Stellar,
            "Stellar master account",
            format!(
                "{} exists, {} XLM spendable",
                m.id,
                format_amount(m.spendable_xlm())
            ),
        ),
        None if friendbot => Check::ok(
            Group::Stellar,
            "Stellar master account",
            format!(
                "{} does not exist; not needed where Friendbot funds the trading accounts",
                master.public()
            ),
        ),
        None => Check::fail(
            Group::Stellar,
            "Stellar master account",
            format!(
                "{} does not exist: it creates and funds the trading accounts",
                master.public()
            ),
            format!(
                "send XLM to {} to create it (at least {} XLM per trading account)",
                master.public(),
                format_amount(s.account_starting_xlm)
            ),
        ),
    });

    let mut trading: Vec<(AccountKey, Option<AccountState>)> = Vec::new();
    for i in 0..s.num_accounts {
        let id = trading_key(master, i).public();
        match timed(venue.horizon().account(id)).await.0 {
            Ok(state) => trading.push((id, state)),
            Err(e) => {
                checks.push(Check::fail(
                    Group::Stellar,
                    "Stellar trading accounts",
                    format!("Horizon, account {id}: {e}"),
                    "Horizon answered the master but not this one: try again, or use another server",
                ));
                return checks;
            }
        }
    }
    checks.push(trading_accounts(s, &trading, master_state.as_ref()));
    checks.push(issuers(venue, s).await);
    checks.push(trustlines(s, &trading));
    checks.push(xlm(s, &trading));
    checks
}

fn trading_accounts(
    s: &StellarArbConfig,
    trading: &[(AccountKey, Option<AccountState>)],
    master: Option<&AccountState>,
) -> Check {
    let name = "Stellar trading accounts";
    let missing: Vec<String> = trading
        .iter()
        .filter(|(_, state)| state.is_none())
        .map(|(id, _)| id.to_string())
        .collect();
    let total = trading.len();
    if missing.is_empty() {
        return Check::ok(Group::Stellar, name, format!("all {total} exist"));
    }
    let n = missing.len();
    let list = missing.join(", ");
    if s.friendbot_url.is_some() {
        return Check::warn(
            Group::Stellar,
            name,
            format!("{n} of {total} not funded yet ({list}): the keeper asks Friendbot at start"),
            "nothing to do, unless Friendbot is unreachable from this machine",
        );
    }
    // PUBLIC: the master creates each one with account_starting_xlm.
    let each = s.account_starting_xlm + i64::from(crate::venue::stellar::tx::BASE_FEE);
    let need = each.saturating_mul(n as i64);
    match master {
        Some(m) if m.spendable_xlm() >= need => Check::warn(
            Group::Stellar,
            name,
            format!("{n} of {total} do not exist yet ({list}): the master creates them at start"),
            "nothing to do: the master account can pay for them",
        ),
        Some(m) => Check::fail(
            Group::Stellar,
            name,
            format!(
                "{n} of {total} do not exist ({list}); the master can spend {} XLM, creating them needs {}",
                format_amount(m.spendable_xlm()),
                format_amount(need)
            ),
            format!(
                "send at least {} XLM more to the master account",
                format_amount(need - m.spendable_xlm())
            ),
        ),
        None => Check::fail(
            Group::Stellar,
            name,
            format!("{n} of {total} do not exist ({list}), and no master account can create them"),
            "create and fund the master account first",
        ),
    }
}

/// A configured asset whose issuer does not exist cannot be trusted: the
/// keeper's ChangeTrust would fail.
async fn issuers(venue: &NetworkVenue, s: &StellarArbConfig) -> Check {
    let name = "Stellar assets";
    let mut missing = Vec::new();
    let mut credits = 0;
    for asset in &s.assets {
        let Some(issuer) = asset.issuer() else {
            continue;
        };
        credits += 1;
        match timed(venue.horizon().account(issuer)).await.0 {
            Ok(Some(_)) => {}
            Ok(None) => missing.push(format!(
                "{}: its issuer {issuer} does not exist",
                asset.code()
            )),
            Err(e) => missing.push(format!("{}: issuer {issuer}: {e}", asset.code())),
        }
    }
    if missing.is_empty() {
        Check::ok(
            Group::Stellar,
            name,
            format!("the issuers of all {credits} configured assets exist"),
        )
    } else {
        Check::fail(
            Group::Stellar,
            name,
            missing.join("; "),
            "correct stellar_arb.assets (CODE:ISSUER, the issuer on this network)",
        )
    }
}

fn trustlines(s: &StellarArbConfig, trading: &[(AccountKey, Option<AccountState>)]) -> Check {
    let name = "Stellar trustlines";
    let credits: Vec<&StellarAsset> = s.assets.iter().filter(|a| !a.is_native()).collect();
    let mut missing = Vec::new();
    let mut unaffordable = Vec::new();
    for (id, state) in trading {
        let Some(state) = state else { continue };
        let lacking: Vec<&str> = credits
            .iter()
            .filter(|a| !state.trusts(a))
            .map(|a| a.code())
            .collect();
        if lacking.is_empty() {
            continue;
        }
        // Each trustline raises the minimum balance by one base reserve.
        let reserve = BASE_RESERVE.saturating_mul(lacking.len() as i64);
        let entry = format!("{id} lacks {}", lacking.join(", "));
        if state.spendable_xlm() < reserve {
            unaffordable.push(format!(
                "{entry} and can spend {} XLM of the {} XLM their reserve needs",
                format_amount(state.spendable_xlm()),
                format_amount(reserve)
            ));
        } else {
            missing.push(entry);
        }
    }
    if !unaffordable.is_empty() {
        return Check::fail(
            Group::Stellar,
            name,
            unaffordable.join("; "),
            "send XLM to those accounts (0.5 XLM of reserve per trustline)",
        );
    }
    if !missing.is_empty() {
        return Check::warn(
            Group::Stellar,
            name,
            format!(
                "{}: the keeper adds them at start (a ChangeTrust each)",
                missing.join("; ")
            ),
            "nothing to do, unless the asset list is not the one you meant",
        );
    }
    Check::ok(
        Group::Stellar,
        name,
        format!(
            "every existing trading account trusts all {} configured assets",
            credits.len()
        ),
    )
}

fn xlm(s: &StellarArbConfig, trading: &[(AccountKey, Option<AccountState>)]) -> Check {
    let name = "Stellar XLM balance";
    let need = s.min_send.saturating_add(s.reserve_guard);
    let poor: Vec<String> = trading
        .iter()
        .filter_map(|(id, state)| state.as_ref().map(|st| (id, st.spendable_xlm())))
        .filter(|(_, spendable)| *spendable < need)
        .map(|(id, spendable)| format!("{id} can spend {} XLM", format_amount(spendable)))
        .collect();
    if poor.is_empty() {
        return Check::ok(
            Group::Stellar,
            name,
            format!(
                "every existing trading account can spend at least {} XLM (min_send plus the reserve guard)",
                format_amount(need)
            ),
        );
    }
    Check::warn(
        Group::Stellar,
        name,
        format!(
            "{}; a cycle needs {} XLM (min_send plus the reserve guard)",
            poor.join("; "),
            format_amount(need)
        ),
        "send those accounts XLM, or they sit out",
    )
}
