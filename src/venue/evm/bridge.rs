//! Where a Stargate V2 transfer stands, read on the destination pool by
//! the send's guid (`OFTReceived`), and the log search both routes settle
//! by. The send itself is `venue::stargate_send`, the tunnel route
//! `venue::tunnel`, on the real OP Stack contracts. The LayerZero Scan API
//! (`lzscan`, when configured) only adds words to a transfer in flight.

use super::chain::ChainClient;
use super::lzscan::{self, LzScan};
use super::stargate::IStargate;
use crate::model::BridgeTicket;
use crate::venue::{BridgeStatus, VenueError};
use alloy::primitives::{Address, B256};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use std::str::FromStr;

pub fn message_id(ticket: &BridgeTicket) -> Result<B256, VenueError> {
    B256::from_str(&ticket.message_id)
        .map_err(|_| VenueError::Rejected(format!("bad message id {:?}", ticket.message_id)))
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

/// Where a Stargate transfer stands, read on the destination chain: its
/// `OFTReceived` on the destination pool `stargate` under the ticket's
/// guid, once `confirmations` deep, is the arrival; until then it is in
/// flight, due `expected_delay_ms` after it was sent, and `scan` (when
/// configured) is asked what it knows of the guid, for the note only.
pub async fn stargate_status(
    dst: &ChainClient,
    stargate: Address,
    ticket: &BridgeTicket,
    expected_delay_ms: u64,
    confirmations: u64,
    chunk: u64,
    scan: Option<&LzScan>,
) -> Result<BridgeStatus, VenueError> {
    let guid = message_id(ticket)?;
    let filter = Filter::new()
        .address(stargate)
        .event_signature(IStargate::OFTReceived::SIGNATURE_HASH)
        .topic1(guid);
    let Some(log) = find_log(dst, filter, chunk, 200).await? else {
        return Ok(BridgeStatus::InFlight {
            ready_at: Some(ticket.sent_at.saturating_add(expected_delay_ms)),
            note: scan_note(scan, ticket, guid, false, &dst.name).await,
        });
    };
    let block = log.block_number.unwrap_or_default();
    let head = dst.head().await?;
    if head.saturating_add(1) < block.saturating_add(confirmations) {
        return Ok(BridgeStatus::InFlight {
            ready_at: None,
            note: scan_note(scan, ticket, guid, true, &dst.name).await,
        });
    }
    let received = log
        .log_decode::<IStargate::OFTReceived>()
        .map_err(|e| VenueError::Rejected(format!("bad OFTReceived log: {e}")))?;
    let at = dst
        .block(block)
        .await?
        .map(|(_, ts)| ts.saturating_mul(1000))
        .unwrap_or(ticket.sent_at);
    Ok(BridgeStatus::Arrived {
        amount: u128::try_from(received.inner.data.amountReceivedLD)
            .map_err(|_| VenueError::Rejected("delivered amount out of range".into()))?,
        tx_hash: log.transaction_hash.unwrap_or_default().to_string(),
        at,
    })
}

/// What the Scan API adds to a transfer the chain has in flight; its
/// failures are logged at warn and said as "tracked on chain only".
async fn scan_note(
    scan: Option<&LzScan>,
    ticket: &BridgeTicket,
    guid: B256,
    seen_on_chain: bool,
    to: &str,
) -> Option<String> {
    let scan = scan?;
    let answer = scan
        .message(guid, B256::from_str(&ticket.source_tx).ok())
        .await;
    match &answer {
        Err(e) => {
            tracing::warn!(guid = %guid, error = %e, "LayerZero Scan gave no answer; tracking on chain only")
        }
        Ok(lzscan::Listing::Listed(m)) if m.status.is_trouble() => {
            tracing::warn!(guid = %guid, status = m.status.name(), "LayerZero Scan reports trouble with a Stargate transfer")
        }
        Ok(_) => {}
    }
    Some(lzscan::note(&answer, seen_on_chain, to))
}
