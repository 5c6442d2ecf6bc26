//! What one intent does to the paper world, as the real chains would: swaps
//! with deadline, balance and slippage checks; Stargate and tunnel sends;
//! tunnel proves and finalizes. Each action is worked out on copies of the
//! markets and wallet and either returns the whole new world piece or a
//! rejection that moved nothing — the caller stores it in one transaction.

use super::bridge::{Transfer, prove_delay, stargate_delay};
use super::fees::{
    EXTRA_HOP_GAS, FINALIZE_GAS, PROVE_GAS, STARGATE_NATIVE_FEE, STARGATE_SEND_GAS, SWAP_GAS,
    TUNNEL_INITIATE_GAS, gas_cost, stargate_delivers,
};
use super::ids;
use super::market::Market;
use super::state::State;
use super::wallet::{Shortfall, Wallet};
use crate::model::intent::payload_hash;
use crate::model::time::format_time;
use crate::model::{
    Action, BridgeTicket, Chain, Intent, Receipt, Route, Timestamp, TokenId, Units, format_units,
};
use crate::venue::VenueError;

/// The world after an action that went through.
#[derive(Debug, Clone)]
pub struct Applied {
    pub market: Market,
    pub wallet: Wallet,
    /// The transfer the action created or moved along.
    pub transfer: Option<Transfer>,
    pub receipt: Receipt,
}

fn rejected(reason: impl Into<String>) -> VenueError {
    VenueError::Rejected(reason.into())
}

fn insufficient(s: Shortfall) -> VenueError {
    rejected(format!(
        "insufficient {} on {}: have {}, need {}",
        s.token,
        s.chain,
        format_units(s.have, s.token.decimals()),
        format_units(s.need, s.token.decimals())
    ))
}

