//! What `ork mkonion peel` and `show` print about a layer: text for people, JSON for scripts.

use std::time::Duration;

use ork::onion::Peeled;
use ork::reply::Tag;
use ork::wire::layer::LayerKind;
use serde::Serialize;

/// Default `--max-onion-lifetime` of a router (protocol.md §5), for a warning only.
const DEFAULT_MAX_LIFETIME_SECS: i64 = 3600;
/// Default `--max-reply-lifetime` of a router (§15), for a warning only.
const DEFAULT_MAX_REPLY_LIFETIME_SECS: i64 = 24 * 3600;

/// One revealed layer.
#[derive(Debug, Serialize)]
pub struct LayerReport {
    /// 1 for the outer layer.
    pub layer: usize,
    pub version: u8,
    /// `ordinary`, `reply relay` or `reply endpoint`.
    pub kind: &'static str,
    pub back_f: &'static str,
    pub back_f_code: u8,
    pub forw_f: &'static str,
    pub forw_f_code: u8,
    /// `HOST:PORT` of the next router, `None` at the exit.
    pub next_hop: Option<String>,
    pub exit: bool,
    /// The owner's reply endpoint (a reply endpoint layer only).
    pub endpoint: Option<String>,
    /// The tag hn sends the endpoint (a reply endpoint layer only).
    pub tag: Option<String>,
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
        let endpoint = (l.kind == LayerKind::ReplyEndpoint).then_some(l.next_hop);
        LayerReport {
            layer,
            version: l.kind.version(),
            kind: match l.kind {
                LayerKind::Ordinary => "ordinary",
                LayerKind::ReplyRelay => "reply relay",
                LayerKind::ReplyEndpoint => "reply endpoint",
            },
            back_f: l.back_f.name(),
            back_f_code: l.back_f.code(),
            forw_f: l.forw_f.name(),
            forw_f_code: l.forw_f.code(),
            next_hop: (!l.is_exit() && endpoint.is_none()).then(|| l.next_hop.to_string()),
            exit: l.is_exit(),
            endpoint: endpoint.map(|e| e.to_string()),
            tag: endpoint.map(|_| Tag::from_seed(&l.seed).to_hex()),
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
        let next = match (&self.next_hop, &self.endpoint) {
            (Some(hop), _) => hop.clone(),
            (None, Some(e)) => format!("reply endpoint {e}"),
            (None, None) => "exit (0.0.0.0:0)".to_string(),
        };
        let mut s = format!(
            "{heading}\n  version      {} ({})\n  BackF        {} ({})\n  ForwF        {} ({})\n  next hop     {}\n  \
             expiration   {} ({}), {}\n  key seed     {}\n  key1         {}\n  key2         {}\n  key3         {}\n",
            self.version,
            self.kind,
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
        if let Some(tag) = &self.tag {
            s.push_str(&format!("  tag          {tag}\n"));
        }
        if self.kind == "ordinary" && self.seconds_left > DEFAULT_MAX_LIFETIME_SECS {
            s.push_str("  note         expires more than 1h ahead: a router with the default --max-onion-lifetime refuses it\n");
        }
        if self.kind != "ordinary" && self.seconds_left > DEFAULT_MAX_REPLY_LIFETIME_SECS {
            s.push_str("  note         expires more than 24h ahead: a router with the default --max-reply-lifetime refuses it\n");
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
