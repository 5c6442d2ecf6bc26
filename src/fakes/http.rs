//! Just enough HTTP/1.1 for every fake, and the one way a fake listens: a
//! [`Server`] bound to 127.0.0.1:0 that hands each connection to the fake
//! and stops, open connections included, when dropped. One request per
//! connection (`Connection: close`), a `Content-Length` body, and the power
//! to close a connection without answering (an order accepted, its answer
//! lost), to say nothing for a while ([`Outcome::Hold`]), to answer late,
//! or to stop in the middle of the body (a truncated answer).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

/// A fake's listening socket on 127.0.0.1:0 and the task that accepts on
/// it. Dropping it stops accepting and ends every open connection.
pub struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Listen on 127.0.0.1:0; every connection goes to `each`, on a task
    /// of its own that ends with the server.
    pub async fn start<F, Fut>(each: F) -> std::io::Result<Server>
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((sock, _)) = listener.accept().await {
                // Forget the connections that are done.
                while connections.try_join_next().is_some() {}
                connections.spawn(each(sock));
            }
        });
        Ok(Server { addr, task })
    }

    /// Listen on 127.0.0.1:0 and answer each connection's one request with
    /// what `handle` decides ([`Outcome`]).
    pub async fn serve(
        handle: impl Fn(&Request) -> Outcome + Send + Sync + 'static,
    ) -> std::io::Result<Server> {
        let handle = Arc::new(handle);
        Server::start(move |mut sock| {
            let handle = handle.clone();
            async move {
                let Some(request) = read_request(&mut sock).await else {
                    return;
                };
                let outcome = handle(&request);
                carry_out(sock, outcome).await;
            }
        })
        .await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The raw query (still encoded), without `?`.
    pub query: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Decoded query pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        pairs(&self.query)
    }
}

/// Decode `a=b&c=d` (form encoding).
pub fn pairs(encoded: &str) -> Vec<(String, String)> {
    match reqwest::Url::parse(&format!("http://fake.invalid/?{encoded}")) {
        Ok(u) => u
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send `Content-Length` (else the body ends when the connection closes).
    pub declare_length: bool,
    /// Announce the whole body but close after half of it.
    pub truncated: bool,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            declare_length: true,
            truncated: false,
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        let mut r = Self::new(status);
        r.body = value.to_string().into_bytes();
        r.headers
            .push(("Content-Type".into(), "application/json".into()));
        r
    }

    /// `status` with `body` as it is, said to be JSON (a malformed or
    /// padded body, or one the fake wrote by hand).
    pub fn raw_json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        let mut r = Self::new(status);
        r.body = body.into();
        r.headers
            .push(("Content-Type".into(), "application/json".into()));
        r
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// With `Retry-After: secs` when given.
    pub fn with_retry_after(self, secs: Option<u64>) -> Self {
        match secs {
            Some(secs) => self.with_header("Retry-After", secs.to_string()),
            None => self,
        }
    }

    /// Announced whole, cut halfway.
    pub fn cut(mut self) -> Self {
        self.truncated = true;
        self
    }

    /// Answered at once.
    pub fn now(self) -> Outcome {
        Outcome::Respond {
            response: self,
            delay: None,
        }
    }
}

/// What the fake does with a request.
#[derive(Debug)]
pub enum Outcome {
    /// Answer, after `delay` when given (the client may time out first).
    Respond {
        response: Response,
        delay: Option<Duration>,
    },
    /// Close the connection without a byte of answer.
    Drop,
    /// Say nothing for this long, then close without an answer (a node
    /// gone silent, or an answer held past the client's timeout).
    Hold(Duration),
}

/// Carry `outcome` out on `sock`, then close it.
pub async fn carry_out(mut sock: TcpStream, outcome: Outcome) {
    match outcome {
        Outcome::Drop => drop(sock),
        Outcome::Hold(d) => {
            tokio::time::sleep(d).await;
            drop(sock);
        }
        Outcome::Respond { response, delay } => {
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            let _ = write_response(&mut sock, &response).await;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Read one request; `None` when the peer sent something else or closed.
pub async fn read_request(sock: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return None;
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Some(Request {
        method,
        path,
        query,
        headers,
        body,
    })
}

pub async fn write_response(sock: &mut TcpStream, r: &Response) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (n, v) in &r.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    if r.declare_length {
        out.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    sock.write_all(out.as_bytes()).await?;
    let sent = if r.truncated {
        &r.body[..r.body.len() / 2]
    } else {
        &r.body[..]
    };
    sock.write_all(sent).await?;
    sock.flush().await?;
    sock.shutdown().await
}
