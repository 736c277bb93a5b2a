//! `ork directory`'s core: the authority's state machine behind HTTP/1.1 on its port
//! (`POST /descriptor`, `GET /network`, `GET /vote`, `GET /pending`), its reachability checks
//! and its fetches from the other authorities, as a [`Core`] the reactor drives.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use log::{info, warn};
use rand_chacha::ChaCha20Rng;

use super::authority::{AuthorityState, CheckFailure, Task};
use super::document::MAX_DOCUMENT_LEN;
use super::fetch::Fetches;
use super::http::{parse_request, request, response, Request};
use super::reachability::ReachabilityCheck;
use super::{StateStore, WallClock};
use crate::event::{Action, Core, ListenerIdx, Now, SockId, SockIds};

/// How long a client may take to send its request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Most HTTP connections served at once; more are refused.
pub const MAX_CONNECTIONS: usize = 512;
/// Socket ids of fetches start here (accepted and check sockets count up from 1).
const FETCH_ID_BASE: u64 = 1 << 40;

/// Saved-state names in the store.
pub const DESCRIPTORS_FILE: &str = "descriptors";
pub const CONSENSUS_FILE: &str = "consensus";

#[derive(Debug, Clone, Copy)]
enum Fetch {
    Vote(usize),
    Pending(usize),
}

struct Incoming {
    peer: SocketAddr,
    buf: Vec<u8>,
    deadline: Instant,
}

struct Check {
    id: u64,
    check: ReachabilityCheck,
    deadline: Instant,
    timeout_ms: u64,
}

/// The authority core.
pub struct AuthorityServer {
    state: AuthorityState,
    clock: WallClock,
    ids: SockIds,
    incoming: BTreeMap<SockId, Incoming>,
    checks: BTreeMap<SockId, Check>,
    fetches: Fetches<Fetch>,
    actions: VecDeque<Action>,
    rng: ChaCha20Rng,
    store: Box<dyn StateStore + Send>,
}

impl AuthorityServer {
    pub fn new(state: AuthorityState, now: Now, rng: ChaCha20Rng, store: Box<dyn StateStore + Send>) -> Self {
        AuthorityServer {
            state,
            clock: WallClock::new(now),
            ids: SockIds::default(),
            incoming: BTreeMap::new(),
            checks: BTreeMap::new(),
            fetches: Fetches::new(FETCH_ID_BASE, MAX_DOCUMENT_LEN),
            actions: VecDeque::new(),
            rng,
            store,
        }
    }

    pub fn state(&self) -> &AuthorityState {
        &self.state
    }

    fn serve(&mut self, now: Now, peer: SocketAddr, req: Request) -> Vec<u8> {
        let ok = |body: String| response(200, "OK", body.as_bytes());
        let unavailable = |what: &str| response(503, "Service Unavailable", format!("{what}\n").as_bytes());
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/descriptor") => match self.state.post_descriptor(&req.body, self.clock.ms(now)) {
                Ok(msg) => {
                    info!("{peer}: {msg}");
                    ok(format!("{msg}\n"))
                }
                Err(e) => {
                    warn!("{peer}: descriptor refused: {e}");
                    response(400, "Bad Request", format!("descriptor refused: {e}\n").as_bytes())
                }
            },
            ("GET", "/network") => match self.state.published() {
                Some(d) => ok(d.to_text()),
                None => unavailable("no consensus yet"),
            },
            ("GET", "/vote") => self.state.current_vote().map_or_else(|| unavailable("no vote this period yet"), ok),
            ("GET", "/pending") => {
                self.state.pending().map_or_else(|| unavailable("no consensus computed this period yet"), ok)
            }
            ("GET", _) | ("POST", _) => response(404, "Not Found", b"GET /network, POST /descriptor\n"),
            _ => response(405, "Method Not Allowed", b"GET or POST\n"),
        }
    }

    fn run_tasks(&mut self, now: Now) {
        let now_ms = self.clock.ms(now);
        while let Some(task) = self.state.poll_task() {
            match task {
                Task::Check { id, addr, key, deadline_ms } => {
                    match ReachabilityCheck::start(now.mono, addr, key, &mut self.rng) {
                        Ok((check, msg1)) => {
                            let sock = self.ids.fresh();
                            self.actions.push_back(Action::Connect {
                                sock,
                                addr: SocketAddr::V4(addr),
                                privileged: false,
                            });
                            self.actions.push_back(Action::Send { sock, data: msg1 });
                            let timeout_ms = deadline_ms.saturating_sub(now_ms);
                            let deadline = now.mono + Duration::from_millis(timeout_ms);
                            self.checks.insert(sock, Check { id, check, deadline, timeout_ms });
                        }
                        Err(e) => self.state.check_done(id, Err(e)),
                    }
                }
                Task::FetchVote { peer } => self.fetch(now, peer, "/vote", Fetch::Vote(peer)),
                Task::FetchPending { peer } => self.fetch(now, peer, "/pending", Fetch::Pending(peer)),
                Task::Save => {
                    let (descs, consensus) = self.state.saved_state();
                    self.store.save(super::server::DESCRIPTORS_FILE, &descs);
                    if let Some(c) = consensus {
                        self.store.save(CONSENSUS_FILE, &c);
                    }
                }
            }
        }
    }

    fn fetch(&mut self, now: Now, peer: usize, path: &str, tag: Fetch) {
        let Some(addr) = self.state.authorities().list.get(peer).map(|a| a.addr) else { return };
        let req = request("GET", &addr.to_string(), path, b"");
        self.fetches.start(now.mono, addr, req, tag, &mut self.actions);
    }

    fn fetched(&mut self, now: Now, outcome: Option<(Fetch, SocketAddrV4, Result<Vec<u8>, String>)>) {
        match outcome {
            Some((Fetch::Vote(peer), _, body)) => self.state.vote_fetched(peer, body),
            Some((Fetch::Pending(peer), _, body)) => self.state.pending_fetched(peer, body),
            None => return,
        }
        self.run_tasks(now);
    }

    fn check_ended(&mut self, now: Now, sock: SockId, result: Result<(), CheckFailure>) {
        if let Some(c) = self.checks.remove(&sock) {
            self.actions.push_back(Action::Close { sock });
            self.state.check_done(c.id, result);
            self.run_tasks(now);
        }
    }
}

