//! Link life cycle (protocol.md §3): dialling lower neighbours with backoff, accepting higher ones and
//! anonymous clients, STS keying, wake-up on restart, and link loss (liveness: `liveness.rs`).

use std::net::{SocketAddr, SocketAddrV4};
use std::time::Instant;

use log::{debug, info, warn};

use super::aci::{half_for, AciAllocator};
use super::backoff::Backoff;
use super::core::{Router, Slot};
use super::liveness::exp_delay;
use crate::config::neighbors::Neighbor;
use crate::crypto::RsaPublicKey;
use crate::event::{Action, Now, SockId};
use crate::link::{Dialler, Handshake, LinkCodec, Listener, PeerIdentity};
use crate::wire::{Aci, Cell};

/// The 6-byte identity (IPv4 ‖ port) as compared for ACI halves and link direction.
pub fn id_bytes(a: SocketAddrV4) -> [u8; 6] {
    let mut b = [0u8; 6];
    b[..4].copy_from_slice(&a.ip().octets());
    b[4..].copy_from_slice(&a.port().to_be_bytes());
    b
}

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
    pub backoff: Backoff,
    pub next_dial: Option<Instant>,
}

impl NeighborState {
    pub fn new(n: &Neighbor, me: SocketAddrV4) -> Self {
        NeighborState {
            addr: n.addr,
            key: n.key.clone(),
            we_dial: id_bytes(me) > id_bytes(n.addr),
            link: None,
            attempt: None,
            backoff: Backoff::default(),
            next_dial: None,
        }
    }
}

pub(super) enum LinkState {
    Connecting,
    Handshaking {
        hs: Box<Handshake>,
        inbuf: Vec<u8>,
    },
    /// Keyed; `carrier` links carry cells, the others are wake-ups waiting to be closed.
    Open {
        codec: Box<LinkCodec>,
        peer: PeerIdentity,
        carrier: bool,
    },
}

/// One TCP connection to a neighbour or an anonymous client.
pub(super) struct Link {
    pub tcp_peer: SocketAddr,
    /// Neighbour index, when dialled or identified.
    pub neighbor: Option<usize>,
    pub dialled: bool,
    pub state: LinkState,
    pub aci: AciAllocator,
    pub opened: Instant,
    pub established: Option<Instant>,
    pub last_rx: Instant,
    pub last_tx: Instant,
    pub next_padding: Option<Instant>,
    out: Vec<u8>,
    pub rx_cells: Vec<Cell>,
    pub cells_in: u64,
    pub cells_out: u64,
    /// Bytes the driver last reported as unwritten on the link's socket.
    pub unwritten: usize,
    /// The link's key-log tag, kept only when the key log is on.
    pub key_log_tag: Option<String>,
}

impl Link {
    fn new(tcp_peer: SocketAddr, neighbor: Option<usize>, dialled: bool, state: LinkState, now: Now) -> Link {
        Link {
            tcp_peer,
            neighbor,
            dialled,
            state,
            aci: AciAllocator::new(super::aci::Half::Low),
            opened: now.mono,
            established: None,
            last_rx: now.mono,
            last_tx: now.mono,
            next_padding: None,
            out: Vec::new(),
            rx_cells: Vec::new(),
            cells_in: 0,
            cells_out: 0,
            unwritten: 0,
            key_log_tag: None,
        }
    }

    pub fn is_carrier(&self) -> bool {
        matches!(self.state, LinkState::Open { carrier: true, .. })
    }

    /// Link-encrypt a cell into the output buffer; false if the link cannot carry cells.
    pub fn encode(&mut self, cell: &Cell, now: Now) -> bool {
        match &mut self.state {
            LinkState::Open { codec, carrier: true, .. } => {
                codec.encode(cell, &mut self.out);
                self.last_tx = now.mono;
                self.cells_out += 1;
                true
            }
            _ => false,
        }
    }

