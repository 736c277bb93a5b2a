//! One end of a link, the same machine for every role (router, onion proxy uplink, stand-alone
//! funnel): connecting, STS keying, the cell codec with one output buffer per link, PADDING when
//! the sending direction has been silent for 30 s and at the configured Poisson rate, liveness
//! (a link on which nothing arrived for 90 s is lost), the 10 s handshake deadline, the ACIs
//! of this end's half and the DESTROY handshake for them (protocol.md §1–§3, §6). Sans-IO: the owner
//! passes time and bytes in, takes [`LinkEnd::take_output`] to its socket, and closes the socket
//! when a method answers with a [`LinkLoss`].

use std::collections::BTreeSet;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{CryptoRng, Rng, RngCore};

use super::aci::{half_for, id_bytes, AciAllocator, Half};
use super::handshake::{HandshakeError, LinkSecrets};
use super::{Dialler, Handshake, LinkCodec, LinkLoss, Listener, PeerIdentity};
use crate::crypto::{RsaPrivateKey, RsaPublicKey};
use crate::wire::{Aci, Cell};

mod acis;

/// The link timers of protocol.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTimers {
    /// A handshake must finish within this.
    pub handshake: Duration,
    /// Send PADDING on a link silent this long in the sending direction.
    pub idle_padding: Duration,
    /// A link on which nothing arrived for this long is lost.
    pub idle_close: Duration,
}

impl Default for LinkTimers {
    fn default() -> Self {
        LinkTimers {
            handshake: Duration::from_secs(10),
            idle_padding: Duration::from_secs(30),
            idle_close: Duration::from_secs(90),
        }
    }
}

enum State {
    Connecting,
    Keying { hs: Box<Handshake>, inbuf: Vec<u8> },
    Open { codec: Box<LinkCodec>, peer: PeerIdentity },
}

/// The handshake just completed.
pub struct Keyed {
    pub peer: PeerIdentity,
    /// The link's keys, for a router's test-only key log.
    pub secrets: LinkSecrets,
}

/// What a DESTROY received on one of this link's ACIs means (protocol.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestroyIn {
    /// It acknowledges a DESTROY this end sent: the handshake is complete, the ACI free.
    Acknowledged,
    /// The peer ends a live connection; this end has queued the acknowledgement and freed the
    /// ACI.
    Ended,
    /// An ACI not in use: ignored (protocol.md §6).
    Ignored,
}

/// What the link needs after time passed ([`LinkEnd::upkeep`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    /// Send this many PADDING cells (0: nothing to do).
    Pad(usize),
    /// The link is lost: close its socket.
    Lost(LinkLoss),
}

/// One end of a link.
pub struct LinkEnd {
    tcp_peer: SocketAddr,
    /// Our identity; `None` for an anonymous client.
    local: Option<SocketAddrV4>,
    dialled: bool,
    state: State,
    timers: LinkTimers,
    padding_rate: f64,
    opened: Instant,
    established: Option<Instant>,
    last_rx: Instant,
    last_tx: Instant,
    next_padding: Option<Instant>,
    out: Vec<u8>,
    cells_in: u64,
    cells_out: u64,
    aci: AciAllocator,
    /// ACIs on which this end sent DESTROY and waits for the acknowledgement.
    awaiting_ack: BTreeSet<Aci>,
    /// Why keying failed, when it did (for owners that report the reason, e.g. a wrong key).
    handshake_error: Option<HandshakeError>,
}

/// The largest output capacity a link end carries over from one batch to the next.
const OUT_CAPACITY_KEPT: usize = 256 * 1024;

impl LinkEnd {
    fn new(tcp_peer: SocketAddr, local: Option<SocketAddrV4>, dialled: bool, state: State, now: Instant) -> LinkEnd {
        LinkEnd {
            tcp_peer,
            local,
            dialled,
            state,
            timers: LinkTimers::default(),
            padding_rate: 0.0,
            opened: now,
            established: None,
            last_rx: now,
            last_tx: now,
            next_padding: None,
            out: Vec::new(),
            cells_in: 0,
            cells_out: 0,
            aci: AciAllocator::new(Half::Low),
            awaiting_ack: BTreeSet::new(),
            handshake_error: None,
        }
    }

    /// A link we dial to `tcp_peer`, waiting for the TCP connection.
    pub fn dialling(tcp_peer: SocketAddr, local: Option<SocketAddrV4>, now: Instant) -> LinkEnd {
        LinkEnd::new(tcp_peer, local, true, State::Connecting, now)
    }

