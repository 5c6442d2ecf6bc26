//! Venue health: per venue ok or FAULT, latency, last block, when last
//! heard from, and the venue's own words. Above them, every open intent of
//! every strategy (OUTCOME UNKNOWN and HALTED first): its age, what it is,
//! what arbkeep is doing about it and the verb that resolves it.

use super::Ctx;
use crate::ui::action::Panel;
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
    if s.venues.is_empty() && s.intents.is_empty() {
        frame.render_widget(
            Paragraph::new("no venue reported yet").style(cx.theme.dim()),
            inner,
        );
        return;
    }
    let mut intents: Vec<_> = s.intents.iter().collect();
    intents.sort_by_key(|i| (!i.state.is_alarm(), i.since));
    let intent_rows = intents.into_iter().map(|i| {
        let style = if i.state.is_alarm() {
            cx.theme.loud()
        } else {
            cx.theme.warn()
        };
        Row::new(vec![
            Line::from(format!("intent {}", i.id)),
            Line::styled(i.state.label(), style),
            Line::from(rpad("", 7)),
            Line::from(rpad(&age(cx.now, i.since), 10)),
            Line::from(rpad("", 7)),
            Line::styled(
                format!("{} — {} — {}", i.what, i.doing, i.resolve),
                if i.state.is_alarm() {
                    cx.theme.bad()
                } else {
                    cx.theme.base()
                },
            ),
        ])
    });
    let rows: Vec<Row> = intent_rows
        .chain(s.venues.iter().map(|v| {
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
        }))
        .take(usize::from(inner.height.saturating_sub(1)))
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
