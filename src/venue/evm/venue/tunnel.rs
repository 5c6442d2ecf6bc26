//! The tunnel route on the real OP Stack contracts (evm.md §1.4): the
//! token pair checked before a withdrawal is initiated
//! (`L2StandardBridge.withdraw` burns an `OptimismMintableERC20` whose
//! remote token is ours on Ethereum), the withdrawal read back from its
//! initiating receipt and checked to pay this wallet, the prove arguments
//! built from the oracle's output and Hemi's `eth_getProof` at its block,
//! where a withdrawal stands on the portal (viem's status machine, with the
//! countdowns from the chain), and a prove or finalize someone else already
//! made recognised from the portal's own records instead of sent again.

use super::{EvmVenue, receipt, units};
use crate::model::{Action, BridgeTicket, Chain, Receipt, TokenId};
use crate::venue::evm::bridge::find_log;
use crate::venue::evm::chain::{ChainClient, EvmError};
use crate::venue::evm::tunnel::contracts::{IL2Bridge, IOutputOracle, IPortal, ITunnelToken};
use crate::venue::evm::tunnel::status::{PortalReads, ProvenAt, Stage, stage};
use crate::venue::evm::tunnel::{
    L2_TO_L1_MESSAGE_PASSER, L2OutputBlock, Payout, PortalKind, Withdrawal, build_prove_args,
    check_imported_prove, erc20_payout, finalize_calldata, portal_kind, prove_calldata,
    withdrawals_in_receipt,
};
use crate::venue::{BridgeStatus, VenueError};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::sol_types::{SolCall, SolEvent};

/// The portal as read at start: its proof system and its output oracle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalInfo {
    pub portal: Address,
    pub oracle: Address,
    pub version: String,
}

/// Read the portal's `version()` (refusing OptimismPortal2 by name) and
/// the oracle it proves against.
pub(super) async fn connect_portal(
    c: &ChainClient,
    portal: Address,
) -> Result<PortalInfo, EvmError> {
    let problem = |problem: String| EvmError::Contract {
        chain: c.name.clone(),
        problem,
    };
    let version = c.view(portal, IPortal::versionCall {}).await.map_err(|e| {
        problem(format!(
            "tunnel portal {portal} does not answer version(): {e}"
        ))
    })?;
    match portal_kind(&version).map_err(|e| problem(format!("tunnel portal {portal}: {e}")))? {
        PortalKind::Legacy => {}
    }
    let oracle = c
        .view(portal, IPortal::l2OracleCall {})
        .await
        .map_err(|e| {
            problem(format!(
                "tunnel portal {portal} does not answer l2Oracle(): {e}"
            ))
        })?;
    if c.code(oracle)
        .await
        .map_err(|e| problem(e.to_string()))?
        .is_empty()
    {
        return Err(problem(format!(
            "tunnel portal {portal} names output oracle {oracle}, which has no code"
        )));
    }
    Ok(PortalInfo {
        portal,
        oracle,
        version,
    })
}

fn rejected(e: impl std::fmt::Display) -> VenueError {
    VenueError::Rejected(e.to_string())
}

fn to_u64(v: U256, what: &str) -> Result<u64, VenueError> {
    u64::try_from(v).map_err(|_| VenueError::Rejected(format!("{what} {v} is out of range")))
}

impl EvmVenue {
    fn portal(&self) -> Result<&PortalInfo, VenueError> {
        self.portal
            .as_ref()
            .ok_or_else(|| VenueError::Rejected("no tunnel portal configured on Ethereum".into()))
    }

    /// `(l2 token, l1 token)` of a tunnel token, checked on Hemi: the L2
    /// token is the L2 bridge's and names our Ethereum token as its remote.
    pub(super) async fn tunnel_pair(
        &self,
        token: TokenId,
    ) -> Result<(Address, Address), VenueError> {
        let l2 = self.erc20(Chain::Hemi, token)?;
        let l1 = self.erc20(Chain::Ethereum, token)?;
        let bridge = self.tunnel(Chain::Hemi)?;
        let not_tunnel = |why: String| {
            VenueError::Rejected(format!("{token} at {l2} cannot leave by the tunnel: {why}"))
        };
        let remote = match self.hemi.view(l2, ITunnelToken::remoteTokenCall {}).await {
            Ok(a) => a,
            Err(VenueError::Rejected(_)) => {
                return Err(not_tunnel(
                    "it is not an OptimismMintableERC20 (no remoteToken())".into(),
                ));
            }
            Err(e) => return Err(e),
        };
        if remote != l1 {
            return Err(not_tunnel(format!(
                "its remote token is {remote}, not the configured Ethereum {token} {l1}"
            )));
        }
        let minted_by = self.hemi.view(l2, ITunnelToken::bridgeCall {}).await?;
        if minted_by != bridge {
            return Err(not_tunnel(format!(
                "its bridge is {minted_by}, not the configured L2 bridge {bridge}"
            )));
        }
        Ok((l2, l1))
    }

