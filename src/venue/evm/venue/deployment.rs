//! The configured contracts held to the chains before the venue starts, so
//! a wrong address fails at start with its key, never mid-cycle with money
//! out: code at every address the config names; each Stargate pool or OFT
//! carrying the token it is listed for; the tunnel's two ends leading to
//! each other (the Hemi bridge's L1 bridge trusts a messenger that takes
//! messages from our portal); and, on Hemi's mainnet tunnel as arbkeep
//! ships it, the contracts and `version()`s pinned in
//! [`TunnelPins`](crate::config::mainnet::TunnelPins).

use super::super::chain::{ChainClient, EvmError};
use super::super::stargate::{IStargate, pool_kind};
use super::super::tunnel::contracts::{IL1Bridge, IL1Messenger, IL2Bridge, IPortal};
use crate::config::mainnet::TunnelPins;
use crate::config::{EvmChainConfig, EvmConfig};
use alloy::primitives::Address;

/// Hold `cfg`'s contracts to the two chains (see the module's doc).
pub(super) async fn check_deployment(
    cfg: &EvmConfig,
    hemi: &ChainClient,
    ethereum: &ChainClient,
) -> Result<(), EvmError> {
    for (c, chain_cfg, section) in [
        (hemi, &cfg.hemi, "evm.hemi"),
        (ethereum, &cfg.ethereum, "evm.ethereum"),
    ] {
        let tokens = chain_cfg
            .tokens
            .iter()
            .map(|(t, a)| (format!("{section}.tokens.{}", t.symbol()), *a));
        for (key, address) in chain_cfg.contracts(section).into_iter().chain(tokens) {
            has_code(c, &key, address).await?;
        }
        check_stargate(c, chain_cfg, section).await?;
    }
    if let (Some(l2_bridge), Some(portal)) = (cfg.hemi.tunnel, cfg.ethereum.tunnel) {
        check_tunnel(hemi, ethereum, l2_bridge, portal, cfg.tunnel_pins.as_ref()).await?;
    }
    Ok(())
}

async fn has_code(c: &ChainClient, key: &str, address: Address) -> Result<(), EvmError> {
    let code = c.code(address).await.map_err(|e| EvmError::Contract {
        chain: c.name.clone(),
        problem: format!("reading the code at {address} ({key}): {e}"),
    })?;
    if code.is_empty() {
        return Err(EvmError::NoCode {
            chain: c.name.clone(),
            key: key.to_string(),
            address,
        });
    }
    Ok(())
}

/// Each listed pool or OFT's `token()` is the token it is listed for (the
/// native pool's is zero).
async fn check_stargate(
    c: &ChainClient,
    chain_cfg: &EvmChainConfig,
    section: &str,
) -> Result<(), EvmError> {
    for (token, pool) in &chain_cfg.stargate {
        let key = format!("{section}.stargate.{}", token.symbol());
        let off = |problem: String| EvmError::NotAsExpected {
            chain: c.name.clone(),
            key: key.clone(),
            what: "the Stargate pool".into(),
            address: *pool,
            problem,
        };
        let underlying = c
            .view(*pool, IStargate::tokenCall {})
            .await
            .map_err(|e| off(format!("does not answer token(): {e}")))?;
        let want = if token.is_native() {
            None
        } else {
            match chain_cfg.token(*token) {
                Some(a) => Some(a),
                None => {
                    return Err(off(format!(
                        "carries {token}, which {section}.tokens does not name"
                    )));
                }
            }
        };
        if pool_kind(underlying, want).is_none() {
            let wanted = match want {
                None => "the native pool's token() is zero".to_string(),
                Some(a) => a.to_string(),
            };
            return Err(off(format!(
                "carries token {underlying}, not {token} ({wanted})"
            )));
        }
    }
    Ok(())
}

