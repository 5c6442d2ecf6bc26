//! The operator's keys on the Positions panel (the equity hedge): the
//! selected symbol, and what the panel keys mean there — `t` pause/resume
//! hedging the symbol, `d` account a missed transaction's fills, `e` set
//! the symbol's net by hand, `s` / `x` / `f` settle, release or retry its
//! open hedge. Each ends in the confirm popup that names the command.

use super::action::Action;
use super::app::{App, Effect, Field, MessageKind, Popup};
use crate::engine::snapshot::PositionRow;
use crate::engine::{Command, Resolution, Snapshot};
use rust_decimal::Decimal;
use std::str::FromStr;

/// A text field a Positions key opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HedgeField {
    /// The transaction whose fills ingestion missed.
    ProcessTx,
    /// "N reason…": the symbol's new net, then why.
    SetPosition { symbol: String },
    /// Why the open hedge is settled, released or retried.
    Resolve {
        hedge: String,
        resolution: Resolution,
    },
}

impl HedgeField {
    pub fn title(&self) -> String {
        match self {
            HedgeField::ProcessTx => "Account a transaction's fills".into(),
            HedgeField::SetPosition { symbol } => format!("Set {symbol}'s net by hand"),
            HedgeField::Resolve { hedge, resolution } => match resolution {
                Resolution::Settle => format!("Settle {hedge} by looking at the broker now"),
                Resolution::Drop => format!("Release {hedge}: it was never placed"),
                Resolution::Retry => format!("Place {hedge} again now"),
            },
        }
    }

    pub fn prompt(&self) -> &'static str {
        match self {
            HedgeField::ProcessTx => "tx hash (0x + 64 hex):",
            HedgeField::SetPosition { .. } => {
                "net shares, then the reason (e.g. 0 hedged by hand):"
            }
            HedgeField::Resolve { .. } => "reason:",
        }
    }

    /// The command the typed text asks for, or what is wrong with it.
    pub fn command(&self, value: &str) -> Result<Command, String> {
        match self {
            HedgeField::ProcessTx => {
                crate::model::intent::tx_hash(value).map(|tx_hash| Command::ProcessTx { tx_hash })
            }
            HedgeField::SetPosition { symbol } => {
                let (net, reason) = value.split_once(' ').unwrap_or((value, ""));
                let net = Decimal::from_str(net)
                    .map_err(|_| format!("{net:?} is not a number of shares"))?;
                if reason.trim().is_empty() {
                    return Err("add the reason after the number (Esc cancels)".into());
                }
                Ok(Command::SetPosition {
                    symbol: symbol.clone(),
                    net,
                    reason: reason.trim().to_string(),
                })
            }
            HedgeField::Resolve { hedge, resolution } => {
                if value.is_empty() {
                    return Err("type a reason first (Esc cancels)".into());
                }
                Ok(Command::Resolve {
                    id: hedge.clone(),
                    resolution: *resolution,
                    reason: value.to_string(),
                    evidence: None,
                })
            }
        }
    }
}

impl App {
    pub fn selected_position<'s>(&self, snapshot: &'s Snapshot) -> Option<&'s PositionRow> {
        let symbol = self.selected_symbol.as_deref()?;
        snapshot.positions.iter().find(|p| p.symbol == symbol)
    }

    /// Row of the selected symbol on the Positions panel.
    pub fn position_row(&self, snapshot: &Snapshot) -> Option<usize> {
        let symbol = self.selected_symbol.as_deref()?;
        snapshot.positions.iter().position(|p| p.symbol == symbol)
    }

    pub(super) fn move_position(&mut self, to: Option<usize>, snapshot: &Snapshot) {
        self.selected_symbol = to
            .and_then(|r| snapshot.positions.get(r))
            .map(|p| p.symbol.clone());
    }

    /// A panel key while Positions has the focus: `Some` when it means a
    /// hedge verb there (the effect, if any), `None` to treat it as usual.
    pub(super) fn update_positions(
        &mut self,
        action: Action,
        snapshot: &Snapshot,
    ) -> Option<Option<Effect>> {
        let resolution = match action {
            Action::ToggleTokenPause => {
                let Some(p) = self.selected_position(snapshot) else {
                    self.say(MessageKind::Error, "no position selected");
                    return Some(None);
                };
                let symbol = p.symbol.clone();
                let command = if p.paused {
                    Command::ResumeSymbol { symbol }
                } else {
                    Command::PauseSymbol { symbol }
                };
                self.popup = Some(Popup::Confirm { command });
                return Some(None);
            }
            Action::MarkDone => {
                self.open_hedge_field(HedgeField::ProcessTx);
                return Some(None);
            }
            Action::SetPosition => {
                let Some(p) = self.selected_position(snapshot) else {
                    self.say(MessageKind::Error, "no position selected");
                    return Some(None);
                };
                let symbol = p.symbol.clone();
                self.open_hedge_field(HedgeField::SetPosition { symbol });
                return Some(None);
            }
            Action::Skip => Resolution::Settle,
            Action::Fail => Resolution::Drop,
            Action::Force => Resolution::Retry,
            _ => return None,
        };
        let Some(p) = self.selected_position(snapshot) else {
            self.say(MessageKind::Error, "no position selected");
            return Some(None);
        };
        let Some(hedge) = p.hedge.clone() else {
            let text = format!("{} has no hedge in flight", p.symbol);
            self.say(MessageKind::Error, text);
            return Some(None);
        };
        self.open_hedge_field(HedgeField::Resolve { hedge, resolution });
        Some(None)
    }

    fn open_hedge_field(&mut self, field: HedgeField) {
        self.open_field(Field::Hedge(field));
    }
}
