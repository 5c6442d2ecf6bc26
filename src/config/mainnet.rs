//! The mainnet addresses the loop runs on in mode "live" when `[evm.hemi]`
//! and `[evm.ethereum]` name only their RPCs: Hemi's tunnel (evm.md §1.2,
//! §1.3), the tokens (§1.5, §2.1), Stargate V2 (§2.6) and the swap
//! deployments (§1.6.1, §2.2, §2.3), each written in its EIP-55 form and
//! parsed through the checksum (a mistyped digit fails the test, not a
//! send). With them, the tunnel's pins ([`TunnelPins`]): the contracts its
//! two ends lead to and the `version()` each answered when the reference
//! was verified — the venue refuses to start when the chain says otherwise.
//! A key the user sets replaces its default; setting either tunnel address
//! drops the pins (setting an address yourself says you checked it).

use super::evm::checksummed;
use super::swap::{V3_FEES, V3Config};
use crate::model::{Chain, TokenId};
use alloy::primitives::Address;
use std::collections::BTreeMap;

/// Hemi's legacy `OptimismPortal` proxy on Ethereum (§1.2).
pub const HEMI_PORTAL: &str = "0x39a0005415256B9863aFE2d55Edcf75ECc3A4D7e";
/// The portal's `version()` when verified (§1.2).
pub const HEMI_PORTAL_VERSION: &str = "2.5.0";
/// Hemi's `L1StandardBridge` proxy on Ethereum (§1.2): it pays a finalized
/// withdrawal out.
pub const HEMI_L1_BRIDGE: &str = "0x5eaa10F99e7e6D177eF9F74E519E319aa49f191e";
pub const HEMI_L1_BRIDGE_VERSION: &str = "2.1.0";
/// Hemi's `L1CrossDomainMessenger` on Ethereum (§1.2): the portal calls it.
pub const HEMI_L1_MESSENGER: &str = "0xF005dFb08377faD44588Af68d0884D272A6fb050";
pub const HEMI_L1_MESSENGER_VERSION: &str = "2.3.0";
/// Hemi's `L2OutputOracle` proxy on Ethereum (§1.2): the portal's
/// `l2Oracle()` must name it.
pub const HEMI_OUTPUT_ORACLE: &str = "0x6daF3a3497D8abdFE12915aDD9829f83A79C0d51";
/// The `L2StandardBridge` predeploy on Hemi (§1.3).
pub const HEMI_L2_BRIDGE: &str = "0x4200000000000000000000000000000000000010";

/// SushiSwap V2 router on Hemi (§1.6.1, verified).
pub const HEMI_SUSHI_V2_ROUTER: &str = "0x46B3fDF7b5CDe91Ac049936bF0bDb12c5d22202e";
/// SushiSwap V2 router on Ethereum (§2.3), the seed's last fallback.
pub const ETHEREUM_SUSHI_V2_ROUTER: &str = "0xd9e1cE17f2641f24aE83637ab66a2cca9C378B9F";
/// Uniswap V3 on Ethereum (§2.2): factory, QuoterV2 and SwapRouter02 —
/// the reference price for detection (seed 003 §7.1) and a provider.
pub const ETHEREUM_UNISWAP_V3_FACTORY: &str = "0x1F98431c8aD98523631AE4a59f267346ea31F984";
pub const ETHEREUM_UNISWAP_V3_QUOTER_V2: &str = "0x61fFE014bA17989E743c5F6cB21bF9697530B21e";
pub const ETHEREUM_UNISWAP_V3_ROUTER02: &str = "0x68b3465833fb72A70ecDF485E0e4C7bD8665Fc45";

/// Tokens on Hemi (§1.5; USDC is Stargate's USDC.e, §2.6).
pub const HEMI_TOKENS: [(TokenId, &str); 8] = [
    (TokenId::Vcred, "0x71881974e96152643C74A8e0214B877CfB2A0Aa1"),
    (TokenId::Weth, "0x4200000000000000000000000000000000000006"),
    (
        TokenId::HemiBtc,
        "0xAA40c0c7644e0b2B224509571e10ad20d9C4ef28",
    ),
    (TokenId::Wbtc, "0x03C7054BCB39f7b2e5B2c7AcB37583e32D70Cfa3"),
    (TokenId::CbBtc, "0x1596bE338B999E2376675C908168A7548C8B0525"),
    (TokenId::Xaut, "0x028DE74e2fE336511A8E5FAb0426D1cfD5110DBb"),
    (TokenId::Vusd, "0x7A06C4AeF988e7925575C50261297a946aD204A8"),
    (TokenId::Usdc, "0xad11a8BEb98bbf61dbb1aa0F6d6F2ECD87b35afA"),
];

