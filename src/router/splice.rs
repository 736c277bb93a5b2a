//! Protocol 6 at the exit funnel (protocol.md §7, §15): the user's route ends at this router X,
//! whose exit reads the reply onion (240 bytes within 10 s of the structure), checks that h1 is
//! X itself or a neighbour with a live link (else status 7), answers status 0 and sends the
//! onion as CREATE cells on a new ACI towards h1 — or peels it itself when X = h1. Then it
//! splices: the user's bytes are re-framed into bodies of Length 1..44 and sent towards h1
//! without crypting of X's own (with h1's engines when X = h1); bodies from h1 are relayed to
//! the user as a destination's bytes would be; Length 0 crosses both ways; a DESTROY on either
//! side destroys the other.

use std::net::SocketAddrV4;

use log::{debug, info};

use super::conn_table::{ConnId, Next, Slot, Splice, SpliceState as State};
use super::core::Router;
use super::refusal::{OnionRefusal, REFUSAL_LOG_INTERVAL};
use super::timers::Timer;
use crate::crypto::Engine;
use crate::event::Now;
use crate::log_limit::LogLimit;
use crate::onion::{create_chunks, Onion, ONION_LEN};
use crate::reply::body::{self, Body};
use crate::wire::cell::BODY_LEN;
use crate::wire::layer::LayerKind;
use crate::wire::standard::Host;
use crate::wire::{Cell, Command, StandardStructure, Status, PAYLOAD_LEN};

/// The reply onion must follow the structure within this.
const ONION_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// User bytes kept while the onion is still arriving (beyond the onion itself).
const MAX_EARLY: usize = 256 * 1024;

impl Router {
    fn splice_mut(&mut self, id: ConnId) -> Option<&mut Splice> {
        match self.conns.get_mut(id).map(|c| &mut c.next) {
            Some(Next::Splice(s)) => Some(s),
            _ => None,
        }
    }

    /// The exit read a protocol-6 structure; `rest` is what followed it.
    pub(super) fn splice_begin(&mut self, now: Now, id: ConnId, s: StandardStructure, rest: Vec<u8>) {
        let Host::V4(ip) = s.host else {
            info!("protocol 6: h1 must be a dotted IPv4 address; status 3");
            return self.exit_status(now, id, Status::BadAddress);
        };
        let Some(c) = self.conns.get_mut(id) else { return };
        let h1 = SocketAddrV4::new(ip, s.port);
        c.next = Next::Splice(Box::new(Splice { state: State::Collecting { h1, buf: Vec::new() } }));
        self.timers.set(now.mono + ONION_WAIT, Timer::Reply(id));
        self.splice_user_data(now, id, &rest);
    }

    /// A forward DATA cell from the user (crypted with X's exit engine already).
    pub(super) fn splice_forward(&mut self, now: Now, id: ConnId, cell: &Cell) {
        let Some(data) = cell.data() else {
            info!("DATA Length {} > 44 at a splice: keystreams out of step; DESTROY", cell.length());
            return self.destroy_connection(now, id, None);
        };
        if data.is_empty() {
            match self.splice_mut(id).map(|s| &s.state) {
                Some(State::Open { .. }) => {
                    let end = body::frame(&[], &mut self.rng);
                    self.splice_to_route(now, id, &end);
                }
                // The user ended before the onion was complete.
                _ => self.destroy_connection(now, id, None),
            }
            return;
        }
        let data = data.to_vec();
        self.splice_user_data(now, id, &data);
    }

    fn splice_user_data(&mut self, now: Now, id: ConnId, data: &[u8]) {
        let Some(splice) = self.splice_mut(id) else { return };
        match &mut splice.state {
            State::Collecting { buf, .. } => {
                if buf.len() + data.len() > ONION_LEN + MAX_EARLY {
                    info!("protocol 6: too much data before the reply onion was sent on; DESTROY");
                    return self.destroy_connection(now, id, None);
                }
                buf.extend_from_slice(data);
                if buf.len() >= ONION_LEN {
                    self.splice_open(now, id);
                }
            }
            State::Open { .. } => {
                for chunk in data.chunks(PAYLOAD_LEN) {
                    let b = body::frame(chunk, &mut self.rng);
                    self.splice_to_route(now, id, &b);
                }
            }
        }
    }

