//! Rate-limited log lines: at most a few lines per key (a peer address, a refusal reason) per
//! interval, the first line of the next interval saying how many were left out. Hostile input
//! must cost the operator's log a bounded number of lines, not one per cell.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Keys remembered at once; beyond it the ones whose interval has ended are dropped, and a key
/// that still finds no room is not logged.
const MAX_KEYS: usize = 4096;

#[derive(Debug)]
struct Window {
    start: Instant,
    logged: u32,
    skipped: u64,
}

/// Per-key budget of `lines` lines every `interval`.
#[derive(Debug)]
pub struct LogLimit<K> {
    lines: u32,
    interval: Duration,
    keys: HashMap<K, Window>,
}

impl<K: Hash + Eq> LogLimit<K> {
    /// At most `lines` lines per key every `interval`.
    pub fn new(lines: u32, interval: Duration) -> Self {
        LogLimit { lines: lines.max(1), interval, keys: HashMap::new() }
    }

    /// Something worth a line happened for `key` at `now`. `Some(n)`: log it, and say that `n`
    /// lines were left out before it; `None`: leave it out (it is counted).
    pub fn allow(&mut self, now: Instant, key: K) -> Option<u64> {
        if let Some(w) = self.keys.get_mut(&key) {
            if now < w.start + self.interval {
                if w.logged < self.lines {
                    w.logged += 1;
                    return Some(0);
                }
                w.skipped += 1;
                return None;
            }
            let skipped = w.skipped;
            *w = Window { start: now, logged: 1, skipped: 0 };
            return Some(skipped);
        }
        if self.keys.len() >= MAX_KEYS {
            let interval = self.interval;
            self.keys.retain(|_, w| now < w.start + interval);
            if self.keys.len() >= MAX_KEYS {
                return None;
            }
        }
        self.keys.insert(key, Window { start: now, logged: 1, skipped: 0 });
        Some(0)
    }

    /// " (N more in the interval before, not logged)" for a line that follows left-out ones.
    pub fn more(skipped: u64, interval: Duration) -> String {
        if skipped == 0 {
            return String::new();
        }
        format!(" ({skipped} more in the {} before, not logged)", humantime::format_duration(interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_lines_per_key_then_a_count() {
        let t0 = Instant::now();
        let mut log = LogLimit::new(3, Duration::from_secs(10));
        let out: Vec<_> = (0..10).map(|i| log.allow(t0 + Duration::from_millis(i), "a")).collect();
        assert_eq!(out.iter().filter(|o| o.is_some()).count(), 3);
        assert_eq!(log.allow(t0, "b"), Some(0), "another key has its own budget");
        assert_eq!(log.allow(t0 + Duration::from_secs(10), "a"), Some(7), "the next interval reports the 7 left out");
        assert_eq!(log.allow(t0 + Duration::from_secs(11), "a"), Some(0));
    }

    #[test]
    fn the_key_table_stays_bounded() {
        let t0 = Instant::now();
        let mut log = LogLimit::new(1, Duration::from_secs(60));
        for k in 0..MAX_KEYS as u32 {
            assert_eq!(log.allow(t0, k), Some(0));
        }
        assert_eq!(log.allow(t0, u32::MAX), None, "no room while every interval runs");
        assert_eq!(log.allow(t0 + Duration::from_secs(60), u32::MAX), Some(0), "room once they ended");
        assert!(log.keys.len() <= MAX_KEYS);
    }

    #[test]
    fn more_says_how_many() {
        assert_eq!(LogLimit::<u8>::more(0, Duration::from_secs(60)), "");
        assert_eq!(LogLimit::<u8>::more(5, Duration::from_secs(60)), " (5 more in the 1m before, not logged)");
    }
}
