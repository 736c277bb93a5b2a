//! The mixer of protocol.md §6: a batch of cells leaves in a uniformly random interleaving of the
//! per-connection queues, so the order of departure says nothing about the order of arrival
//! beyond what each connection's own order must keep.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{CryptoRng, RngCore};

/// When a batch leaves (docs/anonymity.md, "When a batch leaves").
///
/// A batch's clock starts with its first cell. While every cell in it belongs to one connection
/// there is nothing to interleave it with, so it waits only `lone_wait` for company; as soon as a
/// second connection has a cell in it, it is held for the whole `interval` from the first cell,
/// as a fixed-interval mixer would hold it. Under load batches almost always hold several
/// connections and leave exactly as before; a lone connection on a quiet router is no longer
/// delayed a full interval at every hop for no mixing at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchTiming {
    /// How long a batch with cells of two or more connections is held (0 = one batch per wake-up).
    pub interval: Duration,
    /// How long a batch of one connection's cells waits for a second connection (capped by
    /// `interval`).
    pub lone_wait: Duration,
}

impl BatchTiming {
    /// The default: 10 ms batches, 1 ms wait for company.
    pub const DEFAULT: BatchTiming =
        BatchTiming { interval: Duration::from_millis(10), lone_wait: Duration::from_millis(1) };

    /// A fixed-interval mixer: every batch is held the whole interval (the paper's design).
    pub fn fixed(interval: Duration) -> BatchTiming {
        BatchTiming { interval, lone_wait: interval }
    }

    /// When a batch whose first cell arrived at `first` and which holds cells of `connections`
    /// connections is due.
    pub fn due(&self, first: Instant, connections: usize) -> Instant {
        if connections >= 2 {
            first + self.interval
        } else {
            first + self.lone_wait.min(self.interval)
        }
    }
}

impl Default for BatchTiming {
    fn default() -> Self {
        BatchTiming::DEFAULT
    }
}

/// Items queued per key (a connection, or a link and ACI), emitted in mixed batches.
///
/// Keys are kept in first-arrival order and the interleaving is drawn only from the caller's
/// CSPRNG; the hash map is used for look-up, never iterated, so its order cannot leak.
/// Queues, the order buffer and the key map keep their capacity between batches: once warmed
/// up, `push` and `drain` do not allocate. A drained batch is read where it lies
/// ([`MixedBatch::for_each`]): each queue is read front to back through a cursor, and emptied
/// when the batch is dropped.
pub struct Mixer<K: Copy + Eq + Hash, T> {
    /// Key → slot in `keys`/`queues`, for the keys of the current batch.
    slots: HashMap<K, usize>,
    /// The current batch's keys, by slot.
    keys: Vec<K>,
    /// Queues by slot; those past `keys.len()` are empty and kept for reuse.
    queues: Vec<Vec<T>>,
    /// While a batch drains: how many items of each slot's queue have left.
    cursors: Vec<usize>,
    /// Scratch: each slot repeated by its queue length, then shuffled.
    order: Vec<usize>,
    len: usize,
    /// The key of the last push and its slot: a run of items for one connection (bulk data)
    /// skips the hash look-up.
    last: Option<(K, usize)>,
}

impl<K: Copy + Eq + Hash, T> Default for Mixer<K, T> {
    fn default() -> Self {
        Mixer::new()
    }
}

impl<K: Copy + Eq + Hash, T> Mixer<K, T> {
    pub fn new() -> Self {
        Mixer {
            slots: HashMap::new(),
            keys: Vec::new(),
            queues: Vec::new(),
            cursors: Vec::new(),
            order: Vec::new(),
            len: 0,
            last: None,
        }
    }

    /// Queue `item` behind the items already queued for `key`.
    #[inline]
    pub fn push(&mut self, key: K, item: T) {
        let slot = match self.last {
            Some((k, slot)) if k == key => slot,
            _ => self.slot_for(key),
        };
        self.last = Some((key, slot));
        if let Some(queue) = self.queues.get_mut(slot) {
            queue.push(item);
            self.len += 1;
        }
    }

    /// The slot of `key` in the current batch, given one if it has none yet.
    fn slot_for(&mut self, key: K) -> usize {
        match self.slots.get(&key) {
            Some(&slot) => slot,
            None => {
                let slot = self.keys.len();
                self.keys.push(key);
                if slot == self.queues.len() {
                    self.queues.push(Vec::new());
                }
                self.slots.insert(key, slot);
                slot
            }
        }
    }

    /// Append everything queued to `out` as a uniformly random interleaving of the per-key
    /// queues (each key's items keep their order), and leave the mixer empty (the mixing-curve
    /// bench and tests; the router iterates [`Mixer::drain_mixed`] instead).
    pub fn drain(&mut self, rng: &mut (impl RngCore + CryptoRng), out: &mut Vec<(K, T)>)
    where
        T: Clone,
    {
        out.extend(self.drain_mixed(rng));
    }

