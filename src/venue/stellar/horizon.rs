//! Horizon (REST/JSON) and Friendbot: accounts, order books, strict-send
//! paths, transaction submission (`POST /transactions`, form `tx=`), and
//! funding. Amounts are 7-place decimal strings, parsed exactly to stroops.
//! Horizon's path finding never returns a cycle (it skips assets already on
//! the path), so cycles are built from order books or two path queries.

use super::asset::{StellarAsset, parse_amount};
use super::codes::TxOutcome;
use super::keys::AccountKey;
use super::rpc::{http_client, is_loopback};
use super::{AccountState, Balance, Offer, OrderBook, Price};
use crate::venue::VenueError;
use crate::venue::http_body::{BodyError, DEFAULT_BODY_CAP, read_capped};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HorizonError {
    #[error("Horizon unreachable: {0}")]
    Transport(String),
    #[error("Horizon answered HTTP {status}: {title}")]
    Problem { status: u16, title: String },
    /// The network refused or failed the transaction; the result says why.
    #[error("transaction failed: {}", .0.describe())]
    TxFailed(TxOutcome),
    /// 504: not included in time; it may still land. Settle by looking.
    #[error("Horizon timed out waiting for the transaction; it may still be applied")]
    Timeout,
    #[error("unexpected answer from Horizon: {0}")]
    Shape(String),
    /// A submission whose answer never came or could not be read (reset,
    /// 5xx, 429, a cut or malformed body): it may have applied.
    #[error("Horizon gave no definite answer to the submission ({0}); it may have applied")]
    OutcomeUnknown(String),
    /// Too large or cut off mid-body; `what` names the call.
    #[error("Horizon answer unreadable ({what}): {source}")]
    Body {
        what: &'static str,
        #[source]
        source: BodyError,
    },
}

/// The body of a Horizon (or Friendbot) answer, at most the shared cap.
async fn capped(r: reqwest::Response, what: &'static str) -> Result<Vec<u8>, HorizonError> {
    read_capped(r, DEFAULT_BODY_CAP)
        .await
        .map_err(|source| HorizonError::Body { what, source })
}

impl From<HorizonError> for VenueError {
    fn from(e: HorizonError) -> Self {
        match e {
            HorizonError::Timeout | HorizonError::OutcomeUnknown(_) => {
                VenueError::Unknown(e.to_string())
            }
            HorizonError::TxFailed(_) | HorizonError::Shape(_) => {
                VenueError::Rejected(e.to_string())
            }
            HorizonError::Problem { status, .. }
                if (400..500).contains(&status) && status != 429 =>
            {
                VenueError::Rejected(e.to_string())
            }
            _ => VenueError::Transient(e.to_string()),
        }
    }
}

/// A path Horizon found (intermediate assets only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathQuote {
    pub source_amount: i64,
    pub destination: StellarAsset,
    pub destination_amount: i64,
    pub path: Vec<StellarAsset>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub hash: String,
    pub ledger: u32,
    pub outcome: TxOutcome,
}

#[derive(Deserialize)]
struct AssetJson {
    asset_type: String,
    asset_code: Option<String>,
    asset_issuer: Option<String>,
}

impl AssetJson {
    fn asset(&self) -> Result<StellarAsset, HorizonError> {
        if self.asset_type == "native" {
            return Ok(StellarAsset::Native);
        }
        let (Some(code), Some(issuer)) = (&self.asset_code, &self.asset_issuer) else {
            return Err(HorizonError::Shape(format!(
                "asset {} without code/issuer",
                self.asset_type
            )));
        };
        StellarAsset::parse(&format!("{code}:{issuer}"))
            .map_err(|e| HorizonError::Shape(e.to_string()))
    }
}

fn amount(text: &str) -> Result<i64, HorizonError> {
    parse_amount(text).ok_or_else(|| HorizonError::Shape(format!("amount {text:?}")))
}

/// One ask level as Horizon gives it, checked: a positive amount and a
/// price whose numerator and denominator are both positive (a zero would
/// divide by zero when the offer is crossed).
pub fn offer(amount_text: &str, n: i32, d: i32) -> Result<Offer, String> {
    let amount = parse_amount(amount_text).ok_or_else(|| format!("amount {amount_text:?}"))?;
    if amount <= 0 {
        return Err(format!("amount {amount_text} is not positive"));
    }
    if n <= 0 || d <= 0 {
        return Err(format!("price {n}/{d} is not a positive ratio"));
    }
    Ok(Offer {
        amount,
        price: Price { n, d },
    })
}

pub struct HorizonClient {
    http: reqwest::Client,
    base: reqwest::Url,
}

