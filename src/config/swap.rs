//! A chain's swap providers in `[evm.<chain>]`: their priority order
//! (`swap`, names), how one is picked (`swap_choose`), how long a failed one
//! rests (`swap_retry_after`), the V2 router's name (`router_name`; the
//! router is `router`), a Uniswap-V3-shaped deployment (`[evm.<chain>.v3]`),
//! the aggregators (`aggregator`: 0x, CowSwap, 1delta), and which provider is the
//! reference price for detection (`reference`).

use super::ConfigError;
pub use super::aggregator::{
    COW_SETTLEMENT, COW_VAULT_RELAYER, CowConfig, ONEDELTA_HEMI_TARGETS, OneDeltaConfig,
    ZEROX_ALLOWANCE_HOLDER, ZEROX_KEY_ENV, ZeroXConfig,
};
use super::aggregator::{read_cowswap, read_onedelta, read_zerox};
use super::evm::checksummed;
use super::mainnet::ChainDefaults;
use super::reader::Reader;
use crate::model::Chain;
use crate::model::time::SECOND;
use alloy::primitives::Address;

/// How a provider is picked among those whose quote holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SwapChoose {
    /// The first in priority order (the seed's way).
    #[default]
    First,
    /// The most out, net of the gas each expects (priced in the token out
    /// through the V2 router's ETH price of it; gross when it has none).
    Best,
}

/// A Uniswap V3 deployment (SushiSwap V3 is the same code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Config {
    pub name: String,
    pub factory: Address,
    pub quoter: Address,
    pub router: Address,
    /// Fee tiers to look in, in hundredths of a basis point (500 = 0.05 %).
    pub fees: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapConfig {
    /// Provider names, first asked first.
    pub order: Vec<String>,
    pub choose: SwapChoose,
    pub retry_after_ms: u64,
    /// The name the V2 router at `router` goes by.
    pub v2_name: String,
    pub v3: Option<V3Config>,
    pub zerox: Option<ZeroXConfig>,
    pub cowswap: Option<CowConfig>,
    pub onedelta: Option<OneDeltaConfig>,
    /// The provider whose quotes are the reference price for detection
    /// (seed 003 §7.1: Uniswap on Ethereum); `None`: the swap order's.
    pub reference: Option<String>,
}

/// The fee tiers V3 deployments offer (evm.md §2.2).
pub const V3_FEES: [u32; 4] = [100, 500, 3_000, 10_000];

impl SwapConfig {
    pub fn default_for(chain: Chain) -> SwapConfig {
        let v2_name = match chain {
            Chain::Hemi => "sushi_v2",
            Chain::Ethereum => "uniswap_v2",
        };
        SwapConfig {
            order: vec![v2_name.to_string()],
            choose: SwapChoose::First,
            retry_after_ms: 30 * SECOND,
            v2_name: v2_name.to_string(),
            v3: None,
            zerox: None,
            cowswap: None,
            onedelta: None,
            reference: None,
        }
    }

    fn v3_default_name(chain: Chain) -> &'static str {
        match chain {
            Chain::Hemi => "sushi_v3",
            Chain::Ethereum => "uniswap_v3",
        }
    }
}