impl Core for AuthorityServer {
    fn accepted(&mut self, now: Now, _listener: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        if self.incoming.len() >= MAX_CONNECTIONS {
            warn!("{peer}: refused: {MAX_CONNECTIONS} connections already open");
            return None;
        }
        let sock = self.ids.fresh();
        self.incoming.insert(sock, Incoming { peer, buf: Vec::new(), deadline: now.mono + REQUEST_TIMEOUT });
        Some(sock)
    }

    fn connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        if self.fetches.owns(sock) {
            let o = self.fetches.connected(sock, result);
            return self.fetched(now, o);
        }
        if let Err(e) = result {
            self.check_ended(now, sock, Err(CheckFailure::Unreachable(e.to_string())));
        }
    }

    fn received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        if self.fetches.owns(sock) {
            let o = self.fetches.received(sock, data, &mut self.actions);
            return self.fetched(now, o);
        }
        if let Some(c) = self.checks.get_mut(&sock) {
            if let Some(result) = c.check.read(now.mono, data) {
                self.check_ended(now, sock, result);
            }
            return;
        }
        let Some(conn) = self.incoming.get_mut(&sock) else { return };
        conn.buf.extend_from_slice(data);
        match parse_request(&conn.buf) {
            Ok(None) => {}
            Ok(Some(req)) => {
                let peer = conn.peer;
                self.incoming.remove(&sock);
                let resp = self.serve(now, peer, req);
                self.actions.push_back(Action::Send { sock, data: resp });
                self.actions.push_back(Action::Close { sock });
                self.run_tasks(now);
            }
            Err(e) => {
                warn!("{}: bad request: {e}", conn.peer);
                self.incoming.remove(&sock);
                self.actions
                    .push_back(Action::Send { sock, data: response(400, "Bad Request", format!("{e}\n").as_bytes()) });
                self.actions.push_back(Action::Close { sock });
            }
        }
    }

    fn eof(&mut self, now: Now, sock: SockId) {
        if self.fetches.owns(sock) {
            let o = self.fetches.eof(sock, &mut self.actions);
            return self.fetched(now, o);
        }
        if let Some(c) = self.checks.get(&sock) {
            let e = c.check.closed();
            return self.check_ended(now, sock, Err(e));
        }
        if self.incoming.remove(&sock).is_some() {
            self.actions.push_back(Action::Close { sock });
        }
    }

    fn failed(&mut self, now: Now, sock: SockId, error: io::Error) {
        if self.fetches.owns(sock) {
            let o = self.fetches.failed(sock, error);
            return self.fetched(now, o);
        }
        if self.checks.contains_key(&sock) {
            return self.check_ended(now, sock, Err(CheckFailure::Unreachable(error.to_string())));
        }
        self.incoming.remove(&sock);
    }

    fn write_buffered(&mut self, _now: Now, _sock: SockId, _bytes: usize) {}

    fn resolved(&mut self, _now: Now, _request: u64, _result: io::Result<Vec<SocketAddr>>) {}

    fn tick(&mut self, now: Now) {
        self.state.tick(self.clock.ms(now));
        self.run_tasks(now);
        for o in self.fetches.expire(now.mono, &mut self.actions) {
            self.fetched(now, Some(o));
        }
        let late: Vec<SockId> = self.checks.iter().filter(|(_, c)| now.mono >= c.deadline).map(|(s, _)| *s).collect();
        for sock in late {
            self.actions.push_back(Action::Abort { sock });
            if let Some(c) = self.checks.remove(&sock) {
                self.state.check_done(c.id, Err(CheckFailure::Timeout(c.timeout_ms)));
            }
        }
        let idle: Vec<SockId> = self.incoming.iter().filter(|(_, c)| now.mono >= c.deadline).map(|(s, _)| *s).collect();
        for sock in idle {
            if let Some(c) = self.incoming.remove(&sock) {
                info!("{}: no complete request within {} s; closed", c.peer, REQUEST_TIMEOUT.as_secs());
                self.actions.push_back(Action::Abort { sock });
            }
        }
        self.run_tasks(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let phases = Some(self.clock.instant(self.state.next_wakeup_ms()));
        let checks = self.checks.values().map(|c| c.deadline).min();
        let conns = self.incoming.values().map(|c| c.deadline).min();
        [phases, checks, conns, self.fetches.next_deadline()].into_iter().flatten().min()
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn shutdown(&mut self, _now: Now) {
        let socks: Vec<SockId> = self.incoming.keys().chain(self.checks.keys()).copied().collect();
        for sock in socks {
            self.actions.push_back(Action::Close { sock });
        }
    }
}
