//! `SchwabBroker`: the [`Broker`] trait over a [`Session`]. The account is
//! chosen by its configured number and addressed by its hash (§2.1, §4.5).
//! `place` sends one POST and takes the id from `Location`; a missing
//! `Location` is an unknown outcome, settled by looking (`find`), never by
//! sending again. `find` lists orders from the commit less the clock-skew
//! margin, skips ids other hedges hold, and fails (never answers "absent")
//! on a listing or a matching order it cannot read.
//! Market hours come from the markets endpoint for New York's date, open
//! and closed shapes alike. Funds: the account with its positions, one read.

use super::account::lookup_account_hash;
use super::clock_text::{format_date, format_query_time, new_york_day, parse_time};
use super::session::{Call, Session};
use super::vault::TokenVault;
use super::wire::{self, DayHours};
use super::{EXPIRY_WARNING, SchwabConfig, SchwabError, SchwabSecrets, VENUE};
use crate::model::time::{MINUTE, SECOND, format_duration, format_time};
use crate::model::{Clock, Timestamp};
use crate::venue::broker::{
    Broker, BrokerPosition, CLOCK_SKEW_MARGIN, Funds, LoginExpiry, MarketHours, OrderRequest,
    OrderState, PlacedOrder,
};
use crate::venue::{VenueError, VenueHealth};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many days ahead market hours are searched for the next open.
const HOURS_LOOKAHEAD_DAYS: i64 = 10;

pub struct SchwabBroker {
    session: Session,
    account_hash: tokio::sync::Mutex<Option<String>>,
    hours: Mutex<BTreeMap<i64, DayHours>>,
}

impl std::fmt::Debug for SchwabBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SchwabBroker({:?})", self.session.vault())
    }
}

