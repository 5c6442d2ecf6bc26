//! Pipeline tests through the keeper: scripted log batches, the paper
//! broker with its knobs, a manual clock.

use super::abi::LogPlace;
use super::book::ExecState;
use super::chain::{MemoryReceipts, StaticTokens};
use super::decode::Decoder;
use super::events::{address_of, order, take_log, units};
use super::keeper::EquityHedge;
use super::paper_broker::PaperBroker;
use super::symbol::SymbolMap;
use crate::engine::{KeeperContext, Notice, Phase, SendGate};
use crate::model::time::{DAY, HOUR};
use crate::model::{Clock, ManualClock, Mode};
use crate::store::Store;
use crate::venue::VenueError;
use crate::venue::broker::OrderSide;
use crate::venue::logs::{ChainLog, LogBatch, LogEvent, LogSource};
use crate::venue::sim::PAPER_EPOCH;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, VecDeque};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Thursday 2026-01-01 15:00 UTC: the paper market is open.
const OPEN: u64 = PAPER_EPOCH + 15 * HOUR;
/// The same day at 22:00: closed.
const CLOSED: u64 = PAPER_EPOCH + 22 * HOUR;

/// Scripted log batches that behave like a real source: a batch that was
/// delivered and not committed through its block is delivered again (from
/// the committed position), so a keeper that stops mid-batch sees it again.
#[derive(Default)]
struct Script {
    batches: Mutex<VecDeque<LogBatch>>,
    /// Delivered, not yet committed: the next poll delivers it again.
    uncommitted: Mutex<Option<LogBatch>>,
    /// The last block delivered (an empty poll reports it, as a source with
    /// nothing new does).
    through: Mutex<u64>,
    committed: Mutex<Vec<u64>>,
    polls: Mutex<u64>,
}

impl Script {
    fn push(&self, events: Vec<LogEvent>, through: u64) {
        self.batches.lock().unwrap().push_back(LogBatch {
            events,
            through_block: through,
        });
    }
}

impl LogSource for Script {
    async fn poll(&self) -> Result<LogBatch, VenueError> {
        *self.polls.lock().unwrap() += 1;
        if let Some(again) = self.uncommitted.lock().unwrap().clone() {
            return Ok(again);
        }
        let next = self.batches.lock().unwrap().pop_front();
        match next {
            Some(batch) => {
                *self.through.lock().unwrap() = batch.through_block;
                *self.uncommitted.lock().unwrap() = Some(batch.clone());
                Ok(batch)
            }
            None => Ok(LogBatch {
                events: Vec::new(),
                through_block: *self.through.lock().unwrap(),
            }),
        }
    }
    async fn commit(&self, block: u64) -> Result<(), VenueError> {
        self.committed.lock().unwrap().push(block);
        let mut pending = self.uncommitted.lock().unwrap();
        if pending.as_ref().is_some_and(|b| b.through_block <= block) {
            *pending = None;
        }
        Ok(())
    }
}

/// The test tokens' `symbol()`, with reads that fail once on demand (a
/// node that did not answer).
#[derive(Default)]
struct Tokens {
    known: StaticTokens,
    fail_once: Mutex<Vec<alloy_primitives::Address>>,
}

impl Tokens {
    fn fail_once(&self, token: alloy_primitives::Address) {
        self.fail_once.lock().unwrap().push(token);
    }
}

impl super::chain::TokenSymbols for Tokens {
    async fn symbol(&self, token: alloy_primitives::Address) -> Result<String, VenueError> {
        let failed = {
            let mut failing = self.fail_once.lock().unwrap();
            let at = failing.iter().position(|t| *t == token);
            at.map(|i| failing.remove(i)).is_some()
        };
        if failed {
            return Err(VenueError::Transient(format!(
                "symbol() of {token}: timed out"
            )));
        }
        self.known.symbol(token).await
    }
}

type Hedge = EquityHedge<PaperBroker, Script, MemoryReceipts, Tokens>;

