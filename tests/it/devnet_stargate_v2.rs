//! The REAL Stargate V2 over a REAL LayerZero V2 EndpointV2 on two anvil
//! nodes (a Hemi-like 43111 with eid 30329, an Ethereum-like 1 with eid
//! 30101), every contract from its npm package's published bytecode
//! (`devnet::deploy_stargate_v2`), the devnet relayer standing in for the
//! DVNs and executor (`devnet::deliver_stargate_packets`), and the keeper's
//! side from `venue::evm::stargate`: an ETH taxi Hemi → Ethereum that
//! arrives exactly once however often it is delivered, USDC Ethereum →
//! Hemi (StargatePoolUSDC to StargateOFTUSDC) paying the fee as
//! `msg.value` exactly, what the pools do with dust, and a raised
//! Stargate fee lowering `quoteOFT`'s amount received.

use crate::devnet_common;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError, SolEvent};
use arbkeep::model::Chain;
use arbkeep::venue::evm::abi::{IDevToken, IERC20};
use arbkeep::venue::evm::devnet::{
    self, Anvil, DEPLOYER_KEY, DeliveryOutcome, ETHEREUM_EID, HEMI_EID, IEndpointV2,
    ISimpleMessageLib, IStargateAdmin, KEEPER_KEY, MessageLibKind, PacketSource, RELAYER_KEY,
    StargateV2Contracts, StargateV2Options, send_mined, signing_provider,
};
use arbkeep::venue::evm::stargate::{
    IStargate, PoolKind, SendParam, oft_received_by_guid, remove_dust, send_value, sent_in_receipt,
    taxi_send_param,
};
use devnet_common::*;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Both nodes with Stargate deployed, and a provider per signer and chain.
pub(crate) struct Lz {
    _hemi: Anvil,
    _ethereum: Anvil,
    pub(crate) hemi_deployer: DynProvider,
    pub(crate) hemi_relayer: DynProvider,
    pub(crate) hemi_keeper: DynProvider,
    pub(crate) eth_relayer: DynProvider,
    pub(crate) eth_keeper: DynProvider,
    pub(crate) eth_deployer: DynProvider,
    pub(crate) keeper: Address,
    pub(crate) sg: StargateV2Contracts,
}

fn require_packages() {
    for pkg in [
        "@stargatefinance/stg-evm-v2",
        "@layerzerolabs/lz-evm-protocol-v2",
        "@layerzerolabs/lz-evm-messagelib-v2",
    ] {
        assert!(
            root().join("node_modules").join(pkg).exists(),
            "the Stargate devnet needs {pkg} under node_modules: run `npm ci`"
        );
    }
}

impl Lz {
    /// Over `SimpleMessageLib`, whose fixed fee and `validatePacket`
    /// these tests read; ULN302's own are `devnet_stargate_uln302`'s.
    async fn start() -> Lz {
        Lz::start_with(StargateV2Options {
            message_lib: MessageLibKind::Simple,
            ..StargateV2Options::default()
        })
        .await
    }

    /// Both nodes with Stargate deployed as `options` say.
    pub(crate) async fn start_with(options: StargateV2Options) -> Lz {
        require_tools();
        require_packages();
        let started = Instant::now();
        let hemi = Anvil::start(&root(), Chain::Hemi.chain_id(), "1").unwrap();
        let ethereum = Anvil::start(&root(), Chain::Ethereum.chain_id(), "1").unwrap();
        let p = |a: &Anvil, key: &str| signing_provider(&a.url(), key).unwrap();
        let (hemi_deployer, eth_deployer) = (p(&hemi, DEPLOYER_KEY), p(&ethereum, DEPLOYER_KEY));
        let (hemi_relayer, eth_relayer) = (p(&hemi, RELAYER_KEY), p(&ethereum, RELAYER_KEY));
        let sg = devnet::deploy_stargate_v2(
            &root(),
            &hemi_deployer,
            &eth_deployer,
            &hemi_relayer,
            &eth_relayer,
            options,
        )
        .await
        .expect("Stargate V2 deploys on both nodes");
        for c in [&sg.hemi, &sg.ethereum] {
            for (role, address) in c.roles() {
                eprintln!("{:?} {role}: {address}", c.chain);
            }
        }
        eprintln!("deployed in {:?}", started.elapsed());
        Lz {
            hemi_keeper: p(&hemi, KEEPER_KEY),
            eth_keeper: p(&ethereum, KEEPER_KEY),
            hemi_deployer,
            hemi_relayer,
            eth_deployer,
            eth_relayer,
            keeper: PrivateKeySigner::from_str(KEEPER_KEY).unwrap().address(),
            sg,
            _hemi: hemi,
            _ethereum: ethereum,
        }
    }

