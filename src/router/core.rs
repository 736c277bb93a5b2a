//! The router's sans-IO state machine: links, anonymous connections, the mixer and the exit
//! funnel, driven through [`Core`]. The pieces live beside it: `links.rs` (link life cycle and
//! STS), `circuits.rs` (CREATE, DATA, DESTROY), `exit.rs` (exit funnel), `flow.rs`
//! (backpressure).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::info;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::config::RouterConfig;
use super::exit::Exit;
use super::flow::Flow;
use super::links::{Link, NeighborState};
use super::mixer::Mixer;
use super::onion_rate::{OnionRate, OnionRateLimit};
use super::refusal::{OnionRefusal, REFUSAL_LOG_INTERVAL, REFUSAL_LOG_LINES};
use super::replay::ReplayCache;
use super::slots::Slots;
use super::stats::Stats;
use super::timers::{Timer, Timers};
use crate::crypto::Engine;
use crate::event::{Action, Core, ListenerIdx, Now, SockId, SockIds};
use crate::log_limit::LogLimit;
use crate::wire::{Aci, Cell};

/// Identifies one anonymous connection through this router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CircId(pub u64);

/// What an ACI on a link currently stands for.
pub(super) enum Slot {
    /// CREATE cells arriving: the onion so far, and DATA cells that came early.
    Creating { onion: Vec<u8>, early: Vec<Cell>, started: Instant },
    /// Part of a live connection.
    Live(CircId),
    /// We sent DESTROY and wait for the acknowledgement.
    AwaitingAck,
}

/// Where a connection goes after this router.
pub(super) enum Next {
    Link(SockId, Aci),
    Exit(Box<Exit>),
}

/// One anonymous connection at this router.
pub(super) struct Circuit {
    /// Toward the onion proxy.
    pub prev: (SockId, Aci),
    pub next: Next,
    /// Forward engine (key3) and backward engine (key2).
    pub fwd: Engine,
    pub back: Engine,
}

/// The router core.
pub struct Router {
    pub(super) cfg: RouterConfig,
    pub(super) rng: StdRng,
    pub(super) ids: SockIds,
    pub(super) actions: VecDeque<Action>,
    pub(super) links: BTreeMap<SockId, Link>,
    pub(super) neighbors: Vec<NeighborState>,
    pub(super) slots: Slots,
    pub(super) circs: HashMap<CircId, Circuit>,
    pub(super) next_circ: u64,
    /// Exit streams (sockets to destinations) and their connections.
    pub(super) streams: HashMap<SockId, CircId>,
    pub(super) resolving: HashMap<u64, CircId>,
    pub(super) mixer: Mixer<(SockId, Aci), Cell>,
    pub(super) mix_due: Option<Instant>,
    /// When the current batch's first cell arrived.
    pub(super) mix_first: Option<Instant>,
    pub(super) mix_out: Vec<((SockId, Aci), Cell)>,
    pub(super) replay: ReplayCache,
    pub(super) flow: Flow,
    pub(super) housekeeping_due: Option<Instant>,
    pub(super) timers: Timers,
    pub(super) stats: Stats,
    pub(super) started: bool,
    pub(super) onion_rate: OnionRateLimit<SockId>,
    /// Handshake timeouts, logged at most once per peer address per minute.
    pub(super) timeouts_log: crate::link::TimeoutLog,
    /// Refusal lines, rate-limited per reason.
    pub(super) refusals_log: LogLimit<OnionRefusal>,
}

/// Housekeeping (link timers, padding, replay expiry) runs this often.
pub(super) const HOUSEKEEPING: Duration = Duration::from_millis(250);
/// Cells the mixer may hold before it flushes early, bounding memory.
pub(super) const MIXER_CAP: usize = 65_536;

impl Router {
    /// A router with an OS-seeded CSPRNG.
    pub fn new(cfg: RouterConfig, replay: ReplayCache) -> Router {
        Router::with_rng(cfg, replay, StdRng::from_entropy())
    }

