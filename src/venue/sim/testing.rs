//! Helpers shared by the paper world's tests: unique temporary data files.

use std::path::PathBuf;

/// A fresh `world.redb` path in its own directory under the system temp dir.
pub fn temp_path(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir()
        .join(format!("arbkeep-sim-{name}-{}-{nanos}", std::process::id()))
        .join("world.redb")
}

/// Remove a `temp_path`'s directory.
pub fn clean(path: &std::path::Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
