//! The control API against hostile local peers: idle sockets that try to
//! take every slot, oversized frames, unbounded ledger pages, and a program
//! listening on a stale `control.addr` port that does not hold the token.
//! Every server binds 127.0.0.1:0 in its own temporary directory.

use arbkeep::control::{
    self, ControlClient, ControlConfig, ControlError, ControlLimits, LedgerQueries,
};
use arbkeep::engine::{Command, CommandEnvelope, EngineHandle, Mode, Phase, Snapshot};
use arbkeep::model::{LedgerEntry, LedgerKind};
use arbkeep::store::{Store, StoreReader};
use futures_util::{SinkExt, StreamExt};
use ring::hmac;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(5);

/// An engine that answers every command with "done" and counts them.
fn fake_engine() -> (EngineHandle, mpsc::UnboundedReceiver<Command>) {
    let mut first = Snapshot::empty(Mode::Paper, 0);
    first.phase = Phase::Running;
    let (publish, snapshots) = watch::channel(Arc::new(first));
    let (commands, mut inbox) = mpsc::channel::<CommandEnvelope>(8);
    let (notices, _) = broadcast::channel(8);
    let (record, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _publish = publish;
        while let Some(envelope) = inbox.recv().await {
            let _ = record.send(envelope.command.clone());
            let _ = envelope
                .reply
                .send(Ok(format!("done: {}", envelope.command)));
        }
    });
    (
        EngineHandle {
            commands,
            snapshots,
            notices,
        },
        received,
    )
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn ws(addr: std::net::SocketAddr) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect("connect");
    ws
}

async fn ask(ws: &mut Ws, message: Value) -> Value {
    ws.send(Message::text(message.to_string()))
        .await
        .expect("send");
    loop {
        let frame = timeout(WAIT, ws.next())
            .await
            .expect("an answer in time")
            .expect("open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).expect("JSON");
        }
    }
}

/// Read until the server closes; the close frame's code and reason, if any.
async fn closed(ws: &mut Ws) -> Option<(CloseCode, String)> {
    timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| (f.code, f.reason.to_string()));
                }
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("the server closes it in time")
}

/// A socket that does the WebSocket upgrade by hand and then says nothing,
/// not even a pong.
async fn upgraded(addr: std::net::SocketAddr) -> TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.expect("upgrade");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = timeout(WAIT, socket.read(&mut byte))
            .await
            .expect("upgrade answered")
            .expect("read");
        assert_eq!(n, 1, "the server hung up during the upgrade");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    socket
}

/// Read a hand-upgraded socket to its end; the close frame's code and
/// reason if the server sent one (server frames are unmasked).
async fn raw_close(socket: &mut TcpStream) -> Option<(u16, String)> {
    let mut bytes = Vec::new();
    timeout(WAIT, socket.read_to_end(&mut bytes))
        .await
        .expect("the server closes it in time")
        .ok();
    let mut rest = bytes.as_slice();
    while rest.len() >= 2 {
        let (opcode, len) = (rest[0] & 0x0f, usize::from(rest[1] & 0x7f));
        let payload = rest.get(2..2 + len)?;
        if opcode == 0x8 && len >= 2 {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            return Some((code, String::from_utf8_lossy(&payload[2..]).into_owned()));
        }
        rest = &rest[2 + len..];
    }
    None
}

fn token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("control.token"))
        .expect("token file")
        .trim()
        .to_string()
}

fn short_limits() -> ControlLimits {
    ControlLimits {
        max_connections: 6,
        max_unauthenticated: 3,
        handshake_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        ..ControlLimits::default()
    }
}