    pub(crate) async fn send(
        &self,
        p: &DynProvider,
        stargate: Address,
        param: SendParam,
        fee: U256,
        value: U256,
    ) -> TransactionReceipt {
        let call = IStargate::sendCall {
            sendParam: param,
            fee: arbkeep::venue::evm::stargate::MessagingFee {
                nativeFee: fee,
                lzTokenFee: U256::ZERO,
            },
            refundAddress: self.keeper,
        };
        send_mined(p, tx(stargate, call).with_value(value))
            .await
            .expect("send is mined")
    }
}

pub(crate) fn tx(to: Address, call: impl SolCall) -> TransactionRequest {
    TransactionRequest::default()
        .with_to(to)
        .with_input(Bytes::from(call.abi_encode()))
}

pub(crate) async fn read<C: SolCall>(p: &DynProvider, to: Address, c: C) -> C::Return {
    let out = p.call(tx(to, c)).await.expect("eth_call");
    C::abi_decode_returns(&out).expect("decodes")
}

/// What a call from `from` would revert with: the raw revert data.
pub(crate) async fn revert_data(p: &DynProvider, from: Address, req: TransactionRequest) -> Bytes {
    let err = p
        .call(req.with_from(from))
        .await
        .expect_err("the call reverts");
    err.as_error_resp()
        .and_then(|e| e.as_revert_data())
        .unwrap_or_else(|| panic!("no revert data in {err}"))
}

pub(crate) async fn quote(
    p: &DynProvider,
    stargate: Address,
    param: &SendParam,
) -> IStargate::quoteOFTReturn {
    read(
        p,
        stargate,
        IStargate::quoteOFTCall {
            sendParam: param.clone(),
        },
    )
    .await
}

pub(crate) async fn native_fee(p: &DynProvider, stargate: Address, param: &SendParam) -> U256 {
    read(
        p,
        stargate,
        IStargate::quoteSendCall {
            sendParam: param.clone(),
            payInLzToken: false,
        },
    )
    .await
    .nativeFee
}

pub(crate) fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

fn gas_paid(r: &TransactionReceipt) -> U256 {
    U256::from(r.gas_used) * U256::from(r.effective_gas_price)
}

