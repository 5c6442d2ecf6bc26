//! The restart bench's data dir, written through the crate's own APIs as a
//! long-running paper keeper would have left it: the engine's store
//! (`store::Writer`) with a ledger of `LEDGER_ROWS` lines, `CLOSED` closed
//! cycles with their steps, `OPEN` open cycles and `HEDGE_TRADES`
//! equity-hedge trades, each hedged and filled (`equity_hedge::pipeline`),
//! beside the paper world, orderbook and broker files the binary opens.
//!
//! The open cycles are carried out for real against the paper world (the
//! opening swap is executed there), so the world's wallet, the ledger and
//! the cycles agree and the restart has nothing to explain away:
//! - `OPEN - CRASHED` cycles are HEMI_SWAP_DONE: the opening swap booked,
//!   the bridge-out not sent yet. Recovery has nothing to settle; the first
//!   pass sends their bridge-outs (`max_actions_per_tick` of them).
//! - `CRASHED` cycles are DETECTED with the opening swap's intent committed
//!   and executed at the world but its receipt never booked (a crash
//!   between the send and its answer). Recovery settles them by looking
//!   (the world's journal has the receipt) and books them.
//!
//! No open cycle waits on a bridge transfer or a tunnel proof: those need
//! a transfer the world made, and seeding one would mean driving the
//! world's bridges through time. The hedge's executions are all FILLED
//! (closed): an open one would need an order at the paper broker to look
//! for. Closed cycles are history (before the paper epoch) and never touch
//! the world; their ledger lines net to zero per chain and token except
//! VCRED's profit, which the opening line accounts for, so the ledger
//! equals the world's wallet.

use arbkeep::config::{Config, default_route};
use arbkeep::model::time::{DAY, MINUTE, SECOND};
use arbkeep::model::{
    Action, Chain, Clock, Cycle, CycleId, CycleResult, CycleState, Holding, Intent, IntentId,
    LedgerEntry, LedgerKind, ManualClock, Mode, Receipt, Route, StepKind, StepRecord, StepStatus,
    Timestamp, TokenId, Units,
};
use arbkeep::store::Store;
use arbkeep::strategy::cross_chain_loop::{self as strategy, Valuation};
use arbkeep::strategy::equity_hedge::pipeline::{self, Recorded};
use arbkeep::strategy::equity_hedge::{EventKey, Fill, FillKind, OnchainSide, PaperHedge};
use arbkeep::venue::LoopVenue;
use arbkeep::venue::sim::{PAPER_EPOCH, SimWorld};
use rust_decimal::Decimal;
use std::path::Path;
use std::sync::Arc;

pub const LEDGER_ROWS: u64 = 100_000;
pub const CLOSED: u64 = 10_000;
/// Of the closed cycles, refused before anything was sent (no ledger lines).
const NOT_STARTED: u64 = 1_000;
pub const OPEN: u64 = 50;
const CRASHED: u64 = 10;
pub const HEDGE_TRADES: u64 = 10_000;
/// The paper world's seed (the bench's config says the same).
pub const WORLD_SEED: u64 = 17;
/// Rows per store transaction while seeding.
const BATCH: usize = 5_000;

const WORLD_FILE: &str = "paper-world.redb";
const EQUITIES: [(&str, &str, i64); 4] = [
    ("AAPL", "tAAPL", 200),
    ("NVDA", "NVDA0x", 120),
    ("TSLA", "TSLAs1", 250),
    ("MSFT", "wtMSFT", 400),
];

/// What was written, for the bench's report.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    pub ledger_rows: u64,
    pub closed: u64,
    pub open: u64,
    pub hedge_trades: u64,
    pub hedges: u64,
}

type Seeding<T> = Result<T, Box<dyn std::error::Error>>;

