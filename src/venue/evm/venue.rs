//! `LoopVenue` over real chains: quotes from each chain's swap providers
//! (in priority order, `swap`), balances from the wallet, intents carried
//! out as transactions through the transaction manager (a swap step:
//! `swap_step`, by order: `order`), receipts from the journal and the
//! chain (`receipt`), settled by looking, the Stargate V2 route
//! (`stargate_send`), the tunnel route on the real OP Stack contracts
//! (`tunnel`), the operator's override (`abandon`), what a cycle costs
//! (`pricing`) and the venue's lines on the Venues panel (`health`).

mod abandon;
mod deployment;
pub mod gas;
mod health;
pub mod l1_fee;
mod order;
mod pricing;
mod receipt;
mod stargate_send;
mod swap_step;
mod tunnel;

use super::abi::IUniswapV2Router02;
use super::bridge;
use super::chain::{ChainClient, EvmError};
use super::crash;
use super::db::{EvmStore, IntentRecord, TxRecord};
use super::erc20;
use super::swap::cow::OrderState;
use super::swap::{Ask, Providers};
use super::txmgr::{GasHint, Look, TxManager, TxPolicy, TxRequest};
use super::wallet::Wallet;
use crate::config::{EvmChainConfig, EvmConfig};
use crate::model::intent::payload_hash;
use crate::model::{
    Action, BridgeTicket, Chain, Clock, Intent, IntentId, Receipt, Route, Timestamp, TokenId, Units,
};
use crate::venue::{BridgeStatus, FeeSchedule, LoopVenue, VenueError, VenueHealth};
use alloy::primitives::{Address, U256};
use alloy::rpc::types::TransactionReceipt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn records_have_last(records: &[TxRecord]) -> bool {
    records.iter().any(|r| r.last)
}

/// A swap no provider takes, said with the step's minimum.
fn no_provider(e: VenueError, min_out: Units) -> VenueError {
    match e {
        VenueError::Rejected(why) => VenueError::Rejected(format!(
            "no swap provider gives the step's minimum of {min_out} (INSUFFICIENT_OUTPUT_AMOUNT) — {why}"
        )),
        other => other,
    }
}

fn units(v: U256) -> Result<Units, VenueError> {
    u128::try_from(v).map_err(|_| VenueError::Rejected(format!("amount {v} out of range")))
}

pub struct EvmVenue {
    hemi: ChainClient,
    ethereum: ChainClient,
    cfg: EvmConfig,
    tx: TxManager,
    /// The router's WETH per chain (native ETH's stand-in on swap paths).
    weth: [Address; 2],
    /// Each chain's swap providers, in priority order.
    swaps: [Providers; 2],
    /// "devnet" or "live", for the health panel.
    label: &'static str,
    clock: Arc<dyn Clock>,
    /// Last head seen per chain and when it moved.
    heads: Mutex<[Option<(u64, Timestamp)>; 2]>,
    /// The tunnel's portal and oracle, when the tunnel is configured.
    portal: Option<tunnel::PortalInfo>,
    /// The LayerZero Scan API (`[evm] layerzero_scan`): words on a
    /// Stargate transfer in flight, never an arrival.
    scan: Option<super::lzscan::LzScan>,
}

impl EvmVenue {
    /// Connect both chains, check chain ids, contracts and token decimals;
    /// an aggregator's API key is read from the environment.
    pub async fn connect(
        cfg: &EvmConfig,
        wallet: Wallet,
        store: Arc<EvmStore>,
        clock: Arc<dyn Clock>,
        label: &'static str,
    ) -> Result<EvmVenue, EvmError> {
        let env = |name: &str| std::env::var(name).ok();
        Self::connect_with(cfg, wallet, store, clock, label, &env).await
    }

