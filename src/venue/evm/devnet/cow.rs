//! CoW Protocol on a devnet chain from the `@cowprotocol/contracts` npm
//! artifacts: the solver allow-list (`GPv2AllowListAuthentication`, its
//! manager the deployer, one solver allowed), the settlement
//! (`GPv2Settlement`, which creates its own `GPv2VaultRelayer`), and the
//! check that the chain's domain separator is the one the keeper signs
//! orders in (`swap::cow_order::domain`).

use super::*;
use crate::venue::evm::abi::{IGPv2AllowListAuthentication, IGPv2Settlement};
use crate::venue::evm::swap::cow_order;
use alloy::primitives::{Address, B256, U256, address};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use anyhow::{anyhow, bail};
use std::path::Path;
use std::str::FromStr;

/// The devnet's CoW solver (anvil dev account #3; throwaway): the only
/// address the allow-list lets call `settle`.
pub const COW_SOLVER_KEY: &str =
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

/// The Balancer Vault the settlement is built with. Only orders whose sell
/// or buy balance is a Vault balance (`external`/`internal`) ever call it;
/// the devnet's orders are all `erc20` (the orderbook takes no other for
/// new orders), so an address with no code stands in, and `deploy_cow`
/// checks that it has none.
pub const COW_NO_VAULT: Address = address!("000000000000000000000000000000000000ba11");

/// What CoW Protocol is on one devnet chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CowContracts {
    pub settlement: Address,
    /// Where owners approve their sell tokens (not the settlement).
    pub vault_relayer: Address,
    pub authenticator: Address,
    pub solver: Address,
    /// The settlement's `domainSeparator()`, equal to the one computed.
    pub domain_separator: B256,
}

fn cow_artifact(root: &Path, name: &str) -> anyhow::Result<Artifact> {
    npm_artifact(
        root,
        &format!("@cowprotocol/contracts/lib/contracts/{name}.json"),
    )
}

/// Deploy the allow-list and the settlement on the chain `p` signs for
/// (with the deployer's key), allow the solver of [`COW_SOLVER_KEY`], and
/// check the settlement's domain separator against the EIP-712 domain the
/// orders are signed in.
pub async fn deploy_cow(root: &Path, p: &DynProvider) -> anyhow::Result<CowContracts> {
    let deployer = PrivateKeySigner::from_str(DEPLOYER_KEY)?.address();
    let solver = PrivateKeySigner::from_str(COW_SOLVER_KEY)?.address();
    if !p.get_code_at(COW_NO_VAULT).await?.is_empty() {
        bail!("{COW_NO_VAULT} has code: it cannot stand in for the absent Balancer Vault");
    }
    let authenticator = deploy(
        p,
        &cow_artifact(root, "GPv2AllowListAuthentication")?.bytecode,
        vec![],
    )
    .await?;
    let init = IGPv2AllowListAuthentication::initializeManagerCall { manager_: deployer };
    call(p, authenticator, init.abi_encode(), U256::ZERO).await?;
    let add = IGPv2AllowListAuthentication::addSolverCall { solver };
    call(p, authenticator, add.abi_encode(), U256::ZERO).await?;
    let allowed = read(
        p,
        authenticator,
        IGPv2AllowListAuthentication::isSolverCall {
            prospectiveSolver: solver,
        },
    )
    .await?;
    if !allowed {
        bail!("the allow-list does not list the solver {solver}");
    }
    let settlement = deploy_big(
        p,
        &cow_artifact(root, "GPv2Settlement")?.bytecode,
        (authenticator, COW_NO_VAULT).abi_encode_params(),
    )
    .await?;
    let vault_relayer = read(p, settlement, IGPv2Settlement::vaultRelayerCall {}).await?;
    let domain_separator = read(p, settlement, IGPv2Settlement::domainSeparatorCall {}).await?;
    let chain_id = p.get_chain_id().await?;
    let computed = cow_order::domain(chain_id, settlement).separator();
    if domain_separator != computed {
        return Err(anyhow!(
            "the settlement's domain separator {domain_separator} is not the {computed} orders are signed in"
        ));
    }
    Ok(CowContracts {
        settlement,
        vault_relayer,
        authenticator,
        solver,
        domain_separator,
    })
}