    /// A link a peer dialled to us, keying at once.
    pub fn accepting(tcp_peer: SocketAddr, local: Option<SocketAddrV4>, listener: Listener, now: Instant) -> LinkEnd {
        let state = State::Keying { hs: Box::new(Handshake::Listener(Box::new(listener))), inbuf: Vec::new() };
        LinkEnd::new(tcp_peer, local, false, state, now)
    }

    /// A link already keyed (the fuzz harness, which skips Diffie-Hellman and RSA).
    pub fn keyed(
        tcp_peer: SocketAddr,
        local: Option<SocketAddrV4>,
        peer: PeerIdentity,
        codec: LinkCodec,
        now: Instant,
    ) -> LinkEnd {
        let mut end = LinkEnd::new(tcp_peer, local, false, State::Connecting, now);
        end.open(now, peer, codec);
        end
    }

    /// Set the timers (defaults: protocol.md §3's 10 s, 30 s and 90 s).
    pub fn with_timers(mut self, timers: LinkTimers) -> LinkEnd {
        self.timers = timers;
        self
    }

    /// PADDING cells per second on top of the idle PADDING (0 = none), Poisson.
    pub fn with_padding_rate(mut self, rate: f64) -> LinkEnd {
        self.padding_rate = rate;
        self
    }

