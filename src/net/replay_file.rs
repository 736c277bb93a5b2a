//! The replay cache's file store: `replay.log` in the router's state directory, one 20-byte
//! record appended per accepted onion and fdatasync'ed before the onion is acted on (unless
//! `--no-replay-fsync`: then a record reaches the kernel, which survives a crash of the router
//! process but not a power loss). Compaction writes `replay.log.tmp`, fsyncs it, renames it over
//! and fsyncs the directory. The cache's logic lives in `crate::router::replay`, free of I/O.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::router::replay::{ReplayCache, ReplayError, ReplayStore, RECORD_LEN};

/// Name of the replay file in the state directory.
pub const FILE_NAME: &str = "replay.log";
const TMP_NAME: &str = "replay.log.tmp";

/// `replay.log` in a state directory.
#[derive(Debug)]
pub struct FileReplayStore {
    path: PathBuf,
    /// Open for appending once loaded.
    file: Option<File>,
    fsync: bool,
}

impl FileReplayStore {
    /// The store in `dir` (created if missing); `fsync`: fdatasync after each record.
    pub fn new(dir: &Path, fsync: bool) -> Result<FileReplayStore, ReplayError> {
        std::fs::create_dir_all(dir).map_err(fail(dir, "cannot create state directory"))?;
        Ok(FileReplayStore { path: dir.join(FILE_NAME), file: None, fsync })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Open the replay cache kept in `dir`, holding at most `capacity` seeds.
pub fn open_cache(dir: &Path, capacity: usize, now_unix: u64, fsync: bool) -> Result<ReplayCache, ReplayError> {
    let store = FileReplayStore::new(dir, fsync)?;
    let name = store.path().display().to_string();
    ReplayCache::with_store(Box::new(store), capacity, now_unix, &name)
}

impl ReplayStore for FileReplayStore {
    fn load(&mut self) -> Result<Vec<u8>, ReplayError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(fail(&self.path, "cannot read")(e)),
        }
    }

    fn append(&mut self, record: &[u8; RECORD_LEN]) -> Result<(), ReplayError> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(fail(&self.path, "cannot open for appending"))?,
            ),
        };
        let mut written = file.write_all(record);
        if self.fsync && written.is_ok() {
            written = file.sync_data();
        }
        written.map_err(fail(&self.path, "cannot append record"))
    }

    fn replace(&mut self, records: &[u8]) -> Result<(), ReplayError> {
        let tmp = self.path.with_file_name(TMP_NAME);
        let mut f = File::create(&tmp).map_err(fail(&tmp, "cannot create"))?;
        f.write_all(records).map_err(fail(&tmp, "cannot write"))?;
        f.sync_all().map_err(fail(&tmp, "cannot sync"))?;
        drop(f);
        self.file = None;
        std::fs::rename(&tmp, &self.path).map_err(fail(&self.path, "cannot replace with compacted copy"))?;
        // Make the rename durable too; where a directory cannot be synced, the rename still stands.
        if let Some(dir) = self.path.parent().and_then(|d| File::open(d).ok()) {
            let _ = dir.sync_all();
        }
        let file =
            OpenOptions::new().append(true).open(&self.path).map_err(fail(&self.path, "cannot open for appending"))?;
        self.file = Some(file);
        Ok(())
    }
}

fn fail(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> ReplayError {
    let path = path.to_path_buf();
    move |source| ReplayError { path, action, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::replay::encode;
    use crate::router::replay::tests::offer;
    use crate::wire::layer::SEED_LEN;

    const NOW: u64 = 1_700_000_000;
    const LATER: u32 = NOW as u32 + 60;

    fn open_cache(dir: &Path, capacity: usize, now: u64) -> Result<ReplayCache, ReplayError> {
        super::open_cache(dir, capacity, now, true)
    }

    fn file_len(dir: &tempfile::TempDir) -> u64 {
        std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len()
    }

    #[test]
    fn persists_across_reopen_and_drops_expired() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = open_cache(dir.path(), 10, NOW).unwrap();
        assert_eq!(offer(&mut c, 1, LATER, NOW), "ok");
        assert_eq!(offer(&mut c, 2, LATER + 100, NOW), "ok");
        assert_eq!(file_len(&dir), 2 * RECORD_LEN as u64); // on disk before Ok returned
        drop(c);
        let mut c = open_cache(dir.path(), 10, NOW + 1).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(offer(&mut c, 1, LATER, NOW + 1), "replayed");
        drop(c);
        // Reopened after the first expired: dropped, and the file compacted to one record.
        let c = open_cache(dir.path(), 10, u64::from(LATER) + 1).unwrap();
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
        let mut c = open_cache(dir.path(), 10, NOW).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(offer(&mut c, 2, LATER, NOW), "ok");
        drop(c);
        let c = open_cache(dir.path(), 10, NOW).unwrap();
        assert!(c.contains(&[1; SEED_LEN]) && c.contains(&[2; SEED_LEN]));
        assert_eq!(file_len(&dir), 2 * RECORD_LEN as u64);
    }

    #[test]
    fn over_capacity_file_is_kept_and_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..5).flat_map(|n| encode(&[n; SEED_LEN], LATER)).collect();
        std::fs::write(dir.path().join(FILE_NAME), bytes).unwrap();
        let mut c = open_cache(dir.path(), 3, NOW).unwrap();
        assert_eq!(c.len(), 5);
        assert_eq!(offer(&mut c, 9, LATER, NOW), "full");
        assert_eq!(offer(&mut c, 4, LATER, NOW), "replayed");
    }

    #[test]
    fn file_is_compacted_while_running() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = open_cache(dir.path(), 4, NOW).unwrap();
        for n in 0..40u8 {
            let now = NOW + u64::from(n) * 10;
            assert_eq!(offer(&mut c, n, now as u32 + 5, now), "ok");
        }
        assert!(file_len(&dir) <= 8 * RECORD_LEN as u64, "{}", file_len(&dir));
        let c = open_cache(dir.path(), 4, NOW + 390).unwrap();
        assert!(c.contains(&[39; SEED_LEN]));
    }

    #[test]
    fn unusable_state_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("state");
        std::fs::write(&blocker, b"a file, not a directory").unwrap();
        let e = open_cache(&blocker, 4, NOW).unwrap_err();
        assert!(e.to_string().contains("state"), "{e}");
    }
}
