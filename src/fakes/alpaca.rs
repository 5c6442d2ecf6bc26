//! A stateful, hostile Alpaca Broker API on 127.0.0.1 for tests: one
//! trading account (`FAKE_ACCOUNT`), HTTP Basic auth checked against
//! `FAKE_KEY`/`FAKE_SECRET`, market orders that fill at the set price while
//! the market is open (and wait, `accepted`, while it is closed), positions
//! that follow the fills, a duplicate `client_order_id` refused with 422,
//! buying power that refuses a buy with 403, the clock, the calendar
//! (04:00–09:30 pre-market, 16:00–20:00 after-hours, New York, weekdays)
//! and the account: `cash` (down on buys, up on sells),
//! `non_marginable_buying_power` (cash less what open buys hold) and each
//! position's `qty_available` (less what open sells hold). Orders as Alpaca
//! takes them: market, or with `extended_hours: true` only a DAY limit
//! order with a `limit_price` of at most two decimals (a market order there
//! is refused with 422); a limit order fills only at a price its limit
//! allows, an extended-hours one only in the regular or an extended
//! session; a fractional `qty` only when the account allows it
//! ([`FakeAlpaca::set_fractional`]). Every order POST is counted at the
//! fake, before any fault, by client order id ([`FakeAlpaca::posts`]).
//! Faults, scripted or drawn from a seed: the order taken and its answer
//! lost, a 5xx or a cut or malformed body after acting, a 429 or a 503
//! before acting, and a listing lag (the order not found by its client id
//! for a few looks); on reads ([`FakeAlpaca::fail_next_read`]): a status,
//! a dropped connection, a cut or malformed body, a slow answer.

use crate::fakes::faults::{Dice, Kind, ListingLag, Odds, PeerFault, Plan, Sends, Shows};
use crate::fakes::http::{Outcome, Request, Response, Server};
use crate::fakes::lock;
use crate::model::Secret;
use crate::model::time::format_rfc3339 as format_time;
use crate::model::{Clock, Timestamp};
use crate::venue::alpaca::{AlpacaConfig, AlpacaSecrets};
use crate::venue::schwab::clock_text::{format_date, new_york_day, new_york_instant, weekday};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

pub const FAKE_ACCOUNT: &str = "904837e3-3b76-47ec-b432-046db621571b";
pub const FAKE_KEY: &str = "CK-FAKE-KEY-5c1e";
pub const FAKE_SECRET: &str = "fake-secret-9d1f0a";

/// What happens to one order POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceFault {
    /// Not taken: this status (429 or 5xx) before acting.
    Before(u16),
    /// Taken, then the connection closes without an answer.
    ActThenDrop,
    /// Taken, then this status (a 5xx).
    ActThen(u16),
    /// Taken, then a 200 whose body is not JSON.
    ActThenMalformed,
    /// Taken, then a 200 announced whole and cut halfway.
    ActThenTruncated,
}

impl PeerFault for PlaceFault {
    fn kind(&self) -> Kind {
        match self {
            PlaceFault::Before(429) => Kind::before(Shows::TooManyRequests),
            PlaceFault::Before(_) => Kind::before(Shows::ServerError),
            PlaceFault::ActThenDrop => Kind::after(Shows::NoAnswer),
            PlaceFault::ActThen(_) => Kind::after(Shows::ServerError),
            PlaceFault::ActThenMalformed => Kind::after(Shows::Malformed),
            PlaceFault::ActThenTruncated => Kind::after(Shows::Cut),
        }
    }
}

impl PlaceFault {
    pub fn acts(self) -> bool {
        PeerFault::acts(&self)
    }

    /// Every fault of the place path, before and after acting.
    pub fn all() -> Vec<PlaceFault> {
        vec![
            PlaceFault::Before(429),
            PlaceFault::Before(503),
            PlaceFault::ActThenDrop,
            PlaceFault::ActThen(500),
            PlaceFault::ActThen(504),
            PlaceFault::ActThenMalformed,
            PlaceFault::ActThenTruncated,
        ]
    }
}

/// What happens to one read (any GET) before it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFault {
    /// This status (a 5xx or 429) with an error body.
    Status(u16),
    /// The connection closes without an answer.
    Drop,
    /// A 200 whose body is not JSON.
    Malformed,
    /// A 200 announced whole and cut halfway.
    Truncated,
    /// The right answer, this many ms late (past the client's timeout).
    Slow(u64),
}

