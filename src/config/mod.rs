//! `config.toml` and environment secrets, validated before anything starts.
//! Every error names the key and the problem; unknown keys are errors (a typo
//! in a risk limit must not silently fall back to a default). Secrets come
//! from the environment only and never print.
//!
//! This module owns `Config` itself: loading it (`Config::load`,
//! `from_toml`), the top-level keys (`mode`, `data_dir`, `log_level`), and
//! the checks across sections (what each mode can run). Each section's
//! type, defaults and validation sit in the file named by it; `reader` is
//! the one reader they all use, and `secret` the environment's secrets.
//! Everything is re-exported here: `config::X` is the path to use.

mod aggregator;
mod alerts;
mod alpaca;
mod control;
mod cross_chain_loop;
mod engine;
mod equity_hedge;
mod evm;
mod logs;
pub mod mainnet;
mod metrics;
mod notify;
mod paper;
mod reader;
mod risk;
mod schwab;
mod secret;
mod stellar_arb;
mod stellar_fees;
mod stellar_listening;
mod swap;

pub use alerts::AlertsConfig;
pub use control::ControlConfig;
pub use cross_chain_loop::{LoopConfig, default_route};
pub use engine::EngineConfig;
pub use equity_hedge::{EquityHedgeConfig, HedgeBroker, RaindexVersion};
pub use evm::{EvmChainConfig, EvmConfig, checksummed};
pub use logs::{LogsConfig, MAX_DIAG_KEEP, MIN_DIAG_MAX_BYTES};
pub use metrics::MetricsConfig;
pub use notify::NotifyConfig;
pub use paper::{PaperConfig, PaperFaults, speed_milli};
pub use reader::{ConfigError, parse_duration};
pub use risk::{Approval, BalanceCap, CAP_VENUES, RiskConfig};
pub use secret::{Secret, Secrets};
pub use swap::{
    COW_SETTLEMENT, COW_VAULT_RELAYER, CowConfig, ONEDELTA_HEMI_TARGETS, OneDeltaConfig,
    SwapChoose, SwapConfig, V3_FEES, V3Config, ZEROX_ALLOWANCE_HOLDER, ZEROX_KEY_ENV, ZeroXConfig,
};

use crate::model::{Mode, Route, TokenId};
use reader::Reader;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the file came from ("defaults" when none).
    pub source: String,
    pub mode: Mode,
    pub data_dir: PathBuf,
    pub paper: PaperConfig,
    pub engine: EngineConfig,
    pub cross_chain_loop: LoopConfig,
    pub risk: RiskConfig,
    pub control: ControlConfig,
    /// The metrics endpoint (`[metrics]`); `None`: off.
    pub metrics: Option<MetricsConfig>,
    pub notify: NotifyConfig,
    pub alerts: AlertsConfig,
    /// The Schwab broker (`[schwab]`); used by the equity hedge and `arbkeep auth schwab`.
    pub schwab: crate::venue::schwab::SchwabConfig,
    /// The Alpaca Broker API (`[alpaca]`); used by the equity hedge with `broker = "alpaca"`.
    pub alpaca: crate::venue::alpaca::AlpacaConfig,
    pub log_level: String,
    pub logs: LogsConfig,
    pub equity_hedge: EquityHedgeConfig,
    pub stellar_arb: crate::strategy::stellar_arb::StellarArbConfig,
    /// The EVM adapters (devnet and live); `None` in paper mode.
    pub evm: Option<EvmConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: "defaults".into(),
            mode: Mode::Paper,
            data_dir: PathBuf::from("./data/paper"),
            paper: PaperConfig::default(),
            engine: EngineConfig::default(),
            cross_chain_loop: LoopConfig::default(),
            risk: RiskConfig::default(),
            control: ControlConfig::default(),
            metrics: None,
            notify: NotifyConfig::default(),
            alerts: AlertsConfig::default(),
            schwab: Default::default(),
            alpaca: Default::default(),
            log_level: "info".into(),
            logs: LogsConfig::default(),
            equity_hedge: EquityHedgeConfig::default(),
            stellar_arb: crate::strategy::stellar_arb::StellarArbConfig::testnet_defaults(),
            evm: None,
        }
    }
}

