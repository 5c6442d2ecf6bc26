//! The control server: binds loopback, publishes `control.addr`, accepts
//! WebSocket clients within the limits of [`super::ControlLimits`] and answers them
//! one message at a time. Nothing here changes state except by sending a
//! `Command` to the engine, and only after the token checked out (by the
//! handshake of `handshake.rs`, or a message carrying it).

use super::admission::{Admission, Ticket};
use super::protocol::{self, Incoming, Kind};
use super::token::{self, ControlToken, TokenVerifier};
use super::{ControlConfig, ControlError, addr, handshake};
use crate::engine::extension::{Access, ControlExtension, Outbox, OutboxClosed, OutboxSink};
use crate::engine::{Command, EngineHandle};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
use tokio_tungstenite::tungstenite::http::{StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

/// The engine answers commands from its loop; longer than this means it is
/// stuck, and the client should be told rather than left hanging.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Frames queued for one client before senders wait for it.
const OUTBOX_CAPACITY: usize = 64;
/// How long shutdown waits for connections to say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running control server. Dropping it stops it too, but `shutdown()`
/// waits for the connections to close.
#[derive(Debug)]
pub struct ControlServer {
    addr: SocketAddr,
    data_dir: PathBuf,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting, close every connection with "going away", wait for
    /// them briefly, and remove `control.addr`.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        addr::remove_if_ours(&self.data_dir, self.addr);
        tracing::info!(addr = %self.addr, "control API stopped");
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if self.task.take().is_some() {
            addr::remove_if_ours(&self.data_dir, self.addr);
        }
    }
}

/// What every connection shares.
struct Shared {
    engine: EngineHandle,
    /// For the handshake's proofs; never logged (its `Debug` redacts).
    token: ControlToken,
    verifier: TokenVerifier,
    extensions: Vec<Arc<dyn ControlExtension>>,
    allowed_origins: Vec<String>,
    admission: Arc<Admission>,
}

/// Start the control server on `127.0.0.1:<config.port>`.
pub async fn serve(
    engine: EngineHandle,
    config: ControlConfig,
) -> Result<ControlServer, ControlError> {
    addr::ensure_dir(&config.data_dir)?;
    let token = token::load_or_create(&config.data_dir)?;
    let verifier = TokenVerifier::new(&token)?;

    // Loopback is not configurable: the token is the only guard.
    let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
    let listener = TcpListener::bind(wanted)
        .await
        .map_err(|source| ControlError::Bind {
            addr: wanted.to_string(),
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| ControlError::Bind {
        addr: wanted.to_string(),
        source,
    })?;
    addr::write(&config.data_dir, bound)?;

    let shared = Arc::new(Shared {
        engine,
        token,
        verifier,
        extensions: config.extensions,
        allowed_origins: config.allowed_origins,
        admission: Admission::new(config.limits),
    });
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, shared, stop_rx));
    tracing::info!(addr = %bound, "control API listening");
    Ok(ControlServer {
        addr: bound,
        data_dir: config.data_dir,
        stop,
        task: Some(task),
    })
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // Err means the server handle is gone: stop as well.
            _ = stop.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match shared.admission.admit() {
                    Ok(ticket) => {
                        connections.spawn(connection(stream, peer, ticket, shared.clone(), stop.clone()));
                    }
                    Err(full) => {
                        tracing::warn!(%peer, "control API: refusing a connection: {full}");
                    }
                },
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "control API: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let drained = timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}

/// Refuse browser pages: they always send `Origin`, our clients never do.
struct OriginCheck(Vec<String>);

