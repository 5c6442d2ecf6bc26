//! Cycles: every open or half-done cycle, pinned above the recent closed
//! ones (which scroll beneath them), with its state, age, what it does or
//! waits for next with a countdown and a bar of the wait, and a loud mark on
//! anything stuck or half-done.

use super::{Ctx, pinned_window};
use crate::engine::snapshot::CycleView;
use crate::model::{CycleState, Timestamp};
use crate::ui::action::Panel;
use crate::ui::format::{age, countdown, progress, signed, text_gauge};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

/// The alarm for a cycle, if any: half-done first (money may have moved;
/// a failed cycle still holding money is half-done too), then stuck.
pub fn alarm(view: &CycleView) -> Option<&'static str> {
    if view.half_done {
        Some("!! HALF-DONE")
    } else if view.stuck && view.is_open() {
        Some("!! STUCK")
    } else {
        None
    }
}

/// What happens next, in words, with the countdown:
/// "finalize ready in 23h 12m", "eth_swap, retry in 30s", "completed +1.2".
pub fn next_text(view: &CycleView, now: Timestamp) -> String {
    let cycle = &view.cycle;
    match cycle.state {
        CycleState::Completed => match &cycle.result {
            Some(result) => format!("completed {} VCRED", signed(result.profit_vcred, 2)),
            None => "completed".into(),
        },
        CycleState::Failed => match &cycle.failure {
            Some(failure) => format!("failed: {}", failure.reason),
            None => "failed".into(),
        },
        CycleState::NotStarted => match &cycle.refusal {
            Some(reason) => format!("not started: {reason}"),
            None => "not started".into(),
        },
        _ => {
            if let Some(at) = view.ready_at {
                format!("{} {}", view.next, countdown(now, at))
            } else if let Some(at) = cycle.not_before.filter(|at| *at > now) {
                format!("{}, retry {}", view.next, countdown(now, at))
            } else {
                view.next.clone()
            }
        }
    }
}

/// How far the current wait has gone, when there is a future ready time.
pub fn wait_ratio(view: &CycleView, now: Timestamp) -> Option<f64> {
    let at = view.ready_at.filter(|at| *at > now && view.is_open())?;
    Some(progress(view.cycle.state_since(), at, now))
}

/// The state as the list shows it: a cycle refused before anything was
/// sent reads as closed, not as a failure waiting for someone.
pub fn state_label(state: CycleState) -> &'static str {
    match state {
        CycleState::NotStarted => "NOT STARTED (closed)",
        other => other.name(),
    }
}

fn state_style(cx: &Ctx, state: CycleState) -> Style {
    match state {
        CycleState::Completed => cx.theme.good(),
        CycleState::Failed => cx.theme.bad(),
        CycleState::NotStarted => cx.theme.dim(),
        _ => cx.theme.base(),
    }
}

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let view = cx.view;
    let shown = if cx.app.filter.is_empty() {
        format!(
            "{} shown, {} open",
            view.cycles.len(),
            cx.snapshot.counts.open
        )
    } else {
        format!(
            "{} of {} match /{}",
            view.cycles.len(),
            cx.snapshot.cycles.len(),
            cx.app.filter
        )
    };
    let block = cx.block(Panel::Cycles, &shown);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if view.cycles.is_empty() {
        let text = if cx.snapshot.cycles.is_empty() {
            "no cycles yet"
        } else {
            "no cycle matches the filter (Esc clears it)"
        };
        frame.render_widget(Paragraph::new(text).style(cx.theme.dim()), inner);
        return;
    }
    let full = inner.width >= 118;
    let selected = cx.app.cycle_position(cx.snapshot).or(Some(0));
    let height = usize::from(inner.height.saturating_sub(1));
    // Open and half-done cycles stay above the closed ones, which scroll.
    let rows: Vec<Row> = pinned_window(view.cycles.len(), view.pinned, selected, height)
        .into_iter()
        .filter_map(|pos| {
            let v = cx.snapshot.cycles.get(*view.cycles.get(pos)?)?;
            Some(row(cx, v, Some(pos) == selected, full))
        })
        .collect();
    let (widths, header) = if full {
        (
            vec![
                Constraint::Length(12),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(28),
                Constraint::Length(8),
                Constraint::Fill(1),
                Constraint::Length(12),
            ],
            vec![
                "", "cycle", "token", "route", "state", "age", "next", "wait",
            ],
        )
    } else {
        (
            vec![
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(28),
                Constraint::Fill(1),
            ],
            vec!["cycle", "token", "state", "next"],
        )
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(cx.theme.title()))
        .column_spacing(1);
    frame.render_widget(table, inner);
}

fn row<'a>(cx: &Ctx, v: &CycleView, selected: bool, full: bool) -> Row<'a> {
    let c = &v.cycle;
    let alarm = alarm(v);
    let next = next_text(v, cx.now);
    let mut cells = Vec::with_capacity(8);
    if full {
        cells.push(match alarm {
            Some(mark) => Cell::from(Span::styled(mark, cx.theme.loud())),
            None => Cell::from(""),
        });
    }
    cells.push(Cell::from(c.id.to_string()));
    cells.push(Cell::from(c.token.symbol()));
    if full {
        cells.push(Cell::from(c.route.label(c.token)));
    }
    cells.push(Cell::from(Span::styled(
        state_label(c.state),
        state_style(cx, c.state),
    )));
    if full {
        cells.push(Cell::from(age(cx.now, c.created_at)));
        cells.push(Cell::from(next));
        let gauge = wait_ratio(v, cx.now)
            .map(|r| text_gauge(r, 12))
            .unwrap_or_default();
        cells.push(Cell::from(Span::styled(gauge, cx.theme.gauge())));
    } else {
        // Narrow: the alarm leads the "next" column so it is never cut off.
        let mut spans = Vec::with_capacity(3);
        if let Some(mark) = alarm {
            spans.push(Span::styled(mark, cx.theme.loud()));
            spans.push(Span::raw(" "));
        }
        spans.push(Span::raw(next));
        cells.push(Cell::from(Line::from(spans)));
    }
    let style = if selected {
        cx.theme.selected()
    } else {
        Style::default()
    };
    Row::new(cells).style(style)
}
