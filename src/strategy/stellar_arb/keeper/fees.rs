//! The keeper's inclusion fee: read from the network's fee stats once per
//! scan and again after a `tx_insufficient_fee`, chosen by the configured
//! [`FeePolicy`](crate::strategy::stellar_arb::fees::FeePolicy), shown on
//! the panel with its reason. Stats that cannot be read keep the last
//! choice (the base fee at first), said so on screen.

use super::StellarArbKeeper;
use crate::strategy::stellar_arb::fees::FeeChoice;

impl StellarArbKeeper {
    /// Ask the network for its fee stats and choose this scan's fee.
    pub(super) async fn refresh_fee(&mut self) {
        let venue = self.shared.venue.clone();
        match venue.fee_stats().await {
            Ok(stats) => {
                let choice = self.config.fee_policy.choose(&stats);
                if choice != self.fee_choice {
                    self.log(format!("inclusion fee now {}", choice.describe()));
                }
                self.fee_choice = choice;
                self.fee = choice.per_op;
                self.view.fee = choice.describe();
            }
            Err(e) => {
                tracing::warn!(target: "stellar_arb", error = %e, "fee stats");
                self.view.fee =
                    format!("{} (fee stats unreadable: {e})", self.fee_choice.describe());
            }
        }
    }

    /// What the keeper bids now.
    pub(super) fn fee_choice(&self) -> FeeChoice {
        self.fee_choice
    }
}
