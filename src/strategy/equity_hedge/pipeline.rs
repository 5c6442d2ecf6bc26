//! Every change to the hedge's records, each inside the caller's one redb
//! write transaction: dedupe on (chain, tx hash, log index), the trade, the
//! position, the hedge decision (whole shares of |net| ≥ 1, or |net| itself
//! where the broker takes fractional orders, opposite side, one in flight
//! per symbol, offsetting trades oldest first), and the
//! execution's lifecycle (`lifecycle`, re-exported here). The keeper
//! commits one event per transaction; the bench batches.

use super::book::{Alert, ExecState, Execution, Link, Position, Trade, TradeState};
use super::decode::{EventKey, Fill, FillKind, OnchainSide};
use crate::model::Timestamp;
use crate::store::StoreError;
use crate::venue::broker::{OrderRequest, OrderSide};
use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition, TableError,
    WriteTransaction,
};
use rust_decimal::Decimal;

pub use super::lifecycle::*;

/// (chain id, tx hash, log index) → trade id, or 0 for a skipped log.
const SEEN: TableDefinition<(u64, &str, u64), u64> = TableDefinition::new("equity_hedge.seen");
const TRADES: TableDefinition<u64, &[u8]> = TableDefinition::new("equity_hedge.trades");
/// (symbol, side, block, log index) → trade id, for trades with shares not
/// yet offset: a hedge takes them in chain order, oldest first.
pub(super) const OPEN: TableDefinition<(&str, u8, u64, u64), u64> =
    TableDefinition::new("equity_hedge.open_trades");
const POSITIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("equity_hedge.positions");
pub(super) const EXECUTIONS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("equity_hedge.executions");
const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("equity_hedge.alerts");
const META: TableDefinition<&str, u64> = TableDefinition::new("equity_hedge.meta");

/// A symbol whose hedge failed waits this long before the next one,
/// doubled for each further failure in a row, up to `RETRY_AT_MOST`.
pub const RETRY_AFTER_FAILURE: Timestamp = crate::model::time::MINUTE;
pub const RETRY_AT_MOST: Timestamp = crate::model::time::HOUR;

/// The wait after the `n`th failure in a row (n ≥ 1).
pub fn retry_delay(n: u32) -> Timestamp {
    let doublings = n.saturating_sub(1).min(16);
    (RETRY_AFTER_FAILURE << doublings).min(RETRY_AT_MOST)
}

pub(super) fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string())
}

pub(super) use crate::store::{decode as dec, encode as enc};

fn side_code(side: OnchainSide) -> u8 {
    match side {
        OnchainSide::Bought => 0,
        OnchainSide::Sold => 1,
    }
}

/// The next id of a table whose rows are never deleted (trades,
/// executions): one past its last key, and past the counter a store written
/// before kept in `META`. Nothing is written for it, so the hot commit of a
/// fill does not also rewrite `META`'s pages.
fn next_row_id(
    txn: &WriteTransaction,
    table: TableDefinition<u64, &[u8]>,
    counter: &str,
) -> Result<u64, StoreError> {
    let last = txn
        .open_table(table)
        .map_err(db)?
        .last()
        .map_err(db)?
        .map(|(k, _)| k.value())
        .unwrap_or(0);
    let counted = txn
        .open_table(META)
        .map_err(db)?
        .get(counter)
        .map_err(db)?
        .map(|v| v.value())
        .unwrap_or(0);
    last.max(counted)
        .checked_add(1)
        .ok_or_else(|| StoreError::Corrupt {
            table: "equity_hedge.meta",
            key: counter.to_string(),
            reason: "the next id overflows".into(),
        })
}

fn next_id(txn: &WriteTransaction, counter: &str) -> Result<u64, StoreError> {
    let mut meta = txn.open_table(META).map_err(db)?;
    let id = meta
        .get(counter)
        .map_err(db)?
        .map(|v| v.value())
        .unwrap_or(0)
        + 1;
    meta.insert(counter, id).map_err(db)?;
    Ok(id)
}

/// Create every table, so readers find them before the first event.
pub fn init(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(SEEN).map_err(db)?;
    txn.open_table(TRADES).map_err(db)?;
    txn.open_table(OPEN).map_err(db)?;
    txn.open_table(POSITIONS).map_err(db)?;
    txn.open_table(EXECUTIONS).map_err(db)?;
    txn.open_table(ALERTS).map_err(db)?;
    txn.open_table(META).map_err(db)?;
    Ok(())
}

pub(super) fn get_position(txn: &WriteTransaction, symbol: &str) -> Result<Position, StoreError> {
    let t = txn.open_table(POSITIONS).map_err(db)?;
    let found = t.get(symbol).map_err(db)?;
    match found {
        Some(v) => dec("equity_hedge.positions", symbol, v.value()),
        None => Ok(Position {
            symbol: symbol.to_string(),
            ..Position::default()
        }),
    }
}

pub(super) fn put_position(txn: &WriteTransaction, p: &Position) -> Result<(), StoreError> {
    let bytes = enc("equity_hedge.positions", p)?;
    txn.open_table(POSITIONS)
        .map_err(db)?
        .insert(p.symbol.as_str(), bytes.as_slice())
        .map_err(db)?;
    Ok(())
}

