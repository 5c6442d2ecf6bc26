//! The one fault pattern every fake follows (the hostile-peers issue; the
//! README's fault matrix). A fake names its faults in its own wire's terms
//! (Schwab's `OrderReply`, Alpaca's `PlaceFault`, the EVM proxy's
//! `RpcFault`, Stellar's `Fault`) and says which [`Kind`] each is
//! ([`PeerFault`]); which fault one request meets is decided by its
//! [`Plan`]: the fake's script first, then seeded [`Dice`] over a menu (the
//! same seed, the same faults, from the one [`xorshift`] of the fakes),
//! every fault met logged. What reached the peer's acting path is counted
//! at the fake, before any fault and whatever the attempt, in [`Sends`];
//! an accepted order missing from the listings for a while is a
//! [`ListingLag`]. A node behind the head is each wire's own (the EVM
//! proxy's `Lag`, Stellar's `ledger_lag`): what "behind" hides differs.

use crate::model::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// What a hostile peer did to one request: whether it acted first (the
/// order taken, the transaction forwarded or applied) and what the client
/// then saw. Before acting, trying again is safe; after, the outcome is
/// unknown and only looking may settle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind {
    pub acted: bool,
    pub shows: Shows,
}

/// What the client sees of a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shows {
    /// The connection closes without a byte of answer (after acting: the
    /// reply lost).
    NoAnswer,
    /// A 5xx (a gateway's or the server's own error page).
    ServerError,
    /// 429, with or without `Retry-After`.
    TooManyRequests,
    /// Nothing within the client's timeout.
    Timeout,
    /// A body that is not the wire's (not JSON, an HTML page).
    Malformed,
    /// The body announced whole and cut halfway.
    Cut,
    /// A body past what the client reads.
    Oversized,
    /// A success that lacks what identifies the result (a 201 without
    /// `Location`).
    Incomplete,
    /// The right answer, late.
    Late,
}

impl Kind {
    /// Refused or lost before the peer acted.
    pub const fn before(shows: Shows) -> Kind {
        Kind {
            acted: false,
            shows,
        }
    }

    /// The peer acted, then the client saw `shows`.
    pub const fn after(shows: Shows) -> Kind {
        Kind { acted: true, shows }
    }
}

/// A fake's fault, in its wire's terms, said as a [`Kind`].
pub trait PeerFault {
    fn kind(&self) -> Kind;

    /// Whether the peer acted before the fault showed.
    fn acts(&self) -> bool {
        self.kind().acted
    }
}

/// xorshift64*: the fakes' seeded draws, deterministic per seed.
pub fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// How often seeded dice hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Odds {
    /// One request in this many (1: every one).
    OneIn(u64),
    /// This many requests in 1000.
    PerMille(u32),
}

/// Seeded faults: requests of the calls in scope (all, or the methods or
/// routes named) meet one of `menu` at `odds`, the same ones in the same
/// order for the same seed.
#[derive(Debug, Clone)]
pub struct Dice<F> {
    state: u64,
    odds: Odds,
    menu: Vec<F>,
    only: Option<Vec<String>>,
}

impl<F: Clone> Dice<F> {
    pub fn new(seed: u64, odds: Odds, menu: Vec<F>) -> Self {
        Self {
            // xorshift stays at 0 for ever.
            state: seed.max(1),
            odds,
            menu,
            only: None,
        }
    }

    /// Only requests of these calls (methods, routes) roll.
    pub fn only(mut self, calls: &[&str]) -> Self {
        self.only = Some(calls.iter().map(|c| c.to_string()).collect());
        self
    }

    /// Whether requests of `call` roll these dice.
    pub fn covers(&self, call: &str) -> bool {
        !self.menu.is_empty()
            && self
                .only
                .as_ref()
                .is_none_or(|o| o.iter().any(|c| c == call))
    }

    /// The fault one request of `call` meets, if the dice hit it.
    pub fn roll(&mut self, call: &str) -> Option<F> {
        if !self.covers(call) {
            return None;
        }
        let draw = xorshift(&mut self.state);
        let hit = match self.odds {
            Odds::OneIn(n) => draw.is_multiple_of(n.max(1)),
            Odds::PerMille(p) => draw % 1000 < u64::from(p),
        };
        if !hit {
            return None;
        }
        let i = (xorshift(&mut self.state) % self.menu.len() as u64) as usize;
        self.menu.get(i).cloned()
    }
}

/// One fault a request met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Met<F> {
    /// The method or route it was a request of.
    pub call: String,
    /// Which request of that call (1-based).
    pub number: u64,
    pub fault: F,
    /// Drawn by the dice (else scripted).
    pub seeded: bool,
}

