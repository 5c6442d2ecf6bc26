//! Balances: a token × chain grid of wallet balances, the total on bridges
//! per token, and each transfer in flight with its cycle and ready time.

use super::Ctx;
use crate::model::Chain;
use crate::ui::action::Panel;
use crate::ui::format::{amount, countdown, rpad};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let s = cx.snapshot;
    let block = cx.block(Panel::Balances, "");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if cx.view.balance_tokens.is_empty() {
        frame.render_widget(
            Paragraph::new("no balances yet").style(cx.theme.dim()),
            inner,
        );
        return;
    }
    let col = usize::from(inner.width.saturating_sub(8 + 3)) / 3;
    let col = col.clamp(8, 24);
    let frac = col.saturating_sub(8).min(8);
    let rows: Vec<Row> = cx
        .view
        .balance_tokens
        .iter()
        .map(|token| {
            let d = token.decimals();
            let cell = |units| rpad(&amount(units, d, frac), col);
            let flying = cx
                .view
                .in_flight
                .iter()
                .find(|(t, _)| t == token)
                .map_or(0, |(_, units)| *units);
            let mut cells = vec![Line::from(token.symbol())];
            for chain in Chain::ALL {
                cells.push(Line::from(cell(s.balance(chain, *token))));
            }
            cells.push(if flying > 0 {
                Line::styled(cell(flying), cx.theme.warn())
            } else {
                Line::styled(rpad("-", col), cx.theme.dim())
            });
            Row::new(cells)
        })
        .collect();
    let width = u16::try_from(col).unwrap_or(8);
    let header = Row::new(vec![
        "token".to_string(),
        rpad("Hemi", col),
        rpad("Ethereum", col),
        rpad("in flight", col),
    ])
    .style(cx.theme.title());
    let grid_rows = cx.view.balance_tokens.len() as u16 + 1;
    let [grid, flights] =
        Layout::vertical([Constraint::Length(grid_rows), Constraint::Fill(1)]).areas(inner);
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(width),
            Constraint::Length(width),
            Constraint::Length(width),
        ],
    )
    .header(header)
    .column_spacing(1);
    frame.render_widget(table, grid);

    let lines: Vec<Line> = s
        .in_flight
        .iter()
        .take(usize::from(flights.height))
        .map(|f| {
            let ready = f
                .ready_at
                .map(|at| format!("ready {} ", countdown(cx.now, at)))
                .unwrap_or_default();
            Line::from(vec![
                Span::styled(format!("{} ", f.cycle), cx.theme.title()),
                Span::raw(format!(
                    "{} {} {}→{} ",
                    amount(f.amount, f.token.decimals(), 6),
                    f.token.symbol(),
                    f.from.name(),
                    f.to.name(),
                )),
                Span::styled(ready, cx.theme.accent()),
                Span::styled(
                    format!("{} {}", f.route.label(f.token), f.state.name()),
                    cx.theme.dim(),
                ),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), flights);
}
