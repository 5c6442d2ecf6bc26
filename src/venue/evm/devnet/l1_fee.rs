//! OP Stack's `GasPriceOracle` predeploy on the devnet's Hemi, for tests of
//! the planner's L1 data fee (`venue::l1_fee`): the oracle's real code from
//! `@eth-optimism/contracts-bedrock` at its predeploy address, pricing from
//! the `L1Block` values the depositor account sets (Bedrock's formula:
//! `basefee`, `l1FeeOverhead`, `l1FeeScalar`), set here as the sequencer's
//! first deposit of each L1 block would. Not part of the default devnet:
//! anvil charges no L1 fee, so its planner must see none.

use super::*;
use crate::venue::evm::venue::l1_fee::GAS_PRICE_ORACLE;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256, address};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::sol;
use alloy::sol_types::SolCall;
use anyhow::bail;
use std::path::Path;

/// OP's depositor account, the only one that may set `L1Block`'s values.
pub const DEPOSITOR_ACCOUNT: Address = address!("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001");

sol! {
    interface IL1BlockValues {
        function setL1BlockValues(uint64 _number, uint64 _timestamp, uint256 _basefee, bytes32 _hash, uint64 _sequenceNumber, bytes32 _batcherHash, uint256 _l1FeeOverhead, uint256 _l1FeeScalar) external;
        function basefee() external view returns (uint256);
    }
}

/// Install the oracle on Hemi (`url`, an anvil node that has `L1Block`
/// from `deploy_op_bridge`) and set `L1Block`'s L1 base fee, overhead and
/// scalar (millionths) as the depositor.
pub async fn install_gas_price_oracle(
    root: &Path,
    url: &str,
    l1_basefee: U256,
    overhead: U256,
    scalar: U256,
) -> anyhow::Result<()> {
    let p: DynProvider = ProviderBuilder::new().connect_http(url.parse()?).erased();
    set_code(root, &p, "GasPriceOracle", GAS_PRICE_ORACLE).await?;
    let _: serde_json::Value = p
        .raw_request("anvil_impersonateAccount".into(), (DEPOSITOR_ACCOUNT,))
        .await?;
    set_balance(&p, DEPOSITOR_ACCOUNT, U256::from(10u64).pow(U256::from(18))).await?;
    let set = IL1BlockValues::setL1BlockValuesCall {
        _number: 1,
        _timestamp: 1,
        _basefee: l1_basefee,
        _hash: B256::repeat_byte(1),
        _sequenceNumber: 0,
        _batcherHash: B256::ZERO,
        _l1FeeOverhead: overhead,
        _l1FeeScalar: scalar,
    };
    let tx = TransactionRequest::default()
        .with_from(DEPOSITOR_ACCOUNT)
        .with_to(L1_BLOCK)
        .with_input(set.abi_encode())
        .with_gas_limit(200_000);
    let r = p.send_transaction(tx).await?.get_receipt().await?;
    let _: serde_json::Value = p
        .raw_request(
            "anvil_stopImpersonatingAccount".into(),
            (DEPOSITOR_ACCOUNT,),
        )
        .await?;
    if !r.status() {
        bail!("L1Block.setL1BlockValues reverted");
    }
    let got = read(&p, L1_BLOCK, IL1BlockValues::basefeeCall {}).await?;
    if got != l1_basefee {
        bail!("L1Block's basefee is {got}, not {l1_basefee}");
    }
    Ok(())
}
