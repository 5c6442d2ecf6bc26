//! The ERC-20 path of the REAL OP-style tunnel on the devnet, Hemi →
//! Ethereum (evm.md §1.4), every contract from `@eth-optimism/contracts-bedrock`
//! 0.17.3: the legacy portal and its oracle and configs
//! (`devnet::deploy_op_l1`), the L1 messenger and bridge behind proxies and
//! the L2 messenger, bridge, token factory and L1Block at their predeploys
//! (`devnet::deploy_op_bridge`). A plain L1 ERC-20 (the devnet's DevToken)
//! is deposited through `L1StandardBridge.depositERC20` and its portal
//! deposit replayed on Hemi (`devnet::relay_deposits`), which mints the
//! factory's `OptimismMintableERC20` to the keeper. The keeper then calls
//! `L2StandardBridge.withdraw(l2Token, amount, 0, "")`: the token is burnt,
//! the receipt's `MessagePassed` goes from the L2 messenger to the L1
//! messenger; an output covering it is proposed, the proof built by
//! `tunnel::build_prove_args` is accepted by the portal, and after the
//! finalization period finalize relays through the L1 messenger to the L1
//! bridge, which releases the escrowed tokens to the keeper.

use crate::devnet_common;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use arbkeep::venue::evm::abi::{IDevToken, IERC20};
use arbkeep::venue::evm::devnet::{
    self, DEPLOYER_KEY, DevnetOptions, IL1CrossDomainMessenger, IL1StandardBridge,
    IL2CrossDomainMessenger, IL2StandardBridge, IOptimismPortal, KEEPER_KEY,
    L2_CROSS_DOMAIN_MESSENGER, L2_STANDARD_BRIDGE, OP_PROPOSER_KEY, OpL1Options, send_mined,
    signing_provider,
};
use arbkeep::venue::evm::tunnel::{
    L2_TO_L1_MESSAGE_PASSER, L2OutputBlock, build_prove_args, storage_slot, withdrawals_in_receipt,
};
use devnet_common::*;
use std::str::FromStr;
use std::time::{Duration, Instant};

sol! {
    /// What the messages carry (evm.md §1.4.2), to check the withdrawal's data.
    interface IRelay {
        function relayMessage(uint256 _nonce, address _sender, address _target, uint256 _value, uint256 _minGasLimit, bytes _message) external payable;
        function finalizeBridgeERC20(address _localToken, address _remoteToken, address _from, address _to, uint256 _amount, bytes _extraData) external;
    }
}

async fn read<C: SolCall>(p: &DynProvider, to: Address, c: C) -> C::Return {
    let out = p
        .call(
            TransactionRequest::default()
                .with_to(to)
                .with_input(Bytes::from(c.abi_encode())),
        )
        .await
        .expect("eth_call");
    C::abi_decode_returns(&out).expect("decodes")
}

async fn balance(p: &DynProvider, token: Address, who: Address) -> U256 {
    read(p, token, IERC20::balanceOfCall { owner: who }).await
}

