//! The paper broker: whole-share market orders filled at the paper price
//! while the market is open (held as working while closed), persisted in its
//! own redb file so a restart finds every order it took, with how many
//! orders each client order id (the hedge) was taken for. Knobs let tests
//! lose a response after the order was taken, or reject the next order;
//! seeded send faults ([`FaultDice`]) may refuse a place or lose its answer.
//! Its funds for the pre-trade checks: the paper account opens with
//! [`PAPER_CASH`] and [`PAPER_OPENING_SHARES`] of every symbol (the
//! inventory a keeper holds at its broker, kept out of `positions`, which
//! show what trading moved); cash follows the fills (down on buys, up on
//! sells), shares to sell are the opening ones plus the position. Both can
//! be set by hand ([`PaperBroker::set_cash`], [`PaperBroker::set_opening_shares`]).

use super::paper_market;
use crate::codec::{CodecError, decode, encode};
use crate::model::{Clock, Timestamp};
use crate::venue::broker::{
    Broker, BrokerPosition, CLOCK_SKEW_MARGIN, Funds, MarketHours, OrderRequest, OrderSide,
    OrderState, PlacedOrder,
};
use crate::venue::faults::FaultDice;
use crate::venue::{VenueError, VenueHealth};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

const ORDERS: TableDefinition<u64, &[u8]> = TableDefinition::new("orders");
/// client order id → how many orders the broker took for it.
const TAKEN: TableDefinition<&str, u64> = TableDefinition::new("orders_per_client_id");

/// How the broker's faults name it in their errors.
const FAULT_VENUE: &str = "paper broker";

/// The paper account's cash before any fill, in USD.
pub const PAPER_CASH: i64 = 1_000_000;
/// Shares of every symbol the paper account holds before any fill.
pub const PAPER_OPENING_SHARES: i64 = 100_000;

#[derive(Debug, Default)]
struct Knobs {
    lose_next_response: bool,
    reject_next: Option<String>,
    places: u64,
    /// Shares moved at the broker by hand (outside the hedge), per symbol.
    by_hand: BTreeMap<String, Decimal>,
    /// Cash before any fill (`PAPER_CASH` unless set).
    cash: Option<Decimal>,
    /// Opening shares of every symbol (`PAPER_OPENING_SHARES` unless set).
    opening: Option<Decimal>,
    /// The next funds reads fail (transient), in turn.
    fail_funds: u32,
    funds_reads: u64,
}

/// Run after each order the broker takes (tests: something happening while
/// a pass waits on the broker, e.g. a pause).
type PlaceHook = Box<dyn Fn() + Send + Sync>;

pub struct PaperBroker {
    db: Database,
    seed: u64,
    clock: Arc<dyn Clock>,
    knobs: Mutex<Knobs>,
    on_place: Mutex<Option<PlaceHook>>,
    faults: FaultDice,
}

/// A record that no longer reads says nothing of what the broker took: an
/// unknown outcome (looked for, never placed again), not a fault to retry.
fn codec(e: CodecError) -> VenueError {
    match e {
        CodecError::Corrupt { .. } => VenueError::Unknown(format!("paper broker store: {e}")),
        CodecError::Encode { .. } => err(e),
    }
}

fn err(e: impl std::fmt::Display) -> VenueError {
    VenueError::Transient(format!("paper broker store: {e}"))
}

impl PaperBroker {
    pub fn open(path: &Path, seed: u64, clock: Arc<dyn Clock>) -> Result<Self, VenueError> {
        crate::store::ensure_private_file(path).map_err(err)?;
        let db = Database::create(path).map_err(err)?;
        Ok(Self {
            db,
            seed,
            clock,
            knobs: Mutex::new(Knobs::default()),
            on_place: Mutex::new(None),
            faults: FaultDice::off(),
        })
    }

    /// The same broker with `faults` at every `place`.
    pub fn with_faults(mut self, faults: FaultDice) -> Self {
        self.faults = faults;
        self
    }

    /// The send faults (tests script them).
    pub fn faults(&self) -> &FaultDice {
        &self.faults
    }

