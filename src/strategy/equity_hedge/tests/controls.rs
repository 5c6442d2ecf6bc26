//! The operator's per-symbol verbs through the keeper: a paused symbol's
//! fills are accounted and nothing is sent for it (not even a hedge
//! decided before the pause) until resumed; `position set` books an
//! operator adjustment and is refused while a hedge is in flight;
//! `process-tx` accounts a missed transaction's fills once, only from the
//! orderbook's logs of a confirmed block.

use super::*;
use crate::engine::{Command, Keeper};
use crate::strategy::equity_hedge::decode::FillKind;
use crate::strategy::equity_hedge::pipeline;

const ORDERBOOK: &str = "0x52CEB8eBEf648744fFDDE89F7Bc9C3aC35944775";

async fn say(r: &mut Rig, command: Command) -> Result<String, String> {
    let cx = KeeperContext {
        store: &r.store,
        now: r.clock.now(),
        phase: Phase::Running,
        gate: &r.gate,
        notices: &r.notices,
    };
    r.hedge
        .command(&command, &cx)
        .expect("the hedge's command")
        .await
}

fn pause(symbol: &str) -> Command {
    Command::PauseSymbol {
        symbol: symbol.into(),
    }
}

fn resume(symbol: &str) -> Command {
    Command::ResumeSymbol {
        symbol: symbol.into(),
    }
}

fn set(symbol: &str, net: &str, reason: &str) -> Command {
    Command::SetPosition {
        symbol: symbol.into(),
        net: d(net),
        reason: reason.into(),
    }
}

fn hash(n: u64) -> String {
    format!("0x{n:064x}")
}

