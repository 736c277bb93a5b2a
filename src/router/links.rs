//! The link table (protocol.md §3): the router's neighbours (dialling the lower ones with the
//! shared [`Redial`] backoff, accepting the higher ones and anonymous clients), wake-up on
//! restart, liveness upkeep and link loss. Each link is a [`LinkEnd`] of `crate::link`, the
//! machine every role shares (keying, codec, PADDING, liveness, ACIs). What the links carry is
//! handed back to the router as cells and [`LinkEvent`]s; the table knows nothing of
//! connections.

use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use log::{debug, info};
use rand::rngs::StdRng;

use crate::config::neighbors::Neighbor;
use crate::crypto::{RsaPrivateKey, RsaPublicKey};
use crate::event::{Action, Now, SockId, SockIds};
use crate::link::aci::id_bytes;
use crate::link::{LinkCodec, LinkEnd, LinkLoss, LinkTimers, Listener, PeerIdentity, Redial, TimeoutLog};
use crate::wire::{Aci, Cell};

mod added;
mod status;
#[cfg(test)]
mod tests;
mod upkeep;

/// What the table needs to know of the router.
pub(super) struct LinkSettings {
    pub identity: SocketAddrV4,
    pub key: Arc<RsaPrivateKey>,
    pub timers: LinkTimers,
    pub padding_rate: f64,
    /// A link that closes within this after its handshake counts as a failed attempt.
    pub stable_after: Duration,
    /// Emit key-log lines (tests only).
    pub key_log: bool,
}

/// Something the router must act on.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LinkEvent {
    /// A link was keyed and carries cells.
    Up,
    /// A peer failed the handshake.
    Refused,
    /// This link is gone: call [`LinkTable::lose`] and end its connections.
    Lost(SockId, LinkLoss),
    /// A key-log line (tests only).
    KeyLog(String),
}

/// One neighbour of the predefined topology.
struct NeighborState {
    addr: SocketAddrV4,
    key: RsaPublicKey,
    /// We are the higher address: we dial it and our link carries cells.
    we_dial: bool,
    /// The open cell-carrying link.
    link: Option<SockId>,
    /// A dial in progress (connecting or keying).
    attempt: Option<SockId>,
    redial: Redial,
}

/// One TCP connection to a neighbour or an anonymous client.
struct Link {
    end: LinkEnd,
    /// Neighbour index, when dialled or identified.
    neighbor: Option<usize>,
    /// Keyed and carrying cells (the others are wake-ups waiting to be closed).
    carrier: bool,
    /// Bytes the driver last reported as unwritten on the link's socket.
    unwritten: usize,
    /// The link's key-log tag, kept only when the key log is on.
    key_log_tag: Option<String>,
}

impl Link {
    fn is_carrier(&self) -> bool {
        self.carrier && self.end.is_open()
    }

    /// Who is at the other end, for logs.
    fn describe(&self) -> String {
        match self.end.peer() {
            Some(PeerIdentity::Router(a)) => format!("router {a}"),
            Some(PeerIdentity::Anonymous) => format!("anonymous client {}", self.end.tcp_peer()),
            None => format!("{}", self.end.tcp_peer()),
        }
    }
}

/// Every link and neighbour.
pub(super) struct LinkTable {
    settings: LinkSettings,
    links: BTreeMap<SockId, Link>,
    neighbors: Vec<NeighborState>,
    /// Handshake timeouts, logged at most once per peer address per minute.
    timeouts_log: TimeoutLog,
    rx: Vec<Cell>,
}

impl LinkTable {
    pub fn new(settings: LinkSettings, neighbors: &[Neighbor]) -> LinkTable {
        let me = settings.identity;
        let neighbors = neighbors
            .iter()
            .map(|n| NeighborState {
                addr: n.addr,
                key: n.key.clone(),
                we_dial: id_bytes(me) > id_bytes(n.addr),
                link: None,
                attempt: None,
                redial: Redial::default(),
            })
            .collect();
        LinkTable { settings, links: BTreeMap::new(), neighbors, timeouts_log: TimeoutLog::default(), rx: Vec::new() }
    }

    /// At start: plan the dials to lower neighbours, wake up the higher ones.
    pub fn start(&mut self, now: Now, ids: &mut SockIds, out: &mut VecDeque<Action>) {
        for i in 0..self.neighbors.len() {
            if self.neighbors[i].we_dial {
                self.neighbors[i].redial.at(now.mono);
            } else {
                // Wake-up: tell a higher neighbour we are (back) up.
                self.dial(now, i, true, ids, out);
            }
        }
    }

