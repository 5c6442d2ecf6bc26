//! The endpoint: plain tokio TCP on 127.0.0.1, one request per connection
//! (every answer closes it), `GET /metrics` and 404 elsewhere.
//!
//! A local client cannot starve it: the request head must arrive whole
//! within [`MetricsLimits::request_timeout`] and fit in
//! [`MetricsLimits::max_request_head`]; the answer must be taken within
//! [`MetricsLimits::write_timeout`]; and at most
//! [`MetricsLimits::max_connections`] are held at once, a newcomer evicting
//! the oldest when they are all taken — the control API's admission
//! (`control::admission`), where no metrics client ever authenticates — so
//! a crowd of idle sockets costs the oldest of them, never the next scrape.
//!
//! The bound address is logged and written to `<data_dir>/metrics.addr`
//! (0600), removed at shutdown if it still names this server.

use super::MetricsError;
use super::exposition::{Exposition, Format};
use super::request::{self, Asked};
use crate::control::ControlLimits;
use crate::control::admission::Admission;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Where the bound address is written, in the data dir.
pub const ADDR_FILE: &str = "metrics.addr";

/// The endpoint's limits. [`Default`] holds the production values.
#[derive(Debug, Clone)]
pub struct MetricsLimits {
    /// Connections held at once; a newcomer beyond evicts the oldest.
    pub max_connections: usize,
    /// The whole request head must arrive within this.
    pub request_timeout: Duration,
    /// The whole answer must be taken within this.
    pub write_timeout: Duration,
    /// The largest request head (request line and headers).
    pub max_request_head: usize,
}

impl Default for MetricsLimits {
    fn default() -> Self {
        Self {
            max_connections: 16,
            request_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            max_request_head: 8 * 1024,
        }
    }
}

/// A running endpoint.
pub struct MetricsServer {
    addr: SocketAddr,
    dir: PathBuf,
    task: JoinHandle<()>,
}

impl MetricsServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting, drop every connection, and remove `metrics.addr`.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
        remove_if_ours(&self.dir, self.addr);
    }
}

/// Listen on `127.0.0.1:port` (0: any free port) and serve `exposition`.
pub async fn serve(
    port: u16,
    data_dir: &Path,
    exposition: Arc<Exposition>,
    limits: MetricsLimits,
) -> Result<MetricsServer, MetricsError> {
    let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(wanted)
        .await
        .map_err(|source| MetricsError::Bind {
            addr: wanted,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| MetricsError::Bind {
        addr: wanted,
        source,
    })?;
    write_addr(data_dir, addr)?;
    // Every metrics client stays unauthenticated: the cap is their share,
    // and the newcomer evicts the oldest.
    let cap = limits.max_connections.max(1);
    let admission = Admission::new(ControlLimits {
        max_connections: cap + 1,
        max_unauthenticated: cap,
        ..ControlLimits::default()
    });
    let task = tokio::spawn(accept(listener, admission, exposition, limits));
    Ok(MetricsServer {
        addr,
        dir: data_dir.to_path_buf(),
        task,
    })
}

async fn accept(
    listener: TcpListener,
    admission: Arc<Admission>,
    exposition: Arc<Exposition>,
    limits: MetricsLimits,
) {
    // Dropped with this task: every connection ends with the server.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, or a connection reset before accept:
                // wait a little instead of spinning.
                tracing::warn!(error = %e, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(mut ticket) = admission.admit() else {
            continue;
        };
        let exposition = exposition.clone();
        let limits = limits.clone();
        connections.spawn(async move {
            tokio::select! {
                () = answer(stream, &exposition, &limits) => {}
                () = ticket.evicted() => {}
            }
        });
    }
}

/// Read one request head and answer it; the connection closes after.
async fn answer(mut stream: TcpStream, exposition: &Exposition, limits: &MetricsLimits) {
    let asked = match tokio::time::timeout(
        limits.request_timeout,
        read_head(&mut stream, limits.max_request_head),
    )
    .await
    {
        Ok(Ok(asked)) => asked,
        Ok(Err(Refused::TooLarge)) => {
            Answer::text(431, b"request head too large\n")
                .send(&mut stream, limits)
                .await;
            return;
        }
        Ok(Err(Refused::Closed)) => return,
        Err(_) => {
            Answer::text(408, b"request timeout\n")
                .send(&mut stream, limits)
                .await;
            return;
        }
    };
    match asked {
        Asked::Metrics { head, accept } => {
            let format = Format::for_accept(accept.as_deref());
            match exposition.render(format) {
                Ok(body) => {
                    let answer = Answer {
                        status: 200,
                        content_type: format.content_type(),
                        body: body.as_bytes(),
                        head_only: head,
                    };
                    answer.send(&mut stream, limits).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "metrics: cannot encode");
                    Answer::text(500, b"cannot encode\n")
                        .send(&mut stream, limits)
                        .await;
                }
            }
        }
        Asked::NotFound => {
            Answer::text(404, b"not found: GET /metrics\n")
                .send(&mut stream, limits)
                .await
        }
        Asked::MethodNotAllowed => {
            Answer::text(405, b"GET or HEAD only\n")
                .send(&mut stream, limits)
                .await
        }
        Asked::BadRequest => {
            Answer::text(400, b"bad request\n")
                .send(&mut stream, limits)
                .await
        }
    }
}

