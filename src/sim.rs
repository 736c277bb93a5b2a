//! An in-memory network with virtual time for testing sans-IO cores together: N routers, onion
//! proxies and funnels exchange bytes through simulated TCP pipes, and simulated destination
//! servers (echo, sink) stand in for the outside world. Deterministic for a seeded CSPRNG.
//!
//! Pipes can have a latency ([`SimNet::latency`]); a core's `PauseRead` holds the bytes for that
//! socket until `ResumeRead`, and everything held or in flight counts as its sender's unwritten
//! write buffer, reported through `write_buffered` as the reactor would. [`SimNet::mute`] drops
//! everything a node sends from then on (a peer that stopped sending, PADDING included).

use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::event::{Action, Core, Now, SockId};

/// A core the simulation can also hand back for inspection.
pub trait SimCore: Core + Any {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Core + Any> SimCore for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// One end of a simulated TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum End {
    Node(usize, SockId),
    /// A connection to a simulated server, by index.
    Server(usize),
}

/// How a simulated server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Sends back what it receives; half-closes when the client does.
    Echo,
    /// Keeps what it receives; the test sends with [`SimNet::server_send`].
    Sink,
}

/// A simulated server connection's record.
#[derive(Debug, Default, Clone)]
pub struct ServerConn {
    pub addr: Option<SocketAddr>,
    pub received: Vec<u8>,
    pub eof: bool,
    pub closed: bool,
    peer: Option<End>,
}

enum Event {
    Data(Vec<u8>),
    Eof,
    Reset,
}

/// Something on its way to `to`, due at `due`, sent by `from` (a node socket, for its write
/// buffer).
struct InFlight {
    due: Instant,
    to: End,
    from: Option<End>,
    ev: Event,
}

/// The simulated network.
pub struct SimNet {
    pub now: Now,
    /// One-way delay of every pipe (zero by default).
    pub latency: Duration,
    nodes: Vec<Box<dyn SimCore>>,
    listeners: HashMap<SocketAddr, (usize, usize)>,
    servers: HashMap<SocketAddr, ServerKind>,
    pub server_conns: Vec<ServerConn>,
    pipes: HashMap<End, End>,
    queue: VecDeque<InFlight>,
    /// Node sockets that asked not to be read (`PauseRead`).
    paused: HashSet<End>,
    /// Unwritten bytes last reported per sending node socket.
    reported: BTreeMap<End, usize>,
    /// Nodes whose sends are dropped.
    muted: HashSet<usize>,
    /// Every byte sent on a node socket (sender, receiver, bytes), for tests that inspect the
    /// wire as an observer of the links would.
    pub wire_log: Vec<(End, Vec<u8>)>,
    pub wire_peers: Vec<End>,
    pub log_wire: bool,
    /// Order in which data reached simulated servers: (connection, bytes).
    pub arrivals: Vec<(usize, usize)>,
    down: Vec<bool>,
}

impl Default for SimNet {
    fn default() -> Self {
        SimNet::new()
    }
}

impl SimNet {
    pub fn new() -> SimNet {
        let now = Now::new(Instant::now(), 1_900_000_000);
        SimNet {
            now,
            latency: Duration::ZERO,
            nodes: Vec::new(),
            listeners: HashMap::new(),
            servers: HashMap::new(),
            server_conns: Vec::new(),
            pipes: HashMap::new(),
            queue: VecDeque::new(),
            paused: HashSet::new(),
            reported: BTreeMap::new(),
            muted: HashSet::new(),
            wire_log: Vec::new(),
            wire_peers: Vec::new(),
            log_wire: false,
            arrivals: Vec::new(),
            down: Vec::new(),
        }
    }

    /// Add a core listening on `listen` (its listener 0). Returns its index.
    pub fn add(&mut self, core: impl SimCore, listen: Vec<SocketAddr>) -> usize {
        let idx = self.nodes.len();
        for (i, a) in listen.into_iter().enumerate() {
            self.listeners.insert(a, (idx, i));
        }
        self.nodes.push(Box::new(core));
        self.down.push(false);
        idx
    }

    /// From now on, drop everything node `idx` sends (it stays up and keeps receiving).
    pub fn mute(&mut self, idx: usize) {
        self.muted.insert(idx);
    }

    /// Bytes held for node `idx`'s socket `sock` because it paused reading.
    pub fn held_for(&self, idx: usize, sock: SockId) -> usize {
        let to = End::Node(idx, sock);
        self.queue.iter().filter(|f| f.to == to).map(|f| if let Event::Data(d) = &f.ev { d.len() } else { 0 }).sum()
    }

    /// Whether node `idx` has paused reading socket `sock`.
    pub fn is_paused(&self, idx: usize, sock: SockId) -> bool {
        self.paused.contains(&End::Node(idx, sock))
    }

    fn send_event(&mut self, to: End, from: Option<End>, ev: Event) {
        let due = self.now.mono + self.latency;
        self.queue.push_back(InFlight { due, to, from, ev });
    }