    /// The initiating call: `withdraw(l2Token, amount, 0, "")`, as Hemi's portal sends it.
    pub(super) async fn initiate_call(
        &self,
        token: TokenId,
        amount: u128,
    ) -> Result<(Address, Bytes, U256), VenueError> {
        let (l2, _) = self.tunnel_pair(token).await?;
        let data = IL2Bridge::withdrawCall {
            _l2Token: l2,
            _amount: U256::from(amount),
            _minGasLimit: 0,
            _extraData: Bytes::new(),
        }
        .abi_encode();
        Ok((self.tunnel(Chain::Hemi)?, data.into(), U256::ZERO))
    }

    /// The one withdrawal an initiating receipt carries, checked to pay
    /// `token` to this wallet on Ethereum from the L2 token it burnt.
    pub(super) fn withdrawal_in(
        &self,
        r: &TransactionReceipt,
        token: TokenId,
    ) -> Result<(Withdrawal, Payout), VenueError> {
        let found = withdrawals_in_receipt(r).map_err(rejected)?;
        let [w] = found.as_slice() else {
            return Err(VenueError::Rejected(format!(
                "{} carries {} withdrawals, expected one",
                r.transaction_hash,
                found.len()
            )));
        };
        let payout = erc20_payout(&w.tx).map_err(rejected)?;
        let me = self.wallet();
        let l1 = self.erc20(Chain::Ethereum, token)?;
        let l2 = self.erc20(Chain::Hemi, token)?;
        if payout.to != me || payout.l1_token != l1 || payout.l2_token != l2 {
            return Err(VenueError::Rejected(format!(
                "withdrawal {} pays {} of {} (from {}) on Ethereum, not {token} {l1} to {me}",
                w.hash, payout.to, payout.l1_token, payout.l2_token
            )));
        }
        Ok((w.clone(), payout))
    }

    /// The withdrawal a tunnel ticket names, from its initiating receipt on Hemi.
    pub(super) async fn ticket_withdrawal(
        &self,
        ticket: &BridgeTicket,
    ) -> Result<(Withdrawal, Payout), VenueError> {
        let hash: B256 = ticket.source_tx.parse().map_err(|_| {
            VenueError::Rejected(format!("bad source transaction {:?}", ticket.source_tx))
        })?;
        let receipt = self.hemi.receipt(hash).await?.ok_or_else(|| {
            VenueError::Transient(format!("Hemi has no receipt for {}", ticket.source_tx))
        })?;
        let (w, payout) = self.withdrawal_in(&receipt, ticket.token)?;
        if w.hash.to_string() != ticket.message_id.to_lowercase() {
            return Err(VenueError::Rejected(format!(
                "{} initiated withdrawal {}, not {}",
                ticket.source_tx, w.hash, ticket.message_id
            )));
        }
        Ok((w, payout))
    }

    /// Why the tunnel takes no new withdrawal now: its portal is paused
    /// (a withdrawal initiated now could be neither proven nor finalized).
    pub(super) async fn tunnel_closed(&self) -> Result<Option<String>, VenueError> {
        let p = self.portal()?;
        Ok(self
            .ethereum
            .view(p.portal, IPortal::pausedCall {})
            .await?
            .then(|| format!("the tunnel portal {} is paused by its guardian", p.portal)))
    }

    /// How long a proven withdrawal waits before it may be finalized, in
    /// seconds: the oracle's `FINALIZATION_PERIOD_SECONDS`, which the
    /// legacy portal consults at finalize.
    async fn finalization_period(&self, p: &PortalInfo) -> Result<u64, VenueError> {
        let period = self
            .ethereum
            .view(p.oracle, IOutputOracle::FINALIZATION_PERIOD_SECONDSCall {})
            .await?;
        to_u64(period, "FINALIZATION_PERIOD_SECONDS")
    }

    /// The tunnel's finalization period now, for pricing a cycle; `None`
    /// when no tunnel is configured.
    pub(super) async fn tunnel_finalization_secs(&self) -> Result<Option<u64>, VenueError> {
        match self.portal.as_ref() {
            Some(p) => self.finalization_period(p).await.map(Some),
            None => Ok(None),
        }
    }

