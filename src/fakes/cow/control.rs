//! The fake orderbook's start-up and its control API: [`FakeCow`] listens,
//! hands each request to the state under its lock (pricing quotes with the
//! lock let go), and lets a test script faults, lags and fills and read
//! back what the fake holds and counted.

use super::faults::{CANCEL, POST, PostFault, READ, ReadFault};
use super::quote::Quoting;
use super::routes::Step;
use super::state::{FakeCowOrder, FakeCowTrade, State};
use crate::fakes::faults::{Dice, ListingLag, Odds, Plan, Sends};
use crate::fakes::http::{Server, carry_out, read_request};
use crate::fakes::lock;
use crate::model::Clock;
use crate::venue::evm::swap::cow_order;
use alloy::primitives::{Address, U256};
use alloy::sol_types::Eip712Domain;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The fake orderbook. Dropping it stops it.
pub struct FakeCow {
    server: Server,
    pub(super) state: Arc<Mutex<State>>,
}

impl FakeCow {
    /// Listen on 127.0.0.1:0 as the orderbook of the settlement at
    /// `settlement` on `chain_id`, its time from `clock`, its quotes from
    /// `quoting`.
    pub async fn start(
        clock: Arc<dyn Clock>,
        chain_id: u64,
        settlement: Address,
        quoting: Quoting,
    ) -> std::io::Result<FakeCow> {
        let state = Arc::new(Mutex::new(State {
            clock,
            domain: cow_order::domain(chain_id, settlement),
            settlement,
            orders: Vec::new(),
            trades: Vec::new(),
            next_quote_id: 0,
            quotes: BTreeMap::new(),
            quote_fee: U256::ZERO,
            posts: Sends::default(),
            cancels: Sends::default(),
            post_faults: Plan::default(),
            read_faults: Plan::default(),
            listing_lag: ListingLag::default(),
            down: false,
            never_fill: false,
            unsupported: Default::default(),
            partial_fill: (1, 1),
        }));
        let serving = state.clone();
        let server = Server::start(move |mut sock| {
            let state = serving.clone();
            let quoting = quoting.clone();
            async move {
                let Some(request) = read_request(&mut sock).await else {
                    return;
                };
                let step = lock(&state).handle(&request);
                let outcome = match step {
                    Step::Done(o) => o,
                    Step::Price(ask) => {
                        let priced = quoting(ask.sell_token, ask.buy_token, ask.sell_amount).await;
                        lock(&state).quoted(ask, priced)
                    }
                };
                carry_out(sock, outcome).await;
            }
        })
        .await?;
        Ok(FakeCow { server, state })
    }

    /// `http://127.0.0.1:<port>` (the API's base, without `/mainnet`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The EIP-712 domain the fake checks signatures in.
    pub fn domain(&self) -> Eip712Domain {
        lock(&self.state).domain.clone()
    }

    /// A quote deducts this many sold atoms as its network fee.
    pub fn set_quote_fee(&self, fee: U256) {
        lock(&self.state).quote_fee = fee;
    }

    pub fn fail_next_post(&self, fault: PostFault) {
        lock(&self.state).post_faults.next(POST, fault);
    }

    pub fn fail_next_cancel(&self, fault: PostFault) {
        lock(&self.state).post_faults.next(CANCEL, fault);
    }

    /// The next quote or read meets `fault` (queued).
    pub fn fail_next_read(&self, fault: ReadFault) {
        lock(&self.state).read_faults.next(READ, fault);
    }

    /// One order POST in `one_in` meets a fault drawn from `seed`.
    pub fn post_faults_from_seed(&self, seed: u64, one_in: u64) {
        let dice = Dice::new(seed, Odds::OneIn(one_in), PostFault::all()).only(&[POST]);
        lock(&self.state).post_faults.seed(dice);
    }

    pub fn drawn_faults(&self) -> Vec<PostFault> {
        lock(&self.state).post_faults.drawn()
    }

    /// Every order accepted from now on is missing from `GET` for this lag.
    pub fn set_listing_lag(&self, lag: ListingLag) {
        lock(&self.state).listing_lag = lag;
    }

    /// Every call answers 503 while down.
    pub fn set_down(&self, down: bool) {
        lock(&self.state).down = down;
    }

    /// The solver fills nothing: every order stays open until it expires.
    /// Quotes selling or buying `token` are refused (`UnsupportedToken`).
    pub fn refuse_token(&self, token: Address) {
        lock(&self.state).unsupported.insert(token);
    }

    pub fn set_never_fill(&self, never: bool) {
        lock(&self.state).never_fill = never;
    }

    /// A partially fillable order is filled `num/den` of its sell amount
    /// per solver pass (default all of it).
    pub fn set_partial_fill(&self, num: u64, den: u64) {
        lock(&self.state).partial_fill = (num, den.max(1));
    }

    /// Order POSTs per UID, counted before any fault.
    pub fn posts(&self) -> BTreeMap<String, u32> {
        lock(&self.state).posts.by_key().clone()
    }

    /// Order POSTs in all.
    pub fn post_total(&self) -> usize {
        lock(&self.state).posts.total()
    }

    /// Cancellations per UID, counted before any fault.
    pub fn cancels(&self) -> BTreeMap<String, u32> {
        lock(&self.state).cancels.by_key().clone()
    }

    pub fn orders(&self) -> Vec<FakeCowOrder> {
        lock(&self.state).orders.clone()
    }

    pub fn trades(&self) -> Vec<FakeCowTrade> {
        lock(&self.state).trades.clone()
    }
}
