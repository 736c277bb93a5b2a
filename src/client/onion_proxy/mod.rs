//! The onion proxy's sans-IO core (protocol.md §8): accepts standard structures from application
//! proxies, picks a route, builds the onion, opens the anonymous connection over its uplink,
//! returns the exit funnel's status byte and relays with pre- and postcryption. Routes are chosen
//! with stream isolation (`isolation.rs`). Destinations and routes are logged at debug level only;
//! info carries counts and failures.

use rustc_hash::FxHashMap;
use std::collections::{BTreeSet, VecDeque};

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use rand::rngs::StdRng;
use rand::SeedableRng;

use self::isolation::RouteTable;
use crate::config::network::Network;
use crate::config::policy::Policy;
use crate::crypto::{CipherCode, Engine, RsaPublicKey};
use crate::event::{Action, Now, SockId, SockIds};
use crate::link::{Uplink, UplinkEvent};
use crate::onion::{self, create_chunks, OnionPlan, RouteHop};
use crate::wire::isolation::IsolationKey;
use crate::wire::standard::Host;
use crate::wire::{Aci, Cell, Command, StandardStructure, Status, PAYLOAD_LEN};

/// Onion proxy settings.
pub struct OnionProxyConfig {
    pub network: Network,
    /// Index of the entry router in `network`.
    pub entry: usize,
    /// A stand-alone funnel to reach the entry router through (address and its public key).
    pub via: Option<(SocketAddr, RsaPublicKey)>,
    pub hops: usize,
    /// Destination policy (address, port, protocol).
    pub policy: Policy,
    /// Application proxies allowed to connect (source networks).
    pub allow_from: Vec<(IpAddr, u8)>,
    pub forw: CipherCode,
    pub back: CipherCode,
    /// Onion lifetime (expiration = now + this).
    pub expires: Duration,
    /// How long an application may wait for the uplink before status 7.
    pub link_wait: Duration,
}

enum AppState {
    /// Reading the standard structure.
    Reading(Vec<u8>),
    /// Structure accepted; waiting for the uplink. Holds the structure and data after it.
    Waiting {
        structure: StandardStructure,
        extra: Vec<u8>,
        since: Instant,
    },
    /// Onion sent; waiting for the status byte.
    Opening,
    Open,
}

struct App {
    state: AppState,
    /// From the isolation prefix, if the application proxy sent one.
    isolation: Option<IsolationKey>,
    aci: Option<Aci>,
    route: Vec<String>,
    fwd: Vec<Engine>,
    back: Vec<Engine>,
    got_eof: bool,
    sent_eof: bool,
}

/// The onion proxy core.
pub struct OnionProxy {
    cfg: OnionProxyConfig,
    rng: StdRng,
    ids: SockIds,
    actions: VecDeque<Action>,
    uplink: Uplink,
    /// Keyed by ids this process chooses itself (socket ids, its own ACIs): a fast unkeyed hash.
    apps: FxHashMap<SockId, App>,
    by_aci: FxHashMap<Aci, SockId>,
    /// Applications whose socket holds more than the high-water mark unwritten: the uplink is
    /// not read while any is.
    congested: BTreeSet<SockId>,
    /// Applications that entered [`AppState::Waiting`] (some may have moved on since): the
    /// ones `tick` and `poll_timeout` look at, instead of every application.
    waiting: Vec<SockId>,
    /// The isolation keys' routes.
    routes: RouteTable,
    /// Reading from applications is paused because the uplink's write buffer is full.
    apps_paused: bool,
    started: bool,
    /// Connections opened, and how each ended, for logs and tests.
    pub opened: u64,
    /// The time the driver last gave us (the core never reads a clock).
    last_now: Now,
}

impl OnionProxy {
    pub fn new(cfg: OnionProxyConfig, now: Now) -> OnionProxy {
        OnionProxy::with_rng(cfg, now, StdRng::from_entropy())
    }

    pub fn with_rng(cfg: OnionProxyConfig, now: Now, rng: StdRng) -> OnionProxy {
        let (addr, key) = match &cfg.via {
            Some((a, k)) => (*a, k.clone()),
            None => {
                let e = &cfg.network.routers[cfg.entry];
                (SocketAddr::V4(e.addr), e.key.clone())
            }
        };
        OnionProxy {
            uplink: Uplink::new(addr, key, now),
            cfg,
            rng,
            ids: SockIds::default(),
            actions: VecDeque::new(),
            apps: FxHashMap::default(),
            by_aci: FxHashMap::default(),
            congested: BTreeSet::new(),
            waiting: Vec::new(),
            routes: RouteTable::default(),
            apps_paused: false,
            started: false,
            opened: 0,
            last_now: now,
        }
    }

