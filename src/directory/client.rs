//! A client of the directory (`ork onion-proxy --directory`): a [`Core`] wrapper that keeps a
//! verified network document — majority-signed, unexpired, never older than the one held —
//! fetches a newer one from the authorities (in turn) after its fresh-until, keeps using the
//! cached one while they are unreachable, and hands each new one to the wrapped core as its
//! network. Once the held document has expired, new application connections are refused with
//! a log line saying why.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use log::{error, info, warn};

use super::authorities::Authorities;
use super::document::{NetworkDocument, MAX_DOCUMENT_LEN};
use super::fetch::Fetches;
use super::http::request;
use super::{StateStore, WallClock};
use crate::config::network::Network;
use crate::event::{Action, Core, ListenerIdx, Now, SockId};

/// The cache file's name in the state store.
pub const CACHE_FILE: &str = "network-document";
/// Retry delay after every authority failed.
pub const RETRY: Duration = Duration::from_secs(5);
const ID_BASE: u64 = 1 << 42;

/// A core whose network can be replaced while it runs.
pub trait UsesNetwork: Core {
    /// Take a newer network; `Err` (logged, the old one kept) when it cannot.
    fn set_network(&mut self, network: Network) -> Result<(), String>;
}

impl UsesNetwork for crate::client::OnionProxy {
    fn set_network(&mut self, network: Network) -> Result<(), String> {
        self.replace_network(network)
    }
}

/// Checks documents against the authorities and the one held (sans-IO, no wrapper).
pub struct DocumentKeeper {
    auths: Authorities,
    held: Option<NetworkDocument>,
}

impl DocumentKeeper {
    pub fn new(auths: Authorities) -> DocumentKeeper {
        DocumentKeeper { auths, held: None }
    }

    pub fn held(&self) -> Option<&NetworkDocument> {
        self.held.as_ref()
    }

    pub fn authorities(&self) -> &Authorities {
        &self.auths
    }

    /// Offer a document's bytes (from `origin`, for the log) at Unix time `now`: `Ok(true)`
    /// when it replaced the one held, `Ok(false)` when it is the same period, `Err` with the
    /// reason it was refused.
    pub fn offer(&mut self, bytes: &[u8], now: u64) -> Result<bool, String> {
        let doc = NetworkDocument::parse(bytes).map_err(|e| format!("malformed: {e}"))?;
        let held = self.held.as_ref().map(|d| d.validity.valid_after);
        doc.check(&self.auths, now, held).map_err(|e| e.to_string())?;
        if held == Some(doc.validity.valid_after) {
            return Ok(false);
        }
        self.held = Some(doc);
        Ok(true)
    }

    /// Whether the held document is still valid at `now`.
    pub fn valid(&self, now: u64) -> bool {
        self.held.as_ref().is_some_and(|d| now < d.validity.valid_until)
    }
}

/// The wrapped core and its directory fetches.
pub struct Directed<C> {
    inner: C,
    keeper: DocumentKeeper,
    clock: WallClock,
    store: Box<dyn StateStore + Send>,
    fetches: Fetches<usize>,
    actions: VecDeque<Action>,
    /// When to fetch next; which authority to ask next.
    next_fetch: Instant,
    turn: usize,
    /// Authorities tried without success in the current round.
    failures: usize,
    expired_logged: bool,
}