    async fn refuse_if_paused(&self, step: &str) -> Result<(), VenueError> {
        let p = self.portal()?;
        if self.ethereum.view(p.portal, IPortal::pausedCall {}).await? {
            return Err(VenueError::Transient(format!(
                "the tunnel portal {} is paused by its guardian; {step} waits until it is unpaused",
                p.portal
            )));
        }
        Ok(())
    }

    /// `proveWithdrawalTransaction` for the ticket's withdrawal against the
    /// oracle's first output covering its block, the proof checked first.
    pub(super) async fn prove_call(
        &self,
        ticket: &BridgeTicket,
        imported: Option<&str>,
    ) -> Result<(Address, Bytes, U256), VenueError> {
        self.refuse_if_paused("prove").await?;
        let (w, _) = self.ticket_withdrawal(ticket).await?;
        let p = self.portal()?;
        if let Some(text) = imported {
            return self.imported_prove_call(text, &w).await;
        }
        let block = w.l2_block.ok_or_else(|| {
            VenueError::Transient(format!(
                "the receipt of {} names no block",
                ticket.source_tx
            ))
        })?;
        let index = match self
            .ethereum
            .view(
                p.oracle,
                IOutputOracle::getL2OutputIndexAfterCall {
                    _l2BlockNumber: U256::from(block),
                },
            )
            .await
        {
            Ok(i) => i,
            Err(VenueError::Rejected(why)) => {
                return Err(VenueError::Transient(format!(
                    "no output covers Hemi block {block} yet: {why}"
                )));
            }
            Err(e) => return Err(e),
        };
        let output = self
            .ethereum
            .view(
                p.oracle,
                IOutputOracle::getL2OutputCall {
                    _l2OutputIndex: index,
                },
            )
            .await?;
        let l2_block = u64::try_from(output.l2BlockNumber).map_err(|_| {
            rejected(format!(
                "output block {} is out of range",
                output.l2BlockNumber
            ))
        })?;
        let provider = self.hemi.provider();
        let header = self
            .hemi
            .rpc(
                "eth_getBlockByNumber",
                provider.get_block_by_number(l2_block.into()),
            )
            .await?
            .ok_or_else(|| {
                VenueError::Transient(format!("Hemi has no block {l2_block} (the output's)"))
            })?
            .header;
        let proof = self
            .hemi
            .rpc(
                "eth_getProof",
                provider
                    .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![w.storage_slot()])
                    .block_id(l2_block.into()),
            )
            .await?;
        let args = build_prove_args(
            w.hash,
            output.outputRoot,
            &L2OutputBlock::from_header(&header),
            &proof,
        )
        .map_err(rejected)?;
        let data = prove_calldata(&w.tx, to_u64(index, "output index")?, &args);
        Ok((p.portal, data, U256::ZERO))
    }

    /// The operator's imported prove calldata, sent as given once it is
    /// checked: this withdrawal's prove, against an output the oracle holds.
    async fn imported_prove_call(
        &self,
        text: &str,
        w: &Withdrawal,
    ) -> Result<(Address, Bytes, U256), VenueError> {
        let p = self.portal()?;
        let imported = check_imported_prove(text, w.hash).map_err(rejected)?;
        let output = self
            .ethereum
            .view(
                p.oracle,
                IOutputOracle::getL2OutputCall {
                    _l2OutputIndex: imported.l2_output_index,
                },
            )
            .await
            .map_err(|e| match e {
                VenueError::Rejected(why) => VenueError::Rejected(format!(
                    "the imported proof names output {}, which the oracle does not hold: {why}",
                    imported.l2_output_index
                )),
                other => other,
            })?;
        if output.outputRoot != imported.output_root {
            return Err(VenueError::Rejected(format!(
                "the imported proof's output root {} is not the oracle's {} at index {}",
                imported.output_root, output.outputRoot, imported.l2_output_index
            )));
        }
        Ok((p.portal, imported.data, U256::ZERO))
    }

    pub(super) async fn finalize_call(
        &self,
        ticket: &BridgeTicket,
    ) -> Result<(Address, Bytes, U256), VenueError> {
        self.refuse_if_paused("finalize").await?;
        let (w, _) = self.ticket_withdrawal(ticket).await?;
        Ok((self.portal()?.portal, finalize_calldata(&w.tx), U256::ZERO))
    }

    /// A prove or finalize the portal already records (ours from before a
    /// crash, or anyone's): its receipt from the transaction that did it,
    /// so nothing is sent again. `None` when it is still to be done, or it
    /// was one of this intent's own transactions (the journal settles it).
    pub(super) async fn tunnel_done_on_chain(
        &self,
        id: &str,
        action: &Action,
    ) -> Result<Option<Receipt>, VenueError> {
        let (ticket, finalize) = match action {
            Action::Prove { ticket, .. } => (ticket, false),
            Action::Finalize { ticket } => (ticket, true),
            _ => return Ok(None),
        };
        let p = self.portal()?;
        let hash: B256 = ticket
            .message_id
            .parse()
            .map_err(|_| rejected(format!("bad withdrawal hash {:?}", ticket.message_id)))?;
        let done = if finalize {
            self.ethereum
                .view(
                    p.portal,
                    IPortal::finalizedWithdrawalsCall {
                        withdrawalHash: hash,
                    },
                )
                .await?
        } else {
            let reads = self.portal_reads(ticket, hash, 0).await?;
            matches!(
                stage(&reads),
                Stage::WaitingToFinalize { .. } | Stage::ReadyToFinalize | Stage::Finalized
            )
        };
        if !done {
            return Ok(None);
        }
        let topic0 = if finalize {
            IPortal::WithdrawalFinalized::SIGNATURE_HASH
        } else {
            IPortal::WithdrawalProven::SIGNATURE_HASH
        };
        let filter = Filter::new()
            .address(p.portal)
            .event_signature(topic0)
            .topic1(hash);
        let log = find_log(&self.ethereum, filter, self.cfg.log_chunk_blocks, 200)
            .await?
            .ok_or_else(|| {
                VenueError::Transient(format!(
                    "the portal records withdrawal {hash} as done but its event is not found yet"
                ))
            })?;
        let tx_hash = log.transaction_hash.ok_or_else(|| {
            VenueError::Transient(format!(
                "the portal's event for {hash} names no transaction"
            ))
        })?;
        let ours = self
            .tx
            .store()
            .txs_of(id)?
            .iter()
            .any(|r| r.hashes().any(|h| h == tx_hash));
        if ours {
            return Ok(None);
        }
        let r = self.ethereum.receipt(tx_hash).await?.ok_or_else(|| {
            VenueError::Transient(format!("Ethereum has no receipt for {tx_hash} yet"))
        })?;
        let at = self.mined_at(&self.ethereum, &r).await?;
        let gas = if r.from == self.wallet() {
            self.ethereum.fee_paid(&r).await?
        } else {
            0
        };
        tracing::info!(intent = id, withdrawal = %hash, tx = %tx_hash, "tunnel step already done on the portal; not sent again");
        let mut out = receipt::bare_receipt(tx_hash.to_string(), Chain::Ethereum, at, gas);
        if finalize {
            out.amount_out = self.released(&r, ticket).await?;
        }
        Ok(Some(out))
    }

    /// What a finalize released to this wallet: the L1 bridge's transfer
    /// of the withdrawal's amount. A finalize whose relay the L1 messenger
    /// failed released nothing: the step holds, with the replay to make.
    pub(super) async fn released(
        &self,
        r: &TransactionReceipt,
        ticket: &BridgeTicket,
    ) -> Result<u128, VenueError> {
        let (w, payout) = self.ticket_withdrawal(ticket).await?;
        let got = receipt::received(r, payout.l1_token, Some(payout.l1_bridge), self.wallet());
        if got != payout.amount {
            return Err(VenueError::Unknown(format!(
                "withdrawal {} is finalized but the L1 bridge released {got} of {} to this wallet \
                 in {}: the L1 messenger {} recorded the relay as failed; replay it with \
                 relayMessage, then mark the step done",
                w.hash, payout.amount, r.transaction_hash, payout.l1_messenger
            )));
        }
        units(got)
    }

    /// The portal's and oracle's answers about a withdrawal.
    async fn portal_reads(
        &self,
        ticket: &BridgeTicket,
        hash: B256,
        withdrawal_block: u64,
    ) -> Result<PortalReads, VenueError> {
        let p = self.portal()?;
        let e = &self.ethereum;
        let finalized = e
            .view(
                p.portal,
                IPortal::finalizedWithdrawalsCall {
                    withdrawalHash: hash,
                },
            )
            .await?;
        let proven = e
            .view(
                p.portal,
                IPortal::provenWithdrawalsCall {
                    withdrawalHash: hash,
                },
            )
            .await?;
        let proven = if proven.timestamp == 0 {
            None
        } else {
            let output_now = match e
                .view(
                    p.oracle,
                    IOutputOracle::getL2OutputCall {
                        _l2OutputIndex: U256::from(proven.l2OutputIndex),
                    },
                )
                .await
            {
                Ok(o) => Some((o.outputRoot, u64::try_from(o.timestamp).unwrap_or(u64::MAX))),
                // The challenger deleted it: prove again.
                Err(VenueError::Rejected(_)) => None,
                Err(other) => return Err(other),
            };
            Some(ProvenAt {
                output_root: proven.outputRoot,
                timestamp: u64::try_from(proven.timestamp).unwrap_or(u64::MAX),
                output_now,
            })
        };
        let latest = e
            .view(p.oracle, IOutputOracle::latestBlockNumberCall {})
            .await?;
        let head = e.head().await?;
        let chain_now = e.block(head).await?.map(|(_, ts)| ts).ok_or_else(|| {
            VenueError::Transient(format!(
                "Ethereum has no block {head} ({})",
                ticket.message_id
            ))
        })?;
        Ok(PortalReads {
            finalized,
            proven,
            latest_output_block: to_u64(latest, "latestBlockNumber")?,
            withdrawal_block,
            finalization_period_secs: self.finalization_period(p).await?,
            chain_now,
        })
    }

    /// Where a tunnel withdrawal stands, with its countdown from the chain:
    /// the next output's block against Hemi's head, or the finalization
    /// period against Ethereum's clock (both added to our clock, so a node
    /// whose clock runs ahead does not stretch the wait).
    pub(super) async fn tunnel_status(
        &self,
        ticket: &BridgeTicket,
    ) -> Result<BridgeStatus, VenueError> {
        let (w, payout) = self.ticket_withdrawal(ticket).await?;
        let block = w.l2_block.ok_or_else(|| {
            VenueError::Transient(format!(
                "the receipt of {} names no block",
                ticket.source_tx
            ))
        })?;
        let reads = self.portal_reads(ticket, w.hash, block).await?;
        let now = self.clock.now();
        let p = self.portal()?;
        match stage(&reads) {
            Stage::Finalized => {
                let filter = Filter::new()
                    .address(p.portal)
                    .event_signature(IPortal::WithdrawalFinalized::SIGNATURE_HASH)
                    .topic1(w.hash);
                let log = find_log(&self.ethereum, filter, self.cfg.log_chunk_blocks, 200).await?;
                let (tx_hash, at) = match log {
                    Some(l) => {
                        let at = match l.block_number {
                            Some(n) => self.ethereum.block(n).await?.map(|(_, ts)| ts * 1000),
                            None => None,
                        };
                        (
                            l.transaction_hash.unwrap_or_default().to_string(),
                            at.unwrap_or(ticket.sent_at),
                        )
                    }
                    None => (String::new(), ticket.sent_at),
                };
                Ok(BridgeStatus::Arrived {
                    amount: units(payout.amount)?,
                    tx_hash,
                    at,
                })
            }
            Stage::ReadyToFinalize => {
                self.refuse_if_paused("finalize").await?;
                Ok(BridgeStatus::FinalizeReady)
            }
            Stage::WaitingToFinalize { ready_in_secs } => Ok(BridgeStatus::Proved {
                finalize_at: now.saturating_add(ready_in_secs.saturating_mul(1000)),
            }),
            Stage::ReadyToProve => {
                self.refuse_if_paused("prove").await?;
                Ok(BridgeStatus::ProveReady)
            }
            Stage::WaitingToProve => {
                let secs = self.secs_to_output(block).await?;
                Ok(BridgeStatus::InFlight {
                    ready_at: Some(now.saturating_add(secs.saturating_mul(1000))),
                    note: None,
                })
            }
        }
    }

    /// Seconds until the oracle's first output at or past `block` is due:
    /// its block (`nextBlockNumber` plus whole submission intervals) less
    /// Hemi's head, at the oracle's L2 block time.
    async fn secs_to_output(&self, block: u64) -> Result<u64, VenueError> {
        let p = self.portal()?;
        let e = &self.ethereum;
        let next = to_u64(
            e.view(p.oracle, IOutputOracle::nextBlockNumberCall {})
                .await?,
            "nextBlockNumber",
        )?;
        let interval = to_u64(
            e.view(p.oracle, IOutputOracle::SUBMISSION_INTERVALCall {})
                .await?,
            "SUBMISSION_INTERVAL",
        )?
        .max(1);
        let block_time = to_u64(
            e.view(p.oracle, IOutputOracle::L2_BLOCK_TIMECall {})
                .await?,
            "L2_BLOCK_TIME",
        )?;
        let due = if block <= next {
            next
        } else {
            let behind = block - next;
            next.saturating_add(behind.div_ceil(interval).saturating_mul(interval))
        };
        let head = self.hemi.head().await?;
        Ok(due.saturating_sub(head).max(1).saturating_mul(block_time))
    }
}
