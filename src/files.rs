//! Private files and dirs, and the single-instance lock: what the engine's
//! store, the venues' own files (the EVM journal, the Schwab token vault)
//! and the log files share. Dirs are made 0700 and files 0600, so no other
//! user can read them. The lock allows one engine per data dir: a second
//! `arbkeep` on the same dir is refused with the holder's pid, and the OS
//! releases it when the process dies, even by SIGKILL, so a crash never
//! leaves it stale. Depends on nothing of ours (`docs/architecture.md` §1);
//! `store` re-exports it.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FileError {
    #[error("another arbkeep (pid {}) is running on {dir}; stop it first or use another --data-dir", pid.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into()))]
    AlreadyRunning { dir: String, pid: Option<u32> },
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
}

impl FileError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> Self {
        FileError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// Create the data dir 0700 (and parents), or tighten an existing one.
pub fn ensure_private_dir(dir: &Path) -> Result<(), FileError> {
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| FileError::io(dir, e))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| FileError::io(dir, e))
}

/// Create `path` empty with mode 0600 if absent, so no other user ever can read it.
pub fn ensure_private_file(path: &Path) -> Result<(), FileError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| FileError::io(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| FileError::io(path, e))
}

pub const LOCK_FILE: &str = "arbkeep.lock";

/// Held for as long as the engine runs.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    pub fn acquire(dir: &Path) -> Result<InstanceLock, FileError> {
        let path = dir.join(LOCK_FILE);
        let mut file = open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(FileError::AlreadyRunning {
                    dir: dir.display().to_string(),
                    pid: read_pid(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(FileError::io(&path, e)),
        }
        file.set_len(0).map_err(|e| FileError::io(&path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| FileError::io(&path, e))?;
        writeln!(file, "{}", std::process::id()).map_err(|e| FileError::io(&path, e))?;
        file.sync_all().map_err(|e| FileError::io(&path, e))?;
        Ok(InstanceLock { _file: file, path })
    }

    /// The pid of the engine holding `dir`, if one runs.
    pub fn holder(dir: &Path) -> Option<u32> {
        let path = dir.join(LOCK_FILE);
        let mut file = File::open(&path).ok()?;
        match file.try_lock_shared() {
            Ok(()) => None,
            Err(_) => read_pid(&mut file).or(Some(0)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open(path: &Path) -> Result<File, FileError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| FileError::io(path, e))
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
