//! The challenge–response that opens an operator's connection: each side
//! proves it holds `control.token` without sending it, and the server proves
//! it first, so a client never reveals anything to a program that took over
//! a stale `control.addr` port.
//!
//! ```text
//! client → {"type":"hello","nonce":C}                 C: 32 random bytes, hex
//! server → {"type":"challenge","nonce":S,"proof":P}   S: 32 random bytes, hex
//!          P = HMAC-SHA256(token, "arbkeep-server" || C || S)
//! client   verifies P in constant time; on failure it closes and sends nothing more
//! client → {"type":"auth","proof":Q}
//!          Q = HMAC-SHA256(token, "arbkeep-client" || S || C)
//! server → {"type":"authenticated"}, or an "unauthorized: …" error
//! ```
//!
//! The HMAC key is the token's text (its 64 hex digits). The two labels and
//! the swapped nonce order keep a server's proof from ever being usable as a
//! client's, and a proof is bound to two fresh nonces, so one seen by an
//! impostor cannot be replayed elsewhere. Pure functions over bytes: the
//! sockets are the server's and the client's business.

use super::ControlError;
use super::token::ControlToken;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// Bytes in each side's nonce.
pub(crate) const NONCE_BYTES: usize = 32;
const SERVER_LABEL: &[u8] = b"arbkeep-server";
const CLIENT_LABEL: &[u8] = b"arbkeep-client";

/// A fresh nonce from the system's random source.
pub(crate) fn nonce() -> Result<[u8; NONCE_BYTES], ControlError> {
    let mut bytes = [0u8; NONCE_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ControlError::Random)?;
    Ok(bytes)
}

fn key(token: &ControlToken) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, token.as_str().as_bytes())
}

fn message(label: &[u8], first: &[u8], second: &[u8]) -> Vec<u8> {
    [label, first, second].concat()
}

/// What the server sends to prove it holds the token.
pub(crate) fn server_proof(token: &ControlToken, client: &[u8], server: &[u8]) -> String {
    hex(hmac::sign(&key(token), &message(SERVER_LABEL, client, server)).as_ref())
}

/// What the client sends to prove it holds the token.
pub(crate) fn client_proof(token: &ControlToken, server: &[u8], client: &[u8]) -> String {
    hex(hmac::sign(&key(token), &message(CLIENT_LABEL, server, client)).as_ref())
}

/// Check a server's proof in constant time (malformed hex is simply wrong).
pub(crate) fn verify_server(
    token: &ControlToken,
    client: &[u8],
    server: &[u8],
    proof: &str,
) -> bool {
    unhex(proof).is_some_and(|tag| {
        hmac::verify(&key(token), &message(SERVER_LABEL, client, server), &tag).is_ok()
    })
}

/// Check a client's proof in constant time.
pub(crate) fn verify_client(
    token: &ControlToken,
    server: &[u8],
    client: &[u8],
    proof: &str,
) -> bool {
    unhex(proof).is_some_and(|tag| {
        hmac::verify(&key(token), &message(CLIENT_LABEL, server, client), &tag).is_ok()
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decode lowercase or uppercase hex; `None` for anything else.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// A nonce received from the other side: exactly [`NONCE_BYTES`] in hex.
pub(crate) fn parse_nonce(text: &str) -> Option<Vec<u8>> {
    unhex(text).filter(|n| n.len() == NONCE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(c: char) -> ControlToken {
        ControlToken::parse(&c.to_string().repeat(64)).expect("token")
    }

    #[test]
    fn proofs_verify_only_with_the_same_token_and_nonces() {
        let (t, other) = (token('a'), token('b'));
        let (c, s) = (nonce().expect("rng"), nonce().expect("rng"));
        let p = server_proof(&t, &c, &s);
        assert!(verify_server(&t, &c, &s, &p));
        assert!(!verify_server(&other, &c, &s, &p));
        assert!(!verify_server(&t, &s, &c, &p));
        assert!(!verify_server(&t, &c, &s, "zz"));
        let q = client_proof(&t, &s, &c);
        assert!(verify_client(&t, &s, &c, &q));
        assert!(!verify_client(&other, &s, &c, &q));
    }

    #[test]
    fn a_server_proof_is_never_a_client_proof() {
        let t = token('c');
        let (c, s) = (nonce().expect("rng"), nonce().expect("rng"));
        // An attacker that picks S = C, or reflects the nonces, still gets a
        // different tag: the labels differ.
        assert!(!verify_client(&t, &c, &s, &server_proof(&t, &c, &s)));
        assert!(!verify_client(&t, &s, &c, &server_proof(&t, &s, &c)));
        assert!(!verify_client(&t, &c, &c, &server_proof(&t, &c, &c)));
    }

    #[test]
    fn hex_round_trips_and_nonces_have_one_length() {
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), Some(vec![0, 1, 254, 255]));
        assert_eq!(unhex("ABcd"), Some(vec![0xab, 0xcd]));
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
        assert!(unhex("é1").is_none());
        assert!(parse_nonce(&"00".repeat(NONCE_BYTES)).is_some());
        assert!(parse_nonce(&"00".repeat(NONCE_BYTES - 1)).is_none());
    }
}
