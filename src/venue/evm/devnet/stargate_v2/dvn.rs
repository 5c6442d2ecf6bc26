//! The devnet relayer's part on ULN302 (`uln302`): as each required DVN's
//! signer and admin it signs `ReceiveUln302.verify(header, payloadHash,
//! confirmations)` for that DVN's multisig and submits it with its
//! `DVN.execute`; anyone may then `commitVerification` on `ReceiveUln302`,
//! which checks the DVN quorum of the ULN config and calls
//! `EndpointV2.verify`; as the executor's admin it delivers with
//! `Executor.execute302`, which calls `EndpointV2.lzReceive` with the gas
//! asked. Each step reads first what the destination already holds
//! (`hashLookup` for the DVN's verification), so repeating one sends
//! nothing; the order and the endpoint's own checks are `relayer`'s.

use super::super::*;
use super::relayer::{PacketV1, SentPacket};
use super::uln302::{IDVN, IExecutor, IUln302, ULN_CONFIRMATIONS, Uln302Contracts};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use anyhow::{anyhow, bail};
use std::str::FromStr;

/// The packet header (`PacketV1Codec`'s first 81 bytes): what the DVN
/// verifies and `commitVerification` is given.
pub fn packet_header(encoded: &[u8]) -> anyhow::Result<Bytes> {
    encoded
        .get(..81)
        .map(Bytes::copy_from_slice)
        .ok_or_else(|| anyhow!("a packet of {} bytes has no header", encoded.len()))
}

/// How long a signed DVN instruction stays valid past the destination's
/// latest block, in seconds.
const INSTRUCTION_TTL_SECS: u64 = 600;

/// Whether `dvn`'s verification of `sent` is on `ReceiveUln302` with the
/// confirmations the config asks.
pub async fn dvn_has_verified(
    dst: &DynProvider,
    uln: &Uln302Contracts,
    dvn: Address,
    sent: &SentPacket,
) -> anyhow::Result<bool> {
    let header = packet_header(&sent.encoded)?;
    let v = read(
        dst,
        uln.receive_lib,
        IUln302::hashLookupCall {
            _headerHash: keccak256(&header),
            _payloadHash: sent.packet.payload_hash(),
            _dvn: dvn,
        },
    )
    .await?;
    Ok(v.submitted && v.confirmations >= ULN_CONFIRMATIONS)
}

/// The DVN's `ExecuteParam` for `ReceiveUln302.verify` of `sent`, signed by
/// `signer` (the multisig's one signer) and valid until `expiration`.
pub fn signed_verify(
    uln: &Uln302Contracts,
    sent: &SentPacket,
    signer: &PrivateKeySigner,
    expiration: u64,
) -> anyhow::Result<IDVN::ExecuteParam> {
    let call_data = Bytes::from(
        IUln302::verifyCall {
            _packetHeader: packet_header(&sent.encoded)?,
            _payloadHash: sent.packet.payload_hash(),
            _confirmations: ULN_CONFIRMATIONS,
        }
        .abi_encode(),
    );
    // DVN.hashCallData: keccak256(abi.encodePacked(vid, target,
    // expiration, callData)); the multisig checks an EIP-191 signature of it.
    let mut packed = Vec::with_capacity(4 + 20 + 32 + call_data.len());
    packed.extend_from_slice(&uln.dvn_vid.to_be_bytes());
    packed.extend_from_slice(uln.receive_lib.as_slice());
    packed.extend_from_slice(&U256::from(expiration).to_be_bytes::<32>());
    packed.extend_from_slice(&call_data);
    let hash = keccak256(packed);
    let signature = signer.sign_message_sync(hash.as_slice())?;
    Ok(IDVN::ExecuteParam {
        vid: uln.dvn_vid,
        target: uln.receive_lib,
        callData: call_data,
        expiration: U256::from(expiration),
        signatures: Bytes::from(signature.as_bytes().to_vec()),
    })
}

/// As each required DVN: verify `sent` on `ReceiveUln302` through that
/// DVN's `execute`, unless its verification is there already; the
/// transactions sent, one per DVN that had not verified. `dst` signs with
/// `RELAYER_KEY`, every DVN's signer and admin.
pub async fn dvn_verify(
    dst: &DynProvider,
    uln: &Uln302Contracts,
    sent: &SentPacket,
) -> anyhow::Result<Vec<B256>> {
    let mut sent_txs = Vec::new();
    for dvn in uln.dvns {
        if dvn_has_verified(dst, uln, dvn, sent).await? {
            continue;
        }
        sent_txs.push(verify_as(dst, uln, dvn, sent).await?);
    }
    Ok(sent_txs)
}

