//! The Stellar seed's WebSocket API on the control socket: what a frontend
//! written for the Python backend sends and expects — `get_supported_assets`
//! (open) and `start_engine` (token), then a stream of opportunities and
//! results.

use arbkeep::control::{self, ControlConfig};
use arbkeep::engine::{CommandEnvelope, EngineHandle, Mode, Snapshot};
use arbkeep::strategy::stellar_arb::{StellarShared, StellarWs};
use arbkeep::venue::stellar::StellarVenue;
use arbkeep::venue::stellar::paper::PaperStellar;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// A handle with no engine behind it (these commands never reach one); the
/// other ends are returned so the channels stay open.
type Ends = (
    watch::Sender<Arc<Snapshot>>,
    mpsc::Receiver<CommandEnvelope>,
);

fn engine() -> (EngineHandle, Ends) {
    let (publish, snapshots) = watch::channel(Arc::new(Snapshot::empty(Mode::Paper, 0)));
    let (commands, inbox) = mpsc::channel::<CommandEnvelope>(8);
    let (notices, _) = broadcast::channel(8);
    (
        EngineHandle {
            commands,
            snapshots,
            notices,
        },
        (publish, inbox),
    )
}

async fn recv<S>(ws: &mut S) -> Value
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("frame");
        if let Message::Text(t) = frame {
            return serde_json::from_str(t.as_str()).expect("json");
        }
    }
}

#[tokio::test]
async fn the_seed_frontend_gets_assets_starts_the_engine_and_receives_the_stream() {
    let dir = tempfile::tempdir().expect("dir");
    let venue: Arc<dyn StellarVenue> = Arc::new(PaperStellar::open(None, 7).expect("paper"));
    let shared = StellarShared::new(venue, false);
    let config = ControlConfig::new(dir.path())
        .with_port(0)
        .with_extension(Arc::new(StellarWs::new(shared.clone())));
    let (handle, (_publish, mut inbox)) = engine();
    // The engine's part: `start_engine` arrives as an audited command, which
    // the Stellar keeper answers by starting (as `Keeper::command` does).
    let keeper_side = shared.clone();
    let engine_side = tokio::spawn(async move {
        let envelope = inbox.recv().await.expect("a command");
        let started = keeper_side.start();
        let _ = envelope.reply.send(Ok(if started {
            "Arbitrage engine started".into()
        } else {
            "Arbitrage engine already running".into()
        }));
        (envelope.command, envelope.operator)
    });
    let server = control::serve(handle, config).await.expect("serve");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/", server.local_addr()))
        .await
        .expect("connect");
    let send = |v: Value| Message::text(v.to_string());

    ws.send(send(json!({"command": "get_supported_assets"})))
        .await
        .expect("send");
    let answer = recv(&mut ws).await;
    let assets = answer["supported_assets"].as_array().expect("list");
    assert_eq!(assets.len(), 3);
    assert_eq!(assets[0]["code"], "AQUA");
    assert!(
        assets[0]["issuer"]
            .as_str()
            .expect("issuer")
            .starts_with('G')
    );
    assert_eq!(
        answer.as_object().expect("object").len(),
        1,
        "exactly the seed's shape"
    );

    // Changing state needs the console's token.
    ws.send(send(json!({"command": "start_engine"})))
        .await
        .expect("send");
    let refused = recv(&mut ws).await;
    assert!(
        refused["error"]
            .as_str()
            .expect("error")
            .starts_with("unauthorized")
    );
    assert!(!shared.started());

    let token = std::fs::read_to_string(dir.path().join("control.token")).expect("token");
    ws.send(send(
        json!({"command": "start_engine", "token": token.trim()}),
    ))
    .await
    .expect("send");
    assert_eq!(
        recv(&mut ws).await,
        json!({"log": "Arbitrage engine started"})
    );
    assert!(shared.started());
    let (command, operator) = engine_side.await.expect("engine side");
    assert_eq!(
        (command, operator.as_str()),
        (
            arbkeep::engine::Command::Start {
                strategy: "stellar_arb".into()
            },
            "api"
        ),
        "started through the engine's command path"
    );

    shared.publish(json!({"opportunity": {"path": "XLM → AQUA → XLM", "edge_bps": 42}}));
    shared.publish(json!({"result": {"hash": "ab", "result": "tx_success"}}));
    assert_eq!(recv(&mut ws).await["opportunity"]["edge_bps"], 42);
    assert_eq!(recv(&mut ws).await["result"]["result"], "tx_success");
    server.shutdown().await;
}

#[tokio::test]
async fn with_stellar_off_the_seed_commands_are_told_stellar_is_not_enabled() {
    let dir = tempfile::tempdir().expect("dir");
    // What the assembly registers when `[stellar_arb] enabled = false`.
    let config = ControlConfig::new(dir.path())
        .with_port(0)
        .with_extension(Arc::new(arbkeep::strategy::stellar_arb::StellarOff));
    let (handle, (_publish, mut inbox)) = engine();
    let server = control::serve(handle, config).await.expect("serve");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/", server.local_addr()))
        .await
        .expect("connect");
    for command in ["get_supported_assets", "start_engine"] {
        ws.send(Message::text(json!({"command": command}).to_string()))
            .await
            .expect("send");
        let answer = recv(&mut ws).await;
        let error = answer["error"].as_str().expect("the seed's error shape");
        assert!(
            error.contains("Stellar arbitrage is not enabled")
                && error.contains("[stellar_arb]")
                && error.starts_with(command),
            "{answer}"
        );
        assert!(!error.contains("unknown message type"), "{answer}");
    }
    // Nothing reached the engine: it is only an answer.
    assert!(inbox.try_recv().is_err());
    server.shutdown().await;
}