/// A record that must exist: one referenced by another is never missing.
fn get_record<T: serde::de::DeserializeOwned>(
    txn: &WriteTransaction,
    table: TableDefinition<u64, &[u8]>,
    name: &'static str,
    id: u64,
) -> Result<T, StoreError> {
    let t = txn.open_table(table).map_err(db)?;
    let v = t.get(id).map_err(db)?.ok_or_else(|| StoreError::Corrupt {
        table: name,
        key: id.to_string(),
        reason: "referenced but missing".into(),
    })?;
    dec(name, id, v.value())
}

fn put_record<T: serde::Serialize>(
    txn: &WriteTransaction,
    (name, table): (&'static str, TableDefinition<u64, &[u8]>),
    id: u64,
    record: &T,
) -> Result<(), StoreError> {
    let bytes = enc(name, record)?;
    txn.open_table(table)
        .map_err(db)?
        .insert(id, bytes.as_slice())
        .map_err(db)?;
    Ok(())
}

pub(super) fn get_trade(txn: &WriteTransaction, id: u64) -> Result<Trade, StoreError> {
    get_record(txn, TRADES, "equity_hedge.trades", id)
}

pub(super) fn put_trade(txn: &WriteTransaction, trade: &Trade) -> Result<(), StoreError> {
    put_record(txn, ("equity_hedge.trades", TRADES), trade.id, trade)
}

pub(super) fn open_key(trade: &Trade) -> (&str, u8, u64, u64) {
    (
        trade.symbol.as_str(),
        side_code(trade.side),
        trade.block_number,
        trade.key.log_index,
    )
}

pub fn get_execution(txn: &WriteTransaction, id: u64) -> Result<Execution, StoreError> {
    get_record(txn, EXECUTIONS, "equity_hedge.executions", id)
}

pub(super) fn put_execution(txn: &WriteTransaction, e: &Execution) -> Result<(), StoreError> {
    put_record(txn, ("equity_hedge.executions", EXECUTIONS), e.id, e)
}

pub fn alert(
    txn: &WriteTransaction,
    symbol: Option<&str>,
    message: String,
    now: Timestamp,
) -> Result<Alert, StoreError> {
    let alert = Alert {
        id: next_id(txn, "next_alert")?,
        at: now,
        symbol: symbol.map(str::to_string),
        message,
    };
    let bytes = enc("equity_hedge.alerts", &alert)?;
    txn.open_table(ALERTS)
        .map_err(db)?
        .insert(alert.id, bytes.as_slice())
        .map_err(db)?;
    Ok(alert)
}

/// Decimal places of a fractional hedge order (Alpaca takes 9).
pub const FRACTIONAL_PLACES: u32 = 9;

/// How a decision sizes its order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sizing {
    /// floor(|net|) whole shares once |net| is 1 or more (Schwab, the paper
    /// broker, the seed): the remainder waits in the accumulator.
    #[default]
    WholeShares,
    /// |net| to [`FRACTIONAL_PLACES`] places (truncated) once it is worth
    /// `min_usd` at the symbol's newest onchain price: a broker that takes
    /// fractional orders (Alpaca with `fractional` on, $1 its minimum).
    Fractional { min_usd: Decimal },
}

/// The guards every hedge decision passes before an order is committed
/// (`[equity_hedge] max_order_shares`, `max_exposure_shares`), and how it
/// sizes the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HedgeLimits {
    /// The most shares one order carries: a larger need is hedged in
    /// orders of this size, one after another as each fills.
    pub max_order_shares: u64,
    /// Past this many uncovered shares of one symbol its hedging holds —
    /// an alarm, not an order: runaway fills or a misread amount must not
    /// become a broker order. It resumes by itself once back under (or
    /// once the operator raises the limit).
    pub max_exposure_shares: u64,
    /// The same guard over all symbols together: past this many uncovered
    /// shares in all, every decision holds (`None`: no total guard).
    pub max_total_exposure_shares: Option<u64>,
    pub sizing: Sizing,
}

impl Default for HedgeLimits {
    fn default() -> Self {
        Self {
            max_order_shares: 1_000,
            max_exposure_shares: 10_000,
            max_total_exposure_shares: None,
            sizing: Sizing::WholeShares,
        }
    }
}

/// The shares a decision orders for `net` under `sizing`, before the size
/// cap, valued at `price` (the symbol's newest onchain price, read only
/// for fractional sizing); `None`: nothing to hedge yet.
fn order_size(
    net: Decimal,
    sizing: Sizing,
    price: impl FnOnce() -> Result<Option<Decimal>, StoreError>,
) -> Result<Option<Decimal>, StoreError> {
    let whole = |n: Decimal| (n >= Decimal::ONE).then(|| n.floor());
    let n = net.abs();
    match sizing {
        Sizing::WholeShares => Ok(whole(n)),
        Sizing::Fractional { min_usd } => {
            let shares = n.trunc_with_scale(FRACTIONAL_PLACES).normalize();
            if shares.is_zero() {
                return Ok(None);
            }
            // No onchain price to value it at: whole shares, as without.
            Ok(match price()? {
                Some(p) => shares
                    .checked_mul(p)
                    .is_some_and(|usd| usd >= min_usd)
                    .then_some(shares),
                None => whole(n),
            })
        }
    }
}

