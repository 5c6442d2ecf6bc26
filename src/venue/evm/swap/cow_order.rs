//! CoW Protocol (GPv2) orders as the settlement contract and the orderbook
//! see them (evm.md §2.4): the signed `Order`, its EIP-712 domain ("Gnosis
//! Protocol", "v2", chain id, settlement) and digest, the 56-byte order UID
//! (digest ‖ owner ‖ validTo), the 65-byte `r ‖ s ‖ v` signature (v 27/28)
//! and its recovery, the signed `OrderCancellations`, the trade flags
//! `GPv2Trade` decodes, the app data of `"{}"`, and the settlement's
//! `Trade` event read back from a receipt.

use crate::venue::evm::abi::IGPv2Settlement;
use alloy::primitives::{Address, B256, Bytes, Signature, U256, b256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolEvent, SolStruct};
use std::fmt;
use std::str::FromStr;

sol! {
    /// `GPv2Order.Data` as signed (its EIP-712 type, field for field).
    #[derive(Debug, PartialEq, Eq)]
    struct Order {
        address sellToken;
        address buyToken;
        address receiver;
        uint256 sellAmount;
        uint256 buyAmount;
        uint32 validTo;
        bytes32 appData;
        uint256 feeAmount;
        string kind;
        bool partiallyFillable;
        string sellTokenBalance;
        string buyTokenBalance;
    }

    /// What an owner signs to cancel orders at the orderbook.
    #[derive(Debug, PartialEq, Eq)]
    struct OrderCancellations {
        bytes[] orderUids;
    }
}

/// The app data `"{}"` stands for: keccak256 of those two bytes (the
/// orderbook's "if you do not care about appData").
pub const APP_DATA_EMPTY: B256 =
    b256!("b48d38f93eaa084033fc5970bf96e559c33c4cdc07d889ab00b4d63f9590739d");
/// The JSON document [`APP_DATA_EMPTY`] is the hash of.
pub const APP_DATA_EMPTY_JSON: &str = "{}";
/// topic0 of `Trade(address,address,address,uint256,uint256,uint256,bytes)`.
pub const TRADE_TOPIC: B256 =
    b256!("a07a543ab8a018198e99ca0184c93fe9050a79400a0a723441f84de1d972cc17");

/// Sell or buy: which amount of the order is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    Sell,
    Buy,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Sell => "sell",
            OrderKind::Buy => "buy",
        }
    }
}

/// Where the sold tokens come from (the orderbook takes only `erc20` for
/// new orders; the Balancer Vault sources are historical).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SellTokenBalance {
    Erc20,
    External,
    Internal,
}

impl SellTokenBalance {
    pub fn as_str(self) -> &'static str {
        match self {
            SellTokenBalance::Erc20 => "erc20",
            SellTokenBalance::External => "external",
            SellTokenBalance::Internal => "internal",
        }
    }
}

/// Where the bought tokens go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuyTokenBalance {
    Erc20,
    Internal,
}

impl BuyTokenBalance {
    pub fn as_str(self) -> &'static str {
        match self {
            BuyTokenBalance::Erc20 => "erc20",
            BuyTokenBalance::Internal => "internal",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CowOrderError {
    #[error("order kind {0:?} is neither sell nor buy")]
    Kind(String),
    #[error("token balance {0:?} is not erc20, external or internal")]
    Balance(String),
    #[error("an ECDSA signature is 65 bytes, not {0}")]
    SignatureLength(usize),
    #[error("signature v is {0}, not 27 or 28")]
    SignatureV(u8),
    #[error("signature recovers no address: {0}")]
    Recover(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("an order UID is 56 bytes of hex: {0}")]
    Uid(String),
    #[error("not a settlement Trade log: {0}")]
    TradeLog(String),
}

impl FromStr for OrderKind {
    type Err = CowOrderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sell" => Ok(OrderKind::Sell),
            "buy" => Ok(OrderKind::Buy),
            other => Err(CowOrderError::Kind(other.into())),
        }
    }
}

impl FromStr for SellTokenBalance {
    type Err = CowOrderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "erc20" => Ok(SellTokenBalance::Erc20),
            "external" => Ok(SellTokenBalance::External),
            "internal" => Ok(SellTokenBalance::Internal),
            other => Err(CowOrderError::Balance(other.into())),
        }
    }
}

impl FromStr for BuyTokenBalance {
    type Err = CowOrderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "erc20" => Ok(BuyTokenBalance::Erc20),
            "internal" => Ok(BuyTokenBalance::Internal),
            other => Err(CowOrderError::Balance(other.into())),
        }
    }
}

