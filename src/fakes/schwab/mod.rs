//! A fake Charles Schwab for tests and benches (feature `fakes`), shaped
//! like the real API (docs/architecture.md §5): OAuth with 30-second
//! single-use codes, 30-minute access tokens and 7-day refresh lineages
//! that rotate on every refresh; account numbers → hashes; orders that fill
//! at once, late, partially, are rejected later or held while the market is
//! closed. As unkind as Schwab: 401; 429 with and without `Retry-After`;
//! 5xx; a connection dropped before acting; an order taken whose answer is
//! lost (reset, timeout, 5xx, 429, a truncated body, no `Location`);
//! malformed and truncated bodies; and listing lag (a placed order left out
//! of the orders list for a while of the fake's clock or a number of list
//! calls). Served on 127.0.0.1:0 by a minimal HTTP/1.1 loop; its clock is
//! injected, so every expiry is deterministic. The account's balances
//! follow the fills: cash ([`FakeSchwab::set_cash`], $100 000 unless set)
//! goes down on buys and up on sells, and what working buys would cost is
//! held out of the funds available for trading.
//!
//! Scripting: [`FakeSchwab::script_next_order`] (how the next order
//! executes), [`FakeSchwab::next_order_reply`] (how the next order POST is
//! answered after acting), [`FakeSchwab::fail_next`] (a fault on the next
//! call of a route, before acting), [`FakeSchwab::place_faults_from_seed`]
//! (every order POST draws one of those from a seed),
//! [`FakeSchwab::set_listing_lag`], [`FakeSchwab::revoke_access_tokens`],
//! [`FakeSchwab::set_holiday`]. Every order POST is counted, whatever the
//! attempt and whatever was answered ([`FakeSchwab::order_posts`]).
//! Observation: [`FakeSchwab::requests`], [`FakeSchwab::order_posts`],
//! [`FakeSchwab::orders`], the live tokens (to grep for them).

pub(crate) mod faults;
mod orders;

pub use faults::{Fault, FaultRoute, OrderReply, PlaceFault};

pub use orders::{FillLeg, OrderScript, OrderView, REJECT_BUYING_POWER};

use self::faults::{Chaos, fault_outcome};
use self::orders::FakeOrder;
use crate::config::Secret;
use crate::fakes::http::{self, Outcome, Request, Response, pairs};
use crate::model::time::{DAY, MINUTE, SECOND};
use crate::model::{Clock, Timestamp};
use crate::net::base64;
use crate::venue::broker::OrderSide;
use crate::venue::schwab::clock_text::{
    format_date, format_new_york_time, new_york_day, new_york_instant, parse_date, parse_time,
    weekday,
};
use crate::venue::schwab::{EncryptionKey, SchwabConfig, SchwabSecrets};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const FAKE_APP_KEY: &str = "FakeAppKey0123456789abcdefABCDEF";
pub const FAKE_APP_SECRET: &str = "FakeAppSecret9876";
/// The callback registered with the fake app (no trailing slash).
pub const FAKE_CALLBACK: &str = "https://127.0.0.1:8182";
/// The account the tests trade; a second one is linked too, listed first,
/// so picking by index instead of number is caught.
pub const FAKE_ACCOUNT: &str = "49359741";
pub const FAKE_OTHER_ACCOUNT: &str = "12345678";

pub const CODE_LIFETIME: u64 = 30 * SECOND;
pub const ACCESS_LIFETIME: u64 = 30 * MINUTE;
pub const REFRESH_LIFETIME: u64 = 7 * DAY;

/// One request as the fake saw it (credentials are never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub bearer: bool,
    pub basic: bool,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    /// The status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
}

/// An order as the fake holds it, seen now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    pub id: String,
    pub account_number: String,
    pub symbol: String,
    pub side: OrderSide,
    pub shares: u64,
    pub entered_at: Timestamp,
    pub status: String,
    pub filled: u64,
}

struct Code {
    issued_at: Timestamp,
    redirect_uri: String,
    used: bool,
}

struct Lineage {
    created_at: Timestamp,
    current_refresh: String,
}

struct Access {
    issued_at: Timestamp,
    revoked: bool,
}