/// Tokens on Ethereum (§2.1): each tunnel token's L1 counterpart is the
/// Hemi token list's `bridgeInfo`.
pub const ETHEREUM_TOKENS: [(TokenId, &str); 7] = [
    (TokenId::Usdc, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
    (TokenId::Weth, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
    (TokenId::Wbtc, "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"),
    (TokenId::CbBtc, "0xcbB7C0000aB88B473b1f5aFd9ef808440eed33Bf"),
    (TokenId::Xaut, "0x68749665FF8D2d112Fa859AA293F07A622782F38"),
    (TokenId::Vusd, "0x677ddbd918637E5F2c79e164D402454dE7dA8619"),
    (
        TokenId::HemiBtc,
        "0x06ea695B91700071B161A434fED42D1DcbAD9f00",
    ),
];

/// Stargate V2 on Hemi (§2.6): the native ETH pool and the USDC OFT.
pub const HEMI_STARGATE: [(TokenId, &str); 3] = [
    (TokenId::Eth, "0x2F6F07CDcf3588944Bf4C42aC74ff24bF56e7590"),
    (TokenId::Usdc, "0x45f1A95A4D3f3836523F5c83673c797f4d4d263B"),
    // Not a Stargate: hemiBTC's own LayerZero OFT adapter (§1.5, §2.6),
    // carried by the same IOFT calls.
    (
        TokenId::HemiBtc,
        "0xDefa4A253a0Ec96a2e6D74A409B3B348924bf390",
    ),
];

/// Stargate V2 on Ethereum (§2.6): the native ETH pool and the USDC pool;
/// and hemiBTC's OFT, which is the token itself (§2.1).
pub const ETHEREUM_STARGATE: [(TokenId, &str); 3] = [
    (TokenId::Eth, "0x77b2043768d28E9C9aB44E1aBfC95944bcE57931"),
    (TokenId::Usdc, "0xc026395860Db2d07ee33e05fE50ed7bD583189C7"),
    (
        TokenId::HemiBtc,
        "0x06ea695B91700071B161A434fED42D1DcbAD9f00",
    ),
];

/// One chain's mainnet defaults, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainDefaults {
    pub router: Address,
    /// The name the V2 router goes by (Sushi on both chains).
    pub v2_name: &'static str,
    pub v3: Option<V3Config>,
    pub tunnel: Address,
    pub tokens: BTreeMap<TokenId, Address>,
    pub stargate: BTreeMap<TokenId, Address>,
}

/// What Hemi's tunnel on mainnet must look like from its two ends: the
/// contracts the portal and the L2 bridge lead to, and the `version()` of
/// each versioned one, as the reference verified them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelPins {
    pub portal_version: String,
    /// The portal's `l2Oracle()`.
    pub oracle: Address,
    /// The L2 bridge's `OTHER_BRIDGE()`: it pays withdrawals out.
    pub l1_bridge: Address,
    pub l1_bridge_version: String,
    /// The L1 bridge's `MESSENGER()`: the portal relays to it.
    pub l1_messenger: Address,
    pub l1_messenger_version: String,
}

/// The pins of Hemi's mainnet tunnel.
pub fn tunnel_pins() -> TunnelPins {
    TunnelPins {
        portal_version: HEMI_PORTAL_VERSION.into(),
        oracle: parse(HEMI_OUTPUT_ORACLE),
        l1_bridge: parse(HEMI_L1_BRIDGE),
        l1_bridge_version: HEMI_L1_BRIDGE_VERSION.into(),
        l1_messenger: parse(HEMI_L1_MESSENGER),
        l1_messenger_version: HEMI_L1_MESSENGER_VERSION.into(),
    }
}

