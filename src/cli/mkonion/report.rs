//! What `ork mkonion peel` and `show` print about a layer: text for people, JSON for scripts.

use std::time::Duration;

use ork::onion::Peeled;
use ork::wire::layer::LAYER_VERSION;
use serde::Serialize;

/// Default `--max-onion-lifetime` of a router (protocol.md §5), for a warning only.
const DEFAULT_MAX_LIFETIME_SECS: i64 = 3600;

/// One revealed layer.
#[derive(Debug, Serialize)]
pub struct LayerReport {
    /// 1 for the outer layer.
    pub layer: usize,
    pub version: u8,
    pub back_f: &'static str,
    pub back_f_code: u8,
    pub forw_f: &'static str,
    pub forw_f_code: u8,
    /// `HOST:PORT` of the next router, `None` at the exit.
    pub next_hop: Option<String>,
    pub exit: bool,
    /// Seconds since the Unix epoch.
    pub expiration: u32,
    pub expiration_utc: String,
    /// Negative once expired.
    pub seconds_left: i64,
    pub expired: bool,
    pub key_seed: String,
    pub key1: String,
    pub key2: String,
    pub key3: String,
    /// Where the re-padded inner onion was written, if it was.
    pub inner_onion: Option<String>,
}

/// `expiration` as an RFC 3339 UTC date and time, e.g. `2030-01-01T00:00:00Z`.
pub fn utc(expiration: u32) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(expiration.into())).to_string()
}

impl LayerReport {
    pub fn new(layer: usize, p: &Peeled, now: u64) -> LayerReport {
        let l = &p.layer;
        let seconds_left = i64::from(l.expiration) - i64::try_from(now).unwrap_or(i64::MAX);
        LayerReport {
            layer,
            version: LAYER_VERSION,
            back_f: l.back_f.name(),
            back_f_code: l.back_f.code(),
            forw_f: l.forw_f.name(),
            forw_f_code: l.forw_f.code(),
            next_hop: (!l.is_exit()).then(|| l.next_hop.to_string()),
            exit: l.is_exit(),
            expiration: l.expiration,
            expiration_utc: utc(l.expiration),
            seconds_left,
            expired: seconds_left < 0,
            key_seed: hex::encode(l.seed),
            key1: hex::encode(p.keys.key1),
            key2: hex::encode(p.keys.key2),
            key3: hex::encode(p.keys.key3),
            inner_onion: None,
        }
    }

    /// How long is left, or how long ago it expired.
    fn time_left(&self) -> String {
        let span = humantime::format_duration(Duration::from_secs(self.seconds_left.unsigned_abs()));
        if self.expired {
            format!("EXPIRED {span} ago")
        } else {
            format!("{span} left")
        }
    }

    /// The layer as aligned `name value` lines under `heading`.
    pub fn text(&self, heading: &str) -> String {
        let next = self.next_hop.clone().unwrap_or_else(|| "exit (0.0.0.0:0)".to_string());
        let mut s = format!(
            "{heading}\n  version      {}\n  BackF        {} ({})\n  ForwF        {} ({})\n  next hop     {}\n  \
             expiration   {} ({}), {}\n  key seed     {}\n  key1         {}\n  key2         {}\n  key3         {}\n",
            self.version,
            self.back_f,
            self.back_f_code,
            self.forw_f,
            self.forw_f_code,
            next,
            self.expiration_utc,
            self.expiration,
            self.time_left(),
            self.key_seed,
            self.key1,
            self.key2,
            self.key3,
        );
        if self.seconds_left > DEFAULT_MAX_LIFETIME_SECS {
            s.push_str("  note         expires more than 1h ahead: a router with the default --max-onion-lifetime refuses it\n");
        }
        if let Some(path) = &self.inner_onion {
            s.push_str(&format!("  inner onion  written to {path}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_893_456_000), "2030-01-01T00:00:00Z");
        assert_eq!(utc(u32::MAX), "2106-02-07T06:28:15Z");
    }
}
