//! What a strategy offers the front ends beyond the engine's commands, in
//! the engine's terms: messages it answers (the Stellar seed's
//! `{"command":"get_supported_assets"}`, `{"command":"start_engine"}`) and
//! streams it sends to a client through an [`Outbox`]. The control API
//! serves them over its socket without knowing any strategy, and the
//! strategy knows no socket: what changes anything is a `Command` it sends
//! to the engine.
//!
//! An extension first *claims* a message and says what access it needs; the
//! server enforces the token for [`Access::Token`] before the extension sees
//! anything, so an extension cannot forget the check. The message handed to
//! [`ControlExtension::handle`] has its `"token"` field removed.

use super::EngineHandle;
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::sync::Arc;

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

/// Where an [`Outbox`] delivers: the front end's connection to one client.
pub trait OutboxSink: Send + Sync {
    fn send(&self, message: Value) -> BoxFuture<'_, Result<(), OutboxClosed>>;
    fn is_closed(&self) -> bool;
}

/// Sends JSON messages to one connected client, in order with the front
/// end's own answers. Bounded by the sink: a slow client slows the sender,
/// never the engine.
#[derive(Clone)]
pub struct Outbox {
    sink: Arc<dyn OutboxSink>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("closed", &self.sink.is_closed())
            .finish()
    }
}

impl Outbox {
    pub fn new(sink: Arc<dyn OutboxSink>) -> Self {
        Outbox { sink }
    }

    pub async fn send(&self, message: Value) -> Result<(), OutboxClosed> {
        self.sink.send(message).await
    }

    pub fn is_closed(&self) -> bool {
        self.sink.is_closed()
    }
}
