//! `AlpacaBroker`: the [`Broker`] trait over the Broker API. `place` sends
//! one POST carrying our `client_order_id`; only a refusal the broker
//! states in its JSON error shape (403, 422) is a refusal — a timeout, a
//! reset, a 5xx, a 429, a gateway page or an unreadable 2xx may have
//! placed the order and is an unknown outcome, and so is a 422 saying the
//! `client_order_id` is taken (the order exists). `find` asks for the order
//! by that id, exactly; a 404 is "not listed". Reads that fail are
//! transient. Credentials go in the `Authorization` header only: no error,
//! log or debug output carries them.
//!
//! With `extended_hours` on, the session is read from the clock and the
//! day's calendar: in the pre-market or after-hours session the market
//! counts as open (until the session ends) and `place_with` sends a DAY
//! limit order with `extended_hours: true`, its limit the terms' reference
//! price moved by `extended_hours_slippage_bps` (no reference price: not
//! sent; a fractional quantity waits for the regular session). The
//! session is read again right before every order, so the order
//! type follows the broker's calendar, not a cached answer. `funds` reads
//! the account and the positions.

use super::wire::Session;
use super::{AlpacaConfig, AlpacaError, AlpacaSecrets, VENUE, wire};
use crate::model::{Clock, Timestamp};
use crate::net::describe;
use crate::venue::broker::{
    Broker, BrokerPosition, Funds, MarketHours, OrderRequest, OrderTerms, PlacedOrder,
};
use crate::venue::http_body::{DEFAULT_BODY_CAP, read_capped};
use crate::venue::schwab::clock_text::{format_date, new_york_day};
use crate::venue::{VenueError, VenueHealth};
use reqwest::{Client, Method};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Whether a call may have placed an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Read,
    PlaceOrder,
}

#[derive(Debug, Default, Clone)]
struct Status {
    last_ok: Option<Timestamp>,
    latency_ms: Option<u64>,
    last_error: Option<String>,
}

pub struct AlpacaBroker {
    http: Client,
    config: AlpacaConfig,
    secrets: AlpacaSecrets,
    clock: Arc<dyn Clock>,
    status: Mutex<Status>,
}

impl std::fmt::Debug for AlpacaBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlpacaBroker({})", self.config.base_url)
    }
}

impl AlpacaBroker {
    pub fn open(
        config: AlpacaConfig,
        secrets: AlpacaSecrets,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AlpacaError> {
        if config.account_id.trim().is_empty() {
            return Err(AlpacaError::Config {
                key: "account_id",
                problem: "is not set: the trading account's id at the broker".into(),
            });
        }
        if !config.base_url.starts_with("https://")
            && !crate::net::is_loopback_url(&config.base_url)
        {
            return Err(AlpacaError::Config {
                key: "base_url",
                problem: format!(
                    "{:?} must be https (or loopback, for the fake)",
                    config.base_url
                ),
            });
        }
        crate::net::ensure_crypto_provider();
        let http = Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms.max(1)))
            .build()
            .map_err(|e| AlpacaError::Client(describe(&e)))?;
        Ok(Self {
            http,
            config,
            secrets,
            clock,
            status: Mutex::new(Status::default()),
        })
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn account_url(&self, rest: &str) -> String {
        format!(
            "{}/v1/trading/accounts/{}/{rest}",
            self.config.base_url.trim_end_matches('/'),
            self.config.account_id
        )
    }

