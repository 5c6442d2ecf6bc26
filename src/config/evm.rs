//! `[evm]`: the EVM adapters (devnet and live): confirmations, fee
//! ceilings (gas, and what a Stargate send may cost), timeouts and
//! countdowns, and `[evm.hemi]` / `[evm.ethereum]` (`EvmChainConfig`),
//! each chain's endpoints and contract addresses — its tokens and its
//! Stargate V2 pool or OFT per token (`[evm.<chain>.stargate]`) — every
//! address EIP-55 checked (`checksummed`); its swap providers are read by
//! `swap`.

use super::ConfigError;
use super::mainnet::{self, ChainDefaults, TunnelPins};
use super::reader::Reader;
use super::swap::SwapConfig;
use crate::model::time::{MINUTE, SECOND};
use crate::model::{Chain, Mode, TokenId, from_decimal};
use alloy::primitives::Address;
use std::collections::BTreeMap;
use std::str::FromStr;

/// One chain's endpoints and contract addresses, every address EIP-55 checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmChainConfig {
    pub chain_id: u64,
    pub rpc_url: String,
    pub ws_url: Option<String>,
    /// LayerZero endpoint id of this chain (Stargate messages name it).
    pub eid: u32,
    /// Uniswap-V2-style router02 (the swap provider named `swap.v2_name`).
    pub router: Address,
    /// Stargate V2 per token (`[evm.<chain>.stargate]`): ETH's
    /// `StargatePoolNative`, USDC's `StargatePoolUSDC` (Ethereum) or
    /// `StargateOFTUSDC` (Hemi). A token without one never goes by Stargate.
    pub stargate: BTreeMap<TokenId, Address>,
    /// Hemi: the tunnel's L2 bridge; Ethereum: its portal.
    pub tunnel: Option<Address>,
    /// ERC-20 per token (ETH is native and has none; WETH is the router's).
    pub tokens: BTreeMap<TokenId, Address>,
    /// The swap providers, in priority order.
    pub swap: SwapConfig,
}

impl EvmChainConfig {
    pub fn token(&self, token: TokenId) -> Option<Address> {
        self.tokens.get(&token).copied()
    }

    /// The Stargate pool or OFT that carries `token` from or to this chain.
    pub fn stargate(&self, token: TokenId) -> Option<Address> {
        self.stargate.get(&token).copied()
    }