impl SchwabBroker {
    /// Open the adapter: checks the config and the key against the stored
    /// tokens now, so a wrong `ENCRYPTION_KEY` fails at start, not mid-trade.
    pub fn open(
        config: SchwabConfig,
        data_dir: &Path,
        secrets: SchwabSecrets,
        clock: Arc<dyn Clock>,
    ) -> Result<SchwabBroker, SchwabError> {
        if config.account_number.trim().is_empty() {
            return Err(SchwabError::Config(
                "account_number is not set: the account to trade, by its number".into(),
            ));
        }
        let vault = TokenVault::open(data_dir, secrets.encryption_key.clone())?;
        let session = Session::new(config, secrets, vault, clock)?;
        Ok(SchwabBroker {
            session,
            account_hash: tokio::sync::Mutex::new(None),
            hours: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn config(&self) -> &SchwabConfig {
        &self.session.config
    }

    /// How often the hedge should poll an order's status.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.session.config.poll_interval_ms)
    }

    /// When the login (the refresh token) dies: 7 days after `arbkeep auth schwab`.
    pub fn login_deadline(&self) -> Option<Timestamp> {
        self.status().login_deadline
    }

    /// Once per login, from a day before it dies (see
    /// [`Broker::login_expiring`]).
    pub fn login_expiring(&self) -> Option<LoginExpiry> {
        let now = self.session.clock.now();
        let mut s = self
            .session
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let deadline = s.login_deadline?;
        if now + EXPIRY_WARNING < deadline || s.warned_for == Some(deadline) {
            return None;
        }
        s.warned_for = Some(deadline);
        Some(LoginExpiry {
            venue: VENUE.to_string(),
            expires_at: deadline,
        })
    }

    /// Refresh the access token now if it is due (the keeper may call this
    /// on quiet passes so a login never idles into an expired access token).
    pub async fn keep_fresh(&self) -> Result<(), SchwabError> {
        self.session.access_token(None).await.map(|_| ())
    }

    /// The stored tokens (tests and diagnostics; Debug redacts them).
    pub fn vault(&self) -> &TokenVault {
        self.session.vault()
    }

    fn status(&self) -> super::session::SessionStatus {
        self.session
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn trader(&self) -> String {
        format!(
            "{}/trader/v1",
            self.session.config.api_url.trim_end_matches('/')
        )
    }

    /// The configured account's hash, looked up once.
    pub async fn account_hash(&self) -> Result<String, VenueError> {
        let mut cached = self.account_hash.lock().await;
        if let Some(h) = cached.as_ref() {
            return Ok(h.clone());
        }
        let hash = lookup_account_hash(&self.session).await?;
        *cached = Some(hash.clone());
        Ok(hash)
    }

    async fn get_json(&self, what: &'static str, url: &str) -> Result<Value, VenueError> {
        let reply = self.session.call(what, Call::Read, |c| c.get(url)).await?;
        serde_json::from_slice(&reply.body)
            .map_err(|_| VenueError::Transient(format!("Schwab {what}: the answer is not JSON")))
    }

    async fn day_hours(&self, day: i64) -> Result<DayHours, VenueError> {
        if let Some(h) = self
            .hours
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&day)
        {
            return Ok(h.clone());
        }
        let url = format!(
            "{}/marketdata/v1/markets/equity?date={}",
            self.session.config.api_url.trim_end_matches('/'),
            format_date(day)
        );
        let v = self.get_json("market hours", &url).await?;
        let hours = wire::day_hours(&v)
            .map_err(|e| VenueError::Transient(format!("Schwab market hours: {e}")))?;
        let mut cache = self.hours.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(day, hours.clone());
        // Past days are never asked again.
        while cache.len() > 2 * HOURS_LOOKAHEAD_DAYS as usize {
            cache.pop_first();
        }
        Ok(hours)
    }
}

/// The id in `Location` (absolute or relative; the last path segment),
/// after checking it names our account.
fn order_id_from_location(location: &str, hash: &str) -> Result<Option<String>, String> {
    let path = location.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(id) = segments
        .last()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
    else {
        return Ok(None);
    };
    if let Some(i) = segments.iter().position(|s| *s == "accounts")
        && segments.get(i + 1).is_some_and(|h| *h != hash)
    {
        return Err("the Location header names another account".into());
    }
    Ok(Some((*id).to_string()))
}

/// One listed order against the request: `Ok(None)` when it is not ours
/// (another symbol, side or size, an id another hedge holds, entered before
/// the window); an error when it may be ours but cannot be read.
fn matching(
    o: &Value,
    order: &OrderRequest,
    taken: &[String],
    from: Timestamp,
) -> Result<Option<PlacedOrder>, VenueError> {
    let symbol = o["orderLegCollection"][0]["instrument"]["symbol"].as_str();
    if symbol.is_some_and(|s| s != order.symbol) {
        return Ok(None);
    }
    let Some((id, symbol, side, shares)) = wire::order_identity(o) else {
        return Err(VenueError::Transient(format!(
            "Schwab list orders: an order{} cannot be read (id, symbol or instruction); it may be the {} {} {} looked for",
            symbol.map(|s| format!(" of {s}")).unwrap_or_default(),
            wire::instruction(order.side),
            order.shares,
            order.symbol
        )));
    };
    if symbol != order.symbol || side != order.side || Decimal::from(shares) != order.shares {
        return Ok(None);
    }
    if taken.contains(&id) {
        return Ok(None);
    }
    let Some(entered_at) = o["enteredTime"].as_str().and_then(parse_time) else {
        return Err(VenueError::Transient(format!(
            "Schwab order {id} matches {} {shares} {symbol} but its enteredTime cannot be read",
            wire::instruction(side)
        )));
    };
    if entered_at < from {
        return Ok(None);
    }
    wire::placed_order(o).map(Some).map_err(|e| {
        VenueError::Transient(format!(
            "Schwab order {id} matches {} {shares} {symbol} but cannot be read: {e}",
            wire::instruction(side)
        ))
    })
}

impl Broker for SchwabBroker {
    fn login_expiring(&self) -> Option<LoginExpiry> {
        SchwabBroker::login_expiring(self)
    }

    async fn place(&self, order: &OrderRequest) -> Result<PlacedOrder, VenueError> {
        let Some(shares) = order.whole_shares() else {
            return Err(VenueError::Rejected(format!(
                "Schwab takes whole shares only, at least 1: {} is not (not sent)",
                order.shares
            )));
        };
        let hash = self.account_hash().await?;
        let url = format!("{}/accounts/{hash}/orders", self.trader());
        let body = wire::market_order(&order.symbol, order.side, shares);
        tracing::info!(
            client_id = %order.client_id,
            symbol = %order.symbol,
            side = wire::instruction(order.side),
            shares,
            "schwab: placing a market order"
        );
        let reply = self
            .session
            .call("place order", Call::PlaceOrder, |c| {
                c.post(&url).json(&body)
            })
            .await?;
        let id = match reply
            .location
            .as_deref()
            .map(|l| order_id_from_location(l, &hash))
        {
            Some(Ok(Some(id))) => Some(id),
            Some(Err(e)) => {
                return Err(VenueError::Unknown(format!(
                    "Schwab accepted the order but {e}"
                )));
            }
            _ => None,
        };
        let Some(order_id) = id else {
            // Accepted (HTTP {status}) without an id: the order may exist;
            // the caller looks for it, never resends.
            tracing::warn!(
                status = reply.status,
                "schwab: order accepted without a Location; outcome unknown"
            );
            return Err(VenueError::Unknown(format!(
                "Schwab answered HTTP {} without the order's Location; look for it in the order list",
                reply.status
            )));
        };
        tracing::info!(order_id = %order_id, client_id = %order.client_id, "schwab: order accepted");
        Ok(PlacedOrder {
            order_id,
            symbol: order.symbol.clone(),
            side: order.side,
            shares: order.shares,
            entered_at: self.session.clock.now(),
            state: OrderState::Working {
                filled_shares: Decimal::ZERO,
            },
        })
    }

    async fn find(
        &self,
        order: &OrderRequest,
        taken: &[String],
    ) -> Result<Option<PlacedOrder>, VenueError> {
        let hash = self.account_hash().await?;
        // Schwab's enteredTime has whole seconds: an order sent 300 ms after
        // the commit may show the commit's second; and Schwab's clock is not
        // ours, so orders entered a little before the commit count too.
        let since = order.committed_at - order.committed_at % SECOND;
        let from = since.saturating_sub(CLOCK_SKEW_MARGIN);
        let now = self.session.clock.now();
        let until = now.max(since) + MINUTE;
        let url = format!(
            "{}/accounts/{hash}/orders?fromEnteredTime={}&toEnteredTime={}",
            self.trader(),
            format_query_time(from),
            format_query_time(until)
        );
        let v = self.get_json("list orders", &url).await?;
        let list = v.as_array().ok_or_else(|| {
            VenueError::Transient("Schwab list orders: the answer is not a list of orders".into())
        })?;
        let mut matches = Vec::new();
        for o in list {
            if let Some(found) = matching(o, order, taken, from)? {
                matches.push(found);
            }
        }
        // After the commit, earliest first; then the latest inside the margin.
        matches.sort_by(|a, b| {
            let key = |p: &PlacedOrder| {
                if p.entered_at >= since {
                    (0, p.entered_at, p.order_id.len(), p.order_id.clone())
                } else {
                    (
                        1,
                        u64::MAX - p.entered_at,
                        p.order_id.len(),
                        p.order_id.clone(),
                    )
                }
            };
            key(a).cmp(&key(b))
        });
        if matches.len() > 1 {
            tracing::warn!(
                client_id = %order.client_id,
                count = matches.len(),
                "schwab: several orders match; taking the first entered after the commit"
            );
        }
        Ok(matches.into_iter().next())
    }

    async fn order(&self, order_id: &str) -> Result<PlacedOrder, VenueError> {
        if order_id.is_empty() || !order_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VenueError::Rejected(format!(
                "{order_id:?} is not a Schwab order id"
            )));
        }
        let hash = self.account_hash().await?;
        let url = format!("{}/accounts/{hash}/orders/{order_id}", self.trader());
        let v = self.get_json("get order", &url).await?;
        wire::placed_order(&v)
            .map_err(|e| VenueError::Transient(format!("Schwab order {order_id}: {e}")))
    }

