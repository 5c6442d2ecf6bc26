//! The devnet's stand-in for LayerZero's DVNs and executor: find the
//! packets a source `EndpointV2` sent (`PacketSent`, in a receipt or a
//! block range), decode them (packet v1: `PacketV1Codec`), make each
//! verifiable on the destination, then execute `EndpointV2.lzReceive` with
//! the gas and value the packet's executor options ask for. On
//! `SimpleMessageLib` verifying is `validatePacket` (which calls
//! `EndpointV2.verify`) and executing is the endpoint's `lzReceive`; on
//! ULN302 (`LzPath::dst_uln302`) it is the DVN's signed `verify` then
//! `ReceiveUln302.commitVerification`, and `Executor.execute302` (`dvn`).
//! Every step first asks the destination what it already holds
//! (`lazyInboundNonce`, `inboundPayloadHash`, the DVN's `hashLookup`), so a
//! relayer restarted mid-way, or handed the same packet twice, delivers it
//! exactly once.

use super::super::*;
use super::dvn;
use super::endpoint::{IEndpointV2, ISimpleMessageLib};
use super::uln302::Uln302Contracts;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, TransactionReceipt, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent};
use anyhow::{Context, anyhow, bail};
use std::time::Duration;

/// A LayerZero V2 packet (`PacketV1Codec`): a 81-byte header (version,
/// nonce, source eid, sender, destination eid, receiver), then the guid and
/// the OApp's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketV1 {
    pub nonce: u64,
    pub src_eid: u32,
    pub sender: B256,
    pub dst_eid: u32,
    pub receiver: B256,
    pub guid: B256,
    pub message: Bytes,
}

const PACKET_VERSION: u8 = 1;
const GUID_OFFSET: usize = 81;
const MESSAGE_OFFSET: usize = 113;

impl PacketV1 {
    /// Decode an encoded packet, refusing another version or a short one.
    pub fn decode(bytes: &[u8]) -> anyhow::Result<PacketV1> {
        if bytes.len() < MESSAGE_OFFSET {
            bail!(
                "a packet is at least {MESSAGE_OFFSET} bytes, this one {}",
                bytes.len()
            );
        }
        if bytes[0] != PACKET_VERSION {
            bail!("packet version {} is not {PACKET_VERSION}", bytes[0]);
        }
        let u32_at = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&bytes[1..9]);
        Ok(PacketV1 {
            nonce: u64::from_be_bytes(nonce),
            src_eid: u32_at(9),
            sender: B256::from_slice(&bytes[13..45]),
            dst_eid: u32_at(45),
            receiver: B256::from_slice(&bytes[49..81]),
            guid: B256::from_slice(&bytes[GUID_OFFSET..MESSAGE_OFFSET]),
            message: Bytes::copy_from_slice(&bytes[MESSAGE_OFFSET..]),
        })
    }

    /// The receiver as an EVM address (the low 20 bytes).
    pub fn receiver_address(&self) -> Address {
        Address::from_word(self.receiver)
    }

    /// What the destination stores once verified: keccak256(guid ‖ message).
    pub fn payload_hash(&self) -> B256 {
        let mut payload = self.guid.to_vec();
        payload.extend_from_slice(&self.message);
        keccak256(payload)
    }

    pub fn origin(&self) -> IEndpointV2::Origin {
        IEndpointV2::Origin {
            srcEid: self.src_eid,
            sender: self.sender,
            nonce: self.nonce,
        }
    }
}

/// The guid the endpoint gives a packet: keccak256(nonce ‖ srcEid ‖ sender
/// ‖ dstEid ‖ receiver), as `GUID.generate` packs it.
pub fn packet_guid(nonce: u64, src_eid: u32, sender: B256, dst_eid: u32, receiver: B256) -> B256 {
    let mut b = Vec::with_capacity(80);
    b.extend_from_slice(&nonce.to_be_bytes());
    b.extend_from_slice(&src_eid.to_be_bytes());
    b.extend_from_slice(sender.as_slice());
    b.extend_from_slice(&dst_eid.to_be_bytes());
    b.extend_from_slice(receiver.as_slice());
    keccak256(b)
}

