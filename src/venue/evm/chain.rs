//! One chain as the adapters see it: an HTTP provider (and a WebSocket one
//! when configured), the chain id checked at start against the config, and
//! every call under a timeout with its error classified (docs/architecture.md §2, R4): a revert
//! is `Rejected` with its decoded reason, anything else `Transient`.

use crate::config::EvmChainConfig;
use crate::model::Chain;
use crate::redact;
use crate::venue::VenueError;
use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder, WsConnect};
use alloy::rpc::types::{Filter, Log, TransactionReceipt, TransactionRequest};
use alloy::sol_types::SolCall;
use alloy::transports::{RpcError, TransportErrorKind};
use std::future::IntoFuture;
use std::time::{Duration, Instant};

/// Start-up errors of the EVM adapters: each says what to fix. URLs in them
/// are redacted (RPC URLs often carry an API key).
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    #[error(
        "{chain} RPC {url} is chain id {found}, but the config says {expected} ({key}): is this the right endpoint?"
    )]
    WrongChain {
        chain: String,
        key: String,
        url: String,
        expected: u64,
        found: u64,
    },
    #[error("{chain} RPC {url} does not answer: {reason}")]
    Unreachable {
        chain: String,
        url: String,
        reason: String,
    },
    #[error("{chain}: {problem}")]
    Contract { chain: String, problem: String },
    #[error(
        "{chain}: no contract at {address} ({key}): a wrong address, or an RPC of another network?"
    )]
    NoCode {
        chain: String,
        key: String,
        address: Address,
    },
    #[error("{chain}: {what} at {address} ({key}) {problem}")]
    NotAsExpected {
        chain: String,
        key: String,
        what: String,
        address: Address,
        problem: String,
    },
    #[error(transparent)]
    Wallet(#[from] super::wallet::WalletError),
    #[error(transparent)]
    Journal(#[from] super::db::JournalError),
}

/// Where a chain is reached, and what the config calls it (for errors).
/// Its `Debug` redacts the URLs.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// "Hemi", "Ethereum", or the hedge's orderbook chain.
    pub name: String,
    /// The config key of the chain id, named when the node disagrees.
    pub chain_id_key: String,
    pub chain_id: u64,
    pub rpc_url: String,
    pub ws_url: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("chain_id_key", &self.chain_id_key)
            .field("chain_id", &self.chain_id)
            .field("rpc_url", &redact::url(&self.rpc_url))
            .field("ws_url", &self.ws_url.as_deref().map(redact::url))
            .finish()
    }
}

impl Endpoint {
    /// One of the loop's chains, from `[evm.hemi]` / `[evm.ethereum]`.
    pub fn of_loop(chain: Chain, cfg: &EvmChainConfig) -> Endpoint {
        Endpoint {
            name: chain.name().to_string(),
            chain_id_key: format!("evm.{}.chain_id", key(chain)),
            chain_id: cfg.chain_id,
            rpc_url: cfg.rpc_url.clone(),
            ws_url: cfg.ws_url.clone(),
        }
    }
}

pub struct ChainClient {
    /// The chain's name in logs, errors and venue health.
    pub name: String,
    pub chain_id: u64,
    /// The RPC URL as it may be shown (see [`crate::redact`]); the real one
    /// lives only inside the provider.
    pub url: String,
    http: DynProvider,
    ws: Option<DynProvider>,
    /// The WebSocket's last failure and when it may be tried again: a
    /// silent stream costs one timeout per [`WS_RETRY`], not one per pass.
    ws_trouble: std::sync::Mutex<Option<(String, Instant)>>,
    timeout: Duration,
    /// An OP-stack chain: each transaction also pays an L1 data fee, which
    /// the node reports in its receipt's `l1Fee` ([`ChainClient::fee_paid`]).
    op_stack: bool,
}

/// OP-stack chains by id (Hemi and its testnet, OP, Base and their
/// testnets): their receipts carry the L1 data fee (evm.md §1.7).
pub const OP_STACK_CHAIN_IDS: [u64; 6] = [43111, 743111, 10, 11155420, 8453, 84532];

/// How long a failed WebSocket is left alone before the next try.
pub const WS_RETRY: Duration = Duration::from_secs(30);

/// One look at a chain's head for the health panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub head: u64,
    /// How long the node took to answer the head.
    pub latency: Duration,
    /// The configured WebSocket's trouble, when it did not answer (the head
    /// then came over HTTP).
    pub ws_trouble: Option<String>,
}