/// Read the swap keys of one chain's table `t` (section name `s`).
pub(super) fn read_swap(
    r: &mut Reader,
    t: &toml::Table,
    s: &str,
    chain: Chain,
    defaults: Option<&ChainDefaults>,
) -> Result<SwapConfig, ConfigError> {
    let mut c = SwapConfig::default_for(chain);
    if let Some(d) = defaults {
        c.v2_name = d.v2_name.to_string();
        c.v3 = d.v3.clone();
    }
    if let Some(name) = r.string(t, s, "router_name")? {
        c.v2_name = name;
    }
    if let Some(v3) = r.section(t, "v3")? {
        let vs = format!("{s}.v3");
        r.seen.insert(vs.clone());
        let address = |r: &mut Reader, key: &str| -> Result<Address, ConfigError> {
            let full = format!("{vs}.{key}");
            let text = r
                .string(v3, &vs, key)?
                .ok_or_else(|| r.invalid(&full, "is required"))?;
            checksummed(&full, &text).map_err(|p| r.invalid(&full, p))
        };
        let factory = address(r, "factory")?;
        let quoter = address(r, "quoter")?;
        let router = address(r, "router")?;
        let name = r
            .string(v3, &vs, "name")?
            .unwrap_or_else(|| SwapConfig::v3_default_name(chain).to_string());
        let fees = match r.ints(v3, &vs, "fees")? {
            None => V3_FEES.to_vec(),
            Some(list) => {
                let key = format!("{vs}.fees");
                let mut fees = Vec::new();
                for f in list {
                    match u32::try_from(f) {
                        Ok(f) if V3_FEES.contains(&f) => fees.push(f),
                        _ => {
                            return Err(r.invalid(
                                &key,
                                format!("{f} is not a V3 fee tier (one of 100, 500, 3000, 10000)"),
                            ));
                        }
                    }
                }
                if fees.is_empty() {
                    return Err(r.invalid(&key, "must name at least one fee tier"));
                }
                fees
            }
        };
        if name == c.v2_name {
            return Err(r.invalid(
                &format!("{vs}.name"),
                format!("{name:?} is the V2 router's name too"),
            ));
        }
        c.v3 = Some(V3Config {
            name,
            factory,
            quoter,
            router,
            fees,
        });
    }
    c.zerox = read_zerox(r, t, s)?;
    c.cowswap = read_cowswap(r, t, s)?;
    c.onedelta = read_onedelta(r, t, s, chain == Chain::Hemi)?;
    // The default order (seed 003 §11): CowSwap, 0x, 1delta, then V3, then
    // the V2 router.
    let known: Vec<String> = c
        .cowswap
        .iter()
        .map(|c| c.name.clone())
        .chain(c.zerox.iter().map(|z| z.name.clone()))
        .chain(c.onedelta.iter().map(|o| o.name.clone()))
        .chain(c.v3.iter().map(|v| v.name.clone()))
        .chain(std::iter::once(c.v2_name.clone()))
        .collect();
    for (i, name) in known.iter().enumerate() {
        if known[..i].contains(name) {
            return Err(r.invalid(
                &format!("{s}.swap"),
                format!("two swap providers are named {name:?}; give one a `name`"),
            ));
        }
    }
    c.order = known.clone();
    if let Some(order) = r.strings(t, s, "swap")? {
        let key = format!("{s}.swap");
        if order.is_empty() {
            return Err(r.invalid(&key, "must name at least one swap provider"));
        }
        for (i, name) in order.iter().enumerate() {
            if !known.contains(name) {
                return Err(r.invalid(
                    &key,
                    format!(
                        "{name:?} is not a configured swap provider on this chain (configured: {})",
                        known.join(", ")
                    ),
                ));
            }
            if order[..i].contains(name) {
                return Err(r.invalid(&key, format!("{name:?} is listed twice")));
            }
        }
        c.order = order;
    }
    // Ethereum's reference is its Uniswap V3 deployment when there is one.
    c.reference = match chain {
        Chain::Ethereum => c.v3.as_ref().map(|v| v.name.clone()),
        Chain::Hemi => None,
    };
    if let Some(name) = r.string(t, s, "reference")? {
        if !known.contains(&name) {
            return Err(r.invalid(
                &format!("{s}.reference"),
                format!(
                    "{name:?} is not a configured swap provider on this chain (configured: {})",
                    known.join(", ")
                ),
            ));
        }
        c.reference = Some(name);
    }
    match r.string(t, s, "swap_choose")?.as_deref() {
        None | Some("first") => {}
        Some("best") => c.choose = SwapChoose::Best,
        Some(other) => {
            return Err(r.invalid(
                &format!("{s}.swap_choose"),
                format!("{other:?} is neither \"first\" nor \"best\""),
            ));
        }
    }
    if let Some(ms) = r.duration(t, s, "swap_retry_after")? {
        c.retry_after_ms = ms;
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use crate::config::{SwapChoose, parse};

    const BASE: &str = r#"
mode = "devnet"
[cross_chain_loop]
enabled = false
[evm.hemi]
rpc = "http://127.0.0.1:1"
router = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"
SWAP
[evm.ethereum]
rpc = "http://127.0.0.1:2"
router = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"
"#;

    const V3: &str = r#"[evm.hemi.v3]
factory = "0x1F98431c8aD98523631AE4a59f267346ea31F984"
quoter = "0x61fFE014bA17989E743c5F6cB21bF9697530B21e"
router = "0xE592427A0AEce92De3Edee1F18E0157C05861564"
fees = [500, 3000]
"#;

    fn with(swap: &str) -> String {
        BASE.replace("SWAP", swap)
    }

    #[test]
    fn the_v2_router_alone_is_the_default_and_v3_goes_first_when_configured() {
        let c = parse(&with("")).unwrap().evm.unwrap();
        assert_eq!(c.hemi.swap.order, vec!["sushi_v2"]);
        assert_eq!(c.ethereum.swap.order, vec!["uniswap_v2"]);
        let c = parse(&with(V3)).unwrap().evm.unwrap();
        assert_eq!(c.hemi.swap.order, vec!["sushi_v3", "sushi_v2"]);
        let v3 = c.hemi.swap.v3.unwrap();
        assert_eq!(v3.fees, vec![500, 3000]);
        assert_eq!(c.hemi.swap.choose, SwapChoose::First);
    }

    #[test]
    fn zerox_goes_first_when_configured_and_its_keys_are_checked() {
        let zx = "[evm.ethereum.zerox]\nbase_url = \"https://api.0x.org/\"\n";
        let text = format!("{}{zx}", with(""));
        let c = parse(&text).unwrap().evm.unwrap();
        assert_eq!(c.ethereum.swap.order, vec!["zerox", "uniswap_v2"]);
        let z = c.ethereum.swap.zerox.unwrap();
        assert_eq!(z.base_url, "https://api.0x.org");
        assert_eq!(z.allowance_holder, crate::config::ZEROX_ALLOWANCE_HOLDER);
        assert_eq!(
            (z.api_key_env.as_str(), z.slippage_bps),
            ("ZEROX_API_KEY", 50)
        );
        for (extra, key, says) in [
            ("", "evm.ethereum.zerox.base_url", "https"),
            (
                "api_key_env = \"my key\"\n",
                "evm.ethereum.zerox.api_key_env",
                "environment",
            ),
            (
                "slippage_bps = 0\n",
                "evm.ethereum.zerox.slippage_bps",
                "outside",
            ),
            ("api_key = \"abc\"\n", "evm.ethereum.zerox.api_key", ""),
        ] {
            let text = format!(
                "{}[evm.ethereum.zerox]\nbase_url = \"{}\"\n{extra}",
                with(""),
                if extra.is_empty() {
                    "http://api.0x.org"
                } else {
                    "https://api.0x.org"
                }
            );
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(says), "{extra}: {e}");
        }
        let text = format!(
            "{}[evm.ethereum.zerox]\nbase_url = \"http://127.0.0.1:9\"\n",
            with("")
        );
        assert!(parse(&text).is_ok(), "a loopback fake may be http");
    }

    #[test]
    fn onedelta_is_off_unless_its_section_is_there_and_then_precedes_sushi() {
        assert!(
            parse(&with(""))
                .unwrap()
                .evm
                .unwrap()
                .hemi
                .swap
                .onedelta
                .is_none()
        );
        let c = parse(&with(&format!("{V3}[evm.hemi.onedelta]\n")))
            .unwrap()
            .evm
            .unwrap();
        assert_eq!(c.hemi.swap.order, vec!["1delta", "sushi_v3", "sushi_v2"]);
        let o = c.hemi.swap.onedelta.unwrap();
        assert_eq!(o.base_url, crate::config::aggregator::ONEDELTA_URL);
        assert_eq!(o.targets, crate::config::ONEDELTA_HEMI_TARGETS.to_vec());
        assert_eq!(
            (o.api_key_env.as_str(), o.slippage_bps),
            ("ONEDELTA_API_KEY", 50)
        );
        // The defaults carry their EIP-55 checksums, as written in 1delta's docs.
        let named = "[evm.hemi.onedelta]\ntargets = [\"0x79f4061BF049c5c6CAC6bfe2415c2460815F4ac7\", \"0xfCa1154C643C32638AEe9a43eeE7f377f515c801\"]\n";
        let c = parse(&with(named)).unwrap().evm.unwrap();
        assert_eq!(
            c.hemi.swap.onedelta.unwrap().targets,
            crate::config::ONEDELTA_HEMI_TARGETS.to_vec()
        );
        // Only Hemi's contracts are documented: elsewhere they must be named.
        let text = format!("{}[evm.ethereum.onedelta]\n", with(""));
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("evm.ethereum.onedelta.targets"), "{e}");
        for (extra, key) in [
            (
                "base_url = \"http://portal.1delta.io\"\n",
                "evm.hemi.onedelta.base_url",
            ),
            (
                "targets = [\"0x79f4061bf049c5c6cac6bfe2415c2460815f4ac8\"]\n",
                "evm.hemi.onedelta.targets",
            ),
            ("targets = []\n", "evm.hemi.onedelta.targets"),
            ("slippage_bps = 5000\n", "evm.hemi.onedelta.slippage_bps"),
            ("api_key_env = \"x\"\n", "evm.hemi.onedelta.api_key_env"),
        ] {
            let e = parse(&with(&format!("[evm.hemi.onedelta]\n{extra}")))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{extra}: {e}");
        }
    }

    #[test]
    fn order_and_choice_are_checked_and_name_their_key() {
        let text = with(&format!(
            "swap = [\"sushi_v2\", \"sushi_v3\"]\nswap_choose = \"best\"\n{V3}"
        ));
        let c = parse(&text).unwrap().evm.unwrap();
        assert_eq!(c.hemi.swap.order, vec!["sushi_v2", "sushi_v3"]);
        assert_eq!(c.hemi.swap.choose, SwapChoose::Best);
        for (swap, key, says) in [
            (
                "swap = [\"cowswap\"]\n",
                "evm.hemi.swap",
                "not a configured swap provider",
            ),
            ("swap = []\n", "evm.hemi.swap", "at least one"),
            (
                "swap = [\"sushi_v2\", \"sushi_v2\"]\n",
                "evm.hemi.swap",
                "twice",
            ),
            (
                "swap_choose = \"cheapest\"\n",
                "evm.hemi.swap_choose",
                "neither",
            ),
        ] {
            let e = parse(&with(swap)).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(says), "{swap}: {e}");
        }
        let e = parse(&with(&V3.replace("[500, 3000]", "[400]")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("evm.hemi.v3.fees") && e.contains("400"), "{e}");
        let e = parse(&with(&V3.replace(
            "quoter = \"0x61fFE014bA17989E743c5F6cB21bF9697530B21e\"\n",
            "",
        )))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("evm.hemi.v3.quoter") && e.contains("required"),
            "{e}"
        );
        let e = parse(&with(&V3.replace(
            "0x61fFE014bA17989E743c5F6cB21bF9697530B21e",
            "0x61ffe014ba17989e743c5f6cb21bf9697530b21E",
        )))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("evm.hemi.v3.quoter") && e.contains("checksum"),
            "{e}"
        );
    }
}
