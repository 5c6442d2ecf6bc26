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
//! bridge, which releases the escrowed tokens to the keeper. And when the
//! L1 bridge cannot pay (nothing escrowed for the pair), the portal still
//! reports `success = true`: the messenger records the message as failed,
//! and replaying it through `L1CrossDomainMessenger.relayMessage` pays once
//! the bridge holds the tokens.

use crate::devnet_common;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256, keccak256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::{SolCall, SolError, SolEvent, SolValue};
use arbkeep::venue::evm::abi::{IDevToken, IERC20};
use arbkeep::venue::evm::devnet::{
    self, DEPLOYER_KEY, IL1CrossDomainMessenger, IL1StandardBridge, IL2CrossDomainMessenger,
    IL2StandardBridge, IOptimismPortal, KEEPER_KEY, L2_CROSS_DOMAIN_MESSENGER, L2_STANDARD_BRIDGE,
    OP_PROPOSER_KEY, OpL1Options, send_mined, signing_provider,
};
use arbkeep::venue::evm::tunnel::{
    L2_TO_L1_MESSAGE_PASSER, L2OutputBlock, Withdrawal, build_prove_args, storage_slot,
    withdrawals_in_receipt,
};
use devnet_common::*;
use serde_json::Value;
use std::str::FromStr;
use std::time::{Duration, Instant};

