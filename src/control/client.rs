//! The client side of the control API: [`ControlClient`] for one-shot verbs
//! (`arbkeep status`, `arbkeep pause`) and [`attach`], which turns a remote
//! engine into a local [`EngineHandle`] so the normal TUI can drive it.
//!
//! With the token at hand the client opens every connection with the
//! handshake of `handshake.rs`: the server must prove it holds the token
//! before the client sends anything derived from it, and the token itself
//! never goes on the wire.

use super::token::{self, ControlToken};
use super::{ControlError, addr, handshake};
use crate::engine::{Command, CommandEnvelope, EngineHandle, Snapshot};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Snapshots can be large, but a program at a stale address must not make
/// us buffer without bound either.
const MAX_SERVER_MESSAGE: usize = 64 << 20;
const MAX_SERVER_FRAME: usize = 16 << 20;
/// Longer than the server's own command timeout, so its answer wins.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(35);
/// The id `attach` gives its subscription; requests count up from 1.
const SUBSCRIPTION_ID: u64 = 0;
const LOST_ANSWER: &str = "lost the connection to the engine before it answered; the command may or may not have been applied: check the status";

type Ws = WebSocketStream<TcpStream>;

/// A connection to a running engine's control API.
pub struct ControlClient {
    ws: Ws,
    addr: SocketAddr,
    data_dir: PathBuf,
    /// The handshake succeeded: the server holds our token and knows we do.
    authenticated: bool,
    operator: String,
    next_id: u64,
}

impl fmt::Debug for ControlClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlClient")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("authenticated", &self.authenticated)
            .field("operator", &self.operator)
            .finish()
    }
}

