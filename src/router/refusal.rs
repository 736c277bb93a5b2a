//! Why a router refused an onion (answered it with DESTROY), as a closed set of reasons: logged
//! in words with the ACI, and counted by a short readable name in `ork status --json`
//! (`onions_refused`).

use std::fmt;
use std::time::Duration;

use crate::onion::OnionError;

use super::replay::ReplayRefusal;

/// Refusal lines logged per reason per [`REFUSAL_LOG_INTERVAL`]; the rest are counted, and the
/// next line says how many were left out (a flood of bad CREATEs costs a few lines a minute).
pub const REFUSAL_LOG_LINES: u32 = 20;
/// See [`REFUSAL_LOG_LINES`].
pub const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The reason an onion (a connection being created) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnionRefusal {
    /// A CREATE cell's length byte is 0, too large, or overflows the 240-byte onion.
    BadCreateLength,
    /// Too many onions are being reassembled (on this link or in all).
    TooManyInProgress,
    /// The onion's CREATE cells did not all arrive within the CREATE timeout.
    CreateTimeout,
    /// More DATA cells arrived before the onion was complete than a router holds.
    TooMuchEarlyData,
    /// The link sends onions faster than its token bucket allows (`--onion-rate`).
    RateLimited,
    /// The layer's expiration time has passed.
    Expired,
    /// The layer expires further ahead than `--max-onion-lifetime` allows.
    TooFarAhead,
    /// The layer does not decrypt with this router's key.
    Undecryptable,
    /// The layer decrypts but is malformed.
    BadOnion,
    /// The layer's key seed was seen before.
    Replayed,
    /// The replay cache is full.
    ReplayCacheFull,
    /// The replay cache could not be written, so the seed would not survive a restart.
    ReplayWriteFailed,
    /// The next hop is not a neighbour, or its link is down.
    NextHopUnreachable,
    /// Every ACI of this router's half on the next link is in use.
    NoFreeAci,
}

impl OnionRefusal {
    /// The reason in words, for log lines.
    pub fn describe(self) -> &'static str {
        match self {
            OnionRefusal::BadCreateLength => "bad CREATE length",
            OnionRefusal::TooManyInProgress => "too many onions in progress",
            OnionRefusal::CreateTimeout => "CREATE never completed",
            OnionRefusal::TooMuchEarlyData => "too many DATA cells before the onion",
            OnionRefusal::RateLimited => "onion rate limit",
            OnionRefusal::Expired => "expired",
            OnionRefusal::TooFarAhead => "expiration too far ahead",
            OnionRefusal::Undecryptable => "undecryptable layer",
            OnionRefusal::BadOnion => "bad onion",
            OnionRefusal::Replayed => "replayed",
            OnionRefusal::ReplayCacheFull => "replay cache full",
            OnionRefusal::ReplayWriteFailed => "replay cache write failed",
            OnionRefusal::NextHopUnreachable => "next hop not a neighbour or its link is down",
            OnionRefusal::NoFreeAci => "no free ACI on the next link",
        }
    }

    /// The reason for a layer that did not peel.
    pub fn from_peel(e: &OnionError) -> OnionRefusal {
        match e {
            OnionError::Expired { .. } => OnionRefusal::Expired,
            OnionError::TooFarAhead { .. } => OnionRefusal::TooFarAhead,
            OnionError::Layer(_) | OnionError::Rsa(_) => OnionRefusal::Undecryptable,
            _ => OnionRefusal::BadOnion,
        }
    }

    /// The reason for a key seed the replay cache did not take.
    pub fn from_replay(e: &ReplayRefusal) -> OnionRefusal {
        match e {
            ReplayRefusal::Replayed => OnionRefusal::Replayed,
            ReplayRefusal::Full => OnionRefusal::ReplayCacheFull,
            ReplayRefusal::Io(_) => OnionRefusal::ReplayWriteFailed,
        }
    }
}

impl fmt::Display for OnionRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_status_file_are_short_and_readable() {
        let json = serde_json::to_string(&OnionRefusal::TooManyInProgress).unwrap();
        assert_eq!(json, "\"too-many-in-progress\"");
        let back: OnionRefusal = serde_json::from_str("\"create-timeout\"").unwrap();
        assert_eq!(back, OnionRefusal::CreateTimeout);
        assert_eq!(OnionRefusal::CreateTimeout.to_string(), "CREATE never completed");
    }

    #[test]
    fn replay_refusals_map_one_to_one() {
        assert_eq!(OnionRefusal::from_replay(&ReplayRefusal::Replayed), OnionRefusal::Replayed);
        assert_eq!(OnionRefusal::from_replay(&ReplayRefusal::Full), OnionRefusal::ReplayCacheFull);
    }
}
