//! The router's links (protocol.md §3): its neighbours (dialling the lower ones with the shared
//! [`Redial`] backoff, accepting the higher ones and anonymous clients), wake-up on restart,
//! and link loss. Each link is a [`LinkEnd`] of `crate::link`, the machine every role shares
//! (keying, codec, PADDING, liveness, ACIs); liveness upkeep is in `liveness.rs`.

use std::net::{SocketAddr, SocketAddrV4};

use log::{debug, info};

use super::core::{Router, Slot};
use crate::config::neighbors::Neighbor;
use crate::crypto::RsaPublicKey;
use crate::event::{Action, Now, SockId};
use crate::link::aci::id_bytes;
use crate::link::{LinkCodec, LinkEnd, LinkLoss, Listener, PeerIdentity, Redial};
use crate::wire::{Aci, Cell};

/// One neighbour of the predefined topology.
pub(super) struct NeighborState {
    pub addr: SocketAddrV4,
    pub key: RsaPublicKey,
    /// We are the higher address: we dial it and our link carries cells.
    pub we_dial: bool,
    /// The open cell-carrying link.
    pub link: Option<SockId>,
    /// A dial in progress (connecting or keying).
    pub attempt: Option<SockId>,
    pub redial: Redial,
}

impl NeighborState {
    pub fn new(n: &Neighbor, me: SocketAddrV4) -> Self {
        NeighborState {
            addr: n.addr,
            key: n.key.clone(),
            we_dial: id_bytes(me) > id_bytes(n.addr),
            link: None,
            attempt: None,
            redial: Redial::default(),
        }
    }
}

/// One TCP connection to a neighbour or an anonymous client.
pub(super) struct Link {
    pub end: LinkEnd,
    /// Neighbour index, when dialled or identified.
    pub neighbor: Option<usize>,
    /// Keyed and carrying cells (the others are wake-ups waiting to be closed).
    pub carrier: bool,
    pub rx_cells: Vec<Cell>,
    /// Bytes the driver last reported as unwritten on the link's socket.
    pub unwritten: usize,
    /// The link's key-log tag, kept only when the key log is on.
    pub key_log_tag: Option<String>,
}

impl Link {
    fn new(end: LinkEnd, neighbor: Option<usize>) -> Link {
        Link { end, neighbor, carrier: false, rx_cells: Vec::new(), unwritten: 0, key_log_tag: None }
    }

    pub fn is_carrier(&self) -> bool {
        self.carrier && self.end.is_open()
    }

    /// Link-encrypt a cell into the output buffer; false if the link cannot carry cells.
    pub fn encode(&mut self, cell: &Cell, now: Now) -> bool {
        self.carrier && self.end.encode(cell, now.mono)
    }

    pub fn take_output(&mut self) -> Option<Vec<u8>> {
        self.end.take_output()
    }

    /// Who is at the other end, for logs.
    pub fn describe(&self) -> String {
        match self.end.peer() {
            Some(PeerIdentity::Router(a)) => format!("router {a}"),
            Some(PeerIdentity::Anonymous) => format!("anonymous client {}", self.end.tcp_peer()),
            None => format!("{}", self.end.tcp_peer()),
        }
    }
}

impl Router {
    pub(super) fn start_links(&mut self, now: Now) {
        for i in 0..self.neighbors.len() {
            if self.neighbors[i].we_dial {
                self.neighbors[i].redial.at(now.mono);
            } else {
                // Wake-up: tell a higher neighbour we are (back) up.
                self.dial(now, i, true);
            }
        }
    }

    pub(super) fn dial(&mut self, now: Now, idx: usize, wakeup: bool) {
        let sock = self.ids.fresh();
        let addr = self.neighbors[idx].addr;
        debug!("dialling {addr}{}", if wakeup { " (wake-up)" } else { "" });
        let end = self.new_end(LinkEnd::dialling(SocketAddr::V4(addr), Some(self.cfg.identity), now.mono));
        self.links.insert(sock, Link::new(end, Some(idx)));
        if !wakeup {
            self.neighbors[idx].attempt = Some(sock);
            self.neighbors[idx].redial.dialling();
        }
        self.actions.push_back(Action::Connect { sock, addr: SocketAddr::V4(addr), privileged: false });
    }

    pub(super) fn accept_link(&mut self, now: Now, peer: SocketAddr) -> SockId {
        let sock = self.ids.fresh();
        let listener = Listener::new(self.cfg.key.clone(), &mut self.rng);
        let end = self.new_end(LinkEnd::accepting(peer, Some(self.cfg.identity), listener, now.mono));
        self.links.insert(sock, Link::new(end, None));
        sock
    }

    /// A link end with this router's timers and padding rate.
    fn new_end(&self, end: LinkEnd) -> LinkEnd {
        end.with_timers(self.cfg.timeouts.link_timers()).with_padding_rate(self.cfg.padding_rate)
    }

    /// Take a connection whose link is already keyed, as if its STS handshake with `peer` had
    /// just completed. Only for the fuzz harness (`crate::fuzzing`), which drives cells into a
    /// router without paying for Diffie-Hellman and RSA signatures on every run.
    #[doc(hidden)]
    pub fn accept_keyed_link(
        &mut self,
        now: Now,
        tcp_peer: SocketAddr,
        peer: PeerIdentity,
        codec: LinkCodec,
    ) -> SockId {
        let sock = self.ids.fresh();
        let end = self.new_end(LinkEnd::keyed(tcp_peer, Some(self.cfg.identity), peer, codec, now.mono));
        self.links.insert(sock, Link::new(end, None));
        self.link_established(now, sock, peer);
        sock
    }

