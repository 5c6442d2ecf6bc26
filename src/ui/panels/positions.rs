//! Positions: broker positions and onchain accumulators (equity hedge),
//! with any hedge still pending and how long the exposure has lasted.

use super::Ctx;
use crate::ui::app::Panel;
use crate::ui::format::{age, rpad};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Table};

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let s = cx.snapshot;
    let block = cx.block(Panel::Positions, "");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if s.positions.is_empty() {
        frame.render_widget(
            Paragraph::new("no broker positions").style(cx.theme.dim()),
            inner,
        );
        return;
    }
    let rows: Vec<Row> = s
        .positions
        .iter()
        .take(usize::from(inner.height.saturating_sub(1)))
        .map(|p| {
            let pending = p
                .pending_hedge
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into());
            let exposed = p
                .exposure_since
                .map(|at| age(cx.now, at))
                .unwrap_or_else(|| "-".into());
            let exposed_style = if p.exposure_since.is_some() {
                cx.theme.warn()
            } else {
                cx.theme.dim()
            };
            Row::new(vec![
                Line::from(p.venue.clone()),
                Line::from(p.symbol.clone()),
                Line::styled(
                    rpad(&p.net.to_string(), 10),
                    cx.theme.signed(p.net.is_sign_negative()),
                ),
                Line::from(rpad(&p.long.to_string(), 10)),
                Line::from(rpad(&p.short.to_string(), 10)),
                Line::from(rpad(&pending, 9)),
                Line::styled(exposed, exposed_style),
                Line::from(p.note.clone()),
            ])
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
