//! Tokenized equity symbols to broker tickers: configurable patterns (`t*`,
//! `*0x`, `*s1`, `wt*`: `tAAPL`, `AAPL0x` and `AAPLs1` are all `AAPL`) and
//! remaps for renamed tickers (`SPLG` → `SPYM`). Anything that does not
//! match is refused, never guessed.

use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SymbolError {
    #[error("pattern {0:?} must have exactly one `*` and a fixed prefix or suffix")]
    BadPattern(String),
    #[error("{0:?} matches no tokenized-equity pattern")]
    NotEquity(String),
    #[error("{symbol:?} gives ticker {ticker:?}, which is not 1-16 of A-Z, 0-9, '.'")]
    BadTicker { symbol: String, ticker: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    prefix: String,
    suffix: String,
}

/// How onchain symbols become broker tickers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolMap {
    patterns: Vec<Pattern>,
    remaps: BTreeMap<String, String>,
}

impl SymbolMap {
    /// st0x's markers: `t` prefix, `0x` and `s1` suffixes, `wt` (wrapped) prefix.
    pub fn st0x() -> Self {
        Self::new(&["wt*", "t*", "*0x", "*s1"], BTreeMap::new()).unwrap_or(Self {
            patterns: Vec::new(),
            remaps: BTreeMap::new(),
        })
    }

    pub fn new(
        patterns: &[impl AsRef<str>],
        remaps: BTreeMap<String, String>,
    ) -> Result<Self, SymbolError> {
        let patterns = patterns
            .iter()
            .map(|p| {
                let p = p.as_ref();
                match p.split_once('*') {
                    Some((prefix, suffix))
                        if !suffix.contains('*') && !format!("{prefix}{suffix}").is_empty() =>
                    {
                        Ok(Pattern {
                            prefix: prefix.into(),
                            suffix: suffix.into(),
                        })
                    }
                    _ => Err(SymbolError::BadPattern(p.into())),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { patterns, remaps })
    }

    /// The broker ticker of an onchain equity symbol (first matching pattern).
    pub fn ticker(&self, symbol: &str) -> Result<String, SymbolError> {
        let base = self
            .patterns
            .iter()
            .find_map(|p| {
                symbol
                    .strip_prefix(p.prefix.as_str())
                    .and_then(|rest| rest.strip_suffix(p.suffix.as_str()))
                    .filter(|base| !base.is_empty())
            })
            .ok_or_else(|| SymbolError::NotEquity(symbol.into()))?;
        let ticker = self
            .remaps
            .get(base)
            .cloned()
            .unwrap_or_else(|| base.to_string());
        let valid = (1..=16).contains(&ticker.len())
            && ticker
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.')
            && ticker != "USDC";
        if !valid {
            return Err(SymbolError::BadTicker {
                symbol: symbol.into(),
                ticker,
            });
        }
        Ok(ticker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn st0x_markers_map_to_the_base_ticker() {
        let m = SymbolMap::st0x();
        for s in ["tAAPL", "AAPL0x", "AAPLs1", "wtAAPL"] {
            assert_eq!(m.ticker(s).unwrap(), "AAPL", "{s}");
        }
        assert!(matches!(m.ticker("USDC"), Err(SymbolError::NotEquity(_))));
        assert!(matches!(m.ticker("t"), Err(SymbolError::NotEquity(_))));
        assert!(matches!(
            m.ticker("tusdc"),
            Err(SymbolError::BadTicker { .. })
        ));
    }

    #[test]
    fn remaps_rename_tickers_and_bad_patterns_are_refused() {
        let remaps = BTreeMap::from([("SPLG".to_string(), "SPYM".to_string())]);
        let m = SymbolMap::new(&["t*"], remaps).unwrap();
        assert_eq!(m.ticker("tSPLG").unwrap(), "SPYM");
        assert!(SymbolMap::new(&["*"], BTreeMap::new()).is_err());
        assert!(SymbolMap::new(&["a*b*"], BTreeMap::new()).is_err());
        assert!(SymbolMap::new(&["tAAPL"], BTreeMap::new()).is_err());
    }
}