/// As the one DVN `dvn`: its `execute` of `verify` for `sent`.
pub async fn verify_as(
    dst: &DynProvider,
    uln: &Uln302Contracts,
    dvn: Address,
    sent: &SentPacket,
) -> anyhow::Result<B256> {
    let signer = PrivateKeySigner::from_str(RELAYER_KEY).map_err(|_| anyhow!("bad dev key"))?;
    let latest = dst
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| anyhow!("the destination has no latest block"))?;
    let param = signed_verify(
        uln,
        sent,
        &signer,
        latest.header.timestamp + INSTRUCTION_TTL_SECS,
    )?;
    let r = send_mined(
        dst,
        TransactionRequest::default()
            .with_to(dvn)
            .with_input(Bytes::from(
                IDVN::executeCall {
                    _params: vec![param],
                }
                .abi_encode(),
            )),
    )
    .await?;
    // `execute` reports a refused instruction by an event, not a revert.
    for log in r.inner.logs() {
        if let Ok(e) = IDVN::ExecuteFailed::decode_log(&log.inner) {
            bail!("DVN {dvn}'s verify failed: {}", e.data._data);
        }
        if IDVN::VerifySignaturesFailed::decode_log(&log.inner).is_ok() {
            bail!("DVN {dvn} refused the relayer's signature");
        }
    }
    if !dvn_has_verified(dst, uln, dvn, sent).await? {
        bail!("DVN {dvn}'s execute was mined but ReceiveUln302 holds no verification");
    }
    Ok(r.transaction_hash)
}

/// `ReceiveUln302.commitVerification` of `sent`: the library checks the
/// DVN quorum and the endpoint stores the payload hash.
pub async fn commit_verification(
    dst: &DynProvider,
    uln: &Uln302Contracts,
    sent: &SentPacket,
) -> anyhow::Result<B256> {
    let r = send_mined(
        dst,
        TransactionRequest::default()
            .with_to(uln.receive_lib)
            .with_input(Bytes::from(
                IUln302::commitVerificationCall {
                    _packetHeader: packet_header(&sent.encoded)?,
                    _payloadHash: sent.packet.payload_hash(),
                }
                .abi_encode(),
            )),
    )
    .await?;
    Ok(r.transaction_hash)
}

/// Gas the executor's own call adds around the endpoint's `lzReceive`.
const EXECUTOR_OVERHEAD_GAS: u64 = 100_000;

/// As the executor: `Executor.execute302` of `packet` with `gas` for the
/// endpoint's `lzReceive` and `value` sent along. The executor catches a
/// failed `lzReceive` (it raises `lzReceiveAlert`), so the caller checks
/// the endpoint afterwards.
pub async fn execute_302(
    dst: &DynProvider,
    uln: &Uln302Contracts,
    packet: &PacketV1,
    gas: u64,
    value: U256,
) -> anyhow::Result<B256> {
    let call = IExecutor::execute302Call {
        _executionParams: IExecutor::ExecutionParams {
            receiver: packet.receiver_address(),
            origin: IExecutor::Origin {
                srcEid: packet.src_eid,
                sender: packet.sender,
                nonce: packet.nonce,
            },
            guid: packet.guid,
            message: packet.message.clone(),
            extraData: Bytes::new(),
            gasLimit: U256::from(gas),
        },
    };
    let r = send_mined(
        dst,
        TransactionRequest::default()
            .with_to(uln.executor)
            .with_input(Bytes::from(call.abi_encode()))
            .with_value(value)
            .with_gas_limit(gas.saturating_add(EXECUTOR_OVERHEAD_GAS)),
    )
    .await?;
    Ok(r.transaction_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_the_first_81_bytes() {
        let bytes: Vec<u8> = (0..120u8).collect();
        assert_eq!(packet_header(&bytes).unwrap().as_ref(), &bytes[..81]);
        assert!(packet_header(&bytes[..80]).is_err());
    }

    #[test]
    fn signed_verify_recovers_to_the_signer() {
        let mut encoded = vec![1u8];
        encoded.extend_from_slice(&[0u8; 112]);
        let sent = SentPacket {
            packet: PacketV1::decode(&encoded).unwrap(),
            encoded: Bytes::from(encoded),
            options: Bytes::new(),
            send_library: Address::ZERO,
            tx_hash: None,
        };
        let uln = Uln302Contracts {
            send_lib: Address::repeat_byte(1),
            receive_lib: Address::repeat_byte(2),
            dvns: [Address::repeat_byte(3); super::super::uln302::DVN_COUNT],
            dvn_vid: 101,
            executor: Address::repeat_byte(4),
            price_feed: Address::repeat_byte(5),
            dvn_fee_lib: Address::repeat_byte(6),
            executor_fee_lib: Address::repeat_byte(7),
        };
        let signer = PrivateKeySigner::from_str(RELAYER_KEY).unwrap();
        let p = signed_verify(&uln, &sent, &signer, 1_000).unwrap();
        assert_eq!(p.vid, 101);
        assert_eq!(p.target, uln.receive_lib);
        assert_eq!(p.signatures.len(), 65);
        let mut packed = 101u32.to_be_bytes().to_vec();
        packed.extend_from_slice(uln.receive_lib.as_slice());
        packed.extend_from_slice(&U256::from(1_000u64).to_be_bytes::<32>());
        packed.extend_from_slice(&p.callData);
        let sig = alloy::primitives::Signature::from_raw(&p.signatures).unwrap();
        let who = sig
            .recover_address_from_msg(keccak256(packed).as_slice())
            .unwrap();
        assert_eq!(who, signer.address());
    }
}
