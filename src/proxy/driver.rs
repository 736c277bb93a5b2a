//! Drives application-proxy sessions on real (or simulated) sockets: a [`Core`] that accepts
//! clients, makes one [`Session`] each, opens anonymous connections through the onion proxy
//! (standard structure out, status byte back) and carries out the sessions' actions, following
//! the contract in this module's parent: clients outside `--allow-from` are refused in the
//! session's protocol, and bytes a session writes before the status byte (optimistic data) go
//! out right behind the structure.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use log::{debug, info, warn};

use super::{Action as SessionAction, Session, UpstreamId};
use crate::config::allow::AllowList;
use crate::event::{Action, Core, ListenerIdx, Now, SockId, SockIds};
use crate::wire::Status;

enum Upstream {
    /// Connecting to the onion proxy: what to send once connected (isolation prefix, structure,
    /// optimistic data), and whether to half-close after it.
    Connecting {
        first: Vec<u8>,
        shut: bool,
    },
    /// Structure sent; waiting for the status byte.
    AwaitingStatus,
    Open,
}

enum Role {
    Client,
    Upstream { client: SockId, id: UpstreamId, state: Upstream },
}

struct Client<S> {
    session: S,
    upstreams: HashMap<UpstreamId, SockId>,
    /// The session's last event (for its idle timeout).
    last_event: Instant,
}

/// The driver, generic over the session type and its factory.
pub struct ProxyCore<S, F> {
    onion_proxy: SocketAddr,
    make: F,
    ids: SockIds,
    actions: VecDeque<Action>,
    clients: HashMap<SockId, Client<S>>,
    roles: HashMap<SockId, Role>,
    paused: HashSet<SockId>,
    name: &'static str,
    allow: AllowList,
}

impl<S: Session, F: FnMut() -> S> ProxyCore<S, F> {
    /// `name` is for logs ("http-proxy"); `make` creates a session per client. Clients are
    /// accepted from loopback only until [`ProxyCore::allow_from`] says otherwise.
    pub fn new(name: &'static str, onion_proxy: SocketAddr, make: F) -> Self {
        ProxyCore {
            onion_proxy,
            make,
            ids: SockIds::default(),
            actions: VecDeque::new(),
            clients: HashMap::new(),
            roles: HashMap::new(),
            paused: HashSet::new(),
            name,
            allow: AllowList::loopback(),
        }
    }

    /// Accept clients from these networks only (`--allow-from`).
    pub fn allow_from(mut self, allow: AllowList) -> Self {
        self.allow = allow;
        self
    }

    /// Client connections being served.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Carry out everything the client's session wants, then set read interest.
    fn pump(&mut self, client: SockId) {
        let Some(c) = self.clients.get_mut(&client) else { return };
        while let Some(a) = c.session.poll_action() {
            match a {
                SessionAction::ToClient(data) => self.actions.push_back(Action::Send { sock: client, data }),
                SessionAction::Open { id, structure } => {
                    let sock = self.ids.fresh();
                    c.upstreams.insert(id, sock);
                    let mut first = c.session.isolation().map(|k| k.to_prefix().to_vec()).unwrap_or_default();
                    first.extend_from_slice(&structure.to_bytes());
                    let state = Upstream::Connecting { first, shut: false };
                    self.roles.insert(sock, Role::Upstream { client, id, state });
                    debug!("{}: anonymous connection to {}:{}", self.name, structure.host, structure.port);
                    self.actions.push_back(Action::Connect { sock, addr: self.onion_proxy, privileged: false });
                }
                SessionAction::ToUpstream { id, data } => {
                    let Some(&sock) = c.upstreams.get(&id) else { continue };
                    match self.roles.get_mut(&sock) {
                        Some(Role::Upstream { state: Upstream::Connecting { first, .. }, .. }) => {
                            first.extend_from_slice(&data);
                        }
                        _ => self.actions.push_back(Action::Send { sock, data }),
                    }
                }
                SessionAction::ShutdownUpstreamWrite { id } => {
                    let Some(&sock) = c.upstreams.get(&id) else { continue };
                    match self.roles.get_mut(&sock) {
                        Some(Role::Upstream { state: Upstream::Connecting { shut, .. }, .. }) => *shut = true,
                        _ => self.actions.push_back(Action::ShutdownWrite { sock }),
                    }
                }
                SessionAction::CloseUpstream { id } => {
                    if let Some(sock) = c.upstreams.remove(&id) {
                        self.roles.remove(&sock);
                        self.paused.remove(&sock);
                        self.actions.push_back(Action::Close { sock });
                    }
                }
                SessionAction::ShutdownClientWrite => self.actions.push_back(Action::ShutdownWrite { sock: client }),
                SessionAction::CloseClient => self.actions.push_back(Action::Close { sock: client }),
            }
        }
        if c.session.is_finished() {
            for (_, sock) in c.upstreams.drain() {
                self.roles.remove(&sock);
                self.actions.push_back(Action::Close { sock });
            }
            self.clients.remove(&client);
            self.roles.remove(&client);
            self.paused.remove(&client);
            return;
        }
        let mut wants = vec![(client, c.session.wants_client_data())];
        for (&id, &sock) in &c.upstreams {
            let open = matches!(self.roles.get(&sock), Some(Role::Upstream { state: Upstream::Open, .. }));
            if open {
                wants.push((sock, c.session.wants_upstream_data(id)));
            }
        }
        for (sock, want) in wants {
            if want && self.paused.remove(&sock) {
                self.actions.push_back(Action::ResumeRead { sock });
            } else if !want && self.paused.insert(sock) {
                self.actions.push_back(Action::PauseRead { sock });
            }
        }
    }

