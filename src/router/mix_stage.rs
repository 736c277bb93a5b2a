//! The router's mixing stage: the [`Mixer`] with its batch clock ([`BatchTiming`]) and a memory
//! cap. Cells go in as they are crypted; a batch comes out, in mixed order, when it is due or
//! when the cap is reached.

use std::hash::Hash;
use std::time::Instant;

use rand::{CryptoRng, RngCore};

use super::mixer::{BatchTiming, Mixer};

/// Cells the mixer may hold before it flushes early, bounding memory.
pub const MIXER_CAP: usize = 65_536;

/// Cells waiting for their batch to leave.
pub(super) struct MixStage<K: Copy + Eq + Hash, T> {
    mixer: Mixer<K, T>,
    timing: BatchTiming,
    /// When the current batch's first cell arrived.
    first: Option<Instant>,
    due: Option<Instant>,
    cap: usize,
    /// The last batch's buffer, kept for its capacity.
    spare: Vec<(K, T)>,
}

impl<K: Copy + Eq + Hash, T> MixStage<K, T> {
    pub fn new(timing: BatchTiming, cap: usize) -> Self {
        MixStage { mixer: Mixer::new(), timing, first: None, due: None, cap, spare: Vec::new() }
    }

    /// Queue `item` under `key` at `now`. True when the cap is reached: take the batch now.
    pub fn push(&mut self, now: Instant, key: K, item: T) -> bool {
        self.mixer.push(key, item);
        let first = *self.first.get_or_insert(now);
        self.due = Some(self.timing.due(first, self.mixer.connections()));
        self.mixer.len() >= self.cap
    }

    /// When the current batch must leave.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The batch in a CSPRNG-chosen interleaving that keeps each key's order (empty when
    /// nothing waits). Hand the vector back with [`MixStage::recycle`] to reuse its memory.
    pub fn take_batch(&mut self, rng: &mut (impl RngCore + CryptoRng)) -> Vec<(K, T)> {
        self.due = None;
        self.first = None;
        let mut out = std::mem::take(&mut self.spare);
        out.clear();
        if !self.mixer.is_empty() {
            self.mixer.drain(rng, &mut out);
        }
        out
    }

    pub fn recycle(&mut self, mut batch: Vec<(K, T)>) {
        batch.clear();
        self.spare = batch;
    }

    /// Cells waiting.
    pub fn len(&self) -> usize {
        self.mixer.len()
    }

    /// Each key of the current batch with its queue length.
    pub fn queue_lengths(&self) -> impl Iterator<Item = (K, usize)> + '_ {
        self.mixer.queue_lengths()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::time::Duration;

    #[test]
    fn a_batch_is_due_by_its_timing_and_leaves_at_the_cap() {
        let t0 = Instant::now();
        let timing = BatchTiming { interval: Duration::from_millis(10), lone_wait: Duration::from_millis(1) };
        let mut stage = MixStage::new(timing, 4);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(stage.due(), None);
        assert!(!stage.push(t0, 'a', 1));
        assert_eq!(stage.due(), Some(t0 + Duration::from_millis(1)), "one connection: the lone wait");
        assert!(!stage.push(t0 + Duration::from_micros(500), 'b', 2));
        assert_eq!(stage.due(), Some(t0 + Duration::from_millis(10)), "two: the whole interval from the first");
        assert!(!stage.push(t0, 'a', 3));
        assert!(stage.push(t0, 'b', 4), "the cap");
        let batch = stage.take_batch(&mut rng);
        assert_eq!(batch.len(), 4);
        assert_eq!((stage.len(), stage.due()), (0, None));
        stage.recycle(batch);
        assert!(stage.take_batch(&mut rng).is_empty());
    }
}
