//! `LoopVenue` for the paper world: the same questions and intents the real
//! chains answer, answered from `SimWorld`. Every call first catches the world
//! up with the clock.

use super::fees;
use super::market::{EPOCH_MS, GWEI};
use super::world::SimWorld;
use crate::model::{
    BridgeTicket, Chain, Intent, IntentId, Receipt, Route, Timestamp, TokenId, Units, format_units,
};
use crate::venue::{BridgeStatus, FeeSchedule, LoopVenue, VenueError, VenueHealth};

/// Both paper chains make a block every 12 s of simulated time.
const BLOCK_MS: Timestamp = 12_000;

fn no_such_token(chain: Chain, token: TokenId) -> VenueError {
    VenueError::Rejected(format!("{token} does not exist on {chain}"))
}

impl LoopVenue for SimWorld {
    async fn quote(
        &self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
    ) -> Result<Units, VenueError> {
        let state = self.synced();
        for token in [token_in, token_out] {
            if !token.exists_on(chain) {
                return Err(no_such_token(chain, token));
            }
        }
        state
            .market
            .quote(chain, token_in, token_out, amount_in)
            .map_err(|_| {
                VenueError::Rejected(format!("no {chain} pool trades {token_in}→{token_out}"))
            })
    }

    async fn fees(&self) -> Result<FeeSchedule, VenueError> {
        Ok(fees::schedule(&self.synced().market))
    }

    async fn balance(&self, chain: Chain, token: TokenId) -> Result<Units, VenueError> {
        if !token.exists_on(chain) {
            return Err(no_such_token(chain, token));
        }
        Ok(self.synced().wallet.get(chain, token))
    }

    async fn execute(&self, intent: &Intent) -> Result<Receipt, VenueError> {
        self.execute_intent(intent)
    }

    async fn settle(&self, intent: IntentId) -> Result<Option<Receipt>, VenueError> {
        let _caught_up = self.synced();
        let execution = self
            .store()
            .execution(&intent.to_string())
            .map_err(|e| e.as_venue())?;
        Ok(execution.and_then(|e| e.receipt))
    }

    async fn abandon(&self, intent: IntentId) -> Result<crate::venue::Abandonment, VenueError> {
        self.abandon_intent(&intent)
    }

    async fn receipt(&self, chain: Chain, tx_hash: &str) -> Result<Option<Receipt>, VenueError> {
        let state = self.synced();
        if let Some(receipt) = self.store().tx(chain, tx_hash).map_err(|e| e.as_venue())? {
            return Ok(Some(receipt));
        }
        // A delivery not yet written (its write failed and will be retried).
        Ok(state
            .transfers
            .values()
            .filter_map(|t| t.arrival_receipt())
            .find(|r| r.chain == chain && r.tx_hash.eq_ignore_ascii_case(tx_hash)))
    }

    async fn bridge_status(&self, ticket: &BridgeTicket) -> Result<BridgeStatus, VenueError> {
        let state = self.synced();
        state
            .transfers
            .get(&ticket.message_id)
            .map(|t| t.status(state.time))
            .ok_or_else(|| {
                VenueError::Rejected(format!("unknown bridge transfer {}", ticket.message_id))
            })
    }