/// What the executor must give `lzReceive`: the gas and native value its
/// type-3 options ask for (the sum of every executor `lzReceive` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExecutorOptions {
    pub gas: u128,
    pub value: u128,
}

const OPTIONS_TYPE_3: u16 = 3;
const EXECUTOR_WORKER_ID: u8 = 1;
const OPTION_TYPE_LZRECEIVE: u8 = 1;

/// Read the executor's `lzReceive` gas and value out of type-3 options
/// (`[u16 3]` then `[u8 worker][u16 size][u8 type][params]`…); other
/// workers' and other option types are passed over. Empty options ask
/// nothing.
pub fn executor_options(options: &[u8]) -> anyhow::Result<ExecutorOptions> {
    let mut out = ExecutorOptions::default();
    if options.is_empty() {
        return Ok(out);
    }
    if options.len() < 2 || u16::from_be_bytes([options[0], options[1]]) != OPTIONS_TYPE_3 {
        bail!(
            "options are not type 3: {}",
            Bytes::copy_from_slice(options)
        );
    }
    let mut at = 2usize;
    while at < options.len() {
        let head = options
            .get(at..at + 3)
            .ok_or_else(|| anyhow!("option at byte {at} is cut short"))?;
        let worker = head[0];
        let size = usize::from(u16::from_be_bytes([head[1], head[2]]));
        let body = options
            .get(at + 3..at + 3 + size)
            .ok_or_else(|| anyhow!("option at byte {at} claims {size} bytes past the end"))?;
        if worker == EXECUTOR_WORKER_ID && body.first() == Some(&OPTION_TYPE_LZRECEIVE) {
            let params = &body[1..];
            let u128_at = |from: usize| -> anyhow::Result<u128> {
                let b = params
                    .get(from..from + 16)
                    .ok_or_else(|| anyhow!("lzReceive option at byte {at} is cut short"))?;
                let mut w = [0u8; 16];
                w.copy_from_slice(b);
                Ok(u128::from_be_bytes(w))
            };
            let gas = u128_at(0)?;
            let value = if params.len() >= 32 { u128_at(16)? } else { 0 };
            out.gas = out
                .gas
                .checked_add(gas)
                .ok_or_else(|| anyhow!("lzReceive gas overflows"))?;
            out.value = out
                .value
                .checked_add(value)
                .ok_or_else(|| anyhow!("lzReceive value overflows"))?;
        }
        at += 3 + size;
    }
    Ok(out)
}

/// A packet as the source endpoint's `PacketSent` carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPacket {
    pub packet: PacketV1,
    pub encoded: Bytes,
    pub options: Bytes,
    pub send_library: Address,
    pub tx_hash: Option<B256>,
}

fn sent_packet(log: &alloy::primitives::Log, tx_hash: Option<B256>) -> anyhow::Result<SentPacket> {
    let event = IEndpointV2::PacketSent::decode_log(log)
        .map_err(|e| anyhow!("PacketSent does not decode: {e}"))?
        .data;
    Ok(SentPacket {
        packet: PacketV1::decode(&event.encodedPayload)?,
        encoded: event.encodedPayload,
        options: event.options,
        send_library: event.sendLibrary,
        tx_hash,
    })
}

/// Every packet `src_endpoint` sent in a receipt.
pub fn packets_in_receipt(
    receipt: &TransactionReceipt,
    src_endpoint: Address,
) -> anyhow::Result<Vec<SentPacket>> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|l| {
            l.address() == src_endpoint
                && l.topics().first() == Some(&IEndpointV2::PacketSent::SIGNATURE_HASH)
        })
        .map(|l| sent_packet(&l.inner, Some(receipt.transaction_hash)))
        .collect()
}

