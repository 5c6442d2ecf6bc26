//! The log pane: tui-logger's smart widget (target selector + log) driven
//! by the App's `TuiWidgetState`. The binary installs the tracing layer and
//! calls `init_logger`; this only draws what the logger already holds.

use super::Ctx;
use crate::ui::action::Panel;
use ratatui::Frame;
use ratatui::layout::Rect;
use tui_logger::{TuiLoggerLevelOutput, TuiLoggerSmartWidget};

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let t = cx.theme;
    let focused = cx.focused(Panel::Log);
    let hint = if focused {
        " h targets  +/- level  PgUp/PgDn page "
    } else {
        ""
    };
    let widget = TuiLoggerSmartWidget::default()
        .title_log(format!(" 7 Log {hint}"))
        .title_target(" targets ")
        .border_style(t.border(focused))
        .style_error(t.bad())
        .style_warn(t.warn())
        .style_info(t.base())
        .style_debug(t.dim())
        .style_trace(t.dim())
        .highlight_style(t.selected())
        .output_separator(' ')
        .output_timestamp(Some("%H:%M:%S".to_string()))
        .output_level(Some(TuiLoggerLevelOutput::Abbreviated))
        .output_target(true)
        .output_file(false)
        .output_line(false)
        .state(&cx.app.log);
    frame.render_widget(widget, area);
}
