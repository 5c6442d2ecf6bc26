//! `App`: the console's own state (focus, selection, popup, filter, the
//! transient message, the view-model cache) and its reducer. The reducer
//! turns an `Action` into state changes and at most one `Effect` (a command
//! to send, text to copy, quit); it does no I/O, so tests drive it directly.

use super::UiOptions;
use super::action::{Action, Panel};
use super::hedge_keys::HedgeField;
use super::keymap::{self, Context};
use super::theme::Theme;
use super::view::View;
use crate::engine::snapshot::{CycleView, OpportunityView};
use crate::engine::{Command, Phase, Snapshot};
use crate::model::{CycleId, CycleState, Timestamp, TokenId, format_units, from_decimal};
use ratatui::crossterm::event::KeyEvent;
use rust_decimal::Decimal;
use std::str::FromStr;
use tui_logger::{TuiWidgetEvent, TuiWidgetState};

/// VCRED's decimals: approval sizes are VCRED base units.
const VCRED_DECIMALS: u8 = 6;
/// Rows moved by PgUp / PgDn.
const PAGE: usize = 10;
/// After this long without a snapshot the clock stops running ahead and the
/// status bar says the engine is quiet: never extrapolate a silent engine.
pub const QUIET_AFTER_MS: u64 = 10_000;
/// How long an ok message stays; errors stay longer.
const MESSAGE_MS: u64 = 8_000;
const ERROR_MS: u64 = 30_000;

/// What a text field is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    ApproveSize {
        opportunity: u64,
    },
    TxHash {
        cycle: CycleId,
    },
    FailReason {
        cycle: CycleId,
    },
    Proof {
        cycle: CycleId,
    },
    Filter,
    /// A Positions key's field (`hedge_keys`).
    Hedge(HedgeField),
}

impl Field {
    pub fn title(&self) -> String {
        match self {
            Field::ApproveSize { opportunity } => format!("Approve opportunity #{opportunity}"),
            Field::TxHash { cycle } => format!("Mark the current step of {cycle} done"),
            Field::FailReason { cycle } => format!("Fail {cycle}"),
            Field::Proof { cycle } => format!("Import bridge proof data for {cycle}"),
            Field::Filter => "Filter cycles and opportunities".into(),
            Field::Hedge(h) => h.title(),
        }
    }

