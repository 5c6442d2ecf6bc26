//! `[cross_chain_loop]`: the Hemi ⇄ Ethereum loop's tokens, its sizing and
//! profit limits, its quoting, and `[cross_chain_loop.routes]`, the bridge
//! each token leaves Hemi by.

use super::ConfigError;
use super::reader::Reader;
use crate::model::time::{MINUTE, SECOND};
use crate::model::{Route, SizingMode, TokenId, Units, from_decimal};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopConfig {
    pub enabled: bool,
    pub tokens: Vec<TokenId>,
    pub routes: BTreeMap<TokenId, Route>,
    pub min_swap_vcred: Units,
    pub max_swap_vcred_soft_cap: Units,
    pub min_profit_vcred: Decimal,
    pub start_size_vcred: Units,
    pub size_granularity_vcred: Units,
    pub slippage_bps: u32,
    pub sizing: SizingMode,
    pub quote_cache_ttl_ms: u64,
    /// Quote calls one sizing decision may spend.
    pub quote_budget: u32,
    /// Small-size price gap needed before sizing is attempted.
    pub min_edge_bps: i64,
    /// How long an opportunity waiting for approval stays valid.
    pub opportunity_ttl_ms: u64,
    pub max_cycles_per_token: u32,
}

impl LoopConfig {
    pub fn route(&self, token: TokenId) -> Route {
        self.routes
            .get(&token)
            .copied()
            .unwrap_or_else(|| default_route(token))
    }
}

/// The route a token leaves Hemi by unless configured.
pub fn default_route(token: TokenId) -> Route {
    match token {
        TokenId::Eth | TokenId::HemiBtc => Route::Stargate,
        _ => Route::HemiTunnel,
    }
}

fn vcred(whole: u64) -> Units {
    u128::from(whole) * TokenId::Vcred.one()
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            enabled: true,
            tokens: TokenId::LOOP.to_vec(),
            routes: TokenId::LOOP
                .iter()
                .map(|t| (*t, default_route(*t)))
                .collect(),
            min_swap_vcred: vcred(100),
            max_swap_vcred_soft_cap: vcred(50_000),
            min_profit_vcred: Decimal::ONE,
            start_size_vcred: vcred(1_000),
            size_granularity_vcred: vcred(1),
            slippage_bps: 50,
            sizing: SizingMode::MaxProfit,
            quote_cache_ttl_ms: 10 * SECOND,
            quote_budget: 24,
            min_edge_bps: 50,
            opportunity_ttl_ms: 5 * MINUTE,
            max_cycles_per_token: 3,
        }
    }
}

/// `[cross_chain_loop]` and `[cross_chain_loop.routes]`; the size limits
/// are checked against each other once all are read.
pub(super) fn read_cross_chain_loop(
    r: &mut Reader,
    t: &toml::Table,
    l: &mut LoopConfig,
) -> Result<(), ConfigError> {
    let s = "cross_chain_loop";
    if let Some(v) = r.boolean(t, s, "enabled")? {
        l.enabled = v;
    }
    if let Some(list) = r.strings(t, s, "tokens")? {
        let mut tokens = Vec::new();
        for name in list {
            let token = TokenId::from_str(&name)
                .map_err(|e| r.invalid("cross_chain_loop.tokens", e.to_string()))?;
            if !TokenId::LOOP.contains(&token) {
                return Err(r.invalid(
                            "cross_chain_loop.tokens",
                            format!("{token} cannot be traded by the loop (ETH, WBTC, hemiBTC, cbBTC, XAUt, VUSD)"),
                        ));
            }
            if !tokens.contains(&token) {
                tokens.push(token);
            }
        }
        l.tokens = tokens;
    }
    for (key, vcred_field) in [
        ("min_swap_vcred", &mut l.min_swap_vcred),
        ("max_swap_vcred_soft_cap", &mut l.max_swap_vcred_soft_cap),
        ("start_size_vcred", &mut l.start_size_vcred),
        ("size_granularity_vcred", &mut l.size_granularity_vcred),
    ] {
        if let Some(v) = r.decimal(t, s, key)? {
            *vcred_field =
                from_decimal(v, 6).map_err(|e| r.invalid(&format!("{s}.{key}"), e.to_string()))?;
        }
    }
    if let Some(v) = r.decimal(t, s, "min_profit_vcred")? {
        l.min_profit_vcred = v;
    }
    if let Some(v) = r.int(t, s, "slippage_bps")? {
        if v == 0 || v > 1_000 {
            return Err(r.invalid(
                "cross_chain_loop.slippage_bps",
                "must be 1 to 1000 (0.01 % to 10 %)",
            ));
        }
        l.slippage_bps = u32::try_from(v)
            .map_err(|_| r.invalid("cross_chain_loop.slippage_bps", "must be 1 to 1000"))?;
    }
    if let Some(v) = r.string(t, s, "sizing")? {
        l.sizing = match v.as_str() {
            "max_profit" => SizingMode::MaxProfit,
            "max_size" => SizingMode::MaxSize,
            _ => {
                return Err(r.invalid(
                    "cross_chain_loop.sizing",
                    "expected \"max_profit\" or \"max_size\"",
                ));
            }
        };
    }
    if let Some(v) = r.duration(t, s, "quote_cache_ttl")? {
        l.quote_cache_ttl_ms = v;
    }
    if let Some(v) = r.int(t, s, "quote_budget")? {
        if v < 3 {
            return Err(r.invalid("cross_chain_loop.quote_budget", "must be at least 3"));
        }
        l.quote_budget = u32::try_from(v)
            .map_err(|_| r.invalid("cross_chain_loop.quote_budget", "is too large"))?;
    }
    if let Some(v) = r.int_signed(t, s, "min_edge_bps")? {
        l.min_edge_bps = v;
    }
    if let Some(v) = r.duration(t, s, "opportunity_ttl")? {
        l.opportunity_ttl_ms = v;
    }
    if let Some(v) = r.int(t, s, "max_cycles_per_token")? {
        l.max_cycles_per_token = r.positive_u32("cross_chain_loop.max_cycles_per_token", v)?;
    }
    if let Some(routes) = r.section(t, "routes")? {
        r.seen.insert("cross_chain_loop.routes".into());
        for (name, value) in routes {
            let key = format!("cross_chain_loop.routes.{name}");
            r.seen.insert(key.clone());
            let token = TokenId::from_str(name).map_err(|e| r.invalid(&key, e.to_string()))?;
            let route = match value.as_str() {
                Some("stargate") => Route::Stargate,
                Some("hemi_tunnel") => Route::HemiTunnel,
                _ => {
                    return Err(r.invalid(&key, "expected \"stargate\" or \"hemi_tunnel\""));
                }
            };
            l.routes.insert(token, route);
        }
    }
    if l.min_swap_vcred > l.max_swap_vcred_soft_cap {
        return Err(r.invalid(
            "cross_chain_loop.min_swap_vcred",
            "must not exceed cross_chain_loop.max_swap_vcred_soft_cap",
        ));
    }
    if l.size_granularity_vcred == 0 {
        return Err(r.invalid("cross_chain_loop.size_granularity_vcred", "must be above 0"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    #[test]
    fn min_above_max_is_refused() {
        let e = parse("[cross_chain_loop]\nmin_swap_vcred = 5000\nmax_swap_vcred_soft_cap = 100\n")
            .unwrap_err();
        assert!(e.to_string().contains("min_swap_vcred"), "{e}");
    }
}
