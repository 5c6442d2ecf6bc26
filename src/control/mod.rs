//! The control API: one WebSocket server on loopback that lets other
//! processes (`arbkeep attach`, the CLI verbs, a strategy's own clients) read
//! the engine's snapshot and send it commands, and the client side of it.
//!
//! # Where to find it
//! The server binds `127.0.0.1` only (there is no option to bind anything
//! else) on [`ControlConfig::port`] (8768 by default, the Stellar seed's
//! port; 0 picks a free one). It writes the bound address to
//! `<data_dir>/control.addr` and removes it on shutdown. Commands need the
//! token in `<data_dir>/control.token`: 32 random bytes as 64 hex digits,
//! mode 0600, made once and reused while it stays valid and private. Reading
//! that file is the proof of being the operator; the handshake proves it
//! without sending it.
//!
//! Browsers always send an `Origin` header on WebSocket upgrades; the server
//! refuses any upgrade whose `Origin` is not in
//! [`ControlConfig::allowed_origins`] (empty by default), so a web page open
//! on the same machine cannot read the snapshot.
//!
//! # Protocol
//! Every frame is one JSON object in a text message. A client message may
//! carry an `"id"` (any JSON value); every answer to it echoes that `"id"`.
//!
//! | client sends | server answers | token |
//! | --- | --- | --- |
//! | `{"type":"status"}` | `{"type":"status","status":{"seq","mode","phase","paused","paused_tokens","approval","now","cycles":{"open","completed","failed"}}}` | no |
//! | `{"type":"snapshot"}` | `{"type":"snapshot","snapshot":{…}}` once | no |
//! | `{"type":"subscribe"}` | `{"type":"snapshot",…}` now and after every change, until the client closes or sends `{"type":"unsubscribe"}` (answered `{"type":"unsubscribed"}`). Snapshots that change faster than the client reads are coalesced: the client always gets the latest. | no |
//! | `{"type":"hello","nonce":"<64 hex>"}` | `{"type":"challenge","nonce":"<64 hex>","proof":"<64 hex>"}` | no |
//! | `{"type":"auth","proof":"<64 hex>"}` | `{"type":"authenticated"}` or `"unauthorized: wrong proof"` | proves it |
//! | `{"type":"command","command":{"command":"pause"},"operator":"cli"}` | `{"type":"result","ok":true,"message":"…"}` or `"ok":false` with the engine's reason | yes |
//!
//! # The token: a handshake, or in the message
//! `hello`/`auth` is the challenge–response of `handshake.rs`: the server
//! proves it holds the token before the client sends anything derived from
//! it, then the client proves it does, and the connection is authenticated
//! for the rest of its life. [`ControlClient`] and [`attach`] always do this
//! and never put the token on the wire, so a program listening on a stale
//! `control.addr` port learns nothing. Clients that cannot (the Stellar
//! seed's frontend) may instead carry `"token":"…"` in each message that
//! needs it; a right one authenticates the connection too.
//!
//! # Limits
//! [`ControlLimits`]: connections that have not authenticated have their own
//! share of the slots, the oldest is evicted (close code 1013) when a newcomer
//! needs room, and they are closed when idle (1008); the rest of the slots are
//! kept for authenticated ones. Client messages over the size limit close
//! that connection (1009). Ledger pages are capped ([`MAX_LEDGER_PAGE`]).
//!
//! `command` is an [`crate::engine::Command`] in its JSON form; `operator`
//! (optional, `[A-Za-z0-9_-]{1,32}`) names the front end in the audit trail as
//! `<operator>@api`.
//!
//! Errors are `{"type":"error","id":…,"error":"…"}`; the connection stays
//! open. A missing or wrong token gives `"unauthorized: …"` and nothing
//! reaches the engine. Tokens and proofs are compared in constant time and
//! never logged or echoed (`logging` holds tungstenite, which logs frames,
//! at INFO).
//!
//! Messages the built-in types do not cover (an unknown `type`, or none at
//! all, like the Stellar seed's `{"command":"get_supported_assets"}`) are
//! offered to each registered [`ControlExtension`] in turn before the server
//! answers `unknown message type`.

mod addr;
pub(crate) mod admission;
mod client;
mod export;
mod handshake;
mod ledger;
mod protocol;
mod server;
mod token;

pub use admission::ControlLimits;

pub use crate::engine::extension::{
    Access, ControlExtension, ExtensionReply, Outbox, OutboxClosed, OutboxSink,
};
pub use client::{ControlClient, attach};
pub use export::{ExportQueries, MAX_EXPORT_PAGE};
pub use ledger::{LedgerQueries, MAX_LEDGER_PAGE};
pub use server::{ControlServer, serve};

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The Stellar seed's port; `arbkeep` keeps it so its clients find us.
pub const DEFAULT_PORT: u16 = 8768;
/// Written by the server, read by clients: `127.0.0.1:<port>`.
pub const ADDR_FILE: &str = "control.addr";
/// The operator's proof: 64 hex digits, mode 0600.
pub const TOKEN_FILE: &str = "control.token";

/// How to run the control server.
#[derive(Clone)]
pub struct ControlConfig {
    /// 8768 by default; 0 lets the OS choose (tests).
    pub port: u16,
    /// Where `control.addr` and `control.token` live (the engine's data dir).
    pub data_dir: PathBuf,
    /// `Origin` header values allowed to upgrade (browser dashboards). Empty:
    /// any request that carries an `Origin` is refused.
    pub allowed_origins: Vec<String>,
    /// Consulted in order for messages the built-in types do not cover.
    pub extensions: Vec<Arc<dyn ControlExtension>>,
    /// Connection, message and idle limits.
    pub limits: ControlLimits,
}

impl ControlConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            port: DEFAULT_PORT,
            data_dir: data_dir.into(),
            allowed_origins: Vec::new(),
            extensions: Vec::new(),
            limits: ControlLimits::default(),
        }
    }

    pub fn with_limits(mut self, limits: ControlLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    pub fn with_extension(mut self, extension: Arc<dyn ControlExtension>) -> Self {
        self.extensions.push(extension);
        self
    }
}

impl fmt::Debug for ControlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlConfig")
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .field("allowed_origins", &self.allowed_origins)
            .field("limits", &self.limits)
            .field(
                "extensions",
                &self.extensions.iter().map(|e| e.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What can go wrong on either side of the control API. No variant ever
/// carries the token.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no engine is running on {dir} (no control.addr)")]
    NoEngine { dir: PathBuf },
    #[error("{path} is unreadable or malformed: {reason}")]
    BadAddrFile { path: PathBuf, reason: String },
    #[error(
        "{addr} in control.addr is not a loopback address; refusing to connect (the token must not leave this machine)"
    )]
    NotLoopback { addr: String },
    #[error(
        "connection refused at {addr}: no engine is listening (a stale control.addr from an engine that crashed?)"
    )]
    ConnectionRefused { addr: String },
    #[error("could not connect to the engine at {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not generate a control token: the system's random source failed")]
    Random,
    #[error(
        "the program listening at {addr} did not prove it holds the token in control.token; nothing was sent to it (a stale control.addr whose port another program took, or a control.token that is not this engine's)"
    )]
    UnprovenServer { addr: String },
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("the engine refused: {0}")]
    Refused(String),
    #[error("the control server answered with an error: {0}")]
    Server(String),
    #[error("unexpected answer from the control server: {0}")]
    Protocol(String),
    #[error("no answer from the engine within {0} s")]
    Timeout(u64),
    #[error("the connection to the engine was lost: {0}")]
    Disconnected(String),
}
