//! Positions: broker positions and onchain accumulators (equity hedge),
//! with any hedge still pending and how long the exposure has lasted, and
//! below them the hedge's audit trail: each execution and the trades it
//! offsets.

use super::Ctx;
use crate::engine::snapshot::hedge::HedgeView;
use crate::ui::action::Panel;
use crate::ui::format::{age, rpad};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Table};

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let s = cx.snapshot;
    let block = cx.block(Panel::Positions, "");
    let mut inner = block.inner(area);
    frame.render_widget(block, area);
    if let Some(h) = &s.hedge
        && !h.executions.is_empty()
        && inner.height >= 6
    {
        let table_rows = (s.positions.len() as u16 + 1).clamp(2, inner.height / 2);
        let [table, trail] =
            Layout::vertical([Constraint::Length(table_rows), Constraint::Min(2)]).areas(inner);
        audit_trail(frame, trail, cx, h);
        inner = table;
    }
    if s.positions.is_empty() {
        frame.render_widget(
            Paragraph::new("no broker positions").style(cx.theme.dim()),
            inner,
        );
        return;
    }
    let height = usize::from(inner.height.saturating_sub(1));
    let selected = cx.app.position_row(s);
    let (start, end) = super::window(s.positions.len(), selected, height);
    let focused = cx.focused(Panel::Positions);
    let rows: Vec<Row> = s.positions[start..end]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // A paused symbol says so where its hedging shows.
            let pending = match (p.paused, p.pending_hedge) {
                (true, _) => "PAUSED".to_string(),
                (false, Some(d)) => d.to_string(),
                (false, None) => "-".into(),
            };
            let exposed = p
                .exposure_since
                .map(|at| age(cx.now, at))
                .unwrap_or_else(|| "-".into());
            let exposed_style = if p.exposure_since.is_some() {
                cx.theme.warn()
            } else {
                cx.theme.dim()
            };
            let row = Row::new(vec![
                Line::from(p.venue.clone()),
                Line::from(p.symbol.clone()),
                Line::styled(
                    rpad(&p.net.to_string(), 10),
                    cx.theme.signed(p.net.is_sign_negative()),
                ),
                Line::from(rpad(&p.long.to_string(), 10)),
                Line::from(rpad(&p.short.to_string(), 10)),
                if p.paused {
                    Line::styled(rpad(&pending, 9), cx.theme.warn())
                } else {
                    Line::from(rpad(&pending, 9))
                },
                Line::styled(exposed, exposed_style),
                Line::from(p.note.clone()),
            ]);
            if focused && selected == Some(start + i) {
                row.style(cx.theme.selected())
            } else {
                row
            }
        })
        .collect();
    let header = Row::new(vec![
        "venue".to_string(),
        "symbol".into(),
        rpad("net", 10),
        rpad("long", 10),
        rpad("short", 10),
        rpad("to hedge", 9),
        "exposed".into(),
        "note".into(),
    ])
    .style(cx.theme.title());
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Fill(1),
        ],
    )
    .header(header)
    .column_spacing(1);
    frame.render_widget(table, inner);
}

/// "h3 sell 2 AAPL filled @201.35 ← t1 1.5, t2 0.5", newest first.
/// "850ms", "12s", "4m 05s".
fn format_duration_ms(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms}ms")
    } else {
        crate::model::time::format_duration(ms)
    }
}

fn audit_trail(frame: &mut Frame, area: Rect, cx: &Ctx, h: &HedgeView) {
    let market = match h.market_open {
        Some(true) => "market open",
        Some(false) => "market closed",
        None => "market hours unknown",
    };
    let window = match &h.exposure {
        Some(w) => format!(
            " · exposure (last {}): to order {} p99 {}, to fill {} p99 {}",
            w.hedges,
            format_duration_ms(w.to_order_median_ms),
            format_duration_ms(w.to_order_p99_ms),
            format_duration_ms(w.to_fill_median_ms),
            format_duration_ms(w.to_fill_p99_ms)
        ),
        None => String::new(),
    };
    let mut lines = vec![Line::styled(
        format!(
            "audit trail (trade → hedge) · {} · {market} · {} trades{window}",
            h.broker, h.trade_count
        ),
        cx.theme.title(),
    )];
    for e in h
        .executions
        .iter()
        .take(usize::from(area.height.saturating_sub(1)))
    {
        let side = match e.side {
            crate::venue::broker::OrderSide::Buy => "buy",
            crate::venue::broker::OrderSide::Sell => "sell",
        };
        let price = e
            .average_price
            .map(|p| format!(" @{p}"))
            .unwrap_or_default();
        let links = e
            .links
            .iter()
            .map(|(t, shares)| format!("t{t} {shares}"))
            .collect::<Vec<_>>()
            .join(", ");
        let style = match e.state.as_str() {
            "failed" => cx.theme.bad(),
            "filled" => cx.theme.dim(),
            _ => cx.theme.warn(),
        };
        let note = if e.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", e.note)
        };
        lines.push(Line::styled(
            format!(
                "h{} {side} {} {} {}{price} ← {links}{note}",
                e.id, e.shares, e.symbol, e.state
            ),
            style,
        ));
    }
    for a in h.alerts.iter().filter(|a| a.contains("REORG")).take(2) {
        lines.push(Line::styled(format!("!! {a}"), cx.theme.bad()));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
