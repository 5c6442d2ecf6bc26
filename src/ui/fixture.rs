//! Deterministic snapshots for render tests and the render bench: fixed
//! times, a cycle waiting 23h 12m to finalize, a stuck one, a half-done one,
//! a paused token, an opportunity awaiting approval. Not used at run time.

use crate::engine::Phase;
use crate::engine::snapshot::{
    BalanceRow, CycleCounts, CycleView, DailyPnl, InFlightRow, Mode, OpportunityState,
    OpportunityView, PnlTotals, PnlView, PositionRow, Snapshot, StepView,
};
use crate::model::time::{HOUR, MINUTE, SECOND};
use crate::model::{
    Chain, Cycle, CycleId, CycleResult, CycleState, Failure, Holding, Route, StepKind, Timestamp,
    TokenId, Units,
};
use crate::venue::VenueHealth;
use rust_decimal::Decimal;

/// 2026-01-01 12:00:00 UTC.
pub const NOW: Timestamp = 1_767_268_800_000;

/// A 32-byte tx hash that looks like one, derived from `n` (splitmix64).
pub fn hash(n: u64) -> String {
    let mut x = n;
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    format!(
        "0x{:016x}{:016x}{:016x}{:016x}",
        next(),
        next(),
        next(),
        next()
    )
}

