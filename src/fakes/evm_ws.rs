//! A WebSocket JSON-RPC provider that can fall silent, for tests: a relay on
//! 127.0.0.1:0 in front of an anvil node's WebSocket. While it speaks, every
//! frame is relayed both ways. Once [`FakeWs::silence`] is called the
//! connection stays open and nothing comes back: the client's requests are
//! swallowed (counted, never forwarded), as a provider's stream does when
//! its backend hangs behind a load balancer that still holds the socket.
//!
//! It owns the count of what the client asked while silent
//! ([`FakeWs::swallowed`]), so a test can tell whether the client kept
//! waiting on a dead stream.

use crate::fakes::http::Server;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Why the relay cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FakeWsError {
    #[error("cannot bind the fake WebSocket on 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
}

#[derive(Default)]
struct Shared {
    silent: AtomicBool,
    swallowed: AtomicU64,
    relayed: AtomicU64,
}

/// The relay. Dropping it stops serving (open connections end with it).
pub struct FakeWs {
    server: Server,
    shared: Arc<Shared>,
}

impl FakeWs {
    /// Relay on 127.0.0.1:0 to `upstream` (a `ws://` URL of the node).
    pub async fn start(upstream: &str) -> Result<FakeWs, FakeWsError> {
        let shared: Arc<Shared> = Arc::default();
        let state = shared.clone();
        let upstream = upstream.to_string();
        let server = Server::start(move |sock| {
            let state = state.clone();
            let upstream = upstream.clone();
            async move { relay(sock, &upstream, &state).await }
        })
        .await?;
        Ok(FakeWs { server, shared })
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.server.addr())
    }

    /// From now on nothing comes back; the socket stays open.
    pub fn silence(&self) {
        self.shared.silent.store(true, Ordering::SeqCst);
    }

    /// Relay again (what was swallowed stays unanswered).
    pub fn speak(&self) {
        self.shared.silent.store(false, Ordering::SeqCst);
    }

    /// Client frames swallowed while silent.
    pub fn swallowed(&self) -> u64 {
        self.shared.swallowed.load(Ordering::SeqCst)
    }

    /// Client frames relayed to the node.
    pub fn relayed(&self) -> u64 {
        self.shared.relayed.load(Ordering::SeqCst)
    }
}

/// One client connection, relayed to its own upstream connection.
async fn relay(sock: TcpStream, upstream: &str, state: &Shared) {
    let Ok(client) = tokio_tungstenite::accept_async(sock).await else {
        return;
    };
    let Ok((node, _)) = tokio_tungstenite::connect_async(upstream).await else {
        return;
    };
    let (mut to_client, mut from_client) = client.split();
    let (mut to_node, mut from_node) = node.split();
    loop {
        tokio::select! {
            frame = from_client.next() => {
                let Some(Ok(frame)) = frame else { return };
                if !matches!(frame, Message::Text(_) | Message::Binary(_)) {
                    continue;
                }
                if state.silent.load(Ordering::SeqCst) {
                    state.swallowed.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                state.relayed.fetch_add(1, Ordering::SeqCst);
                if to_node.send(frame).await.is_err() {
                    return;
                }
            }
            frame = from_node.next() => {
                let Some(Ok(frame)) = frame else { return };
                if !matches!(frame, Message::Text(_) | Message::Binary(_)) {
                    continue;
                }
                if state.silent.load(Ordering::SeqCst) {
                    continue;
                }
                if to_client.send(frame).await.is_err() {
                    return;
                }
            }
        }
    }
}
