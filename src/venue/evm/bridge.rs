//! The Stargate-like route (one transaction, a native fee and a token fee,
//! delivered by a relayer with a message id; on the devnet the stand-in in
//! `assets/contracts/`), and the log search both routes settle by. The
//! tunnel route is `venue::tunnel`, on the real OP Stack contracts.

use super::abi::IStargateStandIn;
use super::chain::ChainClient;
use crate::model::BridgeTicket;
use crate::venue::{BridgeStatus, VenueError};
use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::{Filter, Log, TransactionReceipt};
use alloy::sol_types::SolEvent;
use std::str::FromStr;

pub fn message_id(ticket: &BridgeTicket) -> Result<B256, VenueError> {
    B256::from_str(&ticket.message_id)
        .map_err(|_| VenueError::Rejected(format!("bad message id {:?}", ticket.message_id)))
}

/// The `OFTSent` of a send receipt: (guid, amount sent, amount to arrive).
pub fn oft_sent(receipt: &TransactionReceipt, stargate: Address) -> Option<(B256, U256, U256)> {
    receipt.inner.logs().iter().find_map(|l| {
        if l.address() != stargate {
            return None;
        }
        let e = l.log_decode::<IStargateStandIn::OFTSent>().ok()?;
        let d = e.inner.data;
        Some((d.guid, d.amountSentLD, d.amountReceivedLD))
    })
}

/// Find the newest log matching `filter` (without a block range), searching
/// back from the head in bounded `eth_getLogs` ranges.
pub async fn find_log(
    c: &ChainClient,
    filter: Filter,
    chunk: u64,
    max_chunks: u64,
) -> Result<Option<Log>, VenueError> {
    let head = c.head().await?;
    let mut to = head;
    for _ in 0..max_chunks {
        let from = to.saturating_sub(chunk - 1);
        let logs = c
            .logs(&filter.clone().from_block(from).to_block(to))
            .await?;
        if let Some(l) = logs.into_iter().rev().find(|l| !l.removed) {
            return Ok(Some(l));
        }
        if from == 0 {
            break;
        }
        to = from - 1;
    }
    Ok(None)
}

/// Where a Stargate-like transfer stands, read on the destination chain.
pub async fn stargate_status(
    dst: &ChainClient,
    stargate: Address,
    ticket: &BridgeTicket,
    expected_delay_ms: u64,
    confirmations: u64,
    chunk: u64,
) -> Result<BridgeStatus, VenueError> {
    let guid = message_id(ticket)?;
    let in_flight = BridgeStatus::InFlight {
        ready_at: Some(ticket.sent_at + expected_delay_ms),
    };
    if !dst
        .view(stargate, IStargateStandIn::deliveredCall { guid })
        .await?
    {
        return Ok(in_flight);
    }
    let filter = Filter::new()
        .address(stargate)
        .event_signature(IStargateStandIn::OFTReceived::SIGNATURE_HASH)
        .topic1(guid);
    let Some(log) = find_log(dst, filter, chunk, 200).await? else {
        return Ok(BridgeStatus::InFlight { ready_at: None });
    };
    let block = log.block_number.unwrap_or_default();
    let head = dst.head().await?;
    if head + 1 < block + confirmations {
        return Ok(BridgeStatus::InFlight { ready_at: None });
    }
    let received = log
        .log_decode::<IStargateStandIn::OFTReceived>()
        .map_err(|e| VenueError::Rejected(format!("bad OFTReceived log: {e}")))?;
    let at = dst
        .block(block)
        .await?
        .map(|(_, ts)| ts * 1000)
        .unwrap_or(ticket.sent_at);
    Ok(BridgeStatus::Arrived {
        amount: u128::try_from(received.inner.data.amountReceivedLD)
            .map_err(|_| VenueError::Rejected("delivered amount out of range".into()))?,
        tx_hash: log.transaction_hash.unwrap_or_default().to_string(),
        at,
    })
}
