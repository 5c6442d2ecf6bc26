//! Strict-send path finding as Horizon does it, over a [`SimLedger`]'s
//! books (the paper venue's `strict_send_paths`): for each destination,
//! the direct book and every route through one other asset, never back
//! through the source (Horizon skips assets already on a path, so it never
//! returns a cycle), best first. Each hop goes through the book or the
//! liquidity pool, whichever pays more ([`best_hop`], as the network and
//! the keeper's detector take it).

use super::StellarAsset;
use super::horizon::PathQuote;
use super::market::{Via, best_hop};
use super::sim::SimLedger;

/// One hop over the ledger's book and pool of the pair.
pub fn hop(
    l: &SimLedger,
    from: &StellarAsset,
    to: &StellarAsset,
    amount: i64,
) -> Option<(i64, Via)> {
    best_hop(
        &l.order_book(to, from).offers,
        l.pools.iter().find(|p| p.trades(from, to)),
        from,
        amount,
    )
}

/// What `amount` of `source` becomes in each of `destinations`.
pub fn strict_send(
    l: &SimLedger,
    source: &StellarAsset,
    amount: i64,
    destinations: &[StellarAsset],
) -> Vec<PathQuote> {
    let mut assets: Vec<StellarAsset> = Vec::new();
    for b in &l.books {
        for a in [&b.selling, &b.buying] {
            if !assets.contains(a) {
                assets.push(a.clone());
            }
        }
    }
    for p in &l.pools {
        for a in [&p.asset_a, &p.asset_b] {
            if !assets.contains(a) {
                assets.push(a.clone());
            }
        }
    }
    let mut out = Vec::new();
    for dest in destinations.iter().filter(|d| *d != source) {
        let routes = std::iter::once(Vec::new()).chain(
            assets
                .iter()
                .filter(|m| *m != source && *m != dest)
                .map(|m| vec![m.clone()]),
        );
        let mut found: Vec<PathQuote> = routes
            .filter_map(|path| {
                let mut hops = vec![source.clone()];
                hops.extend(path.iter().cloned());
                hops.push(dest.clone());
                let mut amt = amount;
                for w in hops.windows(2) {
                    let (got, _) = hop(l, &w[0], &w[1], amt)?;
                    amt = got;
                }
                Some(PathQuote {
                    source_amount: amount,
                    destination: dest.clone(),
                    destination_amount: amt,
                    path,
                })
            })
            .collect();
        found.sort_by_key(|q| std::cmp::Reverse(q.destination_amount));
        out.extend(found);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::stellar::paper::PaperStellar;
    use crate::venue::stellar::sim::cross;

    #[test]
    fn the_paper_quote_for_a_cycle_by_two_queries_equals_walking_its_books() {
        let paper = PaperStellar::open(None, 7).expect("paper");
        let l = paper.ledger();
        let xlm = StellarAsset::Native;
        for a in paper.assets() {
            let amount = 50 * crate::venue::stellar::ONE;
            let out = strict_send(&l, &xlm, amount, std::slice::from_ref(a));
            assert!(out.iter().all(|q| !q.path.contains(&xlm)), "no cycles");
            let direct = out.iter().find(|q| q.path.is_empty()).expect("direct");
            let (got, _) = hop(&l, &xlm, a, amount).expect("the market is deep enough");
            assert_eq!(direct.destination_amount, got);
            // The pool, where there is one, only ever improves on the book.
            let (booked, _) =
                cross(&l.order_book(a, &xlm).offers, amount).expect("the book is deep enough");
            assert!(got >= booked);
            assert!(
                out.first()
                    .is_some_and(|best| best.destination_amount >= got)
            );
            let back = strict_send(&l, a, got, std::slice::from_ref(&xlm));
            assert!(
                back.iter()
                    .any(|q| q.path.is_empty() && q.destination_amount > 0)
            );
        }
        // Never a quote to the source itself.
        assert!(strict_send(&l, &xlm, 1, std::slice::from_ref(&xlm)).is_empty());
    }
}