    pub fn take_output(&mut self) -> Option<Vec<u8>> {
        (!self.out.is_empty()).then(|| std::mem::take(&mut self.out))
    }

    /// Who is at the other end, for logs.
    pub fn describe(&self) -> String {
        match &self.state {
            LinkState::Open { peer: PeerIdentity::Router(a), .. } => format!("router {a}"),
            LinkState::Open { peer: PeerIdentity::Anonymous, .. } => format!("anonymous client {}", self.tcp_peer),
            _ => format!("{}", self.tcp_peer),
        }
    }
}

impl Router {
    pub(super) fn start_links(&mut self, now: Now) {
        for i in 0..self.neighbors.len() {
            if self.neighbors[i].we_dial {
                self.neighbors[i].next_dial = Some(now.mono);
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
        let link = Link::new(SocketAddr::V4(addr), Some(idx), true, LinkState::Connecting, now);
        self.links.insert(sock, link);
        if !wakeup {
            self.neighbors[idx].attempt = Some(sock);
            self.neighbors[idx].next_dial = None;
        }
        self.actions.push_back(Action::Connect { sock, addr: SocketAddr::V4(addr), privileged: false });
    }

    pub(super) fn accept_link(&mut self, now: Now, peer: SocketAddr) -> SockId {
        let sock = self.ids.fresh();
        let hs = Handshake::Listener(Box::new(Listener::new(self.cfg.key.clone(), &mut self.rng)));
        let state = LinkState::Handshaking { hs: Box::new(hs), inbuf: Vec::new() };
        self.links.insert(sock, Link::new(peer, None, false, state, now));
        sock
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
        self.links.insert(sock, Link::new(tcp_peer, None, false, LinkState::Connecting, now));
        self.link_established(now, sock, peer, codec);
        sock
    }

    pub(super) fn link_connected(&mut self, now: Now, sock: SockId, result: std::io::Result<()>) {
        if let Err(e) = result {
            self.link_lost(now, sock, &format!("connect failed: {e}"));
            return;
        }
        let Some(link) = self.links.get_mut(&sock) else { return };
        let Some(idx) = link.neighbor else { return };
        let local = Some((self.cfg.identity, self.cfg.key.clone()));
        let n = &self.neighbors[idx];
        let (hs, msg1) = match Dialler::new(local, n.addr, n.key.clone(), &mut self.rng) {
            Ok(x) => x,
            Err(e) => {
                warn!("cannot start keying with {}: {e}", n.addr);
                self.link_lost(now, sock, "handshake failed");
                return;
            }
        };
        link.state = LinkState::Handshaking { hs: Box::new(Handshake::Dialler(Box::new(hs))), inbuf: Vec::new() };
        link.opened = now.mono;
        self.actions.push_back(Action::Send { sock, data: msg1 });
    }

    pub(super) fn link_received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        let Some(link) = self.links.get_mut(&sock) else { return };
        link.last_rx = now.mono;
        let tcp_peer = link.tcp_peer;
        match &mut link.state {
            LinkState::Connecting | LinkState::Open { carrier: false, .. } => {}
            LinkState::Open { codec, .. } => {
                let mut cells = std::mem::take(&mut link.rx_cells);
                let result = codec.decode(data, &mut cells);
                link.cells_in += cells.len() as u64;
                for cell in cells.drain(..) {
                    self.stats.cells_in += 1;
                    self.handle_cell(now, sock, cell);
                }
                if let Some(l) = self.links.get_mut(&sock) {
                    l.rx_cells = cells;
                }
                if let Err(e) = result {
                    warn!("link {sock} ({tcp_peer}): {e}; closing it and its connections");
                    self.link_lost(now, sock, "protocol error");
                }
            }
            LinkState::Handshaking { hs, inbuf } => {
                inbuf.extend_from_slice(data);
                let neighbors = &self.neighbors;
                let lookup = |a: SocketAddrV4| neighbors.iter().find(|n| n.addr == a).map(|n| n.key.clone());
                let outcome = hs.read(inbuf, &lookup).map(|p| {
                    inbuf.drain(..p.consumed);
                    let rest = if p.established.is_some() { std::mem::take(inbuf) } else { Vec::new() };
                    (p, rest)
                });
                match outcome {
                    Err(e) => {
                        warn!("link handshake with {tcp_peer} failed: {e}");
                        self.stats.links_refused += 1;
                        self.link_lost(now, sock, "handshake failed");
                    }
                    Ok((p, rest)) => {
                        if !p.send.is_empty() {
                            self.actions.push_back(Action::Send { sock, data: p.send });
                        }
                        if let Some(est) = p.established {
                            if self.cfg.key_log {
                                self.actions.push_back(Action::KeyLog { line: est.secrets.key_log_line() });
                                if let Some(link) = self.links.get_mut(&sock) {
                                    link.key_log_tag = Some(hex::encode(est.secrets.tag));
                                }
                            }
                            self.link_established(now, sock, est.peer, est.codec);
                            if !rest.is_empty() {
                                self.link_received(now, sock, &rest);
                            }
                        }
                    }
                }
            }
        }
    }

    fn link_established(&mut self, now: Now, sock: SockId, peer: PeerIdentity, codec: LinkCodec) {
        let me = self.cfg.identity;
        let Some(link) = self.links.get_mut(&sock) else { return };
        link.established = Some(now.mono);
        let (carrier, idx) = match (peer, link.dialled, link.neighbor) {
            (PeerIdentity::Anonymous, false, _) => (true, None),
            (_, true, Some(idx)) => (self.neighbors[idx].we_dial, Some(idx)),
            (PeerIdentity::Router(a), false, _) => {
                let idx = self.neighbors.iter().position(|n| n.addr == a);
                (idx.is_some_and(|i| !self.neighbors[i].we_dial), idx)
            }
            _ => (false, None),
        };
        let peer_id = match peer {
            PeerIdentity::Router(a) => a,
            PeerIdentity::Anonymous => SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0),
        };
        link.aci = AciAllocator::new(half_for(id_bytes(me), id_bytes(peer_id)));
        link.neighbor = idx;
        link.state = LinkState::Open { codec: Box::new(codec), peer, carrier };
        if self.cfg.padding_rate > 0.0 && carrier {
            link.next_padding = Some(now.mono + exp_delay(&mut self.rng, self.cfg.padding_rate));
        }
        let who = link.describe();
        let dialled = link.dialled;
        if carrier {
            self.stats.links_up += 1;
            info!("link up: {who}");
            if let Some(i) = idx {
                if let Some(old) = self.neighbors[i].link.replace(sock) {
                    if old != sock {
                        self.link_lost(now, old, "replaced by a new link (neighbour restarted)");
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
                self.link_lost(now, old, "stale: neighbour restarted");
            }
            if let Some(att) = self.neighbors[i].attempt.take() {
                self.links.remove(&att);
                self.actions.push_back(Action::Abort { sock: att });
            }
            self.neighbors[i].backoff.reset();
            self.dial(now, i, false);
        } else {
            debug!("wake-up link to {who} keyed; waiting for it to close");
        }
    }

    /// A link is gone: destroy its connections toward their other side and plan a redial.
    pub(super) fn link_lost(&mut self, now: Now, sock: SockId, reason: &str) {
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
        if was_carrier {
            self.stats.links_down += 1;
            info!("link down: {} ({reason})", link.describe());
        } else {
            debug!("link {} closed ({reason})", link.describe());
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
                let stable = link.established.is_some_and(|t| now.mono >= t + self.cfg.timeouts.stable_after);
                if stable {
                    n.backoff.reset();
                }
                let delay = n.backoff.next_delay(&mut self.rng);
                n.next_dial = Some(now.mono + delay);
                debug!("redialling {} in {delay:?}", n.addr);
            }
        }
    }
}
