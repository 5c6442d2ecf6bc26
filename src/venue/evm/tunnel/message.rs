//! What a standard-bridge withdrawal pays on Ethereum, read from the
//! withdrawal itself (evm.md §1.4.2): its `data` is the L1 messenger's
//! `relayMessage(nonce, sender, target, value, minGasLimit, message)` whose
//! target is the L1 bridge and whose message is
//! `finalizeBridgeERC20(localToken, remoteToken, from, to, amount, extraData)`.
//! The keeper checks this against what it asked before it proves, and
//! knows from it which contract releases the tokens.

use super::TunnelError;
use super::withdrawal::WithdrawalTransaction;
use alloy::primitives::{Address, U256};
use alloy::sol;
use alloy::sol_types::SolCall;

sol! {
    interface IRelayedMessage {
        function relayMessage(uint256 _nonce, address _sender, address _target, uint256 _value, uint256 _minGasLimit, bytes _message) external payable;
        function finalizeBridgeERC20(address _localToken, address _remoteToken, address _from, address _to, uint256 _amount, bytes _extraData) external;
    }
}

/// The ERC-20 release a withdrawal asks of the L1 bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payout {
    /// The L1 messenger the portal calls (the withdrawal's target).
    pub l1_messenger: Address,
    /// The L1 bridge the messenger relays to: it pays.
    pub l1_bridge: Address,
    pub l1_token: Address,
    pub l2_token: Address,
    pub from: Address,
    pub to: Address,
    pub amount: U256,
}

/// Decode the payout of a standard-bridge ERC-20 withdrawal; anything else
/// (an ETH withdrawal, a bare message) is refused with what it is.
pub fn erc20_payout(tx: &WithdrawalTransaction) -> Result<Payout, TunnelError> {
    let relay = IRelayedMessage::relayMessageCall::abi_decode(&tx.data).map_err(|e| {
        TunnelError::NotABridgeWithdrawal(format!("its data is not relayMessage(...): {e}"))
    })?;
    let release =
        IRelayedMessage::finalizeBridgeERC20Call::abi_decode(&relay._message).map_err(|e| {
            TunnelError::NotABridgeWithdrawal(format!(
                "its message is not finalizeBridgeERC20(...): {e}"
            ))
        })?;
    Ok(Payout {
        l1_messenger: tx.target,
        l1_bridge: relay._target,
        l1_token: release._localToken,
        l2_token: release._remoteToken,
        from: release._from,
        to: release._to,
        amount: release._amount,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::Bytes;

    fn withdrawal(message: Vec<u8>) -> WithdrawalTransaction {
        let relay = IRelayedMessage::relayMessageCall {
            _nonce: U256::from(1),
            _sender: Address::repeat_byte(0x10),
            _target: Address::repeat_byte(0xb1),
            _value: U256::ZERO,
            _minGasLimit: U256::ZERO,
            _message: Bytes::from(message),
        };
        WithdrawalTransaction {
            nonce: U256::from(5),
            sender: Address::repeat_byte(0x07),
            target: Address::repeat_byte(0xf0),
            value: U256::ZERO,
            gasLimit: U256::from(300_000),
            data: Bytes::from(relay.abi_encode()),
        }
    }

    #[test]
    fn an_erc20_withdrawal_names_bridge_tokens_recipient_and_amount() {
        let release = IRelayedMessage::finalizeBridgeERC20Call {
            _localToken: Address::repeat_byte(0x11),
            _remoteToken: Address::repeat_byte(0x22),
            _from: Address::repeat_byte(0x33),
            _to: Address::repeat_byte(0x44),
            _amount: U256::from(123_456),
            _extraData: Bytes::new(),
        };
        let p = erc20_payout(&withdrawal(release.abi_encode())).expect("decodes");
        assert_eq!(p.l1_messenger, Address::repeat_byte(0xf0));
        assert_eq!(p.l1_bridge, Address::repeat_byte(0xb1));
        assert_eq!(p.l1_token, Address::repeat_byte(0x11));
        assert_eq!(p.l2_token, Address::repeat_byte(0x22));
        assert_eq!(p.to, Address::repeat_byte(0x44));
        assert_eq!(p.amount, U256::from(123_456));
    }

    #[test]
    fn other_messages_are_refused_by_what_they_are() {
        let e = erc20_payout(&withdrawal(vec![0x16, 0x35, 0xf5, 0xfd])).unwrap_err();
        assert!(e.to_string().contains("finalizeBridgeERC20"), "{e}");
        let mut bare = withdrawal(vec![]);
        bare.data = Bytes::from(vec![1, 2, 3]);
        let e = erc20_payout(&bare).unwrap_err();
        assert!(e.to_string().contains("relayMessage"), "{e}");
    }
}
