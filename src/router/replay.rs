//! The replay cache of protocol.md §5: key seeds of accepted onions, kept until their expiration
//! and, when the cache has a [`ReplayStore`], recorded there before the onion is acted on, so
//! that a restart does not let an old onion through again. The store holds 20-byte records, key
//! seed (16) ‖ expiration (u32 big-endian Unix seconds), one appended per accepted onion.
//! Loading drops expired and duplicate entries and a truncated last record (a crash mid-write,
//! with a warning), then replaces the store's contents with the compacted records.
//!
//! The cache itself does no I/O: production routers use the file store of
//! `crate::net::replay_file` (`replay.log` in the state directory, fdatasync per record by
//! default), the simulation a [`MemoryReplayStore`] that outlives a restarted router.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use thiserror::Error;

use crate::wire::layer::SEED_LEN;

/// Bytes of a record in the replay store.
pub const RECORD_LEN: usize = SEED_LEN + 4;

/// A failure of the replay store, naming where it is and what was being done.
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

/// Where the replay cache's records survive a restart.
pub trait ReplayStore: fmt::Debug + Send {
    /// Everything stored, records concatenated (the last one may be truncated).
    fn load(&mut self) -> Result<Vec<u8>, ReplayError>;
    /// Append one record; when this returns `Ok` the record is as durable as the store's
    /// policy promises (the file store: written, and fdatasync'ed unless turned off).
    fn append(&mut self, record: &[u8; RECORD_LEN]) -> Result<(), ReplayError>;
    /// Replace the whole contents with `records`, atomically.
    fn replace(&mut self, records: &[u8]) -> Result<(), ReplayError>;
}

/// A store in memory: what the simulation gives a router, and keeps when the router restarts.
/// Clones share the records.
#[derive(Debug, Clone, Default)]
pub struct MemoryReplayStore {
    records: Arc<Mutex<Vec<u8>>>,
}

impl MemoryReplayStore {
    /// The records held (for tests).
    pub fn bytes(&self) -> Vec<u8> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Vec<u8>) -> T) -> Result<T, ReplayError> {
        let mut records = self.records.lock().map_err(|_| ReplayError {
            path: PathBuf::from("(memory)"),
            action: "lock",
            source: io::Error::other("poisoned"),
        })?;
        Ok(f(&mut records))
    }
}

impl ReplayStore for MemoryReplayStore {
    fn load(&mut self) -> Result<Vec<u8>, ReplayError> {
        self.with(|r| r.clone())
    }

    fn append(&mut self, record: &[u8; RECORD_LEN]) -> Result<(), ReplayError> {
        self.with(|r| r.extend_from_slice(record))
    }

    fn replace(&mut self, records: &[u8]) -> Result<(), ReplayError> {
        self.with(|r| *r = records.to_vec())
    }
}

/// Key seeds seen, each with the expiration of its onion. The map is only looked up, never
/// iterated in hash order; expiry goes through a min-heap by expiration.
#[derive(Debug)]
pub struct ReplayCache {
    seeds: HashMap<[u8; SEED_LEN], u32>,
    by_expiration: BinaryHeap<Reverse<(u32, [u8; SEED_LEN])>>,
    capacity: usize,
    store: Option<Persisted>,
}

#[derive(Debug)]
struct Persisted {
    store: Box<dyn ReplayStore>,
    /// Records in the store, live or expired.
    records: usize,
    /// An append failed, perhaps part-way: rewrite the store before the next one.
    broken: bool,
}

impl ReplayCache {
    /// A cache in memory only, holding at most `capacity` seeds.
    pub fn new(capacity: usize) -> ReplayCache {
        ReplayCache { seeds: HashMap::new(), by_expiration: BinaryHeap::new(), capacity, store: None }
    }