impl Order {
    /// A fill-or-kill sell of exactly `sell_amount` for at least
    /// `buy_amount`, ERC-20 balances, no signed fee, app data `"{}"`, the
    /// proceeds to the owner (receiver zero).
    pub fn sell(
        sell_token: Address,
        buy_token: Address,
        sell_amount: U256,
        buy_amount: U256,
        valid_to: u32,
    ) -> Order {
        Order {
            sellToken: sell_token,
            buyToken: buy_token,
            receiver: Address::ZERO,
            sellAmount: sell_amount,
            buyAmount: buy_amount,
            validTo: valid_to,
            appData: APP_DATA_EMPTY,
            feeAmount: U256::ZERO,
            kind: OrderKind::Sell.as_str().into(),
            partiallyFillable: false,
            sellTokenBalance: SellTokenBalance::Erc20.as_str().into(),
            buyTokenBalance: BuyTokenBalance::Erc20.as_str().into(),
        }
    }

    pub fn order_kind(&self) -> Result<OrderKind, CowOrderError> {
        self.kind.parse()
    }

    pub fn sell_balance(&self) -> Result<SellTokenBalance, CowOrderError> {
        self.sellTokenBalance.parse()
    }

    pub fn buy_balance(&self) -> Result<BuyTokenBalance, CowOrderError> {
        self.buyTokenBalance.parse()
    }

    /// Who receives the bought tokens (zero means the owner).
    pub fn actual_receiver(&self, owner: Address) -> Address {
        if self.receiver.is_zero() {
            owner
        } else {
            self.receiver
        }
    }

    /// The order's EIP-712 digest in `domain`: what its owner signs.
    pub fn digest(&self, domain: &Eip712Domain) -> B256 {
        self.eip712_signing_hash(domain)
    }
}

/// The GPv2 signing domain of the settlement at `settlement` on `chain_id`.
pub fn domain(chain_id: u64, settlement: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some("Gnosis Protocol".into()),
        Some("v2".into()),
        Some(U256::from(chain_id)),
        Some(settlement),
        None,
    )
}

/// The order UID: digest (32) ‖ owner (20) ‖ validTo (4, big-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderUid(pub [u8; 56]);

impl OrderUid {
    pub fn new(digest: B256, owner: Address, valid_to: u32) -> OrderUid {
        let mut b = [0u8; 56];
        b[..32].copy_from_slice(digest.as_slice());
        b[32..52].copy_from_slice(owner.as_slice());
        b[52..].copy_from_slice(&valid_to.to_be_bytes());
        OrderUid(b)
    }

    pub fn from_slice(b: &[u8]) -> Result<OrderUid, CowOrderError> {
        <[u8; 56]>::try_from(b)
            .map(OrderUid)
            .map_err(|_| CowOrderError::Uid(format!("{} bytes", b.len())))
    }

    pub fn digest(&self) -> B256 {
        B256::from_slice(&self.0[..32])
    }

    pub fn owner(&self) -> Address {
        Address::from_slice(&self.0[32..52])
    }

    pub fn valid_to(&self) -> u32 {
        u32::from_be_bytes([self.0[52], self.0[53], self.0[54], self.0[55]])
    }

    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(&self.0)
    }
}

impl fmt::Display for OrderUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for OrderUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrderUid({self})")
    }
}

impl FromStr for OrderUid {
    type Err = CowOrderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix("0x").unwrap_or(s);
        let bytes = Bytes::from_str(hex).map_err(|e| CowOrderError::Uid(e.to_string()))?;
        OrderUid::from_slice(&bytes)
    }
}

/// `digest` signed by `signer`: 65 bytes `r ‖ s ‖ v`, v 27 or 28.
pub fn sign_digest(digest: B256, signer: &PrivateKeySigner) -> Result<[u8; 65], CowOrderError> {
    let sig = signer
        .sign_hash_sync(&digest)
        .map_err(|e| CowOrderError::Sign(e.to_string()))?;
    Ok(sig.as_bytes())
}

/// An order signed with EIP-712 by `signer`: its UID and signature.
pub fn sign_order(
    order: &Order,
    domain: &Eip712Domain,
    signer: &PrivateKeySigner,
) -> Result<(OrderUid, [u8; 65]), CowOrderError> {
    let digest = order.digest(domain);
    let signature = sign_digest(digest, signer)?;
    Ok((
        OrderUid::new(digest, signer.address(), order.validTo),
        signature,
    ))
}

