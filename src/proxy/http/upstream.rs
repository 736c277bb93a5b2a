//! The anonymous connections of one HTTP proxy session: opening, writing (optimistically, right
//! behind the standard structure, before the status byte: protocol.md §7), and releasing each exactly
//! once. A non-zero status still becomes a 502 for the request.

use std::collections::BTreeMap;

use crate::proxy::{Action, Outbox, UpstreamId};
use crate::wire::standard::{Host, Protocol, StandardStructure, Status};

/// An anonymous connection of the HTTP proxy.
#[derive(Debug)]
pub struct Upstream {
    pub host: Host,
    pub port: u16,
    /// `None` until the status byte arrives.
    pub status: Option<Status>,
    /// Response bytes not yet relayed.
    pub inbuf: Vec<u8>,
    /// No more bytes will come.
    pub eof: bool,
    /// The connection was reset (so a read-until-close body may be cut short).
    pub reset: bool,
    /// An exchange is using it.
    pub busy: bool,
    /// It has carried a complete exchange.
    pub used: bool,
    /// `CloseUpstream` has been sent.
    pub released: bool,
}

impl Upstream {
    /// Can carry a new exchange once idle.
    pub fn live(&self) -> bool {
        !self.released && !self.eof && matches!(self.status, None | Some(Status::Ok))
    }
}

/// The session's anonymous connections by id.
#[derive(Debug, Default)]
pub struct Upstreams {
    map: BTreeMap<UpstreamId, Upstream>,
    next_id: UpstreamId,
}

impl Upstreams {
    /// Ask for a new connection; it starts busy.
    pub fn open(&mut self, out: &mut Outbox, host: Host, port: u16, protocol: Protocol) -> UpstreamId {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let structure = StandardStructure::new(protocol, host.clone(), port);
        out.push(Action::Open { id, structure });
        let up = Upstream {
            host,
            port,
            status: None,
            inbuf: Vec::new(),
            eof: false,
            reset: false,
            busy: true,
            used: false,
            released: false,
        };
        self.map.insert(id, up);
        id
    }

    pub fn get(&self, id: UpstreamId) -> Option<&Upstream> {
        self.map.get(&id)
    }

    pub fn get_mut(&mut self, id: UpstreamId) -> Option<&mut Upstream> {
        self.map.get_mut(&id)
    }

    /// A live connection to host:port, if any.
    pub fn find(&mut self, host: &Host, port: u16) -> Option<(UpstreamId, &mut Upstream)> {
        self.map.iter_mut().find(|(_, u)| u.live() && u.host == *host && u.port == port).map(|(&id, u)| (id, u))
    }

    /// Connections not yet released.
    pub fn open_count(&self) -> usize {
        self.map.values().filter(|u| !u.released).count()
    }

    /// An unreleased connection that no exchange uses.
    pub fn idle(&self) -> Option<UpstreamId> {
        self.map.iter().find(|(_, u)| !u.busy && !u.released).map(|(&id, _)| id)
    }

    /// Send `CloseUpstream` once; forget the connection unless an exchange still reads it.
    pub fn release(&mut self, out: &mut Outbox, id: UpstreamId) {
        let Some(up) = self.map.get_mut(&id) else {
            return;
        };
        if !up.released {
            up.released = true;
            out.push(Action::CloseUpstream { id });
        }
        if !up.busy {
            self.map.remove(&id);
        }
    }

    /// The exchange on `id` is over; release the connection unless it can be reused.
    pub fn unbusy(&mut self, out: &mut Outbox, id: UpstreamId, reusable: bool) {
        if let Some(up) = self.map.get_mut(&id) {
            up.busy = false;
            up.used = true;
            if !reusable || !up.live() {
                self.release(out, id);
            }
        }
    }

    pub fn release_all(&mut self, out: &mut Outbox) {
        self.release_all_but(out, None);
    }

    /// Release every connection except `keep` (a CONNECT tunnel takes the client connection
    /// over, so no later request can use the others, idle keep-alive ones included).
    pub fn release_all_but(&mut self, out: &mut Outbox, keep: Option<UpstreamId>) {
        for (&id, up) in &mut self.map {
            if Some(id) != keep && !up.released {
                out.push(Action::CloseUpstream { id });
            }
        }
        self.map.retain(|&id, _| Some(id) == keep);
    }

    /// Send now unless the status said no (optimistic data: before the status too).
    pub fn write(&mut self, out: &mut Outbox, id: UpstreamId, bytes: &[u8]) {
        let Some(up) = self.map.get_mut(&id) else {
            return;
        };
        match up.status {
            _ if up.released => {}
            None | Some(Status::Ok) => out.send_upstream(id, bytes),
            Some(_) => {}
        }
    }

    /// Record the status byte; a non-zero one releases the connection.
    pub fn status(&mut self, out: &mut Outbox, id: UpstreamId, status: Status) {
        let Some(up) = self.map.get_mut(&id) else {
            return;
        };
        if up.status.is_some() || up.released {
            return;
        }
        up.status = Some(status);
        if status != Status::Ok {
            self.release(out, id);
        }
    }

    /// The connection ended cleanly (`reset` false) or not.
    pub fn ended(&mut self, out: &mut Outbox, id: UpstreamId, reset: bool) {
        let Some(up) = self.map.get_mut(&id) else {
            return;
        };
        up.eof = true;
        up.reset |= reset;
        if reset || !up.busy {
            self.release(out, id);
        }
    }
}