sol! {
    /// What the messages carry (evm.md §1.4.2), to check the withdrawal's data.
    interface IRelay {
        function relayMessage(uint256 _nonce, address _sender, address _target, uint256 _value, uint256 _minGasLimit, bytes _message) external payable;
        function finalizeBridgeERC20(address _localToken, address _remoteToken, address _from, address _to, uint256 _amount, bytes _extraData) external;
    }
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

/// Both nodes with the whole tunnel deployed, and the providers the steps use.
struct Tunnel {
    _d: BareNodes,
    hemi: DynProvider,
    hemi_deployer: DynProvider,
    l1_deployer: DynProvider,
    l1_keeper: DynProvider,
    l1_proposer: DynProvider,
    keeper: Address,
    opts: OpL1Options,
    op: devnet::OpL1Contracts,
    br: devnet::OpBridgeContracts,
}

impl Tunnel {
    async fn start() -> Tunnel {
        let d = start_bare();
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
        Tunnel {
            _d: d,
            hemi,
            hemi_deployer,
            l1_deployer,
            l1_keeper,
            l1_proposer,
            keeper,
            opts,
            op,
            br,
        }
    }

    /// A plain L1 ERC-20 (the devnet's own DevToken, 8 decimals like
    /// WBTC) and its OptimismMintableERC20 made by the real factory.
    async fn token_pair(&self, symbol: &str) -> (Address, Address) {
        let dev_token = devnet::contracts(&root()).unwrap()["DevToken"]
            .bytecode
            .clone();
        let mut code = dev_token.to_vec();
        code.extend((symbol.to_string(), symbol.to_string(), U256::from(8u8)).abi_encode_params());
        let l1_token = send_mined(
            &self.l1_deployer,
            TransactionRequest::default().with_deploy_code(Bytes::from(code)),
        )
        .await
        .unwrap()
        .contract_address
        .unwrap();
        let l2_token = devnet::create_l2_token(&self.hemi_deployer, l1_token, symbol, symbol, 8)
            .await
            .unwrap();
        (l1_token, l2_token)
    }

    /// The keeper deposits `amount` of a freshly minted L1 token through
    /// the real L1StandardBridge; the L1 receipt.
    async fn deposit(
        &self,
        l1_token: Address,
        l2_token: Address,
        amount: U256,
    ) -> TransactionReceipt {
        send_mined(
            &self.l1_deployer,
            tx(
                l1_token,
                IDevToken::mintCall {
                    to: self.keeper,
                    value: amount,
                },
            ),
        )
        .await
        .unwrap();
        send_mined(
            &self.l1_keeper,
            tx(
                l1_token,
                IERC20::approveCall {
                    spender: self.br.l1_bridge,
                    value: amount,
                },
            ),
        )
        .await
        .unwrap();
        let r = send_mined(
            &self.l1_keeper,
            tx(
                self.br.l1_bridge,
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
        assert!(
            has_log::<IL1StandardBridge::ERC20DepositInitiated>(&r, self.br.l1_bridge).is_some()
        );
        r
    }

    /// The L1 bridge's `deposits[l1][l2]`: what it holds for the pair.
    async fn custody(&self, l1_token: Address, l2_token: Address) -> U256 {
        read(
            &self.l1_keeper,
            self.br.l1_bridge,
            IL1StandardBridge::depositsCall {
                _0: l1_token,
                _1: l2_token,
            },
        )
        .await
    }

    /// `withdraw(l2Token, amount, 0, "")` as the Hemi portal sends it; the
    /// receipt's one withdrawal, checked to be the messenger's relay of the
    /// L1 bridge's `finalizeBridgeERC20`.
    async fn withdraw(&self, l1_token: Address, l2_token: Address, amount: U256) -> Withdrawal {
        let call = IL2StandardBridge::withdrawCall {
            _l2Token: l2_token,
            _amount: amount,
            _minGasLimit: 0,
            _extraData: Bytes::new(),
        };
        assert_eq!(call.abi_encode()[..4], [0x32, 0xb7, 0x00, 0x6d]);
        let receipt = send_mined(&self.hemi, tx(L2_STANDARD_BRIDGE, call))
            .await
            .unwrap();
        let initiated =
            has_log::<IL2StandardBridge::WithdrawalInitiated>(&receipt, L2_STANDARD_BRIDGE)
                .expect("WithdrawalInitiated");
        let k = self.keeper;
        assert_eq!(
            (
                initiated.l1Token,
                initiated.l2Token,
                initiated.from,
                initiated.to,
                initiated.amount
            ),
            (l1_token, l2_token, k, k, amount)
        );
        let ws = withdrawals_in_receipt(&receipt).unwrap();
        assert_eq!(ws.len(), 1);
        let w = ws[0].clone();
        assert_eq!(w.l2_block, receipt.block_number);
        assert_eq!(w.tx.sender, L2_CROSS_DOMAIN_MESSENGER);
        assert_eq!(w.tx.target, self.br.l1_messenger);
        assert_eq!(w.tx.value, U256::ZERO);
        assert_eq!(w.tx.data[..4], [0xd7, 0x64, 0xad, 0x0b]);
        let relay = IRelay::relayMessageCall::abi_decode(&w.tx.data).expect("relayMessage(...)");
        assert_eq!(relay._sender, L2_STANDARD_BRIDGE);
        assert_eq!(relay._target, self.br.l1_bridge);
        assert_eq!(relay._message[..4], [0x01, 0x66, 0xa0, 0x7a]);
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
            (l1_token, l2_token, k, k, amount)
        );
        w
    }

    /// Propose outputs until one covers the withdrawal, prove it on the
    /// portal with the tunnel's builder, and let the finalization period
    /// pass.
    async fn prove_and_wait(&self, w: &Withdrawal) {
        let withdrawal_block = w.l2_block.unwrap();
        let output = loop {
            let next = devnet::next_output_block(&self.l1_proposer, self.op.oracle)
                .await
                .unwrap();
            wait_for_block(&self.hemi, next).await;
            let out = devnet::propose_output(&self.hemi, &self.l1_proposer, self.op.oracle, next)
                .await
                .unwrap();
            if next >= withdrawal_block {
                break out;
            }
        };
        let proof = self
            .hemi
            .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![storage_slot(w.hash)])
            .block_id(output.l2_block.into())
            .await
            .unwrap();
        let block = self
            .hemi
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
            &self.l1_keeper,
            TransactionRequest::default()
                .with_to(self.op.portal)
                .with_input(devnet::prove_calldata(&w.tx, output.index, &args)),
        )
        .await
        .unwrap();
        let p = has_log::<IOptimismPortal::WithdrawalProven>(&proven, self.op.portal)
            .expect("WithdrawalProven");
        assert_eq!(
            (p.withdrawalHash, p.from, p.to),
            (w.hash, L2_CROSS_DOMAIN_MESSENGER, self.br.l1_messenger)
        );
        devnet::increase_time(&self.l1_keeper, self.opts.finalization_period_secs + 1)
            .await
            .unwrap();
    }

    /// `finalizeWithdrawalTransaction` with ample gas; the receipt, its
    /// `WithdrawalFinalized` checked for this withdrawal.
    async fn finalize(&self, w: &Withdrawal) -> (TransactionReceipt, bool) {
        let r = send_mined(
            &self.l1_keeper,
            TransactionRequest::default()
                .with_to(self.op.portal)
                .with_input(devnet::finalize_calldata(&w.tx))
                .with_gas_limit(3_000_000),
        )
        .await
        .unwrap();
        let fin = has_log::<IOptimismPortal::WithdrawalFinalized>(&r, self.op.portal)
            .expect("WithdrawalFinalized");
        assert_eq!(fin.withdrawalHash, w.hash);
        assert!(
            read(
                &self.l1_keeper,
                self.op.portal,
                IOptimismPortal::finalizedWithdrawalsCall {
                    withdrawalHash: w.hash
                }
            )
            .await
        );
        (r, fin.success)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_op_bridge_withdraws_an_erc20_through_the_real_tunnel() {
    let t = Tunnel::start().await;
    let (keeper, br) = (t.keeper, t.br.clone());
    let (l1_token, l2_token) = t.token_pair("WBTC").await;

    // A real deposit L1 → L2 puts the tokens in the L1 bridge's custody;
    // its portal deposit, replayed on Hemi, mints the L2 token.
    let amount = U256::from(150_000_000u64); // 1.5 WBTC
    let deposit = t.deposit(l1_token, l2_token, amount).await;
    assert_eq!(balance(&t.l1_keeper, l1_token, br.l1_bridge).await, amount);
    assert_eq!(t.custody(l1_token, l2_token).await, amount);
    let relayed = devnet::relay_deposits(&t.hemi_deployer, &deposit, t.op.portal)
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
    assert_eq!(balance(&t.hemi, l2_token, keeper).await, amount);

    // Withdraw: burnt on Hemi.
    let w = t.withdraw(l1_token, l2_token, amount).await;
    assert_eq!(
        balance(&t.hemi, l2_token, keeper).await,
        U256::ZERO,
        "burnt"
    );
    assert_eq!(
        read(&t.hemi, l2_token, IERC20Supply::totalSupplyCall {}).await,
        U256::ZERO
    );

    t.prove_and_wait(&w).await;
    let l1_before = balance(&t.l1_keeper, l1_token, keeper).await;
    let (r, success) = t.finalize(&w).await;
    assert!(success, "the relay to the L1 bridge succeeded");
    // The messenger's hash of the message is keccak256 of the relayMessage
    // calldata the withdrawal carries (Hashing.hashCrossDomainMessageV1).
    let relayed = has_log::<IL1CrossDomainMessenger::RelayedMessage>(&r, br.l1_messenger)
        .expect("RelayedMessage");
    assert_eq!(relayed.msgHash, keccak256(&w.tx.data));
    assert!(
        has_log::<IL1CrossDomainMessenger::FailedRelayedMessage>(&r, br.l1_messenger).is_none()
    );
    let done = has_log::<IL1StandardBridge::ERC20WithdrawalFinalized>(&r, br.l1_bridge)
        .expect("ERC20WithdrawalFinalized");
    assert_eq!(
        (done.l1Token, done.l2Token, done.from, done.to, done.amount),
        (l1_token, l2_token, keeper, keeper, amount)
    );
    let bridged = has_log::<IL1StandardBridge::ERC20BridgeFinalized>(&r, br.l1_bridge)
        .expect("ERC20BridgeFinalized");
    assert_eq!(
        (bridged.localToken, bridged.remoteToken, bridged.amount),
        (l1_token, l2_token, amount)
    );
    assert_eq!(
        balance(&t.l1_keeper, l1_token, keeper).await,
        l1_before + amount
    );
    assert_eq!(
        balance(&t.l1_keeper, l1_token, br.l1_bridge).await,
        U256::ZERO
    );
    assert_eq!(t.custody(l1_token, l2_token).await, U256::ZERO);

    // Relaying the same message again through the messenger is refused.
    let relay = IRelay::relayMessageCall::abi_decode(&w.tx.data).unwrap();
    let err = t
        .l1_keeper
        .call(tx(br.l1_messenger, relay).with_from(keeper))
        .await
        .expect_err("a relayed message cannot be relayed again");
    let data = err
        .as_error_resp()
        .and_then(|e| e.as_revert_data())
        .unwrap_or_else(|| panic!("no revert data in {err}"));
    let why = alloy::sol_types::Revert::abi_decode(&data)
        .map(|r| r.reason)
        .unwrap_or_else(|_| format!("not Error(string): {data}"));
    eprintln!("replay of a relayed message: {why}");
    assert_eq!(why, "CrossDomainMessenger: message cannot be replayed");
}

/// The L1 bridge cannot pay (no custody for the pair): the portal still
/// says `success = true`, because the messenger caught the failure and
/// recorded it (`FailedRelayedMessage`); no tokens moved. Once the bridge
/// holds the tokens, anyone replays the message through the L1 messenger's
/// `relayMessage` and the keeper is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_op_bridge_failed_relay_is_recorded_and_replayed() {
    let t = Tunnel::start().await;
    let (keeper, br) = (t.keeper, t.br.clone());
    let (l1_token, l2_token) = t.token_pair("cbBTC").await;
    let amount = U256::from(2_000_000u64);

    // L2 tokens with nothing escrowed on L1: minted by the L2 bridge
    // (impersonated), as if a deposit had been relayed that never was.
    let bridge_signer = L2_STANDARD_BRIDGE;
    let _: Value = t
        .hemi
        .raw_request("anvil_impersonateAccount".into(), (bridge_signer,))
        .await
        .unwrap();
    let _: Value = t
        .hemi
        .raw_request(
            "anvil_setBalance".into(),
            (bridge_signer, U256::from(10u64).pow(U256::from(18))),
        )
        .await
        .unwrap();
    let mint = tx(
        l2_token,
        IMintable::mintCall {
            _to: keeper,
            _amount: amount,
        },
    )
    .with_from(bridge_signer)
    .with_gas_limit(200_000);
    let hash: alloy::primitives::B256 = t
        .hemi
        .raw_request("eth_sendTransaction".into(), (mint,))
        .await
        .unwrap();
    let _: Value = t
        .hemi
        .raw_request("anvil_stopImpersonatingAccount".into(), (bridge_signer,))
        .await
        .unwrap();
    let started = Instant::now();
    while t
        .hemi
        .get_transaction_receipt(hash)
        .await
        .unwrap()
        .is_none()
    {
        assert!(started.elapsed() < Duration::from_secs(20));
        let _: String = t.hemi.raw_request("evm_mine".into(), ()).await.unwrap();
    }
    assert_eq!(balance(&t.hemi, l2_token, keeper).await, amount);

    let w = t.withdraw(l1_token, l2_token, amount).await;
    t.prove_and_wait(&w).await;
    let (r, success) = t.finalize(&w).await;
    assert!(
        success,
        "the portal's call to the messenger returned: the messenger swallowed the failure"
    );
    let failed = has_log::<IL1CrossDomainMessenger::FailedRelayedMessage>(&r, br.l1_messenger)
        .expect("FailedRelayedMessage");
    assert_eq!(failed.msgHash, keccak256(&w.tx.data));
    assert!(has_log::<IL1CrossDomainMessenger::RelayedMessage>(&r, br.l1_messenger).is_none());
    assert!(has_log::<IL1StandardBridge::ERC20WithdrawalFinalized>(&r, br.l1_bridge).is_none());
    assert_eq!(balance(&t.l1_keeper, l1_token, keeper).await, U256::ZERO);
    assert!(
        read(
            &t.l1_keeper,
            br.l1_messenger,
            IMessengerState::failedMessagesCall {
                msgHash: failed.msgHash
            }
        )
        .await
    );

    // The bridge gets custody (a real L1 deposit of the pair, not relayed
    // on Hemi); then the keeper replays the message on the L1 messenger.
    t.deposit(l1_token, l2_token, amount).await;
    assert_eq!(t.custody(l1_token, l2_token).await, amount);
    let relay = IRelay::relayMessageCall::abi_decode(&w.tx.data).unwrap();
    let r = send_mined(
        &t.l1_keeper,
        tx(br.l1_messenger, relay).with_gas_limit(1_000_000),
    )
    .await
    .unwrap();
    let relayed = has_log::<IL1CrossDomainMessenger::RelayedMessage>(&r, br.l1_messenger)
        .expect("RelayedMessage on replay");
    assert_eq!(relayed.msgHash, failed.msgHash);
    assert!(has_log::<IL1StandardBridge::ERC20WithdrawalFinalized>(&r, br.l1_bridge).is_some());
    assert_eq!(balance(&t.l1_keeper, l1_token, keeper).await, amount);
    assert_eq!(t.custody(l1_token, l2_token).await, U256::ZERO);
    assert!(
        read(
            &t.l1_keeper,
            br.l1_messenger,
            IMessengerState::successfulMessagesCall {
                msgHash: failed.msgHash
            }
        )
        .await
    );
}

sol! {
    interface IERC20Supply {
        function totalSupply() external view returns (uint256);
    }

    interface IMintable {
        function mint(address _to, uint256 _amount) external;
    }

    interface IMessengerState {
        function failedMessages(bytes32 msgHash) external view returns (bool);
        function successfulMessages(bytes32 msgHash) external view returns (bool);
    }
}
