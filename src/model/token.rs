//! Tokens and chains: the single source of truth for symbols, decimals and
//! addresses. Logic names a `TokenId`, never a raw address. The seed's Hemi
//! addresses fail their EIP-55 checksums and are not used; these are the
//! corrected ones (docs/architecture.md §5).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    Hemi,
    Ethereum,
}

impl Chain {
    pub const ALL: [Chain; 2] = [Chain::Hemi, Chain::Ethereum];

    /// The mainnet chain id; devnet uses the same ids on anvil.
    pub fn chain_id(self) -> u64 {
        match self {
            Chain::Hemi => 43_111,
            Chain::Ethereum => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Chain::Hemi => "Hemi",
            Chain::Ethereum => "Ethereum",
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TokenId {
    #[serde(rename = "VCRED")]
    Vcred,
    #[serde(rename = "ETH")]
    Eth,
    #[serde(rename = "WETH")]
    Weth,
    #[serde(rename = "WBTC")]
    Wbtc,
    #[serde(rename = "hemiBTC")]
    HemiBtc,
    #[serde(rename = "cbBTC")]
    CbBtc,
    #[serde(rename = "XAUt")]
    Xaut,
    #[serde(rename = "VUSD")]
    Vusd,
    #[serde(rename = "USDC")]
    Usdc,
}

/// Static facts about one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: TokenId,
    pub symbol: &'static str,
    pub decimals: u8,
    /// ERC-20 address on Hemi; `None` when native or absent.
    pub hemi: Option<&'static str>,
    /// ERC-20 address on Ethereum; `None` when native or absent.
    pub ethereum: Option<&'static str>,
}

const TOKENS: [TokenInfo; 9] = [
    TokenInfo {
        id: TokenId::Vcred,
        symbol: "VCRED",
        decimals: 6,
        hemi: Some("0x71881974e96152643C74A8e0214B877CfB2A0Aa1"),
        ethereum: None,
    },
    TokenInfo {
        id: TokenId::Eth,
        symbol: "ETH",
        decimals: 18,
        hemi: None,
        ethereum: None,
    },
    TokenInfo {
        id: TokenId::Weth,
        symbol: "WETH",
        decimals: 18,
        hemi: Some("0x4200000000000000000000000000000000000006"),
        ethereum: Some("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
    },
    TokenInfo {
        id: TokenId::Wbtc,
        symbol: "WBTC",
        decimals: 8,
        hemi: Some("0x03C7054BCB39f7b2e5B2c7AcB37583e32D70Cfa3"),
        ethereum: Some("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"),
    },
    TokenInfo {
        id: TokenId::HemiBtc,
        symbol: "hemiBTC",
        decimals: 8,
        hemi: Some("0xAA40c0c7644e0b2B224509571e10ad20d9C4ef28"),
        ethereum: Some("0x06ea695B91700071B161A434fED42D1DcbAD9f00"),
    },
    TokenInfo {
        id: TokenId::CbBtc,
        symbol: "cbBTC",
        decimals: 8,
        hemi: Some("0x1596bE338B999E2376675C908168A7548C8B0525"),
        ethereum: Some("0xcbB7C0000aB88B473b1f5aFd9ef808440eed33Bf"),
    },
    TokenInfo {
        id: TokenId::Xaut,
        symbol: "XAUt",
        decimals: 6,
        hemi: Some("0x028DE74e2fE336511A8E5FAb0426D1cfD5110DBb"),
        ethereum: Some("0x68749665FF8D2d112Fa859AA293F07A622782F38"),
    },
    TokenInfo {
        id: TokenId::Vusd,
        symbol: "VUSD",
        decimals: 18,
        hemi: Some("0x7A06C4AeF988e7925575C50261297a946aD204A8"),
        ethereum: Some("0x677ddbd918637E5F2c79e164D402454dE7dA8619"),
    },
    TokenInfo {
        id: TokenId::Usdc,
        symbol: "USDC",
        decimals: 6,
        // USDC.e, Stargate's bridged USDC on Hemi.
        hemi: Some("0xad11a8BEb98bbf61dbb1aa0F6d6F2ECD87b35afA"),
        ethereum: Some("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
    },
];

impl TokenId {
    pub const ALL: [TokenId; 9] = [
        TokenId::Vcred,
        TokenId::Eth,
        TokenId::Weth,
        TokenId::Wbtc,
        TokenId::HemiBtc,
        TokenId::CbBtc,
        TokenId::Xaut,
        TokenId::Vusd,
        TokenId::Usdc,
    ];

    /// The tokens the cross-chain loop may buy on Hemi and sell on Ethereum.
    pub const LOOP: [TokenId; 6] = [
        TokenId::Eth,
        TokenId::Wbtc,
        TokenId::HemiBtc,
        TokenId::CbBtc,
        TokenId::Xaut,
        TokenId::Vusd,
    ];

    pub fn info(self) -> &'static TokenInfo {
        // TOKENS is ordered as the enum; the test below keeps it so.
        &TOKENS[self as usize]
    }

    pub fn symbol(self) -> &'static str {
        self.info().symbol
    }

    pub fn decimals(self) -> u8 {
        self.info().decimals
    }

    /// One whole token in base units.
    pub fn one(self) -> u128 {
        10u128.pow(u32::from(self.decimals()))
    }

    pub fn address(self, chain: Chain) -> Option<&'static str> {
        match chain {
            Chain::Hemi => self.info().hemi,
            Chain::Ethereum => self.info().ethereum,
        }
    }

    /// Whether the wallet can hold this token on `chain` (native, or an ERC-20 there).
    pub fn exists_on(self, chain: Chain) -> bool {
        self.is_native() || self.address(chain).is_some()
    }

    /// Native gas token of every chain here is ETH.
    pub fn is_native(self) -> bool {
        self == TokenId::Eth
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("unknown token {0:?} (known: VCRED, ETH, WETH, WBTC, hemiBTC, cbBTC, XAUt, VUSD, USDC)")]
pub struct UnknownToken(pub String);

impl FromStr for TokenId {
    type Err = UnknownToken;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TokenId::ALL
            .into_iter()
            .find(|t| t.symbol().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownToken(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_enum_order() {
        for t in TokenId::ALL {
            assert_eq!(t.info().id, t);
        }
    }

    #[test]
    fn vcred_has_six_decimals_and_the_corrected_address() {
        assert_eq!(TokenId::Vcred.decimals(), 6);
        assert_eq!(
            TokenId::Vcred.address(Chain::Hemi),
            Some("0x71881974e96152643C74A8e0214B877CfB2A0Aa1")
        );
    }

    #[test]
    fn symbols_parse_case_insensitively() {
        assert_eq!("hemibtc".parse::<TokenId>(), Ok(TokenId::HemiBtc));
        assert_eq!("XAUT".parse::<TokenId>(), Ok(TokenId::Xaut));
        assert!("DOGE".parse::<TokenId>().is_err());
    }
}
