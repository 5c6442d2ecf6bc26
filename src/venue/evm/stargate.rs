//! Stargate V2 from the keeper's side (evm.md §2.6): the `IStargate`
//! interface as the pools and OFTs answer it, the recipient as `bytes32`,
//! the dust rule (amounts travel in shared decimals, so the local amount is
//! truncated to a multiple of `10^(local - shared)`), a taxi `SendParam`,
//! the `msg.value` a send must carry per pool kind, and `OFTSent` /
//! `OFTReceived` found in a receipt by their guid. Pure functions: no
//! provider, no devnet; every amount from outside is checked, never
//! trusted to fit.

use alloy::primitives::{Address, B256, Bytes, Log, U256};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol;
use alloy::sol_types::SolEvent;

sol! {
    /// What a Stargate V2 pool or OFT answers (LayerZero's IOFT, which
    /// Stargate extends), with the errors a keeper must tell apart.
    #[derive(Debug, PartialEq, Eq)]
    struct SendParam {
        uint32 dstEid;
        bytes32 to;
        uint256 amountLD;
        uint256 minAmountLD;
        bytes extraOptions;
        bytes composeMsg;
        bytes oftCmd;
    }

    #[derive(Debug, PartialEq, Eq, Default)]
    struct MessagingFee {
        uint256 nativeFee;
        uint256 lzTokenFee;
    }

    #[derive(Debug, PartialEq, Eq)]
    struct MessagingReceipt {
        bytes32 guid;
        uint64 nonce;
        MessagingFee fee;
    }

    #[derive(Debug, PartialEq, Eq)]
    struct OFTReceipt {
        uint256 amountSentLD;
        uint256 amountReceivedLD;
    }

    #[derive(Debug, PartialEq, Eq)]
    struct OFTLimit {
        uint256 minAmountLD;
        uint256 maxAmountLD;
    }

    #[derive(Debug, PartialEq, Eq)]
    struct OFTFeeDetail {
        int256 feeAmountLD;
        string description;
    }

    /// The contracts a Stargate works with (`StargateBase.AddressConfig`).
    #[derive(Debug, PartialEq, Eq)]
    struct AddressConfig {
        address feeLib;
        address planner;
        address treasurer;
        address tokenMessaging;
        address creditMessaging;
        address lzToken;
    }

    /// `FeeLibV1`'s fee configuration per destination; `paused` stops every
    /// quote and send towards it (`FeeLib_Paused`).
    interface IStargateFeeLib {
        error FeeLib_Paused();
        function feeConfigs(uint32 eid) external view returns (bool paused, uint64 zone1UpperBound, uint64 zone2UpperBound, uint24 zone1FeeMillionth, uint24 zone2FeeMillionth, uint24 zone3FeeMillionth, uint24 rewardMillionth);
    }

    /// A bus ride's seat (Stargate's `sendToken` only).
    #[derive(Debug, PartialEq, Eq)]
    struct Ticket {
        uint72 ticketId;
        bytes passengerBytes;
    }

    interface IStargate {
        function quoteOFT(SendParam sendParam) external view returns (OFTLimit limit, OFTFeeDetail[] oftFeeDetails, OFTReceipt receipt);
        function quoteSend(SendParam sendParam, bool payInLzToken) external view returns (MessagingFee fee);
        function send(SendParam sendParam, MessagingFee fee, address refundAddress) external payable returns (MessagingReceipt msgReceipt, OFTReceipt oftReceipt);
        function sendToken(SendParam sendParam, MessagingFee fee, address refundAddress) external payable returns (MessagingReceipt msgReceipt, OFTReceipt oftReceipt, Ticket ticket);
        function token() external view returns (address);
        function approvalRequired() external view returns (bool);
        function sharedDecimals() external view returns (uint8);
        /// `StargateBase.status`: 1 idle, 2 inside a call, 3 paused by its
        /// planner (every send and every delivery then reverts).
        function status() external view returns (uint8);
        function getAddressConfig() external view returns (AddressConfig);
        /// `StargateBase.stargateType`: answered by a Stargate only (a plain
        /// LayerZero OFT, as hemiBTC's, reverts).
        function stargateType() external view returns (uint8);
        /// `OAppCore.peers`: a plain OFT's counterpart on `eid`.
        function peers(uint32 eid) external view returns (bytes32);

        event OFTSent(bytes32 indexed guid, uint32 dstEid, address indexed fromAddress, uint256 amountSentLD, uint256 amountReceivedLD);
        event OFTReceived(bytes32 indexed guid, uint32 srcEid, address indexed toAddress, uint256 amountReceivedLD);

        error Stargate_InvalidAmount();
        error Stargate_SlippageTooHigh();
        error Stargate_InsufficientFare();
        error Stargate_Paused();
        error Stargate_InvalidPath();
        /// `PathLib`'s: the path to the destination has too little credit.
        error Path_InsufficientCredit();
    }
}

