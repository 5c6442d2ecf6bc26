//! The extension point: a strategy (the Stellar one first) can answer its own
//! messages on the control socket — `{"command":"get_supported_assets"}`,
//! `{"command":"start_engine"}` — without the server knowing about it.
//!
//! An extension first *claims* a message and says what access it needs; the
//! server enforces the token for [`Access::Token`] before the extension sees
//! anything, so an extension cannot forget the check. The message handed to
//! [`ControlExtension::handle`] has its `"token"` field removed.

use crate::engine::EngineHandle;
use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// What a claimed message needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A read: anyone who can reach the loopback socket.
    Open,
    /// Changes something: needs the control token.
    Token,
}

/// The answer to one message. `Value::Null` means "nothing to send now"
/// (for example, results will be streamed through the [`Outbox`]). When the
/// answer is an object without `"id"`, the server adds the request's id.
pub type ExtensionReply = BoxFuture<'static, Value>;

pub trait ControlExtension: Send + Sync {
    /// A short name for logs ("stellar").
    fn name(&self) -> &str;

    /// `Some(access)` if this extension handles `message`. Must be cheap and
    /// must not act: acting happens in `handle`, after the token check.
    fn claim(&self, message: &Value) -> Option<Access>;

    /// Answer a claimed message. The `outbox` sends further messages to the
    /// same client (a stream of scan results) until it disconnects; what
    /// changes anything goes to the `engine` as a `Command`, so it is applied
    /// and audited like every other command.
    fn handle(&self, message: Value, outbox: Outbox, engine: EngineHandle) -> ExtensionReply;
}

/// The client has gone; stop streaming to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the control client has disconnected")]
pub struct OutboxClosed;

/// Sends JSON messages to one connected client, in order with the server's
/// own answers. Bounded: a slow client slows the sender, never the engine.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub(crate) tx: mpsc::Sender<Message>,
}

impl Outbox {
    pub async fn send(&self, message: Value) -> Result<(), OutboxClosed> {
        self.tx
            .send(Message::text(message.to_string()))
            .await
            .map_err(|_| OutboxClosed)
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}