/// What recording a fill did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The same (chain, tx, log index) was recorded before: nothing changed.
    Duplicate,
    New {
        trade: u64,
        /// The hedge decided in the same transaction, to place once committed.
        hedge: Option<Box<Execution>>,
        /// Hedging of the symbol was held by a limit just now (told once).
        held: Option<String>,
    },
}

/// A hedge decision: the order to place, or why the symbol's hedging was
/// newly held (told once, not on every pass while it holds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub hedge: Option<Execution>,
    pub held: Option<String>,
}

/// Record one fill: dedupe, the trade, the position and, when hedging may
/// go ahead (`limits` given), the hedge decision within them.
pub fn record_fill(
    txn: &WriteTransaction,
    fill: &Fill,
    now: Timestamp,
    limits: Option<&HedgeLimits>,
) -> Result<Recorded, StoreError> {
    let k = &fill.key;
    let trade = {
        let mut seen = txn.open_table(SEEN).map_err(db)?;
        if seen
            .get((k.chain_id, k.tx_hash.as_str(), k.log_index))
            .map_err(db)?
            .is_some()
        {
            return Ok(Recorded::Duplicate);
        }
        let id = next_row_id(txn, TRADES, "next_trade")?;
        seen.insert((k.chain_id, k.tx_hash.as_str(), k.log_index), id)
            .map_err(db)?;
        let trade = Trade {
            id,
            key: k.clone(),
            block_number: fill.block_number,
            kind: fill.kind,
            symbol: fill.symbol.clone(),
            token_symbol: fill.token_symbol.clone(),
            side: fill.side,
            shares: fill.shares,
            usdc: fill.usdc,
            price: fill.price,
            seen_at: now,
            unallocated: fill.shares,
            state: TradeState::Live,
        };
        put_trade(txn, &trade)?;
        txn.open_table(OPEN)
            .map_err(db)?
            .insert(open_key(&trade), id)
            .map_err(db)?;
        id
    };
    let mut pos = get_position(txn, &fill.symbol)?;
    match fill.side {
        OnchainSide::Bought => pos.long += fill.shares,
        OnchainSide::Sold => pos.short += fill.shares,
    }
    pos.fills += 1;
    pos.last_fill_at = Some(now);
    let decision = match limits {
        Some(l) => decide_for(txn, &mut pos, now, l)?,
        None => Decision::default(),
    };
    pos.touch_exposure(now);
    put_position(txn, &pos)?;
    Ok(Recorded::New {
        trade,
        hedge: decision.hedge.map(Box::new),
        held: decision.held,
    })
}

/// Remember a log of the owner's that cannot be hedged, once, with an alert.
pub fn record_skip(
    txn: &WriteTransaction,
    key: &EventKey,
    reason: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    {
        let mut seen = txn.open_table(SEEN).map_err(db)?;
        let k = (key.chain_id, key.tx_hash.as_str(), key.log_index);
        if seen.get(k).map_err(db)?.is_some() {
            return Ok(false);
        }
        seen.insert(k, 0).map_err(db)?;
    }
    alert(txn, None, format!("skipped {key}: {reason}"), now)?;
    Ok(true)
}

/// Compare the broker's positions with the books, for every symbol the
/// hedge tracks. The broker should hold what it held besides our hedges
/// (the baseline, taken at the first comparison) plus what our filled
/// hedges moved; a hedge in flight explains up to its shares. A
/// difference left unexplained for `polls` comparisons in a row stops
/// that symbol's hedging until the operator looks (`arbkeep resolve
/// p:SYMBOL settle`). Returns the symbols newly stopped, with why.
pub fn reconcile(
    txn: &WriteTransaction,
    at_broker: &[crate::venue::broker::BrokerPosition],
    polls: u32,
    now: Timestamp,
) -> Result<Vec<(String, String)>, StoreError> {
    let symbols: Vec<String> = {
        let t = txn.open_table(POSITIONS).map_err(db)?;
        let mut v = Vec::new();
        for entry in t.iter().map_err(db)? {
            let (k, _) = entry.map_err(db)?;
            v.push(k.value().to_string());
        }
        v
    };
    let mut stopped = Vec::new();
    for symbol in symbols {
        let mut pos = get_position(txn, &symbol)?;
        let actual = at_broker
            .iter()
            .filter(|p| p.symbol == symbol)
            .map(|p| p.quantity)
            .sum::<Decimal>();
        // The baseline is taken only with nothing in flight: an order the
        // broker may or may not have filled yet cannot be told apart from
        // what it held before.
        let baseline = match pos.broker_baseline {
            Some(b) => b,
            None if pos.pending.is_some() => continue,
            None => *pos.broker_baseline.insert(actual - pos.broker_net),
        };
        let diff = actual - (baseline + pos.broker_net);
        pos.broker_seen = Some(actual);
        let in_flight = if pos.pending.is_some() {
            pos.pending_shares
        } else {
            Decimal::ZERO
        };
        if diff.abs() <= in_flight {
            pos.diverging_polls = 0;
        } else {
            pos.diverging_polls = pos.diverging_polls.saturating_add(1);
            if pos.diverging_polls >= polls.max(1) && pos.gated.is_none() {
                let why = format!(
                    "hedging {symbol} stopped: the broker holds {actual}, the books say {} ({diff:+} unexplained for {} checks) — resolve with `arbkeep resolve p:{symbol} settle --reason …` once understood",
                    baseline + pos.broker_net,
                    pos.diverging_polls
                );
                alert(txn, Some(&symbol), why.clone(), now)?;
                pos.gated = Some(why.clone());
                stopped.push((symbol.clone(), why));
            }
        }
        put_position(txn, &pos)?;
    }
    Ok(stopped)
}