    /// Orders taken per client order id, across restarts.
    pub fn taken_per_client_id(&self) -> Result<BTreeMap<String, u64>, VenueError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = match txn.open_table(TAKEN) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
            Err(e) => return Err(err(e)),
        };
        let mut out = BTreeMap::new();
        for entry in table.iter().map_err(err)? {
            let (k, v) = entry.map_err(err)?;
            out.insert(k.value().to_string(), v.value());
        }
        Ok(out)
    }

    /// Call `hook` after every order taken, before the answer returns.
    pub fn on_place(&self, hook: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut h) = self.on_place.lock() {
            *h = Some(Box::new(hook));
        }
    }

    /// The next `place` takes the order, then loses the answer (a timeout
    /// after the broker accepted it).
    pub fn lose_next_response(&self) {
        if let Ok(mut k) = self.knobs.lock() {
            k.lose_next_response = true;
        }
    }

    /// The next `place` is refused with `reason`.
    pub fn reject_next(&self, reason: &str) {
        if let Ok(mut k) = self.knobs.lock() {
            k.reject_next = Some(reason.to_string());
        }
    }

    /// `place` calls so far in this process.
    /// Someone trades `delta` shares of `symbol` in the account by hand:
    /// the positions show it, the hedge's books do not.
    pub fn trade_by_hand(&self, symbol: &str, delta: Decimal) {
        let mut k = self.knobs.lock().unwrap_or_else(|p| p.into_inner());
        *k.by_hand.entry(symbol.to_string()).or_default() += delta;
    }

    /// The account's cash before any fill.
    pub fn set_cash(&self, cash: Decimal) {
        self.knobs.lock().unwrap_or_else(|p| p.into_inner()).cash = Some(cash);
    }

    /// The shares of every symbol held before any fill.
    pub fn set_opening_shares(&self, shares: Decimal) {
        self.knobs.lock().unwrap_or_else(|p| p.into_inner()).opening = Some(shares);
    }

    /// The next `reads` funds reads fail as a broker that did not answer.
    pub fn fail_next_funds(&self, reads: u32) {
        self.knobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fail_funds = reads;
    }

    /// Funds reads so far in this process (failed ones too).
    pub fn funds_reads(&self) -> u64 {
        self.knobs.lock().map(|k| k.funds_reads).unwrap_or(0)
    }

    pub fn places(&self) -> u64 {
        self.knobs.lock().map(|k| k.places).unwrap_or(0)
    }

    /// Every order the broker ever took, oldest first.
    pub fn orders(&self) -> Result<Vec<PlacedOrder>, VenueError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = match txn.open_table(ORDERS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        };
        let mut out = Vec::new();
        for entry in table.iter().map_err(err)? {
            let (k, v) = entry.map_err(err)?;
            out.push(decode("orders", k.value(), v.value()).map_err(codec)?);
        }
        Ok(out)
    }

    fn save(&self, id: u64, order: &PlacedOrder) -> Result<(), VenueError> {
        self.save_taken(id, order, None)
    }

    /// Store `order`; a new one (`client_id`) is counted for its client
    /// order id in the same transaction.
    fn save_taken(
        &self,
        id: u64,
        order: &PlacedOrder,
        client_id: Option<&str>,
    ) -> Result<(), VenueError> {
        let bytes = encode("orders", order).map_err(codec)?;
        let txn = self.db.begin_write().map_err(err)?;
        txn.open_table(ORDERS)
            .map_err(err)?
            .insert(id, bytes.as_slice())
            .map_err(err)?;
        if let Some(client_id) = client_id {
            let mut taken = txn.open_table(TAKEN).map_err(err)?;
            let before = taken
                .get(client_id)
                .map_err(err)?
                .map(|v| v.value())
                .unwrap_or(0);
            taken.insert(client_id, before + 1).map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    /// Fill a working order if the market is open now.
    fn settle(&self, mut order: PlacedOrder, now: Timestamp) -> Result<PlacedOrder, VenueError> {
        if matches!(order.state, OrderState::Working { .. }) && paper_market::is_open(now) {
            order.state = OrderState::Filled {
                shares: order.shares,
                average_price: paper_market::price(self.seed, &order.symbol, now),
                filled_at: now,
            };
            let id: u64 = order.order_id.parse().map_err(err)?;
            self.save(id, &order)?;
        }
        Ok(order)
    }
}

impl Broker for PaperBroker {
    async fn place(&self, request: &OrderRequest) -> Result<PlacedOrder, VenueError> {
        let (reject, lose) = {
            let mut k = self.knobs.lock().map_err(err)?;
            k.places += 1;
            (
                k.reject_next.take(),
                std::mem::take(&mut k.lose_next_response),
            )
        };
        if let Some(reason) = reject {
            return Err(VenueError::Rejected(reason));
        }
        let fault = self.faults.draw();
        if let Some(f) = fault.filter(|f| !f.acts()) {
            return Err(f.error(FAULT_VENUE));
        }
        if request.whole_shares().is_none() {
            return Err(VenueError::Rejected(format!(
                "quantity {} is not a whole number of at least 1",
                request.shares
            )));
        }
        let now = self.clock.now();
        let id = self.orders()?.len() as u64 + 1;
        let order = PlacedOrder {
            order_id: id.to_string(),
            symbol: request.symbol.clone(),
            side: request.side,
            shares: request.shares,
            entered_at: now,
            state: OrderState::Working {
                filled_shares: Decimal::ZERO,
            },
        };
        self.save_taken(id, &order, Some(&request.client_id))?;
        // Taken: from here on a failure leaves an order that exists.
        let order = self
            .settle(order, now)
            .map_err(|e| VenueError::Unknown(format!("paper broker: {e}")))?;
        if let Ok(hook) = self.on_place.lock()
            && let Some(hook) = hook.as_ref()
        {
            hook();
        }
        if lose {
            return Err(VenueError::Unknown("paper broker: response lost".into()));
        }
        if let Some(f) = fault {
            return Err(f.error(FAULT_VENUE));
        }
        Ok(order)
    }

    async fn find(
        &self,
        request: &OrderRequest,
        taken: &[String],
    ) -> Result<Option<PlacedOrder>, VenueError> {
        let now = self.clock.now();
        let since = request.committed_at.saturating_sub(CLOCK_SKEW_MARGIN);
        let mut matches: Vec<PlacedOrder> = self
            .orders()?
            .into_iter()
            .filter(|o| {
                o.symbol == request.symbol
                    && o.side == request.side
                    && o.shares == request.shares
                    && o.entered_at >= since
                    && !taken.contains(&o.order_id)
            })
            .collect();
        // After the commit, earliest first; then the latest within the margin.
        matches.sort_by_key(|o| {
            if o.entered_at >= request.committed_at {
                (0, o.entered_at)
            } else {
                (1, u64::MAX - o.entered_at)
            }
        });
        matches
            .into_iter()
            .next()
            .map(|o| self.settle(o, now))
            .transpose()
    }

    async fn order(&self, order_id: &str) -> Result<PlacedOrder, VenueError> {
        let found = self
            .orders()?
            .into_iter()
            .find(|o| o.order_id == order_id)
            .ok_or_else(|| VenueError::Rejected(format!("no order {order_id}")))?;
        self.settle(found, self.clock.now())
    }

    async fn positions(&self) -> Result<Vec<BrokerPosition>, VenueError> {
        let mut by: BTreeMap<String, Decimal> = self
            .knobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_hand
            .clone();
        for o in self.orders()? {
            if let OrderState::Filled { shares, .. } = o.state {
                let signed = match o.side {
                    OrderSide::Buy => shares,
                    OrderSide::Sell => -shares,
                };
                *by.entry(o.symbol).or_default() += signed;
            }
        }
        Ok(by
            .into_iter()
            .map(|(symbol, quantity)| BrokerPosition { symbol, quantity })
            .collect())
    }

    async fn funds(&self) -> Result<Funds, VenueError> {
        let (cash, opening) = {
            let mut k = self.knobs.lock().unwrap_or_else(|p| p.into_inner());
            k.funds_reads += 1;
            if k.fail_funds > 0 {
                k.fail_funds -= 1;
                return Err(VenueError::Transient(
                    "paper broker funds: timed out".into(),
                ));
            }
            (
                k.cash.unwrap_or(Decimal::from(PAPER_CASH)),
                k.opening.unwrap_or(Decimal::from(PAPER_OPENING_SHARES)),
            )
        };
        let mut buying_power = cash;
        for o in self.orders()? {
            match o.state {
                OrderState::Filled {
                    shares,
                    average_price,
                    ..
                } => {
                    let paid = shares
                        .checked_mul(average_price)
                        .ok_or_else(|| err("a fill too large to add up"))?;
                    buying_power = match o.side {
                        OrderSide::Buy => buying_power.checked_sub(paid),
                        OrderSide::Sell => buying_power.checked_add(paid),
                    }
                    .ok_or_else(|| err("cash too large to add up"))?;
                }
                // A working buy holds what it would cost at the paper price now.
                OrderState::Working { .. } if o.side == OrderSide::Buy => {
                    let price = paper_market::price(self.seed, &o.symbol, self.clock.now());
                    buying_power = o
                        .shares
                        .checked_mul(price)
                        .and_then(|c| buying_power.checked_sub(c))
                        .ok_or_else(|| err("cash too large to add up"))?;
                }
                _ => {}
            }
        }
        let mut sellable = BTreeMap::new();
        for p in self.positions().await? {
            sellable.insert(p.symbol, opening.saturating_add(p.quantity));
        }
        Ok(Funds {
            buying_power: buying_power.max(Decimal::ZERO),
            sellable,
            sellable_otherwise: opening,
        })
    }

    async fn market_hours(&self) -> Result<MarketHours, VenueError> {
        let now = self.clock.now();
        Ok(MarketHours {
            open_now: paper_market::is_open(now),
            next_change: Some(paper_market::next_change(now)),
            extended: false,
        })
    }

    async fn health(&self) -> Vec<VenueHealth> {
        let now = self.clock.now();
        vec![VenueHealth {
            name: "paper broker".into(),
            ok: true,
            head: None,
            latency_ms: None,
            last_seen: Some(now),
            detail: if paper_market::is_open(now) {
                "market open".into()
            } else {
                "market closed".into()
            },
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ManualClock;

    #[test]
    fn a_corrupt_order_record_is_an_unknown_outcome_not_a_fault_to_retry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("broker.redb");
        {
            let db = Database::create(&path).expect("db");
            let txn = db.begin_write().expect("txn");
            txn.open_table(ORDERS)
                .expect("table")
                .insert(7u64, b"{\"order_id\": cut".as_slice())
                .expect("insert");
            txn.commit().expect("commit");
        }
        let broker = PaperBroker::open(&path, 1, Arc::new(ManualClock::new(0))).expect("opens");
        match broker.orders() {
            Err(VenueError::Unknown(why)) => {
                assert!(why.contains("corrupt record in orders at key 7"), "{why}");
            }
            other => panic!("a corrupt record read as {other:?}"),
        }
    }
}
