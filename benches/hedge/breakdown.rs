//! Where a durable hedge commit's time goes, measured beside it in the
//! same loop: redb's own floor (one table, one 64-byte value, one commit),
//! and the disk alone writing what the hedge commit writes — as many
//! page writes at scattered offsets, then the same bytes as one sequential
//! append — each followed by one fdatasync. The hedge commit's write
//! count and bytes are read from `/proc/self/io` around each commit.

use redb::{Database, TableDefinition};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

const FLOOR: TableDefinition<u64, &[u8]> = TableDefinition::new("floor");
/// The scratch file's span: scattered writes land anywhere in it.
const SPAN_PAGES: u64 = 16_384;
const PAGE: usize = 4_096;

/// Write syscalls and bytes written by this process so far.
pub fn io_counters() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("syscw:"), field("wchar:"))
}

/// The disk and redb alone, one sample of each per call.
pub struct Floors {
    db: Database,
    scratch: File,
    next: u64,
    /// Deterministic offsets for the scattered writes.
    seed: u64,
}

impl Floors {
    pub fn open(dir: &Path) -> Floors {
        let db = Database::create(dir.join("floor.redb")).unwrap();
        let scratch = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("scratch.bin"))
            .unwrap();
        // Preallocated and synced: no sample below changes the file's size.
        scratch.set_len(SPAN_PAGES * PAGE as u64).unwrap();
        scratch.sync_all().unwrap();
        Floors {
            db,
            scratch,
            next: 0,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// One redb commit of one 64-byte value in one table.
    pub fn redb_commit(&mut self) -> Duration {
        self.next += 1;
        let t = Instant::now();
        let w = self.db.begin_write().unwrap();
        w.open_table(FLOOR)
            .unwrap()
            .insert(self.next, [7u8; 64].as_slice())
            .unwrap();
        w.commit().unwrap();
        t.elapsed()
    }

    /// `writes` page writes at scattered offsets, then one fdatasync.
    pub fn scattered(&mut self, writes: usize) -> Duration {
        let page = [5u8; PAGE];
        let t = Instant::now();
        for _ in 0..writes {
            // xorshift: the same offsets every run.
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            let at = (self.seed % SPAN_PAGES) * PAGE as u64;
            self.scratch.write_all_at(&page, at).unwrap();
        }
        self.scratch.sync_data().unwrap();
        t.elapsed()
    }

    /// `bytes` as one sequential write, then one fdatasync.
    pub fn sequential(&mut self, bytes: usize) -> Duration {
        let body = vec![6u8; bytes.max(1)];
        let span = SPAN_PAGES * PAGE as u64;
        let at = (self.next * bytes as u64) % (span - bytes as u64);
        let t = Instant::now();
        self.scratch.write_all_at(&body, at).unwrap();
        self.scratch.sync_data().unwrap();
        t.elapsed()
    }
}
