//! The paper Stellar: a [`SimLedger`] in-process, persisted as JSON in the
//! data dir, whose order books and oracle drift deterministically under the
//! paper seed. Every ledger close the books move a little around the oracle,
//! and now and then one book is mispriced enough to make a cycle pay.

use super::Prices;
use super::keys::{AccountKey, ContractKey};
use super::sim::SimLedger;
use super::{
    AccountState, LedgerWindow, NetworkInfo, ONE, Offer, OraclePrice, OrderBook, Price, SendStatus,
    StellarAsset, StellarVenue, SupportedAsset, TxOutcome, TxStatus,
};
use crate::venue::VenueError;
use crate::venue::faults::FaultDice;
use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const PAPER_PASSPHRASE: &str = "arbkeep paper Stellar ; 2026";

/// splitmix64: small, deterministic, good enough for a paper market.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

pub struct PaperStellar {
    ledger: Mutex<SimLedger>,
    path: Option<PathBuf>,
    seed: u64,
    assets: Vec<StellarAsset>,
    faults: FaultDice,
    /// Each ledger this world closes, for its ledger feed.
    closes: tokio::sync::watch::Sender<super::stream::Heard>,
}

/// How the paper network's faults name it in their errors.
const FAULT_VENUE: &str = "paper Stellar RPC";

/// The paper issuer (seed of 0x11s): a fixed key so persisted worlds agree.
pub fn paper_issuer() -> AccountKey {
    super::keys::Keypair::from_seed([0x11; 32]).public()
}

pub fn paper_contract(tag: u8) -> ContractKey {
    ContractKey([tag; 32])
}

/// XLM price in USD units (×10^14) and each paper asset's.
pub(super) const XLM_USD: i128 = 12_000_000_000_000; // 0.12
const PAPER_ASSETS: [(&str, i128); 3] = [
    ("AQUA", 120_000_000_000), // 0.0012
    ("yUSDC", 100_000_000_000_000),
    ("EURC", 108_000_000_000_000),
];

