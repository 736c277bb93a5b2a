//! The owner's reply endpoint (protocol.md §15), run by `ork onion-proxy --reply-listen`: accepts
//! legs from hn, reads the version byte and tag within 10 s, looks the tag up in the owner's
//! records (unknown, used or expired → close, logged without key material), marks it used in the
//! store before relaying, connects to the local service (`--reply-to`, 10 s) and relays: bodies
//! from hn are opened with the route's n forward engines and the end-to-end layer, the service's
//! bytes sealed the other way. End of stream is a Length-0 body both ways; the leg itself is
//! closed (never half-closed) once both directions ended or on any error. Sans-IO: records go
//! through a [`RecordStore`].

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::event::{queue_send, Action, Core, ListenerIdx, Now, SockId, SockIds};
use crate::link::backpressure::{HIGH_WATER, LOW_WATER};
use crate::reply::body::{self, RouteEngines};
use crate::reply::e2e::{EndToEnd, Side};
use crate::reply::record::Record;
use crate::reply::store::RecordStore;
use crate::reply::{Tag, LEG_HEAD_LEN, LEG_VERSION, TAG_LEN};
use crate::wire::cell::BODY_LEN;
use crate::wire::PAYLOAD_LEN;

/// The head must arrive, and the service must answer, within this.
pub const REPLY_WAIT: Duration = Duration::from_secs(10);
/// Expired records are swept this often.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Bytes for the service kept while it is being connected.
const MAX_EARLY: usize = 256 * 1024;

/// Why a leg was closed before relaying (logged; counted for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegRefusal {
    BadVersion,
    HeadTimeout,
    UnknownTag,
    UsedTag,
    Expired,
    StoreFailed,
    ServiceUnreachable,
}

/// One relayed reply connection.
struct Relay {
    engines: RouteEngines,
    e2e: EndToEnd,
    service: SockId,
    connected: bool,
    /// When the service's connection was started.
    since: Instant,
    early: Vec<u8>,
    /// Received the user's Length 0 / the service's EOF.
    user_done: bool,
    service_done: bool,
}

enum LegState {
    Head { buf: Vec<u8>, since: Instant },
    Relaying(Box<Relay>),
}

struct Leg {
    state: LegState,
    /// Bytes of a body not complete yet.
    partial: Vec<u8>,
}

/// The owner's endpoint core.
pub struct ReplyEndpoint<S: RecordStore> {
    service: SocketAddr,
    store: S,
    rng: StdRng,
    ids: SockIds,
    actions: VecDeque<Action>,
    legs: HashMap<SockId, Leg>,
    /// Service socket → its leg.
    services: HashMap<SockId, SockId>,
    next_sweep: Option<Instant>,
    /// Legs closed before relaying, by reason (tests, logs).
    pub refused: HashMap<LegRefusal, u64>,
    /// Legs that reached the service.
    pub relayed: u64,
}

impl<S: RecordStore> ReplyEndpoint<S> {
    pub fn new(service: SocketAddr, store: S) -> Self {
        ReplyEndpoint::with_rng(service, store, StdRng::from_entropy())
    }

    pub fn with_rng(service: SocketAddr, store: S, rng: StdRng) -> Self {
        ReplyEndpoint {
            service,
            store,
            rng,
            ids: SockIds::default(),
            actions: VecDeque::new(),
            legs: HashMap::new(),
            services: HashMap::new(),
            next_sweep: None,
            refused: HashMap::new(),
            relayed: 0,
        }
    }

