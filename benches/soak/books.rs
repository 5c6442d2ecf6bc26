//! What the soak checks in a data dir whose engine is dead (so every redb
//! file is free): sends acted more than once at the paper venues, units
//! the engine's books do not explain, per strategy.

use crate::common::{WORLD_FILE, steps_sent_twice};
use arbkeep::engine::Mode;
use arbkeep::model::{Chain, ManualClock, StepStatus, TokenId};
use arbkeep::store::{Reader, Store};
use arbkeep::strategy::cross_chain_loop::ledger::ledger_balances;
use arbkeep::strategy::cross_chain_loop::{Valuation, movements};
use arbkeep::strategy::equity_hedge::paper::BROKER_FILE;
use arbkeep::strategy::equity_hedge::pipeline;
use arbkeep::strategy::stellar_arb::store as kstore;
use arbkeep::strategy::stellar_arb::wiring::PAPER_FILE;
use arbkeep::venue::sim::SimWorld;
use arbkeep::venue::stellar::AccountKey;
use arbkeep::venue::stellar::sim::{FRIENDBOT_AMOUNT, SimLedger};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// One problem: what it is about (a step, a hedge, a token, an account:
/// counted once however often it is seen) and what was seen, in words.
pub type Finding = (String, String);

/// What one look at the books found.
#[derive(Debug, Default)]
pub struct Findings {
    pub duplicate_sends: Vec<Finding>,
    pub lost_units: Vec<Finding>,
    /// What there was to check: sends that acted at the paper chains,
    /// orders at the paper broker, transactions on the paper Stellar.
    pub acted: [usize; 3],
}

/// A finding about the thing named before the first ':'.
fn finding(text: String) -> Finding {
    let about = text.split(':').next().unwrap_or_default().to_string();
    (about, text)
}

impl Findings {
    fn extend(&mut self, other: Findings) {
        self.duplicate_sends.extend(other.duplicate_sends);
        self.lost_units.extend(other.lost_units);
        for (mine, theirs) in self.acted.iter_mut().zip(other.acted) {
            *mine += theirs;
        }
    }
}

/// Every check over `data`, for the loop (world seed `seed`), the hedge and Stellar.
/// The engine's store is opened writable, as a restart would: a file left
/// by a SIGKILL is repaired on open, which a read-only open refuses.
pub fn look(data: &Path, seed: u64) -> Result<Findings, String> {
    let store = Store::open(data, Mode::Paper).map_err(|e| e.to_string())?;
    let reader = store.read().map_err(|e| e.to_string())?;
    let mut all = Findings::default();
    all.extend(cross_chain_loop(data, &reader, seed)?);
    all.extend(equity_hedge(data, &reader, seed)?);
    all.extend(stellar(data, &reader)?);
    Ok(all)
}

/// The loop: a step sent twice over its attempts; a (chain, token) whose
/// world balance differs from the ledger by more than what the world did
/// and the engine has not booked yet (a send whose receipt is not in the
/// ledger, a Stargate delivery not yet credited).
fn cross_chain_loop(data: &Path, reader: &Reader, seed: u64) -> Result<Findings, String> {
    let path = data.join(WORLD_FILE);
    let Some(time) = SimWorld::resume_time(&path).map_err(|e| e.to_string())? else {
        return Ok(Findings::default());
    };
    let world = SimWorld::open(&path, seed, Arc::new(ManualClock::new(time)))
        .map_err(|e| format!("paper world: {e}"))?;
    let duplicate_sends = steps_sent_twice(&world.execution_counts())
        .into_iter()
        .map(|text| {
            let about = text
                .split(" was sent")
                .next()
                .unwrap_or_default()
                .to_string();
            (about, text)
        })
        .collect();

    let entries = reader.ledger(0).map_err(|e| e.to_string())?;
    let booked: BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e.tx_hash.as_deref())
        .collect();
    let mut expected = ledger_balances(&entries);
    let mut steps = BTreeMap::new();
    for cycle in reader.cycles().map_err(|e| e.to_string())? {
        for step in reader.steps(cycle.id).map_err(|e| e.to_string())? {
            steps.insert(step.intent.id.to_string(), (cycle.clone(), step));
        }
    }
    let zero = Valuation {
        eth_usdc: Decimal::ZERO,
        vcred_per_usdc: Decimal::ZERO,
    };
    let mut add = |chain: Chain, token: TokenId, delta: i128| {
        *expected.entry((chain, token)).or_default() += delta;
    };
    for (id, execution) in world.executions().map_err(|e| e.to_string())? {
        let Some(receipt) = execution.receipt else {
            continue;
        };
        if booked.contains(receipt.tx_hash.as_str()) {
            continue;
        }
        // Acted at the world, not booked yet: settled by looking on restart.
        let Some((cycle, step)) = steps.get(&id) else {
            return Err(format!(
                "the world executed {id}, which the store never committed"
            ));
        };
        if matches!(step.status, StepStatus::Done { .. }) {
            continue;
        }
        let (lines, _) = movements(cycle, step.kind(), &step.intent.action, &receipt, &zero);
        for m in lines {
            add(m.chain, m.token, m.delta);
        }
    }
    for t in world.transfers() {
        if let Some(arrival) = t.arrival_receipt()
            && !booked.contains(arrival.tx_hash.as_str())
        {
            add(
                t.ticket.to,
                t.ticket.token,
                i128::try_from(arrival.amount_out).unwrap_or(0),
            );
        }
    }
    let acted = world
        .executions()
        .map_err(|e| e.to_string())?
        .values()
        .filter(|e| e.receipt.is_some())
        .count();
    let mut lost_units = Vec::new();
    let actual: BTreeMap<(Chain, TokenId), i128> = world
        .balances()
        .into_iter()
        .map(|(c, t, a)| ((c, t), i128::try_from(a).unwrap_or(i128::MAX)))
        .collect();
    let keys: BTreeSet<_> = expected.keys().chain(actual.keys()).copied().collect();
    for key in keys {
        let (want, have) = (
            expected.get(&key).copied().unwrap_or(0),
            actual.get(&key).copied().unwrap_or(0),
        );
        if want != have {
            lost_units.push(finding(format!(
                "loop {} {}: world {have}, books explain {want}",
                key.0, key.1
            )));
        }
    }
    Ok(Findings {
        duplicate_sends,
        lost_units,
        acted: [acted, 0, 0],
    })
}

