//! The key table: the one source of truth for which key does what. Lookup
//! turns a crossterm key press into an `Action` for the current input mode,
//! and the help popup is generated from the same table, so the two cannot
//! disagree.

use super::action::Action;
use super::action::Panel;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Which keys are live: popups take the keyboard from the panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Anywhere, even while typing.
    Everywhere,
    /// The panels, no popup open.
    Normal,
    /// The log panel has the focus (checked before `Normal`).
    Log,
    /// A confirm popup is open.
    Confirm,
    /// A text field is open (size, tx hash, reason, proof, filter).
    Input,
    /// The help popup is open.
    Help,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Everywhere => "anywhere",
            Context::Normal => "panels",
            Context::Log => "log panel",
            Context::Confirm => "confirm popup",
            Context::Input => "text field",
            Context::Help => "help",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}

const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    /// How the key is written in the help ("p", "↑/k", "Shift-Tab").
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
}

const fn b(
    context: Context,
    keys: &'static [Key],
    label: &'static str,
    action: Action,
    help: &'static str,
) -> Binding {
    Binding {
        context,
        keys,
        label,
        action,
        help,
    }
}

use Context::{Confirm, Everywhere, Help, Input, Log, Normal};

/// Every binding. Order is the order of the help popup.
pub const BINDINGS: &[Binding] = &[
    b(
        Everywhere,
        &[ctrl('c')],
        "Ctrl-C",
        Action::Quit,
        "quit the console",
    ),
    b(
        Normal,
        &[k('q')],
        "q",
        Action::Quit,
        "quit (engine keeps running)",
    ),
    b(Normal, &[k('?')], "?", Action::Help, "this help"),
    b(
        Normal,
        &[code(KeyCode::Esc)],
        "Esc",
        Action::Close,
        "clear message and filter",
    ),
    b(
        Normal,
        &[code(KeyCode::Tab)],
        "Tab",
        Action::NextPanel,
        "next panel",
    ),
    b(
        Normal,
        &[code(KeyCode::BackTab)],
        "Shift-Tab",
        Action::PrevPanel,
        "previous panel",
    ),
    b(
        Normal,
        &[k('1')],
        "1-7",
        Action::Focus(Panel::Opportunities),
        "focus panel by its number",
    ),
    b(
        Normal,
        &[k('2')],
        "1-7",
        Action::Focus(Panel::Cycles),
        "focus panel by its number",
    ),
    b(
        Normal,
        &[k('3')],
        "1-7",
        Action::Focus(Panel::Balances),
        "focus panel by its number",
    ),
    b(
        Normal,
        &[k('4')],
        "1-7",
        Action::Focus(Panel::Positions),
        "focus panel by its number",
    ),
    b(
        Normal,
        &[k('5')],
        "1-7",
        Action::Focus(Panel::Pnl),
        "focus panel by its number",
    ),
    b(
        Normal,
        &[k('6')],
        "1-7",
        Action::Focus(Panel::Venues),
        "focus panel by its number",
    ),
    b(
        Normal,
        &[k('7')],
        "1-7",
        Action::Focus(Panel::Log),
        "focus panel by its number",
    ),
    b(
        Normal,
        &[code(KeyCode::Up), k('k')],
        "↑/k",
        Action::Up,
        "move up",
    ),
    b(
        Normal,
        &[code(KeyCode::Down), k('j')],
        "↓/j",
        Action::Down,
        "move down",
    ),
    b(
        Normal,
        &[code(KeyCode::PageUp)],
        "PgUp",
        Action::PageUp,
        "page up",
    ),
    b(
        Normal,
        &[code(KeyCode::PageDown)],
        "PgDn",
        Action::PageDown,
        "page down",
    ),
    b(
        Normal,
        &[code(KeyCode::Home), k('g')],
        "Home/g",
        Action::Top,
        "first row",
    ),
    b(
        Normal,
        &[code(KeyCode::End), k('G')],
        "End/G",
        Action::Bottom,
        "last row",
    ),
    b(
        Normal,
        &[k('p')],
        "p",
        Action::TogglePause,
        "pause / resume everything",
    ),
    b(
        Normal,
        &[k('t')],
        "t",
        Action::ToggleTokenPause,
        "pause/resume token or symbol",
    ),
    b(
        Normal,
        &[k('a')],
        "a",
        Action::Approve,
        "approve (edit size first)",
    ),
    b(Normal, &[k('r')], "r", Action::Reject, "reject opportunity"),
    b(
        Normal,
        &[k('f')],
        "f",
        Action::Force,
        "force step · retry hedge",
    ),
    b(
        Normal,
        &[k('d')],
        "d",
        Action::MarkDone,
        "mark step done · account tx",
    ),
    b(
        Normal,
        &[k('s')],
        "s",
        Action::Skip,
        "skip step · settle hedge",
    ),
    b(
        Normal,
        &[k('x')],
        "x",
        Action::Fail,
        "fail cycle · release hedge",
    ),
    b(
        Normal,
        &[k('e')],
        "e",
        Action::SetPosition,
        "set a symbol's net by hand",
    ),
    b(
        Normal,
        &[k('i')],
        "i",
        Action::ImportProof,
        "import bridge proof data",
    ),
    b(
        Normal,
        &[k('/')],
        "/",
        Action::Filter,
        "filter by token or state",
    ),
    b(
        Normal,
        &[k('y')],
        "y",
        Action::CopyTx,
        "copy latest tx hash (OSC 52)",
    ),
    b(
        Log,
        &[k('h')],
        "h",
        Action::LogToggleTargets,
        "log: show/hide targets",
    ),
    b(Log, &[k('+')], "+", Action::LogMore, "log: more of target"),
    b(Log, &[k('-')], "-", Action::LogLess, "log: less of target"),
    b(
        Log,
        &[code(KeyCode::PageUp)],
        "PgUp",
        Action::LogPageUp,
        "log: page back",
    ),
    b(
        Log,
        &[code(KeyCode::PageDown)],
        "PgDn",
        Action::LogPageDown,
        "log: page forward",
    ),
    b(
        Confirm,
        &[code(KeyCode::Enter), k('y')],
        "Enter/y",
        Action::Confirm,
        "do it",
    ),
    b(
        Confirm,
        &[code(KeyCode::Esc), k('n')],
        "Esc/n",
        Action::Cancel,
        "cancel, send nothing",
    ),
    b(
        Input,
        &[code(KeyCode::Enter)],
        "Enter",
        Action::Confirm,
        "accept the field",
    ),
    b(
        Input,
        &[code(KeyCode::Esc)],
        "Esc",
        Action::Close,
        "cancel, send nothing",
    ),
    b(
        Input,
        &[code(KeyCode::Backspace)],
        "Bksp",
        Action::Backspace,
        "delete a character",
    ),
    b(
        Help,
        &[code(KeyCode::Esc), k('?'), k('q')],
        "Esc/?/q",
        Action::Close,
        "close help",
    ),
];

