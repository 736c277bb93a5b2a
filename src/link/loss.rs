//! Why a link ended, as a closed set of readable reasons: logged on one line with the peer,
//! and counted by name in a router's `ork status --json` (`links_lost`).

use std::fmt;

/// The reason a link (or a link attempt) is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkLoss {
    /// The TCP connection could not be made.
    ConnectFailed,
    /// The STS handshake failed (bad signature, unknown identity, bad DH value, ...).
    HandshakeFailed,
    /// The STS handshake did not finish within 10 s (protocol.md §3).
    HandshakeTimeout,
    /// Nothing arrived for 90 s (protocol.md §3 liveness).
    Silent,
    /// The peer closed the connection.
    ClosedByPeer,
    /// The socket failed (reset, error).
    SocketError,
    /// A cell decrypted to an unknown command: the keystreams are out of step (protocol.md §1).
    ProtocolError,
    /// A peer that must be an anonymous client authenticated as a router, or the reverse.
    WrongPeerKind,
    /// A newer link with the same neighbour replaced this one.
    Replaced,
    /// The neighbour restarted (it woke us up): this link is stale.
    Stale,
    /// A wake-up link did its job and is closed (protocol.md §3).
    WakeupDone,
    /// This end is shutting down.
    Shutdown,
}

impl LinkLoss {
    /// The reason in words, for log lines.
    pub fn describe(self) -> &'static str {
        match self {
            LinkLoss::ConnectFailed => "connect failed",
            LinkLoss::HandshakeFailed => "handshake failed",
            LinkLoss::HandshakeTimeout => "handshake not finished in time",
            LinkLoss::Silent => "nothing received for too long",
            LinkLoss::ClosedByPeer => "closed by peer",
            LinkLoss::SocketError => "socket error",
            LinkLoss::ProtocolError => "protocol error",
            LinkLoss::WrongPeerKind => "wrong kind of peer",
            LinkLoss::Replaced => "replaced by a new link (neighbour restarted)",
            LinkLoss::Stale => "stale: neighbour restarted",
            LinkLoss::WakeupDone => "wake-up done",
            LinkLoss::Shutdown => "shutting down",
        }
    }

    /// Whether a dialler counts this loss before keying as a failed attempt (always, protocol.md §3).
    pub fn before_keying(self) -> bool {
        matches!(self, LinkLoss::ConnectFailed | LinkLoss::HandshakeFailed | LinkLoss::HandshakeTimeout)
    }
}

impl fmt::Display for LinkLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_in_json() {
        assert_eq!(serde_json::to_string(&LinkLoss::HandshakeTimeout).unwrap(), "\"handshake-timeout\"");
        assert_eq!(serde_json::to_string(&LinkLoss::Silent).unwrap(), "\"silent\"");
        assert_eq!(LinkLoss::Silent.to_string(), "nothing received for too long");
    }
}
