//! The relayer task: delivers Stargate stand-in sends after their delay,
//! asking the destination first so a restart never delivers twice, and is
//! the tunnel's proposer: the honest output root of every
//! `submissionInterval`-th Hemi block, posted to the real `L2OutputOracle`
//! as soon as Hemi has the block.

use super::*;
use crate::model::Chain;
use crate::venue::evm::abi::IStargateStandIn;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::sol_types::SolCall;
use anyhow::{anyhow, bail};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The relayer: delivers Stargate stand-in sends after their delay, and
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
    let mut from_block = [0u64; 2];
    let mut seen: HashMap<B256, (Instant, Chain, Address, Address, U256)> = HashMap::new();
    let mut done: HashSet<B256> = HashSet::new();
    loop {
        for (src, p) in [(Chain::Hemi, &ph), (Chain::Ethereum, &pe)] {
            let s = d.chain(src);
            if let Err(e) = scan_sends(p, s, &mut from_block[src as usize], &mut seen, src).await {
                tracing::debug!(error = %e, "relayer: scan");
            }
        }
        let due: Vec<B256> = seen
            .iter()
            .filter(|(g, v)| !done.contains(*g) && v.0.elapsed() >= opts.stargate_delay)
            .map(|(g, _)| *g)
            .collect();
        for guid in due {
            let (_, src, token, to, amount) = seen[&guid];
            let (dst, p) = match src {
                Chain::Hemi => (&d.ethereum, &pe),
                Chain::Ethereum => (&d.hemi, &ph),
            };
            match deliver(p, d.chain(src), dst, guid, token, to, amount).await {
                Ok(()) => {
                    done.insert(guid);
                }
                Err(e) => tracing::warn!(%guid, error = %e, "relayer: delivery failed; retrying"),
            }
        }
        if let Err(e) = propose_due(&ph, &proposer, d.op.l1.oracle).await {
            tracing::warn!(error = %e, "relayer: output proposal failed; retrying");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(super) async fn scan_sends(
    p: &DynProvider,
    s: &ChainDeployment,
    from: &mut u64,
    seen: &mut HashMap<B256, (Instant, Chain, Address, Address, U256)>,
    src: Chain,
) -> anyhow::Result<()> {
    let head = p.get_block_number().await?;
    if head < *from {
        return Ok(());
    }
    let logs = p
        .get_logs(
            &Filter::new()
                .address(s.stargate)
                .from_block(*from)
                .to_block(head),
        )
        .await?;
    let mut sends: HashMap<B256, (Address, Address)> = HashMap::new();
    let mut amounts: HashMap<B256, U256> = HashMap::new();
    for l in &logs {
        if let Ok(e) = l.log_decode::<IStargateStandIn::StandInSend>() {
            sends.insert(e.inner.data.guid, (e.inner.data.token, e.inner.data.to));
        } else if let Ok(e) = l.log_decode::<IStargateStandIn::OFTSent>() {
            amounts.insert(e.inner.data.guid, e.inner.data.amountReceivedLD);
        }
    }
    for (guid, (token, to)) in sends {
        if let Some(amount) = amounts.get(&guid) {
            seen.entry(guid)
                .or_insert((Instant::now(), src, token, to, *amount));
        }
    }
    *from = head + 1;
    Ok(())
}

pub(super) async fn deliver(
    p: &DynProvider,
    src: &ChainDeployment,
    dst: &ChainDeployment,
    guid: B256,
    token: Address,
    to: Address,
    amount: U256,
) -> anyhow::Result<()> {
    let delivered = IStargateStandIn::deliveredCall { guid }.abi_encode();
    let out = p
        .call(
            TransactionRequest::default()
                .with_to(dst.stargate)
                .with_input(Bytes::from(delivered)),
        )
        .await?;
    if IStargateStandIn::deliveredCall::abi_decode_returns(&out)? {
        return Ok(());
    }
    let dst_token = if token == Address::ZERO {
        Address::ZERO
    } else {
        let t = src
            .tokens
            .iter()
            .find(|(_, a)| **a == token)
            .map(|(t, _)| *t)
            .ok_or_else(|| anyhow!("unknown token {token}"))?;
        *dst.tokens
            .get(&t)
            .ok_or_else(|| anyhow!("{t} has no token on the destination"))?
    };
    let data = IStargateStandIn::deliverCall {
        guid,
        srcEid: src.eid,
        token: dst_token,
        to,
        amount,
    };
    relay_tx(p, dst.stargate, data.abi_encode()).await
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

/// A relayer transaction, waited for (interval mining).
pub(super) async fn relay_tx(p: &DynProvider, to: Address, data: Vec<u8>) -> anyhow::Result<()> {
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_input(Bytes::from(data))
        .with_gas_limit(500_000);
    let pending = p.send_transaction(tx).await?;
    let hash = *pending.tx_hash();
    let started = Instant::now();
    loop {
        if let Some(r) = p.get_transaction_receipt(hash).await? {
            if !r.status() {
                bail!("relayer transaction {hash} reverted");
            }
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("relayer transaction {hash} not mined in 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
