//! The fake orderbook's local solver: each open sell order is settled
//! through the real `GPv2Settlement.settle` with the allowed solver's key —
//! the sold tokens pulled by the vault relayer, swapped on the chain's
//! Uniswap V2 router by two interactions from the settlement (approve, then
//! swap into the settlement), and the clearing prices set so the order
//! receives exactly what the swap produced. An order whose limit the pool
//! does not meet stays open. After the settlement is mined the order's
//! executed amounts and its trade (with the transaction hash) are what the
//! receipt's `Trade` event says. Also the V2-router [`Quoting`] the fake's
//! quotes come from.

use super::{FakeCow, FakeCowTrade, Quoting};
use crate::fakes::lock;
use crate::venue::evm::abi::{IERC20, IGPv2Settlement, IUniswapV2Router02};
use crate::venue::evm::devnet::{send_mined, signing_provider};
use crate::venue::evm::swap::cow_order::{self, OrderKind, OrderUid};
use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, U512};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use anyhow::{Context, anyhow};
use std::sync::Arc;

/// Who settles, where.
pub struct LocalSolver {
    provider: DynProvider,
    settlement: Address,
    router: Address,
}

/// What one solver pass did with an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Solved {
    /// Settled in this transaction: sold (fees included) and bought.
    Settled {
        uid: OrderUid,
        tx_hash: B256,
        executed_sell: U256,
        executed_buy: U256,
    },
    /// Left open, and why.
    LeftOpen { uid: OrderUid, reason: String },
}