impl PaperStellar {
    /// Open (or create) the paper world at `path`.
    pub fn open(path: Option<&Path>, seed: u64) -> Result<Self, VenueError> {
        let issuer = paper_issuer();
        let assets: Vec<StellarAsset> = PAPER_ASSETS
            .iter()
            .map(|(c, _)| StellarAsset::Credit {
                code: (*c).into(),
                issuer,
            })
            .collect();
        let stored = match path {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    VenueError::Rejected(format!("paper Stellar {}: {e}", p.display()))
                })?;
                Some(serde_json::from_str::<SimLedger>(&text).map_err(|e| {
                    VenueError::Rejected(format!("paper Stellar {} is corrupt: {e}", p.display()))
                })?)
            }
            _ => None,
        };
        let ledger = match stored {
            Some(l) => l,
            None => {
                let mut l =
                    SimLedger::new(PAPER_PASSPHRASE, paper_contract(0xD7), paper_contract(0xEF));
                l.hide_polls = 0;
                l.create_account(issuer, 1_000 * ONE);
                l.supported = assets
                    .iter()
                    .map(|a| SupportedAsset {
                        code: a.code().into(),
                        issuer: issuer.to_string(),
                    })
                    .collect();
                l.oracle.insert("XLM".into(), XLM_USD);
                for (c, p) in PAPER_ASSETS {
                    l.oracle.insert(c.into(), p);
                }
                l
            }
        };
        let me = Self {
            ledger: Mutex::new(ledger),
            path: path.map(Path::to_path_buf),
            seed,
            assets,
            faults: FaultDice::off(),
            closes: tokio::sync::watch::channel(super::stream::Heard::new(
                super::stream::FeedSource::Paper,
            ))
            .0,
        };
        me.restock();
        Ok(me)
    }

    /// The same network with `faults` at every `sendTransaction`.
    pub fn with_faults(mut self, faults: FaultDice) -> Self {
        self.faults = faults;
        self
    }

    /// The send faults (tests script them).
    pub fn faults(&self) -> &FaultDice {
        &self.faults
    }

    /// The ledger as it stands (the soak and tests read its counts).
    pub fn ledger(&self) -> SimLedger {
        self.lock().clone()
    }

    pub fn assets(&self) -> &[StellarAsset] {
        &self.assets
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimLedger> {
        // A poisoned lock only means a panic mid-update of a paper world.
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, l: &SimLedger) -> Result<(), VenueError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let text = serde_json::to_string(l).map_err(|e| VenueError::Transient(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| VenueError::Transient(format!("saving the paper Stellar world: {e}")))
    }

    /// Rebuild every XLM↔asset book around the oracle for the current ledger:
    /// deterministic in (seed, ledger sequence).
    fn restock(&self) {
        let mut l = self.lock();
        let mut rng = Rng(self.seed ^ (u64::from(l.sequence) << 20));
        let skewed = rng.below(self.assets.len() as u64 * 3) as usize;
        for (i, a) in self.assets.iter().enumerate() {
            let Some(&usd) = l.oracle.get(a.code()) else {
                continue;
            };
            // units of asset per XLM, ×10^7 as a rational.
            let per_xlm = (XLM_USD * 10_000_000 / usd).max(1);
            // A mispricing on one side of one book now and then (1 in 3).
            let skew_bps: i128 = if skewed == i { 150 } else { 0 };
            let jitter = rng.below(20) as i128;
            // Selling the asset for XLM (XLM→asset): price = XLM per asset.
            let ask_asset = Price {
                n: 10_000_000,
                d: clamp_i32(per_xlm * (10_000 - 25 - jitter + skew_bps) / 10_000),
            };
            // Selling XLM for the asset (asset→XLM): price = asset per XLM.
            let ask_xlm = Price {
                n: clamp_i32(per_xlm * (10_000 + 25 + jitter) / 10_000),
                d: 10_000_000,
            };
            let depth = |rng: &mut Rng, base: i64| -> Vec<Offer> {
                (0..4)
                    .map(|k| Offer {
                        amount: base * (k + 1) + rng.below(base as u64) as i64,
                        price: Price { n: 1, d: 1 },
                    })
                    .collect()
            };
            let mut asset_offers = depth(&mut rng, (per_xlm as i64) * 200);
            for (k, o) in asset_offers.iter_mut().enumerate() {
                o.price = widen(ask_asset, k as i32, true);
            }
            let mut xlm_offers = depth(&mut rng, 200 * ONE);
            for (k, o) in xlm_offers.iter_mut().enumerate() {
                o.price = widen(ask_xlm, k as i32, false);
            }
            l.set_book(a.clone(), StellarAsset::Native, asset_offers);
            l.set_book(StellarAsset::Native, a.clone(), xlm_offers);
        }
        super::paper_pools::reseed(&mut l, &self.assets, self.seed);
    }

    /// One paper ledger: close, move the books, persist.
    pub fn advance(&self) -> Result<(), VenueError> {
        {
            let mut l = self.lock();
            l.close_ledger();
        }
        self.restock();
        let l = self.lock();
        let close = super::stream::LedgerClose {
            sequence: l.sequence,
            closed_at: Some(l.close_time),
        };
        self.save(&l)?;
        self.closes.send_modify(|h| h.close = Some(close));
        Ok(())
    }

    /// The ledgers this world closes, as they close.
    /// Start (a per-operation fee above the base) or end (0) a surge.
    pub fn set_surge(&self, per_op_fee: u32) -> Result<(), VenueError> {
        let mut l = self.lock();
        l.set_surge(per_op_fee);
        self.save(&l)
    }

    pub fn ledger_feed(&self) -> super::stream::LedgerFeed {
        super::stream::LedgerFeed::told(self.closes.subscribe())
    }
}

fn clamp_i32(v: i128) -> i32 {
    v.clamp(1, i128::from(i32::MAX)) as i32
}

/// Each deeper level 0.2 % worse.
fn widen(p: Price, level: i32, on_d: bool) -> Price {
    let f = |x: i32, up: bool| {
        let x = i128::from(x);
        let v = if up {
            x * (1000 + 2 * level as i128) / 1000
        } else {
            x * 1000 / (1000 + 2 * level as i128)
        };
        clamp_i32(v)
    };
    if on_d {
        Price {
            n: p.n,
            d: f(p.d, false),
        }
    } else {
        Price {
            n: f(p.n, true),
            d: p.d,
        }
    }
}

