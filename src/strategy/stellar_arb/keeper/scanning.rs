//! Scanning and execution: one scan per new ledger (or per scan
//! interval) — the books of every hop (a book that cannot be read is
//! dropped from the scan), the oracle's prices (stale ones refused, with
//! the reason on screen), detection — and execution of the best cycle from
//! an account that can afford it, with one retry per handling that can help.

use super::{Purpose, SHOWN, StellarArbKeeper, venue_err};
use crate::engine::{EngineError, KeeperContext};
use crate::strategy::stellar_arb::cycle::{Books, Opportunity, candidate_cycles, detect};
use crate::strategy::stellar_arb::view::{AccountRow, OpportunityRow, OracleRow};
use crate::venue::stellar::tx;
use crate::venue::stellar::{AccountState, Handling, OraclePrice, StellarAsset};
use serde_json::json;
use std::collections::HashMap;

/// Why an oracle price is refused, if it is: older than `max_age` seconds
/// before the latest ledger close (Reflector timestamps are unix seconds).
pub fn oracle_refusal(p: &OraclePrice, latest_close: u64, max_age: u64) -> Option<String> {
    let age = latest_close.saturating_sub(p.timestamp);
    (age > max_age).then(|| {
        format!(
            "stale: its timestamp {} is {age} s before the latest ledger close (oracle_max_age {max_age} s)",
            p.timestamp
        )
    })
}

/// A price as a person reads it; a scale no decimal can hold says so.
fn price_text(p: &OraclePrice) -> String {
    rust_decimal::Decimal::try_from_i128_with_scale(p.price, p.decimals)
        .map(|d| d.round_dp(6).normalize().to_string())
        .unwrap_or_else(|_| format!("unreadable ({} at {} decimals)", p.price, p.decimals))
}

impl StellarArbKeeper {
    /// Everything one scan needs: books for each hop, oracle prices.
    pub(super) async fn scan(
        &mut self,
        ledger: u32,
        latest_close: u64,
    ) -> Result<Vec<Opportunity>, EngineError> {
        let venue = self.shared.venue.clone();
        let cycles = candidate_cycles(&self.config.assets);
        let mut books = Books::default();
        let mut pairs: Vec<(StellarAsset, StellarAsset)> = Vec::new();
        for c in &cycles {
            for w in c.windows(2) {
                let p = (w[1].clone(), w[0].clone());
                if !pairs.contains(&p) {
                    pairs.push(p);
                }
            }
        }
        let mut notes: Vec<String> = Vec::new();
        for (selling, buying) in &pairs {
            match venue.order_book(selling, buying).await {
                Ok(book) => books.insert(book),
                Err(e) if e.is_transient() => return Err(venue_err(e)),
                // A book that cannot be read is dropped from this scan (its
                // cycles are not detected), not the scan and not the keeper.
                Err(e) => {
                    let note = format!("book {}/{} dropped: {e}", selling.code(), buying.code());
                    tracing::warn!(target: "stellar_arb", "{note}");
                    notes.push(note);
                }
            }
        }
        // The pool of every hop pair, read once per unordered pair; one that
        // cannot be read is dropped from the scan like a book.
        let mut pool_pairs: Vec<(StellarAsset, StellarAsset)> = Vec::new();
        for (s, b) in &pairs {
            let p = crate::venue::stellar::pool::ordered(s, b);
            if !pool_pairs.contains(&p) {
                pool_pairs.push(p);
            }
        }
        for (a, b) in &pool_pairs {
            match venue.liquidity_pool(a, b).await {
                Ok(Some(p)) => books.insert_pool(p),
                Ok(None) => {}
                Err(e) if e.is_transient() => return Err(venue_err(e)),
                Err(e) => {
                    let note = format!("pool {}/{} dropped: {e}", a.code(), b.code());
                    tracing::warn!(target: "stellar_arb", "{note}");
                    notes.push(note);
                }
            }
        }
        let mut symbols: Vec<String> = vec!["XLM".into()];
        symbols.extend(self.config.assets.iter().map(|a| a.code().to_string()));
        let mut prices: HashMap<String, OraclePrice> = venue
            .oracle_prices(&symbols)
            .await
            .map_err(venue_err)?
            .into_iter()
            .filter_map(|(s, p)| p.map(|p| (s, p)))
            .collect();
        // Stale prices are refused: no cycle is checked against them.
        let mut refused: HashMap<String, String> = HashMap::new();
        prices.retain(|s, p| {
            match oracle_refusal(p, latest_close, self.config.oracle_max_age_secs) {
                Some(why) => {
                    refused.insert(s.clone(), why);
                    false
                }
                None => true,
            }
        });
        if let Some(p) = prices.get("XLM") {
            self.xlm_usd = rust_decimal::Decimal::try_from_i128_with_scale(p.price, p.decimals)
                .ok()
                .filter(|v| *v > rust_decimal::Decimal::ZERO);
        }
        for (s, why) in &refused {
            notes.push(format!("oracle {s} refused: {why}"));
        }
        self.view.oracle = symbols
            .iter()
            .map(|s| OracleRow {
                symbol: s.clone(),
                price: match (prices.get(s), refused.get(s)) {
                    (Some(p), _) => price_text(p),
                    (None, Some(why)) => format!("refused: {why}"),
                    (None, None) => "—".into(),
                },
            })
            .collect();
        notes.sort();
        self.scan_notes = notes;
        let opps = detect(
            &books,
            &cycles,
            &prices,
            self.config.min_send,
            self.config.max_send,
            i64::from(self.fee),
            self.config.oracle_tolerance_bps,
            ledger,
        );
        self.view.opportunities = opps
            .iter()
            .take(SHOWN)
            .map(|o| OpportunityRow {
                path: o.route(),
                send: o.send,
                expected: o.expected,
                fee: o.fee,
                edge_bps: o.edge_bps,
                oracle_ok: o.oracle_ok,
            })
            .collect();
        for o in opps.iter().filter(|o| o.profit() > 0) {
            self.shared.publish(json!({"opportunity": {
                "path": o.label(), "send": o.send, "expected": o.expected, "fee": o.fee,
                "edge_bps": o.edge_bps, "oracle_ok": o.oracle_ok, "ledger": o.ledger,
                "legs": o.legs_json()}}));
        }
        Ok(opps)
    }

