//! Webhooks against a tiny HTTP receiver on 127.0.0.1:0 that answers from a
//! script, from seeded faults (5xx, 429 with Retry-After, a reset after the
//! request was read) or never, recording every request it gets and how it
//! was answered.

use arbkeep::engine::Notice;
use arbkeep::model::{CycleId, Route, TokenId};
use arbkeep::notify::{
    EventFilter, WebhookConfig, WebhookFormat, WebhookStats, WebhookUrl, spawn_webhooks_reloadable,
    spawn_webhooks_with_stats,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);
/// Stands for the credential a real webhook URL embeds.
const SECRET: &str = "T0KEN-s3cr3t-9f8e7d";

/// One request as the receiver saw it.
#[derive(Debug)]
struct Request {
    at: Instant,
    path: String,
    headers: String,
    body: String,
    /// How the receiver answered it: a status line, "reset" or "hang".
    answer: String,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

enum Behaviour {
    /// Answer each request with the next status line (extra headers after
    /// it); 200 once the script is used up.
    Script(VecDeque<&'static str>),
    /// Accept, read the request, never answer.
    Hang,
    /// Each request gets a fault drawn from this seed (or a 200): a 5xx,
    /// a 429 with `Retry-After: 1`, or a reset once the request was read.
    Seeded(u64),
}

/// How one request is answered.
enum Answer {
    Status(&'static str),
    /// Read the request whole, then reset the connection: the receiver got
    /// the notice, the sender never hears so.
    Reset,
    Hang,
}

/// The receiver's choice of answers, request after request.
struct Answers {
    behaviour: Behaviour,
}

impl Answers {
    fn next(&mut self) -> Answer {
        match &mut self.behaviour {
            Behaviour::Script(script) => Answer::Status(script.pop_front().unwrap_or("200 OK")),
            Behaviour::Hang => Answer::Hang,
            Behaviour::Seeded(state) => {
                // xorshift64*: the same seed, the same faults in the same order.
                *state ^= *state >> 12;
                *state ^= *state << 25;
                *state ^= *state >> 27;
                let draw = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
                match draw % 10 {
                    0 => Answer::Status("500 Internal Server Error"),
                    1 => Answer::Status("502 Bad Gateway"),
                    2 => Answer::Status("503 Service Unavailable"),
                    3 => Answer::Status("429 Too Many Requests\r\nRetry-After: 1"),
                    4 | 5 => Answer::Reset,
                    _ => Answer::Status("200 OK"),
                }
            }
        }
    }
}

struct Receiver {
    addr: SocketAddr,
    requests: mpsc::UnboundedReceiver<Request>,
    connections: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, requests) = mpsc::unbounded_channel();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let answers = Arc::new(Mutex::new(Answers { behaviour }));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let tx = tx.clone();
                let answers = answers.clone();
                tokio::spawn(async move {
                    let Some(mut request) = read_request(&mut stream).await else {
                        return;
                    };
                    let answer = answers.lock().expect("answers").next();
                    request.answer = match &answer {
                        Answer::Status(status) => status.to_string(),
                        Answer::Reset => "reset".into(),
                        Answer::Hang => "hang".into(),
                    };
                    let _ = tx.send(request);
                    let status = match answer {
                        Answer::Status(status) => status,
                        Answer::Reset => {
                            // RST, not FIN: the sender sees a reset connection.
                            let _ = stream.set_zero_linger();
                            drop(stream);
                            return;
                        }
                        Answer::Hang => {
                            // Hold the socket open, say nothing.
                            std::future::pending::<()>().await;
                            return;
                        }
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            addr,
            requests,
            connections,
        }
    }

    fn url(&self) -> WebhookUrl {
        WebhookUrl::parse(&format!(
            "http://{}/hooks/{SECRET}?token={SECRET}",
            self.addr
        ))
        .expect("url")
    }

    async fn next(&mut self) -> Request {
        timeout(WAIT, self.requests.recv())
            .await
            .expect("a request in time")
            .expect("receiver alive")
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let (request_line, headers) = head.split_once("\r\n")?;
    Some(Request {
        at: Instant::now(),
        path: request_line.split(' ').nth(1)?.to_string(),
        headers: headers.to_string(),
        body: String::from_utf8_lossy(&buf[header_end..header_end + length]).to_string(),
        answer: String::new(),
    })
}

fn fast(url: WebhookUrl, format: WebhookFormat) -> WebhookConfig {
    let mut config = WebhookConfig::new(url, format);
    config.timeout = Duration::from_secs(2);
    config.max_retries = 3;
    config.initial_backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_secs(2);
    config
}

fn failed_notice() -> Notice {
    Notice::CycleFailed {
        cycle: CycleId(12),
        token: TokenId::Vcred,
        reason: "slippage <2%> & @everyone".into(),
    }
}

fn completed_notice() -> Notice {
    Notice::CycleCompleted {
        cycle: CycleId(13),
        token: TokenId::Vcred,
        profit_vcred: Decimal::new(1234, 2),
    }
}

fn opportunity_notice() -> Notice {
    Notice::OpportunityDetected {
        token: TokenId::Vcred,
        route: Route::Stargate,
        size_vcred: 5_000_000,
        est_profit_vcred: Decimal::new(5, 1),
        edge_bps: 42,
    }
}

/// Close the notice stream and wait for the task to drain and end.
async fn finish(sender: broadcast::Sender<Notice>, task: JoinHandle<()>) {
    drop(sender);
    timeout(WAIT, task)
        .await
        .expect("webhook task ends")
        .expect("join");
}

async fn deliver_one(format: WebhookFormat, notice: Notice) -> (Request, WebhookStats) {
    let mut receiver = Receiver::start(Behaviour::Script(VecDeque::new())).await;
    let (sender, notices) = broadcast::channel(16);
    let (task, stats) = spawn_webhooks_with_stats(notices, fast(receiver.url(), format));
    sender.send(notice).expect("listener");
    let request = receiver.next().await;
    finish(sender, task).await;
    (request, stats)
}

fn assert_no_secret(request: &Request) {
    assert!(
        !request.body.contains(SECRET),
        "secret in body: {}",
        request.body
    );
    assert!(
        !request.headers.contains(SECRET),
        "secret in headers: {}",
        request.headers
    );
    // It only travels where the receiver expects it: in the URL.
    assert!(request.path.contains(SECRET));
}

#[tokio::test]
async fn slack_payload_is_text_only() {
    let (request, stats) = deliver_one(WebhookFormat::Slack, failed_notice()).await;
    assert_eq!(stats.delivered(), 1);
    assert!(
        request
            .headers
            .to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    assert_eq!(
        request.json(),
        json!({"text": "c12 VCRED FAILED: slippage &lt;2%&gt; &amp; @everyone"})
    );
    assert_no_secret(&request);
}

#[tokio::test]
async fn discord_payload_is_content_without_pings() {
    let (request, _) = deliver_one(WebhookFormat::Discord, failed_notice()).await;
    assert_eq!(
        request.json(),
        json!({
            "content": "c12 VCRED FAILED: slippage <2%> & @everyone",
            "allowed_mentions": {"parse": []},
        })
    );
    assert_no_secret(&request);
}

#[tokio::test]
async fn generic_payload_serves_both_and_carries_the_event() {
    let (request, _) = deliver_one(WebhookFormat::Generic, completed_notice()).await;
    let body = request.json();
    assert_eq!(body["text"], "c13 VCRED completed: P&amp;L 12.34 VCRED");
    assert_eq!(body["content"], "c13 VCRED completed: P&L 12.34 VCRED");
    assert_eq!(body["event"]["event"], "cycle_completed");
    assert_eq!(
        serde_json::from_value::<Notice>(body["event"].clone()).expect("notice"),
        completed_notice()
    );
    assert_no_secret(&request);
}

#[tokio::test]
async fn retries_after_a_500_then_succeeds() {
    let mut receiver = Receiver::start(Behaviour::Script(VecDeque::from([
        "500 Internal Server Error",
    ])))
    .await;
    let (sender, notices) = broadcast::channel(16);
    let (task, stats) =
        spawn_webhooks_with_stats(notices, fast(receiver.url(), WebhookFormat::Slack));
    sender.send(completed_notice()).expect("listener");
    let first = receiver.next().await;
    let second = receiver.next().await;
    assert_eq!(first.body, second.body, "the same notice, again");
    finish(sender, task).await;
    assert_eq!(stats.delivered(), 1);
    assert_eq!(stats.retries(), 1);
    assert_eq!(stats.failed(), 0);
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let mut receiver = Receiver::start(Behaviour::Script(VecDeque::from([
        "429 Too Many Requests\r\nRetry-After: 1",
    ])))
    .await;
    let (sender, notices) = broadcast::channel(16);
    let (task, stats) =
        spawn_webhooks_with_stats(notices, fast(receiver.url(), WebhookFormat::Discord));
    sender.send(completed_notice()).expect("listener");
    let first = receiver.next().await;
    let second = receiver.next().await;
    // Our own backoff would be ~10 ms; the receiver asked for a second.
    assert!(
        second.at.duration_since(first.at) >= Duration::from_millis(950),
        "{:?}",
        second.at.duration_since(first.at)
    );
    finish(sender, task).await;
    assert_eq!(stats.delivered(), 1);
}

#[tokio::test]
async fn a_4xx_is_not_retried_and_the_next_notice_still_goes() {
    let mut receiver = Receiver::start(Behaviour::Script(VecDeque::from(["404 Not Found"]))).await;
    let (sender, notices) = broadcast::channel(16);
    let (task, stats) =
        spawn_webhooks_with_stats(notices, fast(receiver.url(), WebhookFormat::Slack));
    sender.send(failed_notice()).expect("listener");
    sender.send(completed_notice()).expect("listener");
    let first = receiver.next().await;
    let second = receiver.next().await;
    assert_ne!(first.body, second.body, "no retry of the refused one");
    finish(sender, task).await;
    assert_eq!(
        (stats.failed(), stats.delivered(), stats.retries()),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn the_event_filter_selects_notices() {
    let mut receiver = Receiver::start(Behaviour::Script(VecDeque::new())).await;
    let (sender, notices) = broadcast::channel(16);
    let mut config = fast(receiver.url(), WebhookFormat::Generic);
    config.events = EventFilter::only(["cycle_completed"]).expect("known event");
    let (task, stats) = spawn_webhooks_with_stats(notices, config);
    sender.send(opportunity_notice()).expect("listener");
    sender.send(completed_notice()).expect("listener");
    let request = receiver.next().await;
    assert_eq!(request.json()["event"]["event"], "cycle_completed");
    finish(sender, task).await;
    assert_eq!(stats.delivered(), 1);
    assert!(receiver.requests.try_recv().is_err());
    assert!(
        EventFilter::only(["cycle_complete"]).is_err(),
        "typos are refused"
    );
}

/// SIGHUP's path: the format and the event filter change under a running
/// task, from the next notice on, and the change is told in words.
#[tokio::test]
async fn settings_change_while_the_task_runs() {
    let mut receiver = Receiver::start(Behaviour::Script(VecDeque::new())).await;
    let (sender, notices) = broadcast::channel(16);
    let mut config = fast(receiver.url(), WebhookFormat::Slack);
    config.events = EventFilter::only(["cycle_completed"]).expect("known event");
    let (task, stats, reload) = spawn_webhooks_reloadable(notices, config);
    sender.send(opportunity_notice()).expect("listener");
    sender.send(completed_notice()).expect("listener");
    let first = receiver.next().await;
    assert!(first.json()["text"].is_string(), "slack: {}", first.body);

    let mut settings = reload.current();
    settings.format = WebhookFormat::Discord;
    settings.events = EventFilter::All;
    settings.max_retries = 1;
    let changes = reload.set(settings);
    assert_eq!(
        changes,
        vec![
            "notify.format slack → discord".to_string(),
            "notify.retries 3 → 1".to_string(),
            "notify.events cycle_completed → all".to_string(),
        ]
    );
    sender.send(opportunity_notice()).expect("listener");
    let second = receiver.next().await;
    assert!(
        second.json()["content"].is_string(),
        "discord, and the opportunity passes the new filter: {}",
        second.body
    );
    finish(sender, task).await;
    assert_eq!(stats.delivered(), 2);
    assert!(receiver.requests.try_recv().is_err());
}

#[tokio::test]
async fn a_hanging_receiver_never_blocks_the_engine() {
    let receiver = Receiver::start(Behaviour::Hang).await;
    let (sender, notices) = broadcast::channel(2048);
    let mut config = fast(receiver.url(), WebhookFormat::Slack);
    config.timeout = Duration::from_millis(200);
    config.max_retries = 0;
    config.queue_capacity = 4;
    let (task, stats) = spawn_webhooks_with_stats(notices, config);

    // The engine's side: broadcasting many notices completes at once.
    let started = Instant::now();
    for i in 0..1000u64 {
        let notice = Notice::CycleCompleted {
            cycle: CycleId(i),
            token: TokenId::Vcred,
            profit_vcred: Decimal::ONE,
        };
        sender.send(notice).expect("listener");
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "broadcasting took {:?}",
        started.elapsed()
    );

    // The webhook task times out on the first, moves on to the next, and
    // keeps its queue bounded by dropping the oldest.
    timeout(WAIT, async {
        while stats.failed() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("two attempts timed out and were given up");
    assert!(receiver.connections.load(Ordering::SeqCst) >= 2);
    assert!(stats.dropped() >= 990, "dropped {}", stats.dropped());
    assert_eq!(stats.delivered(), 0);
    task.abort();
}

/// Seeded faults on every request — 5xx, 429 with `Retry-After`, a reset
/// after the request was read — and still: every notice reaches the
/// receiver at least once (a reset one may arrive twice; deduplicated by
/// its cycle id, the payload carrying no id of its own), `Retry-After` is
/// honoured, nothing is given up, and broadcasting never waits.
#[tokio::test]
async fn seeded_faults_delay_but_never_lose_a_notice_nor_block_the_engine() {
    const NOTICES: u64 = 12;
    for seed in [7u64, 1_234_567, 0x9E37_79B9_7F4A_7C15] {
        let mut receiver = Receiver::start(Behaviour::Seeded(seed)).await;
        let (sender, notices) = broadcast::channel(64);
        let mut config = fast(receiver.url(), WebhookFormat::Generic);
        config.max_retries = 20;
        config.initial_backoff = Duration::from_millis(5);
        config.max_backoff = Duration::from_secs(1);
        let (task, stats) = spawn_webhooks_with_stats(notices, config);

        let started = Instant::now();
        for i in 0..NOTICES {
            sender
                .send(Notice::CycleCompleted {
                    cycle: CycleId(100 + i),
                    token: TokenId::Vcred,
                    profit_vcred: Decimal::ONE,
                })
                .expect("listener");
        }
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "seed {seed}: broadcasting waited {:?}",
            started.elapsed()
        );

        let mut requests: Vec<Request> = Vec::new();
        let mut delivered = std::collections::BTreeSet::new();
        timeout(Duration::from_secs(60), async {
            while delivered.len() < NOTICES as usize {
                let r = receiver.next().await;
                let id = r.json()["event"]["cycle"].as_u64().expect("a cycle id");
                if r.answer.starts_with("200") {
                    delivered.insert(id);
                }
                requests.push(r);
            }
        })
        .await
        .unwrap_or_else(|_| panic!("seed {seed}: only {delivered:?} delivered"));
        finish(sender, task).await;

        let answers: Vec<&str> = requests.iter().map(|r| r.answer.as_str()).collect();
        for fault in ["reset", "429", "5"] {
            assert!(
                answers.iter().any(|a| a.starts_with(fault)),
                "seed {seed}: no {fault} among {answers:?}"
            );
        }
        // Every notice's body was received; the faults only repeated some.
        let received: std::collections::BTreeSet<u64> = requests
            .iter()
            .filter_map(|r| r.json()["event"]["cycle"].as_u64())
            .collect();
        assert_eq!(received, (100..100 + NOTICES).collect());
        assert_eq!(delivered, received);
        // After a 429 with Retry-After: 1, the next try waited for it.
        for pair in requests.windows(2) {
            if pair[0].answer.starts_with("429") {
                let gap = pair[1].at.duration_since(pair[0].at);
                assert!(gap >= Duration::from_millis(950), "seed {seed}: {gap:?}");
            }
        }
        assert_eq!(
            (stats.delivered(), stats.failed(), stats.dropped()),
            (NOTICES, 0, 0),
            "seed {seed}"
        );
        assert_eq!(
            stats.retries(),
            requests.len() as u64 - NOTICES,
            "seed {seed}: every faulted request was retried"
        );
    }
}
