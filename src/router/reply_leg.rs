//! The endpoint leg at hn, the last router of a reply route (protocol.md §15): the exit policy
//! applied to the owner's endpoint (`proto=reply`), one connection attempt of at most 10 s,
//! the version byte and tag, then whole 45-byte bodies both ways — forward bodies crypted with
//! hn's key3 engine are written as they are, every 45 bytes read are crypted with key2 and sent
//! backward as one DATA cell. DESTROY closes the socket after what was queued; EOF or an error
//! on it destroys the connection (a trailing partial body is dropped and logged).

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use log::{debug, info};

use super::conn_table::{ConnId, Next, ReplyLeg};
use super::core::Router;
use super::refusal::OnionRefusal;
use super::timers::Timer;
use crate::event::{queue_send, Action, Now, SockId};
use crate::onion::Peeled;
use crate::reply::body::Body;
use crate::reply::Tag;
use crate::wire::cell::BODY_LEN;
use crate::wire::{Cell, Command, Protocol};

/// hn's one connection attempt to the endpoint must succeed within this.
pub(super) const LEG_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes kept for the endpoint before it is connected (as the exit keeps early data).
const MAX_PENDING: usize = 256 * 1024;

impl Router {
    /// hn peeled a reply endpoint layer for connection `id`: check the endpoint against the
    /// exit policy and start the leg.
    pub(super) fn open_leg(&mut self, now: Now, id: ConnId, peeled: &Peeled) -> Result<ReplyLeg, OnionRefusal> {
        let endpoint: SocketAddrV4 = peeled.layer.next_hop;
        if !self.cfg.exit_policy.allows_exit(IpAddr::V4(*endpoint.ip()), endpoint.port(), Protocol::Reply) {
            info!("reply onion refused: its endpoint is refused by the exit policy (proto=reply)");
            debug!("refused reply endpoint {endpoint}");
            return Err(OnionRefusal::ReplyEndpointRefused);
        }
        let sock = self.ids.fresh();
        self.exits.add_stream(sock, id);
        debug!("reply leg {sock} connecting to the endpoint {endpoint}");
        self.actions.push_back(Action::Connect { sock, addr: SocketAddr::V4(endpoint), privileged: false });
        self.timers.set(now.mono + LEG_CONNECT_TIMEOUT, Timer::Reply(id));
        let pending = Tag::from_seed(&peeled.layer.seed).leg_head().to_vec();
        Ok(ReplyLeg { sock, connected: false, pending, inbound: Vec::new() })
    }

    /// The leg of connection `id` (hn's own, or a splice's when the exit is h1 = hn).
    fn leg_mut(&mut self, id: ConnId) -> Option<&mut ReplyLeg> {
        match self.conns.get_mut(id).map(|c| &mut c.next) {
            Some(Next::ReplyLeg(l)) => Some(l),
            Some(Next::Splice(s)) => s.leg_mut(),
            _ => None,
        }
    }

    /// The connection whose endpoint leg is `sock`, if it is one.
    pub(super) fn leg_of(&self, sock: SockId) -> Option<ConnId> {
        let id = self.exits.stream(sock)?;
        match self.conns.get(id).map(|c| &c.next) {
            Some(Next::ReplyLeg(_)) => Some(id),
            Some(Next::Splice(s)) if s.has_leg() => Some(id),
            _ => None,
        }
    }

    /// A forward body (already crypted with hn's key3 engine) for the endpoint.
    pub(super) fn leg_write(&mut self, now: Now, id: ConnId, body: &Body) {
        let Some(leg) = self.leg_mut(id) else { return };
        if leg.connected {
            let sock = leg.sock;
            queue_send(&mut self.actions, sock, body);
        } else if leg.pending.len() + BODY_LEN > MAX_PENDING {
            info!("reply leg: {MAX_PENDING} bytes queued before the endpoint connected; DESTROY");
            self.destroy_connection(now, id, None);
        } else {
            leg.pending.extend_from_slice(body);
        }
    }

    pub(super) fn leg_connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        let Some(id) = self.leg_of(sock) else { return };
        let Some(leg) = self.leg_mut(id) else { return };
        match result {
            Ok(()) => {
                leg.connected = true;
                let head = std::mem::take(&mut leg.pending);
                self.stats.exits_opened += 1;
                self.actions.push_back(Action::Send { sock, data: head });
            }
            Err(e) => {
                info!("reply leg: cannot connect to the endpoint ({e}); DESTROY");
                self.exits.remove_stream(sock);
                self.destroy_connection(now, id, None);
            }
        }
    }

    /// Bytes from the endpoint: each whole 45 bytes is one backward body.
    pub(super) fn leg_received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        let Some(id) = self.leg_of(sock) else { return };
        let Some(leg) = self.leg_mut(id) else { return };
        leg.inbound.extend_from_slice(data);
        let whole = leg.inbound.len() / BODY_LEN * BODY_LEN;
        let bodies: Vec<u8> = leg.inbound.drain(..whole).collect();
        for chunk in bodies.chunks_exact(BODY_LEN) {
            let mut body = [0u8; BODY_LEN];
            body.copy_from_slice(chunk);
            self.reply_backward(now, id, body);
        }
    }

    /// EOF or an error on the leg: the connection is destroyed towards h1.
    pub(super) fn leg_ended(&mut self, now: Now, sock: SockId, why: &str) {
        let Some(id) = self.leg_of(sock) else { return };
        if let Some(leg) = self.leg_mut(id) {
            if !leg.inbound.is_empty() {
                info!("reply leg: dropped a trailing partial body of {} bytes", leg.inbound.len());
            }
        }
        debug!("reply leg {sock} ended ({why}); DESTROY");
        self.exits.remove_stream(sock);
        self.destroy_connection(now, id, None);
    }

    /// The 10 s connection timer of a leg fired.
    pub(super) fn leg_timeout(&mut self, now: Now, id: ConnId) {
        if self.leg_mut(id).is_some_and(|l| !l.connected) {
            info!("reply leg: endpoint not connected within {LEG_CONNECT_TIMEOUT:?}; DESTROY");
            self.destroy_connection(now, id, None);
        }
    }

    /// The connection ended: close the endpoint socket after what was written to it.
    pub(super) fn leg_close(&mut self, leg: &ReplyLeg) {
        if self.exits.remove_stream(leg.sock).is_some() {
            self.actions.push_back(Action::Close { sock: leg.sock });
        }
    }

    /// A body from the endpoint, already crypted by nothing of ours: hn crypts it with its key2
    /// engine and sends it backward (at a splice that is h1 = hn, the splice takes it over).
    fn reply_backward(&mut self, now: Now, id: ConnId, mut body: Body) {
        let Some(c) = self.conns.get_mut(id) else { return };
        if matches!(c.next, Next::Splice(_)) {
            return self.splice_from_route(now, id, body);
        }
        c.back.apply(&mut body);
        let (link, aci) = c.prev;
        self.queue_cell(now, link, Cell { aci, command: Command::Data, body });
    }
}
