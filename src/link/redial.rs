//! When a dialler tries again (protocol.md §3): capped exponential backoff with jitter, where a link
//! that closes before its handshake completes, or within `stable_after` (60 s) after, counts as
//! a failed attempt. Shared by a router's lower neighbours and the anonymous uplink.

use std::time::{Duration, Instant};

use rand::Rng;

use super::backoff::Backoff;

/// The dial schedule of one peer.
#[derive(Debug, Clone, Default)]
pub struct Redial {
    backoff: Backoff,
    next: Option<Instant>,
}

impl Redial {
    /// Dial at `at` (start-up, or at once after a wake-up).
    pub fn at(&mut self, at: Instant) {
        self.next = Some(at);
    }

    /// Whether a dial is due now.
    pub fn due(&self, now: Instant) -> bool {
        self.next.is_some_and(|t| t <= now)
    }

    /// When the next dial is due, if one is planned.
    pub fn next(&self) -> Option<Instant> {
        self.next
    }

    /// A dial started: nothing more is planned until it ends.
    pub fn dialling(&mut self) {
        self.next = None;
    }

    /// Forget past failures (a wake-up from the peer: it is up again).
    pub fn reset(&mut self) {
        self.backoff.reset();
    }

    /// The link (or attempt) ended at `now`; it was keyed at `established`, if ever. Plans the
    /// next dial and returns its delay.
    pub fn lost(
        &mut self,
        now: Instant,
        established: Option<Instant>,
        stable_after: Duration,
        rng: &mut impl Rng,
    ) -> Duration {
        if established.is_some_and(|t| now >= t + stable_after) {
            self.backoff.reset();
        }
        let delay = self.backoff.next_delay(rng);
        self.next = Some(now + delay);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn short_lived_links_back_off_and_stable_ones_reset() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let t0 = Instant::now();
        let stable = Duration::from_secs(60);
        let mut r = Redial::default();
        let d1 = r.lost(t0, None, stable, &mut rng);
        let d2 = r.lost(t0, Some(t0), stable, &mut rng);
        let d3 = r.lost(t0, Some(t0), stable, &mut rng);
        assert!(d1 < Duration::from_millis(700) && d3 > Duration::from_millis(1400), "{d1:?} {d2:?} {d3:?}");
        let d4 = r.lost(t0 + stable, Some(t0), stable, &mut rng);
        assert!(d4 < Duration::from_millis(700), "a link up 60 s resets the backoff: {d4:?}");
        assert!(r.due(t0 + stable + d4) && !r.due(t0 + stable));
        r.dialling();
        assert_eq!(r.next(), None);
    }
}
