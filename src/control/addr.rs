//! `control.addr`: how a client finds the running engine. The server writes
//! the address it actually bound; a client refuses anything but loopback,
//! and even there trusts the listener only once it proved it holds the
//! token (the handshake), since a stale file may name a port another
//! program has taken since.

use super::token::write_private;
use super::{ADDR_FILE, ControlError};
use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub(crate) fn addr_path(dir: &Path) -> PathBuf {
    dir.join(ADDR_FILE)
}

/// Create the data directory 0700 if it does not exist yet (an existing
/// directory's permissions are the operator's business).
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), ControlError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| ControlError::Io {
            what: "cannot create the data directory",
            path: dir.to_path_buf(),
            source,
        })
}

pub(crate) fn write(dir: &Path, addr: SocketAddr) -> Result<(), ControlError> {
    write_private(&addr_path(dir), &addr.to_string())
}

/// Remove `control.addr` if it still names `addr` (never another engine's).
pub(crate) fn remove_if_ours(dir: &Path, addr: SocketAddr) {
    let path = addr_path(dir);
    if let Ok(text) = fs::read_to_string(&path)
        && text.trim().parse::<SocketAddr>().ok() == Some(addr)
        && let Err(e) = fs::remove_file(&path)
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove control.addr");
    }
}

pub(crate) fn read(dir: &Path) -> Result<SocketAddr, ControlError> {
    let path = addr_path(dir);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ControlError::NoEngine {
                dir: dir.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(ControlError::Io {
                what: "cannot read",
                path,
                source,
            });
        }
    };
    let addr: SocketAddr = text.trim().parse().map_err(|e| ControlError::BadAddrFile {
        path: path.clone(),
        reason: format!("not a socket address ({e})"),
    })?;
    if !addr.ip().is_loopback() {
        return Err(ControlError::NotLoopback {
            addr: addr.to_string(),
        });
    }
    Ok(addr)
}
