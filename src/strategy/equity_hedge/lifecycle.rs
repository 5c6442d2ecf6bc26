//! The execution's lifecycle, each change inside the caller's write
//! transaction: intent before action (`sending` before every `place`), the
//! broker's answer (an order id, a fill, a refusal that gives the unfilled
//! shares back to the net), an unknown outcome looked for over the listing
//! window, and the operator's retry. Shares are never dropped: a failure
//! returns them to the position's bucket.

use super::book::{ExecState, Execution, Position, TradeState};
use super::decode::OnchainSide;
use super::pipeline::{
    OPEN, alert, db, get_execution, get_position, get_trade, open_key, put_execution, put_position,
    put_trade, retry_delay,
};
use crate::model::Timestamp;
use crate::store::StoreError;
use redb::WriteTransaction;
use rust_decimal::Decimal;

/// Read hedge `id`, change it with `f` (which says whether it changed),
/// and write it back stamped `now`: every step of a hedge's life below.
fn change(
    txn: &WriteTransaction,
    id: u64,
    now: Timestamp,
    f: impl FnOnce(&mut Execution) -> bool,
) -> Result<Execution, StoreError> {
    let mut e = get_execution(txn, id)?;
    if f(&mut e) {
        e.updated_at = now;
        put_execution(txn, &e)?;
    }
    Ok(e)
}

/// Intent before action: a `place` of this hedge is about to leave.
pub fn sending(txn: &WriteTransaction, id: u64, now: Timestamp) -> Result<Execution, StoreError> {
    change(txn, id, now, |e| {
        e.sending = Some(true);
        e.posts = e.posts.saturating_add(1);
        e.sent_at.get_or_insert(now);
        true
    })
}

/// The send was refused before it reached the broker (nothing can exist):
/// pending, and it may be placed again.
pub fn not_sent(
    txn: &WriteTransaction,
    id: u64,
    error: &str,
    now: Timestamp,
) -> Result<Execution, StoreError> {
    change(txn, id, now, |e| {
        e.attempts += 1;
        e.sending = Some(false);
        e.last_error = Some(error.to_string());
        true
    })
}

/// The send may have acted and nobody knows: OUTCOME UNKNOWN, looked for
/// until `look_until`, never placed again blindly.
pub fn outcome_unknown(
    txn: &WriteTransaction,
    id: u64,
    reason: &str,
    now: Timestamp,
    look_until: Timestamp,
) -> Result<Execution, StoreError> {
    change(txn, id, now, |e| {
        if !matches!(
            e.state,
            ExecState::Pending | ExecState::OutcomeUnknown { .. }
        ) {
            return false;
        }
        e.attempts += 1;
        e.sending = Some(false);
        e.last_error = None;
        e.state = ExecState::OutcomeUnknown {
            since: now,
            look_until,
            reason: reason.to_string(),
        };
        true
    })
}

/// What the last look (`find`) said, when it matters: it could not tell,
/// or the window passed (`None` clears it). The hedge stays as it is.
pub fn note_look(
    txn: &WriteTransaction,
    id: u64,
    note: Option<&str>,
    now: Timestamp,
) -> Result<Execution, StoreError> {
    change(txn, id, now, |e| {
        e.last_error = note.map(str::to_string);
        true
    })
}

/// Place an OUTCOME UNKNOWN hedge again (the operator's retry, or
/// `replace_after_window`): pending and sendable, committed anew now so the
/// next look matches the new order, with a line in the hedge's alerts.
pub fn retry(
    txn: &WriteTransaction,
    id: u64,
    note: &str,
    now: Timestamp,
) -> Result<Execution, StoreError> {
    let mut e = get_execution(txn, id)?;
    if !matches!(e.state, ExecState::OutcomeUnknown { .. }) {
        return Ok(e);
    }
    e.state = ExecState::Pending;
    e.sending = Some(false);
    e.request.committed_at = now;
    e.updated_at = now;
    put_execution(txn, &e)?;
    alert(txn, Some(&e.request.symbol), format!("h{id}: {note}"), now)?;
    Ok(e)
}

/// The broker knows the order: record its id.
pub fn submitted(
    txn: &WriteTransaction,
    id: u64,
    order_id: &str,
    now: Timestamp,
) -> Result<Execution, StoreError> {
    let mut e = get_execution(txn, id)?;
    if matches!(
        e.state,
        ExecState::Pending | ExecState::OutcomeUnknown { .. }
    ) {
        e.state = ExecState::Submitted {
            order_id: order_id.to_string(),
        };
        e.sending = Some(false);
        e.updated_at = now;
        e.last_error = None;
        put_execution(txn, &e)?;
    }
    Ok(e)
}

