//! Opportunities: what the planner found, the size it chose, the estimated
//! profit and fees, and whether it runs by itself, waits for the operator,
//! is paused or is below the floor.

use super::{Ctx, window};
use crate::engine::snapshot::{OpportunityState, OpportunityView};
use crate::ui::action::Panel;
use crate::ui::format::{amount, plain, rpad, signed};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

pub fn state_label(state: OpportunityState) -> &'static str {
    match state {
        OpportunityState::Auto => "auto",
        OpportunityState::AwaitingApproval => "AWAITING APPROVAL",
        OpportunityState::Paused => "PAUSED",
        OpportunityState::BelowFloor => "below floor",
        OpportunityState::Refused => "refused",
        OpportunityState::Taken => "taken",
        OpportunityState::Rejected => "rejected",
    }
}

fn state_style(cx: &Ctx, state: OpportunityState) -> Style {
    match state {
        OpportunityState::AwaitingApproval => cx.theme.warn(),
        OpportunityState::Paused | OpportunityState::Refused => cx.theme.bad(),
        OpportunityState::BelowFloor | OpportunityState::Rejected => cx.theme.dim(),
        OpportunityState::Auto | OpportunityState::Taken => cx.theme.good(),
    }
}

fn row<'a>(cx: &Ctx, o: &OpportunityView, selected: bool, full: bool) -> Row<'a> {
    let mut cells = vec![
        Cell::from(format!("#{}", o.id)),
        Cell::from(o.token.symbol()),
        Cell::from(o.route.label(o.token)),
        Cell::from(rpad(&o.edge_bps.to_string(), 5)),
        Cell::from(rpad(&amount(o.size_vcred, 6, 2), 12)),
        Cell::from(Line::styled(
            rpad(&signed(o.est_profit_vcred, 2), 9),
            cx.theme.signed(o.est_profit_vcred.is_sign_negative()),
        )),
    ];
    if full {
        cells.push(Cell::from(rpad(&plain(o.est_fees_vcred, 2), 8)));
    }
    cells.push(Cell::from(Line::styled(
        state_label(o.state),
        state_style(cx, o.state),
    )));
    if full {
        let mut note = o.note.clone();
        if let Some(cycle) = o.cycle {
            note = format!("→ {cycle} {note}");
        }
        cells.push(Cell::from(note));
    }
    let style = if selected {
        cx.theme.selected()
    } else {
        Style::default()
    };
    Row::new(cells).style(style)
}

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let view = cx.view;
    let filtered = if cx.app.filter.is_empty() {
        format!("{}", view.opportunities.len())
    } else {
        format!(
            "{} of {} /{}",
            view.opportunities.len(),
            cx.snapshot.opportunities.len(),
            cx.app.filter
        )
    };
    let block = cx.block(Panel::Opportunities, &filtered);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if view.opportunities.is_empty() {
        let text = if cx.snapshot.opportunities.is_empty() {
            "no opportunities right now"
        } else {
            "no opportunity matches the filter"
        };
        frame.render_widget(Paragraph::new(text).style(cx.theme.dim()), inner);
        return;
    }
    let full = inner.width >= 90;
    let selected = cx.app.opportunity_position(cx.snapshot).or(Some(0));
    let (start, end) = window(
        view.opportunities.len(),
        selected,
        usize::from(inner.height.saturating_sub(1)),
    );
    let rows: Vec<Row> = (start..end)
        .filter_map(|pos| {
            let o = cx
                .snapshot
                .opportunities
                .get(*view.opportunities.get(pos)?)?;
            Some(row(cx, o, Some(pos) == selected, full))
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Length(12),
        Constraint::Length(9),
    ];
    let mut header = vec!["#", "token", "route", "  bps", "  size VCRED", "   profit"];
    if full {
        widths.push(Constraint::Length(8));
        header.push("    fees");
    }
    widths.push(Constraint::Length(17));
    header.push("state");
    if full {
        widths.push(Constraint::Fill(1));
        header.push("note");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(cx.theme.title()))
        .column_spacing(1);
    frame.render_widget(table, inner);
}