    async fn positions(&self) -> Result<Vec<BrokerPosition>, VenueError> {
        let hash = self.account_hash().await?;
        let url = format!("{}/accounts/{hash}?fields=positions", self.trader());
        let v = self.get_json("positions", &url).await?;
        wire::positions(&v).map_err(|e| VenueError::Transient(format!("Schwab positions: {e}")))
    }

    async fn funds(&self) -> Result<Funds, VenueError> {
        let hash = self.account_hash().await?;
        let url = format!("{}/accounts/{hash}?fields=positions", self.trader());
        let v = self.get_json("funds", &url).await?;
        wire::funds(&v).map_err(|e| VenueError::Transient(format!("Schwab funds: {e}")))
    }

    async fn market_hours(&self) -> Result<MarketHours, VenueError> {
        let now = self.session.clock.now();
        let today = new_york_day(now);
        for day in today..today + HOURS_LOOKAHEAD_DAYS {
            let hours = self.day_hours(day).await?;
            let Some((start, end)) = hours.regular.filter(|_| hours.is_open) else {
                continue;
            };
            if now < start {
                return Ok(MarketHours {
                    open_now: false,
                    next_change: Some(start),
                    extended: false,
                });
            }
            if now < end {
                return Ok(MarketHours {
                    open_now: true,
                    next_change: Some(end),
                    extended: false,
                });
            }
        }
        Ok(MarketHours {
            open_now: false,
            next_change: None,
            extended: false,
        })
    }