/// Which fault each request meets: what the script holds for it (the next
/// ones of its call in turn, or one by its number), else what the fake's
/// own script says (passed to [`Plan::decide`]), else the dice. The dice
/// roll for every request in their scope, scripted or not, so the seeded
/// faults do not depend on the script. Requests are counted per call.
#[derive(Debug, Clone)]
pub struct Plan<F> {
    calls: HashMap<String, u64>,
    next: HashMap<String, VecDeque<F>>,
    at: HashMap<(String, u64), F>,
    dice: Option<Dice<F>>,
    met: Vec<Met<F>>,
}

impl<F> Default for Plan<F> {
    fn default() -> Self {
        Self {
            calls: HashMap::new(),
            next: HashMap::new(),
            at: HashMap::new(),
            dice: None,
            met: Vec::new(),
        }
    }
}

impl<F: Clone> Plan<F> {
    /// The next request of `call` meets `fault` (queued: several in turn).
    pub fn next(&mut self, call: &str, fault: F) {
        self.next
            .entry(call.to_string())
            .or_default()
            .push_back(fault);
    }

    /// Request number `number` of `call` (1-based, counted since the
    /// start) meets `fault`.
    pub fn at(&mut self, call: &str, number: u64, fault: F) {
        self.at.insert((call.to_string(), number), fault);
    }

    /// Forget every scripted fault not met yet.
    pub fn clear_script(&mut self) {
        self.next.clear();
        self.at.clear();
    }

    /// Seeded faults from now on (in place of any before).
    pub fn seed(&mut self, dice: Dice<F>) {
        self.dice = Some(dice);
    }

    /// No more seeded faults.
    pub fn calm(&mut self) {
        self.dice = None;
    }

    /// Count a request of `call`: its number (1-based).
    pub fn arrive(&mut self, call: &str) -> u64 {
        let n = self.calls.entry(call.to_string()).or_insert(0);
        *n += 1;
        *n
    }

    /// Requests of `call` so far.
    pub fn calls(&self, call: &str) -> u64 {
        self.calls.get(call).copied().unwrap_or(0)
    }

    /// The fault request `number` of `call` meets, if any, logged as met.
    /// `own` is what the fake's own script holds for it (rules on what it
    /// carries, say); the plan's script comes first.
    pub fn decide(&mut self, call: &str, number: u64, own: Option<F>) -> Option<F> {
        let drawn = self.dice.as_mut().and_then(|d| d.roll(call));
        let scripted = self
            .at
            .remove(&(call.to_string(), number))
            .or_else(|| self.next.get_mut(call).and_then(VecDeque::pop_front))
            .or(own);
        let seeded = scripted.is_none() && drawn.is_some();
        let fault = scripted.or(drawn)?;
        self.met.push(Met {
            call: call.to_string(),
            number,
            fault: fault.clone(),
            seeded,
        });
        Some(fault)
    }

    /// A request that meets no fault of its own (a later call of a batch
    /// that already met one): its script is spent and the dice roll, so
    /// both stay in step, but nothing is met.
    pub fn pass(&mut self, call: &str, number: u64) {
        if let Some(d) = self.dice.as_mut() {
            d.roll(call);
        }
        self.at.remove(&(call.to_string(), number));
    }

    /// Every fault met so far, in order.
    pub fn met(&self) -> &[Met<F>] {
        &self.met
    }

    /// The faults the dice drew so far, in order.
    pub fn drawn(&self) -> Vec<F> {
        self.met
            .iter()
            .filter(|m| m.seeded)
            .map(|m| m.fault.clone())
            .collect()
    }
}

/// What reached a fake's acting path, counted at the fake before any
/// fault, whatever the attempt: how many times each identity arrived (a
/// client order id, a transaction hash; `()` where the wire has none) and
/// the distinct identities seen per slot (a sender's nonce, an account's
/// sequence), so "sent once" and "one transaction per nonce" are read off
/// the fake, not the client.
#[derive(Debug, Clone)]
pub struct Sends<K, S = ()> {
    times: BTreeMap<K, u32>,
    slots: BTreeMap<S, BTreeSet<K>>,
    total: usize,
}

impl<K, S> Default for Sends<K, S> {
    fn default() -> Self {
        Self {
            times: BTreeMap::new(),
            slots: BTreeMap::new(),
            total: 0,
        }
    }
}

impl<K: Ord + Clone, S: Ord> Sends<K, S> {
    /// One arrival of `key` (in `slot`, when it has one).
    pub fn record(&mut self, key: K, slot: Option<S>) {
        self.total += 1;
        if let Some(slot) = slot {
            self.slots.entry(slot).or_default().insert(key.clone());
        }
        *self.times.entry(key).or_default() += 1;
    }

    /// Arrivals in all.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Arrivals of `key`.
    pub fn times(&self, key: &K) -> u32 {
        self.times.get(key).copied().unwrap_or(0)
    }

    /// Arrivals per identity.
    pub fn by_key(&self) -> &BTreeMap<K, u32> {
        &self.times
    }

    /// The distinct identities per slot.
    pub fn slots(&self) -> &BTreeMap<S, BTreeSet<K>> {
        &self.slots
    }
}