/// What is wrong with an amount, a pool's decimals or a receipt's logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StargateError {
    #[error("shared decimals {shared} exceed local decimals {local}")]
    SharedAboveLocal { local: u8, shared: u8 },
    #[error("10^({local} - {shared}) does not fit in 256 bits")]
    RateOverflow { local: u8, shared: u8 },
    #[error("{amount_ld} in local units is {amount_sd} in shared units, past Stargate's u64")]
    SharedAmountTooLarge { amount_ld: U256, amount_sd: U256 },
    #[error("native fee {native_fee} plus amount {amount_ld} overflows 256 bits")]
    MsgValueOverflow { native_fee: U256, amount_ld: U256 },
    #[error("{event} log from {address} does not decode: {reason}")]
    BadLog {
        event: &'static str,
        address: Address,
        reason: String,
    },
    #[error("{event} for guid {guid} appears {count} times")]
    DuplicateGuid {
        event: &'static str,
        guid: B256,
        count: usize,
    },
}

/// A recipient as LayerZero carries it: the address left-padded to 32 bytes.
pub fn to_bytes32(address: Address) -> B256 {
    address.into_word()
}

/// `10^(local - shared)`: how many local units one shared unit is.
pub fn conversion_rate(local_decimals: u8, shared_decimals: u8) -> Result<U256, StargateError> {
    let exponent =
        local_decimals
            .checked_sub(shared_decimals)
            .ok_or(StargateError::SharedAboveLocal {
                local: local_decimals,
                shared: shared_decimals,
            })?;
    U256::from(10u8)
        .checked_pow(U256::from(exponent))
        .ok_or(StargateError::RateOverflow {
            local: local_decimals,
            shared: shared_decimals,
        })
}

/// The amount Stargate moves for `amount_ld`: truncated to a whole number
/// of shared units (`_sd2ld(_ld2sd(amount))`). For ETH (18 local, 6
/// shared) that is a multiple of 1e12 wei.
pub fn remove_dust(
    amount_ld: U256,
    local_decimals: u8,
    shared_decimals: u8,
) -> Result<U256, StargateError> {
    let rate = conversion_rate(local_decimals, shared_decimals)?;
    // rate >= 1, so the remainder is defined and at most amount_ld.
    Ok(amount_ld - amount_ld % rate)
}

/// `amount_ld` in shared units, refused when past the `u64` Stargate
/// casts it to (its `SafeCast.toUint64` would revert the send).
pub fn to_shared(
    amount_ld: U256,
    local_decimals: u8,
    shared_decimals: u8,
) -> Result<u64, StargateError> {
    let rate = conversion_rate(local_decimals, shared_decimals)?;
    let amount_sd = amount_ld / rate;
    u64::try_from(amount_sd).map_err(|_| StargateError::SharedAmountTooLarge {
        amount_ld,
        amount_sd,
    })
}

/// A taxi send (delivered on its own, not batched on a bus): empty
/// `oftCmd`, no extra options, no compose message.
pub fn taxi_send_param(
    dst_eid: u32,
    recipient: Address,
    amount_ld: U256,
    min_amount_ld: U256,
) -> SendParam {
    SendParam {
        dstEid: dst_eid,
        to: to_bytes32(recipient),
        amountLD: amount_ld,
        minAmountLD: min_amount_ld,
        extraOptions: Bytes::new(),
        composeMsg: Bytes::new(),
        oftCmd: Bytes::new(),
    }
}

