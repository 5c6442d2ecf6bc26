//! The EVM venue's lines on the Venues panel: each chain's node (its head
//! and whether it moves, gas, the WebSocket), each swap provider's health,
//! the LayerZero Scan when configured, and the transaction manager.

use super::EvmVenue;
use crate::model::{Chain, format_units};
use crate::venue::VenueHealth;

impl EvmVenue {
    /// One line per chain (head, gas, WebSocket), per swap provider, the
    /// LayerZero Scan when configured, and the transaction manager.
    pub(super) async fn health_lines(&self) -> Vec<VenueHealth> {
        let now = self.clock.now();
        let mut out = Vec::new();
        let open = self
            .tx
            .store()
            .all_txs()
            .map(|all| all.iter().filter(|r| r.mined.is_none()).count())
            .unwrap_or(0);
        for chain in Chain::ALL {
            let c = self.client(chain);
            let name = format!("{} ({})", c.name, self.label);
            let line = match c.ping().await {
                Ok(ping) => {
                    let moved = self.saw_head(chain, ping.head);
                    let silent = now.saturating_sub(moved);
                    let gwei = c
                        .gas_price()
                        .await
                        .map(|g| format_units(g / 1_000_000, 3))
                        .unwrap_or_else(|_| "?".into());
                    let moving = silent <= self.cfg.silent_after_ms;
                    let detail = match (&ping.ws_trouble, moving) {
                        (Some(why), _) => format!("WebSocket: {why}; head read over HTTP"),
                        (None, true) => format!("gas {gwei} gwei, chain id {}", c.chain_id),
                        (None, false) => format!(
                            "no new block for {}",
                            crate::model::time::format_duration(silent)
                        ),
                    };
                    VenueHealth {
                        name,
                        ok: moving && ping.ws_trouble.is_none(),
                        head: Some(ping.head),
                        latency_ms: Some(ping.latency.as_millis() as u64),
                        last_seen: Some(moved),
                        detail,
                    }
                }
                Err(e) => VenueHealth {
                    name,
                    ok: false,
                    head: None,
                    latency_ms: None,
                    last_seen: None,
                    detail: e.to_string(),
                },
            };
            out.push(line);
        }
        for swaps in &self.swaps {
            out.extend(swaps.health_lines(now));
        }
        if let Some(scan) = &self.scan {
            out.push(scan.health_line());
        }
        out.push(VenueHealth {
            name: format!("tx manager ({})", self.label),
            ok: true,
            head: None,
            latency_ms: None,
            last_seen: Some(now),
            detail: format!(
                "wallet {}, {open} transactions not yet mined",
                self.wallet()
            ),
        });
        out
    }
}
