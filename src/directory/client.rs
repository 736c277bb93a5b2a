//! A client of the directory (`ork onion-proxy --directory`, and routers through their
//! [`Presence`](super::presence::Presence)): a [`Follower`] keeps a verified network document —
//! majority-signed, unexpired, never older than the one held — fetches a newer one from the
//! authorities (in turn) after its fresh-until, keeps using the cached one while they are
//! unreachable, and hands each new one to the core it runs beside (in a
//! [`Beside`](super::beside::Beside) wrapper). Once the held document has expired, new
//! application connections are refused with a log line saying why.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::{error, info, warn};

use super::authorities::Authorities;
use super::beside::{Beside, Requests, Side, Tag};
use super::document::{NetworkDocument, MAX_DOCUMENT_LEN};
use super::fetch::Outcome;
use super::{StateStore, WallClock};
use crate::event::{Core, Now};

/// The cache file's name in the state store.
pub const CACHE_FILE: &str = "network-document";
/// Retry delay after every authority failed.
pub const RETRY: Duration = Duration::from_secs(5);

/// A core whose network can be replaced while it runs.
pub trait UsesNetwork: Core {
    /// Take a newer (verified) document; `Err` (logged, the old network kept) when it cannot.
    fn set_network(&mut self, now: Now, doc: &NetworkDocument) -> Result<(), String>;
}

impl UsesNetwork for crate::client::OnionProxy {
    fn set_network(&mut self, _now: Now, doc: &NetworkDocument) -> Result<(), String> {
        self.replace_network(doc.to_network())
    }
}

/// An onion proxy (or any [`UsesNetwork`] core) following the directory.
pub type Directed<C> = Beside<C, Follower>;

/// `inner` following the directory; `keeper` already holds a verified document (the one
/// `inner` was built with).
pub fn directed<C: UsesNetwork>(
    inner: C,
    keeper: DocumentKeeper,
    now: Now,
    store: Box<dyn StateStore + Send>,
) -> Directed<C> {
    Beside::new(inner, Follower::new(keeper, now, store), MAX_DOCUMENT_LEN)
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

/// The held document and when to fetch the next.
pub struct Follower {
    keeper: DocumentKeeper,
    clock: WallClock,
    store: Box<dyn StateStore + Send>,
    /// When to fetch next; which authority to ask next; whether a fetch is in flight.
    next_fetch: Instant,
    turn: usize,
    fetching: bool,
    /// Authorities tried without success in the current round.
    failures: usize,
    expired_logged: bool,
}

impl Follower {
    /// `keeper` may already hold a verified document; without one the first fetch is at once.
    pub fn new(keeper: DocumentKeeper, now: Now, store: Box<dyn StateStore + Send>) -> Follower {
        let mut f = Follower {
            keeper,
            clock: WallClock::new(now),
            store,
            next_fetch: now.mono,
            turn: 0,
            fetching: false,
            failures: 0,
            expired_logged: false,
        };
        f.schedule(now);
        f
    }

    pub fn keeper(&self) -> &DocumentKeeper {
        &self.keeper
    }

    /// Unix seconds at `now` on the follower's wall clock.
    pub fn unix(&self, now: Now) -> u64 {
        self.clock.ms(now) / 1000
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

    /// Start a fetch when one is due; log once when the held document expires.
    pub fn start_due(&mut self, now: Now, requests: &mut Requests) {
        if !self.fetching && now.mono >= self.next_fetch {
            let n = self.keeper.authorities().list.len();
            let i = self.turn % n;
            requests.start(now, self.keeper.authorities().list[i].addr, "GET", "/network", b"", Tag::Document(i));
            self.fetching = true;
            self.turn = (self.turn + 1) % n;
        }
        let unix = self.unix(now);
        if self.keeper.held().is_some() && !self.keeper.valid(unix) && !self.expired_logged {
            let until = self.keeper.held().map_or(0, |d| d.validity.valid_until);
            error!("the network document expired at {until} and no authority answered with a newer one: no routes until one does");
            self.expired_logged = true;
        }
    }

    /// A request ended: `true` when it brought a newer document (now held). Outcomes of other
    /// requests are ignored.
    pub fn ended(&mut self, now: Now, (tag, addr, result): Outcome<Tag>) -> bool {
        if !matches!(tag, Tag::Document(_)) {
            return false;
        }
        self.fetching = false;
        let unix = self.unix(now);
        let outcome = result.map_err(|e| format!("fetch failed: {e}")).and_then(|b| {
            let r = self.keeper.offer(&b, unix).map_err(|e| format!("network document refused: {e}"));
            r.map(|new| (new, b))
        });
        match outcome {
            Ok((true, bytes)) => {
                let Some(doc) = self.keeper.held() else { return false };
                info!(
                    "network document from authority {addr}: valid-after {}, {} routers",
                    doc.validity.valid_after,
                    doc.routers.len()
                );
                self.store.save(CACHE_FILE, &String::from_utf8_lossy(&bytes));
                self.failures = 0;
                self.expired_logged = false;
                self.schedule(now);
                true
            }
            Ok((false, _)) => {
                // The authority has nothing newer yet: ask again a little later.
                self.failures = 0;
                self.next_fetch = now.mono + RETRY.min(self.retry_step());
                false
            }
            Err(e) => {
                warn!("authority {addr}: {e}");
                self.failures += 1;
                let n = self.keeper.authorities().list.len();
                self.next_fetch =
                    if self.failures % n == 0 { now.mono + RETRY.min(self.retry_step()) } else { now.mono };
                false
            }
        }
    }

    /// An eighth of the held document's interval (RETRY without one).
    fn retry_step(&self) -> Duration {
        self.keeper
            .held()
            .map_or(RETRY, |d| Duration::from_millis((d.validity.fresh_until - d.validity.valid_after) * 125))
    }

    /// The next fetch or the held document's expiry, whichever comes first.
    pub fn due(&self) -> Option<Instant> {
        let expiry = self.keeper.held().map(|d| self.clock.instant(d.validity.valid_until * 1000));
        let fetch = (!self.fetching).then_some(self.next_fetch);
        [fetch, expiry].into_iter().flatten().min()
    }
}

impl<C: UsesNetwork> Side<C> for Follower {
    fn admit(&mut self, now: Now, peer: SocketAddr) -> bool {
        let unix = self.unix(now);
        if self.keeper.valid(unix) {
            return true;
        }
        let until = self.keeper.held().map_or(0, |d| d.validity.valid_until);
        error!("{peer}: connection refused: the network document expired at {until} (now {unix}) and no authority has given a newer one");
        false
    }
    fn outcome(&mut self, inner: &mut C, now: Now, outcome: Outcome<Tag>, _requests: &mut Requests) {
        if self.ended(now, outcome) {
            if let Some(doc) = self.keeper.held() {
                if let Err(e) = inner.set_network(now, doc) {
                    warn!("new network document not used: {e}");
                }
            }
        }
    }
    fn tick(&mut self, _inner: &mut C, now: Now, requests: &mut Requests) {
        self.start_due(now, requests)
    }
    fn due(&self) -> Option<Instant> {
        Follower::due(self)
    }
}