/// The bench's config: paper mode at the default speed, the loop and the
/// hedge on, room for the open cycles, the control API on an ephemeral port.
pub fn config() -> String {
    format!(
        "[paper]\nseed = {WORLD_SEED}\n\
         [control]\nport = 0\n\
         [engine]\nmax_open_cycles = 64\n\
         [cross_chain_loop]\nmax_cycles_per_token = 12\n\
         [equity_hedge]\nenabled = true\n"
    )
}

fn tx(tag: u64, n: u64) -> String {
    format!("0x{tag:08x}{n:056x}")
}

fn line(
    at: Timestamp,
    kind: LedgerKind,
    cycle: Option<CycleId>,
    place: Option<(Chain, TokenId)>,
    delta: i128,
    note: String,
) -> LedgerEntry {
    LedgerEntry {
        seq: 0,
        at,
        kind,
        cycle,
        chain: place.map(|p| p.0),
        token: place.map(|p| p.1),
        delta,
        value_vcred: Decimal::ZERO,
        tx_hash: None,
        note,
        operator: false,
    }
}

fn receipt(
    tx_hash: String,
    chain: Chain,
    at: Timestamp,
    amount_in: Units,
    amount_out: Units,
) -> Receipt {
    Receipt {
        tx_hash,
        chain,
        at,
        gas_fee: 0,
        amount_in,
        amount_out,
        bridge_fee_native: 0,
        bridge_fee_token: 0,
        ticket: None,
        via: None,
    }
}

fn signed(u: Units) -> i128 {
    i128::try_from(u).unwrap_or(i128::MAX)
}

