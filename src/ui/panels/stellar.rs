//! Stellar: the `stellar_arb` keeper's accounts (XLM and trustlines), the
//! Reflector prices, live cycles with their edge against fees, and
//! executions with their result, each cycle's delivery and route against
//! what was predicted. Shown only when the keeper runs.

use super::Ctx;
use crate::engine::snapshot::stellar::ExecutionRow;
use crate::engine::snapshot::stellar::StellarView;
use crate::engine::snapshot::stellar::format_amount;
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    if let Some(view) = &cx.snapshot.stellar {
        draw(frame, area, view, cx.theme);
    }
}

/// XLM with 2 decimals (stroops are too fine to read at a glance).
fn xlm(stroops: i64) -> String {
    let text = format_amount(stroops);
    match text.split_once('.') {
        Some((w, f)) => format!("{w}.{}", &f[..2]),
        None => text,
    }
}

fn short(id: &str) -> String {
    if id.len() > 10 {
        format!("{}…{}", &id[..4], &id[id.len() - 4..])
    } else {
        id.into()
    }
}

pub fn draw(frame: &mut Frame, area: Rect, v: &StellarView, theme: Theme) {
    let source = if v.ledger_source.is_empty() {
        String::new()
    } else {
        format!(" ({})", v.ledger_source)
    };
    let drops = match v.path_check_drops {
        0 => String::new(),
        n => format!(" · {n} dropped by path check"),
    };
    let fee = match (v.fee.is_empty(), v.fee_bumps) {
        (true, _) => String::new(),
        (false, 0) => format!(" · fee {}", v.fee),
        (false, n) => format!(" · fee {} · {n} fee bump(s)", v.fee),
    };
    let title = format!(
        " Stellar {} · ledger {}{source} · {}{drops}{fee} ",
        v.network, v.ledger, v.status
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(false))
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 4 {
        return;
    }
    let wide = inner.width >= 100;
    let [left, right] = if wide {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(inner)
    } else {
        let h = inner.height / 2;
        Layout::vertical([Constraint::Length(h), Constraint::Min(2)]).areas(inner)
    };

    let mut l: Vec<Line> = vec![Line::styled("accounts", theme.title())];
    for a in &v.accounts {
        let lines: Vec<String> = a
            .lines
            .iter()
            .map(|(c, b)| format!("{c} {}", xlm(*b)))
            .collect();
        l.push(Line::from(format!(
            "{}  {} XLM  {}",
            short(&a.id),
            xlm(a.xlm),
            if lines.is_empty() {
                "no trustlines".into()
            } else {
                lines.join(", ")
            }
        )));
    }
    let prices: Vec<String> = v
        .oracle
        .iter()
        .map(|o| format!("{} {}", o.symbol, o.price))
        .collect();
    l.push(Line::from(vec![
        Span::styled("oracle ", theme.title()),
        Span::raw(if prices.is_empty() {
            "—".into()
        } else {
            prices.join("  ")
        }),
    ]));
    frame.render_widget(Paragraph::new(l), left);

    let mut r: Vec<Line> = vec![Line::styled("cycles (edge vs fee)", theme.title())];
    if v.opportunities.is_empty() {
        r.push(Line::styled("no cycle yet", theme.dim()));
    }
    for o in v.opportunities.iter().take(4) {
        let style = if o.edge_bps > 0 && o.oracle_ok {
            theme.good()
        } else {
            theme.dim()
        };
        r.push(Line::styled(
            format!(
                "{}  send {}  back {}  fee {}  {:+} bps{}",
                o.path,
                xlm(o.send),
                xlm(o.expected),
                o.fee,
                o.edge_bps,
                if o.oracle_ok { "" } else { "  oracle✗" }
            ),
            style,
        ));
    }
    r.push(Line::styled("executions", theme.title()));
    if v.executions.is_empty() {
        r.push(Line::styled("none yet", theme.dim()));
    }
    for e in v.executions.iter().take(6) {
        let style = if e.result == "tx_success" {
            theme.good()
        } else {
            theme.warn()
        };
        r.push(Line::styled(
            format!(
                "{}  {}  {}  Δ {}",
                short(&e.hash),
                e.path,
                e.result,
                format_amount(e.delta)
            ),
            style,
        ));
        for line in against_prediction(e) {
            r.push(Line::styled(line, theme.dim()));
        }
    }
    frame.render_widget(Paragraph::new(r), right);
}