struct Rig {
    _dir: tempfile::TempDir,
    store: Store,
    clock: Arc<ManualClock>,
    broker: Arc<PaperBroker>,
    logs: Arc<Script>,
    tokens: Arc<Tokens>,
    notices: broadcast::Sender<Notice>,
    /// The send gate as the engine's command desk flips it (mid-pass too).
    gate: Arc<SendGate>,
    hedge: Hedge,
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn usdc() -> alloy_primitives::Address {
    address_of("USDC")
}

fn tokens() -> StaticTokens {
    StaticTokens(BTreeMap::from([
        (address_of("tAAPL"), "tAAPL".to_string()),
        (address_of("NVDA0x"), "NVDA0x".to_string()),
        (usdc(), "USDC".to_string()),
    ]))
}

fn keeper(broker: Arc<PaperBroker>, logs: Arc<Script>, tokens: Arc<Tokens>) -> Hedge {
    let decoder = Decoder {
        owner: address_of("owner"),
        usdc: usdc(),
        symbols: SymbolMap::st0x(),
    };
    EquityHedge::new(
        decoder,
        broker,
        "paper",
        logs,
        Arc::new(MemoryReceipts::default()),
        tokens,
    )
}

impl Rig {
    fn new(at: u64) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(at));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let broker =
            Arc::new(PaperBroker::open(&dir.path().join("broker.redb"), 1, dyn_clock).unwrap());
        let logs = Arc::new(Script::default());
        let store = Store::open(dir.path(), Mode::Paper).unwrap();
        let tokens = Arc::new(Tokens {
            known: tokens(),
            ..Tokens::default()
        });
        let hedge = keeper(broker.clone(), logs.clone(), tokens.clone());
        let (notices, _) = broadcast::channel(64);
        Rig {
            _dir: dir,
            store,
            clock,
            broker,
            logs,
            tokens,
            notices,
            gate: Arc::new(SendGate::default()),
            hedge,
        }
    }

    async fn pass(&mut self) {
        let cx = KeeperContext {
            store: &self.store,
            now: self.clock.now(),
            phase: Phase::Running,
            gate: &self.gate,
            notices: &self.notices,
        };
        self.hedge.pass(&cx).await.unwrap();
    }

    async fn recover(&mut self) {
        let gate = SendGate::default();
        let cx = KeeperContext {
            store: &self.store,
            now: self.clock.now(),
            phase: Phase::Recovering,
            gate: &gate,
            notices: &self.notices,
        };
        self.hedge.recover_now(&cx).await.unwrap();
    }

    fn position(&self, symbol: &str) -> super::book::Position {
        self.hedge
            .records()
            .positions
            .iter()
            .find(|p| p.symbol == symbol)
            .cloned()
            .unwrap_or_default()
    }
}

/// A take of the owner's tAAPL order: `bought` (owner received the equity)
/// or sold, `shares` at 200 USDC.
fn fill(block: u64, tx: &str, log_index: u64, owner_bought: bool, shares: &str) -> ChainLog {
    fill_of("tAAPL", block, tx, log_index, owner_bought, shares)
}

/// The same for the owner's order of `token` (an onchain symbol).
fn fill_of(
    token: &str,
    block: u64,
    tx: &str,
    log_index: u64,
    owner_bought: bool,
    shares: &str,
) -> ChainLog {
    let equity = address_of(token);
    let place = LogPlace {
        chain_id: 8453,
        address: "0x52CEB8eBEf648744fFDDE89F7Bc9C3aC35944775".into(),
        block_number: block,
        block_hash: format!("0xb{block}"),
        tx_hash: tx.into(),
        log_index,
    };
    let eq = units(d(shares), 18).unwrap();
    let cash = units(d(shares) * d("200"), 6).unwrap();
    if owner_bought {
        // The order receives tAAPL (taker's output) and gives USDC (taker's input).
        let o = order(address_of("owner"), &[(equity, 18)], &[(usdc(), 6)]);
        take_log(&place, o, 0, 0, cash, eq)
    } else {
        let o = order(address_of("owner"), &[(usdc(), 6)], &[(equity, 18)]);
        take_log(&place, o, 0, 0, eq, cash)
    }
}

fn added(log: ChainLog) -> LogEvent {
    LogEvent::Added { log }
}

