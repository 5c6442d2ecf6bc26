//! The relayer task: the devnet's LayerZero DVNs and executor for the real
//! Stargate V2 — every packet either endpoint sends is delivered to the
//! other chain once `stargate_delay` has passed since the relayer saw it
//! (`deliver_stargate_packets`, which asks the destination endpoint first,
//! so a restart or a repeat never delivers twice) — and the tunnel's
//! proposer: the honest output root of every `submissionInterval`-th Hemi
//! block, posted to the real `L2OutputOracle` as soon as Hemi has the
//! block.

use super::*;
use crate::model::Chain;
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Blocks of one direction whose packets wait for their delay.
struct Waiting {
    seen: Instant,
    from: u64,
    to: u64,
}

/// One direction of LayerZero: where the relayer has looked up to, and
/// the block ranges holding packets not yet delivered, oldest first.
struct Lane {
    from: Chain,
    next_block: u64,
    waiting: VecDeque<Waiting>,
}

/// The relayer: delivers Stargate packets both ways after their delay, and
/// proposes the tunnel's outputs. Idempotent: it asks the destination (the
/// oracle) before acting, so a restart never delivers (proposes) twice.
pub async fn relay(d: Deployment, opts: DevnetOptions) {
    let (Ok(ph), Ok(pe), Ok(proposer)) = (
        signing_provider(&d.hemi.rpc_url, RELAYER_KEY),
        signing_provider(&d.ethereum.rpc_url, RELAYER_KEY),
        signing_provider(&d.ethereum.rpc_url, OP_PROPOSER_KEY),
    ) else {
        tracing::error!("relayer: cannot build providers");
        return;
    };
    let mut lanes = [Chain::Hemi, Chain::Ethereum].map(|from| Lane {
        from,
        next_block: 0,
        waiting: VecDeque::new(),
    });
    loop {
        for lane in &mut lanes {
            let (src, dst) = match lane.from {
                Chain::Hemi => (&ph, &pe),
                Chain::Ethereum => (&pe, &ph),
            };
            if let Err(e) = relay_lane(src, dst, &d.stargate, lane, opts.stargate_delay).await {
                tracing::warn!(from = %lane.from, error = %e, "relayer: Stargate delivery failed; retrying");
            }
        }
        if let Err(e) = propose_due(&ph, &proposer, d.op.l1.oracle).await {
            tracing::warn!(error = %e, "relayer: output proposal failed; retrying");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Note the new blocks that hold packets, then deliver every range whose
/// delay has passed, in order; a failed range is retried next time before
/// any later one (the endpoint executes a path's nonces in order).
async fn relay_lane(
    src: &DynProvider,
    dst: &DynProvider,
    sg: &StargateV2Contracts,
    lane: &mut Lane,
    delay: Duration,
) -> anyhow::Result<()> {
    let path = sg.path(lane.from);
    let head = src.get_block_number().await?;
    if head >= lane.next_block {
        let found = packets_in_blocks(src, path.src_endpoint, lane.next_block, head).await?;
        if found.iter().any(|p| p.packet.dst_eid == path.dst_eid) {
            lane.waiting.push_back(Waiting {
                seen: Instant::now(),
                from: lane.next_block,
                to: head,
            });
        }
        lane.next_block = head + 1;
    }
    while let Some(w) = lane.waiting.front() {
        if w.seen.elapsed() < delay {
            break;
        }
        let source = PacketSource::Blocks {
            from: w.from,
            to: w.to,
        };
        for delivery in deliver_stargate_packets(src, dst, &path, source, Duration::ZERO).await? {
            tracing::debug!(guid = %delivery.guid, outcome = ?delivery.outcome, "relayer: Stargate packet");
        }
        lane.waiting.pop_front();
    }
    Ok(())
}

/// Propose every output the oracle takes next whose Hemi block exists.
pub(super) async fn propose_due(
    hemi: &DynProvider,
    proposer: &DynProvider,
    oracle: Address,
) -> anyhow::Result<()> {
    for _ in 0..8 {
        let next = next_output_block(proposer, oracle).await?;
        if hemi.get_block_number().await? < next {
            break;
        }
        propose_output(hemi, proposer, oracle, next).await?;
    }
    Ok(())
}