    fn dial(&mut self, now: Now, idx: usize, wakeup: bool, ids: &mut SockIds, out: &mut VecDeque<Action>) {
        let sock = ids.fresh();
        let addr = self.neighbors[idx].addr;
        debug!("dialling {addr}{}", if wakeup { " (wake-up)" } else { "" });
        let end = self.new_end(LinkEnd::dialling(SocketAddr::V4(addr), Some(self.settings.identity), now.mono));
        self.insert(sock, end, Some(idx));
        if !wakeup {
            self.neighbors[idx].attempt = Some(sock);
            self.neighbors[idx].redial.dialling();
        }
        out.push_back(Action::Connect { sock, addr: SocketAddr::V4(addr), privileged: false });
    }

    fn insert(&mut self, sock: SockId, end: LinkEnd, neighbor: Option<usize>) {
        self.links.insert(sock, Link { end, neighbor, carrier: false, unwritten: 0, key_log_tag: None });
    }

    /// A peer connected to the listener.
    pub fn accept(&mut self, now: Now, peer: SocketAddr, ids: &mut SockIds, rng: &mut StdRng) -> SockId {
        let sock = ids.fresh();
        let listener = Listener::new(self.settings.key.clone(), rng);
        let end = self.new_end(LinkEnd::accepting(peer, Some(self.settings.identity), listener, now.mono));
        self.insert(sock, end, None);
        sock
    }

    /// A link end with this router's timers and padding rate.
    fn new_end(&self, end: LinkEnd) -> LinkEnd {
        end.with_timers(self.settings.timers).with_padding_rate(self.settings.padding_rate)
    }

    /// Take a connection whose link is already keyed (the fuzz harness).
    #[allow(clippy::too_many_arguments)]
    pub fn accept_keyed(
        &mut self,
        now: Now,
        tcp_peer: SocketAddr,
        peer: PeerIdentity,
        codec: LinkCodec,
        ids: &mut SockIds,
        out: &mut VecDeque<Action>,
        events: &mut Vec<LinkEvent>,
    ) -> SockId {
        let sock = ids.fresh();
        let end = self.new_end(LinkEnd::keyed(tcp_peer, Some(self.settings.identity), peer, codec, now.mono));
        self.insert(sock, end, None);
        self.established(now, sock, peer, ids, out, events);
        sock
    }

    /// The TCP connection of a dialled link is made (or failed).
    pub fn connected(
        &mut self,
        now: Now,
        sock: SockId,
        result: std::io::Result<()>,
        rng: &mut StdRng,
        out: &mut VecDeque<Action>,
        events: &mut Vec<LinkEvent>,
    ) {
        if let Err(e) = result {
            debug!("connect {sock} failed: {e}");
            return events.push(LinkEvent::Lost(sock, LinkLoss::ConnectFailed));
        }
        let Some(link) = self.links.get_mut(&sock) else { return };
        let Some(idx) = link.neighbor else { return };
        let n = &self.neighbors[idx];
        let key = Some(self.settings.key.clone());
        if let Err(loss) = link.end.connected(now.mono, key, n.addr, n.key.clone(), rng) {
            return events.push(LinkEvent::Lost(sock, loss));
        }
        self.flush(sock, out);
    }

    /// Hand what a link has buffered to the driver.
    pub fn flush(&mut self, sock: SockId, out: &mut VecDeque<Action>) {
        if let Some(data) = self.links.get_mut(&sock).and_then(|l| l.end.take_output()) {
            out.push_back(Action::Send { sock, data });
        }
    }

    /// Bytes arrived on a link. The cells it carries are appended to `cells`.
    #[allow(clippy::too_many_arguments)]
    pub fn received(
        &mut self,
        now: Now,
        sock: SockId,
        data: &[u8],
        ids: &mut SockIds,
        out: &mut VecDeque<Action>,
        cells: &mut Vec<Cell>,
        events: &mut Vec<LinkEvent>,
    ) {
        let Some(link) = self.links.get_mut(&sock) else { return };
        if link.end.is_open() && !link.carrier {
            return;
        }
        let mut rx = std::mem::take(&mut self.rx);
        let neighbors = &self.neighbors;
        let lookup = |a: SocketAddrV4| neighbors.iter().find(|n| n.addr == a).map(|n| n.key.clone());
        let result = link.end.received(now.mono, data, &lookup, &mut rx);
        self.flush(sock, out);
        let failed = result.as_ref().err().copied();
        match result {
            Ok(Some(keyed)) => {
                if self.settings.key_log {
                    events.push(LinkEvent::KeyLog(keyed.secrets.key_log_line()));
                    if let Some(link) = self.links.get_mut(&sock) {
                        link.key_log_tag = Some(hex::encode(keyed.secrets.tag));
                    }
                }
                self.established(now, sock, keyed.peer, ids, out, events);
            }
            Err(LinkLoss::HandshakeFailed) => events.push(LinkEvent::Refused),
            _ => {}
        }
        if self.is_carrier(sock) {
            if cells.is_empty() {
                // The usual case: hand over the decoded cells without copying them.
                std::mem::swap(cells, &mut rx);
            } else {
                cells.append(&mut rx);
            }
        }
        rx.clear();
        self.rx = rx;
        if let Some(loss) = failed {
            events.push(LinkEvent::Lost(sock, loss));
        }
    }

