//! Where the owner keeps its reply onions' records: a trait for the owner's endpoint (which
//! never writes a file itself) and an in-memory store for simulations. The directory of
//! `TAG.reply` files is `crate::net::reply_store`.

use std::collections::HashMap;

use thiserror::Error;

use super::record::Record;
use super::Tag;

/// A store that could not be read or written.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {action}: {source}")]
    Io { path: String, action: &'static str, source: std::io::Error },
    #[error("{path}: {problem}")]
    Bad { path: String, problem: String },
}

/// The owner's reply-onion records.
pub trait RecordStore {
    /// The record of `tag`, if there is one.
    fn load(&mut self, tag: &Tag) -> Result<Option<Record>, StoreError>;
    /// Replace the record of `tag` by a `used` marker without key material (kept until
    /// `expiration` so a second use is told apart from an unknown tag). Must be durable when it
    /// returns: the owner relays only then.
    fn mark_used(&mut self, tag: &Tag, expiration: u32) -> Result<(), StoreError>;
    /// Delete every record that expired before `now_unix`; returns how many.
    fn sweep(&mut self, now_unix: u64) -> Result<usize, StoreError>;
}

/// Records in memory (simulations and tests).
#[derive(Debug, Default)]
pub struct MemStore {
    records: HashMap<Tag, Record>,
}

impl MemStore {
    pub fn insert(&mut self, record: Record) {
        self.records.insert(record.tag(), record);
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl RecordStore for MemStore {
    fn load(&mut self, tag: &Tag) -> Result<Option<Record>, StoreError> {
        Ok(self.records.get(tag).cloned())
    }

    fn mark_used(&mut self, tag: &Tag, expiration: u32) -> Result<(), StoreError> {
        self.records.insert(*tag, Record::Used { tag: *tag, expiration });
        Ok(())
    }

    fn sweep(&mut self, now_unix: u64) -> Result<usize, StoreError> {
        let before = self.records.len();
        self.records.retain(|_, r| u64::from(r.expiration()) >= now_unix);
        Ok(before - self.records.len())
    }
}
