//! An order flow for the hedge on the devnet (`arbkeep devnet`): tokenized
//! equities and USDC deployed on the Hemi-like node with the Raindex V6
//! emitter (`assets/contracts/RaindexEmitterV6.sol`), then, from a seed,
//! a fill of the owner's orders every few seconds — taken or cleared,
//! bought or sold, 0.05 to 3 shares near a drifting price — so a new user
//! sees fills arrive and hedges placed at the paper broker (in market
//! hours). The config section it writes points the hedge at all of it.

use super::rain_float::from_decimal;
use crate::venue::evm::abi::IRaindexEmitterV6 as V6;
use crate::venue::evm::devnet::{contracts, send_mined};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::DynProvider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{SolCall, SolValue};
use rust_decimal::Decimal;
use std::path::Path;

/// The equities the flow trades, with a starting price (USDC).
pub const EQUITIES: [(&str, i64); 3] = [("tAAPL", 200), ("NVDA0x", 120), ("TSLAs1", 250)];

/// What the flow trades on, and whose orders it fills.
#[derive(Debug, Clone)]
pub struct FlowPlan {
    pub emitter: Address,
    pub owner: Address,
    pub usdc: Address,
    /// (onchain symbol, token, price in whole USDC).
    pub equities: Vec<(String, Address, i64)>,
}

async fn deploy_code(p: &DynProvider, code: Vec<u8>) -> anyhow::Result<Address> {
    let r = send_mined(
        p,
        TransactionRequest::default().with_deploy_code(Bytes::from(code)),
    )
    .await?;
    r.contract_address
        .ok_or_else(|| anyhow::anyhow!("a deployment without a contract address"))
}

/// Deploy the tokens and the V6 emitter.
pub async fn deploy(p: &DynProvider, root: &Path, owner: Address) -> anyhow::Result<FlowPlan> {
    let code = contracts(root)?;
    let get = |name: &str| {
        code.get(name)
            .map(|a| a.bytecode.to_vec())
            .ok_or_else(|| anyhow::anyhow!("{name} is not among the devnet contracts"))
    };
    let token = |symbol: &str, decimals: u8| -> anyhow::Result<Vec<u8>> {
        let mut input = get("DevToken")?;
        input.extend(
            (symbol.to_string(), symbol.to_string(), U256::from(decimals)).abi_encode_params(),
        );
        Ok(input)
    };
    let usdc = deploy_code(p, token("USDC", 6)?).await?;
    let mut equities = Vec::new();
    for (symbol, price) in EQUITIES {
        equities.push((
            symbol.to_string(),
            deploy_code(p, token(symbol, 18)?).await?,
            price,
        ));
    }
    let emitter = deploy_code(p, get("RaindexEmitterV6")?).await?;
    Ok(FlowPlan {
        emitter,
        owner,
        usdc,
        equities,
    })
}

/// The `[equity_hedge]` section that hedges this flow at the paper broker.
pub fn config_section(plan: &FlowPlan, chain_id: u64, rpc_url: &str) -> String {
    format!(
        "[equity_hedge]\n# The devnet's order flow (`arbkeep devnet` emits it): V6 fills of the\n# owner's orders, hedged at the paper broker (weekdays 14:30–21:00 UTC).\nenabled = true\nbroker = \"paper\"\nraindex_version = \"v6\"\nchain_id = {chain_id}\nrpc = \"{rpc_url}\"\norderbook = \"{}\"\norder_owner = \"{}\"\nusdc = \"{}\"\nstart_block = 0\nconfirmations = 2\n",
        plan.emitter, plan.owner, plan.usdc
    )
}

/// xorshift64: the flow is the same for the same seed.
pub struct FlowDice(u64);

impl FlowDice {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A V6 order of `owner` taking `inputs` and giving `outputs` (vault 1).
pub fn order(owner: Address, inputs: &[Address], outputs: &[Address]) -> V6::OrderV4 {
    let io = |l: &[Address]| {
        l.iter()
            .map(|t| V6::IOV2 {
                token: *t,
                vaultId: B256::with_last_byte(1),
            })
            .collect::<Vec<_>>()
    };
    V6::OrderV4 {
        owner,
        evaluable: V6::EvaluableV4::default(),
        validInputs: io(inputs),
        validOutputs: io(outputs),
        nonce: B256::with_last_byte(7),
    }
}

/// One fill of the owner's orders, emitted and mined: (symbol, the owner
/// bought?, shares).
pub async fn emit_one(
    p: &DynProvider,
    plan: &FlowPlan,
    dice: &mut FlowDice,
) -> anyhow::Result<(String, bool, Decimal)> {
    let pick = dice.below(plan.equities.len() as u64) as usize;
    let (symbol, equity, price) = plan.equities[pick].clone();
    let owner_bought = dice.below(2) == 0;
    let shares = Decimal::new(5 + dice.below(296) as i64, 2);
    // Near the price: ±1 %.
    let drift = Decimal::new(99 + dice.below(3) as i64, 2);
    let usdc = (shares * Decimal::from(price) * drift).round_dp(6);
    let (ins, outs) = if owner_bought {
        ([equity], [plan.usdc])
    } else {
        ([plan.usdc], [equity])
    };
    let (got, gave) = if owner_bought {
        (shares, usdc)
    } else {
        (usdc, shares)
    };
    let input = if dice.below(2) == 0 {
        // Taken: the taker's input is what the order gave.
        V6::takeOrderCall {
            config: V6::TakeOrderConfigV4 {
                order: order(plan.owner, &ins, &outs),
                inputIOIndex: U256::ZERO,
                outputIOIndex: U256::ZERO,
                signedContext: vec![],
            },
            input: from_decimal(gave),
            output: from_decimal(got),
        }
        .abi_encode()
    } else {
        // Cleared against a counterparty (alice), the owner as bob.
        V6::clearCall {
            alice: order(Address::repeat_byte(0xa1), &outs, &ins),
            bob: order(plan.owner, &ins, &outs),
            clearConfig: V6::ClearConfigV2::default(),
            change: V6::ClearStateChangeV2 {
                aliceOutput: from_decimal(got),
                bobOutput: from_decimal(gave),
                aliceInput: from_decimal(gave),
                bobInput: from_decimal(got),
            },
        }
        .abi_encode()
    };
    send_mined(
        p,
        TransactionRequest::default()
            .with_to(plan.emitter)
            .with_input(Bytes::from(input)),
    )
    .await?;
    Ok((symbol, owner_bought, shares))
}
