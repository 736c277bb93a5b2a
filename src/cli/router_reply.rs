//! `ork router`'s reply-onion flags (protocol.md §15): lifetime, refusal, the reply seeds' own
//! replay quota (kept in `STATE-DIR/reply/`) and the per-link reply rate.

use std::path::Path;
use std::time::Duration;

use ork::router::{OnionRate, ReplayCache, ReplyPart, ReplySettings};

use super::args::parse_duration;

/// Reply-onion settings of a router.
#[derive(Debug, clap::Args)]
pub struct ReplyArgs {
    /// Longest accepted time between now and a reply onion's expiration.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub max_reply_lifetime: Duration,
    /// Refuse reply onions (layer versions 2 and 3) like a bad version.
    #[arg(long)]
    pub no_reply_onions: bool,
    /// Largest number of reply onions' key seeds held against replay (their own quota: when it
    /// is full only reply onions are refused).
    #[arg(long, value_name = "N", default_value_t = ork::router::reply::DEFAULT_REPLY_CACHE)]
    pub max_reply_cache: usize,
    /// Reply onions per second each link may sustain; more are refused with DESTROY.
    #[arg(long, value_name = "ONIONS/S", default_value_t = 1.0)]
    pub max_reply_rate: f64,
    /// Reply onions a link may send at once after a quiet spell.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub reply_burst: u32,
}

impl ReplyArgs {
    /// The router's reply part; the reply seeds persist in `STATE-DIR/reply/` when there is one.
    pub fn part(&self, state_dir: Option<&Path>, now_unix: u64, fsync: bool) -> anyhow::Result<ReplyPart> {
        if !(self.max_reply_rate > 0.0 && self.max_reply_rate.is_finite()) || self.reply_burst == 0 {
            return Err(super::ConfigError::msg(
                "--max-reply-rate must be a positive number and --reply-burst at least 1",
            ));
        }
        let settings = ReplySettings {
            max_lifetime: (!self.no_reply_onions).then_some(self.max_reply_lifetime),
            rate: OnionRate { per_second: self.max_reply_rate, burst: self.reply_burst },
        };
        let cache = match state_dir {
            Some(dir) => ork::net::replay_file::open_cache(&dir.join("reply"), self.max_reply_cache, now_unix, fsync)
                .map_err(|e| super::ConfigError::msg(e.to_string()))?,
            None => ReplayCache::new(self.max_reply_cache),
        };
        Ok(ReplyPart::new(settings, cache))
    }
}
