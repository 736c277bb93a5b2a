//! A router's descriptor upload (`ork router --directory`): a [`Core`] wrapper that runs the
//! router's own core unchanged and, beside it, `POST /descriptor` to every authority at start
//! and then every publish interval (sooner after a failure). The descriptor's content is fixed
//! for the process's life (key and neighbours are read at start), so "on change" means at the
//! start of the process that has the new key or links.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::{info, warn};

use super::authorities::Authorities;
use super::fetch::{Fetches, FETCH_TIMEOUT};
use super::http::request;
use crate::event::{Action, Core, ListenerIdx, Now, SockId};

/// After a failed upload, the next try comes this soon (or at the interval, if shorter).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);
/// Socket ids of uploads start here, far above any the wrapped core hands out.
const ID_BASE: u64 = 1 << 41;

/// The wrapped core and its uploads.
pub struct Publishing<C> {
    inner: C,
    auths: Authorities,
    descriptor: String,
    interval: Duration,
    /// Per authority: when to upload next (`None`: at the first tick).
    next: Vec<Option<Instant>>,
    fetches: Fetches<usize>,
    actions: VecDeque<Action>,
}

impl<C: Core> Publishing<C> {
    pub fn new(inner: C, auths: Authorities, descriptor: String, interval: Duration) -> Self {
        let next = vec![None; auths.list.len()];
        Publishing {
            inner,
            auths,
            descriptor,
            interval,
            next,
            fetches: Fetches::new(ID_BASE, 64 * 1024),
            actions: VecDeque::new(),
        }
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    fn publish_due(&mut self, now: Now) {
        for i in 0..self.auths.list.len() {
            if self.next[i].map_or(true, |t| now.mono >= t) {
                let addr = self.auths.list[i].addr;
                let req = request("POST", &addr.to_string(), "/descriptor", self.descriptor.as_bytes());
                self.fetches.start(now.mono, addr, req, i, &mut self.actions);
                // In flight: the outcome (at the latest after the fetch timeout) sets the next time.
                self.next[i] = Some(now.mono + self.interval + FETCH_TIMEOUT);
            }
        }
    }

    fn outcome(&mut self, now: Now, o: Option<(usize, std::net::SocketAddrV4, Result<Vec<u8>, String>)>) {
        let Some((i, addr, result)) = o else { return };
        let wait = match result {
            Ok(body) => {
                info!("descriptor uploaded to authority {addr}: {}", String::from_utf8_lossy(&body).trim());
                self.interval
            }
            Err(e) => {
                warn!("descriptor upload to authority {addr} failed: {e}");
                self.interval.min(RETRY_AFTER_FAILURE)
            }
        };
        if let Some(n) = self.next.get_mut(i) {
            *n = Some(now.mono + wait);
        }
    }
}

impl<C: Core> Core for Publishing<C> {
    fn accepted(&mut self, now: Now, listener: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        self.inner.accepted(now, listener, peer)
    }
    fn connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        if self.fetches.owns(sock) {
            let o = self.fetches.connected(sock, result);
            return self.outcome(now, o);
        }
        self.inner.connected(now, sock, result)
    }
    fn received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        if self.fetches.owns(sock) {
            let o = self.fetches.received(sock, data, &mut self.actions);
            return self.outcome(now, o);
        }
        self.inner.received(now, sock, data)
    }
    fn eof(&mut self, now: Now, sock: SockId) {
        if self.fetches.owns(sock) {
            let o = self.fetches.eof(sock, &mut self.actions);
            return self.outcome(now, o);
        }
        self.inner.eof(now, sock)
    }
    fn failed(&mut self, now: Now, sock: SockId, error: io::Error) {
        if self.fetches.owns(sock) {
            let o = self.fetches.failed(sock, error);
            return self.outcome(now, o);
        }
        self.inner.failed(now, sock, error)
    }
    fn write_buffered(&mut self, now: Now, sock: SockId, bytes: usize) {
        if !self.fetches.owns(sock) {
            self.inner.write_buffered(now, sock, bytes)
        }
    }
    fn resolved(&mut self, now: Now, request: u64, result: io::Result<Vec<SocketAddr>>) {
        self.inner.resolved(now, request, result)
    }
    fn tick(&mut self, now: Now) {
        self.publish_due(now);
        for o in self.fetches.expire(now.mono, &mut self.actions) {
            self.outcome(now, Some(o));
        }
        self.inner.tick(now)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        // `None` (not yet uploaded) is due at the first tick, which the driver gives anyway.
        let mine = self.next.iter().flatten().min().copied();
        [mine, self.fetches.next_deadline(), self.inner.poll_timeout()].into_iter().flatten().min()
    }
    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front().or_else(|| self.inner.poll_action())
    }
    fn shutdown(&mut self, now: Now) {
        self.inner.shutdown(now)
    }
    fn status(&self, now: Now) -> Option<String> {
        self.inner.status(now)
    }
}