    pub(super) async fn refresh_accounts(
        &mut self,
    ) -> Result<Vec<Option<AccountState>>, EngineError> {
        let venue = self.shared.venue.clone();
        let mut out = Vec::new();
        let mut rows = Vec::new();
        for k in &self.accounts {
            let s = venue.account(k.public()).await.map_err(venue_err)?;
            if let Some(s) = &s {
                rows.push(AccountRow {
                    id: s.id.to_string(),
                    xlm: s
                        .balance(&StellarAsset::Native)
                        .map(|b| b.amount)
                        .unwrap_or(0),
                    lines: s
                        .balances
                        .iter()
                        .filter(|b| !b.asset.is_native())
                        .map(|b| (b.asset.code().to_string(), b.amount))
                        .collect(),
                });
            }
            out.push(s);
        }
        self.view.accounts = rows;
        Ok(out)
    }

    /// Execute `o` from an account that can afford it, with one retry per
    /// handling that can help.
    pub(super) async fn execute(
        &mut self,
        cx: &KeeperContext<'_>,
        o: &Opportunity,
    ) -> Result<(), EngineError> {
        let mut send = o.send;
        let mut expected = o.expected;
        for _attempt in 0..3 {
            // Guard before every send: balances read now, reserve kept.
            let states = self.refresh_accounts().await?;
            let n = self.accounts.len();
            let need = send + i64::from(self.fee) + self.config.reserve_guard;
            let Some(idx) = (0..n)
                .map(|k| (self.next_account + k) % n.max(1))
                .find(|&i| {
                    states
                        .get(i)
                        .and_then(|s| s.as_ref())
                        .is_some_and(|s| s.spendable_xlm() >= need)
                })
            else {
                self.view.status = "no trading account can afford the cycle".into();
                return Ok(());
            };
            self.next_account = (idx + 1) % n.max(1);
            let fee = i64::from(self.fee);
            let margin =
                i64::try_from(i128::from(send) * i128::from(self.config.min_edge_bps) / 10_000)
                    .unwrap_or(i64::MAX);
            let Some(dest_min) = send.checked_add(fee).and_then(|x| x.checked_add(margin)) else {
                return Ok(());
            };
            if dest_min > expected {
                return Ok(());
            }
            let path: Vec<StellarAsset> = o.path().to_vec();
            let label = o.label();
            let key = self.accounts[idx].clone();
            let purpose = Purpose {
                kind: super::CYCLE,
                label: label.clone(),
                send,
                dest_min,
                dest: None,
                predicted: Some(crate::strategy::stellar_arb::store::Prediction {
                    delivered: expected,
                    route: o.route(),
                }),
            };
            let r = self
                .submit(cx, &key, purpose, |h| {
                    tx::cyclic_path_payment(h, &StellarAsset::Native, send, &path, dest_min)
                })
                .await?;
            let Some(done) = r else { return Ok(()) };
            let code = done.result.trim_start_matches("refused: ").to_string();
            self.log(format!("{label}: {} ({} stroops)", done.result, done.delta));
            match crate::venue::stellar::codes::handling(&code) {
                Handling::RetryFreshSequence => continue,
                Handling::RaiseFee => {
                    self.refresh_fee().await;
                    continue;
                }
                Handling::Shrink => {
                    send /= 2;
                    expected /= 2;
                    if send < self.config.min_send {
                        return Ok(());
                    }
                }
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    pub(super) async fn pass(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        if !self.ready {
            // Setup sends too (trustlines; on PUBLIC, XLM from the master):
            // the same guard as any send.
            if !cx.may_send() {
                self.view.status = "paused (accounts not set up yet)".into();
                return Ok(());
            }
            // Setup bids what the network asks, as every send does.
            self.refresh_fee().await;
            self.setup(cx).await?;
            if !self.ready {
                return Ok(());
            }
        }
        let venue = self.shared.venue.clone();
        let ledger = self.next_ledger().await?;
        let due = cx.now.saturating_sub(self.last_scan_ms) >= self.config.scan_interval_ms;
        if ledger == self.last_ledger && !due {
            return Ok(());
        }
        self.last_ledger = ledger;
        self.last_scan_ms = cx.now;
        self.view.ledger = ledger;
        self.view.started = self.shared.started();
        self.refresh_accounts().await?;
        self.refresh_fee().await;
        let latest_close = venue.ledger_window().await.map_err(venue_err)?.latest_close;
        let opps = self.scan(ledger, latest_close).await?;
        let best = opps
            .into_iter()
            .find(|o| o.oracle_ok && o.edge_bps >= self.config.min_edge_bps && o.profit() > 0);
        self.view.status = self.status_line(cx);
        if !self.scan_notes.is_empty() {
            self.view.status = format!("{} ({})", self.view.status, self.scan_notes.join("; "));
        }
        if let Some(o) = best
            && self.halted.is_none()
            && self.shared.started()
            && cx.may_send()
        {
            self.checked_execute(cx, &o).await?;
            self.refresh_accounts().await?;
        }
        Ok(())
    }
}
