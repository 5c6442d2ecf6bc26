//! The control API against a fake engine: a real `EngineHandle` built from
//! fresh channels, with a task that answers commands and publishes
//! snapshots. Every server binds 127.0.0.1:0 in its own temporary directory.

use arbkeep::control::{
    self, Access, ControlClient, ControlConfig, ControlError, ControlExtension, ExtensionReply,
    Outbox,
};
use arbkeep::engine::{Command, CommandEnvelope, EngineHandle, Mode, Phase, Snapshot};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(5);

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "arbkeep-control-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The test's side of the fake engine.
struct Fake {
    /// Every command the engine received, with its operator.
    received: mpsc::UnboundedReceiver<(Command, String)>,
    /// Publish a snapshot as the engine would.
    publish: watch::Sender<Arc<Snapshot>>,
}

fn fake_engine() -> (EngineHandle, Fake) {
    let mut first = Snapshot::empty(Mode::Paper, 0);
    first.phase = Phase::Running;
    first.counts.completed = 2;
    let (publish, snapshots) = watch::channel(Arc::new(first));
    let (commands, mut inbox) = mpsc::channel::<CommandEnvelope>(8);
    let (notices, _) = broadcast::channel(8);
    let (record, received) = mpsc::unbounded_channel();
    let publisher = publish.clone();
    tokio::spawn(async move {
        while let Some(envelope) = inbox.recv().await {
            let _ = record.send((envelope.command.clone(), envelope.operator.clone()));
            let answer = match &envelope.command {
                Command::Pause | Command::Resume => {
                    let pause = envelope.command == Command::Pause;
                    publisher.send_modify(|s| {
                        let mut next = (**s).clone();
                        next.seq += 1;
                        next.paused = pause;
                        next.phase = if pause { Phase::Paused } else { Phase::Running };
                        *s = Arc::new(next);
                    });
                    Ok(if pause { "paused" } else { "resumed" }.to_string())
                }
                Command::Reject { opportunity } => Err(format!("no opportunity #{opportunity}")),
                other => Ok(format!("done: {other}")),
            };
            let _ = envelope.reply.send(answer);
        }
    });
    (
        EngineHandle {
            commands,
            snapshots,
            notices,
        },
        Fake { received, publish },
    )
}

async fn start(config: ControlConfig) -> (control::ControlServer, Fake) {
    let (handle, fake) = fake_engine();
    let server = control::serve(handle, config.with_port(0))
        .await
        .expect("serve");
    (server, fake)
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(server: &control::ControlServer) -> Ws {
    let url = format!("ws://{}/", server.local_addr());
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    ws
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string()))
        .await
        .expect("send");
}

/// The next JSON text frame.
async fn recv(ws: &mut Ws) -> Value {
    loop {
        let frame = timeout(WAIT, ws.next())
            .await
            .expect("an answer in time")
            .expect("connection open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).expect("JSON");
        }
    }
}

async fn ask(ws: &mut Ws, message: Value) -> Value {
    send(ws, message).await;
    recv(ws).await
}

fn token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("control.token"))
        .expect("token file")
        .trim()
        .to_string()
}

#[tokio::test]
async fn status_is_open_without_a_token() {
    let dir = TempDir::new();
    let (server, _fake) = start(ControlConfig::new(dir.path())).await;
    assert!(server.local_addr().ip().is_loopback());
    let mut ws = connect(&server).await;
    let answer = ask(&mut ws, json!({"type": "status", "id": 1})).await;
    assert_eq!(answer["type"], "status");
    assert_eq!(answer["id"], 1);
    let status = &answer["status"];
    assert_eq!(status["mode"], "paper");
    assert_eq!(status["phase"], "RUNNING");
    assert_eq!(status["paused"], false);
    assert_eq!(
        status["cycles"],
        json!({"open": 0, "completed": 2, "failed": 0, "not_started": 0})
    );
    assert_eq!(status["intents"], json!([]));
    server.shutdown().await;
}

#[tokio::test]
async fn status_carries_the_open_intents() {
    use arbkeep::engine::{IntentState, OpenIntentView};
    let dir = TempDir::new();
    let (server, fake) = start(ControlConfig::new(dir.path())).await;
    let intent = OpenIntentView {
        id: "h12".into(),
        strategy: "equity_hedge".into(),
        what: "SELL 2 AAPL at schwab".into(),
        state: IntentState::OutcomeUnknown,
        since: 1_000,
        doing: "looking for it at Schwab".into(),
        resolve: "arbkeep resolve h12 settle|drop|retry --reason …".into(),
        awaits_operator: false,
    };
    fake.publish.send_modify(|s| {
        let mut next = (**s).clone();
        next.seq += 1;
        next.intents = vec![intent.clone()];
        *s = Arc::new(next);
    });
    let mut ws = connect(&server).await;
    let answer = ask(&mut ws, json!({"type": "status", "id": 1})).await;
    let listed: Vec<OpenIntentView> =
        serde_json::from_value(answer["status"]["intents"].clone()).unwrap();
    assert_eq!(listed, vec![intent]);
    server.shutdown().await;
}