fn key(chain: Chain) -> &'static str {
    match chain {
        Chain::Hemi => "hemi",
        Chain::Ethereum => "ethereum",
    }
}

/// An RPC error as text that may be shown: the transport quotes the URL it
/// failed on (reqwest: "error sending request for url (…)"), key and all.
pub fn describe(e: &RpcError<TransportErrorKind>) -> String {
    redact::urls_in(&e.to_string())
}

/// A revert's reason from an RPC error, when it is one.
pub fn revert_reason(e: &RpcError<TransportErrorKind>) -> Option<String> {
    let payload = e.as_error_resp()?;
    if let Some(data) = payload.as_revert_data() {
        return Some(
            alloy::sol_types::decode_revert_reason(&data)
                .or_else(|| super::stargate::error_name(&data).map(String::from))
                .unwrap_or_else(|| format!("reverted with data {data}")),
        );
    }
    let m = payload.message.to_lowercase();
    (m.contains("revert") || m.contains("execution reverted")).then(|| payload.message.to_string())
}

impl ChainClient {
    /// Connect to one of the loop's chains and check its chain id.
    pub async fn connect(
        chain: Chain,
        cfg: &EvmChainConfig,
        timeout: Duration,
    ) -> Result<ChainClient, EvmError> {
        Self::connect_to(&Endpoint::of_loop(chain, cfg), timeout).await
    }

    /// Connect to any chain and check its chain id against the config.
    pub async fn connect_to(cfg: &Endpoint, timeout: Duration) -> Result<ChainClient, EvmError> {
        let unreachable = |reason: String| EvmError::Unreachable {
            chain: cfg.name.clone(),
            url: redact::url(&cfg.rpc_url),
            reason: redact::urls_in(&reason),
        };
        // alloy shares the crate's reqwest, built without a TLS provider.
        crate::net::ensure_crypto_provider();
        let url = cfg
            .rpc_url
            .parse()
            .map_err(|e| unreachable(format!("bad URL: {e}")))?;
        let http = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(url)
            .erased();
        let found = tokio::time::timeout(timeout, http.get_chain_id().into_future())
            .await
            .map_err(|_| unreachable(format!("no answer within {timeout:?}")))?
            .map_err(|e| unreachable(describe(&e)))?;
        let wrong = |url: &str, found: u64| EvmError::WrongChain {
            chain: cfg.name.clone(),
            key: cfg.chain_id_key.clone(),
            url: redact::url(url),
            expected: cfg.chain_id,
            found,
        };
        if found != cfg.chain_id {
            return Err(wrong(&cfg.rpc_url, found));
        }
        let ws = match &cfg.ws_url {
            None => None,
            Some(ws_url) => {
                let shown = redact::url(ws_url);
                let connect = ProviderBuilder::new()
                    .disable_recommended_fillers()
                    .connect_ws(WsConnect::new(ws_url.clone()));
                let p = tokio::time::timeout(timeout, connect)
                    .await
                    .map_err(|_| unreachable(format!("{shown}: no answer within {timeout:?}")))?
                    .map_err(|e| unreachable(format!("{shown}: {e}")))?
                    .erased();
                let found = tokio::time::timeout(timeout, p.get_chain_id().into_future())
                    .await
                    .map_err(|_| unreachable(format!("{shown}: no answer")))?
                    .map_err(|e| unreachable(format!("{shown}: {e}")))?;
                if found != cfg.chain_id {
                    return Err(wrong(ws_url, found));
                }
                Some(p)
            }
        };
        Ok(ChainClient {
            name: cfg.name.clone(),
            chain_id: found,
            url: redact::url(&cfg.rpc_url),
            http,
            ws,
            ws_trouble: std::sync::Mutex::new(None),
            timeout,
            op_stack: OP_STACK_CHAIN_IDS.contains(&found),
        })
    }

    pub fn provider(&self) -> &DynProvider {
        &self.http
    }

    /// An OP-stack chain (its transactions also pay an L1 data fee).
    pub fn is_op_stack(&self) -> bool {
        self.op_stack
    }

    pub fn has_ws(&self) -> bool {
        self.ws.is_some()
    }

    /// Run one RPC call under the timeout; a timeout is transient.
    async fn timed<T>(
        &self,
        what: &str,
        call: impl IntoFuture<Output = Result<T, RpcError<TransportErrorKind>>>,
    ) -> Result<Result<T, RpcError<TransportErrorKind>>, VenueError> {
        tokio::time::timeout(self.timeout, call.into_future())
            .await
            .map_err(|_| {
                VenueError::Transient(format!(
                    "{} {what}: no answer within {:?}",
                    self.name, self.timeout
                ))
            })
    }

