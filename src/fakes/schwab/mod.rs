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

mod account;
pub(crate) mod faults;
mod oauth;
mod orders;

pub use faults::{Fault, FaultRoute, OrderReply, PlaceFault};

pub use orders::{FillLeg, OrderScript, OrderView, REJECT_BUYING_POWER};

use self::faults::fault_outcome;
use self::oauth::{Access, Code, Lineage};
use self::orders::FakeOrder;
use crate::fakes::faults::{Dice, Odds, Plan, Sends};
use crate::fakes::http::{Outcome, Request, Response, Server, pairs};
use crate::fakes::lock;
use crate::model::Secret;
use crate::model::time::{DAY, MINUTE, SECOND};
use crate::model::{Clock, Timestamp};
use crate::venue::broker::OrderSide;
use crate::venue::schwab::clock_text::parse_date;
use crate::venue::schwab::{EncryptionKey, SchwabConfig, SchwabSecrets};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

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
    /// The faults of every route: scripted per route, seeded on order POSTs.
    plan: Plan<PlaceFault>,
    prices: HashMap<String, Decimal>,
    base_positions: BTreeMap<(String, String), Decimal>,
    /// Cash before any fill.
    base_cash: Decimal,
    holidays: BTreeSet<i64>,
    /// The regular session spans every whole day (for tests whose keeper
    /// runs on the wall clock, at whatever hour CI runs them).
    around_the_clock: bool,
    requests: Vec<SeenRequest>,
    /// Every order POST (Schwab has no idempotency key: one identity).
    posts: Sends<()>,
    /// Listing lag of orders placed from now on: (ms, list calls).
    listing_lag: (u64, u32),
}

/// The fake server. Dropping it stops it.
pub struct FakeSchwab {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl FakeSchwab {
    /// Listen on 127.0.0.1:0 with `clock` as the fake's time.
    pub async fn start(clock: Arc<dyn Clock>) -> std::io::Result<FakeSchwab> {
        let accounts = vec![
            (FAKE_OTHER_ACCOUNT.to_string(), hash_of(FAKE_OTHER_ACCOUNT)),
            (FAKE_ACCOUNT.to_string(), hash_of(FAKE_ACCOUNT)),
        ];
        let state = Arc::new(Mutex::new(State {
            clock,
            base_url: String::new(),
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
            plan: Plan::default(),
            prices: HashMap::new(),
            base_positions: BTreeMap::new(),
            base_cash: Decimal::from(100_000),
            holidays: BTreeSet::new(),
            around_the_clock: false,
            requests: Vec::new(),
            posts: Sends::default(),
            listing_lag: (0, 0),
        }));
        let serving = state.clone();
        let server = Server::serve(move |request| lock(&serving).handle(request)).await?;
        lock(&state).base_url = server.url();
        Ok(FakeSchwab { server, state })
    }

    /// `http://127.0.0.1:<port>`: both the API and the OAuth base.
    pub fn url(&self) -> String {
        self.server.url()
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
            .plan
            .next(route.call(), PlaceFault::Before(fault));
    }

    /// Every order POST from now on meets one of [`PlaceFault::all`] in
    /// `one_in` calls, drawn from `seed` (the same seed, the same faults).
    pub fn place_faults_from_seed(&self, seed: u64, one_in: u64) {
        let dice = Dice::new(seed, Odds::OneIn(one_in), PlaceFault::all())
            .only(&[FaultRoute::PlaceOrder.call()]);
        lock(&self.state).plan.seed(dice);
    }

    /// The seeded faults drawn so far, in order.
    pub fn drawn_faults(&self) -> Vec<PlaceFault> {
        lock(&self.state).plan.drawn()
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
        lock(&self.state).posts.total()
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

impl State {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// The fault this call of `route` meets, if any (scripted, then seeded).
    fn fault_for(&mut self, route: FaultRoute) -> Option<PlaceFault> {
        let n = self.plan.arrive(route.call());
        self.plan.decide(route.call(), n, None)
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
            self.posts.record((), None);
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
                match self.fault_for(route) {
                    Some(PlaceFault::Before(f)) => return fault_outcome(f),
                    Some(PlaceFault::After(reply)) => self.next_replies.push_front(reply),
                    None => {}
                }
                self.api(r, &segments)
            }
            _ => message(404, "no such route"),
        }
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
}
