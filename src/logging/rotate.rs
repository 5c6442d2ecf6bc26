//! Size-based rotation of the diagnostic log (`diag.jsonl`), as a
//! `MakeWriter`: when the next line would take the file past
//! `max_bytes`, `diag.jsonl` becomes `diag.1.jsonl`, `diag.1.jsonl` becomes
//! `diag.2.jsonl` … up to `keep` old files, and the oldest beyond that is
//! deleted. Rotation happens only between lines, so a line is never split
//! across files (a single line longer than `max_bytes` gets a fresh file to
//! itself). Every file is created 0600.
//!
//! The new file is opened before anything is renamed, so a failure to
//! create it changes nothing; after any failure the writer keeps appending
//! to the file it has (no line is lost) and tries again only after another
//! `max_bytes`, so a failing rename cannot walk the old files out one line
//! at a time.

use super::{LineSink, LineWriter, private_append};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tracing_subscriber::fmt::MakeWriter;

/// A log file that rotates by size; shared by one layer.
pub struct SizeRotated {
    state: Mutex<Rotating>,
}

struct Rotating {
    path: PathBuf,
    file: File,
    /// Bytes in the current file.
    len: u64,
    max_bytes: u64,
    keep: u32,
    /// The last write did not end a line: no rotation until it does.
    mid_line: bool,
    /// A rotation failed at this length: the next try waits for another `max_bytes`.
    failed_at: Option<u64>,
}

/// `diag.3.jsonl` for `diag.jsonl` and 3.
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{n}"),
    };
    path.with_file_name(name)
}

/// Where the next file is made before the renames: `diag.jsonl.next`.
fn fresh_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

impl SizeRotated {
    /// Append to `path` (created 0600), rotating at `max_bytes` (at least 1)
    /// and keeping `keep` old files.
    pub fn open(path: &Path, max_bytes: u64, keep: u32) -> io::Result<SizeRotated> {
        let file = private_append(path)?;
        let len = file.metadata()?.len();
        Ok(SizeRotated {
            state: Mutex::new(Rotating {
                path: path.to_path_buf(),
                file,
                len,
                max_bytes: max_bytes.max(1),
                keep,
                mid_line: false,
                failed_at: None,
            }),
        })
    }
}

impl LineSink for Rotating {
    fn write_line(&mut self, buf: &[u8]) -> io::Result<()> {
        let grown = self.len.saturating_add(buf.len() as u64);
        let may_try = self
            .failed_at
            .is_none_or(|at| self.len >= at.saturating_add(self.max_bytes));
        if !self.mid_line && self.len > 0 && grown > self.max_bytes && may_try {
            match self.rotate() {
                Ok(()) => self.failed_at = None,
                Err(e) => {
                    // Logging cannot log its own trouble (the subscriber is
                    // inside this call); stderr reaches journald and docker.
                    eprintln!(
                        "arbkeep: cannot rotate {}: {e}; still writing to it",
                        self.path.display()
                    );
                    self.failed_at = Some(self.len);
                }
            }
        }
        self.file.write_all(buf)?;
        self.len = self.len.saturating_add(buf.len() as u64);
        self.mid_line = buf.last().is_some_and(|b| *b != b'\n');
        Ok(())
    }
}