/// Every packet `src_endpoint` sent in blocks `from..=to`.
pub async fn packets_in_blocks(
    src: &DynProvider,
    src_endpoint: Address,
    from: u64,
    to: u64,
) -> anyhow::Result<Vec<SentPacket>> {
    let filter = Filter::new()
        .address(src_endpoint)
        .event_signature(IEndpointV2::PacketSent::SIGNATURE_HASH)
        .from_block(from)
        .to_block(to);
    src.get_logs(&filter)
        .await?
        .iter()
        .map(|l| sent_packet(&l.inner, l.transaction_hash))
        .collect()
}

/// Where a packet stands at its destination endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketState {
    /// Nothing of it there yet: verify, then execute.
    Unverified,
    /// Its payload hash is stored: execute.
    Verified,
    /// Executed (or skipped by the OApp): nothing to do.
    Delivered,
}

/// Ask the destination endpoint about `packet`. A different payload hash
/// stored under the packet's nonce is an error: something else was
/// verified there.
pub async fn packet_state(
    dst: &DynProvider,
    dst_endpoint: Address,
    packet: &PacketV1,
) -> anyhow::Result<PacketState> {
    let receiver = packet.receiver_address();
    let lazy = read(
        dst,
        dst_endpoint,
        IEndpointV2::lazyInboundNonceCall {
            _receiver: receiver,
            _srcEid: packet.src_eid,
            _sender: packet.sender,
        },
    )
    .await?;
    let stored = read(
        dst,
        dst_endpoint,
        IEndpointV2::inboundPayloadHashCall {
            _receiver: receiver,
            _srcEid: packet.src_eid,
            _sender: packet.sender,
            _nonce: packet.nonce,
        },
    )
    .await?;
    if stored == B256::ZERO {
        return Ok(if packet.nonce <= lazy {
            PacketState::Delivered
        } else {
            PacketState::Unverified
        });
    }
    if stored != packet.payload_hash() {
        bail!(
            "nonce {} from eid {} holds payload hash {stored}, not this packet's {}",
            packet.nonce,
            packet.src_eid,
            packet.payload_hash()
        );
    }
    Ok(PacketState::Verified)
}

/// One direction of the devnet's LayerZero: the source endpoint the
/// packets leave and the destination endpoint and library they reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LzPath {
    pub src_eid: u32,
    pub src_endpoint: Address,
    pub dst_eid: u32,
    pub dst_endpoint: Address,
    /// The destination's receive library (`SimpleMessageLib`, or
    /// `ReceiveUln302` when `dst_uln302` is set).
    pub dst_message_lib: Address,
    /// The destination's ULN302 and workers, when it verifies by DVN.
    pub dst_uln302: Option<Uln302Contracts>,
}

/// Which packets to deliver.
#[derive(Debug, Clone, Copy)]
pub enum PacketSource<'a> {
    /// The packets of one source transaction.
    Receipt(&'a TransactionReceipt),
    /// Every packet the source endpoint sent in these blocks (inclusive).
    Blocks { from: u64, to: u64 },
}

/// What delivering one packet did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Executed now; `verify_tx` (the transaction that made the endpoint
    /// hold the payload hash: `validatePacket`, or ULN302's
    /// `commitVerification`) is `None` when it was already verified.
    Delivered {
        verify_tx: Option<B256>,
        receive_tx: B256,
    },
    /// The destination had it already: nothing was sent.
    AlreadyDelivered,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub guid: B256,
    pub nonce: u64,
    pub receiver: Address,
    pub outcome: DeliveryOutcome,
    /// ULN302: each DVN's `execute` of `verify` this delivery sent (none on
    /// `SimpleMessageLib`, or for a DVN that had verified already).
    pub dvn_txs: Vec<B256>,
}

/// Gas the executor adds to the options' `lzReceive` gas for the
/// endpoint's own work (clearing the payload, the call, the event).
const ENDPOINT_OVERHEAD_GAS: u64 = 200_000;
/// What the executor gives when the options name no gas.
const DEFAULT_RECEIVE_GAS: u64 = 1_000_000;

