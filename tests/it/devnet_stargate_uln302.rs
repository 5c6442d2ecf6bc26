//! The REAL Stargate V2 over LayerZero V2 with ULN302 as its message
//! library, as on mainnet: `SendUln302` and `ReceiveUln302`, one required
//! DVN, LayerZero's `Executor`, a `PriceFeed` and the workers' fee
//! libraries, all from `@layerzerolabs/lz-evm-messagelib-v2`'s published
//! bytecode. An ETH taxi Hemi → Ethereum pays the fee the workers quote,
//! is verified by the DVN (a signed `verify` through `DVN.execute`),
//! committed on `ReceiveUln302` and executed by `Executor.execute302`, and
//! arrives once by its guid's `OFTReceived`; delivering it again sends
//! nothing, and a relayer that stopped after the DVN's verify, or after
//! the commit, is resumed from where it stopped.

use crate::devnet_stargate_v2::{Lz, delivered_logs, native_fee, quote, read, revert_data, tx};

use alloy::primitives::{U256, keccak256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::{SolError, SolEvent};
use arbkeep::model::Chain;
use arbkeep::venue::evm::devnet::{
    self, DeliveryOutcome, ETHEREUM_EID, HEMI_EID, IDVN, IEndpointV2, IUln302, MessageLibKind,
    PacketSource, StargateV2Options, ULN_CONFIRMATIONS, Uln302Contracts,
};
use arbkeep::venue::evm::stargate::{
    PoolKind, oft_received_by_guid, send_value, sent_in_receipt, taxi_send_param,
};
use std::time::Duration;

fn uln302() -> StargateV2Options {
    StargateV2Options {
        message_lib: MessageLibKind::Uln302,
        ..StargateV2Options::default()
    }
}

/// What the source's `SendUln302` holds for its DVN and executor.
async fn workers_fees(p: &DynProvider, uln: &Uln302Contracts) -> U256 {
    let mut sum = U256::ZERO;
    for worker in uln.workers() {
        sum += read(p, uln.send_lib, IUln302::feesCall { _worker: worker }).await;
    }
    sum
}

async fn receipt(p: &DynProvider, hash: alloy::primitives::B256) -> TransactionReceipt {
    p.get_transaction_receipt(hash).await.unwrap().unwrap()
}

async fn relayer_nonce(lz: &Lz) -> u64 {
    lz.eth_relayer
        .get_transaction_count(lz.sg.relayer)
        .await
        .unwrap()
}

/// The relayer's delivery of `sent`'s packets Hemi → Ethereum.
async fn deliver(lz: &Lz, sent: &TransactionReceipt) -> Vec<devnet::Delivery> {
    devnet::deliver_stargate_packets(
        &lz.hemi_keeper,
        &lz.eth_relayer,
        &lz.sg.path(Chain::Hemi),
        PacketSource::Receipt(sent),
        Duration::ZERO,
    )
    .await
    .unwrap()
}

/// A taxi of `amount` wei Hemi → Ethereum from the keeper, at its quote.
async fn taxi(lz: &Lz, amount: U256) -> (TransactionReceipt, U256, U256) {
    taxi_from(lz, Chain::Hemi, amount).await
}

/// A taxi of `amount` wei from `from` to the other chain: the receipt, the
/// native fee paid and the amount that arrives.
async fn taxi_from(lz: &Lz, from: Chain, amount: U256) -> (TransactionReceipt, U256, U256) {
    let (p, pool, dst_eid) = match from {
        Chain::Hemi => (&lz.hemi_keeper, lz.sg.hemi.eth_pool, ETHEREUM_EID),
        Chain::Ethereum => (&lz.eth_keeper, lz.sg.ethereum.eth_pool, HEMI_EID),
    };
    let mut param = taxi_send_param(dst_eid, lz.keeper, amount, U256::ZERO);
    param.minAmountLD = quote(p, pool, &param).await.receipt.amountReceivedLD;
    let fee = native_fee(p, pool, &param).await;
    let min = param.minAmountLD;
    let value = send_value(PoolKind::Native, fee, amount).unwrap();
    let sent = lz.send(p, pool, param, fee, value).await;
    (sent, fee, min)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_uln302_eth_taxi_is_verified_by_the_dvn_committed_and_executed_once() {
    let lz = Lz::start_with(uln302()).await;
    let (hemi, eth) = (&lz.sg.hemi, &lz.sg.ethereum);
    let (hemi_uln, eth_uln) = (hemi.lz.uln302.unwrap(), eth.lz.uln302.unwrap());
    assert_eq!(
        read(
            &lz.hemi_keeper,
            hemi.lz.endpoint,
            IEndpointV2::defaultSendLibraryCall { _eid: ETHEREUM_EID }
        )
        .await,
        hemi_uln.send_lib
    );
    let config = read(
        &lz.eth_keeper,
        eth_uln.receive_lib,
        IUln302::getUlnConfigCall {
            _oapp: eth.token_messaging,
            _remoteEid: HEMI_EID,
        },
    )
    .await;
    assert_eq!(config, devnet::default_uln_config(&eth_uln.dvns));
    assert_eq!(usize::from(config.requiredDVNCount), devnet::DVN_COUNT);

    // The fee is the workers' quote, and what the keeper pays them.
    let fees_before = workers_fees(&lz.hemi_keeper, &hemi_uln).await;
    let eth_before = lz.eth_keeper.get_balance(lz.keeper).await.unwrap();
    let (sent, fee, min) = taxi(&lz, devnet_ether(2)).await;
    assert!(fee > U256::ZERO, "ULN302's workers charge");
    assert_ne!(fee, lz.sg.options.native_fee_wei, "not SimpleMessageLib's");
    assert_eq!(
        workers_fees(&lz.hemi_keeper, &hemi_uln).await - fees_before,
        fee,
        "the DVNs and the executor were paid the quote"
    );
    let oft = sent_in_receipt(&sent, hemi.eth_pool).unwrap().unwrap();
    let packets = devnet::packets_in_receipt(&sent, hemi.lz.endpoint).unwrap();
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].send_library, hemi_uln.send_lib);

    let path = lz.sg.path(Chain::Hemi);
    assert_eq!(path.dst_uln302, Some(eth_uln));
    let nonce = relayer_nonce(&lz).await;
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
    let DeliveryOutcome::Delivered {
        verify_tx: Some(commit_tx),
        receive_tx,
    } = first[0].outcome
    else {
        panic!("verified and executed: {:?}", first[0]);
    };
    assert_eq!(
        relayer_nonce(&lz).await,
        nonce + devnet::DVN_COUNT as u64 + 2,
        "each DVN, commit, execute"
    );

    // Each DVN's verify, as ReceiveUln302 recorded it.
    assert_eq!(first[0].dvn_txs.len(), devnet::DVN_COUNT);
    let mut verifiers = Vec::new();
    for tx in &first[0].dvn_txs {
        let dvn = receipt(&lz.eth_relayer, *tx).await;
        let verified: Vec<_> = dvn
            .inner
            .logs()
            .iter()
            .filter(|l| l.address() == eth_uln.receive_lib)
            .filter_map(|l| IUln302::PayloadVerified::decode_log(&l.inner).ok())
            .collect();
        assert_eq!(verified.len(), 1);
        assert_eq!(
            dvn.to,
            Some(verified[0].data.dvn),
            "submitted to its own DVN"
        );
        assert_eq!(
            verified[0].data.confirmations,
            U256::from(ULN_CONFIRMATIONS)
        );
        assert_eq!(verified[0].data.proofHash, packets[0].packet.payload_hash());
        verifiers.push(verified[0].data.dvn);
    }
    assert_eq!(verifiers, eth_uln.dvns, "every required DVN, once");
    // The commit: the endpoint's PacketVerified, the DVN's record reclaimed.
    let commit = receipt(&lz.eth_relayer, commit_tx).await;
    assert!(commit.inner.logs().iter().any(|l| {
        l.address() == eth.lz.endpoint
            && l.topics().first() == Some(&IEndpointV2::PacketVerified::SIGNATURE_HASH)
    }));
    let header = devnet::packet_header(&packets[0].encoded).unwrap();
    for dvn in eth_uln.dvns {
        let lookup = read(
            &lz.eth_keeper,
            eth_uln.receive_lib,
            IUln302::hashLookupCall {
                _headerHash: keccak256(&header),
                _payloadHash: packets[0].packet.payload_hash(),
                _dvn: dvn,
            },
        )
        .await;
        assert!(!lookup.submitted, "{dvn}'s record reclaimed");
    }
    // The executor's execute302: the guid's OFTReceived, the ETH arrived.
    let executed = receipt(&lz.eth_relayer, receive_tx).await;
    assert_eq!(executed.to, Some(eth_uln.executor));
    let got = oft_received_by_guid(
        executed.inner.logs().iter().map(|l| &l.inner),
        eth.eth_pool,
        oft.guid,
    )
    .unwrap()
    .expect("OFTReceived with the same guid");
    assert_eq!(got.amount_received_ld, min);
    let eth_after = lz.eth_keeper.get_balance(lz.keeper).await.unwrap();
    assert_eq!(eth_after - eth_before, min);

    // Again, from the receipt and from a scan of every Hemi block: done.
    let nonce = relayer_nonce(&lz).await;
    let again = deliver(&lz, &sent).await;
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
    assert_eq!(scanned.len(), 2, "the taxi and the deployment's credits");
    assert!(
        scanned
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::AlreadyDelivered)
    );
    assert_eq!(relayer_nonce(&lz).await, nonce, "nothing sent");
    assert_eq!(
        delivered_logs(&lz.eth_relayer, eth.lz.endpoint, eth.token_messaging).await,
        1
    );
    assert_eq!(
        lz.eth_keeper.get_balance(lz.keeper).await.unwrap(),
        eth_after
    );

    // A relayer that stopped after the DVNs' verifies: nobody may commit
    // before all of them, and the next relayer commits and executes only.
    let (second, _, min2) = taxi(&lz, devnet_ether(1)).await;
    let second_packet = devnet::packets_in_receipt(&second, hemi.lz.endpoint).unwrap();
    // What a commit of the second packet reverts with now.
    let commit = || async {
        revert_data(
            &lz.eth_keeper,
            lz.keeper,
            tx(
                eth_uln.receive_lib,
                IUln302::commitVerificationCall {
                    _packetHeader: devnet::packet_header(&second_packet[0].encoded).unwrap(),
                    _payloadHash: second_packet[0].packet.payload_hash(),
                },
            ),
        )
        .await
    };
    assert_eq!(&commit().await[..4], IUln302::LZ_ULN_Verifying::SELECTOR);
    // All but one DVN verified: still no commit.
    for dvn in &eth_uln.dvns[1..] {
        devnet::verify_as(&lz.eth_relayer, &eth_uln, *dvn, &second_packet[0])
            .await
            .unwrap();
    }
    assert_eq!(&commit().await[..4], IUln302::LZ_ULN_Verifying::SELECTOR);
    // The relayer's verify sends only the missing DVN's.
    assert_eq!(
        devnet::dvn_verify(&lz.eth_relayer, &eth_uln, &second_packet[0])
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        devnet::dvn_verify(&lz.eth_relayer, &eth_uln, &second_packet[0])
            .await
            .unwrap(),
        Vec::<alloy::primitives::B256>::new(),
        "the DVNs' verifications are read, not sent again"
    );
    let nonce = relayer_nonce(&lz).await;
    let resumed = deliver(&lz, &second).await;
    assert!(matches!(
        resumed[0].outcome,
        DeliveryOutcome::Delivered {
            verify_tx: Some(_),
            ..
        }
    ));
    assert!(resumed[0].dvn_txs.is_empty());
    assert_eq!(relayer_nonce(&lz).await, nonce + 2, "commit and execute");
    let eth_after2 = lz.eth_keeper.get_balance(lz.keeper).await.unwrap();
    assert_eq!(eth_after2 - eth_after, min2);

    // One that stopped after the commit: the next one only executes.
    let (third, _, min3) = taxi(&lz, devnet_ether(1)).await;
    let third_packet = devnet::packets_in_receipt(&third, hemi.lz.endpoint).unwrap();
    devnet::dvn_verify(&lz.eth_relayer, &eth_uln, &third_packet[0])
        .await
        .unwrap();
    devnet::commit_verification(&lz.eth_relayer, &eth_uln, &third_packet[0])
        .await
        .unwrap();
    let nonce = relayer_nonce(&lz).await;
    let resumed = deliver(&lz, &third).await;
    assert!(matches!(
        resumed[0].outcome,
        DeliveryOutcome::Delivered {
            verify_tx: None,
            ..
        }
    ));
    assert_eq!(relayer_nonce(&lz).await, nonce + 1, "execute only");
    assert_eq!(
        lz.eth_keeper.get_balance(lz.keeper).await.unwrap() - eth_after2,
        min3
    );

    // Only the DVN's admin may submit to it.
    let data = revert_data(
        &lz.eth_keeper,
        lz.keeper,
        tx(eth_uln.dvns[0], IDVN::executeCall { _params: vec![] }),
    )
    .await;
    assert!(!data.is_empty());
}

fn devnet_ether(n: u64) -> U256 {
    crate::devnet_stargate_v2::ether(n)
}

/// ETH Ethereum → Hemi over ULN302: the other direction's DVN and
/// executor, on Hemi's node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_uln302_eth_taxi_ethereum_to_hemi() {
    let lz = Lz::start_with(uln302()).await;
    let (sent, fee, min) = taxi_from(&lz, Chain::Ethereum, devnet_ether(1)).await;
    assert!(fee > U256::ZERO);
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
    assert_eq!(delivered[0].dvn_txs.len(), devnet::DVN_COUNT);
    assert_eq!(
        lz.hemi_keeper.get_balance(lz.keeper).await.unwrap() - before,
        min
    );
}