#[tokio::test(flavor = "current_thread")]
async fn duplicates_count_once_and_the_watermark_follows() {
    let mut r = Rig::new(CLOSED);
    let a = fill(10, "0xa1", 0, true, "0.4");
    r.logs.push(vec![added(a.clone()), added(a.clone())], 10);
    r.logs.push(vec![added(a)], 11);
    r.pass().await;
    r.pass().await;
    let p = r.position("AAPL");
    assert_eq!(p.net(), d("0.4"));
    assert_eq!(p.fills, 1);
    assert_eq!(r.hedge.records().trade_count, 1);
    assert_eq!(*r.logs.committed.lock().unwrap(), vec![10, 11]);
    assert_eq!(r.hedge.records().watermark, Some(11));
}

#[tokio::test(flavor = "current_thread")]
async fn crossing_by_several_shares_hedges_the_whole_part_on_the_opposite_side() {
    let mut r = Rig::new(OPEN);
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "3.7"))], 10);
    r.pass().await;
    let orders = r.broker.orders().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(
        orders[0].side,
        OrderSide::Sell,
        "long onchain → sell at the broker"
    );
    assert_eq!(orders[0].shares, Decimal::from(3u64));
    let p = r.position("AAPL");
    assert_eq!(p.net(), d("0.7"));
    assert_eq!(p.pending, None, "the paper broker filled at once");
    let e = &r.hedge.records().executions[0];
    assert!(matches!(e.state, ExecState::Filled { shares, .. } if shares.eq(&Decimal::from(3u64))));
    assert_eq!(e.links.len(), 1);
    assert_eq!(e.links[0].shares, d("3"));
}

#[tokio::test(flavor = "current_thread")]
async fn shorts_are_covered_by_buying_and_links_go_oldest_first_whatever_the_delivery_order() {
    let mut r = Rig::new(OPEN);
    // Delivered newest first; chain order is block 10, 11, 12.
    r.logs.push(
        vec![
            added(fill(12, "0xc3", 0, false, "0.5")),
            added(fill(11, "0xc2", 5, false, "0.5")),
            added(fill(10, "0xc1", 2, false, "0.6")),
        ],
        12,
    );
    r.pass().await;
    let p = r.position("AAPL");
    assert_eq!(p.net(), d("-0.6"));
    let orders = r.broker.orders().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].side, OrderSide::Buy);
    assert_eq!(orders[0].shares, Decimal::from(1u64));
    let e = &r.hedge.records().executions[0];
    let keys: Vec<(String, Decimal)> = e
        .links
        .iter()
        .map(|l| (l.key.tx_hash.clone(), l.shares))
        .collect();
    // Crossed at the second processed fill (0.5 + 0.5): those two, block 11 first.
    assert_eq!(
        keys,
        vec![("0xc2".into(), d("0.5")), ("0xc3".into(), d("0.5"))]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_rejected_hedge_returns_its_shares_to_the_net_and_the_sweeper_hedges_again() {
    let mut r = Rig::new(OPEN);
    r.broker.reject_next("REJECTED: account restricted");
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "2.5"))], 10);
    r.pass().await;
    let p = r.position("AAPL");
    assert_eq!(p.net(), d("2.5"), "the failed hedge's 2 shares are back");
    assert_eq!(p.pending, None);
    let e = &r.hedge.records().executions[0];
    assert!(
        matches!(&e.state, ExecState::Failed { returned, .. } if returned.eq(&Decimal::from(2u64)))
    );
    assert!(e.links.is_empty(), "its links were given back");
    // Not again at once (a refusal may stand) …
    r.pass().await;
    assert_eq!(r.position("AAPL").net(), d("2.5"));
    // … but after the retry delay, with no new fill, the sweeper hedges the net.
    r.clock.advance(2 * crate::model::time::MINUTE);
    r.pass().await;
    let p = r.position("AAPL");
    assert_eq!(p.net(), d("0.5"));
    let filled = r.broker.orders().unwrap();
    assert_eq!(filled.len(), 1);
    assert_eq!(filled[0].shares, Decimal::from(2u64));
}

