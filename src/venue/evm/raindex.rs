//! The chain reads the equity hedge's decoder needs besides the log stream,
//! over the EVM chain client: a transaction receipt's logs
//! (`eth_getTransactionReceipt`, the `AfterClear` fallback) and an ERC-20's
//! `symbol()` (`eth_call`, cached: a token's symbol does not change).

use super::abi::IERC20;
use super::chain::ChainClient;
use super::ingest::to_chain_log;
use crate::venue::VenueError;
use crate::venue::logs::{ChainLog, ReceiptLogs, TokenSymbols};
use alloy::primitives::{Address, B256};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// Receipts and token symbols of one chain, read through its client.
pub struct RaindexReads {
    client: Arc<ChainClient>,
    symbols: Mutex<BTreeMap<Address, String>>,
}

impl RaindexReads {
    pub fn new(client: Arc<ChainClient>) -> Self {
        Self {
            client,
            symbols: Mutex::new(BTreeMap::new()),
        }
    }
}

impl ReceiptLogs for RaindexReads {
    async fn receipt_logs(
        &self,
        chain_id: u64,
        tx_hash: &str,
    ) -> Result<Option<Vec<ChainLog>>, VenueError> {
        if chain_id != self.client.chain_id {
            // A log of another chain cannot be looked up here: refusing beats
            // answering "no such transaction" for a transaction that exists.
            return Err(VenueError::Rejected(format!(
                "receipt of chain {chain_id} asked of the {} client (chain {})",
                self.client.name, self.client.chain_id
            )));
        }
        let hash = B256::from_str(tx_hash)
            .map_err(|e| VenueError::Rejected(format!("transaction hash {tx_hash:?}: {e}")))?;
        let Some(receipt) = self.client.receipt(hash).await? else {
            return Ok(None);
        };
        let mut logs: Vec<ChainLog> = receipt
            .inner
            .logs()
            .iter()
            .map(|l| to_chain_log(chain_id, l))
            .collect();
        logs.sort_by_key(|l| l.log_index);
        Ok(Some(logs))
    }
}

impl TokenSymbols for RaindexReads {
    async fn symbol(&self, token: Address) -> Result<String, VenueError> {
        if let Some(s) = self
            .symbols
            .lock()
            .ok()
            .and_then(|m| m.get(&token).cloned())
        {
            return Ok(s);
        }
        let symbol = self.client.view(token, IERC20::symbolCall {}).await?;
        if let Ok(mut m) = self.symbols.lock() {
            m.insert(token, symbol.clone());
        }
        Ok(symbol)
    }
}