struct State {
    clock: Arc<dyn Clock>,
    base_url: String,
    counter: u64,
    accounts: Vec<(String, String)>,
    codes: HashMap<String, Code>,
    lineages: Vec<Lineage>,
    /// refresh token → lineage index.
    refresh_tokens: HashMap<String, usize>,
    access: HashMap<String, Access>,
    refresh_lifetime: u64,
    grants: Vec<String>,
    orders: BTreeMap<u64, FakeOrder>,
    next_scripts: VecDeque<OrderScript>,
    next_replies: VecDeque<OrderReply>,
    faults: HashMap<FaultRoute, VecDeque<Fault>>,
    prices: HashMap<String, Decimal>,
    base_positions: BTreeMap<(String, String), Decimal>,
    /// Cash before any fill.
    base_cash: Decimal,
    holidays: BTreeSet<i64>,
    /// The regular session spans every whole day (for tests whose keeper
    /// runs on the wall clock, at whatever hour CI runs them).
    around_the_clock: bool,
    requests: Vec<SeenRequest>,
    order_posts: usize,
    chaos: Option<Chaos>,
    /// Listing lag of orders placed from now on: (ms, list calls).
    listing_lag: (u64, u32),
    /// Place faults drawn so far (seeded), for a test's message.
    drawn: Vec<PlaceFault>,
}

/// The fake server. Dropping it stops it.
pub struct FakeSchwab {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for FakeSchwab {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSchwab {
    /// Listen on 127.0.0.1:0 with `clock` as the fake's time.
    pub async fn start(clock: Arc<dyn Clock>) -> std::io::Result<FakeSchwab> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let accounts = vec![
            (FAKE_OTHER_ACCOUNT.to_string(), hash_of(FAKE_OTHER_ACCOUNT)),
            (FAKE_ACCOUNT.to_string(), hash_of(FAKE_ACCOUNT)),
        ];
        let state = Arc::new(Mutex::new(State {
            clock,
            base_url: format!("http://{addr}"),
            counter: 1_004_055_538_100,
            accounts,
            codes: HashMap::new(),
            lineages: Vec::new(),
            refresh_tokens: HashMap::new(),
            access: HashMap::new(),
            refresh_lifetime: REFRESH_LIFETIME,
            grants: Vec::new(),
            orders: BTreeMap::new(),
            next_scripts: VecDeque::new(),
            next_replies: VecDeque::new(),
            faults: HashMap::new(),
            prices: HashMap::new(),
            base_positions: BTreeMap::new(),
            base_cash: Decimal::from(100_000),
            holidays: BTreeSet::new(),
            around_the_clock: false,
            requests: Vec::new(),
            order_posts: 0,
            chaos: None,
            listing_lag: (0, 0),
            drawn: Vec::new(),
        }));
        let serving = state.clone();
        let task = http::serve(listener, move |request| lock(&serving).handle(request));
        Ok(FakeSchwab { addr, state, task })
    }

    /// `http://127.0.0.1:<port>`: both the API and the OAuth base.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An adapter config pointing here, trading [`FAKE_ACCOUNT`].
    pub fn config(&self) -> SchwabConfig {
        SchwabConfig {
            api_url: self.url(),
            auth_url: self.url(),
            account_number: FAKE_ACCOUNT.into(),
            callback_url: FAKE_CALLBACK.into(),
            poll_interval_ms: 10,
            request_timeout_ms: 2_000,
        }
    }

    /// The fake app's credentials with `key` for the vault.
    pub fn secrets(key: &EncryptionKey) -> SchwabSecrets {
        SchwabSecrets {
            app_key: Secret::new(FAKE_APP_KEY.into()),
            app_secret: Secret::new(FAKE_APP_SECRET.into()),
            encryption_key: key.clone(),
        }
    }

    pub fn account_hash(&self, number: &str) -> Option<String> {
        lock(&self.state)
            .accounts
            .iter()
            .find(|(n, _)| n == number)
            .map(|(_, h)| h.clone())
    }

    /// The browser's part: log in at `authorize_url` and return where
    /// Schwab redirects, `<callback>?code=…%40&session=…[&state=…]`.
    pub fn approve_login(&self, authorize_url: &str) -> Result<String, String> {
        let query = authorize_url.split_once('?').map(|(_, q)| q).unwrap_or("");
        lock(&self.state).authorize(&pairs(query))
    }

    /// How the next order placed executes (default: filled at once at the symbol's price).
    pub fn script_next_order(&self, script: OrderScript) {
        lock(&self.state).next_scripts.push_back(script);
    }

    /// How the next order POST is answered (default: [`OrderReply::Created`]).
    pub fn next_order_reply(&self, reply: OrderReply) {
        lock(&self.state).next_replies.push_back(reply);
    }

