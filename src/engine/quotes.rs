//! Quote reuse and quote rationing: a bounded cache of swap quotes that
//! expire after a TTL, and a per-decision budget of quote calls (at most so
//! many quote calls per token per decision; quotes cached briefly).
//!
//! The sizing search probes the same sizes loop after loop (it always starts
//! at the configured `start` and doubles), so an exact-amount cache saves RPC
//! calls across consecutive loops while the TTL keeps answers fresh.

use crate::model::{Chain, Timestamp, TokenId, Units};
use std::collections::{BTreeMap, HashMap};

/// One quote question: how much `token_out` for exactly `amount_in` of
/// `token_in` on `chain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuoteKey {
    pub chain: Chain,
    pub token_in: TokenId,
    pub token_out: TokenId,
    pub amount_in: Units,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    amount_out: Units,
    stored_at: Timestamp,
    /// Insertion sequence: breaks ties between entries stored in the same ms
    /// so "oldest" is always well defined.
    seq: u64,
}

/// Quotes younger than `ttl_ms`, at most `capacity` of them; past capacity
/// the oldest entry goes first, so memory stays bounded however many sizes
/// are asked about.
#[derive(Debug)]
pub struct QuoteCache {
    ttl_ms: u64,
    capacity: usize,
    entries: HashMap<QuoteKey, Entry>,
    /// The same entries ordered by age, for eviction without a scan.
    by_age: BTreeMap<(Timestamp, u64), QuoteKey>,
    next_seq: u64,
    hits: u64,
    misses: u64,
}