impl Config {
    /// `path` if given; else `./config.toml` if present; else paper defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            Some(p) => Self::from_file(p),
            None if Path::new("config.toml").exists() => Self::from_file(Path::new("config.toml")),
            None => Ok(Config::default()),
        }
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text, &shown)
    }

    pub fn from_toml(text: &str, source: &str) -> Result<Config, ConfigError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: source.to_string(),
                    reason: e.message().to_string(),
                })?;
        let mut r = Reader {
            path: source.to_string(),
            seen: BTreeSet::new(),
        };
        let mut c = Config {
            source: source.to_string(),
            ..Config::default()
        };

        if let Some(mode) = r.string(&table, "", "mode")? {
            c.mode = Mode::from_str(&mode).map_err(|p| r.invalid("mode", p))?;
            c.data_dir = PathBuf::from(format!("./data/{}", mode.to_ascii_lowercase()));
        }
        if let Some(dir) = r.string(&table, "", "data_dir")? {
            c.data_dir = PathBuf::from(dir);
        }
        if let Some(level) = r.string(&table, "", "log_level")? {
            if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
                return Err(r.invalid("log_level", "expected error, warn, info, debug or trace"));
            }
            c.log_level = level;
        }

        if let Some(t) = r.section(&table, "logs")? {
            logs::read_logs(&mut r, t, &mut c.logs)?;
        }
        if let Some(t) = r.section(&table, "paper")? {
            paper::read_paper(&mut r, t, &mut c.paper)?;
        }
        if let Some(t) = r.section(&table, "engine")? {
            engine::read_engine(&mut r, t, &mut c.engine)?;
        }
        if let Some(t) = r.section(&table, "cross_chain_loop")? {
            cross_chain_loop::read_cross_chain_loop(&mut r, t, &mut c.cross_chain_loop)?;
        }
        if let Some(t) = r.section(&table, "risk")? {
            risk::read_risk(&mut r, t, &mut c.risk)?;
        }
        if let Some(t) = r.section(&table, "control")? {
            control::read_control(&mut r, t, &mut c.control)?;
        }
        if let Some(t) = r.section(&table, "metrics")? {
            c.metrics = Some(metrics::read_metrics(&mut r, t)?);
        }
        if let Some(t) = r.section(&table, "notify")? {
            notify::read_notify(&mut r, t, &mut c.notify)?;
        }
        if let Some(t) = r.section(&table, "alerts")? {
            alerts::read_alerts(&mut r, t, &mut c.alerts)?;
        }
        if let Some(t) = r.section(&table, "alpaca")? {
            alpaca::read_alpaca(&mut r, t, &mut c.alpaca)?;
        }
        if let Some(t) = r.section(&table, "schwab")? {
            schwab::read_schwab(&mut r, t, &mut c.schwab)?;
        }
        if let Some(t) = r.section(&table, "equity_hedge")? {
            equity_hedge::read_equity_hedge(&mut r, t, &mut c.equity_hedge)?;
        }
        if let Some(t) = r.section(&table, "stellar_arb")? {
            stellar_arb::read_stellar_arb(&mut r, t, &mut c.stellar_arb)?;
        }
        if let Some(t) = r.section(&table, "evm")? {
            c.evm = Some(evm::read_evm(&mut r, t, c.mode)?);
        }
        if c.mode == Mode::Devnet && c.evm.is_none() {
            return Err(r.invalid(
                "evm",
                "is required in devnet mode (`arbkeep devnet` writes one)",
            ));
        }
        if c.mode == Mode::Live && !r.seen.contains("cross_chain_loop.tokens") {
            // hemiBTC's route is known (its OFT adapter), but on Ethereum it
            // trades only on a Curve pool (evm.md §1.5) that the default swap
            // providers do not reach: listed only when asked for.
            c.cross_chain_loop.tokens.retain(|t| *t != TokenId::HemiBtc);
        }
        c.check_mode(&r)?;

        r.reject_unknown(&table, "")?;
        Ok(c)
    }

    /// What each mode can run with this build, checked before anything starts.
    fn check_mode(&self, r: &Reader) -> Result<(), ConfigError> {
        let hedge = self.equity_hedge.enabled_in(self.mode);
        match self.mode {
            Mode::Paper => {
                if let Some(b @ (HedgeBroker::Schwab | HedgeBroker::Alpaca)) =
                    self.equity_hedge.broker
                {
                    return Err(r.invalid(
                        "equity_hedge.broker",
                        format!("paper mode hedges at the paper broker; \"{}\" needs mode \"devnet\" or \"live\"", b.as_str()),
                    ));
                }
                return Ok(());
            }
            Mode::Live if self.cross_chain_loop.enabled && self.evm.is_none() => {
                return Err(r.invalid(
                    "evm",
                    "is required when the cross-chain loop runs live: [evm.hemi] and [evm.ethereum] with their rpc (the mainnet contracts are the defaults), or set cross_chain_loop.enabled = false",
                ));
            }
            Mode::Live if !hedge && !self.stellar_arb.enabled && !self.cross_chain_loop.enabled => {
                return Err(r.invalid(
                    "mode",
                    "\"live\" with nothing to run: enable [cross_chain_loop], [equity_hedge] or [stellar_arb]",
                ));
            }
            _ => {}
        }
        if self.cross_chain_loop.enabled {
            self.check_stargate_pools(r)?;
        }
        if hedge {
            if self.equity_hedge.rpc_url.is_none() {
                return Err(r.invalid(
                    "equity_hedge.rpc",
                    "is required when the hedge runs in devnet or live mode: the RPC of the orderbook's chain",
                ));
            }
            if self.equity_hedge.broker_in(self.mode) == HedgeBroker::Schwab
                && self.schwab.account_number.is_empty()
            {
                return Err(r.invalid(
                    "schwab.account_number",
                    "is required when the hedge trades at Schwab: the account to trade, by its number",
                ));
            }
            if self.equity_hedge.broker_in(self.mode) == HedgeBroker::Alpaca
                && self.alpaca.account_id.is_empty()
            {
                return Err(r.invalid(
                    "alpaca.account_id",
                    "is required when the hedge trades at Alpaca: the trading account's id",
                ));
            }
        }
        Ok(())
    }
}

