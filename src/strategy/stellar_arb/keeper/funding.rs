//! Account lifecycle: every trading account funded (Friendbot on TESTNET,
//! a CreateAccount from the master on PUBLIC, checked against the master's
//! balance first) and trusting every configured asset. Funding and
//! trustlines are sends like any other, through the journal (Friendbot's
//! path is [`super::friendbot`]).

use super::{Purpose, StellarArbKeeper, notify, venue_err};
use crate::engine::{EngineError, KeeperContext};
use crate::venue::stellar::tx;
use crate::venue::stellar::{AccountKey, format_amount};
use serde_json::json;

impl StellarArbKeeper {
    /// Funded, trusting every configured asset, on the right network.
    /// Ready only once every account exists and trusts every asset; a pass
    /// that falls short tries again on the next one.
    pub(super) async fn setup(&mut self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        let venue = self.shared.venue.clone();
        let net = venue.network().await.map_err(venue_err)?;
        if net.passphrase != self.config.passphrase {
            self.halted = Some(format!(
                "network passphrase mismatch: the server is on {:?}, the config says {:?}",
                net.passphrase, self.config.passphrase
            ));
            self.view.status = self.halted.clone().unwrap_or_default();
            return Ok(());
        }
        let mut complete = true;
        for key in self.accounts.clone() {
            let id = key.public();
            if venue.account(id).await.map_err(venue_err)?.is_none() && !self.fund(cx, id).await? {
                // The next account would fail the same way: try next pass.
                complete = false;
                break;
            }
            let Some(state) = venue.account(id).await.map_err(venue_err)? else {
                complete = false;
                continue;
            };
            for asset in self.config.assets.clone() {
                if state.trusts(&asset) {
                    continue;
                }
                let limit = tx::TRUST_LIMIT;
                let purpose = Purpose {
                    kind: "change_trust",
                    label: format!("trust {}", asset.code()),
                    send: 0,
                    dest_min: 0,
                    dest: None,
                    predicted: None,
                };
                let Some(done) = self
                    .submit(cx, &key, purpose, |h| tx::change_trust(h, &asset, limit))
                    .await?
                else {
                    // Open (not settled yet) or paused: nothing more leaves
                    // until it is settled, on any account.
                    self.ready = false;
                    return Ok(());
                };
                if done.result != "tx_success" {
                    complete = false;
                    break;
                }
            }
        }
        self.ready = complete;
        Ok(())
    }

    /// Bring account `id` into existence: Friendbot where there is one
    /// (TESTNET), else a CreateAccount from the master account (PUBLIC),
    /// checked against the master's balance first. `false`: not funded now.
    async fn fund(&mut self, cx: &KeeperContext<'_>, id: AccountKey) -> Result<bool, EngineError> {
        let venue = self.shared.venue.clone();
        if self.config.friendbot_url.is_some() {
            return self.friendbot(cx, id).await;
        }
        let master = self.master.clone();
        let starting = self.config.account_starting_xlm;
        let Some(state) = venue.account(master.public()).await.map_err(venue_err)? else {
            self.funding_failed(
                cx,
                format!(
                    "the master account {} does not exist: send it XLM to create the trading accounts",
                    master.public()
                ),
            );
            return Ok(false);
        };
        // The master keeps its own minimum balance and pays the fee.
        let need = starting + i64::from(self.fee);
        if state.spendable_xlm() < need {
            self.funding_failed(
                cx,
                format!(
                    "the master account {} can spend {} XLM above its minimum balance; each trading account it creates needs {} XLM",
                    master.public(),
                    format_amount(state.spendable_xlm()),
                    format_amount(need)
                ),
            );
            return Ok(false);
        }
        let purpose = Purpose {
            kind: "create_account",
            label: format!("create {id}"),
            send: starting,
            dest_min: 0,
            dest: Some(id),
            predicted: None,
        };
        match self
            .submit(cx, &master, purpose, |h| {
                tx::create_account(h, id, starting)
            })
            .await?
        {
            Some(e) if e.result == "tx_success" || e.result == "op_already_exists" => {
                self.funding_failure = None;
                self.log(format!(
                    "account {id} created by the master with {} XLM",
                    format_amount(starting)
                ));
                Ok(true)
            }
            Some(e) => {
                self.funding_failed(cx, format!("creating {id} failed: {}", e.result));
                Ok(false)
            }
            // Sent, not settled yet: the open intent is settled first.
            None => Ok(false),
        }
    }

    /// Shown on the console, logged and told (webhooks) once per distinct
    /// failure: a pass that fails the same way every ledger says it once.
    pub(super) fn funding_failed(&mut self, cx: &KeeperContext<'_>, message: String) {
        self.view.status = format!("funding: {message}");
        if self.funding_failure.as_deref() == Some(message.as_str()) {
            return;
        }
        tracing::warn!(target: "stellar_arb", "funding: {message}");
        self.shared
            .publish(json!({"log": format!("funding failed: {message}")}));
        notify(cx, "funding_failed", message.clone());
        self.funding_failure = Some(message);
    }
}