    /// Run one RPC call under the timeout; failures are transient.
    pub async fn rpc<T>(
        &self,
        what: &str,
        call: impl IntoFuture<Output = Result<T, RpcError<TransportErrorKind>>>,
    ) -> Result<T, VenueError> {
        self.timed(what, call)
            .await?
            .map_err(|e| VenueError::Transient(format!("{} {what}: {}", self.name, describe(&e))))
    }

    /// `eth_call` from `from` (latest block); a revert is `Rejected`.
    pub async fn call_raw(
        &self,
        from: Option<Address>,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> Result<Bytes, VenueError> {
        let mut tx = TransactionRequest::default()
            .with_to(to)
            .with_input(data)
            .with_value(value);
        if let Some(from) = from {
            tx = tx.with_from(from);
        }
        let answer = self.timed("eth_call", self.http.call(tx)).await?;
        self.call_answer(answer)
    }

    /// An `eth_call`'s answer: its output, a revert with its reason
    /// (`Rejected`), or the node not answering it (`Transient`).
    fn call_answer(
        &self,
        answer: Result<Bytes, RpcError<TransportErrorKind>>,
    ) -> Result<Bytes, VenueError> {
        match answer {
            Ok(out) => Ok(out),
            Err(e) => match revert_reason(&e) {
                Some(reason) => Err(VenueError::Rejected(reason)),
                None => Err(VenueError::Transient(format!(
                    "{} eth_call: {}",
                    self.name,
                    describe(&e)
                ))),
            },
        }
    }

    /// `eth_call` from `from` to itself with `code` put at that address
    /// for the call only (a state override): the account runs `data` as if
    /// it were that contract, its balances and allowances its own.
    pub async fn call_as_code(
        &self,
        from: Address,
        code: Bytes,
        data: Bytes,
        value: U256,
    ) -> Result<Bytes, VenueError> {
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_to(from)
            .with_input(data)
            .with_value(value);
        let code = alloy::rpc::types::state::AccountOverride::default().with_code(code);
        let call = self.http.call(tx).account_override(from, code);
        let answer = self.timed("eth_call", call).await?;
        self.call_answer(answer)
    }

    /// A view call, decoded.
    pub async fn view<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, VenueError> {
        let out = self
            .call_raw(None, to, call.abi_encode().into(), U256::ZERO)
            .await?;
        C::abi_decode_returns(&out).map_err(|e| {
            VenueError::Rejected(format!(
                "{} {to}: cannot decode {}: {e}",
                self.name,
                C::SIGNATURE
            ))
        })
    }

    /// A view call against the state after block `number`, decoded.
    pub async fn view_at<C: SolCall>(
        &self,
        to: Address,
        call: C,
        number: u64,
    ) -> Result<C::Return, VenueError> {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(call.abi_encode()));
        let out = self
            .rpc(
                "eth_call",
                self.http
                    .call(tx)
                    .block(BlockNumberOrTag::Number(number).into()),
            )
            .await?;
        C::abi_decode_returns(&out).map_err(|e| {
            VenueError::Rejected(format!(
                "{} {to}: cannot decode {}: {e}",
                self.name,
                C::SIGNATURE
            ))
        })
    }

