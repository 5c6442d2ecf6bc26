//! The aggregators' sections of a chain's swap providers: 0x's Swap API
//! v2 in its AllowanceHolder flow (`[evm.<chain>.zerox]`, its API key from
//! the environment variable it names) and CoW Protocol's orderbook
//! (`[evm.<chain>.cowswap]`), and 1delta's spot-swap API
//! (`[evm.<chain>.onedelta]`, UNVERIFIED per evm.md §1.6.3: off unless the
//! section is there). Each talks to a server we do not control, so each URL
//! must be https (or loopback, for a fake).

use super::ConfigError;
use super::evm::checksummed;
use super::reader::Reader;
use crate::model::time::SECOND;
use alloy::primitives::{Address, address};

/// 0x's Swap API v2, AllowanceHolder flow (evm.md §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeroXConfig {
    pub name: String,
    /// `https://api.0x.org` (or a loopback fake).
    pub base_url: String,
    /// The one contract approved and called; 0x's answers naming another
    /// `transaction.to` or spender are refused.
    pub allowance_holder: Address,
    /// The environment variable holding the API key (the key itself never
    /// appears in the config).
    pub api_key_env: String,
    /// Sent as `slippageBps`: the floor 0x writes into its calldata.
    pub slippage_bps: u32,
    pub timeout_ms: u64,
}

/// 0x's AllowanceHolder on Ethereum and most chains (0x-settler's
/// `ALLOWANCE_HOLDER` constant; evm.md §2.5).
pub const ZEROX_ALLOWANCE_HOLDER: Address = address!("0x0000000000001fF3684f28c67538d4D072C22734");
pub const ZEROX_KEY_ENV: &str = "ZEROX_API_KEY";

/// CoW Protocol's orderbook API and settlement (evm.md §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CowConfig {
    pub name: String,
    /// `https://api.cow.fi/mainnet` (or a loopback fake).
    pub base_url: String,
    /// The EIP-712 domain's verifying contract.
    pub settlement: Address,
    /// The one contract approved: it pulls the sell token at settlement.
    pub vault_relayer: Address,
    /// How long a signed order is valid (`validTo` = now + this).
    pub valid_for_ms: u64,
    /// The signed minimum is the quote less this (and never below the
    /// step's own minimum).
    pub slippage_bps: u32,
    pub timeout_ms: u64,
    /// How often an open order is looked at.
    pub poll_ms: u64,
    /// Orders may fill in parts (what filled by `validTo` is booked, the
    /// rest stays in the wallet); default fill-or-kill.
    pub partially_fillable: bool,
}

/// 1delta's spot-swap API (evm.md §1.6.3, UNVERIFIED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneDeltaConfig {
    pub name: String,
    /// `https://portal.1delta.io` (or a loopback fake).
    pub base_url: String,
    /// The only contracts its transaction may be addressed to and its
    /// allowance given to; anything else it names is refused.
    pub targets: Vec<Address>,
    /// The environment variable that may hold its API key (sent as
    /// `x-api-key` when set; the API works without one).
    pub api_key_env: String,
    /// Sent as `slippage` (basis points): the floor 1delta is asked to
    /// write into its calldata.
    pub slippage_bps: u32,
    pub timeout_ms: u64,
}

pub const ONEDELTA_URL: &str = "https://portal.1delta.io";
pub const ONEDELTA_KEY_ENV: &str = "ONEDELTA_API_KEY";
/// 1delta's composer on Hemi and its call forwarder on every chain
/// (1delta-DAO/docs `contract-addresses/summary.md`; evm.md §1.6.3).
pub const ONEDELTA_HEMI_TARGETS: [Address; 2] = [
    address!("0x79f4061BF049c5c6CAC6bfe2415c2460815F4ac7"),
    address!("0xfCa1154C643C32638AEe9a43eeE7f377f515c801"),
];

pub const COW_SETTLEMENT: Address = address!("0x9008D19f58AAbD9eD0D60971565AA8510560ab41");
pub const COW_VAULT_RELAYER: Address = address!("0xC92E8bdf79f0507f65a392b0ab4667716BFE0110");

fn base_url(
    r: &mut Reader,
    t: &toml::Table,
    s: &str,
    example: &str,
) -> Result<String, ConfigError> {
    let key = format!("{s}.base_url");
    let url = r
        .string(t, s, "base_url")?
        .ok_or_else(|| r.invalid(&key, format!("is required ({example})")))?;
    let url = url.trim_end_matches('/').to_string();
    if !url.starts_with("https://") && !crate::net::is_loopback_url(&url) {
        return Err(r.invalid(
            &key,
            format!("{url:?} must be https (or loopback, for a fake)"),
        ));
    }
    Ok(url)
}

/// The name of an environment variable holding a key, checked.
fn key_env(r: &mut Reader, t: &toml::Table, s: &str, default: &str) -> Result<String, ConfigError> {
    let name = r
        .string(t, s, "api_key_env")?
        .unwrap_or_else(|| default.to_string());
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(r.invalid(
            &format!("{s}.api_key_env"),
            format!("{name:?} is not an environment variable's name (A-Z, 0-9, _)"),
        ));
    }
    Ok(name)
}