#[tokio::test]
async fn pause_with_the_token_reaches_the_engine_and_changes_the_status() {
    let dir = TempDir::new();
    let (server, mut fake) = start(ControlConfig::new(dir.path())).await;
    let mut ws = connect(&server).await;
    let answer = ask(
        &mut ws,
        json!({"type": "command", "id": "p", "token": token(dir.path()),
               "operator": "ops-1", "command": {"command": "pause"}}),
    )
    .await;
    assert_eq!(
        answer,
        json!({"type": "result", "id": "p", "ok": true, "message": "paused"})
    );
    assert_eq!(
        fake.received.try_recv().expect("the engine got it"),
        (Command::Pause, "ops-1@api".to_string())
    );
    let status = ask(&mut ws, json!({"type": "status"})).await;
    assert_eq!(status["status"]["paused"], true);
    assert_eq!(status["status"]["phase"], "PAUSED");

    // The engine's refusal comes back as ok:false with its reason.
    let answer = ask(
        &mut ws,
        json!({"type": "command", "token": token(dir.path()),
               "command": {"command": "reject", "opportunity": 7}}),
    )
    .await;
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["message"], "no opportunity #7");
    server.shutdown().await;
}

#[tokio::test]
async fn missing_and_wrong_tokens_are_refused_and_nothing_reaches_the_engine() {
    let dir = TempDir::new();
    let (server, mut fake) = start(ControlConfig::new(dir.path())).await;
    let mut ws = connect(&server).await;
    let right = token(dir.path());
    let mut wrong = right.clone();
    wrong.replace_range(..1, if right.starts_with('0') { "1" } else { "0" });
    for (i, token) in [Value::Null, json!(wrong), json!(42), json!("")]
        .into_iter()
        .enumerate()
    {
        let mut message = json!({"type": "command", "id": i, "command": {"command": "pause"}});
        if !token.is_null() {
            message["token"] = token;
        }
        let answer = ask(&mut ws, message).await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(answer["id"], i);
        let error = answer["error"].as_str().expect("error text");
        assert!(error.starts_with("unauthorized: "), "{error}");
        let text = answer.to_string();
        assert!(!text.contains(&wrong) && !text.contains(&right), "{text}");
    }
    // Messages are handled in order: had anything gone to the engine, it
    // would have been answered before this status.
    let status = ask(&mut ws, json!({"type": "status"})).await;
    assert_eq!(status["status"]["paused"], false);
    assert!(
        fake.received.try_recv().is_err(),
        "the engine got a command"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn subscribe_receives_successive_snapshots() {
    let dir = TempDir::new();
    let (server, fake) = start(ControlConfig::new(dir.path())).await;
    let mut ws = connect(&server).await;
    let first = ask(&mut ws, json!({"type": "subscribe", "id": "s"})).await;
    assert_eq!(first["type"], "snapshot");
    assert_eq!(first["id"], "s");
    assert_eq!(first["snapshot"]["seq"], 0);

    let mut last = 0;
    for seq in 1..=3u64 {
        fake.publish.send_modify(|s| {
            let mut next = (**s).clone();
            next.seq = seq;
            next.counts.open = seq;
            *s = Arc::new(next);
        });
        // Changes may coalesce, but each one we see is newer and the last
        // one arrives.
        while last < seq {
            let frame = recv(&mut ws).await;
            assert_eq!(frame["type"], "snapshot");
            let got = frame["snapshot"]["seq"].as_u64().expect("seq");
            assert!(got > last, "{got} after {last}");
            assert_eq!(frame["snapshot"]["counts"]["open"], got);
            last = got;
        }
    }
    let answer = ask(&mut ws, json!({"type": "unsubscribe", "id": 9})).await;
    assert_eq!(answer, json!({"type": "unsubscribed", "id": 9}));
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_and_unknown_messages_get_errors_and_the_connection_stays() {
    let dir = TempDir::new();
    let (server, _fake) = start(ControlConfig::new(dir.path())).await;
    let mut ws = connect(&server).await;
    ws.send(Message::text("{not json")).await.expect("send");
    let answer = recv(&mut ws).await;
    assert_eq!(answer["type"], "error");
    assert!(
        answer["error"]
            .as_str()
            .expect("text")
            .starts_with("malformed JSON")
    );

    let answer = ask(&mut ws, json!([1, 2])).await;
    assert_eq!(answer["type"], "error");

    let answer = ask(&mut ws, json!({"type": "launch", "id": 3})).await;
    assert_eq!(answer["id"], 3);
    assert!(
        answer["error"]
            .as_str()
            .expect("text")
            .starts_with("unknown message type \"launch\"")
    );
    let answer = ask(&mut ws, json!({"command": "get_supported_assets"})).await;
    assert!(
        answer["error"]
            .as_str()
            .expect("text")
            .starts_with("unknown message type")
    );

    let answer = ask(
        &mut ws,
        json!({"type": "command", "token": token(dir.path()), "command": {"command": "explode"}}),
    )
    .await;
    assert!(
        answer["error"]
            .as_str()
            .expect("text")
            .starts_with("invalid command")
    );

    let answer = ask(&mut ws, json!({"type": "snapshot", "id": 4})).await;
    assert_eq!(answer["type"], "snapshot");
    assert_eq!(answer["snapshot"]["mode"], "paper");
    server.shutdown().await;
}

#[tokio::test]
async fn token_file_is_private_reused_and_replaced_when_exposed() {
    let dir = TempDir::new();
    let (server, _fake) = start(ControlConfig::new(dir.path())).await;
    let path = dir.path().join("control.token");
    let mode = std::fs::metadata(&path)
        .expect("token")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = token(dir.path());
    assert_eq!(first.len(), 64);
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
    let addr_file = dir.path().join("control.addr");
    assert_eq!(
        std::fs::read_to_string(&addr_file).expect("addr").trim(),
        server.local_addr().to_string()
    );
    server.shutdown().await;
    assert!(!addr_file.exists(), "control.addr must go on shutdown");

    // A restart reuses it.
    let (server, _fake) = start(ControlConfig::new(dir.path())).await;
    assert_eq!(token(dir.path()), first);
    server.shutdown().await;

    // One that others could read is replaced, privately.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (server, _fake) = start(ControlConfig::new(dir.path())).await;
    assert_ne!(token(dir.path()), first);
    let mode = std::fs::metadata(&path)
        .expect("token")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    server.shutdown().await;
}

#[tokio::test]
async fn client_and_attach_mirror_round_trip() {
    let dir = TempDir::new();
    let (server, mut fake) = start(ControlConfig::new(dir.path())).await;

    let mut client = ControlClient::connect(dir.path()).await.expect("client");
    assert!(client.has_token());
    let status = client.status().await.expect("status");
    assert_eq!(status["phase"], "RUNNING");
    assert_eq!(
        client.snapshot().await.expect("snapshot").counts.completed,
        2
    );
    assert_eq!(
        client.command(Command::Pause).await.expect("pause"),
        "paused"
    );
    assert_eq!(fake.received.try_recv().expect("sent").1, "cli@api");
    match client.command(Command::Reject { opportunity: 3 }).await {
        Err(ControlError::Refused(reason)) => assert_eq!(reason, "no opportunity #3"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let _ = fake.received.try_recv();

    // The mirror: a local EngineHandle for a remote engine.
    let (handle, task) = control::attach(dir.path()).await.expect("attach");
    assert!(
        handle.latest().paused,
        "the mirror starts from the engine's snapshot"
    );
    let mut snapshots = handle.snapshots.clone();
    let answer = handle.send(Command::Resume, "tui").await;
    assert_eq!(answer, Ok("resumed".to_string()));
    assert_eq!(
        fake.received.try_recv().expect("forwarded"),
        (Command::Resume, "tui@api".to_string())
    );
    timeout(WAIT, snapshots.wait_for(|s| !s.paused))
        .await
        .expect("the resume shows up in time")
        .expect("mirror alive");
    assert_eq!(
        handle.send(Command::Reject { opportunity: 9 }, "tui").await,
        Err("no opportunity #9".to_string())
    );

    // Dropping every copy of the handle ends the mirror cleanly.
    drop(snapshots);
    drop(handle);
    let ended = timeout(WAIT, task)
        .await
        .expect("mirror ends")
        .expect("join");
    assert!(ended.is_ok(), "{ended:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn client_errors_say_what_went_wrong() {
    let dir = TempDir::new();
    let err = ControlClient::connect(dir.path())
        .await
        .expect_err("no engine");
    assert!(matches!(err, ControlError::NoEngine { .. }));
    assert!(err.to_string().contains("no control.addr"), "{err}");

    // A stale control.addr from an engine that died.
    let (server, _fake) = start(ControlConfig::new(dir.path())).await;
    let addr = server.local_addr();
    server.shutdown().await;
    std::fs::write(dir.path().join("control.addr"), addr.to_string()).expect("write");
    let err = ControlClient::connect(dir.path())
        .await
        .expect_err("refused");
    assert!(
        matches!(err, ControlError::ConnectionRefused { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("connection refused at"), "{err}");

    // A control.addr pointing off the machine is not followed.
    std::fs::write(dir.path().join("control.addr"), "192.0.2.1:8768").expect("write");
    let err = ControlClient::connect(dir.path())
        .await
        .expect_err("remote");
    assert!(matches!(err, ControlError::NotLoopback { .. }), "{err}");

    // Without the token file: reads work, commands are refused locally.
    let (server, mut fake) = start(ControlConfig::new(dir.path())).await;
    let secret = token(dir.path());
    std::fs::remove_file(dir.path().join("control.token")).expect("rm");
    let mut client = ControlClient::connect(dir.path()).await.expect("client");
    assert!(client.status().await.is_ok());
    let err = client.command(Command::Pause).await.expect_err("no token");
    assert!(matches!(err, ControlError::Unauthorized(_)), "{err}");
    assert!(err.to_string().starts_with("unauthorized"), "{err}");

    assert!(!format!("{client:?}").contains(&secret));

    // With a wrong token the server cannot prove it holds ours: the client
    // stops at the handshake (the server and the client cannot tell a stale
    // token from an impostor), and the message is clean.
    std::fs::write(dir.path().join("control.token"), "ab".repeat(32)).expect("write");
    let err = ControlClient::connect(dir.path())
        .await
        .expect_err("wrong token");
    assert!(matches!(err, ControlError::UnprovenServer { .. }), "{err}");
    assert!(!err.to_string().contains(&"ab".repeat(32)));
    assert!(!err.to_string().contains(&secret));
    assert!(fake.received.try_recv().is_err());
    server.shutdown().await;
}

/// The Stellar seed's commands, as a strategy would register them.
struct Stellar;

impl ControlExtension for Stellar {
    fn name(&self) -> &str {
        "stellar"
    }

    fn claim(&self, message: &Value) -> Option<Access> {
        match message.get("command")?.as_str()? {
            "get_supported_assets" => Some(Access::Open),
            "start_engine" => Some(Access::Token),
            _ => None,
        }
    }

    fn handle(
        &self,
        message: Value,
        outbox: Outbox,
        _engine: arbkeep::engine::EngineHandle,
    ) -> ExtensionReply {
        Box::pin(async move {
            assert!(message.get("token").is_none(), "the token must be stripped");
            match message["command"].as_str() {
                Some("get_supported_assets") => {
                    json!({"type": "supported_assets", "assets": ["XLM", "USDC"]})
                }
                _ => {
                    // Stream one result after the answer.
                    tokio::spawn(async move {
                        let _ = outbox.send(json!({"type": "scan", "found": 0})).await;
                    });
                    json!({"type": "engine", "started": true})
                }
            }
        })
    }
}

#[tokio::test]
async fn the_extension_hook_answers_the_stellar_seed_commands() {
    let dir = TempDir::new();
    let config = ControlConfig::new(dir.path()).with_extension(Arc::new(Stellar));
    let (server, _fake) = start(config).await;
    let mut ws = connect(&server).await;

    let answer = ask(&mut ws, json!({"command": "get_supported_assets", "id": 5})).await;
    assert_eq!(
        answer,
        json!({"type": "supported_assets", "assets": ["XLM", "USDC"], "id": 5})
    );

    let answer = ask(&mut ws, json!({"command": "start_engine", "id": 6})).await;
    assert_eq!(answer["type"], "error");
    assert!(
        answer["error"]
            .as_str()
            .expect("text")
            .starts_with("unauthorized")
    );

    let answer = ask(
        &mut ws,
        json!({"command": "start_engine", "id": 7, "token": token(dir.path())}),
    )
    .await;
    assert_eq!(answer, json!({"type": "engine", "started": true, "id": 7}));
    assert_eq!(recv(&mut ws).await, json!({"type": "scan", "found": 0}));

    let answer = ask(&mut ws, json!({"command": "stop_everything"})).await;
    assert!(
        answer["error"]
            .as_str()
            .expect("text")
            .starts_with("unknown message type")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn browser_origins_are_refused() {
    let dir = TempDir::new();
    let (server, _fake) = start(ControlConfig::new(dir.path())).await;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/", server.local_addr())
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("Origin", "https://evil.example".parse().expect("header"));
    let err = tokio_tungstenite::connect_async(request)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("403"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_subscribers() {
    let dir = TempDir::new();
    let (server, _fake) = start(ControlConfig::new(dir.path())).await;
    let mut ws = connect(&server).await;
    let _ = ask(&mut ws, json!({"type": "subscribe"})).await;
    timeout(WAIT, server.shutdown())
        .await
        .expect("prompt shutdown");
    let closed = timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.reason.to_string()),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(closed.as_deref(), Some("the engine is shutting down"));
}
