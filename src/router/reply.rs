//! Reply onions at a router (protocol.md §15): the reply settings (`--max-reply-lifetime`,
//! `--no-reply-onions`, `--max-reply-cache`, `--max-reply-rate`), the reply seeds' own replay
//! quota and per-link rate, and the checks every peel goes through. The endpoint leg at hn is
//! in `reply_leg.rs`, the exit's protocol-6 splice in `splice.rs`.

use std::time::Duration;

use super::onion_rate::{OnionRate, OnionRateLimit};
use super::refusal::OnionRefusal;
use super::replay::{ReplayCache, ReplayRefusal};
use crate::event::{Now, SockId};
use crate::wire::layer::SEED_LEN;

/// What a router does with reply onions.
#[derive(Debug, Clone, Copy)]
pub struct ReplySettings {
    /// Longest time between now and a reply onion's expiration; `None` refuses reply layers
    /// like a bad version (`--no-reply-onions`).
    pub max_lifetime: Option<Duration>,
    /// Reply onions per link (token bucket); beyond it DESTROY.
    pub rate: OnionRate,
}

impl Default for ReplySettings {
    /// 24 h, one reply onion per second per link with a burst of 10.
    fn default() -> Self {
        ReplySettings {
            max_lifetime: Some(Duration::from_secs(24 * 3600)),
            rate: OnionRate { per_second: 1.0, burst: 10 },
        }
    }
}

/// Default size of the reply seeds' replay quota (`--max-reply-cache`).
pub const DEFAULT_REPLY_CACHE: usize = 100_000;

/// The reply onions' state at a router: settings, their replay cache (own quota, own file) and
/// their per-link rate.
#[derive(Debug)]
pub struct ReplyPart {
    settings: ReplySettings,
    cache: ReplayCache,
    rate: OnionRateLimit<SockId>,
}

impl Default for ReplyPart {
    fn default() -> Self {
        ReplyPart::new(ReplySettings::default(), ReplayCache::new(DEFAULT_REPLY_CACHE))
    }
}

impl ReplyPart {
    /// `cache` holds reply seeds only (open it on `STATE-DIR/reply` so it has its own file).
    pub fn new(settings: ReplySettings, cache: ReplayCache) -> ReplyPart {
        ReplyPart { settings, rate: OnionRateLimit::new(settings.rate), cache }
    }

    /// Reply seeds held.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Drop expired reply seeds.
    pub fn expire(&mut self, now_unix: u64) {
        self.cache.expire(now_unix);
    }
}

impl ReplyPart {
    /// How far ahead a reply layer may expire (`None`: reply onions refused).
    pub fn max_lifetime(&self) -> Option<Duration> {
        self.settings.max_lifetime
    }

    /// Admit a reply layer's key seed: the link's reply rate, then the reply seeds' own quota.
    pub fn admit(
        &mut self,
        link: SockId,
        now: Now,
        seed: &[u8; SEED_LEN],
        expiration: u32,
    ) -> Result<(), OnionRefusal> {
        if !self.rate.admit(link, now.mono) {
            return Err(OnionRefusal::ReplyRateLimited);
        }
        self.cache.check_and_insert(seed, expiration, now.unix).map_err(|e| match e {
            ReplayRefusal::Full => OnionRefusal::ReplyCacheFull,
            e => OnionRefusal::from_replay(&e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_protocol() {
        let s = ReplySettings::default();
        assert_eq!(s.max_lifetime, Some(Duration::from_secs(86_400)));
        assert_eq!((s.rate.per_second, s.rate.burst), (1.0, 10));
        assert_eq!(ReplyPart::default().cached(), 0);
    }
}