pub(crate) async fn delivered_logs(p: &DynProvider, endpoint: Address, receiver: Address) -> usize {
    let logs = p
        .get_logs(
            &Filter::new()
                .address(endpoint)
                .event_signature(IEndpointV2::PacketDelivered::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    logs.iter()
        .filter_map(|l| IEndpointV2::PacketDelivered::decode_log(&l.inner).ok())
        .filter(|e| e.data.receiver == receiver)
        .count()
}

/// ETH Hemi → Ethereum by taxi from the keeper's account: quoteOFT's
/// amount received arrives exactly, under the same guid; delivering the
/// same packet again — from the receipt or by scanning every block — sends
/// nothing; a packet verified by a relayer that then died is executed
/// without being verified again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_v2_eth_taxi_hemi_to_ethereum_arrives_once() {
    let lz = Lz::start().await;
    let (hemi, eth) = (&lz.sg.hemi, &lz.sg.ethereum);

    // The native pool says approval is required, like every Stargate
    // (`approvalRequired` is `pure true` in StargateBase), yet its token is
    // the zero address: the pool kind, not approvalRequired, decides.
    assert!(
        read(
            &lz.hemi_keeper,
            hemi.eth_pool,
            IStargate::approvalRequiredCall {}
        )
        .await
    );
    assert_eq!(
        read(&lz.hemi_keeper, hemi.eth_pool, IStargate::tokenCall {}).await,
        Address::ZERO
    );
    let amount = remove_dust(U256::from(1_234_567_890_123_456_789u64), 18, 6).unwrap();
    assert_eq!(amount, U256::from(1_234_567_000_000_000_000u64));
    let mut param = taxi_send_param(ETHEREUM_EID, lz.keeper, amount, U256::ZERO);
    let q = quote(&lz.hemi_keeper, hemi.eth_pool, &param).await;
    assert_eq!(q.receipt.amountSentLD, amount);
    assert!(
        q.receipt.amountReceivedLD < amount,
        "the Stargate fee is charged"
    );
    assert!(
        q.limit.maxAmountLD >= amount,
        "the path has credit: {:?}",
        q.limit
    );
    assert_eq!(q.oftFeeDetails.len(), 1);
    assert_eq!(q.oftFeeDetails[0].description, "protocol fee");
    param.minAmountLD = q.receipt.amountReceivedLD;
    let fee = native_fee(&lz.hemi_keeper, hemi.eth_pool, &param).await;
    assert!(fee > U256::ZERO);
    assert_eq!(fee, lz.sg.options.native_fee_wei);

    let eth_before = lz.eth_keeper.get_balance(lz.keeper).await.unwrap();
    let value = send_value(PoolKind::Native, fee, amount).unwrap();
    let sent = lz
        .send(&lz.hemi_keeper, hemi.eth_pool, param, fee, value)
        .await;
    let oft = sent_in_receipt(&sent, hemi.eth_pool)
        .unwrap()
        .expect("OFTSent");
    assert_eq!(oft.dst_eid, ETHEREUM_EID);
    assert_eq!(oft.from, lz.keeper);
    assert_eq!(oft.amount_sent_ld, amount);
    assert_eq!(oft.amount_received_ld, q.receipt.amountReceivedLD);

    let path = lz.sg.path(Chain::Hemi);
    let relayer_nonce = lz
        .eth_relayer
        .get_transaction_count(lz.sg.relayer)
        .await
        .unwrap();
    let first = devnet::deliver_stargate_packets(
        &lz.hemi_keeper,
        &lz.eth_relayer,
        &path,
        PacketSource::Receipt(&sent),
        Duration::from_millis(50),
    )
    .await
    .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].guid, oft.guid);
    assert_eq!(first[0].receiver, eth.token_messaging);
    let DeliveryOutcome::Delivered {
        verify_tx: Some(_),
        receive_tx,
    } = first[0].outcome
    else {
        panic!("the first delivery verifies and executes: {:?}", first[0]);
    };
    let received = lz
        .eth_relayer
        .get_transaction_receipt(receive_tx)
        .await
        .unwrap()
        .unwrap();
    let got = oft_received_by_guid(
        received.inner.logs().iter().map(|l| &l.inner),
        eth.eth_pool,
        oft.guid,
    )
    .unwrap()
    .expect("OFTReceived with the same guid");
    assert_eq!(got.src_eid, HEMI_EID);
    assert_eq!(got.to, lz.keeper);
    assert_eq!(got.amount_received_ld, q.receipt.amountReceivedLD);
    let eth_after = lz.eth_keeper.get_balance(lz.keeper).await.unwrap();
    assert_eq!(eth_after - eth_before, q.receipt.amountReceivedLD);
    let nonce_after_first = lz
        .eth_relayer
        .get_transaction_count(lz.sg.relayer)
        .await
        .unwrap();
    assert_eq!(nonce_after_first, relayer_nonce + 2, "verify and lzReceive");

    // Again, from the receipt and from a scan of every Hemi block: done.
    let again = devnet::deliver_stargate_packets(
        &lz.hemi_keeper,
        &lz.eth_relayer,
        &path,
        PacketSource::Receipt(&sent),
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].outcome, DeliveryOutcome::AlreadyDelivered);
    let latest = lz.hemi_keeper.get_block_number().await.unwrap();
    let scanned = devnet::deliver_stargate_packets(
        &lz.hemi_keeper,
        &lz.eth_relayer,
        &path,
        PacketSource::Blocks {
            from: 0,
            to: latest,
        },
        Duration::ZERO,
    )
    .await
    .unwrap();
    // The taxi, and the credit message the deployment sent from Hemi.
    assert_eq!(scanned.len(), 2);
    assert!(
        scanned
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::AlreadyDelivered)
    );
    assert_eq!(
        lz.eth_relayer
            .get_transaction_count(lz.sg.relayer)
            .await
            .unwrap(),
        nonce_after_first,
        "a packet already delivered sends nothing"
    );
    assert_eq!(
        lz.eth_keeper.get_balance(lz.keeper).await.unwrap(),
        eth_after
    );
    assert_eq!(
        delivered_logs(&lz.eth_relayer, eth.lz.endpoint, eth.token_messaging).await,
        1,
        "the endpoint delivered one TokenMessaging packet"
    );

    // A relayer that verified and died: the next one only executes.
    let mut param = taxi_send_param(ETHEREUM_EID, lz.keeper, ether(1), U256::ZERO);
    param.minAmountLD = quote(&lz.hemi_keeper, hemi.eth_pool, &param)
        .await
        .receipt
        .amountReceivedLD;
    let fee = native_fee(&lz.hemi_keeper, hemi.eth_pool, &param).await;
    let second = lz
        .send(
            &lz.hemi_keeper,
            hemi.eth_pool,
            param.clone(),
            fee,
            fee + ether(1),
        )
        .await;
    let packet = devnet::packets_in_receipt(&second, hemi.lz.endpoint).unwrap();
    assert_eq!(packet.len(), 1);
    assert_eq!(packet[0].packet.nonce, 2, "the path's second packet");
    send_mined(
        &lz.eth_relayer,
        tx(
            eth.lz.message_lib,
            ISimpleMessageLib::validatePacketCall {
                packetBytes: packet[0].encoded.clone(),
            },
        ),
    )
    .await
    .unwrap();
    let resumed = devnet::deliver_stargate_packets(
        &lz.hemi_keeper,
        &lz.eth_relayer,
        &path,
        PacketSource::Receipt(&second),
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert!(matches!(
        resumed[0].outcome,
        DeliveryOutcome::Delivered {
            verify_tx: None,
            ..
        }
    ));
    assert_eq!(
        lz.eth_keeper.get_balance(lz.keeper).await.unwrap() - eth_after,
        param.minAmountLD
    );

    // And nobody but the relayer may verify on the library.
    let data = revert_data(
        &lz.eth_keeper,
        lz.keeper,
        tx(
            eth.lz.message_lib,
            ISimpleMessageLib::validatePacketCall {
                packetBytes: packet[0].encoded.clone(),
            },
        ),
    )
    .await;
    assert_eq!(&data[..4], ISimpleMessageLib::OnlyWhitelistCaller::SELECTOR);
}