impl QuoteCache {
    /// A cache whose quotes live `ttl_ms` milliseconds. A capacity of zero
    /// stores nothing (every `get` misses), which is a valid way to turn it off.
    pub fn new(ttl_ms: u64, capacity: usize) -> Self {
        Self {
            ttl_ms,
            capacity,
            entries: HashMap::new(),
            by_age: BTreeMap::new(),
            next_seq: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// A clock that steps back (or two sources of time) must not make a
    /// quote live forever, nor expire early: age never goes below zero.
    fn is_fresh(&self, entry: &Entry, now: Timestamp) -> bool {
        now.saturating_sub(entry.stored_at) < self.ttl_ms
    }

    /// The cached `amount_out`, if one is stored and still fresh at `now`.
    /// An expired entry is dropped on the way.
    pub fn get(&mut self, key: &QuoteKey, now: Timestamp) -> Option<Units> {
        match self.entries.get(key).copied() {
            Some(entry) if self.is_fresh(&entry, now) => {
                self.hits += 1;
                Some(entry.amount_out)
            }
            Some(entry) => {
                self.remove(key, entry);
                self.misses += 1;
                None
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Store (or refresh) a quote observed at `now`.
    pub fn put(&mut self, key: QuoteKey, amount_out: Units, now: Timestamp) {
        if self.capacity == 0 {
            return;
        }
        if let Some(old) = self.entries.get(&key).copied() {
            self.remove(&key, old);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(
            key,
            Entry {
                amount_out,
                stored_at: now,
                seq,
            },
        );
        self.by_age.insert((now, seq), key);
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }

    /// Drop every entry that is no longer fresh at `now`.
    pub fn evict_expired(&mut self, now: Timestamp) {
        while let Some((&(stored_at, _), _)) = self.by_age.first_key_value() {
            if now.saturating_sub(stored_at) < self.ttl_ms {
                break;
            }
            if let Some((_, key)) = self.by_age.pop_first() {
                self.entries.remove(&key);
            }
        }
    }

    fn remove(&mut self, key: &QuoteKey, entry: Entry) {
        self.entries.remove(key);
        self.by_age.remove(&(entry.stored_at, entry.seq));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn hits(&self) -> u64 {
        self.hits
    }

    pub fn misses(&self) -> u64 {
        self.misses
    }
}

/// How many quote calls one decision may still make. Cache hits are free;
/// spend only before calling a venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteBudget {
    limit: u32,
    spent: u32,
}

impl QuoteBudget {
    pub fn new(limit: u32) -> Self {
        Self { limit, spent: 0 }
    }

    /// Takes one call from the budget; `false` (and nothing taken) when it is spent.
    pub fn try_spend(&mut self) -> bool {
        if self.spent < self.limit {
            self.spent += 1;
            true
        } else {
            false
        }
    }

    pub fn spent(&self) -> u32 {
        self.spent
    }

    pub fn remaining(&self) -> u32 {
        self.limit - self.spent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(amount_in: Units) -> QuoteKey {
        QuoteKey {
            chain: Chain::Hemi,
            token_in: TokenId::Vcred,
            token_out: TokenId::Wbtc,
            amount_in,
        }
    }

    #[test]
    fn fresh_quote_hits_and_expires_at_ttl() {
        let mut cache = QuoteCache::new(1_000, 8);
        cache.put(key(5), 42, 10_000);
        assert_eq!(cache.get(&key(5), 10_999), Some(42));
        assert_eq!(cache.get(&key(5), 11_000), None, "age == ttl is expired");
        assert!(cache.is_empty(), "an expired entry is dropped when met");
        assert_eq!((cache.hits(), cache.misses()), (1, 1));
    }

    #[test]
    fn keys_differ_by_every_field() {
        let mut cache = QuoteCache::new(1_000, 8);
        cache.put(key(5), 42, 0);
        let other_chain = QuoteKey {
            chain: Chain::Ethereum,
            ..key(5)
        };
        let other_out = QuoteKey {
            token_out: TokenId::Usdc,
            ..key(5)
        };
        assert_eq!(cache.get(&other_chain, 1), None);
        assert_eq!(cache.get(&other_out, 1), None);
        assert_eq!(cache.get(&key(6), 1), None);
        assert_eq!(cache.get(&key(5), 1), Some(42));
    }

    #[test]
    fn clock_stepping_back_does_not_break_ttl() {
        let mut cache = QuoteCache::new(1_000, 8);
        cache.put(key(1), 7, 5_000);
        cache.put(key(2), 8, 5_000);
        // Behind the time it was stored: not expired early ...
        assert_eq!(cache.get(&key(1), 4_000), Some(7));
        assert_eq!(cache.get(&key(1), 0), Some(7), "even far behind");
        cache.evict_expired(4_000);
        assert_eq!(cache.len(), 2, "a step back evicts nothing");
        // ... and once the clock is past stored + ttl, gone: the step back
        // did not make the quote live forever.
        assert_eq!(cache.get(&key(1), 5_999), Some(7));
        assert_eq!(cache.get(&key(1), 6_000), None, "expired at stored + ttl");
        cache.evict_expired(6_000);
        assert!(cache.is_empty(), "evict_expired drops it too");
        assert_eq!(cache.get(&key(2), 4_500), None);
    }

    #[test]
    fn capacity_evicts_oldest_first() {
        // Key order is the reverse of age order, so evicting by key (or by
        // hash order) instead of by age is caught.
        let mut cache = QuoteCache::new(60_000, 3);
        for (i, at) in [(9, 100), (5, 200), (1, 300)] {
            cache.put(key(i), i * 10, at);
        }
        let present = |cache: &mut QuoteCache, keys: &[Units]| -> Vec<Option<Units>> {
            keys.iter().map(|k| cache.get(&key(*k), 500)).collect()
        };
        cache.put(key(7), 70, 400);
        assert_eq!(cache.len(), 3);
        assert_eq!(
            present(&mut cache, &[9, 5, 1, 7]),
            vec![None, Some(50), Some(10), Some(70)],
            "the oldest (9, stored at 100) went, and only it"
        );
        // Reading an entry does not make it younger: age is from storing.
        cache.put(key(3), 30, 450);
        assert_eq!(
            present(&mut cache, &[5, 1, 7, 3]),
            vec![None, Some(10), Some(70), Some(30)],
            "then 5 (stored at 200), though it was just read"
        );
        // Same millisecond: insertion order breaks the tie.
        cache.put(key(8), 80, 450);
        cache.put(key(2), 20, 450);
        assert_eq!(
            present(&mut cache, &[1, 7, 3, 8, 2]),
            vec![None, None, Some(30), Some(80), Some(20)]
        );
        cache.put(key(4), 40, 450);
        assert_eq!(
            present(&mut cache, &[3, 8, 2, 4]),
            vec![None, Some(80), Some(20), Some(40)],
            "3 was stored first of the three at 450"
        );
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn refreshing_a_key_makes_it_young_again() {
        let mut cache = QuoteCache::new(60_000, 2);
        cache.put(key(1), 10, 100);
        cache.put(key(2), 20, 200);
        cache.put(key(1), 11, 300); // refresh: key 2 is now the oldest
        cache.put(key(3), 30, 400);
        assert_eq!(cache.get(&key(2), 500), None);
        assert_eq!(cache.get(&key(1), 500), Some(11));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn evict_expired_drops_only_stale_entries() {
        let mut cache = QuoteCache::new(1_000, 8);
        cache.put(key(1), 10, 0);
        cache.put(key(2), 20, 500);
        cache.put(key(3), 30, 900);
        cache.evict_expired(1_499); // ages 1 499, 999, 599
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&key(2), 1_499), Some(20));
        cache.evict_expired(10_000);
        assert!(cache.is_empty());
    }

    #[test]
    fn zero_capacity_stores_nothing() {
        let mut cache = QuoteCache::new(1_000, 0);
        cache.put(key(1), 10, 0);
        assert_eq!(cache.get(&key(1), 1), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn budget_spends_down_to_zero_and_refuses_after() {
        let mut budget = QuoteBudget::new(2);
        assert_eq!(budget.remaining(), 2);
        assert!(budget.try_spend());
        assert!(budget.try_spend());
        assert!(!budget.try_spend());
        assert_eq!((budget.spent(), budget.remaining()), (2, 0));
        assert!(!QuoteBudget::new(0).try_spend());
    }
}
