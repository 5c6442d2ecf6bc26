//! One module per panel. Each draws from a `Ctx` (App, Snapshot, the cached
//! View, the display clock) into the area it is given; none does I/O.

pub mod balances;
pub mod cycles;
pub mod detail;
pub mod log;
pub mod opportunities;
pub mod pnl;
pub mod positions;
pub mod status;
pub mod stellar;
pub mod venues;

use super::action::Panel;
use super::app::App;
use super::theme::Theme;
use super::view::View;
use crate::engine::Snapshot;
use crate::model::Timestamp;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

/// Everything a panel may read.
pub struct Ctx<'a> {
    pub app: &'a App,
    pub snapshot: &'a Snapshot,
    pub view: &'a View,
    /// The clock to show (the snapshot's, run forward while the engine talks).
    pub now: Timestamp,
    pub theme: Theme,
    /// The dashboard layout (every panel on screen) rather than one at a time.
    pub wide: bool,
}

impl Ctx<'_> {
    pub fn focused(&self, panel: Panel) -> bool {
        self.app.focus == panel
    }

    /// A panel's frame: its number (the key that focuses it), title, extra text.
    pub fn block(&self, panel: Panel, extra: &str) -> Block<'static> {
        let focused = self.focused(panel);
        let number = Panel::ALL
            .iter()
            .position(|p| *p == panel)
            .map_or(0, |i| i + 1);
        let mut spans = vec![Span::styled(
            format!(" {number} {} ", panel.title()),
            if focused {
                self.theme.border(true)
            } else {
                self.theme.title()
            },
        )];
        if !extra.is_empty() {
            spans.push(Span::styled(format!("{extra} "), self.theme.dim()));
        }
        Block::default()
            .borders(Borders::ALL)
            .border_style(self.theme.border(focused))
            .title(Line::from(spans))
    }
}

/// Rows `start..end` of `len` to show in `height` rows so that `selected`
/// is visible, kept near the middle: stateless, so render stays pure.
pub fn window(len: usize, selected: Option<usize>, height: usize) -> (usize, usize) {
    if height == 0 || len == 0 {
        return (0, 0);
    }
    if len <= height {
        return (0, len);
    }
    let sel = selected.unwrap_or(0).min(len - 1);
    let start = sel.saturating_sub(height / 2).min(len - height);
    (start, start + height)
}

/// The rows of a list whose first `pinned` rows stay on screen (while they
/// fit in `height`) and whose other rows scroll under them to keep
/// `selected` visible. Row positions, top to bottom.
pub fn pinned_window(
    len: usize,
    pinned: usize,
    selected: Option<usize>,
    height: usize,
) -> Vec<usize> {
    let pinned = pinned.min(len);
    if pinned >= height {
        // More pinned rows than fit: scroll the whole list, which still
        // keeps every pinned row above every other.
        let (start, end) = window(len, selected, height);
        return (start..end).collect();
    }
    let below = selected.and_then(|s| s.checked_sub(pinned));
    let (start, end) = window(len - pinned, below, height - pinned);
    (0..pinned).chain(pinned + start..pinned + end).collect()
}

#[cfg(test)]
mod tests {
    use super::{pinned_window, window};

    #[test]
    fn pinned_rows_stay_on_top_while_the_rest_scrolls() {
        // 3 pinned of 100, 10 high, the selection at the bottom.
        let rows = pinned_window(100, 3, Some(99), 10);
        assert_eq!(rows, vec![0, 1, 2, 93, 94, 95, 96, 97, 98, 99]);
        // The selection on a pinned row: the rest from its top.
        assert_eq!(
            pinned_window(100, 3, Some(1), 10),
            vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        );
        // Too many pinned to fit: the plain window over the whole list.
        assert_eq!(
            pinned_window(100, 20, Some(50), 10),
            (45..55).collect::<Vec<_>>()
        );
        assert_eq!(pinned_window(5, 2, Some(4), 10), vec![0, 1, 2, 3, 4]);
        assert!(pinned_window(5, 2, None, 0).is_empty());
    }

    #[test]
    fn window_keeps_selection_visible() {
        assert_eq!(window(5, Some(4), 10), (0, 5));
        assert_eq!(window(100, Some(0), 10), (0, 10));
        assert_eq!(window(100, Some(50), 10), (45, 55));
        assert_eq!(window(100, Some(99), 10), (90, 100));
        assert_eq!(window(0, None, 10), (0, 0));
    }
}
