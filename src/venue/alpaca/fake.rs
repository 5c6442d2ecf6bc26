//! A stateful, hostile Alpaca Broker API on 127.0.0.1 for tests: one
//! trading account (`FAKE_ACCOUNT`), HTTP Basic auth checked against
//! `FAKE_KEY`/`FAKE_SECRET`, market orders that fill at the set price while
//! the market is open (and wait, `accepted`, while it is closed), positions
//! that follow the fills, a duplicate `client_order_id` refused with 422,
//! buying power that refuses a buy with 403, the clock and the account.
//! Every order POST is counted at the fake, before any fault, by client
//! order id ([`FakeAlpaca::posts`]). Faults, scripted or drawn from a seed:
//! the order taken and its answer lost, a 5xx or a cut or malformed body
//! after acting, a 429 or a 503 before acting, and a listing lag (the
//! order not found by its client id for a few looks).

use super::{AlpacaConfig, AlpacaSecrets};
use crate::config::Secret;
use crate::model::time::format_rfc3339 as format_time;
use crate::model::{Clock, Timestamp};
use crate::venue::schwab::fake::http::{Outcome, Request, Response, serve};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

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

impl PlaceFault {
    pub fn acts(self) -> bool {
        !matches!(self, PlaceFault::Before(_))
    }

