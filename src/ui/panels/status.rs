//! The status bar (two lines, always on screen): mode, phase, clock and
//! speed, approval mode; then counts, the loud alarms (stuck, half-done,
//! sends whose outcome is unknown, with the verb that resolves the oldest)
//! and paused tokens, so the truth is visible whatever panel has the focus.

use super::Ctx;
use crate::engine::Mode;
use crate::model::time::{format_duration, format_time};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// "×3000", "×1.5" from the engine's speed ×1000.
pub fn speed(speed_milli: u64) -> String {
    let whole = speed_milli / 1000;
    let frac = speed_milli % 1000;
    if frac == 0 {
        format!("×{whole}")
    } else {
        let digits = format!("{frac:03}");
        format!("×{whole}.{}", digits.trim_end_matches('0'))
    }
}

pub fn render(frame: &mut Frame, area: Rect, cx: &Ctx) {
    let s = cx.snapshot;
    let t = cx.theme;
    let mut first = vec![
        Span::styled(format!(" {} ", s.mode.label()), t.mode(s.mode)),
        Span::raw(" "),
        Span::styled(format!(" {} ", s.phase.label()), t.phase(s.phase)),
        Span::raw(" "),
        Span::styled(format_time(cx.now), t.title()),
    ];
    if let (Mode::Paper, Some(milli)) = (s.mode, s.speed_milli) {
        first.push(Span::styled(format!(" {}", speed(milli)), t.accent()));
    }
    if cx.app.engine_gone {
        first.push(Span::raw("  "));
        first.push(Span::styled(" ENGINE GONE: last known state ", t.loud()));
    } else if cx.app.engine_quiet() {
        first.push(Span::raw("  "));
        first.push(Span::styled(
            format!("engine quiet {}", format_duration(cx.app.since_snapshot_ms)),
            t.warn(),
        ));
    }
    // Approval mode last: the alarms above matter more on a narrow screen.
    first.push(Span::styled(format!("  approval {}", s.approval), t.base()));
    let used: usize = first.iter().map(|span| span.width()).sum();
    let title_width = cx.app.title.chars().count() + 1;
    if usize::from(area.width) > used + title_width + 1 {
        let gap = usize::from(area.width) - used - title_width;
        first.push(Span::raw(" ".repeat(gap)));
        first.push(Span::styled(cx.app.title.clone(), t.dim()));
    }

    let c = s.counts;
    let mut second = Vec::new();
    // The watchdog's alarms first: a quiet engine or an empty gas tank
    // explains everything else on the screen.
    // The kill switch before all: nothing is sent until the operator resumes.
    if let Some(trip) = &s.kill_switch {
        second.push(Span::styled(" !! KILL SWITCH: ALL PAUSED ", t.loud()));
        second.push(Span::styled(format!(" {} ", trip.reason), t.warn()));
    }
    for alarm in &s.alarms {
        second.push(Span::styled(
            format!(" !! {} ", alarm_words(alarm)),
            t.loud(),
        ));
        second.push(Span::raw(" "));
    }
    second.push(Span::raw(format!(
        " open {}  done {}  failed {}  opps {} ",
        c.open,
        c.completed,
        c.failed,
        s.opportunities.len()
    )));
    if cx.view.stuck > 0 {
        second.push(Span::raw(" "));
        second.push(Span::styled(
            format!(" !! {} STUCK ", cx.view.stuck),
            t.loud(),
        ));
    }
    if cx.view.half_done > 0 {
        second.push(Span::raw(" "));
        second.push(Span::styled(
            format!(" !! {} HALF-DONE ", cx.view.half_done),
            t.loud(),
        ));
    }
    // Sends whose outcome nobody knows yet, of any strategy: the loudest
    // thing on the screen, with the verb that resolves the oldest.
    let unknown: Vec<_> = s.intents.iter().filter(|i| i.state.is_alarm()).collect();
    if let Some(oldest) = unknown.iter().min_by_key(|i| i.since) {
        second.push(Span::raw(" "));
        second.push(Span::styled(
            format!(
                " !! {} {} {} {} ({}) ",
                unknown.len(),
                oldest.state.label(),
                oldest.id,
                format_duration(cx.now.saturating_sub(oldest.since)),
                oldest.resolve
            ),
            t.loud(),
        ));
    }
    if !s.paused_tokens.is_empty() {
        let tokens: Vec<&str> = s.paused_tokens.iter().map(|t| t.symbol()).collect();
        second.push(Span::raw("  "));
        second.push(Span::styled(
            format!("paused: {}", tokens.join(", ")),
            t.warn(),
        ));
    }
    if !cx.app.filter.is_empty() {
        second.push(Span::raw("  "));
        second.push(Span::styled(
            format!("filter: {}", cx.app.filter),
            t.accent(),
        ));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

/// "NO PASS: ALARM SENT", "PASSES FAILING: ALARM SENT", "LOW GAS hemi",
/// "LOW XLM GABCDE…" (the quiet's length is the "engine quiet" beside it,
/// counted by the console itself).
fn alarm_words(alarm: &crate::engine::alarm::AlarmView) -> String {
    use crate::engine::alarm::AlarmKind;
    match alarm.kind {
        AlarmKind::Liveness => "NO PASS: ALARM SENT".to_string(),
        AlarmKind::Failing => "PASSES FAILING: ALARM SENT".to_string(),
        AlarmKind::LowGas => format!("LOW GAS {}", alarm.subject),
        AlarmKind::LowXlm => {
            let short: String = alarm.subject.chars().take(6).collect();
            format!("LOW XLM {short}…")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn speeds_read_as_multipliers() {
        assert_eq!(super::speed(3_000_000), "×3000");
        assert_eq!(super::speed(1_500), "×1.5");
        assert_eq!(super::speed(1_000), "×1");
    }

    #[test]
    fn failing_passes_have_their_own_words() {
        use crate::engine::alarm::{AlarmKind, AlarmView};
        let view = AlarmView {
            kind: AlarmKind::Failing,
            subject: "engine".into(),
            message: "every pass has failed for 5m".into(),
            for_ms: 0,
            told: 1,
        };
        assert_eq!(super::alarm_words(&view), "PASSES FAILING: ALARM SENT");
    }
}
