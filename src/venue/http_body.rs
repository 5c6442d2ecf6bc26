//! Reading an HTTP response body with a size cap, the one helper for every
//! venue that talks to a server it does not control (Schwab; Stellar's
//! Horizon, Soroban RPC and Friendbot; the aggregators can use it too). A declared `Content-Length` over the cap is
//! refused before a byte of the body is read; a body without one (or lying
//! about it) is read chunk by chunk and dropped the moment it passes the cap,
//! so a hostile or broken peer cannot make us buffer more than `cap` bytes.
//!
//! Use: `read_capped(response, DEFAULT_BODY_CAP).await`, then classify the
//! [`BodyError`] as the call requires (a read: transient; an order or a
//! transaction sent: unknown outcome). The error never carries the URL (it
//! may hold a query with an account id) nor any of the body.

use thiserror::Error;

/// 4 MiB: far above any answer the venues give (a day's order list is tens
/// of kilobytes), far below what would hurt a small VPS.
pub const DEFAULT_BODY_CAP: usize = 4 * 1024 * 1024;

/// Why a body was not read whole.
#[derive(Debug, Error)]
pub enum BodyError {
    /// The server declared a length over the cap: nothing was read.
    #[error("the answer declares {declared} bytes, over the {cap}-byte cap; not read")]
    DeclaredTooLarge { declared: u64, cap: usize },
    /// The body grew past the cap while being read: reading stopped there.
    #[error("the answer is larger than the {cap}-byte cap; reading stopped")]
    TooLarge { cap: usize },
    /// The connection failed while the body was being read. Display shows no
    /// URL; the cause is kept as the source.
    #[error("the answer broke off while being read")]
    Transport(#[source] reqwest::Error),
}

impl BodyError {
    /// Over the cap (declared or read), as opposed to a broken connection.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            BodyError::DeclaredTooLarge { .. } | BodyError::TooLarge { .. }
        )
    }
}

/// The whole body of `response`, at most `cap` bytes of it.
pub async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, BodyError> {
    let declared = response.content_length();
    if let Some(declared) = declared
        && usize::try_from(declared).map_or(true, |d| d > cap)
    {
        return Err(BodyError::DeclaredTooLarge { declared, cap });
    }
    // Trust a declared length only for the first allocation, and only below the cap.
    let first = declared
        .and_then(|d| usize::try_from(d).ok())
        .unwrap_or(0)
        .min(cap)
        .min(64 * 1024);
    let mut body = Vec::with_capacity(first);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if chunk.len() > cap.saturating_sub(body.len()) {
            return Err(BodyError::TooLarge { cap });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot loopback server: answers the first request with `head`
    /// then `body`, then closes. Returns its URL.
    async fn serve(head: String, body: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            if let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(head.as_bytes()).await;
                // A peer that stops reading makes this fail: that is fine.
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            }
        });
        format!("http://{addr}/")
    }

    async fn fetch(url: &str, cap: usize) -> Result<Vec<u8>, BodyError> {
        crate::net::ensure_crypto_provider();
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let response = client.get(url).send().await.expect("an answer");
        read_capped(response, cap).await
    }

    fn with_length(len: usize) -> String {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    }

    const NO_LENGTH: &str = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_body_within_the_cap_is_read_whole() {
        let body: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let url = serve(with_length(body.len()), body.clone()).await;
        assert_eq!(fetch(&url, 10_000).await.expect("read"), body, "at the cap");
        let url = serve(NO_LENGTH.into(), body.clone()).await;
        assert_eq!(fetch(&url, 10_000).await.expect("read"), body, "no length");
    }

    #[tokio::test]
    async fn a_declared_length_over_the_cap_is_refused_unread() {
        let url = serve(with_length(10_001), vec![b'x'; 10_001]).await;
        let e = fetch(&url, 10_000).await.expect_err("over the cap");
        assert!(
            matches!(
                e,
                BodyError::DeclaredTooLarge {
                    declared: 10_001,
                    cap: 10_000
                }
            ),
            "{e:?}"
        );
        assert!(e.is_too_large());
        assert!(e.to_string().contains("10000-byte cap"), "{e}");
    }

    #[tokio::test]
    async fn an_undeclared_body_stops_at_the_cap() {
        // 8 MiB streamed without a length: refused once past 1 MiB.
        let url = serve(NO_LENGTH.into(), vec![b'{'; 8 * 1024 * 1024]).await;
        let e = fetch(&url, 1024 * 1024).await.expect_err("over the cap");
        assert!(matches!(e, BodyError::TooLarge { cap: 1_048_576 }), "{e:?}");
        assert!(e.is_too_large());
        assert!(e.to_string().contains("larger than"), "{e}");
    }

    #[tokio::test]
    async fn a_body_cut_short_is_a_transport_error() {
        let url = serve(with_length(5_000), vec![b'x'; 100]).await;
        let e = fetch(&url, 10_000).await.expect_err("cut short");
        assert!(matches!(e, BodyError::Transport(_)), "{e:?}");
        assert!(!e.is_too_large());
        assert!(!e.to_string().contains("127.0.0.1"), "no URL: {e}");
    }
}
