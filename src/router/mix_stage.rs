//! The router's mixing stage: the [`Mixer`] with its batch clock ([`BatchTiming`]) and a memory
//! cap. Cells go in as they are crypted; a batch comes out, in mixed order, when it is due or
//! when the cap is reached.

use std::hash::Hash;
use std::time::Instant;

use rand::{CryptoRng, RngCore};

use super::mixer::{BatchTiming, MixedBatch, Mixer};

/// Cells the mixer may hold before it flushes early, bounding memory.
pub const MIXER_CAP: usize = 65_536;

/// Cells waiting for their batch to leave.
///
/// The batch clock ([`BatchTiming`]) asks whether the batch holds cells of more than one
/// anonymous connection. A connection has two keys (its link and ACI on either side): cells
/// going both ways through one connection are still one connection, with nothing to mix them
/// with, so the caller says which keys belong together.
pub(super) struct MixStage<K: Copy + Eq + Hash, T> {
    mixer: Mixer<K, T>,
    timing: BatchTiming,
    /// When the current batch's first cell arrived.
    first: Option<Instant>,
    due: Option<Instant>,
    cap: usize,
    /// The current batch's first key, and another key found to be of the same connection.
    first_key: Option<K>,
    same_as_first: Option<K>,
    /// Whether the batch holds cells of a second connection.
    company: bool,
}

impl<K: Copy + Eq + Hash, T> MixStage<K, T> {
    pub fn new(timing: BatchTiming, cap: usize) -> Self {
        MixStage {
            mixer: Mixer::new(),
            timing,
            first: None,
            due: None,
            cap,
            first_key: None,
            same_as_first: None,
            company: false,
        }
    }

    /// Queue `item` under `key` at `now`. `counts` says whether the item may bring company:
    /// the router passes false for a DESTROY (a connection's end), which is mixed in but never
    /// makes the batch wait longer. `same_connection(a, b)` tells whether two keys are the two
    /// sides of one connection (asked only while the batch seems to hold one connection, about a
    /// key it has not matched yet). True when the cap is reached: take the batch now.
    pub fn push(
        &mut self,
        now: Instant,
        key: K,
        item: T,
        counts: bool,
        same_connection: impl FnOnce(&K, &K) -> bool,
    ) -> bool {
        self.mixer.push(key, item);
        let starts = self.first.is_none();
        let joined = match self.first_key {
            _ if !counts => false,
            None => {
                self.first_key = Some(key);
                false
            }
            Some(first) if !self.company && key != first && self.same_as_first != Some(key) => {
                if same_connection(&first, &key) {
                    self.same_as_first = Some(key);
                    false
                } else {
                    self.company = true;
                    true
                }
            }
            Some(_) => false,
        };
        // The deadline changes only with the first cell and when a second connection joins.
        if starts || joined {
            let first = *self.first.get_or_insert(now);
            self.due = Some(self.timing.due(first, if self.company { 2 } else { 1 }));
        }
        self.mixer.len() >= self.cap
    }

    /// When the current batch must leave.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The batch in a CSPRNG-chosen interleaving that keeps each key's order (empty when
    /// nothing waits); the stage is empty once the iterator is dropped.
    pub fn take_batch(&mut self, now: Instant, rng: &mut (impl RngCore + CryptoRng)) -> MixedBatch<'_, K, T> {
        if let Some(first) = self.first {
            log::trace!(
                "batch: {} cell(s), {} key(s), {}, held {:?}",
                self.mixer.len(),
                self.mixer.connections(),
                if self.company { "several connections" } else { "one connection" },
                now.saturating_duration_since(first)
            );
        }
        self.due = None;
        self.first = None;
        self.first_key = None;
        self.same_as_first = None;
        self.company = false;
        self.mixer.drain_mixed(rng)
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
        let apart = |_: &char, _: &char| false;
        assert!(!stage.push(t0, 'a', 1, true, apart));
        assert_eq!(stage.due(), Some(t0 + Duration::from_millis(1)), "one connection: the lone wait");
        assert!(!stage.push(t0 + Duration::from_micros(500), 'b', 2, true, apart));
        assert_eq!(stage.due(), Some(t0 + Duration::from_millis(10)), "two: the whole interval from the first");
        assert!(!stage.push(t0, 'a', 3, true, apart));
        assert!(stage.push(t0, 'b', 4, true, apart), "the cap");
        assert_eq!(stage.take_batch(t0, &mut rng).count(), 4);
        assert_eq!((stage.len(), stage.due()), (0, None));
        assert_eq!(stage.take_batch(t0, &mut rng).count(), 0);
    }

    #[test]
    fn both_directions_of_one_connection_are_one_connection() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut stage = MixStage::new(BatchTiming { interval: ms(10), lone_wait: ms(1) }, 100);
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        // 'a' and 'A' are the two sides of one connection, 'b' another connection.
        let asked = std::cell::Cell::new(0);
        let same = |x: &char, y: &char| {
            asked.set(asked.get() + 1);
            x.eq_ignore_ascii_case(y)
        };
        stage.push(t0, 'a', 1, true, same);
        stage.push(t0, 'A', 2, true, same);
        stage.push(t0, 'A', 3, true, same);
        stage.push(t0, 'a', 4, true, same);
        assert_eq!(stage.due(), Some(t0 + ms(1)), "forward and backward cells of one connection: the lone wait");
        assert_eq!(asked.get(), 1, "a key already matched is not asked about again");
        stage.push(t0 + ms(2), 'b', 5, true, same);
        assert_eq!(stage.due(), Some(t0 + ms(10)), "a second connection: the whole interval");
        assert_eq!(stage.take_batch(t0 + ms(10), &mut rng).count(), 5);
        stage.push(t0 + ms(20), 'b', 6, true, same);
        assert_eq!(stage.due(), Some(t0 + ms(21)), "a new batch starts alone");
    }

    #[test]
    fn an_item_that_does_not_count_never_holds_a_batch() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut stage = MixStage::new(BatchTiming { interval: ms(10), lone_wait: ms(1) }, 100);
        let apart = |_: &char, _: &char| false;
        // The DESTROYs of ended connections 'd' and 'e' around a new connection's data 'n'.
        stage.push(t0, 'd', 0, false, apart);
        assert_eq!(stage.due(), Some(t0 + ms(1)));
        stage.push(t0, 'n', 1, true, apart);
        stage.push(t0, 'e', 2, false, apart);
        assert_eq!(stage.due(), Some(t0 + ms(1)), "only one connection with data: the lone wait");
        stage.push(t0, 'm', 3, true, apart);
        assert_eq!(stage.due(), Some(t0 + ms(10)), "a second connection with data: the whole interval");
    }
}