impl ControlClient {
    /// Find the engine through `<data_dir>/control.addr` and connect. When
    /// `control.token` is readable, the server must first prove it holds
    /// that token ([`ControlError::UnprovenServer`] otherwise, with nothing
    /// sent but a random nonce), then the client proves it does, and the
    /// connection may send commands. Without the token file, reads work and
    /// commands are refused.
    pub async fn connect(data_dir: impl AsRef<Path>) -> Result<Self, ControlError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        let addr = addr::read(&data_dir)?;
        let token = token::read(&data_dir)?;
        let stream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(ControlError::ConnectionRefused {
                    addr: addr.to_string(),
                });
            }
            Ok(Err(e)) => {
                return Err(ControlError::Connect {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                });
            }
            Err(_) => {
                return Err(ControlError::Connect {
                    addr: addr.to_string(),
                    reason: "timed out".into(),
                });
            }
        };
        // The token never goes on the wire: the handshake proves it.
        let url = format!("ws://{addr}/");
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_SERVER_MESSAGE))
            .max_frame_size(Some(MAX_SERVER_FRAME));
        let ws = match timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::client_async_with_config(url, stream, Some(config)),
        )
        .await
        {
            Ok(Ok((ws, _response))) => ws,
            Ok(Err(e)) => {
                return Err(ControlError::Connect {
                    addr: addr.to_string(),
                    reason: format!("WebSocket handshake failed: {e}"),
                });
            }
            Err(_) => {
                return Err(ControlError::Connect {
                    addr: addr.to_string(),
                    reason: "WebSocket handshake timed out".into(),
                });
            }
        };
        let mut client = Self {
            ws,
            addr,
            data_dir,
            authenticated: false,
            operator: "cli".into(),
            next_id: SUBSCRIPTION_ID + 1,
        };
        if let Some(token) = token {
            match timeout(CONNECT_TIMEOUT, client.authenticate(&token)).await {
                Ok(Ok(())) => client.authenticated = true,
                Ok(Err(e)) => {
                    let _ = client.ws.close(None).await;
                    return Err(e);
                }
                Err(_) => {
                    let _ = client.ws.close(None).await;
                    return Err(ControlError::UnprovenServer {
                        addr: addr.to_string(),
                    });
                }
            }
        }
        Ok(client)
    }

    /// The handshake: our nonce out, the server's proof checked before
    /// anything derived from the token goes out, then our proof.
    async fn authenticate(&mut self, token: &ControlToken) -> Result<(), ControlError> {
        let addr = self.addr.to_string();
        let unproven = move || ControlError::UnprovenServer { addr: addr.clone() };
        let client_nonce = handshake::nonce()?;
        let challenge = match self
            .request(json!({"type": "hello", "nonce": handshake::hex(&client_nonce)}))
            .await
        {
            Ok(answer) => answer,
            // An error answer, a lost connection, garbage: not our engine.
            Err(_) => return Err(unproven()),
        };
        let server_nonce = challenge
            .get("nonce")
            .and_then(Value::as_str)
            .and_then(handshake::parse_nonce);
        let proof = challenge.get("proof").and_then(Value::as_str);
        let (Some(server_nonce), Some(proof), Some("challenge")) = (
            server_nonce,
            proof,
            challenge.get("type").and_then(Value::as_str),
        ) else {
            return Err(unproven());
        };
        if !handshake::verify_server(token, &client_nonce, &server_nonce, proof) {
            return Err(unproven());
        }
        let ours = handshake::client_proof(token, &server_nonce, &client_nonce);
        let answer = self.request(json!({"type": "auth", "proof": ours})).await?;
        match answer.get("type").and_then(Value::as_str) {
            Some("authenticated") => Ok(()),
            _ => Err(ControlError::Protocol(
                "the engine answered the handshake with something other than \"authenticated\""
                    .into(),
            )),
        }
    }

    /// Name this front end in the engine's audit trail (default "cli").
    pub fn with_operator(mut self, operator: impl Into<String>) -> Self {
        self.operator = operator.into();
        self
    }

    pub fn server_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Did the handshake succeed (can this client send commands)?
    pub fn has_token(&self) -> bool {
        self.authenticated
    }

    /// The short status object (`mode`, `phase`, `paused`, `cycles`, …).
    pub async fn status(&mut self) -> Result<Value, ControlError> {
        let mut answer = self.request(json!({"type": "status"})).await?;
        answer
            .get_mut("status")
            .map(Value::take)
            .ok_or_else(|| ControlError::Protocol("a status answer without \"status\"".into()))
    }

    pub async fn snapshot(&mut self) -> Result<Snapshot, ControlError> {
        let mut answer = self.request(json!({"type": "snapshot"})).await?;
        let snapshot = answer.get_mut("snapshot").map(Value::take).ok_or_else(|| {
            ControlError::Protocol("a snapshot answer without \"snapshot\"".into())
        })?;
        serde_json::from_value(snapshot)
            .map_err(|e| ControlError::Protocol(format!("undecodable snapshot: {e}")))
    }

    /// Send a command; `Ok` carries the engine's message, `Refused` its reason.
    pub async fn command(&mut self, command: Command) -> Result<String, ControlError> {
        let answer = self
            .authorized_request(json!({
                "type": "command",
                "command": command,
                "operator": self.operator,
            }))
            .await?;
        let message = answer
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match answer.get("ok").and_then(Value::as_bool) {
            Some(true) => Ok(message),
            Some(false) => Err(ControlError::Refused(message)),
            None => Err(ControlError::Protocol(
                "a command answer without \"ok\"".into(),
            )),
        }
    }

    /// Send a message that needs the token (an extension's) over this
    /// authenticated connection; the token itself is never added.
    pub async fn authorized_request(&mut self, message: Value) -> Result<Value, ControlError> {
        if !self.authenticated {
            return Err(no_token(&self.data_dir));
        }
        self.request(message).await
    }

    /// Send any message and wait for the answer carrying its id. Error
    /// answers become `Err` (`Unauthorized` for token refusals).
    pub async fn request(&mut self, mut message: Value) -> Result<Value, ControlError> {
        let id = self.next_id;
        self.next_id += 1;
        let Value::Object(map) = &mut message else {
            return Err(ControlError::Protocol(
                "a request must be a JSON object".into(),
            ));
        };
        map.insert("id".into(), json!(id));
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .map_err(|e| ControlError::Disconnected(e.to_string()))?;
        timeout(REQUEST_TIMEOUT, self.answer_to(id))
            .await
            .map_err(|_| ControlError::Timeout(REQUEST_TIMEOUT.as_secs()))?
    }

    async fn answer_to(&mut self, id: u64) -> Result<Value, ControlError> {
        loop {
            let text = match self.ws.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(frame))) => {
                    return Err(ControlError::Disconnected(close_reason(frame.as_ref())));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(ControlError::Disconnected(e.to_string())),
                None => {
                    return Err(ControlError::Disconnected(
                        "the engine closed the connection".into(),
                    ));
                }
            };
            let answer: Value = serde_json::from_str(text.as_str())
                .map_err(|e| ControlError::Protocol(format!("not JSON: {e}")))?;
            if answer.get("id").and_then(Value::as_u64) == Some(id) {
                return error_to_err(answer);
            }
        }
    }

    /// Turn this connection into a local engine mirror (see [`attach`]).
    pub async fn into_mirror(
        self,
    ) -> Result<(EngineHandle, JoinHandle<Result<(), ControlError>>), ControlError> {
        let (mut sink, mut source) = self.ws.split();
        let subscribe = json!({"type": "subscribe", "id": SUBSCRIPTION_ID});
        sink.send(Message::text(subscribe.to_string()))
            .await
            .map_err(|e| ControlError::Disconnected(e.to_string()))?;
        let first = timeout(REQUEST_TIMEOUT, first_snapshot(&mut source))
            .await
            .map_err(|_| ControlError::Timeout(REQUEST_TIMEOUT.as_secs()))??;

        let (snapshots_tx, snapshots) = watch::channel(Arc::new(first));
        let (commands, commands_rx) = mpsc::channel(32);
        // Notices are not relayed: webhooks run next to the engine itself.
        let (notices, _) = broadcast::channel(16);
        let mirror = Mirror {
            sink,
            source,
            authenticated: self.authenticated,
            data_dir: self.data_dir,
            snapshots: snapshots_tx,
            commands: commands_rx,
            pending: HashMap::new(),
            next_id: self.next_id,
        };
        let task = tokio::spawn(mirror.run());
        Ok((
            EngineHandle {
                commands,
                snapshots,
                notices,
            },
            task,
        ))
    }
}