fn matches(key: &Key, event: &KeyEvent) -> bool {
    // Shift is part of the character ('G', '?', '+') or of BackTab; terminals
    // disagree on whether they also report it as a modifier, so ignore it.
    let strip = |m: KeyModifiers| m - KeyModifiers::SHIFT;
    key.code == event.code && strip(key.mods) == strip(event.modifiers)
}

fn find(context: Context, event: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|binding| binding.context == context)
        .find(|binding| binding.keys.iter().any(|key| matches(key, event)))
        .map(|binding| binding.action)
}

/// The action for a key press in `context`. In `Context::Log` the log keys
/// are tried first, then the panel keys. In a text field any other printable
/// character is typed into it.
pub fn lookup(context: Context, event: &KeyEvent) -> Option<Action> {
    if let Some(action) = find(Context::Everywhere, event) {
        return Some(action);
    }
    match context {
        Context::Log => find(Context::Log, event).or_else(|| find(Context::Normal, event)),
        Context::Input => find(Context::Input, event).or(match event.code {
            KeyCode::Char(c)
                if !event
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                Some(Action::Input(c))
            }
            _ => None,
        }),
        other => find(other, event),
    }
}

/// Bindings grouped for the help popup: (context, rows of (label, help)).
pub fn help_sections() -> Vec<(Context, Vec<(&'static str, &'static str)>)> {
    let order = [Everywhere, Normal, Log, Confirm, Input, Help];
    order
        .into_iter()
        .map(|context| {
            let rows = BINDINGS
                .iter()
                .filter(|binding| binding.context == context)
                .map(|binding| (binding.label, binding.help))
                .collect();
            (context, rows)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn every_binding_is_reachable_in_its_context() {
        for binding in BINDINGS {
            for key in binding.keys {
                let ctx = binding.context;
                let looked = lookup(ctx, &press(key.code, key.mods));
                // Everywhere keys win in every context; otherwise the binding itself.
                assert_eq!(
                    looked,
                    Some(binding.action),
                    "{} in {:?}",
                    binding.label,
                    ctx
                );
            }
        }
    }

    #[test]
    fn help_texts_fit_the_80_column_help_popup() {
        for binding in BINDINGS {
            assert!(binding.label.chars().count() <= 9, "{}", binding.label);
            assert!(binding.help.chars().count() <= 28, "{}", binding.help);
        }
    }

    #[test]
    fn typing_in_a_field_never_triggers_panel_keys() {
        let p = press(KeyCode::Char('p'), KeyModifiers::NONE);
        assert_eq!(lookup(Context::Input, &p), Some(Action::Input('p')));
        assert_eq!(lookup(Context::Normal, &p), Some(Action::TogglePause));
    }

    #[test]
    fn shift_is_ignored_for_characters() {
        let g = press(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(lookup(Context::Normal, &g), Some(Action::Bottom));
        let back = press(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(lookup(Context::Normal, &back), Some(Action::PrevPanel));
    }

    #[test]
    fn ctrl_c_quits_even_while_typing() {
        let c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(Context::Input, &c), Some(Action::Quit));
        assert_eq!(lookup(Context::Confirm, &c), Some(Action::Quit));
    }
}
