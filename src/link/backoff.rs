//! Capped exponential backoff with jitter for redialling neighbours (protocol.md §3: 0.5 s doubling
//! to 30 s).

use std::time::Duration;

use rand::Rng;

pub const INITIAL: Duration = Duration::from_millis(500);
pub const CAP: Duration = Duration::from_secs(30);

/// The delay before the next attempt, doubling per failure up to [`CAP`].
#[derive(Debug, Clone)]
pub struct Backoff {
    current: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { current: INITIAL }
    }
}

impl Backoff {
    /// The next delay (with ±25 % jitter), and double for the time after.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(CAP);
        base.mul_f64(rng.gen_range(0.75..1.25))
    }

    pub fn reset(&mut self) {
        self.current = INITIAL;
    }

    pub fn current(&self) -> Duration {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let mut b = Backoff::default();
        let d: Vec<_> = (0..10).map(|_| b.next_delay(&mut rng)).collect();
        assert!(d[0] >= Duration::from_millis(375) && d[0] <= Duration::from_millis(625));
        assert!(d[9] >= Duration::from_millis(22_500) && d[9] <= Duration::from_millis(37_500));
        assert_eq!(b.current(), CAP);
        b.reset();
        assert_eq!(b.current(), INITIAL);
    }
}
