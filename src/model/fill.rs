//! What an onchain fill of a tokenized equity means for exposure, as every
//! layer names it: the order owner's side.

use serde::{Deserialize, Serialize};

/// The order owner's side onchain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnchainSide {
    /// The owner's order received the equity (paid USDC): long exposure.
    Bought,
    /// The owner's order gave the equity (received USDC): short exposure.
    Sold,
}