fn dec(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

/// A cycle that walked its route's path up to `state`, one state per
/// `step_ms` from `created`.
pub fn cycle(
    id: u64,
    token: TokenId,
    route: Route,
    state: CycleState,
    created: Timestamp,
    step_ms: u64,
) -> Cycle {
    let path = CycleState::path(route);
    let mut history = Vec::new();
    let mut at = created;
    if state == CycleState::Failed {
        history.push((CycleState::Detected, at));
        history.push((CycleState::Failed, at + step_ms));
        at += step_ms;
    } else {
        for s in path {
            history.push((s, at));
            if s == state {
                break;
            }
            at += step_ms;
        }
    }
    let in_flight = matches!(
        state,
        CycleState::BridgeOutSent
            | CycleState::BridgeOutProveRequired
            | CycleState::BridgeOutProved
            | CycleState::BridgeOutFinalizeRequired
    );
    Cycle {
        id: CycleId(id),
        token,
        route,
        state,
        created_at: created,
        updated_at: at,
        vcred_in: 2_500_000_000,
        expected_x: token.one(),
        expected_profit_vcred: dec(1234, 2),
        expected_fees_vcred: dec(310, 2),
        edge_bps: 85,
        holding: Holding {
            chain: if in_flight {
                Chain::Ethereum
            } else {
                Chain::Hemi
            },
            token,
            amount: token.one() * 3 / 2,
            in_flight,
        },
        bridge_out: None,
        bridge_back: None,
        attempt: 1,
        not_before: None,
        last_error: None,
        failure: (state == CycleState::Failed).then(|| Failure {
            reason: "slippage bound exceeded".into(),
            in_state: CycleState::Detected,
            at,
            by_operator: false,
        }),
        refusal: None,
        planned_bridge_fees: None,
        result: (state == CycleState::Completed).then(|| CycleResult {
            vcred_out: 2_512_340_000,
            profit_vcred: dec(1234, 2),
            gas_vcred: dec(120, 2),
            bridge_fees_vcred: dec(80, 2),
            completed_at: at,
        }),
        history,
        proof_data: None,
        operator_touched: false,
        costs: Default::default(),
    }
}

fn steps_for(c: &Cycle, seed: u64) -> Vec<StepView> {
    let kinds = [
        (CycleState::HemiSwapDone, StepKind::HemiSwap),
        (CycleState::BridgeOutSent, StepKind::BridgeOut),
        (CycleState::BridgeOutProved, StepKind::Prove),
        (CycleState::OnEthereum, StepKind::Finalize),
        (CycleState::EthSwapDone, StepKind::EthSwap),
        (CycleState::UsdcBridgeBackSent, StepKind::BridgeBack),
        (CycleState::HemiCloseSwapDone, StepKind::CloseSwap),
    ];
    c.history
        .iter()
        .filter_map(|(state, at)| {
            let kind = kinds.iter().find(|(s, _)| s == state)?.1;
            Some(StepView {
                kind,
                attempt: 1,
                status: "done".into(),
                tx_hash: Some(hash(seed * 16 + kind as u64)),
                at: *at,
                via: (kind == StepKind::HemiSwap)
                    .then(|| "via sushi_v3 (V3 fee 3000); sushi_v2 quoted 1694186".to_string()),
            })
        })
        .collect()
}

fn view(c: Cycle, next: &str, ready_at: Option<Timestamp>) -> CycleView {
    let steps = steps_for(&c, c.id.0);
    CycleView {
        cycle: c,
        steps,
        next: next.into(),
        ready_at,
        stuck: false,
        half_done: false,
    }
}

fn opportunity(id: u64, token: TokenId, route: Route, state: OpportunityState) -> OpportunityView {
    OpportunityView {
        id,
        token,
        route,
        edge_bps: 40 + id as i64,
        size_vcred: 2_500_000_000 + u128::from(id % 41) * 500_000_000,
        est_profit_vcred: dec(1234 + id as i64, 2),
        est_fees_vcred: dec(310, 2),
        state,
        note: match state {
            OpportunityState::BelowFloor => "best profit 0.42 < floor 1".into(),
            _ => String::new(),
        },
        detected_at: NOW - 5 * SECOND,
        quotes_used: 14,
        cycle: None,
    }
}

/// The fixture: PAPER at ×3000, RUNNING, ETH paused, three open cycles
/// (a 23h 12m finalize wait, a stuck bridge, a half-done send), one
/// completed and one failed, four opportunities, two venues and a fault.
pub fn snapshot() -> Snapshot {
    let mut waiting = view(
        cycle(
            7,
            TokenId::Xaut,
            Route::HemiTunnel,
            CycleState::BridgeOutProved,
            NOW - 2 * HOUR,
            15 * MINUTE,
        ),
        "finalize ready",
        Some(NOW + 23 * HOUR + 12 * MINUTE + 30 * SECOND),
    );
    if let Some((_, at)) = waiting.cycle.history.last_mut() {
        *at = NOW - 48 * MINUTE;
    }
    let mut stuck = view(
        cycle(
            8,
            TokenId::Wbtc,
            Route::Stargate,
            CycleState::BridgeOutSent,
            NOW - 4 * HOUR,
            30 * MINUTE,
        ),
        "arrival on Ethereum",
        None,
    );
    stuck.stuck = true;
    let mut half = view(
        cycle(
            9,
            TokenId::Weth,
            Route::Stargate,
            CycleState::HemiSwapDone,
            NOW - 20 * MINUTE,
            5 * MINUTE,
        ),
        "bridge_out",
        None,
    );
    half.half_done = true;
    half.cycle.last_error = Some("timeout after send: outcome unknown, settling by looking".into());
    half.steps.push(StepView {
        kind: StepKind::BridgeOut,
        attempt: 1,
        status: "intended".into(),
        tx_hash: None,
        at: NOW - 10 * MINUTE,
        via: None,
    });
    let done = view(
        cycle(
            5,
            TokenId::Vusd,
            Route::Stargate,
            CycleState::Completed,
            NOW - 9 * HOUR,
            10 * MINUTE,
        ),
        "",
        None,
    );
    let failed = view(
        cycle(
            4,
            TokenId::CbBtc,
            Route::Stargate,
            CycleState::Failed,
            NOW - 10 * HOUR,
            10 * MINUTE,
        ),
        "",
        None,
    );

    let totals = |cycles: u64, profit: i64| PnlTotals {
        cycles,
        profit_vcred: dec(profit, 2),
        gas_vcred: dec(120 * cycles as i64, 2),
        bridge_fees_vcred: dec(80 * cycles as i64, 2),
        vcred_sold: 2_500_000_000 * u128::from(cycles),
        vcred_regained: 2_512_340_000 * u128::from(cycles),
    };
    let cumulative = (0..40u64)
        .map(|i| {
            (
                NOW - (40 - i) * HOUR,
                dec((i as i64 * 37 % 23 - 6) * 100 + i as i64 * 150, 2),
            )
        })
        .collect();

    Snapshot {
        seq: 42,
        mode: Mode::Paper,
        phase: Phase::Running,
        now: NOW,
        speed_milli: Some(3_000_000),
        paused: false,
        paused_tokens: vec![TokenId::Eth],
        approval: "above 2000 VCRED".into(),
        opportunities: vec![
            opportunity(
                41,
                TokenId::Xaut,
                Route::HemiTunnel,
                OpportunityState::AwaitingApproval,
            ),
            opportunity(42, TokenId::Wbtc, Route::Stargate, OpportunityState::Auto),
            opportunity(43, TokenId::Eth, Route::Stargate, OpportunityState::Paused),
            opportunity(
                44,
                TokenId::Vusd,
                Route::Stargate,
                OpportunityState::BelowFloor,
            ),
        ],
        cycles: vec![stuck, half, waiting, done, failed],
        counts: CycleCounts {
            open: 3,
            completed: 120,
            failed: 2,
            not_started: 0,
        },
        balances: vec![
            BalanceRow {
                chain: Chain::Hemi,
                token: TokenId::Vcred,
                amount: 97_500_000_000,
            },
            BalanceRow {
                chain: Chain::Hemi,
                token: TokenId::Eth,
                amount: 50_000_000_000_000_000,
            },
            BalanceRow {
                chain: Chain::Ethereum,
                token: TokenId::Eth,
                amount: 212_345_678_901_234_567,
            },
            BalanceRow {
                chain: Chain::Hemi,
                token: TokenId::Usdc,
                amount: 500_000_000,
            },
            BalanceRow {
                chain: Chain::Ethereum,
                token: TokenId::Usdc,
                amount: 1_200_250_000,
            },
        ],
        in_flight: vec![InFlightRow {
            cycle: CycleId(7),
            route: Route::HemiTunnel,
            token: TokenId::Xaut,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount: 1_500_000,
            state: CycleState::BridgeOutProved,
            ready_at: Some(NOW + 23 * HOUR + 12 * MINUTE + 30 * SECOND),
        }],
        positions: Vec::new(),
        hedge: None,
        pnl: PnlView {
            today: totals(3, 3702),
            lifetime: totals(120, 148_080),
            per_token: vec![
                (TokenId::Xaut, totals(70, 90_000)),
                (TokenId::Wbtc, totals(50, 58_080)),
            ],
            daily: vec![DailyPnl {
                day: "2026-01-01".into(),
                totals: totals(3, 3702),
            }],
            cumulative,
        },
        venues: vec![
            VenueHealth {
                name: "hemi".into(),
                ok: true,
                head: Some(1_234_567),
                latency_ms: Some(120),
                last_seen: Some(NOW - 2 * SECOND),
                detail: "sim pool VCRED/XAUt".into(),
            },
            VenueHealth {
                name: "ethereum".into(),
                ok: true,
                head: Some(21_000_000),
                latency_ms: Some(85),
                last_seen: Some(NOW - SECOND),
                detail: String::new(),
            },
            VenueHealth {
                name: "stargate".into(),
                ok: false,
                head: None,
                latency_ms: None,
                last_seen: Some(NOW - 5 * MINUTE),
                detail: "scan API 503 for 5m".into(),
            },
        ],
        stellar: None,
        intents: Vec::new(),
        stuck_after_ms: 2 * HOUR,
        alarms: Vec::new(),
        kill_switch: None,
        risk_today: Default::default(),
    }
}

/// A broker position, for the positions panel.
pub fn position() -> PositionRow {
    PositionRow {
        venue: "schwab".into(),
        symbol: "tAAPL".into(),
        net: dec(-35, 1),
        long: dec(120, 1),
        short: dec(155, 1),
        pending_hedge: Some(dec(5, 1)),
        exposure_since: Some(NOW - 7 * MINUTE),
        note: "market closed".into(),
        paused: false,
        hedge: None,
    }
}

/// The bench's load: `open` open cycles (every few waiting, stuck or
/// half-done) then `closed` closed ones, each with a full timeline.
pub fn big_snapshot(closed: usize, open: usize) -> Snapshot {
    let mut s = snapshot();
    let tokens = TokenId::LOOP;
    let open_states = [
        CycleState::Detected,
        CycleState::HemiSwapDone,
        CycleState::BridgeOutSent,
        CycleState::BridgeOutProved,
        CycleState::OnEthereum,
        CycleState::UsdcBridgeBackSent,
    ];
    let mut cycles = Vec::with_capacity(closed + open);
    for i in 0..open {
        let token = tokens[i % tokens.len()];
        let route = if i % 2 == 0 {
            Route::HemiTunnel
        } else {
            Route::Stargate
        };
        let mut state = open_states[i % open_states.len()];
        if route == Route::Stargate && state == CycleState::BridgeOutProved {
            state = CycleState::BridgeOutSent;
        }
        let created = NOW - (open - i) as u64 * 7 * MINUTE;
        let c = cycle(
            1_000_000 + i as u64,
            token,
            route,
            state,
            created,
            3 * MINUTE,
        );
        let ready =
            (state == CycleState::BridgeOutProved).then_some(NOW + (i as u64 + 1) * 11 * MINUTE);
        let mut v = view(c, "next step", ready);
        v.stuck = i % 37 == 0;
        v.half_done = i % 53 == 0;
        cycles.push(v);
    }
    for i in 0..closed {
        let token = tokens[i % tokens.len()];
        let state = if i % 19 == 0 {
            CycleState::Failed
        } else {
            CycleState::Completed
        };
        let created = NOW - (closed - i) as u64 * 13 * MINUTE;
        let c = cycle(
            i as u64 + 1,
            token,
            Route::Stargate,
            state,
            created,
            2 * MINUTE,
        );
        cycles.push(view(c, "", None));
    }
    s.cycles = cycles;
    s.counts = CycleCounts {
        open: open as u64,
        completed: closed as u64,
        failed: (closed / 19) as u64,
        not_started: 0,
    };
    s.pnl.cumulative = (0..closed.min(2_000))
        .map(|i| (NOW - i as u64 * MINUTE, Decimal::new(i as i64 * 1234, 2)))
        .collect();
    s.seq = 1_000;
    s
}

/// Units of VCRED from whole VCRED, for tests.
pub fn vcred(whole: u64) -> Units {
    u128::from(whole) * 1_000_000
}