    pub fn prompt(&self) -> &'static str {
        match self {
            Field::ApproveSize { .. } => "size in VCRED:",
            Field::TxHash { .. } => "tx hash (0x + 64 hex):",
            Field::FailReason { .. } => "reason:",
            Field::Proof { .. } => "proof data:",
            Field::Filter => "token, state, route or cycle id (empty clears):",
            Field::Hedge(h) => h.prompt(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Popup {
    Help,
    Input {
        field: Field,
        text: String,
        error: Option<String>,
    },
    /// Names exactly what Enter will do (`Command::describe`).
    Confirm {
        command: Command,
    },
}

/// What the runner must do after a reducer step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Send(Command),
    /// Put `text` on the clipboard (OSC 52).
    Copy {
        text: String,
    },
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Info,
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub kind: MessageKind,
    pub age_ms: u64,
}

pub struct App {
    pub title: String,
    pub theme: Theme,
    pub focus: Panel,
    pub popup: Option<Popup>,
    pub selected_opportunity: Option<u64>,
    pub selected_cycle: Option<CycleId>,
    /// The Positions panel's row, by symbol.
    pub selected_symbol: Option<String>,
    pub filter: String,
    pub message: Option<Message>,
    pub view: View,
    pub log: TuiWidgetState,
    /// Wall time since the current snapshot arrived (set by the runner).
    pub since_snapshot_ms: u64,
    /// The snapshot channel closed: what is shown is the last word.
    pub engine_gone: bool,
}

impl App {
    pub fn new(options: &UiOptions) -> Self {
        Self {
            title: options.title.clone(),
            theme: Theme::new(options.no_color),
            focus: Panel::Cycles,
            popup: None,
            selected_opportunity: None,
            selected_cycle: None,
            selected_symbol: None,
            filter: String::new(),
            message: None,
            view: View::default(),
            log: {
                // The target selector starts hidden: the log gets the width; `h` shows it.
                let log = TuiWidgetState::new();
                log.transition(TuiWidgetEvent::HideKey);
                log
            },
            since_snapshot_ms: 0,
            engine_gone: false,
        }
    }

    /// Which keys are live now.
    pub fn context(&self) -> Context {
        match &self.popup {
            Some(Popup::Help) => Context::Help,
            Some(Popup::Input { .. }) => Context::Input,
            Some(Popup::Confirm { .. }) => Context::Confirm,
            None if self.focus == Panel::Log => Context::Log,
            None => Context::Normal,
        }
    }

    /// Rebuild the view-model when the snapshot or filter changed, and keep
    /// the selection on the same cycle / opportunity (by id, not by row).
    pub fn sync(&mut self, snapshot: &Snapshot) {
        if !self.view.is_for(snapshot, &self.filter) {
            self.view = View::build(snapshot, &self.filter);
        }
        let cycle_ids = |i: &usize| snapshot.cycles.get(*i).map(|c| c.cycle.id);
        if self.cycle_position(snapshot).is_none() {
            self.selected_cycle = self.view.cycles.first().and_then(cycle_ids);
        }
        if self.opportunity_position(snapshot).is_none() {
            self.selected_opportunity = self
                .view
                .opportunities
                .first()
                .and_then(|i| snapshot.opportunities.get(*i))
                .map(|o| o.id);
        }
        if self.position_row(snapshot).is_none() {
            self.move_position(Some(0), snapshot);
        }
    }

    /// A new snapshot arrived.
    pub fn on_snapshot(&mut self, snapshot: &Snapshot) {
        self.since_snapshot_ms = 0;
        self.sync(snapshot);
    }

    /// Wall time passed (the runner's timer): ages the message.
    pub fn advance(&mut self, elapsed_ms: u64) {
        self.since_snapshot_ms = self.since_snapshot_ms.saturating_add(elapsed_ms);
        if let Some(message) = &mut self.message {
            message.age_ms = message.age_ms.saturating_add(elapsed_ms);
            let limit = if message.kind == MessageKind::Error {
                ERROR_MS
            } else {
                MESSAGE_MS
            };
            if message.age_ms >= limit {
                self.message = None;
            }
        }
    }

    /// The engine answered a command.
    pub fn on_reply(&mut self, what: &str, answer: Result<String, String>) {
        match answer {
            Ok(text) if text.is_empty() => self.say(MessageKind::Ok, format!("ok: {what}")),
            Ok(text) => self.say(MessageKind::Ok, format!("ok: {what}: {text}")),
            Err(error) => self.say(MessageKind::Error, format!("refused: {what}: {error}")),
        }
    }

    pub fn say(&mut self, kind: MessageKind, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            kind,
            age_ms: 0,
        });
    }

    /// The clock to show: the snapshot's, run forward at the engine's speed
    /// while the engine is talking (so countdowns move between snapshots),
    /// frozen once it has been quiet for `QUIET_AFTER_MS`.
    pub fn display_now(&self, snapshot: &Snapshot) -> Timestamp {
        let speed = snapshot.speed_milli.unwrap_or(1000);
        let wall = self.since_snapshot_ms.min(QUIET_AFTER_MS);
        snapshot
            .now
            .saturating_add(wall.saturating_mul(speed) / 1000)
    }

    pub fn engine_quiet(&self) -> bool {
        self.since_snapshot_ms >= QUIET_AFTER_MS
    }

    /// Row of the selected cycle among the filtered cycles.
    pub fn cycle_position(&self, snapshot: &Snapshot) -> Option<usize> {
        let id = self.selected_cycle?;
        self.view
            .cycles
            .iter()
            .position(|i| snapshot.cycles.get(*i).is_some_and(|c| c.cycle.id == id))
    }

    pub fn opportunity_position(&self, snapshot: &Snapshot) -> Option<usize> {
        let id = self.selected_opportunity?;
        self.view
            .opportunities
            .iter()
            .position(|i| snapshot.opportunities.get(*i).is_some_and(|o| o.id == id))
    }

