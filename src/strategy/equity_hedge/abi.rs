//! Raindex `IOrderBookV4` as deployed: the structs and the three events the
//! hedge reads (`ClearV2`, `AfterClear`, `TakeOrderV2`), with their exact
//! signatures, and the conversion between a `ChainLog` and a decoded event.
//! No V4 parameter is indexed: topic0 picks the event, everything else is data.

use super::abi_v6 as v6;
use crate::config::RaindexVersion;
use crate::venue::logs::ChainLog;
use alloy_primitives::{B256, hex};
use alloy_sol_types::{SolEvent, sol};
use thiserror::Error;

sol! {
    /// `IO` (IOrderBookV2): the token, its decimals and the vault.
    #[derive(Debug, PartialEq, Eq)]
    struct IO { address token; uint8 decimals; uint256 vaultId; }

    /// `EvaluableV3`: interpreter and store are contract addresses.
    #[derive(Debug, PartialEq, Eq)]
    struct EvaluableV3 { address interpreter; address store; bytes bytecode; }

    /// Deployed V4 orderbooks declare `context` as `uint256[]` (not the
    /// `bytes32[]` of newer interface revisions, which hashes differently).
    #[derive(Debug, PartialEq, Eq)]
    struct SignedContextV1 { address signer; uint256[] context; bytes signature; }

    #[derive(Debug, PartialEq, Eq)]
    struct OrderV3 { address owner; EvaluableV3 evaluable; IO[] validInputs; IO[] validOutputs; bytes32 nonce; }

    #[derive(Debug, PartialEq, Eq)]
    struct TakeOrderConfigV3 { OrderV3 order; uint256 inputIOIndex; uint256 outputIOIndex; SignedContextV1[] signedContext; }

    #[derive(Debug, PartialEq, Eq)]
    struct ClearConfig {
        uint256 aliceInputIOIndex;
        uint256 aliceOutputIOIndex;
        uint256 bobInputIOIndex;
        uint256 bobOutputIOIndex;
        uint256 aliceBountyVaultId;
        uint256 bobBountyVaultId;
    }

    #[derive(Debug, PartialEq, Eq)]
    struct ClearStateChange { uint256 aliceOutput; uint256 bobOutput; uint256 aliceInput; uint256 bobInput; }

    /// `input`/`output` are from the taker's (sender's) side.
    #[derive(Debug, PartialEq, Eq)]
    event TakeOrderV2(address sender, TakeOrderConfigV3 config, uint256 input, uint256 output);

    /// Emitted before two orders clear; the amounts come in the next `AfterClear`.
    #[derive(Debug, PartialEq, Eq)]
    event ClearV2(address sender, OrderV3 alice, OrderV3 bob, ClearConfig clearConfig);

    #[derive(Debug, PartialEq, Eq)]
    event AfterClear(address sender, ClearStateChange clearStateChange);
}