/// A closed cycle of the history, its steps and its ledger lines (none for
/// one refused before anything was sent). `profit` in VCRED base units.
fn closed_cycle(n: u64, at: Timestamp, profit: i128) -> (Cycle, Vec<StepRecord>, Vec<LedgerEntry>) {
    let id = CycleId(n);
    let token = TokenId::LOOP[(n as usize) % TokenId::LOOP.len()];
    let route = default_route(token);
    let vcred_in: Units = (500 + (n % 1_500) as u128) * TokenId::Vcred.one();
    let x: Units = token.one() / 100 + u128::from(n % 997);
    let usdc: Units = vcred_in + (n % 50) as u128 * TokenId::Usdc.one() / 100;
    let vcred_out = u128::try_from(signed(vcred_in) + profit).unwrap_or(0);
    let refused = n.is_multiple_of(CLOSED / NOT_STARTED);
    let mut cycle = Cycle {
        expected_x: x,
        expected_profit_vcred: Decimal::new(2, 0),
        expected_fees_vcred: Decimal::new(3, 1),
        edge_bps: 60 + (n % 40) as i64,
        ..Cycle::detected(id, token, route, vcred_in, at)
    };
    let swap = |chain, token_in, token_out, amount_in| Action::Swap {
        chain,
        token_in,
        token_out,
        amount_in,
        min_out: 1,
        deadline: at + DAY,
    };
    let bridge = |route, token, from, to, amount| Action::BridgeSend {
        route,
        token,
        from,
        to,
        amount,
    };
    let mut steps = Vec::new();
    let mut step = |kind: StepKind, minute: u64, action: Action, status: StepStatus| {
        let when = at + minute * MINUTE;
        let intent = Intent::new(
            IntentId {
                cycle: id,
                step: kind,
                attempt: 0,
            },
            action,
            when,
        );
        steps.push(StepRecord {
            intent,
            status,
            committed_at: when,
            finished_at: Some(when + 12 * SECOND),
        });
    };
    if refused {
        step(
            StepKind::HemiSwap,
            0,
            swap(Chain::Hemi, TokenId::Vcred, token, vcred_in),
            StepStatus::Failed {
                reason: "hemi_swap rejected: simulated output below the slippage bound".into(),
            },
        );
        cycle.refusal = Some("simulated output below the slippage bound".into());
        cycle.enter(CycleState::NotStarted, at + SECOND);
        return (cycle, steps, Vec::new());
    }
    let done = |kind: StepKind, chain, amount_in, amount_out, minute: u64| StepStatus::Done {
        receipt: receipt(
            tx(kind as u64 + 1, n),
            chain,
            at + minute * MINUTE,
            amount_in,
            amount_out,
        ),
    };
    let mut plan = vec![
        (
            StepKind::HemiSwap,
            swap(Chain::Hemi, TokenId::Vcred, token, vcred_in),
            done(StepKind::HemiSwap, Chain::Hemi, vcred_in, x, 0),
        ),
        (
            StepKind::BridgeOut,
            bridge(route, token, Chain::Hemi, Chain::Ethereum, x),
            done(StepKind::BridgeOut, Chain::Hemi, x, 0, 1),
        ),
    ];
    if route == Route::HemiTunnel {
        // Prove and finalize move no money here: their gas is history.
        let ticket = arbkeep::model::BridgeTicket {
            route,
            token,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount_sent: x,
            expected_amount: x,
            message_id: tx(0xb0, n),
            source_tx: tx(StepKind::BridgeOut as u64 + 1, n),
            sent_at: at + MINUTE,
        };
        plan.push((
            StepKind::Prove,
            Action::Prove {
                ticket: ticket.clone(),
                proof: None,
            },
            done(StepKind::Prove, Chain::Ethereum, 0, 0, 2),
        ));
        plan.push((
            StepKind::Finalize,
            Action::Finalize { ticket },
            done(StepKind::Finalize, Chain::Ethereum, 0, x, 3),
        ));
    }
    plan.push((
        StepKind::EthSwap,
        swap(Chain::Ethereum, token, TokenId::Usdc, x),
        done(StepKind::EthSwap, Chain::Ethereum, x, usdc, 4),
    ));
    plan.push((
        StepKind::BridgeBack,
        bridge(
            Route::Stargate,
            TokenId::Usdc,
            Chain::Ethereum,
            Chain::Hemi,
            usdc,
        ),
        done(StepKind::BridgeBack, Chain::Ethereum, usdc, 0, 5),
    ));
    plan.push((
        StepKind::CloseSwap,
        swap(Chain::Hemi, TokenId::Usdc, TokenId::Vcred, usdc),
        done(StepKind::CloseSwap, Chain::Hemi, usdc, vcred_out, 6),
    ));
    for (i, (kind, action, status)) in plan.into_iter().enumerate() {
        step(kind, i as u64, action, status);
        cycle.enter(CycleState::after_step(kind), at + i as u64 * MINUTE);
    }
    let end = at + 7 * MINUTE;
    let profit_vcred = Decimal::from_i128_with_scale(profit, u32::from(TokenId::Vcred.decimals()));
    cycle.holding = Holding {
        chain: Chain::Hemi,
        token: TokenId::Vcred,
        amount: 0,
        in_flight: false,
    };
    cycle.result = Some(CycleResult {
        vcred_out,
        profit_vcred,
        gas_vcred: Decimal::ZERO,
        bridge_fees_vcred: Decimal::ZERO,
        completed_at: end,
    });
    cycle.enter(CycleState::Completed, end);
    let c = Some(id);
    let (h, e) = (Chain::Hemi, Chain::Ethereum);
    // As `movements` books them: SwapIn is what goes into a swap, SwapOut what comes out.
    let mut lines = vec![
        line(
            at,
            LedgerKind::SwapIn,
            c,
            Some((h, TokenId::Vcred)),
            -signed(vcred_in),
            format!("{id} VCRED → {token}"),
        ),
        line(
            at,
            LedgerKind::SwapOut,
            c,
            Some((h, token)),
            signed(x),
            format!("{id} VCRED → {token}"),
        ),
        line(
            at + MINUTE,
            LedgerKind::BridgeDebit,
            c,
            Some((h, token)),
            -signed(x),
            format!("{id} {token} to Ethereum ({route})"),
        ),
        line(
            at + 3 * MINUTE,
            LedgerKind::BridgeCredit,
            c,
            Some((e, token)),
            signed(x),
            format!("{id} {token} arrived on Ethereum"),
        ),
        line(
            at + 4 * MINUTE,
            LedgerKind::SwapIn,
            c,
            Some((e, token)),
            -signed(x),
            format!("{id} {token} → USDC"),
        ),
        line(
            at + 4 * MINUTE,
            LedgerKind::SwapOut,
            c,
            Some((e, TokenId::Usdc)),
            signed(usdc),
            format!("{id} {token} → USDC"),
        ),
        line(
            at + 5 * MINUTE,
            LedgerKind::BridgeDebit,
            c,
            Some((e, TokenId::Usdc)),
            -signed(usdc),
            format!("{id} USDC to Hemi"),
        ),
        line(
            at + 6 * MINUTE,
            LedgerKind::BridgeCredit,
            c,
            Some((h, TokenId::Usdc)),
            signed(usdc),
            format!("{id} USDC arrived on Hemi"),
        ),
        line(
            at + 6 * MINUTE,
            LedgerKind::SwapIn,
            c,
            Some((h, TokenId::Usdc)),
            -signed(usdc),
            format!("{id} USDC → VCRED"),
        ),
        line(
            at + 6 * MINUTE,
            LedgerKind::SwapOut,
            c,
            Some((h, TokenId::Vcred)),
            signed(vcred_out),
            format!("{id} USDC → VCRED"),
        ),
    ];
    let mut closed = line(
        end,
        LedgerKind::CycleClosed,
        c,
        None,
        0,
        format!("{id} {token} completed: P&L {profit_vcred} VCRED"),
    );
    closed.value_vcred = profit_vcred;
    lines.push(closed);
    for (i, l) in lines.iter_mut().enumerate() {
        l.tx_hash = (l.kind != LedgerKind::CycleClosed).then(|| tx(0x1000 + i as u64, n));
    }
    (cycle, steps, lines)
}