async fn wait_for_block(p: &DynProvider, n: u64) {
    let started = Instant::now();
    while p.get_block_number().await.unwrap() < n {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Hemi did not reach block {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn has_log<E: SolEvent>(r: &TransactionReceipt, from: Address) -> Option<E> {
    r.inner
        .logs()
        .iter()
        .filter(|l| l.address() == from)
        .find_map(|l| E::decode_log(&l.inner).ok().map(|d| d.data))
}

fn tx(to: Address, call: impl SolCall) -> TransactionRequest {
    TransactionRequest::default()
        .with_to(to)
        .with_input(Bytes::from(call.abi_encode()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_op_bridge_withdraws_an_erc20_through_the_real_tunnel() {
    let d = start(DevnetOptions::default()).await;
    let hemi = signing_provider(&d.hemi.url(), KEEPER_KEY).unwrap();
    let hemi_deployer = signing_provider(&d.hemi.url(), DEPLOYER_KEY).unwrap();
    let l1_deployer = signing_provider(&d.ethereum.url(), DEPLOYER_KEY).unwrap();
    let l1_keeper = signing_provider(&d.ethereum.url(), KEEPER_KEY).unwrap();
    let l1_proposer = signing_provider(&d.ethereum.url(), OP_PROPOSER_KEY).unwrap();
    let keeper = PrivateKeySigner::from_str(KEEPER_KEY).unwrap().address();

    devnet::install_message_passer(&root(), &hemi_deployer)
        .await
        .unwrap();
    let opts = OpL1Options::default();
    let op = devnet::deploy_op_l1(&root(), &l1_deployer, &hemi, opts)
        .await
        .unwrap();
    let br = devnet::deploy_op_bridge(&root(), &l1_deployer, &hemi_deployer, &op)
        .await
        .unwrap();
    eprintln!(
        "OptimismPortal {} L1CrossDomainMessenger {} L1StandardBridge {} \
         L2CrossDomainMessenger {} L2StandardBridge {} OptimismMintableERC20Factory {}",
        op.portal_version,
        br.l1_messenger_version,
        br.l1_bridge_version,
        br.l2_messenger_version,
        br.l2_bridge_version,
        br.factory_version
    );

    // The L1 token: the devnet's own DevToken, 8 decimals like WBTC.
    let dev_token = devnet::contracts(&root()).unwrap()["DevToken"]
        .bytecode
        .clone();
    let mut code = dev_token.to_vec();
    code.extend(
        (
            "Wrapped BTC".to_string(),
            "WBTC".to_string(),
            U256::from(8u8),
        )
            .abi_encode_params(),
    );
    let l1_token = send_mined(
        &l1_deployer,
        TransactionRequest::default().with_deploy_code(Bytes::from(code)),
    )
    .await
    .unwrap()
    .contract_address
    .unwrap();
    let l2_token = devnet::create_l2_token(&hemi_deployer, l1_token, "Wrapped BTC", "WBTC", 8)
        .await
        .unwrap();

    // A real deposit L1 → L2 puts the tokens in the L1 bridge's custody.
    let amount = U256::from(150_000_000u64); // 1.5 WBTC
    send_mined(
        &l1_deployer,
        tx(
            l1_token,
            IDevToken::mintCall {
                to: keeper,
                value: amount,
            },
        ),
    )
    .await
    .unwrap();
    send_mined(
        &l1_keeper,
        tx(
            l1_token,
            IERC20::approveCall {
                spender: br.l1_bridge,
                value: amount,
            },
        ),
    )
    .await
    .unwrap();
    let deposit = send_mined(
        &l1_keeper,
        tx(
            br.l1_bridge,
            IL1StandardBridge::depositERC20Call {
                _l1Token: l1_token,
                _l2Token: l2_token,
                _amount: amount,
                _minGasLimit: 200_000,
                _extraData: Bytes::new(),
            },
        ),
    )
    .await
    .unwrap();
    assert!(has_log::<IL1StandardBridge::ERC20DepositInitiated>(&deposit, br.l1_bridge).is_some());
    assert_eq!(balance(&l1_keeper, l1_token, br.l1_bridge).await, amount);
    assert_eq!(balance(&l1_keeper, l1_token, keeper).await, U256::ZERO);
    let custody = |p: DynProvider| async move {
        read(
            &p,
            br.l1_bridge,
            IL1StandardBridge::depositsCall {
                _0: l1_token,
                _1: l2_token,
            },
        )
        .await
    };
    assert_eq!(custody(l1_keeper.clone()).await, amount);

    let relayed = devnet::relay_deposits(&hemi_deployer, &deposit, op.portal)
        .await
        .unwrap();
    assert_eq!(relayed.len(), 1);
    assert!(
        has_log::<IL2CrossDomainMessenger::RelayedMessage>(&relayed[0], L2_CROSS_DOMAIN_MESSENGER)
            .is_some(),
        "the L2 messenger relayed the deposit"
    );
    assert!(
        has_log::<IL2StandardBridge::DepositFinalized>(&relayed[0], L2_STANDARD_BRIDGE).is_some()
    );
    assert_eq!(balance(&hemi, l2_token, keeper).await, amount);

    // The withdrawal, as the Hemi portal sends it: withdraw(l2Token, amount, 0, "").
    let call = IL2StandardBridge::withdrawCall {
        _l2Token: l2_token,
        _amount: amount,
        _minGasLimit: 0,
        _extraData: Bytes::new(),
    };
    assert_eq!(call.abi_encode()[..4], [0x32, 0xb7, 0x00, 0x6d]);
    let receipt = send_mined(&hemi, tx(L2_STANDARD_BRIDGE, call))
        .await
        .unwrap();
    let withdrawal_block = receipt.block_number.unwrap();
    let initiated = has_log::<IL2StandardBridge::WithdrawalInitiated>(&receipt, L2_STANDARD_BRIDGE)
        .expect("WithdrawalInitiated");
    assert_eq!(
        (
            initiated.l1Token,
            initiated.l2Token,
            initiated.from,
            initiated.to,
            initiated.amount
        ),
        (l1_token, l2_token, keeper, keeper, amount)
    );
    assert_eq!(balance(&hemi, l2_token, keeper).await, U256::ZERO, "burnt");
    assert_eq!(
        read(&hemi, l2_token, IERC20Supply::totalSupplyCall {}).await,
        U256::ZERO
    );
    let ws = withdrawals_in_receipt(&receipt).unwrap();
    assert_eq!(ws.len(), 1);
    let w = ws[0].clone();
    assert_eq!(w.tx.sender, L2_CROSS_DOMAIN_MESSENGER);
    assert_eq!(w.tx.target, br.l1_messenger);
    assert_eq!(w.tx.value, U256::ZERO);
    let relay = IRelay::relayMessageCall::abi_decode(&w.tx.data).expect("relayMessage(...)");
    assert_eq!(relay._sender, L2_STANDARD_BRIDGE);
    assert_eq!(relay._target, br.l1_bridge);
    let fin = IRelay::finalizeBridgeERC20Call::abi_decode(&relay._message)
        .expect("finalizeBridgeERC20(...)");
    assert_eq!(
        (
            fin._localToken,
            fin._remoteToken,
            fin._from,
            fin._to,
            fin._amount
        ),
        (l1_token, l2_token, keeper, keeper, amount)
    );

    // Outputs in the oracle's order until one covers the withdrawal.
    let output = loop {
        let next = devnet::next_output_block(&l1_proposer, op.oracle)
            .await
            .unwrap();
        wait_for_block(&hemi, next).await;
        let out = devnet::propose_output(&hemi, &l1_proposer, op.oracle, next)
            .await
            .unwrap();
        if next >= withdrawal_block {
            break out;
        }
    };
    let proof = hemi
        .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![storage_slot(w.hash)])
        .block_id(output.l2_block.into())
        .await
        .unwrap();
    let block = hemi
        .get_block_by_number(output.l2_block.into())
        .await
        .unwrap()
        .unwrap();
    let args = build_prove_args(
        w.hash,
        output.output_root,
        &L2OutputBlock::from_header(&block.header),
        &proof,
    )
    .unwrap();
    let proven = send_mined(
        &l1_keeper,
        TransactionRequest::default()
            .with_to(op.portal)
            .with_input(devnet::prove_calldata(&w.tx, output.index, &args)),
    )
    .await
    .unwrap();
    let p = has_log::<IOptimismPortal::WithdrawalProven>(&proven, op.portal).expect("proven");
    assert_eq!(
        (p.withdrawalHash, p.from, p.to),
        (w.hash, L2_CROSS_DOMAIN_MESSENGER, br.l1_messenger)
    );

    let l1_before = balance(&l1_keeper, l1_token, keeper).await;
    devnet::increase_time(&l1_keeper, opts.finalization_period_secs + 1)
        .await
        .unwrap();
    let r = send_mined(
        &l1_keeper,
        TransactionRequest::default()
            .with_to(op.portal)
            .with_input(devnet::finalize_calldata(&w.tx))
            .with_gas_limit(3_000_000),
    )
    .await
    .unwrap();
    let fin = has_log::<IOptimismPortal::WithdrawalFinalized>(&r, op.portal).expect("finalized");
    assert_eq!(fin.withdrawalHash, w.hash);
    assert!(fin.success, "the relay to the L1 bridge succeeded");
    assert!(has_log::<IL1CrossDomainMessenger::RelayedMessage>(&r, br.l1_messenger).is_some());
    assert!(
        has_log::<IL1CrossDomainMessenger::FailedRelayedMessage>(&r, br.l1_messenger).is_none()
    );
    let done = has_log::<IL1StandardBridge::ERC20WithdrawalFinalized>(&r, br.l1_bridge)
        .expect("ERC20WithdrawalFinalized");
    assert_eq!(
        (done.l1Token, done.l2Token, done.from, done.to, done.amount),
        (l1_token, l2_token, keeper, keeper, amount)
    );
    assert!(has_log::<IL1StandardBridge::ERC20BridgeFinalized>(&r, br.l1_bridge).is_some());
    assert!(
        read(
            &l1_keeper,
            op.portal,
            IOptimismPortal::finalizedWithdrawalsCall {
                withdrawalHash: w.hash
            }
        )
        .await
    );
    assert_eq!(
        balance(&l1_keeper, l1_token, keeper).await,
        l1_before + amount
    );
    assert_eq!(
        balance(&l1_keeper, l1_token, br.l1_bridge).await,
        U256::ZERO
    );
    assert_eq!(custody(l1_keeper.clone()).await, U256::ZERO);
}

sol! {
    interface IERC20Supply {
        function totalSupply() external view returns (uint256);
    }
}
