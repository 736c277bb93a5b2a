//! Target `router_cells`: a whole sans-IO [`Router`] (protocol.md §2–§9) driven through [`Core`] by a
//! script: cells from an anonymous client and from a neighbouring router on already-keyed links,
//! raw link bytes, valid onions built for the router's key (so CREATE reassembly, peeling, the
//! replay cache and the exit funnel are reached), DATA on the connections they build, exit
//! sockets, time, backpressure, link loss and shutdown.
//!
//! The router is 127.0.0.1:9001 with the vectors' key 0 and one neighbour, 127.0.0.1:9002 (key 1),
//! whose link is keyed; the vector onions are therefore valid CREATE payloads for it.
//!
//! Input: a flags byte (mix interval, padding, exit policy, DESTROY jitter, resolver answers),
//! then operations, one byte each (mod 10) followed by their arguments:
//! 0 a cell (link, 48 bytes, command mod 4), 1 raw bytes on a link (link, 1-byte length),
//! 2 an onion sent as CREATE cells (link, ACI, route, function codes, expiration offset, seed),
//! 3 DATA on a connection built by 2 (index, length, bytes), 4 time passes, 5 an exit socket
//! event (index, kind, data), 6 link EOF or reset, 7 a write-buffer report, 8 DESTROY on a
//! connection built by 2, 9 a status snapshot.
//!
//! Checked: the router never panics; everything it sends on a link decodes as cells with the
//! link's keys; it never writes to or shuts a socket it has closed; its status is valid JSON.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::router::mixer::BatchTiming;

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::config::neighbors::Neighbor;
use crate::config::policy::Policy;
use crate::crypto::{CipherCode, Engine};
use crate::event::{Action, Core, Now, SockId};
use crate::link::{LinkCodec, PeerIdentity};
use crate::onion::{build, padding_len, OnionPlan, RouteHop};
use crate::router::replay::ReplayCache;
use crate::router::{create_chunks, Router, RouterConfig, Timeouts};
use crate::wire::cell::{Aci, Cell, Command, BODY_LEN, CELL_LEN, PAYLOAD_LEN};
use crate::wire::layer::SEED_LEN;

use super::keys::{local, vector_keys, NOW_UNIX};
use super::Input;

/// Script operations, for building seeds.
pub mod op {
    pub const CELL: u8 = 0;
    pub const RAW: u8 = 1;
    pub const ONION: u8 = 2;
    pub const DATA: u8 = 3;
    pub const TIME: u8 = 4;
    pub const EXIT: u8 = 5;
    pub const LINK_END: u8 = 6;
    pub const BUFFERED: u8 = 7;
    pub const DESTROY: u8 = 8;
    pub const STATUS: u8 = 9;
}

/// Most operations one input runs.
const MAX_OPS: usize = 2048;
const ROUTER_PORT: u16 = 9001;
const NEIGHBOUR_PORT: u16 = 9002;
/// A next hop that is not a neighbour.
const STRANGER_PORT: u16 = 9009;

/// The DES keys of link `i`: (router receives with, router sends with).
pub fn link_keys(i: usize) -> ([u8; 8], [u8; 8]) {
    let k = |tag: u8| [b'l', b'i', b'n', b'k', b'0' + i as u8, tag, b'-', b'k'];
    (k(b'r'), k(b't'))
}

/// The far end of a link: it sends with the router's receive key.
pub fn peer_codec(i: usize) -> LinkCodec {
    let (rx, tx) = link_keys(i);
    LinkCodec::new(Engine::des_ofb(&rx), Engine::des_ofb(&tx))
}

struct Peer {
    sock: SockId,
    codec: LinkCodec,
    open: bool,
}

/// A connection the script built with an onion: where it enters and the forward engines of
/// its hops, as an onion proxy would precrypt with.
struct Conn {
    link: usize,
    aci: Aci,
    fwd: Vec<Engine>,
}

struct Harness {
    router: Router,
    now: Now,
    peers: Vec<Peer>,
    conns: Vec<Conn>,
    /// Exit sockets the router asked to connect, in order.
    exits: Vec<SockId>,
    closed: HashSet<SockId>,
    resolve_fails: bool,
    key_log: bool,
    cells_out: HashMap<usize, usize>,
}