    pub(super) fn link_connected(&mut self, now: Now, sock: SockId, result: std::io::Result<()>) {
        if let Err(e) = result {
            debug!("connect {sock} failed: {e}");
            self.link_lost(now, sock, LinkLoss::ConnectFailed);
            return;
        }
        let Some(link) = self.links.get_mut(&sock) else { return };
        let Some(idx) = link.neighbor else { return };
        let n = &self.neighbors[idx];
        let key = Some(self.cfg.key.clone());
        if let Err(loss) = link.end.connected(now.mono, key, n.addr, n.key.clone(), &mut self.rng) {
            self.link_lost(now, sock, loss);
            return;
        }
        self.flush_link(sock);
    }

    /// Hand what a link has buffered (handshake messages) to the driver.
    fn flush_link(&mut self, sock: SockId) {
        if let Some(data) = self.links.get_mut(&sock).and_then(|l| l.take_output()) {
            self.actions.push_back(Action::Send { sock, data });
        }
    }

    pub(super) fn link_received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        let Some(link) = self.links.get_mut(&sock) else { return };
        if link.end.is_open() && !link.carrier {
            return;
        }
        let mut cells = std::mem::take(&mut link.rx_cells);
        let neighbors = &self.neighbors;
        let lookup = |a: SocketAddrV4| neighbors.iter().find(|n| n.addr == a).map(|n| n.key.clone());
        let result = link.end.received(now.mono, data, &lookup, &mut cells);
        self.flush_link(sock);
        let failed = result.as_ref().err().copied();
        match result {
            Ok(Some(keyed)) => {
                if self.cfg.key_log {
                    self.actions.push_back(Action::KeyLog { line: keyed.secrets.key_log_line() });
                    if let Some(link) = self.links.get_mut(&sock) {
                        link.key_log_tag = Some(hex::encode(keyed.secrets.tag));
                    }
                }
                self.link_established(now, sock, keyed.peer);
            }
            Err(LinkLoss::HandshakeFailed) => self.stats.links_refused += 1,
            _ => {}
        }
        if self.links.get(&sock).is_some_and(|l| l.is_carrier()) {
            for cell in cells.drain(..) {
                self.stats.cells_in += 1;
                self.handle_cell(now, sock, cell);
            }
        }
        cells.clear();
        if let Some(l) = self.links.get_mut(&sock) {
            l.rx_cells = cells;
        }
        if let Some(loss) = failed {
            self.link_lost(now, sock, loss);
        }
    }

    fn link_established(&mut self, now: Now, sock: SockId, peer: PeerIdentity) {
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
            self.stats.links_up += 1;
            info!("link up: {who}");
            if let Some(i) = idx {
                if let Some(old) = self.neighbors[i].link.replace(sock) {
                    if old != sock {
                        self.link_lost(now, old, LinkLoss::Replaced);
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
            self.actions.push_back(Action::Close { sock });
            if let Some(old) = self.neighbors[i].link.take() {
                self.link_lost(now, old, LinkLoss::Stale);
            }
            if let Some(att) = self.neighbors[i].attempt.take() {
                self.links.remove(&att);
                self.actions.push_back(Action::Abort { sock: att });
            }
            self.neighbors[i].redial.reset();
            self.dial(now, i, false);
        } else {
            debug!("wake-up link to {who} keyed; waiting for it to close");
        }
    }

    /// A link is gone: destroy its connections toward their other side and plan a redial.
    pub(super) fn link_lost(&mut self, now: Now, sock: SockId, loss: LinkLoss) {
        let Some(link) = self.links.remove(&sock) else { return };
        self.actions.push_back(Action::Close { sock });
        let was_carrier = link.is_carrier();
        let keys: Vec<(SockId, Aci)> =
            self.slots.range((sock, Aci(0))..=(sock, Aci(u16::MAX))).map(|(k, _)| *k).collect();
        for key in keys {
            if let Some(Slot::Live(c)) = self.slots.remove(&key) {
                self.destroy_circuit(now, c, Some(key));
            }
        }
        self.flow_forget(sock);
        *self.stats.links_lost.entry(loss).or_default() += 1;
        if was_carrier {
            self.stats.links_down += 1;
            info!("link down: {} ({loss})", link.describe());
        } else if loss == LinkLoss::HandshakeTimeout {
            self.timeouts_log.timed_out(now.mono, link.end.log_address(), "router");
        } else {
            debug!("link {} closed ({loss})", link.describe());
        }
        for i in 0..self.neighbors.len() {
            let n = &mut self.neighbors[i];
            let was_link = n.link == Some(sock);
            let was_attempt = n.attempt == Some(sock);
            if !(was_link || was_attempt) {
                continue;
            }
            n.link = n.link.filter(|s| *s != sock);
            n.attempt = n.attempt.filter(|s| *s != sock);
            if n.we_dial && n.link.is_none() && n.attempt.is_none() {
                let stable_after = self.cfg.timeouts.stable_after;
                let delay = n.redial.lost(now.mono, link.end.established(), stable_after, &mut self.rng);
                debug!("redialling {} in {delay:?}", n.addr);
            }
        }
    }
}