/// A cycle against its prediction: "  got 9.94 of 9.94 predicted (+0 bp),
/// route as predicted", or a second line with the route taken and the one
/// predicted when they differ.
fn against_prediction(e: &ExecutionRow) -> Vec<String> {
    let Some(p) = e.predicted.as_ref() else {
        return Vec::new();
    };
    let Some(got) = e.delivered else {
        return vec![format!(
            "  predicted {} by {}; nothing delivered",
            xlm(p.delivered),
            p.route
        )];
    };
    let bps = (i128::from(got) - i128::from(p.delivered)) * 10_000 / i128::from(p.delivered.max(1));
    let head = format!(
        "  got {} of {} predicted ({bps:+} bp)",
        xlm(got),
        xlm(p.delivered)
    );
    if e.route.is_empty() {
        vec![format!("{head}, route not reported")]
    } else if e.route == p.route {
        vec![format!("{head}, route as predicted")]
    } else {
        vec![head, format!("  took {}; predicted {}", e.route, p.route)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::snapshot::stellar::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn view() -> StellarView {
        StellarView {
            network: "Testnet".into(),
            ledger: 4242,
            started: true,
            status: "running".into(),
            accounts: vec![AccountRow {
                id: "GDVEU3DD4KOFECV66VIHWEZOYX4ZKR3WV27L464SIIPOU2IUI3JCZA57".into(),
                xlm: 99_990_000_000,
                lines: vec![("AQUA".into(), 0)],
            }],
            oracle: vec![OracleRow {
                symbol: "XLM".into(),
                price: "0.12".into(),
            }],
            opportunities: vec![OpportunityRow {
                path: "XLM → AQUA → XLM".into(),
                send: 980_000_000,
                expected: 994_000_000,
                fee: 100,
                edge_bps: 142,
                oracle_ok: true,
            }],
            executions: vec![ExecutionRow {
                hash: "694722d5edf83a813953a99cbe17a0c5".into(),
                path: "XLM → AQUA → XLM".into(),
                send: 980_000_000,
                delta: 13_999_900,
                result: "tx_success".into(),
                predicted: Some(crate::engine::snapshot::stellar::Prediction {
                    delivered: 994_000_000,
                    route: "XLM →book AQUA →book XLM".into(),
                }),
                delivered: Some(994_000_000),
                route: "XLM →pool AQUA →book XLM".into(),
            }],
            ..StellarView::default()
        }
    }

    fn text(w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        t.draw(|f| draw(f, f.area(), &view(), Theme::new(true)))
            .expect("draw");
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..h {
            for x in 0..w {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn shows_accounts_oracle_cycles_and_executions_at_80x24() {
        let s = text(80, 24);
        assert!(s.contains("ledger 4242"), "{s}");
        assert!(s.contains("GDVE…ZA57"));
        assert!(s.contains("9999.00 XLM"));
        assert!(s.contains("AQUA 0.00"));
        assert!(s.contains("XLM 0.12"));
        assert!(s.contains("+142 bps"));
        assert!(s.contains("tx_success"));
    }

    #[test]
    fn side_by_side_at_160x48() {
        let s = text(160, 48);
        let row = s.lines().find(|l| l.contains("accounts")).expect("row");
        assert!(row.contains("cycles (edge vs fee)"), "{row}");
        assert!(s.contains("Δ 1.3999900"));
        // What arrived and the route taken, against the prediction.
        assert!(s.contains("got 99.40 of 99.40 predicted (+0 bp)"), "{s}");
        assert!(
            s.contains("took XLM →pool AQUA →book XLM; predicted XLM →book AQUA →book XLM"),
            "{s}"
        );
    }
}