    /// The next call of `route` fails with `fault` (queued: several calls
    /// fail in turn).
    pub fn fail_next(&self, route: FaultRoute, fault: Fault) {
        lock(&self.state)
            .faults
            .entry(route)
            .or_default()
            .push_back(fault);
    }

    /// Every order POST from now on meets one of [`PlaceFault::all`] in
    /// `one_in` calls, drawn from `seed` (the same seed, the same faults).
    pub fn place_faults_from_seed(&self, seed: u64, one_in: u64) {
        lock(&self.state).chaos = Some(Chaos {
            state: seed | 1,
            one_in,
        });
    }

    /// The seeded faults drawn so far, in order.
    pub fn drawn_faults(&self) -> Vec<PlaceFault> {
        lock(&self.state).drawn.clone()
    }

    /// Orders placed from now on are left out of the orders list for `ms`
    /// of the fake's clock and for `lists` list calls (both must pass); a
    /// GET by id shows them at once.
    pub fn set_listing_lag(&self, ms: u64, lists: u32) {
        lock(&self.state).listing_lag = (ms, lists);
    }

    /// Order `id` is shown in a shape the client cannot read (FILLED without
    /// executions, an unreadable `enteredTime`).
    pub fn garble_order(&self, id: &str) {
        let mut s = lock(&self.state);
        if let Some(o) = id.parse::<u64>().ok().and_then(|i| s.orders.get_mut(&i)) {
            o.garbled = true;
        }
    }

    /// Schwab invalidates live access tokens early (backend change): the
    /// next API call answers 401 "Client not authorized".
    pub fn revoke_access_tokens(&self) {
        for a in lock(&self.state).access.values_mut() {
            a.revoked = true;
        }
    }

    /// The refresh lineage's lifetime (default 7 days).
    pub fn set_refresh_lifetime(&self, ms: u64) {
        lock(&self.state).refresh_lifetime = ms;
    }

    /// The price market orders of `symbol` fill at by default (100 otherwise).
    pub fn set_price(&self, symbol: &str, price: Decimal) {
        lock(&self.state).prices.insert(symbol.to_string(), price);
    }

    /// A position held before any fill.
    pub fn set_position(&self, symbol: &str, quantity: Decimal) {
        lock(&self.state)
            .base_positions
            .insert((FAKE_ACCOUNT.to_string(), symbol.to_string()), quantity);
    }

    /// The account's cash before any fill.
    pub fn set_cash(&self, cash: Decimal) {
        lock(&self.state).base_cash = cash;
    }

    /// Close the market on a weekday (`YYYY-MM-DD`, New York).
    pub fn set_holiday(&self, date: &str) {
        if let Some(day) = parse_date(date) {
            lock(&self.state).holidays.insert(day);
        }
    }

    /// Every day, weekends included, is one regular session from midnight
    /// to midnight in New York: same answer shape, wider hours.
    pub fn open_around_the_clock(&self) {
        lock(&self.state).around_the_clock = true;
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.state).requests.clone()
    }

    /// Order POSTs received, whatever was answered (401s and faults included).
    pub fn order_posts(&self) -> usize {
        lock(&self.state).order_posts
    }

    /// Grants the token endpoint honoured, in order (`authorization_code`, `refresh_token`).
    pub fn grants(&self) -> Vec<String> {
        lock(&self.state).grants.clone()
    }

    /// Every order recorded, as it stands now.
    pub fn orders(&self) -> Vec<OrderSummary> {
        let s = lock(&self.state);
        let now = s.clock.now();
        s.orders
            .values()
            .map(|o| {
                let view = o.view(now);
                OrderSummary {
                    id: o.id.to_string(),
                    account_number: o.account_number.clone(),
                    symbol: o.symbol.clone(),
                    side: o.side,
                    shares: o.shares,
                    entered_at: o.entered_at,
                    status: view.status.to_string(),
                    filled: view.filled(),
                }
            })
            .collect()
    }

    /// Every token the fake ever issued (codes, access, refresh), to check
    /// none of them leaks anywhere.
    pub fn issued_tokens(&self) -> Vec<String> {
        let s = lock(&self.state);
        s.codes
            .keys()
            .chain(s.access.keys())
            .chain(s.refresh_tokens.keys())
            .cloned()
            .collect()
    }

