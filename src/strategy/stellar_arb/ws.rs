//! The seed's WebSocket API on the control socket (127.0.0.1:8768):
//! `{"command":"get_supported_assets"}` → `{"supported_assets":[{code,issuer}…]}`
//! (open; read from the detector contract by simulation) and
//! `{"command":"start_engine"}` (changes state: needs the control token) →
//! `{"log":"…"}`, then a stream of `{"opportunity":{…}}`, `{"result":{…}}`
//! and `{"log":"…"}` messages until the client leaves. Errors are
//! `{"error":"…"}`, as the seed's frontend expects.

use crate::engine::extension::{Access, ControlExtension, ExtensionReply, Outbox};
use crate::engine::{Command, EngineHandle};
use crate::venue::stellar::StellarVenue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::broadcast;

/// What the keeper and the WebSocket share.
pub struct StellarShared {
    pub venue: Arc<dyn StellarVenue>,
    started: AtomicBool,
    events: broadcast::Sender<Value>,
}

impl StellarShared {
    pub fn new(venue: Arc<dyn StellarVenue>, autostart: bool) -> Arc<Self> {
        let (events, _) = broadcast::channel(256);
        Arc::new(Self {
            venue,
            started: AtomicBool::new(autostart),
            events,
        })
    }

    pub fn started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    pub fn start(&self) -> bool {
        !self.started.swap(true, Ordering::SeqCst)
    }

    /// Best effort: nobody listening is fine.
    pub fn publish(&self, event: Value) {
        let _ = self.events.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
    }
}

pub struct StellarWs {
    shared: Arc<StellarShared>,
}

impl StellarWs {
    pub fn new(shared: Arc<StellarShared>) -> Self {
        Self { shared }
    }
}

fn command(message: &Value) -> Option<&str> {
    message.get("command").and_then(Value::as_str)
}

impl ControlExtension for StellarWs {
    fn name(&self) -> &str {
        "stellar"
    }

    fn claim(&self, message: &Value) -> Option<Access> {
        match command(message)? {
            "get_supported_assets" => Some(Access::Open),
            "start_engine" => Some(Access::Token),
            _ => None,
        }
    }

    fn handle(&self, message: Value, outbox: Outbox, engine: EngineHandle) -> ExtensionReply {
        let shared = self.shared.clone();
        Box::pin(async move {
            match command(&message) {
                Some("get_supported_assets") => match shared.venue.supported_assets().await {
                    Ok(list) => json!({"supported_assets": list}),
                    Err(e) => json!({"error": format!("get_supported_assets: {e}")}),
                },
                Some("start_engine") => {
                    // Started by the engine (an audited `start` command), so
                    // the stream follows only once the engine has said so.
                    let started = engine
                        .send(
                            Command::Start {
                                strategy: "stellar_arb".into(),
                            },
                            "api",
                        )
                        .await;
                    let text = match started {
                        Ok(text) => text,
                        Err(e) => return json!({"error": format!("start_engine: {e}")}),
                    };
                    let mut rx = shared.subscribe();
                    tokio::spawn(async move {
                        loop {
                            let event = match rx.recv().await {
                                Ok(e) => e,
                                Err(broadcast::error::RecvError::Lagged(n)) => {
                                    json!({"log": format!("{n} events skipped (slow client)")})
                                }
                                Err(broadcast::error::RecvError::Closed) => break,
                            };
                            if outbox.send(event).await.is_err() {
                                break;
                            }
                        }
                    });
                    json!({"log": text})
                }
                _ => json!({"error": "unknown command"}),
            }
        })
    }
}
