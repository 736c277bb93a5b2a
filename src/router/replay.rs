//! The replay cache of protocol.md §5: key seeds of accepted onions, kept until their expiration and,
//! when opened on a state directory, on disk before the onion is acted on, so that a restart
//! does not let an old onion through again. File `replay.log`: 20-byte records, key seed (16) ‖
//! expiration (u32 big-endian Unix seconds), one appended per accepted onion. Open drops expired
//! and duplicate entries and a truncated last record (a crash mid-write, with a warning), then
//! replaces the file with a compacted copy (write `replay.log.tmp`, fsync, rename).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::wire::layer::SEED_LEN;

/// Bytes of a record in the replay file.
pub const RECORD_LEN: usize = SEED_LEN + 4;
/// Name of the replay file in the state directory.
pub const FILE_NAME: &str = "replay.log";
const TMP_NAME: &str = "replay.log.tmp";

/// A failure of the replay file, naming the file and what was being done.
#[derive(Debug, Error)]
#[error("{}: {action}: {source}", path.display())]
pub struct ReplayError {
    pub path: PathBuf,
    pub action: &'static str,
    #[source]
    pub source: io::Error,
}

/// Why an onion's key seed was not accepted; the onion must then be refused (DESTROY).
#[derive(Debug, Error)]
pub enum ReplayRefusal {
    #[error("key seed already seen: replayed onion")]
    Replayed,
    #[error("replay cache full")]
    Full,
    #[error("replay cache not written, onion refused: {0}")]
    Io(#[from] ReplayError),
}

#[derive(Debug)]
struct Log {
    path: PathBuf,
    file: File,
    /// Records in the file, live or expired.
    records: usize,
    fsync: bool,
    /// An append failed, perhaps part-way: rewrite the file before the next one.
    broken: bool,
}

/// Key seeds seen, each with the expiration of its onion. The map is only looked up, never
/// iterated in hash order; expiry goes through a min-heap by expiration.
#[derive(Debug)]
pub struct ReplayCache {
    seeds: HashMap<[u8; SEED_LEN], u32>,
    by_expiration: BinaryHeap<Reverse<(u32, [u8; SEED_LEN])>>,
    capacity: usize,
    log: Option<Log>,
}

impl ReplayCache {
    /// A cache in memory only, holding at most `capacity` seeds.
    pub fn new(capacity: usize) -> ReplayCache {
        ReplayCache { seeds: HashMap::new(), by_expiration: BinaryHeap::new(), capacity, log: None }
    }

    /// Open (or create) the cache persisted in `dir/replay.log`, keeping the entries that have
    /// not expired at `now_unix`, and compact the file. Entries beyond `capacity` are kept too
    /// (forgetting them would admit replays); the cache then refuses until they expire.
    pub fn open(dir: &Path, capacity: usize, now_unix: u64) -> Result<ReplayCache, ReplayError> {
        let path = dir.join(FILE_NAME);
        std::fs::create_dir_all(dir).map_err(fail(dir, "cannot create state directory"))?;
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(fail(&path, "cannot read")(e)),
        };
        let tail = bytes.len() % RECORD_LEN;
        if tail != 0 {
            log::warn!(
                "{}: dropping truncated last record ({tail} of {RECORD_LEN} bytes, interrupted write)",
                path.display()
            );
        }
        let mut cache = ReplayCache::new(capacity);
        for chunk in bytes.chunks_exact(RECORD_LEN) {
            let Ok(record) = <&[u8; RECORD_LEN]>::try_from(chunk) else {
                continue;
            };
            let (seed, exp) = decode(record);
            if u64::from(exp) >= now_unix {
                let kept = cache.seeds.entry(seed).or_insert(exp);
                *kept = (*kept).max(exp);
            }
        }
        cache.by_expiration = cache.seeds.iter().map(|(&s, &e)| Reverse((e, s))).collect();
        let file = write_compacted(&path, &cache.by_expiration)?;
        let records = cache.len();
        cache.log = Some(Log { path, file, records, fsync: false, broken: false });
        Ok(cache)
    }

    /// Also fsync the file after each record (survives power loss, costs a disk flush per
    /// onion). Without it a record reaches the kernel before `check_and_insert` returns, which
    /// survives a crash or restart of the router process.
    pub fn set_fsync(&mut self, fsync: bool) {
        if let Some(log) = &mut self.log {
            log.fsync = fsync;
        }
    }

    /// Accept the key seed of an onion expiring at `expiration` (its freshness already checked
    /// by the caller), or say why not. On `Ok` the seed is recorded, and written to the file if
    /// there is one; the caller acts on the onion only then.
    pub fn check_and_insert(
        &mut self,
        seed: &[u8; SEED_LEN],
        expiration: u32,
        now_unix: u64,
    ) -> Result<(), ReplayRefusal> {
        self.expire(now_unix);
        if self.seeds.contains_key(seed) {
            return Err(ReplayRefusal::Replayed);
        }
        if self.seeds.len() >= self.capacity {
            return Err(ReplayRefusal::Full);
        }
        let cap = self.capacity.max(1);
        if (self.log.as_ref()).is_some_and(|log| log.broken || log.records >= 2 * cap) {
            self.compact()?;
        }
        if let Some(log) = &mut self.log {
            log.append(seed, expiration)?;
        }
        self.seeds.insert(*seed, expiration);
        self.by_expiration.push(Reverse((expiration, *seed)));
        Ok(())
    }