impl HorizonClient {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, HorizonError> {
        let mut base = reqwest::Url::parse(url)
            .map_err(|e| HorizonError::Shape(format!("Horizon url: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = http_client(timeout, is_loopback(&base)).map_err(HorizonError::Transport)?;
        Ok(Self { http, base })
    }

    pub(super) fn url(&self, path: &str) -> Result<reqwest::Url, HorizonError> {
        self.base
            .join(path)
            .map_err(|e| HorizonError::Shape(e.to_string()))
    }

    pub(super) async fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        url: reqwest::Url,
    ) -> Result<Option<T>, HorizonError> {
        let r = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| HorizonError::Transport(crate::net::describe(&e)))?;
        let status = r.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        let body = capped(r, "Horizon").await?;
        if status != 200 {
            let title = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("title").and_then(|t| t.as_str()).map(String::from))
                .unwrap_or_default();
            return Err(HorizonError::Problem { status, title });
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| HorizonError::Shape(e.to_string()))
    }

    /// `GET /fee_stats`: recent fees charged and capacity usage.
    pub async fn fee_stats(&self) -> Result<super::fee_stats::FeeStats, HorizonError> {
        let body: serde_json::Value = self
            .get_json(self.url("fee_stats")?)
            .await?
            .ok_or_else(|| HorizonError::Shape("fee_stats: 404".into()))?;
        super::fee_stats::from_horizon(&body).map_err(|e| HorizonError::Shape(e.to_string()))
    }