/// Dust (below the 1e12-wei shared unit): `send` truncates it from the
/// amount and takes the rest of `msg.value` as fee, which the endpoint
/// refunds, so the keeper pays amount-without-dust + native fee; a
/// `msg.value` short of that is `Stargate_InvalidAmount`; `deposit`
/// refuses a dusty amount outright, and `quoteSend` an amount that is all
/// dust.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_v2_dust_is_truncated_or_refused() {
    let lz = Lz::start().await;
    let hemi = &lz.sg.hemi;
    let dusty = ether(1) + U256::from(123_456u64);
    let clean = remove_dust(dusty, 18, 6).unwrap();
    assert_eq!(clean, ether(1));

    // deposit: dust is refused, the clean amount accepted.
    let deposit = |amount: U256| {
        tx(
            hemi.eth_pool,
            IStargateAdmin::depositCall {
                _receiver: lz.keeper,
                _amountLD: amount,
            },
        )
        .with_value(amount)
    };
    let data = revert_data(&lz.hemi_keeper, lz.keeper, deposit(dusty)).await;
    assert_eq!(&data[..], &IStargate::Stargate_InvalidAmount::SELECTOR[..]);
    send_mined(&lz.hemi_keeper, deposit(clean)).await.unwrap();

    // quoteSend: an amount below one shared unit is refused.
    let all_dust = taxi_send_param(
        ETHEREUM_EID,
        lz.keeper,
        U256::from(999_999_999_999u64),
        U256::ZERO,
    );
    let data = revert_data(
        &lz.hemi_keeper,
        lz.keeper,
        tx(
            hemi.eth_pool,
            IStargate::quoteSendCall {
                sendParam: all_dust,
                payInLzToken: false,
            },
        ),
    )
    .await;
    assert_eq!(&data[..], &IStargate::Stargate_InvalidAmount::SELECTOR[..]);

    // send: an amount that is all dust moves nothing, which the fee check
    // refuses as slippage.
    let dust_send = tx(
        hemi.eth_pool,
        IStargate::sendCall {
            sendParam: taxi_send_param(
                ETHEREUM_EID,
                lz.keeper,
                U256::from(999_999_999_999u64),
                U256::ZERO,
            ),
            fee: arbkeep::venue::evm::stargate::MessagingFee {
                nativeFee: lz.sg.options.native_fee_wei,
                lzTokenFee: U256::ZERO,
            },
            refundAddress: lz.keeper,
        },
    )
    .with_value(lz.sg.options.native_fee_wei + U256::from(999_999_999_999u64));
    let data = revert_data(&lz.hemi_keeper, lz.keeper, dust_send).await;
    assert_eq!(
        &data[..],
        &IStargate::Stargate_SlippageTooHigh::SELECTOR[..]
    );

    // send: short of fee + clean amount is refused…
    let param = taxi_send_param(ETHEREUM_EID, lz.keeper, dusty, U256::ZERO);
    let fee = native_fee(&lz.hemi_keeper, hemi.eth_pool, &param).await;
    let short = tx(
        hemi.eth_pool,
        IStargate::sendCall {
            sendParam: param.clone(),
            fee: arbkeep::venue::evm::stargate::MessagingFee {
                nativeFee: fee,
                lzTokenFee: U256::ZERO,
            },
            refundAddress: lz.keeper,
        },
    )
    .with_value(fee + clean - U256::from(1));
    let data = revert_data(&lz.hemi_keeper, lz.keeper, short).await;
    assert_eq!(&data[..], &IStargate::Stargate_InvalidAmount::SELECTOR[..]);

    // …and fee + the dusty amount goes through with the dust cut off and
    // handed back by the endpoint's refund.
    let before = lz.hemi_keeper.get_balance(lz.keeper).await.unwrap();
    let sent = lz
        .send(&lz.hemi_keeper, hemi.eth_pool, param, fee, fee + dusty)
        .await;
    let oft = sent_in_receipt(&sent, hemi.eth_pool).unwrap().unwrap();
    assert_eq!(oft.amount_sent_ld, clean);
    let after = lz.hemi_keeper.get_balance(lz.keeper).await.unwrap();
    assert_eq!(
        before - after,
        clean + fee + gas_paid(&sent),
        "the keeper pays the clean amount and the fee; the dust comes back"
    );
}