/// The operator accepts the broker's position of `symbol` as it was last
/// seen (a trade by hand, a corporate action): the baseline moves to
/// explain it, and hedging resumes.
pub fn accept_broker_position(
    txn: &WriteTransaction,
    symbol: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    let mut pos = get_position(txn, symbol)?;
    if pos.gated.is_none() {
        return Ok(None);
    }
    let seen = pos.broker_seen.unwrap_or_default();
    pos.broker_baseline = Some(seen - pos.broker_net);
    pos.gated = None;
    pos.diverging_polls = 0;
    put_position(txn, &pos)?;
    let note = format!(
        "p:{symbol}: the broker's {seen} accepted by the operator ({reason}); hedging resumes"
    );
    alert(txn, Some(symbol), note.clone(), now)?;
    Ok(Some(note))
}

/// Uncovered shares of every symbol but `symbol`, for the total guard.
fn uncovered_besides(txn: &WriteTransaction, symbol: &str) -> Result<Decimal, StoreError> {
    let t = txn.open_table(POSITIONS).map_err(db)?;
    let mut total = Decimal::ZERO;
    for row in t.iter().map_err(db)? {
        let (k, v) = row.map_err(db)?;
        if k.value() == symbol {
            continue;
        }
        let p: Position = dec("equity_hedge.positions", k.value(), v.value())?;
        total += p.net().abs();
    }
    Ok(total)
}

/// The operator stops (`paused`) or starts hedging `symbol`: fills keep
/// being accounted while it stands, and the uncovered net is hedged once
/// resumed. `Err` says why nothing changed.
pub fn set_paused(
    txn: &WriteTransaction,
    symbol: &str,
    paused: bool,
    now: Timestamp,
) -> Result<Result<String, String>, StoreError> {
    let mut pos = get_position(txn, symbol)?;
    if pos.paused == paused {
        let state = if paused {
            "already paused"
        } else {
            "not paused"
        };
        return Ok(Err(format!("hedging {symbol} is {state}")));
    }
    pos.paused = paused;
    put_position(txn, &pos)?;
    let note = if paused {
        match pos.pending {
            Some(h) => {
                format!("hedging {symbol} paused by the operator (h{h} in flight is still settled)")
            }
            None => format!("hedging {symbol} paused by the operator"),
        }
    } else {
        format!("hedging {symbol} resumed by the operator")
    };
    alert(txn, Some(symbol), note.clone(), now)?;
    Ok(Ok(note))
}

/// The operator sets `symbol`'s uncovered net by hand (`arbkeep position
/// set`): e.g. to 0 after hedging it at the broker themselves. The
/// difference is booked as an operator adjustment trade (kind `operator`,
/// no onchain price: a hedge offsetting it is not valued), so the trail
/// still adds up and the books never change without a record. Refused
/// while a hedge is in flight (settle or drop it first).
pub fn set_position(
    txn: &WriteTransaction,
    symbol: &str,
    net: Decimal,
    reason: &str,
    now: Timestamp,
) -> Result<Result<String, String>, StoreError> {
    let pos = get_position(txn, symbol)?;
    if let Some(h) = pos.pending {
        return Ok(Err(format!(
            "h{h} is in flight for {symbol}: settle or drop it first (arbkeep resolve h{h} …)"
        )));
    }
    let was = pos.net();
    let Some(delta) = net.checked_sub(was).filter(|d| !d.is_zero()) else {
        return Ok(Err(format!(
            "{symbol}'s net is already {}",
            was.normalize()
        )));
    };
    let n = next_id(txn, "next_adjustment")?;
    let fill = Fill {
        key: EventKey {
            chain_id: 0,
            tx_hash: format!("operator-{n}"),
            log_index: 0,
        },
        block_number: 0,
        kind: FillKind::Operator,
        symbol: symbol.to_string(),
        token_symbol: symbol.to_string(),
        side: if delta.is_sign_positive() {
            OnchainSide::Bought
        } else {
            OnchainSide::Sold
        },
        shares: delta.abs(),
        usdc: Decimal::ZERO,
        price: Decimal::ZERO,
    };
    let trade = match record_fill(txn, &fill, now, None)? {
        Recorded::New { trade, .. } => trade,
        Recorded::Duplicate => {
            return Err(StoreError::Corrupt {
                table: "equity_hedge.seen",
                key: fill.key.to_string(),
                reason: "an operator adjustment id was used twice".into(),
            });
        }
    };
    // A hand-set net is a new start: no backoff or hold from before.
    let mut pos = get_position(txn, symbol)?;
    pos.held = None;
    pos.retry_after = None;
    pos.failures_in_a_row = 0;
    put_position(txn, &pos)?;
    let note = format!(
        "{symbol}: net set by the operator from {} to {} (t{trade}, {reason})",
        was.normalize(),
        net.normalize()
    );
    alert(txn, Some(symbol), note.clone(), now)?;
    Ok(Ok(note))
}