    pub async fn account(&self, id: AccountKey) -> Result<Option<AccountState>, HorizonError> {
        #[derive(Deserialize)]
        struct B {
            balance: String,
            limit: Option<String>,
            #[serde(default)]
            selling_liabilities: Option<String>,
            #[serde(flatten)]
            asset: AssetJson,
        }
        #[derive(Deserialize)]
        struct A {
            sequence: String,
            #[serde(default)]
            subentry_count: u32,
            balances: Vec<B>,
        }
        let Some(a) = self
            .get_json::<A>(self.url(&format!("accounts/{id}"))?)
            .await?
        else {
            return Ok(None);
        };
        let balances = a
            .balances
            .iter()
            .map(|b| {
                Ok(Balance {
                    asset: b.asset.asset()?,
                    amount: amount(&b.balance)?,
                    limit: b.limit.as_deref().map(amount).transpose()?,
                    selling_liabilities: b
                        .selling_liabilities
                        .as_deref()
                        .map(amount)
                        .transpose()?
                        .unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, HorizonError>>()?;
        Ok(Some(AccountState {
            id,
            sequence: a
                .sequence
                .parse()
                .map_err(|_| HorizonError::Shape("sequence".into()))?,
            subentries: a.subentry_count,
            balances,
        }))
    }

    /// Offers selling `selling` for `buying`: Horizon's asks of the book with
    /// base = selling, counter = buying (ask amounts are in the base asset,
    /// `price_r` is counter per base — exactly the offer's own price).
    pub async fn order_book(
        &self,
        selling: &StellarAsset,
        buying: &StellarAsset,
        limit: u32,
    ) -> Result<OrderBook, HorizonError> {
        #[derive(Deserialize)]
        struct R {
            n: i32,
            d: i32,
        }
        #[derive(Deserialize)]
        struct Level {
            price_r: R,
            amount: String,
        }
        #[derive(Deserialize)]
        struct Book {
            asks: Vec<Level>,
        }
        let mut url = self.url("order_book")?;
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in selling
                .query("selling_asset")
                .into_iter()
                .chain(buying.query("buying_asset"))
            {
                q.append_pair(&k, &v);
            }
            q.append_pair("limit", &limit.min(200).to_string());
        }
        let book: Book = self
            .get_json(url)
            .await?
            .ok_or_else(|| HorizonError::Shape("order_book: 404".into()))?;
        let mut offers = Vec::with_capacity(book.asks.len());
        for l in &book.asks {
            match offer(&l.amount, l.price_r.n, l.price_r.d) {
                Ok(o) => offers.push(o),
                // One bad level is dropped, not the book and not the process.
                Err(why) => tracing::warn!(
                    target: "stellar_arb",
                    selling = %selling.code(),
                    buying = %buying.code(),
                    "order book offer dropped: {why}"
                ),
            }
        }
        Ok(OrderBook {
            selling: selling.clone(),
            buying: buying.clone(),
            offers,
        })
    }

    /// `GET /paths/strict-send`: ways to turn `amount` of `source` into each
    /// of `destinations`.
    pub async fn strict_send_paths(
        &self,
        source: &StellarAsset,
        amount: i64,
        destinations: &[StellarAsset],
    ) -> Result<Vec<PathQuote>, HorizonError> {
        #[derive(Deserialize)]
        struct Rec {
            destination_amount: String,
            source_amount: String,
            path: Vec<AssetJson>,
            #[serde(flatten)]
            dest: DestJson,
        }
        #[derive(Deserialize)]
        struct DestJson {
            destination_asset_type: String,
            destination_asset_code: Option<String>,
            destination_asset_issuer: Option<String>,
        }
        #[derive(Deserialize)]
        struct Emb {
            records: Vec<Rec>,
        }
        #[derive(Deserialize)]
        struct Page {
            _embedded: Emb,
        }
        let mut url = self.url("paths/strict-send")?;
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in source.query("source_asset") {
                q.append_pair(&k, &v);
            }
            q.append_pair("source_amount", &super::asset::format_amount(amount));
            let list: Vec<String> = destinations
                .iter()
                .map(StellarAsset::horizon_name)
                .collect();
            q.append_pair("destination_assets", &list.join(","));
        }
        let page: Page = self
            .get_json(url)
            .await?
            .ok_or_else(|| HorizonError::Shape("paths: 404".into()))?;
        page._embedded
            .records
            .iter()
            .map(|r| {
                let dest = AssetJson {
                    asset_type: r.dest.destination_asset_type.clone(),
                    asset_code: r.dest.destination_asset_code.clone(),
                    asset_issuer: r.dest.destination_asset_issuer.clone(),
                }
                .asset()?;
                Ok(PathQuote {
                    source_amount: self::amount(&r.source_amount)?,
                    destination: dest,
                    destination_amount: self::amount(&r.destination_amount)?,
                    path: r
                        .path
                        .iter()
                        .map(AssetJson::asset)
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect()
    }

    /// Synchronous submission. A resubmission of an applied tx returns its
    /// original result, so retrying the *same* envelope is safe.
    pub async fn submit(&self, envelope: &str) -> Result<Submitted, HorizonError> {
        #[derive(Deserialize)]
        struct Ok200 {
            hash: String,
            ledger: u32,
            result_xdr: String,
        }
        let r = self
            .http
            .post(self.url("transactions")?)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form_body(envelope))
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    HorizonError::Timeout
                } else {
                    // The request may have left before the connection broke.
                    HorizonError::OutcomeUnknown(crate::net::describe(&e))
                }
            })?;
        let status = r.status().as_u16();
        let unknown = |why: String| HorizonError::OutcomeUnknown(format!("HTTP {status}: {why}"));
        if status == 504 {
            return Err(HorizonError::Timeout);
        }
        let bytes = capped(r, "Horizon POST /transactions")
            .await
            .map_err(|e| unknown(e.to_string()))?;
        let body: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| unknown(e.to_string()))?;
        match status {
            200 => {
                let ok: Ok200 = serde_json::from_value(body)
                    .map_err(|e| unknown(format!("transaction: {e}")))?;
                let outcome =
                    TxOutcome::decode(&ok.result_xdr).map_err(|e| unknown(e.to_string()))?;
                Ok(Submitted {
                    hash: ok.hash,
                    ledger: ok.ledger,
                    outcome,
                })
            }
            // Only a 400 that carries a decodable result is definite.
            400 => {
                let result_xdr = body
                    .pointer("/extras/result_xdr")
                    .and_then(|v| v.as_str())
                    .map(String::from);
                match result_xdr {
                    Some(x) => Err(HorizonError::TxFailed(
                        TxOutcome::decode(&x).map_err(|e| unknown(e.to_string()))?,
                    )),
                    None => Err(HorizonError::Problem {
                        status,
                        title: body
                            .get("title")
                            .and_then(|t| t.as_str())
                            .unwrap_or("")
                            .into(),
                    }),
                }
            }
            _ => Err(unknown(
                body.get("title")
                    .and_then(|t| t.as_str())
                    .unwrap_or("no title")
                    .to_string(),
            )),
        }
    }
}

/// Friendbot: `GET <url>?addr=G…`. `Ok(false)` when the account was already
/// funded (a 400 naming createAccountAlreadyExist / already funded).
pub async fn friendbot(url: &str, id: AccountKey, timeout: Duration) -> Result<bool, HorizonError> {
    let mut url = reqwest::Url::parse(url).map_err(|e| HorizonError::Shape(e.to_string()))?;
    let http = http_client(timeout, is_loopback(&url)).map_err(HorizonError::Transport)?;
    url.query_pairs_mut().append_pair("addr", &id.to_string());
    let r = http
        .get(url)
        .send()
        .await
        .map_err(|e| HorizonError::Transport(crate::net::describe(&e)))?;
    let status = r.status().as_u16();
    if status == 200 {
        return Ok(true);
    }
    let body = capped(r, "Friendbot").await?;
    let text = String::from_utf8_lossy(&body);
    if status == 400 && (text.contains("AlreadyExist") || text.contains("already funded")) {
        return Ok(false);
    }
    Err(HorizonError::Problem {
        status,
        title: "friendbot refused".into(),
    })
}

/// `tx=<base64>` form-encoded (base64's `+`, `/`, `=` must be escaped).
fn form_body(envelope: &str) -> String {
    let mut out = String::from("tx=");
    for b in envelope.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_with_a_zero_or_negative_figure_is_refused() {
        assert!(offer("1.0000000", 1, 2).is_ok());
        for (a, n, d) in [
            ("1.0000000", 0, 1),
            ("1.0000000", 1, 0),
            ("1.0000000", -1, 2),
            ("-1.0000000", 1, 2),
            ("0.0000000", 1, 2),
            ("99999999999999999999", 1, 2),
            ("x", 1, 2),
        ] {
            assert!(offer(a, n, d).is_err(), "{a} {n}/{d}");
        }
    }
}
