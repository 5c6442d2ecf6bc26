//! The hot wallet: a local signer from `ARBITRAGE_PRIVATE_KEY` or
//! `ARBITRAGE_MNEMONIC` (account 0 of the standard derivation path). The key
//! never leaves this type: `Debug` shows only the address, and parse errors
//! are fixed sentences that cannot echo the secret.

use crate::config::Secrets;
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner};
use std::fmt;
use std::str::FromStr;

#[derive(Clone)]
pub struct Wallet {
    signer: PrivateKeySigner,
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wallet({})", self.address())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WalletError {
    #[error(
        "no wallet: set ARBITRAGE_PRIVATE_KEY (0x and 64 hex digits) or ARBITRAGE_MNEMONIC in the environment"
    )]
    Missing,
    #[error("ARBITRAGE_PRIVATE_KEY is not a private key (expected 0x and 64 hex digits)")]
    BadKey,
    #[error("ARBITRAGE_MNEMONIC is not a valid BIP-39 English mnemonic")]
    BadMnemonic,
    #[error("both ARBITRAGE_PRIVATE_KEY and ARBITRAGE_MNEMONIC are set; keep one")]
    Both,
}

/// A signed transaction: its hash and the bytes to broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    pub hash: B256,
    pub raw: Bytes,
}

impl Wallet {
    pub fn from_secrets(secrets: &Secrets) -> Result<Wallet, WalletError> {
        match (&secrets.private_key, &secrets.mnemonic) {
            (Some(_), Some(_)) => Err(WalletError::Both),
            (Some(key), None) => Self::from_key(key.expose()),
            (None, Some(phrase)) => MnemonicBuilder::english()
                .phrase(phrase.expose().trim())
                .index(0)
                .and_then(|b| b.build())
                .map(|signer| Wallet { signer })
                .map_err(|_| WalletError::BadMnemonic),
            (None, None) => Err(WalletError::Missing),
        }
    }

    pub fn from_key(key: &str) -> Result<Wallet, WalletError> {
        PrivateKeySigner::from_str(key.trim())
            .map(|signer| Wallet { signer })
            .map_err(|_| WalletError::BadKey)
    }

    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Sign a typed-data digest (EIP-712: a CoW order, its cancellation):
    /// 65 bytes `r ‖ s ‖ v`, v 27 or 28.
    pub fn sign_digest(&self, digest: B256) -> Result<[u8; 65], String> {
        crate::venue::evm::swap::cow_order::sign_digest(digest, &self.signer)
            .map_err(|_| "signing failed".to_string())
    }

    /// Sign an EIP-1559 transaction (deterministic, RFC 6979).
    pub fn sign(&self, mut tx: TxEip1559) -> Result<SignedTx, String> {
        let signature = self
            .signer
            .sign_transaction_sync(&mut tx)
            .map_err(|_| "signing failed".to_string())?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        Ok(SignedTx {
            hash: *envelope.tx_hash(),
            raw: Bytes::from(envelope.encoded_2718()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Secret;

    const KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
    const PHRASE: &str = "test test test test test test test test test test test junk";

    #[test]
    fn the_key_never_prints() {
        let w = Wallet::from_key(KEY).unwrap();
        let shown = format!("{w:?}");
        assert!(!shown.contains("5de4111a"), "{shown}");
        assert!(shown.contains(&w.address().to_string()), "{shown}");
        let bad =
            Wallet::from_key("0x5de4111afa1a4b94908f83103eb1f1706367c2e6 not hex").unwrap_err();
        assert!(!bad.to_string().contains("5de4111a"), "{bad}");
    }

    #[test]
    fn mnemonic_gives_account_zero() {
        let secrets = Secrets {
            mnemonic: Some(Secret::new(PHRASE.into())),
            ..Secrets::default()
        };
        let w = Wallet::from_secrets(&secrets).unwrap();
        assert_eq!(
            w.address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        let both = Secrets {
            private_key: Some(Secret::new(KEY.into())),
            ..secrets
        };
        assert_eq!(Wallet::from_secrets(&both).unwrap_err(), WalletError::Both);
        assert_eq!(
            Wallet::from_secrets(&Secrets::default()).unwrap_err(),
            WalletError::Missing
        );
    }

    #[test]
    fn signing_is_deterministic() {
        let w = Wallet::from_key(KEY).unwrap();
        let tx = TxEip1559 {
            chain_id: 1,
            nonce: 3,
            gas_limit: 21_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: alloy::primitives::TxKind::Call(Address::ZERO),
            ..TxEip1559::default()
        };
        assert_eq!(w.sign(tx.clone()).unwrap(), w.sign(tx).unwrap());
    }
}