/// Deliver the packets `source` names that go along `path`, in nonce
/// order, as `dst` signs (the devnet relayer: the library's whitelisted
/// verifier and the executor), after waiting `delay` (the DVNs'
/// confirmations). Each packet's destination state is read first, so a
/// packet already delivered is reported as such and nothing is sent.
pub async fn deliver_stargate_packets(
    src: &DynProvider,
    dst: &DynProvider,
    path: &LzPath,
    source: PacketSource<'_>,
    delay: Duration,
) -> anyhow::Result<Vec<Delivery>> {
    let mut packets = match source {
        PacketSource::Receipt(r) => packets_in_receipt(r, path.src_endpoint)?,
        PacketSource::Blocks { from, to } => {
            packets_in_blocks(src, path.src_endpoint, from, to).await?
        }
    };
    packets.retain(|p| p.packet.dst_eid == path.dst_eid && p.packet.src_eid == path.src_eid);
    // The endpoint executes a path's nonces in order.
    packets.sort_by_key(|p| (p.packet.sender, p.packet.receiver, p.packet.nonce));
    if packets.is_empty() {
        return Ok(Vec::new());
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut out = Vec::with_capacity(packets.len());
    for sent in &packets {
        out.push(deliver_one(dst, path, sent).await.with_context(|| {
            format!(
                "delivering nonce {} (guid {}) to eid {}",
                sent.packet.nonce, sent.packet.guid, path.dst_eid
            )
        })?);
    }
    Ok(out)
}

async fn deliver_one(
    dst: &DynProvider,
    path: &LzPath,
    sent: &SentPacket,
) -> anyhow::Result<Delivery> {
    let packet = &sent.packet;
    let expected = packet_guid(
        packet.nonce,
        packet.src_eid,
        packet.sender,
        packet.dst_eid,
        packet.receiver,
    );
    if expected != packet.guid {
        bail!("packet guid {} is not its header's {expected}", packet.guid);
    }
    let receiver = packet.receiver_address();
    let mut dvn_txs = Vec::new();
    let done = |outcome, dvn_txs| Delivery {
        guid: packet.guid,
        nonce: packet.nonce,
        receiver,
        outcome,
        dvn_txs,
    };
    let mut verify_tx = None;
    match packet_state(dst, path.dst_endpoint, packet).await? {
        PacketState::Delivered => return Ok(done(DeliveryOutcome::AlreadyDelivered, Vec::new())),
        PacketState::Verified => {}
        PacketState::Unverified => {
            verify_tx = Some(match &path.dst_uln302 {
                Some(uln) => {
                    dvn_txs = dvn::dvn_verify(dst, uln, sent).await?;
                    dvn::commit_verification(dst, uln, sent).await?
                }
                None => validate_packet(dst, path, sent).await?,
            });
            if packet_state(dst, path.dst_endpoint, packet).await? != PacketState::Verified {
                bail!("the packet was verified but the endpoint holds no payload hash");
            }
        }
    }
    let asked = executor_options(&sent.options)?;
    let gas = if asked.gas == 0 {
        DEFAULT_RECEIVE_GAS
    } else {
        u64::try_from(asked.gas)
            .map_err(|_| anyhow!("lzReceive gas {} is past u64", asked.gas))?
            .saturating_add(ENDPOINT_OVERHEAD_GAS)
    };
    let receive_tx = match &path.dst_uln302 {
        Some(uln) => dvn::execute_302(dst, uln, packet, gas, U256::from(asked.value)).await?,
        None => lz_receive(dst, path, packet, gas, asked.value).await?,
    };
    if packet_state(dst, path.dst_endpoint, packet).await? != PacketState::Delivered {
        bail!("lzReceive was mined but the endpoint does not count the packet delivered");
    }
    Ok(done(
        DeliveryOutcome::Delivered {
            verify_tx,
            receive_tx,
        },
        dvn_txs,
    ))
}

/// `SimpleMessageLib.validatePacket`: the library calls `EndpointV2.verify`.
async fn validate_packet(
    dst: &DynProvider,
    path: &LzPath,
    sent: &SentPacket,
) -> anyhow::Result<B256> {
    let r = send_mined(
        dst,
        TransactionRequest::default()
            .with_to(path.dst_message_lib)
            .with_input(Bytes::from(
                ISimpleMessageLib::validatePacketCall {
                    packetBytes: sent.encoded.clone(),
                }
                .abi_encode(),
            )),
    )
    .await?;
    Ok(r.transaction_hash)
}

/// The endpoint's `lzReceive`, as the executor calls it.
async fn lz_receive(
    dst: &DynProvider,
    path: &LzPath,
    packet: &PacketV1,
    gas: u64,
    value: u128,
) -> anyhow::Result<B256> {
    let receiver = packet.receiver_address();
    let call = IEndpointV2::lzReceiveCall {
        _origin: packet.origin(),
        _receiver: receiver,
        _guid: packet.guid,
        _message: packet.message.clone(),
        _extraData: Bytes::new(),
    };
    let r = send_mined(
        dst,
        TransactionRequest::default()
            .with_to(path.dst_endpoint)
            .with_input(Bytes::from(call.abi_encode()))
            .with_value(U256::from(value))
            .with_gas_limit(gas),
    )
    .await?;
    Ok(r.transaction_hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::hex;

    fn encoded(nonce: u64, message: &[u8]) -> (Vec<u8>, B256, B256) {
        let sender = B256::left_padding_from(&[0xaa; 20]);
        let receiver = B256::left_padding_from(&[0xbb; 20]);
        let guid = packet_guid(nonce, 30329, sender, 30101, receiver);
        let mut b = vec![1u8];
        b.extend_from_slice(&nonce.to_be_bytes());
        b.extend_from_slice(&30329u32.to_be_bytes());
        b.extend_from_slice(sender.as_slice());
        b.extend_from_slice(&30101u32.to_be_bytes());
        b.extend_from_slice(receiver.as_slice());
        b.extend_from_slice(guid.as_slice());
        b.extend_from_slice(message);
        (b, guid, receiver)
    }

    #[test]
    fn packet_v1_round_trip() {
        let (bytes, guid, receiver) = encoded(7, b"taxi");
        let p = PacketV1::decode(&bytes).unwrap();
        assert_eq!(p.nonce, 7);
        assert_eq!(p.src_eid, 30329);
        assert_eq!(p.dst_eid, 30101);
        assert_eq!(p.receiver, receiver);
        assert_eq!(p.receiver_address(), Address::from([0xbb; 20]));
        assert_eq!(p.guid, guid);
        assert_eq!(p.message.as_ref(), b"taxi");
        let mut payload = guid.to_vec();
        payload.extend_from_slice(b"taxi");
        assert_eq!(p.payload_hash(), keccak256(payload));
    }

    #[test]
    fn short_or_foreign_packets_are_refused() {
        let (bytes, _, _) = encoded(1, b"");
        assert!(PacketV1::decode(&bytes).is_ok());
        assert!(PacketV1::decode(&bytes[..112]).is_err());
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert!(PacketV1::decode(&v2).is_err());
    }

    #[test]
    fn executor_options_sum_lz_receive() {
        assert_eq!(executor_options(&[]).unwrap(), ExecutorOptions::default());
        // Stargate's enforced taxi option: lzReceive 150000 gas.
        let mut taxi = hex!("0003 01 0011 01").to_vec();
        taxi.extend_from_slice(&150_000u128.to_be_bytes());
        assert_eq!(
            executor_options(&taxi).unwrap(),
            ExecutorOptions {
                gas: 150_000,
                value: 0
            }
        );
        // Plus a caller's lzReceive with value, and a DVN option passed over.
        let mut more = taxi.clone();
        more.extend_from_slice(&hex!("01 0021 01"));
        more.extend_from_slice(&50_000u128.to_be_bytes());
        more.extend_from_slice(&7u128.to_be_bytes());
        more.extend_from_slice(&hex!("02 0002 00 01"));
        assert_eq!(
            executor_options(&more).unwrap(),
            ExecutorOptions {
                gas: 200_000,
                value: 7
            }
        );
        assert!(executor_options(&hex!("0001")).is_err());
        assert!(executor_options(&taxi[..taxi.len() - 1]).is_err());
    }
}