    /// Route an event on `sock` to its session, then pump that session.
    fn upstream_event(&mut self, now: Now, sock: SockId, f: impl FnOnce(&mut S, UpstreamId, &mut Upstream)) {
        let Some(Role::Upstream { client, id, state }) = self.roles.get_mut(&sock) else { return };
        let (client, id) = (*client, *id);
        if let Some(c) = self.clients.get_mut(&client) {
            c.last_event = now.mono;
            f(&mut c.session, id, state);
        }
        self.pump(client);
    }

    /// The client socket's event: note the time, let `f` tell the session, pump it.
    fn client_event(&mut self, now: Now, sock: SockId, f: impl FnOnce(&mut S)) {
        if let Some(c) = self.clients.get_mut(&sock) {
            c.last_event = now.mono;
            f(&mut c.session);
        }
        self.pump(sock);
    }

    /// When a session's idle time runs out, if it has a limit now.
    fn idle_deadline(c: &Client<S>) -> Option<Instant> {
        c.session.idle_timeout().map(|t| c.last_event + t)
    }
}

impl<S: Session, F: FnMut() -> S> Core for ProxyCore<S, F> {
    fn accepted(&mut self, now: Now, _l: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        let sock = self.ids.fresh();
        let mut session = (self.make)();
        if self.allow.allows(peer.ip()) {
            debug!("{}: client {peer}", self.name);
        } else {
            warn!("{}: client {peer} refused: not in --allow-from ({})", self.name, self.allow);
            session.refuse_client();
        }
        self.clients.insert(sock, Client { session, upstreams: HashMap::new(), last_event: now.mono });
        self.roles.insert(sock, Role::Client);
        self.pump(sock);
        Some(sock)
    }

    fn connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        let mut send = None;
        self.upstream_event(now, sock, |s, id, state| {
            match (result, std::mem::replace(state, Upstream::AwaitingStatus)) {
                (Ok(()), Upstream::Connecting { first, shut }) => send = Some((first, shut)),
                (Err(e), _) => {
                    info!("cannot reach the onion proxy: {e}");
                    s.upstream_status(id, Status::RouteFailed);
                }
                (Ok(()), other) => *state = other,
            }
        });
        if let Some((data, shut)) = send {
            self.actions.push_back(Action::Send { sock, data });
            if shut {
                self.actions.push_back(Action::ShutdownWrite { sock });
            }
        }
    }

    fn received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        if matches!(self.roles.get(&sock), Some(Role::Client)) {
            return self.client_event(now, sock, |s| s.client_data(data));
        }
        self.upstream_event(now, sock, |s, id, state| {
            let rest = match state {
                Upstream::AwaitingStatus => {
                    let status = data.first().and_then(|b| Status::from_byte(*b)).unwrap_or(Status::RouteFailed);
                    s.upstream_status(id, status);
                    *state = Upstream::Open;
                    &data[1.min(data.len())..]
                }
                Upstream::Open => data,
                Upstream::Connecting { .. } => &[],
            };
            if !rest.is_empty() {
                s.upstream_data(id, rest);
            }
        });
    }

    fn eof(&mut self, now: Now, sock: SockId) {
        if matches!(self.roles.get(&sock), Some(Role::Client)) {
            return self.client_event(now, sock, |s| s.client_eof());
        }
        self.upstream_event(now, sock, |s, id, state| match state {
            Upstream::Open => s.upstream_eof(id),
            _ => s.upstream_status(id, Status::RouteFailed),
        });
    }

    fn failed(&mut self, now: Now, sock: SockId, _error: io::Error) {
        if matches!(self.roles.get(&sock), Some(Role::Client)) {
            return self.client_event(now, sock, |s| s.client_closed());
        }
        self.upstream_event(now, sock, |s, id, state| match state {
            Upstream::Open => s.upstream_closed(id),
            _ => s.upstream_status(id, Status::RouteFailed),
        });
    }

    fn write_buffered(&mut self, _now: Now, _sock: SockId, _bytes: usize) {}

    fn resolved(&mut self, _now: Now, _r: u64, _result: io::Result<Vec<SocketAddr>>) {}

    fn tick(&mut self, now: Now) {
        let idle: Vec<SockId> = self
            .clients
            .iter()
            .filter(|(_, c)| Self::idle_deadline(c).is_some_and(|t| t <= now.mono))
            .map(|(s, _)| *s)
            .collect();
        for sock in idle {
            info!("{}: client {sock} idle too long; closing it", self.name);
            self.client_event(now, sock, |s| s.client_closed());
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.clients.values().filter_map(Self::idle_deadline).min()
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn shutdown(&mut self, _now: Now) {
        let socks: Vec<SockId> = self.roles.keys().copied().collect();
        for sock in socks {
            self.actions.push_back(Action::Close { sock });
        }
        self.roles.clear();
        self.clients.clear();
    }
}
