//! The stand-alone entry funnel (protocol.md §8, paper §2 customer–ISP): accepts onion proxies as
//! anonymous clients, multiplexes their connections over one anonymous uplink to its router and
//! translates ACIs both ways. It peels nothing and sees no keys beyond its own links. Every
//! link, to its clients and to its router, is a [`LinkEnd`] with PADDING, liveness and the
//! DESTROY handshake of [`crate::link`].

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use log::{info, warn};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::crypto::{RsaPrivateKey, RsaPublicKey};
use crate::event::{Action, Core, ListenerIdx, Now, SockId, SockIds};
use crate::link::{DestroyIn, LinkEnd, LinkLoss, Listener, PeerIdentity, TimeoutLog, Upkeep, Uplink, UplinkEvent};
use crate::wire::{Aci, Cell, Command};

/// The funnel core.
pub struct Funnel {
    key: Arc<RsaPrivateKey>,
    rng: StdRng,
    ids: SockIds,
    actions: VecDeque<Action>,
    uplink: Uplink,
    clients: BTreeMap<SockId, LinkEnd>,
    /// (client link, client ACI) → uplink ACI, and back, for live connections only; DESTROY
    /// handshakes in progress are the link ends' business.
    down_to_up: BTreeMap<(SockId, Aci), Aci>,
    up_to_down: BTreeMap<Aci, (SockId, Aci)>,
    timeouts: TimeoutLog,
}

impl Funnel {
    /// A funnel with an OS-seeded CSPRNG.
    pub fn new(key: Arc<RsaPrivateKey>, router: SocketAddr, router_key: RsaPublicKey, now: Now) -> Funnel {
        Funnel::with_rng(key, router, router_key, now, StdRng::from_entropy())
    }

    /// A funnel with a given CSPRNG (seeded in tests for reproducibility).
    pub fn with_rng(
        key: Arc<RsaPrivateKey>,
        router: SocketAddr,
        router_key: RsaPublicKey,
        now: Now,
        rng: StdRng,
    ) -> Funnel {
        Funnel {
            key,
            rng,
            ids: SockIds::default(),
            actions: VecDeque::new(),
            uplink: Uplink::new(router, router_key, now),
            clients: BTreeMap::new(),
            down_to_up: BTreeMap::new(),
            up_to_down: BTreeMap::new(),
            timeouts: TimeoutLog::default(),
        }
    }

    /// Connections currently mapped.
    pub fn connection_count(&self) -> usize {
        self.up_to_down.len()
    }

    /// Whether the uplink to the router is keyed.
    pub fn uplink_open(&self) -> bool {
        self.uplink.is_open()
    }

    /// ACIs the funnel holds on its uplink (connections and unfinished DESTROY handshakes).
    pub fn acis_in_use(&self) -> usize {
        self.uplink.acis_in_use()
    }

    /// Client links that are keyed.
    pub fn client_count(&self) -> usize {
        self.clients.values().filter(|c| c.is_open()).count()
    }

    fn destroy_down(&mut self, now: Now, sock: SockId, aci: Aci) {
        if let Some(c) = self.clients.get_mut(&sock) {
            c.send_destroy(aci, now.mono, &mut self.rng);
        }
    }

    fn on_client_cell(&mut self, now: Now, sock: SockId, mut cell: Cell) {
        let key = (sock, cell.aci);
        let Some(client) = self.clients.get_mut(&sock) else { return };
        match cell.command {
            Command::Padding => {}
            Command::Create | Command::Data => {
                if client.is_awaiting_ack(cell.aci) {
                    return;
                }
                let up = match self.down_to_up.get(&key) {
                    Some(a) => *a,
                    None if cell.command == Command::Create && self.uplink.is_open() => {
                        let Some(a) = self.uplink.allocate_aci(&mut self.rng) else {
                            return self.destroy_down(now, sock, cell.aci);
                        };
                        self.down_to_up.insert(key, a);
                        self.up_to_down.insert(a, key);
                        a
                    }
                    None => return self.destroy_down(now, sock, cell.aci),
                };
                cell.aci = up;
                self.uplink.send(&cell, now);
            }
            Command::Destroy => {
                let live = self.down_to_up.contains_key(&key);
                if client.destroy_received(cell.aci, live, now.mono, &mut self.rng) == DestroyIn::Ended {
                    if let Some(up) = self.down_to_up.remove(&key) {
                        self.up_to_down.remove(&up);
                        self.uplink.send_destroy(up, now, &mut self.rng);
                    }
                }
            }
        }
    }

    fn on_uplink_cell(&mut self, now: Now, mut cell: Cell) {
        let up = cell.aci;
        match cell.command {
            Command::Padding => {}
            Command::Create => {
                self.uplink.send_destroy(up, now, &mut self.rng);
            }
            Command::Data => {
                if let Some(&(sock, aci)) = self.up_to_down.get(&up) {
                    cell.aci = aci;
                    if let Some(c) = self.clients.get_mut(&sock) {
                        c.encode(&cell, now.mono);
                    }
                }
            }
            Command::Destroy => {
                let live = self.up_to_down.contains_key(&up);
                if self.uplink.destroy_received(up, live, now, &mut self.rng) == DestroyIn::Ended {
                    if let Some((sock, aci)) = self.up_to_down.remove(&up) {
                        self.down_to_up.remove(&(sock, aci));
                        self.destroy_down(now, sock, aci);
                    }
                }
            }
        }
    }