    /// [`EvmVenue::connect`], the environment read through `env`.
    pub async fn connect_with(
        cfg: &EvmConfig,
        wallet: Wallet,
        store: Arc<EvmStore>,
        clock: Arc<dyn Clock>,
        label: &'static str,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<EvmVenue, EvmError> {
        let timeout = Duration::from_millis(cfg.rpc_timeout_ms);
        let hemi = ChainClient::connect(Chain::Hemi, &cfg.hemi, timeout).await?;
        let ethereum = ChainClient::connect(Chain::Ethereum, &cfg.ethereum, timeout).await?;
        deployment::check_deployment(cfg, &hemi, &ethereum).await?;
        let mut weth = [Address::ZERO; 2];
        for (chain, c, chain_cfg) in [
            (Chain::Hemi, &hemi, &cfg.hemi),
            (Chain::Ethereum, &ethereum, &cfg.ethereum),
        ] {
            let problem = |problem: String| EvmError::Contract {
                chain: c.name.clone(),
                problem,
            };
            weth[chain as usize] = c
                .view(chain_cfg.router, IUniswapV2Router02::WETHCall {})
                .await
                .map_err(|e| {
                    problem(format!(
                        "router {} does not answer WETH(): {e}",
                        chain_cfg.router
                    ))
                })?;
            for (token, address) in &chain_cfg.tokens {
                let found = erc20::decimals(c, *address).await.map_err(|e| {
                    problem(format!(
                        "{token} at {address} does not answer decimals(): {e}"
                    ))
                })?;
                if found != token.decimals() {
                    return Err(problem(format!(
                        "{token} at {address} has {found} decimals; arbkeep expects {} — wrong address?",
                        token.decimals()
                    )));
                }
            }
        }
        let mut swaps = Vec::new();
        for (chain, c, chain_cfg) in [
            (Chain::Hemi, &hemi, &cfg.hemi),
            (Chain::Ethereum, &ethereum, &cfg.ethereum),
        ] {
            let providers = Providers::connect(c, chain, chain_cfg, weth[chain as usize], env)
                .await
                .map_err(|problem| EvmError::Contract {
                    chain: c.name.clone(),
                    problem,
                })?;
            swaps.push(providers);
        }
        let swaps: [Providers; 2] = swaps.try_into().map_err(|_| EvmError::Contract {
            chain: "both".into(),
            problem: "swap providers of two chains expected".into(),
        })?;
        let portal = match cfg.ethereum.tunnel {
            Some(a) => Some(tunnel::connect_portal(&ethereum, a).await?),
            None => None,
        };
        let scan = super::lzscan::LzScan::from_config(cfg, clock.clone()).map_err(|problem| {
            EvmError::Contract {
                chain: "evm.layerzero_scan".into(),
                problem,
            }
        })?;
        let tx = TxManager::new(store, wallet, TxPolicy::from_config(cfg), clock.clone());
        tracing::info!(wallet = %tx.address(), hemi = %hemi.url, ethereum = %ethereum.url, "EVM adapters connected");
        Ok(EvmVenue {
            hemi,
            ethereum,
            cfg: cfg.clone(),
            tx,
            weth,
            swaps,
            label,
            clock,
            heads: Mutex::new([None, None]),
            portal,
            scan,
        })
    }

    pub fn client(&self, chain: Chain) -> &ChainClient {
        match chain {
            Chain::Hemi => &self.hemi,
            Chain::Ethereum => &self.ethereum,
        }
    }

    fn client_by_id(&self, chain_id: u64) -> Result<&ChainClient, VenueError> {
        [&self.hemi, &self.ethereum]
            .into_iter()
            .find(|c| c.chain_id == chain_id)
            .ok_or_else(|| VenueError::Rejected(format!("no chain with id {chain_id}")))
    }

    fn chain_cfg(&self, chain: Chain) -> &EvmChainConfig {
        match chain {
            Chain::Hemi => &self.cfg.hemi,
            Chain::Ethereum => &self.cfg.ethereum,
        }
    }

    pub fn tx_manager(&self) -> &TxManager {
        &self.tx
    }

    pub fn wallet(&self) -> Address {
        self.tx.address()
    }

    /// The ERC-20 of `token` on `chain` (WETH defaults to the router's).
    fn erc20(&self, chain: Chain, token: TokenId) -> Result<Address, VenueError> {
        if let Some(a) = self.chain_cfg(chain).token(token) {
            return Ok(a);
        }
        if token == TokenId::Weth {
            return Ok(self.weth[chain as usize]);
        }
        Err(VenueError::Rejected(format!(
            "{token} does not exist on {chain}"
        )))
    }

