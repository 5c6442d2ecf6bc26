//! The pre-trade checks through the keeper and the paper broker: a sell
//! without the shares or a buy without the cash is not sent, written on the
//! hedge, alerted and told once, and checked again only after its backoff
//! or once a funds read differs; a funds read that fails sends nothing and
//! is not a refusal.

use super::*;
use crate::strategy::equity_hedge::pipeline::retry_delay;
use crate::strategy::equity_hedge::pretrade::REFUSED;

fn hedge_notices(rx: &mut broadcast::Receiver<Notice>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(n) = rx.try_recv() {
        if let Notice::EquityHedge { message, .. } = n {
            out.push(message);
        }
    }
    out
}

fn refusals(r: &Rig) -> usize {
    r.hedge
        .records()
        .alerts
        .iter()
        .filter(|a| a.message.contains(REFUSED))
        .count()
}

#[tokio::test(flavor = "current_thread")]
async fn a_sell_without_the_shares_is_not_sent_but_written_told_once_and_checked_after_a_backoff() {
    let mut r = Rig::new(OPEN);
    r.broker.set_opening_shares(d("2"));
    let mut rx = r.notices.subscribe();
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "3.2"))], 10);
    r.pass().await;
    assert_eq!(r.broker.places(), 0, "nothing sent");
    let e = r.hedge.records().executions[0].clone();
    assert_eq!(e.state, ExecState::Pending);
    assert_eq!(e.sending, Some(false), "never sent: it may be placed later");
    assert_eq!(e.posts, 0);
    let note = e.last_error.clone().unwrap_or_default();
    assert!(
        note.starts_with(REFUSED) && note.contains("sell 3 AAPL but 2 available"),
        "{note}"
    );
    assert_eq!(refusals(&r), 1);
    let told = hedge_notices(&mut rx);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains(REFUSED), "{told:?}");
    // The open intent says why it waits.
    let mut snap = crate::engine::Snapshot::empty(Mode::Paper, r.clock.now());
    crate::engine::Keeper::render(&r.hedge, &mut snap);
    assert!(
        snap.intents
            .iter()
            .any(|i| i.doing.contains(REFUSED) && i.doing.contains("2 available")),
        "{:?}",
        snap.intents
    );
    // So does the symbol's row on the Positions panel.
    let row = snap.positions.iter().find(|p| p.symbol == "AAPL");
    assert!(
        row.is_some_and(|p| p.note.contains("not sent") && p.note.contains("2 available")),
        "{row:?}"
    );
    // Not checked again every pass: no funds read before the backoff.
    let reads = r.broker.funds_reads();
    for _ in 0..3 {
        r.clock.advance(10 * crate::model::time::SECOND);
        r.pass().await;
    }
    assert_eq!(r.broker.funds_reads(), reads, "waits on its refusal");
    // After the backoff: checked again, still refused, not told again.
    r.clock.advance(retry_delay(1));
    r.pass().await;
    assert_eq!(r.broker.funds_reads(), reads + 1);
    assert_eq!(r.broker.places(), 0);
    assert!(hedge_notices(&mut rx).is_empty());
    assert_eq!(refusals(&r), 1);
    // The shares arrive; after the doubled backoff the hedge goes out, once.
    r.broker.set_opening_shares(d("5"));
    r.clock.advance(retry_delay(2));
    r.pass().await;
    assert_eq!(r.broker.places(), 1);
    let e = r.hedge.records().executions[0].clone();
    assert!(
        matches!(e.state, ExecState::Filled { shares, .. } if shares.eq(&Decimal::from(3u64))),
        "{e:?}"
    );
    assert!(
        r.hedge.records().alerts[0]
            .message
            .contains("pre-trade check passes now"),
        "{:?}",
        r.hedge.records().alerts
    );
    assert_eq!(r.position("AAPL").net(), d("0.2"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_buy_over_the_cash_waits_until_a_funds_read_differs() {
    let mut r = Rig::new(OPEN);
    // 2 shares at the onchain 200 plus 10 %: up to $440.
    r.broker.set_cash(d("439.99"));
    let mut rx = r.notices.subscribe();
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, false, "2.5"))], 10);
    r.pass().await;
    assert_eq!(r.broker.places(), 0);
    let note = r.hedge.records().executions[0]
        .last_error
        .clone()
        .unwrap_or_default();
    assert!(
        note.contains("buy 2 AAPL needs up to $440") && note.contains("$439.99"),
        "{note}"
    );
    assert_eq!(hedge_notices(&mut rx).len(), 1);
    // Cash arrives. Before the backoff, another symbol's hedge reads the
    // funds: they differ from the refused read, so AAPL is checked at once.
    r.broker.set_cash(d("10000"));
    r.clock.advance(10 * crate::model::time::SECOND);
    r.logs
        .push(vec![added(fill_of("NVDA0x", 11, "0xb1", 0, true, "1"))], 11);
    r.pass().await;
    assert_eq!(r.broker.places(), 1, "NVDA sold");
    r.pass().await;
    let orders = r.broker.orders().unwrap();
    assert_eq!(orders.len(), 2, "{orders:?}");
    assert_eq!((orders[1].side, orders[1].shares), (OrderSide::Buy, d("2")));
    assert_eq!(r.position("AAPL").net(), d("-0.5"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_funds_read_that_fails_sends_nothing_and_is_no_refusal() {
    let mut r = Rig::new(OPEN);
    r.broker.fail_next_funds(1);
    let mut rx = r.notices.subscribe();
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "1.5"))], 10);
    r.pass().await;
    assert_eq!(r.broker.places(), 0);
    let e = r.hedge.records().executions[0].clone();
    assert_eq!((e.state, e.last_error), (ExecState::Pending, None));
    assert_eq!(refusals(&r), 0);
    assert!(hedge_notices(&mut rx).is_empty());
    // The next pass reads the funds and sends.
    r.pass().await;
    assert_eq!(r.broker.places(), 1);
    assert_eq!(r.position("AAPL").net(), d("0.5"));
}