/// The hedge decision for `symbol` (the sweeper's entry point).
pub fn decide(
    txn: &WriteTransaction,
    symbol: &str,
    now: Timestamp,
    limits: &HedgeLimits,
) -> Result<Decision, StoreError> {
    let mut pos = get_position(txn, symbol)?;
    let decision = decide_for(txn, &mut pos, now, limits)?;
    pos.touch_exposure(now);
    put_position(txn, &pos)?;
    Ok(decision)
}

/// |net| ≥ 1 and nothing in flight: floor(|net|) shares (at most
/// `max_order_shares`) on the opposite side, linked to the trades it
/// offsets, oldest first — unless |net| is past `max_exposure_shares`.
fn decide_for(
    txn: &WriteTransaction,
    pos: &mut Position,
    now: Timestamp,
    limits: &HedgeLimits,
) -> Result<Decision, StoreError> {
    if pos.pending.is_some()
        || pos.retry_after.is_some_and(|t| now < t)
        || pos.gated.is_some()
        || pos.paused
    {
        return Ok(Decision::default());
    }
    let net = pos.net();
    let Some(size) = order_size(net, limits.sizing, || {
        newest_price(&txn.open_table(TRADES).map_err(db)?, &pos.symbol)
    })?
    else {
        pos.held = None;
        return Ok(Decision::default());
    };
    let total = match limits.max_total_exposure_shares {
        Some(max) => Some((uncovered_besides(txn, &pos.symbol)? + net.abs(), max)),
        None => None,
    };
    let over = if net.abs() > Decimal::from(limits.max_exposure_shares) {
        Some(format!(
            "hedging {} held: {} shares uncovered, over max_exposure_shares {} — check the fills; it resumes once under the limit",
            pos.symbol,
            net.abs(),
            limits.max_exposure_shares
        ))
    } else if let Some((total, max)) = total.filter(|(t, m)| *t > Decimal::from(*m)) {
        Some(format!(
            "hedging {} held: {total} shares uncovered over all symbols, over max_total_exposure_shares {max} — check the fills; it resumes once under the limit",
            pos.symbol,
        ))
    } else {
        None
    };
    if let Some(why) = over {
        if pos.held.as_deref() == Some(why.as_str()) {
            return Ok(Decision::default());
        }
        alert(txn, Some(&pos.symbol), why.clone(), now)?;
        pos.held = Some(why.clone());
        return Ok(Decision {
            hedge: None,
            held: Some(why),
        });
    }
    pos.held = None;
    let shares = size.min(Decimal::from(limits.max_order_shares.max(1)));
    let (side, offsets) = if net.is_sign_positive() {
        (OrderSide::Sell, OnchainSide::Bought)
    } else {
        (OrderSide::Buy, OnchainSide::Sold)
    };
    let links = allocate(txn, &pos.symbol, offsets, shares)?;
    let mut detected_at: Option<Timestamp> = None;
    for l in &links {
        let seen = get_trade(txn, l.trade)?.seen_at;
        detected_at = Some(detected_at.map_or(seen, |d| d.min(seen)));
    }
    match offsets {
        OnchainSide::Bought => pos.long -= shares,
        OnchainSide::Sold => pos.short -= shares,
    }
    let id = next_row_id(txn, EXECUTIONS, "next_execution")?;
    let exec = Execution {
        id,
        request: OrderRequest {
            client_id: format!("hedge-{id}"),
            symbol: pos.symbol.clone(),
            side,
            shares,
            committed_at: now,
        },
        state: ExecState::Pending,
        links,
        created_at: now,
        updated_at: now,
        attempts: 0,
        last_error: None,
        sending: Some(false),
        posts: 0,
        detected_at,
        sent_at: None,
    };
    put_execution(txn, &exec)?;
    pos.pending = Some(id);
    pos.pending_shares = shares;
    Ok(Decision {
        hedge: Some(exec),
        held: None,
    })
}

fn allocate(
    txn: &WriteTransaction,
    symbol: &str,
    side: OnchainSide,
    mut left: Decimal,
) -> Result<Vec<Link>, StoreError> {
    let code = side_code(side);
    let oldest: Vec<u64> = {
        let open = txn.open_table(OPEN).map_err(db)?;
        let mut ids = Vec::new();
        let range = open
            .range((symbol, code, 0u64, 0u64)..=(symbol, code, u64::MAX, u64::MAX))
            .map_err(db)?;
        let mut covered = Decimal::ZERO;
        for entry in range {
            let (_, id) = entry.map_err(db)?;
            ids.push(id.value());
            // Stop early: trades hold at most their shares each.
            let t = get_trade(txn, id.value())?;
            covered += t.unallocated;
            if covered >= left {
                break;
            }
        }
        ids
    };
    let mut links = Vec::new();
    for id in oldest {
        if left.is_zero() {
            break;
        }
        let mut t = get_trade(txn, id)?;
        let take = t.unallocated.min(left);
        t.unallocated -= take;
        left -= take;
        if t.unallocated.is_zero() {
            txn.open_table(OPEN)
                .map_err(db)?
                .remove(open_key(&t))
                .map_err(db)?;
        }
        put_trade(txn, &t)?;
        links.push(Link {
            trade: t.id,
            key: t.key.clone(),
            shares: take,
        });
    }
    if !left.is_zero() {
        return Err(StoreError::Corrupt {
            table: "equity_hedge.open_trades",
            key: symbol.to_string(),
            reason: format!("{left} shares of the bucket have no trade behind them"),
        });
    }
    Ok(links)
}