/// `amount` of `sell` through the V2 router's pair to `buy`: `None` when
/// the router has no pool for it (its call reverts).
pub async fn v2_amount_out(
    p: &DynProvider,
    router: Address,
    sell: Address,
    buy: Address,
    amount: U256,
) -> Result<Option<U256>, String> {
    let call = IUniswapV2Router02::getAmountsOutCall {
        amountIn: amount,
        path: vec![sell, buy],
    };
    let tx = TransactionRequest::default()
        .with_to(router)
        .with_input(Bytes::from(call.abi_encode()));
    match p.call(tx).await {
        Ok(out) => IUniswapV2Router02::getAmountsOutCall::abi_decode_returns(&out)
            .map(|a| a.last().copied())
            .map_err(|e| format!("getAmountsOut answer: {e}")),
        Err(e) if e.as_error_resp().is_some() => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Quotes from the V2 router at `router` (an `eth_call` of `getAmountsOut`).
pub fn v2_router_quoting(p: DynProvider, router: Address) -> Quoting {
    Arc::new(move |sell, buy, amount| {
        let p = p.clone();
        Box::pin(async move { v2_amount_out(&p, router, sell, buy, amount).await })
    })
}

impl LocalSolver {
    /// The solver whose key is `solver_key` (allowed by the settlement's
    /// authenticator) on the node at `rpc_url`.
    pub fn new(
        rpc_url: &str,
        solver_key: &str,
        settlement: Address,
        router: Address,
    ) -> anyhow::Result<LocalSolver> {
        Ok(LocalSolver {
            provider: signing_provider(rpc_url, solver_key)?,
            settlement,
            router,
        })
    }
}

fn mul_wide(a: U256, b: U256) -> U512 {
    U512::from(a) * U512::from(b)
}

impl FakeCow {
    /// Settle every open order it can, one settlement transaction each.
    pub async fn settle_open_orders(&self, solver: &LocalSolver) -> anyhow::Result<Vec<Solved>> {
        let (open, never, (num, den)) = {
            let s = lock(&self.state);
            let now = s.now();
            let open: Vec<_> = s
                .orders
                .iter()
                .filter(|o| o.status(now) == "open")
                .cloned()
                .collect();
            (open, s.never_fill, s.partial_fill)
        };
        let p = &solver.provider;
        let head = p
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| anyhow!("the node has no latest block"))?;
        let chain_now = head.header.timestamp;
        let mut outcomes = Vec::new();
        for o in open {
            let left = |reason: &str| Solved::LeftOpen {
                uid: o.uid,
                reason: reason.to_string(),
            };
            let x = &o.order;
            if never {
                outcomes.push(left("never filled (scripted)"));
                continue;
            }
            if u64::from(x.validTo) < chain_now + 2 {
                outcomes.push(left("expired on chain"));
                continue;
            }
            if x.order_kind()? != OrderKind::Sell {
                outcomes.push(left("the local solver fills sell orders only"));
                continue;
            }
            let remaining = x.sellAmount.saturating_sub(o.executed_sell_before_fees);
            let take = if x.partiallyFillable {
                // In 512 bits: a posted amount may be anything up to 2²⁵⁶ − 1.
                let part = mul_wide(x.sellAmount, U256::from(num)) / U512::from(den);
                U256::saturating_from(part).min(remaining)
            } else {
                x.sellAmount
            };
            if take.is_zero() || (!x.partiallyFillable && !o.executed_sell.is_zero()) {
                outcomes.push(left("nothing left to fill"));
                continue;
            }
            let out = match v2_amount_out(p, solver.router, x.sellToken, x.buyToken, take).await {
                Ok(Some(out)) if !out.is_zero() => out,
                Ok(_) => {
                    outcomes.push(left("no pool for the pair"));
                    continue;
                }
                Err(e) => return Err(anyhow!("pricing {}: {e}", o.uid)),
            };
            // The order's limit: out / take ≥ buyAmount / sellAmount.
            if mul_wide(out, x.sellAmount) < mul_wide(x.buyAmount, take) {
                outcomes.push(left("the pool does not meet the limit price"));
                continue;
            }
            let interactions = [
                vec![],
                vec![
                    IGPv2Settlement::InteractionData {
                        target: x.sellToken,
                        value: U256::ZERO,
                        callData: IERC20::approveCall {
                            spender: solver.router,
                            value: take,
                        }
                        .abi_encode()
                        .into(),
                    },
                    IGPv2Settlement::InteractionData {
                        target: solver.router,
                        value: U256::ZERO,
                        callData: IUniswapV2Router02::swapExactTokensForTokensCall {
                            amountIn: take,
                            amountOutMin: out,
                            path: vec![x.sellToken, x.buyToken],
                            to: solver.settlement,
                            deadline: U256::from(x.validTo),
                        }
                        .abi_encode()
                        .into(),
                    },
                ],
                vec![],
            ];
            let trade = IGPv2Settlement::TradeData {
                sellTokenIndex: U256::ZERO,
                buyTokenIndex: U256::from(1),
                receiver: x.receiver,
                sellAmount: x.sellAmount,
                buyAmount: x.buyAmount,
                validTo: x.validTo,
                appData: x.appData,
                feeAmount: x.feeAmount,
                flags: cow_order::trade_flags(x, o.scheme)?,
                executedAmount: take,
                signature: o.signature.clone(),
            };
            // price(sell) · take = price(buy) · out: the buy paid out is `out`.
            let settle = IGPv2Settlement::settleCall {
                tokens: vec![x.sellToken, x.buyToken],
                clearingPrices: vec![out, take],
                trades: vec![trade],
                interactions,
            };
            let tx = TransactionRequest::default()
                .with_to(solver.settlement)
                .with_input(Bytes::from(settle.abi_encode()))
                .with_gas_limit(2_000_000);
            let receipt = match send_mined(p, tx).await {
                Ok(r) => r,
                Err(e) => {
                    outcomes.push(left(&format!("the settlement failed: {e}")));
                    continue;
                }
            };
            let tx_hash = receipt.transaction_hash;
            let block_number = receipt
                .block_number
                .context("a mined receipt has a block")?;
            let trades = cow_order::trades_in(&receipt, solver.settlement)?;
            let Some(t) = trades.into_iter().find(|t| t.order_uid == o.uid) else {
                return Err(anyhow!("settlement {tx_hash} has no Trade of {}", o.uid));
            };
            let mut s = lock(&self.state);
            if let Some(held) = s.orders.iter_mut().find(|h| h.uid == o.uid) {
                held.executed_sell += t.sell_amount;
                held.executed_sell_before_fees += t.sell_amount.saturating_sub(t.fee_amount);
                held.executed_buy += t.buy_amount;
                held.executed_fee += t.fee_amount;
            }
            s.trades.push(FakeCowTrade {
                block_number,
                log_index: t.log_index.unwrap_or_default(),
                order_uid: o.uid,
                owner: t.owner,
                sell_token: t.sell_token,
                buy_token: t.buy_token,
                sell_amount: t.sell_amount,
                sell_amount_before_fees: t.sell_amount.saturating_sub(t.fee_amount),
                buy_amount: t.buy_amount,
                tx_hash,
            });
            outcomes.push(Solved::Settled {
                uid: o.uid,
                tx_hash,
                executed_sell: t.sell_amount,
                executed_buy: t.buy_amount,
            });
        }
        Ok(outcomes)
    }
}