/// Who signed `digest` with `signature` (65 bytes, v 27 or 28, as the
/// settlement's `ecrecover` takes it).
pub fn recover_signer(digest: B256, signature: &[u8]) -> Result<Address, CowOrderError> {
    let raw: [u8; 65] = signature
        .try_into()
        .map_err(|_| CowOrderError::SignatureLength(signature.len()))?;
    let parity = match raw[64] {
        27 => false,
        28 => true,
        v => return Err(CowOrderError::SignatureV(v)),
    };
    Signature::from_bytes_and_parity(&raw[..64], parity)
        .recover_address_from_prehash(&digest)
        .map_err(|e| CowOrderError::Recover(e.to_string()))
}

/// The digest an owner signs to cancel `uids` at the orderbook.
pub fn cancellation_digest(uids: &[OrderUid], domain: &Eip712Domain) -> B256 {
    OrderCancellations {
        orderUids: uids.iter().map(OrderUid::to_bytes).collect(),
    }
    .eip712_signing_hash(domain)
}

/// How a trade was signed (bits 5–6 of the trade flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningScheme {
    Eip712,
    EthSign,
    Eip1271,
    PreSign,
}

/// The `flags` word of a settlement trade (`GPv2Trade.extractFlags`): bit 0
/// buy, bit 1 partially fillable, bits 2–3 the sell balance (0x erc20, 10
/// external, 11 internal), bit 4 an internal buy balance, bits 5–6 the
/// signing scheme (00 EIP-712, 01 eth_sign, 10 EIP-1271, 11 pre-sign).
pub fn trade_flags(order: &Order, scheme: SigningScheme) -> Result<U256, CowOrderError> {
    let mut flags = 0u8;
    if order.order_kind()? == OrderKind::Buy {
        flags |= 0x01;
    }
    if order.partiallyFillable {
        flags |= 0x02;
    }
    flags |= match order.sell_balance()? {
        SellTokenBalance::Erc20 => 0x00,
        SellTokenBalance::External => 0x08,
        SellTokenBalance::Internal => 0x0c,
    };
    if order.buy_balance()? == BuyTokenBalance::Internal {
        flags |= 0x10;
    }
    flags |= match scheme {
        SigningScheme::Eip712 => 0x00,
        SigningScheme::EthSign => 0x20,
        SigningScheme::Eip1271 => 0x40,
        SigningScheme::PreSign => 0x60,
    };
    Ok(U256::from(flags))
}

/// One `Trade` the settlement emitted: amounts as executed (the sell
/// amount includes the fee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeEvent {
    pub owner: Address,
    pub sell_token: Address,
    pub buy_token: Address,
    pub sell_amount: U256,
    pub buy_amount: U256,
    pub fee_amount: U256,
    pub order_uid: OrderUid,
    /// The log's index in its block, when the log says.
    pub log_index: Option<u64>,
}

/// `log` as a `Trade` of `settlement`: `Ok(None)` for another contract's or
/// another event's log, an error for a `Trade` that does not decode.
pub fn decode_trade(
    log: &alloy::rpc::types::Log,
    settlement: Address,
) -> Result<Option<TradeEvent>, CowOrderError> {
    if log.address() != settlement || log.topics().first() != Some(&TRADE_TOPIC) {
        return Ok(None);
    }
    let t = IGPv2Settlement::Trade::decode_log_data(log.data())
        .map_err(|e| CowOrderError::TradeLog(e.to_string()))?;
    Ok(Some(TradeEvent {
        owner: t.owner,
        sell_token: t.sellToken,
        buy_token: t.buyToken,
        sell_amount: t.sellAmount,
        buy_amount: t.buyAmount,
        fee_amount: t.feeAmount,
        order_uid: OrderUid::from_slice(&t.orderUid)?,
        log_index: log.log_index,
    }))
}

/// Every `Trade` of `settlement` in a receipt.
pub fn trades_in(
    receipt: &alloy::rpc::types::TransactionReceipt,
    settlement: Address,
) -> Result<Vec<TradeEvent>, CowOrderError> {
    let mut out = Vec::new();
    for log in receipt.inner.logs() {
        if let Some(t) = decode_trade(log, settlement)? {
            out.push(t);
        }
    }
    Ok(out)
}

