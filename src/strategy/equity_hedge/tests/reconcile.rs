//! Reconciliation against the broker: the broker's positions compared with
//! the books on an interval; a position changed by hand at the broker
//! stops that symbol's hedging after `divergence_polls` checks, with one
//! alarm and an open item for the operator, until `arbkeep resolve
//! p:SYMBOL settle`; an order filled while arbkeep was down is accounted
//! before the comparison and diverges nothing.

use super::*;
use crate::engine::{Command, Keeper, Resolution};
use crate::model::time::MINUTE;

async fn checks(r: &mut Rig, n: usize) {
    for _ in 0..n {
        r.clock.advance(MINUTE);
        r.pass().await;
    }
}

fn snapshot(r: &Rig) -> crate::engine::Snapshot {
    let mut s = crate::engine::Snapshot::empty(Mode::Paper, r.clock.now());
    r.hedge.render(&mut s);
    s
}

#[tokio::test(flavor = "current_thread")]
async fn a_position_changed_by_hand_stops_the_symbol_until_the_operator_accepts_it() {
    let mut r = Rig::new(OPEN);
    let mut rx = r.notices.subscribe();
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "2.5"))], 10);
    checks(&mut r, 2).await;
    assert_eq!(r.broker.orders().unwrap().len(), 1, "SELL 2 hedged");
    assert_eq!(r.position("AAPL").diverging_polls, 0, "explained");
    // Someone sells 5 AAPL in the account by hand.
    r.broker.trade_by_hand("AAPL", d("-5"));
    checks(&mut r, 2).await;
    assert!(r.position("AAPL").gated.is_none(), "two checks: not yet");
    checks(&mut r, 1).await;
    let gated = r
        .position("AAPL")
        .gated
        .expect("stopped at the third check");
    assert!(
        gated.contains("the broker holds -7, the books say -2"),
        "{gated}"
    );
    checks(&mut r, 3).await;
    let alarms = r
        .hedge
        .records()
        .alerts
        .iter()
        .filter(|a| a.message.contains("hedging AAPL stopped"))
        .count();
    assert_eq!(alarms, 1, "one alarm, not one per check");
    let mut told = 0;
    while let Ok(n) = rx.try_recv() {
        told += usize::from(format!("{n:?}").contains("hedging AAPL stopped"));
    }
    assert_eq!(told, 1, "one notice (webhooks carry it)");
    // An open item for the operator, and no hedge while it stands.
    let s = snapshot(&r);
    let row = s
        .positions
        .iter()
        .find(|p| p.symbol == "AAPL")
        .expect("row");
    assert!(row.note.contains("STOPPED: broker diverges"), "{row:?}");
    let item = s
        .intents
        .iter()
        .find(|i| i.id == "p:AAPL")
        .expect("on screen");
    assert!(
        item.awaits_operator && item.resolve.contains("p:AAPL"),
        "{item:?}"
    );
    r.logs
        .push(vec![added(fill(11, "0xa2", 0, true, "1.5"))], 11);
    checks(&mut r, 1).await;
    assert_eq!(
        r.broker.orders().unwrap().len(),
        1,
        "nothing sent while stopped"
    );
    // The operator looked: the hand trade is accepted, hedging resumes.
    let cmd = Command::Resolve {
        id: "p:AAPL".into(),
        resolution: Resolution::Settle,
        reason: "sold by hand for a client".into(),
        evidence: None,
    };
    let cx = KeeperContext {
        store: &r.store,
        now: r.clock.now(),
        phase: Phase::Running,
        gate: &r.gate,
        notices: &r.notices,
    };
    let answer = r.hedge.command(&cmd, &cx).expect("the hedge's id").await;
    assert!(
        answer.as_ref().is_ok_and(|a| a.contains("accepted")),
        "{answer:?}"
    );
    checks(&mut r, 1).await;
    let orders = r.broker.orders().unwrap();
    assert_eq!(orders.len(), 2, "net 2.0 hedged after the resolution");
    assert_eq!(orders[1].shares, Decimal::from(2u64));
    assert!(r.position("AAPL").gated.is_none());
    checks(&mut r, 4).await;
    assert!(
        r.position("AAPL").gated.is_none(),
        "the accepted position stays explained"
    );
    let s = snapshot(&r);
    let row = s
        .positions
        .iter()
        .find(|p| p.symbol == "AAPL")
        .expect("row");
    assert!(row.note.contains("broker -9 = books"), "{row:?}");
    assert!(s.intents.iter().all(|i| i.id != "p:AAPL"));
}

#[tokio::test(flavor = "current_thread")]
async fn an_order_filled_while_arbkeep_was_down_is_booked_before_the_comparison() {
    let mut r = Rig::new(OPEN);
    r.broker.lose_next_response();
    r.logs.push(vec![added(fill(10, "0xa1", 0, true, "3"))], 10);
    r.pass().await;
    assert_eq!(r.broker.places(), 1, "placed, the answer lost");
    // Down; a new keeper over the same store and broker.
    r.hedge = keeper(r.broker.clone(), r.logs.clone(), r.tokens.clone());
    r.recover().await;
    checks(&mut r, 4).await;
    let p = r.position("AAPL");
    assert_eq!(p.broker_net, d("-3"), "the fill booked");
    assert_eq!((p.diverging_polls, p.gated.is_none()), (0, true), "{p:?}");
    assert_eq!(r.broker.places(), 1, "nothing placed twice");
}
