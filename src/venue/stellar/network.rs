//! The real network behind [`StellarVenue`]: reads and submissions through
//! Stellar RPC, order books through Horizon, accounts through Horizon (so
//! trustlines come with them), contracts by simulation, funding through
//! Friendbot.

use super::Prices;
use super::contracts;
use super::horizon::{HorizonClient, friendbot};
use super::keys::{AccountKey, ContractKey};
use super::rpc::RpcClient;
use super::tx::{Header, invoke};
use super::{
    AccountState, LedgerWindow, NetworkInfo, OrderBook, SendStatus, StellarAsset, StellarVenue,
    SupportedAsset, TxStatus,
};
use crate::venue::VenueError;
use futures_util::future::BoxFuture;
use std::time::Duration;
use stellar_xdr as xdr;

/// Where the network is. Its `Debug` redacts the URLs (providers put API
/// keys in them).
#[derive(Clone)]
pub struct Endpoints {
    pub horizon_url: String,
    pub rpc_url: String,
    pub friendbot_url: Option<String>,
    pub detector: ContractKey,
    pub reflector: ContractKey,
    pub timeout: Duration,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::redact::url;
        f.debug_struct("Endpoints")
            .field("horizon_url", &url(&self.horizon_url))
            .field("rpc_url", &url(&self.rpc_url))
            .field("friendbot_url", &self.friendbot_url.as_deref().map(url))
            .field("detector", &self.detector)
            .field("reflector", &self.reflector)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub struct NetworkVenue {
    rpc: RpcClient,
    horizon: HorizonClient,
    endpoints: Endpoints,
}

/// Unauthenticated reads use the all-zero account with sequence 0 (the JS
/// SDK's NULL_ACCOUNT): simulation checks neither.
const NULL_ACCOUNT: AccountKey = AccountKey([0; 32]);

impl NetworkVenue {
    pub fn new(endpoints: Endpoints) -> Result<Self, VenueError> {
        Ok(Self {
            rpc: RpcClient::new(&endpoints.rpc_url, endpoints.timeout)?,
            horizon: HorizonClient::new(&endpoints.horizon_url, endpoints.timeout)?,
            endpoints,
        })
    }

    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    pub fn horizon(&self) -> &HorizonClient {
        &self.horizon
    }

    /// Call a view by simulation; a host error is `Rejected`.
    pub async fn view(
        &self,
        contract: ContractKey,
        function: &str,
        args: Vec<xdr::ScVal>,
    ) -> Result<xdr::ScVal, VenueError> {
        let header = Header {
            source: NULL_ACCOUNT,
            seq: 0,
            fee: super::tx::BASE_FEE,
            max_time: 0,
        };
        let tx = invoke(header, contract, function, args)
            .map_err(|e| VenueError::Rejected(e.to_string()))?;
        let sim = self.rpc.simulate(&tx).await?;
        if let Some(error) = sim.error {
            return Err(VenueError::Rejected(format!("{function}: {error}")));
        }
        sim.value
            .ok_or_else(|| VenueError::Rejected(format!("{function}: no value")))
    }
}

fn shape(e: contracts::ContractError) -> VenueError {
    VenueError::Rejected(e.to_string())
}

impl StellarVenue for NetworkVenue {
    fn network(&self) -> BoxFuture<'_, Result<NetworkInfo, VenueError>> {
        Box::pin(async move { Ok(self.rpc.get_network().await?) })
    }