/// Build a local [`EngineHandle`] for the engine whose data directory is
/// `data_dir`: its snapshots arrive over a `subscribe` stream into a local
/// watch channel, and commands sent on the local channel are forwarded over
/// the authenticated connection, their answers returned through each envelope's reply. The task
/// ends with `Ok` when every copy of the handle is dropped, or with the
/// reason the connection was lost (the handle's snapshot channel then
/// closes, which a TUI can show as "disconnected").
pub async fn attach(
    data_dir: impl AsRef<Path>,
) -> Result<(EngineHandle, JoinHandle<Result<(), ControlError>>), ControlError> {
    ControlClient::connect(data_dir)
        .await?
        .with_operator("attach")
        .into_mirror()
        .await
}

fn no_token(dir: &Path) -> ControlError {
    ControlError::Unauthorized(format!(
        "no control.token in {} (commands need the token the engine wrote there)",
        dir.display()
    ))
}

fn close_reason(frame: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match frame {
        Some(f) if !f.reason.is_empty() => {
            format!("the engine closed the connection: {}", f.reason)
        }
        _ => "the engine closed the connection".into(),
    }
}

/// `{"type":"error"}` answers as `Err`.
fn error_to_err(answer: Value) -> Result<Value, ControlError> {
    if answer.get("type").and_then(Value::as_str) != Some("error") {
        return Ok(answer);
    }
    let error = answer
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unspecified error");
    Err(match error.strip_prefix("unauthorized: ") {
        Some(reason) => ControlError::Unauthorized(reason.to_string()),
        None => ControlError::Server(error.to_string()),
    })
}

async fn first_snapshot(source: &mut SplitStream<Ws>) -> Result<Snapshot, ControlError> {
    loop {
        match source.next().await {
            Some(Ok(Message::Text(text))) => {
                let answer: Value = serde_json::from_str(text.as_str())
                    .map_err(|e| ControlError::Protocol(format!("not JSON: {e}")))?;
                if answer.get("id").and_then(Value::as_u64) != Some(SUBSCRIPTION_ID) {
                    continue;
                }
                let mut answer = error_to_err(answer)?;
                return decode_snapshot(&mut answer);
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(ControlError::Disconnected(close_reason(frame.as_ref())));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ControlError::Disconnected(e.to_string())),
            None => {
                return Err(ControlError::Disconnected(
                    "the engine closed the connection".into(),
                ));
            }
        }
    }
}

