//! The owner's reply-onion records as files `TAG.reply` in a directory (its `--state-dir`, mode
//! 0600 files as `ork mkonion reply` writes them), behind [`RecordStore`]: a used record is
//! replaced by a `used` marker without keys (temporary file, fsync, rename), expired ones are
//! deleted.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::reply::record::{Record, FILE_SUFFIX};
use crate::reply::store::{RecordStore, StoreError};
use crate::reply::Tag;

/// Records as files `TAG.reply` in a directory (the owner's `--state-dir`).
#[derive(Debug)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    pub fn new(dir: &Path) -> DirStore {
        DirStore { dir: dir.to_path_buf() }
    }

    fn path(&self, tag: &Tag) -> PathBuf {
        self.dir.join(Record::file_name(tag))
    }
}

fn io_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { path: path.display().to_string(), action, source }
}

impl RecordStore for DirStore {
    fn load(&mut self, tag: &Tag) -> Result<Option<Record>, StoreError> {
        let path = self.path(tag);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path, "cannot read")(e)),
        };
        let record =
            Record::parse(&text).map_err(|problem| StoreError::Bad { path: path.display().to_string(), problem })?;
        if record.tag() != *tag {
            let problem = "its tag does not match its file name".to_string();
            return Err(StoreError::Bad { path: path.display().to_string(), problem });
        }
        Ok(Some(record))
    }

    fn mark_used(&mut self, tag: &Tag, expiration: u32) -> Result<(), StoreError> {
        let path = self.path(tag);
        let tmp = path.with_extension("used.tmp");
        let text = Record::Used { tag: *tag, expiration }.to_text();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp, "cannot create"))?;
        f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io_err(&tmp, "cannot write"))?;
        // The rename replaces the file holding the keys; the old blocks are the file system's.
        std::fs::rename(&tmp, &path).map_err(io_err(&path, "cannot replace"))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn sweep(&mut self, now_unix: u64) -> Result<usize, StoreError> {
        let mut removed = 0;
        let entries = std::fs::read_dir(&self.dir).map_err(io_err(&self.dir, "cannot list"))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let is_record = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(FILE_SUFFIX));
            if !is_record {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let Ok(record) = Record::parse(&text) else { continue };
            if u64::from(record.expiration()) < now_unix {
                std::fs::remove_file(&path).map_err(io_err(&path, "cannot delete"))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::CipherCode;
    use crate::reply::record::OwnerRecord;

    fn live(b: u8, exp: u32) -> Record {
        let seeds = vec![[b; 16]];
        Record::Live(OwnerRecord {
            tag: Tag::from_seed(&seeds[0]),
            expiration: exp,
            forw_f: CipherCode::Aes128Ctr,
            back_f: CipherCode::Aes128Ctr,
            seeds,
            user_seed: [b; 16],
        })
    }

    #[test]
    fn dir_store_marks_used_and_sweeps() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = DirStore::new(dir.path());
        let (a, b) = (live(1, 100), live(2, 300));
        for r in [&a, &b] {
            std::fs::write(dir.path().join(Record::file_name(&r.tag())), r.to_text()).unwrap();
        }
        assert_eq!(s.load(&a.tag()).unwrap(), Some(a.clone()));
        assert_eq!(s.load(&Tag([9; 20])).unwrap(), None);
        s.mark_used(&a.tag(), 100).unwrap();
        let text = std::fs::read_to_string(dir.path().join(Record::file_name(&a.tag()))).unwrap();
        assert!(!text.contains("seed"), "no key material left: {text}");
        assert_eq!(s.load(&a.tag()).unwrap(), Some(Record::Used { tag: a.tag(), expiration: 100 }));
        assert_eq!(s.sweep(200).unwrap(), 1);
        assert_eq!(s.load(&a.tag()).unwrap(), None);
        assert!(s.load(&b.tag()).unwrap().is_some());
    }
}