/// USDC Ethereum → Hemi: StargatePoolUSDC takes the approved ERC-20 and
/// exactly the native fee as `msg.value` (one wei more is refused);
/// StargateOFTUSDC mints the amount received on Hemi.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_v2_usdc_taxi_ethereum_to_hemi() {
    let lz = Lz::start().await;
    let (hemi, eth) = (&lz.sg.hemi, &lz.sg.ethereum);
    let amount = U256::from(2_500_000_000u64); // 2 500 USDC
    send_mined(
        &lz.eth_deployer,
        tx(
            eth.usdc,
            IDevToken::mintCall {
                to: lz.keeper,
                value: amount,
            },
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        read(&lz.eth_keeper, eth.usdc_stargate, IStargate::tokenCall {}).await,
        eth.usdc
    );
    assert!(
        read(
            &lz.eth_keeper,
            eth.usdc_stargate,
            IStargate::approvalRequiredCall {}
        )
        .await
    );
    assert_eq!(
        read(
            &lz.eth_keeper,
            eth.usdc_stargate,
            IStargate::sharedDecimalsCall {}
        )
        .await,
        6
    );
    send_mined(
        &lz.eth_keeper,
        tx(
            eth.usdc,
            IERC20::approveCall {
                spender: eth.usdc_stargate,
                value: amount,
            },
        ),
    )
    .await
    .unwrap();

    let mut param = taxi_send_param(HEMI_EID, lz.keeper, amount, U256::ZERO);
    let q = quote(&lz.eth_keeper, eth.usdc_stargate, &param).await;
    assert!(q.receipt.amountReceivedLD < amount);
    param.minAmountLD = q.receipt.amountReceivedLD;
    let fee = native_fee(&lz.eth_keeper, eth.usdc_stargate, &param).await;
    assert!(fee > U256::ZERO);
    let value = send_value(PoolKind::Token, fee, amount).unwrap();
    assert_eq!(value, fee);

    let over = tx(
        eth.usdc_stargate,
        IStargate::sendCall {
            sendParam: param.clone(),
            fee: arbkeep::venue::evm::stargate::MessagingFee {
                nativeFee: fee,
                lzTokenFee: U256::ZERO,
            },
            refundAddress: lz.keeper,
        },
    )
    .with_value(fee + U256::from(1));
    let data = revert_data(&lz.eth_keeper, lz.keeper, over).await;
    assert_eq!(&data[..], &IStargate::Stargate_InvalidAmount::SELECTOR[..]);

    let sent = lz
        .send(&lz.eth_keeper, eth.usdc_stargate, param, fee, value)
        .await;
    let oft = sent_in_receipt(&sent, eth.usdc_stargate).unwrap().unwrap();
    assert_eq!(oft.amount_sent_ld, amount);
    assert_eq!(oft.amount_received_ld, q.receipt.amountReceivedLD);
    let pool_usdc = read(
        &lz.eth_keeper,
        eth.usdc,
        IERC20::balanceOfCall {
            owner: eth.usdc_stargate,
        },
    )
    .await;
    assert_eq!(pool_usdc, lz.sg.options.usdc_liquidity + amount);

    let hemi_before = read(
        &lz.hemi_keeper,
        hemi.usdc,
        IERC20::balanceOfCall { owner: lz.keeper },
    )
    .await;
    let delivered = devnet::deliver_stargate_packets(
        &lz.eth_keeper,
        &lz.hemi_relayer,
        &lz.sg.path(Chain::Ethereum),
        PacketSource::Receipt(&sent),
        Duration::ZERO,
    )
    .await
    .unwrap();
    let DeliveryOutcome::Delivered { receive_tx, .. } = delivered[0].outcome else {
        panic!("delivered: {delivered:?}");
    };
    let r = lz
        .hemi_relayer
        .get_transaction_receipt(receive_tx)
        .await
        .unwrap()
        .unwrap();
    let got = oft_received_by_guid(
        r.inner.logs().iter().map(|l| &l.inner),
        hemi.usdc_stargate,
        oft.guid,
    )
    .unwrap()
    .expect("OFTReceived on Hemi's StargateOFTUSDC");
    assert_eq!(got.amount_received_ld, q.receipt.amountReceivedLD);
    let hemi_after = read(
        &lz.hemi_keeper,
        hemi.usdc,
        IERC20::balanceOfCall { owner: lz.keeper },
    )
    .await;
    assert_eq!(hemi_after - hemi_before, q.receipt.amountReceivedLD);
}