pub fn router_cells(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let keys = vector_keys();
    let cfg = RouterConfig {
        identity: local(ROUTER_PORT),
        key: keys[0].clone(),
        neighbors: vec![Neighbor {
            addr: local(NEIGHBOUR_PORT),
            key: keys[1].to_public_key(),
            key_path: "vector-key-1.pub".into(),
        }],
        mixing: BatchTiming {
            interval: Duration::from_millis(u64::from(flags % 4) * 10),
            lone_wait: Duration::from_millis(if flags & 64 != 0 { 1 } else { 30 }),
        },
        padding_rate: if flags & 4 != 0 { 20.0 } else { 0.0 },
        max_onion_lifetime: Duration::from_secs(3600),
        exit_policy: if flags & 8 != 0 { Policy::accept_all() } else { Policy::default_exit() },
        timeouts: Timeouts::default(),
        destroy_jitter: if flags & 16 != 0 { Duration::from_millis(50) } else { Duration::ZERO },
        key_log: flags & 128 != 0,
    };
    let mut router = Router::with_rng(cfg, ReplayCache::new(1000), StdRng::seed_from_u64(u64::from(flags)));
    let now = Now::new(Instant::now(), NOW_UNIX);
    router.tick(now);
    let client: SocketAddr = "10.0.0.1:40000".parse().expect("address");
    let neighbour: SocketAddr = "127.0.0.1:50000".parse().expect("address");
    let (rx, tx) = link_keys(0);
    let a = router.accept_keyed_link(
        now,
        client,
        PeerIdentity::Anonymous,
        LinkCodec::new(Engine::des_ofb(&tx), Engine::des_ofb(&rx)),
    );
    let (rx, tx) = link_keys(1);
    let b = router.accept_keyed_link(
        now,
        neighbour,
        PeerIdentity::Router(local(NEIGHBOUR_PORT)),
        LinkCodec::new(Engine::des_ofb(&tx), Engine::des_ofb(&rx)),
    );
    let mut h = Harness {
        router,
        now,
        peers: vec![
            Peer { sock: a, codec: peer_codec(0), open: true },
            Peer { sock: b, codec: peer_codec(1), open: true },
        ],
        conns: Vec::new(),
        exits: Vec::new(),
        closed: HashSet::new(),
        resolve_fails: flags & 32 != 0,
        key_log: flags & 128 != 0,
        cells_out: HashMap::new(),
    };
    h.drain();
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        h.step(&mut input);
        h.drain();
    }
    if flags & 64 != 0 {
        let now = h.now;
        h.router.shutdown(now);
        h.drain();
    }
}

impl Harness {
    fn step(&mut self, input: &mut Input<'_>) {
        match input.u8() % 10 {
            op::CELL => {
                let link = usize::from(input.u8() % 2);
                let raw: [u8; CELL_LEN] = input.array();
                let mut body = [0u8; BODY_LEN];
                body.copy_from_slice(&raw[3..]);
                let command =
                    [Command::Padding, Command::Create, Command::Data, Command::Destroy][usize::from(raw[2] % 4)];
                let cell = Cell { aci: Aci(u16::from_be_bytes([raw[0], raw[1]])), command, body };
                self.send_cells(link, &[cell]);
            }
            op::RAW => {
                let link = usize::from(input.u8() % 2);
                let bytes = input.chunk();
                self.send_raw(link, bytes);
            }
            op::ONION => self.onion(input),
            op::DATA => {
                let idx = usize::from(input.u8());
                let len = usize::from(input.u8()) % (PAYLOAD_LEN + 1);
                let payload = input.bytes(len);
                if self.conns.is_empty() {
                    return;
                }
                let n = self.conns.len();
                let c = &mut self.conns[idx % n];
                let mut rng = StdRng::seed_from_u64(idx as u64);
                let Ok(mut cell) = Cell::with_data(c.aci, Command::Data, payload, &mut rng) else { return };
                for e in &mut c.fwd {
                    e.apply(&mut cell.body);
                }
                let link = c.link;
                self.send_cells(link, &[cell]);
            }
            op::TIME => {
                let b = input.u8();
                let step = if b < 200 {
                    Duration::from_millis(u64::from(b) * 5)
                } else {
                    Duration::from_secs(u64::from(b - 199) * 10)
                };
                self.now = self.now.after(step);
                self.router.tick(self.now);
            }
            op::EXIT => {
                let idx = usize::from(input.u8());
                let kind = input.u8() % 5;
                let data = input.chunk();
                if self.exits.is_empty() {
                    return;
                }
                let sock = self.exits[idx % self.exits.len()];
                if self.closed.contains(&sock) {
                    return;
                }
                let now = self.now;
                match kind {
                    0 => self.router.connected(now, sock, Ok(())),
                    1 => self.router.connected(now, sock, Err(std::io::ErrorKind::ConnectionRefused.into())),
                    2 if !data.is_empty() => self.router.received(now, sock, data),
                    3 => self.router.eof(now, sock),
                    _ => {
                        self.closed.insert(sock);
                        self.router.failed(now, sock, std::io::ErrorKind::ConnectionReset.into());
                    }
                }
            }
            op::LINK_END => {
                let link = usize::from(input.u8() % 2);
                let reset = input.bool();
                let p = &mut self.peers[link];
                if !p.open {
                    return;
                }
                p.open = false;
                let (sock, now) = (p.sock, self.now);
                self.closed.insert(sock);
                if reset {
                    self.router.failed(now, sock, std::io::ErrorKind::ConnectionReset.into());
                } else {
                    self.router.eof(now, sock);
                }
            }
            op::BUFFERED => {
                let which = usize::from(input.u8());
                let bytes = input.u32() as usize;
                let socks: Vec<SockId> = self.peers.iter().map(|p| p.sock).chain(self.exits.iter().copied()).collect();
                let sock = socks[which % socks.len()];
                if !self.closed.contains(&sock) {
                    let now = self.now;
                    self.router.write_buffered(now, sock, bytes);
                }
            }
            op::DESTROY => {
                let idx = usize::from(input.u8());
                if self.conns.is_empty() {
                    return;
                }
                let c = &self.conns[idx % self.conns.len()];
                let (link, aci) = (c.link, c.aci);
                let mut rng = StdRng::seed_from_u64(idx as u64);
                self.send_cells(link, &[Cell::destroy(aci, &mut rng)]);
            }
            _ => {
                let now = self.now;
                let status = self.router.status(now).expect("a router keeps a status");
                serde_json::from_str::<serde_json::Value>(&status).expect("status is JSON");
            }
        }
    }

