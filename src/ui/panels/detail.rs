//! The selected cycle in full: where its money is, what it waits for (with
//! a gauge of the wait), the last error, the timeline of states with times,
//! and every step with its tx hash.

use super::Ctx;
use super::cycles::{alarm, next_text, wait_ratio};
use crate::model::in_flight_note;
use crate::model::time::{format_duration, format_time};
use crate::ui::format::{amount, cut, hash, pad, plain, signed};
use crate::venue::NOTE_TROUBLE;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, LineGauge, Paragraph};

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let Some(v) = cx.app.selected_cycle_view(cx.snapshot).or_else(|| {
        // Not yet synced (first frame): show the first row, like the table.
        cx.view
            .cycles
            .first()
            .and_then(|i| cx.snapshot.cycles.get(*i))
    }) else {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(cx.theme.border(false))
            .title(" Cycle detail ");
        frame.render_widget(Paragraph::new("no cycle selected").block(block), area);
        return;
    };
    let c = &v.cycle;
    let t = cx.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(false))
        .title(Line::from(vec![
            Span::styled(format!(" Cycle {} ", c.id), t.title()),
            Span::styled("y copies the latest tx hash ", t.dim()),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let mut head = vec![{
        let mut spans = vec![
            Span::styled(format!("{} ", c.id), t.title()),
            Span::raw(format!("{} {}  ", c.token.symbol(), c.route.label(c.token))),
            Span::styled(c.state.name(), t.title()),
        ];
        if let Some(mark) = alarm(v) {
            spans.push(Span::raw("  "));
            spans.push(Span::styled(format!(" {mark} "), t.loud()));
        }
        if c.operator_touched {
            spans.push(Span::styled("  operator-touched", t.warn()));
        }
        Line::from(spans)
    }];
    let where_text = format!(
        "{} {} on {}{}",
        amount(c.holding.amount, c.holding.token.decimals(), 6),
        c.holding.token.symbol(),
        c.holding.chain.name(),
        if c.holding.in_flight {
            " (in flight on bridge)"
        } else {
            ""
        }
    );
    head.push(Line::from(vec![
        Span::styled("holds ", t.dim()),
        Span::raw(where_text),
    ]));
    head.push(Line::from(vec![
        Span::styled("in ", t.dim()),
        Span::raw(format!("{} VCRED", amount(c.vcred_in, 6, 6))),
        Span::styled("  expects ", t.dim()),
        Span::styled(
            signed(c.expected_profit_vcred, 2),
            t.signed(c.expected_profit_vcred.is_sign_negative()),
        ),
        Span::styled(" fees ", t.dim()),
        Span::raw(plain(c.expected_fees_vcred, 2)),
        Span::styled(format!("  {} bps", c.edge_bps), t.dim()),
    ]));
    head.push(Line::from(vec![
        Span::styled("next ", t.dim()),
        Span::styled(next_text(v, cx.now), t.title()),
        Span::styled(
            format!(
                "  (in state {})",
                format_duration(cx.now.saturating_sub(c.state_since()))
            ),
            t.dim(),
        ),
    ]));
    // The latest tx hash whole, on its own line, so it can be selected with
    // the mouse in tmux even where the steps list must shorten hashes.
    if let Some(tx) = v.steps.iter().rev().find_map(|s| s.tx_hash.as_deref()) {
        head.push(Line::from(vec![
            Span::styled("latest tx ", t.dim()),
            Span::styled(tx.to_string(), t.accent()),
        ]));
    }
    if let Some(error) = &c.last_error {
        // A bridge's in-flight note is news, not an error, unless it
        // reports trouble.
        let line = match in_flight_note(error) {
            Some(note) if note.starts_with(NOTE_TROUBLE) => {
                vec![
                    Span::styled("bridge ", t.bad()),
                    Span::styled(note.to_string(), t.bad()),
                ]
            }
            Some(note) => vec![
                Span::styled("bridge ", t.dim()),
                Span::raw(note.to_string()),
            ],
            None => vec![
                Span::styled("last error ", t.bad()),
                Span::raw(error.clone()),
            ],
        };
        head.push(Line::from(line));
    }
    if let Some(failure) = &c.failure {
        let who = if failure.by_operator {
            " (operator)"
        } else {
            ""
        };
        head.push(Line::styled(
            format!("failed in {}{}: {}", failure.in_state, who, failure.reason),
            t.bad(),
        ));
    }
    if c.proof_data.is_some() {
        head.push(Line::styled("bridge proof data imported", t.dim()));
    }
    let ratio = wait_ratio(v, cx.now);
    let [head_area, gauge_area, body] = Layout::vertical([
        Constraint::Length(head.len() as u16),
        Constraint::Length(u16::from(ratio.is_some())),
        Constraint::Fill(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(head), head_area);
    if let Some(ratio) = ratio {
        let gauge = LineGauge::default()
            .ratio(ratio)
            .filled_style(t.gauge())
            .label(format!("wait {:>3}% ", (ratio * 100.0).round() as u64));
        frame.render_widget(gauge, gauge_area);
    }

    let [left, right] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(body);
    let wide = left.width >= 44;
    let rows = usize::from(body.height.saturating_sub(1));

    // Timeline: most recent at the bottom, as many as fit.
    let mut timeline = vec![Line::styled("timeline", t.title())];
    let history = &c.history;
    let skip = history.len().saturating_sub(rows);
    for (i, (state, at)) in history.iter().enumerate().skip(skip) {
        let until = history.get(i + 1).map_or(cx.now, |(_, next)| *next);
        let stamp = format_time(*at);
        // Narrow: time of day only, and the duration only when the whole
        // state name still fits (the name matters more).
        let stamp = if wide {
            stamp
        } else {
            stamp.get(11..16).unwrap_or(&stamp).to_string()
        };
        let took = format_duration(until.saturating_sub(*at));
        let room = usize::from(left.width).saturating_sub(stamp.len() + 1);
        let mut spans = vec![Span::styled(format!("{stamp} "), t.dim())];
        if room >= 28 + 1 + took.len() {
            spans.push(Span::raw(pad(state.name(), room - took.len() - 1)));
            spans.push(Span::styled(format!(" {took}"), t.dim()));
        } else {
            spans.push(Span::raw(cut(state.name(), room)));
        }
        timeline.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(timeline), left);

    // Steps with their tx hashes (cut in the middle when narrow; `y` copies
    // whole), each swap with the provider that carried it out under it.
    let mut lines = Vec::new();
    let width = usize::from(right.width).saturating_sub(1);
    for step in &v.steps {
        let status_style = if step.status.starts_with("failed") {
            t.bad()
        } else if step.status == "intended" {
            t.warn()
        } else {
            t.base()
        };
        let label = format!("{} #{} ", step.kind.name(), step.attempt);
        let status = format!("{} ", cut(&step.status, 14));
        let rest = width.saturating_sub(label.chars().count() + status.chars().count());
        let tx = step
            .tx_hash
            .as_deref()
            .map_or_else(|| "-".to_string(), |h| hash(h, rest));
        lines.push(Line::from(vec![
            Span::raw(label),
            Span::styled(status, status_style),
            Span::styled(tx, t.accent()),
        ]));
        if let Some(via) = &step.via {
            lines.push(Line::styled(
                format!("  {}", cut(via, width.saturating_sub(2))),
                t.dim(),
            ));
        }
    }
    let skip = lines.len().saturating_sub(rows);
    let mut steps = vec![Line::styled("steps", t.title())];
    steps.extend(lines.into_iter().skip(skip));
    frame.render_widget(
        Paragraph::new(steps),
        right.inner(ratatui::layout::Margin::new(1, 0)),
    );
}