/// Work out `intent` against `state` at time `now`.
pub fn apply(state: &State, intent: &Intent, now: Timestamp) -> Result<Applied, VenueError> {
    if intent.payload_hash != payload_hash(&intent.action) {
        return Err(rejected(format!(
            "intent {}: payload hash does not match its action",
            intent.id
        )));
    }
    let tx_hash = ids::tx_hash(state.seed, intent.id);
    let receipt = |chain, gas_fee| Receipt {
        tx_hash: tx_hash.clone(),
        chain,
        at: now,
        gas_fee,
        amount_in: 0,
        amount_out: 0,
        bridge_fee_native: 0,
        bridge_fee_token: 0,
        ticket: None,
        via: None,
    };
    let mut market = state.market.clone();
    let mut wallet = state.wallet.clone();
    match &intent.action {
        &Action::Swap {
            chain,
            token_in,
            token_out,
            amount_in,
            min_out,
            deadline,
        } => {
            if now > deadline {
                return Err(rejected(format!(
                    "deadline {} passed",
                    format_time(deadline)
                )));
            }
            if amount_in == 0 {
                return Err(rejected("swap of nothing"));
            }
            if !token_in.exists_on(chain) || !token_out.exists_on(chain) {
                return Err(rejected(format!(
                    "{token_in}→{token_out} does not trade on {chain}"
                )));
            }
            let hops = market
                .route(chain, token_in, token_out)
                .map_err(|_| rejected(format!("no {chain} pool trades {token_in}→{token_out}")))?;
            let gas_units = SWAP_GAS + EXTRA_HOP_GAS * (hops.len() as Units - 1);
            let gas = gas_cost(&market, chain, gas_units);
            wallet
                .can_pay(&[(chain, token_in, amount_in), (chain, TokenId::Eth, gas)])
                .map_err(insufficient)?;
            // Simulated before sending, as a wallet does: a slippage failure costs nothing.
            let out = market
                .quote(chain, token_in, token_out, amount_in)
                .unwrap_or(0);
            if out < min_out || out == 0 {
                return Err(rejected(format!(
                    "slippage: {} {token_in} would return {} {token_out}, below the minimum {}",
                    format_units(amount_in, token_in.decimals()),
                    format_units(out, token_out.decimals()),
                    format_units(min_out, token_out.decimals()),
                )));
            }
            let out = market
                .swap(chain, token_in, token_out, amount_in)
                .unwrap_or(0);
            wallet
                .debit(chain, token_in, amount_in)
                .map_err(insufficient)?;
            wallet
                .debit(chain, TokenId::Eth, gas)
                .map_err(insufficient)?;
            wallet.credit(chain, token_out, out);
            let receipt = Receipt {
                amount_in,
                amount_out: out,
                ..receipt(chain, gas)
            };
            Ok(Applied {
                market,
                wallet,
                transfer: None,
                receipt,
            })
        }
        &Action::BridgeSend {
            route,
            token,
            from,
            to,
            amount,
        } => {
            if from == to {
                return Err(rejected(format!("bridge from {from} to itself")));
            }
            if !token.exists_on(from) || !token.exists_on(to) {
                return Err(rejected(format!(
                    "{token} cannot travel from {from} to {to}"
                )));
            }
            if amount == 0 {
                return Err(rejected("bridge of nothing"));
            }
            let (gas, native_fee, expected, message_id, ready_at) = match route {
                Route::Stargate => {
                    let expected = stargate_delivers(amount);
                    if expected == 0 {
                        return Err(rejected("amount too small for Stargate's fee"));
                    }
                    (
                        gas_cost(&market, from, STARGATE_SEND_GAS),
                        STARGATE_NATIVE_FEE,
                        expected,
                        ids::stargate_guid(state.seed, intent.id),
                        now.saturating_add(stargate_delay(state.seed, intent.id)),
                    )
                }
                Route::HemiTunnel => {
                    if (from, to) != (Chain::Hemi, Chain::Ethereum) {
                        return Err(rejected(
                            "the Hemi tunnel only withdraws from Hemi to Ethereum",
                        ));
                    }
                    (
                        gas_cost(&market, from, TUNNEL_INITIATE_GAS),
                        0,
                        amount,
                        ids::withdrawal_hash(state.seed, intent.id),
                        now.saturating_add(prove_delay(state.seed, intent.id)),
                    )
                }
            };
            wallet
                .can_pay(&[
                    (from, token, amount),
                    (from, TokenId::Eth, gas.saturating_add(native_fee)),
                ])
                .map_err(insufficient)?;
            wallet.debit(from, token, amount).map_err(insufficient)?;
            wallet
                .debit(from, TokenId::Eth, gas.saturating_add(native_fee))
                .map_err(insufficient)?;
            let ticket = BridgeTicket {
                route,
                token,
                from,
                to,
                amount_sent: amount,
                expected_amount: expected,
                message_id,
                source_tx: tx_hash.clone(),
                sent_at: now,
            };
            let receipt = Receipt {
                amount_in: amount,
                bridge_fee_native: native_fee,
                bridge_fee_token: amount - expected,
                ticket: Some(ticket.clone()),
                ..receipt(from, gas)
            };
            Ok(Applied {
                market,
                wallet,
                transfer: Some(Transfer::new(ticket, ready_at)),
                receipt,
            })
        }
        Action::Prove { ticket, .. } => {
            let mut transfer = withdrawal(state, ticket)?;
            if transfer.proved_at.is_some() {
                return Err(rejected(format!(
                    "withdrawal {} is already proven",
                    ticket.message_id
                )));
            }
            if now < transfer.ready_at {
                return Err(rejected(format!(
                    "withdrawal {} is not provable until {} (output not yet proposed)",
                    ticket.message_id,
                    format_time(transfer.ready_at)
                )));
            }
            let gas = gas_cost(&market, ticket.to, PROVE_GAS);
            wallet
                .debit(ticket.to, TokenId::Eth, gas)
                .map_err(insufficient)?;
            transfer.proved_at = Some(now);
            let receipt = Receipt {
                ticket: Some(transfer.ticket.clone()),
                ..receipt(ticket.to, gas)
            };
            Ok(Applied {
                market,
                wallet,
                transfer: Some(transfer),
                receipt,
            })
        }
        Action::Finalize { ticket } => {
            let mut transfer = withdrawal(state, ticket)?;
            if transfer.arrival.is_some() {
                return Err(rejected(format!(
                    "withdrawal {} is already finalized",
                    ticket.message_id
                )));
            }
            let Some(finalize_at) = transfer.finalize_at() else {
                return Err(rejected(format!(
                    "withdrawal {} is not proven yet",
                    ticket.message_id
                )));
            };
            if now < finalize_at {
                return Err(rejected(format!(
                    "withdrawal {} is not finalizable until {} (challenge window)",
                    ticket.message_id,
                    format_time(finalize_at)
                )));
            }
            let gas = gas_cost(&market, ticket.to, FINALIZE_GAS);
            wallet
                .debit(ticket.to, TokenId::Eth, gas)
                .map_err(insufficient)?;
            let amount = transfer.ticket.expected_amount;
            wallet.credit(ticket.to, transfer.ticket.token, amount);
            transfer.arrival = Some(super::bridge::Arrival {
                tx_hash: tx_hash.clone(),
                at: now,
                amount,
            });
            let receipt = Receipt {
                amount_out: amount,
                ticket: Some(transfer.ticket.clone()),
                ..receipt(ticket.to, gas)
            };
            Ok(Applied {
                market,
                wallet,
                transfer: Some(transfer),
                receipt,
            })
        }
    }
}

/// The tunnel withdrawal a prove or finalize names; it must match what was sent.
fn withdrawal(state: &State, ticket: &BridgeTicket) -> Result<Transfer, VenueError> {
    let transfer = state
        .transfers
        .get(&ticket.message_id)
        .ok_or_else(|| rejected(format!("unknown withdrawal {}", ticket.message_id)))?;
    if transfer.ticket.route != Route::HemiTunnel {
        return Err(rejected(format!(
            "{} is not a tunnel withdrawal",
            ticket.message_id
        )));
    }
    if &transfer.ticket != ticket {
        return Err(rejected(format!(
            "ticket {} does not match the withdrawal sent",
            ticket.message_id
        )));
    }
    Ok(transfer.clone())
}