/// keccak256 of a JSON app data document: the `appData` an order signs.
pub fn app_data_hash(json: &str) -> B256 {
    keccak256(json.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;
    use alloy::sol_types::SolValue;

    const TYPE: &str = "Order(address sellToken,address buyToken,address receiver,uint256 sellAmount,uint256 buyAmount,uint32 validTo,bytes32 appData,uint256 feeAmount,string kind,bool partiallyFillable,string sellTokenBalance,string buyTokenBalance)";
    const MAINNET_SETTLEMENT: Address = address!("9008D19f58AAbD9eD0D60971565AA8510560ab41");

    fn order() -> Order {
        let mut o = Order::sell(
            address!("C02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
            address!("A0b86991c6218b36c1d19d4a2e9eB0cE3606eB48"),
            U256::from(10u64).pow(U256::from(18u64)),
            U256::from(2_900_000_000u64),
            1_700_000_000,
        );
        o.receiver = address!("70997970C51812dc3A010C7d01b50e0d17dc79C8");
        o.feeAmount = U256::from(7u64);
        o.partiallyFillable = true;
        o
    }

    /// The struct hash the way cowprotocol/services' `OrderData::hash_struct`
    /// lays it out: the typehash, each field as a 32-byte word, the string
    /// fields as the keccak of their text.
    fn hash_struct_by_hand(o: &Order) -> B256 {
        let word = |a: Address| B256::left_padding_from(a.as_slice());
        let mut buf = Vec::with_capacity(13 * 32);
        buf.extend_from_slice(keccak256(TYPE).as_slice());
        buf.extend_from_slice(word(o.sellToken).as_slice());
        buf.extend_from_slice(word(o.buyToken).as_slice());
        buf.extend_from_slice(word(o.receiver).as_slice());
        buf.extend_from_slice(&o.sellAmount.to_be_bytes::<32>());
        buf.extend_from_slice(&o.buyAmount.to_be_bytes::<32>());
        buf.extend_from_slice(&U256::from(o.validTo).to_be_bytes::<32>());
        buf.extend_from_slice(o.appData.as_slice());
        buf.extend_from_slice(&o.feeAmount.to_be_bytes::<32>());
        buf.extend_from_slice(keccak256(o.kind.as_bytes()).as_slice());
        buf.extend_from_slice(&U256::from(u8::from(o.partiallyFillable)).to_be_bytes::<32>());
        buf.extend_from_slice(keccak256(o.sellTokenBalance.as_bytes()).as_slice());
        buf.extend_from_slice(keccak256(o.buyTokenBalance.as_bytes()).as_slice());
        keccak256(&buf)
    }

    /// GPv2Signing's constructor, by hand.
    fn domain_separator_by_hand(chain_id: u64, settlement: Address) -> B256 {
        keccak256(
            (
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
                ),
                keccak256("Gnosis Protocol"),
                keccak256("v2"),
                U256::from(chain_id),
                settlement,
            )
                .abi_encode(),
        )
    }

    #[test]
    fn the_typehash_and_string_hashes_are_the_reference_ones() {
        assert_eq!(
            keccak256(TYPE),
            b256!("d5a25ba2e97094ad7d83dc28a6572da797d6b3e7fc6663bd93efb789fc17e489")
        );
        assert_eq!(order().eip712_type_hash(), keccak256(TYPE));
        assert!(keccak256("sell").to_string().starts_with("0xf3b27772"));
        assert!(keccak256("sell").to_string().ends_with("6775"));
        assert!(keccak256("buy").to_string().starts_with("0x6ed88e86"));
        assert!(keccak256("erc20").to_string().starts_with("0x5a28e936"));
    }

    #[test]
    fn alloy_digest_equals_the_hand_built_one() {
        for o in [order(), {
            let mut o = order();
            o.kind = "buy".into();
            o.partiallyFillable = false;
            o.sellTokenBalance = "external".into();
            o.buyTokenBalance = "internal".into();
            o
        }] {
            assert_eq!(o.eip712_hash_struct(), hash_struct_by_hand(&o));
            for (chain, at) in [(1, MAINNET_SETTLEMENT), (31_337, Address::repeat_byte(7))] {
                let d = domain(chain, at);
                assert_eq!(d.separator(), domain_separator_by_hand(chain, at));
                let mut pre = vec![0x19, 0x01];
                pre.extend_from_slice(d.separator().as_slice());
                pre.extend_from_slice(hash_struct_by_hand(&o).as_slice());
                assert_eq!(o.digest(&d), keccak256(&pre));
            }
        }
    }

    #[test]
    fn the_mainnet_domain_separator_is_the_deployed_one() {
        // GPv2Settlement.domainSeparator() on mainnet, as etherscan and many
        // integrations hard-code it.
        assert_eq!(
            domain(1, MAINNET_SETTLEMENT).separator(),
            b256!("c078f884a2676e1345748b1feace7b0abee5d00ecadb6e574dcdd109a63e8943")
        );
    }

    #[test]
    fn empty_app_data_is_the_keccak_of_braces() {
        assert_eq!(app_data_hash(APP_DATA_EMPTY_JSON), APP_DATA_EMPTY);
        assert_eq!(keccak256(b"{}"), APP_DATA_EMPTY);
    }

    #[test]
    fn the_trade_topic_is_the_keccak_of_the_event_signature() {
        let sig = "Trade(address,address,address,uint256,uint256,uint256,bytes)";
        assert_eq!(keccak256(sig), TRADE_TOPIC);
        assert_eq!(IGPv2Settlement::Trade::SIGNATURE, sig);
        assert_eq!(IGPv2Settlement::Trade::SIGNATURE_HASH, TRADE_TOPIC);
    }

    #[test]
    fn a_signed_order_recovers_to_its_owner_and_its_uid_packs_digest_owner_valid_to() {
        // anvil's dev account #2 (throwaway).
        let signer: PrivateKeySigner =
            "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
                .parse()
                .unwrap();
        let d = domain(1, MAINNET_SETTLEMENT);
        let o = order();
        let (uid, sig) = sign_order(&o, &d, &signer).unwrap();
        assert!(sig[64] == 27 || sig[64] == 28);
        assert_eq!(
            recover_signer(o.digest(&d), &sig).unwrap(),
            signer.address()
        );
        assert_eq!(uid.digest(), o.digest(&d));
        assert_eq!(uid.owner(), signer.address());
        assert_eq!(uid.valid_to(), o.validTo);
        assert_eq!(uid.to_string().len(), 2 + 112);
        assert_eq!(uid.to_string().parse::<OrderUid>().unwrap(), uid);
        assert!("0x1234".parse::<OrderUid>().is_err());
        // Another domain (chain) gives another digest: the signature no longer recovers to the owner.
        let other = o.digest(&domain(5, MAINNET_SETTLEMENT));
        assert_ne!(recover_signer(other, &sig).ok(), Some(signer.address()));
        let mut bad_v = sig;
        bad_v[64] = 1;
        assert_eq!(
            recover_signer(o.digest(&d), &bad_v),
            Err(CowOrderError::SignatureV(1))
        );
        assert_eq!(
            recover_signer(o.digest(&d), &sig[..64]),
            Err(CowOrderError::SignatureLength(64))
        );
    }

    #[test]
    fn trade_flags_follow_gpv2_trade() {
        let mut o = Order::sell(Address::ZERO, Address::ZERO, U256::ZERO, U256::ZERO, 0);
        assert_eq!(trade_flags(&o, SigningScheme::Eip712).unwrap(), U256::ZERO);
        o.partiallyFillable = true;
        assert_eq!(
            trade_flags(&o, SigningScheme::Eip712).unwrap(),
            U256::from(2)
        );
        o.kind = "buy".into();
        o.sellTokenBalance = "internal".into();
        o.buyTokenBalance = "internal".into();
        assert_eq!(
            trade_flags(&o, SigningScheme::PreSign).unwrap(),
            U256::from(0x01 | 0x02 | 0x0c | 0x10 | 0x60)
        );
        o.sellTokenBalance = "external".into();
        assert_eq!(
            trade_flags(&o, SigningScheme::EthSign).unwrap(),
            U256::from(0x01 | 0x02 | 0x08 | 0x10 | 0x20)
        );
        o.kind = "limit".into();
        assert!(trade_flags(&o, SigningScheme::Eip712).is_err());
    }

    #[test]
    fn cancellations_sign_their_uids() {
        let d = domain(1, MAINNET_SETTLEMENT);
        let uid = OrderUid([3; 56]);
        let by_hand = {
            let type_hash = keccak256("OrderCancellations(bytes[] orderUids)");
            let uids = keccak256(keccak256(uid.0));
            let hs = keccak256([type_hash.as_slice(), uids.as_slice()].concat());
            keccak256([&[0x19, 0x01], d.separator().as_slice(), hs.as_slice()].concat())
        };
        assert_eq!(cancellation_digest(&[uid], &d), by_hand);
    }
}