/// The Hemi bridge's `OTHER_BRIDGE()` has code on Ethereum and trusts a
/// messenger whose `PORTAL()` is ours; with `pins`, each of those is the
/// pinned contract at its pinned version, and the portal proves against
/// the pinned oracle.
async fn check_tunnel(
    hemi: &ChainClient,
    ethereum: &ChainClient,
    l2_bridge: Address,
    portal: Address,
    pins: Option<&TunnelPins>,
) -> Result<(), EvmError> {
    let on = |c: &ChainClient, key: &str, what: &str, address: Address| {
        let (chain, key, what) = (c.name.clone(), key.to_string(), what.to_string());
        move |problem: String| EvmError::NotAsExpected {
            chain: chain.clone(),
            key: key.clone(),
            what: what.clone(),
            address,
            problem,
        }
    };
    let off = on(hemi, "evm.hemi.tunnel", "the L2 bridge", l2_bridge);
    let l1_bridge = hemi
        .view(l2_bridge, IL2Bridge::OTHER_BRIDGECall {})
        .await
        .map_err(|e| off(format!("does not answer OTHER_BRIDGE(): {e}")))?;
    let key = "evm.ethereum.tunnel";
    has_code(
        ethereum,
        "the L1 bridge evm.hemi.tunnel's OTHER_BRIDGE() names",
        l1_bridge,
    )
    .await?;
    let off = on(ethereum, key, "the L1 bridge", l1_bridge);
    let messenger = ethereum
        .view(l1_bridge, IL1Bridge::MESSENGERCall {})
        .await
        .map_err(|e| off(format!("does not answer MESSENGER(): {e}")))?;
    let off = on(ethereum, key, "the L1 messenger", messenger);
    let messenger_portal = ethereum
        .view(messenger, IL1Messenger::PORTALCall {})
        .await
        .map_err(|e| off(format!("does not answer PORTAL(): {e}")))?;
    if messenger_portal != portal {
        return Err(off(format!(
            "takes messages from portal {messenger_portal}, not from {portal}: evm.hemi.tunnel and evm.ethereum.tunnel are not one tunnel"
        )));
    }
    let Some(pins) = pins else {
        return Ok(());
    };
    let pinned = |what: &str, found: Address, want: Address| {
        (found != want).then(|| {
            EvmError::NotAsExpected {
                chain: ethereum.name.clone(),
                key: key.to_string(),
                what: what.to_string(),
                address: found,
                problem: format!(
                    "is not Hemi's ({want}, evm.md §1.2): the tunnel was changed; check it, then set evm.hemi.tunnel and evm.ethereum.tunnel yourself to go on"
                ),
            }
        })
    };
    let oracle = ethereum
        .view(portal, IPortal::l2OracleCall {})
        .await
        .map_err(|e| {
            on(ethereum, key, "the portal", portal)(format!("does not answer l2Oracle(): {e}"))
        })?;
    for (what, found, want) in [
        ("the output oracle", oracle, pins.oracle),
        ("the L1 bridge", l1_bridge, pins.l1_bridge),
        ("the L1 messenger", messenger, pins.l1_messenger),
    ] {
        if let Some(e) = pinned(what, found, want) {
            return Err(e);
        }
    }
    for (what, address, want) in [
        ("the portal", portal, &pins.portal_version),
        ("the L1 bridge", l1_bridge, &pins.l1_bridge_version),
        ("the L1 messenger", messenger, &pins.l1_messenger_version),
    ] {
        let off = on(ethereum, key, what, address);
        // The three are OP Semver contracts: one `version()` signature.
        let found = ethereum
            .view(address, IPortal::versionCall {})
            .await
            .map_err(|e| off(format!("does not answer version(): {e}")))?;
        if found != *want {
            return Err(off(format!(
                "answers version() {found:?}; arbkeep was checked against {want:?}: the contract was upgraded — check the upgrade, then set evm.hemi.tunnel and evm.ethereum.tunnel yourself to go on"
            )));
        }
    }
    Ok(())
}
