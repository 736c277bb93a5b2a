//! The per-link onion rate limit: a token bucket per link, so that one client cannot spend the
//! router's CPU on RSA private operations. An onion beyond the limit is refused (DESTROY) before
//! it is decrypted.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Refill rate and bucket size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnionRate {
    /// Onions per second a link may sustain.
    pub per_second: f64,
    /// Onions a link may send at once after a quiet spell.
    pub burst: u32,
}

impl Default for OnionRate {
    /// 50 onions per second with a burst of 200: far above what any onion proxy builds, far
    /// below what a router can decrypt.
    fn default() -> Self {
        OnionRate { per_second: 50.0, burst: 200 }
    }
}

/// Buckets kept before full ones (indistinguishable from a fresh bucket) are dropped.
const PRUNE_ABOVE: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per link (`L` is the link's id). A link without a bucket has a full one.
#[derive(Debug)]
pub struct OnionRateLimit<L> {
    rate: OnionRate,
    buckets: HashMap<L, Bucket>,
}

impl<L: Copy + Eq + Hash> OnionRateLimit<L> {
    pub fn new(rate: OnionRate) -> Self {
        OnionRateLimit { rate, buckets: HashMap::new() }
    }

    /// Take one token for an onion on `link` at `now`; `false` if its bucket is empty.
    pub fn admit(&mut self, link: L, now: Instant) -> bool {
        if self.buckets.len() > PRUNE_ABOVE {
            let rate = self.rate;
            self.buckets.retain(|_, b| refilled(rate, *b, now) < f64::from(rate.burst));
        }
        let rate = self.rate;
        let b = self.buckets.entry(link).or_insert(Bucket { tokens: f64::from(rate.burst), at: now });
        b.tokens = refilled(rate, *b, now);
        b.at = now.max(b.at);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Links with a bucket below full (for tests and the status file).
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

/// Tokens in `b` at `now` (never more than the burst).
fn refilled(rate: OnionRate, b: Bucket, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(b.at).min(Duration::from_secs(3600));
    (b.tokens + elapsed.as_secs_f64() * rate.per_second).min(f64::from(rate.burst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate_then_refill_per_link() {
        let t0 = Instant::now();
        let mut l = OnionRateLimit::new(OnionRate { per_second: 50.0, burst: 200 });
        let admitted = (0..300).filter(|_| l.admit(1, t0)).count();
        assert_eq!(admitted, 200, "the burst");
        assert!(l.admit(2, t0), "another link has its own bucket");
        // One second later: 50 more, no more.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!((0..100).filter(|_| l.admit(1, t1)).count(), 50);
        // Ten quiet seconds fill the bucket to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(10);
        assert_eq!((0..1000).filter(|_| l.admit(1, t2)).count(), 200);
        // A clock going backwards takes nothing and gives nothing.
        assert!(!l.admit(1, t0));
    }

    #[test]
    fn full_buckets_are_forgotten() {
        let t0 = Instant::now();
        let mut l = OnionRateLimit::new(OnionRate { per_second: 10.0, burst: 2 });
        for link in 0..1000u64 {
            l.admit(link, t0);
        }
        assert_eq!(l.tracked(), 1000, "none had refilled yet");
        l.admit(5000, t0 + Duration::from_secs(1));
        assert_eq!(l.tracked(), 1, "every older bucket had refilled");
    }
}