fn parse(text: &str) -> Address {
    // Every constant above is checked by `every_default_carries_its_checksum`;
    // a failure here is a typo in this file, caught by that test.
    checksummed("mainnet default", text).unwrap_or(Address::ZERO)
}

fn table(entries: &[(TokenId, &str)]) -> BTreeMap<TokenId, Address> {
    entries.iter().map(|(t, text)| (*t, parse(text))).collect()
}

/// The mainnet defaults of `chain`.
pub fn defaults(chain: Chain) -> ChainDefaults {
    match chain {
        Chain::Hemi => ChainDefaults {
            router: parse(HEMI_SUSHI_V2_ROUTER),
            v2_name: "sushi_v2",
            // Sushi V3's SwapRouter on Hemi is unverified (§1.6.1): no default.
            v3: None,
            tunnel: parse(HEMI_L2_BRIDGE),
            tokens: table(&HEMI_TOKENS),
            stargate: table(&HEMI_STARGATE),
        },
        Chain::Ethereum => ChainDefaults {
            router: parse(ETHEREUM_SUSHI_V2_ROUTER),
            v2_name: "sushi_v2",
            v3: Some(V3Config {
                name: "uniswap_v3".into(),
                factory: parse(ETHEREUM_UNISWAP_V3_FACTORY),
                quoter: parse(ETHEREUM_UNISWAP_V3_QUOTER_V2),
                router: parse(ETHEREUM_UNISWAP_V3_ROUTER02),
                fees: V3_FEES.to_vec(),
            }),
            tunnel: parse(HEMI_PORTAL),
            tokens: table(&ETHEREUM_TOKENS),
            stargate: table(&ETHEREUM_STARGATE),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_carries_its_checksum() {
        let mut all: Vec<&str> = vec![
            HEMI_PORTAL,
            HEMI_L1_BRIDGE,
            HEMI_L1_MESSENGER,
            HEMI_OUTPUT_ORACLE,
            HEMI_L2_BRIDGE,
            HEMI_SUSHI_V2_ROUTER,
            ETHEREUM_SUSHI_V2_ROUTER,
            ETHEREUM_UNISWAP_V3_FACTORY,
            ETHEREUM_UNISWAP_V3_QUOTER_V2,
            ETHEREUM_UNISWAP_V3_ROUTER02,
        ];
        for list in [
            &HEMI_TOKENS[..],
            &ETHEREUM_TOKENS,
            &HEMI_STARGATE,
            &ETHEREUM_STARGATE,
        ] {
            all.extend(list.iter().map(|(_, a)| *a));
        }
        for text in all {
            let a = checksummed("test", text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(a.to_checksum(None), text, "written in its EIP-55 form");
            assert_ne!(a, Address::ZERO);
        }
    }

    #[test]
    fn the_defaults_are_the_references_addresses() {
        let hemi = defaults(Chain::Hemi);
        let eth = defaults(Chain::Ethereum);
        // Spot checks against evm.md, in full, so a swapped row shows.
        assert_eq!(
            hemi.tokens[&TokenId::Wbtc].to_checksum(None),
            "0x03C7054BCB39f7b2e5B2c7AcB37583e32D70Cfa3"
        );
        assert_eq!(
            eth.tokens[&TokenId::Wbtc].to_checksum(None),
            "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"
        );
        assert_eq!(
            eth.stargate[&TokenId::Usdc].to_checksum(None),
            "0xc026395860Db2d07ee33e05fE50ed7bD583189C7"
        );
        assert_eq!(hemi.tokens.len(), 8, "ETH is native: no address");
        assert!(!hemi.tokens.contains_key(&TokenId::Eth));
        assert_eq!(
            eth.tunnel.to_checksum(None),
            "0x39a0005415256B9863aFE2d55Edcf75ECc3A4D7e"
        );
        assert_eq!(
            hemi.tunnel.to_checksum(None),
            "0x4200000000000000000000000000000000000010"
        );
        let pins = tunnel_pins();
        assert_eq!(pins.portal_version, "2.5.0");
        assert_eq!(
            pins.oracle.to_checksum(None),
            "0x6daF3a3497D8abdFE12915aDD9829f83A79C0d51"
        );
    }
}