    /// The address standing for `token` on a swap path (ETH → WETH).
    fn path_address(&self, chain: Chain, token: TokenId) -> Result<Address, VenueError> {
        if token.is_native() {
            Ok(self.weth[chain as usize])
        } else {
            self.erc20(chain, token)
        }
    }

    fn tunnel(&self, chain: Chain) -> Result<Address, VenueError> {
        self.chain_cfg(chain).tunnel.ok_or_else(|| {
            VenueError::Rejected(format!("no tunnel contract configured on {chain}"))
        })
    }

    /// The intent's last transaction.
    async fn send(
        &self,
        chain: Chain,
        intent: &str,
        seq: u32,
        purpose: &'static str,
        call: (Address, alloy::primitives::Bytes, U256),
    ) -> Result<TransactionReceipt, VenueError> {
        self.send_hinted(chain, intent, seq, purpose, call, GasHint::default())
            .await
    }

    /// The intent's last transaction, with what its builder knows of its
    /// gas beyond the node's estimate (a swap's pool oracle, say).
    async fn send_hinted(
        &self,
        chain: Chain,
        intent: &str,
        seq: u32,
        purpose: &'static str,
        call: (Address, alloy::primitives::Bytes, U256),
        gas: GasHint,
    ) -> Result<TransactionReceipt, VenueError> {
        let (to, data, value) = call;
        self.tx
            .send(
                self.client(chain),
                TxRequest {
                    intent: intent.to_string(),
                    seq,
                    purpose,
                    last: true,
                    to,
                    data,
                    value,
                    gas,
                },
            )
            .await
    }

    async fn approve(
        &self,
        chain: Chain,
        intent: &str,
        token: Address,
        spender: Address,
        amount: Units,
    ) -> Result<(), VenueError> {
        self.approve_at(chain, intent, 0, token, spender, amount)
            .await
    }

    /// The approve at `seq` of the intent's transactions.
    async fn approve_at(
        &self,
        chain: Chain,
        intent: &str,
        seq: u32,
        token: Address,
        spender: Address,
        amount: Units,
    ) -> Result<(), VenueError> {
        let want = erc20::Allowance {
            token,
            spender,
            amount: U256::from(amount),
            unlimited: self.cfg.unlimited_approvals,
        };
        erc20::ensure_allowance(&self.tx, self.client(chain), intent, seq, want).await
    }

    /// Send every transaction `action` needs (approve first when needed).
    /// Once the intent's last transaction is recorded, only that one is
    /// finished: nothing before it is looked at again.
    async fn carry_out(&self, id: &str, action: &Action) -> Result<(), VenueError> {
        if let Some(last) = self.tx.store().txs_of(id)?.into_iter().find(|r| r.last) {
            let c = self.client_by_id(last.chain_id)?;
            self.tx
                .send(
                    c,
                    TxRequest {
                        intent: id.to_string(),
                        seq: last.seq,
                        purpose: "resume",
                        last: true,
                        to: last.to,
                        data: last.data.clone(),
                        value: last.value,
                        gas: GasHint::default(),
                    },
                )
                .await?;
            return Ok(());
        }
        match action {
            Action::Swap {
                chain,
                token_in,
                token_out,
                amount_in,
                min_out,
                deadline,
            } => {
                self.carry_out_swap(
                    id, *chain, *token_in, *token_out, *amount_in, *min_out, *deadline,
                )
                .await?;
            }
            Action::BridgeSend {
                route: Route::Stargate,
                token,
                from,
                to,
                amount,
            } => {
                self.send_by_stargate(id, *token, *from, *to, *amount)
                    .await?;
            }
            Action::BridgeSend {
                route: Route::HemiTunnel,
                token,
                from,
                to,
                amount,
            } => {
                if (*from, *to) != (Chain::Hemi, Chain::Ethereum) || token.is_native() {
                    return Err(VenueError::Rejected(format!(
                        "the tunnel takes ERC-20s from Hemi to Ethereum, not {token} {from} → {to}"
                    )));
                }
                let call = self.initiate_call(*token, *amount).await?;
                self.send(Chain::Hemi, id, 0, "tunnel_initiate", call)
                    .await?;
            }
            Action::Prove { ticket, proof } => {
                let call = self.prove_call(ticket, proof.as_deref()).await?;
                self.send(Chain::Ethereum, id, 0, "prove", call).await?;
            }
            Action::Finalize { ticket } => {
                let call = self.finalize_call(ticket).await?;
                self.send(Chain::Ethereum, id, 0, "finalize", call).await?;
            }
        }
        Ok(())
    }

