//! The VCRED cross-chain loop (docs/architecture.md §4.1): the end-to-end
//! profit model (§4.2),
//! the venue action behind each step, and what each receipt means for the
//! ledger and for where the cycle's money is.

use crate::model::time::MINUTE;
use crate::model::{
    Action, BridgeTicket, Chain, Cycle, Holding, LedgerKind, Receipt, Route, StepKind, Timestamp,
    TokenId, Units, to_decimal,
};
use crate::venue::{FeeSchedule, LoopVenue, VenueError};
use rust_decimal::Decimal;

/// Decimal places of costs valued in VCRED.
pub const VALUE_PLACES: u32 = 12;

/// How long a swap transaction stays valid.
pub const SWAP_DEADLINE_MS: u64 = 10 * MINUTE;

/// Prices used to value costs in VCRED at the moment they are paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valuation {
    /// USDC per ETH.
    pub eth_usdc: Decimal,
    /// VCRED per USDC (from the Hemi USDC→VCRED quote).
    pub vcred_per_usdc: Decimal,
}

impl Valuation {
    /// Wei of ETH valued in VCRED, rounded up at 12 places: a fixed scale
    /// keeps every sum of costs exact, whatever order it is added in.
    pub fn wei_to_vcred(&self, wei: Units) -> Decimal {
        let value =
            to_decimal(wei, 18).unwrap_or(Decimal::MAX) * self.eth_usdc * self.vcred_per_usdc;
        value.round_dp_with_strategy(VALUE_PLACES, rust_decimal::RoundingStrategy::AwayFromZero)
    }

    /// Read the current valuation from the venue (one fee read, one quote).
    pub async fn read<V: LoopVenue>(venue: &V) -> Result<(Valuation, FeeSchedule), VenueError> {
        let fees = venue.fees().await?;
        let probe = 1_000 * TokenId::Usdc.one();
        let vcred = venue
            .quote(Chain::Hemi, TokenId::Usdc, TokenId::Vcred, probe)
            .await?;
        let vcred_per_usdc = to_decimal(vcred, 6)
            .map_err(|e| VenueError::Rejected(e.to_string()))?
            / Decimal::from(1_000);
        Ok((
            Valuation {
                eth_usdc: fees.eth_usdc,
                vcred_per_usdc,
            },
            fees,
        ))
    }
}

/// The expected outcome of one cycle at one size (docs/architecture.md §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub vcred_in: Units,
    pub x_out: Units,
    pub usdc_out: Units,
    pub vcred_out: Units,
    /// Gas and bridge native fees for all steps, valued in VCRED.
    pub fees_vcred: Decimal,
    pub profit_vcred: Decimal,
}

/// Token fee a bridge keeps, rounded up (the conservative side).
pub fn bridge_token_fee(route: Route, amount: Units, fees: &FeeSchedule) -> Units {
    match route {
        Route::Stargate => (amount * u128::from(fees.stargate_fee_bps)).div_ceil(10_000),
        Route::HemiTunnel => 0,
    }
}

/// Every native cost of one cycle on `route`, in wei.
pub fn cycle_gas_wei(route: Route, fees: &FeeSchedule) -> Units {
    let swaps = 2 * fees.swap_gas_hemi + fees.swap_gas_ethereum;
    let back = fees.bridge_send_gas_ethereum + fees.stargate_native_fee;
    let out = match route {
        Route::Stargate => fees.stargate_send_gas_hemi + fees.stargate_native_fee,
        Route::HemiTunnel => {
            fees.tunnel_initiate_gas_hemi + fees.prove_gas_ethereum + fees.finalize_gas_ethereum
        }
    };
    swaps + back + out
}

/// Something that answers exact-in quotes (the venue behind a cache and a budget).
pub trait Quoter {
    fn quote(
        &mut self,
        chain: Chain,
        token_in: TokenId,
        token_out: TokenId,
        amount_in: Units,
    ) -> impl std::future::Future<Output = Result<Units, VenueError>> + Send;
}