    async fn health(&self) -> Vec<VenueHealth> {
        let state = self.synced();
        let now = state.time;
        let chain = |c: Chain, detail: String| VenueHealth {
            name: format!("{c} (paper)"),
            ok: true,
            head: Some(now / BLOCK_MS),
            latency_ms: Some(0),
            last_seen: Some(now),
            detail,
        };
        let gwei = |c: Chain| format_units(state.market.gas_price(c) / (GWEI / 1_000), 3);
        let eth = format_units(state.market.price(TokenId::Eth), TokenId::Usdc.decimals());
        let (mut stargate, mut tunnel) = (0, [0usize; 4]);
        for t in state.in_flight() {
            match (t.ticket.route, t.status(now)) {
                (Route::Stargate, _) => stargate += 1,
                (Route::HemiTunnel, BridgeStatus::InFlight { .. }) => tunnel[0] += 1,
                (Route::HemiTunnel, BridgeStatus::ProveReady) => tunnel[1] += 1,
                (Route::HemiTunnel, BridgeStatus::Proved { .. }) => tunnel[2] += 1,
                (Route::HemiTunnel, _) => tunnel[3] += 1,
            }
        }
        let bridge = |name: &str, detail: String| VenueHealth {
            name: name.to_string(),
            ok: true,
            head: None,
            latency_ms: Some(0),
            last_seen: Some(now),
            detail,
        };
        vec![
            chain(
                Chain::Hemi,
                format!("gas {} gwei, epoch {}", gwei(Chain::Hemi), now / EPOCH_MS),
            ),
            chain(
                Chain::Ethereum,
                format!("gas {} gwei, ETH {eth} USDC", gwei(Chain::Ethereum)),
            ),
            bridge("Stargate (paper)", format!("{stargate} in flight")),
            bridge(
                "Hemi tunnel (paper)",
                format!(
                    "{} in flight ({} awaiting proposal, {} to prove, {} in challenge window, {} to finalize)",
                    tunnel.iter().sum::<usize>(),
                    tunnel[0],
                    tunnel[1],
                    tunnel[2],
                    tunnel[3]
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::{DAY, HOUR, MINUTE};
    use crate::model::{Action, Clock, StepKind};
    use crate::venue::sim::testing::{Fixture, receipt_deltas, swap};
    use std::collections::BTreeMap;

    const VCRED: u128 = 1_000_000;

    fn rejection(r: Result<Receipt, VenueError>) -> String {
        match r {
            Err(VenueError::Rejected(why)) => why,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn executing_twice_is_refused_and_counted() {
        let f = Fixture::new("twice", 1);
        let now = f.clock.now();
        let buy = swap(
            Chain::Hemi,
            TokenId::Vcred,
            TokenId::Wbtc,
            5_000 * VCRED,
            1,
            now,
        );
        let intent = f.intent(1, StepKind::HemiSwap, buy);
        assert_eq!(f.world.settle(intent.id).await, Ok(None));
        let first = f.world.execute(&intent).await.unwrap();
        let after_first = f.world.balances();
        let why = rejection(f.world.execute(&intent).await);
        assert!(why.contains("already executed (nonce used)"), "{why}");
        assert_eq!(f.world.balances(), after_first);
        assert_eq!(f.world.execution_counts().get("c1/hemi_swap/0"), Some(&2));
        assert_eq!(f.world.settle(intent.id).await, Ok(Some(first.clone())));
        // Settling is looking, not executing.
        assert_eq!(f.world.execution_counts().get("c1/hemi_swap/0"), Some(&2));
        assert_eq!(
            f.world.receipt(Chain::Hemi, &first.tx_hash).await,
            Ok(Some(first.clone()))
        );
        assert_eq!(first.amount_in, 5_000 * VCRED);
        assert_eq!(f.balance(Chain::Hemi, TokenId::Wbtc), first.amount_out);
        f.clean();
    }

    #[tokio::test]
    async fn rejected_swaps_move_nothing() {
        let f = Fixture::new("rejections", 2);
        let now = f.clock.now();
        let size = 5_000 * VCRED;
        let quoted = f
            .world
            .quote(Chain::Hemi, TokenId::Vcred, TokenId::Eth, size)
            .await
            .unwrap();
        let before = f.world.balances();
        let market_before = f.world.lock().market.clone();
        let cases = [
            (
                swap(
                    Chain::Hemi,
                    TokenId::Vcred,
                    TokenId::Eth,
                    size,
                    quoted + 1,
                    now,
                ),
                "slippage",
            ),
            (
                Action::Swap {
                    chain: Chain::Hemi,
                    token_in: TokenId::Vcred,
                    token_out: TokenId::Eth,
                    amount_in: size,
                    min_out: 1,
                    deadline: now - 1,
                },
                "deadline",
            ),
            (
                swap(
                    Chain::Hemi,
                    TokenId::Vcred,
                    TokenId::Eth,
                    300_000 * VCRED,
                    1,
                    now,
                ),
                "insufficient VCRED",
            ),
            (
                swap(Chain::Ethereum, TokenId::Usdc, TokenId::Eth, VCRED, 1, now),
                "insufficient USDC",
            ),
            (
                swap(Chain::Hemi, TokenId::Weth, TokenId::Vcred, 1, 1, now),
                "no Hemi pool",
            ),
            (
                swap(Chain::Ethereum, TokenId::Vcred, TokenId::Usdc, 1, 1, now),
                "does not trade",
            ),
        ];
        for (k, (action, expected)) in cases.into_iter().enumerate() {
            let intent = f.intent(k as u64, StepKind::HemiSwap, action);
            let why = rejection(f.world.execute(&intent).await);
            assert!(why.contains(expected), "case {k}: {why}");
            assert_eq!(f.world.settle(intent.id).await, Ok(None), "case {k}");
            // Refused before sending: nothing went out, so nothing is counted.
            assert_eq!(
                f.world.execution_counts().get(&intent.id.to_string()),
                Some(&0)
            );
        }
        assert_eq!(f.world.balances(), before);
        assert_eq!(f.world.lock().market, market_before);
        // The exact quote as minimum goes through and receives it.
        let ok = f.intent(
            9,
            StepKind::HemiSwap,
            swap(Chain::Hemi, TokenId::Vcred, TokenId::Eth, size, quoted, now),
        );
        assert_eq!(f.world.execute(&ok).await.unwrap().amount_out, quoted);
        f.clean();
    }

    #[tokio::test]
    async fn gas_is_paid_in_eth_on_the_signing_chain() {
        let f = Fixture::new("gas", 3);
        let now = f.clock.now();
        let fees = f.world.fees().await.unwrap();
        let eth_before = f.balance(Chain::Hemi, TokenId::Eth);
        let intent = f.intent(
            1,
            StepKind::HemiSwap,
            swap(
                Chain::Hemi,
                TokenId::Vcred,
                TokenId::Eth,
                1_000 * VCRED,
                1,
                now,
            ),
        );
        let r = f.world.execute(&intent).await.unwrap();
        assert_eq!(r.gas_fee, fees.swap_gas_hemi);
        assert_eq!(
            f.balance(Chain::Hemi, TokenId::Eth),
            eth_before - r.gas_fee + r.amount_out
        );
        assert_eq!(
            f.balance(Chain::Ethereum, TokenId::Eth),
            2 * TokenId::Eth.one()
        );
        f.clean();
    }

    #[tokio::test]
    async fn stargate_delivers_the_expected_amount_after_its_delay() {
        let f = Fixture::new("stargate", 4);
        let now = f.clock.now();
        let send = Action::BridgeSend {
            route: Route::Stargate,
            token: TokenId::Eth,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount: TokenId::Eth.one(),
        };
        let r = f
            .world
            .execute(&f.intent(1, StepKind::BridgeOut, send))
            .await
            .unwrap();
        let ticket = r.ticket.clone().unwrap();
        assert_eq!(ticket.expected_amount, TokenId::Eth.one() / 10_000 * 9_994);
        assert_eq!(
            r.bridge_fee_token,
            TokenId::Eth.one() - ticket.expected_amount
        );
        assert_eq!(r.bridge_fee_native, 300_000_000_000_000);
        assert_eq!((r.amount_in, r.amount_out), (TokenId::Eth.one(), 0));
        let hemi_eth =
            2 * TokenId::Eth.one() - TokenId::Eth.one() - r.gas_fee - r.bridge_fee_native;
        assert_eq!(f.balance(Chain::Hemi, TokenId::Eth), hemi_eth);
        let ready_at = match f.world.bridge_status(&ticket).await.unwrap() {
            BridgeStatus::InFlight {
                ready_at: Some(at), ..
            } => at,
            other => panic!("{other:?}"),
        };
        assert!((now + 2 * MINUTE..=now + 6 * MINUTE).contains(&ready_at));
        let health = f.world.health().await;
        assert_eq!(health[2].detail, "1 in flight");
        f.clock.set(ready_at - 1);
        assert_eq!(
            f.balance(Chain::Ethereum, TokenId::Eth),
            2 * TokenId::Eth.one()
        );
        f.clock.set(ready_at);
        assert_eq!(
            f.balance(Chain::Ethereum, TokenId::Eth),
            2 * TokenId::Eth.one() + ticket.expected_amount
        );
        let BridgeStatus::Arrived {
            amount,
            tx_hash,
            at,
        } = f.world.bridge_status(&ticket).await.unwrap()
        else {
            panic!("not arrived");
        };
        assert_eq!((amount, at), (ticket.expected_amount, ready_at));
        let arrival = f
            .world
            .receipt(Chain::Ethereum, &tx_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(arrival.amount_out, ticket.expected_amount);
        // Time passing does not deliver twice.
        f.clock.advance(HOUR);
        assert_eq!(
            f.balance(Chain::Ethereum, TokenId::Eth),
            2 * TokenId::Eth.one() + ticket.expected_amount
        );
        assert_eq!(f.world.health().await[2].detail, "0 in flight");
        f.clean();
    }

    #[tokio::test]
    async fn tunnel_initiate_prove_finalize() {
        let f = Fixture::new("tunnel", 5);
        let now = f.clock.now();
        let buy = swap(
            Chain::Hemi,
            TokenId::Vcred,
            TokenId::Wbtc,
            10_000 * VCRED,
            1,
            now,
        );
        let wbtc = f
            .world
            .execute(&f.intent(1, StepKind::HemiSwap, buy))
            .await
            .unwrap()
            .amount_out;
        let send = Action::BridgeSend {
            route: Route::HemiTunnel,
            token: TokenId::Wbtc,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount: wbtc,
        };
        let sent = f
            .world
            .execute(&f.intent(1, StepKind::BridgeOut, send))
            .await
            .unwrap();
        let ticket = sent.ticket.clone().unwrap();
        assert_eq!(ticket.expected_amount, wbtc);
        assert_eq!((sent.bridge_fee_native, sent.bridge_fee_token), (0, 0));
        assert_eq!(f.balance(Chain::Hemi, TokenId::Wbtc), 0);
        let prove = Action::Prove {
            ticket: ticket.clone(),
            proof: None,
        };
        let finalize = Action::Finalize {
            ticket: ticket.clone(),
        };

        let why = rejection(
            f.world
                .execute(&f.intent(1, StepKind::Prove, prove.clone()))
                .await,
        );
        assert!(why.contains("not provable"), "{why}");
        let why = rejection(
            f.world
                .execute(&f.intent(1, StepKind::Finalize, finalize.clone()))
                .await,
        );
        assert!(why.contains("not proven"), "{why}");

        let BridgeStatus::InFlight {
            ready_at: Some(prove_at),
            ..
        } = f.world.bridge_status(&ticket).await.unwrap()
        else {
            panic!("not in flight");
        };
        assert!((now + 45 * MINUTE..=now + 75 * MINUTE).contains(&prove_at));
        f.clock.set(prove_at);
        assert_eq!(
            f.world.bridge_status(&ticket).await,
            Ok(BridgeStatus::ProveReady)
        );
        let proved = f.intent(2, StepKind::Prove, prove.clone());
        let r = f.world.execute(&proved).await.unwrap();
        assert_eq!(r.chain, Chain::Ethereum);
        let why = rejection(f.world.execute(&f.intent(3, StepKind::Prove, prove)).await);
        assert!(why.contains("already proven"), "{why}");

        let finalize_at = prove_at + DAY;
        assert_eq!(
            f.world.bridge_status(&ticket).await,
            Ok(BridgeStatus::Proved { finalize_at })
        );
        f.clock.set(finalize_at - 1);
        let why = rejection(
            f.world
                .execute(&f.intent(2, StepKind::Finalize, finalize.clone()))
                .await,
        );
        assert!(why.contains("not finalizable"), "{why}");
        f.clock.set(finalize_at);
        assert_eq!(
            f.world.bridge_status(&ticket).await,
            Ok(BridgeStatus::FinalizeReady)
        );
        let done = f
            .world
            .execute(&f.intent(3, StepKind::Finalize, finalize.clone()))
            .await
            .unwrap();
        assert_eq!(done.amount_out, wbtc);
        assert_eq!(f.balance(Chain::Ethereum, TokenId::Wbtc), wbtc);
        assert!(matches!(
            f.world.bridge_status(&ticket).await,
            Ok(BridgeStatus::Arrived { amount, .. }) if amount == wbtc
        ));
        let why = rejection(
            f.world
                .execute(&f.intent(4, StepKind::Finalize, finalize))
                .await,
        );
        assert!(why.contains("already finalized"), "{why}");
        assert_eq!(f.balance(Chain::Ethereum, TokenId::Wbtc), wbtc);
        f.clean();
    }

    #[tokio::test]
    async fn bridges_refuse_what_real_ones_would() {
        let f = Fixture::new("bridge-refusals", 6);
        let send = |route, token, from, to| Action::BridgeSend {
            route,
            token,
            from,
            to,
            amount: 1_000,
        };
        let cases = [
            send(
                Route::HemiTunnel,
                TokenId::Usdc,
                Chain::Ethereum,
                Chain::Hemi,
            ),
            send(
                Route::Stargate,
                TokenId::Vcred,
                Chain::Hemi,
                Chain::Ethereum,
            ),
            send(Route::Stargate, TokenId::Eth, Chain::Hemi, Chain::Hemi),
            send(Route::Stargate, TokenId::Usdc, Chain::Ethereum, Chain::Hemi),
        ];
        let before = f.world.balances();
        for (k, action) in cases.into_iter().enumerate() {
            rejection(
                f.world
                    .execute(&f.intent(k as u64, StepKind::BridgeOut, action))
                    .await,
            );
        }
        assert_eq!(f.world.balances(), before);
        let mut forged = f.intent(
            9,
            StepKind::BridgeOut,
            send(Route::Stargate, TokenId::Eth, Chain::Hemi, Chain::Ethereum),
        );
        forged.payload_hash = "0x00".into();
        assert!(rejection(f.world.execute(&forged).await).contains("payload hash"));
        let unknown = crate::model::BridgeTicket {
            route: Route::Stargate,
            token: TokenId::Eth,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount_sent: 1,
            expected_amount: 1,
            message_id: "0xnope".into(),
            source_tx: "0x".into(),
            sent_at: 0,
        };
        assert!(matches!(
            f.world.bridge_status(&unknown).await,
            Err(VenueError::Rejected(_))
        ));
        assert!(matches!(
            f.world.balance(Chain::Ethereum, TokenId::Vcred).await,
            Err(VenueError::Rejected(_))
        ));
        assert!(matches!(
            f.world
                .quote(Chain::Hemi, TokenId::Weth, TokenId::Vcred, 1)
                .await,
            Err(VenueError::Rejected(_))
        ));
        f.clean();
    }

    /// Runs one whole cycle of the loop the way the engine would, checking
    /// that every unit is accounted for at every step: genesis plus the
    /// receipts' deltas plus Stargate arrivals equals the wallet, and what is
    /// missing from the wallet is exactly what is in flight.
    async fn run_cycle(
        f: &Fixture,
        cycle: u64,
        token: TokenId,
        route: Route,
        ledger: &mut BTreeMap<(Chain, TokenId), i128>,
    ) {
        let check = |ledger: &BTreeMap<(Chain, TokenId), i128>, in_flight: (TokenId, u128)| {
            let genesis: BTreeMap<_, _> = f
                .world
                .genesis_balances()
                .into_iter()
                .map(|(c, t, a)| ((c, t), a as i128))
                .collect();
            for (c, t, a) in f.world.balances() {
                let expected = genesis.get(&(c, t)).copied().unwrap_or(0)
                    + ledger.get(&(c, t)).copied().unwrap_or(0);
                assert_eq!(a as i128, expected, "{c} {t}");
            }
            assert_eq!(f.world.lock().in_flight_amount(in_flight.0), in_flight.1);
        };
        let step = async |kind: StepKind,
                          action: Action,
                          ledger: &mut BTreeMap<(Chain, TokenId), i128>| {
            let r = f
                .world
                .execute(&f.intent(cycle, kind, action.clone()))
                .await
                .unwrap();
            receipt_deltas(&action, &r, ledger);
            r
        };
        let now = f.clock.now();
        let x = step(
            StepKind::HemiSwap,
            swap(Chain::Hemi, TokenId::Vcred, token, 5_000 * VCRED, 1, now),
            ledger,
        )
        .await
        .amount_out;
        check(ledger, (token, 0));
        let out = Action::BridgeSend {
            route,
            token,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount: x,
        };
        let ticket = step(StepKind::BridgeOut, out, ledger).await.ticket.unwrap();
        check(ledger, (token, ticket.expected_amount));
        match route {
            Route::Stargate => {
                f.clock.advance(6 * MINUTE);
                *ledger.entry((Chain::Ethereum, token)).or_insert(0) +=
                    ticket.expected_amount as i128;
            }
            Route::HemiTunnel => {
                f.clock.advance(75 * MINUTE);
                step(
                    StepKind::Prove,
                    Action::Prove {
                        ticket: ticket.clone(),
                        proof: None,
                    },
                    ledger,
                )
                .await;
                check(ledger, (token, ticket.expected_amount));
                f.clock.advance(DAY);
                step(
                    StepKind::Finalize,
                    Action::Finalize {
                        ticket: ticket.clone(),
                    },
                    ledger,
                )
                .await;
            }
        }
        check(ledger, (token, 0));
        let now = f.clock.now();
        let sell = swap(
            Chain::Ethereum,
            token,
            TokenId::Usdc,
            ticket.expected_amount,
            1,
            now,
        );
        let usdc = step(StepKind::EthSwap, sell, ledger).await.amount_out;
        let back = Action::BridgeSend {
            route: Route::Stargate,
            token: TokenId::Usdc,
            from: Chain::Ethereum,
            to: Chain::Hemi,
            amount: usdc,
        };
        let back = step(StepKind::BridgeBack, back, ledger)
            .await
            .ticket
            .unwrap();
        check(ledger, (TokenId::Usdc, back.expected_amount));
        f.clock.advance(6 * MINUTE);
        *ledger.entry((Chain::Hemi, TokenId::Usdc)).or_insert(0) += back.expected_amount as i128;
        check(ledger, (TokenId::Usdc, 0));
        let now = f.clock.now();
        step(
            StepKind::CloseSwap,
            swap(
                Chain::Hemi,
                TokenId::Usdc,
                TokenId::Vcred,
                back.expected_amount,
                1,
                now,
            ),
            ledger,
        )
        .await;
        check(ledger, (TokenId::Usdc, 0));
    }

    #[tokio::test]
    async fn money_is_conserved_through_whole_cycles_on_both_routes() {
        let f = Fixture::new("conservation", 7);
        let mut ledger = BTreeMap::new();
        run_cycle(&f, 1, TokenId::Eth, Route::Stargate, &mut ledger).await;
        run_cycle(&f, 2, TokenId::Xaut, Route::HemiTunnel, &mut ledger).await;
        run_cycle(&f, 3, TokenId::HemiBtc, Route::Stargate, &mut ledger).await;
        // Nothing is left anywhere but VCRED and gas money.
        for (c, t, a) in f.world.balances() {
            if !matches!(t, TokenId::Vcred | TokenId::Eth) {
                assert_eq!(a, 0, "{c} {t} left over");
            }
        }
        f.clean();
    }

    #[tokio::test]
    async fn health_reports_chains_and_bridges() {
        let f = Fixture::new("health", 8);
        let h = f.world.health().await;
        let names: Vec<&str> = h.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Hemi (paper)",
                "Ethereum (paper)",
                "Stargate (paper)",
                "Hemi tunnel (paper)"
            ]
        );
        assert_eq!(h[1].head, Some(f.clock.now() / 12_000));
        assert!(h.iter().all(|v| v.ok));
        f.clean();
    }
}
