//! The stand-alone entry funnel (protocol.md §8, paper §2 customer–ISP): accepts onion proxies as
//! anonymous clients, multiplexes their connections over one anonymous uplink to its router and
//! translates ACIs both ways. It peels nothing and sees no keys beyond its own links.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{info, warn};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::uplink::{Uplink, UplinkEvent};
use crate::crypto::{RsaPrivateKey, RsaPublicKey};
use crate::event::{Action, Core, ListenerIdx, Now, SockId, SockIds};
use crate::link::{Handshake, LinkCodec, Listener, PeerIdentity};
use crate::router::aci::{AciAllocator, Half};
use crate::wire::{Aci, Cell, Command};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

enum ClientState {
    Keying { hs: Box<Handshake>, inbuf: Vec<u8>, since: Instant },
    Open { codec: Box<LinkCodec> },
}

struct Client {
    state: ClientState,
    out: Vec<u8>,
    peer: SocketAddr,
}

/// A side's DESTROY state, as at a router (protocol.md §6).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Live,
    AwaitingAck,
}

/// The funnel core.
pub struct Funnel {
    key: Arc<RsaPrivateKey>,
    rng: StdRng,
    ids: SockIds,
    actions: VecDeque<Action>,
    uplink: Uplink,
    up_aci: AciAllocator,
    clients: HashMap<SockId, Client>,
    /// (client link, client ACI) → uplink ACI, and back.
    down_to_up: HashMap<(SockId, Aci), (Aci, Side)>,
    up_to_down: HashMap<Aci, ((SockId, Aci), Side)>,
}

impl Funnel {
    pub fn new(key: Arc<RsaPrivateKey>, router: SocketAddr, router_key: RsaPublicKey, now: Now) -> Funnel {
        Funnel {
            key,
            rng: StdRng::from_entropy(),
            ids: SockIds::default(),
            actions: VecDeque::new(),
            uplink: Uplink::new(router, router_key, now),
            up_aci: AciAllocator::new(Half::Low),
            clients: HashMap::new(),
            down_to_up: HashMap::new(),
            up_to_down: HashMap::new(),
        }
    }

    /// Connections currently mapped.
    pub fn connection_count(&self) -> usize {
        self.up_to_down.len()
    }

    fn send_down(&mut self, sock: SockId, cell: &Cell) {
        if let Some(Client { state: ClientState::Open { codec }, out, .. }) = self.clients.get_mut(&sock) {
            codec.encode(cell, out);
        }
    }

    fn on_client_cell(&mut self, now: Now, sock: SockId, mut cell: Cell) {
        let key = (sock, cell.aci);
        match cell.command {
            Command::Padding => {}
            Command::Create | Command::Data => {
                let up = match self.down_to_up.get(&key) {
                    Some((a, Side::Live)) => *a,
                    Some((_, Side::AwaitingAck)) => return,
                    None if cell.command == Command::Create && self.uplink.is_open() => {
                        let Some(a) = self.up_aci.allocate(&mut self.rng) else {
                            let d = Cell::destroy(cell.aci, &mut self.rng);
                            return self.send_down(sock, &d);
                        };
                        self.down_to_up.insert(key, (a, Side::Live));
                        self.up_to_down.insert(a, (key, Side::Live));
                        a
                    }
                    None => {
                        let d = Cell::destroy(cell.aci, &mut self.rng);
                        self.down_to_up.insert(key, (Aci(0), Side::AwaitingAck));
                        return self.send_down(sock, &d);
                    }
                };
                cell.aci = up;
                self.uplink.send(&cell, now);
            }
            Command::Destroy => match self.down_to_up.remove(&key) {
                None => {}
                Some((_, Side::AwaitingAck)) => {}
                Some((up, Side::Live)) => {
                    let ack = Cell::destroy(key.1, &mut self.rng);
                    self.send_down(sock, &ack);
                    let d = Cell::destroy(up, &mut self.rng);
                    self.uplink.send(&d, now);
                    self.up_to_down.insert(up, (key, Side::AwaitingAck));
                }
            },
        }
    }

    fn on_uplink_cell(&mut self, now: Now, mut cell: Cell) {
        let up = cell.aci;
        match cell.command {
            Command::Padding => {}
            Command::Create => {
                let d = Cell::destroy(up, &mut self.rng);
                self.uplink.send(&d, now);
            }
            Command::Data => {
                if let Some(((sock, aci), Side::Live)) = self.up_to_down.get(&up).copied() {
                    cell.aci = aci;
                    self.send_down(sock, &cell);
                }
            }
            Command::Destroy => match self.up_to_down.remove(&up) {
                None => {}
                Some((_, Side::AwaitingAck)) => {
                    self.up_aci.release(up);
                }
                Some(((sock, aci), Side::Live)) => {
                    let ack = Cell::destroy(up, &mut self.rng);
                    self.uplink.send(&ack, now);
                    self.up_aci.release(up);
                    let d = Cell::destroy(aci, &mut self.rng);
                    self.send_down(sock, &d);
                    self.down_to_up.insert((sock, aci), (up, Side::AwaitingAck));
                }
            },
        }
    }

