//! Intents and receipts (docs/architecture.md §2, R1): an intent names one money-moving action and
//! is committed before the action is sent; a receipt is what the venue says
//! happened, committed after. A bridge ticket follows a transfer in flight.

use super::cycle::{CycleId, Route, StepKind};
use super::money::Units;
use super::time::Timestamp;
use super::token::{Chain, TokenId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The deterministic identity of one attempt at one step of one cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IntentId {
    pub cycle: CycleId,
    pub step: StepKind,
    pub attempt: u32,
}

impl fmt::Display for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.cycle, self.step, self.attempt)
    }
}

/// What one intent asks a venue to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Exact-in swap with a slippage bound and a deadline.
    Swap {
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        #[serde(with = "units_str")]
        amount_in: Units,
        #[serde(with = "units_str")]
        min_out: Units,
        deadline: Timestamp,
    },
    /// Start a bridge transfer.
    BridgeSend {
        route: Route,
        token: TokenId,
        from: Chain,
        to: Chain,
        #[serde(with = "units_str")]
        amount: Units,
    },
    /// Prove a tunnel withdrawal on Ethereum; with `proof`, the prove
    /// calldata the operator imported (produced elsewhere), used as given
    /// once checked, instead of one built here. Left out of the payload
    /// when absent, so intents written before it keep their hash.
    Prove {
        ticket: BridgeTicket,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proof: Option<String>,
    },
    /// Finalize a proven tunnel withdrawal on Ethereum; releases the funds.
    Finalize { ticket: BridgeTicket },
}

impl Action {
    /// The chain whose wallet signs and pays gas for this action.
    pub fn chain(&self) -> Chain {
        match self {
            Action::Swap { chain, .. } => *chain,
            Action::BridgeSend { from, .. } => *from,
            Action::Prove { ticket, .. } | Action::Finalize { ticket } => ticket.to,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub id: IntentId,
    pub action: Action,
    /// SHA-256 of the action's canonical JSON: what was promised, byte for byte.
    pub payload_hash: String,
    pub created_at: Timestamp,
}

impl Intent {
    pub fn new(id: IntentId, action: Action, created_at: Timestamp) -> Self {
        let payload_hash = payload_hash(&action);
        Self {
            id,
            action,
            payload_hash,
            created_at,
        }
    }
}

/// Hex SHA-256 of an action's JSON.
pub fn payload_hash(action: &Action) -> String {
    // Serialising a plain enum of integers and strings cannot fail.
    let bytes = serde_json::to_vec(action).unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    hex(digest.as_ref())
}

/// Lower-case hex with a 0x prefix.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A transfer in flight between chains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeTicket {
    pub route: Route,
    pub token: TokenId,
    pub from: Chain,
    pub to: Chain,
    #[serde(with = "units_str")]
    pub amount_sent: Units,
    /// What should arrive after the bridge's token fee.
    #[serde(with = "units_str")]
    pub expected_amount: Units,
    /// Stargate GUID or the tunnel's withdrawal hash.
    pub message_id: String,
    pub source_tx: String,
    pub sent_at: Timestamp,
}

/// What a venue reports for one executed action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub tx_hash: String,
    pub chain: Chain,
    pub at: Timestamp,
    /// Gas paid, in wei of the chain's native ETH.
    #[serde(with = "units_str")]
    pub gas_fee: Units,
    /// Debited from the wallet (swap input, bridge amount).
    #[serde(with = "units_str")]
    pub amount_in: Units,
    /// Credited to the wallet (swap output, finalized withdrawal).
    #[serde(with = "units_str")]
    pub amount_out: Units,
    /// Native fee paid to a bridge, in wei.
    #[serde(with = "units_str")]
    pub bridge_fee_native: Units,
    /// Token kept by a bridge as its fee (informational: it never arrives).
    #[serde(with = "units_str")]
    pub bridge_fee_token: Units,
    pub ticket: Option<BridgeTicket>,
    /// How the venue carried it out, in words (the swap provider used, what
    /// the others quoted and why they were skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// `u128` as a decimal string in JSON: JavaScript and jq cannot hold it as a number.
pub mod units_str {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| D::Error::custom(format!("{s:?} is not an amount in base units")))
    }
}

/// `i128` as a decimal string in JSON.
pub mod delta_str {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &i128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| D::Error::custom(format!("{s:?} is not a signed amount")))
    }
}

/// An EVM transaction hash as typed by a person: `0x` and 64 hex digits,
/// trimmed and lowercased; anything else is refused with what was typed.
pub fn tx_hash(text: &str) -> Result<String, String> {
    let t = text.trim();
    let hex = t.strip_prefix("0x").unwrap_or("");
    if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(format!(
            "{text:?} is not a transaction hash (0x and 64 hex digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_hash_changes_with_the_payload() {
        let a = Action::BridgeSend {
            route: Route::Stargate,
            token: TokenId::Eth,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount: 5,
        };
        let mut b = a.clone();
        if let Action::BridgeSend { amount, .. } = &mut b {
            *amount = 6;
        }
        assert_eq!(payload_hash(&a), payload_hash(&a.clone()));
        assert_ne!(payload_hash(&a), payload_hash(&b));
        assert_eq!(payload_hash(&a).len(), 66);
    }

    #[test]
    fn big_amounts_survive_json() {
        let r = Receipt {
            tx_hash: "0x1".into(),
            chain: Chain::Ethereum,
            at: 1,
            gas_fee: u128::MAX,
            amount_in: 1,
            amount_out: 2,
            bridge_fee_native: 0,
            bridge_fee_token: 0,
            ticket: None,
            via: Some("via sushi_v3 (V3 fee 3000)".into()),
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(&u128::MAX.to_string()));
        assert_eq!(serde_json::from_str::<Receipt>(&json).unwrap(), r);
    }

    #[test]
    fn intent_ids_read_well() {
        let id = IntentId {
            cycle: CycleId(3),
            step: StepKind::Prove,
            attempt: 1,
        };
        assert_eq!(id.to_string(), "c3/prove/1");
    }
}
