//! Outgoing HTTP requests of the directory's cores (an authority fetching votes, a router
//! uploading its descriptor, an onion proxy fetching the network document), sans-IO: each is a
//! socket the core names, a request queued on connect, the response read until the server
//! closes, and a deadline.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::http::{parse_response, HttpError};
use crate::event::{Action, SockId};

/// How long one request may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

struct Fetch<T> {
    tag: T,
    peer: SocketAddrV4,
    buf: Vec<u8>,
    deadline: Instant,
}

/// Requests in flight, each tagged with what the core wants to know when it ends.
pub struct Fetches<T> {
    next: u64,
    max_body: usize,
    live: BTreeMap<SockId, Fetch<T>>,
}

/// The outcome of a request: the tag, the server and the 200 body or why not.
pub type Outcome<T> = (T, SocketAddrV4, Result<Vec<u8>, String>);

impl<T> Fetches<T> {
    /// Socket ids start at `id_base`, which must not collide with the ids of the core they
    /// share a driver with.
    pub fn new(id_base: u64, max_body: usize) -> Fetches<T> {
        Fetches { next: id_base, max_body, live: BTreeMap::new() }
    }

    pub fn owns(&self, sock: SockId) -> bool {
        self.live.contains_key(&sock)
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Start a request: queues the connect and the request bytes.
    pub fn start(
        &mut self,
        now: Instant,
        peer: SocketAddrV4,
        request: Vec<u8>,
        tag: T,
        actions: &mut VecDeque<Action>,
    ) {
        self.next += 1;
        let sock = SockId(self.next);
        actions.push_back(Action::Connect { sock, addr: SocketAddr::V4(peer), privileged: false });
        actions.push_back(Action::Send { sock, data: request });
        self.live.insert(sock, Fetch { tag, peer, buf: Vec::new(), deadline: now + FETCH_TIMEOUT });
    }

    fn end(&mut self, sock: SockId, result: Result<Vec<u8>, String>) -> Option<Outcome<T>> {
        self.live.remove(&sock).map(|f| (f.tag, f.peer, result))
    }

    pub fn connected(&mut self, sock: SockId, result: io::Result<()>) -> Option<Outcome<T>> {
        match result {
            Ok(()) => None,
            Err(e) => self.end(sock, Err(format!("cannot connect: {e}"))),
        }
    }

    /// Bytes arrived; a response too large ends the request (the caller must close it).
    pub fn received(&mut self, sock: SockId, data: &[u8], actions: &mut VecDeque<Action>) -> Option<Outcome<T>> {
        let f = self.live.get_mut(&sock)?;
        if f.buf.len() + data.len() > self.max_body + 16 * 1024 {
            actions.push_back(Action::Abort { sock });
            return self.end(sock, Err(HttpError::TooLarge.to_string()));
        }
        f.buf.extend_from_slice(data);
        None
    }

    /// The server closed: the response is complete.
    pub fn eof(&mut self, sock: SockId, actions: &mut VecDeque<Action>) -> Option<Outcome<T>> {
        let f = self.live.get(&sock)?;
        let result = parse_response(&f.buf, self.max_body).map_err(|e| match e {
            HttpError::Status(code, body) => format!("HTTP {code}: {}", String::from_utf8_lossy(&body).trim()),
            e => e.to_string(),
        });
        actions.push_back(Action::Close { sock });
        self.end(sock, result)
    }

    pub fn failed(&mut self, sock: SockId, error: io::Error) -> Option<Outcome<T>> {
        self.end(sock, Err(error.to_string()))
    }

    /// Requests past their deadline, aborted.
    pub fn expire(&mut self, now: Instant, actions: &mut VecDeque<Action>) -> Vec<Outcome<T>> {
        let late: Vec<SockId> = self.live.iter().filter(|(_, f)| now >= f.deadline).map(|(s, _)| *s).collect();
        late.into_iter()
            .filter_map(|sock| {
                actions.push_back(Action::Abort { sock });
                self.end(sock, Err(format!("no answer within {} s", FETCH_TIMEOUT.as_secs())))
            })
            .collect()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.live.values().map(|f| f.deadline).min()
    }
}