/// The hedge: a client order id the paper broker took more than one order
/// for; and every order the broker filled against the hedge records: a
/// filled hedge must hold a filled order of its shares and side, a failed
/// one no filled order, and a filled order no record holds must be one an
/// open hedge (its answer unknown) is still looking for.
fn equity_hedge(data: &Path, reader: &Reader, seed: u64) -> Result<Findings, String> {
    use arbkeep::strategy::equity_hedge::book::ExecState;
    use arbkeep::venue::broker::OrderState;
    let path = data.join(BROKER_FILE);
    if !path.exists() {
        return Ok(Findings::default());
    }
    let broker = arbkeep::strategy::equity_hedge::paper_broker::PaperBroker::open(
        &path,
        seed,
        Arc::new(ManualClock::new(0)),
    )
    .map_err(|e| e.to_string())?;
    let taken = broker.taken_per_client_id().map_err(|e| e.to_string())?;
    let orders = broker.orders().map_err(|e| e.to_string())?;
    let records = pipeline::read(reader.transaction(), usize::MAX, 0).map_err(|e| e.to_string())?;
    let by_id: BTreeMap<&str, _> = orders.iter().map(|o| (o.order_id.as_str(), o)).collect();
    let mut lost_units = Vec::new();
    let mut held = BTreeSet::new();
    // Open hedges that may hold an order they have not found yet.
    let mut looking: Vec<_> = Vec::new();
    for e in &records.executions {
        let filled_at_broker = |id: &str| {
            by_id.get(id).and_then(|o| match o.state {
                OrderState::Filled { shares, .. } => Some((o.symbol.as_str(), o.side, shares)),
                _ => None,
            })
        };
        match &e.state {
            ExecState::Filled {
                order_id, shares, ..
            } => {
                held.insert(order_id.as_str());
                if filled_at_broker(order_id) != Some((e.symbol(), e.side(), *shares)) {
                    lost_units.push(finding(format!(
                        "hedge h{}: booked {:?} {shares} {} filled as order {order_id}; the broker has {:?}",
                        e.id,
                        e.side(),
                        e.symbol(),
                        by_id.get(order_id.as_str()).map(|o| (&o.state, o.shares))
                    )));
                }
            }
            ExecState::Failed {
                order_id: Some(order_id),
                reason,
                filled_shares,
                ..
            } => {
                held.insert(order_id.as_str());
                let at_broker = by_id.get(order_id.as_str()).map(|o| &o.state);
                let agrees = match at_broker {
                    Some(OrderState::Filled { .. }) => false,
                    Some(OrderState::Rejected {
                        filled_shares: theirs,
                        ..
                    }) => theirs == filled_shares,
                    Some(OrderState::Working { .. }) | None => filled_shares.is_zero(),
                };
                if !agrees {
                    lost_units.push(finding(format!(
                        "hedge h{}: failed ({reason}) with {filled_shares} shares filled; its order {order_id} at the broker: {at_broker:?}",
                        e.id
                    )));
                }
            }
            ExecState::Submitted { order_id } => {
                held.insert(order_id.as_str());
            }
            ExecState::Pending | ExecState::OutcomeUnknown { .. } => {
                looking.push((e.symbol(), e.side(), e.request.shares));
            }
            ExecState::Failed { order_id: None, .. } => {}
        }
    }
    for o in &orders {
        let OrderState::Filled { shares, .. } = o.state else {
            continue;
        };
        if held.contains(o.order_id.as_str()) {
            continue;
        }
        match looking
            .iter()
            .position(|l| *l == (o.symbol.as_str(), o.side, shares))
        {
            Some(i) => {
                looking.swap_remove(i);
            }
            None => lost_units.push(finding(format!(
                "hedge order {}: {:?} {shares} {} filled at the broker, and no hedge record holds or looks for it",
                o.order_id, o.side, o.symbol
            ))),
        }
    }
    Ok(Findings {
        duplicate_sends: taken
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(id, n)| finding(format!("hedge {id}: {n} orders at the paper broker")))
            .collect(),
        lost_units,
        acted: [0, orders.len(), 0],
    })
}