    async fn health(&self) -> Vec<VenueHealth> {
        let s = self.status();
        let now = self.session.clock.now();
        let login = match s.login_deadline {
            None => "not logged in: run `arbkeep auth schwab`".to_string(),
            Some(d) if now >= d => format!(
                "login expired at {} UTC: run `arbkeep auth schwab`",
                format_time(d)
            ),
            Some(d) if now + EXPIRY_WARNING >= d => format!(
                "login expires in {}: run `arbkeep auth schwab` soon",
                format_duration(d - now)
            ),
            Some(d) => format!("login expires in {}", format_duration(d - now)),
        };
        let expired = s.login_deadline.is_none_or(|d| now >= d);
        let mut detail = login;
        if let Some(f) = &s.auth_fault {
            detail.push_str("; ");
            detail.push_str(f);
        } else if let Some(e) = &s.last_error {
            detail.push_str("; last error: ");
            detail.push_str(e);
        }
        vec![VenueHealth {
            name: VENUE.to_string(),
            ok: !expired && s.auth_fault.is_none() && s.last_error.is_none(),
            head: None,
            latency_ms: s.latency_ms,
            last_seen: s.last_ok,
            detail,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_absolute_or_relative() {
        let h = "ABC";
        assert_eq!(
            order_id_from_location(
                "https://api.schwabapi.com/trader/v1/accounts/ABC/orders/1004055538153",
                h
            ),
            Ok(Some("1004055538153".into()))
        );
        assert_eq!(
            order_id_from_location("/trader/v1/accounts/ABC/orders/12", h),
            Ok(Some("12".into()))
        );
        assert!(order_id_from_location("/trader/v1/accounts/XYZ/orders/12", h).is_err());
        assert_eq!(
            order_id_from_location("/trader/v1/accounts/ABC/orders", h),
            Ok(None)
        );
    }
}