impl PeerFault for ReadFault {
    /// A read changes nothing at the broker: every read fault is "before".
    fn kind(&self) -> Kind {
        Kind::before(match self {
            ReadFault::Status(429) => Shows::TooManyRequests,
            ReadFault::Status(_) => Shows::ServerError,
            ReadFault::Drop => Shows::NoAnswer,
            ReadFault::Malformed => Shows::Malformed,
            ReadFault::Truncated => Shows::Cut,
            ReadFault::Slow(_) => Shows::Late,
        })
    }
}

#[derive(Debug, Clone)]
pub struct FakeOrder {
    pub id: String,
    pub client_order_id: String,
    pub symbol: String,
    pub side: String,
    pub qty: Decimal,
    /// `market` or `limit`.
    pub kind: String,
    pub limit_price: Option<Decimal>,
    pub extended_hours: bool,
    pub status: String,
    pub filled_avg_price: Option<Decimal>,
    pub created_at: Timestamp,
    pub filled_at: Option<Timestamp>,
    /// When the POST that placed it reached the fake (the exposure-window
    /// bench's "order submitted").
    pub received: std::time::Instant,
}

struct State {
    clock: Arc<dyn Clock>,
    orders: Vec<FakeOrder>,
    prices: BTreeMap<String, Decimal>,
    positions: BTreeMap<String, Decimal>,
    cash: Decimal,
    open: bool,
    fractional: bool,
    /// Scripted faults of reads (any GET).
    reads: Plan<ReadFault>,
    /// Order POSTs, by client order id, counted before any fault.
    posts: Sends<String>,
    /// Scripted and seeded faults of order POSTs.
    places: Plan<PlaceFault>,
    /// The next lookups by client order id that answer 404 anyway.
    lookup_lag: ListingLag,
}

/// The fake's plan names: order POSTs and reads.
const PLACE: &str = "place";
const READ: &str = "read";

fn error(status: u16, code: u64, message: &str) -> Outcome {
    Response::json(status, &json!({"code": code, "message": message})).now()
}

fn ok(v: &Value) -> Outcome {
    Response::json(200, v).now()
}

impl State {
    fn view(&self, o: &FakeOrder) -> Value {
        let filled = o.status == "filled";
        json!({
            "id": o.id, "client_order_id": o.client_order_id, "symbol": o.symbol,
            "side": o.side, "qty": o.qty.to_string(), "type": o.kind, "time_in_force": "day",
            "limit_price": o.limit_price.map(|p| p.to_string()),
            "extended_hours": o.extended_hours,
            "filled_qty": if filled { o.qty.to_string() } else { "0".into() },
            "filled_avg_price": o.filled_avg_price.map(|p| p.to_string()),
            "status": o.status, "created_at": format_time(o.created_at),
            "filled_at": o.filled_at.map(format_time),
            "updated_at": format_time(self.clock.now()),
        })
    }

    /// Whether now is a pre-market or after-hours session (weekdays).
    fn extended_now(&self) -> bool {
        if self.open {
            return false;
        }
        let now = self.clock.now();
        let day = new_york_day(now);
        if matches!(weekday(day), 0 | 6) {
            return false;
        }
        let at = |h, m| new_york_instant(day, h, m);
        (now >= at(4, 0) && now < at(9, 30)) || (now >= at(16, 0) && now < at(20, 0))
    }

    /// Fill order `i` if it may fill now: the market open (or an extended
    /// session for an extended-hours order) and the price within its limit.
    fn fill(&mut self, i: usize) {
        let now = self.clock.now();
        let extended = self.extended_now();
        let o = &self.orders[i];
        let Some(price) = self.prices.get(&o.symbol).copied() else {
            return;
        };
        let session = self.open || (o.extended_hours && extended);
        let within = match (o.limit_price, o.side.as_str()) {
            (None, _) => true,
            (Some(l), "buy") => price <= l,
            (Some(l), _) => price >= l,
        };
        if o.status != "accepted" || !session || !within {
            return;
        }
        let o = &mut self.orders[i];
        o.status = "filled".into();
        o.filled_avg_price = Some(price);
        o.filled_at = Some(now);
        let signed = if o.side == "buy" { o.qty } else { -o.qty };
        *self.positions.entry(o.symbol.clone()).or_default() += signed;
        self.cash -= signed * price;
    }

