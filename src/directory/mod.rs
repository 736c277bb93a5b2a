//! Directory authorities (the paper's "later prototype", §2.3): router descriptors, network
//! documents, the authorities file, the consensus rule and the authority's state machine. All
//! sans-IO: text and time in, text and actions out; the sockets are driven by `crate::net`'s
//! reactor through the [`crate::event::Core`] implementations in `server` (the authority) and
//! `beside` (the wrapper the clients — `publisher`, `client`, `presence` — run in). The formats, the signature scheme and the consensus rule are in docs/directory.md.

pub mod authorities;
pub mod authority;
pub mod beside;
pub mod client;
pub mod consensus;
pub mod descriptor;
pub mod document;
pub mod fetch;
pub mod http;
pub mod neighbors;
pub mod presence;
pub mod publisher;
pub mod reachability;
pub mod server;
pub mod sign;
pub mod text;

pub use authorities::{Authorities, AuthorityEntry};
pub use descriptor::{Descriptor, SignedDescriptor};
pub use document::{DocumentKind, NetworkDocument};
pub use sign::Fingerprint;

/// The directory authority's default port (protocol.md §14 of the project's conventions).
pub const DEFAULT_PORT: u16 = 9030;

use std::time::{Duration, Instant};

use crate::event::Now;

/// Where a directory core keeps what must survive a restart (the authority's descriptors and
/// consensus, a client's cached document). The core never writes a file itself.
pub trait StateStore {
    /// Replace the saved text called `name`.
    fn save(&mut self, name: &str, text: &str);
}

/// A store that keeps nothing (tests, or no `--state-dir`).
#[derive(Debug, Default)]
pub struct NoStore;

impl StateStore for NoStore {
    fn save(&mut self, _name: &str, _text: &str) {}
}

/// Wall-clock milliseconds from the driver's [`Now`]: whole Unix seconds when first seen, then
/// the monotonic clock's progress (the periods of the consensus need sub-second phases).
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    mono0: Instant,
    ms0: u64,
}

impl WallClock {
    pub fn new(now: Now) -> WallClock {
        WallClock { mono0: now.mono, ms0: now.unix.saturating_mul(1000) }
    }

    pub fn ms(&self, now: Now) -> u64 {
        self.ms0 + now.mono.saturating_duration_since(self.mono0).as_millis() as u64
    }

    /// The instant at wall time `ms`.
    pub fn instant(&self, ms: u64) -> Instant {
        self.mono0 + Duration::from_millis(ms.saturating_sub(self.ms0))
    }
}
