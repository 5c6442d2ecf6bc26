//! One hop of a path payment as the network (protocol ≥ 18) takes it: the
//! order book's result and the liquidity pool's result are both computed
//! and the better one takes the whole hop — never a split. The detector,
//! the simulator and the paper path finder all call [`best_hop`], so what
//! is predicted is what is applied.

use super::Offer;
use super::asset::StellarAsset;
use super::pool::LiquidityPool;
use super::sim::cross;
use serde::{Deserialize, Serialize};

/// Which liquidity a hop went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    #[default]
    Book,
    Pool,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Book => "book",
            Self::Pool => "pool",
        }
    }
}

/// Send `amount` of `from` through the hop whose book is `offers` (offers
/// selling the other asset for `from`) and whose pool is `pool`; the better
/// result and where it came from, `None` when neither can take it.
///
/// As stellar-core's `shouldConvertWithOffers` (`OfferExchange.cpp`)
/// decides: when the pool can take the hop, the book keeps it only if it
/// fills the whole hop at a strictly better price; a tie goes to the pool.
/// Without a pool the book's answer stands. (With the same amount sent on
/// both sides core's `pool.sent·book.got > pool.got·book.sent` is
/// `book.got > pool.got`.)
pub fn best_hop(
    offers: &[Offer],
    pool: Option<&LiquidityPool>,
    from: &StellarAsset,
    amount: i64,
) -> Option<(i64, Via)> {
    let book = cross(offers, amount).map(|(got, _)| got).filter(|g| *g > 0);
    let pooled = pool.and_then(|p| p.quote(from, amount));
    match (book, pooled) {
        (Some(b), Some(p)) if b > p => Some((b, Via::Book)),
        (_, Some(p)) => Some((p, Via::Pool)),
        (Some(b), None) => Some((b, Via::Book)),
        (None, None) => None,
    }
}

/// [`best_hop`], applied: the crossed offers leave `offers` or the pool's
/// reserves move. Nothing changes when the hop cannot be taken.
pub fn take_hop(
    offers: &mut Vec<Offer>,
    pool: Option<&mut LiquidityPool>,
    from: &StellarAsset,
    amount: i64,
) -> Option<(i64, Via)> {
    let (out, via) = best_hop(offers, pool.as_deref(), from, amount)?;
    match via {
        Via::Book => {
            let (got, after) = cross(offers, amount)?;
            *offers = after;
            Some((got, via))
        }
        Via::Pool => Some((pool?.trade(from, amount)?, via)).filter(|(got, _)| *got == out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::stellar::Price;
    use crate::venue::stellar::keys::Keypair;

    fn usdc() -> StellarAsset {
        StellarAsset::Credit {
            code: "USDC".into(),
            issuer: Keypair::from_seed([3; 32]).public(),
        }
    }

    /// A book selling USDC for XLM at `n` XLM per USDC.
    fn book(n: i32) -> Vec<Offer> {
        vec![Offer {
            amount: 1_000_000,
            price: Price { n, d: 1 },
        }]
    }

    /// 1000 XLM sent to a 50 000 : 5 000 XLM/USDC pool (fee 30) pays
    /// 5000 × 9970 × 1000 / (10000 × 50000 + 9970 × 1000) = 97.75… → 97.
    fn pool() -> LiquidityPool {
        LiquidityPool::new(&StellarAsset::Native, &usdc(), 50_000, 5_000, 1).expect("pool")
    }

    #[test]
    fn the_book_takes_the_hop_when_it_pays_more() {
        // 10 XLM per USDC: 1000 XLM buys 100 USDC.
        assert_eq!(
            best_hop(&book(10), Some(&pool()), &StellarAsset::Native, 1_000),
            Some((100, Via::Book))
        );
    }

    #[test]
    fn the_pool_takes_the_hop_when_it_pays_more() {
        // 11 XLM per USDC: 1000 XLM buys 90 USDC; the pool pays 97.
        assert_eq!(
            best_hop(&book(11), Some(&pool()), &StellarAsset::Native, 1_000),
            Some((97, Via::Pool))
        );
        // No book at all: the pool alone.
        assert_eq!(
            best_hop(&[], Some(&pool()), &StellarAsset::Native, 1_000),
            Some((97, Via::Pool))
        );
        // No pool, no book: nothing.
        assert_eq!(best_hop(&[], None, &StellarAsset::Native, 1_000), None);
    }

    #[test]
    fn a_tie_goes_to_the_pool() {
        // An offer of exactly 97 USDC for 1000 XLM: price 1000/97.
        let tie = vec![Offer {
            amount: 1_000_000,
            price: Price { n: 1_000, d: 97 },
        }];
        assert_eq!(
            best_hop(&tie, Some(&pool()), &StellarAsset::Native, 1_000),
            Some((97, Via::Pool))
        );
    }
}