    /// A router with a given CSPRNG (seeded in tests for reproducibility).
    pub fn with_rng(cfg: RouterConfig, replay: ReplayCache, rng: StdRng) -> Router {
        let neighbors = cfg.neighbors.iter().map(|n| NeighborState::new(n, cfg.identity)).collect();
        Router {
            cfg,
            rng,
            ids: SockIds::default(),
            actions: VecDeque::new(),
            links: BTreeMap::new(),
            neighbors,
            slots: Slots::default(),
            circs: HashMap::new(),
            next_circ: 0,
            streams: HashMap::new(),
            resolving: HashMap::new(),
            mixer: Mixer::new(),
            mix_due: None,
            mix_first: None,
            mix_out: Vec::new(),
            replay,
            flow: Flow::default(),
            housekeeping_due: None,
            timers: Timers::default(),
            stats: Stats::default(),
            started: false,
            onion_rate: OnionRateLimit::new(OnionRate::default()),
            timeouts_log: crate::link::TimeoutLog::default(),
            refusals_log: LogLimit::new(REFUSAL_LOG_LINES, REFUSAL_LOG_INTERVAL),
        }
    }

    /// Set the per-link onion rate limit (default [`OnionRate::default`]).
    pub fn with_onion_rate(mut self, rate: OnionRate) -> Router {
        self.onion_rate = OnionRateLimit::new(rate);
        self
    }

    /// Counters for `ork status` and tests.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Live anonymous connections.
    pub fn connection_count(&self) -> usize {
        self.circs.len()
    }

    /// What an operator may see (`--status-file`, `ork status`): links with their peers and
    /// counters, connection count, onions peeled and refused by reason, replay-cache size. Never
    /// the connection maps.
    pub fn status_report(&self, now: Now) -> super::stats::StatusReport {
        let mut queued: HashMap<SockId, usize> = HashMap::new();
        for ((sock, _), n) in self.mixer.queue_lengths() {
            *queued.entry(sock).or_default() += n;
        }
        let mut links: Vec<super::stats::LinkStatus> = self
            .links
            .iter()
            .filter(|(_, l)| l.is_carrier())
            .map(|(sock, l)| {
                let up_for_secs = l.end.established().map_or(0, |t| now.mono.saturating_duration_since(t).as_secs());
                super::stats::LinkStatus {
                    peer: l.describe(),
                    up_for_secs,
                    up_since_unix: now.unix.saturating_sub(up_for_secs),
                    cells_in: l.end.cells_in(),
                    cells_out: l.end.cells_out(),
                    queued_cells: queued.get(sock).copied().unwrap_or(0),
                    unwritten_bytes: l.unwritten,
                }
            })
            .collect();
        links.sort_by(|a, b| a.peer.cmp(&b.peer));
        super::stats::StatusReport {
            identity: self.cfg.identity.to_string(),
            neighbors: self.neighbors.len(),
            links,
            connections: self.circs.len(),
            mixer_queue: self.mixer.len(),
            replay_cache: self.replay.len(),
            aci_slots: self.slots.len(),
            awaiting_destroy_ack: self.slots.awaiting_ack(),
            stats: self.stats.clone(),
        }
    }

    /// ACIs this router has allocated on its links and not yet freed (tests, `ork status`).
    pub fn acis_in_use(&self) -> usize {
        self.links.values().map(|l| l.end.acis_in_use()).sum()
    }

    /// Identities of neighbours with an open cell-carrying link.
    pub fn linked_neighbors(&self) -> Vec<std::net::SocketAddrV4> {
        self.neighbors.iter().filter(|n| n.link.is_some()).map(|n| n.addr).collect()
    }

    pub(super) fn set_timer(&mut self, at: Instant, timer: Timer) {
        self.timers.set(at, timer);
    }

    pub(super) fn new_circ_id(&mut self) -> CircId {
        self.next_circ += 1;
        CircId(self.next_circ)
    }

    /// Queue a cell for the next mixer batch.
    pub(super) fn queue_cell(&mut self, now: Now, link: SockId, cell: Cell) {
        self.mixer.push((link, cell.aci), cell);
        let first = *self.mix_first.get_or_insert(now.mono);
        self.mix_due = Some(self.cfg.mixing.due(first, self.mixer.connections()));
        if self.mixer.len() >= MIXER_CAP {
            self.flush_mixer(now);
        }
    }

