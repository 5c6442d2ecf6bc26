//! RPC URLs carry API keys (`/v2/KEY`, `/v3/KEY`, `?apikey=KEY`,
//! `user:pass@`): the chain client's errors, and the venue error texts that
//! become health details, logs and the snapshot, must never show them.
//! A tiny JSON-RPC fake on 127.0.0.1:0 answers `eth_chainId`.

use arbkeep::venue::VenueError;
use arbkeep::venue::evm::chain::{ChainClient, Endpoint};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &str = "SECRETKEY0123";
const TIMEOUT: Duration = Duration::from_secs(5);

/// Answers every JSON-RPC request with `eth_chainId` = `chain_id`, one
/// request per connection.
async fn fake_node(chain_id: u64) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then the body by Content-Length.
                let body = loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break buf[end + 4..end + 4 + len].to_vec();
                        }
                    }
                };
                let request: Value = serde_json::from_slice(&body).unwrap_or_default();
                let answer =
                    json!({"jsonrpc": "2.0", "id": request["id"], "result": format!("{chain_id:#x}")})
                        .to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (addr, task)
}

fn endpoint(rpc_url: String, chain_id: u64) -> Endpoint {
    Endpoint {
        name: "Ethereum".into(),
        chain_id_key: "evm.ethereum.chain_id".into(),
        chain_id,
        rpc_url,
        ws_url: None,
    }
}

fn keyed_urls(addr: impl std::fmt::Display) -> Vec<String> {
    vec![
        format!("http://{addr}/v2/{KEY}"),
        format!("http://{addr}/v3/{KEY}"),
        format!("http://{addr}/?apikey={KEY}"),
        format!("http://user:{KEY}@{addr}/"),
    ]
}

#[tokio::test]
async fn an_unreachable_rpc_error_does_not_show_the_key() {
    // A port nobody listens on.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    for url in keyed_urls(addr) {
        let err = ChainClient::connect_to(&endpoint(url.clone(), 1), TIMEOUT)
            .await
            .err()
            .expect("nobody answers");
        let text = err.to_string();
        assert!(text.contains("does not answer"), "{text}");
        assert!(!text.contains(KEY), "{url} → {text}");
        assert!(!format!("{err:?}").contains(KEY), "{url} → {err:?}");
    }
}

#[tokio::test]
async fn a_wrong_chain_error_and_later_rpc_errors_do_not_show_the_key() {
    let (addr, node) = fake_node(1).await;
    for url in keyed_urls(addr) {
        // The node is chain 1; the config says 5.
        let err = ChainClient::connect_to(&endpoint(url.clone(), 5), TIMEOUT)
            .await
            .err()
            .expect("wrong chain");
        let text = err.to_string();
        assert!(text.contains("is chain id 1"), "{text}");
        assert!(!text.contains(KEY), "{url} → {text}");
    }

    // Connected, then the node goes away: the venue error (which becomes a
    // health detail, a log line and a step's error) stays clean.
    let url = format!("http://{addr}/v2/{KEY}");
    let client = ChainClient::connect_to(&endpoint(url, 1), TIMEOUT)
        .await
        .expect("connects");
    assert!(!client.url.contains(KEY), "{}", client.url);
    node.abort();
    let _ = node.await;
    let err = client.gas_price().await.expect_err("the node is gone");
    let text = match &err {
        VenueError::Transient(t) => t.clone(),
        other => other.to_string(),
    };
    assert!(!text.contains(KEY), "{text}");
    assert!(!err.to_string().contains(KEY), "{err}");
}

#[test]
fn config_errors_about_rpc_urls_do_not_show_them() {
    let bad = [
        format!("[evm.hemi]\nchain_id = 43111\nrpc = \"ftp://user:{KEY}@node.example/v2/{KEY}\"\n"),
        format!(
            "[evm.hemi]\nchain_id = 43111\nrpc = \"https://node.example/v2/{KEY}\"\nws = \"http://node.example/v2/{KEY}\"\n"
        ),
        // A syntax error on the line that holds the URL.
        format!("[evm.hemi]\nrpc = \"https://node.example/v2/{KEY}\" trailing\n"),
        format!("[evm.hemi]\nrpc = \"https://node.example/v2/{KEY}\n"),
    ];
    for text in bad {
        let err = arbkeep::config::Config::from_toml(&text, "test.toml")
            .err()
            .unwrap_or_else(|| panic!("accepted: {text}"));
        assert!(!err.to_string().contains(KEY), "{err}");
        assert!(!format!("{err:?}").contains(KEY), "{err:?}");
    }
}

#[test]
fn endpoint_debug_does_not_show_the_key() {
    let e = endpoint(format!("https://eth-mainnet.g.alchemy.com/v2/{KEY}"), 1);
    let shown = format!("{e:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("eth-mainnet.g.alchemy.com"), "{shown}");
}
