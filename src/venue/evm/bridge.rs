//! The two bridge routes, driven through the same `LoopVenue` calls as the
//! paper world: a Stargate-like send (one transaction, a native fee and a
//! token fee, delivered by a relayer with a message id) and an OP-like
//! tunnel withdrawal (initiate on Hemi; prove, then finalize, on Ethereum,
//! each a transaction the keeper sends). On the devnet they are the
//! stand-ins in `assets/contracts/`.

use super::abi::{IStargateStandIn, ITunnelL2Bridge, ITunnelPortal, Withdrawal};
use super::chain::ChainClient;
use crate::model::{BridgeTicket, Timestamp};
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

/// The withdrawal a tunnel initiation recorded, from its receipt.
pub fn withdrawal_initiated(
    receipt: &TransactionReceipt,
    bridge: Address,
) -> Option<(B256, Withdrawal)> {
    receipt.inner.logs().iter().find_map(|l| {
        if l.address() != bridge {
            return None;
        }
        let e = l
            .log_decode::<ITunnelL2Bridge::WithdrawalInitiated>()
            .ok()?;
        let d = e.inner.data;
        Some((
            d.withdrawalHash,
            Withdrawal {
                nonce: d.nonce,
                from: d.from,
                l1Token: d.l1Token,
                to: d.to,
                amount: d.amount,
            },
        ))
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

/// Where a tunnel withdrawal stands, read on the portal (Ethereum).
pub async fn tunnel_status(
    l1: &ChainClient,
    portal: Address,
    ticket: &BridgeTicket,
    expected_prove_delay_ms: u64,
    chunk: u64,
) -> Result<BridgeStatus, VenueError> {
    let h = message_id(ticket)?;
    if l1
        .view(
            portal,
            ITunnelPortal::finalizedWithdrawalsCall { withdrawalHash: h },
        )
        .await?
    {
        let filter = Filter::new()
            .address(portal)
            .event_signature(ITunnelPortal::WithdrawalFinalized::SIGNATURE_HASH)
            .topic1(h);
        let log = find_log(l1, filter, chunk, 200).await?;
        let (tx_hash, at) = match log {
            Some(l) => {
                let at = match l.block_number {
                    Some(n) => l1.block(n).await?.map(|(_, ts)| ts * 1000),
                    None => None,
                };
                (
                    l.transaction_hash.unwrap_or_default().to_string(),
                    at.unwrap_or(ticket.sent_at),
                )
            }
            None => (String::new(), ticket.sent_at),
        };
        return Ok(BridgeStatus::Arrived {
            amount: ticket.expected_amount,
            tx_hash,
            at,
        });
    }
    let proven = l1
        .view(
            portal,
            ITunnelPortal::provenWithdrawalsCall { withdrawalHash: h },
        )
        .await?;
    if proven.timestamp != 0 {
        let finalize_at: u64 = l1
            .view(portal, ITunnelPortal::finalizeAtCall { withdrawalHash: h })
            .await?
            .try_into()
            .unwrap_or(u64::MAX);
        let head = l1.head().await?;
        let chain_now = l1.block(head).await?.map(|(_, ts)| ts).unwrap_or(0);
        return Ok(if chain_now >= finalize_at {
            BridgeStatus::FinalizeReady
        } else {
            BridgeStatus::Proved {
                finalize_at: (finalize_at as Timestamp).saturating_mul(1000),
            }
        });
    }
    if l1
        .view(
            portal,
            ITunnelPortal::outputIndexPlusOneCall { withdrawalHash: h },
        )
        .await?
        != U256::ZERO
    {
        return Ok(BridgeStatus::ProveReady);
    }
    Ok(BridgeStatus::InFlight {
        ready_at: Some(ticket.sent_at + expected_prove_delay_ms),
    })
}