    fn client_lost(&mut self, now: Now, sock: SockId, why: &str) {
        if self.clients.remove(&sock).is_none() {
            return;
        }
        info!("client link {sock} closed ({why})");
        self.actions.push_back(Action::Close { sock });
        let keys: Vec<(SockId, Aci)> = self.down_to_up.keys().filter(|k| k.0 == sock).copied().collect();
        for k in keys {
            if let Some((up, Side::Live)) = self.down_to_up.remove(&k) {
                let d = Cell::destroy(up, &mut self.rng);
                self.uplink.send(&d, now);
                self.up_to_down.insert(up, (k, Side::AwaitingAck));
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
                for (_, ((sock, aci), side)) in std::mem::take(&mut self.up_to_down) {
                    if side == Side::Live {
                        let d = Cell::destroy(aci, &mut self.rng);
                        self.send_down(sock, &d);
                        self.down_to_up.insert((sock, aci), (Aci(0), Side::AwaitingAck));
                    }
                }
                self.up_aci = AciAllocator::new(Half::Low);
            }
            None => {}
        }
    }

    fn flush(&mut self) {
        for (sock, c) in self.clients.iter_mut() {
            if !c.out.is_empty() {
                self.actions.push_back(Action::Send { sock: *sock, data: std::mem::take(&mut c.out) });
            }
        }
        self.uplink.flush(&mut self.actions);
    }
}

impl Core for Funnel {
    fn accepted(&mut self, now: Now, _l: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        let sock = self.ids.fresh();
        let hs = Handshake::Listener(Box::new(Listener::new(self.key.clone(), &mut self.rng)));
        let state = ClientState::Keying { hs: Box::new(hs), inbuf: Vec::new(), since: now.mono };
        self.clients.insert(sock, Client { state, out: Vec::new(), peer });
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
            let ev = self.uplink.received(now, data, &mut self.actions);
            return self.handle_uplink(now, ev);
        }
        let Some(client) = self.clients.get_mut(&sock) else { return };
        let mut cells = Vec::new();
        match &mut client.state {
            ClientState::Open { codec } => {
                if let Err(e) = codec.decode(data, &mut cells) {
                    warn!("client {}: {e}", client.peer);
                    for c in cells {
                        self.on_client_cell(now, sock, c);
                    }
                    return self.client_lost(now, sock, "protocol error");
                }
            }
            ClientState::Keying { hs, inbuf, .. } => {
                inbuf.extend_from_slice(data);
                let no_routers = |_: std::net::SocketAddrV4| None;
                match hs.read(inbuf, &no_routers) {
                    Err(e) => {
                        warn!("client {}: handshake failed: {e}", client.peer);
                        return self.client_lost(now, sock, "handshake failed");
                    }
                    Ok(p) => {
                        inbuf.drain(..p.consumed);
                        if !p.send.is_empty() {
                            self.actions.push_back(Action::Send { sock, data: p.send });
                        }
                        let Some(est) = p.established else { return };
                        let (peer, codec) = (est.peer, est.codec);
                        if peer != PeerIdentity::Anonymous {
                            return self.client_lost(now, sock, "only anonymous clients are served");
                        }
                        let rest = std::mem::take(inbuf);
                        client.state = ClientState::Open { codec: Box::new(codec) };
                        if !rest.is_empty() {
                            self.received(now, sock, &rest);
                        }
                        return;
                    }
                }
            }
        }
        for c in cells {
            self.on_client_cell(now, sock, c);
        }
    }

    fn eof(&mut self, now: Now, sock: SockId) {
        if self.uplink.sock() == Some(sock) {
            let ev = self.uplink.lost(now, "closed by the router", &mut self.actions);
            return self.handle_uplink(now, Some(ev));
        }
        self.client_lost(now, sock, "closed by peer");
    }

    fn failed(&mut self, now: Now, sock: SockId, error: io::Error) {
        if self.uplink.sock() == Some(sock) {
            let ev = self.uplink.lost(now, &error.to_string(), &mut self.actions);
            return self.handle_uplink(now, Some(ev));
        }
        self.client_lost(now, sock, &error.to_string());
    }

    fn write_buffered(&mut self, _now: Now, _sock: SockId, _bytes: usize) {}

    fn resolved(&mut self, _now: Now, _r: u64, _result: io::Result<Vec<SocketAddr>>) {}

    fn tick(&mut self, now: Now) {
        let ev = self.uplink.tick(now, &mut self.ids, &mut self.actions);
        self.handle_uplink(now, ev);
        let stale: Vec<SockId> = self
            .clients
            .iter()
            .filter(|(_, c)| matches!(&c.state, ClientState::Keying { since, .. } if now.mono >= *since + HANDSHAKE_TIMEOUT))
            .map(|(s, _)| *s)
            .collect();
        for s in stale {
            self.client_lost(now, s, "handshake not finished in time");
        }
        self.flush();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let keying = self.clients.values().filter_map(|c| match &c.state {
            ClientState::Keying { since, .. } => Some(*since + HANDSHAKE_TIMEOUT),
            _ => None,
        });
        self.uplink.poll_timeout().into_iter().chain(keying).min()
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
            self.client_lost(now, s, "shutting down");
        }
        self.flush();
        if let Some(s) = self.uplink.sock() {
            self.actions.push_back(Action::Close { sock: s });
        }
    }
}
