//! Cycle detection from order books and liquidity pools: every XLM → A →
//! XLM and XLM → A → B → XLM over the configured assets, walked hop by hop
//! exactly as the network takes a path payment (each hop through the book
//! or the pool, whichever pays more — [`best_hop`]; integer stroops),
//! checked against the oracle, and sized within the market's depth.

use crate::venue::stellar::market::{Via, best_hop};
use crate::venue::stellar::pool::{LiquidityPool, ordered};
use crate::venue::stellar::{OraclePrice, OrderBook, StellarAsset};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a scan read: books by (selling, buying) — the offers a conversion
/// buying → selling crosses — and pools by their pair in protocol order.
#[derive(Debug, Default, Clone)]
pub struct Books {
    pub books: HashMap<(StellarAsset, StellarAsset), OrderBook>,
    pub pools: HashMap<(StellarAsset, StellarAsset), LiquidityPool>,
}

impl Books {
    pub fn insert(&mut self, b: OrderBook) {
        self.books.insert((b.selling.clone(), b.buying.clone()), b);
    }

    pub fn insert_pool(&mut self, p: LiquidityPool) {
        self.pools.insert((p.asset_a.clone(), p.asset_b.clone()), p);
    }

    pub fn pool(&self, a: &StellarAsset, b: &StellarAsset) -> Option<&LiquidityPool> {
        self.pools.get(&ordered(a, b))
    }

    /// What `amount` of `hops[0]` becomes after walking every hop; `None`
    /// when a hop has neither a book nor a pool deep enough.
    pub fn walk(&self, hops: &[StellarAsset], amount: i64) -> Option<i64> {
        self.walk_legs(hops, amount).map(|(out, _)| out)
    }

    /// [`Books::walk`], with where each hop went.
    pub fn walk_legs(&self, hops: &[StellarAsset], amount: i64) -> Option<(i64, Vec<Via>)> {
        let mut amt = amount;
        let mut vias = Vec::with_capacity(hops.len().saturating_sub(1));
        for w in hops.windows(2) {
            let offers = self
                .books
                .get(&(w[1].clone(), w[0].clone()))
                .map(|b| b.offers.as_slice())
                .unwrap_or(&[]);
            let (got, via) = best_hop(offers, self.pool(&w[0], &w[1]), &w[0], amt)?;
            vias.push(via);
            amt = got;
        }
        Some((amt, vias))
    }
}

/// Every cycle of 2 and 3 hops starting and ending at XLM.
pub fn candidate_cycles(assets: &[StellarAsset]) -> Vec<Vec<StellarAsset>> {
    let x = StellarAsset::Native;
    let mut out = Vec::new();
    for a in assets.iter().filter(|a| !a.is_native()) {
        out.push(vec![x.clone(), a.clone(), x.clone()]);
        for b in assets.iter().filter(|b| !b.is_native() && *b != a) {
            out.push(vec![x.clone(), a.clone(), b.clone(), x.clone()]);
        }
    }
    out
}

/// A cycle worth showing: what goes in, what comes back, and the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opportunity {
    /// `XLM → AQUA → XLM`.
    pub hops: Vec<StellarAsset>,
    pub send: i64,
    pub expected: i64,
    /// Network fee for the one operation, stroops.
    pub fee: i64,
    /// (expected − send − fee) / send in basis points.
    pub edge_bps: i64,
    /// The oracle agrees with every hop's price within the tolerance.
    pub oracle_ok: bool,
    pub ledger: u32,
    /// Where each hop goes at `send` (one per hop); empty in data stored
    /// before pools were modelled.
    #[serde(default)]
    pub vias: Vec<Via>,
}

impl Opportunity {
    pub fn profit(&self) -> i64 {
        self.expected
            .saturating_sub(self.send)
            .saturating_sub(self.fee)
    }

    pub fn label(&self) -> String {
        self.hops
            .iter()
            .map(|a| a.code())
            .collect::<Vec<_>>()
            .join(" → ")
    }

    /// The label with each hop's liquidity: `XLM →pool AQUA →book XLM`;
    /// the plain label when the hops' vias are not known.
    pub fn route(&self) -> String {
        if self.vias.len() + 1 != self.hops.len() {
            return self.label();
        }
        let mut out = self
            .hops
            .first()
            .map(|a| a.code().to_string())
            .unwrap_or_default();
        for (a, v) in self.hops.iter().skip(1).zip(&self.vias) {
            out.push_str(&format!(" →{} {}", v.as_str(), a.code()));
        }
        out
    }

    /// `[{from, to, via}]`, one per hop, for the WebSocket message.
    pub fn legs_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.hops
                .windows(2)
                .zip(&self.vias)
                .map(|(w, v)| {
                    serde_json::json!({"from": w[0].code(), "to": w[1].code(), "via": v.as_str()})
                })
                .collect(),
        )
    }

    /// Intermediate assets: the path payment's `path`.
    pub fn path(&self) -> &[StellarAsset] {
        &self.hops[1..self.hops.len() - 1]
    }
}