/// The topic0 of every event the hedge reads from an orderbook of this
/// version: log sources filter on these and the orderbook address.
pub fn watched_topics(version: RaindexVersion) -> [B256; 3] {
    match version {
        RaindexVersion::V4 => [
            ClearV2::SIGNATURE_HASH,
            AfterClear::SIGNATURE_HASH,
            TakeOrderV2::SIGNATURE_HASH,
        ],
        RaindexVersion::V5 | RaindexVersion::V6 => [
            v6::ClearV3::SIGNATURE_HASH,
            v6::AfterClearV2::SIGNATURE_HASH,
            v6::TakeOrderV3::SIGNATURE_HASH,
        ],
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AbiError {
    #[error("log {at}: {field} is not 0x-hex: {reason}")]
    Hex {
        at: String,
        field: &'static str,
        reason: String,
    },
    #[error("log {at}: no topic0")]
    NoTopic { at: String },
    #[error("log {at}: {event} data does not decode: {reason}")]
    Decode {
        at: String,
        event: &'static str,
        reason: String,
    },
}

/// One orderbook event, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderbookEvent {
    Clear(Box<ClearV2>),
    AfterClear(AfterClear),
    Take(Box<TakeOrderV2>),
    /// V5/V6 ([`super::abi_v6`]).
    ClearV3(Box<v6::ClearV3>),
    AfterClearV2(v6::AfterClearV2),
    TakeV3(Box<v6::TakeOrderV3>),
    /// Another event of the orderbook (deposits, order adds …).
    Other(B256),
}

fn where_of(log: &ChainLog) -> String {
    format!("{}#{}", log.tx_hash, log.log_index)
}

fn hex_bytes(log: &ChainLog, field: &'static str, text: &str) -> Result<Vec<u8>, AbiError> {
    hex::decode(text).map_err(|e| AbiError::Hex {
        at: where_of(log),
        field,
        reason: e.to_string(),
    })
}

/// Decode a log by its topic0.
pub fn decode(log: &ChainLog) -> Result<OrderbookEvent, AbiError> {
    let topic = log
        .topics
        .first()
        .ok_or_else(|| AbiError::NoTopic { at: where_of(log) })?;
    let topic0 =
        B256::try_from(hex_bytes(log, "topic0", topic)?.as_slice()).map_err(|e| AbiError::Hex {
            at: where_of(log),
            field: "topic0",
            reason: e.to_string(),
        })?;
    let data = hex_bytes(log, "data", &log.data)?;
    let bad = |event: &'static str, e: alloy_sol_types::Error| AbiError::Decode {
        at: where_of(log),
        event,
        reason: e.to_string(),
    };
    let topics = [topic0];
    Ok(if topic0 == ClearV2::SIGNATURE_HASH {
        OrderbookEvent::Clear(Box::new(
            ClearV2::decode_raw_log(topics, &data).map_err(|e| bad("ClearV2", e))?,
        ))
    } else if topic0 == AfterClear::SIGNATURE_HASH {
        OrderbookEvent::AfterClear(
            AfterClear::decode_raw_log(topics, &data).map_err(|e| bad("AfterClear", e))?,
        )
    } else if topic0 == TakeOrderV2::SIGNATURE_HASH {
        OrderbookEvent::Take(Box::new(
            TakeOrderV2::decode_raw_log(topics, &data).map_err(|e| bad("TakeOrderV2", e))?,
        ))
    } else if topic0 == v6::ClearV3::SIGNATURE_HASH {
        OrderbookEvent::ClearV3(Box::new(
            v6::ClearV3::decode_raw_log(topics, &data).map_err(|e| bad("ClearV3", e))?,
        ))
    } else if topic0 == v6::AfterClearV2::SIGNATURE_HASH {
        OrderbookEvent::AfterClearV2(
            v6::AfterClearV2::decode_raw_log(topics, &data).map_err(|e| bad("AfterClearV2", e))?,
        )
    } else if topic0 == v6::TakeOrderV3::SIGNATURE_HASH {
        OrderbookEvent::TakeV3(Box::new(
            v6::TakeOrderV3::decode_raw_log(topics, &data).map_err(|e| bad("TakeOrderV3", e))?,
        ))
    } else {
        OrderbookEvent::Other(topic0)
    })
}

/// Where a log sits, for encoding one (paper orderbook, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPlace {
    pub chain_id: u64,
    pub address: String,
    pub block_number: u64,
    pub block_hash: String,
    pub tx_hash: String,
    pub log_index: u64,
}

/// ABI-encode an event into the log a node would report.
pub fn encode<E: SolEvent>(event: &E, at: &LogPlace) -> ChainLog {
    ChainLog {
        chain_id: at.chain_id,
        address: at.address.clone(),
        block_number: at.block_number,
        block_hash: at.block_hash.clone(),
        tx_hash: at.tx_hash.clone(),
        log_index: at.log_index,
        topics: vec![format!("{:#x}", E::SIGNATURE_HASH)],
        data: format!("0x{}", hex::encode(event.encode_data())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_topics_are_the_deployed_v4_ones() {
        assert_eq!(
            format!("{:#x}", ClearV2::SIGNATURE_HASH),
            "0x692ee69af2843c70772be93470669f3c73e583316a047b6bfefdae5629de37ce"
        );
        assert_eq!(
            format!("{:#x}", AfterClear::SIGNATURE_HASH),
            "0x3f20e55919cca701abb2a40ab72542b25ea7eed63a50f979dd2cd3231e5f488d"
        );
        assert_eq!(
            TakeOrderV2::SIGNATURE,
            "TakeOrderV2(address,((address,(address,address,bytes),(address,uint8,uint256)[],(address,uint8,uint256)[],bytes32),uint256,uint256,(address,uint256[],bytes)[]),uint256,uint256)"
        );
        // The bytes32[] variant's hash is what deployed V4 never emits.
        assert!(!format!("{:#x}", TakeOrderV2::SIGNATURE_HASH).starts_with("0xdb6a7f7c"));
    }
}
