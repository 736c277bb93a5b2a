//! Anonymous connections at a router (protocol.md §6), between the link table and the connection
//! table: CREATE reassembly and onion peeling, DATA crypting, and the DESTROY handshake.

use log::{debug, info, warn};

use super::conn_table::{ConnId, Connection, Next, Slot, MAX_CREATING, MAX_CREATING_PER_LINK};
use super::core::Router;
use super::exit_funnel::Exit;
use super::refusal::{OnionRefusal, REFUSAL_LOG_INTERVAL};
use super::timers::Timer;
use crate::crypto::Engine;
use crate::event::{Action, Now, SockId};
use crate::log_limit::LogLimit;
use crate::onion::{self, create_chunks, Onion, ONION_LEN};
use crate::wire::layer::LayerKind;
use crate::wire::{Aci, Cell, Command, PAYLOAD_LEN};

/// DATA cells kept while an onion is still arriving (more is a misbehaving client).
const MAX_EARLY_CELLS: usize = 64;

impl Router {
    pub(super) fn handle_cell(&mut self, now: Now, link: SockId, cell: Cell) {
        match cell.command {
            Command::Padding => self.stats.padding_in += 1,
            Command::Create => self.on_create(now, link, cell),
            Command::Data => self.on_data(now, link, cell),
            Command::Destroy => self.on_destroy(now, link, cell.aci),
        }
    }

    fn on_create(&mut self, now: Now, link: SockId, cell: Cell) {
        let aci = cell.aci;
        let ours = self.links.is_ours(link, aci);
        if (ours || aci == Aci::PADDING) && !self.conns.has_slot(&(link, aci)) {
            warn!("CREATE on ACI {aci} which the sender may not allocate; DESTROY");
            // Keep the ACI out of our own allocations until the peer acknowledges.
            self.links.mark_used(link, aci);
            self.send_destroy(now, link, aci);
            return;
        }
        let len = cell.length() as usize;
        match self.conns.slot_mut(&(link, aci)) {
            None => {
                if len == 0 || len > PAYLOAD_LEN {
                    self.refuse(now, link, aci, OnionRefusal::BadCreateLength);
                    return;
                }
                if self.conns.creating_on(link) >= MAX_CREATING_PER_LINK || self.conns.creating() >= MAX_CREATING {
                    self.refuse(now, link, aci, OnionRefusal::TooManyInProgress);
                    return;
                }
                let onion = cell.body[1..1 + len].to_vec();
                self.conns.set_slot((link, aci), Slot::Creating { onion, early: Vec::new(), started: now.mono });
                self.timers.set(now.mono + self.cfg.timeouts.create, Timer::CreateTimeout(link, aci, now.mono));
            }
            Some(Slot::Creating { onion, .. }) => {
                if len == 0 || len > PAYLOAD_LEN || onion.len() + len > ONION_LEN {
                    self.refuse(now, link, aci, OnionRefusal::BadCreateLength);
                    return;
                }
                onion.extend_from_slice(&cell.body[1..1 + len]);
            }
            Some(Slot::Live(c)) => {
                let c = *c;
                warn!("CREATE on a live connection (ACI {aci}); destroying it");
                self.conns.remove_slot(&(link, aci));
                self.send_destroy(now, link, aci);
                self.destroy_connection(now, c, Some((link, aci)));
                return;
            }
            Some(Slot::AwaitingAck) => return,
        }
        if let Some(Slot::Creating { onion, .. }) = self.conns.slot(&(link, aci)) {
            if onion.len() == ONION_LEN {
                if !self.onion_rate.admit(link, now.mono) {
                    return self.refuse(now, link, aci, OnionRefusal::RateLimited);
                }
                self.process_onion(now, link, aci);
            }
        }
    }

    /// Refuse a connection being created: DESTROY back and count the reason.
    pub(super) fn refuse(&mut self, now: Now, link: SockId, aci: Aci, reason: OnionRefusal) {
        if let Some(skipped) = self.refusals_log.allow(now.mono, reason) {
            let more = LogLimit::<OnionRefusal>::more(skipped, REFUSAL_LOG_INTERVAL);
            info!("refused onion on ACI {aci}: {reason}{more}");
        }
        self.stats.refuse(reason);
        self.conns.remove_slot(&(link, aci));
        self.send_destroy(now, link, aci);
    }

