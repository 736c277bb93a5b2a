//! The router's one-shot timers (exit retries, jittered DESTROYs, CREATE reassembly timeouts),
//! ordered by due time, with an index of the DESTROYs still held back so that a crossing
//! DESTROY can ask "is ours still waiting?" in constant time. A scan of every timer there made
//! each hostile DESTROY cost O(timers) (thousands under a CREATE flood).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::conn_table::ConnId;
use crate::event::SockId;
use crate::wire::Aci;

/// Something to do later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Try the exit connection again.
    ExitRetry(ConnId),
    /// Send a DESTROY held back by the destroy jitter.
    Destroy(SockId, Aci),
    /// Give up on a CREATE reassembly begun at this instant if it is still incomplete.
    CreateTimeout(SockId, Aci, Instant),
}

/// Pending timers.
#[derive(Debug, Default)]
pub(super) struct Timers {
    queue: BTreeMap<(Instant, u64), Timer>,
    seq: u64,
    /// (link, ACI) → number of `Timer::Destroy` for it still in `queue`.
    held_destroys: HashMap<(SockId, Aci), u32>,
}

impl Timers {
    /// Fire `timer` at `at` (timers due at the same instant fire in the order they were set).
    pub fn set(&mut self, at: Instant, timer: Timer) {
        self.seq += 1;
        self.queue.insert((at, self.seq), timer);
        if let Timer::Destroy(link, aci) = timer {
            *self.held_destroys.entry((link, aci)).or_default() += 1;
        }
    }

    /// When the earliest timer is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.keys().next().map(|k| k.0)
    }

    /// Take the earliest timer if it is due by `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let entry = self.queue.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        let timer = entry.remove();
        if let Timer::Destroy(link, aci) = timer {
            if let Some(n) = self.held_destroys.get_mut(&(link, aci)) {
                *n -= 1;
                if *n == 0 {
                    self.held_destroys.remove(&(link, aci));
                }
            }
        }
        Some(timer)
    }

    /// Whether a DESTROY for (link, ACI) still waits for its jitter timer.
    pub fn destroy_held(&self, link: SockId, aci: Aci) -> bool {
        self.held_destroys.contains_key(&(link, aci))
    }

    /// Timers pending.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SockIds;
    use std::time::Duration;

    #[test]
    fn timers_fire_in_due_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut ids = SockIds::default();
        let link = ids.fresh();
        let mut t = Timers::default();
        t.set(t0 + Duration::from_millis(20), Timer::ExitRetry(ConnId(2)));
        t.set(t0 + Duration::from_millis(10), Timer::ExitRetry(ConnId(1)));
        t.set(t0 + Duration::from_millis(10), Timer::Destroy(link, Aci(5)));
        assert_eq!(t.next_due(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(t.pop_due(t0 + Duration::from_millis(9)), None);
        assert_eq!(t.pop_due(t0 + Duration::from_millis(10)), Some(Timer::ExitRetry(ConnId(1))));
        assert_eq!(t.pop_due(t0 + Duration::from_millis(10)), Some(Timer::Destroy(link, Aci(5))));
        assert_eq!(t.pop_due(t0 + Duration::from_millis(10)), None);
        assert_eq!(t.pop_due(t0 + Duration::from_millis(30)), Some(Timer::ExitRetry(ConnId(2))));
        assert_eq!((t.len(), t.next_due()), (0, None));
    }

    #[test]
    fn held_destroys_are_indexed_until_their_timer_fires() {
        let t0 = Instant::now();
        let mut ids = SockIds::default();
        let (a, b) = (ids.fresh(), ids.fresh());
        let mut t = Timers::default();
        t.set(t0, Timer::Destroy(a, Aci(1)));
        t.set(t0 + Duration::from_millis(5), Timer::Destroy(a, Aci(1)));
        t.set(t0, Timer::CreateTimeout(b, Aci(1), t0));
        assert!(t.destroy_held(a, Aci(1)));
        assert!(!t.destroy_held(b, Aci(1)), "a CREATE timeout is not a held DESTROY");
        assert!(!t.destroy_held(a, Aci(2)));
        t.pop_due(t0);
        assert!(t.destroy_held(a, Aci(1)), "the second DESTROY timer still holds");
        while t.pop_due(t0 + Duration::from_millis(5)).is_some() {}
        assert!(!t.destroy_held(a, Aci(1)));
        assert!(t.held_destroys.is_empty(), "no entries left behind");
    }
}
