//! The router: a thin dispatcher between its parts, driven through [`Core`]. The parts own their
//! state and know nothing of each other: the link table (`links.rs`), the connection table
//! (`conn_table.rs`), the exit funnel (`exit_funnel.rs`), the mixing stage (`mix_stage.rs`), the
//! replay cache (`replay.rs`), backpressure (`flow.rs`) and timers (`timers.rs`). What happens
//! between them lives in the router's own files: `connections.rs` (CREATE, DATA, DESTROY),
//! `exit.rs` (the exit steps), `link_events.rs` (links up and lost), `liveness.rs` (upkeep).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::info;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::config::RouterConfig;
use super::conn_table::{ConnId, ConnTable};
use super::exit_funnel::ExitFunnel;
use super::flow::Flow;
use super::links::{LinkSettings, LinkTable};
use super::mix_stage::{MixStage, MIXER_CAP};
use super::onion_rate::{OnionRate, OnionRateLimit};
use super::refusal::{OnionRefusal, REFUSAL_LOG_INTERVAL, REFUSAL_LOG_LINES};
use super::replay::ReplayCache;
use super::stats::Stats;
use super::timers::Timers;
use crate::event::{Action, Core, ListenerIdx, Now, SockId, SockIds};
use crate::log_limit::LogLimit;
use crate::wire::{Aci, Cell, Command};

/// The router core.
pub struct Router {
    pub(super) cfg: RouterConfig,
    pub(super) rng: StdRng,
    pub(super) ids: SockIds,
    pub(super) actions: VecDeque<Action>,
    pub(super) links: LinkTable,
    pub(super) conns: ConnTable,
    pub(super) exits: ExitFunnel<ConnId>,
    pub(super) mix: MixStage<(SockId, Aci), Cell>,
    pub(super) replay: ReplayCache,
    pub(super) flow: Flow,
    pub(super) timers: Timers,
    pub(super) onion_rate: OnionRateLimit<SockId>,
    pub(super) stats: Stats,
    /// Refusal lines, rate-limited per reason.
    pub(super) refusals_log: LogLimit<OnionRefusal>,
    /// Reply onions' settings, replay quota and rate (`reply.rs`).
    pub(super) reply: super::reply::ReplyPart,
    housekeeping_due: Option<Instant>,
    pub(super) started: bool,
    /// Scratch for the cells decoded from one read, kept between reads (`link_events.rs`).
    pub(super) cells_scratch: Vec<Cell>,
}

/// Housekeeping (link timers, padding, replay expiry) runs this often.
pub(super) const HOUSEKEEPING: Duration = Duration::from_millis(250);

impl Router {
    /// A router with an OS-seeded CSPRNG.
    pub fn new(cfg: RouterConfig, replay: ReplayCache) -> Router {
        Router::with_rng(cfg, replay, StdRng::from_entropy())
    }