    /// Send the batch in a CSPRNG-chosen interleaving that keeps each connection's order.
    pub(super) fn flush_mixer(&mut self, now: Now) {
        self.mix_due = None;
        self.mix_first = None;
        if self.mixer.is_empty() {
            return;
        }
        let mut out = std::mem::take(&mut self.mix_out);
        out.clear();
        self.mixer.drain(&mut self.rng, &mut out);
        let mut touched: Vec<SockId> = Vec::new();
        // The link of the previous cell: runs of cells for one link look it up once.
        let mut current: Option<(SockId, &mut Link)> = None;
        for ((link, _), cell) in out.drain(..) {
            if current.as_ref().map(|(id, _)| *id) != Some(link) {
                current = self.links.get_mut(&link).map(|l| (link, l));
                touched.push(link);
            }
            if let Some((_, l)) = current.as_mut() {
                l.encode(&cell, now);
            }
        }
        self.mix_out = out;
        touched.sort_unstable();
        touched.dedup();
        for link in touched {
            if let Some(data) = self.links.get_mut(&link).and_then(|l| l.take_output()) {
                self.actions.push_back(Action::Send { sock: link, data });
            }
        }
    }

    fn start(&mut self, now: Now) {
        self.started = true;
        info!(
            "router {} up: {} neighbour(s), mix interval {:?} (lone wait {:?}), padding {}/s",
            self.cfg.identity,
            self.neighbors.len(),
            self.cfg.mixing.interval,
            self.cfg.mixing.lone_wait,
            self.cfg.padding_rate
        );
        self.start_links(now);
        self.housekeeping_due = Some(now.mono + HOUSEKEEPING);
    }
}

impl Core for Router {
    fn accepted(&mut self, now: Now, _listener: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        Some(self.accept_link(now, peer))
    }

    fn connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        if self.streams.contains_key(&sock) {
            self.exit_connected(now, sock, result);
        } else {
            self.link_connected(now, sock, result);
        }
    }

    fn received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        if self.streams.contains_key(&sock) {
            self.exit_received(now, sock, data);
        } else {
            self.link_received(now, sock, data);
        }
    }

    fn eof(&mut self, now: Now, sock: SockId) {
        if self.streams.contains_key(&sock) {
            self.exit_eof(now, sock);
        } else {
            self.link_lost(now, sock, crate::link::LinkLoss::ClosedByPeer);
        }
    }

    fn failed(&mut self, now: Now, sock: SockId, error: io::Error) {
        if self.streams.contains_key(&sock) {
            self.exit_failed(now, sock, &error);
        } else {
            log::debug!("link {sock}: {error}");
            self.link_lost(now, sock, crate::link::LinkLoss::SocketError);
        }
    }

    fn write_buffered(&mut self, _now: Now, sock: SockId, bytes: usize) {
        if let Some(link) = self.links.get_mut(&sock) {
            link.unwritten = bytes;
        }
        self.flow_update(sock, bytes);
    }

    fn resolved(&mut self, now: Now, request: u64, result: io::Result<Vec<SocketAddr>>) {
        self.exit_resolved(now, request, result);
    }

    fn tick(&mut self, now: Now) {
        if !self.started {
            self.start(now);
        }
        if self.housekeeping_due.is_some_and(|t| t <= now.mono) {
            self.housekeeping_due = Some(now.mono + HOUSEKEEPING);
            self.housekeeping(now);
        }
        self.run_timers(now);
        if self.mix_due.is_some_and(|t| t <= now.mono) {
            self.flush_mixer(now);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.mix_due, self.housekeeping_due, self.timers.next_due()].into_iter().flatten().min()
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn status(&self, now: Now) -> Option<String> {
        serde_json::to_string_pretty(&self.status_report(now)).ok()
    }

    fn shutdown(&mut self, now: Now) {
        info!("router {} shutting down: destroying {} connection(s)", self.cfg.identity, self.circs.len());
        let ids: Vec<CircId> = self.circs.keys().copied().collect();
        for id in ids {
            self.destroy_circuit(now, id, None);
        }
        self.flush_mixer(now);
        let links: Vec<SockId> = self.links.keys().copied().collect();
        for l in links {
            self.actions.push_back(Action::Close { sock: l });
        }
        self.links.clear();
        let streams: Vec<SockId> = self.streams.keys().copied().collect();
        for s in streams {
            self.actions.push_back(Action::Close { sock: s });
        }
        self.streams.clear();
    }
}