    fn process_onion(&mut self, now: Now, link: SockId, aci: Aci) {
        let Some(Slot::Creating { onion, early, .. }) = self.conns.remove_slot(&(link, aci)) else { return };
        let Ok(bytes) = <Onion>::try_from(onion.as_slice()) else { return };
        let peeled = match self.peel_checked(now, link, &bytes) {
            Ok(p) => p,
            Err(reason) => return self.refuse(now, link, aci, reason),
        };
        let layer = &peeled.layer;
        let fwd = Engine::new(layer.forw_f, &peeled.keys.key3);
        let back = Engine::new(layer.back_f, &peeled.keys.key2);
        let id = self.conns.new_id();
        let next = if layer.kind == LayerKind::ReplyEndpoint {
            match self.open_leg(now, id, &peeled) {
                Ok(leg) => Next::ReplyLeg(Box::new(leg)),
                Err(reason) => return self.refuse(now, link, aci, reason),
            }
        } else if layer.is_exit() {
            Next::Exit(Box::new(Exit::new()))
        } else {
            let hop = layer.next_hop;
            let Some(out) = self.links.link_to(hop) else {
                self.refuse(now, link, aci, OnionRefusal::NextHopUnreachable);
                return;
            };
            let Some(out_aci) = self.links.allocate_aci(out, &mut self.rng) else {
                self.refuse(now, link, aci, OnionRefusal::NoFreeAci);
                return;
            };
            for r in create_chunks() {
                match Cell::with_data(out_aci, Command::Create, &peeled.inner[r], &mut self.rng) {
                    Ok(c) => self.queue_cell(now, out, c),
                    Err(e) => warn!("cannot build CREATE: {e}"),
                }
            }
            self.conns.set_slot((out, out_aci), Slot::Live(id));
            Next::Link(out, out_aci)
        };
        self.stats.onions_peeled += 1;
        if self.cfg.key_log {
            self.key_log_connection(link, aci, &next);
        }
        self.conns.insert(id, Connection { prev: (link, aci), next, fwd, back });
        self.conns.set_slot((link, aci), Slot::Live(id));
        for cell in early {
            self.on_data(now, link, cell);
        }
    }

    /// Key-log line `connection IN-TAG IN-ACI OUT-TAG OUT-ACI` (`exit` for an exit): the
    /// connection map a capture checker needs to follow cells through this router. Test only.
    fn key_log_connection(&mut self, link: SockId, aci: Aci, next: &Next) {
        let out = match next {
            Next::Link(out, out_aci) => format!("{} {}", self.links.key_log_tag(*out), out_aci.0),
            Next::Exit(_) | Next::Splice(_) => "exit".into(),
            Next::ReplyLeg(_) => "reply-endpoint".into(),
        };
        let line = format!("connection {} {} {out}", self.links.key_log_tag(link), aci.0);
        self.actions.push_back(Action::KeyLog { line });
    }

    fn on_data(&mut self, now: Now, link: SockId, mut cell: Cell) {
        let aci = cell.aci;
        let id = match self.conns.slot_mut(&(link, aci)) {
            Some(Slot::Live(id)) => *id,
            Some(Slot::Creating { early, .. }) => {
                if early.len() >= MAX_EARLY_CELLS {
                    self.refuse(now, link, aci, OnionRefusal::TooMuchEarlyData);
                } else {
                    early.push(cell);
                }
                return;
            }
            Some(Slot::AwaitingAck) => return,
            None => {
                self.stats.data_unknown_aci += 1;
                return;
            }
        };
        let Some(c) = self.conns.get_mut(id) else { return };
        if c.prev == (link, aci) {
            c.fwd.apply(&mut cell.body);
            match &mut c.next {
                Next::Link(out, out_aci) => {
                    let out = *out;
                    cell.aci = *out_aci;
                    self.queue_cell(now, out, cell);
                }
                Next::Exit(_) => self.exit_forward(now, id, &cell),
                Next::ReplyLeg(_) => self.leg_write(now, id, &cell.body),
                Next::Splice(_) => self.splice_forward(now, id, &cell),
            }
        } else if matches!(c.next, Next::Splice(_)) {
            self.splice_backward(now, id, &cell);
        } else {
            c.back.apply(&mut cell.body);
            let (out, out_aci) = c.prev;
            cell.aci = out_aci;
            self.queue_cell(now, out, cell);
        }
    }

    fn on_destroy(&mut self, now: Now, link: SockId, aci: Aci) {
        match self.conns.remove_slot(&(link, aci)) {
            None => self.stats.destroy_unknown_aci += 1,
            Some(Slot::AwaitingAck) => {
                // Our DESTROY may still be held back by the jitter: the peer's crossing DESTROY
                // counts as its acknowledgement only once ours is sent, so send it now.
                if self.destroy_held(link, aci) {
                    self.emit_destroy(now, link, aci);
                }
                self.release_aci(link, aci);
            }
            Some(Slot::Creating { .. }) => {
                self.send_destroy_ack(now, link, aci);
            }
            Some(Slot::Live(id)) => {
                self.send_destroy_ack(now, link, aci);
                self.destroy_connection(now, id, Some((link, aci)));
            }
        }
    }

