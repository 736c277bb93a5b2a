//! A router's settings (protocol.md §3, §5, §6, §9, §14), as the CLI builds them.

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;

use crate::config::neighbors::Neighbor;
use crate::config::policy::Policy;
use crate::crypto::RsaPrivateKey;
use crate::router::mixer::BatchTiming;

/// Everything a router core needs to know at start.
pub struct RouterConfig {
    /// The identity sent to neighbours (IPv4 ‖ listening port).
    pub identity: SocketAddrV4,
    pub key: Arc<RsaPrivateKey>,
    pub neighbors: Vec<Neighbor>,
    /// When mixer batches leave: the mixing interval (zero means one batch per event-loop
    /// wake-up) and how long one connection's cells wait for company.
    pub mixing: BatchTiming,
    /// PADDING cells per second per link (0 = none).
    pub padding_rate: f64,
    /// Onions may expire at most this far ahead.
    pub max_onion_lifetime: Duration,
    pub exit_policy: Policy,
    pub timeouts: Timeouts,
    /// Per-hop DESTROY delay bound (0 = none).
    pub destroy_jitter: Duration,
    /// Emit [`crate::event::Action::KeyLog`] lines (link keys, connection maps): tests only.
    pub key_log: bool,
}

/// Link timers of protocol.md §3.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// A handshake must finish within this.
    pub handshake: Duration,
    /// Send PADDING on a link silent this long in the sending direction.
    pub idle_padding: Duration,
    /// Close a link on which nothing arrived for this long.
    pub idle_close: Duration,
    /// A link that closes within this after its handshake counts as a failed attempt.
    pub stable_after: Duration,
    /// Delay between exit funnel connection attempts.
    pub exit_retry: Duration,
    /// An onion's CREATE cells must all arrive within this of the first.
    pub create: Duration,
}

impl Timeouts {
    /// The timers every link end applies (`crate::link::LinkEnd`).
    pub fn link_timers(&self) -> crate::link::LinkTimers {
        crate::link::LinkTimers {
            handshake: self.handshake,
            idle_padding: self.idle_padding,
            idle_close: self.idle_close,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            handshake: Duration::from_secs(10),
            idle_padding: Duration::from_secs(30),
            idle_close: Duration::from_secs(90),
            stable_after: Duration::from_secs(60),
            exit_retry: Duration::from_millis(500),
            create: Duration::from_secs(10),
        }
    }
}