/// Something accepted that the listings leave out for a while: until an
/// instant of the fake's clock, and for a number of looks (both must pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListingLag {
    pub until: Timestamp,
    pub looks: u32,
}

impl ListingLag {
    /// Hidden from the next `looks` looks only.
    pub fn looks(looks: u32) -> Self {
        Self { until: 0, looks }
    }

    /// One look at `now`: whether it is left out (the look counts either way).
    pub fn hides(&mut self, now: Timestamp) -> bool {
        let by_looks = self.looks > 0;
        self.looks = self.looks.saturating_sub(1);
        now < self.until || by_looks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_are_deterministic_per_seed_and_only_on_their_calls() {
        let draws = |seed| {
            let mut d = Dice::new(seed, Odds::OneIn(3), (0..11).collect::<Vec<u32>>())
                .only(&["eth_sendRawTransaction"]);
            (0..50)
                .map(|_| d.roll("eth_sendRawTransaction"))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        assert!(draws(7).iter().any(Option::is_some));
        assert!(draws(7).iter().any(Option::is_none));
        let mut d = Dice::new(7, Odds::OneIn(1), vec![1]).only(&["eth_sendRawTransaction"]);
        assert_eq!(d.roll("eth_call"), None);
        assert_eq!(d.roll("eth_sendRawTransaction"), Some(1));
        let mut empty = Dice::<u32>::new(7, Odds::OneIn(1), Vec::new());
        assert_eq!(empty.roll("any"), None);
    }

    #[test]
    fn per_mille_odds_hit_about_that_often_and_zero_never() {
        let mut d = Dice::new(11, Odds::PerMille(300), vec!['x']);
        let hits = (0..10_000).filter(|_| d.roll("c").is_some()).count();
        assert!((2_500..3_500).contains(&hits), "{hits}");
        let mut never = Dice::new(11, Odds::PerMille(0), vec!['x']);
        assert!((0..1_000).all(|_| never.roll("c").is_none()));
    }

    #[test]
    fn the_script_comes_first_and_the_dice_stay_in_step_with_or_without_it() {
        let seeded = |script: bool| {
            let mut p = Plan::default();
            p.seed(Dice::new(5, Odds::OneIn(2), vec!["drawn-a", "drawn-b"]));
            if script {
                p.next("place", "scripted");
                p.at("place", 3, "third");
            }
            let got: Vec<_> = (0..6)
                .map(|_| {
                    let n = p.arrive("place");
                    p.decide("place", n, None)
                })
                .collect();
            (got, p)
        };
        let (plain, _) = seeded(false);
        let (scripted, p) = seeded(true);
        assert_eq!(scripted[0], Some("scripted"));
        assert_eq!(scripted[2], Some("third"));
        assert_eq!(scripted[1], plain[1]);
        assert_eq!(scripted[3..], plain[3..]);
        assert_eq!(p.calls("place"), 6);
        assert!(p.met().iter().any(|m| !m.seeded && m.number == 3));
        assert_eq!(p.drawn().len(), p.met().iter().filter(|m| m.seeded).count());
        let mut own = Plan::<&str>::default();
        assert_eq!(own.decide("x", 1, Some("own")), Some("own"));
        own.at("x", 2, "at");
        own.pass("x", 2);
        assert_eq!(
            own.decide("x", 2, None),
            None,
            "a passed request's script is spent"
        );
        assert_eq!(own.met().len(), 1);
    }

    #[test]
    fn sends_count_every_arrival_and_the_distinct_identities_per_slot() {
        let mut s: Sends<&str, (char, u64)> = Sends::default();
        s.record("tx1", Some(('a', 7)));
        s.record("tx1", Some(('a', 7)));
        s.record("tx2", Some(('a', 7)));
        s.record("tx3", None);
        assert_eq!(s.total(), 4);
        assert_eq!(s.times(&"tx1"), 2);
        assert_eq!(s.times(&"none"), 0);
        assert_eq!(s.slots()[&('a', 7)].len(), 2);
        assert_eq!(s.by_key().len(), 3);
    }

    #[test]
    fn a_listing_lag_hides_until_its_instant_and_for_its_looks() {
        let mut lag = ListingLag {
            until: 100,
            looks: 2,
        };
        assert!(lag.hides(0));
        assert!(lag.hides(200), "a look left");
        assert!(!lag.hides(200));
        assert!(lag.hides(50), "before its instant");
        let mut looks = ListingLag::looks(1);
        assert!(looks.hides(0));
        assert!(!looks.hides(0));
    }

    #[test]
    fn a_kind_says_whether_the_peer_acted() {
        struct Lost;
        impl PeerFault for Lost {
            fn kind(&self) -> Kind {
                Kind::after(Shows::NoAnswer)
            }
        }
        assert!(Lost.acts());
        assert!(!Kind::before(Shows::TooManyRequests).acted);
    }
}