impl Rotating {
    fn rotate(&mut self) -> io::Result<()> {
        let next = fresh_name(&self.path);
        let fresh = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&next)?;
        if self.keep == 0 {
            ignore_missing(std::fs::remove_file(&self.path))?;
        } else {
            ignore_missing(std::fs::remove_file(numbered(&self.path, self.keep)))?;
            for n in (1..self.keep).rev() {
                ignore_missing(std::fs::rename(
                    numbered(&self.path, n),
                    numbered(&self.path, n + 1),
                ))?;
            }
            ignore_missing(std::fs::rename(&self.path, numbered(&self.path, 1)))?;
        }
        std::fs::rename(&next, &self.path)?;
        self.file = fresh;
        self.len = 0;
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for SizeRotated {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn line(n: usize) -> String {
        // 30 bytes with the newline.
        format!("{{\"n\":{n:04},\"pad\":\"xxxxxxxxxx\"}}\n")
    }

    fn write(log: &SizeRotated, text: &str) {
        log.make_writer().write_all(text.as_bytes()).unwrap();
    }

    fn read(path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    #[test]
    fn writes_past_the_limit_rotate_keep_the_count_and_drop_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diag.jsonl");
        let log = SizeRotated::open(&path, 100, 2).unwrap();
        assert_eq!(line(0).len(), 30);
        for n in 0..20 {
            write(&log, &line(n));
        }
        // Three lines (90 bytes) fit a file; a fourth would pass 100.
        assert_eq!(read(&path).unwrap(), line(18) + &line(19));
        assert_eq!(
            read(&numbered(&path, 1)).unwrap(),
            line(15) + &line(16) + &line(17)
        );
        assert_eq!(
            read(&numbered(&path, 2)).unwrap(),
            line(12) + &line(13) + &line(14)
        );
        assert!(!numbered(&path, 3).exists(), "only 2 old files are kept");
        assert!(!fresh_name(&path).exists());
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        for name in names {
            let mode = std::fs::metadata(dir.path().join(&name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    #[test]
    fn a_line_is_never_split_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diag.jsonl");
        let log = SizeRotated::open(&path, 50, 3).unwrap();
        write(&log, &line(0));
        // One line in two writes, passing the limit in the middle.
        write(&log, "{\"n\":1,\"pad\":\"");
        write(&log, "yyyyyyyyyyyyyyyyyyyyyyyy\"}\n");
        assert_eq!(
            read(&path).unwrap(),
            line(0) + "{\"n\":1,\"pad\":\"yyyyyyyyyyyyyyyyyyyyyyyy\"}\n"
        );
        // A line longer than the limit gets a file of its own, whole.
        let long = format!("{{\"pad\":\"{}\"}}\n", "z".repeat(80));
        write(&log, &long);
        write(&log, &line(2));
        assert_eq!(read(&numbered(&path, 1)).unwrap(), long);
        assert_eq!(read(&path).unwrap(), line(2));
    }

    #[test]
    fn every_line_of_a_busy_subscriber_stays_whole_json() {
        use tracing_subscriber::layer::SubscriberExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diag.jsonl");
        let log = SizeRotated::open(&path, 4096, 4).unwrap();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().json().with_writer(log));
        tracing::subscriber::with_default(subscriber, || {
            for n in 0..400 {
                tracing::info!(n, pad = "a line of some length", "event {n}");
            }
        });
        let mut seen = Vec::new();
        for file in [
            numbered(&path, 4),
            numbered(&path, 3),
            numbered(&path, 2),
            numbered(&path, 1),
            path.clone(),
        ] {
            let text = read(&file).unwrap();
            assert!(
                text.len() <= 4096,
                "{} holds {} bytes",
                file.display(),
                text.len()
            );
            for l in text.lines() {
                let v: serde_json::Value = serde_json::from_str(l).expect("a whole JSON line");
                seen.push(v["fields"]["n"].as_u64().unwrap());
            }
        }
        // The newest lines, in order, ending with the last one.
        assert_eq!(seen.last(), Some(&399));
        assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");
        assert!(!numbered(&path, 5).exists());
    }

    #[test]
    fn keep_zero_keeps_only_the_live_file_and_reopening_counts_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diag.jsonl");
        {
            let log = SizeRotated::open(&path, 100, 0).unwrap();
            for n in 0..4 {
                write(&log, &line(n));
            }
            assert_eq!(read(&path).unwrap(), line(3));
            assert!(!numbered(&path, 1).exists());
        }
        // Reopened with 30 bytes in it: two more lines fit, the third rotates.
        let log = SizeRotated::open(&path, 100, 1).unwrap();
        write(&log, &line(4));
        write(&log, &line(5));
        assert_eq!(read(&path).unwrap(), line(3) + &line(4) + &line(5));
        write(&log, &line(6));
        assert_eq!(read(&path).unwrap(), line(6));
        assert_eq!(
            read(&numbered(&path, 1)).unwrap(),
            line(3) + &line(4) + &line(5)
        );
    }

    #[test]
    fn a_failed_rotation_loses_no_line_and_waits_before_trying_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diag.jsonl");
        let log = SizeRotated::open(&path, 60, 2).unwrap();
        write(&log, &line(0));
        write(&log, &line(1));
        // The fresh file cannot be made: a directory holds its name.
        std::fs::create_dir(fresh_name(&path)).unwrap();
        write(&log, &line(2));
        write(&log, &line(3));
        assert_eq!(
            read(&path).unwrap(),
            line(0) + &line(1) + &line(2) + &line(3)
        );
        assert!(!numbered(&path, 1).exists(), "nothing was renamed");
        std::fs::remove_dir(fresh_name(&path)).unwrap();
        // 60 bytes after the failure, it tries again and succeeds.
        write(&log, &line(4));
        write(&log, &line(5));
        assert_eq!(read(&path).unwrap(), line(4) + &line(5));
        assert_eq!(
            read(&numbered(&path, 1)).unwrap(),
            line(0) + &line(1) + &line(2) + &line(3)
        );
    }
}