    fn client_lost(&mut self, now: Now, sock: SockId, loss: LinkLoss) {
        let Some(end) = self.clients.remove(&sock) else { return };
        self.actions.push_back(Action::Close { sock });
        if loss == LinkLoss::HandshakeTimeout {
            self.timeouts.timed_out(now.mono, end.log_address(), "funnel client");
        } else if end.is_open() {
            info!("client link {sock} ({}) closed ({loss})", end.tcp_peer());
        }
        let keys: Vec<(SockId, Aci)> =
            self.down_to_up.range((sock, Aci(0))..=(sock, Aci(u16::MAX))).map(|(k, _)| *k).collect();
        for k in keys {
            if let Some(up) = self.down_to_up.remove(&k) {
                self.up_to_down.remove(&up);
                self.uplink.send_destroy(up, now, &mut self.rng);
            }
        }
    }

    fn handle_uplink(&mut self, now: Now, ev: Option<UplinkEvent>) {
        match ev {
            Some(UplinkEvent::Cells) | Some(UplinkEvent::Up) => {
                let cells = std::mem::take(&mut self.uplink.cells);
                for c in cells {
                    self.on_uplink_cell(now, c);
                }
            }
            Some(UplinkEvent::Down(why)) => {
                warn!("uplink lost ({why}): destroying {} connection(s)", self.up_to_down.len());
                for (_, (sock, aci)) in std::mem::take(&mut self.up_to_down) {
                    self.down_to_up.remove(&(sock, aci));
                    self.destroy_down(now, sock, aci);
                }
            }
            None => {}
        }
    }

    fn flush(&mut self) {
        for (sock, c) in self.clients.iter_mut() {
            if let Some(data) = c.take_output() {
                self.actions.push_back(Action::Send { sock: *sock, data });
            }
        }
        self.uplink.flush(&mut self.actions);
    }
}

impl Core for Funnel {
    fn accepted(&mut self, now: Now, _l: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        let sock = self.ids.fresh();
        let listener = Listener::new(self.key.clone(), &mut self.rng);
        self.clients.insert(sock, LinkEnd::accepting(peer, None, listener, now.mono));
        Some(sock)
    }

    fn connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        if self.uplink.sock() == Some(sock) {
            let ev = self.uplink.connected(now, result, &mut self.rng, &mut self.actions);
            self.handle_uplink(now, ev);
        }
    }

    fn received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        if self.uplink.sock() == Some(sock) {
            let ev = self.uplink.received(now, data, &mut self.actions, &mut self.rng);
            return self.handle_uplink(now, ev);
        }
        let Some(client) = self.clients.get_mut(&sock) else { return };
        let mut cells = Vec::new();
        // Clients are anonymous: no router key is ever looked up.
        let result = client.received(now.mono, data, &|_| None, &mut cells);
        if let Ok(Some(keyed)) = &result {
            if keyed.peer != PeerIdentity::Anonymous {
                warn!("client {}: only anonymous clients are served", client.tcp_peer());
                return self.client_lost(now, sock, LinkLoss::WrongPeerKind);
            }
        }
        for c in cells {
            self.on_client_cell(now, sock, c);
        }
        if let Err(loss) = result {
            self.client_lost(now, sock, loss);
        }
    }

    fn eof(&mut self, now: Now, sock: SockId) {
        if self.uplink.sock() == Some(sock) {
            let ev = self.uplink.lost(now, LinkLoss::ClosedByPeer, &mut self.actions, &mut self.rng);
            return self.handle_uplink(now, Some(ev));
        }
        self.client_lost(now, sock, LinkLoss::ClosedByPeer);
    }

    fn failed(&mut self, now: Now, sock: SockId, error: io::Error) {
        if self.uplink.sock() == Some(sock) {
            warn!("uplink to {}: {error}", self.uplink.addr);
            let ev = self.uplink.lost(now, LinkLoss::SocketError, &mut self.actions, &mut self.rng);
            return self.handle_uplink(now, Some(ev));
        }
        self.client_lost(now, sock, LinkLoss::SocketError);
    }

    fn write_buffered(&mut self, _now: Now, _sock: SockId, _bytes: usize) {}

    fn resolved(&mut self, _now: Now, _r: u64, _result: io::Result<Vec<SocketAddr>>) {}

    fn tick(&mut self, now: Now) {
        let ev = self.uplink.tick(now, &mut self.ids, &mut self.actions, &mut self.rng);
        self.handle_uplink(now, ev);
        let mut lost = Vec::new();
        for (sock, c) in self.clients.iter_mut() {
            match c.upkeep(now.mono, &mut self.rng) {
                Upkeep::Lost(loss) => lost.push((*sock, loss)),
                Upkeep::Pad(n) => {
                    for _ in 0..n {
                        c.encode(&Cell::padding(&mut self.rng), now.mono);
                    }
                }
            }
        }
        for (s, loss) in lost {
            self.client_lost(now, s, loss);
        }
        self.flush();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let clients = self.clients.values().map(|c| c.next_timer());
        self.uplink.poll_timeout().into_iter().chain(clients).min()
    }

    fn poll_action(&mut self) -> Option<Action> {
        if self.actions.is_empty() {
            self.flush();
        }
        self.actions.pop_front()
    }

    fn shutdown(&mut self, now: Now) {
        let socks: Vec<SockId> = self.clients.keys().copied().collect();
        for s in socks {
            self.client_lost(now, s, LinkLoss::Shutdown);
        }
        self.flush();
        if let Some(s) = self.uplink.sock() {
            self.actions.push_back(Action::Close { sock: s });
        }
    }
}