/// What a removed (reorged) log did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Not a trade of ours (or never seen): nothing to undo.
    Unknown,
    /// Undone entirely: the log may come back and count again.
    Reversed { trade: u64 },
    /// Part was already hedged: the rest is undone, the hedged part is an
    /// alert for a person.
    AfterHedge { trade: u64, hedged: Decimal },
}

pub fn remove(
    txn: &WriteTransaction,
    key: &EventKey,
    now: Timestamp,
) -> Result<Removal, StoreError> {
    let k = (key.chain_id, key.tx_hash.as_str(), key.log_index);
    let id = match txn.open_table(SEEN).map_err(db)?.get(k).map_err(db)? {
        Some(v) if v.value() > 0 => v.value(),
        _ => return Ok(Removal::Unknown),
    };
    let mut t = get_trade(txn, id)?;
    if t.state != TradeState::Live {
        return Ok(Removal::Unknown);
    }
    let undone = t.unallocated;
    let hedged = t.shares - undone;
    if !undone.is_zero() {
        txn.open_table(OPEN)
            .map_err(db)?
            .remove(open_key(&t))
            .map_err(db)?;
    }
    t.unallocated = Decimal::ZERO;
    let mut pos = get_position(txn, &t.symbol)?;
    match t.side {
        OnchainSide::Bought => pos.long -= undone,
        OnchainSide::Sold => pos.short -= undone,
    }
    pos.touch_exposure(now);
    put_position(txn, &pos)?;
    let removal = if hedged.is_zero() {
        t.state = TradeState::Reversed { at: now };
        txn.open_table(SEEN).map_err(db)?.remove(k).map_err(db)?;
        Removal::Reversed { trade: id }
    } else {
        t.state = TradeState::ReorgedAfterHedge { at: now, hedged };
        alert(
            txn,
            Some(&t.symbol),
            format!(
                "REORG after hedge: trade t{id} ({key}) was removed but {hedged} {} were already hedged — check the broker position",
                t.symbol
            ),
            now,
        )?;
        Removal::AfterHedge { trade: id, hedged }
    };
    put_trade(txn, &t)?;
    Ok(removal)
}

pub fn set_watermark(txn: &WriteTransaction, block: u64) -> Result<(), StoreError> {
    txn.open_table(META)
        .map_err(db)?
        .insert("watermark", block)
        .map_err(db)?;
    Ok(())
}

/// Everything a view or recovery reads, from one read transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    pub positions: Vec<Position>,
    /// The most recent trades, newest first.
    pub trades: Vec<Trade>,
    /// Every open execution, then the most recent closed ones; newest first.
    pub executions: Vec<Execution>,
    pub alerts: Vec<Alert>,
    pub watermark: Option<u64>,
    pub trade_count: u64,
    /// Each hedge filled at or after `read`'s `since`: when, and what it
    /// realised in USD (`Execution::realised_usd`).
    pub realised: Vec<(Timestamp, Decimal)>,
    /// Filled hedges since then whose result could not be valued.
    pub unvalued: u32,
}

fn open_ro<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match txn.open_table(def) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(db(e)),
    }
}

/// What a stored execution's state tag says, read from the tag alone: the
/// rest of the record (its request, its links to trades) is skipped, not
/// decoded. A pass looks through every execution for the open ones (and
/// the kill switch for those filled today); the closed ones, nearly all of
/// them after months, are not built for it. A tag this does not know is
/// taken as open, so the full decode decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RecordHead {
    pub open: bool,
    /// When a filled one filled.
    pub filled_at: Option<Timestamp>,
}

pub(super) fn record_head(id: u64, bytes: &[u8]) -> Result<RecordHead, StoreError> {
    #[derive(serde::Deserialize)]
    struct Head {
        state: Tag,
    }
    #[derive(serde::Deserialize)]
    struct Tag {
        state: String,
        #[serde(default)]
        filled_at: Option<Timestamp>,
    }
    let head: Head = dec("equity_hedge.executions", id, bytes)?;
    let tag = head.state.state.as_str();
    Ok(RecordHead {
        open: !matches!(tag, "filled" | "failed"),
        filled_at: (tag == "filled").then_some(head.state.filled_at).flatten(),
    })
}