fn decode_snapshot(answer: &mut Value) -> Result<Snapshot, ControlError> {
    let snapshot = answer
        .get_mut("snapshot")
        .map(Value::take)
        .ok_or_else(|| ControlError::Protocol("a snapshot frame without \"snapshot\"".into()))?;
    serde_json::from_value(snapshot)
        .map_err(|e| ControlError::Protocol(format!("undecodable snapshot: {e}")))
}

/// The task behind an attached [`EngineHandle`].
struct Mirror {
    sink: SplitSink<Ws, Message>,
    source: SplitStream<Ws>,
    authenticated: bool,
    data_dir: PathBuf,
    snapshots: watch::Sender<Arc<Snapshot>>,
    commands: mpsc::Receiver<CommandEnvelope>,
    /// Commands sent and not yet answered, by request id.
    pending: HashMap<u64, oneshot::Sender<Result<String, String>>>,
    next_id: u64,
}

impl Mirror {
    async fn run(mut self) -> Result<(), ControlError> {
        let outcome = loop {
            tokio::select! {
                frame = self.source.next() => match frame {
                    Some(Ok(Message::Text(text))) => self.on_frame(text.as_str()),
                    Some(Ok(Message::Close(frame))) => {
                        break Err(ControlError::Disconnected(close_reason(frame.as_ref())));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Err(ControlError::Disconnected(e.to_string())),
                    None => {
                        break Err(ControlError::Disconnected("the engine closed the connection".into()));
                    }
                },
                envelope = self.commands.recv() => match envelope {
                    Some(envelope) => {
                        if let Err(e) = self.forward(envelope).await {
                            break Err(e);
                        }
                    }
                    // Every local handle is gone: nobody is watching.
                    None => {
                        let _ = self.sink.close().await;
                        break Ok(());
                    }
                },
            }
        };
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(LOST_ANSWER.into()));
        }
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "attach: lost the engine");
        }
        outcome
    }

    async fn forward(&mut self, envelope: CommandEnvelope) -> Result<(), ControlError> {
        if !self.authenticated {
            let _ = envelope
                .reply
                .send(Err(no_token(&self.data_dir).to_string()));
            return Ok(());
        }
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({
            "type": "command",
            "id": id,
            "command": envelope.command,
            "operator": envelope.operator,
        });
        match self.sink.send(Message::text(message.to_string())).await {
            Ok(()) => {
                self.pending.insert(id, envelope.reply);
                Ok(())
            }
            Err(e) => {
                let _ = envelope.reply.send(Err(LOST_ANSWER.into()));
                Err(ControlError::Disconnected(e.to_string()))
            }
        }
    }

    fn on_frame(&mut self, text: &str) {
        let Ok(mut frame) = serde_json::from_str::<Value>(text) else {
            tracing::warn!("attach: the engine sent a frame that is not JSON");
            return;
        };
        let id = frame.get("id").and_then(Value::as_u64);
        match frame.get("type").and_then(Value::as_str) {
            Some("snapshot") => match decode_snapshot(&mut frame) {
                Ok(snapshot) => {
                    self.snapshots.send_replace(Arc::new(snapshot));
                }
                Err(e) => tracing::warn!(error = %e, "attach: dropped a snapshot"),
            },
            Some("result") => {
                if let Some(reply) = id.and_then(|id| self.pending.remove(&id)) {
                    let message = frame
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let ok = frame.get("ok").and_then(Value::as_bool) == Some(true);
                    let _ = reply.send(if ok { Ok(message) } else { Err(message) });
                }
            }
            Some("error") => {
                let error = frame
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unspecified error")
                    .to_string();
                match id.and_then(|id| self.pending.remove(&id)) {
                    Some(reply) => {
                        let _ = reply.send(Err(error));
                    }
                    None => tracing::warn!(%error, "attach: the engine reported an error"),
                }
            }
            _ => {}
        }
    }
}
