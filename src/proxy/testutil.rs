//! A test reactor for proxy sessions: performs every action into in-memory peers and checks the
//! session contract of `proxy/mod.rs` (writes only before a status or after an OK one, each id closed once,
//! nothing after `CloseClient`).

use std::collections::BTreeMap;

use super::{Action, Session, UpstreamId};
use crate::wire::standard::{StandardStructure, Status};

/// What one anonymous connection has seen.
#[derive(Debug, Default)]
pub struct Peer {
    pub structure: Option<StandardStructure>,
    pub status: Option<Status>,
    pub received: Vec<u8>,
    pub write_shut: bool,
    pub closed: bool,
}

/// Drives a session and records what it does.
pub struct Harness<S: Session> {
    pub session: S,
    pub client: Vec<u8>,
    pub client_write_shut: bool,
    pub client_closed: bool,
    pub peers: BTreeMap<UpstreamId, Peer>,
    /// Ids in the order they were opened.
    pub opened: Vec<UpstreamId>,
}

impl<S: Session> Harness<S> {
    pub fn new(session: S) -> Self {
        let mut h = Harness {
            session,
            client: Vec::new(),
            client_write_shut: false,
            client_closed: false,
            peers: BTreeMap::new(),
            opened: Vec::new(),
        };
        h.drain();
        h
    }

    /// Perform every pending action, checking the contract.
    pub fn drain(&mut self) {
        while let Some(action) = self.session.poll_action() {
            assert!(!self.client_closed, "action after CloseClient: {action:?}");
            match action {
                Action::ToClient(bytes) => {
                    assert!(!self.client_write_shut, "write after ShutdownClientWrite");
                    self.client.extend_from_slice(&bytes);
                }
                Action::Open { id, structure } => {
                    assert!(!self.peers.contains_key(&id), "id {id} reused");
                    self.peers.insert(id, Peer { structure: Some(structure), ..Peer::default() });
                    self.opened.push(id);
                }
                Action::ToUpstream { id, data } => {
                    let peer = self.peers.get_mut(&id).expect("write to an id never opened");
                    let ok = peer.status.map_or(true, |s| s == Status::Ok);
                    assert!(ok, "write to {id} after a refusing status");
                    assert!(!peer.write_shut && !peer.closed, "write to {id} after shutdown/close");
                    peer.received.extend_from_slice(&data);
                }
                Action::ShutdownUpstreamWrite { id } => {
                    self.peers.get_mut(&id).expect("shutdown of an id never opened").write_shut = true;
                }
                Action::CloseUpstream { id } => {
                    let peer = self.peers.get_mut(&id).expect("close of an id never opened");
                    assert!(!peer.closed, "id {id} closed twice");
                    peer.closed = true;
                }
                Action::ShutdownClientWrite => self.client_write_shut = true,
                Action::CloseClient => {
                    self.client_closed = true;
                    let open: Vec<_> = self.peers.iter().filter(|(_, p)| !p.closed).map(|(id, _)| *id).collect();
                    assert!(open.is_empty(), "CloseClient with upstreams {open:?} still open");
                }
            }
        }
    }

    pub fn client_sends(&mut self, bytes: &[u8]) {
        self.session.client_data(bytes);
        self.drain();
    }

    /// Send one byte at a time.
    pub fn client_trickles(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.client_sends(std::slice::from_ref(b));
        }
    }

    pub fn client_eof(&mut self) {
        self.session.client_eof();
        self.drain();
    }

    pub fn status(&mut self, id: UpstreamId, status: Status) {
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.status = Some(status);
        }
        self.session.upstream_status(id, status);
        self.drain();
    }

    pub fn upstream_sends(&mut self, id: UpstreamId, bytes: &[u8]) {
        self.session.upstream_data(id, bytes);
        self.drain();
    }

    pub fn upstream_trickles(&mut self, id: UpstreamId, bytes: &[u8]) {
        for b in bytes {
            self.upstream_sends(id, std::slice::from_ref(b));
        }
    }

    pub fn upstream_eof(&mut self, id: UpstreamId) {
        self.session.upstream_eof(id);
        self.drain();
    }

    pub fn upstream_closed(&mut self, id: UpstreamId) {
        self.session.upstream_closed(id);
        self.drain();
    }

    /// What the client received since the last call.
    pub fn take_client(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.client)).into_owned()
    }

    /// What anonymous connection `id` received since the last call.
    pub fn take_upstream(&mut self, id: UpstreamId) -> String {
        let peer = self.peers.get_mut(&id).expect("no such upstream");
        String::from_utf8_lossy(&std::mem::take(&mut peer.received)).into_owned()
    }

    pub fn peer(&self, id: UpstreamId) -> &Peer {
        self.peers.get(&id).expect("no such upstream")
    }

    /// The most recently opened id.
    pub fn last_opened(&self) -> UpstreamId {
        *self.opened.last().expect("nothing opened")
    }
}

/// Feed a session a random sequence of events; used by the "never panics" properties.
#[derive(Debug, Clone)]
pub enum Event {
    ClientData(Vec<u8>),
    ClientEof,
    ClientClosed,
    Status(u8, u8),
    UpstreamData(u8, Vec<u8>),
    UpstreamEof(u8),
    UpstreamClosed(u8),
}

pub fn event_strategy(
    client: impl proptest::strategy::Strategy<Value = Vec<u8>> + Clone + 'static,
) -> impl proptest::strategy::Strategy<Value = Event> {
    use proptest::prelude::*;
    prop_oneof![
        6 => client.clone().prop_map(Event::ClientData),
        1 => Just(Event::ClientEof),
        1 => Just(Event::ClientClosed),
        2 => (0u8..4, prop_oneof![4 => Just(0u8), 1 => 0u8..10]).prop_map(|(id, s)| Event::Status(id, s)),
        4 => (0u8..4, prop_oneof![client, proptest::collection::vec(any::<u8>(), 0..64)]).prop_map(|(id, d)| Event::UpstreamData(id, d)),
        1 => (0u8..4).prop_map(Event::UpstreamEof),
        1 => (0u8..4).prop_map(Event::UpstreamClosed),
    ]
}

/// Apply `events`, ignoring backpressure hints; only panics (and contract breaches) fail.
pub fn run_events<S: Session>(session: S, events: Vec<Event>) {
    let mut h = Harness::new(session);
    for event in events {
        if h.client_closed {
            break;
        }
        match event {
            Event::ClientData(d) => h.client_sends(&d),
            Event::ClientEof => h.client_eof(),
            Event::ClientClosed => {
                h.session.client_closed();
                h.drain();
            }
            Event::Status(id, s) => {
                let id = UpstreamId::from(id);
                let opened_without_status = h.peers.get(&id).is_some_and(|p| p.status.is_none() && !p.closed);
                if let (true, Some(status)) = (opened_without_status, Status::from_byte(s)) {
                    h.status(id, status);
                }
            }
            Event::UpstreamData(id, d) => h.upstream_sends(UpstreamId::from(id), &d),
            Event::UpstreamEof(id) => h.upstream_eof(UpstreamId::from(id)),
            Event::UpstreamClosed(id) => h.upstream_closed(UpstreamId::from(id)),
        }
        let _ = h.session.wants_client_data();
        let _ = h.session.wants_upstream_data(0);
    }
}
