//! Stellar RPC (JSON-RPC 2.0 over HTTP POST, by-name params, base64 XDR),
//! hand-written over reqwest: getHealth, getNetwork, getLatestLedger,
//! getLedgerEntries, simulateTransaction, sendTransaction, getTransaction
//! (SUCCESS / NOT_FOUND / FAILED — there is no PENDING) and getEvents.

use super::asset::{StellarAsset, account_id};
use super::codes::TxOutcome;
use super::keys::AccountKey;
use super::tx::{Prepared, server_limits};
use super::{AccountState, Balance, NetworkInfo, SendStatus, TxStatus};
use crate::venue::VenueError;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use stellar_xdr::{self as xdr, Limits, ReadXdr, WriteXdr};

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Never reached the server, or no answer: nothing is known.
    #[error("Stellar RPC unreachable: {0}")]
    Transport(String),
    #[error("Stellar RPC answered HTTP {0}")]
    Http(u16),
    #[error("Stellar RPC error {code}: {message}")]
    JsonRpc { code: i64, message: String },
    #[error("unexpected answer from Stellar RPC: {0}")]
    Shape(String),
    /// The answer was too large or cut off mid-body; `method` names the call.
    #[error("Stellar RPC answer unreadable ({method}): {source}")]
    Body {
        method: String,
        #[source]
        source: crate::venue::http_body::BodyError,
    },
}

impl From<RpcError> for VenueError {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::JsonRpc { code: -32602, .. } | RpcError::Shape(_) => {
                VenueError::Rejected(e.to_string())
            }
            _ => VenueError::Transient(e.to_string()),
        }
    }
}

/// reqwest is built without a default crypto provider; use ring unless the
/// process already chose one (same rule as `notify`).
pub(crate) fn http_client(timeout: Duration, loopback: bool) -> Result<reqwest::Client, String> {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let mut builder = reqwest::Client::builder();
    if loopback {
        builder = builder.no_proxy();
    }
    builder
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("arbkeep/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub status: String,
    pub latest_ledger: u32,
    /// Both ends of the history window; `None` from servers that omit them.
    pub window: Option<super::LedgerWindow>,
}

/// What a simulation said.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub latest_ledger: u32,
    /// The return value, when it succeeded.
    pub value: Option<xdr::ScVal>,
    /// The host's error text (`HostError: Error(Contract, #2)` …).
    pub error: Option<String>,
    pub prepared: Option<Prepared>,
    /// The footprint writes nothing: a pure read that must not be submitted.
    pub is_view: bool,
}

