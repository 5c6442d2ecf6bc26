//! `[equity_hedge]`: the st0x hedge of Raindex fills at a broker: which
//! broker (`HedgeBroker`), the orderbook's version (`RaindexVersion`), the
//! orderbook chain's endpoints and contracts, and the symbols hedged. Whether it may run in a mode, and with which
//! broker account, is checked across sections (`Config::check_mode`).

use super::ConfigError;
use super::reader::Reader;
use crate::model::Mode;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Where the equity hedge places its orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HedgeBroker {
    /// The simulated broker in the data dir (fills at the quoted price).
    Paper,
    /// Charles Schwab (`[schwab]`, logged in with `arbkeep auth schwab`).
    Schwab,
    /// The Alpaca Broker API (`[alpaca]`, key and secret in the environment).
    Alpaca,
}

impl HedgeBroker {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paper => "paper",
            Self::Schwab => "schwab",
            Self::Alpaca => "alpaca",
        }
    }
}

/// Which Raindex orderbook interface the hedge reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaindexVersion {
    /// `IOrderBookV4`: `ClearV2` / `AfterClear` / `TakeOrderV2`, integer amounts.
    V4,
    /// `IOrderBookV5`: `ClearV3` / `AfterClearV2` / `TakeOrderV3`, Float amounts.
    V5,
    /// `IOrderBookV6` (st0x's `IRaindexV6`): V5's trade events, unchanged.
    V6,
}

impl RaindexVersion {
    /// The orderbook on Base the hedge reads when `orderbook` is not set:
    /// V4's, and V6's (st0x's production orderbook since Feb 2026). V5 has
    /// none: its address must be given.
    pub fn default_orderbook(self) -> Option<&'static str> {
        match self {
            Self::V4 => Some(V4_ORDERBOOK),
            Self::V5 => None,
            Self::V6 => Some("0xe522cB4a5fCb2eb31a52Ff41a4653d85A4fd7C9D"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V4 => "v4",
            Self::V5 => "v5",
            Self::V6 => "v6",
        }
    }
}

const V4_ORDERBOOK: &str = "0x52CEB8eBEf648744fFDDE89F7Bc9C3aC35944775";

/// `[equity_hedge]`: the st0x hedge of Raindex fills at a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquityHedgeConfig {
    /// Unset: on in paper mode, off elsewhere.
    pub enabled: Option<bool>,
    /// Unset: Schwab in live mode, the paper broker elsewhere.
    pub broker: Option<HedgeBroker>,
    /// The orderbook chain's RPC (devnet and live); its chain id is checked.
    pub rpc_url: Option<String>,
    pub ws_url: Option<String>,
    /// First block read on the first start; unset: the head at the first start.
    pub start_block: Option<u64>,
    /// Fills are acted on at this many confirmations (1 = mined).
    pub confirmations: u64,
    /// Largest block range of one `eth_getLogs`.
    pub log_chunk_blocks: u64,
    pub chain_id: u64,
    /// The Raindex orderbook whose logs are read (0x, 20 bytes).
    pub orderbook: String,
    /// Whose orders' fills are hedged.
    pub order_owner: String,
    /// Which events are read, and how their amounts are decoded.
    pub raindex_version: RaindexVersion,
    pub usdc: String,
    /// Tokenized-equity symbol patterns, one `*` each ("t*", "*0x").
    pub symbol_patterns: Vec<String>,
    /// Base ticker → broker ticker (corporate renames).
    pub remaps: BTreeMap<String, String>,
    /// After an unknown outcome, the order is looked for over this long
    /// (ms; the broker's listing lag) before anything is placed again.
    pub listing_window_ms: u64,
    /// Once the window has passed with the order absent, place it again by
    /// itself (audited, notified) instead of waiting for `arbkeep resolve`.
    pub replace_after_window: bool,
    /// The most shares one hedge order carries (a larger need is hedged in
    /// orders of this size, one after another).
    pub max_order_shares: u64,
    /// Past this many uncovered shares of one symbol, its hedging holds with
    /// an alarm instead of sending.
    pub max_exposure_shares: u64,
    /// Past this many uncovered shares over all symbols together, every
    /// symbol's hedging holds the same way (unset: no total guard).
    pub max_total_exposure_shares: Option<u64>,
    /// With a broker that takes fractional orders (`[alpaca] fractional`),
    /// the net is hedged, to the share's 9th place, once it is worth this
    /// many dollars at the newest onchain price (Alpaca's minimum is $1).
    pub min_fractional_order_usd: rust_decimal::Decimal,
    /// How often the broker's positions are compared with the books (ms).
    pub reconcile_interval_ms: u64,
    /// Unexplained comparisons in a row before a symbol's hedging stops.
    pub divergence_polls: u32,
}