    /// Everything queued, as an iterator over a uniformly random interleaving of the per-key
    /// queues (each key's items keep their order); the mixer is empty once it is dropped.
    ///
    /// Every interleaving is equally likely: shuffling the multiset in which each key appears
    /// once per queued item (Fisher–Yates, caller's CSPRNG) gives each distinct sequence of keys
    /// with the same probability, and taking queue fronts in that sequence keeps per-key order.
    /// A batch of one key has one interleaving, its own order, and draws nothing from the RNG.
    /// Items are read from their queue by the caller: no intermediate buffer.
    pub fn drain_mixed(&mut self, rng: &mut (impl RngCore + CryptoRng)) -> MixedBatch<'_, K, T> {
        self.order.clear();
        self.cursors.clear();
        self.cursors.resize(self.keys.len(), 0);
        if self.keys.len() > 1 {
            for (slot, queue) in self.queues.iter().enumerate().take(self.keys.len()) {
                self.order.extend(std::iter::repeat(slot).take(queue.len()));
            }
            self.order.shuffle(rng);
        }
        MixedBatch { mixer: self, pos: 0 }
    }

    /// Forget the drained batch (queues keep their capacity).
    fn clear(&mut self) {
        self.order.clear();
        self.cursors.clear();
        self.keys.clear();
        self.slots.clear();
        self.last = None;
        self.len = 0;
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys (connections) with items in the current batch.
    pub fn connections(&self) -> usize {
        self.keys.len()
    }

    /// Items queued for `key`.
    pub fn queued(&self, key: K) -> usize {
        self.slots.get(&key).and_then(|&slot| self.queues.get(slot)).map_or(0, Vec::len)
    }

    /// Each key of the current batch with its queue length, in first-arrival order.
    pub fn queue_lengths(&self) -> impl Iterator<Item = (K, usize)> + '_ {
        self.keys.iter().zip(&self.queues).map(|(&k, q)| (k, q.len()))
    }
}

/// A drained batch in mixed order ([`Mixer::drain_mixed`]).
pub struct MixedBatch<'a, K: Copy + Eq + Hash, T> {
    mixer: &'a mut Mixer<K, T>,
    /// The next position in the mixer's shuffled order (batches of two or more keys).
    pos: usize,
}

impl<K: Copy + Eq + Hash, T> MixedBatch<'_, K, T> {
    /// The batch's items in the mixed order, each read where it lies in its queue (no copy
    /// out of the queue); the items are gone once the batch is dropped.
    pub fn by_ref_items(&mut self) -> BatchItems<'_, K, T> {
        let m = &mut *self.mixer;
        BatchItems { keys: &m.keys, queues: &m.queues, order: &m.order, cursors: &mut m.cursors, pos: &mut self.pos }
    }
}

/// The items of a [`MixedBatch`] by reference ([`MixedBatch::by_ref_items`]).
pub struct BatchItems<'a, K, T> {
    keys: &'a [K],
    queues: &'a [Vec<T>],
    order: &'a [usize],
    cursors: &'a mut [usize],
    pos: &'a mut usize,
}

impl<'a, K: Copy, T> Iterator for BatchItems<'a, K, T> {
    type Item = (K, &'a T);

    #[inline]
    fn next(&mut self) -> Option<(K, &'a T)> {
        let slot = if self.keys.len() == 1 {
            0
        } else {
            let slot = *self.order.get(*self.pos)?;
            *self.pos += 1;
            slot
        };
        let cursor = self.cursors.get_mut(slot)?;
        let item = self.queues.get(slot)?.get(*cursor)?;
        *cursor += 1;
        Some((*self.keys.get(slot)?, item))
    }
}

impl<K: Copy + Eq + Hash, T: Clone> Iterator for MixedBatch<'_, K, T> {
    type Item = (K, T);

    fn next(&mut self) -> Option<(K, T)> {
        self.by_ref_items().next().map(|(key, item)| (key, item.clone()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let m = &*self.mixer;
        let left = if m.keys.len() == 1 {
            m.queues.first().map_or(0, Vec::len).saturating_sub(m.cursors.first().copied().unwrap_or(0))
        } else {
            m.order.len().saturating_sub(self.pos)
        };
        (left, Some(left))
    }
}

impl<K: Copy + Eq + Hash, T> Drop for MixedBatch<'_, K, T> {
    /// Whatever the caller did not take is dropped with the batch: the mixer starts empty.
    fn drop(&mut self) {
        let n = self.mixer.keys.len();
        self.mixer.queues.iter_mut().take(n).for_each(Vec::clear);
        self.mixer.clear();
    }
}

#[cfg(test)]
#[path = "mixer_tests.rs"]
mod tests;