/// Filled (fully or in part): a short fill gives the rest back to the net.
pub fn filled(
    txn: &WriteTransaction,
    id: u64,
    shares: Decimal,
    average_price: Decimal,
    filled_at: Timestamp,
    now: Timestamp,
) -> Result<Execution, StoreError> {
    let mut e = get_execution(txn, id)?;
    if !e.state.is_open() {
        return Ok(e);
    }
    let order_id = match &e.state {
        ExecState::Submitted { order_id } => order_id.clone(),
        _ => String::new(),
    };
    let shares = shares.max(Decimal::ZERO).min(e.request.shares);
    let unfilled = e.request.shares - shares;
    give_back(txn, &mut e, unfilled, now)?;
    e.sending = Some(false);
    e.state = ExecState::Filled {
        order_id,
        shares,
        average_price,
        filled_at,
    };
    e.updated_at = now;
    put_execution(txn, &e)?;
    let mut pos = get_position(txn, &e.request.symbol)?;
    pos.hedged_shares += shares;
    pos.broker_net += match e.request.side {
        crate::venue::broker::OrderSide::Buy => shares,
        crate::venue::broker::OrderSide::Sell => -shares,
    };
    if shares > Decimal::ZERO {
        pos.failures_in_a_row = 0;
    }
    release(&mut pos, e.id, now);
    put_position(txn, &pos)?;
    Ok(e)
}

/// Definitely not (fully) executed: the unfilled shares go back to the net,
/// never dropped.
pub fn failed(
    txn: &WriteTransaction,
    id: u64,
    reason: &str,
    filled_shares: Decimal,
    now: Timestamp,
) -> Result<Execution, StoreError> {
    let mut e = get_execution(txn, id)?;
    if !e.state.is_open() {
        return Ok(e);
    }
    let order_id = match &e.state {
        ExecState::Submitted { order_id } => Some(order_id.clone()),
        _ => None,
    };
    let filled_shares = filled_shares.max(Decimal::ZERO).min(e.request.shares);
    let returned = e.request.shares - filled_shares;
    give_back(txn, &mut e, returned, now)?;
    e.sending = Some(false);
    e.state = ExecState::Failed {
        reason: reason.to_string(),
        order_id,
        filled_shares,
        returned,
    };
    e.updated_at = now;
    put_execution(txn, &e)?;
    let mut pos = get_position(txn, &e.request.symbol)?;
    pos.hedged_shares += filled_shares;
    pos.failures_in_a_row = pos.failures_in_a_row.saturating_add(1);
    pos.retry_after = Some(now + retry_delay(pos.failures_in_a_row));
    release(&mut pos, e.id, now);
    put_position(txn, &pos)?;
    Ok(e)
}

fn release(pos: &mut Position, exec: u64, now: Timestamp) {
    if pos.pending == Some(exec) {
        pos.pending = None;
        pos.pending_shares = Decimal::ZERO;
    }
    pos.touch_exposure(now);
}

/// Undo `shares` of the execution's links, newest first, returning them to
/// their trades and to the position's bucket.
fn give_back(
    txn: &WriteTransaction,
    e: &mut Execution,
    shares: Decimal,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut left = shares;
    let mut to_bucket = Decimal::ZERO;
    let mut side = None;
    while !left.is_zero() {
        let Some(link) = e.links.last_mut() else {
            break;
        };
        let take = link.shares.min(left);
        let mut t = get_trade(txn, link.trade)?;
        side = Some(t.side);
        if t.state == TradeState::Live {
            if t.unallocated.is_zero() {
                txn.open_table(OPEN)
                    .map_err(db)?
                    .insert(open_key(&t), t.id)
                    .map_err(db)?;
            }
            t.unallocated += take;
            to_bucket += take;
            put_trade(txn, &t)?;
        }
        link.shares -= take;
        left -= take;
        if link.shares.is_zero() {
            e.links.pop();
        }
    }
    if !to_bucket.is_zero() {
        let mut pos = get_position(txn, &e.request.symbol)?;
        match side {
            Some(OnchainSide::Bought) => pos.long += to_bucket,
            Some(OnchainSide::Sold) => pos.short += to_bucket,
            None => {}
        }
        pos.touch_exposure(now);
        put_position(txn, &pos)?;
    }
    Ok(())
}
