//! The link an onion proxy or stand-alone funnel keeps to the network as an anonymous client
//! (protocol.md §3, §8): dialled, keyed with STS without authenticating itself, redialled with backoff,
//! and its outgoing cells batched into one write per wake-up.

use std::net::SocketAddr;
use std::time::Instant;

use log::{info, warn};
use rand::{CryptoRng, RngCore};

use crate::crypto::RsaPublicKey;
use crate::event::{Action, Now, SockId, SockIds};
use crate::link::{Dialler, Handshake, LinkCodec};
use crate::router::backoff::Backoff;
use crate::wire::Cell;

enum State {
    Down { next_dial: Instant },
    Connecting { sock: SockId, since: Instant },
    Keying { sock: SockId, since: Instant, hs: Box<Handshake>, inbuf: Vec<u8> },
    Open { sock: SockId, codec: Box<LinkCodec> },
}

/// What became of a batch of received bytes.
pub enum UplinkEvent {
    /// The link is keyed and can carry cells.
    Up,
    /// Cells arrived.
    Cells,
    /// The link failed or closed.
    Down(String),
}

/// The anonymous uplink.
pub struct Uplink {
    pub addr: SocketAddr,
    key: RsaPublicKey,
    state: State,
    backoff: Backoff,
    out: Vec<u8>,
    /// Cells received and not yet taken.
    pub cells: Vec<Cell>,
    pub last_rx: Instant,
    pub last_tx: Instant,
}

const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Uplink {
    pub fn new(addr: SocketAddr, key: RsaPublicKey, now: Now) -> Uplink {
        Uplink {
            addr,
            key,
            state: State::Down { next_dial: now.mono },
            backoff: Backoff::default(),
            out: Vec::new(),
            cells: Vec::new(),
            last_rx: now.mono,
            last_tx: now.mono,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    pub fn sock(&self) -> Option<SockId> {
        match &self.state {
            State::Down { .. } => None,
            State::Connecting { sock, .. } | State::Keying { sock, .. } | State::Open { sock, .. } => Some(*sock),
        }
    }

    /// When the uplink wants a tick.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Down { next_dial } => Some(*next_dial),
            State::Connecting { since, .. } | State::Keying { since, .. } => Some(*since + HANDSHAKE_TIMEOUT),
            State::Open { .. } => None,
        }
    }

    /// Dial when due; give up a handshake that takes too long.
    pub fn tick(
        &mut self,
        now: Now,
        ids: &mut SockIds,
        actions: &mut std::collections::VecDeque<Action>,
    ) -> Option<UplinkEvent> {
        match &self.state {
            State::Down { next_dial } if *next_dial <= now.mono => {
                let sock = ids.fresh();
                self.state = State::Connecting { sock, since: now.mono };
                actions.push_back(Action::Connect { sock, addr: self.addr, privileged: false });
                None
            }
            State::Connecting { since, .. } | State::Keying { since, .. } if now.mono >= *since + HANDSHAKE_TIMEOUT => {
                Some(self.fail(now, actions, "handshake not finished in time".into()))
            }
            _ => None,
        }
    }

    pub fn connected(
        &mut self,
        now: Now,
        result: std::io::Result<()>,
        rng: &mut (impl RngCore + CryptoRng),
        actions: &mut std::collections::VecDeque<Action>,
    ) -> Option<UplinkEvent> {
        let State::Connecting { sock, .. } = self.state else { return None };
        if let Err(e) = result {
            return Some(self.fail(now, actions, format!("connect to {} failed: {e}", self.addr)));
        }
        let peer = match self.addr {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(_) => return Some(self.fail(now, actions, "routers are IPv4".into())),
        };
        let (hs, msg1) = match Dialler::new(None, peer, self.key.clone(), rng) {
            Ok(x) => x,
            Err(e) => return Some(self.fail(now, actions, format!("handshake: {e}"))),
        };
        self.state =
            State::Keying { sock, since: now.mono, hs: Box::new(Handshake::Dialler(Box::new(hs))), inbuf: Vec::new() };
        actions.push_back(Action::Send { sock, data: msg1 });
        None
    }

    /// Bytes from the uplink socket; decoded cells land in `self.cells`.
    pub fn received(
        &mut self,
        now: Now,
        data: &[u8],
        actions: &mut std::collections::VecDeque<Action>,
    ) -> Option<UplinkEvent> {
        self.last_rx = now.mono;
        match &mut self.state {
            State::Open { codec, .. } => match codec.decode(data, &mut self.cells) {
                Ok(()) => Some(UplinkEvent::Cells),
                Err(e) => Some(self.fail(now, actions, format!("protocol error: {e}"))),
            },
            State::Keying { sock, hs, inbuf, .. } => {
                let sock = *sock;
                inbuf.extend_from_slice(data);
                let no_keys = |_: std::net::SocketAddrV4| None;
                match hs.read(inbuf, &no_keys) {
                    Err(e) => Some(self.fail(now, actions, format!("handshake failed: {e}"))),
                    Ok(p) => {
                        inbuf.drain(..p.consumed);
                        if !p.send.is_empty() {
                            actions.push_back(Action::Send { sock, data: p.send });
                        }
                        let codec = p.established?.codec;
                        let rest = std::mem::take(inbuf);
                        self.state = State::Open { sock, codec: Box::new(codec) };
                        self.backoff.reset();
                        info!("uplink to {} keyed", self.addr);
                        if !rest.is_empty() {
                            if let Some(UplinkEvent::Down(why)) = self.received(now, &rest, actions) {
                                return Some(UplinkEvent::Down(why));
                            }
                        }
                        Some(UplinkEvent::Up)
                    }
                }
            }
            _ => None,
        }
    }

    /// The socket closed or failed.
    pub fn lost(&mut self, now: Now, why: &str, actions: &mut std::collections::VecDeque<Action>) -> UplinkEvent {
        self.fail(now, actions, why.to_string())
    }

    fn fail(&mut self, now: Now, actions: &mut std::collections::VecDeque<Action>, why: String) -> UplinkEvent {
        if let Some(sock) = self.sock() {
            actions.push_back(Action::Close { sock });
        }
        let mut rng = rand::thread_rng();
        let delay = self.backoff.next_delay(&mut rng);
        warn!("uplink to {}: {why}; redialling in {delay:?}", self.addr);
        self.state = State::Down { next_dial: now.mono + delay };
        self.out.clear();
        UplinkEvent::Down(why)
    }

    /// Queue a cell (link-encrypted now, written at the next flush).
    pub fn send(&mut self, cell: &Cell, now: Now) -> bool {
        if let State::Open { codec, .. } = &mut self.state {
            codec.encode(cell, &mut self.out);
            self.last_tx = now.mono;
            true
        } else {
            false
        }
    }

    /// Bytes waiting to be handed to the socket.
    pub fn pending(&self) -> usize {
        self.out.len()
    }

    /// Hand the batch to the driver.
    pub fn flush(&mut self, actions: &mut std::collections::VecDeque<Action>) {
        if let (Some(sock), false) = (self.sock(), self.out.is_empty()) {
            actions.push_back(Action::Send { sock, data: std::mem::take(&mut self.out) });
        }
    }
}