/// Whether a Stargate contract moves the chain's native coin or an ERC-20.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// `StargatePoolNative`: the amount rides in `msg.value` with the fee.
    Native,
    /// A pool or OFT of an ERC-20 (`StargatePoolUSDC`, `StargateOFTUSDC`):
    /// the token is approved and pulled, `msg.value` is the fee alone.
    Token,
}

/// The kind of a Stargate contract whose `token()` is `underlying`, listed
/// for a native token (`want_erc20` `None`) or for the ERC-20 `want_erc20`;
/// `None` when it carries something else.
pub fn pool_kind(underlying: Address, want_erc20: Option<Address>) -> Option<PoolKind> {
    match want_erc20 {
        None => (underlying == Address::ZERO).then_some(PoolKind::Native),
        Some(want) => (underlying == want).then_some(PoolKind::Token),
    }
}

/// The name of a Stargate or fee-library error a call reverted with, when
/// the revert data is one (none of them carries arguments), so a refusal
/// reads `FeeLib_Paused()` rather than its selector.
pub fn error_name(data: &[u8]) -> Option<&'static str> {
    use IStargate::*;
    use alloy::sol_types::SolError;
    let known: [([u8; 4], &'static str); 7] = [
        (
            Stargate_InvalidAmount::SELECTOR,
            Stargate_InvalidAmount::SIGNATURE,
        ),
        (
            Stargate_SlippageTooHigh::SELECTOR,
            Stargate_SlippageTooHigh::SIGNATURE,
        ),
        (
            Stargate_InsufficientFare::SELECTOR,
            Stargate_InsufficientFare::SIGNATURE,
        ),
        (Stargate_Paused::SELECTOR, Stargate_Paused::SIGNATURE),
        (
            Stargate_InvalidPath::SELECTOR,
            Stargate_InvalidPath::SIGNATURE,
        ),
        (
            Path_InsufficientCredit::SELECTOR,
            Path_InsufficientCredit::SIGNATURE,
        ),
        (
            IStargateFeeLib::FeeLib_Paused::SELECTOR,
            IStargateFeeLib::FeeLib_Paused::SIGNATURE,
        ),
    ];
    let selector: [u8; 4] = data.get(..4)?.try_into().ok()?;
    known
        .iter()
        .find(|(s, _)| *s == selector)
        .map(|(_, name)| *name)
}

/// `StargateBase`'s status while its planner has it paused.
pub const STATUS_PAUSED: u8 = 3;

/// Whether a Stargate answering `status()` with `status` is paused. Only
/// the paused value closes it: the other two (idle, and inside a call,
/// which a view never sees) both take sends.
pub fn is_paused(status: u8) -> bool {
    status == STATUS_PAUSED
}

/// What `send` must carry as `msg.value`: for a native pool the fee plus
/// the (dust-free) amount — any excess is passed on to the endpoint as
/// LayerZero fee, which refunds it to `refundAddress`; for an ERC-20
/// pool or OFT exactly the fee, anything else is `Stargate_InvalidAmount`.
pub fn send_value(
    kind: PoolKind,
    native_fee: U256,
    amount_ld: U256,
) -> Result<U256, StargateError> {
    match kind {
        PoolKind::Native => {
            native_fee
                .checked_add(amount_ld)
                .ok_or(StargateError::MsgValueOverflow {
                    native_fee,
                    amount_ld,
                })
        }
        PoolKind::Token => Ok(native_fee),
    }
}

/// An `OFTSent` as the source Stargate emitted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OftSent {
    pub guid: B256,
    pub dst_eid: u32,
    pub from: Address,
    pub amount_sent_ld: U256,
    pub amount_received_ld: U256,
}

/// An `OFTReceived` as the destination Stargate emitted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OftReceived {
    pub guid: B256,
    pub src_eid: u32,
    pub to: Address,
    pub amount_received_ld: U256,
}