#[tokio::test]
async fn idle_sockets_cannot_lock_the_operator_out_and_are_closed_when_idle() {
    let dir = tempfile::tempdir().expect("dir");
    let (handle, mut received) = fake_engine();
    let limits = short_limits();
    let config = ControlConfig::new(dir.path())
        .with_port(0)
        .with_limits(limits.clone());
    let server = control::serve(handle, config).await.expect("serve");
    let addr = server.local_addr();

    // As many idle WebSocket clients as the server has slots of any kind,
    // then a raw socket that never even upgrades.
    let mut idle = Vec::new();
    for _ in 0..limits.max_connections {
        idle.push(upgraded(addr).await);
    }
    let mut raw = TcpStream::connect(addr).await.expect("raw");

    // The operator still gets in, authenticates and is obeyed.
    let mut operator = ControlClient::connect(dir.path())
        .await
        .expect("the operator connects through the crowd");
    assert!(operator.has_token());
    let answer = operator.command(Command::Pause).await.expect("pause");
    assert_eq!(answer, format!("done: {}", Command::Pause));
    assert_eq!(
        received.try_recv().expect("the engine got it"),
        Command::Pause
    );

    // Every idle socket is closed: the oldest to make room, the rest when
    // their idle time runs out (they never answer the server's ping).
    let mut idle_closes = 0;
    for socket in &mut idle {
        match raw_close(socket).await {
            Some((1013, reason)) => {
                assert!(reason.contains("too many unauthenticated"), "{reason}")
            }
            Some((1008, reason)) => {
                assert!(reason.contains("idle"), "{reason}");
                idle_closes += 1;
            }
            other => panic!("unexpected close {other:?}"),
        }
    }
    assert!(idle_closes >= 1, "the survivors time out when idle");
    let mut byte = [0u8; 1];
    let n = timeout(WAIT, raw.read(&mut byte))
        .await
        .expect("the raw socket is dropped in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "a socket that never upgrades is dropped");

    // The authenticated connection outlived the idle timeout.
    let answer = operator.command(Command::Resume).await.expect("resume");
    assert_eq!(answer, format!("done: {}", Command::Resume));
    server.shutdown().await;
}

#[tokio::test]
async fn a_huge_frame_closes_only_its_own_connection() {
    let dir = tempfile::tempdir().expect("dir");
    let (handle, _received) = fake_engine();
    let limits = ControlLimits {
        max_client_message: 16 << 10,
        ..ControlLimits::default()
    };
    let config = ControlConfig::new(dir.path())
        .with_port(0)
        .with_limits(limits);
    let server = control::serve(handle, config).await.expect("serve");
    let mut bystander = ws(server.local_addr()).await;
    let mut hostile = ws(server.local_addr()).await;

    let huge = format!(r#"{{"type":"status","pad":"{}"}}"#, "x".repeat(20 << 10));
    hostile.send(Message::text(huge)).await.expect("send");
    let (code, reason) = closed(&mut hostile).await.expect("a close frame");
    assert_eq!(code, CloseCode::Size);
    assert!(reason.contains("at most 16384 bytes"), "{reason}");

    let status = ask(&mut bystander, json!({"type": "status"})).await;
    assert_eq!(status["status"]["phase"], "RUNNING");
    server.shutdown().await;
}

fn entry(note: &str) -> LedgerEntry {
    LedgerEntry {
        seq: 0,
        at: 1,
        kind: LedgerKind::Operator,
        cycle: None,
        chain: None,
        token: None,
        delta: 0,
        value_vcred: Default::default(),
        tx_hash: None,
        note: note.into(),
        operator: true,
    }
}

#[tokio::test]
async fn ledger_pages_are_capped_and_continue_from_next() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("store"), Mode::Paper).expect("store");
    store
        .write(|w| w.append_all((1..=5).map(|i| entry(&format!("line {i}"))).collect()))
        .expect("append");
    let ledger = LedgerQueries::new(StoreReader::new(Arc::new(store))).with_page_cap(2);
    let (handle, _received) = fake_engine();
    let config = ControlConfig::new(dir.path())
        .with_port(0)
        .with_extension(Arc::new(ledger));
    let server = control::serve(handle, config).await.expect("serve");
    let mut ws = ws(server.local_addr()).await;

    // No limit: one page of the cap, and where to continue.
    let page = ask(&mut ws, json!({"type": "ledger", "id": 1})).await;
    assert_eq!(
        page["entries"].as_array().expect("entries").len(),
        2,
        "{page}"
    );
    assert_eq!(page["next"], 3);

    // Over the cap: refused, saying what the cap is.
    let refused = ask(
        &mut ws,
        json!({"type": "ledger", "id": 2, "limit": 1_000_000}),
    )
    .await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], 2);
    assert!(
        refused["error"]
            .as_str()
            .expect("text")
            .contains("at most 2 entries"),
        "{refused}"
    );

    // Following "next" reads everything, in order.
    let mut notes = Vec::new();
    let mut from = json!(0);
    while !from.is_null() {
        let page = ask(&mut ws, json!({"type": "ledger", "from": from})).await;
        for e in page["entries"].as_array().expect("entries") {
            notes.push(e["note"].as_str().expect("note").to_string());
        }
        from = page["next"].clone();
    }
    assert_eq!(notes, ["line 1", "line 2", "line 3", "line 4", "line 5"]);
    server.shutdown().await;
}

