//! P&L: today and lifetime (profit, gas, bridge fees, cycles), per token,
//! and a sparkline of the cumulative profit. Amounts are exact decimals,
//! rounded only for display; the sparkline alone uses floats.

use super::Ctx;
use crate::engine::snapshot::PnlTotals;
use crate::ui::action::Panel;
use crate::ui::format::{plain, rpad, signed};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

fn totals_line<'a>(cx: &Ctx, label: &str, t: &PnlTotals) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{label:<9}"), cx.theme.title()),
        Span::styled(
            rpad(&signed(t.profit_vcred, 2), 11),
            cx.theme.signed(t.profit_vcred.is_sign_negative()),
        ),
        Span::styled(" gas ", cx.theme.dim()),
        Span::raw(rpad(&plain(t.gas_vcred, 2), 7)),
        Span::styled(" bridge ", cx.theme.dim()),
        Span::raw(rpad(&plain(t.bridge_fees_vcred, 2), 7)),
        Span::styled(" cycles ", cx.theme.dim()),
        Span::raw(t.cycles.to_string()),
    ])
}

/// Every strategy's P&L today in USD against the kill switch's drawdown
/// limit, for the panel's title (it takes no line from the sparkline):
/// "VCRED · all USD today -12.30, drawdown 20.00 / 100".
fn all_strategies(cx: &Ctx) -> String {
    let r = &cx.snapshot.risk_today;
    let limit = match r.limit_usd {
        Some(limit) => format!(" / {}", plain(limit, 2)),
        None => " (no limit)".to_string(),
    };
    let unvalued = if r.unvalued.is_empty() {
        ""
    } else {
        ", some unvalued"
    };
    format!(
        "VCRED · all USD today {}, drawdown {}{limit}{unvalued}",
        signed(r.today_usd, 2),
        plain(r.drawdown_usd, 2)
    )
}

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let p = &cx.snapshot.pnl;
    let block = cx.block(Panel::Pnl, &all_strategies(cx));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = vec![
        totals_line(cx, "today", &p.today),
        totals_line(cx, "lifetime", &p.lifetime),
    ];
    for (token, totals) in &p.per_token {
        lines.push(totals_line(cx, &format!(" {}", token.symbol()), totals));
    }
    // Side by side when there is room, else the sparkline under the numbers.
    let (text, graph) = if inner.width >= 80 {
        let [text, graph] =
            Layout::horizontal([Constraint::Length(60), Constraint::Fill(1)]).areas(inner);
        (text, graph)
    } else {
        let text_height = (lines.len() as u16).min(inner.height);
        let [text, graph] =
            Layout::vertical([Constraint::Length(text_height), Constraint::Fill(1)]).areas(inner);
        (text, graph)
    };
    frame.render_widget(Paragraph::new(lines), text);
    if graph.height == 0 || graph.width == 0 {
        return;
    }
    let [caption, spark] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(graph);
    if cx.view.spark.is_empty() {
        frame.render_widget(
            Paragraph::new("no completed cycle yet").style(cx.theme.dim()),
            caption,
        );
        return;
    }
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!(
                "cumulative {} .. {}",
                signed(cx.view.spark_low, 2),
                signed(cx.view.spark_high, 2)
            ),
            cx.theme.dim(),
        )),
        caption,
    );
    // The newest points, as many as there are columns.
    let data = &cx.view.spark;
    let from = data.len().saturating_sub(usize::from(spark.width));
    let sparkline = Sparkline::default()
        .data(&data[from..])
        .style(cx.theme.good());
    frame.render_widget(sparkline, spark);
}