impl Config {
    /// Every Stargate leg the loop can take has its pool on both chains:
    /// each loop token routed by Stargate out of Hemi, and USDC, which
    /// always comes back by Stargate. A token without one is refused here,
    /// by the key to add, rather than offered a route that cannot carry it.
    fn check_stargate_pools(&self, r: &Reader) -> Result<(), ConfigError> {
        let Some(evm) = &self.evm else {
            return Ok(());
        };
        let loop_cfg = &self.cross_chain_loop;
        let mut legs: Vec<(TokenId, String)> = loop_cfg
            .tokens
            .iter()
            .filter(|t| loop_cfg.route(**t) == Route::Stargate)
            .map(|t| {
                (
                    *t,
                    format!(
                        "{t} leaves Hemi by Stargate (cross_chain_loop.routes; \"hemi_tunnel\" is the other route)"
                    ),
                )
            })
            .collect();
        legs.push((
            TokenId::Usdc,
            "USDC comes back to Hemi by Stargate".to_string(),
        ));
        for (token, why) in legs {
            for (name, chain) in [("hemi", &evm.hemi), ("ethereum", &evm.ethereum)] {
                if chain.stargate(token).is_none() {
                    return Err(r.invalid(
                        &format!("evm.{name}.stargate.{}", token.symbol()),
                        format!("is required: {why}, and [evm.{name}.stargate] names no {token} pool or OFT"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The tests' parse: `text` as the file `test.toml`.
#[cfg(test)]
fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Route, TokenId};

    #[test]
    fn empty_file_is_paper_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.mode, Mode::Paper);
        assert_eq!(c.cross_chain_loop.min_swap_vcred, 100_000_000);
        assert_eq!(c.cross_chain_loop.route(TokenId::Eth), Route::Stargate);
        assert_eq!(c.cross_chain_loop.route(TokenId::Wbtc), Route::HemiTunnel);
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../../config.toml.example");
        let c = parse(text).unwrap();
        assert_eq!(c.mode, Mode::Paper);
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("[cross_chain_loop]\nslippage_bps = 0\n").unwrap_err();
        assert!(
            e.to_string().contains("cross_chain_loop.slippage_bps"),
            "{e}"
        );
        let e = parse("[engine]\nreconcile_interval = \"12 parsecs\"\n").unwrap_err();
        assert!(e.to_string().contains("engine.reconcile_interval"), "{e}");
        let e = parse("mode = \"moon\"\n").unwrap_err();
        assert!(e.to_string().contains("`mode`"), "{e}");
        let e = parse("[cross_chain_loop.routes]\nWBTC = \"ferry\"\n").unwrap_err();
        assert!(
            e.to_string().contains("cross_chain_loop.routes.WBTC"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(matches!(parse("mode = "), Err(ConfigError::Syntax { .. })));
    }

    #[test]
    fn live_mode_runs_the_hedge_and_stellar_without_the_loop() {
        let hedge = "[equity_hedge]\nenabled = true\nrpc = \"https://base.example\"\n[schwab]\naccount_number = \"12345678\"\n";
        // The loop is on by default, and runs live over [evm]: the key is named.
        let e = parse(&format!("mode = \"live\"\n{hedge}")).unwrap_err();
        assert!(e.to_string().contains("`evm`"), "{e}");
        assert!(e.to_string().contains("cross_chain_loop.enabled"), "{e}");
        let off = "[cross_chain_loop]\nenabled = false\n";
        // Nothing enabled: nothing to run.
        let e = parse(&format!("mode = \"live\"\n{off}")).unwrap_err();
        assert!(e.to_string().contains("`mode`"), "{e}");
        // The hedge needs its chain's RPC, and Schwab an account.
        let e = parse(&format!(
            "mode = \"live\"\n{off}[equity_hedge]\nenabled = true\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("equity_hedge.rpc"), "{e}");
        let e = parse(&format!(
            "mode = \"live\"\n{off}[equity_hedge]\nenabled = true\nrpc = \"https://base.example\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("schwab.account_number"), "{e}");
        // No [evm] needed in live mode; Schwab is the live default broker.
        let c = parse(&format!("mode = \"live\"\n{off}{hedge}")).unwrap();
        assert_eq!(c.equity_hedge.broker_in(c.mode), HedgeBroker::Schwab);
        assert_eq!(
            c.equity_hedge.rpc_url.as_deref(),
            Some("https://base.example")
        );
        let c = parse(
            "mode = \"live\"\n[cross_chain_loop]\nenabled = false\n[stellar_arb]\nenabled = true\n",
        )
        .unwrap();
        assert!(c.evm.is_none() && c.stellar_arb.enabled);
    }

    const LIVE_LOOP: &str = "mode = \"live\"\n[evm.hemi]\nrpc = \"https://hemi.example\"\n[evm.ethereum]\nrpc = \"https://eth.example\"\n";

    #[test]
    fn live_mode_runs_the_loop_on_the_mainnet_contracts_given_only_the_rpcs() {
        let c = parse(LIVE_LOOP).unwrap();
        assert!(c.cross_chain_loop.enabled);
        let evm = c.evm.as_ref().unwrap();
        let hemi = mainnet::defaults(crate::model::Chain::Hemi);
        let eth = mainnet::defaults(crate::model::Chain::Ethereum);
        assert_eq!(evm.hemi.router, hemi.router);
        assert_eq!(evm.hemi.tunnel, Some(hemi.tunnel));
        assert_eq!(evm.hemi.tokens, hemi.tokens);
        assert_eq!(evm.hemi.stargate, hemi.stargate);
        assert_eq!(evm.ethereum.tunnel, Some(eth.tunnel));
        assert_eq!(evm.ethereum.tokens, eth.tokens);
        assert_eq!(evm.ethereum.stargate, eth.stargate);
        assert_eq!(evm.hemi.chain_id, 43_111);
        assert_eq!(evm.ethereum.chain_id, 1);
        // Sushi V2 on both chains, Uniswap V3 on Ethereum as the reference.
        assert_eq!(evm.hemi.swap.order, ["sushi_v2"]);
        assert_eq!(evm.ethereum.swap.order, ["uniswap_v3", "sushi_v2"]);
        assert_eq!(evm.ethereum.swap.reference.as_deref(), Some("uniswap_v3"));
        assert_eq!(evm.tunnel_pins, Some(mainnet::tunnel_pins()));
        // hemiBTC's OFT route is not built: the loop leaves it out on mainnet.
        assert!(!c.cross_chain_loop.tokens.contains(&TokenId::HemiBtc));
        assert!(c.cross_chain_loop.tokens.contains(&TokenId::Wbtc));
        assert!(c.cross_chain_loop.tokens.contains(&TokenId::Eth));
    }

    #[test]
    fn a_live_address_of_the_users_replaces_its_default_and_a_tunnel_drops_the_pins() {
        let other = "0x000000000000000000000000000000000000dEaD";
        let c = parse(&format!(
            "{LIVE_LOOP}tunnel = \"{other}\"\nrouter = \"{other}\"\n[evm.ethereum.tokens]\nWBTC = \"{other}\"\n"
        ))
        .unwrap();
        let evm = c.evm.unwrap();
        let dead = checksummed("t", other).unwrap();
        assert_eq!(evm.ethereum.tunnel, Some(dead));
        assert_eq!(evm.ethereum.router, dead);
        assert_eq!(evm.ethereum.tokens[&TokenId::Wbtc], dead);
        // The other tokens keep their defaults.
        assert_eq!(
            evm.ethereum.tokens[&TokenId::Usdc],
            mainnet::defaults(crate::model::Chain::Ethereum).tokens[&TokenId::Usdc]
        );
        assert_eq!(
            evm.tunnel_pins, None,
            "a tunnel of the user's is not pinned"
        );
        // A router of the user's goes by the generic name, without the default V3.
        assert_eq!(evm.ethereum.swap.order, ["uniswap_v2"]);
        // A bad checksum names its key, live or not.
        let e = parse(&format!(
            "{LIVE_LOOP}[evm.hemi.stargate]\nETH = \"0x2f6f07cdcf3588944bf4c42ac74ff24bf56e7590\"\n"
        ))
        .unwrap_err();
        assert!(
            e.to_string().contains("EIP-55"),
            "all lowercase is refused too: {e}"
        );
        let e = parse(&format!(
            "{LIVE_LOOP}[evm.hemi.stargate]\nETH = \"0x2F6F07CDcf3588944Bf4C42aC74ff24bF56e7591\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("evm.hemi.stargate.ETH"), "{e}");
        // Listed live, hemiBTC goes by its OFT adapter's default address.
        let c = parse(&format!(
            "{LIVE_LOOP}[cross_chain_loop]\ntokens = [\"hemiBTC\"]\n"
        ))
        .unwrap();
        let evm = c.evm.unwrap();
        assert_eq!(
            evm.hemi
                .stargate(TokenId::HemiBtc)
                .map(|a| a.to_checksum(None)),
            Some("0xDefa4A253a0Ec96a2e6D74A409B3B348924bf390".to_string())
        );
        assert_eq!(
            evm.ethereum.stargate(TokenId::HemiBtc),
            evm.ethereum.token(TokenId::HemiBtc),
            "Ethereum's hemiBTC OFT is the token"
        );
    }

    #[test]
    fn devnet_mode_has_no_mainnet_defaults() {
        let e = parse(&LIVE_LOOP.replace("live", "devnet")).unwrap_err();
        assert!(e.to_string().contains("evm.hemi.router"), "{e}");
    }
}