enum Refused {
    TooLarge,
    Closed,
}

async fn read_head(stream: &mut TcpStream, max: usize) -> Result<Asked, Refused> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|_| Refused::Closed)?;
        if n == 0 {
            return Err(Refused::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = request::head_end(&buf) {
            return Ok(request::parse(&buf[..end]));
        }
        if buf.len() > max {
            return Err(Refused::TooLarge);
        }
    }
}

/// One answer; every answer closes the connection.
struct Answer<'a> {
    status: u16,
    content_type: &'a str,
    body: &'a [u8],
    /// `HEAD`: the head as `GET` would have it, without the body.
    head_only: bool,
}

impl<'a> Answer<'a> {
    fn text(status: u16, body: &'a [u8]) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
            head_only: false,
        }
    }

    async fn send(self, stream: &mut TcpStream, limits: &MetricsLimits) {
        let status = self.status;
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            431 => "Request Header Fields Too Large",
            _ => "Internal Server Error",
        };
        let allow = if status == 405 {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.content_type,
            self.body.len()
        );
        let body = if self.head_only { &[][..] } else { self.body };
        let send = async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
            stream.shutdown().await
        };
        // A client that does not take its answer loses it; nothing else waits.
        if let Ok(Ok(())) = tokio::time::timeout(limits.write_timeout, send).await {
            linger(stream).await;
        }
    }
}

/// After the answer, read (and drop) what the client still sends, briefly:
/// closing with unread bytes would reset the connection, and a reset can
/// destroy the answer before the client has read it.
async fn linger(stream: &mut TcpStream) {
    const MAX: usize = 64 * 1024;
    let drain = async {
        let mut chunk = [0u8; 4096];
        let mut read = 0;
        while read < MAX {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

fn addr_path(dir: &Path) -> PathBuf {
    dir.join(ADDR_FILE)
}

/// Write `metrics.addr` (0600) whole: a temporary file renamed over it.
fn write_addr(dir: &Path, addr: SocketAddr) -> Result<(), MetricsError> {
    let path = addr_path(dir);
    let tmp = path.with_extension("tmp");
    let io = |source| MetricsError::AddrFile {
        path: path.clone(),
        source,
    };
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(addr.to_string().as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// Remove `metrics.addr` if it still names `addr` (never another engine's).
fn remove_if_ours(dir: &Path, addr: SocketAddr) {
    let path = addr_path(dir);
    if let Ok(text) = std::fs::read_to_string(&path)
        && text.trim().parse::<SocketAddr>().ok() == Some(addr)
        && let Err(e) = std::fs::remove_file(&path)
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove metrics.addr");
    }
}