/// Read the records (`recent` trades, closed executions and alerts at
/// most), and what the hedges filled since `since` realised.
pub fn read(txn: &ReadTransaction, recent: usize, since: Timestamp) -> Result<Records, StoreError> {
    let mut r = Records::default();
    if let Some(t) = open_ro(txn, POSITIONS)? {
        for entry in t.iter().map_err(db)? {
            let (k, v) = entry.map_err(db)?;
            r.positions
                .push(dec("equity_hedge.positions", k.value(), v.value())?);
        }
    }
    if let Some(t) = open_ro(txn, TRADES)? {
        r.trade_count = t.len().map_err(db)?;
        for entry in t.iter().map_err(db)?.rev().take(recent) {
            let (k, v) = entry.map_err(db)?;
            r.trades
                .push(dec("equity_hedge.trades", k.value(), v.value())?);
        }
    }
    if let Some(t) = open_ro(txn, EXECUTIONS)? {
        let mut closed = 0;
        for entry in t.iter().map_err(db)?.rev() {
            let (k, v) = entry.map_err(db)?;
            let head = record_head(k.value(), v.value())?;
            let realised_since = head.filled_at.is_some_and(|at| at >= since);
            if closed >= recent && !head.open && !realised_since {
                continue;
            }
            let e: Execution = dec("equity_hedge.executions", k.value(), v.value())?;
            if let ExecState::Filled { filled_at, .. } = &e.state
                && *filled_at >= since
            {
                match e.realised_usd(|id| trade_price(txn, id)) {
                    Some(result) => r.realised.push(result),
                    None => r.unvalued += 1,
                }
            }
            if e.state.is_open() {
                r.executions.push(e);
            } else if closed < recent {
                closed += 1;
                r.executions.push(e);
            }
        }
    }
    if let Some(t) = open_ro(txn, ALERTS)? {
        for entry in t.iter().map_err(db)?.rev().take(recent) {
            let (k, v) = entry.map_err(db)?;
            r.alerts
                .push(dec("equity_hedge.alerts", k.value(), v.value())?);
        }
    }
    if let Some(t) = open_ro(txn, META)? {
        r.watermark = t.get("watermark").map_err(db)?.map(|v| v.value());
    }
    Ok(r)
}

/// `symbol`'s position as committed (a default one if it has none).
pub fn position(txn: &ReadTransaction, symbol: &str) -> Result<Position, StoreError> {
    let found = match open_ro(txn, POSITIONS)? {
        Some(t) => t.get(symbol).map_err(db)?.map(|v| v.value().to_vec()),
        None => None,
    };
    match found {
        Some(v) => dec("equity_hedge.positions", symbol, &v),
        None => Ok(Position {
            symbol: symbol.to_string(),
            ..Position::default()
        }),
    }
}

/// The onchain price of trade `id`, for valuing a hedge against it.
pub(super) fn trade_price(txn: &ReadTransaction, id: u64) -> Option<Decimal> {
    let table = open_ro(txn, TRADES).ok()??;
    let raw = table.get(id).ok()??;
    let trade: Trade = dec("equity_hedge.trades", id, raw.value()).ok()?;
    priced(&trade)
}

/// A trade's onchain price; an operator adjustment has none.
fn priced(trade: &Trade) -> Option<Decimal> {
    (trade.kind != FillKind::Operator && trade.price > Decimal::ZERO).then_some(trade.price)
}

/// The newest onchain price of `symbol`: what a hedge with no priced trade
/// of its own (an operator adjustment) is bounded by, and what a fractional
/// decision values the net at; `None` if the symbol never traded onchain.
pub(super) fn latest_price(
    txn: &ReadTransaction,
    symbol: &str,
) -> Result<Option<Decimal>, StoreError> {
    match open_ro(txn, TRADES)? {
        Some(t) => newest_price(&t, symbol),
        None => Ok(None),
    }
}