/// What a drain left open, from the stores.
#[derive(Debug, Default)]
pub struct Unsettled {
    /// Open and not waiting for anyone: a drain must not leave these — an
    /// open cycle, a hedge order working or of unknown outcome inside its
    /// listing window, a Stellar send with no result.
    pub stuck: Vec<Finding>,
    /// A hedge not listed after its listing window: nothing is placed
    /// again until the operator resolves it (the default,
    /// `equity_hedge.replace_after_window = false`), and the drain does
    /// not wait for it.
    pub left_to_operator: Vec<Finding>,
}

/// After a drain: what is still unsettled in the stores.
pub fn unsettled(data: &Path) -> Result<Unsettled, String> {
    use arbkeep::strategy::equity_hedge::book::ExecState;
    let now = SimWorld::resume_time(&data.join(WORLD_FILE))
        .map_err(|e| e.to_string())?
        .unwrap_or(0);
    let store = Store::open(data, Mode::Paper).map_err(|e| e.to_string())?;
    let reader = store.read().map_err(|e| e.to_string())?;
    let mut out = Unsettled::default();
    for c in reader.cycles().map_err(|e| e.to_string())? {
        if c.is_open() {
            out.stuck.push(finding(format!(
                "cycle {}: still {} after the drain",
                c.id, c.state
            )));
        }
    }
    let hedges = pipeline::read(reader.transaction(), 0, u64::MAX).map_err(|e| e.to_string())?;
    for e in hedges.executions {
        match &e.state {
            ExecState::OutcomeUnknown { look_until, .. } if *look_until <= now => {
                out.left_to_operator.push(finding(format!(
                    "hedge h{}: not listed after its listing window, for the operator",
                    e.id
                )))
            }
            ExecState::OutcomeUnknown { .. } | ExecState::Submitted { .. } => out.stuck.push(
                finding(format!("hedge h{}: {:?} after the drain", e.id, e.state)),
            ),
            _ => {}
        }
    }
    let settled: BTreeSet<String> = kstore::results(&reader)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|r| r.hash)
        .collect();
    for i in kstore::intents(&reader).map_err(|e| e.to_string())? {
        if !settled.contains(&i.hash) {
            out.stuck.push(finding(format!(
                "stellar {}: no result after the drain",
                i.hash
            )));
        }
    }
    Ok(out)
}

/// Stellar: a sequence number offered two different envelopes (a re-signed
/// send); an account whose XLM differs from its booked lines while it has
/// no open send.
fn stellar(data: &Path, reader: &Reader) -> Result<Findings, String> {
    let path = data.join(PAPER_FILE);
    if !path.exists() {
        return Ok(Findings::default());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let ledger: SimLedger = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let duplicate_sends = ledger
        .offered
        .iter()
        .filter(|(_, hashes)| hashes.len() > 1)
        .map(|(slot, hashes)| {
            (
                format!("stellar {slot}"),
                format!("stellar {slot}: {} envelopes", hashes.len()),
            )
        })
        .collect();

    let intents = kstore::intents(reader).map_err(|e| e.to_string())?;
    let settled: BTreeSet<String> = kstore::results(reader)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|r| r.hash)
        .collect();
    let lines = kstore::ledger(reader).map_err(|e| e.to_string())?;
    let open: BTreeSet<&str> = intents
        .iter()
        .filter(|i| !settled.contains(&i.hash))
        .map(|i| i.account.as_str())
        .collect();
    let accounts: BTreeSet<&str> = intents.iter().map(|i| i.account.as_str()).collect();
    let mut lost_units = Vec::new();
    for account in accounts.difference(&open) {
        let key = AccountKey::parse(account).map_err(|e| e.to_string())?;
        let booked: i64 = lines
            .iter()
            .filter(|l| l.account == *account && l.asset == "XLM")
            .map(|l| l.delta)
            .sum();
        let Some(now) = ledger.accounts.get(&key).map(|a| a.xlm) else {
            continue;
        };
        if now - FRIENDBOT_AMOUNT != booked {
            lost_units.push(finding(format!(
                "stellar {account}: {} stroops at the network, books explain {booked}",
                now - FRIENDBOT_AMOUNT
            )));
        }
    }
    Ok(Findings {
        duplicate_sends,
        lost_units,
        acted: [0, 0, ledger.txs.len()],
    })
}
