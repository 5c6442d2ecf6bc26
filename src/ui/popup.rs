//! Popups over the panels: help (generated from the keymap table), text
//! fields (size, tx hash, reason, proof, filter) and the confirm popup,
//! which names exactly what Enter will do in the engine's own words.

use super::app::{Field, Popup};
use super::keymap;
use super::panels::Ctx;
use crate::engine::{Command, Mode};
use crate::model::format_units;
use crate::ui::format::{amount, pad, signed};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// A rectangle of at most `width` × `height`, centred in `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn frame_block<'a>(cx: &Ctx, title: String) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(cx.theme.border(true))
        .title(Span::styled(format!(" {title} "), cx.theme.title()))
}

pub fn render(frame: &mut Frame, popup: &Popup, cx: &Ctx) {
    match popup {
        Popup::Help => help(frame, cx),
        Popup::Input { field, text, error } => input(frame, cx, field, text, error.as_deref()),
        Popup::Confirm { command } => confirm(frame, cx, command),
    }
}

/// Every binding in two columns, grouped by where it works.
fn help(frame: &mut Frame, cx: &Ctx) {
    let mut lines: Vec<Line> = Vec::new();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (context, rows) in keymap::help_sections() {
        lines.push(Line::styled(context.title(), cx.theme.accent()));
        for (label, help) in rows {
            if seen.contains(&(label, help)) {
                continue;
            }
            seen.push((label, help));
            lines.push(Line::from(vec![
                Span::styled(pad(label, 10), cx.theme.title()),
                Span::raw(help),
            ]));
        }
    }
    let half = lines.len().div_ceil(2);
    let right = lines.split_off(half);
    let height = (half as u16).saturating_add(2);
    let area = centered(frame.area(), 80, height);
    frame.render_widget(Clear, area);
    let block = frame_block(cx, "Keys (Esc closes)".into());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [l, r] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), l);
    frame.render_widget(Paragraph::new(right), r);
}

/// A centred, bordered box just tall enough for `lines` (wrapped at its width).
fn boxed(frame: &mut Frame, cx: &Ctx, title: String, lines: Vec<Line>) {
    const WIDTH: u16 = 76;
    let inner_width = usize::from(WIDTH.min(frame.area().width).saturating_sub(2)).max(1);
    let rows: usize = lines
        .iter()
        .map(|line| line.width().div_ceil(inner_width).max(1))
        .sum();
    let height = u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2);
    let area = centered(frame.area(), WIDTH, height);
    frame.render_widget(Clear, area);
    let block = frame_block(cx, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn input(frame: &mut Frame, cx: &Ctx, field: &Field, text: &str, error: Option<&str>) {
    let mut lines = Vec::new();
    if let Field::ApproveSize { opportunity } = field
        && let Some(o) = cx
            .snapshot
            .opportunities
            .iter()
            .find(|o| o.id == *opportunity)
    {
        lines.push(Line::from(vec![
            Span::raw(format!(
                "{} via {}, edge {} bps, chosen ",
                o.token, o.route, o.edge_bps
            )),
            Span::styled(
                format!("{} VCRED", amount(o.size_vcred, 6, 6)),
                cx.theme.title(),
            ),
        ]));
        lines.push(Line::styled(
            format!(
                "est. profit {} VCRED at the chosen size (fees {})",
                signed(o.est_profit_vcred, 2),
                o.est_fees_vcred.round_dp(2)
            ),
            cx.theme.dim(),
        ));
    }
    lines.push(Line::styled(field.prompt(), cx.theme.dim()));
    lines.push(Line::from(vec![
        Span::styled("> ", cx.theme.accent()),
        Span::styled(text.to_string(), cx.theme.title()),
        Span::styled("▏", cx.theme.accent()),
    ]));
    if let Some(error) = error {
        lines.push(Line::styled(error.to_string(), cx.theme.bad()));
    }
    lines.push(Line::styled(
        "Enter accept   Esc cancel (nothing is sent)",
        cx.theme.dim(),
    ));
    boxed(frame, cx, field.title(), lines);
}

fn confirm(frame: &mut Frame, cx: &Ctx, command: &Command) {
    let mut lines = vec![
        Line::styled("This will:", cx.theme.dim()),
        Line::styled(command.describe(), cx.theme.warn()),
    ];
    if let Command::Approve {
        size_vcred: Some(size),
        ..
    } = command
    {
        lines.push(Line::styled(
            format!("size {} VCRED = {size} base units", format_units(*size, 6)),
            cx.theme.dim(),
        ));
    }
    if let Command::MarkDone { tx_hash, .. } = command {
        lines.push(Line::styled(format!("tx {tx_hash}"), cx.theme.dim()));
    }
    if cx.snapshot.mode == Mode::Live {
        lines.push(Line::styled(" LIVE: real money ", cx.theme.loud()));
    }
    lines.push(Line::from(vec![
        Span::styled("Enter/y", cx.theme.title()),
        Span::raw(" do it    "),
        Span::styled("Esc/n", cx.theme.title()),
        Span::raw(" cancel"),
    ]));
    boxed(frame, cx, "Confirm".into(), lines);
}
