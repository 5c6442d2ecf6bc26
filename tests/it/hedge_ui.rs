//! The Positions panel with the equity hedge: per-symbol net, long, short,
//! the pending hedge, the exposure age, and the audit trail from trades to
//! executions, at 80×24 (one panel) and 160×48 (dashboard).

use arbkeep::engine::snapshot::PositionRow;
use arbkeep::strategy::equity_hedge::HedgeView;
use arbkeep::strategy::equity_hedge::view::ExecutionRow;
use arbkeep::ui::{Action, App, Panel, UiOptions, fixture, render};
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

#[test]
fn positions_show_the_hedge_rows_and_the_audit_trail_at_both_sizes() {
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
                shares: 2,
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
                shares: 1,
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