    /// Every contract this chain's table names but its tokens, each with
    /// its key under `section` (`evm.hemi`): what must have code at start.
    pub fn contracts(&self, section: &str) -> Vec<(String, Address)> {
        let mut out = vec![(format!("{section}.router"), self.router)];
        out.extend(self.tunnel.map(|a| (format!("{section}.tunnel"), a)));
        for (token, a) in &self.stargate {
            out.push((format!("{section}.stargate.{}", token.symbol()), *a));
        }
        if let Some(v3) = &self.swap.v3 {
            for (key, a) in [
                ("factory", v3.factory),
                ("quoter", v3.quoter),
                ("router", v3.router),
            ] {
                out.push((format!("{section}.v3.{key}"), a));
            }
        }
        if let Some(z) = &self.swap.zerox {
            out.push((
                format!("{section}.zerox.allowance_holder"),
                z.allowance_holder,
            ));
        }
        if let Some(o) = &self.swap.onedelta {
            for a in &o.targets {
                out.push((format!("{section}.onedelta.targets"), *a));
            }
        }
        if let Some(cow) = &self.swap.cowswap {
            out.push((format!("{section}.cowswap.settlement"), cow.settlement));
            out.push((
                format!("{section}.cowswap.vault_relayer"),
                cow.vault_relayer,
            ));
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmConfig {
    pub hemi: EvmChainConfig,
    pub ethereum: EvmChainConfig,
    /// Receipts and logs are acted on at this many confirmations (1 = mined).
    pub confirmations: u64,
    /// A transaction not mined after this many blocks is replaced with both
    /// its fee cap and its tip raised by at least 10 %.
    pub replace_after_blocks: u64,
    /// Ceilings of the EIP-1559 fee cap and tip, in wei.
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    /// A send not confirmed after this long answers "outcome unknown".
    pub tx_timeout_ms: u64,
    /// Every RPC call's timeout.
    pub rpc_timeout_ms: u64,
    /// How often a waiting transaction or a log stream is polled.
    pub poll_interval_ms: u64,
    /// Largest block range of one `eth_getLogs`.
    pub log_chunk_blocks: u64,
    /// A chain whose head has not moved for this long is a fault.
    pub silent_after_ms: u64,
    /// Expected Stargate delivery time, for countdowns.
    pub stargate_delay_ms: u64,
    /// A Stargate send whose LayerZero native fee (`quoteSend`) is above
    /// this many wei is refused (`max_stargate_native_fee`, in ETH).
    pub max_stargate_native_fee: u128,
    /// A Stargate send whose `quoteOFT` delivers less than the amount minus
    /// this many basis points is refused (`max_stargate_fee_bps`).
    pub max_stargate_fee_bps: u32,
    /// Approve exactly what a step spends (default), never an unlimited allowance.
    pub unlimited_approvals: bool,
    /// Live mode on Hemi's mainnet tunnel as arbkeep ships it (neither
    /// tunnel address set): what its two ends must lead to, checked at start.
    pub tunnel_pins: Option<TunnelPins>,
    /// The LayerZero Scan API's base URL (`layerzero_scan`, e.g.
    /// `https://scan.layerzero-api.com/v1`), off when absent: a second
    /// source on Stargate transfers in flight, shown to the operator; it
    /// never credits an arrival (only the destination's `OFTReceived` does).
    pub layerzero_scan: Option<String>,
}

impl Default for EvmConfig {
    fn default() -> Self {
        let chain = |chain: Chain, eid: u32| EvmChainConfig {
            chain_id: chain.chain_id(),
            rpc_url: String::new(),
            ws_url: None,
            eid,
            router: Address::ZERO,
            stargate: BTreeMap::new(),
            tunnel: None,
            tokens: BTreeMap::new(),
            swap: SwapConfig::default_for(chain),
        };
        EvmConfig {
            hemi: chain(Chain::Hemi, 30_329),
            ethereum: chain(Chain::Ethereum, 30_101),
            confirmations: 2,
            replace_after_blocks: 3,
            max_fee_per_gas: 500_000_000_000,
            max_priority_fee_per_gas: 50_000_000_000,
            tx_timeout_ms: 5 * MINUTE,
            rpc_timeout_ms: 10 * SECOND,
            poll_interval_ms: 250,
            log_chunk_blocks: 500,
            silent_after_ms: MINUTE,
            stargate_delay_ms: 5 * MINUTE,
            max_stargate_native_fee: 5_000_000_000_000_000,
            max_stargate_fee_bps: 50,
            unlimited_approvals: false,
            tunnel_pins: None,
            layerzero_scan: None,
        }
    }
}

/// A configured address, refused unless it carries its EIP-55 checksum.
pub fn checksummed(key: &str, text: &str) -> Result<Address, String> {
    let text = text.trim();
    match Address::parse_checksummed(text, None) {
        Ok(a) => Ok(a),
        Err(_) => match Address::from_str(text) {
            Ok(a) => Err(format!(
                "{text} fails its EIP-55 checksum (the checksummed form is {}); \
                 check that {key} is the address you meant",
                a.to_checksum(None)
            )),
            Err(_) => Err(format!("{text:?} is not an address (0x and 40 hex digits)")),
        },
    }
}

impl EvmConfig {
    fn read(r: &mut Reader, t: &toml::Table, mode: Mode) -> Result<EvmConfig, ConfigError> {
        let s = "evm";
        let mut e = EvmConfig::default();
        for (key, field) in [
            ("confirmations", &mut e.confirmations),
            ("replace_after_blocks", &mut e.replace_after_blocks),
            ("log_chunk_blocks", &mut e.log_chunk_blocks),
        ] {
            if let Some(v) = r.int(t, s, key)? {
                if v == 0 {
                    return Err(r.invalid(&format!("evm.{key}"), "must be at least 1"));
                }
                *field = v;
            }
        }
        for (key, field, decimals) in [
            ("max_fee_gwei", &mut e.max_fee_per_gas, 9),
            ("max_priority_fee_gwei", &mut e.max_priority_fee_per_gas, 9),
            (
                "max_stargate_native_fee",
                &mut e.max_stargate_native_fee,
                18,
            ),
        ] {
            if let Some(v) = r.decimal(t, s, key)? {
                *field = from_decimal(v, decimals)
                    .map_err(|p| r.invalid(&format!("evm.{key}"), p.to_string()))?;
            }
        }
        if let Some(v) = r.int(t, s, "max_stargate_fee_bps")? {
            e.max_stargate_fee_bps = u32::try_from(v)
                .ok()
                .filter(|bps| *bps < 10_000)
                .ok_or_else(|| r.invalid("evm.max_stargate_fee_bps", "must be below 10000"))?;
        }
        for (key, field) in [
            ("tx_timeout", &mut e.tx_timeout_ms),
            ("rpc_timeout", &mut e.rpc_timeout_ms),
            ("poll_interval", &mut e.poll_interval_ms),
            ("silent_after", &mut e.silent_after_ms),
            ("stargate_delay", &mut e.stargate_delay_ms),
        ] {
            if let Some(v) = r.duration(t, s, key)? {
                *field = v;
            }
        }
        // Written by `arbkeep devnet` before the tunnel's countdowns came from
        // the chain (the oracle's outputs and finalization period): still
        // read, so such files load, and ignored.
        let _ = r.duration(t, s, "tunnel_prove_delay")?;
        if let Some(v) = r.boolean(t, s, "unlimited_approvals")? {
            e.unlimited_approvals = v;
        }
        if let Some(url) = r.string(t, s, "layerzero_scan")? {
            e.layerzero_scan =
                Some(scan_url(&url).map_err(|p| r.invalid("evm.layerzero_scan", p))?);
        }
        // Live mode runs on mainnet: what the user leaves out is mainnet's.
        let defaults = |chain| (mode == Mode::Live).then(|| mainnet::defaults(chain));
        let hemi = e.hemi.clone();
        let (hemi, hemi_tunnel_set) =
            Self::read_chain(r, t, "hemi", hemi, defaults(Chain::Hemi).as_ref())?;
        e.hemi = hemi;
        let ethereum = e.ethereum.clone();
        let (ethereum, ethereum_tunnel_set) = Self::read_chain(
            r,
            t,
            "ethereum",
            ethereum,
            defaults(Chain::Ethereum).as_ref(),
        )?;
        e.ethereum = ethereum;
        if mode == Mode::Live && !hemi_tunnel_set && !ethereum_tunnel_set {
            e.tunnel_pins = Some(mainnet::tunnel_pins());
        }
        Ok(e)
    }

    /// One chain's table, what it leaves out taken from `defaults` (live
    /// mode: mainnet's); also whether it set `tunnel` itself.
    fn read_chain(
        r: &mut Reader,
        t: &toml::Table,
        name: &str,
        mut c: EvmChainConfig,
        defaults: Option<&ChainDefaults>,
    ) -> Result<(EvmChainConfig, bool), ConfigError> {
        let s = format!("evm.{name}");
        let Some(t) = r.section(t, name)? else {
            return Err(r.invalid(&s, "is required ([evm.hemi] and [evm.ethereum])"));
        };
        r.seen.insert(s.clone());
        if let Some(v) = r.int(t, &s, "chain_id")? {
            c.chain_id = v;
        }
        if let Some(v) = r.int(t, &s, "eid")? {
            c.eid = u32::try_from(v).map_err(|_| r.invalid(&format!("{s}.eid"), "too large"))?;
        }
        match r.string(t, &s, "rpc")? {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                c.rpc_url = url
            }
            Some(_) => return Err(r.invalid(&format!("{s}.rpc"), "must be an http(s):// URL")),
            None => return Err(r.invalid(&format!("{s}.rpc"), "is required")),
        }
        if let Some(url) = r.string(t, &s, "ws")? {
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                return Err(r.invalid(&format!("{s}.ws"), "must be a ws(s):// URL"));
            }
            c.ws_url = Some(url);
        }
        let address = |r: &mut Reader, key: &str| -> Result<Option<Address>, ConfigError> {
            let full = format!("{s}.{key}");
            match r.string(t, &s, key)? {
                None => Ok(None),
                Some(text) => checksummed(&full, &text)
                    .map(Some)
                    .map_err(|p| r.invalid(&full, p)),
            }
        };
        let router_set = t.contains_key("router");
        c.router = match (address(r, "router")?, defaults) {
            (Some(a), _) => a,
            (None, Some(d)) => d.router,
            (None, None) => return Err(r.invalid(&format!("{s}.router"), "is required")),
        };
        let chain = if name == "hemi" {
            Chain::Hemi
        } else {
            Chain::Ethereum
        };
        // The default router's name and V3 come with it; a router of the
        // user's keeps the generic defaults.
        let swap_defaults = defaults.filter(|_| !router_set);
        c.swap = super::swap::read_swap(r, t, &s, chain, swap_defaults)?;
        let tunnel = address(r, "tunnel")?;
        let tunnel_set = tunnel.is_some();
        c.tunnel = tunnel.or(defaults.map(|d| d.tunnel));
        let mut tokens = defaults.map(|d| d.tokens.clone()).unwrap_or_default();
        tokens.extend(address_table(r, t, &s, "tokens", |token| {
            token
                .is_native()
                .then_some("ETH is native and has no token address")
        })?);
        c.tokens = tokens;
        if let Some(toml::Value::String(_)) = t.get("stargate") {
            return Err(r.invalid(
                &format!("{s}.stargate"),
                format!(
                    "is a table of Stargate V2 pools per token: [{s}.stargate] with ETH = \"0x…\" \
                     (StargatePoolNative) and USDC = \"0x…\" (StargatePoolUSDC or StargateOFTUSDC)"
                ),
            ));
        }
        let mut stargate = defaults.map(|d| d.stargate.clone()).unwrap_or_default();
        stargate.extend(address_table(r, t, &s, "stargate", |token| {
            (token == TokenId::Weth)
                .then_some("WETH has no Stargate pool: ETH goes by StargatePoolNative (key ETH)")
        })?);
        c.stargate = stargate;
        Ok((c, tunnel_set))
    }
}

/// The LayerZero Scan API's base URL: https (or loopback, for a fake),
/// without a query, fragment or credentials; its trailing `/` dropped.
fn scan_url(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    let u = reqwest::Url::parse(text).map_err(|_| {
        format!("{text:?} is not a URL (e.g. \"https://scan.layerzero-api.com/v1\")")
    })?;
    if u.scheme() != "https" && !(u.scheme() == "http" && crate::net::is_loopback(&u)) {
        return Err(format!("{text:?} must be https (or loopback, for a fake)"));
    }
    if u.query().is_some()
        || u.fragment().is_some()
        || !u.username().is_empty()
        || u.password().is_some()
    {
        return Err(format!(
            "{text:?} must be a base URL without a query, fragment or credentials"
        ));
    }
    Ok(text.to_string())
}

/// `[<s>.<name>]`: an EIP-55 address per token symbol, `refuse` saying why
/// a token may not appear there; every error names its key.
fn address_table(
    r: &mut Reader,
    t: &toml::Table,
    s: &str,
    name: &str,
    refuse: impl Fn(TokenId) -> Option<&'static str>,
) -> Result<BTreeMap<TokenId, Address>, ConfigError> {
    let mut out = BTreeMap::new();
    let Some(table) = r.section(t, name)? else {
        return Ok(out);
    };
    let ts = format!("{s}.{name}");
    r.seen.insert(ts.clone());
    for (symbol, value) in table {
        let key = format!("{ts}.{symbol}");
        r.seen.insert(key.clone());
        let token = TokenId::from_str(symbol).map_err(|e| r.invalid(&key, e.to_string()))?;
        if let Some(why) = refuse(token) {
            return Err(r.invalid(&key, why));
        }
        let text = value
            .as_str()
            .ok_or_else(|| r.invalid(&key, "expected an address string"))?;
        let a = checksummed(&key, text).map_err(|p| r.invalid(&key, p))?;
        out.insert(token, a);
    }
    Ok(out)
}

/// `[evm]`, with `[evm.hemi]` and `[evm.ethereum]` both required.
pub(super) fn read_evm(
    r: &mut Reader,
    t: &toml::Table,
    mode: Mode,
) -> Result<EvmConfig, ConfigError> {
    EvmConfig::read(r, t, mode)
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::model::TokenId;

    const EVM: &str = r#"
mode = "devnet"
[cross_chain_loop]
tokens = ["ETH", "WBTC"]
[evm]
confirmations = 3
max_fee_gwei = "120.5"
max_stargate_native_fee = "0.002"
[evm.hemi]
rpc = "http://127.0.0.1:1"
router = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"
[evm.hemi.tokens]
VCRED = "0x71881974e96152643C74A8e0214B877CfB2A0Aa1"
[evm.hemi.stargate]
ETH = "0x2F6F07CDcf3588944Bf4C42aC74ff24bF56e7590"
USDC = "0x45f1A95A4D3f3836523F5c83673c797f4d4d263B"
[evm.ethereum]
rpc = "http://127.0.0.1:2"
router = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"
[evm.ethereum.stargate]
ETH = "0x77b2043768d28E9C9aB44E1aBfC95944bcE57931"
USDC = "0xc026395860Db2d07ee33e05fE50ed7bD583189C7"
"#;

    #[test]
    fn stargate_is_a_checked_table_per_token() {
        let e = parse(EVM).unwrap().evm.unwrap();
        assert_eq!(e.max_stargate_native_fee, 2_000_000_000_000_000);
        assert_eq!(e.max_stargate_fee_bps, 50);
        assert_eq!(
            e.hemi.stargate(TokenId::Eth).unwrap().to_checksum(None),
            "0x2F6F07CDcf3588944Bf4C42aC74ff24bF56e7590"
        );
        assert_eq!(
            e.ethereum
                .stargate(TokenId::Usdc)
                .unwrap()
                .to_checksum(None),
            "0xc026395860Db2d07ee33e05fE50ed7bD583189C7"
        );
        assert_eq!(e.hemi.stargate(TokenId::HemiBtc), None);
        // The old single address is refused with the table's shape.
        let old = EVM
            .replace(
                "[evm.hemi.stargate]\nETH = \"0x2F6F07CDcf3588944Bf4C42aC74ff24bF56e7590\"\nUSDC = \"0x45f1A95A4D3f3836523F5c83673c797f4d4d263B\"\n",
                "",
            )
            .replace(
                "[evm.hemi.tokens]",
                "stargate = \"0x2F6F07CDcf3588944Bf4C42aC74ff24bF56e7590\"\n[evm.hemi.tokens]",
            );
        let err = parse(&old).unwrap_err().to_string();
        assert!(
            err.contains("evm.hemi.stargate") && err.contains("table"),
            "{err}"
        );
        let bad = EVM.replace(
            "0xc026395860Db2d07ee33e05fE50ed7bD583189C7",
            "0xc026395860db2d07ee33e05fe50ed7bd583189c7",
        );
        let err = parse(&bad).unwrap_err().to_string();
        assert!(err.contains("evm.ethereum.stargate.USDC"), "{err}");
        let weth = EVM.replace("[evm.hemi.stargate]\nETH", "[evm.hemi.stargate]\nWETH");
        let err = parse(&weth).unwrap_err().to_string();
        assert!(err.contains("evm.hemi.stargate.WETH"), "{err}");
    }

    #[test]
    fn a_stargate_route_without_its_pool_is_refused_by_the_key_to_add() {
        // hemiBTC goes by Stargate by default; this config has no pool for it.
        let text = EVM.replace(
            r#"tokens = ["ETH", "WBTC"]"#,
            r#"tokens = ["ETH", "hemiBTC"]"#,
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("evm.hemi.stargate.hemiBTC"), "{err}");
        // USDC always comes back by Stargate.
        let text = EVM.replace(
            "USDC = \"0xc026395860Db2d07ee33e05fE50ed7bD583189C7\"\n",
            "",
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("evm.ethereum.stargate.USDC"), "{err}");
        // Routed by the tunnel instead, it needs none.
        let text = EVM.replace(
            r#"tokens = ["ETH", "WBTC"]"#,
            "tokens = [\"ETH\", \"hemiBTC\"]\n[cross_chain_loop.routes]\nhemiBTC = \"hemi_tunnel\"",
        );
        parse(&text).unwrap();
    }

    #[test]
    fn evm_section_parses_with_checksummed_addresses() {
        let c = parse(EVM).unwrap();
        let e = c.evm.unwrap();
        assert_eq!(e.confirmations, 3);
        assert_eq!(e.max_fee_per_gas, 120_500_000_000);
        assert_eq!((e.hemi.chain_id, e.ethereum.chain_id), (43_111, 1));
        assert_eq!(
            e.hemi.token(TokenId::Vcred).unwrap().to_checksum(None),
            "0x71881974e96152643C74A8e0214B877CfB2A0Aa1"
        );
    }

    #[test]
    fn a_bad_checksum_is_refused_with_the_right_form() {
        // The seed's VCRED address (evm.md §0): not a valid checksum.
        let text = EVM.replace(
            "0x71881974e96152643C74A8e0214B877CfB2A0Aa1",
            "0x390D9C7c5b48dB6d15D76b96D1D8a9bfD94d93B0",
        );
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("evm.hemi.tokens.VCRED"), "{e}");
        assert!(e.contains("fails its EIP-55 checksum"), "{e}");
        assert!(
            e.contains("0x390D9C7C5B48Db6D15d76B96D1d8a9bfd94d93b0"),
            "{e}"
        );
        let e = parse(&EVM.replace("0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D", "0x7a25"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("evm.hemi.router") && e.contains("not an address"),
            "{e}"
        );
    }

    #[test]
    fn layerzero_scan_is_off_unless_set_and_a_bad_url_names_its_key() {
        assert_eq!(parse(EVM).unwrap().evm.unwrap().layerzero_scan, None);
        let with = |url: &str| {
            parse(&EVM.replace(
                "confirmations = 3",
                &format!("confirmations = 3\nlayerzero_scan = \"{url}\""),
            ))
        };
        let e = with("https://scan.layerzero-api.com/v1/")
            .unwrap()
            .evm
            .unwrap();
        assert_eq!(
            e.layerzero_scan.as_deref(),
            Some("https://scan.layerzero-api.com/v1")
        );
        let fake = with("http://127.0.0.1:4242").unwrap().evm.unwrap();
        assert_eq!(
            fake.layerzero_scan.as_deref(),
            Some("http://127.0.0.1:4242")
        );
        for (bad, why) in [
            ("http://scan.layerzero-api.com/v1", "https"),
            ("scan.layerzero-api.com", "not a URL"),
            ("https://scan.layerzero-api.com/v1?key=1", "without a query"),
            ("https://me:pw@scan.layerzero-api.com/v1", "credentials"),
        ] {
            let err = with(bad).unwrap_err().to_string();
            assert!(
                err.contains("evm.layerzero_scan") && err.contains(why),
                "{bad}: {err}"
            );
        }
        // Live mode leaves it off too.
        let live = parse(&EVM.replace("mode = \"devnet\"", "mode = \"live\""))
            .unwrap()
            .evm
            .unwrap();
        assert_eq!(live.layerzero_scan, None);
    }

    #[test]
    fn devnet_mode_needs_an_evm_section() {
        let e = parse("mode = \"devnet\"\n").unwrap_err().to_string();
        assert!(e.contains("`evm`"), "{e}");
        let e = parse(&EVM.replace("[evm.ethereum]", "[evm.nowhere]")).unwrap_err();
        assert!(e.to_string().contains("evm.ethereum"), "{e}");
        let e = parse(&EVM.replace("confirmations = 3", "confirmation = 3")).unwrap_err();
        assert!(e.to_string().contains("evm.confirmation"), "{e}");
    }
}
