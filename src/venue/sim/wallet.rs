//! The keeper's paper wallet: one balance per (chain, token) that exists on
//! that chain, its genesis endowment, and debits that refuse to overdraw.

use crate::model::{Chain, TokenId, Units};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wallet {
    balances: BTreeMap<(Chain, TokenId), Units>,
}

/// A debit larger than the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub chain: Chain,
    pub token: TokenId,
    pub have: Units,
    pub need: Units,
}

/// Every (chain, token) the wallet can hold, in order.
pub fn slots() -> impl Iterator<Item = (Chain, TokenId)> {
    Chain::ALL
        .into_iter()
        .flat_map(|c| TokenId::ALL.into_iter().map(move |t| (c, t)))
        .filter(|&(c, t)| t.exists_on(c))
}

impl Wallet {
    /// Hemi: 200 000 VCRED and 2 ETH; Ethereum: 2 ETH; everything else 0.
    pub fn genesis() -> Wallet {
        let mut w = Wallet {
            balances: slots().map(|slot| (slot, 0)).collect(),
        };
        w.balances.insert(
            (Chain::Hemi, TokenId::Vcred),
            200_000 * TokenId::Vcred.one(),
        );
        w.balances
            .insert((Chain::Hemi, TokenId::Eth), 2 * TokenId::Eth.one());
        w.balances
            .insert((Chain::Ethereum, TokenId::Eth), 2 * TokenId::Eth.one());
        w
    }

    /// A wallet from stored balances (slots missing from the store hold 0).
    pub fn from_entries(entries: impl IntoIterator<Item = ((Chain, TokenId), Units)>) -> Wallet {
        let mut w = Wallet {
            balances: slots().map(|slot| (slot, 0)).collect(),
        };
        w.balances.extend(entries);
        w
    }

    pub fn get(&self, chain: Chain, token: TokenId) -> Units {
        self.balances.get(&(chain, token)).copied().unwrap_or(0)
    }

    pub fn credit(&mut self, chain: Chain, token: TokenId, amount: Units) {
        let b = self.balances.entry((chain, token)).or_insert(0);
        *b = b.saturating_add(amount);
    }

    pub fn debit(&mut self, chain: Chain, token: TokenId, amount: Units) -> Result<(), Shortfall> {
        let have = self.get(chain, token);
        let left = have.checked_sub(amount).ok_or(Shortfall {
            chain,
            token,
            have,
            need: amount,
        })?;
        self.balances.insert((chain, token), left);
        Ok(())
    }

    /// Checks that the wallet could pay every `(chain, token, amount)` at once.
    pub fn can_pay(&self, bill: &[(Chain, TokenId, Units)]) -> Result<(), Shortfall> {
        let mut totals: BTreeMap<(Chain, TokenId), Units> = BTreeMap::new();
        for &(c, t, a) in bill {
            let sum = totals.entry((c, t)).or_insert(0);
            *sum = sum.saturating_add(a);
        }
        for ((chain, token), need) in totals {
            let have = self.get(chain, token);
            if have < need {
                return Err(Shortfall {
                    chain,
                    token,
                    have,
                    need,
                });
            }
        }
        Ok(())
    }

    /// Sorted `(chain, token, amount)` rows.
    pub fn rows(&self) -> Vec<(Chain, TokenId, Units)> {
        self.balances
            .iter()
            .map(|(&(c, t), &a)| (c, t, a))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_endowment() {
        let w = Wallet::genesis();
        assert_eq!(w.get(Chain::Hemi, TokenId::Vcred), 200_000_000_000);
        assert_eq!(w.get(Chain::Hemi, TokenId::Eth), 2 * 10u128.pow(18));
        assert_eq!(w.get(Chain::Ethereum, TokenId::Eth), 2 * 10u128.pow(18));
        assert_eq!(w.get(Chain::Ethereum, TokenId::Usdc), 0);
        assert!(
            !w.rows()
                .iter()
                .any(|&(c, t, _)| c == Chain::Ethereum && t == TokenId::Vcred)
        );
        assert_eq!(w.rows().len(), 17);
    }

    #[test]
    fn debits_never_overdraw() {
        let mut w = Wallet::genesis();
        let before = w.clone();
        let err = w.debit(Chain::Ethereum, TokenId::Usdc, 1).unwrap_err();
        assert_eq!(err.have, 0);
        assert_eq!(w, before);
        let eth = TokenId::Eth.one();
        assert!(
            w.can_pay(&[
                (Chain::Hemi, TokenId::Eth, eth),
                (Chain::Hemi, TokenId::Eth, eth)
            ])
            .is_ok()
        );
        assert!(
            w.can_pay(&[
                (Chain::Hemi, TokenId::Eth, eth),
                (Chain::Hemi, TokenId::Eth, eth + 1)
            ])
            .is_err()
        );
    }
}