    /// Take a newer network (from the directory). The entry router must still be in it, at the
    /// same address with the same key: the uplink to it stays up.
    pub fn replace_network(&mut self, network: Network) -> Result<(), String> {
        let old = &self.cfg.network.routers[self.cfg.entry];
        let entry = network.by_name(&old.name).ok_or_else(|| format!("entry router {} is not in it", old.name))?;
        let new = &network.routers[entry];
        if (new.addr, &new.key) != (old.addr, &old.key) {
            return Err(format!("entry router {} changed its address or key", old.name));
        }
        self.cfg.network = network;
        self.cfg.entry = entry;
        Ok(())
    }

    /// Open anonymous connections.
    pub fn connection_count(&self) -> usize {
        self.by_aci.len()
    }

    pub fn uplink_open(&self) -> bool {
        self.uplink.is_open()
    }

    /// ACIs this onion proxy holds on its uplink: live connections and DESTROY handshakes not
    /// yet complete (tests, `ork status`).
    pub fn acis_in_use(&self) -> usize {
        self.uplink.acis_in_use()
    }

    /// Answer an application with a status byte; non-zero closes it and ends its anonymous
    /// connection with DESTROY. The exit's own DESTROY that follows a non-zero status crosses
    /// ours, and each acknowledges the other (protocol.md §6): the ACI is free on both sides.
    fn answer(&mut self, sock: SockId, status: Status) {
        self.actions.push_back(Action::Send { sock, data: vec![status as u8] });
        if status != Status::Ok {
            info!("connection refused: {status}");
            self.close_app(sock, true);
        }
    }

    /// Forget an application connection, DESTROYing its anonymous connection if asked.
    fn close_app(&mut self, sock: SockId, destroy: bool) {
        let Some(app) = self.apps.remove(&sock) else { return };
        self.actions.push_back(Action::Close { sock });
        self.app_drained(sock);
        if let Some(aci) = app.aci {
            self.by_aci.remove(&aci);
            if destroy {
                self.send_destroy(aci);
            }
        }
    }

    fn send_destroy(&mut self, aci: Aci) {
        self.uplink.send_destroy(aci, self.last_now, &mut self.rng);
    }

    fn on_structure(&mut self, now: Now, sock: SockId) {
        let entry = self.cfg.network.routers[self.cfg.entry].addr;
        let Some(app) = self.apps.get_mut(&sock) else { return };
        let AppState::Reading(buf) = &mut app.state else { return };
        if app.isolation.is_none() {
            match IsolationKey::parse_prefix(buf) {
                Err(_) => return,
                Ok(Some((key, used))) => {
                    app.isolation = Some(key);
                    buf.drain(..used);
                }
                Ok(None) => {}
            }
        }
        let (structure, used) = match StandardStructure::parse(buf) {
            Ok(None) => return,
            Ok(Some(x)) => x,
            Err(status) => return self.answer(sock, status),
        };
        match direct::direct_check(entry, &structure, &buf[used..]) {
            direct::DirectCheck::Incomplete => return,
            direct::DirectCheck::Refused(status) => return self.answer(sock, status),
            direct::DirectCheck::NotDirect | direct::DirectCheck::Ready => {}
        }
        let extra = buf[used..].to_vec();
        if !self.destination_allowed(&structure) {
            return self.answer(sock, Status::Policy);
        }
        let Some(app) = self.apps.get_mut(&sock) else { return };
        app.state = AppState::Waiting { structure, extra, since: now.mono };
        self.waiting.push(sock);
        if self.uplink.is_open() {
            self.open_connection(now, sock);
        }
    }

    fn destination_allowed(&self, s: &StandardStructure) -> bool {
        match &s.host {
            Host::V4(a) => self.cfg.policy.allows(IpAddr::V4(*a), s.port, s.protocol),
            Host::V6(a) => self.cfg.policy.allows(IpAddr::V6(*a), s.port, s.protocol),
            // Names are resolved at the exit, never here (a local lookup would leak them);
            // only rules with a wildcard address can match them.
            Host::Name(_) => self.cfg.policy.allows_any_address(s.port, s.protocol),
        }
    }