    /// Open legs.
    pub fn legs(&self) -> usize {
        self.legs.len()
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    fn refuse(&mut self, leg: SockId, why: LegRefusal, detail: &str) {
        info!("reply leg {leg} closed: {detail}");
        *self.refused.entry(why).or_default() += 1;
        self.close_leg(leg);
    }

    /// Close a leg and its service socket (after what was queued for each).
    fn close_leg(&mut self, leg: SockId) {
        let Some(l) = self.legs.remove(&leg) else { return };
        self.actions.push_back(Action::Close { sock: leg });
        if let LegState::Relaying(r) = l.state {
            self.services.remove(&r.service);
            self.actions.push_back(Action::Close { sock: r.service });
        }
    }

    fn on_head(&mut self, now: Now, leg: SockId) {
        let Some(l) = self.legs.get_mut(&leg) else { return };
        let LegState::Head { buf, .. } = &mut l.state else { return };
        if buf.first().is_some_and(|v| *v != LEG_VERSION) {
            return self.refuse(leg, LegRefusal::BadVersion, "leg version is not 1");
        }
        if buf.len() < LEG_HEAD_LEN {
            return;
        }
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(&buf[1..LEG_HEAD_LEN]);
        let rest = buf.split_off(LEG_HEAD_LEN);
        let tag = Tag(t);
        let short = &tag.to_hex()[..8];
        let record = match self.store.load(&tag) {
            Ok(Some(Record::Live(r))) => r,
            Ok(Some(Record::Used { .. })) => {
                return self.refuse(leg, LegRefusal::UsedTag, &format!("reply onion {short}… was already used"))
            }
            Ok(None) => return self.refuse(leg, LegRefusal::UnknownTag, "unknown tag"),
            Err(e) => return self.refuse(leg, LegRefusal::StoreFailed, &format!("record store: {e}")),
        };
        if u64::from(record.expiration) < now.unix {
            return self.refuse(leg, LegRefusal::Expired, &format!("reply onion {short}… expired"));
        }
        if let Err(e) = self.store.mark_used(&tag, record.expiration) {
            return self.refuse(leg, LegRefusal::StoreFailed, &format!("cannot mark {short}… used: {e}"));
        }
        let service = self.ids.fresh();
        let relay = Relay {
            engines: RouteEngines::new(&record.seeds, record.forw_f, record.back_f),
            e2e: EndToEnd::new(&record.user_seed, Side::Owner),
            service,
            connected: false,
            since: now.mono,
            early: Vec::new(),
            user_done: false,
            service_done: false,
        };
        l.state = LegState::Relaying(Box::new(relay));
        self.services.insert(service, leg);
        info!("reply onion {short}… used: connecting to the service");
        self.actions.push_back(Action::Connect { sock: service, addr: self.service, privileged: false });
        self.next_sweep.get_or_insert(now.mono);
        if !rest.is_empty() {
            self.on_bodies(leg, &rest);
        }
    }

    /// Bytes from hn once relaying: whole bodies are opened and passed on.
    fn on_bodies(&mut self, leg: SockId, data: &[u8]) {
        let Some(l) = self.legs.get_mut(&leg) else { return };
        l.partial.extend_from_slice(data);
        let whole = l.partial.len() / BODY_LEN * BODY_LEN;
        let bytes: Vec<u8> = l.partial.drain(..whole).collect();
        let LegState::Relaying(r) = &mut l.state else { return };
        let mut out = Vec::new();
        let mut end = false;
        for chunk in bytes.chunks_exact(BODY_LEN) {
            let mut b = [0u8; BODY_LEN];
            b.copy_from_slice(chunk);
            r.engines.open_forward(&mut b);
            let Ok(d) = body::unframe(&b) else {
                return self.refuse_relay(leg, "body Length over 44: keystreams out of step");
            };
            if d.is_empty() || r.user_done {
                end = true;
                break;
            }
            let mut d = d.to_vec();
            r.e2e.open(&mut d);
            out.extend_from_slice(&d);
        }
        if r.connected {
            queue_send(&mut self.actions, r.service, &out);
        } else if r.early.len() + out.len() > MAX_EARLY {
            return self.refuse_relay(leg, "too much data before the service answered");
        } else {
            r.early.extend_from_slice(&out);
        }
        if end && !r.user_done {
            r.user_done = true;
            if r.connected {
                self.actions.push_back(Action::ShutdownWrite { sock: r.service });
            }
            if r.service_done {
                self.close_leg(leg);
            }
        }
    }

    fn refuse_relay(&mut self, leg: SockId, why: &str) {
        info!("reply leg {leg} closed: {why}");
        self.close_leg(leg);
    }

    /// Seal the service's bytes (or its end, when empty) into bodies for hn.
    fn send_to_leg(&mut self, leg: SockId, data: &[u8]) {
        let Some(LegState::Relaying(r)) = self.legs.get_mut(&leg).map(|l| &mut l.state) else { return };
        let mut out = Vec::with_capacity((data.len() / PAYLOAD_LEN + 1) * BODY_LEN);
        let mut sealed = data.to_vec();
        r.e2e.seal(&mut sealed);
        let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { sealed.chunks(PAYLOAD_LEN).collect() };
        for c in chunks {
            let mut b = body::frame(c, &mut self.rng);
            r.engines.seal_backward(&mut b);
            out.extend_from_slice(&b);
        }
        queue_send(&mut self.actions, leg, &out);
    }
}

impl<S: RecordStore> Core for ReplyEndpoint<S> {
    fn accepted(&mut self, now: Now, _listener: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        let sock = self.ids.fresh();
        debug!("reply leg {sock} from {peer}");
        self.legs.insert(sock, Leg { state: LegState::Head { buf: Vec::new(), since: now.mono }, partial: Vec::new() });
        Some(sock)
    }