impl Callback for OriginCheck {
    // The signature is tungstenite's; the large error is its HTTP response.
    #[allow(clippy::result_large_err)]
    fn on_request(self, req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
        match req.headers().get(header::ORIGIN) {
            None => Ok(resp),
            Some(origin) if self.0.iter().any(|a| a.as_bytes() == origin.as_bytes()) => Ok(resp),
            Some(_) => {
                let mut refusal = ErrorResponse::new(Some(
                    "cross-origin WebSocket connections are not allowed".into(),
                ));
                *refusal.status_mut() = StatusCode::FORBIDDEN;
                Err(refusal)
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    mut ticket: Ticket,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let limits = shared.admission.limits().clone();
    // Incoming frames and messages are bounded; tungstenite refuses an
    // oversized frame from its header, before reading its payload.
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_client_message))
        .max_frame_size(Some(limits.max_client_message));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        OriginCheck(shared.allowed_origins.clone()),
        Some(config),
    );
    let ws = tokio::select! {
        _ = ticket.evicted() => {
            tracing::debug!(%peer, "control API: evicted before its handshake");
            return;
        }
        handshake = timeout(limits.handshake_timeout, handshake) => match handshake {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "control API: handshake refused or failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "control API: handshake timed out");
                return;
            }
        },
    };
    tracing::debug!(%peer, "control API: client connected");
    let (mut sink, mut source) = ws.split();

    // One writer per connection: answers, subscription snapshots and
    // extension streams all go through this bounded queue, in order.
    let (out, mut out_rx) = mpsc::channel::<Message>(OUTBOX_CAPACITY);
    let mut writer = tokio::spawn(async move {
        while let Some(message) = out_rx.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let mut session = Session {
        shared,
        peer,
        out: out.clone(),
        subscription: None,
        ticket,
        authenticated: false,
        challenge: None,
    };
    let close = |code: CloseCode, reason: String| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    // Idle unauthenticated clients are pinged halfway, closed at the end.
    let mut last_heard = Instant::now();
    let mut pinged = false;
    loop {
        let idle_deadline = if pinged {
            last_heard + limits.idle_timeout
        } else {
            last_heard + limits.idle_timeout / 2
        };
        let frame = tokio::select! {
            _ = stop.changed() => {
                give_up_after_grace(&out, close(CloseCode::Away, "the engine is shutting down".into())).await;
                break;
            }
            _ = session.ticket.evicted() => {
                tracing::debug!(%peer, "control API: evicted an unauthenticated connection to make room");
                give_up_after_grace(&out, close(
                    CloseCode::Again,
                    "too many unauthenticated connections: the oldest was closed to make room".into(),
                )).await;
                break;
            }
            _ = sleep_until(idle_deadline), if !session.authenticated => {
                if pinged {
                    tracing::debug!(%peer, "control API: closing an idle unauthenticated connection");
                    give_up_after_grace(&out, close(
                        CloseCode::Policy,
                        format!(
                            "idle for {} s without authenticating",
                            limits.idle_timeout.as_secs_f64()
                        ),
                    )).await;
                    break;
                }
                pinged = true;
                // A client whose queue is full is behind anyway: no ping.
                let _ = out.try_send(Message::Ping(Default::default()));
                continue;
            }
            frame = source.next() => frame,
        };
        last_heard = Instant::now();
        pinged = false;
        let answer = match frame {
            Some(Ok(Message::Text(text))) => session.handle_text(text.as_str()).await,
            Some(Ok(Message::Binary(_))) => Some(protocol::error(
                &None,
                "binary frames are not supported: send JSON as text",
            )),
            Some(Ok(Message::Close(_))) | None => break,
            Some(Err(WsError::Capacity(e))) => {
                tracing::debug!(%peer, error = %e, "control API: a client message over the limit");
                let too_big = format!(
                    "message too big: a client message may be at most {} bytes",
                    limits.max_client_message
                );
                give_up_after_grace(&out, close(CloseCode::Size, too_big)).await;
                break;
            }
            Some(Err(e)) => {
                tracing::debug!(%peer, error = %e, "control API: read failed");
                break;
            }
            // Pings are answered by tungstenite itself; pongs only count as
            // signs of life.
            Some(Ok(_)) => None,
        };
        // A client that asks and never reads fills its queue; while we wait
        // for room it can still be evicted, and the engine can still stop.
        if let Some(answer) = answer {
            let queued = tokio::select! {
                queued = out.send(Message::text(answer.to_string())) => queued.is_ok(),
                _ = session.ticket.evicted() => false,
                _ = stop.changed() => false,
            };
            if !queued {
                break;
            }
        }
    }
    session.unsubscribe();
    drop(session);
    drop(out);
    // Let queued frames (the close frame) go out, but do not wait on
    // extension tasks that still hold an outbox: aborting the writer closes
    // their outboxes, which tells them to stop.
    if timeout(SHUTDOWN_GRACE, &mut writer).await.is_err() {
        writer.abort();
    }
    tracing::debug!(%peer, "control API: client disconnected");
}

/// Queue a last frame (a close), unless the client is too far behind to
/// take it soon: then the connection just ends.
async fn give_up_after_grace(out: &mpsc::Sender<Message>, last: Message) {
    let _ = timeout(SHUTDOWN_GRACE, out.send(last)).await;
}

/// One client's state between messages.
struct Session {
    shared: Arc<Shared>,
    peer: SocketAddr,
    out: mpsc::Sender<Message>,
    subscription: Option<JoinHandle<()>>,
    /// This connection's slot.
    ticket: Ticket,
    /// The client proved the token (handshake or a message carrying it).
    authenticated: bool,
    /// The nonces of the last `hello` (client's, server's), until `auth`.
    challenge: Option<(Vec<u8>, Vec<u8>)>,
}

impl Session {
    /// The answer to one text frame, if it has one now.
    async fn handle_text(&mut self, text: &str) -> Option<Value> {
        let message = match protocol::parse(text) {
            Ok(m) => m,
            Err((id, error)) => return Some(protocol::error(&id, error)),
        };
        match message.kind {
            Kind::Status => Some(protocol::status(&message.id, &self.shared.engine.latest())),
            Kind::Snapshot => Some(protocol::snapshot(
                &message.id,
                &self.shared.engine.latest(),
            )),
            Kind::Subscribe => {
                self.subscribe(message.id);
                None
            }
            Kind::Unsubscribe => {
                self.unsubscribe();
                Some(protocol::with_id(
                    json!({"type": "unsubscribed"}),
                    &message.id,
                ))
            }
            Kind::Hello => Some(self.hello(&message)),
            Kind::Auth => Some(self.auth(&message)),
            Kind::Command => Some(self.command(message).await),
            Kind::Other(ref kind) => {
                let kind = kind.clone();
                self.extension(message, kind).await
            }
        }
    }

    /// Prove we hold the token, over the client's nonce and a fresh one.
    fn hello(&mut self, message: &Incoming) -> Value {
        let id = &message.id;
        let Some(client) = message
            .body
            .get("nonce")
            .and_then(Value::as_str)
            .and_then(handshake::parse_nonce)
        else {
            return protocol::error(
                id,
                format!(
                    "a hello needs a \"nonce\": {} random bytes in hex",
                    handshake::NONCE_BYTES
                ),
            );
        };
        let server = match handshake::nonce() {
            Ok(n) => n.to_vec(),
            Err(e) => return protocol::error(id, e.to_string()),
        };
        let proof = handshake::server_proof(&self.shared.token, &client, &server);
        let answer = protocol::challenge(id, &handshake::hex(&server), &proof);
        self.challenge = Some((client, server));
        answer
    }

    /// Check the client's proof over the last challenge (one try each).
    fn auth(&mut self, message: &Incoming) -> Value {
        let id = &message.id;
        let Some((client, server)) = self.challenge.take() else {
            return protocol::error(id, "unauthorized: send a hello first, then auth");
        };
        let proof = message.body.get("proof").and_then(Value::as_str);
        match proof {
            Some(p) if handshake::verify_client(&self.shared.token, &server, &client, p) => {
                self.promote();
                protocol::with_id(json!({"type": "authenticated"}), id)
            }
            _ => {
                tracing::warn!(peer = %self.peer, "control API: refused a handshake with a wrong proof");
                protocol::error(id, "unauthorized: wrong proof")
            }
        }
    }

    fn promote(&mut self) {
        if !self.authenticated {
            self.authenticated = true;
            if !self.ticket.promote() {
                tracing::debug!(peer = %self.peer, "control API: authenticated after being evicted");
            }
        }
    }

    /// Stream snapshots from the watch channel. A slow client does not queue
    /// stale snapshots: while it is behind, changes coalesce in the channel.
    fn subscribe(&mut self, id: Option<Value>) {
        self.unsubscribe();
        let mut snapshots = self.shared.engine.snapshots.clone();
        let out = self.out.clone();
        self.subscription = Some(tokio::spawn(async move {
            loop {
                let snapshot = snapshots.borrow_and_update().clone();
                let frame = protocol::snapshot(&id, &snapshot);
                if out.send(Message::text(frame.to_string())).await.is_err() {
                    return;
                }
                if snapshots.changed().await.is_err() {
                    let frame = protocol::error(&id, "the engine has stopped publishing snapshots");
                    let _ = out.send(Message::text(frame.to_string())).await;
                    return;
                }
            }
        }));
    }

    fn unsubscribe(&mut self) {
        if let Some(task) = self.subscription.take() {
            task.abort();
        }
    }

    /// `Ok` when the connection has authenticated or the message carries
    /// the right token (clients that do not do the handshake, like the
    /// Stellar seed's frontend); the latter authenticates the connection
    /// too. The reason never repeats what was presented.
    fn authorize(&mut self, token: Option<&Value>) -> Result<(), String> {
        if self.authenticated {
            return Ok(());
        }
        match token {
            None | Some(Value::Null) => Err(
                "unauthorized: this message needs the control token (do the hello/auth handshake, or put \"token\" from control.token in the data directory in the message)"
                    .into(),
            ),
            Some(Value::String(t)) if self.shared.verifier.verify(t) => {
                self.promote();
                Ok(())
            }
            Some(_) => {
                tracing::warn!(peer = %self.peer, "control API: refused a message with a wrong token");
                Err("unauthorized: wrong token".into())
            }
        }
    }

    async fn command(&mut self, message: Incoming) -> Value {
        let id = &message.id;
        // The token first: an unauthorized client learns nothing else.
        if let Err(reason) = self.authorize(message.body.get("token")) {
            return protocol::error(id, reason);
        }
        let Some(raw) = message.body.get("command") else {
            return protocol::error(
                id,
                "a command message needs a \"command\" object, e.g. {\"command\":\"pause\"}",
            );
        };
        let command: Command = match serde_json::from_value(raw.clone()) {
            Ok(c) => c,
            Err(e) => return protocol::error(id, format!("invalid command: {e}")),
        };
        let operator = protocol::operator(&message.body);
        tracing::info!(peer = %self.peer, %operator, %command, "control API: command");
        let outcome = match timeout(COMMAND_TIMEOUT, self.shared.engine.send(command, &operator))
            .await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "no answer from the engine within {} s; the command may still be applied: check the status",
                COMMAND_TIMEOUT.as_secs()
            )),
        };
        protocol::result(id, &outcome)
    }

    /// Offer the message to the extensions; the first that claims it answers.
    async fn extension(&mut self, mut message: Incoming, kind: Option<String>) -> Option<Value> {
        let token = message.body.remove("token");
        let body = Value::Object(std::mem::take(&mut message.body));
        let claimed = self
            .shared
            .extensions
            .iter()
            .find_map(|ext| ext.claim(&body).map(|access| (ext.clone(), access)));
        let Some((ext, access)) = claimed else {
            return Some(protocol::unknown_type(&message.id, &kind));
        };
        if access == Access::Token
            && let Err(reason) = self.authorize(token.as_ref())
        {
            return Some(protocol::error(&message.id, reason));
        }
        tracing::debug!(peer = %self.peer, extension = ext.name(), "control API: extension message");
        let outbox = Outbox::new(Arc::new(SocketOutbox(self.out.clone())));
        match ext.handle(body, outbox, self.shared.engine.clone()).await {
            Value::Null => None,
            answer => Some(protocol::with_id(answer, &message.id)),
        }
    }
}

/// An extension's [`Outbox`] on this connection: JSON text frames, in order
/// with the server's own answers.
struct SocketOutbox(mpsc::Sender<Message>);

impl OutboxSink for SocketOutbox {
    fn send(
        &self,
        message: Value,
    ) -> futures_util::future::BoxFuture<'_, Result<(), OutboxClosed>> {
        Box::pin(async move {
            self.0
                .send(Message::text(message.to_string()))
                .await
                .map_err(|_| OutboxClosed)
        })
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}