    /// The cache kept in `store`: load the entries that have not expired at `now_unix`, and
    /// compact the store. Entries beyond `capacity` are kept too (forgetting them would admit
    /// replays); the cache then refuses until they expire. `name` labels the log line about a
    /// truncated last record.
    pub fn with_store(
        mut store: Box<dyn ReplayStore>,
        capacity: usize,
        now_unix: u64,
        name: &str,
    ) -> Result<ReplayCache, ReplayError> {
        let bytes = store.load()?;
        let tail = bytes.len() % RECORD_LEN;
        if tail != 0 {
            log::warn!("{name}: dropping truncated last record ({tail} of {RECORD_LEN} bytes, interrupted write)");
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
        store.replace(&compacted(&cache.by_expiration))?;
        let records = cache.len();
        cache.store = Some(Persisted { store, records, broken: false });
        Ok(cache)
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
        if (self.store.as_ref()).is_some_and(|p| p.broken || p.records >= 2 * cap) {
            self.compact()?;
        }
        if let Some(p) = &mut self.store {
            // A partial record would misalign every later one, so the store is rewritten first.
            p.broken = true;
            p.store.append(&encode(seed, expiration))?;
            p.broken = false;
            p.records += 1;
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

    /// Rewrite the store with only the live entries (done on load, and by `check_and_insert`
    /// when the store holds twice the capacity in records or an append failed part-way).
    pub fn compact(&mut self) -> Result<(), ReplayError> {
        if let Some(p) = &mut self.store {
            p.store.replace(&compacted(&self.by_expiration))?;
            p.records = self.by_expiration.len();
            p.broken = false;
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

    /// Whether the cache has a store (survives a restart).
    pub fn is_persisted(&self) -> bool {
        self.store.is_some()
    }
}

/// Records of `entries`, sorted by expiration (not by hash order).
fn compacted(entries: &BinaryHeap<Reverse<(u32, [u8; SEED_LEN])>>) -> Vec<u8> {
    let mut sorted: Vec<(u32, [u8; SEED_LEN])> = entries.iter().map(|&Reverse(e)| e).collect();
    sorted.sort_unstable();
    let mut bytes = Vec::with_capacity(sorted.len() * RECORD_LEN);
    for (exp, seed) in &sorted {
        bytes.extend_from_slice(&encode(seed, *exp));
    }
    bytes
}

/// One record: key seed ‖ expiration (big-endian).
pub fn encode(seed: &[u8; SEED_LEN], expiration: u32) -> [u8; RECORD_LEN] {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;
    const LATER: u32 = NOW as u32 + 60;

    /// Offer seed `[n; 16]`; the outcome as a word (also for the file store's tests).
    pub(crate) fn offer(c: &mut ReplayCache, n: u8, expiration: u32, now: u64) -> &'static str {
        match c.check_and_insert(&[n; SEED_LEN], expiration, now) {
            Ok(()) => "ok",
            Err(ReplayRefusal::Replayed) => "replayed",
            Err(ReplayRefusal::Full) => "full",
            Err(ReplayRefusal::Io(_)) => "io",
        }
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
    fn a_memory_store_outlives_the_cache_and_is_compacted() {
        let store = MemoryReplayStore::default();
        let mut c = ReplayCache::with_store(Box::new(store.clone()), 10, NOW, "memory").unwrap();
        assert_eq!(offer(&mut c, 1, LATER, NOW), "ok");
        assert_eq!(offer(&mut c, 2, LATER + 100, NOW), "ok");
        assert_eq!(store.bytes().len(), 2 * RECORD_LEN, "recorded before Ok returned");
        drop(c);
        let mut c = ReplayCache::with_store(Box::new(store.clone()), 10, NOW + 1, "memory").unwrap();
        assert_eq!(offer(&mut c, 1, LATER, NOW + 1), "replayed", "a restart keeps the seeds");
        drop(c);
        let c = ReplayCache::with_store(Box::new(store.clone()), 10, u64::from(LATER) + 1, "memory").unwrap();
        assert!(c.len() == 1 && c.contains(&[2; SEED_LEN]));
        assert_eq!(store.bytes(), encode(&[2; SEED_LEN], LATER + 100), "loading compacts");
    }

    #[test]
    fn a_failed_append_refuses_the_onion_and_rewrites_the_store_next() {
        #[derive(Debug, Default)]
        struct Flaky {
            fail_next: bool,
            replaced: usize,
        }
        impl ReplayStore for Flaky {
            fn load(&mut self) -> Result<Vec<u8>, ReplayError> {
                Ok(Vec::new())
            }
            fn append(&mut self, _: &[u8; RECORD_LEN]) -> Result<(), ReplayError> {
                if std::mem::take(&mut self.fail_next) {
                    return Err(ReplayError {
                        path: "flaky".into(),
                        action: "append",
                        source: io::Error::other("disk full"),
                    });
                }
                Ok(())
            }
            fn replace(&mut self, _: &[u8]) -> Result<(), ReplayError> {
                self.replaced += 1;
                Ok(())
            }
        }
        let mut c =
            ReplayCache::with_store(Box::new(Flaky { fail_next: true, replaced: 0 }), 10, NOW, "flaky").unwrap();
        assert_eq!(offer(&mut c, 1, LATER, NOW), "io");
        assert!(!c.contains(&[1; SEED_LEN]), "not admitted without its record");
        assert_eq!(offer(&mut c, 1, LATER, NOW), "ok");
        assert!(c.store.as_ref().is_some_and(|p| !p.broken && p.records == 1));
    }
}