    /// Whether `seed` is in the cache.
    pub fn contains(&self, seed: &[u8; SEED_LEN]) -> bool {
        self.seeds.contains_key(seed)
    }

    /// Drop the entries whose onions expired before `now_unix` (an onion is still valid at its
    /// expiration second). Costs O(log n) per entry dropped.
    pub fn expire(&mut self, now_unix: u64) {
        while let Some(&Reverse((exp, seed))) = self.by_expiration.peek() {
            if u64::from(exp) >= now_unix {
                break;
            }
            self.by_expiration.pop();
            if self.seeds.get(&seed) == Some(&exp) {
                self.seeds.remove(&seed);
            }
        }
    }

    /// Rewrite the file with only the live entries (done on open, and by `check_and_insert`
    /// when the file holds twice the capacity in records or an append failed part-way).
    pub fn compact(&mut self) -> Result<(), ReplayError> {
        if let Some(log) = &mut self.log {
            log.file = write_compacted(&log.path, &self.by_expiration)?;
            log.records = self.by_expiration.len();
            log.broken = false;
        }
        Ok(())
    }

    /// Seeds held.
    pub fn len(&self) -> usize {
        self.seeds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seeds.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The replay file, if the cache is persisted.
    pub fn path(&self) -> Option<&Path> {
        self.log.as_ref().map(|log| log.path.as_path())
    }
}

fn fail(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> ReplayError {
    let path = path.to_path_buf();
    move |source| ReplayError { path, action, source }
}

fn encode(seed: &[u8; SEED_LEN], expiration: u32) -> [u8; RECORD_LEN] {
    let mut record = [0u8; RECORD_LEN];
    record[..SEED_LEN].copy_from_slice(seed);
    record[SEED_LEN..].copy_from_slice(&expiration.to_be_bytes());
    record
}

fn decode(record: &[u8; RECORD_LEN]) -> ([u8; SEED_LEN], u32) {
    let mut seed = [0u8; SEED_LEN];
    seed.copy_from_slice(&record[..SEED_LEN]);
    let [.., a, b, c, d] = *record;
    (seed, u32::from_be_bytes([a, b, c, d]))
}

/// Replace `path` with a file of `entries` (sorted by expiration, not by hash order): write a
/// temporary copy, fsync it, rename it over, and return `path` opened for appending.
fn write_compacted(path: &Path, entries: &BinaryHeap<Reverse<(u32, [u8; SEED_LEN])>>) -> Result<File, ReplayError> {
    let mut sorted: Vec<(u32, [u8; SEED_LEN])> = entries.iter().map(|&Reverse(e)| e).collect();
    sorted.sort_unstable();
    let mut bytes = Vec::with_capacity(sorted.len() * RECORD_LEN);
    for (exp, seed) in &sorted {
        bytes.extend_from_slice(&encode(seed, *exp));
    }
    let tmp = path.with_file_name(TMP_NAME);
    let mut f = File::create(&tmp).map_err(fail(&tmp, "cannot create"))?;
    f.write_all(&bytes).map_err(fail(&tmp, "cannot write"))?;
    f.sync_all().map_err(fail(&tmp, "cannot sync"))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(fail(path, "cannot replace with compacted copy"))?;
    // Make the rename durable too; where a directory cannot be synced, the rename still stands.
    if let Some(dir) = path.parent().and_then(|d| File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    OpenOptions::new().append(true).open(path).map_err(fail(path, "cannot open for appending"))
}

impl Log {
    fn append(&mut self, seed: &[u8; SEED_LEN], expiration: u32) -> Result<(), ReplayError> {
        let mut written = self.file.write_all(&encode(seed, expiration));
        if self.fsync && written.is_ok() {
            written = self.file.sync_data();
        }
        // A partial record would misalign every later one, so the file is rewritten first.
        self.broken = written.is_err();
        written.map_err(fail(&self.path, "cannot append record"))?;
        self.records += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;
    const LATER: u32 = NOW as u32 + 60;

    /// Offer seed `[n; 16]`; the outcome as a word.
    fn offer(c: &mut ReplayCache, n: u8, expiration: u32, now: u64) -> &'static str {
        match c.check_and_insert(&[n; SEED_LEN], expiration, now) {
            Ok(()) => "ok",
            Err(ReplayRefusal::Replayed) => "replayed",
            Err(ReplayRefusal::Full) => "full",
            Err(ReplayRefusal::Io(_)) => "io",
        }
    }

    fn file_len(dir: &tempfile::TempDir) -> u64 {
        std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len()
    }

    #[test]
    fn refuses_a_replayed_seed() {
        let mut c = ReplayCache::new(10);
        assert_eq!(offer(&mut c, 1, LATER, NOW), "ok");
        assert_eq!(offer(&mut c, 1, LATER, NOW + 1), "replayed");
        assert_eq!(offer(&mut c, 2, LATER, NOW), "ok");
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn expired_entries_are_removed() {
        let mut c = ReplayCache::new(10);
        assert_eq!(offer(&mut c, 1, LATER, NOW), "ok");
        assert_eq!(offer(&mut c, 2, LATER + 10, NOW), "ok");
        c.expire(u64::from(LATER)); // still valid at its expiration second
        assert_eq!(c.len(), 2);
        c.expire(u64::from(LATER) + 1);
        assert!(!c.contains(&[1; SEED_LEN]) && c.contains(&[2; SEED_LEN]));
        // Once expired the onion itself is stale; the seed may come back with a new onion.
        assert_eq!(offer(&mut c, 1, LATER + 100, u64::from(LATER) + 1), "ok");
        c.expire(u64::from(LATER) + 1000);
        assert!(c.is_empty());
    }

    #[test]
    fn refuses_rather_than_exceed_capacity() {
        let mut c = ReplayCache::new(2);
        assert_eq!(offer(&mut c, 1, LATER, NOW), "ok");
        assert_eq!(offer(&mut c, 2, LATER + 5, NOW), "ok");
        assert_eq!(offer(&mut c, 3, LATER, NOW), "full");
        assert_eq!(c.len(), 2);
        // Expiring makes room.
        assert_eq!(offer(&mut c, 3, LATER + 100, u64::from(LATER) + 1), "ok");
        assert!(c.contains(&[3; SEED_LEN]) && !c.contains(&[1; SEED_LEN]));
    }

    #[test]
    fn persists_across_reopen_and_drops_expired() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = ReplayCache::open(dir.path(), 10, NOW).unwrap();
        assert_eq!(offer(&mut c, 1, LATER, NOW), "ok");
        assert_eq!(offer(&mut c, 2, LATER + 100, NOW), "ok");
        assert_eq!(file_len(&dir), 2 * RECORD_LEN as u64); // on disk before Ok returned
        drop(c);
        let mut c = ReplayCache::open(dir.path(), 10, NOW + 1).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(offer(&mut c, 1, LATER, NOW + 1), "replayed");
        drop(c);
        // Reopened after the first expired: dropped, and the file compacted to one record.
        let c = ReplayCache::open(dir.path(), 10, u64::from(LATER) + 1).unwrap();
        assert!(c.len() == 1 && c.contains(&[2; SEED_LEN]));
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(bytes, encode(&[2; SEED_LEN], LATER + 100));
        assert!(!dir.path().join(TMP_NAME).exists());
    }

    #[test]
    fn truncated_last_record_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = encode(&[1; SEED_LEN], LATER).to_vec();
        bytes.extend_from_slice(&encode(&[2; SEED_LEN], LATER)[..7]);
        std::fs::write(dir.path().join(FILE_NAME), &bytes).unwrap();
        let mut c = ReplayCache::open(dir.path(), 10, NOW).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(offer(&mut c, 2, LATER, NOW), "ok");
        drop(c);
        let c = ReplayCache::open(dir.path(), 10, NOW).unwrap();
        assert!(c.contains(&[1; SEED_LEN]) && c.contains(&[2; SEED_LEN]));
        assert_eq!(file_len(&dir), 2 * RECORD_LEN as u64);
    }

    #[test]
    fn over_capacity_file_is_kept_and_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..5).flat_map(|n| encode(&[n; SEED_LEN], LATER)).collect();
        std::fs::write(dir.path().join(FILE_NAME), bytes).unwrap();
        let mut c = ReplayCache::open(dir.path(), 3, NOW).unwrap();
        assert_eq!(c.len(), 5);
        assert_eq!(offer(&mut c, 9, LATER, NOW), "full");
        assert_eq!(offer(&mut c, 4, LATER, NOW), "replayed");
    }

    #[test]
    fn file_is_compacted_while_running() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = ReplayCache::open(dir.path(), 4, NOW).unwrap();
        for n in 0..40u8 {
            let now = NOW + u64::from(n) * 10;
            assert_eq!(offer(&mut c, n, now as u32 + 5, now), "ok");
        }
        assert!(file_len(&dir) <= 8 * RECORD_LEN as u64, "{}", file_len(&dir));
        let c = ReplayCache::open(dir.path(), 4, NOW + 390).unwrap();
        assert!(c.contains(&[39; SEED_LEN]));
    }

    #[test]
    fn unusable_state_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("state");
        std::fs::write(&blocker, b"a file, not a directory").unwrap();
        let e = ReplayCache::open(&blocker, 4, NOW).unwrap_err();
        assert!(e.to_string().contains("state"), "{e}");
    }
}