/// The profit-maximising send amount in `[min, max]`: profit is concave in
/// the amount (each deeper offer is worse), so a ternary search over the
/// integers finds it in ~40 walks.
pub fn best_size(
    books: &Books,
    hops: &[StellarAsset],
    min: i64,
    max: i64,
    fee: i64,
) -> Option<(i64, i64)> {
    if max < min || min <= 0 {
        return None;
    }
    let profit = |a: i64| {
        books
            .walk(hops, a)
            .and_then(|out| out.checked_sub(a)?.checked_sub(fee))
            .unwrap_or(i64::MIN)
    };
    let (mut lo, mut hi) = (min, max);
    while hi - lo > 2 {
        let m1 = lo + (hi - lo) / 3;
        let m2 = hi - (hi - lo) / 3;
        if profit(m1) < profit(m2) {
            lo = m1 + 1;
        } else {
            hi = m2 - 1;
        }
    }
    let best = (lo..=hi).max_by_key(|a| profit(*a))?;
    let out = books.walk(hops, best)?;
    Some((best, out))
}

/// Does the book agree with the oracle on every hop? Each hop's effective
/// rate (`out/in` for a small probe) must be within `tolerance_bps` of the
/// oracle's cross rate `price(from)/price(to)`. Unknown prices fail the check.
pub fn oracle_agrees(
    books: &Books,
    hops: &[StellarAsset],
    prices: &HashMap<String, OraclePrice>,
    probe: i64,
    tolerance_bps: i64,
) -> bool {
    let mut amount = probe;
    for w in hops.windows(2) {
        let (Some(pf), Some(pt)) = (prices.get(w[0].code()), prices.get(w[1].code())) else {
            return false;
        };
        if pt.price <= 0 || pf.decimals != pt.decimals {
            return false;
        }
        let Some(out) = books.walk(w, amount) else {
            return false;
        };
        // oracle out = amount × pf / pt; compare in i128, checked: the
        // oracle's figures come from outside.
        let Some(fair) = i128::from(amount)
            .checked_mul(pf.price)
            .map(|x| x / pt.price)
        else {
            return false;
        };
        if fair <= 0 {
            return false;
        }
        let Some(dev) = (i128::from(out) - fair)
            .checked_abs()
            .and_then(|d| d.checked_mul(10_000))
            .map(|d| d / fair)
        else {
            return false;
        };
        if dev > i128::from(tolerance_bps) {
            return false;
        }
        amount = out;
    }
    true
}