impl StellarVenue for PaperStellar {
    fn network(&self) -> BoxFuture<'_, Result<NetworkInfo, VenueError>> {
        Box::pin(async move {
            Ok(NetworkInfo {
                passphrase: PAPER_PASSPHRASE.into(),
                protocol_version: 23,
                friendbot_url: Some("paper".into()),
            })
        })
    }

    /// Each question about the latest ledger closes one paper ledger: the
    /// keeper asks once per pass, so the paper market moves once per pass.
    fn latest_ledger(&self) -> BoxFuture<'_, Result<u32, VenueError>> {
        Box::pin(async move {
            self.advance()?;
            Ok(self.lock().sequence)
        })
    }

    /// Read only: unlike `latest_ledger`, closes nothing.
    fn ledger_window(&self) -> BoxFuture<'_, Result<LedgerWindow, VenueError>> {
        Box::pin(async move { Ok(self.lock().window()) })
    }

    fn account(&self, id: AccountKey) -> BoxFuture<'_, Result<Option<AccountState>, VenueError>> {
        Box::pin(async move { Ok(self.lock().account(id)) })
    }

    fn order_book<'a>(
        &'a self,
        selling: &'a StellarAsset,
        buying: &'a StellarAsset,
    ) -> BoxFuture<'a, Result<OrderBook, VenueError>> {
        Box::pin(async move { Ok(self.lock().order_book(selling, buying)) })
    }

    fn liquidity_pool<'a>(
        &'a self,
        a: &'a StellarAsset,
        b: &'a StellarAsset,
    ) -> BoxFuture<'a, Result<Option<super::pool::LiquidityPool>, VenueError>> {
        Box::pin(async move { Ok(self.lock().pool(a, b)) })
    }

    fn oracle_prices<'a>(
        &'a self,
        symbols: &'a [String],
    ) -> BoxFuture<'a, Result<Prices, VenueError>> {
        Box::pin(async move {
            let l = self.lock();
            let ts = l.close_time;
            Ok(symbols
                .iter()
                .map(|s| {
                    let p = l.oracle.get(s).map(|&price| OraclePrice {
                        symbol: s.clone(),
                        price,
                        decimals: super::sim::ORACLE_DECIMALS,
                        timestamp: ts,
                    });
                    (s.clone(), p)
                })
                .collect())
        })
    }

    fn supported_assets(&self) -> BoxFuture<'_, Result<Vec<SupportedAsset>, VenueError>> {
        Box::pin(async move { Ok(self.lock().supported.clone()) })
    }

    fn fund(&self, id: AccountKey) -> BoxFuture<'_, Result<bool, VenueError>> {
        Box::pin(async move {
            let mut l = self.lock();
            let created = l.friendbot(id);
            self.save(&l)?;
            Ok(created)
        })
    }

    fn send<'a>(&'a self, envelope: &'a str) -> BoxFuture<'a, Result<SendStatus, VenueError>> {
        Box::pin(async move {
            let fault = self.faults.draw();
            if let Some(f) = fault.filter(|f| !f.acts()) {
                return Err(f.error(FAULT_VENUE));
            }
            let mut l = self.lock();
            let r = l.submit(envelope);
            self.save(&l)?;
            if let Some(f) = fault {
                return Err(f.error(FAULT_VENUE));
            }
            match r {
                Ok(_) => Ok(SendStatus::Pending),
                Err(refused) => Ok(SendStatus::Error(
                    TxOutcome::decode(&refused.result_xdr)
                        .map_err(|e| VenueError::Rejected(e.to_string()))?,
                )),
            }
        })
    }

    fn transaction<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<TxStatus, VenueError>> {
        Box::pin(async move {
            let mut l = self.lock();
            sim_status(l.poll(hash))
        })
    }

    fn fee_stats(&self) -> BoxFuture<'_, Result<super::FeeStats, VenueError>> {
        Box::pin(async move { Ok(self.lock().fee_stats()) })
    }

    /// What Horizon would quote over this world's books.
    fn strict_send_paths<'a>(
        &'a self,
        source: &'a StellarAsset,
        amount: i64,
        destinations: &'a [StellarAsset],
    ) -> BoxFuture<'a, Result<Vec<super::horizon::PathQuote>, VenueError>> {
        Box::pin(async move {
            Ok(super::paths::strict_send(
                &self.lock(),
                source,
                amount,
                destinations,
            ))
        })
    }
}

/// A sim record as getTransaction reports it.
pub fn sim_status(t: Option<super::sim::SimTx>) -> Result<TxStatus, VenueError> {
    let Some(t) = t else {
        return Ok(TxStatus::NotFound);
    };
    let outcome =
        TxOutcome::decode(&t.result_xdr).map_err(|e| VenueError::Rejected(e.to_string()))?;
    Ok(if t.success {
        TxStatus::Success {
            ledger: t.ledger,
            outcome,
        }
    } else {
        TxStatus::Failed {
            ledger: t.ledger,
            outcome,
        }
    })
}