impl EquityHedgeConfig {
    pub fn enabled_in(&self, mode: Mode) -> bool {
        self.enabled.unwrap_or(mode == Mode::Paper)
    }

    pub fn broker_in(&self, mode: Mode) -> HedgeBroker {
        self.broker.unwrap_or(match mode {
            Mode::Live => HedgeBroker::Schwab,
            Mode::Paper | Mode::Devnet => HedgeBroker::Paper,
        })
    }
}

impl Default for EquityHedgeConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            broker: None,
            rpc_url: None,
            ws_url: None,
            start_block: None,
            confirmations: 2,
            log_chunk_blocks: 500,
            chain_id: 8453,
            // The V4 orderbook on Base, and Base's native USDC.
            orderbook: V4_ORDERBOOK.into(),
            order_owner: "0x00000000000000000000000000000000000057a0".into(),
            raindex_version: RaindexVersion::V4,
            usdc: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913".into(),
            symbol_patterns: ["wt*", "t*", "*0x", "*s1"].map(String::from).to_vec(),
            remaps: BTreeMap::new(),
            listing_window_ms: 10 * crate::model::time::MINUTE,
            replace_after_window: false,
            max_order_shares: 1_000,
            max_exposure_shares: 10_000,
            max_total_exposure_shares: None,
            min_fractional_order_usd: rust_decimal::Decimal::ONE,
            reconcile_interval_ms: crate::model::time::MINUTE,
            divergence_polls: 3,
        }
    }
}