/// Scan every candidate: the best size per cycle, profitable ones first.
#[allow(clippy::too_many_arguments)]
pub fn detect(
    books: &Books,
    cycles: &[Vec<StellarAsset>],
    prices: &HashMap<String, OraclePrice>,
    min_send: i64,
    max_send: i64,
    fee: i64,
    tolerance_bps: i64,
    ledger: u32,
) -> Vec<Opportunity> {
    let mut out: Vec<Opportunity> = cycles
        .iter()
        .filter_map(|hops| {
            let (send, expected) = best_size(books, hops, min_send, max_send, fee)?;
            let (_, vias) = books.walk_legs(hops, send)?;
            let profit = expected.checked_sub(send)?.checked_sub(fee)?;
            Some(Opportunity {
                hops: hops.clone(),
                send,
                expected,
                fee,
                edge_bps: i64::try_from(i128::from(profit) * 10_000 / i128::from(send.max(1)))
                    .unwrap_or(if profit < 0 { i64::MIN } else { i64::MAX }),
                oracle_ok: oracle_agrees(books, hops, prices, min_send, tolerance_bps),
                ledger,
                vias,
            })
        })
        .collect();
    out.sort_by_key(|o| std::cmp::Reverse(o.profit()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::stellar::keys::Keypair;
    use crate::venue::stellar::pool::LiquidityPool;
    use crate::venue::stellar::{ONE, Offer, Price};

    fn aqua() -> StellarAsset {
        StellarAsset::Credit {
            code: "AQUA".into(),
            issuer: Keypair::from_seed([1; 32]).public(),
        }
    }

    fn books(skew: i32) -> Books {
        let mut b = Books::default();
        // XLM → AQUA: offers sell AQUA for XLM at 1 XLM per 100 AQUA (+skew).
        b.insert(OrderBook {
            selling: aqua(),
            buying: StellarAsset::Native,
            offers: vec![
                Offer {
                    amount: 10_000 * ONE,
                    price: Price {
                        n: 1,
                        d: 100 + skew,
                    },
                },
                Offer {
                    amount: 100_000 * ONE,
                    price: Price { n: 1, d: 99 },
                },
            ],
        });
        // AQUA → XLM: offers sell XLM for AQUA at 100.5 AQUA per XLM.
        b.insert(OrderBook {
            selling: StellarAsset::Native,
            buying: aqua(),
            offers: vec![Offer {
                amount: 1_000 * ONE,
                price: Price { n: 201, d: 2 },
            }],
        });
        b
    }

    #[test]
    fn a_skewed_book_makes_a_profitable_cycle_sized_within_depth() {
        let b = books(2); // 102 AQUA per XLM in, 100.5 back: ~1.5 % edge
        let hops = vec![StellarAsset::Native, aqua(), StellarAsset::Native];
        let (send, out) = best_size(&b, &hops, ONE, 1_000 * ONE, 100).expect("size");
        assert!(out > send);
        // The 102-AQUA offer holds 10 000 AQUA ≈ 98 XLM; beyond that the
        // price is 99 and the cycle loses, so the best size is at its edge.
        assert!((97 * ONE..=99 * ONE).contains(&send), "send {send}");
        let fair = books(0);
        let (s2, o2) = best_size(&fair, &hops, ONE, 1_000 * ONE, 100).expect("size");
        assert!(o2 - s2 - 100 < 0, "no edge without skew");
    }

    #[test]
    fn candidates_cover_two_and_three_hop_cycles() {
        let b = StellarAsset::Credit {
            code: "EURC".into(),
            issuer: Keypair::from_seed([2; 32]).public(),
        };
        let c = candidate_cycles(&[aqua(), b]);
        assert_eq!(c.len(), 4);
        assert!(
            c.iter().all(|h| h.first() == Some(&StellarAsset::Native)
                && h.last() == Some(&StellarAsset::Native))
        );
    }

    #[test]
    fn the_oracle_rejects_a_book_far_from_it() {
        let b = books(2);
        let hops = vec![StellarAsset::Native, aqua(), StellarAsset::Native];
        let mut prices = HashMap::new();
        let p = |s: &str, price| OraclePrice {
            symbol: s.into(),
            price,
            decimals: 14,
            timestamp: 0,
        };
        prices.insert("XLM".into(), p("XLM", 100_000_000_000_000));
        prices.insert("AQUA".into(), p("AQUA", 1_000_000_000_000));
        assert!(oracle_agrees(&b, &hops, &prices, ONE, 300));
        prices.insert("AQUA".into(), p("AQUA", 2_000_000_000_000));
        assert!(!oracle_agrees(&b, &hops, &prices, ONE, 300));
        prices.remove("AQUA");
        assert!(!oracle_agrees(&b, &hops, &prices, ONE, 300));
    }

    #[test]
    fn a_pool_better_than_the_book_takes_the_hop_and_is_recorded() {
        // The fair book (no edge) plus an AQUA/XLM pool paying 104 AQUA per
        // XLM: XLM →pool AQUA →book XLM pays.
        let mut b = books(0);
        let hops = vec![StellarAsset::Native, aqua(), StellarAsset::Native];
        assert!(
            detect(
                &b,
                std::slice::from_ref(&hops),
                &HashMap::new(),
                ONE,
                100 * ONE,
                100,
                300,
                1
            )
            .iter()
            .all(|o| o.profit() <= 0)
        );
        b.insert_pool(
            LiquidityPool::new(
                &StellarAsset::Native,
                &aqua(),
                1_000_000 * ONE,
                104_000_000 * ONE,
                1,
            )
            .expect("pool"),
        );
        let found = detect(
            &b,
            std::slice::from_ref(&hops),
            &HashMap::new(),
            ONE,
            100 * ONE,
            100,
            300,
            1,
        );
        let o = found.first().expect("found");
        assert!(o.profit() > 0, "{o:?}");
        assert_eq!(o.vias, vec![Via::Pool, Via::Book]);
        assert_eq!(o.route(), "XLM →pool AQUA →book XLM");
        assert_eq!(
            o.legs_json(),
            serde_json::json!([{"from": "XLM", "to": "AQUA", "via": "pool"},
                               {"from": "AQUA", "to": "XLM", "via": "book"}])
        );
        // The walk agrees with the pool's own quote on the first hop.
        let aqua_out = b
            .pool(&aqua(), &StellarAsset::Native)
            .and_then(|p| p.quote(&StellarAsset::Native, o.send));
        assert_eq!(b.walk(&hops[..2], o.send), aqua_out);
    }

    #[test]
    fn an_opportunity_stored_before_pools_still_reads() {
        let old = serde_json::json!({"hops": ["XLM", "XLM"], "send": 1, "expected": 2,
            "fee": 0, "edge_bps": 0, "oracle_ok": true, "ledger": 3});
        let o: Opportunity = serde_json::from_value(old).expect("reads");
        assert!(o.vias.is_empty());
        assert_eq!(o.route(), o.label());
    }
}