    fn established(
        &mut self,
        now: Now,
        sock: SockId,
        peer: PeerIdentity,
        ids: &mut SockIds,
        out: &mut VecDeque<Action>,
        events: &mut Vec<LinkEvent>,
    ) {
        let Some(link) = self.links.get_mut(&sock) else { return };
        let (carrier, idx) = match (peer, link.end.dialled(), link.neighbor) {
            (PeerIdentity::Anonymous, false, _) => (true, None),
            (_, true, Some(idx)) => (self.neighbors[idx].we_dial, Some(idx)),
            (PeerIdentity::Router(a), false, _) => {
                let idx = self.neighbors.iter().position(|n| n.addr == a);
                (idx.is_some_and(|i| !self.neighbors[i].we_dial), idx)
            }
            _ => (false, None),
        };
        link.neighbor = idx;
        link.carrier = carrier;
        let who = link.describe();
        let dialled = link.end.dialled();
        if carrier {
            events.push(LinkEvent::Up);
            info!("link up: {who}");
            if let Some(i) = idx {
                if let Some(old) = self.neighbors[i].link.replace(sock) {
                    if old != sock {
                        events.push(LinkEvent::Lost(old, LinkLoss::Replaced));
                    }
                }
                if self.neighbors[i].attempt == Some(sock) {
                    self.neighbors[i].attempt = None;
                }
            }
        } else if let (false, Some(i)) = (dialled, idx) {
            // A lower neighbour woke us up: it restarted, so our link to it is stale.
            info!("wake-up from {who}: redialling it");
            self.links.remove(&sock);
            out.push_back(Action::Close { sock });
            if let Some(old) = self.neighbors[i].link.take() {
                events.push(LinkEvent::Lost(old, LinkLoss::Stale));
            }
            if let Some(att) = self.neighbors[i].attempt.take() {
                self.links.remove(&att);
                out.push_back(Action::Abort { sock: att });
            }
            self.neighbors[i].redial.reset();
            self.dial(now, i, false, ids, out);
        } else {
            debug!("wake-up link to {who} keyed; waiting for it to close");
        }
    }

    /// Remove a link: close its socket, log, plan a redial. `Some(was_carrier)` if it existed.
    pub fn lose(
        &mut self,
        now: Now,
        sock: SockId,
        loss: LinkLoss,
        rng: &mut StdRng,
        out: &mut VecDeque<Action>,
    ) -> Option<bool> {
        let link = self.links.remove(&sock)?;
        out.push_back(Action::Close { sock });
        let was_carrier = link.is_carrier();
        if was_carrier {
            info!("link down: {} ({loss})", link.describe());
        } else if loss == LinkLoss::HandshakeTimeout {
            self.timeouts_log.timed_out(now.mono, link.end.log_address(), "router");
        } else {
            debug!("link {} closed ({loss})", link.describe());
        }
        for n in &mut self.neighbors {
            if n.link != Some(sock) && n.attempt != Some(sock) {
                continue;
            }
            n.link = n.link.filter(|s| *s != sock);
            n.attempt = n.attempt.filter(|s| *s != sock);
            if n.we_dial && n.link.is_none() && n.attempt.is_none() {
                let stable_after = self.settings.stable_after;
                let delay = n.redial.lost(now.mono, link.end.established(), stable_after, rng);
                debug!("redialling {} in {delay:?}", n.addr);
            }
        }
        Some(was_carrier)
    }

    pub fn is_carrier(&self, sock: SockId) -> bool {
        self.links.get(&sock).is_some_and(Link::is_carrier)
    }

    /// The open link to neighbour `addr`.
    pub fn link_to(&self, addr: SocketAddrV4) -> Option<SockId> {
        self.neighbors.iter().find(|n| n.addr == addr).and_then(|n| n.link)
    }

    /// Whether `aci` is in this router's half on `sock`.
    pub fn is_ours(&self, sock: SockId, aci: Aci) -> bool {
        self.links.get(&sock).is_some_and(|l| l.end.is_ours(aci))
    }

    pub fn mark_used(&mut self, sock: SockId, aci: Aci) {
        if let Some(l) = self.links.get_mut(&sock) {
            l.end.mark_used(aci);
        }
    }

    pub fn allocate_aci(&mut self, sock: SockId, rng: &mut StdRng) -> Option<Aci> {
        self.links.get_mut(&sock).and_then(|l| l.end.allocate_aci(rng))
    }

    pub fn release_aci(&mut self, sock: SockId, aci: Aci) {
        if let Some(l) = self.links.get_mut(&sock) {
            l.end.release_aci(aci);
        }
    }

    /// Close every link (shutdown).
    pub fn close_all(&mut self, out: &mut VecDeque<Action>) {
        for sock in std::mem::take(&mut self.links).into_keys() {
            out.push_back(Action::Close { sock });
        }
    }
}