    /// All 240 onion bytes are here: check h1, answer status 0, send the onion on.
    fn splice_open(&mut self, now: Now, id: ConnId) {
        let Some(splice) = self.splice_mut(id) else { return };
        let State::Collecting { h1, buf } = &mut splice.state else { return };
        let h1 = *h1;
        let rest = buf.split_off(ONION_LEN);
        let Ok(onion) = <Onion>::try_from(buf.as_slice()) else { return };
        let Some(prev) = self.conns.get(id).map(|c| c.prev) else { return };
        let (out, hop) = if h1 == self.cfg.identity {
            // X = h1: status 0 as for a neighbour (a later failure is the connection's end),
            // then peel here with every check h1 applies to an arriving onion.
            self.splice_status_ok(now, id);
            if !self.onion_rate.admit(prev.0, now.mono) {
                return self.splice_fail(now, id, OnionRefusal::RateLimited);
            }
            let peeled = match self.peel_checked(now, prev.0, &onion) {
                Ok(p) if p.layer.kind.is_reply() => p,
                Ok(_) => return self.splice_fail(now, id, OnionRefusal::BadOnion),
                Err(reason) => return self.splice_fail(now, id, reason),
            };
            self.stats.onions_peeled += 1;
            let keys = &peeled.keys;
            let hop = (Engine::new(peeled.layer.forw_f, &keys.key3), Engine::new(peeled.layer.back_f, &keys.key2));
            let out = if peeled.layer.kind == LayerKind::ReplyEndpoint {
                match self.open_leg(now, id, &peeled) {
                    Ok(leg) => Next::ReplyLeg(Box::new(leg)),
                    Err(reason) => return self.splice_fail(now, id, reason),
                }
            } else {
                match self.send_onion(now, id, peeled.layer.next_hop, &peeled.inner) {
                    Some(out) => out,
                    None => return self.splice_fail(now, id, OnionRefusal::NextHopUnreachable),
                }
            };
            (out, Some(hop))
        } else {
            match self.send_onion(now, id, h1, &onion) {
                Some(out) => {
                    self.splice_status_ok(now, id);
                    (out, None)
                }
                None => {
                    info!("protocol 6: h1 is neither this router nor a neighbour with a live link; status 7");
                    return self.exit_status(now, id, Status::RouteFailed);
                }
            }
        };
        debug!("protocol 6: spliced into a reply route at h1 {h1}");
        if let Some(s) = self.splice_mut(id) {
            s.state = State::Open { out, hop };
        }
        self.splice_user_data(now, id, &rest);
    }

    fn splice_status_ok(&mut self, now: Now, id: ConnId) {
        *self.stats.exit_status.entry(Status::Ok as u8).or_default() += 1;
        self.exit_send_back(now, id, &[Status::Ok as u8]);
    }

    /// The onion was refused at X = h1 (under the ordinary onion rate of the user's link, and
    /// every check of [`Router::peel_checked`]): counted and logged like any refusal, and, as
    /// when h1 is a neighbour, the user learns it as the connection's end after status 0.
    fn splice_fail(&mut self, now: Now, id: ConnId, reason: OnionRefusal) {
        if let Some(skipped) = self.refusals_log.allow(now.mono, reason) {
            let more = LogLimit::<OnionRefusal>::more(skipped, REFUSAL_LOG_INTERVAL);
            info!("protocol 6 at h1: reply onion refused: {reason}{more}; DESTROY");
        }
        self.stats.refuse(reason);
        self.destroy_connection(now, id, None);
    }

    /// Send `onion` as 6 CREATE cells on a new ACI towards the neighbour `hop`, the new ACI
    /// standing for connection `id`.
    fn send_onion(&mut self, now: Now, id: ConnId, hop: SocketAddrV4, onion: &Onion) -> Option<Next> {
        let out = self.links.link_to(hop)?;
        let out_aci = self.links.allocate_aci(out, &mut self.rng)?;
        for r in create_chunks() {
            if let Ok(c) = Cell::with_data(out_aci, Command::Create, &onion[r], &mut self.rng) {
                self.queue_cell(now, out, c);
            }
        }
        self.conns.set_slot((out, out_aci), Slot::Live(id));
        Some(Next::Link(out, out_aci))
    }

    /// A body towards the endpoint, crypted with h1's forward engine when X = h1.
    fn splice_to_route(&mut self, now: Now, id: ConnId, b: &Body) {
        let Some(State::Open { out, hop }) = self.splice_mut(id).map(|s| &mut s.state) else { return };
        let mut b = *b;
        if let Some((fwd, _)) = hop {
            fwd.apply(&mut b);
        }
        match out {
            Next::Link(link, aci) => {
                let (link, aci) = (*link, *aci);
                self.queue_cell(now, link, Cell { aci, command: Command::Data, body: b });
            }
            Next::ReplyLeg(_) => self.leg_write(now, id, &b),
            _ => {}
        }
    }

    /// A body from the reply route (a backward DATA cell from h1's side, or the leg when X = h1
    /// = hn): relay its data to the user.
    pub(super) fn splice_from_route(&mut self, now: Now, id: ConnId, mut b: Body) {
        let Some(State::Open { hop, .. }) = self.splice_mut(id).map(|s| &mut s.state) else { return };
        if let Some((_, back)) = hop {
            back.apply(&mut b);
        }
        match body::unframe(&b) {
            Ok(data) => {
                let data = data.to_vec();
                self.exit_send_back(now, id, &data);
            }
            Err(e) => {
                info!("protocol 6: body from the reply route: {e}; DESTROY both");
                self.destroy_connection(now, id, None);
            }
        }
    }

    /// A backward DATA cell from the reply route's side of a splice.
    pub(super) fn splice_backward(&mut self, now: Now, id: ConnId, cell: &Cell) {
        let mut b = [0u8; BODY_LEN];
        b.copy_from_slice(&cell.body);
        self.splice_from_route(now, id, b);
    }

    /// The 10 s timers of protocol 6 and of the endpoint leg.
    pub(super) fn reply_timer(&mut self, now: Now, id: ConnId) {
        if matches!(self.splice_mut(id).map(|s| &s.state), Some(State::Collecting { .. })) {
            info!("protocol 6: the reply onion did not arrive within {ONION_WAIT:?}; status 7");
            return self.exit_status(now, id, Status::RouteFailed);
        }
        self.leg_timeout(now, id);
    }
}
