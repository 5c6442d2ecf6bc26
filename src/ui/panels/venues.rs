//! Venue health: per venue ok or FAULT, latency, last block, when last
//! heard from, and the venue's own words.

use super::Ctx;
use crate::ui::app::Panel;
use crate::ui::format::{age, rpad};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Table};

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let s = cx.snapshot;
    let faults = s.venues.iter().filter(|v| !v.ok).count();
    let extra = if faults > 0 {
        format!("{faults} FAULT")
    } else {
        String::new()
    };
    let block = cx.block(Panel::Venues, &extra);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if s.venues.is_empty() {
        frame.render_widget(
            Paragraph::new("no venue reported yet").style(cx.theme.dim()),
            inner,
        );
        return;
    }
    let rows: Vec<Row> = s
        .venues
        .iter()
        .take(usize::from(inner.height.saturating_sub(1)))
        .map(|v| {
            let status = if v.ok {
                Line::styled("ok", cx.theme.good())
            } else {
                Line::styled("FAULT", cx.theme.loud())
            };
            let latency = v
                .latency_ms
                .map(|ms| format!("{ms}ms"))
                .unwrap_or_else(|| "-".into());
            let head = v.head.map(|h| h.to_string()).unwrap_or_else(|| "-".into());
            let seen = v
                .last_seen
                .map(|at| age(cx.now, at))
                .unwrap_or_else(|| "-".into());
            Row::new(vec![
                Line::from(v.name.clone()),
                status,
                Line::from(rpad(&latency, 7)),
                Line::from(rpad(&head, 10)),
                Line::from(rpad(&seen, 7)),
                Line::styled(
                    v.detail.clone(),
                    if v.ok { cx.theme.dim() } else { cx.theme.bad() },
                ),
            ])
        })
        .collect();
    let header = Row::new(vec![
        "venue".to_string(),
        "state".into(),
        rpad("latency", 7),
        rpad("block", 10),
        rpad("seen", 7),
        "detail".into(),
    ])
    .style(cx.theme.title());
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(5),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Fill(1),
        ],
    )
    .header(header)
    .column_spacing(1);
    frame.render_widget(table, inner);
}