pub(super) fn read_equity_hedge(
    r: &mut Reader,
    t: &toml::Table,
    h: &mut EquityHedgeConfig,
) -> Result<(), ConfigError> {
    let s = "equity_hedge";
    if let Some(v) = r.boolean(t, s, "enabled")? {
        h.enabled = Some(v);
    }
    if let Some(v) = r.int(t, s, "chain_id")? {
        h.chain_id = v;
    }
    if let Some(v) = r.string(t, s, "broker")? {
        h.broker = Some(match v.as_str() {
            "paper" => HedgeBroker::Paper,
            "schwab" => HedgeBroker::Schwab,
            "alpaca" => HedgeBroker::Alpaca,
            _ => {
                return Err(r.invalid(
                    "equity_hedge.broker",
                    format!("{v:?}: expected \"paper\", \"schwab\" or \"alpaca\""),
                ));
            }
        });
    }
    for (key, scheme, field) in [
        ("rpc", ["http://", "https://"], &mut h.rpc_url),
        ("ws", ["ws://", "wss://"], &mut h.ws_url),
    ] {
        if let Some(v) = r.string(t, s, key)? {
            if !scheme.iter().any(|p| v.starts_with(p)) {
                return Err(r.invalid(
                    &format!("{s}.{key}"),
                    format!("{v:?} must start with {} or {}", scheme[0], scheme[1]),
                ));
            }
            *field = Some(v);
        }
    }
    if let Some(v) = r.int(t, s, "start_block")? {
        h.start_block = Some(v);
    }
    if let Some(v) = r.int(t, s, "confirmations")? {
        if v == 0 {
            return Err(r.invalid("equity_hedge.confirmations", "must be at least 1"));
        }
        h.confirmations = v;
    }
    if let Some(v) = r.int(t, s, "log_chunk_blocks")? {
        if v == 0 {
            return Err(r.invalid("equity_hedge.log_chunk_blocks", "must be at least 1"));
        }
        h.log_chunk_blocks = v;
    }
    for (key, field) in [
        ("orderbook", &mut h.orderbook),
        ("order_owner", &mut h.order_owner),
        ("usdc", &mut h.usdc),
    ] {
        if let Some(v) = r.string(t, s, key)? {
            alloy_primitives::Address::from_str(&v).map_err(|e| {
                r.invalid(
                    &format!("{s}.{key}"),
                    format!("{v:?} is not an address: {e}"),
                )
            })?;
            *field = v;
        }
    }
    if let Some(v) = r.string(t, s, "raindex_version")? {
        h.raindex_version = match v.as_str() {
            "v4" => RaindexVersion::V4,
            "v5" => RaindexVersion::V5,
            "v6" => RaindexVersion::V6,
            _ => {
                return Err(r.invalid(
                    "equity_hedge.raindex_version",
                    format!("{v:?}: expected \"v4\", \"v5\" or \"v6\""),
                ));
            }
        };
        // The orderbook follows the version unless it is given.
        if !t.contains_key("orderbook") {
            match h.raindex_version.default_orderbook() {
                Some(a) => h.orderbook = a.into(),
                None => {
                    return Err(r.invalid(
                        "equity_hedge.orderbook",
                        format!(
                            "is required with raindex_version = {v:?}: there is no default {v} orderbook"
                        ),
                    ));
                }
            }
        }
    }
    for (key, field) in [
        ("max_order_shares", &mut h.max_order_shares),
        ("max_exposure_shares", &mut h.max_exposure_shares),
    ] {
        if let Some(v) = r.int(t, s, key)? {
            if v == 0 {
                return Err(r.invalid(&format!("{s}.{key}"), "must be at least 1"));
            }
            *field = v;
        }
    }
    if let Some(v) = r.int(t, s, "max_total_exposure_shares")? {
        if v == 0 {
            return Err(r.invalid(
                "equity_hedge.max_total_exposure_shares",
                "must be at least 1 (leave it out for no total guard)",
            ));
        }
        h.max_total_exposure_shares = Some(v);
    }
    if let Some(v) = r.decimal(t, s, "min_fractional_order_usd")? {
        if v < rust_decimal::Decimal::ONE {
            return Err(r.invalid(
                "equity_hedge.min_fractional_order_usd",
                "must be at least 1 (Alpaca takes no fractional order under $1)",
            ));
        }
        h.min_fractional_order_usd = v;
    }
    if let Some(v) = r.duration(t, s, "reconcile_interval")? {
        if v == 0 {
            return Err(r.invalid("equity_hedge.reconcile_interval", "must be above 0"));
        }
        h.reconcile_interval_ms = v;
    }
    if let Some(v) = r.int(t, s, "divergence_polls")? {
        h.divergence_polls = u32::try_from(v)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| r.invalid("equity_hedge.divergence_polls", "must be 1 or more"))?;
    }
    if let Some(v) = r.strings(t, s, "symbol_patterns")? {
        h.symbol_patterns = v;
    }
    if let Some(v) = r.duration(t, s, "listing_window")? {
        if v == 0 {
            return Err(r.invalid(
                "equity_hedge.listing_window",
                "must be above 0: an order just placed may not be listed yet",
            ));
        }
        h.listing_window_ms = v;
    }
    if let Some(v) = r.boolean(t, s, "replace_after_window")? {
        h.replace_after_window = v;
    }
    if let Some(remaps) = r.section(t, "remaps")? {
        r.seen.insert("equity_hedge.remaps".into());
        for (from, to) in remaps {
            let key = format!("equity_hedge.remaps.{from}");
            r.seen.insert(key.clone());
            let to = to
                .as_str()
                .ok_or_else(|| r.invalid(&key, "expected a ticker string"))?;
            h.remaps.insert(from.clone(), to.to_string());
        }
    }
    crate::strategy::equity_hedge::symbol::SymbolMap::new(&h.symbol_patterns, h.remaps.clone())
        .map_err(|e| r.invalid("equity_hedge.symbol_patterns", e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn hedge_keys_are_checked() {
        let e = parse("[equity_hedge]\nbroker = \"schwab\"\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.broker"), "paper: {e}");
        let e = parse("[equity_hedge]\nbroker = \"ibkr\"\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.broker"), "{e}");
        let e = parse("[equity_hedge]\nrpc = \"base.example\"\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.rpc"), "{e}");
        for key in [
            "max_order_shares",
            "max_exposure_shares",
            "max_total_exposure_shares",
            "min_fractional_order_usd",
        ] {
            let e = parse(&format!("[equity_hedge]\n{key} = 0\n")).unwrap_err();
            assert!(
                e.to_string().contains(&format!("equity_hedge.{key}")),
                "{e}"
            );
        }
        let c = parse("[equity_hedge]\nmax_order_shares = 50\n").unwrap();
        assert_eq!(
            (
                c.equity_hedge.max_order_shares,
                c.equity_hedge.max_exposure_shares
            ),
            (50, 10_000)
        );
        for bad in ["reconcile_interval = \"0s\"", "divergence_polls = 0"] {
            let e = parse(&format!("[equity_hedge]\n{bad}\n")).unwrap_err();
            let key = bad.split(' ').next().unwrap_or_default();
            assert!(
                e.to_string().contains(&format!("equity_hedge.{key}")),
                "{e}"
            );
        }
        let e = parse("[equity_hedge]\nconfirmations = 0\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.confirmations"), "{e}");
        let c = parse("[equity_hedge]\nlisting_window = \"3m\"\nreplace_after_window = true\n")
            .unwrap();
        assert_eq!(c.equity_hedge.listing_window_ms, 3 * 60_000);
        assert!(c.equity_hedge.replace_after_window);
        let d = parse("").unwrap();
        assert_eq!(d.equity_hedge.listing_window_ms, 10 * 60_000);
        assert!(!d.equity_hedge.replace_after_window);
        let e = parse("[equity_hedge]\nlisting_window = \"0s\"\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.listing_window"), "{e}");
        let c = parse("[equity_hedge]\nstart_block = 123\nws = \"wss://base.example\"\n").unwrap();
        assert_eq!(c.equity_hedge.start_block, Some(123));
        assert_eq!(c.equity_hedge.broker_in(Mode::Devnet), HedgeBroker::Paper);
    }

    #[test]
    fn the_raindex_version_picks_its_orderbook_unless_one_is_given() {
        let d = parse("").unwrap();
        assert_eq!(d.equity_hedge.raindex_version, RaindexVersion::V4);
        assert_eq!(d.equity_hedge.orderbook, V4_ORDERBOOK);
        let v6 = parse("[equity_hedge]\nraindex_version = \"v6\"\n").unwrap();
        assert_eq!(v6.equity_hedge.raindex_version, RaindexVersion::V6);
        assert_eq!(
            v6.equity_hedge.orderbook,
            "0xe522cB4a5fCb2eb31a52Ff41a4653d85A4fd7C9D"
        );
        let mine = "0x1111111111111111111111111111111111111111";
        let given = parse(&format!(
            "[equity_hedge]\nraindex_version = \"v6\"\norderbook = \"{mine}\"\n"
        ))
        .unwrap();
        assert_eq!(given.equity_hedge.orderbook, mine);
        // V5 has no default: the address must be given, and the error says so.
        let e = parse("[equity_hedge]\nraindex_version = \"v5\"\n").unwrap_err();
        assert!(e.to_string().contains("equity_hedge.orderbook"), "{e}");
        let v5 = parse(&format!(
            "[equity_hedge]\nraindex_version = \"v5\"\norderbook = \"{mine}\"\n"
        ))
        .unwrap();
        assert_eq!(v5.equity_hedge.raindex_version, RaindexVersion::V5);
        let e = parse("[equity_hedge]\nraindex_version = \"v7\"\n").unwrap_err();
        assert!(
            e.to_string().contains("equity_hedge.raindex_version"),
            "{e}"
        );
    }
}