    /// Track head movement for the silence check.
    fn saw_head(&self, chain: Chain, head: u64) -> Timestamp {
        let now = self.clock.now();
        let mut heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        let slot = &mut heads[chain as usize];
        match slot {
            Some((h, at)) if *h == head => *at,
            _ => {
                *slot = Some((head, now));
                now
            }
        }
    }
}

impl LoopVenue for EvmVenue {
    async fn quote(
        &self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
    ) -> Result<Units, VenueError> {
        let req = self.swap_request(chain, token_in, token_out, amount_in)?;
        let (quote, _) = self.swaps[chain as usize]
            .select(
                self.client(chain),
                &req,
                Ask {
                    gas_price_in_out: self.gas_price_in(chain, token_out).await?,
                    ..Ask::default()
                },
                self.clock.now(),
            )
            .await
            .map_err(|e| match e {
                VenueError::Rejected(why) => VenueError::Rejected(format!(
                    "no {chain} pool trades {token_in}→{token_out}: {why}"
                )),
                other => other,
            })?;
        let out = quote.amount_out;
        units(out)
    }

    async fn reference_quote(
        &self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
    ) -> Result<Units, VenueError> {
        let req = self.swap_request(chain, token_in, token_out, amount_in)?;
        match self.swaps[chain as usize]
            .reference_quote(self.client(chain), &req, self.clock.now())
            .await
        {
            Some(Ok(q)) => units(q.amount_out),
            // No reference pool for the pair (XAUt on the devnet): the swap order prices it.
            Some(Err(VenueError::Rejected(_))) | None => {
                self.quote(chain, token_in, token_out, amount_in).await
            }
            Some(Err(e)) => Err(e),
        }
    }

    async fn fees(&self) -> Result<FeeSchedule, VenueError> {
        self.fee_schedule().await
    }

    async fn balance(&self, chain: Chain, token: TokenId) -> Result<Units, VenueError> {
        let c = self.client(chain);
        let me = self.wallet();
        let v = if token.is_native() {
            c.native_balance(me).await?
        } else {
            erc20::balance_of(c, self.erc20(chain, token)?, me).await?
        };
        units(v)
    }

    async fn execute(&self, intent: &Intent) -> Result<Receipt, VenueError> {
        if payload_hash(&intent.action) != intent.payload_hash {
            return Err(VenueError::Rejected(format!(
                "{}: payload hash does not match its action",
                intent.id
            )));
        }
        let id = intent.id.to_string();
        crash::point(&format!("{id}:execute"));
        let store = self.tx.store();
        match store.intent(&id)? {
            Some(known) if known.payload_hash != intent.payload_hash => {
                return Err(VenueError::Rejected(format!(
                    "{id} was carried out earlier with another payload"
                )));
            }
            Some(known) if known.abandoned => {
                return Err(VenueError::Rejected(format!(
                    "{id} was abandoned by the operator; it is never sent"
                )));
            }
            Some(_) => {}
            None => store.put_intent(
                &id,
                &IntentRecord {
                    action: intent.action.clone(),
                    payload_hash: intent.payload_hash.clone(),
                    abandoned: false,
                    swap: None,
                    order: None,
                },
            )?,
        }
        if let Some(done) = self.tunnel_done_on_chain(&id, &intent.action).await? {
            crash::point(&format!("{id}:executed"));
            return Ok(done);
        }
        self.carry_out(&id, &intent.action).await?;
        let receipt = self.build(&id, &intent.action).await?;
        crash::point(&format!("{id}:executed"));
        Ok(receipt)
    }