#[tokio::test(flavor = "current_thread")]
async fn a_standing_refusal_is_retried_ever_more_slowly_and_a_fill_resets_the_wait() {
    use super::pipeline::{RETRY_AT_MOST, retry_delay};
    assert_eq!(
        (1..=8).map(retry_delay).collect::<Vec<_>>(),
        [1, 2, 4, 8, 16, 32, 60, 60].map(|m| m * crate::model::time::MINUTE)
    );
    assert_eq!(retry_delay(u32::MAX), RETRY_AT_MOST);
    let mut r = Rig::new(OPEN);
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "2.5"))], 10);
    // Refused three times: waits of 1, 2 and 4 minutes.
    for (n, wait) in [(1u32, 1u64), (2, 2), (3, 4)] {
        r.broker.reject_next("REJECTED: account restricted");
        r.pass().await;
        let p = r.position("AAPL");
        assert_eq!(p.failures_in_a_row, n);
        assert_eq!(
            p.retry_after,
            Some(r.clock.now() + wait * crate::model::time::MINUTE)
        );
        // Not before the wait is over.
        r.clock.advance(wait * crate::model::time::MINUTE - 1);
        r.pass().await;
        assert_eq!(r.position("AAPL").failures_in_a_row, n, "no attempt early");
        r.clock.advance(1);
    }
    // The fourth attempt fills: the count starts over.
    r.pass().await;
    let p = r.position("AAPL");
    assert_eq!(p.failures_in_a_row, 0);
    assert_eq!(p.net(), d("0.5"));
    assert_eq!(r.broker.orders().unwrap().len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn market_closed_queues_fills_with_exposure_shown_then_hedges_at_the_open() {
    let mut r = Rig::new(CLOSED);
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "1.2"))], 10);
    r.pass().await;
    r.clock.advance(HOUR);
    r.logs
        .push(vec![added(fill(11, "0xa2", 0, true, "0.9"))], 11);
    r.pass().await;
    assert!(
        r.broker.orders().unwrap().is_empty(),
        "nothing sent while closed"
    );
    let p = r.position("AAPL");
    assert_eq!(p.net(), d("2.1"));
    assert_eq!(
        p.exposed_since,
        Some(CLOSED),
        "exposed since the first whole share"
    );
    let mut snap = crate::engine::Snapshot::empty(Mode::Paper, r.clock.now());
    crate::engine::Keeper::render(&r.hedge, &mut snap);
    assert_eq!(
        snap.positions[0].note,
        "market closed: queued · broker 0 = books"
    );
    assert_eq!(snap.hedge.as_ref().unwrap().market_open, Some(false));
    // Friday's open is the next one after Thursday 22:00 + 1h.
    r.clock.set(PAPER_EPOCH + DAY + 15 * HOUR);
    r.pass().await;
    let orders = r.broker.orders().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].shares, Decimal::from(2u64));
    let p = r.position("AAPL");
    assert_eq!(p.net(), d("0.1"));
    assert_eq!(p.exposed_since, None);
}

#[tokio::test(flavor = "current_thread")]
async fn a_crash_between_post_and_recording_the_id_is_settled_by_finding_the_order() {
    let mut r = Rig::new(OPEN);
    // The broker takes the order, the answer never arrives (then the process dies).
    r.broker.lose_next_response();
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "1.5"))], 10);
    r.pass().await;
    assert_eq!(r.broker.places(), 1);
    let e = r.hedge.records().executions[0].clone();
    assert!(
        matches!(e.state, ExecState::OutcomeUnknown { .. }),
        "outcome unknown: looked for, not placed again: {e:?}"
    );
    // Restart: a new keeper on the same store and broker.
    r.hedge = keeper(r.broker.clone(), r.logs.clone(), r.tokens.clone());
    r.recover().await;
    let e = r.hedge.records().executions[0].clone();
    assert!(matches!(&e.state, ExecState::Filled { order_id, .. } if order_id == "1"));
    r.pass().await;
    r.pass().await;
    assert_eq!(r.broker.places(), 1, "nothing placed twice");
    assert_eq!(r.broker.orders().unwrap().len(), 1);
    assert_eq!(r.position("AAPL").net(), d("0.5"));
}