/// The profit of history cycle `n`, in VCRED base units: mostly a few
/// VCRED, now and then a small loss.
fn profit_of(n: u64) -> i128 {
    let cents = if n.is_multiple_of(17) {
        -40
    } else {
        50 + (n % 300) as i128
    };
    cents * signed(TokenId::Vcred.one()) / 100
}

/// Write the whole data dir into `data` (created). Takes a few seconds.
pub async fn seed(data: &Path) -> Seeding<Seeded> {
    arbkeep::store::ensure_private_dir(data)?;
    let config = Config::from_toml(&config(), "restart bench")?;
    // The history ends where the paper world begins.
    let history_start = PAPER_EPOCH - 120 * DAY;
    let clock = Arc::new(ManualClock::new(PAPER_EPOCH));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let world = SimWorld::open(&data.join(WORLD_FILE), WORLD_SEED, dyn_clock.clone())?;
    // The hedge's paper orderbook and broker, as a run leaves them.
    drop(PaperHedge::open(
        &config.equity_hedge,
        data,
        WORLD_SEED,
        dyn_clock.clone(),
    )?);
    let store = Store::open(data, Mode::Paper)?;

    // The open cycles first, for real at the world (their ledger lines go last).
    let (valuation, _fees): (Valuation, _) = Valuation::read(&world).await?;
    let slippage = config.cross_chain_loop.slippage_bps;
    let mut open = Vec::new();
    for k in 0..OPEN {
        clock.advance(20 * SECOND);
        let now = clock.now();
        let n = CLOSED + 1 + k;
        let token = TokenId::LOOP[(k as usize) % TokenId::LOOP.len()];
        let vcred_in: Units = (800 + 10 * k as u128) * TokenId::Vcred.one();
        let expected_x = world
            .quote(Chain::Hemi, TokenId::Vcred, token, vcred_in)
            .await?;
        let mut cycle = Cycle {
            expected_x,
            expected_profit_vcred: Decimal::new(15, 1),
            expected_fees_vcred: Decimal::new(4, 1),
            edge_bps: 75,
            ..Cycle::detected(CycleId(n), token, default_route(token), vcred_in, now)
        };
        let action =
            strategy::action_for(&world, &cycle, StepKind::HemiSwap, now, slippage).await?;
        let intent = Intent::new(
            IntentId {
                cycle: cycle.id,
                step: StepKind::HemiSwap,
                attempt: 0,
            },
            action,
            now,
        );
        let got = world.execute(&intent).await?;
        if k < CRASHED {
            // Sent, and the answer lost with the process: only the intent is stored.
            let step = StepRecord {
                intent,
                status: StepStatus::Intended,
                committed_at: now,
                finished_at: None,
            };
            open.push((cycle, step, Vec::new()));
            continue;
        }
        // As the reconciler books a receipt (`finish_step`).
        let (moves, holding) =
            strategy::movements(&cycle, StepKind::HemiSwap, &intent.action, &got, &valuation);
        let lines: Vec<LedgerEntry> = moves
            .iter()
            .map(|m| LedgerEntry {
                seq: 0,
                at: got.at.max(intent.created_at),
                kind: m.kind,
                cycle: Some(cycle.id),
                chain: Some(m.chain),
                token: Some(m.token),
                delta: m.delta,
                value_vcred: m.value_vcred,
                tx_hash: Some(got.tx_hash.clone()),
                note: m.note.clone(),
                operator: false,
            })
            .collect();
        for m in &moves {
            if m.kind == LedgerKind::Gas {
                cycle.costs.gas_wei += m.delta.unsigned_abs();
                cycle.costs.gas_vcred -= m.value_vcred;
            }
        }
        cycle.holding = holding;
        cycle.enter(CycleState::HemiSwapDone, now);
        let step = StepRecord {
            intent,
            status: StepStatus::Done { receipt: got },
            committed_at: now,
            finished_at: Some(now),
        };
        open.push((cycle, step, lines));
    }
    world.checkpoint()?;
    let open_rows: u64 = open.iter().map(|(_, _, l)| l.len() as u64).sum();

    // The opening lines: the wallet at genesis, less the history's profit
    // (the history made it), so the ledger ends equal to the wallet.
    let history_profit: i128 = (1..=CLOSED)
        .filter(|n| !n.is_multiple_of(CLOSED / NOT_STARTED))
        .map(profit_of)
        .sum();
    let mut opening = Vec::new();
    for (chain, token, amount) in world.genesis_balances() {
        if amount == 0 {
            continue;
        }
        let mut delta = signed(amount);
        if (chain, token) == (Chain::Hemi, TokenId::Vcred) {
            delta -= history_profit;
        }
        opening.push(line(
            history_start - DAY,
            LedgerKind::Opening,
            None,
            Some((chain, token)),
            delta,
            "opening balance".into(),
        ));
    }
    let completed = CLOSED - NOT_STARTED;
    let history_rows = completed * 11;
    let fixed = opening.len() as u64 + history_rows + open_rows;
    // The rest of the rows: the operator's pauses and resumes (audit lines).
    let audit = LEDGER_ROWS
        .checked_sub(fixed)
        .ok_or("the ledger's fixed rows exceed LEDGER_ROWS")?;

    store.write(|w| w.append_all(opening).map(|_| ()))?;
    let spacing = 120 * DAY / CLOSED;
    let mut pending_lines = Vec::new();
    let mut pending_cycles = Vec::new();
    let mut written_audit = 0;
    let flush = |cycles: &mut Vec<(Cycle, Vec<StepRecord>)>, lines: &mut Vec<LedgerEntry>| {
        store.write(|w| {
            for (c, steps) in cycles.drain(..) {
                w.put_cycle(&c)?;
                for s in &steps {
                    w.put_step(s)?;
                }
            }
            w.append_all(std::mem::take(lines)).map(|_| ())
        })
    };
    for n in 1..=CLOSED {
        let at = history_start + n * spacing;
        let (cycle, steps, lines) = closed_cycle(n, at, profit_of(n));
        pending_cycles.push((cycle, steps));
        pending_lines.extend(lines);
        // An audit line now and then, spread over the history.
        if written_audit < audit && n.is_multiple_of((CLOSED / audit.max(1)).max(1)) {
            let paused = written_audit.is_multiple_of(2);
            let mut l = line(
                at + 8 * MINUTE,
                LedgerKind::Control,
                None,
                None,
                0,
                if paused { "pause all" } else { "resume" }.into(),
            );
            l.operator = true;
            pending_lines.push(l);
            written_audit += 1;
        }
        if pending_lines.len() >= BATCH {
            flush(&mut pending_cycles, &mut pending_lines)?;
        }
    }
    while written_audit < audit {
        let mut l = line(
            PAPER_EPOCH - MINUTE,
            LedgerKind::Control,
            None,
            None,
            0,
            "resume".into(),
        );
        l.operator = true;
        pending_lines.push(l);
        written_audit += 1;
    }
    flush(&mut pending_cycles, &mut pending_lines)?;
    store.write(|w| {
        for (c, step, lines) in &open {
            w.put_cycle(c)?;
            w.put_step(step)?;
            w.append_all(lines.clone())?;
        }
        Ok(())
    })?;

    // The hedge: fills of the paper equities, each whole share hedged and filled.
    let chain_id = config.equity_hedge.chain_id;
    let mut hedges = 0;
    let spacing = 120 * DAY / HEDGE_TRADES;
    let mut i = 0;
    while i < HEDGE_TRADES {
        let end = (i + BATCH as u64 / 5).min(HEDGE_TRADES);
        hedges += store.write(|w| {
            let txn = w.transaction();
            pipeline::init(txn)?;
            let mut placed = 0;
            for t in i..end {
                let now = history_start + t * spacing;
                let (symbol, token_symbol, price) = EQUITIES[(t % 4) as usize];
                let shares = Decimal::new(25 + (t % 151) as i64, 2);
                let price = Decimal::from(price) + Decimal::new((t % 500) as i64, 2);
                let fill = Fill {
                    key: EventKey {
                        chain_id,
                        tx_hash: tx(0x4ed6e, t),
                        log_index: t % 3,
                    },
                    block_number: 20_000_000 + t,
                    kind: if t.is_multiple_of(3) {
                        FillKind::Clear
                    } else {
                        FillKind::Take
                    },
                    symbol: symbol.into(),
                    token_symbol: token_symbol.into(),
                    side: if t.is_multiple_of(2) {
                        OnchainSide::Bought
                    } else {
                        OnchainSide::Sold
                    },
                    shares,
                    usdc: (shares * price).round_dp(6),
                    price,
                };
                if let Recorded::New {
                    hedge: Some(exec), ..
                } =
                    pipeline::record_fill(txn, &fill, now, Some(&pipeline::HedgeLimits::default()))?
                {
                    // As the keeper does it, one step after another.
                    pipeline::sending(txn, exec.id, now)?;
                    let order = format!("{}", 9_000_000 + exec.id);
                    pipeline::submitted(txn, exec.id, &order, now + SECOND)?;
                    pipeline::filled(
                        txn,
                        exec.id,
                        exec.request.shares,
                        price,
                        now + 2 * SECOND,
                        now + 2 * SECOND,
                    )?;
                    placed += 1;
                }
            }
            Ok(placed)
        })?;
        i = end;
    }
    let ledger_rows = store.read()?.ledger_page(0, usize::MAX, |_| true)?.0.len() as u64;
    Ok(Seeded {
        ledger_rows,
        closed: CLOSED,
        open: OPEN,
        hedge_trades: HEDGE_TRADES,
        hedges,
    })
}
