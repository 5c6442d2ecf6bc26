//! The Positions panel with the equity hedge: per-symbol net, long, short,
//! the pending hedge, the exposure age, and the audit trail from trades to
//! executions, at 80×24 (one panel) and 160×48 (dashboard); and the keys
//! that act on the selected symbol there, each ending in a confirm.

use arbkeep::engine::snapshot::PositionRow;
use arbkeep::engine::{Command, Resolution};
use arbkeep::strategy::equity_hedge::HedgeView;
use arbkeep::strategy::equity_hedge::view::ExecutionRow;
use arbkeep::ui::{Action, App, Effect, Panel, Popup, UiOptions, fixture, render};
use arbkeep::venue::broker::OrderSide;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rust_decimal::Decimal;

fn screen(app: &App, snapshot: &arbkeep::engine::Snapshot, (w, h): (u16, u16)) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| render(f, app, snapshot)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn hedged() -> arbkeep::engine::Snapshot {
    let mut snapshot = fixture::snapshot();
    let now = snapshot.now;
    snapshot.positions.push(PositionRow {
        venue: "raindex".into(),
        symbol: "AAPL".into(),
        net: Decimal::new(21, 1),
        long: Decimal::new(41, 1),
        short: Decimal::new(20, 1),
        pending_hedge: Some(Decimal::from(2)),
        exposure_since: Some(now - 7 * 60_000),
        note: "hedge h2 in flight".into(),
        paused: false,
        hedge: Some("h2".into()),
    });
    snapshot.hedge = Some(HedgeView {
        broker: "paper broker".into(),
        market_open: Some(true),
        trade_count: 3,
        executions: vec![
            ExecutionRow {
                id: 2,
                symbol: "AAPL".into(),
                side: OrderSide::Sell,
                shares: Decimal::from(2u64),
                state: "working".into(),
                order_id: Some("17".into()),
                average_price: None,
                created_at: now,
                links: vec![(1, Decimal::new(15, 1)), (3, Decimal::new(5, 1))],
                note: String::new(),
            },
            ExecutionRow {
                id: 1,
                symbol: "NVDA".into(),
                side: OrderSide::Buy,
                shares: Decimal::from(1u64),
                state: "filled".into(),
                order_id: Some("16".into()),
                average_price: Some(Decimal::new(12_034, 2)),
                created_at: now,
                links: vec![(2, Decimal::ONE)],
                note: String::new(),
            },
        ],
        alerts: vec!["2026-01-01 12:00:00 REORG after hedge: trade t9".into()],
        ..HedgeView::default()
    });
    snapshot
}

#[test]
fn positions_show_the_hedge_rows_and_the_audit_trail_at_both_sizes() {
    let snapshot = hedged();
    let mut app = App::new(&UiOptions::default());
    app.sync(&snapshot);
    app.update(Action::Focus(Panel::Positions), &snapshot);
    for size in [(80, 24), (160, 48)] {
        let text = screen(&app, &snapshot, size);
        for expected in [
            "raindex",
            "AAPL",
            "2.1",
            "4.1",
            "7m 00s",
            "audit trail",
            "h2 sell 2 AAPL working ← t1 1.5, t3 0.5",
            "h1 buy 1 NVDA filled @120.34 ← t2 1",
        ] {
            assert!(
                text.contains(expected),
                "{size:?}: expected {expected:?} in\n{text}"
            );
        }
        if size == (80, 24) {
            assert!(text.contains("REORG"), "alert shown:\n{text}");
        }
    }
}

/// Type `text` into the open field and press Enter, then Enter on the
/// confirm: the command sent.
fn answer(app: &mut App, snapshot: &arbkeep::engine::Snapshot, text: &str) -> Option<Effect> {
    for c in text.chars() {
        app.update(Action::Input(c), snapshot);
    }
    app.update(Action::Confirm, snapshot);
    assert!(
        matches!(app.popup, Some(Popup::Confirm { .. })),
        "{:?}",
        app.popup
    );
    app.update(Action::Confirm, snapshot)
}

