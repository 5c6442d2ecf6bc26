//! Strict-send path finding as Horizon does it, over a [`SimLedger`]'s
//! books (the paper venue's `strict_send_paths`): for each destination,
//! the direct book and every route through one other asset, never back
//! through the source (Horizon skips assets already on a path, so it never
//! returns a cycle), best first. Order books only: a world with liquidity
//! pools would quote them too.

use super::StellarAsset;
use super::horizon::PathQuote;
use super::sim::{SimLedger, cross};

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
                    let (got, _) = cross(&l.order_book(&w[1], &w[0]).offers, amt)?;
                    if got <= 0 {
                        return None;
                    }
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