    /// Acknowledge a peer's DESTROY; the ACI is free once the acknowledgement is sent.
    fn send_destroy_ack(&mut self, now: Now, link: SockId, aci: Aci) {
        let cell = Cell::destroy(aci, &mut self.rng);
        self.queue_cell(now, link, cell);
        self.release_aci(link, aci);
    }

    /// Send DESTROY on a link's ACI and wait for the acknowledgement.
    pub(super) fn send_destroy(&mut self, now: Now, link: SockId, aci: Aci) {
        if !self.links.is_carrier(link) {
            return;
        }
        self.conns.set_slot((link, aci), Slot::AwaitingAck);
        self.emit_destroy(now, link, aci);
    }

    /// Forward a connection's end: like [`Router::send_destroy`], but held back by a random
    /// delay of up to `--destroy-jitter`, so that the DESTROYs a link failure causes do not
    /// leave as one burst that links the connections (paper §6).
    pub(super) fn forward_destroy(&mut self, now: Now, link: SockId, aci: Aci) {
        let bound = self.cfg.destroy_jitter;
        if bound.is_zero() || !self.links.is_carrier(link) {
            return self.send_destroy(now, link, aci);
        }
        self.conns.set_slot((link, aci), Slot::AwaitingAck);
        let delay = bound.mul_f64(rand::Rng::gen_range(&mut self.rng, 0.0..1.0));
        self.timers.set(now.mono + delay, Timer::Destroy(link, aci));
    }

    /// Whether a DESTROY for (link, ACI) waits for its jitter timer.
    fn destroy_held(&self, link: SockId, aci: Aci) -> bool {
        self.timers.destroy_held(link, aci)
    }

    /// Queue the DESTROY cell itself (the slot is already waiting for the acknowledgement).
    pub(super) fn emit_destroy(&mut self, now: Now, link: SockId, aci: Aci) {
        if self.links.is_carrier(link) {
            let cell = Cell::destroy(aci, &mut self.rng);
            self.queue_cell(now, link, cell);
        }
    }

    fn release_aci(&mut self, link: SockId, aci: Aci) {
        self.links.release_aci(link, aci);
    }

    /// End a connection. `from` is the link the end came from (its slot is already handled);
    /// every other side gets a DESTROY (or, at the exit, its socket closed).
    pub(super) fn destroy_connection(&mut self, now: Now, id: ConnId, from: Option<(SockId, Aci)>) {
        let Some(c) = self.conns.remove(id) else { return };
        if from != Some(c.prev) {
            self.forward_destroy(now, c.prev.0, c.prev.1);
        }
        match c.next {
            Next::Link(out, out_aci) => {
                if from != Some((out, out_aci)) {
                    self.forward_destroy(now, out, out_aci);
                }
            }
            Next::Exit(exit) => {
                if let Some(sock) = self.exits.close(&exit) {
                    self.actions.push_back(Action::Close { sock });
                }
            }
            Next::ReplyLeg(leg) => self.leg_close(&leg),
            Next::Splice(splice) => match splice.take_out() {
                Some(Next::Link(out, out_aci)) if from != Some((out, out_aci)) => {
                    self.forward_destroy(now, out, out_aci)
                }
                Some(Next::ReplyLeg(leg)) => self.leg_close(&leg),
                _ => {}
            },
        }
    }
}

impl Router {
    /// Replace the reply settings and cache (default: [`super::reply::ReplySettings::default`],
    /// an in-memory cache of [`super::reply::DEFAULT_REPLY_CACHE`] seeds).
    pub fn with_reply(mut self, reply: super::reply::ReplyPart) -> Router {
        self.reply = reply;
        self
    }

    /// Peel an onion that arrived on `link` and run every check before it is acted on:
    /// version, codes, freshness (reply lifetime for reply layers), a reply layer's
    /// destination, the reply rate of the link, and the replay cache (reply seeds in their own).
    pub(super) fn peel_checked(
        &mut self,
        now: Now,
        link: SockId,
        bytes: &Onion,
    ) -> Result<onion::Peeled, OnionRefusal> {
        let limits = onion::PeelLimits {
            max_lifetime: self.cfg.max_onion_lifetime.as_secs(),
            max_reply_lifetime: self.reply.max_lifetime().map(|d| d.as_secs()),
        };
        let peeled = onion::peel_with(&self.cfg.key, bytes, now.unix, &limits, &mut self.rng).map_err(|e| {
            debug!("onion: {e}");
            OnionRefusal::from_peel(&e)
        })?;
        let (seed, exp) = (peeled.layer.seed, peeled.layer.expiration);
        if peeled.layer.kind == LayerKind::Ordinary {
            self.replay.check_and_insert(&seed, exp, now.unix).map_err(|e| OnionRefusal::from_replay(&e))?;
        } else {
            self.reply.admit(link, now, &seed, exp)?;
        }
        Ok(peeled)
    }
}