    /// Cash less what open buys hold (at their limit, or the price now).
    fn non_marginable_buying_power(&self) -> Decimal {
        let held: Decimal = self
            .orders
            .iter()
            .filter(|o| o.status == "accepted" && o.side == "buy")
            .map(|o| {
                let price = o
                    .limit_price
                    .or_else(|| self.prices.get(&o.symbol).copied())
                    .unwrap_or_default();
                o.qty * price
            })
            .sum();
        self.cash - held
    }

    /// Shares of `symbol` held long less what open sells hold.
    fn qty_available(&self, symbol: &str) -> Decimal {
        let held: Decimal = self
            .orders
            .iter()
            .filter(|o| o.status == "accepted" && o.side == "sell" && o.symbol == symbol)
            .map(|o| o.qty)
            .sum();
        let qty = self.positions.get(symbol).copied().unwrap_or_default();
        (qty - held).max(Decimal::ZERO)
    }

    fn fill_waiting(&mut self) {
        for i in 0..self.orders.len() {
            self.fill(i);
        }
    }

    fn read_fault(&mut self) -> Option<ReadFault> {
        let n = self.reads.arrive(READ);
        self.reads.decide(READ, n, None)
    }

    fn draw(&mut self) -> Option<PlaceFault> {
        let n = self.places.arrive(PLACE);
        self.places.decide(PLACE, n, None)
    }

