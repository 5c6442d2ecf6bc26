//! The whole frame as a pure function of (App, Snapshot): layout, panels,
//! popup, message line. Two layouts: a dashboard with every panel when the
//! terminal is large, and one panel at a time (Tab / 1-7) when it is small;
//! below the minimum, a "too small" screen rather than a garbled one.

use super::action::Panel;
use super::app::{App, MessageKind};
use super::panels::{self, Ctx};
use super::popup;
use super::view::View;
use crate::engine::Snapshot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::borrow::Cow;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// From this size on, every panel is on screen at once.
pub const WIDE_WIDTH: u16 = 150;
pub const WIDE_HEIGHT: u16 = 44;

pub fn is_wide(area: Rect) -> bool {
    area.width >= WIDE_WIDTH && area.height >= WIDE_HEIGHT
}

/// Draw one frame. Uses the App's cached view when it matches the snapshot
/// (the runner keeps it so); otherwise builds one for this frame.
pub fn render(frame: &mut Frame, app: &App, snapshot: &Snapshot) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, app);
        return;
    }
    let view: Cow<View> = if app.view.is_for(snapshot, &app.filter) {
        Cow::Borrowed(&app.view)
    } else {
        Cow::Owned(View::build(snapshot, &app.filter))
    };
    let cx = Ctx {
        app,
        snapshot,
        view: &view,
        now: app.display_now(snapshot),
        theme: app.theme,
        wide: is_wide(area),
    };
    if cx.wide {
        dashboard(frame, area, &cx);
    } else {
        single(frame, area, &cx);
    }
    if let Some(popup) = &app.popup {
        popup::render(frame, popup, &cx);
    }
}

fn too_small(frame: &mut Frame, area: Rect, app: &App) {
    let lines = vec![
        Line::styled("terminal too small", app.theme.bad()),
        Line::from(format!(
            "{}×{}, need at least {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        )),
        Line::styled("q quits", app.theme.dim()),
    ];
    let y = area.height.saturating_sub(3) / 2;
    let rect = Rect {
        y: area.y + y,
        height: area.height.saturating_sub(y).min(3),
        ..area
    };
    frame.render_widget(Paragraph::new(lines).centered(), rect);
}

/// Every panel at once (large terminals).
fn dashboard(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let log_height = (area.height / 8).clamp(5, 12);
    // The equity hedge's positions and audit trail need more rows.
    let lower_height = if cx.snapshot.hedge.is_some() { 24 } else { 18 };
    let [status, top, cycles, lower, log, message] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(8),
        Constraint::Min(6),
        Constraint::Length(lower_height),
        Constraint::Length(log_height),
        Constraint::Length(1),
    ])
    .areas(area);
    panels::status::render(frame, status, cx);
    let [opps, balances] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(top);
    panels::opportunities::render(frame, opps, cx);
    panels::balances::render(frame, balances, cx);
    match cx.snapshot.stellar {
        // The Stellar keeper shares the cycles row when it runs.
        Some(_) => {
            let [c, st] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(cycles);
            panels::cycles::render(frame, c, cx);
            panels::stellar::render(frame, st, cx);
        }
        None => panels::cycles::render(frame, cycles, cx),
    }
    let [detail, side] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(lower);
    panels::detail::render(frame, detail, cx);
    let venue_rows = (cx.snapshot.venues.len() as u16).clamp(1, 6) + 3;
    let [pnl, venues, positions] = Layout::vertical([
        Constraint::Length(8),
        Constraint::Length(venue_rows),
        Constraint::Min(3),
    ])
    .areas(side);
    panels::pnl::render(frame, pnl, cx);
    panels::venues::render(frame, venues, cx);
    panels::positions::render(frame, positions, cx);
    panels::log::render(frame, log, cx);
    message_line(frame, message, cx);
}

/// One panel at a time (80×24 and up), chosen with Tab or 1-7.
fn single(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let [status, tabs, main, message] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    panels::status::render(frame, status, cx);
    tab_bar(frame, tabs, cx);
    match cx.app.focus {
        Panel::Opportunities => panels::opportunities::render(frame, main, cx),
        Panel::Cycles => {
            let list = (main.height * 2 / 5).max(6);
            let [table, detail] =
                Layout::vertical([Constraint::Length(list), Constraint::Min(4)]).areas(main);
            panels::cycles::render(frame, table, cx);
            panels::detail::render(frame, detail, cx);
        }
        Panel::Balances => panels::balances::render(frame, main, cx),
        Panel::Positions => panels::positions::render(frame, main, cx),
        Panel::Pnl => panels::pnl::render(frame, main, cx),
        // The Stellar keeper's panel sits under the venues when it runs.
        Panel::Venues if cx.snapshot.stellar.is_some() => {
            let [v, st] = Layout::vertical([Constraint::Length(6), Constraint::Min(6)]).areas(main);
            panels::venues::render(frame, v, cx);
            panels::stellar::render(frame, st, cx);
        }
        Panel::Venues => panels::venues::render(frame, main, cx),
        Panel::Log => panels::log::render(frame, main, cx),
    }
    message_line(frame, message, cx);
}

fn tab_bar(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let mut spans = Vec::with_capacity(Panel::ALL.len() * 2);
    for (i, panel) in Panel::ALL.iter().enumerate() {
        let style = if *panel == cx.app.focus {
            cx.theme.selected()
        } else {
            cx.theme.dim()
        };
        spans.push(Span::styled(
            format!(" {} {} ", i + 1, panel.title()),
            style,
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The engine's answer to the last command, or what the main keys do.
fn message_line(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let line = match &cx.app.message {
        Some(message) => {
            let style = match message.kind {
                MessageKind::Info => cx.theme.accent(),
                MessageKind::Ok => cx.theme.good(),
                MessageKind::Error => cx.theme.bad(),
            };
            Line::styled(format!(" {}", message.text), style)
        }
        None => Line::styled(
            " ? all keys  q quit  Tab panel  p pause  a approve  f force  d done  x fail  / filter  y copy",
            cx.theme.dim(),
        ),
    };
    frame.render_widget(Paragraph::new(line), area);
}
