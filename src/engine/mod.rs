//! The engine: plans cycles, sizes them, gates them on risk, and reconciles
//! every open cycle step by step over the store. It knows nothing of screens:
//! it takes `Command`s and publishes `Snapshot`s.

pub mod command;
pub mod notice;
pub mod snapshot;

pub use command::{Command, CommandEnvelope};
pub use notice::Notice;
pub use snapshot::{Mode, Phase, Snapshot};

use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// What a front end holds: a way to send commands and the latest snapshot.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    pub commands: mpsc::Sender<CommandEnvelope>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Subscribe for notices (webhooks); a slow listener only loses old notices.
    pub notices: broadcast::Sender<Notice>,
}

impl EngineHandle {
    /// Send a command and wait for the engine's answer.
    pub async fn send(&self, command: Command, operator: &str) -> Result<String, String> {
        let (reply, answer) = oneshot::channel();
        let envelope = CommandEnvelope {
            command,
            operator: operator.to_string(),
            reply,
        };
        self.commands
            .send(envelope)
            .await
            .map_err(|_| "the engine has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the engine stopped before answering".to_string())?
    }

    pub fn latest(&self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }
}