    /// Gas for a call from `from`; a revert is `Rejected` with its reason.
    pub async fn estimate_gas(
        &self,
        from: Address,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> Result<u64, VenueError> {
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_to(to)
            .with_input(data)
            .with_value(value);
        match self
            .timed("eth_estimateGas", self.http.estimate_gas(tx))
            .await?
        {
            Ok(gas) => Ok(gas),
            Err(e) => match revert_reason(&e) {
                Some(reason) => Err(VenueError::Rejected(reason)),
                None if e.to_string().contains("insufficient funds") => Err(VenueError::Rejected(
                    format!("{}: insufficient funds for gas and value", self.name),
                )),
                None => Err(VenueError::Transient(format!(
                    "{} eth_estimateGas: {}",
                    self.name,
                    describe(&e)
                ))),
            },
        }
    }

    /// Why a mined call reverted: replayed with `eth_call` on the state before its block.
    pub async fn replay_reason(
        &self,
        from: Address,
        to: Address,
        data: Bytes,
        value: U256,
        block: u64,
    ) -> String {
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_to(to)
            .with_input(data)
            .with_value(value);
        let at = BlockNumberOrTag::Number(block.saturating_sub(1));
        match tokio::time::timeout(
            self.timeout,
            self.http.call(tx).block(at.into()).into_future(),
        )
        .await
        {
            Ok(Err(e)) => revert_reason(&e).unwrap_or_else(|| "reverted".into()),
            _ => "reverted (no reason given)".into(),
        }
    }

    pub async fn head(&self) -> Result<u64, VenueError> {
        self.rpc("eth_blockNumber", self.http.get_block_number())
            .await
    }

    /// Head, and how long the node took to answer: over the WebSocket when
    /// configured (so a dead stream shows on the health panel), else — or
    /// when the WebSocket fails, and until [`WS_RETRY`] has passed — HTTP.
    pub async fn ping(&self) -> Result<Ping, VenueError> {
        if let Some(ws) = &self.ws {
            let trouble = self.ws_trouble_now();
            let trouble = match trouble {
                Some((why, retry_at)) if Instant::now() < retry_at => Some(why),
                _ => {
                    let started = Instant::now();
                    match self
                        .rpc("eth_blockNumber (ws)", ws.get_block_number())
                        .await
                    {
                        Ok(head) => {
                            self.set_ws_trouble(None);
                            return Ok(Ping {
                                head,
                                latency: started.elapsed(),
                                ws_trouble: None,
                            });
                        }
                        Err(e) => {
                            tracing::warn!(chain = %self.name, error = %e, "the WebSocket does not answer; reading the head over HTTP");
                            let why = e.to_string();
                            self.set_ws_trouble(Some((why.clone(), Instant::now() + WS_RETRY)));
                            Some(why)
                        }
                    }
                }
            };
            let started = Instant::now();
            let head = self.head().await?;
            return Ok(Ping {
                head,
                latency: started.elapsed(),
                ws_trouble: trouble,
            });
        }
        let started = Instant::now();
        let head = self.head().await?;
        Ok(Ping {
            head,
            latency: started.elapsed(),
            ws_trouble: None,
        })
    }

    fn ws_trouble_now(&self) -> Option<(String, Instant)> {
        match self.ws_trouble.lock() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_ws_trouble(&self, trouble: Option<(String, Instant)>) {
        match self.ws_trouble.lock() {
            Ok(mut t) => *t = trouble,
            Err(poisoned) => *poisoned.into_inner() = trouble,
        }
    }

    /// Hash and timestamp (seconds) of a block, `None` past the head.
    pub async fn block(&self, number: u64) -> Result<Option<(B256, u64)>, VenueError> {
        let block = self
            .rpc(
                "eth_getBlockByNumber",
                self.http
                    .get_block_by_number(BlockNumberOrTag::Number(number)),
            )
            .await?;
        Ok(block.map(|b| (b.header.hash, b.header.timestamp)))
    }

    pub async fn receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, VenueError> {
        self.rpc(
            "eth_getTransactionReceipt",
            self.http.get_transaction_receipt(hash),
        )
        .await
    }

    /// What the sender paid for mined transaction `r`: its gas at the
    /// effective price and, on an OP-stack chain, the L1 data fee the node
    /// reports in the receipt's `l1Fee` (alloy's Ethereum receipt drops the
    /// field, so the receipt is read once more as the node wrote it). A
    /// receipt without `l1Fee` (a deposit, or a node that is not OP's, such
    /// as the devnet's anvil) pays none; one that is not a quantity fails.
    pub async fn fee_paid(&self, r: &TransactionReceipt) -> Result<u128, VenueError> {
        let l2 = u128::from(r.gas_used).saturating_mul(r.effective_gas_price);
        if !self.op_stack {
            return Ok(l2);
        }
        let raw: Option<serde_json::Value> = self
            .rpc(
                "eth_getTransactionReceipt",
                self.http
                    .raw_request("eth_getTransactionReceipt".into(), (r.transaction_hash,)),
            )
            .await?;
        let l1 = l1_fee(raw.as_ref()).map_err(|why| {
            VenueError::Rejected(format!(
                "{}: the receipt of {}: {why}",
                self.name, r.transaction_hash
            ))
        })?;
        Ok(l2.saturating_add(l1))
    }

    /// Whether the node knows the transaction (pending or mined).
    pub async fn knows(&self, hash: B256) -> Result<bool, VenueError> {
        self.rpc(
            "eth_getTransactionByHash",
            self.http.get_transaction_by_hash(hash),
        )
        .await
        .map(|t| t.is_some())
    }

    pub async fn nonce_latest(&self, who: Address) -> Result<u64, VenueError> {
        self.rpc(
            "eth_getTransactionCount",
            self.http.get_transaction_count(who).latest(),
        )
        .await
    }

    /// The sender's transaction count after block `number` (needs the
    /// node to hold that block's state).
    pub async fn nonce_at(&self, who: Address, number: u64) -> Result<u64, VenueError> {
        self.rpc(
            "eth_getTransactionCount",
            self.http.get_transaction_count(who).number(number),
        )
        .await
    }

    /// Every transaction of block `number` as (hash, sender, nonce); `None`
    /// when the node does not have the block.
    pub async fn block_senders(
        &self,
        number: u64,
    ) -> Result<Option<Vec<(B256, Address, u64)>>, VenueError> {
        use alloy::consensus::Transaction as _;
        let block = self
            .rpc(
                "eth_getBlockByNumber",
                self.http
                    .get_block_by_number(BlockNumberOrTag::Number(number))
                    .full(),
            )
            .await?;
        Ok(block.map(|b| {
            b.into_transactions_vec()
                .into_iter()
                .map(|t| (*t.inner.tx_hash(), t.inner.signer(), t.inner.nonce()))
                .collect()
        }))
    }

    pub async fn nonce_pending(&self, who: Address) -> Result<u64, VenueError> {
        self.rpc(
            "eth_getTransactionCount",
            self.http.get_transaction_count(who).pending(),
        )
        .await
    }

    /// The code deployed at `at` (empty for an account without code).
    pub async fn code(&self, at: Address) -> Result<Bytes, VenueError> {
        self.rpc("eth_getCode", self.http.get_code_at(at)).await
    }

    pub async fn native_balance(&self, who: Address) -> Result<U256, VenueError> {
        self.rpc("eth_getBalance", self.http.get_balance(who)).await
    }

    pub async fn gas_price(&self) -> Result<u128, VenueError> {
        self.rpc("eth_gasPrice", self.http.get_gas_price()).await
    }

    pub async fn logs(&self, filter: &Filter) -> Result<Vec<Log>, VenueError> {
        self.rpc("eth_getLogs", self.http.get_logs(filter)).await
    }

    /// Broadcast signed bytes. `Ok(false)`: the node refused them outright
    /// (the reason is in the error text of the log line).
    pub async fn send_raw(&self, raw: &[u8]) -> Result<(), RpcError<TransportErrorKind>> {
        match tokio::time::timeout(self.timeout, self.http.send_raw_transaction(raw)).await {
            Ok(Ok(_pending)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(TransportErrorKind::custom_str(
                "no answer to eth_sendRawTransaction",
            )),
        }
    }
}

/// The L1 data fee an OP-stack receipt reports (`l1Fee`, a hex quantity);
/// none when it has none.
pub fn l1_fee(receipt: Option<&serde_json::Value>) -> Result<u128, String> {
    match receipt.and_then(|r| r.get("l1Fee")) {
        None | Some(serde_json::Value::Null) => Ok(0),
        Some(serde_json::Value::String(q)) => q
            .strip_prefix("0x")
            .filter(|h| !h.is_empty() && h.len() <= 32)
            .and_then(|h| u128::from_str_radix(h, 16).ok())
            .ok_or_else(|| format!("l1Fee {q:?} is not a quantity")),
        Some(other) => Err(format!("l1Fee {other} is not a quantity")),
    }
}

#[cfg(test)]
mod tests {
    use super::l1_fee;
    use serde_json::json;

    #[test]
    fn an_op_receipts_l1_fee_is_read_and_a_bad_one_refused() {
        let r = json!({"gasUsed": "0x5208", "l1Fee": "0x2386f26fc10000", "l1GasUsed": "0x640"});
        assert_eq!(l1_fee(Some(&r)), Ok(10_000_000_000_000_000));
        assert_eq!(l1_fee(Some(&json!({"gasUsed": "0x5208"}))), Ok(0));
        assert_eq!(l1_fee(Some(&json!({"l1Fee": null}))), Ok(0));
        assert_eq!(l1_fee(None), Ok(0));
        for bad in [
            json!("12"),
            json!("0x"),
            json!("0xzz"),
            json!(12),
            json!(format!("0x{}", "f".repeat(33))),
        ] {
            assert!(l1_fee(Some(&json!({"l1Fee": bad}))).is_err(), "{bad}");
        }
    }
}
