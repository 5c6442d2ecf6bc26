//! `Action`: everything the operator can ask of the console, as one enum.
//! Keys become actions in `keymap`; actions change `App` state in its
//! reducer; nothing else changes the state, so every behaviour is testable
//! without a terminal. `Panel` is here too: actions name the panel they
//! act on, and the keymap and the reducer both read it from here.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the console (the engine keeps running).
    Quit,
    /// Show every key, generated from the keymap table.
    Help,
    /// Close the popup, or clear a message.
    Close,
    /// Enter / `y` in a popup: accept the field or confirm the command.
    Confirm,
    /// `n` in a confirm popup: same as Close.
    Cancel,
    NextPanel,
    PrevPanel,
    Focus(Panel),
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Pause everything, or resume when paused.
    TogglePause,
    /// Pause or resume the selected opportunity's token.
    ToggleTokenPause,
    Approve,
    Reject,
    Force,
    MarkDone,
    Skip,
    Fail,
    ImportProof,
    /// Positions: set the selected symbol's net by hand.
    SetPosition,
    Filter,
    /// Copy the selected cycle's latest tx hash (OSC 52).
    CopyTx,
    /// Log pane: show or hide the target selector.
    LogToggleTargets,
    /// Log pane: show more of the selected target (lower level threshold).
    LogMore,
    /// Log pane: show less of the selected target.
    LogLess,
    /// Log pane: scroll back one page (page mode) / forward.
    LogPageUp,
    LogPageDown,
    /// A character typed into a text field.
    Input(char),
    /// Backspace in a text field.
    Backspace,
}

/// The console's panels, in the order Tab visits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    Opportunities,
    Cycles,
    Balances,
    Positions,
    Pnl,
    Venues,
    Log,
}

impl Panel {
    pub const ALL: [Panel; 7] = [
        Panel::Opportunities,
        Panel::Cycles,
        Panel::Balances,
        Panel::Positions,
        Panel::Pnl,
        Panel::Venues,
        Panel::Log,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Panel::Opportunities => "Opportunities",
            Panel::Cycles => "Cycles",
            Panel::Balances => "Balances",
            Panel::Positions => "Positions",
            Panel::Pnl => "P&L",
            Panel::Venues => "Venues",
            Panel::Log => "Log",
        }
    }

    pub(super) fn index(self) -> usize {
        Panel::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    pub(super) fn step(self, forward: bool) -> Panel {
        let n = Panel::ALL.len();
        let i = self.index();
        Panel::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}