impl Simulation {
    /// `Error(Contract, #N)` → N.
    pub fn contract_error(&self) -> Option<u32> {
        let e = self.error.as_deref()?;
        let start = e.find("Error(Contract, #")? + "Error(Contract, #".len();
        let end = e[start..].find(')')? + start;
        e[start..end].parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractEvent {
    pub id: String,
    pub ledger: u32,
    pub contract_id: String,
    pub topic: Vec<String>,
    pub value: String,
}

pub struct RpcClient {
    http: reqwest::Client,
    url: reqwest::Url,
    next_id: AtomicU64,
}

impl RpcClient {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, RpcError> {
        let url = reqwest::Url::parse(url).map_err(|e| RpcError::Shape(format!("RPC url: {e}")))?;
        let http = http_client(timeout, is_loopback(&url)).map_err(RpcError::Transport)?;
        Ok(Self {
            http,
            url,
            next_id: AtomicU64::new(1),
        })
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self
            .http
            .post(self.url.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| RpcError::Transport(crate::net::describe(&e)))?;
        if !response.status().is_success() {
            return Err(RpcError::Http(response.status().as_u16()));
        }
        let bytes = crate::venue::http_body::read_capped(
            response,
            crate::venue::http_body::DEFAULT_BODY_CAP,
        )
        .await
        .map_err(|source| RpcError::Body {
            method: method.to_string(),
            source,
        })?;
        let mut answer: Value = serde_json::from_slice(&bytes)
            .map_err(|e| RpcError::Shape(format!("{method}: {e}")))?;
        if let Some(err) = answer.get("error") {
            return Err(RpcError::JsonRpc {
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        }
        match answer.get_mut("result") {
            Some(result) => Ok(result.take()),
            None => Err(RpcError::Shape(format!("{method}: no result"))),
        }
    }

    fn parse<T: for<'de> Deserialize<'de>>(method: &str, v: Value) -> Result<T, RpcError> {
        serde_json::from_value(v).map_err(|e| RpcError::Shape(format!("{method}: {e}")))
    }

    pub async fn get_health(&self) -> Result<Health, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct H {
            status: String,
            #[serde(default)]
            latest_ledger: u32,
            #[serde(default)]
            oldest_ledger: u32,
            // Close times are decimal strings on the wire.
            latest_ledger_close_time: Option<String>,
            oldest_ledger_close_time: Option<String>,
        }
        let h: H = Self::parse("getHealth", self.call("getHealth", json!({})).await?)?;
        let time = |t: &Option<String>| -> Result<Option<u64>, RpcError> {
            t.as_deref()
                .map(|t| {
                    t.parse::<u64>()
                        .map_err(|_| RpcError::Shape(format!("getHealth: close time {t:?}")))
                })
                .transpose()
        };
        let window = match (
            time(&h.latest_ledger_close_time)?,
            time(&h.oldest_ledger_close_time)?,
        ) {
            (Some(latest_close), Some(oldest_close)) => Some(super::LedgerWindow {
                latest: h.latest_ledger,
                latest_close,
                oldest: h.oldest_ledger,
                oldest_close,
            }),
            _ => None,
        };
        Ok(Health {
            status: h.status,
            latest_ledger: h.latest_ledger,
            window,
        })
    }

    pub async fn get_network(&self) -> Result<NetworkInfo, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct N {
            passphrase: String,
            protocol_version: u32,
            friendbot_url: Option<String>,
        }
        let n: N = Self::parse("getNetwork", self.call("getNetwork", json!({})).await?)?;
        Ok(NetworkInfo {
            passphrase: n.passphrase,
            protocol_version: n.protocol_version,
            friendbot_url: n.friendbot_url,
        })
    }

    /// getFeeStats: recent inclusion fees, parsed strictly.
    pub async fn get_fee_stats(&self) -> Result<super::fee_stats::FeeStats, RpcError> {
        let v = self.call("getFeeStats", json!({})).await?;
        super::fee_stats::from_rpc(&v).map_err(|e| RpcError::Shape(format!("getFeeStats: {e}")))
    }

    pub async fn get_latest_ledger(&self) -> Result<u32, RpcError> {
        #[derive(Deserialize)]
        struct L {
            sequence: u32,
        }
        let l: L = Self::parse(
            "getLatestLedger",
            self.call("getLatestLedger", json!({})).await?,
        )?;
        Ok(l.sequence)
    }

    /// Entries for `keys` (missing ones are simply absent).
    pub async fn get_ledger_entries(
        &self,
        keys: &[xdr::LedgerKey],
    ) -> Result<Vec<xdr::LedgerEntryData>, RpcError> {
        #[derive(Deserialize)]
        struct E {
            xdr: String,
        }
        #[derive(Deserialize)]
        struct R {
            entries: Option<Vec<E>>,
        }
        let keys: Vec<String> = keys
            .iter()
            .map(|k| k.to_xdr_base64(Limits::none()))
            .collect::<Result<_, _>>()
            .map_err(|e| RpcError::Shape(e.to_string()))?;
        let r: R = Self::parse(
            "getLedgerEntries",
            self.call("getLedgerEntries", json!({"keys": keys})).await?,
        )?;
        r.entries
            .unwrap_or_default()
            .iter()
            .map(|e| {
                xdr::LedgerEntryData::from_xdr_base64(&e.xdr, server_limits())
                    .map_err(|x| RpcError::Shape(format!("ledger entry: {x}")))
            })
            .collect()
    }

    /// XLM balance, sequence and the trustlines for `assets`, by ledger keys.
    pub async fn get_account(
        &self,
        id: AccountKey,
        assets: &[StellarAsset],
    ) -> Result<Option<AccountState>, RpcError> {
        let mut keys = vec![xdr::LedgerKey::Account(xdr::LedgerKeyAccount {
            account_id: account_id(id),
        })];
        for a in assets.iter().filter(|a| !a.is_native()) {
            let asset = match a.to_xdr() {
                xdr::Asset::CreditAlphanum4(x) => xdr::TrustLineAsset::CreditAlphanum4(x),
                xdr::Asset::CreditAlphanum12(x) => xdr::TrustLineAsset::CreditAlphanum12(x),
                xdr::Asset::Native => continue,
            };
            keys.push(xdr::LedgerKey::Trustline(xdr::LedgerKeyTrustLine {
                account_id: account_id(id),
                asset,
            }));
        }
        let entries = self.get_ledger_entries(&keys).await?;
        let mut state: Option<AccountState> = None;
        let mut lines = Vec::new();
        for e in entries {
            match e {
                xdr::LedgerEntryData::Account(a) => {
                    let selling = match &a.ext {
                        xdr::AccountEntryExt::V1(v1) => v1.liabilities.selling,
                        xdr::AccountEntryExt::V0 => 0,
                    };
                    state = Some(AccountState {
                        id,
                        sequence: a.seq_num.0,
                        subentries: a.num_sub_entries,
                        balances: vec![Balance {
                            asset: StellarAsset::Native,
                            amount: a.balance,
                            limit: None,
                            selling_liabilities: selling,
                        }],
                    });
                }
                xdr::LedgerEntryData::Trustline(t) => {
                    let asset = match &t.asset {
                        xdr::TrustLineAsset::CreditAlphanum4(x) => {
                            xdr::Asset::CreditAlphanum4(x.clone())
                        }
                        xdr::TrustLineAsset::CreditAlphanum12(x) => {
                            xdr::Asset::CreditAlphanum12(x.clone())
                        }
                        _ => continue,
                    };
                    lines.push(Balance {
                        asset: StellarAsset::from_xdr(&asset),
                        amount: t.balance,
                        limit: Some(t.limit),
                        selling_liabilities: 0,
                    });
                }
                _ => {}
            }
        }
        Ok(state.map(|mut s| {
            s.balances.extend(lines);
            s
        }))
    }

    pub async fn simulate(&self, tx: &xdr::Transaction) -> Result<Simulation, RpcError> {
        #[derive(Deserialize)]
        struct Res {
            xdr: String,
            #[serde(default)]
            auth: Vec<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct S {
            latest_ledger: u32,
            error: Option<String>,
            min_resource_fee: Option<String>,
            transaction_data: Option<String>,
            #[serde(default)]
            results: Vec<Res>,
        }
        let env = xdr::TransactionEnvelope::Tx(xdr::TransactionV1Envelope {
            tx: tx.clone(),
            signatures: xdr::VecM::default(),
        });
        let b64 = env
            .to_xdr_base64(Limits::none())
            .map_err(|e| RpcError::Shape(e.to_string()))?;
        let s: S = Self::parse(
            "simulateTransaction",
            self.call("simulateTransaction", json!({"transaction": b64}))
                .await?,
        )?;
        if let Some(error) = s.error {
            return Ok(Simulation {
                latest_ledger: s.latest_ledger,
                value: None,
                error: Some(error),
                prepared: None,
                is_view: true,
            });
        }
        let shape = |what: &str, e: xdr::Error| RpcError::Shape(format!("{what}: {e}"));
        let first = s
            .results
            .first()
            .ok_or_else(|| RpcError::Shape("simulateTransaction: no results".into()))?;
        let value = xdr::ScVal::from_xdr_base64(&first.xdr, server_limits())
            .map_err(|e| shape("result", e))?;
        let auth = first
            .auth
            .iter()
            .map(|a| xdr::SorobanAuthorizationEntry::from_xdr_base64(a, server_limits()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| shape("auth", e))?;
        let data = match &s.transaction_data {
            Some(d) => Some(
                xdr::SorobanTransactionData::from_xdr_base64(d, server_limits())
                    .map_err(|e| shape("transactionData", e))?,
            ),
            None => None,
        };
        let is_view = data
            .as_ref()
            .is_none_or(|d| d.resources.footprint.read_write.is_empty());
        let min_resource_fee = s
            .min_resource_fee
            .as_deref()
            .unwrap_or("0")
            .parse::<u32>()
            .map_err(|e| RpcError::Shape(format!("minResourceFee: {e}")))?;
        Ok(Simulation {
            latest_ledger: s.latest_ledger,
            value: Some(value),
            error: None,
            prepared: data.map(|transaction_data| Prepared {
                min_resource_fee,
                transaction_data,
                auth,
            }),
            is_view,
        })
    }

    pub async fn send_transaction(&self, envelope: &str) -> Result<(String, SendStatus), RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct S {
            hash: String,
            status: String,
            error_result_xdr: Option<String>,
        }
        let s: S = Self::parse(
            "sendTransaction",
            self.call("sendTransaction", json!({"transaction": envelope}))
                .await?,
        )?;
        let status = match s.status.as_str() {
            "PENDING" => SendStatus::Pending,
            "DUPLICATE" => SendStatus::Duplicate,
            "TRY_AGAIN_LATER" => SendStatus::TryAgainLater,
            "ERROR" => {
                let xdr = s.error_result_xdr.as_deref().ok_or_else(|| {
                    RpcError::Shape("sendTransaction ERROR without errorResultXdr".into())
                })?;
                SendStatus::Error(
                    TxOutcome::decode(xdr).map_err(|e| RpcError::Shape(e.to_string()))?,
                )
            }
            other => return Err(RpcError::Shape(format!("sendTransaction status {other}"))),
        };
        Ok((s.hash, status))
    }

    pub async fn get_transaction(&self, hash: &str) -> Result<TxStatus, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct G {
            status: String,
            ledger: Option<u32>,
            result_xdr: Option<String>,
        }
        let g: G = Self::parse(
            "getTransaction",
            self.call("getTransaction", json!({"hash": hash})).await?,
        )?;
        let outcome = || -> Result<TxOutcome, RpcError> {
            let x = g
                .result_xdr
                .as_deref()
                .ok_or_else(|| RpcError::Shape("getTransaction: no resultXdr".into()))?;
            TxOutcome::decode(x).map_err(|e| RpcError::Shape(e.to_string()))
        };
        match g.status.as_str() {
            "NOT_FOUND" => Ok(TxStatus::NotFound),
            "SUCCESS" => Ok(TxStatus::Success {
                ledger: g.ledger.unwrap_or(0),
                outcome: outcome()?,
            }),
            "FAILED" => Ok(TxStatus::Failed {
                ledger: g.ledger.unwrap_or(0),
                outcome: outcome()?,
            }),
            other => Err(RpcError::Shape(format!("getTransaction status {other}"))),
        }
    }

    /// Contract events from `start_ledger` for `contract_ids` (≤5).
    pub async fn get_events(
        &self,
        start_ledger: u32,
        contract_ids: &[String],
    ) -> Result<Vec<ContractEvent>, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct E {
            id: String,
            ledger: u32,
            #[serde(default)]
            contract_id: String,
            #[serde(default)]
            topic: Vec<String>,
            #[serde(default)]
            value: String,
        }
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            events: Vec<E>,
        }
        let params = json!({
            "startLedger": start_ledger,
            "filters": [{"type": "contract", "contractIds": contract_ids}],
            "pagination": {"limit": 100},
        });
        let r: R = Self::parse("getEvents", self.call("getEvents", params).await?)?;
        Ok(r.events
            .into_iter()
            .map(|e| ContractEvent {
                id: e.id,
                ledger: e.ledger,
                contract_id: e.contract_id,
                topic: e.topic,
                value: e.value,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_error_numbers_are_extracted() {
        let s = Simulation {
            latest_ledger: 1,
            value: None,
            error: Some("host invocation failed\n HostError: Error(Contract, #2)".into()),
            prepared: None,
            is_view: true,
        };
        assert_eq!(s.contract_error(), Some(2));
    }
}