impl<C: UsesNetwork> Directed<C> {
    /// `keeper` already holds a verified document (the one `inner` was built with).
    pub fn new(inner: C, keeper: DocumentKeeper, now: Now, store: Box<dyn StateStore + Send>) -> Self {
        let clock = WallClock::new(now);
        let mut d = Directed {
            inner,
            keeper,
            clock,
            store,
            fetches: Fetches::new(ID_BASE, MAX_DOCUMENT_LEN),
            actions: VecDeque::new(),
            next_fetch: now.mono,
            turn: 0,
            failures: 0,
            expired_logged: false,
        };
        d.schedule(now);
        d
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    pub fn keeper(&self) -> &DocumentKeeper {
        &self.keeper
    }

    /// Next fetch: an eighth of an interval after the held document's fresh-until.
    fn schedule(&mut self, now: Now) {
        let Some(d) = self.keeper.held() else {
            self.next_fetch = now.mono;
            return;
        };
        let v = d.validity;
        let interval_ms = (v.fresh_until - v.valid_after) * 1000;
        self.next_fetch = self.clock.instant(v.fresh_until * 1000 + interval_ms / 8).max(now.mono);
    }

    fn fetch(&mut self, now: Now) {
        let n = self.keeper.authorities().list.len();
        let addr = self.keeper.authorities().list[self.turn % n].addr;
        let req = request("GET", &addr.to_string(), "/network", b"");
        self.fetches.start(now.mono, addr, req, self.turn % n, &mut self.actions);
        self.turn = (self.turn + 1) % n;
    }

    fn outcome(&mut self, now: Now, o: Option<(usize, SocketAddrV4, Result<Vec<u8>, String>)>) {
        let Some((_, addr, result)) = o else { return };
        let unix = self.clock.ms(now) / 1000;
        let outcome = result.map_err(|e| format!("fetch failed: {e}")).and_then(|b| {
            let r = self.keeper.offer(&b, unix).map_err(|e| format!("network document refused: {e}"));
            r.map(|new| (new, b))
        });
        match outcome {
            Ok((true, bytes)) => {
                let Some(doc) = self.keeper.held() else { return };
                info!(
                    "network document from authority {addr}: valid-after {}, {} routers",
                    doc.validity.valid_after,
                    doc.routers.len()
                );
                let network = doc.to_network();
                if let Err(e) = self.inner.set_network(network) {
                    warn!("new network document not used by the onion proxy: {e}");
                }
                self.store.save(CACHE_FILE, &String::from_utf8_lossy(&bytes));
                self.failures = 0;
                self.expired_logged = false;
                self.schedule(now);
            }
            Ok((false, _)) => {
                // The authority has nothing newer yet: ask again a little later.
                self.failures = 0;
                self.next_fetch = now.mono + RETRY.min(self.retry_step());
            }
            Err(e) => {
                warn!("authority {addr}: {e}");
                self.failures += 1;
                let n = self.keeper.authorities().list.len();
                self.next_fetch =
                    if self.failures % n == 0 { now.mono + RETRY.min(self.retry_step()) } else { now.mono };
            }
        }
    }

    /// An eighth of the held document's interval (RETRY without one).
    fn retry_step(&self) -> Duration {
        self.keeper
            .held()
            .map_or(RETRY, |d| Duration::from_millis((d.validity.fresh_until - d.validity.valid_after) * 125))
    }
}

impl<C: UsesNetwork> Core for Directed<C> {
    fn accepted(&mut self, now: Now, listener: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        let unix = self.clock.ms(now) / 1000;
        if !self.keeper.valid(unix) {
            let until = self.keeper.held().map_or(0, |d| d.validity.valid_until);
            error!("{peer}: connection refused: the network document expired at {until} (now {unix}) and no authority has given a newer one");
            return None;
        }
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
        for o in self.fetches.expire(now.mono, &mut self.actions) {
            self.outcome(now, Some(o));
        }
        if self.fetches.is_empty() && now.mono >= self.next_fetch {
            self.fetch(now);
        }
        let unix = self.clock.ms(now) / 1000;
        if !self.keeper.valid(unix) && !self.expired_logged {
            let until = self.keeper.held().map_or(0, |d| d.validity.valid_until);
            error!("the network document expired at {until} and no authority answered with a newer one: no routes until one does");
            self.expired_logged = true;
        }
        self.inner.tick(now)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self.keeper.held().map(|d| self.clock.instant(d.validity.valid_until * 1000));
        let fetch = self.fetches.is_empty().then_some(self.next_fetch);
        [fetch, expiry, self.fetches.next_deadline(), self.inner.poll_timeout()].into_iter().flatten().min()
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