    async fn settle(&self, intent: IntentId) -> Result<Option<Receipt>, VenueError> {
        let id = intent.to_string();
        let store = self.tx.store();
        let Some(known) = store.intent(&id)? else {
            return Ok(None);
        };
        let records = store.txs_of(&id)?;
        if !records.iter().any(|r| r.last)
            && let Some(o) = &known.order
        {
            // Filled: done. Live: carrying it out again follows the same
            // order by its UID, never a second one. Dead: not done.
            return match o.state {
                OrderState::Filled { .. } => self.build(&id, &known.action).await.map(Some),
                _ => Ok(None),
            };
        }
        let Some(last) = records.iter().find(|r| r.last) else {
            // Its last transaction was never signed; an approve before it, if
            // any, is resumed or reused when the intent is carried out.
            return Ok(None);
        };
        let c = self.client_by_id(last.chain_id)?;
        match self.tx.look(c, last).await? {
            // The operator abandoned it and the cancel took its nonce.
            Look::Confirmed(r) if Some(r.transaction_hash) == last.cancel_hash() => Ok(None),
            Look::Confirmed(r) if r.status() => self.build(&id, &known.action).await.map(Some),
            // Reverted: it did not happen; carrying it out again reports why.
            Look::Confirmed(_) => Ok(None),
            Look::Mined => Err(VenueError::Unknown(format!(
                "{id}: mined, waiting for {} confirmations",
                self.cfg.confirmations
            ))),
            // Not done yet. Carrying the intent out again resumes exactly the
            // recorded transaction (replacing it at the same nonce if it is
            // stuck, re-broadcasting its bytes if no node has them): it can
            // never make a second one. So the engine may go ahead.
            Look::Pending | Look::NotSent | Look::NonceTaken { .. } => Ok(None),
            // Ours may be mined: hold the step, never carry it out again.
            Look::NonceUnproven(why) => Err(VenueError::Unknown(format!("{id}: {why}"))),
        }
    }

    async fn gas_paid(&self, intent: IntentId) -> Result<Units, VenueError> {
        let id = intent.to_string();
        let Some(known) = self.tx.store().intent(&id)? else {
            return Ok(0);
        };
        let c = self.client(known.action.chain());
        self.mined(c, &id).await.map(|(gas, _)| gas)
    }

    async fn abandon(&self, intent: IntentId) -> Result<crate::venue::Abandonment, VenueError> {
        self.abandon_intent(intent).await
    }

    async fn receipt(&self, chain: Chain, tx_hash: &str) -> Result<Option<Receipt>, VenueError> {
        let hash: alloy::primitives::B256 = tx_hash
            .trim()
            .parse()
            .map_err(|_| VenueError::Rejected(format!("{tx_hash:?} is not a transaction hash")))?;
        let store = self.tx.store();
        if let Some(rec) = store
            .all_txs()?
            .into_iter()
            .find(|r| r.hashes().any(|h| h == hash))
            && let Some(known) = store.intent(&rec.intent)?
            && known.action.chain() == chain
        {
            return self.build(&rec.intent, &known.action).await.map(Some);
        }
        let c = self.client(chain);
        let Some(r) = c.receipt(hash).await? else {
            return Ok(None);
        };
        let at = self.mined_at(c, &r).await?;
        let gas = if r.from == self.wallet() {
            c.fee_paid(&r).await?
        } else {
            0
        };
        Ok(Some(receipt::bare_receipt(
            r.transaction_hash.to_string(),
            chain,
            at,
            gas,
        )))
    }

    async fn route_closed(
        &self,
        route: Route,
        token: TokenId,
    ) -> Result<Option<String>, VenueError> {
        if route == Route::HemiTunnel
            && let Some(why) = self.tunnel_closed().await?
        {
            return Ok(Some(why));
        }
        self.stargate_closed(route, token).await
    }

    async fn bridge_status(&self, ticket: &BridgeTicket) -> Result<BridgeStatus, VenueError> {
        match ticket.route {
            Route::Stargate => {
                bridge::stargate_status(
                    self.client(ticket.to),
                    self.stargate_pool(ticket.to, ticket.token)?,
                    ticket,
                    self.cfg.stargate_delay_ms,
                    self.cfg.confirmations,
                    self.cfg.log_chunk_blocks,
                    self.scan.as_ref(),
                )
                .await
            }
            Route::HemiTunnel => self.tunnel_status(ticket).await,
        }
    }

    async fn health(&self) -> Vec<VenueHealth> {
        self.health_lines().await
    }
}
