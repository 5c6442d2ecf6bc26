//! At `log_level = "trace"` the control token must still not reach
//! `diag.jsonl`: tungstenite logs every frame it reads and writes at TRACE,
//! and a client that puts the token in a message (the Stellar seed's
//! frontend does) would otherwise have it written to disk. One test in its
//! own binary: it installs the process-wide subscriber.

use arbkeep::control::{self, ControlClient, ControlConfig};
use arbkeep::engine::{Command, CommandEnvelope, EngineHandle, Mode, Snapshot};
use arbkeep::logging::{self, Screen};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

fn fake_engine() -> EngineHandle {
    let (publish, snapshots) = watch::channel(Arc::new(Snapshot::empty(Mode::Paper, 0)));
    let (commands, mut inbox) = mpsc::channel::<CommandEnvelope>(8);
    let (notices, _) = broadcast::channel(8);
    tokio::spawn(async move {
        let _publish = publish;
        while let Some(envelope) = inbox.recv().await {
            let _ = envelope.reply.send(Ok("done".into()));
        }
    });
    EngineHandle {
        commands,
        snapshots,
        notices,
    }
}

#[tokio::test]
async fn the_token_never_reaches_diag_jsonl_at_trace_level() {
    let dir = tempfile::tempdir().expect("dir");
    let logs = dir.path().join("logs");
    logging::init(Some(&logs), "trace", Screen::Quiet, &Default::default()).expect("logging");
    let data = dir.path().join("data");
    let server = control::serve(fake_engine(), ControlConfig::new(&data).with_port(0))
        .await
        .expect("serve");
    let token = std::fs::read_to_string(data.join("control.token"))
        .expect("token")
        .trim()
        .to_string();

    // The token inside a message, as the seed's frontend sends it.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/", server.local_addr()))
        .await
        .expect("connect");
    let message =
        json!({"type": "command", "id": 1, "token": token, "command": {"command": "pause"}});
    ws.send(Message::text(message.to_string()))
        .await
        .expect("send");
    let answer = loop {
        match timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Text(t))) => {
                break serde_json::from_str::<Value>(t.as_str()).expect("json");
            }
            Some(Ok(_)) => continue,
            other => panic!("lost: {other:?}"),
        }
    };
    assert_eq!(answer["ok"], true, "{answer}");
    ws.close(None).await.expect("close");

    // And the handshake's client.
    let mut client = ControlClient::connect(&data).await.expect("client");
    client.command(Command::Resume).await.expect("resume");
    drop(client);
    server.shutdown().await;

    let diag = std::fs::read_to_string(logs.join("diag.jsonl")).expect("diag.jsonl");
    assert!(
        diag.contains("control API: command"),
        "trace logging works at all: {diag}"
    );
    assert!(
        diag.contains(r#""level":"TRACE""#) || diag.contains(r#""level":"DEBUG""#),
        "the level really is verbose"
    );
    assert!(!diag.contains(&token), "the token reached diag.jsonl");
}
