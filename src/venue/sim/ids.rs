//! Deterministic identifiers of the paper world: transaction hashes, Stargate
//! GUIDs, tunnel withdrawal hashes and arrival hashes, each a hex SHA-256 of
//! (what it is, the world's seed, what caused it). The same seed and intents
//! give the same hashes, so tests and replays can name them.

use crate::model::IntentId;
use crate::model::intent::hex;
use ring::digest::{SHA256, digest};

fn hash(parts: &[&[u8]]) -> String {
    // Length-prefix each part so that no two different lists hash alike.
    let mut bytes = Vec::new();
    for part in parts {
        bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part);
    }
    hex(digest(&SHA256, &bytes).as_ref())
}

/// The transaction an intent became.
pub fn tx_hash(seed: u64, intent: IntentId) -> String {
    hash(&[&seed.to_le_bytes(), intent.to_string().as_bytes()])
}

/// Stargate's message GUID for a send.
pub fn stargate_guid(seed: u64, intent: IntentId) -> String {
    hash(&[
        b"stargate-guid",
        &seed.to_le_bytes(),
        intent.to_string().as_bytes(),
    ])
}

/// The tunnel's withdrawal hash for an initiation.
pub fn withdrawal_hash(seed: u64, intent: IntentId) -> String {
    hash(&[
        b"tunnel-withdrawal",
        &seed.to_le_bytes(),
        intent.to_string().as_bytes(),
    ])
}

/// The destination-chain transaction that delivered a Stargate transfer.
pub fn arrival_hash(seed: u64, message_id: &str) -> String {
    hash(&[
        b"stargate-arrival",
        &seed.to_le_bytes(),
        message_id.as_bytes(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CycleId, StepKind};

    #[test]
    fn hashes_are_stable_and_distinct() {
        let id = IntentId {
            cycle: CycleId(1),
            step: StepKind::BridgeOut,
            attempt: 0,
        };
        assert_eq!(tx_hash(1, id), tx_hash(1, id));
        assert_eq!(tx_hash(1, id).len(), 66);
        let all = [
            tx_hash(1, id),
            tx_hash(2, id),
            stargate_guid(1, id),
            withdrawal_hash(1, id),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_ne!(arrival_hash(1, &all[2]), arrival_hash(1, &all[3]));
    }
}
