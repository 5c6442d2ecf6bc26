//! Keys and signatures: ed25519 keypairs (ring) with their strkeys
//! (`G…` public, `S…` secret), the network id, and signature checks. The
//! secret seed never leaves this file in printable form except through
//! [`Keypair::expose_secret`], which nothing in arbkeep logs or stores.

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use std::fmt;

/// Why a key could not be read. Never carries the text it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a valid secret seed (expected an S… strkey of 56 characters)")]
    BadSecret,
    #[error("not a valid account id (expected a G… strkey): {0}")]
    BadAccount(String),
    #[error("not a valid contract id (expected a C… strkey): {0}")]
    BadContract(String),
    #[error("the system's random source failed")]
    Random,
}

/// `SHA-256(passphrase)`: what every signature is scoped to.
pub fn network_id(passphrase: &str) -> [u8; 32] {
    sha256(passphrase.as_bytes())
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// An account's public key (what `G…` encodes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey(pub [u8; 32]);

impl AccountKey {
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        stellar_strkey::ed25519::PublicKey::from_string(text.trim())
            .map(|k| Self(k.0))
            .map_err(|_| KeyError::BadAccount(text.chars().take(60).collect()))
    }

    /// The last four bytes: the `hint` of a decorated signature.
    pub fn hint(&self) -> [u8; 4] {
        [self.0[28], self.0[29], self.0[30], self.0[31]]
    }

    /// Does `signature` sign `message` under this key?
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            stellar_strkey::ed25519::PublicKey(self.0)
                .to_string()
                .as_str(),
        )
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountKey({self})")
    }
}

/// A Soroban contract id (what `C…` encodes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContractKey(pub [u8; 32]);

impl ContractKey {
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        stellar_strkey::Contract::from_string(text.trim())
            .map(|k| Self(k.0))
            .map_err(|_| KeyError::BadContract(text.chars().take(60).collect()))
    }
}

impl fmt::Display for ContractKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(stellar_strkey::Contract(self.0).to_string().as_str())
    }
}

impl fmt::Debug for ContractKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContractKey({self})")
    }
}

/// A signing key. `Debug` shows only the public half.
pub struct Keypair {
    seed: [u8; 32],
    pair: Ed25519KeyPair,
    public: AccountKey,
}

impl Keypair {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        // ring rejects a seed only for a wrong length, which the type rules out.
        let pair = match Ed25519KeyPair::from_seed_unchecked(&seed) {
            Ok(pair) => pair,
            Err(_) => unreachable!("a 32-byte ed25519 seed is always accepted"),
        };
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        Self {
            seed,
            pair,
            public: AccountKey(public),
        }
    }

    /// An `S…` strkey, e.g. from `STELLAR_SECRET_SEED`.
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        stellar_strkey::ed25519::PrivateKey::from_string(secret.trim())
            .map(|k| Self::from_seed(k.0))
            .map_err(|_| KeyError::BadSecret)
    }

    pub fn random(rng: &SystemRandom) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        rng.fill(&mut seed).map_err(|_| KeyError::Random)?;
        Ok(Self::from_seed(seed))
    }

    pub fn public(&self) -> AccountKey {
        self.public
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }

    /// The `S…` strkey. Only for writing the key file the operator asked for
    /// (0600) — never for logs, errors or the store.
    pub fn expose_secret(&self) -> String {
        stellar_strkey::ed25519::PrivateKey(self.seed)
            .as_unredacted()
            .to_string()
            .as_str()
            .to_string()
    }

    pub fn seed_bytes(&self) -> &[u8; 32] {
        &self.seed
    }
}

impl Clone for Keypair {
    fn clone(&self) -> Self {
        Self::from_seed(self.seed)
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({}, secret: <redacted>)", self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vector_seed_of_sevens() {
        let kp = Keypair::from_seed([7; 32]);
        assert_eq!(
            kp.public().to_string(),
            "GDVEU3DD4KOFECV66VIHWEZOYX4ZKR3WV27L464SIIPOU2IUI3JCZA57"
        );
        assert_eq!(
            kp.expose_secret(),
            "SADQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQP54X"
        );
        let again = Keypair::from_secret(&kp.expose_secret()).expect("secret");
        assert_eq!(again.public(), kp.public());
        assert!(!format!("{kp:?}").contains("SADQ"));
    }

    #[test]
    fn network_ids_match_the_published_ones() {
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(network_id("Test SDF Network ; September 2015")),
            "cee0302d59844d32bdca915c8203dd44b33fbb7edc19051ea37abedf28ecd472"
        );
        assert_eq!(
            hex(network_id("Public Global Stellar Network ; September 2015")),
            "7ac33997544e3175d266bd022439b22cdb16508c01163f26e5cb2a3e1045a979"
        );
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let kp = Keypair::from_seed([9; 32]);
        let sig = kp.sign(b"hello");
        assert!(kp.public().verifies(b"hello", &sig));
        assert!(!kp.public().verifies(b"hellO", &sig));
        assert!(AccountKey::parse("GNOPE").is_err());
        assert!(Keypair::from_secret("SNOPE").is_err());
    }
}