/// Every `E` that `stargate` emitted in `logs`; a log with `E`'s topic0
/// from that address that does not decode is an error, not a skip.
fn events<'a, E: SolEvent>(
    logs: impl IntoIterator<Item = &'a Log>,
    stargate: Address,
    name: &'static str,
) -> Result<Vec<E>, StargateError> {
    logs.into_iter()
        .filter(|l| l.address == stargate && l.topics().first() == Some(&E::SIGNATURE_HASH))
        .map(|l| {
            E::decode_log(l)
                .map(|d| d.data)
                .map_err(|e| StargateError::BadLog {
                    event: name,
                    address: stargate,
                    reason: e.to_string(),
                })
        })
        .collect()
}

fn only_one<T>(
    mut found: Vec<T>,
    event: &'static str,
    guid: B256,
) -> Result<Option<T>, StargateError> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        count => Err(StargateError::DuplicateGuid { event, guid, count }),
    }
}

/// Every `OFTSent` of `stargate` in `logs`.
pub fn oft_sent<'a>(
    logs: impl IntoIterator<Item = &'a Log>,
    stargate: Address,
) -> Result<Vec<OftSent>, StargateError> {
    Ok(events::<IStargate::OFTSent>(logs, stargate, "OFTSent")?
        .into_iter()
        .map(|e| OftSent {
            guid: e.guid,
            dst_eid: e.dstEid,
            from: e.fromAddress,
            amount_sent_ld: e.amountSentLD,
            amount_received_ld: e.amountReceivedLD,
        })
        .collect())
}

/// Every `OFTReceived` of `stargate` in `logs`.
pub fn oft_received<'a>(
    logs: impl IntoIterator<Item = &'a Log>,
    stargate: Address,
) -> Result<Vec<OftReceived>, StargateError> {
    Ok(
        events::<IStargate::OFTReceived>(logs, stargate, "OFTReceived")?
            .into_iter()
            .map(|e| OftReceived {
                guid: e.guid,
                src_eid: e.srcEid,
                to: e.toAddress,
                amount_received_ld: e.amountReceivedLD,
            })
            .collect(),
    )
}

/// The `OFTSent` with `guid`, if `stargate` emitted it in `logs`.
pub fn oft_sent_by_guid<'a>(
    logs: impl IntoIterator<Item = &'a Log>,
    stargate: Address,
    guid: B256,
) -> Result<Option<OftSent>, StargateError> {
    let found = oft_sent(logs, stargate)?
        .into_iter()
        .filter(|e| e.guid == guid)
        .collect();
    only_one(found, "OFTSent", guid)
}

/// The `OFTReceived` with `guid`, if `stargate` emitted it in `logs`.
pub fn oft_received_by_guid<'a>(
    logs: impl IntoIterator<Item = &'a Log>,
    stargate: Address,
    guid: B256,
) -> Result<Option<OftReceived>, StargateError> {
    let found = oft_received(logs, stargate)?
        .into_iter()
        .filter(|e| e.guid == guid)
        .collect();
    only_one(found, "OFTReceived", guid)
}