    /// Build the onion and send CREATE cells and the precrypted structure.
    fn open_connection(&mut self, now: Now, sock: SockId) {
        let Some(app) = self.apps.get_mut(&sock) else { return };
        let AppState::Waiting { structure, extra, .. } = &app.state else { return };
        if direct::is_direct(structure) {
            return self.open_direct(now, sock);
        }
        let (structure, extra, isolation) = (structure.clone(), extra.clone(), app.isolation);
        let (network, rng) = (&self.cfg.network, &mut self.rng);
        let drawn =
            self.routes.route(isolation, now.mono, || network.random_route(self.cfg.entry, self.cfg.hops, &mut *rng));
        let route = match drawn {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                warn!("no route: {e}");
                return self.answer(sock, Status::RouteFailed);
            }
            Err(e) => {
                warn!("no route: {e}");
                return self.answer(sock, Status::RouteFailed);
            }
        };
        let hops: Vec<RouteHop> = route
            .iter()
            .map(|&i| RouteHop { addr: self.cfg.network.routers[i].addr, key: self.cfg.network.routers[i].key.clone() })
            .collect();
        let expiration = (now.unix + self.cfg.expires.as_secs()).min(u64::from(u32::MAX)) as u32;
        let plan = OnionPlan::random(hops.len(), self.cfg.forw, self.cfg.back, expiration, &mut self.rng);
        let built = onion::build(&hops, &plan);
        let aci = self.uplink.allocate_aci(&mut self.rng);
        let (Ok(bytes), Some(aci)) = (built, aci) else {
            warn!("cannot build the onion or allocate an ACI");
            return self.answer(sock, Status::RouteFailed);
        };
        let keys = plan.key_sets();
        let Some(app) = self.apps.get_mut(&sock) else { return };
        app.fwd = keys.iter().map(|k| Engine::new(self.cfg.forw, &k.key3)).collect();
        app.back = keys.iter().map(|k| Engine::new(self.cfg.back, &k.key2)).collect();
        app.route = route.iter().map(|&i| self.cfg.network.routers[i].name.clone()).collect();
        app.aci = Some(aci);
        app.state = AppState::Opening;
        self.opened += 1;
        // SafeLogging: the destination and the route only at debug level.
        let key = isolation.map(|k| format!(", isolation {k:?}")).unwrap_or_default();
        debug!("connection to {}:{} via {}{key}", structure.host, structure.port, app.route.join(" > "));
        info!("anonymous connection {} opened ({} hops)", self.opened, route.len());
        self.by_aci.insert(aci, sock);
        for r in create_chunks() {
            if let Ok(cell) = Cell::with_data(aci, Command::Create, &bytes[r], &mut self.rng) {
                self.uplink.send(&cell, now);
            }
        }
        let mut first = structure.to_bytes();
        first.extend_from_slice(&extra);
        self.send_data(now, sock, &first);
    }

    /// Precrypt bytes (or end of stream, when empty) and queue them as DATA cells.
    fn send_data(&mut self, now: Now, sock: SockId, data: &[u8]) {
        let Some(app) = self.apps.get_mut(&sock) else { return };
        let Some(aci) = app.aci else { return };
        let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(PAYLOAD_LEN).collect() };
        for chunk in chunks {
            let Ok(mut cell) = Cell::with_data(aci, Command::Data, chunk, &mut self.rng) else { continue };
            for e in app.fwd.iter_mut().rev() {
                e.apply(&mut cell.body);
            }
            self.uplink.send(&cell, now);
        }
    }

    fn uplink_down(&mut self, why: &str) {
        let socks: Vec<SockId> = self.apps.keys().copied().collect();
        for sock in socks {
            let Some(app) = self.apps.get_mut(&sock) else { continue };
            if app.aci.is_some() {
                if matches!(app.state, AppState::Opening) {
                    self.actions.push_back(Action::Send { sock, data: vec![Status::RouteFailed as u8] });
                }
                debug!("closing application connection: uplink lost ({why})");
                self.close_app(sock, false);
            }
        }
        self.by_aci.clear();
        // The full buffer went with the uplink: the applications left may read again.
        if std::mem::take(&mut self.apps_paused) {
            for &sock in self.apps.keys() {
                self.actions.push_back(Action::ResumeRead { sock });
            }
        }
    }

    fn handle_uplink(&mut self, now: Now, ev: Option<UplinkEvent>) {
        match ev {
            None => {}
            Some(UplinkEvent::Up) => {
                let waiting: Vec<SockId> = self
                    .apps
                    .iter()
                    .filter(|(_, a)| matches!(a.state, AppState::Waiting { .. }))
                    .map(|(s, _)| *s)
                    .collect();
                for s in waiting {
                    self.open_connection(now, s);
                }
                self.on_cells(now);
            }
            Some(UplinkEvent::Cells) => self.on_cells(now),
            Some(UplinkEvent::Down(why)) => self.uplink_down(why.describe()),
        }
    }
}

impl OnionProxy {
    /// An application's socket has `bytes` unwritten: the uplink is paused while any
    /// application is above the high-water mark, and resumed only when none is.
    fn app_buffered(&mut self, sock: SockId, bytes: usize) {
        use crate::link::backpressure::{HIGH_WATER, LOW_WATER};
        if bytes >= HIGH_WATER {
            if self.congested.insert(sock) && self.congested.len() == 1 {
                if let Some(up) = self.uplink.sock() {
                    self.actions.push_back(Action::PauseRead { sock: up });
                }
            }
        } else if bytes <= LOW_WATER {
            self.app_drained(sock);
        }
    }

    /// An application is below the low-water mark (or gone).
    fn app_drained(&mut self, sock: SockId) {
        if self.congested.remove(&sock) && self.congested.is_empty() {
            if let Some(up) = self.uplink.sock() {
                self.actions.push_back(Action::ResumeRead { sock: up });
            }
        }
    }
}

#[cfg(test)]
mod backpressure_tests;
mod cells;
pub mod direct;
mod driven;
pub mod isolation;
mod status;

pub use status::OnionProxyStatus;