    /// The TCP connection we dialled is up: start keying with `peer`, whose key is `peer_key`.
    /// `key` is our private key (`None` for an anonymous client).
    pub fn connected(
        &mut self,
        now: Instant,
        key: Option<Arc<RsaPrivateKey>>,
        peer: SocketAddrV4,
        peer_key: RsaPublicKey,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(), LinkLoss> {
        if !matches!(self.state, State::Connecting) {
            return Ok(());
        }
        let local = self.local.zip(key);
        let (hs, msg1) = Dialler::new(local, peer, peer_key, rng).map_err(|e| {
            log::warn!("cannot start keying with {peer}: {e}");
            LinkLoss::HandshakeFailed
        })?;
        self.state = State::Keying { hs: Box::new(Handshake::Dialler(Box::new(hs))), inbuf: Vec::new() };
        self.opened = now;
        self.out.extend_from_slice(&msg1);
        Ok(())
    }

    /// Bytes from the socket. Cells decoded are appended to `cells`; `Some` says the handshake
    /// completed in this call (cells after it are already decoded). `lookup` gives a
    /// dialling router's key by its identity (listeners only).
    pub fn received(
        &mut self,
        now: Instant,
        data: &[u8],
        lookup: &dyn Fn(SocketAddrV4) -> Option<RsaPublicKey>,
        cells: &mut Vec<Cell>,
    ) -> Result<Option<Keyed>, LinkLoss> {
        self.last_rx = now;
        match &mut self.state {
            State::Connecting => Ok(None),
            State::Open { codec, .. } => {
                let before = cells.len();
                let result = codec.decode(data, cells);
                self.cells_in += (cells.len() - before) as u64;
                result.map(|()| None).map_err(|e| {
                    log::warn!("link with {}: {e}", self.tcp_peer);
                    LinkLoss::ProtocolError
                })
            }
            State::Keying { hs, inbuf } => {
                inbuf.extend_from_slice(data);
                let p = match hs.read(inbuf, lookup) {
                    Ok(p) => p,
                    Err(e) => {
                        log::warn!("link handshake with {} failed: {e}", self.tcp_peer);
                        self.handshake_error = Some(e);
                        return Err(LinkLoss::HandshakeFailed);
                    }
                };
                inbuf.drain(..p.consumed);
                let rest = std::mem::take(inbuf);
                self.out.extend_from_slice(&p.send);
                let Some(est) = p.established else {
                    if let State::Keying { inbuf, .. } = &mut self.state {
                        *inbuf = rest;
                    }
                    return Ok(None);
                };
                self.open(now, est.peer, est.codec);
                if !rest.is_empty() {
                    self.received(now, &rest, lookup, cells)?;
                }
                Ok(Some(Keyed { peer: est.peer, secrets: est.secrets }))
            }
        }
    }

    fn open(&mut self, now: Instant, peer: PeerIdentity, codec: LinkCodec) {
        let half = match (peer, self.local) {
            (PeerIdentity::Anonymous, _) => Half::High,
            (_, None) => Half::Low,
            (PeerIdentity::Router(p), Some(me)) => half_for(id_bytes(me), id_bytes(p)),
        };
        self.aci = AciAllocator::new(half);
        self.awaiting_ack.clear();
        self.state = State::Open { codec: Box::new(codec), peer };
        self.established = Some(now);
        self.last_rx = now;
        self.last_tx = now;
    }

    /// Time passed: the handshake deadline, liveness and PADDING. `Pad(n)` asks the owner to
    /// send n PADDING cells now (by [`LinkEnd::encode`] or through its mixer); the link counts
    /// them as sent.
    pub fn upkeep(&mut self, now: Instant, rng: &mut impl Rng) -> Upkeep {
        if !self.is_open() {
            return if now >= self.opened + self.timers.handshake {
                Upkeep::Lost(LinkLoss::HandshakeTimeout)
            } else {
                Upkeep::Pad(0)
            };
        }
        if now >= self.last_rx + self.timers.idle_close {
            return Upkeep::Lost(LinkLoss::Silent);
        }
        let mut pad = 0;
        if now >= self.last_tx + self.timers.idle_padding {
            pad += 1;
            self.last_tx = now;
        }
        if self.padding_rate > 0.0 {
            let rate = self.padding_rate;
            let mut due = self.next_padding.unwrap_or_else(|| now + exp_delay(rng, rate));
            while due <= now {
                pad += 1;
                due += exp_delay(rng, rate);
            }
            self.next_padding = Some(due);
        }
        Upkeep::Pad(pad)
    }

    /// The next instant [`LinkEnd::upkeep`] has something to do.
    pub fn next_timer(&self) -> Instant {
        if !self.is_open() {
            return self.opened + self.timers.handshake;
        }
        let t = (self.last_tx + self.timers.idle_padding).min(self.last_rx + self.timers.idle_close);
        self.next_padding.map_or(t, |p| p.min(t))
    }

    /// Link-encrypt a cell into the output buffer; false if the link is not keyed.
    pub fn encode(&mut self, cell: &Cell, now: Instant) -> bool {
        let State::Open { codec, .. } = &mut self.state else { return false };
        codec.encode(cell, &mut self.out);
        self.last_tx = now;
        self.cells_out += 1;
        true
    }

    /// The bytes to write, if any (handshake messages and cells, in order).
    ///
    /// The next buffer starts with the capacity this one reached (up to [`OUT_CAPACITY_KEPT`]):
    /// a batch of cells is then one allocation, not a doubling from empty each time.
    pub fn take_output(&mut self) -> Option<Vec<u8>> {
        if self.out.is_empty() {
            return None;
        }
        let cap = self.out.capacity().min(OUT_CAPACITY_KEPT);
        Some(std::mem::replace(&mut self.out, Vec::with_capacity(cap)))
    }

    /// Bytes waiting for [`LinkEnd::take_output`].
    pub fn pending(&self) -> usize {
        self.out.len()
    }

    /// Why keying failed (after `received` returned [`LinkLoss::HandshakeFailed`]).
    pub fn handshake_error(&self) -> Option<&HandshakeError> {
        self.handshake_error.as_ref()
    }

    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    /// The authenticated peer, once keyed.
    pub fn peer(&self) -> Option<PeerIdentity> {
        match &self.state {
            State::Open { peer, .. } => Some(*peer),
            _ => None,
        }
    }

    pub fn tcp_peer(&self) -> SocketAddr {
        self.tcp_peer
    }

    pub fn dialled(&self) -> bool {
        self.dialled
    }

    /// When the handshake completed.
    pub fn established(&self) -> Option<Instant> {
        self.established
    }

    pub fn cells_in(&self) -> u64 {
        self.cells_in
    }

    pub fn cells_out(&self) -> u64 {
        self.cells_out
    }

    /// The address a handshake timeout is logged and rate-limited under: the dialled address,
    /// or the source IP alone for accepted links.
    pub fn log_address(&self) -> SocketAddr {
        if self.dialled {
            self.tcp_peer
        } else {
            SocketAddr::new(self.tcp_peer.ip(), 0)
        }
    }
}

/// An exponentially distributed delay with mean 1/rate (Poisson padding).
pub fn exp_delay(rng: &mut impl Rng, rate: f64) -> Duration {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    Duration::from_secs_f64((-u.ln() / rate).min(3600.0))
}