    /// A router with a given CSPRNG (seeded in tests for reproducibility).
    pub fn with_rng(cfg: RouterConfig, replay: ReplayCache, rng: StdRng) -> Router {
        let settings = LinkSettings {
            identity: cfg.identity,
            key: cfg.key.clone(),
            timers: cfg.timeouts.link_timers(),
            padding_rate: cfg.padding_rate,
            stable_after: cfg.timeouts.stable_after,
            key_log: cfg.key_log,
        };
        let links = LinkTable::new(settings, &cfg.neighbors);
        let mix = MixStage::new(cfg.mixing, MIXER_CAP);
        Router {
            cfg,
            rng,
            ids: SockIds::default(),
            actions: VecDeque::new(),
            links,
            conns: ConnTable::default(),
            exits: ExitFunnel::default(),
            mix,
            replay,
            flow: Flow::default(),
            timers: Timers::default(),
            onion_rate: OnionRateLimit::new(OnionRate::default()),
            stats: Stats::default(),
            refusals_log: LogLimit::new(REFUSAL_LOG_LINES, REFUSAL_LOG_INTERVAL),
            reply: super::reply::ReplyPart::default(),
            housekeeping_due: None,
            started: false,
            cells_scratch: Vec::new(),
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
        self.conns.len()
    }

    /// What an operator may see (`--status-file`, `ork status`): links with their peers and
    /// counters, connection count, onions peeled and refused by reason, replay-cache size. Never
    /// the connection maps.
    pub fn status_report(&self, now: Now) -> super::stats::StatusReport {
        let mut queued: HashMap<SockId, usize> = HashMap::new();
        for ((sock, _), n) in self.mix.queue_lengths() {
            *queued.entry(sock).or_default() += n;
        }
        let mut links: Vec<super::stats::LinkStatus> = self
            .links
            .carriers()
            .map(|l| {
                let up_for_secs = l.end_established.map_or(0, |t| now.mono.saturating_duration_since(t).as_secs());
                super::stats::LinkStatus {
                    peer: l.peer,
                    up_for_secs,
                    up_since_unix: now.unix.saturating_sub(up_for_secs),
                    cells_in: l.cells_in,
                    cells_out: l.cells_out,
                    queued_cells: queued.get(&l.sock).copied().unwrap_or(0),
                    unwritten_bytes: l.unwritten,
                }
            })
            .collect();
        links.sort_by(|a, b| a.peer.cmp(&b.peer));
        super::stats::StatusReport {
            identity: self.cfg.identity.to_string(),
            neighbors: self.links.neighbor_count(),
            links,
            connections: self.conns.len(),
            mixer_queue: self.mix.len(),
            replay_cache: self.replay.len(),
            aci_slots: self.conns.slot_count(),
            awaiting_destroy_ack: self.conns.awaiting_ack(),
            stats: self.stats.clone(),
        }
    }

    /// ACIs this router has allocated on its links and not yet freed (tests, `ork status`).
    pub fn acis_in_use(&self) -> usize {
        self.links.acis_in_use()
    }

    /// Identities of neighbours with an open cell-carrying link.
    pub fn linked_neighbors(&self) -> Vec<std::net::SocketAddrV4> {
        self.links.linked_neighbors()
    }

    /// Queue a cell for the next mixer batch.
    pub(super) fn queue_cell(&mut self, now: Now, link: SockId, cell: Cell) {
        // A DESTROY (a connection's end) is mixed in with the rest but never makes a batch wait
        // the whole interval; data, set-up and PADDING do (docs/anonymity.md, "When a batch
        // leaves").
        let company = cell.command != Command::Destroy;
        let conns = &self.conns;
        if self.mix.push(now.mono, (link, cell.aci), cell, company, |a, b| conns.same_connection(a, b)) {
            self.flush_mixer(now);
        }
    }

    /// Send the batch in a CSPRNG-chosen interleaving that keeps each connection's order.
    pub(super) fn flush_mixer(&mut self, now: Now) {
        let mut batch = self.mix.take_batch(now.mono, &mut self.rng);
        self.links.send_batch(now, batch.by_ref_items().map(|((link, _), cell)| (link, cell)), &mut self.actions);
    }

    fn start(&mut self, now: Now) {
        self.started = true;
        info!(
            "router {} up: {} neighbour(s), mix interval {:?} (lone wait {:?}), padding {}/s",
            self.cfg.identity,
            self.links.neighbor_count(),
            self.cfg.mixing.interval,
            self.cfg.mixing.lone_wait,
            self.cfg.padding_rate
        );
        self.links.start(now, &mut self.ids, &mut self.actions);
        self.housekeeping_due = Some(now.mono + HOUSEKEEPING);
    }
}

impl Core for Router {
    fn accepted(&mut self, now: Now, _listener: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        Some(self.accept_link(now, peer))
    }

    fn connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        if self.leg_of(sock).is_some() {
            self.leg_connected(now, sock, result);
        } else if self.exits.stream(sock).is_some() {
            self.exit_connected(now, sock, result);
        } else {
            self.link_connected(now, sock, result);
        }
    }

    fn received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        if self.leg_of(sock).is_some() {
            self.leg_received(now, sock, data);
        } else if self.exits.stream(sock).is_some() {
            self.exit_received(now, sock, data);
        } else {
            self.link_received(now, sock, data);
        }
    }

    fn eof(&mut self, now: Now, sock: SockId) {
        if self.leg_of(sock).is_some() {
            self.leg_ended(now, sock, "EOF");
        } else if self.exits.stream(sock).is_some() {
            self.exit_eof(now, sock);
        } else {
            self.link_lost(now, sock, crate::link::LinkLoss::ClosedByPeer);
        }
    }

    fn failed(&mut self, now: Now, sock: SockId, error: io::Error) {
        if self.leg_of(sock).is_some() {
            self.leg_ended(now, sock, &error.to_string());
        } else if self.exits.stream(sock).is_some() {
            self.exit_failed(now, sock, &error);
        } else {
            log::debug!("link {sock}: {error}");
            self.link_lost(now, sock, crate::link::LinkLoss::SocketError);
        }
    }

    fn write_buffered(&mut self, _now: Now, sock: SockId, bytes: usize) {
        self.links.set_unwritten(sock, bytes);
        let (conns, exits) = (&self.conns, &self.exits);
        self.flow.update(sock, bytes, || conns.sources_of(exits, sock), &mut self.actions);
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
        if self.mix.due().is_some_and(|t| t <= now.mono) {
            self.flush_mixer(now);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.mix.due(), self.housekeeping_due, self.timers.next_due()].into_iter().flatten().min()
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn status(&self, now: Now) -> Option<String> {
        serde_json::to_string_pretty(&self.status_report(now)).ok()
    }

    fn shutdown(&mut self, now: Now) {
        info!("router {} shutting down: destroying {} connection(s)", self.cfg.identity, self.conns.len());
        for id in self.conns.ids() {
            self.destroy_connection(now, id, None);
        }
        self.flush_mixer(now);
        self.links.close_all(&mut self.actions);
        for sock in self.exits.take_streams() {
            self.actions.push_back(Action::Close { sock });
        }
    }
}