    fn connected(&mut self, _now: Now, sock: SockId, result: io::Result<()>) {
        let Some(&leg) = self.services.get(&sock) else { return };
        let Some(LegState::Relaying(r)) = self.legs.get_mut(&leg).map(|l| &mut l.state) else { return };
        match result {
            Ok(()) => {
                r.connected = true;
                self.relayed += 1;
                let early = std::mem::take(&mut r.early);
                if !early.is_empty() {
                    self.actions.push_back(Action::Send { sock, data: early });
                }
                if r.user_done {
                    self.actions.push_back(Action::ShutdownWrite { sock });
                }
            }
            Err(e) => {
                self.services.remove(&sock);
                *self.refused.entry(LegRefusal::ServiceUnreachable).or_default() += 1;
                warn!("reply leg {leg}: cannot reach the service {}: {e}", self.service);
                self.close_leg(leg);
            }
        }
    }

    fn received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        if let Some(&leg) = self.services.get(&sock) {
            return self.send_to_leg(leg, data);
        }
        let Some(l) = self.legs.get_mut(&sock) else { return };
        match &mut l.state {
            LegState::Head { buf, .. } => {
                buf.extend_from_slice(data);
                self.on_head(now, sock);
            }
            LegState::Relaying(_) => self.on_bodies(sock, data),
        }
    }

    fn eof(&mut self, _now: Now, sock: SockId) {
        if let Some(&leg) = self.services.get(&sock) {
            let Some(LegState::Relaying(r)) = self.legs.get_mut(&leg).map(|l| &mut l.state) else { return };
            r.service_done = true;
            let user_done = r.user_done;
            self.send_to_leg(leg, &[]);
            if user_done {
                self.close_leg(leg);
            }
            return;
        }
        // hn closed the leg: the connection was destroyed.
        debug!("reply leg {sock}: hn closed it");
        self.close_leg(sock);
    }

    fn failed(&mut self, now: Now, sock: SockId, error: io::Error) {
        if let Some(&leg) = self.services.get(&sock) {
            if matches!(self.legs.get(&leg).map(|l| &l.state), Some(LegState::Relaying(r)) if !r.connected) {
                return self.connected(now, sock, Err(error));
            }
            debug!("reply leg {leg}: service socket failed: {error}");
            return self.close_leg(leg);
        }
        debug!("reply leg {sock} failed: {error}");
        self.close_leg(sock);
    }

    fn write_buffered(&mut self, _now: Now, sock: SockId, bytes: usize) {
        // The other side of a full socket stops being read until it drains.
        let other = match self.services.get(&sock) {
            Some(&leg) => Some(leg),
            None => match self.legs.get(&sock).map(|l| &l.state) {
                Some(LegState::Relaying(r)) => Some(r.service),
                _ => None,
            },
        };
        if let Some(other) = other {
            if bytes >= HIGH_WATER {
                self.actions.push_back(Action::PauseRead { sock: other });
            } else if bytes <= LOW_WATER {
                self.actions.push_back(Action::ResumeRead { sock: other });
            }
        }
    }

    fn resolved(&mut self, _now: Now, _request: u64, _result: io::Result<Vec<SocketAddr>>) {}

    fn tick(&mut self, now: Now) {
        let late: Vec<SockId> = self
            .legs
            .iter()
            .filter(|(_, l)| matches!(l.state, LegState::Head { since, .. } if now.mono >= since + REPLY_WAIT))
            .map(|(s, _)| *s)
            .collect();
        for leg in late {
            self.refuse(leg, LegRefusal::HeadTimeout, "no version byte and tag within 10 s");
        }
        let slow: Vec<SockId> = self
            .legs
            .iter()
            .filter(
                |(_, l)| matches!(&l.state, LegState::Relaying(r) if !r.connected && now.mono >= r.since + REPLY_WAIT),
            )
            .map(|(s, _)| *s)
            .collect();
        for leg in slow {
            *self.refused.entry(LegRefusal::ServiceUnreachable).or_default() += 1;
            warn!("reply leg {leg}: the service {} did not answer within 10 s", self.service);
            self.close_leg(leg);
        }
        if self.next_sweep.map_or(true, |t| now.mono >= t) {
            self.next_sweep = Some(now.mono + SWEEP_EVERY);
            match self.store.sweep(now.unix) {
                Ok(0) => {}
                Ok(n) => info!("deleted {n} expired reply onion record(s)"),
                Err(e) => warn!("reply onion records: {e}"),
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let heads = self.legs.values().filter_map(|l| match &l.state {
            LegState::Head { since, .. } => Some(*since + REPLY_WAIT),
            LegState::Relaying(r) if !r.connected => Some(r.since + REPLY_WAIT),
            LegState::Relaying(_) => None,
        });
        heads.chain(self.next_sweep).min()
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn shutdown(&mut self, _now: Now) {
        let legs: Vec<SockId> = self.legs.keys().copied().collect();
        for leg in legs {
            self.close_leg(leg);
        }
    }
}