/// Quote one whole cycle of `token` on `route` at `vcred_in`.
pub async fn estimate<Q: Quoter + Send>(
    quoter: &mut Q,
    token: TokenId,
    route: Route,
    vcred_in: Units,
    fees: &FeeSchedule,
    valuation: &Valuation,
) -> Result<Estimate, VenueError> {
    let x_out = quoter
        .quote(Chain::Hemi, TokenId::Vcred, token, vcred_in)
        .await?;
    let x_arrived = x_out - bridge_token_fee(route, x_out, fees);
    let usdc_out = quoter
        .quote(Chain::Ethereum, token, TokenId::Usdc, x_arrived)
        .await?;
    let usdc_arrived = usdc_out - bridge_token_fee(Route::Stargate, usdc_out, fees);
    let vcred_out = quoter
        .quote(Chain::Hemi, TokenId::Usdc, TokenId::Vcred, usdc_arrived)
        .await?;
    let fees_vcred = valuation.wei_to_vcred(cycle_gas_wei(route, fees));
    let profit_vcred = vcred_dec(vcred_out) - vcred_dec(vcred_in) - fees_vcred;
    Ok(Estimate {
        vcred_in,
        x_out,
        usdc_out,
        vcred_out,
        fees_vcred,
        profit_vcred,
    })
}

/// VCRED base units as a decimal (6 decimals always fit).
pub fn vcred_dec(units: Units) -> Decimal {
    to_decimal(units, TokenId::Vcred.decimals()).unwrap_or(Decimal::MAX)
}

/// `amount` less the slippage bound, rounded down.
pub fn min_out(amount: Units, slippage_bps: u32) -> Units {
    amount * u128::from(10_000 - slippage_bps.min(10_000)) / 10_000
}

/// The venue action that carries out `step` for `cycle` now. Swaps after the
/// opening one take a fresh quote for their slippage bound; the opening swap
/// is bound by what the planner expected, so a vanished edge is not chased.
pub async fn action_for<V: LoopVenue>(
    venue: &V,
    cycle: &Cycle,
    step: StepKind,
    now: Timestamp,
    slippage_bps: u32,
) -> Result<Action, VenueError> {
    let h = &cycle.holding;
    let x = cycle.token;
    let swap = |chain, token_in, token_out, amount_in, min_out| Action::Swap {
        chain,
        token_in,
        token_out,
        amount_in,
        min_out,
        deadline: now + SWAP_DEADLINE_MS,
    };
    let ticket = |t: &Option<BridgeTicket>| {
        t.clone().ok_or_else(|| {
            VenueError::Rejected(format!("{} has no bridge ticket for {step}", cycle.id))
        })
    };
    Ok(match step {
        StepKind::HemiSwap => swap(
            Chain::Hemi,
            TokenId::Vcred,
            x,
            cycle.vcred_in,
            min_out(cycle.expected_x, slippage_bps),
        ),
        StepKind::BridgeOut => Action::BridgeSend {
            route: cycle.route,
            token: x,
            from: Chain::Hemi,
            to: Chain::Ethereum,
            amount: h.amount,
        },
        StepKind::Prove => Action::Prove {
            ticket: ticket(&cycle.bridge_out)?,
            proof: cycle.proof_data.clone(),
        },
        StepKind::Finalize => Action::Finalize {
            ticket: ticket(&cycle.bridge_out)?,
        },
        StepKind::EthSwap => {
            let quoted = venue
                .quote(Chain::Ethereum, x, TokenId::Usdc, h.amount)
                .await?;
            swap(
                Chain::Ethereum,
                x,
                TokenId::Usdc,
                h.amount,
                min_out(quoted, slippage_bps),
            )
        }
        StepKind::BridgeBack => Action::BridgeSend {
            route: Route::Stargate,
            token: TokenId::Usdc,
            from: Chain::Ethereum,
            to: Chain::Hemi,
            amount: h.amount,
        },
        StepKind::CloseSwap => {
            let quoted = venue
                .quote(Chain::Hemi, TokenId::Usdc, TokenId::Vcred, h.amount)
                .await?;
            swap(
                Chain::Hemi,
                TokenId::Usdc,
                TokenId::Vcred,
                h.amount,
                min_out(quoted, slippage_bps),
            )
        }
    })
}

