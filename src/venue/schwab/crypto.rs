//! Sealing of token records: AES-256-GCM (ring) under the operator's
//! `ENCRYPTION_KEY`, a fresh random nonce on every write, and the record's
//! key as associated data so a ciphertext moved to another record fails to
//! open. Layout: version byte, 12-byte nonce, ciphertext with its tag.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use thiserror::Error;

/// The environment variable holding the key: 64 hex characters (32 bytes).
pub const ENCRYPTION_KEY_ENV: &str = "ENCRYPTION_KEY";

const VERSION: u8 = 1;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum CryptoError {
    /// Never contains the value.
    #[error("{ENCRYPTION_KEY_ENV} must be 64 hex characters (32 bytes): {0}")]
    BadKey(String),
    #[error("no random source for a nonce")]
    Random,
    /// Wrong key, or the bytes were changed: AES-GCM cannot tell which.
    #[error(
        "the sealed record {0:?} does not open (wrong {ENCRYPTION_KEY_ENV}, or the record was altered)"
    )]
    Open(String),
    #[error("the sealed record {0:?} is malformed or of an unknown version")]
    Malformed(String),
}

/// The 32-byte token key. Debug never shows it.
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

impl EncryptionKey {
    /// Parse 64 hex characters. An all-zero key is refused: it is what a
    /// placeholder looks like, not a secret.
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(CryptoError::BadKey(format!(
                "found {} characters",
                text.len()
            )));
        }
        let mut key = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let hi = hex_digit(pair[0]);
            let lo = hex_digit(pair[1]);
            match (hi, lo) {
                (Some(h), Some(l)) => key[i] = (h << 4) | l,
                _ => return Err(CryptoError::BadKey("not a hex string".into())),
            }
        }
        if key.iter().all(|b| *b == 0) {
            return Err(CryptoError::BadKey(
                "an all-zero key is not a secret".into(),
            ));
        }
        Ok(Self(key))
    }

    /// Read and check [`ENCRYPTION_KEY_ENV`].
    pub fn from_env() -> Result<Self, CryptoError> {
        match std::env::var(ENCRYPTION_KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => Self::from_hex(&v),
            _ => Err(CryptoError::BadKey("not set".into())),
        }
    }

    fn aead(&self) -> Result<LessSafeKey, CryptoError> {
        // 32 bytes is what AES-256 takes; ring refuses nothing else.
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| CryptoError::BadKey("ring refused the key".into()))
    }

    /// Encrypt `plain` for the record `record_key`.
    pub fn seal(&self, record_key: &str, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| CryptoError::Random)?;
        let mut body = plain.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(record_key.as_bytes()),
                &mut body,
            )
            .map_err(|_| CryptoError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decrypt a record sealed for `record_key`.
    pub fn open(&self, record_key: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN + AES_256_GCM.tag_len() || sealed[0] != VERSION {
            return Err(CryptoError::Malformed(record_key.to_string()));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
        let mut body = sealed[1 + NONCE_LEN..].to_vec();
        let plain = self
            .aead()?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(record_key.as_bytes()),
                &mut body,
            )
            .map_err(|_| CryptoError::Open(record_key.to_string()))?;
        Ok(plain.to_vec())
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn keys_are_checked() {
        assert!(EncryptionKey::from_hex(KEY).is_ok());
        assert!(matches!(
            EncryptionKey::from_hex("abcd"),
            Err(CryptoError::BadKey(_))
        ));
        let not_hex = "zz".repeat(32);
        let e = EncryptionKey::from_hex(&not_hex).unwrap_err();
        assert!(!e.to_string().contains("zz"), "{e}");
        assert!(EncryptionKey::from_hex(&"0".repeat(64)).is_err());
        assert_eq!(
            format!("{:?}", EncryptionKey::from_hex(KEY).unwrap()),
            "EncryptionKey(<redacted>)"
        );
    }

    #[test]
    fn seal_open_round_trip_with_fresh_nonces() {
        let k = EncryptionKey::from_hex(KEY).unwrap();
        let a = k.seal("tokens", b"secret").unwrap();
        let b = k.seal("tokens", b"secret").unwrap();
        assert_ne!(a, b, "a fresh nonce per write");
        assert_eq!(k.open("tokens", &a).unwrap(), b"secret");
        // Another record's key as associated data: refused.
        assert!(matches!(k.open("other", &a), Err(CryptoError::Open(_))));
        let mut t = a.clone();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert!(matches!(k.open("tokens", &t), Err(CryptoError::Open(_))));
        let other = EncryptionKey::from_hex(&KEY.replace('0', "1")).unwrap();
        assert!(matches!(
            other.open("tokens", &a),
            Err(CryptoError::Open(_))
        ));
    }
}
