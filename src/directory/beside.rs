//! One wrapper for every directory client that runs beside another core: the wrapped core (a
//! router, an onion proxy) runs unchanged, and a [`Side`] (descriptor uploads, network-document
//! fetches, or both) owns a set of HTTP requests to the authorities. Socket events of those
//! requests go to the side, every other event to the wrapped core.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Instant;

use super::fetch::{Fetches, Outcome};
use super::http::request;
use crate::event::{Action, Core, ListenerIdx, Now, SockId};

/// Socket ids of the side's requests start here, far above any the wrapped core hands out.
const ID_BASE: u64 = 1 << 42;

/// What a request of a side is for, and which authority (index in the authorities file) it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// `GET /network`.
    Document(usize),
    /// `POST /descriptor`.
    Upload(usize),
}

/// The side's requests in flight and the actions they queue.
pub struct Requests {
    fetches: Fetches<Tag>,
    actions: VecDeque<Action>,
}

impl Requests {
    /// Requests outside a wrapper, for unit tests of a side.
    #[cfg(test)]
    pub fn for_tests() -> Requests {
        Requests::new(1 << 20)
    }

    /// How many requests were started (connects queued), for unit tests.
    #[cfg(test)]
    pub fn started(&self) -> usize {
        self.actions.iter().filter(|a| matches!(a, Action::Connect { .. })).count()
    }

    fn new(max_body: usize) -> Requests {
        Requests { fetches: Fetches::new(ID_BASE, max_body), actions: VecDeque::new() }
    }

    /// Send `method path` with `body` to `addr`; the outcome comes back tagged with `tag`.
    pub fn start(&mut self, now: Now, addr: SocketAddrV4, method: &str, path: &str, body: &[u8], tag: Tag) {
        let req = request(method, &addr.to_string(), path, body);
        self.fetches.start(now.mono, addr, req, tag, &mut self.actions);
    }
}

/// The directory client running beside a core `C`.
pub trait Side<C> {
    /// Whether the wrapped core may take an incoming connection (false: refused, logged by the side).
    fn admit(&mut self, _now: Now, _peer: SocketAddr) -> bool {
        true
    }
    /// A request ended.
    fn outcome(&mut self, inner: &mut C, now: Now, outcome: Outcome<Tag>, requests: &mut Requests);
    /// Time passed: start what is due.
    fn tick(&mut self, inner: &mut C, now: Now, requests: &mut Requests);
    /// When the side next has something to do.
    fn due(&self) -> Option<Instant>;
}

/// The wrapped core, its side and the side's requests.
pub struct Beside<C, S> {
    inner: C,
    side: S,
    requests: Requests,
}

impl<C: Core, S: Side<C>> Beside<C, S> {
    /// Responses of the side's requests may carry up to `max_body` bytes.
    pub fn new(inner: C, side: S, max_body: usize) -> Self {
        Beside { inner, side, requests: Requests::new(max_body) }
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    pub fn side(&self) -> &S {
        &self.side
    }

    fn ended(&mut self, now: Now, o: Option<Outcome<Tag>>) {
        if let Some(o) = o {
            self.side.outcome(&mut self.inner, now, o, &mut self.requests);
        }
    }
}

impl<C: Core, S: Side<C>> Core for Beside<C, S> {
    fn accepted(&mut self, now: Now, listener: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        if !self.side.admit(now, peer) {
            return None;
        }
        self.inner.accepted(now, listener, peer)
    }
    fn connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        if self.requests.fetches.owns(sock) {
            let o = self.requests.fetches.connected(sock, result);
            return self.ended(now, o);
        }
        self.inner.connected(now, sock, result)
    }
    fn received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        if self.requests.fetches.owns(sock) {
            let o = self.requests.fetches.received(sock, data, &mut self.requests.actions);
            return self.ended(now, o);
        }
        self.inner.received(now, sock, data)
    }
    fn eof(&mut self, now: Now, sock: SockId) {
        if self.requests.fetches.owns(sock) {
            let o = self.requests.fetches.eof(sock, &mut self.requests.actions);
            return self.ended(now, o);
        }
        self.inner.eof(now, sock)
    }
    fn failed(&mut self, now: Now, sock: SockId, error: io::Error) {
        if self.requests.fetches.owns(sock) {
            let o = self.requests.fetches.failed(sock, error);
            return self.ended(now, o);
        }
        self.inner.failed(now, sock, error)
    }
    fn write_buffered(&mut self, now: Now, sock: SockId, bytes: usize) {
        if !self.requests.fetches.owns(sock) {
            self.inner.write_buffered(now, sock, bytes)
        }
    }
    fn resolved(&mut self, now: Now, request: u64, result: io::Result<Vec<SocketAddr>>) {
        self.inner.resolved(now, request, result)
    }
    fn tick(&mut self, now: Now) {
        for o in self.requests.fetches.expire(now.mono, &mut self.requests.actions) {
            self.ended(now, Some(o));
        }
        self.side.tick(&mut self.inner, now, &mut self.requests);
        self.inner.tick(now)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        [self.side.due(), self.requests.fetches.next_deadline(), self.inner.poll_timeout()].into_iter().flatten().min()
    }
    fn poll_action(&mut self) -> Option<Action> {
        self.requests.actions.pop_front().or_else(|| self.inner.poll_action())
    }
    fn shutdown(&mut self, now: Now) {
        self.inner.shutdown(now)
    }
    fn status(&self, now: Now) -> Option<String> {
        self.inner.status(now)
    }
}