    pub fn add_server(&mut self, addr: SocketAddr, kind: ServerKind) {
        self.servers.insert(addr, kind);
    }

    pub fn node<T: 'static>(&self, idx: usize) -> &T {
        self.nodes[idx].as_any().downcast_ref().expect("node type")
    }

    pub fn node_mut<T: 'static>(&mut self, idx: usize) -> &mut T {
        self.nodes[idx].as_any_mut().downcast_mut().expect("node type")
    }

    /// Crash a node: every connection to it is reset, it never acts again.
    pub fn kill(&mut self, idx: usize) {
        self.down[idx] = true;
        self.listeners.retain(|_, (n, _)| *n != idx);
        let ends: Vec<End> = self.pipes.keys().copied().filter(|e| matches!(e, End::Node(n, _) if *n == idx)).collect();
        for e in ends {
            if let Some(peer) = self.pipes.remove(&e) {
                self.pipes.remove(&peer);
                self.send_event(peer, None, Event::Reset);
            }
        }
    }

    /// Replace a node with a new core (a restart), listening on `listen`.
    pub fn restart(&mut self, idx: usize, core: impl SimCore, listen: Vec<SocketAddr>) {
        self.kill(idx);
        self.nodes[idx] = Box::new(core);
        self.down[idx] = false;
        for (i, a) in listen.into_iter().enumerate() {
            self.listeners.insert(a, (idx, i));
        }
    }

    /// Open a connection from the test to node `idx`'s listener `li` (as a client program would).
    /// Returns the server-connection index through which the test talks.
    pub fn client_connect(&mut self, to: SocketAddr) -> Option<usize> {
        let (n, li) = *self.listeners.get(&to)?;
        let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000 + self.server_conns.len() as u16);
        let sock = self.nodes[n].accepted(self.now, li, peer)?;
        let c = self.server_conns.len();
        self.server_conns.push(ServerConn { addr: Some(to), peer: Some(End::Node(n, sock)), ..Default::default() });
        self.pipes.insert(End::Node(n, sock), End::Server(c));
        self.pipes.insert(End::Server(c), End::Node(n, sock));
        Some(c)
    }

    /// Send bytes from a simulated server (or test client) connection.
    pub fn server_send(&mut self, conn: usize, data: &[u8]) {
        if let Some(peer) = self.server_conns[conn].peer {
            self.send_event(peer, None, Event::Data(data.to_vec()));
        }
    }

    /// Half-close a simulated connection.
    pub fn server_shutdown(&mut self, conn: usize) {
        if let Some(peer) = self.server_conns[conn].peer {
            self.send_event(peer, None, Event::Eof);
        }
    }

    /// Reset a simulated connection.
    pub fn server_reset(&mut self, conn: usize) {
        if let Some(peer) = self.server_conns[conn].peer.take() {
            self.pipes.remove(&peer);
            self.pipes.remove(&End::Server(conn));
            self.send_event(peer, None, Event::Reset);
        }
    }

    /// Deliver everything and carry out every action until nothing moves, ticking each node
    /// after each batch (one "wake-up").
    pub fn run(&mut self) {
        for _ in 0..1_000_000 {
            if !self.step() {
                return;
            }
        }
        panic!("simulation did not settle");
    }

    /// One round: tick every node and carry out its actions, then deliver what was in flight.
    /// Returns whether anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        for i in 0..self.nodes.len() {
            if self.down[i] {
                continue;
            }
            self.nodes[i].tick(self.now);
            while let Some(a) = self.nodes[i].poll_action() {
                moved = true;
                self.apply(i, a);
            }
        }
        // Deliver what is due, in order, except to paused sockets (their bytes wait, and so
        // does everything behind them on the same pipe).
        let mut held: HashSet<End> = HashSet::new();
        let mut keep = VecDeque::new();
        let mut batch = Vec::new();
        for f in self.queue.drain(..) {
            if f.due > self.now.mono || self.paused.contains(&f.to) || held.contains(&f.to) {
                held.insert(f.to);
                keep.push_back(f);
            } else {
                batch.push(f);
            }
        }
        self.queue = keep;
        moved |= !batch.is_empty();
        for f in batch {
            self.deliver(f.to, f.ev);
        }
        self.report_buffers();
        moved
    }

    /// Tell each sending node socket how many of its bytes are still held or in flight, when
    /// that changed (the reactor's `write_buffered`).
    fn report_buffers(&mut self) {
        let mut now_pending: BTreeMap<End, usize> = BTreeMap::new();
        for f in &self.queue {
            if let (Some(from), Event::Data(d)) = (f.from, &f.ev) {
                *now_pending.entry(from).or_default() += d.len();
            }
        }
        let mut changes = Vec::new();
        for (&end, &n) in &now_pending {
            if self.reported.get(&end) != Some(&n) {
                changes.push((end, n));
            }
        }
        for &end in self.reported.keys() {
            if !now_pending.contains_key(&end) {
                changes.push((end, 0));
            }
        }
        self.reported = now_pending;
        for (end, n) in changes {
            if let End::Node(i, sock) = end {
                if !self.down[i] {
                    self.nodes[i].write_buffered(self.now, sock, n);
                }
            }
        }
    }

    /// Advance virtual time by `d` in steps of at most `step`, running in between.
    pub fn advance(&mut self, d: Duration, step: Duration) {
        let mut left = d;
        while left > Duration::ZERO {
            let s = left.min(step);
            self.now = self.now.after(s);
            left -= s;
            self.run();
        }
    }

    fn deliver(&mut self, to: End, ev: Event) {
        match to {
            End::Node(n, sock) => {
                if self.down[n] {
                    return;
                }
                let now = self.now;
                match ev {
                    Event::Data(d) => self.nodes[n].received(now, sock, &d),
                    Event::Eof => self.nodes[n].eof(now, sock),
                    Event::Reset => {
                        self.pipes.remove(&to);
                        self.nodes[n].failed(now, sock, io::Error::from(io::ErrorKind::ConnectionReset))
                    }
                }
            }
            End::Server(c) => {
                let kind = self.server_conns[c].addr.and_then(|a| self.servers.get(&a).copied());
                let conn = &mut self.server_conns[c];
                match ev {
                    Event::Data(d) => {
                        self.arrivals.push((c, d.len()));
                        conn.received.extend_from_slice(&d);
                        if kind == Some(ServerKind::Echo) {
                            if let Some(p) = conn.peer {
                                self.send_event(p, None, Event::Data(d));
                            }
                        }
                    }
                    Event::Eof => {
                        conn.eof = true;
                        if kind == Some(ServerKind::Echo) {
                            if let Some(p) = conn.peer {
                                self.send_event(p, None, Event::Eof);
                            }
                        }
                    }
                    Event::Reset => {
                        conn.closed = true;
                        conn.peer = None;
                    }
                }
            }
        }
    }

    fn apply(&mut self, n: usize, action: Action) {
        let now = self.now;
        match action {
            Action::Send { sock, data } => {
                if self.muted.contains(&n) {
                    return;
                }
                if self.log_wire {
                    self.wire_log.push((End::Node(n, sock), data.clone()));
                    self.wire_peers
                        .push(self.pipes.get(&End::Node(n, sock)).copied().unwrap_or(End::Server(usize::MAX)));
                }
                if let Some(&peer) = self.pipes.get(&End::Node(n, sock)) {
                    self.send_event(peer, Some(End::Node(n, sock)), Event::Data(data));
                }
            }
            Action::Connect { sock, addr, .. } => {
                let me = End::Node(n, sock);
                if let Some(&(m, li)) = self.listeners.get(&addr) {
                    let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50000 + (sock.0 % 10000) as u16);
                    match self.nodes[m].accepted(now, li, from) {
                        Some(their) => {
                            self.pipes.insert(me, End::Node(m, their));
                            self.pipes.insert(End::Node(m, their), me);
                            self.nodes[n].connected(now, sock, Ok(()));
                        }
                        None => self.nodes[n].connected(now, sock, Err(io::ErrorKind::ConnectionRefused.into())),
                    }
                } else if self.servers.contains_key(&addr) {
                    let c = self.server_conns.len();
                    self.server_conns.push(ServerConn { addr: Some(addr), peer: Some(me), ..Default::default() });
                    self.pipes.insert(me, End::Server(c));
                    self.pipes.insert(End::Server(c), me);
                    self.nodes[n].connected(now, sock, Ok(()));
                } else {
                    self.nodes[n].connected(now, sock, Err(io::ErrorKind::ConnectionRefused.into()));
                }
            }
            Action::ShutdownWrite { sock } => {
                if let Some(&peer) = self.pipes.get(&End::Node(n, sock)) {
                    self.send_event(peer, None, Event::Eof);
                }
            }
            Action::Close { sock } => {
                if let Some(peer) = self.pipes.remove(&End::Node(n, sock)) {
                    self.pipes.remove(&peer);
                    self.send_event(peer, None, Event::Eof);
                    if let End::Server(c) = peer {
                        self.server_conns[c].peer = None;
                    }
                }
            }
            Action::Abort { sock } => {
                if let Some(peer) = self.pipes.remove(&End::Node(n, sock)) {
                    self.pipes.remove(&peer);
                    self.send_event(peer, None, Event::Reset);
                }
            }
            Action::PauseRead { sock } => {
                self.paused.insert(End::Node(n, sock));
            }
            Action::ResumeRead { sock } => {
                self.paused.remove(&End::Node(n, sock));
            }
            Action::KeyLog { .. } => {}
            Action::Resolve { request, host, port } => {
                let r = if host == "localhost" {
                    Ok(vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)])
                } else {
                    Err(io::Error::new(io::ErrorKind::NotFound, "no such host"))
                };
                self.nodes[n].resolved(now, request, r);
            }
        }
    }
}