/// The Stargate fee is FeeLibV1's: its owner raising it lowers quoteOFT's
/// amount received by exactly the new rate (rounded up, in shared units).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_v2_raised_fee_lowers_the_quote() {
    let lz = Lz::start().await;
    let hemi = &lz.sg.hemi;
    let amount = ether(2);
    let param = taxi_send_param(ETHEREUM_EID, lz.keeper, amount, U256::ZERO);
    let amount_sd = 2_000_000u64;
    // FeeLibV1: fee = amountSD * millionth / 1e6 + 1, in shared units.
    let received = |millionth: u64| {
        U256::from(amount_sd - (amount_sd * millionth / 1_000_000 + 1))
            * U256::from(1_000_000_000_000u64)
    };
    let before = quote(&lz.hemi_keeper, hemi.eth_pool, &param).await;
    assert_eq!(
        before.receipt.amountReceivedLD,
        received(u64::from(lz.sg.options.fee_millionth))
    );
    devnet::set_fee(&lz.hemi_deployer, hemi.eth_fee_lib, ETHEREUM_EID, 5_000)
        .await
        .unwrap();
    let after = quote(&lz.hemi_keeper, hemi.eth_pool, &param).await;
    assert_eq!(after.receipt.amountReceivedLD, received(5_000));
    assert!(after.receipt.amountReceivedLD < before.receipt.amountReceivedLD);
    assert_eq!(after.receipt.amountSentLD, amount);
    // Only the owner may: the keeper's attempt is refused.
    let data = revert_data(
        &lz.hemi_keeper,
        lz.keeper,
        tx(
            hemi.eth_fee_lib,
            devnet::IFeeLibV1::setFeeConfigCall {
                _dstEid: ETHEREUM_EID,
                _zone1UpperBound: 0,
                _zone2UpperBound: 0,
                _zone1FeeMillionth: Default::default(),
                _zone2FeeMillionth: Default::default(),
                _zone3FeeMillionth: Default::default(),
                _rewardMillionth: Default::default(),
            },
        ),
    )
    .await;
    assert!(!data.is_empty());
}