/// What a program on a stale `control.addr` port sees, and how it answers
/// a hello when it does not hold the token.
#[derive(Clone, Copy)]
enum Impostor {
    /// Answers with a well-formed challenge and a made-up proof.
    Bluffs,
    /// Proves with a token of its own (another engine's, say).
    OtherToken,
    /// Does not speak the handshake (an older engine, any other program).
    Refuses,
}

async fn impostor(kind: Impostor) -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(frame)) = ws.next().await {
                    let Message::Text(text) = frame else { continue };
                    log.lock().expect("log").push(text.to_string());
                    let message: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                    let id = message["id"].clone();
                    let nonce = "11".repeat(32);
                    let answer = match (kind, message["type"].as_str()) {
                        (Impostor::Bluffs, Some("hello")) => json!({
                            "type": "challenge", "id": id, "nonce": nonce, "proof": "22".repeat(32)
                        }),
                        (Impostor::OtherToken, Some("hello")) => {
                            let key = hmac::Key::new(hmac::HMAC_SHA256, "cd".repeat(32).as_bytes());
                            let client = hex_decode(message["nonce"].as_str().unwrap_or_default());
                            let signed =
                                [b"arbkeep-server".as_slice(), &client, &[0x11; 32]].concat();
                            let tag = hmac::sign(&key, &signed);
                            json!({"type": "challenge", "id": id, "nonce": nonce, "proof": hex(tag.as_ref())})
                        }
                        _ => json!({"type": "error", "id": id, "error": "unknown message type"}),
                    };
                    if ws.send(Message::text(answer.to_string())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[tokio::test]
async fn a_program_on_a_stale_control_addr_never_sees_the_token_or_a_proof() {
    for kind in [Impostor::Bluffs, Impostor::OtherToken, Impostor::Refuses] {
        let dir = tempfile::tempdir().expect("dir");
        let secret = "ab".repeat(32);
        std::fs::write(dir.path().join("control.token"), &secret).expect("token");
        let (addr, seen) = impostor(kind).await;
        std::fs::write(dir.path().join("control.addr"), addr.to_string()).expect("addr");

        let err = ControlClient::connect(dir.path())
            .await
            .expect_err("the impostor cannot prove the token");
        assert!(matches!(err, ControlError::UnprovenServer { .. }), "{err}");
        assert!(!err.to_string().contains(&secret), "{err}");
        // attach goes the same way.
        let err = control::attach(dir.path()).await.expect_err("attach too");
        assert!(matches!(err, ControlError::UnprovenServer { .. }), "{err}");

        // All it ever got: hellos carrying a random nonce. No token, no
        // proof, no command.
        let seen = seen.lock().expect("log").clone();
        assert!(!seen.is_empty());
        for text in &seen {
            let message: Value = serde_json::from_str(text).expect("JSON");
            assert_eq!(message["type"], "hello", "{text}");
            let keys: Vec<_> = message.as_object().expect("object").keys().collect();
            assert_eq!(keys.len(), 3, "only type, id and nonce: {text}");
            assert!(!text.contains(&secret), "{text}");
        }
    }
}

#[tokio::test]
async fn the_handshake_authenticates_a_connection_without_the_token_on_the_wire() {
    let dir = tempfile::tempdir().expect("dir");
    let (handle, mut received) = fake_engine();
    let config = ControlConfig::new(dir.path()).with_port(0);
    let server = control::serve(handle, config).await.expect("serve");
    let secret = token(dir.path());
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ws = ws(server.local_addr()).await;

    // A wrong proof is refused and leaves the connection unauthenticated.
    let client_nonce = [7u8; 32];
    let challenge = ask(
        &mut ws,
        json!({"type": "hello", "id": 1, "nonce": hex(&client_nonce)}),
    )
    .await;
    assert_eq!(challenge["type"], "challenge", "{challenge}");
    let refused = ask(
        &mut ws,
        json!({"type": "auth", "id": 2, "proof": "00".repeat(32)}),
    )
    .await;
    assert_eq!(refused["error"], "unauthorized: wrong proof");
    let refused = ask(
        &mut ws,
        json!({"type": "command", "command": {"command": "pause"}}),
    )
    .await;
    assert!(
        refused["error"]
            .as_str()
            .expect("text")
            .starts_with("unauthorized")
    );

    // The real thing: check the server's proof, then prove ours.
    let challenge = ask(
        &mut ws,
        json!({"type": "hello", "id": 3, "nonce": hex(&client_nonce)}),
    )
    .await;
    assert_eq!(challenge["id"], 3);
    let server_nonce = hex_decode(challenge["nonce"].as_str().expect("nonce"));
    assert_eq!(server_nonce.len(), 32);
    let expected = [b"arbkeep-server".as_slice(), &client_nonce, &server_nonce].concat();
    let proof = hex_decode(challenge["proof"].as_str().expect("proof"));
    hmac::verify(&key, &expected, &proof).expect("the server holds the token");
    let ours = hmac::sign(
        &key,
        &[b"arbkeep-client".as_slice(), &server_nonce, &client_nonce].concat(),
    );
    let answer = ask(
        &mut ws,
        json!({"type": "auth", "id": 4, "proof": hex(ours.as_ref())}),
    )
    .await;
    assert_eq!(answer, json!({"type": "authenticated", "id": 4}));

    // Commands need no token on this connection any more.
    let answer = ask(
        &mut ws,
        json!({"type": "command", "id": 5, "command": {"command": "pause"}}),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(received.try_recv().expect("engine"), Command::Pause);

    // A proof is good for one challenge only.
    let mut replay = self::ws(server.local_addr()).await;
    let _ = ask(
        &mut replay,
        json!({"type": "hello", "nonce": hex(&client_nonce)}),
    )
    .await;
    let refused = ask(
        &mut replay,
        json!({"type": "auth", "proof": hex(ours.as_ref())}),
    )
    .await;
    assert_eq!(refused["error"], "unauthorized: wrong proof");
    server.shutdown().await;
}

#[tokio::test]
async fn an_unauthenticated_reader_that_answers_pings_is_not_idle() {
    let dir = tempfile::tempdir().expect("dir");
    let (handle, _received) = fake_engine();
    let config = ControlConfig::new(dir.path())
        .with_port(0)
        .with_limits(short_limits());
    let server = control::serve(handle, config).await.expect("serve");
    let mut dashboard = ws(server.local_addr()).await;
    let _ = ask(&mut dashboard, json!({"type": "subscribe"})).await;
    // Three pings span more than the idle timeout; tungstenite answers each.
    let mut pings = 0;
    while pings < 3 {
        match timeout(WAIT, dashboard.next()).await.expect("in time") {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Close(frame))) => panic!("closed: {frame:?}"),
            Some(Ok(_)) => {}
            other => panic!("lost: {other:?}"),
        }
    }
    let status = ask(&mut dashboard, json!({"type": "status"})).await;
    assert_eq!(status["type"], "status");
    server.shutdown().await;
}
