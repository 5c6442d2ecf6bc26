//! 0x's AllowanceHolder flow on the devnet's Ethereum: the project's own
//! `DevAllowanceHolder` and `DevSettler` (`assets/contracts/ZeroExDev.sol`;
//! 0x publishes no package of its contracts), the Settler routing through
//! the chain's real Uniswap V2 router. The fake 0x API
//! (`fakes::zerox`) answers with calldata for these two.

use super::*;
use alloy::primitives::Address;
use alloy::providers::DynProvider;
use alloy::sol_types::SolValue;
use anyhow::anyhow;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeroExContracts {
    pub allowance_holder: Address,
    pub settler: Address,
}

pub(super) async fn deploy_zerox(
    p: &DynProvider,
    code: &HashMap<String, Artifact>,
    router: Address,
) -> anyhow::Result<ZeroExContracts> {
    let get = |n: &str| {
        code.get(n)
            .ok_or_else(|| anyhow!("contract {n} was not compiled"))
    };
    let allowance_holder = deploy(p, &get("DevAllowanceHolder")?.bytecode, vec![]).await?;
    let settler = deploy(
        p,
        &get("DevSettler")?.bytecode,
        (allowance_holder, router).abi_encode_params(),
    )
    .await?;
    Ok(ZeroExContracts {
        allowance_holder,
        settler,
    })
}