    fn place(&mut self, body: &[u8]) -> Outcome {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return error(422, 40010000, "request body is not JSON");
        };
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let client_order_id = s("client_order_id");
        self.posts.record(client_order_id.clone(), None);
        let fault = self.draw();
        if let Some(PlaceFault::Before(status)) = fault {
            return error(status, 50000000, "try again later");
        }
        let (symbol, side, kind) = (s("symbol"), s("side"), s("type"));
        let Some(qty) = Decimal::from_str(&s("qty"))
            .ok()
            .filter(|q| *q > Decimal::ZERO)
        else {
            return error(422, 40010001, "qty must be a positive number");
        };
        if !qty.fract().is_zero() && !self.fractional {
            return error(
                403,
                40310000,
                "fractional orders are not enabled for the account",
            );
        }
        if !["buy", "sell"].contains(&side.as_str())
            || !["market", "limit"].contains(&kind.as_str())
        {
            return error(
                422,
                40010001,
                "side must be buy or sell, type market or limit",
            );
        }
        if s("time_in_force") != "day" {
            return error(422, 40010001, "time_in_force must be day");
        }
        let extended_hours = match v.get("extended_hours") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return error(422, 40010001, "extended_hours must be a boolean"),
        };
        let limit_price = match (kind.as_str(), Decimal::from_str(&s("limit_price")).ok()) {
            ("limit", Some(p)) if p > Decimal::ZERO && p.scale() <= 2 => Some(p),
            ("limit", _) => {
                return error(
                    422,
                    40010001,
                    "limit_price must be a positive price of at most 2 decimals",
                );
            }
            (_, None) if v.get("limit_price").is_none_or(Value::is_null) => None,
            _ => return error(422, 40010001, "limit_price is only for limit orders"),
        };
        if extended_hours && kind != "limit" {
            return error(
                422,
                40010001,
                "extended hours order must be DAY limit orders",
            );
        }
        if self
            .orders
            .iter()
            .any(|o| o.client_order_id == client_order_id)
        {
            return error(422, 40010001, "client_order_id must be unique");
        }
        let Some(price) = self.prices.get(&symbol).copied() else {
            return error(422, 40010001, &format!("asset \"{symbol}\" not found"));
        };
        if side == "buy" && qty * limit_price.unwrap_or(price) > self.non_marginable_buying_power()
        {
            return error(403, 40310000, "insufficient buying power");
        }
        let n = self.orders.len() + 1;
        self.orders.push(FakeOrder {
            id: format!("61e69015-8549-4bfd-b9c3-{n:012x}"),
            client_order_id,
            symbol,
            side,
            qty,
            kind,
            limit_price,
            extended_hours,
            status: "accepted".into(),
            filled_avg_price: None,
            created_at: self.clock.now(),
            filled_at: None,
            received: std::time::Instant::now(),
        });
        self.fill(n - 1);
        let view = self.view(&self.orders[n - 1]);
        match fault {
            Some(PlaceFault::ActThenDrop) => Outcome::Drop,
            Some(PlaceFault::ActThen(status)) => error(status, 50000000, "internal error"),
            Some(PlaceFault::ActThenMalformed) => Response {
                body: b"{\"id\": \"61e69015-".to_vec(),
                ..Response::new(200)
            }
            .now(),
            Some(PlaceFault::ActThenTruncated) => Response::json(200, &view).cut().now(),
            _ => ok(&view),
        }
    }

    fn handle(&mut self, r: &Request) -> Outcome {
        let expected = format!(
            "Basic {}",
            crate::net::base64(format!("{FAKE_KEY}:{FAKE_SECRET}").as_bytes())
        );
        if r.header("authorization") != Some(expected.as_str()) {
            return error(401, 40110000, "request is not authorized");
        }
        if r.method == "GET"
            && let Some(fault) = self.read_fault()
        {
            match fault {
                ReadFault::Status(status) => return error(status, 50000000, "try again later"),
                ReadFault::Drop => return Outcome::Drop,
                ReadFault::Malformed => {
                    return Response {
                        body: b"{\"cash\": \"10".to_vec(),
                        ..Response::new(200)
                    }
                    .now();
                }
                ReadFault::Truncated | ReadFault::Slow(_) => {
                    let Outcome::Respond {
                        mut response,
                        delay: _,
                    } = self.route(r)
                    else {
                        return Outcome::Drop;
                    };
                    let delay = match fault {
                        ReadFault::Slow(ms) => Some(std::time::Duration::from_millis(ms)),
                        _ => {
                            response.truncated = true;
                            None
                        }
                    };
                    return Outcome::Respond { response, delay };
                }
            }
        }
        self.route(r)
    }

    fn route(&mut self, r: &Request) -> Outcome {
        let account = format!("/v1/trading/accounts/{FAKE_ACCOUNT}/");
        if r.path == "/v1/calendar" {
            let q = r.query_pairs();
            let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let (Some(start), Some(end)) = (get("start"), get("end")) else {
                return error(422, 40010001, "start and end are required");
            };
            let (Some(from), Some(to)) = (
                crate::venue::schwab::clock_text::parse_date(&start),
                crate::venue::schwab::clock_text::parse_date(&end),
            ) else {
                return error(422, 40010001, "start and end must be YYYY-MM-DD");
            };
            let days: Vec<Value> = (from..=to.min(from + 31))
                .filter(|d| !matches!(weekday(*d), 0 | 6))
                .map(|d| {
                    json!({"date": format_date(d), "open": "09:30", "close": "16:00",
                        "session_open": "0400", "session_close": "2000",
                        "settlement_date": format_date(d + 1)})
                })
                .collect();
            return ok(&Value::Array(days));
        }
        if r.path == "/v1/clock" {
            let now = self.clock.now();
            return ok(&json!({"timestamp": format_time(now), "is_open": self.open,
                "next_open": format_time(now + 16 * crate::model::time::HOUR),
                "next_close": format_time(now + 2 * crate::model::time::HOUR)}));
        }
        let Some(rest) = r.path.strip_prefix(&account) else {
            return error(404, 40410000, "not found");
        };
        match (r.method.as_str(), rest) {
            ("POST", "orders") => self.place(&r.body),
            ("GET", "orders:by_client_order_id") => {
                let id = r
                    .query_pairs()
                    .into_iter()
                    .find(|(k, _)| k == "client_order_id")
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                if self.lookup_lag.hides(self.clock.now()) {
                    return error(404, 40410000, "order not found");
                }
                match self.orders.iter().find(|o| o.client_order_id == id) {
                    Some(o) => ok(&self.view(o)),
                    None => error(404, 40410000, "order not found"),
                }
            }
            ("GET", "positions") => ok(&Value::Array(
                self.positions
                    .iter()
                    .filter(|(_, q)| !q.is_zero())
                    .map(|(s, q)| {
                        let available = if q.is_sign_negative() {
                            Decimal::ZERO
                        } else {
                            self.qty_available(s)
                        };
                        json!({"symbol": s, "qty": q.abs().to_string(),
                            "qty_available": available.to_string(),
                            "side": if q.is_sign_negative() { "short" } else { "long" }})
                    })
                    .collect(),
            )),
            ("GET", "account") => {
                let nm = self.non_marginable_buying_power();
                ok(&json!({"id": FAKE_ACCOUNT, "status": "ACTIVE",
                    "cash": self.cash.to_string(),
                    "non_marginable_buying_power": nm.to_string(),
                    "buying_power": (nm * Decimal::from(2)).to_string()}))
            }
            ("GET", path) => match path.strip_prefix("orders/") {
                Some(id) => match self.orders.iter().find(|o| o.id == id) {
                    Some(o) => ok(&self.view(o)),
                    None => error(404, 40410000, "order not found"),
                },
                None => error(404, 40410000, "not found"),
            },
            _ => error(405, 40510000, "method not allowed"),
        }
    }
}