/// The one `OFTSent` of `stargate` in a send's receipt (its guid is the
/// key the destination's `OFTReceived` is matched by); `None` when the
/// receipt holds none.
pub fn sent_in_receipt(
    receipt: &TransactionReceipt,
    stargate: Address,
) -> Result<Option<OftSent>, StargateError> {
    let mut found = oft_sent(receipt.inner.logs().iter().map(|l| &l.inner), stargate)?;
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        count => Err(StargateError::DuplicateGuid {
            event: "OFTSent",
            guid: found[0].guid,
            count,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{LogData, address, b256, hex};
    use alloy::sol_types::SolCall;

    const POOL: Address = address!("0x2F6F07CDcf3588944Bf4C42aC74ff24bF56e7590");
    const KEEPER: Address = address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");

    #[test]
    fn stargate_errors_are_named_from_their_selector() {
        // FeeLib_Paused(), as the devnet's FeeLibV1 reverts with it.
        assert_eq!(error_name(&hex!("1dd77766")), Some("FeeLib_Paused()"));
        let paused = <IStargate::Stargate_Paused as alloy::sol_types::SolError>::SELECTOR;
        assert_eq!(error_name(&paused), Some("Stargate_Paused()"));
        assert_eq!(error_name(&hex!("08c379a0")), None);
        assert_eq!(error_name(&hex!("1dd777")), None);
        assert_eq!(error_name(&[]), None);
    }

    #[test]
    fn only_the_paused_status_closes_a_stargate() {
        // StargateBase: NOT_ENTERED 1, ENTERED 2, PAUSED 3.
        assert!(is_paused(3));
        assert!(!is_paused(1));
        assert!(!is_paused(2));
        assert!(!is_paused(0));
    }

    #[test]
    fn selectors_match_the_reference() {
        assert_eq!(IStargate::quoteOFTCall::SELECTOR, hex!("0d35b415"));
        assert_eq!(IStargate::quoteSendCall::SELECTOR, hex!("3b6f743b"));
        assert_eq!(IStargate::sendCall::SELECTOR, hex!("c7c7f5b3"));
        assert_eq!(IStargate::sendTokenCall::SELECTOR, hex!("cbef2aa9"));
    }

    #[test]
    fn topics_match_the_reference() {
        assert_eq!(
            IStargate::OFTSent::SIGNATURE_HASH,
            b256!("0x85496b760a4b7f8d66384b9df21b381f5d1b1e79f229a47aaf4c232edc2fe59a")
        );
        assert_eq!(
            IStargate::OFTReceived::SIGNATURE_HASH,
            b256!("0xefed6d3500546b29533b128a29e3a94d70788727f0507505ac12eaf2e578fd9c")
        );
        assert!(
            IStargate::OFTSent::SIGNATURE_HASH
                .to_string()
                .starts_with("0x85496b76")
        );
        assert!(
            IStargate::OFTReceived::SIGNATURE_HASH
                .to_string()
                .ends_with("fd9c")
        );
    }

    #[test]
    fn recipient_is_left_padded() {
        let word = to_bytes32(KEEPER);
        assert_eq!(&word[..12], &[0u8; 12]);
        assert_eq!(&word[12..], KEEPER.as_slice());
    }

    #[test]
    fn dust_is_the_1e12_step_for_eth() {
        let e12 = U256::from(1_000_000_000_000u64);
        let amount = U256::from(1_234_567_890_123_456_789u64);
        let clean = remove_dust(amount, 18, 6).unwrap();
        assert_eq!(clean, U256::from(1_234_567_000_000_000_000u64));
        assert_eq!(clean % e12, U256::ZERO);
        assert_eq!(remove_dust(clean, 18, 6).unwrap(), clean);
        assert_eq!(remove_dust(e12 - U256::from(1), 18, 6).unwrap(), U256::ZERO);
        // USDC: 6 local, 6 shared, nothing to remove.
        assert_eq!(
            remove_dust(U256::from(1_234_567u64), 6, 6).unwrap(),
            U256::from(1_234_567u64)
        );
        assert_eq!(remove_dust(U256::MAX, 18, 6).unwrap() % e12, U256::ZERO);
    }

    #[test]
    fn bad_decimals_are_errors_not_panics() {
        assert_eq!(
            remove_dust(U256::from(1), 6, 18),
            Err(StargateError::SharedAboveLocal {
                local: 6,
                shared: 18
            })
        );
        assert_eq!(
            remove_dust(U256::from(1), 255, 0),
            Err(StargateError::RateOverflow {
                local: 255,
                shared: 0
            })
        );
    }

    #[test]
    fn shared_amount_must_fit_u64() {
        assert_eq!(
            to_shared(U256::from(10u64).pow(U256::from(18)), 18, 6),
            Ok(1_000_000)
        );
        assert_eq!(to_shared(U256::from(u64::MAX), 6, 6), Ok(u64::MAX));
        assert!(matches!(
            to_shared(U256::from(u64::MAX) + U256::from(1), 6, 6),
            Err(StargateError::SharedAmountTooLarge { .. })
        ));
    }

    #[test]
    fn taxi_param_is_empty_cmd_and_options() {
        let p = taxi_send_param(30101, KEEPER, U256::from(5), U256::from(4));
        assert_eq!(p.dstEid, 30101);
        assert_eq!(p.to, to_bytes32(KEEPER));
        assert_eq!(p.amountLD, U256::from(5));
        assert_eq!(p.minAmountLD, U256::from(4));
        assert!(p.oftCmd.is_empty() && p.extraOptions.is_empty() && p.composeMsg.is_empty());
    }

    #[test]
    fn msg_value_per_pool_kind() {
        let fee = U256::from(300u64);
        let amount = U256::from(1_000_000u64);
        assert_eq!(
            send_value(PoolKind::Native, fee, amount),
            Ok(U256::from(1_000_300u64))
        );
        assert_eq!(send_value(PoolKind::Token, fee, amount), Ok(fee));
        assert!(matches!(
            send_value(PoolKind::Native, U256::MAX, U256::from(1)),
            Err(StargateError::MsgValueOverflow { .. })
        ));
    }

    fn sent_log(emitter: Address, guid: B256, amount: u64) -> Log {
        let event = IStargate::OFTSent {
            guid,
            dstEid: 30101,
            fromAddress: KEEPER,
            amountSentLD: U256::from(amount),
            amountReceivedLD: U256::from(amount - 1),
        };
        Log {
            address: emitter,
            data: event.encode_log_data(),
        }
    }

    fn received_log(emitter: Address, guid: B256, amount: u64) -> Log {
        let event = IStargate::OFTReceived {
            guid,
            srcEid: 30329,
            toAddress: KEEPER,
            amountReceivedLD: U256::from(amount),
        };
        Log {
            address: emitter,
            data: event.encode_log_data(),
        }
    }

    #[test]
    fn events_are_found_by_guid_and_emitter() {
        let g1 = B256::repeat_byte(1);
        let g2 = B256::repeat_byte(2);
        let other = address!("0x0000000000000000000000000000000000000001");
        let logs = [
            sent_log(other, g1, 10),
            sent_log(POOL, g1, 100),
            sent_log(POOL, g2, 200),
            received_log(POOL, g1, 99),
        ];
        let sent = oft_sent_by_guid(&logs, POOL, g1).unwrap().unwrap();
        assert_eq!(sent.amount_sent_ld, U256::from(100));
        assert_eq!(sent.amount_received_ld, U256::from(99));
        assert_eq!(sent.from, KEEPER);
        assert_eq!(sent.dst_eid, 30101);
        assert_eq!(oft_sent_by_guid(&logs, POOL, B256::ZERO).unwrap(), None);
        let got = oft_received_by_guid(&logs, POOL, g1).unwrap().unwrap();
        assert_eq!(
            got,
            OftReceived {
                guid: g1,
                src_eid: 30329,
                to: KEEPER,
                amount_received_ld: U256::from(99)
            }
        );
        assert_eq!(oft_received_by_guid(&logs, other, g1).unwrap(), None);
        assert_eq!(oft_sent(&logs, POOL).unwrap().len(), 2);
    }

    #[test]
    fn a_malformed_or_repeated_event_is_an_error() {
        let g = B256::repeat_byte(7);
        let mut bad = sent_log(POOL, g, 100);
        // The topic says OFTSent, the data is cut short.
        bad.data = LogData::new_unchecked(bad.data.topics().to_vec(), Bytes::from(vec![0u8; 5]));
        assert!(matches!(
            oft_sent(std::slice::from_ref(&bad), POOL),
            Err(StargateError::BadLog {
                event: "OFTSent",
                ..
            })
        ));
        let twice = [received_log(POOL, g, 1), received_log(POOL, g, 1)];
        assert!(matches!(
            oft_received_by_guid(&twice, POOL, g),
            Err(StargateError::DuplicateGuid { count: 2, .. })
        ));
    }
}