    /// Build an onion for this router (one hop, or two through the neighbour or a stranger) and
    /// send it as CREATE cells.
    fn onion(&mut self, input: &mut Input<'_>) {
        let link = usize::from(input.u8() % 2);
        let aci = Aci(input.u16());
        let route_kind = input.u8() % 4;
        let codes = input.u8();
        let forw = CipherCode::from_code(codes % 5).unwrap_or(CipherCode::Identity);
        let back = CipherCode::from_code((codes >> 4) % 5).unwrap_or(CipherCode::Identity);
        let offset = i64::from(input.u16() as i16);
        let seed: [u8; SEED_LEN] = input.array();
        let keys = vector_keys();
        let hop = |port: u16, key: usize| RouteHop { addr: local(port), key: keys[key].to_public_key() };
        let route = match route_kind {
            0 | 1 => vec![hop(ROUTER_PORT, 0)],
            2 => vec![hop(ROUTER_PORT, 0), hop(NEIGHBOUR_PORT, 1)],
            _ => vec![hop(ROUTER_PORT, 0), hop(STRANGER_PORT, 2)],
        };
        let expiration = u32::try_from((NOW_UNIX as i64 + offset).max(0)).unwrap_or(u32::MAX);
        let mut seeds = vec![seed; route.len()];
        for (i, s) in seeds.iter_mut().enumerate().skip(1) {
            s[0] ^= i as u8;
        }
        let plan = OnionPlan {
            back_f: back,
            forw_f: forw,
            expiration,
            seeds,
            innermost_pad: vec![0x5a; padding_len(route.len())],
        };
        let onion = build(&route, &plan).expect("an onion for vector keys builds");
        let mut rng = StdRng::seed_from_u64(u64::from(aci.0));
        let cells: Vec<Cell> = create_chunks()
            .map(|r| Cell::with_data(aci, Command::Create, &onion[r], &mut rng).expect("a CREATE cell"))
            .collect();
        let fwd = plan.key_sets().iter().map(|k| Engine::new(forw, &k.key3)).collect();
        self.conns.push(Conn { link, aci, fwd });
        self.send_cells(link, &cells);
    }

    fn send_cells(&mut self, link: usize, cells: &[Cell]) {
        let mut wire = Vec::new();
        self.peers[link].codec.encode_all(cells, &mut wire);
        self.send_raw(link, &wire);
    }

    fn send_raw(&mut self, link: usize, bytes: &[u8]) {
        let p = &self.peers[link];
        if p.open && !bytes.is_empty() {
            let (sock, now) = (p.sock, self.now);
            self.router.received(now, sock, bytes);
        }
    }

    /// Carry out the router's actions.
    fn drain(&mut self) {
        while let Some(action) = self.router.poll_action() {
            match action {
                Action::Send { sock, data } => {
                    assert!(!self.closed.contains(&sock), "send on closed socket {sock}");
                    if let Some(i) = self.peers.iter().position(|p| p.sock == sock) {
                        let mut cells = Vec::new();
                        let p = &mut self.peers[i];
                        p.codec.decode(&data, &mut cells).expect("the router sends cells its peer can decode");
                        assert_eq!(p.codec.buffered(), 0, "partial cell sent");
                        *self.cells_out.entry(i).or_default() += cells.len();
                    }
                }
                Action::Connect { sock, addr, .. } => {
                    let neighbour = SocketAddr::V4(local(NEIGHBOUR_PORT));
                    if addr != neighbour {
                        self.exits.push(sock);
                    }
                }
                Action::ShutdownWrite { sock } => assert!(!self.closed.contains(&sock), "shutdown of closed {sock}"),
                Action::Close { sock } | Action::Abort { sock } => {
                    self.closed.insert(sock);
                    for p in &mut self.peers {
                        if p.sock == sock {
                            p.open = false;
                        }
                    }
                }
                Action::PauseRead { .. } | Action::ResumeRead { .. } => {}
                Action::KeyLog { line } => {
                    assert!(self.key_log, "key log line without --link-key-log: {line}");
                    assert!(!line.contains('\n'), "key log line with a newline: {line:?}");
                }
                Action::Resolve { request, port, .. } => {
                    let answer = if self.resolve_fails {
                        Err(std::io::ErrorKind::NotFound.into())
                    } else {
                        Ok(vec![SocketAddr::V4(SocketAddrV4::new([127, 0, 0, 1].into(), port))])
                    };
                    let now = self.now;
                    self.router.resolved(now, request, answer);
                }
            }
        }
    }
}