    /// One call; `Ok((status, body))` for a 2xx, and for a 404 of a read
    /// (the caller decides what absence means).
    async fn call(
        &self,
        what: &'static str,
        kind: Call,
        method: Method,
        url: String,
        body: Option<Value>,
    ) -> Result<(u16, Vec<u8>), VenueError> {
        let started = Instant::now();
        let mut request = self
            .http
            .request(method, &url)
            .basic_auth(
                self.secrets.key.expose(),
                Some(self.secrets.secret.expose()),
            )
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = &body {
            request = request.json(b);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let reason = describe(&e);
                self.status().last_error = Some(format!("{what}: {reason}"));
                tracing::warn!(call = what, error = %reason, "alpaca: request failed");
                return Err(match kind {
                    Call::Read => VenueError::Transient(format!("Alpaca {what}: {reason}")),
                    Call::PlaceOrder if e.is_connect() => {
                        VenueError::Transient(format!("Alpaca {what}: not sent ({reason})"))
                    }
                    Call::PlaceOrder => VenueError::Unknown(format!(
                        "Alpaca {what}: no answer ({reason}); the order may exist"
                    )),
                });
            }
        };
        let status = response.status().as_u16();
        let body = match read_capped(response, DEFAULT_BODY_CAP).await {
            Ok(b) => b,
            Err(e) if e.is_too_large() && !(200..300).contains(&status) => {
                format!("HTTP {status} with an error body over the cap").into_bytes()
            }
            Err(e) => {
                let reason = e.to_string();
                self.status().last_error = Some(format!("{what}: {reason}"));
                return Err(match kind {
                    Call::Read => VenueError::Transient(format!("Alpaca {what}: {reason}")),
                    Call::PlaceOrder => VenueError::Unknown(format!(
                        "Alpaca {what}: HTTP {status}, {reason}; the order may exist"
                    )),
                });
            }
        };
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::debug!(call = what, status, ms, "alpaca");
        let message = wire::error_message(&body);
        let reason = format!(
            "Alpaca {what}: HTTP {status}: {}",
            message.clone().unwrap_or_else(|| "no error message".into())
        );
        if (200..300).contains(&status) || (status == 404 && kind == Call::Read) {
            let mut s = self.status();
            s.last_ok = Some(self.clock.now());
            s.latency_ms = Some(ms);
            s.last_error = None;
            return Ok((status, body));
        }
        self.status().last_error = Some(reason.clone());
        Err(match (kind, status, &message) {
            (Call::Read, _, _) => VenueError::Transient(reason),
            // Taken already: an order with our id exists. Look, never guess.
            (Call::PlaceOrder, 422, Some(m)) if m.contains("client_order_id") => {
                VenueError::Unknown(format!("{reason}; an order with this id exists"))
            }
            // Not authenticated: refused at the door, nothing placed.
            (Call::PlaceOrder, 401, _) => VenueError::Transient(format!("{reason} (not placed)")),
            (Call::PlaceOrder, 403 | 422, Some(_)) => VenueError::Rejected(reason),
            (Call::PlaceOrder, _, _) => {
                VenueError::Unknown(format!("{reason}; the order may exist"))
            }
        })
    }

    async fn read_json(
        &self,
        what: &'static str,
        url: String,
    ) -> Result<Option<Value>, VenueError> {
        let (status, body) = self.call(what, Call::Read, Method::GET, url, None).await?;
        if status == 404 {
            return Ok(None);
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| VenueError::Transient(format!("Alpaca {what}: unreadable answer: {e}")))
    }

    async fn read(&self, what: &'static str, url: String) -> Result<Value, VenueError> {
        self.read_json(what, url)
            .await?
            .ok_or_else(|| VenueError::Transient(format!("Alpaca {what}: HTTP 404")))
    }
}

fn bad(what: &str, e: String) -> VenueError {
    VenueError::Transient(format!("Alpaca {what}: {e}"))
}

impl AlpacaBroker {
    /// The clock, and the session now.
    async fn session(&self) -> Result<(Value, Session), VenueError> {
        let url = format!("{}/v1/clock", self.config.base_url.trim_end_matches('/'));
        let clock = self.read("clock", url).await?;
        let is_open = clock
            .get("is_open")
            .and_then(Value::as_bool)
            .ok_or_else(|| bad("clock", "`is_open` is not a boolean".into()))?;
        if is_open || !self.config.extended_hours {
            let s = if is_open {
                Session::Regular
            } else {
                Session::Closed
            };
            return Ok((clock, s));
        }
        let now = self.clock.now();
        let today = new_york_day(now);
        let date = format_date(today);
        let url = format!(
            "{}/v1/calendar?start={date}&end={date}",
            self.config.base_url.trim_end_matches('/')
        );
        let calendar = self.read("calendar", url).await?;
        let s = wire::session(false, &calendar, today, now).map_err(|e| bad("calendar", e))?;
        Ok((clock, s))
    }
}

impl Broker for AlpacaBroker {
    fn fractional(&self) -> bool {
        self.config.fractional
    }

    async fn place(&self, order: &OrderRequest) -> Result<PlacedOrder, VenueError> {
        self.place_with(order, &OrderTerms::default()).await
    }