#[test]
fn positions_keys_pause_account_set_and_resolve_the_selected_symbol_after_a_confirm() {
    let mut snapshot = hedged();
    let mut nvda = snapshot.positions[0].clone();
    (nvda.symbol, nvda.hedge, nvda.pending_hedge) = ("NVDA".into(), None, None);
    snapshot.positions.push(nvda);
    let mut app = App::new(&UiOptions::default());
    app.sync(&snapshot);
    app.update(Action::Focus(Panel::Positions), &snapshot);
    assert_eq!(
        app.selected_symbol.as_deref(),
        Some("AAPL"),
        "the first row"
    );
    assert_eq!(app.update(Action::ToggleTokenPause, &snapshot), None);
    let pause = Command::PauseSymbol {
        symbol: "AAPL".into(),
    };
    assert_eq!(
        app.popup,
        Some(Popup::Confirm {
            command: pause.clone()
        })
    );
    assert_eq!(
        app.update(Action::Confirm, &snapshot),
        Some(Effect::Send(pause))
    );
    // Shown paused: `t` now resumes.
    let row = snapshot
        .positions
        .iter_mut()
        .find(|p| p.symbol == "AAPL")
        .unwrap();
    row.paused = true;
    row.note = "PAUSED by the operator (t resumes) · hedge h2 in flight".into();
    app.update(Action::ToggleTokenPause, &snapshot);
    assert_eq!(
        app.update(Action::Confirm, &snapshot),
        Some(Effect::Send(Command::ResumeSymbol {
            symbol: "AAPL".into()
        }))
    );
    let text = screen(&app, &snapshot, (160, 48));
    assert!(
        text.lines()
            .any(|l| l.contains("AAPL") && l.contains("PAUSED")),
        "{text}"
    );
    // `x` releases its open hedge, with a reason.
    app.update(Action::Fail, &snapshot);
    assert_eq!(
        answer(&mut app, &snapshot, "never reached the broker"),
        Some(Effect::Send(Command::Resolve {
            id: "h2".into(),
            resolution: Resolution::Drop,
            reason: "never reached the broker".into(),
            evidence: None,
        }))
    );
    app.update(Action::Skip, &snapshot);
    assert!(matches!(
        answer(&mut app, &snapshot, "filled, seen in the app"),
        Some(Effect::Send(Command::Resolve {
            resolution: Resolution::Settle,
            ..
        }))
    ));
    // `e` sets the net: a number, then the reason; a bad number is refused in place.
    app.update(Action::SetPosition, &snapshot);
    for c in "two hedged".chars() {
        app.update(Action::Input(c), &snapshot);
    }
    app.update(Action::Confirm, &snapshot);
    match &app.popup {
        Some(Popup::Input { error: Some(e), .. }) => assert!(e.contains("not a number"), "{e}"),
        other => panic!("{other:?}"),
    }
    app.update(Action::Cancel, &snapshot);
    app.update(Action::SetPosition, &snapshot);
    assert_eq!(
        answer(&mut app, &snapshot, "-1.5 hedged by hand"),
        Some(Effect::Send(Command::SetPosition {
            symbol: "AAPL".into(),
            net: Decimal::new(-15, 1),
            reason: "hedged by hand".into(),
        }))
    );
    // `d` accounts a transaction's fills.
    let tx = format!("0x{}", "ab".repeat(32));
    app.update(Action::MarkDone, &snapshot);
    assert_eq!(
        answer(&mut app, &snapshot, &tx),
        Some(Effect::Send(Command::ProcessTx { tx_hash: tx }))
    );
    // A symbol without a hedge in flight: nothing to settle.
    app.update(Action::Down, &snapshot);
    assert_eq!(app.selected_symbol.as_deref(), Some("NVDA"));
    assert_eq!(app.update(Action::Skip, &snapshot), None);
    assert_eq!(app.popup, None);
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("no hedge in flight")),
        "{:?}",
        app.message
    );
}
