//! Colours and emphasis. Named colours only (they survive tmux with
//! TERM=screen-256color and no truecolour); with `no_color` every style
//! falls back to bold / reverse / underline, so alarms still stand out.

use crate::engine::{Mode, Phase};
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub no_color: bool,
}

impl Theme {
    pub fn new(no_color: bool) -> Self {
        Self { no_color }
    }

    fn pick(&self, color: Style, plain: Style) -> Style {
        if self.no_color { plain } else { color }
    }

    pub fn base(&self) -> Style {
        Style::default()
    }

    pub fn dim(&self) -> Style {
        self.pick(Style::default().fg(Color::DarkGray), Style::default())
    }

    pub fn title(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.no_color) {
            (true, false) => Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            (true, true) => Style::default().add_modifier(Modifier::BOLD),
            (false, false) => Style::default().fg(Color::DarkGray),
            (false, true) => Style::default(),
        }
    }

    pub fn selected(&self) -> Style {
        self.pick(
            Style::default()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::REVERSED),
        )
    }

    /// Stuck, half-done, faults, LIVE: must be seen from across the room.
    pub fn loud(&self) -> Style {
        self.pick(
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        )
    }

    pub fn bad(&self) -> Style {
        self.pick(
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::BOLD),
        )
    }

    pub fn warn(&self) -> Style {
        self.pick(
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::BOLD),
        )
    }

    pub fn good(&self) -> Style {
        self.pick(Style::default().fg(Color::Green), Style::default())
    }

    pub fn accent(&self) -> Style {
        self.pick(
            Style::default().fg(Color::Cyan),
            Style::default().add_modifier(Modifier::UNDERLINED),
        )
    }

    pub fn gauge(&self) -> Style {
        self.pick(Style::default().fg(Color::Cyan), Style::default())
    }

    pub fn signed(&self, negative: bool) -> Style {
        if negative { self.bad() } else { self.good() }
    }

    pub fn mode(&self, mode: Mode) -> Style {
        match mode {
            Mode::Live => self.loud(),
            Mode::Devnet => self.pick(
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Magenta)
                    .add_modifier(Modifier::BOLD),
                Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ),
            Mode::Paper => self.pick(
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        }
    }

    pub fn phase(&self, phase: Phase) -> Style {
        match phase {
            Phase::Running => self.pick(
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Green)
                    .add_modifier(Modifier::BOLD),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Phase::Paused => self.pick(
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
                Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            ),
            Phase::Recovering | Phase::Draining => self.pick(
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Magenta)
                    .add_modifier(Modifier::BOLD),
                Style::default().add_modifier(Modifier::REVERSED),
            ),
            Phase::Stopped => self.loud(),
        }
    }
}
