//! The control token: made once from the system's random source, kept in
//! `control.token` (mode 0600) and compared in constant time. Its `Debug`
//! never shows it, so it cannot reach a log by accident.

use super::{ControlError, TOKEN_FILE};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const TOKEN_BYTES: usize = 32;
const TOKEN_HEX_LEN: usize = TOKEN_BYTES * 2;

/// The token text (64 lowercase hex digits). Only this module and the client
/// that sends it look inside.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ControlToken(String);

impl fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ControlToken(<redacted>)")
    }
}

impl ControlToken {
    fn generate(rng: &SystemRandom) -> Result<Self, ControlError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        rng.fill(&mut bytes).map_err(|_| ControlError::Random)?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        (t.len() == TOKEN_HEX_LEN && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(t.to_ascii_lowercase()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn token_path(dir: &Path) -> PathBuf {
    dir.join(TOKEN_FILE)
}

/// The server's side: reuse `control.token` when it holds a valid token that
/// only the owner can read; otherwise write a fresh one. A token that others
/// could read is as good as leaked, so it is replaced rather than re-chmodded.
pub(crate) fn load_or_create(dir: &Path) -> Result<ControlToken, ControlError> {
    let path = token_path(dir);
    match fs::metadata(&path) {
        Ok(meta) => {
            let private = meta.permissions().mode() & 0o077 == 0;
            let parsed = fs::read_to_string(&path)
                .ok()
                .and_then(|t| ControlToken::parse(&t));
            match (private, parsed) {
                (true, Some(token)) => return Ok(token),
                (false, _) => tracing::warn!(
                    path = %path.display(),
                    "control.token was readable by other users; replacing it"
                ),
                (true, None) => tracing::warn!(
                    path = %path.display(),
                    "control.token is malformed; replacing it"
                ),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(ControlError::Io {
                what: "cannot inspect",
                path,
                source,
            });
        }
    }
    let token = ControlToken::generate(&SystemRandom::new())?;
    write_private(&path, token.as_str())?;
    Ok(token)
}

/// The client's side: the token if the file is there and well formed.
pub(crate) fn read(dir: &Path) -> Result<Option<ControlToken>, ControlError> {
    let path = token_path(dir);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(ControlToken::parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ControlError::Io {
            what: "cannot read",
            path,
            source,
        }),
    }
}

/// Write `contents` to `path` atomically with mode 0600: a temporary file
/// created 0600 from the start (never world-readable, even for an instant),
/// synced, then renamed over the target.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), ControlError> {
    let io = |what: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| ControlError::Io {
            what,
            path: p,
            source,
        }
    };
    let tmp = path.with_extension("tmp");
    // A leftover from a crash may have other permissions; start over.
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("cannot create", &tmp))?;
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(io("cannot set permissions on", &tmp))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(io("cannot write", &tmp))?;
    fs::rename(&tmp, path).map_err(io("cannot rename into", path))
}

/// Checks presented tokens without leaking, through timing, how much of a
/// wrong token was right: both sides go through HMAC under a per-process
/// random key and ring compares the tags in constant time (this also hides
/// the expected length).
pub(crate) struct TokenVerifier {
    key: hmac::Key,
    expected: hmac::Tag,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenVerifier(<redacted>)")
    }
}

impl TokenVerifier {
    pub(crate) fn new(token: &ControlToken) -> Result<Self, ControlError> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| ControlError::Random)?;
        let expected = hmac::sign(&key, token.as_str().as_bytes());
        Ok(Self { key, expected })
    }

    pub(crate) fn verify(&self, presented: &str) -> bool {
        hmac::verify(&self.key, presented.as_bytes(), self.expected.as_ref()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_accepts_only_the_token() {
        let token = ControlToken::generate(&SystemRandom::new()).expect("random");
        let v = TokenVerifier::new(&token).expect("key");
        assert!(v.verify(token.as_str()));
        assert!(!v.verify(""));
        assert!(!v.verify(&token.as_str()[1..]));
        let mut wrong = token.as_str().to_string();
        wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
        assert!(!v.verify(&wrong));
    }

    #[test]
    fn debug_redacts() {
        let token = ControlToken::generate(&SystemRandom::new()).expect("random");
        assert!(!format!("{token:?}").contains(token.as_str()));
    }

    #[test]
    fn parse_requires_64_hex_digits() {
        assert!(ControlToken::parse(&"a".repeat(64)).is_some());
        assert!(ControlToken::parse(&"a".repeat(63)).is_none());
        assert!(ControlToken::parse(&"g".repeat(64)).is_none());
    }
}
