//! Assets as arbkeep names them: `XLM` (native) or `CODE:ISSUER`, with their
//! XDR, Horizon query and strkey forms. Amounts on Stellar are `i64` stroops
//! (7 decimals) for every asset.

use super::keys::{AccountKey, KeyError};
use serde::{Deserialize, Serialize};
use std::fmt;
use stellar_xdr as xdr;

/// One XLM (or one unit of any asset) in stroops.
pub const ONE: i64 = 10_000_000;
/// Decimal places of a Stellar amount (one unit is [`ONE`] stroops).
pub const PLACES: u8 = 7;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum StellarAsset {
    Native,
    Credit { code: String, issuer: AccountKey },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssetError {
    #[error("asset code {0:?} must be 1-12 characters of A-Z a-z 0-9")]
    BadCode(String),
    #[error("asset {0:?} must be XLM, native or CODE:ISSUER")]
    BadForm(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl StellarAsset {
    pub fn credit(code: &str, issuer: AccountKey) -> Result<Self, AssetError> {
        let ok =
            !code.is_empty() && code.len() <= 12 && code.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(AssetError::BadCode(code.into()));
        }
        Ok(Self::Credit {
            code: code.into(),
            issuer,
        })
    }

    pub fn parse(text: &str) -> Result<Self, AssetError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("xlm") || text == "native" {
            return Ok(Self::Native);
        }
        let (code, issuer) = text
            .split_once(':')
            .ok_or_else(|| AssetError::BadForm(text.into()))?;
        Self::credit(code, AccountKey::parse(issuer)?)
    }

    pub fn code(&self) -> &str {
        match self {
            Self::Native => "XLM",
            Self::Credit { code, .. } => code,
        }
    }

    pub fn issuer(&self) -> Option<AccountKey> {
        match self {
            Self::Native => None,
            Self::Credit { issuer, .. } => Some(*issuer),
        }
    }

    pub fn is_native(&self) -> bool {
        matches!(self, Self::Native)
    }

    pub fn to_xdr(&self) -> xdr::Asset {
        match self {
            Self::Native => xdr::Asset::Native,
            Self::Credit { code, issuer } => {
                let issuer = account_id(*issuer);
                if code.len() <= 4 {
                    let mut c = [0u8; 4];
                    c[..code.len()].copy_from_slice(code.as_bytes());
                    xdr::Asset::CreditAlphanum4(xdr::AlphaNum4 {
                        asset_code: xdr::AssetCode4(c),
                        issuer,
                    })
                } else {
                    let mut c = [0u8; 12];
                    c[..code.len()].copy_from_slice(code.as_bytes());
                    xdr::Asset::CreditAlphanum12(xdr::AlphaNum12 {
                        asset_code: xdr::AssetCode12(c),
                        issuer,
                    })
                }
            }
        }
    }

    pub fn from_xdr(asset: &xdr::Asset) -> Self {
        let trim = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .trim_end_matches('\0')
                .to_string()
        };
        match asset {
            xdr::Asset::Native => Self::Native,
            xdr::Asset::CreditAlphanum4(a) => Self::Credit {
                code: trim(&a.asset_code.0),
                issuer: account_key(&a.issuer),
            },
            xdr::Asset::CreditAlphanum12(a) => Self::Credit {
                code: trim(&a.asset_code.0),
                issuer: account_key(&a.issuer),
            },
        }
    }

    /// Horizon's query form, e.g. `selling_asset_type=native` or the three
    /// `_type`, `_code`, `_issuer` parameters.
    pub fn query(&self, prefix: &str) -> Vec<(String, String)> {
        match self {
            Self::Native => vec![(format!("{prefix}_type"), "native".into())],
            Self::Credit { code, issuer } => vec![
                (
                    format!("{prefix}_type"),
                    if code.len() <= 4 {
                        "credit_alphanum4"
                    } else {
                        "credit_alphanum12"
                    }
                    .into(),
                ),
                (format!("{prefix}_code"), code.clone()),
                (format!("{prefix}_issuer"), issuer.to_string()),
            ],
        }
    }

    /// Horizon's list form (`native` or `CODE:ISSUER`).
    pub fn horizon_name(&self) -> String {
        match self {
            Self::Native => "native".into(),
            Self::Credit { code, issuer } => format!("{code}:{issuer}"),
        }
    }
}

pub fn account_id(key: AccountKey) -> xdr::AccountId {
    xdr::AccountId(xdr::PublicKey::PublicKeyTypeEd25519(xdr::Uint256(key.0)))
}

pub fn account_key(id: &xdr::AccountId) -> AccountKey {
    let xdr::PublicKey::PublicKeyTypeEd25519(xdr::Uint256(k)) = &id.0;
    AccountKey(*k)
}

pub fn muxed(key: AccountKey) -> xdr::MuxedAccount {
    xdr::MuxedAccount::Ed25519(xdr::Uint256(key.0))
}

pub fn muxed_key(m: &xdr::MuxedAccount) -> AccountKey {
    match m {
        xdr::MuxedAccount::Ed25519(xdr::Uint256(k)) => AccountKey(*k),
        xdr::MuxedAccount::MuxedEd25519(m) => AccountKey(m.ed25519.0),
    }
}

impl fmt::Display for StellarAsset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Native => f.write_str("XLM"),
            Self::Credit { code, issuer } => write!(f, "{code}:{issuer}"),
        }
    }
}

impl From<StellarAsset> for String {
    fn from(a: StellarAsset) -> String {
        a.to_string()
    }
}

impl TryFrom<String> for StellarAsset {
    type Error = AssetError;
    fn try_from(s: String) -> Result<Self, AssetError> {
        Self::parse(&s)
    }
}

/// `"12.3456789"` (Horizon's 7-place decimal) → stroops, exactly.
pub fn parse_amount(text: &str) -> Option<i64> {
    let text = text.trim();
    let (neg, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 7 {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..7 {
        f *= 10;
    }
    let v = whole.checked_mul(ONE)?.checked_add(f)?;
    Some(if neg { -v } else { v })
}

/// Stroops → Horizon's 7-place decimal.
pub fn format_amount(stroops: i64) -> String {
    crate::model::money::format_fixed(i128::from(stroops), PLACES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip_exactly() {
        assert_eq!(parse_amount("72.8563792"), Some(728_563_792));
        assert_eq!(parse_amount("3"), Some(30_000_000));
        assert_eq!(parse_amount("0.5"), Some(5_000_000));
        assert_eq!(parse_amount("1.12345678"), None);
        assert_eq!(parse_amount("x"), None);
        assert_eq!(format_amount(728_563_792), "72.8563792");
        assert_eq!(format_amount(-1), "-0.0000001");
    }

    #[test]
    fn assets_parse_and_encode() {
        let a =
            StellarAsset::parse("AQUA:GBNZILSTVQZ4R7IKQDGHYGY2QXL5QOFJYQMXPKWRRM5PAV7Y4M67AQUA")
                .expect("asset");
        assert_eq!(a.code(), "AQUA");
        assert_eq!(StellarAsset::from_xdr(&a.to_xdr()), a);
        let long = StellarAsset::credit("yUSDCLONG", a.issuer().expect("issuer")).expect("12");
        assert_eq!(StellarAsset::from_xdr(&long.to_xdr()), long);
        assert_eq!(StellarAsset::parse("XLM"), Ok(StellarAsset::Native));
        assert!(StellarAsset::parse("AQUA").is_err());
        assert!(StellarAsset::credit("BAD-CODE", a.issuer().expect("issuer")).is_err());
    }
}