#[tokio::test(flavor = "current_thread")]
async fn removed_logs_reverse_unhedged_trades_and_flag_hedged_ones() {
    let mut r = Rig::new(CLOSED);
    let a = fill(10, "0xa1", 0, true, "0.7");
    r.logs.push(vec![added(a.clone())], 10);
    r.logs.push(vec![LogEvent::Removed { log: a.clone() }], 10);
    r.pass().await;
    r.pass().await;
    assert_eq!(r.position("AAPL").net(), d("0"));
    // The log comes back in the new chain: it counts again.
    r.logs.push(vec![added(a)], 11);
    r.pass().await;
    assert_eq!(r.position("AAPL").net(), d("0.7"));

    // Hedged, then removed: flagged loudly, the unhedged rest undone.
    r.clock.set(PAPER_EPOCH + DAY + 15 * HOUR);
    let b = fill(12, "0xb1", 0, true, "0.6");
    r.logs.push(vec![added(b.clone())], 12);
    r.pass().await;
    assert_eq!(r.broker.orders().unwrap().len(), 1);
    let mut rx = r.notices.subscribe();
    r.logs.push(vec![LogEvent::Removed { log: b }], 13);
    r.pass().await;
    let alerts = &r.hedge.records().alerts;
    assert!(
        alerts[0].message.contains("REORG after hedge"),
        "{alerts:?}"
    );
    let notice = rx.try_recv().unwrap();
    assert!(notice.headline().contains("REORG"));
    // 0.7 + 0.6 = 1.3, 1 hedged; t2 (0xb1) gave 0.3 of it, 0.3 unhedged is undone.
    assert_eq!(r.position("AAPL").net(), d("0"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_symbol_read_failing_mid_batch_redelivers_it_and_the_fill_after_it_is_hedged_once() {
    let mut r = Rig::new(OPEN);
    // The node does not answer NVDA0x's symbol() once, in the middle of a batch.
    r.tokens.fail_once(address_of("NVDA0x"));
    r.logs.push(
        vec![
            added(fill(10, "0xa1", 0, true, "1.2")),
            added(fill_of("NVDA0x", 11, "0xb1", 0, true, "0.5")),
            added(fill(12, "0xa2", 0, true, "1.3")),
        ],
        12,
    );
    r.pass().await;
    assert_eq!(r.broker.orders().unwrap().len(), 1, "AAPL 1.2 → SELL 1");
    assert!(
        r.logs.committed.lock().unwrap().is_empty(),
        "nothing committed past the fill it could not read"
    );
    assert_eq!(r.hedge.records().trade_count, 1);
    // The next pass gets the whole batch again: the first fill is a
    // duplicate, the other two count, and 0.2 + 1.3 crosses a share.
    r.pass().await;
    r.pass().await;
    let orders = r.broker.orders().unwrap();
    let shapes: Vec<_> = orders
        .iter()
        .map(|o| (o.symbol.as_str(), o.side, o.shares))
        .collect();
    assert_eq!(
        shapes,
        vec![
            ("AAPL", OrderSide::Sell, d("1")),
            ("AAPL", OrderSide::Sell, d("1"))
        ],
        "the fill after the failed read is hedged, exactly once"
    );
    assert_eq!(r.hedge.records().trade_count, 3, "each fill once");
    assert_eq!(r.position("AAPL").net(), d("0.5"));
    assert_eq!(r.position("NVDA").net(), d("0.5"));
    assert_eq!(*r.logs.committed.lock().unwrap(), vec![12]);
    assert_eq!(r.hedge.records().watermark, Some(12));
}

#[tokio::test(flavor = "current_thread")]
async fn a_pause_arriving_mid_batch_sends_nothing_after_it() {
    let mut r = Rig::new(OPEN);
    // The pause arrives while the keeper waits on the broker's first answer.
    let gate = r.gate.clone();
    r.broker.on_place(move || {
        gate.set(&crate::model::Controls {
            paused: true,
            ..Default::default()
        })
    });
    r.logs.push(
        vec![
            added(fill(10, "0xa1", 0, true, "1.5")),
            added(fill_of("NVDA0x", 11, "0xb1", 0, true, "1.5")),
        ],
        11,
    );
    r.pass().await;
    assert_eq!(r.broker.places(), 1, "nothing sent after the pause");
    assert_eq!(r.position("NVDA").net(), d("1.5"), "recorded, not hedged");
    assert_eq!(r.hedge.records().trade_count, 2, "the fill is not skipped");
    r.clock.advance(crate::model::time::MINUTE);
    r.pass().await;
    assert_eq!(r.broker.places(), 1, "still paused");
    // Resumed: the sweeper hedges NVDA.
    r.broker.on_place(|| {});
    r.gate.set(&crate::model::Controls::default());
    r.pass().await;
    assert_eq!(r.broker.places(), 2);
    assert_eq!(r.position("NVDA").net(), d("0.5"));
}

#[tokio::test(flavor = "current_thread")]
async fn an_old_pending_record_is_looked_for_never_placed_blindly() {
    // A hedge written before `sending` existed (no field) and left pending:
    // it may have been sent, so it is looked for first.
    let mut r = Rig::new(OPEN);
    r.logs
        .push(vec![added(fill(10, "0xa1", 0, true, "1.5"))], 10);
    r.gate.set(&crate::model::Controls {
        paused: true,
        ..Default::default()
    });
    r.pass().await;
    assert_eq!(r.broker.places(), 0);
    // Not decided while paused; decide it by hand and strip the new fields
    // as an old record would lack them.
    r.store
        .write(|w| {
            super::pipeline::decide(
                w.transaction(),
                "AAPL",
                r.clock.now(),
                &super::pipeline::HedgeLimits::default(),
            )
        })
        .unwrap()
        .hedge
        .expect("a hedge");
    let old = {
        let rd = r.store.read().unwrap();
        let e = super::pipeline::execution(rd.transaction(), 1)
            .unwrap()
            .unwrap();
        let mut v = serde_json::to_value(&e).unwrap();
        let m = v.as_object_mut().unwrap();
        m.remove("sending");
        m.remove("posts");
        serde_json::from_value::<super::book::Execution>(v).unwrap()
    };
    assert_eq!(old.sending, None);
    assert!(!old.may_place());
    r.store
        .write(|w| {
            super::lifecycle::note_look(w.transaction(), 1, None, r.clock.now())?;
            super::pipeline::put_execution(w.transaction(), &old)
        })
        .unwrap();
    r.gate.set(&crate::model::Controls::default());
    r.pass().await;
    assert_eq!(r.broker.places(), 0, "looked for, not placed");
    assert!(matches!(
        r.hedge.records().executions[0].state,
        ExecState::OutcomeUnknown { .. }
    ));
}

#[test]
fn the_open_check_on_a_stored_execution_agrees_with_its_state() {
    use super::book::{Execution, Link};
    use super::decode::EventKey;
    use crate::venue::broker::OrderRequest;
    let states = [
        ExecState::Pending,
        ExecState::OutcomeUnknown {
            since: 1,
            look_until: 2,
            reason: "timeout".into(),
        },
        ExecState::Submitted {
            order_id: "77".into(),
        },
        ExecState::Filled {
            order_id: "77".into(),
            shares: Decimal::from(1u64),
            average_price: d("201.5"),
            filled_at: 3,
        },
        ExecState::Failed {
            reason: "rejected".into(),
            order_id: None,
            filled_shares: Decimal::from(0u64),
            returned: Decimal::from(1u64),
        },
    ];
    for state in states {
        let open = state.is_open();
        let e = Execution {
            id: 9,
            request: OrderRequest {
                client_id: "h9".into(),
                symbol: "AAPL".into(),
                side: OrderSide::Sell,
                shares: Decimal::from(1u64),
                committed_at: 1,
            },
            state,
            links: vec![Link {
                trade: 4,
                key: EventKey {
                    chain_id: 8453,
                    tx_hash: "0xab".into(),
                    log_index: 0,
                },
                shares: d("1"),
            }],
            created_at: 1,
            updated_at: 1,
            attempts: 0,
            last_error: None,
            sending: Some(false),
            posts: 1,
            detected_at: None,
            sent_at: None,
        };
        let bytes = serde_json::to_vec(&e).unwrap();
        assert_eq!(
            super::pipeline::record_head(9, &bytes).unwrap().open,
            open,
            "{:?}",
            e.state
        );
    }
}

mod controls;
mod limits;
mod pretrade;
mod reconcile;