    async fn place_with(
        &self,
        order: &OrderRequest,
        terms: &OrderTerms,
    ) -> Result<PlacedOrder, VenueError> {
        wire::check_qty(order.shares, self.config.fractional)
            .map_err(|e| VenueError::Rejected(format!("Alpaca place order: {e} (not sent)")))?;
        let body = match self.session().await? {
            (_, Session::Extended { .. }) if order.whole_shares().is_none() => {
                // Fractional orders are a regular-session order here: the
                // hedge waits for the open rather than trade a rule we
                // have not verified.
                return Err(VenueError::Transient(format!(
                    "Alpaca place order: {} shares is fractional; it waits for the regular session (not sent)",
                    order.shares
                )));
            }
            (_, Session::Extended { .. }) => {
                let reference = terms.reference_price.ok_or_else(|| {
                    VenueError::Transient(
                        "Alpaca place order: extended hours need a reference price for the limit (not sent)"
                            .into(),
                    )
                })?;
                let limit = wire::limit_price(
                    reference,
                    order.side,
                    self.config.extended_hours_slippage_bps,
                )
                .map_err(|e| {
                    VenueError::Transient(format!("Alpaca place order: {e} (not sent)"))
                })?;
                tracing::info!(client_id = %order.client_id, %limit, "alpaca: extended-hours limit order");
                wire::extended_hours_order(order, limit)
            }
            _ => wire::market_order(order),
        };
        let (_, reply) = self
            .call(
                "place order",
                Call::PlaceOrder,
                Method::POST,
                self.account_url("orders"),
                Some(body),
            )
            .await?;
        // Placed, but an answer we cannot read proves nothing about which
        // order it is: look it up by our id.
        let v: Value = serde_json::from_slice(&reply).map_err(|e| {
            VenueError::Unknown(format!(
                "Alpaca place order: unreadable 2xx answer ({e}); the order may exist"
            ))
        })?;
        wire::order(&v).map_err(|e| {
            VenueError::Unknown(format!(
                "Alpaca place order: answer not understood ({e}); the order may exist"
            ))
        })
    }

    async fn find(
        &self,
        order: &OrderRequest,
        taken: &[String],
    ) -> Result<Option<PlacedOrder>, VenueError> {
        let mut url = reqwest::Url::parse(&self.account_url("orders:by_client_order_id"))
            .map_err(|e| bad("find order", e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("client_order_id", &order.client_id);
        let Some(v) = self.read_json("find order", url.to_string()).await? else {
            return Ok(None);
        };
        let found = wire::order(&v).map_err(|e| bad("find order", e))?;
        let echoed = wire::client_order_id(&v).map_err(|e| bad("find order", e))?;
        // Our id names one order only: anything else is not believed.
        if echoed != order.client_id
            || found.symbol != order.symbol
            || found.side != order.side
            || found.shares != order.shares
            || taken.contains(&found.order_id)
        {
            return Err(bad(
                "find order",
                format!(
                    "the order found for {} ({} {:?} {} × {}) is not the one requested",
                    order.client_id, found.order_id, found.side, found.shares, found.symbol
                ),
            ));
        }
        Ok(Some(found))
    }

    async fn funds(&self) -> Result<Funds, VenueError> {
        let account = self.read("account", self.account_url("account")).await?;
        let positions = self
            .read("positions", self.account_url("positions"))
            .await?;
        wire::funds(&account, &positions).map_err(|e| bad("funds", e))
    }

    async fn order(&self, order_id: &str) -> Result<PlacedOrder, VenueError> {
        let v = self
            .read(
                "order status",
                self.account_url(&format!("orders/{order_id}")),
            )
            .await?;
        wire::order(&v).map_err(|e| bad("order status", e))
    }

    async fn positions(&self) -> Result<Vec<BrokerPosition>, VenueError> {
        let v = self
            .read("positions", self.account_url("positions"))
            .await?;
        wire::positions(&v).map_err(|e| bad("positions", e))
    }

    /// The regular session from the clock; with `extended_hours` on, the
    /// pre-market and after-hours sessions count as open until they end.
    async fn market_hours(&self) -> Result<MarketHours, VenueError> {
        let (clock, session) = self.session().await?;
        match session {
            Session::Extended { until } => Ok(MarketHours {
                open_now: true,
                next_change: Some(until),
                extended: true,
            }),
            _ => wire::clock(&clock).map_err(|e| bad("clock", e)),
        }
    }

    async fn health(&self) -> Vec<VenueHealth> {
        let account = self.read("account", self.account_url("account")).await;
        let s = self.status().clone();
        let (ok, detail) = match account.map(|v| wire::account_status(&v)) {
            Ok(Ok(status)) if status == "ACTIVE" => (true, "account ACTIVE".to_string()),
            Ok(Ok(status)) => (false, format!("account {status}: it cannot trade")),
            Ok(Err(e)) => (false, format!("account: {e}")),
            Err(e) => (false, e.to_string()),
        };
        vec![VenueHealth {
            name: VENUE.into(),
            ok,
            head: None,
            latency_ms: s.latency_ms,
            last_seen: s.last_ok,
            detail,
        }]
    }
}
