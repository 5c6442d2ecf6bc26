//! The money log's daily roll, as a `MakeWriter`: `money.jsonl` holds the
//! lines of one UTC day; when a line of another day comes, the file is
//! renamed to `money-YYYY-MM-DD.jsonl` (the day of the lines it holds) and
//! a new `money.jsonl` begins. Nothing is ever deleted or overwritten: the
//! rename is a hard link that fails rather than replace a file, and a day
//! that already has a file (the clock went back) gets `money-YYYY-MM-DD.2.jsonl`
//! and so on. A line's day is the UTC date of its `"timestamp"` (the
//! JSON formatter writes it first: the wall clock when the line was
//! written, not the ledger's `at`, which is simulated in paper mode), or
//! today's when it has none. Rolls
//! happen only between lines; every file is 0600.
//!
//! A roll that fails (a filesystem without hard links falls back to a
//! rename onto a free name) keeps writing to the file it has, so the worst
//! case is a file that holds two days, never a lost line.

use super::{LineSink, LineWriter, private_append};
use crate::model::time::{day_of, format_day, parse_day};
use crate::model::{Clock, SystemClock};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tracing_subscriber::fmt::MakeWriter;

/// A log file rolled into dated files by the day of its lines.
pub struct DailyRolled {
    state: Mutex<Daily>,
}

struct Daily {
    path: PathBuf,
    file: File,
    /// The day (`YYYY-MM-DD`) of the lines in the current file; `None` while empty.
    day: Option<String>,
    mid_line: bool,
}

/// The UTC day of a JSON log line: its `"timestamp":"YYYY-MM-DD…` field.
pub fn line_day(line: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"timestamp\":\"";
    let head = &line[..line.len().min(256)];
    let at = head.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let date = std::str::from_utf8(line.get(at..at + 10)?).ok()?;
    parse_day(date).ok().map(|_| date.to_string())
}

/// `money-2026-01-01.jsonl` for `money.jsonl`; `money-2026-01-01.2.jsonl` for n = 2.
pub fn dated(path: &Path, day: &str, n: u32) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let name = if n <= 1 {
        format!("{stem}-{day}{ext}")
    } else {
        format!("{stem}-{day}.{n}{ext}")
    };
    path.with_file_name(name)
}

fn today() -> String {
    format_day(day_of(SystemClock.now()))
}

/// The day of the first line of an existing file, if it has one.
fn first_day(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    let mut first = Vec::new();
    BufReader::new(file.take(4096))
        .read_until(b'\n', &mut first)
        .ok()?;
    if first.is_empty() {
        return None;
    }
    line_day(&first).or_else(|| {
        // Lines without a timestamp: the day the file was last written.
        let modified = std::fs::metadata(path).ok()?.modified().ok()?;
        let ms = modified
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis();
        Some(format_day(day_of(u64::try_from(ms).ok()?)))
    })
}

impl DailyRolled {
    /// Append to `path` (created 0600); roll it by day from now on.
    pub fn open(path: &Path) -> io::Result<DailyRolled> {
        let day = first_day(path);
        let file = private_append(path)?;
        Ok(DailyRolled {
            state: Mutex::new(Daily {
                path: path.to_path_buf(),
                file,
                day,
                mid_line: false,
            }),
        })
    }
}

impl LineSink for Daily {
    fn write_line(&mut self, buf: &[u8]) -> io::Result<()> {
        if !self.mid_line {
            let day = line_day(buf).unwrap_or_else(today);
            if let Some(old) = self.day.clone().filter(|old| *old != day)
                && let Err(e) = self.roll(&old)
            {
                eprintln!(
                    "arbkeep: cannot roll {} into its day's file: {e}; still writing to it",
                    self.path.display()
                );
            }
            self.day = Some(day);
        }
        self.file.write_all(buf)?;
        self.mid_line = buf.last().is_some_and(|b| *b != b'\n');
        Ok(())
    }
}

impl Daily {
    /// Give the current file its day's name, then start a new one.
    fn roll(&mut self, day: &str) -> io::Result<()> {
        let mut n = 1;
        loop {
            let target = dated(&self.path, day, n);
            match std::fs::hard_link(&self.path, &target) {
                Ok(()) => {
                    std::fs::remove_file(&self.path)?;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                // No hard links here: rename onto the name found free (this
                // process is the data dir's only writer).
                Err(_) if !target.exists() => {
                    std::fs::rename(&self.path, &target)?;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        self.file = private_append(&self.path)?;
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for DailyRolled {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn line(day: &str, n: u32) -> String {
        format!("{{\"timestamp\":\"{day}T12:00:00.000000Z\",\"level\":\"INFO\",\"n\":{n}}}\n")
    }

    fn write(log: &DailyRolled, text: &str) {
        log.make_writer().write_all(text.as_bytes()).unwrap();
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Every line of every file in the directory.
    fn all_lines(dir: &Path) -> Vec<String> {
        let mut lines: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flat_map(|e| {
                read(&e.unwrap().path())
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        lines.sort();
        lines
    }

    #[test]
    fn lines_of_a_new_day_roll_the_file_into_its_days_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("money.jsonl");
        let log = DailyRolled::open(&path).unwrap();
        write(&log, &line("2026-01-01", 1));
        write(&log, &line("2026-01-01", 2));
        write(&log, &line("2026-01-02", 3));
        assert_eq!(
            read(&dated(&path, "2026-01-01", 1)),
            line("2026-01-01", 1) + &line("2026-01-01", 2)
        );
        assert_eq!(read(&path), line("2026-01-02", 3));
        for name in ["money.jsonl", "money-2026-01-01.jsonl"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    #[test]
    fn money_is_never_deleted_or_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("money.jsonl");
        let mut written = Vec::new();
        {
            let log = DailyRolled::open(&path).unwrap();
            // Days forward, then the clock goes back to a day that has a file.
            for (n, day) in ["2026-01-01", "2026-01-02", "2026-01-01", "2026-01-03"]
                .iter()
                .enumerate()
            {
                for k in 0..3 {
                    let l = line(day, (n * 10 + k) as u32);
                    write(&log, &l);
                    written.push(l.trim_end().to_string());
                }
            }
        }
        assert!(
            dated(&path, "2026-01-01", 2).exists(),
            "a second file for the day"
        );
        // A restart continues the day of the file it finds, then rolls.
        let log = DailyRolled::open(&path).unwrap();
        let l = line("2026-01-04", 99);
        write(&log, &l);
        written.push(l.trim_end().to_string());
        assert_eq!(read(&path), l);
        assert_eq!(read(&dated(&path, "2026-01-03", 1)).lines().count(), 3);
        written.sort();
        assert_eq!(
            all_lines(dir.path()),
            written,
            "every line is somewhere, once"
        );
    }

    #[test]
    fn a_line_is_never_split_and_lines_without_a_timestamp_stay_put() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("money.jsonl");
        let log = DailyRolled::open(&path).unwrap();
        write(&log, &line("2026-01-01", 1));
        // One line in two writes: the second half names no day and must not roll.
        write(&log, "{\"timestamp\":\"2026-01-01T23:59:59.9Z\",");
        write(&log, "\"timestamp\":\"2026-01-02T00:00:00Z\"}\n");
        assert_eq!(read(&path).lines().count(), 2);
        assert_eq!(line_day(b"{\"level\":\"INFO\"}"), None);
        assert_eq!(line_day(b"{\"timestamp\":\"2026-02-30T00:00:00Z\"}"), None);
        assert_eq!(
            line_day(line("2026-03-01", 0).as_bytes()).as_deref(),
            Some("2026-03-01")
        );
    }
}