fn newest_price(
    trades: &impl ReadableTable<u64, &'static [u8]>,
    symbol: &str,
) -> Result<Option<Decimal>, StoreError> {
    for entry in trades.iter().map_err(db)?.rev() {
        let (k, v) = entry.map_err(db)?;
        let trade: Trade = dec("equity_hedge.trades", k.value(), v.value())?;
        if trade.symbol == symbol
            && let Some(p) = priced(&trade)
        {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// At most `limit` trades from id `from` on that `keep` accepts, and the id
/// to continue from (`export`).
pub fn trades_page(
    txn: &ReadTransaction,
    from: u64,
    limit: usize,
    keep: impl FnMut(&Trade) -> bool,
) -> Result<(Vec<Trade>, Option<u64>), StoreError> {
    crate::store::page(txn, TRADES, "equity_hedge.trades", from, limit, keep)
}

/// At most `limit` executions (hedges) from id `from` on that `keep`
/// accepts, and the id to continue from (`export`).
pub fn executions_page(
    txn: &ReadTransaction,
    from: u64,
    limit: usize,
    keep: impl FnMut(&Execution) -> bool,
) -> Result<(Vec<Execution>, Option<u64>), StoreError> {
    crate::store::page(
        txn,
        EXECUTIONS,
        "equity_hedge.executions",
        from,
        limit,
        keep,
    )
}

/// Open executions, for settling (recovery and every pass).
pub fn open_executions(txn: &ReadTransaction) -> Result<Vec<Execution>, StoreError> {
    let mut out = Vec::new();
    if let Some(t) = open_ro(txn, EXECUTIONS)? {
        for entry in t.iter().map_err(db)? {
            let (k, v) = entry.map_err(db)?;
            if !record_head(k.value(), v.value())?.open {
                continue;
            }
            let e: Execution = dec("equity_hedge.executions", k.value(), v.value())?;
            if e.state.is_open() {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// One execution by id, if it exists.
pub fn execution(txn: &ReadTransaction, id: u64) -> Result<Option<Execution>, StoreError> {
    let Some(t) = open_ro(txn, EXECUTIONS)? else {
        return Ok(None);
    };
    let found = t.get(id).map_err(db)?;
    found
        .map(|v| dec("equity_hedge.executions", id, v.value()))
        .transpose()
}

/// Every broker order id a hedge other than `except` holds: `find` never
/// claims one of them for another hedge.
pub fn held_order_ids(txn: &ReadTransaction, except: u64) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    if let Some(t) = open_ro(txn, EXECUTIONS)? {
        for entry in t.iter().map_err(db)? {
            let (k, v) = entry.map_err(db)?;
            if k.value() == except {
                continue;
            }
            let e: Execution = dec("equity_hedge.executions", k.value(), v.value())?;
            if let Some(id) = e.order_id() {
                out.push(id.to_string());
            }
        }
    }
    Ok(out)
}

/// Symbols whose net is big enough to order under `sizing` with nothing in
/// flight (sweeper).
pub fn unhedged(
    txn: &ReadTransaction,
    now: Timestamp,
    sizing: Sizing,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    if let Some(t) = open_ro(txn, POSITIONS)? {
        for entry in t.iter().map_err(db)? {
            let (k, v) = entry.map_err(db)?;
            let p: Position = dec("equity_hedge.positions", k.value(), v.value())?;
            let waiting = p.retry_after.is_some_and(|t| now < t);
            if p.pending.is_none()
                && !waiting
                && order_size(p.net(), sizing, || latest_price(txn, &p.symbol))?.is_some()
            {
                out.push(p.symbol);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mode;
    use crate::store::Store;

    fn bought(tx: &str, shares: Decimal) -> Fill {
        Fill {
            key: EventKey {
                chain_id: 8453,
                tx_hash: tx.into(),
                log_index: 0,
            },
            block_number: 1,
            kind: FillKind::Take,
            symbol: "AAPL".into(),
            token_symbol: "tAAPL".into(),
            side: OnchainSide::Bought,
            shares,
            usdc: Decimal::from(200) * shares,
            price: Decimal::from(200),
        }
    }

    #[test]
    fn ids_continue_past_the_counters_an_older_store_kept_and_never_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Mode::Paper).unwrap();
        store.write(|w| init(w.transaction())).unwrap();
        // A store written before ids came from the last key kept counters.
        store
            .write(|w| {
                let mut meta = w.transaction().open_table(META).map_err(db)?;
                meta.insert("next_trade", 41).map_err(db)?;
                meta.insert("next_execution", 7).map_err(db)?;
                Ok(())
            })
            .unwrap();
        let limits = HedgeLimits::default();
        let mut trades = Vec::new();
        let mut hedges = Vec::new();
        for (i, shares) in [Decimal::ONE, Decimal::new(5, 1)].into_iter().enumerate() {
            let fill = bought(&format!("0x{i:064x}"), shares);
            let recorded = store
                .write(|w| record_fill(w.transaction(), &fill, 1, Some(&limits)))
                .unwrap();
            let Recorded::New { trade, hedge, .. } = recorded else {
                panic!("a new fill")
            };
            trades.push(trade);
            hedges.extend(hedge.map(|h| h.id));
        }
        assert_eq!(trades, vec![42, 43]);
        assert_eq!(
            hedges,
            vec![8],
            "one share decided one hedge, past the counter"
        );
        // The next trade follows the last key, the counter untouched.
        let fill = bought(&format!("0x{:064x}", 9), Decimal::ONE);
        let recorded = store
            .write(|w| record_fill(w.transaction(), &fill, 1, None))
            .unwrap();
        assert!(
            matches!(recorded, Recorded::New { trade: 44, .. }),
            "{recorded:?}"
        );
    }

    #[test]
    fn whole_shares_floor_the_net_and_fractional_ones_need_a_dollar_of_it() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let at = |p: &str| {
            let p = d(p);
            move || Ok(Some(p))
        };
        let whole = Sizing::WholeShares;
        assert_eq!(
            order_size(d("-2.7"), whole, at("200")).unwrap(),
            Some(d("2"))
        );
        assert_eq!(order_size(d("0.99"), whole, at("200")).unwrap(), None);
        let fractional = Sizing::Fractional { min_usd: d("1") };
        assert_eq!(
            order_size(d("0.0049"), fractional, at("200")).unwrap(),
            None,
            "$0.98"
        );
        assert_eq!(
            order_size(d("-0.005"), fractional, at("200")).unwrap(),
            Some(d("0.005")),
            "$1.00"
        );
        assert_eq!(
            order_size(d("0.1234567899"), fractional, at("200")).unwrap(),
            Some(d("0.123456789")),
            "truncated to 9 places, never rounded up"
        );
        assert_eq!(
            order_size(d("0.0000000009"), fractional, at("1000000")).unwrap(),
            None,
            "nothing left at 9 places"
        );
        // No onchain price to value the net at: whole shares.
        assert_eq!(
            order_size(d("1.5"), fractional, || Ok(None)).unwrap(),
            Some(d("1"))
        );
        assert_eq!(order_size(d("0.5"), fractional, || Ok(None)).unwrap(), None);
    }
}