/// One balance movement a receipt implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub kind: LedgerKind,
    pub chain: Chain,
    pub token: TokenId,
    pub delta: i128,
    pub value_vcred: Decimal,
    pub note: String,
}

/// Gas paid on `chain`, in wei of its ETH.
pub fn gas_movement(chain: Chain, wei: Units, valuation: &Valuation, note: String) -> Movement {
    Movement {
        kind: LedgerKind::Gas,
        chain,
        token: TokenId::Eth,
        delta: -i128::try_from(wei).unwrap_or(i128::MAX),
        value_vcred: -valuation.wei_to_vcred(wei),
        note,
    }
}

/// What a receipt of `step` does: the ledger lines, and where the money is after.
pub fn movements(
    cycle: &Cycle,
    step: StepKind,
    action: &Action,
    receipt: &Receipt,
    valuation: &Valuation,
) -> (Vec<Movement>, Holding) {
    let mut out = Vec::new();
    let signed = |u: Units| i128::try_from(u).unwrap_or(i128::MAX);
    if receipt.gas_fee > 0 {
        out.push(gas_movement(
            receipt.chain,
            receipt.gas_fee,
            valuation,
            format!("gas for {step}"),
        ));
    }
    if receipt.bridge_fee_native > 0 {
        out.push(Movement {
            kind: LedgerKind::BridgeFee,
            chain: receipt.chain,
            token: TokenId::Eth,
            delta: -signed(receipt.bridge_fee_native),
            value_vcred: -valuation.wei_to_vcred(receipt.bridge_fee_native),
            note: format!("bridge native fee for {step}"),
        });
    }
    let holding = match action {
        Action::Swap {
            chain,
            token_in,
            token_out,
            ..
        } => {
            out.push(Movement {
                kind: LedgerKind::SwapIn,
                chain: *chain,
                token: *token_in,
                delta: -signed(receipt.amount_in),
                value_vcred: if *token_in == TokenId::Vcred {
                    -vcred_dec(receipt.amount_in)
                } else {
                    Decimal::ZERO
                },
                note: format!("{step}: sell {token_in}"),
            });
            out.push(Movement {
                kind: LedgerKind::SwapOut,
                chain: *chain,
                token: *token_out,
                delta: signed(receipt.amount_out),
                value_vcred: if *token_out == TokenId::Vcred {
                    vcred_dec(receipt.amount_out)
                } else {
                    Decimal::ZERO
                },
                note: format!("{step}: buy {token_out}"),
            });
            Holding {
                chain: *chain,
                token: *token_out,
                amount: receipt.amount_out,
                in_flight: false,
            }
        }
        Action::BridgeSend {
            route,
            token,
            from,
            to,
            ..
        } => {
            out.push(Movement {
                kind: LedgerKind::BridgeDebit,
                chain: *from,
                token: *token,
                delta: -signed(receipt.amount_in),
                value_vcred: Decimal::ZERO,
                note: format!("{step}: {token} {from} → {to} via {route}"),
            });
            let expected = receipt
                .ticket
                .as_ref()
                .map(|t| t.expected_amount)
                .unwrap_or(receipt.amount_in);
            Holding {
                chain: *to,
                token: *token,
                amount: expected,
                in_flight: true,
            }
        }
        Action::Prove { .. } => cycle.holding.clone(),
        Action::Finalize { ticket } => {
            out.push(Movement {
                kind: LedgerKind::BridgeCredit,
                chain: ticket.to,
                token: ticket.token,
                delta: signed(receipt.amount_out),
                value_vcred: Decimal::ZERO,
                note: format!("finalize: {} released on {}", ticket.token, ticket.to),
            });
            Holding {
                chain: ticket.to,
                token: ticket.token,
                amount: receipt.amount_out,
                in_flight: false,
            }
        }
    };
    (out, holding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fees() -> FeeSchedule {
        FeeSchedule {
            swap_gas_hemi: 150_000 * 1_000_000_000,
            swap_gas_ethereum: 150_000 * 20_000_000_000,
            stargate_send_gas_hemi: 200_000 * 1_000_000_000,
            tunnel_initiate_gas_hemi: 250_000 * 1_000_000_000,
            bridge_send_gas_ethereum: 200_000 * 20_000_000_000,
            prove_gas_ethereum: 400_000 * 20_000_000_000,
            finalize_gas_ethereum: 300_000 * 20_000_000_000,
            stargate_native_fee: 300_000_000_000_000,
            stargate_fee_bps: 6,
            tunnel_finalization_secs: None,
            eth_usdc: Decimal::from(3_000),
        }
    }

    /// A quoter over fixed prices, counting calls.
    struct FixedPrices {
        calls: u32,
    }

    impl Quoter for FixedPrices {
        async fn quote(
            &mut self,
            chain: Chain,
            i: TokenId,
            o: TokenId,
            amount: Units,
        ) -> Result<Units, VenueError> {
            self.calls += 1;
            // X is 2 % cheaper on Hemi; VCRED = USDC; X is worth 3000 USDC on Ethereum.
            Ok(match (chain, i, o) {
                (Chain::Hemi, TokenId::Vcred, TokenId::Eth) => {
                    amount * 10u128.pow(12) * 102 / 100 / 3_000
                }
                (Chain::Ethereum, TokenId::Eth, TokenId::Usdc) => amount * 3_000 / 10u128.pow(12),
                (Chain::Hemi, TokenId::Usdc, TokenId::Vcred) => amount,
                _ => return Err(VenueError::Rejected("no pool".into())),
            })
        }
    }

    #[test]
    fn tunnel_costs_more_gas_than_stargate_but_no_token_fee() {
        let f = fees();
        assert!(cycle_gas_wei(Route::HemiTunnel, &f) > cycle_gas_wei(Route::Stargate, &f));
        assert_eq!(bridge_token_fee(Route::HemiTunnel, 1_000_000, &f), 0);
        assert_eq!(bridge_token_fee(Route::Stargate, 1_000_000, &f), 600);
        assert_eq!(bridge_token_fee(Route::Stargate, 1, &f), 1, "rounds up");
    }

    #[test]
    fn fees_are_valued_in_vcred() {
        let v = Valuation {
            eth_usdc: Decimal::from(3_000),
            vcred_per_usdc: Decimal::ONE,
        };
        assert_eq!(v.wei_to_vcred(10u128.pow(18)), Decimal::from(3_000));
        assert_eq!(v.wei_to_vcred(10u128.pow(15)), Decimal::from(3));
    }

    #[tokio::test]
    async fn profit_is_out_minus_in_minus_fees() {
        let f = fees();
        let v = Valuation {
            eth_usdc: Decimal::from(3_000),
            vcred_per_usdc: Decimal::ONE,
        };
        let mut q = FixedPrices { calls: 0 };
        let e = estimate(
            &mut q,
            TokenId::Eth,
            Route::Stargate,
            10_000_000_000,
            &f,
            &v,
        )
        .await
        .unwrap();
        assert_eq!(q.calls, 3);
        let expected_fees = v.wei_to_vcred(cycle_gas_wei(Route::Stargate, &f));
        assert_eq!(e.fees_vcred, expected_fees);
        assert_eq!(
            e.profit_vcred,
            vcred_dec(e.vcred_out) - Decimal::from(10_000) - expected_fees
        );
        // 2 % edge minus two 6 bps bridge fees on 10 000 VCRED, minus ~ 12 VCRED of gas.
        assert!(
            e.profit_vcred > Decimal::from(150) && e.profit_vcred < Decimal::from(200),
            "{}",
            e.profit_vcred
        );
    }

    #[test]
    fn min_out_applies_the_bound() {
        assert_eq!(min_out(1_000_000, 50), 995_000);
        assert_eq!(min_out(1_000_000, 10_000), 0);
    }
}