/// ETH Ethereum → Hemi by taxi: the native pools' other direction, spending
/// the credit Hemi's CreditMessaging gave Ethereum's pool at deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_v2_eth_taxi_ethereum_to_hemi() {
    let lz = Lz::start().await;
    let (hemi, eth) = (&lz.sg.hemi, &lz.sg.ethereum);
    let amount = ether(3);
    let mut param = taxi_send_param(HEMI_EID, lz.keeper, amount, U256::ZERO);
    let q = quote(&lz.eth_keeper, eth.eth_pool, &param).await;
    param.minAmountLD = q.receipt.amountReceivedLD;
    let fee = native_fee(&lz.eth_keeper, eth.eth_pool, &param).await;
    let value = send_value(PoolKind::Native, fee, amount).unwrap();
    let sent = lz
        .send(&lz.eth_keeper, eth.eth_pool, param, fee, value)
        .await;
    let oft = sent_in_receipt(&sent, eth.eth_pool).unwrap().unwrap();
    let before = lz.hemi_keeper.get_balance(lz.keeper).await.unwrap();
    let delivered = devnet::deliver_stargate_packets(
        &lz.eth_keeper,
        &lz.hemi_relayer,
        &lz.sg.path(Chain::Ethereum),
        PacketSource::Receipt(&sent),
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].guid, oft.guid);
    assert_eq!(
        lz.hemi_keeper.get_balance(lz.keeper).await.unwrap() - before,
        q.receipt.amountReceivedLD
    );
    let credit = read(
        &lz.hemi_keeper,
        hemi.eth_pool,
        IStargateAdmin::pathsCall { eid: ETHEREUM_EID },
    )
    .await;
    assert!(credit > 0);
}