/// The fake server. Dropping it stops it.
pub struct FakeAlpaca {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl FakeAlpaca {
    /// Listen on 127.0.0.1:0 with `clock` as the fake's time; the market
    /// open, $1 000 000 of cash.
    pub async fn start(clock: Arc<dyn Clock>) -> std::io::Result<FakeAlpaca> {
        let state = Arc::new(Mutex::new(State {
            clock,
            orders: Vec::new(),
            prices: BTreeMap::new(),
            positions: BTreeMap::new(),
            cash: Decimal::from(1_000_000),
            open: true,
            fractional: false,
            reads: Plan::default(),
            posts: Sends::default(),
            places: Plan::default(),
            lookup_lag: ListingLag::default(),
        }));
        let serving = state.clone();
        let server = Server::serve(move |request| lock(&serving).handle(request)).await?;
        Ok(FakeAlpaca { server, state })
    }

    pub fn config(&self) -> AlpacaConfig {
        AlpacaConfig {
            base_url: self.server.url(),
            account_id: FAKE_ACCOUNT.into(),
            timeout_ms: 2_000,
            ..AlpacaConfig::default()
        }
    }

    pub fn secrets() -> AlpacaSecrets {
        AlpacaSecrets {
            key: Secret::new(FAKE_KEY.into()),
            secret: Secret::new(FAKE_SECRET.into()),
        }
    }

    pub fn set_price(&self, symbol: &str, price: Decimal) {
        lock(&self.state).prices.insert(symbol.into(), price);
    }

    /// A position changed at the broker by hand.
    pub fn set_position(&self, symbol: &str, quantity: Decimal) {
        lock(&self.state).positions.insert(symbol.into(), quantity);
    }

    pub fn set_cash(&self, cash: &str) {
        lock(&self.state).cash = Decimal::from_str(cash).unwrap_or_default();
    }

    /// Open or close the market; opening fills what waited (within its
    /// limit).
    pub fn set_open(&self, open: bool) {
        let mut s = lock(&self.state);
        s.open = open;
        s.fill_waiting();
    }

    /// Whether the account allows fractional orders (default: no).
    pub fn set_fractional(&self, allowed: bool) {
        lock(&self.state).fractional = allowed;
    }

    /// The next read (any GET) meets `fault` (queued: several reads in turn).
    pub fn fail_next_read(&self, fault: ReadFault) {
        lock(&self.state).reads.next(READ, fault);
    }

    /// Move `symbol`'s price; waiting orders whose limit now allows fill.
    pub fn move_price(&self, symbol: &str, price: Decimal) {
        let mut s = lock(&self.state);
        s.prices.insert(symbol.into(), price);
        s.fill_waiting();
    }

    pub fn fail_next_place(&self, fault: PlaceFault) {
        lock(&self.state).places.next(PLACE, fault);
    }

    /// One order POST in `one_in` fails with a fault drawn from `seed`.
    pub fn place_faults_from_seed(&self, seed: u64, one_in: u64) {
        let dice = Dice::new(seed, Odds::OneIn(one_in), PlaceFault::all());
        lock(&self.state).places.seed(dice);
    }

    pub fn drawn_faults(&self) -> Vec<PlaceFault> {
        lock(&self.state).places.drawn()
    }

    /// The next `looks` lookups by client order id answer 404.
    pub fn set_lookup_lag(&self, looks: u32) {
        lock(&self.state).lookup_lag = ListingLag::looks(looks);
    }

    /// Order POSTs per client order id, counted before any fault.
    pub fn posts(&self) -> BTreeMap<String, u32> {
        lock(&self.state).posts.by_key().clone()
    }

    pub fn orders(&self) -> Vec<FakeOrder> {
        lock(&self.state).orders.clone()
    }
}