fn slippage(r: &mut Reader, t: &toml::Table, s: &str) -> Result<u32, ConfigError> {
    match r.int(t, s, "slippage_bps")? {
        None => Ok(50),
        Some(bps) if (1..=1_000).contains(&bps) => Ok(bps as u32),
        Some(bps) => Err(r.invalid(
            &format!("{s}.slippage_bps"),
            format!("{bps} is outside 1..=1000 (0.01 % to 10 %)"),
        )),
    }
}

fn address_or(
    r: &mut Reader,
    t: &toml::Table,
    s: &str,
    k: &str,
    default: Address,
) -> Result<Address, ConfigError> {
    let key = format!("{s}.{k}");
    match r.string(t, s, k)? {
        None => Ok(default),
        Some(text) => checksummed(&key, &text).map_err(|p| r.invalid(&key, p)),
    }
}

/// `[<s>.zerox]`, when present.
pub(super) fn read_zerox(
    r: &mut Reader,
    t: &toml::Table,
    s: &str,
) -> Result<Option<ZeroXConfig>, ConfigError> {
    let Some(z) = r.section(t, "zerox")? else {
        return Ok(None);
    };
    let zs = format!("{s}.zerox");
    r.seen.insert(zs.clone());
    let base_url = base_url(r, z, &zs, "https://api.0x.org")?;
    let allowance_holder = address_or(r, z, &zs, "allowance_holder", ZEROX_ALLOWANCE_HOLDER)?;
    let api_key_env = key_env(r, z, &zs, ZEROX_KEY_ENV)?;
    let slippage_bps = slippage(r, z, &zs)?;
    let timeout_ms = r.duration(z, &zs, "timeout")?.unwrap_or(10 * SECOND);
    let name = r
        .string(z, &zs, "name")?
        .unwrap_or_else(|| "zerox".to_string());
    Ok(Some(ZeroXConfig {
        name,
        base_url,
        allowance_holder,
        api_key_env,
        slippage_bps,
        timeout_ms,
    }))
}

/// `[<s>.cowswap]`, when present.
pub(super) fn read_cowswap(
    r: &mut Reader,
    t: &toml::Table,
    s: &str,
) -> Result<Option<CowConfig>, ConfigError> {
    let Some(c) = r.section(t, "cowswap")? else {
        return Ok(None);
    };
    let cs = format!("{s}.cowswap");
    r.seen.insert(cs.clone());
    let base_url = base_url(r, c, &cs, "https://api.cow.fi/mainnet")?;
    let settlement = address_or(r, c, &cs, "settlement", COW_SETTLEMENT)?;
    let vault_relayer = address_or(r, c, &cs, "vault_relayer", COW_VAULT_RELAYER)?;
    let valid_for_ms = r.duration(c, &cs, "valid_for")?.unwrap_or(5 * 60 * SECOND);
    if !(30 * SECOND..=24 * 3600 * SECOND).contains(&valid_for_ms) {
        return Err(r.invalid(
            &format!("{cs}.valid_for"),
            "must be between 30s and 24h (the orderbook refuses shorter and longer)",
        ));
    }
    let slippage_bps = slippage(r, c, &cs)?;
    let timeout_ms = r.duration(c, &cs, "timeout")?.unwrap_or(10 * SECOND);
    let poll_ms = r
        .duration(c, &cs, "poll_interval")?
        .unwrap_or(2 * SECOND)
        .max(50);
    let partially_fillable = r.boolean(c, &cs, "partially_fillable")?.unwrap_or(false);
    let name = r
        .string(c, &cs, "name")?
        .unwrap_or_else(|| "cowswap".to_string());
    Ok(Some(CowConfig {
        name,
        base_url,
        settlement,
        vault_relayer,
        valid_for_ms,
        slippage_bps,
        timeout_ms,
        poll_ms,
        partially_fillable,
    }))
}

/// `[<s>.onedelta]`, when present; `hemi`: the chain is Hemi, where the
/// documented contracts are the default targets.
pub(super) fn read_onedelta(
    r: &mut Reader,
    t: &toml::Table,
    s: &str,
    hemi: bool,
) -> Result<Option<OneDeltaConfig>, ConfigError> {
    let Some(o) = r.section(t, "onedelta")? else {
        return Ok(None);
    };
    let os = format!("{s}.onedelta");
    r.seen.insert(os.clone());
    let base_url = match r.string(o, &os, "base_url")? {
        None => ONEDELTA_URL.to_string(),
        Some(_) => base_url(r, o, &os, ONEDELTA_URL)?,
    };
    let key = format!("{os}.targets");
    let targets = match r.strings(o, &os, "targets")? {
        Some(list) => {
            let mut targets = Vec::new();
            for text in list {
                targets.push(checksummed(&key, &text).map_err(|p| r.invalid(&key, p))?);
            }
            targets
        }
        None if hemi => ONEDELTA_HEMI_TARGETS.to_vec(),
        None => Vec::new(),
    };
    if targets.is_empty() {
        return Err(r.invalid(
            &key,
            "must name the contracts 1delta's transactions may go to (only Hemi's are documented)",
        ));
    }
    let api_key_env = key_env(r, o, &os, ONEDELTA_KEY_ENV)?;
    let slippage_bps = slippage(r, o, &os)?;
    let timeout_ms = r.duration(o, &os, "timeout")?.unwrap_or(10 * SECOND);
    let name = r
        .string(o, &os, "name")?
        .unwrap_or_else(|| "1delta".to_string());
    Ok(Some(OneDeltaConfig {
        name,
        base_url,
        targets,
        api_key_env,
        slippage_bps,
        timeout_ms,
    }))
}