    /// The refresh token currently valid for the newest login.
    pub fn current_refresh_token(&self) -> Option<String> {
        lock(&self.state)
            .lineages
            .last()
            .map(|l| l.current_refresh.clone())
    }

    /// Whether the market is open at `at` (the fake's calendar).
    pub fn is_open_at(&self, at: Timestamp) -> bool {
        lock(&self.state).open_at(at)
    }

    /// The next regular-session open after `at`.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        lock(&self.state).next_open(at)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// An opaque 64-hex-character hash, stable per account number.
fn hash_of(number: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, number.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

pub(super) fn message(status: u16, text: &str) -> Outcome {
    respond(Response::json(
        status,
        &json!({ "message": text, "errors": [text] }),
    ))
}

pub(super) fn respond(response: Response) -> Outcome {
    Outcome::Respond {
        response,
        delay: None,
    }
}

fn unauthorized() -> Outcome {
    respond(Response::json(
        401,
        &json!({"errors": [{"id": "1a2345b6-0000-4000-8000-000000000401", "status": 401,
            "title": "Unauthorized", "detail": "Client not authorized"}]}),
    ))
}

fn oauth_error(status: u16, error: &str, description: &str) -> Outcome {
    respond(Response::json(
        status,
        &json!({"error": error, "error_description": description}),
    ))
}

impl State {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn take_fault(&mut self, route: FaultRoute) -> Option<Fault> {
        self.faults.get_mut(&route).and_then(VecDeque::pop_front)
    }

    fn handle(&mut self, r: &Request) -> Outcome {
        let auth = r.header("authorization").unwrap_or_default();
        self.requests.push(SeenRequest {
            method: r.method.clone(),
            path: r.path.clone(),
            query: r.query.clone(),
            bearer: auth.starts_with("Bearer "),
            basic: auth.starts_with("Basic "),
            content_type: r.header("content-type").map(str::to_string),
            accept: r.header("accept").map(str::to_string),
            status: None,
        });
        if r.method == "POST" && r.path.trim_end_matches('/').ends_with("/orders") {
            self.order_posts += 1;
        }
        let correl = format!(
            "fake-{:08x}-0000-4000-8000-{:012x}",
            self.requests.len(),
            self.counter
        );
        let mut outcome = self.route(r);
        if let Outcome::Respond { response, .. } = &mut outcome {
            if let Some(seen) = self.requests.last_mut() {
                seen.status = Some(response.status);
            }
            response
                .headers
                .push(("Schwab-Client-CorrelId".into(), correl));
        }
        outcome
    }

    fn route(&mut self, r: &Request) -> Outcome {
        let segments: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).collect();
        match (r.method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "oauth", "authorize"]) => match self.authorize(&r.query_pairs()) {
                Ok(to) => respond(Response::new(302).with_header("Location", to)),
                Err(e) => message(400, &e),
            },
            ("POST", ["v1", "oauth", "token"]) => self.token(r),
            (_, ["trader", "v1", ..]) | (_, ["marketdata", "v1", ..]) => {
                if !self.bearer_ok(r) {
                    return unauthorized();
                }
                let route = if r.method == "POST" {
                    FaultRoute::PlaceOrder
                } else {
                    FaultRoute::Read
                };
                if let Some(f) = self.take_fault(route) {
                    return fault_outcome(f);
                }
                if route == FaultRoute::PlaceOrder
                    && let Some(fault) = self.chaos.as_mut().and_then(Chaos::draw)
                {
                    self.drawn.push(fault.clone());
                    match fault {
                        PlaceFault::Before(f) => return fault_outcome(f),
                        PlaceFault::After(reply) => self.next_replies.push_front(reply),
                    }
                }
                self.api(r, &segments)
            }
            _ => message(404, "no such route"),
        }
    }

    fn authorize(&mut self, q: &[(String, String)]) -> Result<String, String> {
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if get("client_id").as_deref() != Some(FAKE_APP_KEY) {
            return Err("unknown client_id".into());
        }
        let redirect = get("redirect_uri").ok_or("missing redirect_uri")?;
        if redirect != FAKE_CALLBACK {
            return Err("redirect_uri does not match the registered callback".into());
        }
        let n = self.next_id();
        let code = format!("C0.b2F1dGgyLmJkYy5zY2h3YWIuY29t.fake{n}-Xq7_Lm9@");
        self.codes.insert(
            code.clone(),
            Code {
                issued_at: self.now(),
                redirect_uri: redirect.clone(),
                used: false,
            },
        );
        let mut to =
            reqwest::Url::parse(&format!("{redirect}/")).map_err(|_| "bad redirect".to_string())?;
        to.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("session", &format!("46b905a8-cd91-4f55-9e20-{n:012}"));
        if let Some(state) = get("state") {
            to.query_pairs_mut().append_pair("state", &state);
        }
        Ok(to.to_string())
    }

    fn issue(&mut self, lineage: usize) -> Value {
        let n = self.next_id();
        let access = format!("I0.b2F1dGgyLmNkYy5zY2h3YWIuY29t.access{n}-Kz3_Vq@");
        let refresh = format!("R0.b2F1dGgyLmNkYy5zY2h3YWIuY29t.refresh{n}-Wp8_Jd@");
        self.access.insert(
            access.clone(),
            Access {
                issued_at: self.now(),
                revoked: false,
            },
        );
        self.refresh_tokens.insert(refresh.clone(), lineage);
        self.lineages[lineage].current_refresh = refresh.clone();
        json!({
            "expires_in": 1800, "token_type": "Bearer", "scope": "api",
            "refresh_token": refresh, "access_token": access,
            "id_token": format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake{n}.sig")
        })
    }

    fn token(&mut self, r: &Request) -> Outcome {
        let expected = format!(
            "Basic {}",
            base64(format!("{FAKE_APP_KEY}:{FAKE_APP_SECRET}").as_bytes())
        );
        if r.header("authorization") != Some(expected.as_str()) {
            return oauth_error(401, "invalid_client", "Client authentication failed");
        }
        if r.header("content-type") != Some("application/x-www-form-urlencoded") {
            return oauth_error(
                400,
                "invalid_request",
                "Content-Type must be application/x-www-form-urlencoded",
            );
        }
        if let Some(f) = self.take_fault(FaultRoute::Token) {
            return fault_outcome(f);
        }
        let form = pairs(&String::from_utf8_lossy(&r.body));
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let now = self.now();
        match get("grant_type").as_deref() {
            Some("authorization_code") => {
                let code = get("code").unwrap_or_default();
                let redirect = get("redirect_uri").unwrap_or_default();
                let Some(c) = self.codes.get_mut(&code) else {
                    return oauth_error(400, "invalid_grant", "unknown authorization code");
                };
                if c.used || now >= c.issued_at + CODE_LIFETIME {
                    return oauth_error(400, "invalid_grant", "authorization code expired or used");
                }
                if c.redirect_uri != redirect {
                    return oauth_error(400, "invalid_grant", "redirect_uri mismatch");
                }
                c.used = true;
                self.lineages.push(Lineage {
                    created_at: now,
                    current_refresh: String::new(),
                });
                self.grants.push("authorization_code".into());
                let body = self.issue(self.lineages.len() - 1);
                respond(Response::json(200, &body))
            }
            Some("refresh_token") => {
                let token = get("refresh_token").unwrap_or_default();
                let lineage = self.refresh_tokens.get(&token).copied();
                let valid = lineage.is_some_and(|l| {
                    self.lineages[l].current_refresh == token
                        && now < self.lineages[l].created_at + self.refresh_lifetime
                });
                let Some(l) = lineage.filter(|_| valid) else {
                    // The real doubly wrapped body (§1.8).
                    return oauth_error(
                        400,
                        "unsupported_token_type",
                        "400 Bad Request: \"{\"error_description\":\"Exception while authenticating refresh token [tokenDigest=R8QKLpffOFVUJuvqbJ0\\/1RNzqtrrnXrtTqQ6bCiRCMw=, Exception=Failed refresh token authentication [tokenDigest=R8QKLpffOFVUJuvqbJ0\\/1RNzqtrrnXrtTqQ6bCiRCMw=]]\",\"error\":\"refresh_token_authentication_error\"}\"",
                    );
                };
                self.grants.push("refresh_token".into());
                let body = self.issue(l);
                respond(Response::json(200, &body))
            }
            _ => oauth_error(400, "unsupported_grant_type", "grant_type"),
        }
    }

    fn bearer_ok(&self, r: &Request) -> bool {
        let Some(token) = r
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.access
            .get(token)
            .is_some_and(|a| !a.revoked && self.now() < a.issued_at + ACCESS_LIFETIME)
    }

    fn account_of_hash(&self, hash: &str) -> Option<String> {
        self.accounts
            .iter()
            .find(|(_, h)| h == hash)
            .map(|(n, _)| n.clone())
    }

    fn api(&mut self, r: &Request, segments: &[&str]) -> Outcome {
        let q = r.query_pairs();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match (r.method.as_str(), segments) {
            ("GET", ["trader", "v1", "accounts", "accountNumbers"]) => {
                let list: Vec<Value> = self
                    .accounts
                    .iter()
                    .map(|(n, h)| json!({"accountNumber": n, "hashValue": h}))
                    .collect();
                respond(Response::json(200, &Value::Array(list)))
            }
            ("GET", ["trader", "v1", "accounts"]) => {
                let with = get("fields").as_deref() == Some("positions");
                let list: Vec<Value> = self
                    .accounts
                    .clone()
                    .iter()
                    .map(|(n, _)| self.account_json(n, with))
                    .collect();
                respond(Response::json(200, &Value::Array(list)))
            }
            ("GET", ["trader", "v1", "accounts", hash]) => match self.account_of_hash(hash) {
                Some(n) => {
                    let with = get("fields").as_deref() == Some("positions");
                    respond(Response::json(200, &self.account_json(&n, with)))
                }
                None => message(400, "Invalid account number"),
            },
            (method, ["trader", "v1", "accounts", hash, "orders", rest @ ..]) => {
                let Some(number) = self.account_of_hash(hash) else {
                    return message(400, "Invalid account number");
                };
                match (method, rest) {
                    ("POST", []) => self.place(r, &number, hash),
                    ("GET", []) => self.list(
                        &number,
                        get("fromEnteredTime"),
                        get("toEnteredTime"),
                        get("status"),
                    ),
                    ("GET", [id]) => match id.parse::<u64>().ok().and_then(|i| self.orders.get(&i))
                    {
                        Some(o) if o.account_number == number => {
                            respond(Response::json(200, &o.json(self.now())))
                        }
                        _ => message(404, "Order not found"),
                    },
                    ("DELETE", [id]) => self.cancel(&number, id),
                    _ => message(404, "no such route"),
                }
            }
            ("GET", ["marketdata", "v1", "markets", "equity"]) => self.hours(get("date")),
            ("GET", ["marketdata", "v1", "markets"]) => {
                if !get("markets").is_some_and(|m| m.split(',').any(|x| x == "equity")) {
                    return message(400, "markets must include equity");
                }
                self.hours(get("date"))
            }
            _ => message(404, "no such route"),
        }
    }

    fn positions_of(&self, number: &str) -> BTreeMap<String, Decimal> {
        let now = self.now();
        let mut out: BTreeMap<String, Decimal> = self
            .base_positions
            .iter()
            .filter(|((n, _), _)| n == number)
            .map(|((_, s), q)| (s.clone(), *q))
            .collect();
        for o in self.orders.values().filter(|o| o.account_number == number) {
            let filled = Decimal::from(o.view(now).filled());
            let delta = match o.side {
                OrderSide::Buy => filled,
                OrderSide::Sell => -filled,
            };
            *out.entry(o.symbol.clone()).or_default() += delta;
        }
        out.retain(|_, q| !q.is_zero());
        out
    }

    /// (cash after the fills, cash less what working buys would cost).
    fn cash_of(&self, number: &str) -> (Decimal, Decimal) {
        let now = self.now();
        let (mut cash, mut held) = (self.base_cash, Decimal::ZERO);
        for o in self.orders.values().filter(|o| o.account_number == number) {
            let view = o.view(now);
            for (shares, price, _) in &view.fills {
                let paid = Decimal::from(*shares) * *price;
                match o.side {
                    OrderSide::Buy => cash -= paid,
                    OrderSide::Sell => cash += paid,
                }
            }
            let working = !matches!(view.status, "FILLED" | "CANCELED" | "REJECTED" | "EXPIRED");
            if working && o.side == OrderSide::Buy {
                let price = self
                    .prices
                    .get(&o.symbol)
                    .copied()
                    .unwrap_or(Decimal::from(100));
                held += Decimal::from(o.shares.saturating_sub(view.filled())) * price;
            }
        }
        (cash, cash - held)
    }

    fn account_json(&self, number: &str, with_positions: bool) -> Value {
        let (cash, available) = self.cash_of(number);
        let mut account = json!({
            "type": "MARGIN", "accountNumber": number, "roundTrips": 0, "isDayTrader": false,
            "isClosingOnlyRestricted": false, "pfcbFlag": false,
            "currentBalances": {"availableFunds": number_of(available),
                "availableFundsNonMarginableTrade": number_of(available),
                "buyingPower": number_of(available * Decimal::from(2)),
                "buyingPowerNonMarginableTrade": number_of(available),
                "cashBalance": number_of(cash), "liquidationValue": number_of(cash),
                "equity": number_of(cash)}
        });
        if with_positions {
            let positions: Vec<Value> = self
                .positions_of(number)
                .into_iter()
                .map(|(symbol, q)| {
                    let (long, short) = if q.is_sign_negative() { (Decimal::ZERO, -q) } else { (q, Decimal::ZERO) };
                    json!({
                        "shortQuantity": number_of(short), "longQuantity": number_of(long),
                        "settledLongQuantity": number_of(long), "settledShortQuantity": number_of(short),
                        "averagePrice": 100.0, "marketValue": 0.0,
                        "instrument": {"assetType": "EQUITY", "cusip": "000000000", "symbol": symbol}
                    })
                })
                .collect();
            account["positions"] = Value::Array(positions);
        }
        json!({ "securitiesAccount": account, "aggregatedBalance": {"currentLiquidationValue": 100000.0, "liquidationValue": 100000.0} })
    }

    fn place(&mut self, r: &Request, number: &str, hash: &str) -> Outcome {
        let reply = self.next_replies.pop_front().unwrap_or(OrderReply::Created);
        let Ok(body) = serde_json::from_slice::<Value>(&r.body) else {
            return message(
                400,
                "A validation error occurred while processing the request.",
            );
        };
        if !body["requestedDestination"].is_null() {
            return message(400, "requestedDestination is not allowed");
        }
        let leg = &body["orderLegCollection"][0];
        let symbol = leg["instrument"]["symbol"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let side = match leg["instruction"].as_str() {
            Some("BUY") | Some("BUY_TO_COVER") => OrderSide::Buy,
            Some("SELL") | Some("SELL_SHORT") => OrderSide::Sell,
            _ => return message(400, "orderLegCollection[0].instruction is invalid"),
        };
        let Some(shares) = leg["quantity"].as_u64().filter(|q| *q > 0) else {
            return message(400, "quantity must be a whole number of shares above 0");
        };
        if symbol.is_empty()
            || body["orderType"].as_str() != Some("MARKET")
            || body["duration"].as_str() != Some("DAY")
            || body["session"].as_str() != Some("NORMAL")
            || body["orderStrategyType"].as_str() != Some("SINGLE")
        {
            return message(
                400,
                "only SINGLE MARKET DAY NORMAL equity orders are supported by the fake",
            );
        }
        let now = self.now();
        let active_from = if self.open_at(now) {
            Some(now)
        } else {
            self.next_open(now)
        };
        let script = self
            .next_scripts
            .pop_front()
            .unwrap_or_else(|| OrderScript::FillNow {
                price: self
                    .prices
                    .get(&symbol)
                    .copied()
                    .unwrap_or(Decimal::from(100)),
            });
        let id = self.next_id();
        self.orders.insert(
            id,
            FakeOrder {
                id,
                account_number: number.to_string(),
                symbol,
                side,
                shares,
                entered_at: now,
                active_from,
                script,
                canceled_at: None,
                listed_from: now + self.listing_lag.0,
                hidden_lists: self.listing_lag.1,
                garbled: false,
            },
        );
        let location = format!("{}/trader/v1/accounts/{hash}/orders/{id}", self.base_url);
        match reply {
            OrderReply::Created => respond(Response::new(201).with_header("Location", location)),
            OrderReply::NoLocation => respond(Response::new(201)),
            OrderReply::DropAfterAccept => Outcome::Drop,
            OrderReply::ErrorAfterAccept(status) => message(status, "Internal error"),
            OrderReply::Delay(d) => Outcome::Respond {
                response: Response::new(201).with_header("Location", location),
                delay: Some(d),
            },
            OrderReply::TooManyAfterAccept { retry_after } => {
                fault_outcome(Fault::TooManyRequests { retry_after })
            }
            OrderReply::TruncatedAfterAccept => {
                let mut r = Response::json(201, &json!({"note": "accepted; answer cut halfway"}))
                    .with_header("Location", location);
                r.truncated = true;
                respond(r)
            }
        }
    }

    fn list(
        &mut self,
        number: &str,
        from: Option<String>,
        to: Option<String>,
        status: Option<String>,
    ) -> Outcome {
        let (Some(from), Some(to)) = (
            from.as_deref().and_then(parse_time),
            to.as_deref().and_then(parse_time),
        ) else {
            return message(
                400,
                "fromEnteredTime and toEnteredTime are required (yyyy-MM-dd'T'HH:mm:ss.SSSZ)",
            );
        };
        let now = self.now();
        if from + 60 * DAY < now {
            return message(400, "fromEnteredTime must be within 60 days");
        }
        // Listing lag: an order placed a moment ago is not listed yet (this
        // call counts towards the list calls it is hidden from).
        let mut hidden = BTreeSet::new();
        for o in self.orders.values_mut() {
            if o.account_number == number && (now < o.listed_from || o.hidden_lists > 0) {
                o.hidden_lists = o.hidden_lists.saturating_sub(1);
                hidden.insert(o.id);
            }
        }
        // Schwab keeps whole seconds of enteredTime.
        let mut list: Vec<&FakeOrder> = self
            .orders
            .values()
            .filter(|o| o.account_number == number && !hidden.contains(&o.id))
            .filter(|o| {
                let entered = o.entered_at - o.entered_at % SECOND;
                entered >= from && entered <= to
            })
            .filter(|o| status.as_deref().is_none_or(|s| o.view(now).status == s))
            .collect();
        list.sort_by(|a, b| b.entered_at.cmp(&a.entered_at).then(b.id.cmp(&a.id)));
        let body: Vec<Value> = list.iter().map(|o| o.json(now)).collect();
        respond(Response::json(200, &Value::Array(body)))
    }

    fn cancel(&mut self, number: &str, id: &str) -> Outcome {
        let now = self.now();
        let Some(o) = id.parse::<u64>().ok().and_then(|i| self.orders.get_mut(&i)) else {
            return message(404, "Order not found");
        };
        if o.account_number != number {
            return message(404, "Order not found");
        }
        if matches!(
            o.view(now).status,
            "FILLED" | "CANCELED" | "REJECTED" | "EXPIRED"
        ) {
            return message(400, "Order is not cancelable");
        }
        o.canceled_at = Some(now);
        respond(Response::new(200))
    }

    fn open_day(&self, day: i64) -> bool {
        self.around_the_clock || (!matches!(weekday(day), 0 | 6) && !self.holidays.contains(&day))
    }

    /// The regular session of an open `day`: start and end instants.
    fn regular(&self, day: i64) -> (Timestamp, Timestamp) {
        if self.around_the_clock {
            (new_york_instant(day, 0, 0), new_york_instant(day + 1, 0, 0))
        } else {
            (new_york_instant(day, 9, 30), new_york_instant(day, 16, 0))
        }
    }

    fn open_at(&self, at: Timestamp) -> bool {
        let day = new_york_day(at);
        let (start, end) = self.regular(day);
        self.open_day(day) && at >= start && at < end
    }

    fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        let today = new_york_day(at);
        (today..today + 15)
            .filter(|d| self.open_day(*d))
            .map(|d| self.regular(d).0)
            .find(|open| *open > at)
    }

    fn hours(&self, date: Option<String>) -> Outcome {
        let day = match date {
            Some(d) => match parse_date(&d) {
                Some(day) => day,
                None => return message(400, "date must be YYYY-MM-DD"),
            },
            None => new_york_day(self.now()),
        };
        let date = format_date(day);
        let body = if self.open_day(day) {
            let t = |h, m| format_new_york_time(new_york_instant(day, h, m));
            let (start, end) = self.regular(day);
            let (start, end) = (format_new_york_time(start), format_new_york_time(end));
            json!({"equity": {"EQ": {
                "category": "NULL", "date": date, "exchange": "NULL", "isOpen": true,
                "marketType": "EQUITY", "product": "EQ", "productName": "equity",
                "sessionHours": {
                    "preMarket": [{"start": t(7, 0), "end": t(9, 30)}],
                    "regularMarket": [{"start": start, "end": end}],
                    "postMarket": [{"start": t(16, 0), "end": t(20, 0)}]
                }
            }}})
        } else {
            json!({"equity": {"equity": {"date": date, "marketType": "EQUITY", "product": "equity", "isOpen": false}}})
        };
        respond(Response::json(200, &body))
    }
}

fn number_of(d: Decimal) -> Value {
    let text = if d.fract().is_zero() {
        format!("{}.0", d.trunc())
    } else {
        d.normalize().to_string()
    };
    text.parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or(Value::Null)
}