    fn all() -> [PlaceFault; 7] {
        [
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

#[derive(Debug, Clone)]
pub struct FakeOrder {
    pub id: String,
    pub client_order_id: String,
    pub symbol: String,
    pub side: String,
    pub qty: u64,
    pub status: String,
    pub filled_avg_price: Option<Decimal>,
    pub created_at: Timestamp,
    pub filled_at: Option<Timestamp>,
}

struct State {
    clock: Arc<dyn Clock>,
    orders: Vec<FakeOrder>,
    prices: BTreeMap<String, Decimal>,
    positions: BTreeMap<String, Decimal>,
    cash: Decimal,
    open: bool,
    posts: BTreeMap<String, u32>,
    faults: VecDeque<PlaceFault>,
    /// (xorshift state, one in how many POSTs fails).
    seeded: Option<(u64, u64)>,
    drawn: Vec<PlaceFault>,
    /// The next lookups by client order id that answer 404 anyway.
    lookup_lag: u32,
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn error(status: u16, code: u64, message: &str) -> Outcome {
    Outcome::Respond {
        response: Response::json(status, &json!({"code": code, "message": message})),
        delay: None,
    }
}

fn ok(v: &Value) -> Outcome {
    Outcome::Respond {
        response: Response::json(200, v),
        delay: None,
    }
}

impl State {
    fn view(&self, o: &FakeOrder) -> Value {
        let filled = o.status == "filled";
        json!({
            "id": o.id, "client_order_id": o.client_order_id, "symbol": o.symbol,
            "side": o.side, "qty": o.qty.to_string(), "type": "market", "time_in_force": "day",
            "filled_qty": if filled { o.qty.to_string() } else { "0".into() },
            "filled_avg_price": o.filled_avg_price.map(|p| p.to_string()),
            "status": o.status, "created_at": format_time(o.created_at),
            "filled_at": o.filled_at.map(format_time),
            "updated_at": format_time(self.clock.now()),
        })
    }

    fn fill(&mut self, i: usize) {
        let now = self.clock.now();
        let o = &mut self.orders[i];
        let Some(price) = self.prices.get(&o.symbol).copied() else {
            return;
        };
        o.status = "filled".into();
        o.filled_avg_price = Some(price);
        o.filled_at = Some(now);
        let signed = if o.side == "buy" {
            Decimal::from(o.qty)
        } else {
            -Decimal::from(o.qty)
        };
        *self.positions.entry(o.symbol.clone()).or_default() += signed;
        self.cash -= signed * price;
    }

    fn draw(&mut self) -> Option<PlaceFault> {
        if let Some(f) = self.faults.pop_front() {
            return Some(f);
        }
        let (state, one_in) = self.seeded.as_mut()?;
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        if *state % (*one_in).max(1) != 0 {
            return None;
        }
        let all = PlaceFault::all();
        let f = all[((*state >> 20) % all.len() as u64) as usize];
        self.drawn.push(f);
        Some(f)
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
        *self.posts.entry(client_order_id.clone()).or_default() += 1;
        let fault = self.draw();
        if let Some(PlaceFault::Before(status)) = fault {
            return error(status, 50000000, "try again later");
        }
        let (symbol, side) = (s("symbol"), s("side"));
        let Some(qty) = s("qty").parse::<u64>().ok().filter(|q| *q > 0) else {
            return error(422, 40010001, "qty must be a positive whole number");
        };
        if !["buy", "sell"].contains(&side.as_str()) || s("type") != "market" {
            return error(422, 40010001, "side must be buy or sell, type market");
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
        if side == "buy" && Decimal::from(qty) * price > self.cash {
            return error(403, 40310000, "insufficient buying power");
        }
        let n = self.orders.len() + 1;
        self.orders.push(FakeOrder {
            id: format!("61e69015-8549-4bfd-b9c3-{n:012x}"),
            client_order_id,
            symbol,
            side,
            qty,
            status: "accepted".into(),
            filled_avg_price: None,
            created_at: self.clock.now(),
            filled_at: None,
        });
        if self.open {
            self.fill(n - 1);
        }
        let view = self.view(&self.orders[n - 1]);
        match fault {
            Some(PlaceFault::ActThenDrop) => Outcome::Drop,
            Some(PlaceFault::ActThen(status)) => error(status, 50000000, "internal error"),
            Some(PlaceFault::ActThenMalformed) => Outcome::Respond {
                response: Response {
                    body: b"{\"id\": \"61e69015-".to_vec(),
                    ..Response::new(200)
                },
                delay: None,
            },
            Some(PlaceFault::ActThenTruncated) => {
                let mut r = Response::json(200, &view);
                r.truncated = true;
                Outcome::Respond {
                    response: r,
                    delay: None,
                }
            }
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
        let account = format!("/v1/trading/accounts/{FAKE_ACCOUNT}/");
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
                if self.lookup_lag > 0 {
                    self.lookup_lag -= 1;
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
                        json!({"symbol": s, "qty": q.abs().to_string(),
                            "side": if q.is_sign_negative() { "short" } else { "long" }})
                    })
                    .collect(),
            )),
            ("GET", "account") => ok(&json!({"id": FAKE_ACCOUNT, "status": "ACTIVE",
                "cash": self.cash.to_string()})),
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

pub struct FakeAlpaca {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAlpaca {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeAlpaca {
    /// Listen on 127.0.0.1:0 with `clock` as the fake's time; the market
    /// open, $1 000 000 of cash.
    pub async fn start(clock: Arc<dyn Clock>) -> std::io::Result<FakeAlpaca> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            clock,
            orders: Vec::new(),
            prices: BTreeMap::new(),
            positions: BTreeMap::new(),
            cash: Decimal::from(1_000_000),
            open: true,
            posts: BTreeMap::new(),
            faults: VecDeque::new(),
            seeded: None,
            drawn: Vec::new(),
            lookup_lag: 0,
        }));
        let serving = state.clone();
        let task = serve(listener, move |request| lock(&serving).handle(request));
        Ok(FakeAlpaca { addr, state, task })
    }

    pub fn config(&self) -> AlpacaConfig {
        AlpacaConfig {
            base_url: format!("http://{}", self.addr),
            account_id: FAKE_ACCOUNT.into(),
            timeout_ms: 2_000,
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

    /// Open or close the market; opening fills what waited.
    pub fn set_open(&self, open: bool) {
        let mut s = lock(&self.state);
        s.open = open;
        if open {
            for i in 0..s.orders.len() {
                if s.orders[i].status == "accepted" {
                    s.fill(i);
                }
            }
        }
    }

    pub fn fail_next_place(&self, fault: PlaceFault) {
        lock(&self.state).faults.push_back(fault);
    }

    /// One order POST in `one_in` fails with a fault drawn from `seed`.
    pub fn place_faults_from_seed(&self, seed: u64, one_in: u64) {
        lock(&self.state).seeded = Some((seed.max(1), one_in));
    }

    pub fn drawn_faults(&self) -> Vec<PlaceFault> {
        lock(&self.state).drawn.clone()
    }

    /// The next `looks` lookups by client order id answer 404.
    pub fn set_lookup_lag(&self, looks: u32) {
        lock(&self.state).lookup_lag = looks;
    }

    /// Order POSTs per client order id, counted before any fault.
    pub fn posts(&self) -> BTreeMap<String, u32> {
        lock(&self.state).posts.clone()
    }

    pub fn orders(&self) -> Vec<FakeOrder> {
        lock(&self.state).orders.clone()
    }
}