    pub fn selected_cycle_view<'s>(&self, snapshot: &'s Snapshot) -> Option<&'s CycleView> {
        let id = self.selected_cycle?;
        snapshot.cycles.iter().find(|c| c.cycle.id == id)
    }

    pub fn selected_opportunity_view<'s>(
        &self,
        snapshot: &'s Snapshot,
    ) -> Option<&'s OpportunityView> {
        let id = self.selected_opportunity?;
        snapshot.opportunities.iter().find(|o| o.id == id)
    }

    /// Look a key up in the table and reduce it.
    pub fn handle_key(&mut self, key: &KeyEvent, snapshot: &Snapshot) -> Option<Effect> {
        let action = keymap::lookup(self.context(), key)?;
        self.update(action, snapshot)
    }

    /// The reducer.
    pub fn update(&mut self, action: Action, snapshot: &Snapshot) -> Option<Effect> {
        self.sync(snapshot);
        match self.popup.take() {
            Some(popup) => self.update_popup(popup, action, snapshot),
            None => self.update_panels(action, snapshot),
        }
    }

    fn update_popup(
        &mut self,
        popup: Popup,
        action: Action,
        snapshot: &Snapshot,
    ) -> Option<Effect> {
        match (popup, action) {
            (_, Action::Quit) => Some(Effect::Quit),
            (Popup::Help, Action::Close | Action::Cancel) => None,
            (Popup::Help, _) => {
                self.popup = Some(Popup::Help);
                None
            }
            (Popup::Confirm { command }, Action::Confirm) => {
                self.say(MessageKind::Info, format!("sent: {} …", command.describe()));
                Some(Effect::Send(command))
            }
            (Popup::Confirm { .. }, Action::Close | Action::Cancel) => {
                self.say(MessageKind::Info, "cancelled: nothing sent");
                None
            }
            (popup @ Popup::Confirm { .. }, _) => {
                self.popup = Some(popup);
                None
            }
            (Popup::Input { field, .. }, Action::Close | Action::Cancel) => {
                if field != Field::Filter {
                    self.say(MessageKind::Info, "cancelled: nothing sent");
                }
                None
            }
            (
                Popup::Input {
                    field, mut text, ..
                },
                Action::Input(c),
            ) => {
                text.push(c);
                self.popup = Some(Popup::Input {
                    field,
                    text,
                    error: None,
                });
                None
            }
            (
                Popup::Input {
                    field, mut text, ..
                },
                Action::Backspace,
            ) => {
                text.pop();
                self.popup = Some(Popup::Input {
                    field,
                    text,
                    error: None,
                });
                None
            }
            (Popup::Input { field, text, .. }, Action::Confirm) => {
                self.accept_field(field, text, snapshot);
                None
            }
            (popup @ Popup::Input { .. }, _) => {
                self.popup = Some(popup);
                None
            }
        }
    }

    /// Enter in a text field: validate, then either ask again (with the
    /// error in the popup) or move on to the confirm popup.
    fn accept_field(&mut self, field: Field, text: String, snapshot: &Snapshot) {
        let value = text.trim().to_string();
        let outcome: Result<Command, String> = match &field {
            Field::Filter => {
                self.filter = value;
                self.sync(snapshot);
                return;
            }
            Field::ApproveSize { opportunity } => {
                parse_vcred(&value).map(|size| Command::Approve {
                    opportunity: *opportunity,
                    size_vcred: Some(size),
                })
            }
            Field::TxHash { cycle } => check_tx_hash(&value).map(|()| Command::MarkDone {
                cycle: *cycle,
                tx_hash: value.clone(),
            }),
            Field::FailReason { cycle } => non_empty(&value, "a reason").map(|()| Command::Fail {
                cycle: *cycle,
                reason: value.clone(),
            }),
            Field::Proof { cycle } => {
                non_empty(&value, "the proof data").map(|()| Command::ImportProof {
                    cycle: *cycle,
                    data: value.clone(),
                })
            }
            Field::Hedge(h) => h.command(&value),
        };
        self.popup = Some(match outcome {
            Ok(command) => Popup::Confirm { command },
            Err(error) => Popup::Input {
                field,
                text,
                error: Some(error),
            },
        });
    }

    fn update_panels(&mut self, action: Action, snapshot: &Snapshot) -> Option<Effect> {
        if self.focus == Panel::Positions
            && let Some(effect) = self.update_positions(action, snapshot)
        {
            return effect;
        }
        match action {
            Action::Quit => return Some(Effect::Quit),
            Action::Help => self.popup = Some(Popup::Help),
            Action::Close | Action::Cancel => {
                self.message = None;
                if !self.filter.is_empty() {
                    self.filter.clear();
                    self.sync(snapshot);
                }
            }
            Action::Confirm | Action::Input(_) | Action::Backspace => {}
            Action::NextPanel => self.focus = self.focus.step(true),
            Action::PrevPanel => self.focus = self.focus.step(false),
            Action::Focus(panel) => self.focus = panel,
            Action::Up => self.move_by(-1, snapshot),
            Action::Down => self.move_by(1, snapshot),
            Action::PageUp => self.move_by(-(PAGE as i64), snapshot),
            Action::PageDown => self.move_by(PAGE as i64, snapshot),
            Action::Top => self.move_by(i64::MIN / 2, snapshot),
            Action::Bottom => self.move_by(i64::MAX / 2, snapshot),
            Action::TogglePause => {
                let paused = snapshot.paused || snapshot.phase == Phase::Paused;
                return Some(Effect::Send(if paused {
                    Command::Resume
                } else {
                    Command::Pause
                }));
            }
            Action::ToggleTokenPause => {
                let Some(token) = self.selected_token(snapshot) else {
                    self.say(MessageKind::Error, "no opportunity or cycle selected");
                    return None;
                };
                let command = if snapshot.paused_tokens.contains(&token) {
                    Command::ResumeToken { token }
                } else {
                    Command::PauseToken { token }
                };
                return Some(Effect::Send(command));
            }
            Action::Approve => {
                let Some(o) = self.selected_opportunity_view(snapshot) else {
                    self.say(MessageKind::Error, "no opportunity selected");
                    return None;
                };
                self.popup = Some(Popup::Input {
                    field: Field::ApproveSize { opportunity: o.id },
                    text: format_units(o.size_vcred, VCRED_DECIMALS),
                    error: None,
                });
            }
            Action::Reject => {
                // Rejecting only stops something from happening: no confirm.
                let Some(o) = self.selected_opportunity_view(snapshot) else {
                    self.say(MessageKind::Error, "no opportunity selected");
                    return None;
                };
                return Some(Effect::Send(Command::Reject { opportunity: o.id }));
            }
            Action::Force => {
                // Force may resume a failed cycle, so only completed ones are refused here.
                let cycle = self.cycle_for(
                    "force",
                    snapshot,
                    &[CycleState::Completed, CycleState::NotStarted],
                )?;
                self.popup = Some(Popup::Confirm {
                    command: Command::Force { cycle },
                });
            }
            Action::Skip => {
                let cycle = self.cycle_for("skip", snapshot, TERMINAL)?;
                self.popup = Some(Popup::Confirm {
                    command: Command::Skip { cycle },
                });
            }
            Action::MarkDone => {
                let cycle = self.cycle_for("mark done", snapshot, TERMINAL)?;
                self.open_field(Field::TxHash { cycle });
            }
            Action::Fail => {
                let cycle = self.cycle_for("fail", snapshot, TERMINAL)?;
                self.open_field(Field::FailReason { cycle });
            }
            Action::SetPosition => {
                self.say(
                    MessageKind::Error,
                    "e sets a symbol's net: select it on the Positions panel (4) first",
                );
            }
            Action::ImportProof => {
                let cycle = self.cycle_for("import proof for", snapshot, TERMINAL)?;
                self.open_field(Field::Proof { cycle });
            }
            Action::Filter => {
                self.popup = Some(Popup::Input {
                    field: Field::Filter,
                    text: self.filter.clone(),
                    error: None,
                });
            }
            Action::CopyTx => {
                let view = self.selected_cycle_view(snapshot)?;
                let latest = view.steps.iter().rev().find_map(|s| s.tx_hash.clone());
                match latest {
                    Some(text) => {
                        self.say(MessageKind::Ok, format!("copied {text} (OSC 52)"));
                        return Some(Effect::Copy { text });
                    }
                    None => self.say(
                        MessageKind::Error,
                        format!("{} has no tx hash yet", view.cycle.id),
                    ),
                }
            }
            Action::LogToggleTargets => self.log.transition(TuiWidgetEvent::HideKey),
            Action::LogMore => self.log.transition(TuiWidgetEvent::PlusKey),
            Action::LogLess => self.log.transition(TuiWidgetEvent::MinusKey),
            Action::LogPageUp => self.log.transition(TuiWidgetEvent::PrevPageKey),
            Action::LogPageDown => self.log.transition(TuiWidgetEvent::NextPageKey),
        }
        None
    }

    pub(super) fn open_field(&mut self, field: Field) {
        self.popup = Some(Popup::Input {
            field,
            text: String::new(),
            error: None,
        });
    }

    /// The selected cycle for a cycle command, refused (with a message) when
    /// none is selected or it is in one of `refused` states.
    fn cycle_for(
        &mut self,
        verb: &str,
        snapshot: &Snapshot,
        refused: &[CycleState],
    ) -> Option<CycleId> {
        let Some(view) = self.selected_cycle_view(snapshot) else {
            self.say(MessageKind::Error, format!("no cycle selected to {verb}"));
            return None;
        };
        let (id, state) = (view.cycle.id, view.cycle.state);
        if refused.contains(&state) {
            self.say(
                MessageKind::Error,
                format!("cannot {verb} {id}: it is {state}"),
            );
            return None;
        }
        Some(id)
    }

    /// The token `t` acts on: the cycle's on the cycles panel, else the opportunity's.
    fn selected_token(&self, snapshot: &Snapshot) -> Option<TokenId> {
        let from_cycle = || self.selected_cycle_view(snapshot).map(|c| c.cycle.token);
        let from_opp = || self.selected_opportunity_view(snapshot).map(|o| o.token);
        if self.focus == Panel::Cycles {
            from_cycle().or_else(from_opp)
        } else {
            from_opp().or_else(from_cycle)
        }
    }

    fn move_by(&mut self, delta: i64, snapshot: &Snapshot) {
        let shift = |pos: Option<usize>, len: usize| -> Option<usize> {
            if len == 0 {
                return None;
            }
            let at = pos.unwrap_or(0) as i64;
            Some(at.saturating_add(delta).clamp(0, len as i64 - 1) as usize)
        };
        match self.focus {
            Panel::Opportunities => {
                let row = shift(
                    self.opportunity_position(snapshot),
                    self.view.opportunities.len(),
                );
                self.selected_opportunity = row
                    .and_then(|r| self.view.opportunities.get(r))
                    .and_then(|i| snapshot.opportunities.get(*i))
                    .map(|o| o.id);
            }
            Panel::Cycles => {
                let row = shift(self.cycle_position(snapshot), self.view.cycles.len());
                self.selected_cycle = row
                    .and_then(|r| self.view.cycles.get(r))
                    .and_then(|i| snapshot.cycles.get(*i))
                    .map(|c| c.cycle.id);
            }
            Panel::Log => {
                let event = if delta < 0 {
                    TuiWidgetEvent::UpKey
                } else {
                    TuiWidgetEvent::DownKey
                };
                self.log.transition(event);
            }
            Panel::Positions => {
                let row = shift(self.position_row(snapshot), snapshot.positions.len());
                self.move_position(row, snapshot);
            }
            Panel::Balances | Panel::Pnl | Panel::Venues => {}
        }
    }
}

const TERMINAL: &[CycleState] = &[
    CycleState::Completed,
    CycleState::Failed,
    CycleState::NotStarted,
];

/// "1234.5" VCRED → base units, exact; refuses zero, negatives and more
/// than six decimals rather than rounding someone's money.
pub fn parse_vcred(text: &str) -> Result<u128, String> {
    let cleaned: String = text.chars().filter(|c| *c != '_' && *c != ',').collect();
    let value =
        Decimal::from_str(cleaned.trim()).map_err(|_| format!("{text:?} is not a number"))?;
    let units = from_decimal(value, VCRED_DECIMALS).map_err(|e| e.to_string())?;
    if units == 0 {
        return Err("the size must be above zero".into());
    }
    Ok(units)
}

fn check_tx_hash(text: &str) -> Result<(), String> {
    let hex = text.strip_prefix("0x").unwrap_or("");
    if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("expected 0x followed by 64 hex digits".into())
    }
}

fn non_empty(text: &str, what: &str) -> Result<(), String> {
    if text.is_empty() {
        Err(format!("type {what} first (Esc cancels)"))
    } else {
        Ok(())
    }
}