#[tokio::test(flavor = "current_thread")]
async fn a_paused_symbol_is_accounted_but_not_hedged_until_resumed() {
    let mut r = Rig::new(CLOSED);
    r.logs.push(vec![added(fill(10, "0xa1", 0, true, "3"))], 10);
    r.pass().await;
    // A hedge decided, not yet sent (the market is closed).
    let decided = r
        .store
        .write(|w| {
            pipeline::decide(
                w.transaction(),
                "AAPL",
                r.clock.now(),
                &pipeline::HedgeLimits::default(),
            )
        })
        .unwrap();
    assert!(decided.hedge.is_some());
    let answer = say(&mut r, pause(" aapl")).await.unwrap();
    assert!(answer.contains("hedging AAPL paused"), "{answer}");
    assert!(answer.contains("h1 in flight"), "{answer}");
    assert!(say(&mut r, pause("AAPL")).await.is_err(), "already paused");
    r.clock.advance(17 * HOUR);
    r.logs.push(vec![added(fill(11, "0xa2", 0, true, "2"))], 11);
    for _ in 0..3 {
        r.pass().await;
    }
    assert_eq!(r.broker.places(), 0, "nothing sent for a paused symbol");
    let p = r.position("AAPL");
    assert!(p.paused);
    assert_eq!(p.fills, 2, "its fills are still accounted");
    let mut s = crate::engine::Snapshot::empty(Mode::Paper, r.clock.now());
    r.hedge.render(&mut s);
    let row = s.positions.iter().find(|p| p.symbol == "AAPL").unwrap();
    assert!(row.paused, "{row:?}");
    assert_eq!(row.hedge.as_deref(), Some("h1"));
    // Resumed: the decided hedge goes, then the rest of the net.
    say(&mut r, resume("AAPL")).await.unwrap();
    for _ in 0..2 {
        r.pass().await;
    }
    let shares: Vec<Decimal> = r
        .broker
        .orders()
        .unwrap()
        .iter()
        .map(|o| o.shares)
        .collect();
    assert_eq!(
        shares,
        vec![d("3"), d("2")],
        "h1's 3, then the 2 that came meanwhile"
    );
    let trail: Vec<String> = r
        .hedge
        .records()
        .alerts
        .iter()
        .map(|a| a.message.clone())
        .collect();
    assert!(
        trail.iter().any(|m| m.contains("paused by the operator"))
            && trail.iter().any(|m| m.contains("resumed by the operator")),
        "{trail:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_position_set_by_hand_is_an_operator_adjustment_refused_while_a_hedge_is_in_flight() {
    let mut r = Rig::new(CLOSED);
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "2.5"))], 10);
    r.pass().await;
    let e = say(&mut r, set("AAPL", "0", "  ")).await.unwrap_err();
    assert!(e.contains("reason is required"), "{e}");
    let answer = say(&mut r, set("AAPL", "0", "hedged by hand at the broker"))
        .await
        .unwrap();
    assert!(answer.contains("from 2.5 to 0"), "{answer}");
    assert_eq!(r.position("AAPL").net(), d("0"));
    let adjustment = r
        .hedge
        .records()
        .trades
        .iter()
        .find(|t| t.kind == FillKind::Operator);
    let adjustment = adjustment.expect("booked as a trade");
    assert_eq!(
        (adjustment.side, adjustment.shares),
        (crate::strategy::equity_hedge::OnchainSide::Sold, d("2.5"))
    );
    r.clock.advance(17 * HOUR);
    r.pass().await;
    assert_eq!(r.broker.places(), 0, "net 0: nothing to hedge");
    // Short 3 by hand: bought at the broker when the market is open.
    say(&mut r, set("AAPL", "-3", "client transfer"))
        .await
        .unwrap();
    r.pass().await;
    let orders = r.broker.orders().unwrap();
    assert_eq!((orders[0].side, orders[0].shares), (OrderSide::Buy, d("3")));
    // In flight: refused.
    r.broker.lose_next_response();
    r.logs.push(vec![added(fill(11, "0xa2", 0, true, "4"))], 11);
    r.pass().await;
    assert!(r.position("AAPL").pending.is_some());
    let e = say(&mut r, set("AAPL", "0", "oops")).await.unwrap_err();
    assert!(e.contains("in flight"), "{e}");
    let e = say(&mut r, set("AAPL", "20000", "too big"))
        .await
        .unwrap_err();
    assert!(e.contains("max_exposure_shares"), "{e}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_missed_transaction_is_accounted_once_from_its_receipt() {
    let mut r = Rig::new(OPEN);
    let receipts = Arc::new(MemoryReceipts::default());
    r.hedge = EquityHedge::new(
        Decoder {
            owner: address_of("owner"),
            usdc: usdc(),
            symbols: SymbolMap::st0x(),
        },
        r.broker.clone(),
        "paper",
        r.logs.clone(),
        receipts.clone(),
        r.tokens.clone(),
    )
    .with_source(8453, ORDERBOOK);
    r.logs
        .push(vec![added(fill(10, &hash(1), 0, true, "0.5"))], 12);
    r.pass().await;
    // Block 9's fill never came through the log stream; the same event
    // emitted by another contract in that transaction is not ours.
    let missed = fill(9, &hash(2), 3, true, "1.5");
    let mut other = fill(9, &hash(2), 4, true, "7");
    other.address = "0x000000000000000000000000000000000000dEaD".into();
    receipts.insert(&hash(2), vec![missed, other]);
    let answer = say(&mut r, Command::ProcessTx { tx_hash: hash(2) })
        .await
        .unwrap();
    assert!(
        answer.contains("1 new fill(s) (t2), 0 already accounted"),
        "{answer}"
    );
    assert_eq!(r.position("AAPL").net(), d("0"), "2 in all, 2 hedged");
    assert_eq!(r.broker.places(), 1);
    let again = say(&mut r, Command::ProcessTx { tx_hash: hash(2) })
        .await
        .unwrap();
    assert!(
        again.contains("0 new fill(s), 1 already accounted"),
        "{again}"
    );
    assert_eq!(r.broker.places(), 1, "deduplicated: nothing sent twice");
    // The log stream delivering it later changes nothing either.
    r.logs
        .push(vec![added(fill(9, &hash(2), 3, true, "1.5"))], 13);
    r.pass().await;
    assert_eq!(r.position("AAPL").fills, 2);
    // Past the watermark, unknown, another contract only, not a hash.
    receipts.insert(&hash(3), vec![fill(50, &hash(3), 0, true, "1")]);
    let e = say(&mut r, Command::ProcessTx { tx_hash: hash(3) })
        .await
        .unwrap_err();
    assert!(e.contains("not confirmed yet"), "{e}");
    let e = say(&mut r, Command::ProcessTx { tx_hash: hash(4) })
        .await
        .unwrap_err();
    assert!(e.contains("no receipt"), "{e}");
    let mut foreign = fill(9, &hash(5), 0, true, "1");
    foreign.address = "0x000000000000000000000000000000000000dEaD".into();
    receipts.insert(&hash(5), vec![foreign]);
    let e = say(&mut r, Command::ProcessTx { tx_hash: hash(5) })
        .await
        .unwrap_err();
    assert!(e.contains("no log of the orderbook"), "{e}");
    let e = say(
        &mut r,
        Command::ProcessTx {
            tx_hash: "0x12".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(e.contains("not a transaction hash"), "{e}");
    assert_eq!(r.position("AAPL").fills, 2);
}
