//! Drives an application-proxy [`Session`] with a script of events read from fuzz input, as the
//! reactor would, and checks the session contract of `proxy/mod.rs` on every action: writes to
//! an anonymous connection only after its OK status and before it is shut or closed, ids never
//! reused and closed once, nothing after `CloseClient`, and no upstream left open at
//! `CloseClient`.
//!
//! The script is a sequence of operations, one byte each (mod 8) followed by its arguments:
//! 0 client data (1-byte length), 1 client data (2-byte length), 2 client EOF, 3 client reset,
//! 4 status (id, status byte; delivered only to an opened id still waiting for it), 5 upstream
//! data (id, 1-byte length), 6 upstream EOF (id), 7 upstream reset (id). Ids are taken mod 4.
//! Like the reactor, the driver offers client bytes only while the session wants them, and
//! reports upstream events only for ids that are unknown, released, or open with an OK status.

use std::collections::BTreeMap;

use crate::proxy::{Action, Session, UpstreamId};
use crate::wire::standard::{StandardStructure, Status};

use super::Input;

/// Script operations, for building seeds.
pub mod op {
    pub const CLIENT: u8 = 0;
    pub const CLIENT_LONG: u8 = 1;
    pub const CLIENT_EOF: u8 = 2;
    pub const CLIENT_RESET: u8 = 3;
    pub const STATUS: u8 = 4;
    pub const UPSTREAM: u8 = 5;
    pub const UPSTREAM_EOF: u8 = 6;
    pub const UPSTREAM_RESET: u8 = 7;
}

/// Most operations one input runs (bounds the time of one run).
const MAX_OPS: usize = 4096;

#[derive(Debug, Default)]
struct Peer {
    structure: Option<StandardStructure>,
    status: Option<Status>,
    /// The session shut down its write side / closed it.
    write_shut: bool,
    closed: bool,
    /// The driver reported its EOF or reset.
    ended: bool,
}

/// The reactor's view of one session.
pub struct Driver<S: Session> {
    pub session: S,
    peers: BTreeMap<UpstreamId, Peer>,
    client_write_shut: bool,
    client_closed: bool,
    client_ended: bool,
    /// Bytes the session wrote to the client and to each upstream.
    pub to_client: Vec<u8>,
    pub to_upstream: BTreeMap<UpstreamId, Vec<u8>>,
}

impl<S: Session> Driver<S> {
    pub fn new(session: S) -> Self {
        let mut d = Driver {
            session,
            peers: BTreeMap::new(),
            client_write_shut: false,
            client_closed: false,
            client_ended: false,
            to_client: Vec::new(),
            to_upstream: BTreeMap::new(),
        };
        d.drain();
        d
    }

    /// Run a whole script.
    pub fn run(session: S, script: &mut Input<'_>) -> Self {
        let mut d = Driver::new(session);
        for _ in 0..MAX_OPS {
            if script.is_empty() || d.client_closed {
                break;
            }
            d.step(script);
        }
        d
    }

    /// Perform every pending action, checking the contract.
    fn drain(&mut self) {
        while let Some(action) = self.session.poll_action() {
            assert!(!self.client_closed, "action after CloseClient: {action:?}");
            match action {
                Action::ToClient(bytes) => {
                    assert!(!self.client_write_shut, "client write after ShutdownClientWrite");
                    self.to_client.extend_from_slice(&bytes);
                }
                Action::Open { id, structure } => {
                    assert!(!self.peers.contains_key(&id), "upstream id {id} reused");
                    let bytes = structure.to_bytes();
                    assert_eq!(StandardStructure::parse(&bytes), Ok(Some((structure.clone(), bytes.len()))));
                    self.peers.insert(id, Peer { structure: Some(structure), ..Peer::default() });
                }
                Action::ToUpstream { id, data } => {
                    let peer = self.peers.get(&id).expect("write to an id never opened");
                    // Before any status (data after the structure) or after an OK one.
                    assert!(peer.status.map_or(true, |s| s == Status::Ok), "write to {id} after a refusing status");
                    assert!(!peer.write_shut && !peer.closed, "write to {id} after shutdown/close");
                    assert!(!data.is_empty(), "empty write");
                    self.to_upstream.entry(id).or_default().extend_from_slice(&data);
                }
                Action::ShutdownUpstreamWrite { id } => {
                    let peer = self.peers.get_mut(&id).expect("shutdown of an id never opened");
                    assert!(!peer.closed, "shutdown of {id} after close");
                    peer.write_shut = true;
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
        if self.client_closed {
            assert!(self.session.is_finished(), "CloseClient polled but the session is not finished");
        }
    }

    /// Whether the reactor may report an upstream event for `id`: an id never opened or already
    /// released (which the session must ignore), or one open with an OK status.
    fn may_report(&self, id: UpstreamId) -> bool {
        self.peers.get(&id).map_or(true, |p| p.closed || (p.status == Some(Status::Ok) && !p.ended))
    }

    fn is_live(&self, id: UpstreamId) -> bool {
        self.peers.get(&id).is_some_and(|p| !p.closed)
    }

    fn step(&mut self, script: &mut Input<'_>) {
        match script.u8() % 8 {
            op::CLIENT => {
                let data = script.chunk();
                self.client_data(data);
            }
            op::CLIENT_LONG => {
                let data = script.long_chunk();
                self.client_data(data);
            }
            op::CLIENT_EOF => {
                if !self.client_ended {
                    self.client_ended = true;
                    self.session.client_eof();
                }
            }
            op::CLIENT_RESET => {
                if !self.client_ended {
                    self.client_ended = true;
                    self.session.client_closed();
                }
            }
            op::STATUS => {
                let id = UpstreamId::from(script.u8() % 4);
                let status = Status::from_byte(script.u8() % 10).unwrap_or(Status::RouteFailed);
                if let Some(peer) = self.peers.get_mut(&id).filter(|p| p.status.is_none() && !p.closed) {
                    peer.status = Some(status);
                    self.session.upstream_status(id, status);
                }
            }
            op::UPSTREAM => {
                let id = UpstreamId::from(script.u8() % 4);
                let data = script.chunk();
                let wanted = !self.is_live(id) || self.session.wants_upstream_data(id);
                if self.may_report(id) && wanted && !data.is_empty() {
                    self.session.upstream_data(id, data);
                }
            }
            end => {
                let id = UpstreamId::from(script.u8() % 4);
                if self.may_report(id) {
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.ended = true;
                    }
                    if end == op::UPSTREAM_EOF {
                        self.session.upstream_eof(id);
                    } else {
                        self.session.upstream_closed(id);
                    }
                }
            }
        }
        self.drain();
    }

    fn client_data(&mut self, data: &[u8]) {
        if !self.client_ended && !data.is_empty() && self.session.wants_client_data() {
            self.session.client_data(data);
        }
    }

    /// The structure an opened id asked for.
    pub fn structure(&self, id: UpstreamId) -> Option<&StandardStructure> {
        self.peers.get(&id).and_then(|p| p.structure.as_ref())
    }
}