    fn latest_ledger(&self) -> BoxFuture<'_, Result<u32, VenueError>> {
        Box::pin(async move { Ok(self.rpc.get_latest_ledger().await?) })
    }

    fn ledger_window(&self) -> BoxFuture<'_, Result<LedgerWindow, VenueError>> {
        Box::pin(async move {
            self.rpc.get_health().await?.window.ok_or_else(|| {
                VenueError::Rejected(
                    "the RPC server's getHealth gives no ledger close times (too old a stellar-rpc)"
                        .into(),
                )
            })
        })
    }

    fn account(&self, id: AccountKey) -> BoxFuture<'_, Result<Option<AccountState>, VenueError>> {
        Box::pin(async move { Ok(self.horizon.account(id).await?) })
    }

    fn order_book<'a>(
        &'a self,
        selling: &'a StellarAsset,
        buying: &'a StellarAsset,
    ) -> BoxFuture<'a, Result<OrderBook, VenueError>> {
        Box::pin(async move { Ok(self.horizon.order_book(selling, buying, 50).await?) })
    }

    fn liquidity_pool<'a>(
        &'a self,
        a: &'a StellarAsset,
        b: &'a StellarAsset,
    ) -> BoxFuture<'a, Result<Option<super::pool::LiquidityPool>, VenueError>> {
        Box::pin(async move { Ok(self.horizon.liquidity_pool(a, b).await?) })
    }

    fn oracle_prices<'a>(
        &'a self,
        symbols: &'a [String],
    ) -> BoxFuture<'a, Result<Prices, VenueError>> {
        Box::pin(async move {
            let r = self.endpoints.reflector;
            let decimals =
                contracts::decode_u32(&self.view(r, "decimals", vec![]).await?).map_err(shape)?;
            let mut out = Vec::with_capacity(symbols.len());
            for s in symbols {
                let arg = contracts::reflector_other(s).map_err(shape)?;
                let v = self.view(r, "lastprice", vec![arg]).await?;
                out.push((
                    s.clone(),
                    contracts::decode_price(s, decimals, &v).map_err(shape)?,
                ));
            }
            Ok(out)
        })
    }

    fn supported_assets(&self) -> BoxFuture<'_, Result<Vec<SupportedAsset>, VenueError>> {
        Box::pin(async move {
            let v = self
                .view(self.endpoints.detector, "get_supported_assets", vec![])
                .await?;
            contracts::decode_supported_assets(&v).map_err(shape)
        })
    }

    fn fund(&self, id: AccountKey) -> BoxFuture<'_, Result<bool, VenueError>> {
        Box::pin(async move {
            let url = self.endpoints.friendbot_url.as_deref().ok_or_else(|| {
                VenueError::Rejected(
                    "no Friendbot on this network: fund the account yourself".into(),
                )
            })?;
            match friendbot(url, id, self.endpoints.timeout).await {
                Ok(created) => Ok(created),
                Err(e) => match VenueError::from(e) {
                    VenueError::Rejected(why) => Err(VenueError::Rejected(why)),
                    // A reset, a timeout, a 5xx or 429 may follow an account
                    // Friendbot created: the account is looked at.
                    other => Err(VenueError::Unknown(other.to_string())),
                },
            }
        })
    }

    fn send<'a>(&'a self, envelope: &'a str) -> BoxFuture<'a, Result<SendStatus, VenueError>> {
        Box::pin(async move {
            // Only a readable status is an answer. Anything else — a reset,
            // a timeout, a gateway's 5xx or 429, a cut or malformed body, an
            // ERROR whose result cannot be decoded — may follow a forwarded
            // transaction: settle by looking, never as "not sent".
            match self.rpc.send_transaction(envelope).await {
                Ok((_, status)) => Ok(status),
                Err(e) => Err(VenueError::Unknown(e.to_string())),
            }
        })
    }

    fn transaction<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<TxStatus, VenueError>> {
        Box::pin(async move { Ok(self.rpc.get_transaction(hash).await?) })
    }

    /// RPC first; Horizon when the RPC cannot answer (an older server, a
    /// fault). Both failing: the RPC's error, with Horizon's.
    fn fee_stats(&self) -> BoxFuture<'_, Result<crate::venue::stellar::FeeStats, VenueError>> {
        Box::pin(async move {
            match self.rpc.get_fee_stats().await {
                Ok(s) => Ok(s),
                Err(rpc) => match self.horizon.fee_stats().await {
                    Ok(s) => Ok(s),
                    Err(h) => Err(VenueError::Transient(format!(
                        "fee stats: RPC: {rpc}; Horizon: {h}"
                    ))),
                },
            }
        })
    }

    fn strict_send_paths<'a>(
        &'a self,
        source: &'a StellarAsset,
        amount: i64,
        destinations: &'a [StellarAsset],
    ) -> BoxFuture<'a, Result<Vec<super::horizon::PathQuote>, VenueError>> {
        Box::pin(async move {
            Ok(self
                .horizon
                .strict_send_paths(source, amount, destinations)
                .await?)
        })
    }
}
