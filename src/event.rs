//! The contract between a sans-IO core (router, onion proxy, funnel, application proxies) and
//! whatever drives it: the mio reactor in production, an in-memory network in tests.
//!
//! The core never touches a socket or a clock. The driver tells it what happened (a socket was
//! accepted, connected, received bytes, reached EOF, failed; a name resolved; time passed) and
//! polls it for [`Action`]s (send bytes, connect, shut down, close, pause reading) and for the
//! next instant it wants to be woken at.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A socket, named by the core. Ids are never reused within a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SockId(pub u64);

impl std::fmt::Display for SockId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Hands out fresh socket ids.
#[derive(Debug, Default)]
pub struct SockIds(u64);

impl SockIds {
    pub fn fresh(&mut self) -> SockId {
        self.0 += 1;
        SockId(self.0)
    }
}

/// The time, as the driver sees it: a monotonic instant for timers and the wall clock (Unix
/// seconds, plus the nanoseconds of the current second) for onion expirations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono: Instant,
    pub unix: u64,
    /// Nanoseconds past `unix` (below 10^9): [`Now::after`] carries sub-second steps over.
    pub unix_nanos: u32,
}

impl Now {
    /// A time from its monotonic instant and whole Unix seconds.
    pub fn new(mono: Instant, unix: u64) -> Now {
        Now { mono, unix, unix_nanos: 0 }
    }

    /// The real time.
    pub fn system() -> Now {
        let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Now { mono: Instant::now(), unix: wall.as_secs(), unix_nanos: wall.subsec_nanos() }
    }

    /// This time advanced by `d` (for simulations): the wall clock moves by exactly `d` too, so
    /// a hundred 10 ms steps advance it by one second.
    pub fn after(self, d: Duration) -> Now {
        let nanos = u64::from(self.unix_nanos) + u64::from(d.subsec_nanos());
        Now {
            mono: self.mono + d,
            unix: self.unix + d.as_secs() + nanos / 1_000_000_000,
            unix_nanos: (nanos % 1_000_000_000) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_carries_sub_second_steps_into_the_wall_clock() {
        let mut now = Now::new(Instant::now(), 1_000);
        for _ in 0..250 {
            now = now.after(Duration::from_millis(10));
        }
        assert_eq!((now.unix, now.unix_nanos), (1_002, 500_000_000));
        assert_eq!(now.after(Duration::from_millis(1_700)).unix, 1_004);
    }
}

/// What a core asks its driver to do. Actions on one socket are carried out in order.
#[derive(Debug)]
pub enum Action {
    /// Append bytes to the socket's write buffer.
    Send {
        sock: SockId,
        data: Vec<u8>,
    },
    /// Open a TCP connection; the result comes back through [`Core::connected`]. `privileged`
    /// asks for a source port in 512..=1023 (rlogin).
    Connect {
        sock: SockId,
        addr: SocketAddr,
        privileged: bool,
    },
    /// Shut down the write side once everything queued before has been written.
    ShutdownWrite {
        sock: SockId,
    },
    /// Close once everything queued before has been written. The core forgets the socket; no
    /// further events are reported for it.
    Close {
        sock: SockId,
    },
    /// Close at once, discarding unwritten bytes (protocol violations).
    Abort {
        sock: SockId,
    },
    /// Stop or resume reading from a socket (backpressure).
    PauseRead {
        sock: SockId,
    },
    ResumeRead {
        sock: SockId,
    },
    /// Resolve a host name; the answer comes back through [`Core::resolved`].
    Resolve {
        request: u64,
        host: String,
        port: u16,
    },
    /// A line for the test-only link key log (a router's `--link-key-log`): link keys and
    /// connection maps, for checkers that decrypt packet captures. Drivers without a key log
    /// drop it.
    KeyLog {
        line: String,
    },
}

/// Queue `data` for `sock`, appending it to the last queued action when that is a send to the
/// same socket: the cells of one batch bound for one socket become one buffer, not an
/// allocation and an action each. Only the very last action grows, so order is kept.
pub fn queue_send(actions: &mut VecDeque<Action>, sock: SockId, data: &[u8]) {
    if let Some(Action::Send { sock: last, data: queued }) = actions.back_mut() {
        if *last == sock {
            queued.extend_from_slice(data);
            return;
        }
    }
    // Room for a batch's worth of cells from the start, not a doubling from 45 bytes.
    let mut buf = Vec::with_capacity(data.len().max(SEND_CAPACITY));
    buf.extend_from_slice(data);
    actions.push_back(Action::Send { sock, data: buf });
}

/// The initial capacity of a send that [`queue_send`] starts: a few cells' worth, so that a
/// batch does not regrow from 45 bytes, yet one status byte to each of 10,000 applications in
/// one wake-up stays ~10 MB in flight.
const SEND_CAPACITY: usize = 1024;

/// A listening socket's index, in the order the driver was given them.
pub type ListenerIdx = usize;

/// A sans-IO core.
pub trait Core {
    /// A connection arrived on listener `listener`. Returns the id the core gives it, or `None`
    /// to refuse it (the driver closes it).
    fn accepted(&mut self, now: Now, listener: ListenerIdx, peer: SocketAddr) -> Option<SockId>;
    /// An outgoing connection completed or failed.
    fn connected(&mut self, now: Now, sock: SockId, result: io::Result<()>);
    /// Bytes arrived.
    fn received(&mut self, now: Now, sock: SockId, data: &[u8]);
    /// The peer shut down its write side; nothing more will be received.
    fn eof(&mut self, now: Now, sock: SockId);
    /// The socket failed (reset, error) and is gone.
    fn failed(&mut self, now: Now, sock: SockId, error: io::Error);
    /// How many bytes are waiting in the socket's write buffer after the last write attempt.
    fn write_buffered(&mut self, now: Now, sock: SockId, bytes: usize);
    /// A name resolution finished.
    fn resolved(&mut self, now: Now, request: u64, result: io::Result<Vec<SocketAddr>>);
    /// Time passed; called at least when [`Core::poll_timeout`] is due, and after every batch
    /// of events (a "wake-up").
    fn tick(&mut self, now: Now);
    /// The earliest instant the core wants [`Core::tick`] called.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The next action, if any.
    fn poll_action(&mut self) -> Option<Action>;
    /// Shut down cleanly (SIGINT/SIGTERM): destroy connections, close links.
    fn shutdown(&mut self, now: Now);
    /// A status snapshot for operators (JSON), if the core keeps one.
    fn status(&self, _now: Now) -> Option<String> {
        None
    }
}
